/**
 * Issue 11, Medium 6 (stale half): one stale feed no longer holds back the liquidation of a whole
 * account. A leg whose feed is stale is valued at the price most favourable to the account within
 * max(5%, 6 sigma sqrt(staleness)) of its last answer (LiquidationMath.staleBound) and is not traded; an
 * account liquidatable even so has its fresh legs liquidated. Before the rule, every test here that
 * liquidates reverted with the oracle's StaleAnswer for the stale market.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import {
  BTC,
  ETH,
  MAX_PRICE,
  USDC,
  type World,
  deployWorld,
  openAccount,
  setPriceWad,
  units,
} from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { time } = networkHelpers;

const pending = { blockTag: "pending" } as const;

/** Lowers a market's price in 0.25% steps until `done` holds (all feeds fresh); returns the price. */
async function lowerUntil(w: World, marketId: number, start: bigint, done: () => Promise<boolean>): Promise<bigint> {
  let price = start;
  for (let i = 0; i < 1_000; ++i) {
    price = (price * 9_975n) / 10_000n;
    await setPriceWad(w, marketId, price);
    if (await done()) return price;
  }
  throw new Error("price walk did not reach the wanted state");
}

/** Lets every feed go past its heartbeat (3,600 s), then refreshes ETH only: BTC's feed is stale. */
async function staleBtc(w: World, ethPrice: bigint) {
  await time.increase(3_601);
  await setPriceWad(w, ETH, ethPrice);
  await expect(w.oracle.getPriceAndVolatility((await w.engine.marketConfig(BTC)).feedId)).to.be.revertedWithCustomError(
    w.oracle,
    "StaleAnswer",
  );
}

describe("Liquidation with a stale leg (issue 11, Medium 6)", function () {
  it("a whale's large fresh ETH leg is liquidated while its tiny BTC leg's feed is stale; the BTC leg is not traded", async function () {
    const w = await deployWorld(ethers);
    const whale = await openAccount(w, w.alice, 400_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(whale, BTC, units(1) / 100n, MAX_PRICE);
    await w.engine.connect(w.alice).modifyPosition(whale, ETH, units(2_000), MAX_PRICE);
    const eth = await lowerUntil(w, ETH, 2_000n * WAD, async () => (await w.engine.health(whale)) < (9n * WAD) / 10n);
    await staleBtc(w, eth);

    const plan = await w.liquidationEngine.previewLiquidation(whale, pending);
    expect(plan.legs.map((l) => Number(l.marketId))).to.deep.equal([ETH]);
    expect(plan.equity < BigInt(plan.maintenanceMargin)).to.equal(true);
    await expect(w.liquidationEngine.liquidate(whale)).to.emit(w.liquidationEngine, "LiquidationSettled");
    expect((await w.engine.position(whale, ETH)).size < units(2_000)).to.equal(true);
    expect((await w.engine.position(whale, BTC)).size).to.equal(units(1) / 100n);
    // the keeper's scan finds it too
    await time.increase(3_600);
    await setPriceWad(w, ETH, eth);
    expect(await w.liquidationEngine.liquidatableAccounts(whale, 1)).to.deep.equal([whale]);
  });

  it("in a batch too: the account is liquidated, not skipped as SnapshotFailed", async function () {
    const w = await deployWorld(ethers);
    const whale = await openAccount(w, w.alice, 400_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(whale, BTC, units(1) / 100n, MAX_PRICE);
    await w.engine.connect(w.alice).modifyPosition(whale, ETH, units(2_000), MAX_PRICE);
    const eth = await lowerUntil(w, ETH, 2_000n * WAD, async () => (await w.engine.health(whale)) < (9n * WAD) / 10n);
    await staleBtc(w, eth);
    await expect(w.liquidationEngine.liquidateBatch([whale])).to.emit(w.liquidationEngine, "LiquidationSettled");
  });

  it("an account below maintenance at the stale leg's last answer but not at the edge of its band in the account's favour is not liquidated", async function () {
    const w = await deployWorld(ethers);
    const a = await openAccount(w, w.alice, 60_000n * USDC);
    // a large BTC long: +5% on it outweighs the shortfall below maintenance
    await w.engine.connect(w.alice).modifyPosition(a, BTC, units(10), MAX_PRICE);
    await w.engine.connect(w.alice).modifyPosition(a, ETH, units(100), MAX_PRICE);
    const eth = await lowerUntil(w, ETH, 2_000n * WAD, () => w.engine.isLiquidatable(a));
    const s = await w.engine.accountSummary(a);
    const btcNotional = (await w.engine.liquidationSnapshot(a)).positions.find(
      (p) => Number(p.marketId) === BTC,
    )!.notional;
    // the gap below maintenance is far less than 5% of the BTC leg
    expect(BigInt(s.maintenanceMargin) - s.equity < btcNotional / 40n).to.equal(true);
    await staleBtc(w, eth);
    await expect(w.liquidationEngine.previewLiquidation(a, pending)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "AccountHealthy",
    );
    await expect(w.liquidationEngine.liquidate(a)).to.be.revertedWithCustomError(w.liquidationEngine, "AccountHealthy");
  });

  it("an account bankrupt on its fresh legs whose stale gain could meet the loss waits for the feed (StaleLegMayCoverLoss)", async function () {
    const w = await deployWorld(ethers);
    const a = await openAccount(w, w.alice, 40_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(a, BTC, units(20), MAX_PRICE);
    await w.engine.connect(w.alice).modifyPosition(a, ETH, units(100), MAX_PRICE);
    // BTC up 20%: a large gain; then ETH down until the margin plus the ETH leg is below zero
    await setPriceWad(w, BTC, 36_000n * WAD);
    const margin = (await w.engine.accountSummary(a)).margin;
    let eth = 2_000n * WAD;
    for (;;) {
      eth = (eth * 98n) / 100n;
      await setPriceWad(w, ETH, eth);
      const ethLeg = (await w.engine.liquidationSnapshot(a)).positions.find((p) => Number(p.marketId) === ETH)!;
      if (BigInt(margin) + ethLeg.value < 0n) break;
    }
    // and below maintenance with BTC at its last answer (BTC's gain alone is less than 6 ETH's loss)
    eth = await lowerUntil(w, ETH, eth, () => w.engine.isLiquidatable(a));
    await staleBtc(w, eth);
    await expect(w.liquidationEngine.previewLiquidation(a, pending))
      .to.be.revertedWithCustomError(w.liquidationEngine, "StaleLegMayCoverLoss")
      .withArgs(a, BTC);
  });

  it("a tiny stale leg never holds back an account bankrupt on its fresh legs: its fresh legs close in full, the stale leg stays", async function () {
    const w = await deployWorld(ethers);
    const whale = await openAccount(w, w.alice, 400_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(whale, BTC, units(1) / 100n, MAX_PRICE);
    await w.engine.connect(w.alice).modifyPosition(whale, ETH, units(2_000), MAX_PRICE);
    const eth = await lowerUntil(w, ETH, 2_000n * WAD, async () => (await w.engine.accountSummary(whale)).equity < 0n);
    await staleBtc(w, eth);
    const plan = await w.liquidationEngine.previewLiquidation(whale, pending);
    expect(plan.backstop).to.equal(true);
    expect(plan.badDebt > 0n).to.equal(true);
    await expect(w.liquidationEngine.liquidate(whale)).to.emit(w.liquidationEngine, "LiquidationSettled");
    expect((await w.engine.position(whale, ETH)).size).to.equal(0n);
    expect((await w.engine.position(whale, BTC)).size).to.equal(units(1) / 100n);
  });
});
