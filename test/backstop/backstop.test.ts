/**
 * Backstop vault and BackstopModule, integration through the deployed protocol: takeover at the oracle
 * price, its caps and drawdown breaker, netting, the paced unwind, the vault's shares; and the
 * adversarial cases (self-liquidation into the vault, a thin market pushed around it, a run on its
 * shares).
 */
import { expect } from "chai";
import { encodeBytes32String, type ContractTransactionResponse } from "ethers";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { DEFAULT_MARKETS, DEFAULT_RISK, WAD, feedId, marketConfig } from "../../deploy/params.js";
import { loadPreset } from "../../scripts/replay/presets.js";
import * as liq from "../../scripts/lib/math/liquidation.js";
import { AccountBook } from "../../scripts/keeper/book.js";
import { rereadAccounts } from "../../scripts/keeper/contracts.js";
import { EventFollower } from "../../scripts/keeper/follower.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { GOVERNOR_ROLE } from "../../deploy/protocol.js";
import type { BackstopVault } from "../../types/ethers-contracts/contracts/backstop/BackstopVault.sol/BackstopVault.js";
import type { IBackstopEngine } from "../../types/ethers-contracts/contracts/interfaces/IBackstop.sol/IBackstopEngine.js";
import { BACKSTOP_TEST_CONFIG, attachBackstopVault, calmRound } from "../helpers/backstop.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPriceWad, type World } from "../helpers/fixture.js";
import { changeLiquidationConfig } from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const SCALE = 10n ** 12n;
const MAX_UINT = 2n ** 256n - 1n;
const abs = (a: bigint) => (a < 0n ? -a : a);
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
const min = (a: bigint, b: bigint) => (a < b ? a : b);

const CONFIG = BACKSTOP_TEST_CONFIG;

type BWorld = World & {
  keeper: HardhatEthersSigner;
  funder: HardhatEthersSigner;
  bv: BackstopVault;
  bs: IBackstopEngine;
  vaultAccount: bigint;
};

async function world(): Promise<BWorld> {
  return worldWith({});
}

/** `world` with deployment options (e.g. `insurance: 0n`, an empty insurance fund). */
async function worldWith(opts: { insurance?: bigint }): Promise<BWorld> {
  const w = await deployWorld(ethers, opts);
  const signers = await ethers.getSigners();
  const [keeper, funder] = [signers[8], signers[9]];
  for (const s of [w.alice, w.bob, w.carol, funder, w.lp, w.stranger]) {
    await w.usdc.mint(s.address, 100_000_000n * USDC);
    await w.usdc.connect(s).approve(await w.vault.getAddress(), MAX_UINT);
  }
  const { bv, bs, vaultAccount } = await attachBackstopVault(ethers, w, CONFIG, 1_000_000n);
  for (const s of [w.stranger, w.carol]) await w.usdc.connect(s).approve(await bv.getAddress(), MAX_UINT);
  return { ...w, keeper, funder, bv, bs, vaultAccount };
}

async function positionAccount(w: BWorld, owner: HardhatEthersSigner, marginUsdc: bigint, size: bigint) {
  const id = await openAccount(w, owner, marginUsdc * USDC);
  const cap = (await w.engine.marketConfig(ETH)).maxTradeSize;
  for (let left = size; left !== 0n;) {
    const step = abs(left) > cap ? (left > 0n ? cap : -cap) : left;
    await w.engine.connect(owner).modifyPosition(id, ETH, step, step > 0n ? MAX_PRICE : 0n);
    left -= step;
  }
  return id;
}

/** The ETH price at which a one-position account's health is `h` (WAD). */
async function priceForHealth(w: BWorld, id: bigint, h: bigint): Promise<bigint> {
  const v = await w.engine.positionView(id, ETH);
  const margin = await w.vault.marginOf(id);
  const num = (v.size * v.breakEvenPrice) / WAD - margin;
  const den = v.size - (((h * abs(v.size)) / WAD) * v.maintenanceMarginRatio) / WAD;
  return ((num * WAD) / den / 10n ** 10n) * 10n ** 10n;
}

async function receipt(tx: Promise<ContractTransactionResponse>) {
  return (await (await tx).wait())!;
}

function events(w: BWorld, rc: { logs: readonly { topics: readonly string[]; data: string }[] }, name: string) {
  const out = [];
  for (const log of rc.logs) {
    for (const iface of [w.bs.interface, w.liquidationEngine.interface]) {
      try {
        const parsed = iface.parseLog(log);
        if (parsed?.name === name) out.push(parsed);
        if (parsed) break;
      } catch {
        /* not this interface */
      }
    }
  }
  return out;
}

/** The vault's conservative share price below the drawdown breaker's peak, as BackstopModule reads it. */
async function lossDrawdown(w: BWorld): Promise<bigint> {
  const peak = (await w.bs.backstopState()).peakSharePrice;
  const price = await w.bv.sharePrice();
  return price >= peak ? 0n : WAD - ceilDiv(price * WAD, peak);
}

/** The unwind's budget under the loss ramp: base x (maxDrawdown / (maxDrawdown - d))^2, at most x lateMultiplier. */
function ramped(base: bigint, d: bigint): bigint {
  if (d === 0n) return base;
  const m = CONFIG.maxDrawdown;
  const r = (((base * m) / (m - d)) * m) / (m - d);
  return min(r, (base * CONFIG.lateMultiplier) / WAD);
}

/**
 * The vault's inventory snapshot and the unwind cap at its first position's price: what the paced unwind
 * sells before maxHold at the impact budget, impactBudget x depth x (1 + ln2 x maxHold / flowHalfLife).
 */
async function unwindCap(w: BWorld) {
  const vs = await w.engine.liquidationSnapshot(w.vaultAccount);
  const price = vs.positions[0].price;
  const budget = ((((await w.engine.marketConfig(ETH)).skewScale * price) / WAD) * CONFIG.impactBudget) / WAD;
  const LN2 = 693147180559945309n;
  const unwindable = budget + (budget * LN2 * BigInt(CONFIG.maxHold)) / (WAD * BigInt(CONFIG.flowHalfLife));
  return { vs, unwindable };
}
/** The unwind cap held to the loss budget left, as `_share` reads it (x (1 - drawdown / maxDrawdown)). */
async function pacedCap(w: BWorld) {
  const { vs, unwindable } = await unwindCap(w);
  const d = await lossDrawdown(w);
  return { vs, limit: (unwindable * (WAD - min((d * WAD) / CONFIG.maxDrawdown, WAD))) / WAD };
}
/**
 * An account above the backstop of which about half fits what the unwind cap leaves once a first account
 * ($400k at 10x, taken whole) is in the vault; the account cap raised to the whole vault so that only the
 * unwind cap binds. The share the takeover should take, mirrored from the contract's rule.
 */
async function partialCase(w: BWorld, behindShare = 0n) {
  await w.bs.setBackstopConfig({ ...CONFIG, accountShare: WAD });
  const le = w.liquidationEngine;
  const a1 = await positionAccount(w, w.alice, 40_000n, 200n * WAD); // $400k at 2000
  // just below maintenance: the part to twice maintenance after its 1% fee is most of a 10x account (~4/5 here)
  const price = await priceForHealth(w, a1, (95n * WAD) / 100n); // above the 2/3 backstop
  // a2 sized so that about 9/10 of it fits what the unwind cap leaves after a1, at a1's leverage
  const skewScale = (await w.engine.marketConfig(ETH)).skewScale;
  const budget = (((skewScale * price) / WAD) * CONFIG.impactBudget) / WAD;
  const LN2 = 693147180559945309n;
  const cap = budget + (budget * LN2 * BigInt(CONFIG.maxHold)) / (WAD * BigInt(CONFIG.flowHalfLife));
  const size2 = (((cap - 200n * price) * WAD) / price / 10n ** 15n) * 10n ** 15n;
  expect(size2).to.be.greaterThan(0n);
  const a2 = await positionAccount(w, w.bob, (200n * size2) / WAD, size2);
  // optionally a smaller account at the same leverage, liquidatable in the same step
  const behind = ((size2 * behindShare) / WAD / 10n ** 15n) * 10n ** 15n;
  const a3 = behind === 0n ? 0n : await positionAccount(w, w.carol, (200n * behind) / WAD, behind);
  await setPriceWad(w, ETH, price);
  expect(events(w, await receipt(le.connect(w.keeper).liquidate(a1)), "AccountTakenOver")).to.have.length(1);
  const s2 = await w.engine.liquidationSnapshot(a2);
  expect(s2.summary.equity).to.be.lessThan(BigInt(s2.summary.maintenanceMargin));
  expect(s2.summary.equity * 3n).to.be.greaterThan(BigInt(s2.summary.maintenanceMargin) * 2n); // above the backstop
  const { vs, unwindable } = await unwindCap(w);
  const d = await lossDrawdown(w);
  const limit = (unwindable * (WAD - min((d * WAD) / CONFIG.maxDrawdown, WAD))) / WAD;
  const was = vs.summary.notional;
  const whole = was + s2.summary.notional;
  expect(whole).to.be.greaterThan(limit); // the whole does not fit: declined and tranched before this rule
  const room = ((limit - was) * WAD) / (whole - was); // the largest share that fits
  expect(room).to.be.within((7n * WAD) / 10n, (19n * WAD) / 20n);
  const share = await partShare(w, s2.summary);
  expect(share).to.be.within(WAD / 10n, room - WAD / 20n); // the part is smaller than the room: no larger
  return { a1, a2, a3, behind, size2, s2, share, room, limit, was, whole };
}

/**
 * The part of an account the vault takes where the whole does not fit (BackstopModule._share, through the
 * mirror): the tranche's rule with the health buffer at 100% (twice maintenance), no tranche cap, and the
 * takeover's fee rate for the penalty (the fee the part pays).
 */
async function partShare(w: BWorld, s: { equity: bigint; maintenanceMargin: bigint; notional: bigint }) {
  const le = w.liquidationEngine;
  const k = await le.config();
  const c = {
    trancheFraction: WAD,
    healthBuffer: WAD,
    backstopRatio: k.backstopRatio,
    penaltyRate: CONFIG.feeRate,
    dustNotional: k.dustNotional,
    capBypassRatio: k.capBypassRatio,
  };
  const r = await le.rewardConfig();
  // a Result's `flat` is Array.prototype.flat: the fields by position
  const reward = { flat: r[0], min: r[1], shareOfNotional: r[2], max: r[3] };
  const lm = liq.liquidationMargin(reward, s.notional);
  return liq.trancheFraction(c, s.equity, s.maintenanceMargin, s.notional, false, lm);
}

describe("Backstop vault: takeover", function () {
  it("moves a backstop account's position to the vault at the oracle price: open interest unchanged, fee to the vault, the trader keeps the rest", async function () {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD); // 100 ETH long at 2000, 10x
    const oiBefore = await w.engine.marketState(ETH);
    const price = await priceForHealth(w, a, WAD / 2n); // below the 2/3 backstop, above bankruptcy
    await setPriceWad(w, ETH, price);
    const s = await w.engine.liquidationSnapshot(a);
    const vaultMarginBefore = await w.vault.marginOf(w.vaultAccount);
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    console.log(`      gas: liquidate -> takeover of a one-position account: ${rc.gasUsed}`);

    expect(events(w, rc, "TrancheLiquidated")).to.have.length(0); // nothing sold
    const [taken] = events(w, rc, "AccountTakenOver");
    expect(taken.args.accountId).to.equal(a);
    const notional = s.summary.notional;
    expect(taken.args.notional).to.equal(notional);
    const marginAtOracle = taken.args.marginLeftWad + taken.args.feeWad;
    const fee = min(ceilDiv(notional * CONFIG.feeRate, WAD), marginAtOracle / 2n);
    expect(taken.args.feeWad).to.equal(fee);
    // the margin at the oracle is the equity the snapshot read a second earlier (funding moved since)
    expect(marginAtOracle).to.be.within(BigInt(s.summary.equity) - WAD / 100n, BigInt(s.summary.equity) + WAD / 100n);

    // the vault holds the trader's size with its basis at the oracle price; the trader holds nothing
    expect((await w.engine.position(a, ETH)).size).to.equal(0n);
    const vp = await w.engine.position(w.vaultAccount, ETH);
    expect(vp.size).to.equal(100n * WAD);
    const st = await w.engine.marketState(ETH);
    expect(st.longOpenInterest).to.equal(oiBefore.longOpenInterest);
    expect(st.shortOpenInterest).to.equal(oiBefore.shortOpenInterest);
    // trader: equity at the oracle less the fee; vault: the fee less the keeper's reward
    const keeperWad = taken.args.keeperWad;
    expect(await w.vault.marginOf(a)).to.equal(marginAtOracle - fee);
    expect(await w.vault.marginOf(a)).to.be.greaterThan(0n); // never wiped out with equity left
    expect(await w.vault.marginOf(w.vaultAccount)).to.equal(vaultMarginBefore + fee - keeperWad);
    expect(await w.vault.keeperRewardsOf(w.keeper.address)).to.equal(keeperWad);
    // the vault's position is worth nothing at the price it was taken at
    const vs = await w.engine.liquidationSnapshot(w.vaultAccount);
    expect(vs.positions[0].value).to.equal(0n);
  });

  it("takes over an account below maintenance above the backstop: no tranche is sold, the trader keeps its margin less the fee", async function () {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, (9n * WAD) / 10n));
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(0); // nothing sold
    const [taken] = events(w, rc, "AccountTakenOver");
    expect(taken.args.accountId).to.equal(a);
    expect(taken.args.marginLeftWad).to.be.greaterThan(0n); // not wiped out
    expect((await w.engine.position(a, ETH)).size).to.equal(0n);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(100n * WAD);
  });

  it("declines what would take a market's inventory past what the unwind sells within maxHold at its budget: tranched as before", async function () {
    const w = await loadFixture(world);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await positionAccount(w, w.alice, 40_000n, 200n * WAD));
    // one price step takes all three below maintenance at once, above the 2/3 backstop (a decline tranches)
    await setPriceWad(w, ETH, await priceForHealth(w, ids[0], (8n * WAD) / 10n));
    const taken = [];
    for (const id of ids) {
      const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(id));
      taken.push(events(w, rc, "AccountTakenOver").length);
    }
    // the third fits the account, market, depth and total caps (the adversarial fill below takes more than
    // four such accounts when this cap is lifted), but not what the unwind can sell before maxHold
    expect(taken).to.deep.equal([1, 1, 0]);
    const { vs, unwindable } = await unwindCap(w);
    expect(vs.summary.notional).to.be.at.most(unwindable);
    expect(vs.summary.notional + vs.summary.notional / 2n).to.be.greaterThan(unwindable);
    expect((await w.engine.position(ids[2], ETH)).size).to.not.equal(200n * WAD); // the third was tranched
  });

  it("takes over a part of an account above the backstop where the whole does not fit the unwind cap: what brings it to twice maintenance, the fee on the part, the rest of the vault's room left, the rest liquidatable later", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine;
    const { a2, size2, s2, share, room, limit, was, whole } = await partialCase(w);
    const rewardsBefore = await w.vault.keeperRewardsOf(w.keeper.address);

    const rc = await receipt(le.connect(w.keeper).liquidate(a2));
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(0); // nothing sold
    const [taken] = events(w, rc, "AccountTakenOver");
    expect(taken.args.accountId).to.equal(a2);
    // the part's share of the position moved, rounded toward zero; the trader keeps the rest
    const kept = (await w.engine.position(a2, ETH)).size;
    const part = size2 - kept;
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD + part);
    // the share read a block earlier (the funding accrued since moves the equity it is sized from)
    expect(part).to.be.closeTo((size2 * share) / WAD, size2 / 10n ** 7n);
    expect(kept).to.be.greaterThan(0n);
    // the fee on the part taken, rounded up: notional x share, the keeper's reward out of it
    expect(taken.args.notional).to.be.closeTo((s2.summary.notional * share) / WAD, s2.summary.notional / 10n ** 7n);
    expect(taken.args.feeWad).to.equal(ceilDiv(taken.args.notional * CONFIG.feeRate, WAD));
    expect(await w.vault.keeperRewardsOf(w.keeper.address)).to.equal(rewardsBefore + taken.args.keeperWad);
    // no larger: the vault below its cap by what the largest share that fits would have taken
    const after = await w.engine.liquidationSnapshot(w.vaultAccount);
    expect(after.summary.notional).to.be.closeTo(was + ((whole - was) * share) / WAD, whole / 10n ** 6n);
    expect(limit - after.summary.notional).to.be.greaterThan(((whole - was) * (room - share)) / WAD / 2n);
    // the account's health better for it: maintenance falls with the part, equity only by the fee; at least twice
    // maintenance after the fee (the share is sized with the fee's rate, 1% of the part, not the tranche's 0.5%
    // penalty, which left ~1.24), and not far above it: ~2.28 here, the sizing taking the liquidation margin as
    // staying where it falls with the notional
    const r2 = await w.engine.liquidationSnapshot(a2);
    const h2 = await w.engine.health(a2);
    console.log(`      health after the part: ${h2}`);
    expect(h2).to.be.at.least(2n * WAD);
    expect(h2).to.be.lessThan((5n * WAD) / 2n);
    expect(BigInt(r2.summary.equity)).to.be.closeTo(BigInt(s2.summary.equity) - taken.args.feeWad, WAD / 100n);
    expect(BigInt(r2.summary.equity) * BigInt(s2.summary.maintenanceMargin)).to.be.greaterThan(
      BigInt(s2.summary.equity) * BigInt(r2.summary.maintenanceMargin),
    );
    // liquidatable again later: below the backstop the vault takes the rest whole (no unwind cap there)
    await setPriceWad(w, ETH, await priceForHealth(w, a2, WAD / 2n));
    const rc2 = await receipt(le.connect(w.keeper).liquidate(a2));
    expect(events(w, rc2, "AccountTakenOver")).to.have.length(1);
    expect((await w.engine.position(a2, ETH)).size).to.equal(0n);
  });

  it("adversarial: after a part taken, calls move nothing and pay no keeper until the tranche's cooldown ends, though the vault has room; then a part again where it fits, else the tranche", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine;
    const { a2, size2 } = await partialCase(w);
    expect(events(w, await receipt(le.connect(w.keeper).liquidate(a2)), "AccountTakenOver")).to.have.length(1);
    const mid = (await w.engine.position(a2, ETH)).size;
    expect(mid).to.be.within(1n, size2 - 1n);
    // the price moves on: below maintenance again, above the backstop; the vault has room, but a part waits for
    // the tranche's cooldown, which the part started
    await setPriceWad(w, ETH, await priceForHealth(w, a2, (9n * WAD) / 10n));
    expect(await w.engine.health(a2)).to.be.lessThan(WAD);
    const { vs, unwindable } = await unwindCap(w);
    expect(vs.summary.notional).to.be.lessThan(unwindable);
    const vaultSize = (await w.engine.position(w.vaultAccount, ETH)).size;
    const rewards = await w.vault.keeperRewardsOf(w.keeper.address);
    for (let i = 0; i < 3; i++) {
      await expect(le.connect(w.keeper).liquidate(a2)).to.be.revertedWithCustomError(le, "TrancheCoolingDown");
    }
    expect((await w.engine.position(a2, ETH)).size).to.equal(mid);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(vaultSize);
    expect(await w.vault.keeperRewardsOf(w.keeper.address)).to.equal(rewards);
    // the takeover itself refuses the part while the cooldown runs (share 0, below the tranche's share)
    const from = await w.engine.getAddress();
    await networkHelpers.impersonateAccount(from);
    await networkHelpers.setBalance(from, WAD);
    const self = await ethers.getSigner(from);
    const data = w.bs.interface.encodeFunctionData("backstopTakeover", [a2, w.keeper.address]);
    await expect(self.call({ to: from, data })).to.be.revertedWithCustomError(w.bs, "TakeoverCapExceeded");
    // after the cooldown the vault takes the part again where it fits the room left, else the tranche sells
    await time.increase(Number((await le.config()).cooldown));
    const s2 = await w.engine.liquidationSnapshot(a2);
    const share = await partShare(w, s2.summary);
    const c2 = await pacedCap(w);
    const fits = c2.vs.summary.notional + (s2.summary.notional * share) / WAD <= c2.limit;
    const rc = await receipt(le.connect(w.keeper).liquidate(a2));
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(fits ? 0 : 1);
    expect(events(w, rc, "AccountTakenOver")).to.have.length(fits ? 1 : 0);
    const moved = mid - (await w.engine.position(a2, ETH)).size;
    if (fits) expect(moved).to.be.closeTo((mid * share) / WAD, mid / 10n ** 9n);
    else expect(moved).to.be.within(1n, mid - 1n);
  });

  it("in drawdown, holds the unwind cap to the loss budget left (x (1 - drawdown / maxDrawdown)): a takeover the full cap allows is declined and tranched", async function () {
    const w = await loadFixture(world);
    const a1 = await positionAccount(w, w.alice, 40_000n, 200n * WAD); // $400k
    await setPriceWad(w, ETH, await priceForHealth(w, a1, (8n * WAD) / 10n));
    await w.liquidationEngine.connect(w.keeper).liquidate(a1);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
    // the inventory loses: the vault's share price falls below the breaker's peak
    const p1 = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await setPriceWad(w, ETH, ((p1 * 93n) / 100n / 10n ** 10n) * 10n ** 10n);
    const a2 = await positionAccount(w, w.bob, 15_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a2, (8n * WAD) / 10n)); // above the 2/3 backstop
    const d = await lossDrawdown(w);
    expect(d).to.be.within(CONFIG.maxDrawdown / 3n, (CONFIG.maxDrawdown * 9n) / 10n);
    const s2 = await w.engine.liquidationSnapshot(a2);
    const { vs, unwindable } = await unwindCap(w);
    const after = vs.summary.notional + s2.summary.notional;
    // the whole cap would take it; the share of it the loss budget leaves does not
    expect(after).to.be.at.most(unwindable);
    expect(after).to.be.greaterThan((unwindable * (WAD - (d * WAD) / CONFIG.maxDrawdown)) / WAD);
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a2));
    expect(events(w, rc, "AccountTakenOver")).to.have.length(0);
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(1); // declined: tranched as without a vault
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
  });

  it("takes an account below the backstop past the unwind cap (a decline would sell it whole at once)", async function () {
    const w = await loadFixture(world);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await positionAccount(w, w.alice, 40_000n, 200n * WAD));
    // one price step takes all three below the 2/3 backstop at once: a declined one would be closed in full
    await setPriceWad(w, ETH, await priceForHealth(w, ids[0], WAD / 2n));
    const taken = [];
    for (const id of ids) {
      const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(id));
      taken.push(events(w, rc, "AccountTakenOver").length);
      expect(events(w, rc, "TrancheLiquidated")).to.have.length(0); // nothing sold
    }
    // the same three accounts the unwind cap declines the third of above the backstop (previous test)
    expect(taken).to.deep.equal([1, 1, 1]);
    const { vs, unwindable } = await unwindCap(w);
    expect(vs.summary.notional).to.be.greaterThan(unwindable);
    for (const id of ids) expect((await w.engine.position(id, ETH)).size).to.equal(0n);
  });

  it("leaves what the vault declines (a cap) to the tranches, as without a vault", async function () {
    const w = await loadFixture(world);
    await w.bs.setBackstopConfig({ ...CONFIG, accountShare: WAD / 100n }); // $10k of a $1M vault
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, (9n * WAD) / 10n));
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    expect(events(w, rc, "AccountTakenOver")).to.have.length(0);
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(1);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
  });

  it("takes over an account the market's liquidation capacity holds back (no sale); without the vault it would wait", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine;
    await changeLiquidationConfig(w, { capacityDepthFactor: WAD / 1000n }); // the bound's minimum
    const a = await positionAccount(w, w.bob, 20_000n, 100n * WAD);
    const big = await positionAccount(w, w.alice, 4_000_000n, 20_000n * WAD); // far more than the window
    await setPriceWad(w, ETH, await priceForHealth(w, a, (85n * WAD) / 100n));
    expect(await w.engine.health(big)).to.be.lessThan(WAD);
    // the big account's liquidation (a tranche scaled to the window, or a backstop close the vault's
    // account cap refuses, which counts its notional) uses all of the window
    await le.connect(w.keeper).liquidate(big);
    const cap = await le.liquidationCapacity(ETH);
    // a is above the backstop and held back by capacity: the vault takes it over, nothing is sold
    expect(await w.engine.health(a)).to.be.greaterThan((2n * WAD) / 3n);
    await expect(le.previewLiquidation(a)).to.be.revertedWithCustomError(le, "LiquidationCapacityExhausted");
    const rc = await receipt(le.connect(w.keeper).liquidate(a));
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(0);
    expect(events(w, rc, "AccountTakenOver")).to.have.length(1);
    expect((await le.liquidationCapacity(ETH)).used).to.equal(cap.used); // the window is untouched
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(100n * WAD);
  });

  it("leaves a held-back account waiting when the vault declines (a cap): the refusal is the engine's own", async function () {
    const w = await loadFixture(world);
    await w.bs.setBackstopConfig({ ...CONFIG, accountShare: WAD / 100n }); // $10k of a $1M vault
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, (9n * WAD) / 10n));
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    await setPriceWad(w, ETH, await priceForHealth(w, a, (8n * WAD) / 10n));
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(a)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "TrancheCoolingDown",
    );
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
  });

  it("covers negative equity from the insurance fund; the trader keeps nothing and the vault still takes the position at the oracle", async function () {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, -WAD / 5n)); // equity below zero
    const s = await w.engine.liquidationSnapshot(a);
    expect(s.summary.equity).to.be.lessThan(0n);
    const incurred = await w.liquidationEngine.badDebtIncurred();
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    const [taken] = events(w, rc, "AccountTakenOver");
    const covered = taken.args.badDebtCoveredWad as bigint;
    expect(covered).to.be.within(-s.summary.equity - WAD / 100n, -s.summary.equity + WAD / 100n);
    expect(taken.args.marginLeftWad).to.equal(0n);
    expect(await w.liquidationEngine.badDebtIncurred()).to.equal(incurred + covered);
    expect(await w.liquidationEngine.badDebtCovered()).to.be.greaterThanOrEqual(covered);
    expect(await w.liquidationEngine.badDebtPending()).to.equal(0n);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(100n * WAD);
  });

  it("pays what the insurance fund cannot cover of a takeover's bad debt out of its loss budget: nothing pending, nothing sold", async function () {
    const w = await worldWith({ insurance: 0n }); // the fund holds a few dollars at most
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, -WAD / 5n)); // equity below zero
    const s = await w.engine.liquidationSnapshot(a);
    expect(s.summary.equity).to.be.lessThan(0n);
    const [incurred, covered, margin] = [
      await w.liquidationEngine.badDebtIncurred(),
      await w.liquidationEngine.badDebtCovered(),
      await w.vault.marginOf(w.vaultAccount),
    ];
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    console.log(`      gas: liquidate -> takeover, bad debt past the fund paid by the vault: ${rc.gasUsed}`);
    expect(events(w, rc, "LiquidationSettled")).to.have.length(0);
    const [taken] = events(w, rc, "AccountTakenOver");
    const [paid] = events(w, rc, "BackstopBadDebtPaid");
    const shortfall = (await w.liquidationEngine.badDebtIncurred()) - incurred;
    expect(shortfall).to.be.within(-s.summary.equity - WAD / 100n, -s.summary.equity + WAD / 100n);
    const byVault = paid.args.amountWad as bigint;
    expect(paid.args.accountId).to.equal(a);
    expect(byVault).to.be.greaterThan(shortfall / 2n); // most of it: the fund is (nearly) empty
    expect(byVault).to.equal(shortfall - (taken.args.badDebtCoveredWad as bigint));
    // the ledger balances with nothing left for auto-deleveraging; the vault's margin paid exactly its part
    // (a wiped-out account pays no fee)
    expect((await w.liquidationEngine.badDebtCovered()) - covered).to.equal(shortfall);
    expect(await w.liquidationEngine.badDebtPending()).to.equal(0n);
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(0n);
    expect(await w.vault.marginOf(w.vaultAccount)).to.equal(margin - byVault);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(100n * WAD);
    expect((await w.engine.position(a, ETH)).size).to.equal(0n);
  });

  it("leaves bad debt past badDebtDrawdown (0: any) to the backstop close, which queues it for auto-deleveraging", async function () {
    // Alice's bad debt $1,000 an ETH below her bankruptcy (about $100k) against the $1M vault's 7.5% bound; $600
    // (about $60k, 6% with the mark haircut) against a 5% bound, within maxDrawdown: the part of the budget past
    // the bound carries the inventory, it pays no bad debt; and any bad debt with the bound at 0
    for (const [config, below] of [
      [CONFIG, 1_000n],
      [{ ...CONFIG, adlDrawdown: WAD / 20n, badDebtDrawdown: WAD / 20n }, 600n],
      [{ ...CONFIG, adlDrawdown: WAD / 50n, badDebtDrawdown: WAD / 20n }, 600n],
      [{ ...CONFIG, badDebtDrawdown: 0n }, 100n],
    ] as const) {
      // the control: the same account, price and config with the default $100k fund is taken over (no cap
      // declines it; the vault pays at most a small rest), so below it is the bad debt that is refused
      const ctl = await world();
      await ctl.bs.setBackstopConfig(config);
      const ca = await positionAccount(ctl, ctl.alice, 20_000n, 100n * WAD);
      await setPriceWad(ctl, ETH, (await priceForHealth(ctl, ca, 0n)) - below * WAD);
      const crc = await receipt(ctl.liquidationEngine.connect(ctl.keeper).liquidate(ca));
      expect(events(ctl, crc, "AccountTakenOver")).to.have.length(1);

      const w = await worldWith({ insurance: 0n });
      await w.bs.setBackstopConfig(config);
      const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
      await setPriceWad(w, ETH, (await priceForHealth(w, a, 0n)) - below * WAD);
      const debt = -(await w.engine.liquidationSnapshot(a)).summary.equity;
      expect(debt).to.be.greaterThan((1_000_000n * WAD * config.badDebtDrawdown) / WAD);
      // below maxDrawdown, the debt and the haircut on the inventory (about $2.4k) stay within it
      if (config.badDebtDrawdown < CONFIG.maxDrawdown) expect(debt).to.be.lessThan(70_000n * WAD);
      const margin = await w.vault.marginOf(w.vaultAccount);
      const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
      expect(events(w, rc, "AccountTakenOver")).to.have.length(0);
      expect(events(w, rc, "BackstopBadDebtPaid")).to.have.length(0);
      const [settled] = events(w, rc, "LiquidationSettled");
      expect(settled.args.backstop).to.equal(true);
      expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.be.greaterThan(0n);
      expect(await w.vault.marginOf(w.vaultAccount)).to.equal(margin);
      expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
    }
  });

  it("pays bad debt past its deleveraging trigger up to badDebtDrawdown, its own bound", async function () {
    // about $30k of bad debt (3% of the $1M vault, 3.2% with the mark haircut): past a 2% trigger, within a 5%
    // bound the vault pays it; with the bound at the trigger it is refused (the control)
    for (const [badDebtDrawdown, paid] of [
      [WAD / 20n, true],
      [WAD / 50n, false],
    ] as const) {
      const w = await worldWith({ insurance: 0n });
      await w.bs.setBackstopConfig({ ...CONFIG, adlDrawdown: WAD / 50n, badDebtDrawdown });
      const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
      await setPriceWad(w, ETH, (await priceForHealth(w, a, 0n)) - 300n * WAD);
      const debt = -(await w.engine.liquidationSnapshot(a)).summary.equity;
      expect(debt).to.be.within(25_000n * WAD, 35_000n * WAD);
      const margin = await w.vault.marginOf(w.vaultAccount);
      const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
      expect(events(w, rc, "AccountTakenOver")).to.have.length(paid ? 1 : 0);
      const byVault = events(w, rc, "BackstopBadDebtPaid");
      expect(byVault).to.have.length(paid ? 1 : 0);
      if (paid) {
        expect(await w.vault.marginOf(w.vaultAccount)).to.equal(margin - (byVault[0].args.amountWad as bigint));
        expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(0n);
        expect(await w.liquidationEngine.badDebtPending()).to.equal(0n);
        // past the trigger: the keeper may pass the inventory on (the excess is all of it)
        expect(await w.liquidationEngine.backstopExcess(ETH)).to.equal(100n * WAD);
      } else {
        expect(await w.vault.marginOf(w.vaultAccount)).to.equal(margin);
        expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.be.greaterThan(0n);
      }
    }
  });

  it("nets an opposite-side backstop against the inventory first: both sides' open interest fall, no sale", async function () {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    const b = await positionAccount(w, w.bob, 20_000n, -60n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, WAD / 2n));
    await w.liquidationEngine.connect(w.keeper).liquidate(a); // vault long 100
    await setPriceWad(w, ETH, await priceForHealth(w, b, WAD / 2n)); // price up: the short reaches the backstop
    const before = await w.engine.marketState(ETH);
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(b));
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(0);
    expect(events(w, rc, "AccountTakenOver")).to.have.length(1);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(40n * WAD);
    const after = await w.engine.marketState(ETH);
    expect(before.longOpenInterest - after.longOpenInterest).to.equal(60n * WAD);
    expect(before.shortOpenInterest - after.shortOpenInterest).to.equal(60n * WAD);
  });

  it("closes through today's backstop what exceeds a cap (per account), leaving the vault untouched", async function () {
    const w = await loadFixture(world);
    await w.bs.setBackstopConfig({ ...CONFIG, accountShare: WAD / 10n }); // $100k of a $1M vault
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD); // ~$190k notional at the backstop
    await setPriceWad(w, ETH, await priceForHealth(w, a, WAD / 2n));
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    console.log(`      gas: liquidate -> takeover refused by a cap, then the backstop close: ${rc.gasUsed}`);
    expect(events(w, rc, "AccountTakenOver")).to.have.length(0);
    const [settled] = events(w, rc, "LiquidationSettled");
    expect(settled.args.backstop).to.equal(true);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
    expect((await w.engine.position(a, ETH)).size).to.equal(0n);
  });

  it("stops takeovers once the share price is maxDrawdown below its window's peak, and resumes after the window", async function () {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 40_000n, 200n * WAD);
    const p1 = await priceForHealth(w, a, WAD / 2n);
    await setPriceWad(w, ETH, p1);
    await w.liquidationEngine.connect(w.keeper).liquidate(a); // vault long 200 ETH, peak set
    // a 20% fall costs the vault ~$75k of $1M: more than 7.5% at the conservative mark
    const c = await positionAccount(w, w.carol, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, (p1 * 62n) / 100n);
    expect(await w.engine.health(c)).to.be.lessThan((2n * WAD) / 3n);
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(c));
    expect(events(w, rc, "BackstopHalted")).to.have.length(1);
    expect(events(w, rc, "AccountTakenOver")).to.have.length(0);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
    // a new window starts from the share price then: takeovers resume
    await time.increase(CONFIG.drawdownWindow);
    const low = (p1 * 62n) / 100n;
    await setPriceWad(w, ETH, low);
    const d = await positionAccount(w, w.bob, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, d, WAD / 2n));
    const rc2 = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(d));
    expect(events(w, rc2, "AccountTakenOver")).to.have.length(1);
  });
});

describe("Backstop vault: paced unwind", function () {
  async function withInventory() {
    const w = await world();
    const a = await positionAccount(w, w.alice, 40_000n, 200n * WAD); // $400k
    await setPriceWad(w, ETH, await priceForHealth(w, a, WAD / 2n));
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    return w;
  }

  it("sells only the budget's room (impactBudget x depth less the decayed forced flow), then refuses until it decays", async function () {
    const w = await loadFixture(withInventory);
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    const depth = ((await w.engine.marketConfig(ETH)).skewScale * price) / WAD;
    const budget = (depth * CONFIG.impactBudget) / WAD;
    const [sellable, used, b] = await w.bs.unwindRoom(ETH);
    // the takeover's mark haircut (2% of the notional, less its 1% fee) puts the vault slightly in
    // drawdown: the loss ramp raises the budget a little
    const d = await lossDrawdown(w);
    expect(d).to.be.greaterThan(0n);
    // (the view and the transaction read the share price a few seconds apart: funding moves it by wei)
    expect(b).to.be.closeTo(ramped(budget, d), ramped(budget, d) / 1_000_000n);
    expect(used).to.equal(0n);
    expect(sellable).to.be.closeTo(b, b / 1_000_000n);
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    console.log(`      gas: unwind (one market): ${rc.gasUsed}`);
    const [ramp] = events(w, rc, "BackstopLossUnwind");
    expect(ramp.args.budgetWad).to.equal(ramped(budget, ramp.args.drawdownWad as bigint));
    const closeAbs = ((ramp.args.budgetWad as bigint) * WAD) / price;
    const [u] = events(w, rc, "BackstopUnwound");
    expect(u.args.sizeDelta).to.equal(-closeAbs);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD - closeAbs);
    // at the same instant the budget is used up: nothing more to sell
    expect((await w.bs.unwindRoom(ETH)).sellable).to.equal(0n);
    await expect(w.bs.unwind.staticCall(ETH, { blockTag: "latest" })).to.be.revertedWithCustomError(
      w.bs,
      "UnwindBudgetExhausted",
    );
    // one half-life later, about half the budget is free again
    await time.increase(600);
    await setPriceWad(w, ETH, price);
    const flow = await w.bs.forcedFlow(ETH);
    const sold = u.args.notional as bigint;
    expect(flow).to.be.within(sold / 2n - sold / 100n, sold / 2n + sold / 100n);
    const left = (await w.engine.position(w.vaultAccount, ETH)).size;
    await w.bs.unwind(ETH);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.be.lessThan(left);
  });

  it("the keeper's event-followed book follows a takeover and an unwind: after re-reading what it marks stale, every margin and position equals the chain's", async function () {
    const w = await loadFixture(world);
    const book = new AccountBook(await w.vault.SCALE());
    const follower = new EventFollower({
      provider: ethers.provider,
      addresses: {
        engine: await w.engine.getAddress(),
        vault: await w.vault.getAddress(),
        liquidationEngine: await w.liquidationEngine.getAddress(),
      },
      book,
      startBlock: 0,
      rangeBlocks: 1_000_000,
      logger: silentLogger(),
    });
    const sync = async () => {
      const head = await ethers.provider.getBlockNumber();
      await follower.advance(head);
      const stale = book.stale().map((x) => x.id);
      if (stale.length) await rereadAccounts(book, { engine: w.engine, vault: w.vault }, stale, head);
      return stale;
    };
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    await sync();
    const price = await priceForHealth(w, a, WAD / 2n);
    await setPriceWad(w, ETH, price);
    await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    // the takeover's fee moved margin from the trader to the vault with no margin event: both re-read
    expect(await sync()).to.include.members([a, w.vaultAccount]);
    await receipt(w.bs.connect(w.stranger).unwind(ETH));
    await sync();
    for (const id of [a, w.vaultAccount]) {
      const tracked = book.get(id)!;
      expect(tracked.margin, `margin of account ${id}`).to.equal(await w.vault.marginOf(id));
      const onChain = await w.engine.position(id, ETH);
      expect(tracked.positions.get(Number(ETH))?.size ?? 0n, `size of account ${id}`).to.equal(onChain.size);
    }
  });

  it("sells lateMultiplier times the budget once the inventory is older than maxHold, and empties it", async function () {
    const w = await loadFixture(withInventory);
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await time.increase(CONFIG.maxHold);
    await setPriceWad(w, ETH, price);
    const [, , budget, late] = await w.bs.unwindRoom(ETH);
    expect(late).to.equal(true);
    const depth = ((await w.engine.marketConfig(ETH)).skewScale * price) / WAD;
    expect(budget).to.equal((((depth * CONFIG.impactBudget) / WAD) * CONFIG.lateMultiplier) / WAD);
    for (let i = 0; i < 3 && (await w.engine.position(w.vaultAccount, ETH)).size !== 0n; i++) {
      await w.bs.unwind(ETH);
      await time.increase(1200);
      await setPriceWad(w, ETH, price);
    }
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
    await expect(w.bs.unwind(ETH)).to.be.revertedWithCustomError(w.bs, "NothingToUnwind").withArgs(ETH);
  });
});

describe("Backstop vault: the loss ramp (the unwind's budget grows with the vault's loss)", function () {
  async function withInventory() {
    const w = await world();
    const a = await positionAccount(w, w.alice, 40_000n, 200n * WAD); // $400k
    await setPriceWad(w, ETH, await priceForHealth(w, a, WAD / 2n));
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    return w;
  }

  async function baseBudget(w: BWorld): Promise<bigint> {
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    const depth = ((await w.engine.marketConfig(ETH)).skewScale * price) / WAD;
    return (depth * CONFIG.impactBudget) / WAD;
  }

  it("raises the budget by (maxDrawdown / (maxDrawdown - drawdown))^2 as the inventory loses, and says so (BackstopLossUnwind)", async function () {
    const w = await loadFixture(withInventory);
    const p0 = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await setPriceWad(w, ETH, (p0 * 97n) / 100n); // -3% on $400k: about $12k of $1M
    const d = await lossDrawdown(w);
    expect(d).to.be.within(WAD / 100n, CONFIG.maxDrawdown / 2n);
    const base = await baseBudget(w);
    const want = ramped(base, d);
    expect(want).to.be.greaterThan(base);
    const [, used, budget] = await w.bs.unwindRoom(ETH);
    expect(used).to.equal(0n);
    expect(budget).to.be.closeTo(want, want / 1_000_000n);
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    const [e] = events(w, rc, "BackstopLossUnwind");
    expect(e.args.marketId).to.equal(BigInt(ETH));
    expect(e.args.drawdownWad).to.be.closeTo(d, d / 1_000_000n);
    const got = e.args.budgetWad as bigint;
    expect(got).to.equal(ramped(base, e.args.drawdownWad as bigint));
    const [u] = events(w, rc, "BackstopUnwound");
    const price = u.args.price as bigint;
    expect(u.args.sizeDelta).to.equal(-((got * WAD) / price));
  });

  it("at maxDrawdown sells what is left at once, though the impact budget is used up", async function () {
    const w = await loadFixture(withInventory);
    const p0 = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await w.bs.connect(w.stranger).unwind(ETH); // uses the budget
    expect((await w.bs.unwindRoom(ETH)).sellable).to.equal(0n);
    // the path keeps falling until the vault's loss reaches its budget (maxDrawdown below the peak)
    let p = p0;
    for (let i = 0; i < 9 && (await lossDrawdown(w)) < CONFIG.maxDrawdown; i++) {
      p = (p * 90n) / 100n;
      await setPriceWad(w, ETH, p);
    }
    expect(await lossDrawdown(w)).to.be.greaterThanOrEqual(CONFIG.maxDrawdown);
    const left = (await w.engine.position(w.vaultAccount, ETH)).size;
    expect(left).to.be.greaterThan(0n);
    const [sellable, used, budget] = await w.bs.unwindRoom(ETH);
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    expect(sellable).to.equal((left * price) / WAD);
    expect(budget).to.be.greaterThan(used);
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    console.log(`      gas: unwind at maxDrawdown (the whole inventory): ${rc.gasUsed}`);
    expect(events(w, rc, "BackstopLossUnwind")).to.have.length(1);
    const [u] = events(w, rc, "BackstopUnwound");
    expect(u.args.sizeDelta).to.equal(-left);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
    // the loss stops there: nothing left to fall with the path
    const equityAfter = (await w.bv.book()).equityWad;
    await setPriceWad(w, ETH, (p0 * 60n) / 100n);
    expect((await w.bv.book()).equityWad).to.equal(equityAfter);
  });

  it("reads no drawdown once the drawdown breaker's window has run out (as the breaker would restart it)", async function () {
    const w = await loadFixture(withInventory);
    const p0 = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await setPriceWad(w, ETH, (p0 * 97n) / 100n);
    expect(await lossDrawdown(w)).to.be.greaterThan(0n);
    await time.increase(CONFIG.drawdownWindow);
    await setPriceWad(w, ETH, (p0 * 97n) / 100n);
    // the share price is still below the old peak, but the window is over: only the time limit applies
    expect(await lossDrawdown(w)).to.be.greaterThan(0n);
    const base = await baseBudget(w);
    expect((await w.bs.unwindRoom(ETH)).budgetWad).to.equal((base * CONFIG.lateMultiplier) / WAD);
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    expect(events(w, rc, "BackstopLossUnwind")).to.have.length(0);
  });

  it("adversarial: filling the vault with self-liquidations at one price cannot force a sale of its inventory: the ramp stays within lateMultiplier x the budget", async function () {
    const w = await loadFixture(world);
    // the unwind cap (what maxHold sells at the budget) would stop the fill at two takeovers: lift it by a
    // longer maxHold, to test the ramp against the other caps' fill
    await w.bs.setBackstopConfig({ ...CONFIG, maxHold: 8 * 3600 });
    // an attacker opens leveraged longs, lets one price step take them all below maintenance, and
    // liquidates them into the vault one after the other at that same price, to push the vault's
    // conservative share price (its 2% mark haircut on the inventory) toward maxDrawdown
    const ids = [];
    for (let i = 0; i < 12; i++) ids.push(await positionAccount(w, w.alice, 40_000n, 200n * WAD));
    await setPriceWad(w, ETH, await priceForHealth(w, ids[0], WAD / 2n));
    let taken = 0;
    for (const id of ids) {
      const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(id));
      taken += events(w, rc, "AccountTakenOver").length;
    }
    expect(taken).to.be.greaterThan(4); // the vault held several times what one takeover brings
    const inventory = (await w.engine.position(w.vaultAccount, ETH)).size;
    const d = await lossDrawdown(w);
    // each takeover costs the vault its haircut less the fee it earns (2% - 1% of the notional), and the
    // caps keep the notional within marketShare x equity: short of maxDrawdown at one price
    expect(d).to.be.greaterThan(0n);
    expect(d).to.be.lessThan(CONFIG.maxDrawdown);
    const base = await baseBudget(w);
    const [sellable, , budget] = await w.bs.unwindRoom(ETH);
    expect(budget).to.be.greaterThan(base);
    expect(budget).to.be.at.most((base * CONFIG.lateMultiplier) / WAD);
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    expect(sellable).to.be.lessThan((inventory * price) / WAD);
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    const [u] = events(w, rc, "BackstopUnwound");
    expect(abs(u.args.sizeDelta as bigint)).to.be.lessThan(inventory);
    expect((u.args.notional as bigint) <= (base * CONFIG.lateMultiplier) / WAD).to.equal(true);
  });
});

describe("Backstop vault: deleveraging past its trigger (deleverageBackstop)", function () {
  const ADL = { ...CONFIG, adlDrawdown: WAD / 20n, badDebtDrawdown: WAD / 20n }; // 5%, below the breaker's 7.5%

  /** Bob short 100 ETH (the counterpart), Carol long 10 ETH; Alice's 200 ETH long taken over by the vault. */
  async function withCounterpart() {
    const w = await world();
    await w.bs.setBackstopConfig(ADL);
    const bob = await positionAccount(w, w.bob, 60_000n, -100n * WAD);
    const carol = await positionAccount(w, w.carol, 20_000n, 10n * WAD);
    const alice = await positionAccount(w, w.alice, 40_000n, 200n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, alice, WAD / 2n));
    await w.liquidationEngine.connect(w.keeper).liquidate(alice);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
    return { ...w, bobId: bob, carolId: carol };
  }

  /** The price at which the vault's share price is below its trigger (peak less adlDrawdown). */
  async function pastTrigger(w: BWorld) {
    const peak = (await w.bs.backstopState()).peakSharePrice;
    const trigger = (peak * (WAD - ADL.adlDrawdown)) / WAD;
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    // 200 ETH long: $400 lower is a loss of about $80k on $1M, past 5% but not 7.5% with the haircut
    await setPriceWad(w, ETH, price - 400n * WAD);
    const now = await w.bv.sharePrice();
    expect(now).to.be.at.most(trigger);
    return { trigger, now };
  }

  it("refuses above the trigger within the carry, with the trigger off, and to anyone without ADL_KEEPER; no state change", async function () {
    const w = await loadFixture(withCounterpart);
    await calmRound(w, ETH, time); // the takeover's own price move no longer counts: within the carry
    expect(await w.liquidationEngine.backstopExcess(ETH)).to.equal(0n);
    const trigger = ((await w.bs.backstopState()).peakSharePrice * (WAD - ADL.adlDrawdown)) / WAD;
    await expect(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [w.bobId]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "BackstopAboveTrigger")
      .withArgs((p: bigint) => p > trigger, trigger);
    await pastTrigger(w);
    await expect(
      w.liquidationEngine.connect(w.stranger).deleverageBackstop(ETH, [w.bobId]),
    ).to.be.revertedWithCustomError(w.liquidationEngine, "AccessControlUnauthorizedAccount");
    await w.bs.setBackstopConfig({ ...ADL, adlDrawdown: 0n });
    await expect(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [w.bobId])).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "BackstopDeleverageOff",
    );
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
    expect((await w.engine.position(w.bobId, ETH)).size).to.equal(-100n * WAD);
  });

  it("past the trigger closes the vault's inventory against a profitable opposite position at the oracle: no sale, skew unchanged, the candidate's equity kept", async function () {
    const w = await loadFixture(withCounterpart);
    await pastTrigger(w);
    const before = await w.engine.marketState(ETH);
    const bobBefore = (await w.engine.liquidationSnapshot(w.bobId)).summary.equity;
    const flowBefore = await w.bs.forcedFlow(ETH);
    const rc = await receipt(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [w.bobId]));
    console.log(`      gas: deleverageBackstop (one candidate): ${rc.gasUsed}`);
    const [e] = events(w, rc, "BackstopDeleveraged");
    const index = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    expect(e.args.accountId).to.equal(w.bobId);
    expect(e.args.sizeDelta).to.equal(100n * WAD); // the short closed in full
    expect(e.args.price).to.equal(index);
    expect((await w.engine.position(w.bobId, ETH)).size).to.equal(0n);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(100n * WAD);
    const after = await w.engine.marketState(ETH);
    expect(before.longOpenInterest - after.longOpenInterest).to.equal(100n * WAD);
    expect(before.shortOpenInterest - after.shortOpenInterest).to.equal(100n * WAD);
    expect(await w.bs.forcedFlow(ETH)).to.equal(flowBefore); // nothing sold into the market
    // Bob's profit is realised at the oracle: his equity moves only by a second's funding
    const bobAfter = (await w.engine.liquidationSnapshot(w.bobId)).summary.equity;
    expect(bobAfter).to.be.within(bobBefore - WAD, bobBefore + WAD);
    expect(await w.vault.marginOf(w.bobId)).to.be.greaterThan(60_000n * WAD);
    // nobody left on the other side: the rest of the inventory stays (the breaker and the unwind carry it)
    await expect(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, []))
      .to.be.revertedWithCustomError(w.liquidationEngine, "NoAdlCandidateAboveMaintenance")
      .withArgs(ETH, true);
  });

  it("takes only ranked opposite-side accounts in profit: a same-side account (adversarial pick) is refused whole", async function () {
    const w = await loadFixture(withCounterpart);
    await pastTrigger(w);
    // Carol is long like the vault: naming her (to close a rival's position) reverts, nothing changes
    await expect(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [w.bobId, w.carolId]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "NotAnAdlCandidate")
      .withArgs(w.carolId, ETH);
    expect((await w.engine.position(w.bobId, ETH)).size).to.equal(-100n * WAD);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
  });

  /**
   * Above the trigger: what the loss budget left carries through the stress move, from the contract's own
   * figures (book, share price, peak, haircut, oracle rounds), with a bigint square root; the contract rounds
   * the carry down, so its excess is at most 1e-9 of the size above this one.
   */
  async function expectedExcess(w: BWorld): Promise<bigint> {
    const isqrt = (n: bigint) => {
      if (n < 2n) return n;
      let x = n;
      let y = (x + 1n) / 2n;
      while (y < x) [x, y] = [y, (y + n / y) / 2n];
      return x;
    };
    const size = abs((await w.engine.position(w.vaultAccount, ETH)).size);
    const peak = (await w.bs.backstopState()).peakSharePrice;
    const sp = await w.bv.sharePrice();
    const edge = ceilDiv(peak * (WAD - ADL.maxDrawdown), WAD);
    const [equity, notional] = await w.bv.book();
    const marked = equity - ceilDiv(notional * (await w.bv.markHaircut()), WAD);
    const budgetLeft = (marked * (sp - edge)) / sp;
    const feed = w.feeds.get(ETH)!;
    const [id, a1, , t1] = await feed.latestRoundData();
    const [, a0, , t0] = await feed.getRoundData(id - 1n);
    const move = (abs(a1 - a0) * WAD) / a0; // both answers in the feed's decimals
    const stress = (move * isqrt((BigInt(ADL.maxHold) * WAD * WAD) / (t1 - t0))) / WAD;
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    const carry = (((budgetLeft * WAD) / stress) * WAD) / price;
    return carry >= size ? 0n : size - carry;
  }

  /**
   * A calm round, then a -3% round a minute later: the vault's 200 ETH lose about 3% of $400k, far from its 5%
   * trigger (asserted), but a move like it over the vault's hour of holding (x sqrt(60)) is more than its
   * loss budget left carries.
   */
  async function sharpRoundAboveTrigger(w: BWorld) {
    await calmRound(w, ETH, time);
    const before = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await time.increase(59);
    await setPriceWad(w, ETH, ((before * 97n) / 100n / 10n ** 10n) * 10n ** 10n);
    const peak = (await w.bs.backstopState()).peakSharePrice;
    expect(await w.bv.sharePrice()).to.be.greaterThan((peak * (WAD - ADL.adlDrawdown)) / WAD);
  }

  it("above the trigger passes on, with no sale, what its loss budget left cannot carry through the last round's move", async function () {
    const w = await loadFixture(withCounterpart);
    await sharpRoundAboveTrigger(w);
    const excess = await w.liquidationEngine.backstopExcess(ETH);
    const expected = await expectedExcess(w);
    expect(expected).to.be.greaterThan(10n * WAD);
    expect(expected).to.be.lessThan(100n * WAD); // a part only, which Bob's 100 ETH short can take
    expect(excess).to.be.within(expected, expected + expected / 1_000_000_000n + 1n);
    const state = await w.engine.marketState(ETH);
    const flowBefore = await w.bs.forcedFlow(ETH);
    const rc = await receipt(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [w.bobId]));
    console.log(`      gas: deleverageBackstop above the trigger, the excess (one candidate): ${rc.gasUsed}`);
    const [e] = events(w, rc, "BackstopDeleveraged");
    expect(e.args.accountId).to.equal(w.bobId);
    // Bob's short reduced by the excess as the next block sees it (a second's funding later: within 1e-6)
    const closed = e.args.sizeDelta as bigint;
    expect(closed).to.be.closeTo(excess, excess / 1_000_000n);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD - closed);
    expect((await w.engine.position(w.bobId, ETH)).size).to.equal(-100n * WAD + closed);
    const after = await w.engine.marketState(ETH);
    expect(after.longOpenInterest).to.equal(state.longOpenInterest - closed);
    expect(after.shortOpenInterest).to.equal(state.shortOpenInterest - closed);
    expect(await w.bs.forcedFlow(ETH)).to.equal(flowBefore); // nothing sold
    // once the market is calm again the rest is within the carry: refused, nothing changes
    await calmRound(w, ETH, time);
    expect(await w.liquidationEngine.backstopExcess(ETH)).to.equal(0n);
    await expect(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [w.bobId])).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "BackstopAboveTrigger",
    );
  });

  it("above the trigger yields to bad debt of its side pending in the market: autoDeleverage recovers it first", async function () {
    // no insurance: the negative equity of the account the vault takes over waits for autoDeleverage, which
    // needs the same profitable shorts the vault's excess would use up
    const w = await worldWith({ insurance: 0n });
    await w.bs.setBackstopConfig(ADL);
    const bob = await positionAccount(w, w.bob, 60_000n, -100n * WAD);
    const carol = await positionAccount(w, w.carol, 20_000n, 100n * WAD);
    const alice = await positionAccount(w, w.alice, 40_000n, 200n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, alice, WAD / 2n));
    await w.liquidationEngine.connect(w.keeper).liquidate(alice);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, carol, -WAD / 10n)); // Carol's equity below zero
    // Carol's takeover declined (the account cap), so her backstop close queues the deficit: the fund's few
    // dollars cover a part (a takeover would have had the vault pay the rest)
    await w.bs.setBackstopConfig({ ...ADL, accountShare: WAD / 1000n });
    await w.liquidationEngine.connect(w.keeper).liquidate(carol);
    await w.bs.setBackstopConfig(ADL);
    const deficit = await w.liquidationEngine.pendingDeficit(ETH, true);
    expect(deficit).to.be.greaterThan(0n);
    // the same -3% round that passes an excess on when nothing is pending (test above)
    await sharpRoundAboveTrigger(w);
    expect(await w.liquidationEngine.backstopExcess(ETH)).to.equal(0n);
    const bobSize = (await w.engine.position(bob, ETH)).size;
    await expect(w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [bob]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "BackstopYieldsToDeficit")
      .withArgs(ETH, true, deficit);
    expect((await w.engine.position(bob, ETH)).size).to.equal(bobSize);
    // the deficit recovered from Bob's short, the excess may go again
    await w.liquidationEngine.connect(w.admin).autoDeleverage(ETH, true, [bob]);
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(0n);
    expect(await w.liquidationEngine.backstopExcess(ETH)).to.be.greaterThan(0n);
  });

  /**
   * The loss budget's edge with deleveraging on: Bob short 40 ETH (the only counterpart), the vault's 200 ETH
   * long first unwound at its budget (about half of it), then the price falls until the vault's loss reaches
   * maxDrawdown. Returns the vault's size there and the cooldown (seconds) the edge waits for deleveraging.
   */
  async function atTheEdge() {
    return edgeWith(0n); // the edge without the insurance fund's backing
  }

  /** `atTheEdge` with the insurance fund's default share backing the vault past its budget. */
  async function atTheEdgeBacked() {
    return edgeWith(WAD / 4n);
  }

  async function edgeWith(vaultShare: bigint) {
    const w = await world();
    await w.bs.setBackstopConfig({ ...ADL, lateMultiplier: WAD });
    await w.insuranceFund.connect(w.governor).setVaultShare(vaultShare);
    const bob = await positionAccount(w, w.bob, 60_000n, -40n * WAD);
    const alice = await positionAccount(w, w.alice, 40_000n, 200n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, alice, WAD / 2n));
    await w.liquidationEngine.connect(w.keeper).liquidate(alice);
    await w.bs.connect(w.stranger).unwind(ETH); // the impact budget, used
    let p = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    for (let i = 0; i < 20 && (await lossDrawdown(w)) < ADL.maxDrawdown; i++) {
      p = (p * 97n) / 100n;
      await setPriceWad(w, ETH, p);
    }
    expect(await lossDrawdown(w)).to.be.greaterThanOrEqual(ADL.maxDrawdown);
    const size = (await w.engine.position(w.vaultAccount, ETH)).size;
    expect(size).to.be.greaterThan(40n * WAD); // more than Bob can take
    const cooldown = BigInt((await w.liquidationEngine.config()).cooldown);
    return { w, bob, size, cooldown };
  }

  it("at maxDrawdown sells at once only what the other side cannot take, and leaves the rest to deleverageBackstop (no sale)", async function () {
    const { w, bob, size, cooldown } = await loadFixture(atTheEdge);
    const shortOi = (await w.engine.marketState(ETH)).shortOpenInterest;
    expect(shortOi).to.equal(40n * WAD);
    const [sellable] = await w.bs.unwindRoom(ETH);
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    expect(sellable).to.equal(((size - shortOi) * price) / WAD); // not the whole inventory (before: all of it)
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    const now = BigInt((await ethers.provider.getBlock(rc.blockNumber))!.timestamp);
    const [edge] = events(w, rc, "BackstopEdgeReached");
    expect(edge.args.marketId).to.equal(BigInt(ETH));
    expect(edge.args.until).to.equal(now + cooldown);
    const [u] = events(w, rc, "BackstopUnwound");
    expect(u.args.sizeDelta).to.equal(-(size - shortOi));
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(shortOi);
    // within the cooldown nothing more is sold (the impact budget is used up)
    await expect(w.bs.connect(w.stranger).unwind(ETH)).to.be.revertedWithCustomError(w.bs, "UnwindBudgetExhausted");
    // the ADL keeper closes the rest against Bob at the oracle: nothing sold into the market
    const flow = await w.bs.forcedFlow(ETH);
    await w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [bob]);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
    expect((await w.engine.position(bob, ETH)).size).to.equal(0n);
    expect(await w.bs.forcedFlow(ETH)).to.be.at.most(flow);
  });

  it("at maxDrawdown sells at once, after one tranche cooldown, what deleveraging did not take", async function () {
    const { w, cooldown } = await loadFixture(atTheEdge);
    await w.bs.connect(w.stranger).unwind(ETH);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(40n * WAD);
    await time.increase(cooldown + 1n);
    expect(await lossDrawdown(w)).to.be.greaterThanOrEqual(ADL.maxDrawdown);
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    expect(events(w, rc, "BackstopEdgeReached")).to.have.length(0); // the clock started at the first
    const [u] = events(w, rc, "BackstopUnwound");
    expect(u.args.sizeDelta).to.equal(-40n * WAD);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
  });

  it("past maxDrawdown, the insurance fund pays the vault's loss beyond its budget: back above the edge, nothing sold at once, deleveraging still takes the other side", async function () {
    const { w, bob, size } = await loadFixture(atTheEdgeBacked);
    expect(await lossDrawdown(w)).to.be.greaterThanOrEqual(ADL.maxDrawdown);
    const fund0 = await w.insuranceFund.coverable();
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    console.log(`      gas: unwind past maxDrawdown, backed by the insurance fund: ${rc.gasUsed}`);
    const [backed] = events(w, rc, "BackstopBacked");
    expect(backed.args.marketId).to.equal(BigInt(ETH));
    const paid = backed.args.paidWad;
    expect(paid).to.be.greaterThan(0n);
    // paid in full (rounded up to whole tokens): well within a quarter of the fund
    expect(paid).to.equal(ceilDiv(backed.args.neededWad, SCALE) * SCALE);
    expect(paid).to.be.lessThan((fund0 * SCALE) / 4n);
    expect(await w.insuranceFund.coverable()).to.equal(fund0 - paid / SCALE);
    // the vault's share price just above the edge: no edge clock, no sale at once
    const d = await lossDrawdown(w);
    expect(d).to.be.lessThan(ADL.maxDrawdown);
    expect(d).to.be.greaterThan(ADL.maxDrawdown - WAD / 10_000n);
    expect(events(w, rc, "BackstopEdgeReached")).to.have.length(0);
    const sold = events(w, rc, "BackstopUnwound").reduce((a, u) => a + abs(u.args.sizeDelta as bigint), 0n);
    const after = (await w.engine.position(w.vaultAccount, ETH)).size;
    expect(after).to.equal(size - sold);
    expect(after).to.be.greaterThan(40n * WAD); // the edge alone sells all but Bob's 40 ETH at once
    // past the deleveraging trigger still: Bob's short takes 40 ETH at the oracle, nothing sold
    const flow = await w.bs.forcedFlow(ETH);
    await w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [bob]);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(after - 40n * WAD);
    expect((await w.engine.position(bob, ETH)).size).to.equal(0n);
    expect(await w.bs.forcedFlow(ETH)).to.be.at.most(flow);
  });

  it("past maxDrawdown, beyond the insurance fund's vaultShare the edge sells at once as before", async function () {
    const { w, size, cooldown } = await loadFixture(atTheEdgeBacked);
    await w.insuranceFund.connect(w.governor).setVaultShare(WAD / 10_000n); // about $10 of the fund
    const fund0 = await w.insuranceFund.coverable();
    const rc = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    const [backed] = events(w, rc, "BackstopBacked");
    expect(backed.args.paidWad).to.equal(((fund0 * (WAD / 10_000n)) / WAD) * SCALE);
    expect(backed.args.paidWad).to.be.lessThan(backed.args.neededWad);
    expect(await lossDrawdown(w)).to.be.greaterThanOrEqual(ADL.maxDrawdown);
    expect(events(w, rc, "BackstopEdgeReached")).to.have.length(1);
    const [u] = events(w, rc, "BackstopUnwound");
    expect(u.args.sizeDelta).to.equal(-(size - 40n * WAD));
    // the share is used for the period: after the cooldown the rest goes at once, with no more backing
    await time.increase(cooldown + 1n);
    const rc2 = await receipt(w.bs.connect(w.stranger).unwind(ETH));
    expect(events(w, rc2, "BackstopBacked")).to.have.length(0);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(0n);
  });

  it("backBackstop, backstopLoss and backstopBadDebt are the engine's self-calls only (NotSelf)", async function () {
    const w = await loadFixture(world);
    await expect(w.liquidationEngine.connect(w.admin).backBackstop(ETH, WAD / 10n))
      .to.be.revertedWithCustomError(w.bs, "NotSelf")
      .withArgs(w.admin.address);
    await expect(w.liquidationEngine.connect(w.stranger).backstopLoss(ETH, true, WAD))
      .to.be.revertedWithCustomError(w.bs, "NotSelf")
      .withArgs(w.stranger.address);
    await expect(w.liquidationEngine.connect(w.stranger).backstopBadDebt(1n, WAD, 0n))
      .to.be.revertedWithCustomError(w.bs, "NotSelf")
      .withArgs(w.stranger.address);
    expect(await w.liquidationEngine.badDebtIncurred()).to.equal(0n);
  });

  it("bounds adlDrawdown and badDebtDrawdown each at maxDrawdown (ParameterOutOfBounds), apart, governor only", async function () {
    const w = await loadFixture(world);
    for (const field of ["adlDrawdown", "badDebtDrawdown"] as const) {
      const before = await w.bs.backstopConfig();
      await expect(w.bs.setBackstopConfig({ ...CONFIG, [field]: CONFIG.maxDrawdown + 1n }))
        .to.be.revertedWithCustomError(w.bs, "ParameterOutOfBounds")
        .withArgs(encodeBytes32String(field), CONFIG.maxDrawdown + 1n, 0n, CONFIG.maxDrawdown);
      await expect(
        w.bs.connect(w.stranger).setBackstopConfig({ ...CONFIG, [field]: WAD / 20n }),
      ).to.be.revertedWithCustomError(w.liquidationEngine, "AccessControlUnauthorizedAccount");
      expect(await w.bs.backstopConfig()).to.deep.equal(before);
      // at maxDrawdown, 0, and above or below the other field: each is bounded on its own
      for (const value of [CONFIG.maxDrawdown, 0n, WAD / 20n]) {
        const other = field === "adlDrawdown" ? "badDebtDrawdown" : "adlDrawdown";
        const c = { ...CONFIG, [other]: WAD / 50n, [field]: value };
        await expect(w.bs.setBackstopConfig(c)).to.emit(w.bs, "BackstopConfigSet");
        expect((await w.bs.backstopConfig())[field]).to.equal(value);
      }
    }
  });
});

describe("Backstop vault: governance and access", function () {
  it("refuses an out-of-bounds parameter (ParameterOutOfBounds) and a non-governor, with no change", async function () {
    const w = await loadFixture(world);
    await expect(w.bs.setBackstopConfig({ ...CONFIG, feeRate: WAD / 10n }))
      .to.be.revertedWithCustomError(w.bs, "ParameterOutOfBounds")
      .withArgs(encodeBytes32String("feeRate"), WAD / 10n, 0n, WAD / 20n);
    await expect(w.bs.setBackstopConfig({ ...CONFIG, lateMultiplier: WAD - 1n })).to.be.revertedWithCustomError(
      w.bs,
      "ParameterOutOfBounds",
    );
    await expect(w.bs.connect(w.stranger).setBackstopConfig(CONFIG)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "AccessControlUnauthorizedAccount",
    );
    expect((await w.bs.backstopConfig()).feeRate).to.equal(CONFIG.feeRate);
    await expect(w.bs.setBackstopVault(w.stranger.address, 1n)).to.be.revertedWithCustomError(
      w.bs,
      "BackstopAlreadySet",
    );
    expect(await w.engine.hasRole(GOVERNOR_ROLE, w.governor.address)).to.equal(true);
  });

  it("lets only the engine itself call backstopTakeover (NotSelf)", async function () {
    const w = await loadFixture(world);
    await expect(w.bs.connect(w.stranger).backstopTakeover(1n, w.stranger.address))
      .to.be.revertedWithCustomError(w.bs, "NotSelf")
      .withArgs(w.stranger.address);
  });
});

describe("Backstop vault: shares", function () {
  it("deposits into the engine account's margin; redemptions need a request and its cooldown", async function () {
    const w = await loadFixture(world);
    expect(await w.vault.marginOf(w.vaultAccount)).to.equal(1_000_000n * USDC * SCALE);
    const shares = await w.bv.balanceOf(w.lp.address);
    await expect(w.bv.connect(w.lp).redeem(shares, w.lp.address, w.lp.address)).to.be.revertedWithCustomError(
      w.bv,
      "ERC4626ExceededMaxRedeem",
    );
    await w.bv.connect(w.lp).requestRedeem(shares / 4n);
    expect(await w.bv.maxRedeem(w.lp.address)).to.equal(0n);
    await time.increase(3 * 24 * 3600);
    expect(await w.bv.maxRedeem(w.lp.address)).to.equal(shares / 4n);
    const before = await w.usdc.balanceOf(w.lp.address);
    await w.bv.connect(w.lp).redeem(shares / 4n, w.lp.address, w.lp.address);
    expect((await w.usdc.balanceOf(w.lp.address)) - before).to.equal(250_000n * USDC);
  });
});

describe("Backstop vault: adversarial", function () {
  it("self-liquidation into the vault never pays better than closing at the oracle: the fee exceeds the keeper's reward", async function () {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 20_000n, 100n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, WAD / 2n));
    const equity = BigInt((await w.engine.liquidationSnapshot(a)).summary.equity);
    await w.liquidationEngine.connect(w.alice).liquidate(a); // the owner as its own keeper
    const got = (await w.vault.marginOf(a)) + (await w.vault.keeperRewardsOf(w.alice.address));
    expect(got).to.be.lessThan(equity);
  });

  it("a thin market pushed around the vault: the depth cap keeps the inventory within a share of the market's depth", async function () {
    const w = await loadFixture(world);
    // 0.1% of $2B; the unwind cap lifted (0.1% budget) so that the depth cap is the one in question
    await w.bs.setBackstopConfig({ ...CONFIG, depthShare: WAD / 1000n, accountShare: WAD, impactBudget: WAD / 1000n });
    const ids = [];
    for (const o of [w.alice, w.bob, w.carol]) ids.push(await positionAccount(w, o, 200_000n, 500n * WAD));
    // a manipulated price takes all three to the backstop at once
    let price = MAX_UINT;
    for (const id of ids) price = min(price, await priceForHealth(w, id, WAD / 2n));
    await setPriceWad(w, ETH, price);
    const taken = [];
    for (const id of ids) {
      const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(id));
      taken.push(events(w, rc, "AccountTakenOver").length);
    }
    expect(taken).to.deep.equal([1, 1, 0]); // the third would pass the depth cap: closed as before
    const vs = await w.engine.liquidationSnapshot(w.vaultAccount);
    const mark = vs.positions[0].price;
    const depth = ((await w.engine.marketConfig(ETH)).skewScale * mark) / WAD;
    expect(vs.summary.notional).to.be.at.most(depth / 1000n);
    expect(vs.summary.notional).to.be.greaterThan(0n);
  });

  it("a run on the shares: requests escrow and keep carrying losses; the engine refuses what the inventory's margin needs", async function () {
    const w = await loadFixture(world);
    const lpShares = await w.bv.balanceOf(w.lp.address);
    await w.bv.connect(w.lp).requestRedeem(lpShares); // everyone wants out
    const a = await positionAccount(w, w.alice, 40_000n, 200n * WAD);
    await setPriceWad(w, ETH, await priceForHealth(w, a, WAD / 2n));
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await time.increase(3 * 24 * 3600);
    await setPriceWad(w, ETH, price);
    await expect(w.bv.connect(w.lp).redeem(lpShares, w.lp.address, w.lp.address)).to.be.revertedWithCustomError(
      w.engine,
      "InsufficientFreeMargin",
    );
    // the escrowed shares still carry the inventory: a fall lowers what they are worth
    const worth = await w.bv.previewRedeem(lpShares);
    await setPriceWad(w, ETH, (price * 97n) / 100n);
    expect(await w.bv.previewRedeem(lpShares)).to.be.lessThan(worth);
  });
});

/**
 * The maintenance ramp at its bound where a vault is set (docs/experiments.md, "The sharp paths' wipe-outs,
 * traced, and the maintenance ramp with a vault"): a volatility spike makes an account liquidatable at its
 * target maintenance at once, and the vault, the first liquidator, takes it at the oracle price with no sale,
 * before the next step of the fall takes it through zero.
 */
describe("Backstop vault: the maintenance ramp at its bound", function () {
  const MAX_RAMP = 10n ** 15n; // MarketAdmin.MAX_MMR_RAMP_PER_SECOND
  const ETH_FEED = feedId("ETH");
  const SPIKE = 4n * WAD; // 400% annualised: the volatility term's target 1% + 4%

  /** A decimal string as a WAD bigint (the presets' `Dec`), with no floating point. */
  const wadOf = (d: string) => {
    const [i, f = ""] = d.split(".");
    return BigInt(i) * WAD + BigInt((f + "0".repeat(18)).slice(0, 18));
  };

  /**
   * The ETH market's maintenance ramp at `ramp`; `n` accounts of `size` ETH on `marginUsdc` (5x at 2000) at health
   * 1.5 or more; then a volatility spike and one minute.
   */
  async function spikeCase(ramp: bigint, n: number, size = 100n * WAD, marginUsdc = 40_000n) {
    const w = await loadFixture(world);
    const spec = DEFAULT_MARKETS[0];
    await w.engine
      .connect(w.governor)
      .setMarketConfig(ETH, { ...marketConfig(spec), risk: { ...spec.risk, mmrRampPerSecond: ramp } });
    const ids = [];
    for (const o of [w.alice, w.bob, w.carol].slice(0, n)) ids.push(await positionAccount(w, o, marginUsdc, size));
    let price = 0n;
    for (const id of ids) {
      const p = await priceForHealth(w, id, (3n * WAD) / 2n);
      if (p > price) price = p; // a long's health rises with the price: every account at 1.5 or more
    }
    await setPriceWad(w, ETH, price);
    for (const id of ids) {
      const s = (await w.engine.liquidationSnapshot(id)).summary;
      expect(s.equity).to.be.greaterThan(BigInt(s.maintenanceMargin)); // healthy before the spike
    }
    await w.oracle.connect(w.governor).resetVolatility(ETH_FEED, SPIKE);
    await time.increase(60); // one oracle step of the replay's paths
    await setPriceWad(w, ETH, price); // a fresh round at the same price: the price has not moved
    return { w, ids, price };
  }

  async function liquidatable(w: BWorld, id: bigint) {
    const s = (await w.engine.liquidationSnapshot(id)).summary;
    return s.equity < BigInt(s.maintenanceMargin);
  }

  it("the replay's protected preset sets the ramp at its bound; without a vault it stays the deployment's default", function () {
    expect(wadOf(String(loadPreset("protected").market.risk?.mmrRampPerSecond))).to.equal(MAX_RAMP);
    expect(wadOf(String(loadPreset("protected-no-vault").market.risk?.mmrRampPerSecond))).to.equal(
      DEFAULT_RISK.mmrRampPerSecond,
    );
  });

  it("a volatility spike makes an account liquidatable at its target maintenance at once; the vault takes it whole at the oracle, the trader keeps its margin less the fee, nothing sold; at the default ramp it is still healthy", async function () {
    const slow = await spikeCase(DEFAULT_RISK.mmrRampPerSecond, 1);
    expect(await liquidatable(slow.w, slow.ids[0])).to.equal(false); // the ramp: 1 point an hour
    const { w, ids, price } = await spikeCase(MAX_RAMP, 1);
    const a = ids[0];
    expect(await liquidatable(w, a)).to.equal(true);
    const before = (await w.engine.liquidationSnapshot(a)).summary;
    expect(before.equity).to.be.greaterThan(0n);
    const oi = (await w.engine.marketState(ETH)).longOpenInterest;
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(a));
    const taken = events(w, rc, "AccountTakenOver");
    expect(taken).to.have.length(1);
    expect(events(w, rc, "TrancheLiquidated")).to.have.length(0); // nothing sold into the market
    expect((await w.engine.position(a, ETH)).size).to.equal(0n); // whole
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(100n * WAD);
    expect((await w.engine.marketState(ETH)).longOpenInterest).to.equal(oi); // one side's interest moved
    const left = await w.vault.marginOf(a);
    expect(left).to.be.greaterThan(0n); // not wiped out: its margin less the fee
    expect(left).to.equal(taken[0].args.marginLeftWad);
    const marginAtOracle = taken[0].args.marginLeftWad + taken[0].args.feeWad;
    expect(taken[0].args.feeWad).to.equal(
      min(ceilDiv(taken[0].args.notional * CONFIG.feeRate, WAD), marginAtOracle / 2n),
    );
    expect(taken[0].args.notional).to.equal(before.notional);
    const [p] = await w.oracle.getPrice(await w.engine.marketConfig(ETH).then((c) => c.feedId));
    expect(p).to.equal(price);
  });

  it("adversarial: self-liquidation at a spike, the owner as its own keeper, pays less than the account's equity", async function () {
    const { w, ids } = await spikeCase(MAX_RAMP, 1);
    const a = ids[0];
    const equity = BigInt((await w.engine.liquidationSnapshot(a)).summary.equity);
    await w.liquidationEngine.connect(w.alice).liquidate(a);
    const got = (await w.vault.marginOf(a)) + (await w.vault.keeperRewardsOf(w.alice.address));
    expect(got).to.be.lessThan(equity);
  });

  it("adversarial: a spike that takes many accounts below maintenance at once does not feed the vault past its caps (a thin market pushed around the vault)", async function () {
    const { w, ids } = await spikeCase(MAX_RAMP, 3, 500n * WAD, 200_000n);
    // 0.1% of $2B; the account cap lifted so that the market's caps are the ones in question
    await w.bs.setBackstopConfig({ ...CONFIG, depthShare: WAD / 1000n, accountShare: WAD, impactBudget: WAD / 1000n });
    for (const id of ids) expect(await liquidatable(w, id)).to.equal(true);
    const taken = [];
    for (const id of ids) {
      const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(id));
      taken.push(events(w, rc, "AccountTakenOver").length);
    }
    // the first fits; the spike shrinks the market cap (x refSigma / sigma) below two of them: closed as before
    expect(taken).to.deep.equal([1, 0, 0]);
    const vs = await w.engine.liquidationSnapshot(w.vaultAccount);
    const depth = ((await w.engine.marketConfig(ETH)).skewScale * vs.positions[0].price) / WAD;
    expect(vs.summary.notional).to.be.at.most(depth / 1000n);
    const equity = BigInt(vs.summary.equity);
    expect(vs.summary.notional).to.be.at.most((((CONFIG.marketShare * equity) / WAD) * CONFIG.refSigma) / SPIKE);
    expect(vs.summary.notional).to.be.greaterThan(0n);
  });
});
