/**
 * The own-impact liquidation mark with the backstop vault (OwnImpactModule; the unit tests without a vault are
 * test/solidity/OwnImpactMark.t.sol): the unwind's sales enter the signed measure, a takeover adds nothing and
 * is never held, and the hold applies only once the vault declined.
 */
import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { WAD } from "../../deploy/params.js";
import type { BackstopVault } from "../../types/ethers-contracts/contracts/backstop/BackstopVault.sol/BackstopVault.js";
import type { IBackstopEngine } from "../../types/ethers-contracts/contracts/interfaces/IBackstop.sol/IBackstopEngine.js";
import type { IOwnImpactMark } from "../../types/ethers-contracts/contracts/interfaces/IOwnImpactMark.js";
import { IOwnImpactMark__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IOwnImpactMark__factory.js";
import { BACKSTOP_TEST_CONFIG, attachBackstopVault } from "../helpers/backstop.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPriceWad, type World } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const MAX_UINT = 2n ** 256n - 1n;
const abs = (a: bigint) => (a < 0n ? -a : a);

type MWorld = World & {
  keeper: HardhatEthersSigner;
  bv: BackstopVault;
  bs: IBackstopEngine;
  mark: IOwnImpactMark;
  vaultAccount: bigint;
};

/** A backstop vault holding a $400k ETH long taken over, and one unwind of it sold (the measure negative). */
async function soldWorld(): Promise<MWorld> {
  const w = await deployWorld(ethers, {});
  const keeper = (await ethers.getSigners())[8];
  for (const s of [w.alice, w.bob, w.carol, w.lp, w.stranger]) {
    await w.usdc.mint(s.address, 100_000_000n * USDC);
    await w.usdc.connect(s).approve(await w.vault.getAddress(), MAX_UINT);
  }
  const { bv, bs, vaultAccount } = await attachBackstopVault(ethers, w, BACKSTOP_TEST_CONFIG, 1_000_000n);
  const mark = IOwnImpactMark__factory.connect(await w.engine.getAddress(), w.governor);
  const mw = { ...w, keeper, bv, bs, mark, vaultAccount };
  const a = await position(mw, w.alice, 40_000n, 200n * WAD);
  await setPriceWad(w, ETH, await priceForHealth(mw, a, WAD / 2n));
  await w.liquidationEngine.connect(keeper).liquidate(a);
  return mw;
}

async function position(w: MWorld, owner: HardhatEthersSigner, marginUsdc: bigint, size: bigint) {
  const id = await openAccount(w, owner, marginUsdc * USDC);
  await w.engine.connect(owner).modifyPosition(id, ETH, size, size > 0n ? MAX_PRICE : 0n);
  return id;
}

/** The ETH price at which a one-position account's health is `h` (WAD), on the feed's 8 decimals. */
async function priceForHealth(w: MWorld, id: bigint, h: bigint): Promise<bigint> {
  const v = await w.engine.positionView(id, ETH);
  const margin = await w.vault.marginOf(id);
  const num = (v.size * v.breakEvenPrice) / WAD - margin;
  const den = v.size - (((h * abs(v.size)) / WAD) * v.maintenanceMarginRatio) / WAD;
  return ((num * WAD) / den / 10n ** 10n) * 10n ** 10n;
}

/** Sets the ETH price to the highest (on the feed's 8 decimals) at which the long `id` is below maintenance. */
async function justBelowMaintenance(w: MWorld, id: bigint): Promise<void> {
  const unit = 10n ** 10n;
  let lo = (await priceForHealth(w, id, WAD / 2n)) / unit; // liquidatable
  let hi = (await priceForHealth(w, id, 2n * WAD)) / unit; // healthy
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    await setPriceWad(w, ETH, mid * unit);
    if (await w.engine.isLiquidatable(id)) lo = mid;
    else hi = mid;
  }
  await setPriceWad(w, ETH, lo * unit);
  expect(await w.engine.isLiquidatable(id)).to.equal(true);
}

describe("Own-impact mark with the backstop vault", function () {
  it("a takeover adds nothing to the measure; the unwind's sale of a long inventory adds minus its notional (the mark on; off, nothing)", async function () {
    const w = await loadFixture(soldWorld);
    expect(await w.mark.ownFlow(ETH)).to.equal(0n, "a takeover sells nothing");
    const snap = await ethers.provider.send("evm_snapshot", []);
    await w.bs.connect(w.stranger).unwind(ETH);
    expect(await w.mark.ownFlow(ETH)).to.equal(0n, "the mark off: no measure kept");
    await ethers.provider.send("evm_revert", [snap]);
    await w.mark.setOwnImpactMark(true);
    const rc = (await (await w.bs.connect(w.stranger).unwind(ETH)).wait())!;
    const sold = rc.logs
      .map((l) => {
        try {
          return w.bs.interface.parseLog(l);
        } catch {
          return null;
        }
      })
      .find((p) => p?.name === "BackstopUnwound");
    expect(sold, "BackstopUnwound").to.not.equal(undefined);
    expect(sold!.args.sizeDelta < 0n).to.equal(true, "a long inventory sells");
    // read in the unwind's block: no decay yet
    expect(await w.mark.ownFlow(ETH, { blockTag: rc.blockNumber })).to.equal(-(sold!.args.notional as bigint));
    expect(await w.bs.forcedFlow(ETH, { blockTag: rc.blockNumber })).to.equal(sold!.args.notional);
  });

  it("never holds a takeover: an account above maintenance at the mark is taken over; declined by a cap, it is held; switched off, tranched", async function () {
    const w = await loadFixture(soldWorld);
    await w.mark.setOwnImpactMark(true);
    await w.bs.connect(w.stranger).unwind(ETH);
    const [m, price] = await w.mark.ownImpactMark(ETH);
    expect(m > price).to.equal(true, "the mark above the price after the sale");
    const b = await position(w, w.bob, 25_000n, 100n * WAD);
    await justBelowMaintenance(w, b);
    // the vault declines (an account cap of 0.1% of its equity): the mark holds the account, nothing changes
    const snap = await ethers.provider.send("evm_snapshot", []);
    await w.bs.setBackstopConfig({ ...BACKSTOP_TEST_CONFIG, accountShare: WAD / 1000n });
    const flow = await w.mark.ownFlow(ETH);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(b)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "LiquidationHeldAtMark",
    );
    await expect(w.liquidationEngine.connect(w.keeper).liquidateBatch([b]))
      .to.emit(w.liquidationEngine, "LiquidationSkipped")
      .withArgs(b, 6n);
    expect((await w.engine.position(b, ETH)).size).to.equal(100n * WAD, "held: untouched");
    // a new sale switched on moves the measure (an unwind), the legs of a tranche too; switched off: tranched
    await w.mark.setOwnImpactMark(false);
    await w.liquidationEngine.connect(w.keeper).liquidate(b);
    expect((await w.engine.position(b, ETH)).size < 100n * WAD).to.equal(true, "tranched");
    expect(abs(await w.mark.ownFlow(ETH)) <= abs(flow)).to.equal(true, "nothing added with the mark off");
    await ethers.provider.send("evm_revert", [snap]);
    // the vault has room: taken over whatever the mark says
    const vaultBefore = (await w.engine.position(w.vaultAccount, ETH)).size;
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(b)).to.emit(w.bs, "AccountTakenOver");
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(vaultBefore + 100n * WAD);
  });
});
