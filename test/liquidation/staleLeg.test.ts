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
import { BTC, ETH, type World, deployWorld, setPriceWad, units } from "../helpers/fixture.js";
import { PENDING, WHALE_LEGS, moveUntil, openPosition, snapshotLeg, staleBtc } from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.create();
const { time } = networkHelpers;

/**
 * A whale (0.01 BTC and 2,000 ETH long on 400,000 USDC) with ETH lowered in 0.25% steps until `done`
 * holds, then BTC's feed stale (ETH refreshed at the price reached).
 */
async function staleWhale(done: (w: World, whale: bigint) => Promise<boolean>) {
  const w = await deployWorld(ethers);
  const whale = await openPosition(w, w.alice, 400_000n, WHALE_LEGS);
  const eth = await moveUntil(w, ETH, 2_000n * WAD, true, () => done(w, whale));
  await staleBtc(w, time, eth);
  return { w, whale, eth };
}

describe("Liquidation with a stale leg (issue 11, Medium 6)", function () {
  it("a whale's large fresh ETH leg is liquidated while its tiny BTC leg's feed is stale; the BTC leg is not traded", async function () {
    const { w, whale, eth } = await staleWhale(async (w, whale) => (await w.engine.health(whale)) < (9n * WAD) / 10n);

    const plan = await w.liquidationEngine.previewLiquidation(whale, PENDING);
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
    const { w, whale } = await staleWhale(async (w, whale) => (await w.engine.health(whale)) < (9n * WAD) / 10n);
    await expect(w.liquidationEngine.liquidateBatch([whale])).to.emit(w.liquidationEngine, "LiquidationSettled");
  });

  it("an account below maintenance at the stale leg's last answer but not at the edge of its band in the account's favour is not liquidated", async function () {
    const w = await deployWorld(ethers);
    // a large BTC long: +5% on it outweighs the shortfall below maintenance
    const a = await openPosition(w, w.alice, 60_000n, [
      [BTC, units(10)],
      [ETH, units(100)],
    ]);
    const eth = await moveUntil(w, ETH, 2_000n * WAD, true, () => w.engine.isLiquidatable(a));
    const s = await w.engine.accountSummary(a);
    const btcNotional = (await snapshotLeg(w, a, BTC)).leg.notional;
    // the gap below maintenance is far less than 5% of the BTC leg
    expect(BigInt(s.maintenanceMargin) - s.equity < btcNotional / 40n).to.equal(true);
    await staleBtc(w, time, eth);
    await expect(w.liquidationEngine.previewLiquidation(a, PENDING)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "AccountHealthy",
    );
    await expect(w.liquidationEngine.liquidate(a)).to.be.revertedWithCustomError(w.liquidationEngine, "AccountHealthy");
  });

  it("an account bankrupt on its fresh legs whose stale gain could meet the loss waits for the feed (StaleLegMayCoverLoss)", async function () {
    const w = await deployWorld(ethers);
    const a = await openPosition(w, w.alice, 40_000n, [
      [BTC, units(20)],
      [ETH, units(100)],
    ]);
    // BTC up 20%: a large gain; then ETH down until the margin plus the ETH leg is below zero
    await setPriceWad(w, BTC, 36_000n * WAD);
    const margin = (await w.engine.accountSummary(a)).margin;
    let eth = 2_000n * WAD;
    for (;;) {
      eth = (eth * 98n) / 100n;
      await setPriceWad(w, ETH, eth);
      const ethLeg = (await snapshotLeg(w, a, ETH)).leg;
      if (BigInt(margin) + ethLeg.value < 0n) break;
    }
    // and below maintenance with BTC at its last answer (BTC's gain alone is less than 6 ETH's loss)
    eth = await moveUntil(w, ETH, eth, true, () => w.engine.isLiquidatable(a));
    await staleBtc(w, time, eth);
    await expect(w.liquidationEngine.previewLiquidation(a, PENDING))
      .to.be.revertedWithCustomError(w.liquidationEngine, "StaleLegMayCoverLoss")
      .withArgs(a, BTC);
  });

  it("a tiny stale leg never holds back an account bankrupt on its fresh legs: its fresh legs close in full, the stale leg stays", async function () {
    const { w, whale } = await staleWhale(async (w, whale) => (await w.engine.accountSummary(whale)).equity < 0n);
    const plan = await w.liquidationEngine.previewLiquidation(whale, PENDING);
    expect(plan.backstop).to.equal(true);
    expect(plan.badDebt > 0n).to.equal(true);
    await expect(w.liquidationEngine.liquidate(whale)).to.emit(w.liquidationEngine, "LiquidationSettled");
    expect((await w.engine.position(whale, ETH)).size).to.equal(0n);
    expect((await w.engine.position(whale, BTC)).size).to.equal(units(1) / 100n);
  });
});
