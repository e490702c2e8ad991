/**
 * The keeper follows the chain's own-impact mark (OwnImpactModule, mk17): a differential test of its decision
 * against the engine's. On randomised accounts (one or two markets, either side, 3x to 15x), randomised measures
 * (sacrificial accounts of either side liquidated into each market) and randomised caps, each account is put
 * at a random depth below maintenance at the oracle (up to twice the mark's shift of the price), and the keeper's mirror (the chain's measure read from its
 * view, the mark and the health mirror: `markedByChainFlows`, `heldAtChainMark`) must say "held" exactly when the
 * engine's `liquidate` refuses it with LiquidationHeldAtMark, with the same equity and maintenance at the marks to
 * the wei. No backstop vault: every takeover declines (the vault's decision is `vaultWouldTake`'s, tested in
 * ownImpactMarkVault.test.ts).
 */
import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { WAD } from "../../deploy/params.js";
import { maintenanceSummary } from "../../scripts/keeper/scanner.js";
import type { MarketStateSnapshot } from "../../scripts/lib/math/engine.js";
import { chainMarkCap, heldAtChainMark, markedByChainFlows } from "../../scripts/keeper/ownImpactMark.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { IOwnImpactMark__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IOwnImpactMark__factory.js";
import { BACKSTOP_TEST_CONFIG } from "../helpers/backstop.js";
import { BTC, ETH, USDC, deployWorld, setPriceWad, type World } from "../helpers/fixture.js";
import { keeperContracts, openPosition, readKeeperBook } from "../helpers/liquidation.js";

const { ethers } = await network.create();

/** A small deterministic generator (xorshift), so that a failure replays. */
function rng(seed: number) {
  let x = BigInt(seed) | 1n;
  const M = (1n << 64n) - 1n;
  return (n: bigint): bigint => {
    x ^= (x << 13n) & M;
    x ^= x >> 7n;
    x ^= (x << 17n) & M;
    return x % n;
  };
}

const UNIT = 10n ** 10n; // the feeds' 8 decimals in WAD

async function price(w: World, m: number): Promise<bigint> {
  const [, answer] = await w.feeds.get(m)!.latestRoundData();
  return answer * UNIT;
}

/** A sacrificial account of `size` (signed) in `m` at 20x, taken 5.2% against it (past zero equity) and liquidated until closed. */
async function sacrifice(w: World, owner: HardhatEthersSigner, m: number, size: bigint) {
  const p = await price(w, m);
  const abs = size < 0n ? -size : size;
  const id = await openPosition(w, owner, (abs * p) / WAD / 20n / WAD + 1_000n, [[m, size]]);
  await setPriceWad(w, m, size > 0n ? (p * 948n) / 1000n : (p * 1052n) / 1000n);
  for (let i = 0; i < 10 && (await w.engine.position(id, m)).size !== 0n; i++) {
    try {
      await w.liquidationEngine.liquidate(id);
    } catch {
      break;
    }
  }
  await setPriceWad(w, m, p);
}

/** The highest price (8 decimals) of `m` at which the account is below maintenance, moving `m` only. */
async function threshold(w: World, id: bigint, m: number, long: boolean): Promise<bigint> {
  const p0 = (await price(w, m)) / UNIT;
  // liquidatable far against the position, healthy at the start
  let bad = long ? (p0 * 40n) / 100n : (p0 * 160n) / 100n;
  let good = p0;
  while ((bad > good ? bad - good : good - bad) > 1n) {
    const mid = (bad + good) / 2n;
    await setPriceWad(w, m, mid * UNIT);
    if (await w.engine.isLiquidatable(id)) bad = mid;
    else good = mid;
  }
  return bad;
}

describe("keeper: the chain's own-impact mark, differential against the engine", function () {
  let heldSeen = 0;
  let liquidatedSeen = 0;
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: the keeper says held exactly when liquidate refuses, with the equity and maintenance at the marks to the wei`, async function () {
      const r = rng(seed * 7919);
      const w = await deployWorld(ethers);
      const signers = await ethers.getSigners();
      const trader = signers[9];
      for (const s of [w.lp, trader]) await w.usdc.mint(s.address, 1_000_000_000n * USDC);
      await w.usdc.connect(trader).approve(await w.vault.getAddress(), 2n ** 256n - 1n);
      await w.vault.connect(w.lp).deposit(50_000_000n * USDC, w.lp.address);
      // the cap impactBudget x lateMultiplier from 0.05% to 1.6%; no vault
      const bs = IBackstopEngine__factory.connect(w.engine.target as string, w.governor);
      const impactBudget = (WAD / 10_000n) * (5n + r(36n)); // 0.05% .. 0.4%
      const lateMultiplier = WAD * (1n + r(4n));
      await bs.setBackstopConfig({ ...BACKSTOP_TEST_CONFIG, impactBudget, lateMultiplier });
      const mark = IOwnImpactMark__factory.connect(w.engine.target as string, w.governor);
      // the measure: sacrificial accounts of random sides and sizes in each market (past zero equity: never held)
      await mark.setOwnImpactMark(true);
      for (let i = 0; i < 3; i++) {
        const m = r(2n) === 0n ? ETH : BTC;
        const side = r(3n) === 0n ? -1n : 1n; // mostly sales
        const size = m === ETH ? (200n + r(3_000n)) * WAD : ((20n + r(300n)) * WAD) / 10n;
        await sacrifice(w, trader, m, side * size);
      }
      const contracts = keeperContracts(w);
      let held = 0;
      let liquidated = 0;
      for (let t = 0; t < 6; t++) {
        // an account: ETH, or ETH and BTC, either side, 3x to 15x
        // mostly the side the mark favours (a long after sales), so that both decisions occur
        const [ethMark, ethOracle] = await mark.ownImpactMark(ETH);
        const long = r(4n) === 0n ? ethMark < ethOracle : ethMark >= ethOracle;
        const shift = ((ethMark > ethOracle ? ethMark - ethOracle : ethOracle - ethMark) * WAD) / ethOracle;
        const ethSize = (10n + r(200n)) * WAD * (long ? 1n : -1n);
        const ethPrice = await price(w, ETH);
        const notional = ((ethSize < 0n ? -ethSize : ethSize) * ethPrice) / WAD / WAD;
        const legs: [number, bigint][] = [[ETH, ethSize]];
        if (r(2n) === 0n) legs.push([BTC, ((1n + r(30n)) * WAD * (r(2n) === 0n ? 1n : -1n)) / 10n]);
        const id = await openPosition(w, trader, notional / (3n + r(13n)) + 500n, legs);
        // below maintenance at the oracle by a random depth: 0 to twice the mark's shift of the price past the threshold
        const p = await threshold(w, id, ETH, long);
        const depth = (p * shift * r(201n)) / (100n * WAD);
        await setPriceWad(w, ETH, (long ? p - depth : p + depth) * UNIT);
        expect(await w.engine.isLiquidatable(id)).to.equal(true);

        const { block, view, book } = await readKeeperBook(ethers, w, contracts, [id]);
        const flows = new Map<number, bigint>();
        for (const m of view.engine.markets.keys()) flows.set(m, await mark.ownFlow(m, { blockTag: block.number }));
        const stored = new Map<number, MarketStateSnapshot>();
        for (const m of view.engine.markets.keys())
          stored.set(m, await w.engine.marketState(m, { blockTag: block.number }));
        const marked = markedByChainFlows(view.engine, flows, chainMarkCap(impactBudget, lateMultiplier), stored);
        // the keeper's marks are the chain's view's, to the wei
        for (const m of view.engine.markets.keys()) {
          const [chainMark] = await mark.ownImpactMark(m, { blockTag: block.number });
          expect(marked.markets.get(m)!.price).to.equal(chainMark, `the mark of market ${m}`);
        }
        const account = book.snapshotOf(book.get(id)!);
        const keeperHeld = heldAtChainMark(view.engine, marked, account);

        let chainHeld = false;
        try {
          await w.liquidationEngine.liquidate.staticCall(id, { blockTag: block.number });
        } catch (e) {
          const parsed = w.liquidationEngine.interface.parseError((e as { data?: string }).data ?? "0x");
          expect(parsed?.name, String(e)).to.equal("LiquidationHeldAtMark");
          chainHeld = true;
          const atMark = maintenanceSummary(marked, account);
          expect(parsed!.args[0]).to.equal(id);
          expect(parsed!.args[1]).to.equal(atMark.equity, "equity at the marks");
          expect(parsed!.args[2]).to.equal(atMark.maintenanceMargin, "maintenance at the marks");
        }
        expect(keeperHeld).to.equal(chainHeld, `account ${id}, depth ${depth}`);
        if (chainHeld) held++;
        else liquidated++;
        // close it so that the next account starts from the same market (a trade: not forced flow)
        await setPriceWad(w, ETH, ethPrice);
        await w.engine.connect(trader).modifyPosition(id, ETH, -ethSize, ethSize < 0n ? 2n ** 256n - 1n : 0n);
      }
      console.log(`      seed ${seed}: ${held} held, ${liquidated} liquidated (both decided alike)`);
      heldSeen += held;
      liquidatedSeen += liquidated;
      expect(held + liquidated).to.equal(6);
    });
  }

  it("over the seeds, both decisions occur (the boundary is tested, not one side of it)", function () {
    expect(heldSeen, "accounts held").to.be.greaterThan(0);
    expect(liquidatedSeen, "accounts liquidated").to.be.greaterThan(0);
  });
});
