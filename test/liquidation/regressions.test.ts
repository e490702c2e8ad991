/**
 * Findings of the liquidation-layer review, each fixed and kept here beside the liquidation tests: every
 * test states the inputs and what should happen (each failed on the contracts before its fix).
 */
import { expect } from "chai";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { ETH, USDC, deployWorld, passLpLockup, setPriceWad, units } from "../helpers/fixture.js";
import { PENDING, openPosition } from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

async function world() {
  const w = await deployWorld(ethers, { insurance: 0n }); // written for an empty fund
  const alice = await openPosition(w, w.alice, 1_000n, [[ETH, units(15)]]);
  return { w, alice };
}

/** alice 15 ETH long on 1000 USDC, bankrupt at 1900; bob and carol short and in profit; fund empty. */
async function deficit() {
  const { w, alice } = await world();
  const bob = await openPosition(w, w.bob, 1_000n, [[ETH, -units(3)]]);
  const carol = await openPosition(w, w.carol, 300n, [[ETH, -units(4)]]);
  await w.vault.connect(w.governor).setInsuranceFeeShare(0n);
  await setPriceWad(w, ETH, 1_900n * WAD);
  await w.liquidationEngine.liquidate(alice);
  expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.be.greaterThan(units(500));
  return { w, alice, bob, carol };
}

describe("Liquidation regressions (bugs found in review, fixed)", function () {
  it("F1: insuranceFeeShare is applied again to protocol fees already split, so repeated permissionless flushes move almost all protocol fees to the fund", async function () {
    // Inputs: trading fees accrued (alice's open); insuranceFeeShare = 50%; anyone calls flushInsurance() 5 times.
    // Expected: the fund gets 50% of the protocol fees once; the protocol keeps the other 50%.
    // Actual: each call sets aside 50% of what is left (Vault._setAsideInsuranceFees), so after n calls the
    //         protocol keeps 1/2^n of its fees (here 1/32). insurancePendingWad() and InsuranceFund.totalAssets()
    //         likewise count 50% of the already-split remainder again after every set-aside.
    const { w } = await loadFixture(world);
    const fees = await w.vault.protocolFeesWad();
    expect(fees).to.be.greaterThan(0n);
    const share = await w.vault.insuranceFeeShare();
    const protocolKeeps = fees - (fees * share) / WAD;
    for (let i = 0; i < 5; ++i) await w.vault.connect(w.stranger).flushInsurance();
    expect(await w.vault.protocolFeesWad()).to.equal(protocolKeeps);
  });

  it("F2: autoDeleverage reverts as a whole when the window bound is reached part-way through the candidate list", async function () {
    // Inputs: a pending long deficit of ~516 USDC; adl maxNotionalPerWindow = 1000 USDC; candidates [carol, bob]
    //         correctly ranked. Carol's close alone fills the window.
    // Expected (ILiquidationEngine.autoDeleverage: "until the deficit is recovered or the per-window bound is
    //         reached"): carol is deleveraged, the call returns what it recovered, bob waits for the next window.
    // Actual: the loop reaches bob with no room left and reverts AdlCapacityExhausted, undoing carol's step:
    //         a keeper must guess exactly how many candidates fit the window.
    const { w, bob, carol } = await loadFixture(deficit);
    await w.liquidationEngine.connect(w.governor).setAdlConfig({ window: 3_600, maxNotionalPerWindow: 1_000n * WAD });
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [carol, bob])).to.emit(
      w.liquidationEngine,
      "AutoDeleveraged",
    );
  });

  it("F3: AdlCapacityExhausted reports windowEndsAt = 0 when the room left is under one wei of size", async function () {
    // Inputs: as F2, first autoDeleverage(ETH, true, [carol]) at t fills the window to within 1000 wei of quote.
    // Expected: a second call in the window reverts AdlCapacityExhausted(ETH, t + 3600).
    // Actual: _adlClose reverts AdlCapacityExhausted(ETH, 0): the room is not zero, but too small for a wei of size.
    const { w, carol } = await loadFixture(deficit);
    await w.liquidationEngine.connect(w.governor).setAdlConfig({ window: 3_600, maxNotionalPerWindow: 1_000n * WAD });
    const t = (await time.latest()) + 1;
    await time.setNextBlockTimestamp(t);
    await w.liquidationEngine.autoDeleverage(ETH, true, [carol]);
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [carol]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "AdlCapacityExhausted")
      .withArgs(ETH, t + 3_600);
  });

  it("F4: the reward-escalation clock started by flag() survives the account's recovery", async function () {
    // Inputs: alice flagged at t0 (health ~0.8), then she deposits and is healthy; 3000 s later the price falls
    //         and she is liquidatable again.
    // Expected (LiquidationEngine._execute: "A healthy or closed account starts a fresh escalation clock next
    //         time"): the reward starts again at 1x.
    // Actual: liquidatableSince is only cleared by a liquidation, so the first tranche of the new episode pays
    //         the keeper 3x at once (and the fund tops up what the penalty cannot).
    const { w, alice } = await loadFixture(world);
    await setPriceWad(w, ETH, 1_962n * WAD);
    expect(await w.engine.isLiquidatable(alice)).to.equal(true);
    await w.liquidationEngine.liquidate(alice); // a tranche starts the clock (flag() needs a held-back account)
    await w.engine.connect(w.alice).deposit(alice, 1_000n * USDC);
    expect(await w.engine.isLiquidatable(alice)).to.equal(false);
    await time.increase(3_000);
    // (the tranche left her smaller than before: walk the price down until she is liquidatable again)
    for (let p = 1_895n * WAD; !(await w.engine.isLiquidatable(alice)); p -= 5n * WAD) await setPriceWad(w, ETH, p);
    expect(await w.engine.isLiquidatable(alice)).to.equal(true);
    const plan = await w.liquidationEngine.previewLiquidation(alice, PENDING);
    const r = await w.liquidationEngine.rewardConfig();
    const base = r[0] + (plan.trancheNotional * r.shareOfNotional) / WAD; // flat + share * notional
    expect(plan.keeperReward).to.equal(base);
  });

  it("F6: a cross-margined account cannot be liquidated while the LP pool cannot pay its gain leg (ExecutionDiverged)", async function () {
    // Inputs: the LP pool holds ~2,000 USDC (the LP withdrew the rest before any position); alice holds 10 ETH
    //         long and 1 BTC short on 3,000 USDC; ETH 2000 -> 2500 (+~5,000), BTC 30,000 -> 38,000 (-~8,000):
    //         below the backstop ratio.
    // Expected: the liquidation closes both legs; what the pool could not pay shows up as bad debt and is
    //         routed to the fund / the deficit queue.
    // Actual: the plan assumes the gain leg is paid in full (Vault.settle pays min(gain, pool) and emits
    //         ProfitShortfall); the loss leg's shortfall then differs from the plan and execution reverts
    //         ExecutionDiverged(account, BTC): the account stays open while the pool is short.
    const w = await deployWorld(ethers, { insurance: 0n }); // written for an empty fund
    await passLpLockup(w, networkHelpers.time);
    await w.vault.connect(w.lp).withdraw(998_000n * USDC, w.lp.address, w.lp.address);
    const a = await openPosition(w, w.alice, 3_000n, [
      [ETH, units(10)],
      [1, -units(1)],
    ]);
    await setPriceWad(w, ETH, 2_500n * WAD);
    await setPriceWad(w, 1, 38_000n * WAD);
    const s = await w.engine.accountSummary(a);
    expect(s.equity).to.be.lessThan((s.maintenanceMargin * 2n) / 3n);
    expect((await w.engine.positionView(a, ETH)).unrealisedPnl).to.be.greaterThan(await w.vault.lpPoolWad());
    await expect(w.liquidationEngine.liquidate(a)).to.emit(w.liquidationEngine, "LiquidationSettled");
  });

  it("F5: MAX_CAPACITY_DEPTH_FACTOR (1e24) cannot be reached: Config.capacityDepthFactor is a uint64", async function () {
    // Expected: every MAX_ constant is a value the setter can accept. Actual: the field tops out at ~18.4e18.
    const { w } = await loadFixture(world);
    expect(await w.liquidationEngine.MAX_CAPACITY_DEPTH_FACTOR()).to.be.lessThanOrEqual(2n ** 64n - 1n);
  });
});
