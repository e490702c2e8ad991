/**
 * The engine's side of the stress-level policy: what a circuit breaker says is applied to trades
 * that add risk, and nothing it says, or a breaker that reverts, can block reducing, closing,
 * adding margin or the views liquidations rely on.
 */
import { expect } from "chai";
import { network } from "hardhat";

import type { MockCircuitBreaker } from "../../types/ethers-contracts/index.js";
import { WAD } from "../../deploy/params.js";
import { liquidationMargin } from "../../scripts/lib/math/liquidation.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, snapshotState, units } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();

const policy = (p: Partial<{ fee: bigint; im: bigint; lev: bigint; newRisk: boolean; open: boolean }>) => ({
  feeMultiplier: p.fee ?? WAD,
  imMultiplier: p.im ?? WAD,
  maxLeverage: p.lev ?? 0n,
  newRiskAllowed: p.newRisk ?? true,
  tradingOpen: p.open ?? true,
});

describe("PerpEngine: stress-level policy", function () {
  async function world() {
    const w = await deployWorld(ethers);
    const alice = await openAccount(w, w.alice, 10_000n * USDC);
    const breaker = (await ethers.deployContract("MockCircuitBreaker")) as unknown as MockCircuitBreaker;
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
    await w.engine.connect(w.governor).setCircuitBreaker(await breaker.getAddress());
    return { w, alice, breaker };
  }

  it("refuses an address without code as the breaker", async function () {
    const { w } = await networkHelpers.loadFixture(world);
    await expect(w.engine.connect(w.governor).setCircuitBreaker(w.stranger.address)).to.be.revertedWithCustomError(
      w.engine,
      "ZeroAddress",
    );
  });

  it("halted: refuses new risk with TradingHalted, still lets the trader reduce, close and add margin", async function () {
    const { w, alice, breaker } = await networkHelpers.loadFixture(world);
    await breaker.setPolicy(ETH, policy({ newRisk: false, open: false }));
    const before = await snapshotState(w, [alice]);
    await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE))
      .to.be.revertedWithCustomError(w.engine, "TradingHalted")
      .withArgs(ETH);
    expect(await snapshotState(w, [alice])).to.equal(before);
    await w.engine.connect(w.alice).deposit(alice, 100n * USDC);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(4), 0n);
    await w.engine.connect(w.alice).closePosition(alice, ETH, 0n);
    expect((await w.engine.position(alice, ETH)).size).to.equal(0n);
  });

  it("reduce-only: refuses new risk with MarketReduceOnly (a flip adds risk), allows reducing", async function () {
    const { w, alice, breaker } = await networkHelpers.loadFixture(world);
    await breaker.setPolicy(ETH, policy({ newRisk: false }));
    await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE))
      .to.be.revertedWithCustomError(w.engine, "MarketReduceOnly")
      .withArgs(ETH);
    await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(15), 0n))
      .to.be.revertedWithCustomError(w.engine, "MarketReduceOnly")
      .withArgs(ETH);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(5), 0n);
    expect((await w.engine.position(alice, ETH)).size).to.equal(units(5));
  });

  it("caps leverage of risk-adding trades with LeverageAboveCap", async function () {
    const { w, alice, breaker } = await networkHelpers.loadFixture(world);
    await breaker.setPolicy(ETH, policy({ lev: 3n * WAD }));
    // 10 ETH at ~$2000 on ~$10k is ~2x; 6 more makes ~3.2x
    const tx = w.engine.connect(w.alice).modifyPosition(alice, ETH, units(6), MAX_PRICE);
    await expect(tx)
      .to.be.revertedWithCustomError(w.engine, "LeverageAboveCap")
      .withArgs(alice, (lev: bigint) => lev > 3n * WAD && lev < 33n * (WAD / 10n), 3n * WAD);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(4), MAX_PRICE); // ~2.8x is fine
  });

  it("applies the fee multiplier to the risk-adding part only, and the initial-margin multiplier", async function () {
    const { w, alice, breaker } = await networkHelpers.loadFixture(world);
    const [, feeNeutral] = await w.engine.quoteTrade(ETH, units(1), units(10));
    const [, reduceNeutral] = await w.engine.quoteTrade(ETH, -units(1), units(10));
    const imNeutral = (await w.engine.accountSummary(alice)).initialMargin;
    await breaker.setPolicy(ETH, policy({ fee: 3n * WAD, im: 2n * WAD }));
    const [, feeStressed] = await w.engine.quoteTrade(ETH, units(1), units(10));
    const [, reduceStressed] = await w.engine.quoteTrade(ETH, -units(1), units(10));
    expect(feeStressed).to.be.closeTo(3n * feeNeutral, 3n);
    expect(reduceStressed).to.equal(reduceNeutral);
    const s = await w.engine.accountSummary(alice);
    // the liquidation margin in the requirement is the keeper's, not scaled by the level
    const r = await w.liquidationEngine.rewardConfig();
    const lm = liquidationMargin(
      { flat: r[0], min: r.min, shareOfNotional: r.shareOfNotional, max: r.max },
      s.notional,
    );
    const positionsNeutral = imNeutral - lm;
    expect(s.initialMargin - lm).to.be.greaterThan(positionsNeutral * 2n - positionsNeutral / 100n);
  });

  it("a reverting breaker blocks new risk but never reducing, closing, margin or the liquidation views", async function () {
    const { w, alice, breaker } = await networkHelpers.loadFixture(world);
    await breaker.setBroken(true);
    await expect(
      w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE),
    ).to.be.revertedWithCustomError(breaker, "BreakerBroken");
    await w.engine.connect(w.alice).deposit(alice, 10n * USDC);
    expect(await w.engine.isLiquidatable(alice)).to.equal(false);
    expect(await w.engine.health(alice)).to.be.greaterThan(WAD);
    const [summary, positions] = await w.engine.liquidationSnapshot(alice);
    expect(positions.length).to.equal(1);
    expect(summary.maintenanceMargin).to.be.greaterThan(0n);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(3), 0n);
    await w.engine.connect(w.alice).closePosition(alice, ETH, 0n);
    expect((await w.engine.position(alice, ETH)).size).to.equal(0n);
  });
});
