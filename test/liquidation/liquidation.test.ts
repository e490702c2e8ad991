/**
 * LiquidationEngine, integration: every path of a liquidation through the deployed protocol
 * (deploy/protocol.ts), with exact numbers where the math is deterministic.
 *
 * Exactness in mocha: a call runs in a pending block whose timestamp is not the one the next
 * transaction gets, and funding and reward escalation move every second. So each exact comparison
 * first pins the next block's timestamp (`pinNext`); a call with blockTag "pending" then runs at that
 * very timestamp, and the transaction mined next sees the same state. Checked: the preview then equals
 * the execution to the wei.
 */
import { expect } from "chai";
import { AbiCoder, type ContractTransactionResponse, type Result, encodeBytes32String } from "ethers";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { WAD } from "../../deploy/params.js";
import * as liq from "../../scripts/lib/math/liquidation.js";
import { GOVERNOR_ROLE, LIQUIDATOR_ROLE } from "../../deploy/protocol.js";
import type { ILiquidator } from "../../types/ethers-contracts/contracts/interfaces/ILiquidator.js";
import {
  BTC,
  ETH,
  MAX_PRICE,
  USDC,
  deployWorld,
  openAccount,
  setPriceWad,
  snapshotState,
  units,
  type World,
} from "../helpers/fixture.js";
import { PENDING, SCALE, openPosition } from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const MAX_UINT = 2n ** 256n - 1n;
const ETH_FEED = encodeBytes32String("ETH/USD");
const abi = AbiCoder.defaultAbiCoder();

/** LiquidationEngine.Status */
const Status = {
  Ok: 0n,
  NoPositions: 1n,
  Healthy: 2n,
  CoolingDown: 3n,
  NoCapacity: 4n,
  SnapshotFailed: 5n,
  HeldAtMark: 6n,
};

type Plan = ILiquidator.PlanStructOutput;

// ---------------------------------------------------------------------------------------- math mirror

const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
const mulWadDown = (a: bigint, b: bigint) => (a * b) / WAD;
const mulWadUp = (a: bigint, b: bigint) => ceilDiv(a * b, WAD);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const abs = (a: bigint) => (a < 0n ? -a : a);
/** floor(a * b / WAD) for signed a, b */
const mulWadFloorSigned = (a: bigint, b: bigint) => {
  const n = a * b;
  return n >= 0n ? n / WAD : -ceilDiv(-n, WAD);
};

type LiqConfig = Awaited<ReturnType<World["liquidationEngine"]["config"]>>;
type RewardConfig = Awaited<ReturnType<World["liquidationEngine"]["rewardConfig"]>>;

/** The tranche's share (LiquidationMath.trancheFraction, through the mirror), from a snapshot. */
function expectedFraction(equity: bigint, mm: bigint, notional: bigint, c: LiqConfig): bigint {
  // the default reward configuration's liquidation margin (flat 2, share 0.05%, min 2, max 500)
  const lm = liq.liquidationMargin(
    { flat: 2n * WAD, min: 2n * WAD, shareOfNotional: WAD / 2_000n, max: 500n * WAD },
    notional,
  );
  return liq.trancheFraction(c, equity, mm, notional, false, lm);
}

/** Base reward times the escalation multiplier after `elapsed` seconds (LiquidationMath.reward). */
function expectedReward(notional: bigint, elapsed: bigint, config: RewardConfig): bigint {
  // a Result's `flat` is Array.prototype.flat: read the fields from a plain object
  return liq.reward(toObject(config), notional, elapsed);
}

/** The size a tranche of `fraction` closes of a position (LiquidationMath.planLegs, one leg). */
function closedSize(size: bigint, fraction: bigint): bigint {
  const notional = size < 0n ? -size : size; // at a price of 1
  const position = { marketId: 0n, size, basis: 0n, fundingIndex: 0n, price: WAD, notional, maintenanceMargin: 0n };
  return -liq.planLegs([fraction], [position], 0n, 0n).legs[0].sizeDelta;
}

// ---------------------------------------------------------------------------------------- world

type LiqWorld = World & { keeper: HardhatEthersSigner; funder: HardhatEthersSigner; staker: HardhatEthersSigner };

async function world(): Promise<LiqWorld> {
  const w = await deployWorld(ethers, { insurance: 0n }); // written for an empty fund
  const signers = await ethers.getSigners();
  const [keeper, funder, staker] = [signers[8], signers[9], signers[10]];
  for (const s of [w.alice, w.bob, w.carol, funder, staker]) {
    await w.usdc.mint(s.address, 100_000_000n * USDC);
    await w.usdc.connect(s).approve(await w.vault.getAddress(), MAX_UINT);
  }
  await w.usdc.connect(staker).approve(await w.insuranceFund.getAddress(), MAX_UINT);
  return { ...w, keeper, funder, staker };
}

/** An account holding one position, opened at the current price. */
async function positionAccount(
  w: LiqWorld,
  owner: HardhatEthersSigner,
  marginUsdc: bigint,
  market: number,
  size: bigint,
): Promise<bigint> {
  const id = await openAccount(w, owner, marginUsdc * USDC);
  const cap = (await w.engine.marketConfig(market)).maxTradeSize;
  for (let left = size; left !== 0n;) {
    const step = abs(left) > cap ? (left > 0n ? cap : -cap) : left;
    await w.engine.connect(owner).modifyPosition(id, market, step, step > 0n ? MAX_PRICE : 0n);
    left -= step;
  }
  return id;
}

/** The index price at which a one-position account's health is `h` (WAD), from its break-even price. */
async function priceForHealth(w: LiqWorld, id: bigint, market: number, h: bigint): Promise<bigint> {
  const v = await w.engine.positionView(id, market);
  const margin = await w.vault.marginOf(id);
  // equity(p) = margin + size * (p - breakEven); maintenance(p) = |size| * p * mmr
  const num = (v.size * v.breakEvenPrice) / WAD - margin;
  const den = v.size - (((h * abs(v.size)) / WAD) * v.maintenanceMarginRatio) / WAD;
  return (num * WAD) / den;
}

/**
 * Moves the market to the lowest (longs) or highest (shorts) price at which one of the accounts has its
 * target health, then deposits into each other account exactly enough to bring it up to its target.
 */
async function setHealths(w: LiqWorld, market: number, targets: [bigint, bigint][]): Promise<bigint> {
  const long = (await w.engine.position(targets[0][0], market)).size > 0n;
  let price = long ? MAX_UINT : 0n;
  for (const [id, h] of targets) {
    const p = await priceForHealth(w, id, market, h);
    price = long ? min(price, p) : max(price, p);
  }
  price = (price / 10n ** 10n) * 10n ** 10n;
  await setPriceWad(w, market, price);
  for (const [id, h] of targets) {
    const s = await w.engine.accountSummary(id);
    const needed = ceilDiv(h * s.maintenanceMargin, WAD) - s.equity;
    if (needed > 0n) await w.engine.connect(w.funder).deposit(id, ceilDiv(needed, SCALE) + 1n);
  }
  return price;
}

/** Pins the next block's timestamp (a second after the latest unless given) and returns it. */
async function pinNext(at?: number): Promise<number> {
  const t = at ?? (await time.latest()) + 1;
  await time.setNextBlockTimestamp(t);
  return t;
}

async function stake(w: LiqWorld, amountUsdc: bigint) {
  await w.insuranceFund.connect(w.staker).deposit(amountUsdc * USDC, w.staker.address);
}

async function receipt(tx: Promise<ContractTransactionResponse>) {
  return (await (await tx).wait())!;
}

/** The liquidation's TrancheLiquidated and LiquidationSettled events, in order; `fills` are the legs'
 *  position changes (TrancheLiquidated carries them: a liquidation leg emits no PositionModified, which
 *  `positionEvents` counts, nor the vault's PenaltyCharged, which `penaltyEvents` counts). */
function parseLiquidation(w: LiqWorld, r: { logs: readonly { topics: readonly string[]; data: string }[] }) {
  const legs: {
    marketId: bigint;
    sizeDelta: bigint;
    newSize: bigint;
    fillPrice: bigint;
    realisedPnl: bigint;
    penalty: bigint;
    keeperReward: bigint;
    badDebtCovered: bigint;
    badDebtSocialised: bigint;
  }[] = [];
  let settled: { backstop: boolean; fraction: bigint; trancheNotional: bigint; healthAfter: bigint } | undefined;
  let positionEvents = 0;
  let penaltyEvents = 0;
  for (const log of r.logs) {
    const le = w.liquidationEngine.interface.parseLog(log as { topics: string[]; data: string });
    if (le?.name === "TrancheLiquidated") legs.push(le.args.toObject() as (typeof legs)[number]);
    if (le?.name === "LiquidationSettled") settled = le.args.toObject() as typeof settled;
    const pe = w.engine.interface.parseLog(log as { topics: string[]; data: string });
    if (pe?.name === "PositionModified") ++positionEvents;
    const ve = w.vault.interface.parseLog(log as { topics: string[]; data: string });
    if (ve?.name === "PenaltyCharged") ++penaltyEvents;
  }
  return { legs, fills: legs, settled, positionEvents, penaltyEvents };
}

/** Execution (events, ledgers) equals the plan previewed at the same timestamp. */
function expectMatchesPlan(w: LiqWorld, plan: Plan, r: Parameters<typeof parseLiquidation>[1]) {
  const { legs, fills, settled, positionEvents, penaltyEvents } = parseLiquidation(w, r);
  expect(legs.length).to.equal(plan.legs.length);
  expect(fills.length).to.equal(plan.legs.length);
  expect(positionEvents).to.equal(0);
  expect(penaltyEvents).to.equal(0);
  let penalty = 0n;
  let reward = 0n;
  let covered = 0n;
  let socialised = 0n;
  for (let i = 0; i < legs.length; ++i) {
    const p = plan.legs[i];
    expect(legs[i].marketId).to.equal(p.marketId);
    expect(legs[i].sizeDelta).to.equal(p.sizeDelta);
    expect(legs[i].fillPrice).to.equal(p.price);
    expect(fills[i].sizeDelta).to.equal(p.sizeDelta);
    expect(fills[i].fillPrice).to.equal(p.price);
    expect(fills[i].realisedPnl).to.equal(p.realised);
    expect(legs[i].badDebtCovered + legs[i].badDebtSocialised).to.equal(p.shortfall);
    penalty += legs[i].penalty;
    reward += legs[i].keeperReward;
    covered += legs[i].badDebtCovered;
    socialised += legs[i].badDebtSocialised;
  }
  expect(penalty).to.equal(plan.keeperFromPenalty + plan.insuranceShare);
  expect(reward).to.equal(plan.keeperReward);
  expect(covered).to.equal(plan.badDebtCovered);
  expect(socialised).to.equal(plan.badDebtSocialised);
  expect(settled!.backstop).to.equal(plan.backstop);
  expect(settled!.fraction).to.equal(plan.fraction);
  expect(settled!.trancheNotional).to.equal(plan.trancheNotional);
}

// ---------------------------------------------------------------------------------------- tests

describe("LiquidationEngine: tranches", function () {
  const gas: Record<string, bigint> = {};
  after(function () {
    console.log("\n    liquidation gas (receipts):");
    for (const [k, v] of Object.entries(gas)) console.log(`      ${k.padEnd(52)} ${v}`);
  });

  async function oneAccount() {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 1_000n, ETH, units(15));
    return { w, a };
  }

  it("closes 25% of the position when that is short of the target: sizes, events, ledgers and health", async function () {
    const { w, a } = await oneAccount();
    await setHealths(w, ETH, [[a, (8n * WAD) / 10n]]);
    const healthBefore = await w.engine.health(a);
    expect(healthBefore).to.be.within((8n * WAD) / 10n, (81n * WAD) / 100n);

    const t = await pinNext();
    const [s, ps] = await w.engine.liquidationSnapshot(a, PENDING);
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    const c = await w.liquidationEngine.config();
    const r = await w.liquidationEngine.rewardConfig();

    // the target is out of reach of one tranche: the tranche fraction caps it
    expect(expectedFraction(s.equity, s.maintenanceMargin, s.notional, c)).to.equal(WAD / 4n);
    expect(plan.fraction).to.equal(WAD / 4n);
    expect(plan.backstop).to.equal(false);
    const closed = closedSize(units(15), WAD / 4n);
    expect(closed).to.equal(units(15) / 4n);
    const price = ps[0].price;
    const notional = mulWadUp(closed, price);
    const realised = mulWadFloorSigned(closed, price - ps[0].fundingIndex - ps[0].basis);
    const penalty = min(mulWadUp(notional, c.penaltyRate), mulWadDown(s.equity, WAD / 4n) / 2n);
    const reward = expectedReward(notional, 0n, r);
    expect(plan.trancheNotional).to.equal(notional);
    expect(plan.legs[0].realised).to.equal(realised);
    expect(plan.keeperFromPenalty).to.equal(min(reward, penalty));
    expect(plan.insuranceShare).to.equal(penalty - min(reward, penalty));
    expect(plan.keeperReward).to.equal(reward);
    expect(plan.badDebt).to.equal(0n);

    const margin = await w.vault.marginOf(a);
    const rewards = await w.vault.keeperRewardsOf(w.keeper.address);
    const insurance = await w.vault.insurancePendingWad();
    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx)
      .to.emit(w.liquidationEngine, "TrancheLiquidated")
      .withArgs(a, ETH, w.keeper.address, -closed, units(15) - closed, price, realised, penalty, reward, 0n, 0n);
    await expect(tx)
      .to.emit(w.liquidationEngine, "LiquidationSettled")
      .withArgs(a, w.keeper.address, false, WAD / 4n, notional, (h: bigint) => h > healthBefore && h < WAD, t);
    // the tranche's penalty is in TrancheLiquidated (above): no PenaltyCharged, no PositionModified
    await expect(tx).not.to.emit(w.vault, "PenaltyCharged");
    await expect(tx).not.to.emit(w.engine, "PositionModified");
    const rc = await receipt(tx);
    gas["liquidate: one tranche, single-market account"] = rc.gasUsed;
    expectMatchesPlan(w, plan, rc);

    expect((await w.engine.position(a, ETH)).size).to.equal(units(15) - closed);
    expect(await w.vault.marginOf(a)).to.equal(margin + realised - penalty);
    expect(await w.vault.keeperRewardsOf(w.keeper.address)).to.equal(rewards + plan.keeperFromPenalty);
    expect(await w.vault.insurancePendingWad()).to.equal(insurance + plan.insuranceShare);
    const healthAfter = await w.engine.health(a);
    expect(healthAfter).to.be.greaterThan(healthBefore);
    expect(healthAfter).to.be.lessThan(WAD); // still liquidatable: more tranches to come
    const st = await w.liquidationEngine.accountState(a);
    expect(st.lastTrancheAt).to.equal(t);
    expect(st.liquidatableSince).to.equal(t);
    const window = await w.liquidationEngine.capacityWindow(ETH);
    expect(window.start).to.equal(t);
    expect(window.used).to.equal(notional);
  });

  it("closes less than 25% when that brings the account to maintenance * (1 + buffer)", async function () {
    const { w, a } = await oneAccount();
    await setHealths(w, ETH, [[a, (96n * WAD) / 100n]]);
    const healthBefore = await w.engine.health(a);
    await pinNext();
    const [s] = await w.engine.liquidationSnapshot(a, PENDING);
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    const f = expectedFraction(s.equity, s.maintenanceMargin, s.notional, await w.liquidationEngine.config());
    expect(f).to.be.lessThan(WAD / 4n);
    expect(f).to.be.greaterThan(WAD / 10n);
    expect(plan.fraction).to.equal(f);
    const closed = closedSize(units(15), f);
    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx)
      .to.emit(w.liquidationEngine, "TrancheLiquidated")
      .withArgs(
        a,
        ETH,
        w.keeper.address,
        -closed,
        units(15) - closed,
        plan.legs[0].price,
        plan.legs[0].realised,
        (x: bigint) => x > 0n,
        plan.keeperReward,
        0n,
        0n,
      );
    // the lower bound of health after that the engine asserts reaches the target
    await expect(tx)
      .to.emit(w.liquidationEngine, "LiquidationSettled")
      .withArgs(a, w.keeper.address, false, f, plan.trancheNotional, (h: bigint) => h >= (11n * WAD) / 10n, anyUint);
    expectMatchesPlan(w, plan, await receipt(tx));
    expect((await w.engine.position(a, ETH)).size).to.equal(units(15) - closed);
    const healthAfter = await w.engine.health(a);
    expect(healthAfter).to.be.greaterThanOrEqual((11n * WAD) / 10n);
    expect(healthAfter).to.be.greaterThan(healthBefore);
    expect(await w.engine.isLiquidatable(a)).to.equal(false);
    // healthy again: the escalation clock is reset
    expect((await w.liquidationEngine.accountState(a)).liquidatableSince).to.equal(0n);
    await expect(w.liquidationEngine.liquidate(a)).to.be.revertedWithCustomError(w.liquidationEngine, "AccountHealthy");
  });

  it("respects the cooldown between tranches (TrancheCoolingDown with readyAt), then goes on after 30 s", async function () {
    const { w, a } = await oneAccount();
    await setHealths(w, ETH, [[a, (75n * WAD) / 100n]]);
    const t1 = await pinNext();
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    expect(await w.engine.isLiquidatable(a)).to.equal(true);
    const readyAt = t1 + 30;
    for (const at of [t1 + 1, readyAt - 1]) {
      await pinNext(at);
      await expect(w.liquidationEngine.previewLiquidation(a, PENDING))
        .to.be.revertedWithCustomError(w.liquidationEngine, "TrancheCoolingDown")
        .withArgs(a, readyAt);
      await expect(w.liquidationEngine.connect(w.keeper).liquidate(a))
        .to.be.revertedWithCustomError(w.liquidationEngine, "TrancheCoolingDown")
        .withArgs(a, readyAt);
    }
    expect(await w.liquidationEngine.liquidatableAccounts(a, 1, PENDING)).to.deep.equal([]);
    await pinNext(readyAt);
    const second = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(second).to.emit(w.liquidationEngine, "LiquidationSettled");
    gas["liquidate: next tranche of the same account (warm slots)"] = (await receipt(second)).gasUsed;
    expect((await w.liquidationEngine.accountState(a)).lastTrancheAt).to.equal(readyAt);
  });

  it("closes everything at once below 2/3 of maintenance (backstop), inside the cooldown", async function () {
    const { w, a } = await oneAccount();
    await setHealths(w, ETH, [[a, (8n * WAD) / 10n]]);
    const t1 = await pinNext();
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    const size = (await w.engine.position(a, ETH)).size;
    await setPriceWad(w, ETH, await priceForHealth(w, a, ETH, WAD / 2n));
    const health = await w.engine.health(a);
    expect(health).to.be.lessThan((6667n * WAD) / 10000n);
    expect(health).to.be.greaterThan(0n);

    await pinNext(t1 + 5); // well inside the cooldown
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.backstop).to.equal(true);
    expect(plan.fraction).to.equal(WAD);
    expect(plan.legs[0].sizeDelta).to.equal(-size);
    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx)
      .to.emit(w.liquidationEngine, "LiquidationSettled")
      .withArgs(a, w.keeper.address, true, WAD, plan.trancheNotional, MAX_UINT, t1);
    const rc = await receipt(tx);
    gas["liquidate: backstop full close, single-market account"] = rc.gasUsed;
    expectMatchesPlan(w, plan, rc);
    expect((await w.engine.position(a, ETH)).size).to.equal(0n);
    expect(await w.engine.accountMarkets(a)).to.deep.equal([]);
    expect(await w.engine.health(a)).to.equal(MAX_UINT);
    expect((await w.liquidationEngine.accountState(a)).liquidatableSince).to.equal(0n);
    await expect(w.liquidationEngine.liquidate(a))
      .to.be.revertedWithCustomError(w.liquidationEngine, "NoPositions")
      .withArgs(a);
  });

  it("closes a remainder below the dust notional (100 USDC) in full, without being a backstop", async function () {
    const w = await loadFixture(world);
    // ~120 USDC of notional; 8 USDC of margin (its initial margin holds the ~2 USDC liquidation margin)
    const a = await positionAccount(w, w.alice, 8n, ETH, units(6) / 100n);
    await setHealths(w, ETH, [[a, (8n * WAD) / 10n]]);
    await pinNext();
    const [s] = await w.engine.liquidationSnapshot(a, PENDING);
    const c = await w.liquidationEngine.config();
    // 25% would leave ~88 USDC open: below dust, so the tranche takes everything
    expect(mulWadDown(s.notional, WAD - c.trancheFraction)).to.be.lessThan(c.dustNotional);
    expect(expectedFraction(s.equity, s.maintenanceMargin, s.notional, c)).to.equal(WAD);
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.backstop).to.equal(false);
    expect(plan.fraction).to.equal(WAD);
    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx)
      .to.emit(w.liquidationEngine, "LiquidationSettled")
      .withArgs(a, w.keeper.address, false, WAD, plan.trancheNotional, MAX_UINT, anyUint);
    expectMatchesPlan(w, plan, await receipt(tx));
    expect((await w.engine.position(a, ETH)).size).to.equal(0n);
  });

  it("liquidates a cross-margined account with a gain in one market and a larger-than-margin loss in another without a spurious shortfall", async function () {
    const w = await loadFixture(world);
    const a = await openPosition(w, w.alice, 2_000n, [
      [ETH, units(10)],
      [BTC, -units(1)],
    ]);
    await setPriceWad(w, ETH, 2_100n * WAD); // +~1000 on ETH
    await setPriceWad(w, BTC, 32_500n * WAD); // -~2500 on BTC: more than the 2000 of margin
    const margin = await w.vault.marginOf(a);
    const btc = await w.engine.positionView(a, BTC);
    expect(-btc.unrealisedPnl).to.be.greaterThan(margin);
    const s = await w.engine.accountSummary(a);
    expect(s.equity).to.be.greaterThan(0n);
    expect(s.equity).to.be.lessThan((s.maintenanceMargin * 6667n) / 10000n); // backstop: both legs close in full

    await pinNext();
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.legs.map((l) => l.marketId)).to.deep.equal([BigInt(ETH), BigInt(BTC)]); // gain first
    expect(plan.legs[0].realised).to.be.greaterThan(0n);
    expect(plan.legs[1].shortfall).to.equal(0n);
    expect(plan.badDebt).to.equal(0n);
    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx).not.to.emit(w.engine, "BadDebtIncurred");
    await expect(tx).not.to.emit(w.liquidationEngine, "DeficitQueued");
    const rc = await receipt(tx);
    gas["liquidate: backstop full close, two-market account"] = rc.gasUsed;
    expectMatchesPlan(w, plan, rc);
    const { legs } = parseLiquidation(w, rc);
    expect(legs.map((l) => l.marketId)).to.deep.equal([BigInt(ETH), BigInt(BTC)]);
    // everything realised: margin = equity before less the penalty
    expect(await w.vault.marginOf(a)).to.equal(
      margin + plan.legs[0].realised + plan.legs[1].realised - plan.keeperFromPenalty - plan.insuranceShare,
    );
    expect(await w.liquidationEngine.badDebtIncurred()).to.equal(0n);
  });
});

describe("LiquidationEngine: capacity per market and window", function () {
  /** Two whales and two small accounts long ETH, all liquidatable at one price; one below the backstop. */
  async function crowded() {
    const w = await loadFixture(world);
    // margin for initial margin plus the skew premium paid on entry
    const whale1 = await positionAccount(w, w.alice, 2_500_000n, ETH, units(20_000));
    const whale2 = await positionAccount(w, w.bob, 2_000_000n, ETH, units(12_000));
    // the skew the whales left makes every later long pay ~3% on entry
    const small = await positionAccount(w, w.carol, 3_000n, ETH, units(15));
    const sinking = await positionAccount(w, w.carol, 3_000n, ETH, units(15));
    const h = (8n * WAD) / 10n;
    const price = await setHealths(w, ETH, [
      [whale1, h],
      [whale2, h],
      [small, h],
      [sinking, WAD / 2n],
    ]);
    return { w, whale1, whale2, small, sinking, price };
  }

  it("scales a tranche down to the remaining capacity, then refuses with LiquidationCapacityExhausted until the next window", async function () {
    const { w, whale1, whale2, small, sinking, price } = await crowded();
    const c = await w.liquidationEngine.config();
    const skewScale = (await w.engine.marketConfig(ETH)).skewScale;
    // 0.005 * skewScale * price per minute: 5000 ETH worth
    const capacity = mulWadDown(mulWadDown(skewScale, c.capacityDepthFactor), price);
    expect(capacity).to.equal(5_000n * price);

    // whale2: a full 25% tranche (3000 ETH)
    const t = await pinNext();
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(whale2))
      .to.emit(w.liquidationEngine, "TrancheLiquidated")
      .withArgs(whale2, ETH, w.keeper.address, -units(3_000), anyInt, price, anyInt, anyUint, anyUint, 0n, 0n);
    expect((await w.liquidationEngine.capacityWindow(ETH)).used).to.equal(3_000n * price);

    // whale1 would take 25% (5000 ETH) but only 2000 ETH of room is left: 10%
    await pinNext();
    const plan = await w.liquidationEngine.previewLiquidation(whale1, PENDING);
    expect(plan.fraction).to.equal(WAD / 10n);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(whale1))
      .to.emit(w.liquidationEngine, "LiquidationSettled")
      .withArgs(whale1, w.keeper.address, false, WAD / 10n, 2_000n * price, anyUint, anyUint);
    expect((await w.engine.position(whale1, ETH)).size).to.equal(units(18_000));
    expect((await w.liquidationEngine.capacityWindow(ETH)).used).to.equal(capacity);

    // the window is full: any other tranche in ETH waits for the next one
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(small))
      .to.be.revertedWithCustomError(w.liquidationEngine, "LiquidationCapacityExhausted")
      .withArgs(small, ETH, t + 60);
    await pinNext(t + 31); // whale2's cooldown is over, the window is not
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(whale2))
      .to.be.revertedWithCustomError(w.liquidationEngine, "LiquidationCapacityExhausted")
      .withArgs(whale2, ETH, t + 60);
    const ids = await w.liquidationEngine.liquidatableAccounts(1, 10, PENDING);
    expect(ids).to.deep.equal([sinking]); // only the backstop can act now

    // a backstop bypasses capacity
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(sinking))
      .to.emit(w.liquidationEngine, "LiquidationSettled")
      .withArgs(sinking, w.keeper.address, true, WAD, anyUint, MAX_UINT, anyUint);
    expect((await w.engine.position(sinking, ETH)).size).to.equal(0n);

    // next window
    await pinNext(t + 59);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(small)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "LiquidationCapacityExhausted",
    );
    await pinNext(t + 60);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(small))
      .to.emit(w.liquidationEngine, "LiquidationSettled")
      .withArgs(small, w.keeper.address, false, WAD / 4n, anyUint, anyUint, anyUint);
    const window = await w.liquidationEngine.capacityWindow(ETH);
    expect(window.start).to.equal(t + 60);
    expect(window.used).to.equal(mulWadUp(units(15) / 4n, price));
  });
  it("paces a backstop above capBypassRatio by the capacity; only below it (near bankruptcy) is the cap bypassed", async function () {
    const { w, whale1, small, sinking, price } = await crowded();
    const le = w.liquidationEngine;
    const paced = { ...toObject(await le.config()), capBypassRatio: WAD / 5n };
    await expect(le.connect(w.governor).setConfig(paced)).to.emit(le, "ConfigSet");
    // whale1's 25% tranche (5000 ETH) takes the whole window
    const t = await pinNext();
    await le.connect(w.keeper).liquidate(whale1);
    expect((await le.capacityWindow(ETH)).used).to.equal(5_000n * price);

    // sinking is below the backstop (health 1/2 < 2/3) but above the bypass (1/5): it waits like any tranche
    const s = await w.engine.accountSummary(sinking);
    expect(s.equity).to.be.lessThan((s.maintenanceMargin * 6667n) / 10000n);
    expect(s.equity).to.be.greaterThan(s.maintenanceMargin / 5n);
    await pinNext();
    await expect(le.connect(w.keeper).liquidate(sinking))
      .to.be.revertedWithCustomError(le, "LiquidationCapacityExhausted")
      .withArgs(sinking, ETH, t + 60);
    expect(await le.liquidatableAccounts(1, 10, PENDING)).to.deep.equal([]);

    // with the bypass above its health, the same account goes now, in full, while the window is still full
    await le.connect(w.governor).setConfig({ ...paced, capBypassRatio: (6n * WAD) / 10n });
    await pinNext(t + 30);
    await expect(le.connect(w.keeper).liquidate(sinking))
      .to.emit(le, "LiquidationSettled")
      .withArgs(sinking, w.keeper.address, true, WAD, anyUint, MAX_UINT, anyUint);
    expect((await w.engine.position(sinking, ETH)).size).to.equal(0n);
    // a tranche that is not near bankruptcy still finds the window full
    await expect(le.connect(w.keeper).liquidate(small)).to.be.revertedWithCustomError(
      le,
      "LiquidationCapacityExhausted",
    );
  });

  it("refuses a capBypassRatio above the backstopRatio (ParameterOutOfBounds), with no change", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine;
    const before = toObject(await le.config());
    await expect(le.connect(w.governor).setConfig({ ...before, capBypassRatio: before.backstopRatio + 1n }))
      .to.be.revertedWithCustomError(le, "ParameterOutOfBounds")
      .withArgs(encodeBytes32String("capBypassRatio"), before.backstopRatio + 1n, 0n, before.backstopRatio);
    expect(toObject(await le.config())).to.deep.equal(before);
  });
});

describe("LiquidationEngine: keeper reward and penalty", function () {
  it("escalates the reward linearly from flag() up to 3x, and clamps the base at min and max", async function () {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 1_000n, ETH, units(15));
    const healthy = await positionAccount(w, w.bob, 10_000n, ETH, units(1));
    await setHealths(w, ETH, [[a, (7n * WAD) / 10n]]);
    await expect(w.liquidationEngine.flag(healthy)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "AccountHealthy",
    );
    // nothing holds it back: a flag would only age the clock before anyone could act
    await expect(w.liquidationEngine.flag(a)).to.be.revertedWithCustomError(w.liquidationEngine, "NotHeldBack");
    // a tranche starts the clock; in its cooldown the account is held back, and a flag leaves the clock
    const t0 = await pinNext();
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    expect(await w.engine.isLiquidatable(a, PENDING)).to.equal(true);
    await expect(w.liquidationEngine.flag(a)).not.to.emit(w.liquidationEngine, "AccountFlagged");
    expect((await w.liquidationEngine.accountState(a)).liquidatableSince).to.equal(t0);

    const r = await w.liquidationEngine.rewardConfig();
    // escalation counts time the account was seen liquidatable, with gaps of at most 600 s: a keeper's flag
    // sees it (here liquidatable now: the flag only keeps the running clock seen)
    for (const elapsed of [100n, 600n, 1_100n, 1_600n, 1_999n, 2_000n, 2_500n]) {
      await pinNext(t0 + Number(elapsed) + 1);
      await expect(w.liquidationEngine.flag(a)).to.emit(w.liquidationEngine, "AccountSeenLiquidatable").withArgs(a, t0);
      await pinNext(t0 + Number(elapsed) + 2);
      const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
      const e = elapsed + 2n;
      const base = expectedReward(plan.trancheNotional, 0n, r);
      expect(plan.keeperReward, `after ${e} s`).to.equal(expectedReward(plan.trancheNotional, e, r));
      const multiplier = e >= 2_000n ? 3n * WAD : WAD + e * (WAD / 1000n);
      expect(plan.keeperReward).to.equal((base * multiplier) / WAD);
    }
    // executed at 3x: the penalty still pays it all
    await pinNext(t0 + 2_600);
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.keeperReward).to.equal(mulWadDown(expectedReward(plan.trancheNotional, 0n, r), 3n * WAD));
    expect(plan.keeperFromFund).to.equal(0n);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(a))
      .to.emit(w.liquidationEngine, "TrancheLiquidated")
      .withArgs(a, ETH, w.keeper.address, anyInt, anyInt, anyUint, anyInt, anyUint, plan.keeperReward, 0n, 0n);

    // min clamp: a governor floor of 10 USDC lifts the small tranche's base (~5.9)
    await w.liquidationEngine.connect(w.governor).setRewardConfig({ ...toObject(r), min: 10n * WAD });
    const b = await positionAccount(w, w.bob, 1_000n, ETH, units(15));
    await setHealths(w, ETH, [[b, (8n * WAD) / 10n]]);
    await pinNext();
    const small = await w.liquidationEngine.previewLiquidation(b, PENDING);
    expect(toObject(r).flat + mulWadDown(small.trancheNotional, r.shareOfNotional)).to.be.lessThan(10n * WAD);
    expect(small.keeperReward).to.equal(10n * WAD);
  });

  it("clamps the base reward at 500 USDC on a large tranche", async function () {
    const w = await loadFixture(world);
    const whale = await positionAccount(w, w.alice, 1_200_000n, ETH, units(12_000));
    await setHealths(w, ETH, [[whale, (8n * WAD) / 10n]]);
    await pinNext();
    const plan = await w.liquidationEngine.previewLiquidation(whale, PENDING);
    expect(plan.trancheNotional).to.be.greaterThan(1_000_000n * WAD);
    expect(plan.keeperReward).to.equal(500n * WAD);
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidate(whale));
    expectMatchesPlan(w, plan, rc);
  });

  it("splits the penalty between keeper and insurance; rewards are claimed in whole units; flushing moves tokens to the fund and lifts its share price", async function () {
    const w = await loadFixture(world);
    await stake(w, 10_000n);
    const a = await positionAccount(w, w.alice, 1_000n, ETH, units(15));
    await setHealths(w, ETH, [[a, (8n * WAD) / 10n]]);
    await expect(w.vault.connect(w.keeper).claimKeeperRewards(w.keeper.address)).to.be.revertedWithCustomError(
      w.vault,
      "ZeroAmount",
    );
    const shares = await w.insuranceFund.balanceOf(w.staker.address);
    const valueBefore = await w.insuranceFund.convertToAssets(shares);
    const pendingBefore = await w.vault.insurancePendingWad();

    await pinNext();
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.keeperFromPenalty).to.be.greaterThan(0n);
    expect(plan.insuranceShare).to.be.greaterThan(0n);
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    const rewards = await w.vault.keeperRewardsOf(w.keeper.address);
    expect(rewards).to.equal(plan.keeperFromPenalty);
    expect(await w.vault.insurancePendingWad()).to.equal(pendingBefore + plan.insuranceShare);
    // the fund counts what the vault holds for it: the share price rises at the liquidation
    const valueAfter = await w.insuranceFund.convertToAssets(shares);
    expect(valueAfter).to.be.greaterThan(valueBefore);

    // whole units to any address; the sub-unit rest stays credited
    const whole = rewards / SCALE;
    const claim = w.vault.connect(w.keeper).claimKeeperRewards(w.carol.address);
    await expect(claim).to.emit(w.vault, "KeeperRewardsClaimed").withArgs(w.keeper.address, w.carol.address, whole);
    await expect(claim).to.changeTokenBalances(ethers, w.usdc, [w.carol, w.vault], [whole, -whole]);
    expect(await w.vault.keeperRewardsOf(w.keeper.address)).to.equal(rewards - whole * SCALE);
    await expect(w.vault.connect(w.keeper).claimKeeperRewards(w.keeper.address)).to.be.revertedWithCustomError(
      w.vault,
      "ZeroAmount",
    );
    await expect(w.vault.connect(w.keeper).claimKeeperRewards(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      w.vault,
      "ZeroAddress",
    );

    // flush: permissionless, whole units of penalties and the fee share
    const owed = await w.vault.insurancePendingWad();
    const units_ = owed / SCALE;
    const fund = await w.insuranceFund.getAddress();
    const fundTokens = await w.usdc.balanceOf(fund);
    await expect(w.vault.connect(w.stranger).flushInsurance())
      .to.emit(w.vault, "InsuranceFlushed")
      .withArgs(fund, units_);
    expect(await w.usdc.balanceOf(fund)).to.equal(fundTokens + units_);
    // what is left: the sub-unit rest; the protocol fees left were split already, so the fund's share
    // is not applied to them again
    expect(await w.vault.insurancePendingWad()).to.equal(owed - units_ * SCALE);
    expect(await w.insuranceFund.convertToAssets(shares)).to.be.greaterThanOrEqual(valueAfter);
    expect(await w.insuranceFund.totalAssets()).to.equal(10_000n * USDC + units_ + (owed - units_ * SCALE) / SCALE);
  });
});

describe("LiquidationEngine: bad debt", function () {
  /** alice: 15 ETH long on 1000 USDC, ~520 under water after a fall to 1900; bob and carol short. */
  async function crash() {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 1_000n, ETH, units(15));
    const bob = await positionAccount(w, w.bob, 1_000n, ETH, -units(3));
    const carol = await positionAccount(w, w.carol, 300n, ETH, -units(4));
    const flat = await openAccount(w, w.carol, 500n * USDC);
    const late = await openAccount(w, w.bob, 1_000n * USDC);
    // a short opened at 1850 is under water at 1900
    await setPriceWad(w, ETH, 1_850n * WAD);
    await w.engine.connect(w.bob).modifyPosition(late, ETH, -units(1), 0n);
    await setPriceWad(w, ETH, 1_900n * WAD);
    const s = await w.engine.accountSummary(a);
    expect(s.equity).to.be.lessThan(0n);
    return { w, a, bob, carol, flat, late };
  }

  it("is covered by the insurance fund: the LP pool is made whole and the keeper is paid by the fund", async function () {
    const { w, a } = await crash();
    await stake(w, 10_000n);
    const fund = await w.insuranceFund.getAddress();
    const pool = await w.vault.lpPoolWad();
    const margin = await w.vault.marginOf(a);
    const fundAssets = await w.insuranceFund.totalAssets();

    await pinNext();
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.backstop).to.equal(true);
    const loss = -plan.legs[0].realised;
    const shortfall = loss - margin;
    expect(plan.badDebt).to.equal(shortfall);
    expect(plan.badDebtCovered).to.equal(shortfall);
    expect(plan.badDebtSocialised).to.equal(0n);
    expect(plan.keeperFromPenalty + plan.insuranceShare).to.equal(0n); // no equity, no penalty
    const reward = expectedReward(plan.trancheNotional, 0n, await w.liquidationEngine.rewardConfig());
    expect(plan.keeperFromFund).to.equal((reward / SCALE) * SCALE);
    const coverTokens = ceilDiv(shortfall, SCALE);
    const fundTokens = await w.usdc.balanceOf(fund);

    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx).to.emit(w.engine, "BadDebtIncurred").withArgs(a, ETH, shortfall);
    await expect(tx).to.emit(w.insuranceFund, "BadDebtCovered").withArgs(shortfall, coverTokens);
    await expect(tx).to.emit(w.vault, "CoverReceived").withArgs(coverTokens);
    await expect(tx)
      .to.emit(w.insuranceFund, "KeeperPaid")
      .withArgs(w.keeper.address, reward / SCALE);
    await expect(tx)
      .to.emit(w.liquidationEngine, "TrancheLiquidated")
      .withArgs(a, ETH, w.keeper.address, -units(15), 0n, 1_900n * WAD, anyInt, 0n, plan.keeperReward, shortfall, 0n);
    await expect(tx).not.to.emit(w.liquidationEngine, "DeficitQueued");
    await expect(tx).to.changeTokenBalance(ethers, w.usdc, w.keeper.address, reward / SCALE);
    const rc = await receipt(tx);
    expectMatchesPlan(w, plan, rc);
    // cover() and payKeeper() each flush the vault first: the fund received those, paid cover and keeper
    let flushed = 0n;
    for (const log of rc.logs) {
      const e = w.vault.interface.parseLog(log);
      if (e?.name === "InsuranceFlushed") flushed += e.args.amount as bigint;
    }
    expect(flushed).to.be.greaterThan(0n);
    expect(await w.usdc.balanceOf(fund)).to.equal(fundTokens + flushed - coverTokens - reward / SCALE);

    // the pool received the whole loss: the margin, and the rest (rounded up to a unit) from the fund
    expect(await w.vault.lpPoolWad()).to.equal(pool + margin + coverTokens * SCALE);
    expect(await w.vault.lpPoolWad()).to.be.greaterThanOrEqual(pool + loss);
    expect(await w.vault.marginOf(a)).to.equal(0n);
    expect(await w.insuranceFund.totalAssets()).to.be.lessThan(fundAssets - coverTokens);
    expect(await w.liquidationEngine.badDebtIncurred()).to.equal(shortfall);
    expect(await w.liquidationEngine.badDebtCovered()).to.equal(shortfall);
    expect(await w.liquidationEngine.badDebtPending()).to.equal(0n);
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(0n);
  });

  it("beyond the fund: queues the rest as a deficit of the bankrupt side; never reverts for an empty fund", async function () {
    const { w, a } = await crash();
    await stake(w, 100n);
    const fundTokens = await w.insuranceFund.coverable(); // the stake and the fee share the vault holds for it
    expect(fundTokens).to.be.greaterThan(100n * USDC);
    await pinNext();
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.badDebtCovered).to.equal(fundTokens * SCALE);
    const socialised = plan.badDebt - plan.badDebtCovered;
    expect(plan.badDebtSocialised).to.equal(socialised);
    expect(plan.keeperReward).to.equal(0n); // nothing left to pay the keeper with
    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx).to.emit(w.liquidationEngine, "DeficitQueued").withArgs(ETH, true, socialised);
    await expect(tx)
      .to.emit(w.liquidationEngine, "TrancheLiquidated")
      .withArgs(a, ETH, w.keeper.address, -units(15), 0n, anyUint, anyInt, 0n, 0n, plan.badDebtCovered, socialised);
    expectMatchesPlan(w, plan, await receipt(tx));
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(socialised);
    expect(await w.liquidationEngine.badDebtPending()).to.equal(socialised);
    // the fund paid out every token it had; what it shows now is the fee share of the protocol fees
    // left after cover()'s flush (counted again: see liquidationFindings.test.ts)
    expect(await w.usdc.balanceOf(await w.insuranceFund.getAddress())).to.equal(0n);
    expect(await w.insuranceFund.coverable()).to.equal((await w.vault.insurancePendingWad()) / SCALE);
    expect(await w.insuranceFund.coverable()).to.be.lessThan(10n * USDC);
    await expectBadDebtAccounted(w);
  });

  it("never reverts for an empty fund: all the bad debt is queued and the keeper gets nothing", async function () {
    const { w, a } = await crash();
    await w.vault.connect(w.governor).setInsuranceFeeShare(0n); // no fee income for the fund either
    expect(await w.insuranceFund.coverable()).to.equal(0n);
    await pinNext();
    const plan = await w.liquidationEngine.previewLiquidation(a, PENDING);
    expect(plan.badDebt).to.be.greaterThan(0n);
    expect(plan.badDebtCovered).to.equal(0n);
    expect(plan.badDebtSocialised).to.equal(plan.badDebt);
    expect(plan.keeperReward).to.equal(0n);
    const tx = w.liquidationEngine.connect(w.keeper).liquidate(a);
    await expect(tx).to.emit(w.liquidationEngine, "DeficitQueued").withArgs(ETH, true, plan.badDebt);
    await expect(tx).not.to.emit(w.insuranceFund, "BadDebtCovered");
    await expect(tx).not.to.emit(w.vault, "CoverReceived");
    await expect(tx).not.to.emit(w.insuranceFund, "KeeperPaid");
    expectMatchesPlan(w, plan, await receipt(tx));
    expect((await w.engine.position(a, ETH)).size).to.equal(0n);
    expect(await w.liquidationEngine.badDebtSocialised()).to.equal(0n);
    expect(await w.liquidationEngine.badDebtPending()).to.equal(plan.badDebt);
    await expectBadDebtAccounted(w);
  });

  it("auto-deleverages ranked opposite-side winners at break-even until the deficit is recovered", async function () {
    const { w, a, bob, carol, flat, late } = await crash();
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    const deficit = await w.liquidationEngine.pendingDeficit(ETH, true);
    expect(deficit).to.be.greaterThan(units(300)); // more than carol's profit: two candidates needed

    await expect(w.liquidationEngine.autoDeleverage(ETH, false, [bob]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "NothingToDeleverage")
      .withArgs(ETH, false);
    await pinNext();
    const ranked = await rankCandidates(w, ETH, [bob, carol]);
    expect(ranked.map((c) => c.id)).to.deep.equal([carol, bob]);
    // wrong order
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [bob, carol]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "AdlCandidatesNotRanked")
      .withArgs(carol, ranked[0].score, ranked[1].score);
    // wrong side (a long), under water (late short), no position (flat): never candidates
    const other = await positionAccount(w, w.alice, 1_000n, ETH, units(1));
    for (const id of [other, late, flat]) {
      await expect(w.liquidationEngine.autoDeleverage(ETH, true, [id]))
        .to.be.revertedWithCustomError(w.liquidationEngine, "NotAnAdlCandidate")
        .withArgs(id, ETH);
    }

    const margins = [await w.vault.marginOf(carol), await w.vault.marginOf(bob), await w.vault.marginOf(flat)];
    const bobSize = (await w.engine.position(bob, ETH)).size;
    const lpAssets = await w.vault.totalAssets();
    // The LP book marks the skew at its closing fill: traders' positions are worth price * S^2 / (2K)
    // more than at the index, so ADL changing the skew moves the book by that term as well.
    const skewPremium = async () => {
      const st = await w.engine.marketState(ETH);
      const cfg = await w.engine.marketConfig(ETH);
      const skew = st.longOpenInterest - st.shortOpenInterest;
      const [price] = await w.oracle.getPriceAndVolatility(cfg.feedId);
      return (skew * ((skew * price) / (2n * cfg.skewScale))) / WAD;
    };
    const premiumBefore = await skewPremium();
    await pinNext();
    const [cs, [cp]] = await w.engine.liquidationSnapshot(carol, PENDING);
    const [bs, [bp]] = await w.engine.liquidationSnapshot(bob, PENDING);
    expect(cp.value).to.be.lessThan(deficit);
    const fromBob = deficit - cp.value;
    const bobClosed = ceilDiv(abs(bobSize) * fromBob, bp.value);
    const tx = w.liquidationEngine.autoDeleverage(ETH, true, [carol, bob]);
    await expect(tx)
      .to.emit(w.liquidationEngine, "AutoDeleveraged")
      .withArgs(ETH, carol, units(4), cp.basis + cp.fundingIndex, cp.value, (cp.value * cs.notional) / cs.equity);
    await expect(tx)
      .to.emit(w.liquidationEngine, "AutoDeleveraged")
      .withArgs(ETH, bob, bobClosed, bp.basis + bp.fundingIndex, fromBob, (bp.value * bs.notional) / bs.equity);
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(0n);
    expect(await w.liquidationEngine.badDebtSocialised()).to.equal(deficit);
    await expectBadDebtAccounted(w);

    // the winners gave up profit, never principal; the flat account lost nothing
    expect(await w.vault.marginOf(carol)).to.equal(margins[0]);
    expect(await w.vault.marginOf(bob)).to.equal(margins[1]);
    expect(await w.vault.marginOf(flat)).to.equal(margins[2]);
    expect((await w.engine.position(carol, ETH)).size).to.equal(0n);
    expect((await w.engine.position(bob, ETH)).size).to.equal(bobSize + bobClosed);
    // the LP pool's book value got the deficit back (and the skew premium's change, see above)
    const premiumChange = (await skewPremium()) - premiumBefore;
    expect(await w.vault.totalAssets()).to.be.closeTo(lpAssets + (deficit - premiumChange) / SCALE, 3n);

    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [bob]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "NothingToDeleverage")
      .withArgs(ETH, true);
  });

  it("bounds auto-deleveraging per market and window (AdlCapacityExhausted), and goes on in the next window", async function () {
    const { w, a, bob, carol } = await crash();
    await w.liquidationEngine.connect(w.keeper).liquidate(a);
    await w.liquidationEngine.connect(w.governor).setAdlConfig({ window: 3_600, maxNotionalPerWindow: 1_000n * WAD });
    const deficit = await w.liquidationEngine.pendingDeficit(ETH, true);
    const t = await pinNext();
    const [, [cp]] = await w.engine.liquidationSnapshot(carol, PENDING);
    const closeAbs = (1_000n * WAD * WAD) / cp.price; // room / price
    const recovered = min(
      deficit,
      mulWadFloorSigned(-closeAbs, cp.price - cp.fundingIndex - cp.basis) -
        mulWadFloorSigned(-closeAbs, cp.basis + cp.fundingIndex - cp.fundingIndex - cp.basis),
    );
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [carol]))
      .to.emit(w.liquidationEngine, "AutoDeleveraged")
      .withArgs(ETH, carol, closeAbs, cp.basis + cp.fundingIndex, recovered, anyUint);
    expect((await w.liquidationEngine.adlWindow(ETH)).used).to.equal(mulWadUp(closeAbs, cp.price));
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(deficit - recovered);
    await expectBadDebtAccounted(w);
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [carol]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "AdlCapacityExhausted")
      .withArgs(ETH, anyUint);
    const ranked = await rankCandidates(w, ETH, [bob, carol]);
    await pinNext(t + 3_600);
    await setPriceWad(w, ETH, 1_900n * WAD); // keep the feed fresh (same price)
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [ranked[0].id])).to.emit(
      w.liquidationEngine,
      "AutoDeleveraged",
    );
    await expectBadDebtAccounted(w);
  });
});

describe("LiquidationEngine: batches and Automation", function () {
  async function mixed() {
    const w = await loadFixture(world);
    const healthy = await positionAccount(w, w.alice, 10_000n, ETH, units(5));
    const sick1 = await positionAccount(w, w.bob, 1_000n, ETH, units(15));
    const closed = await openAccount(w, w.carol, 100n * USDC);
    const sick2 = await positionAccount(w, w.carol, 1_000n, ETH, units(15));
    await setHealths(w, ETH, [
      [sick1, (8n * WAD) / 10n],
      [sick2, (8n * WAD) / 10n],
    ]);
    return { w, healthy, sick1, closed, sick2, unknown: 999n };
  }

  it("liquidates the unhealthy accounts of a batch and skips the others with their status", async function () {
    const { w, healthy, sick1, closed, sick2, unknown } = await mixed();
    const ids = [healthy, unknown, sick1, closed, sick2, sick1];
    await pinNext();
    expect(await w.liquidationEngine.liquidateBatch.staticCall(ids, PENDING)).to.equal(2n);
    const tx = w.liquidationEngine.connect(w.keeper).liquidateBatch(ids);
    await expect(tx).to.emit(w.liquidationEngine, "LiquidationSkipped").withArgs(healthy, Status.Healthy);
    await expect(tx).to.emit(w.liquidationEngine, "LiquidationSkipped").withArgs(unknown, Status.SnapshotFailed);
    await expect(tx).to.emit(w.liquidationEngine, "LiquidationSkipped").withArgs(closed, Status.NoPositions);
    await expect(tx).to.emit(w.liquidationEngine, "LiquidationSkipped").withArgs(sick1, Status.CoolingDown);
    const { legs } = parseLiquidation(w, await receipt(tx));
    expect(legs.length).to.equal(2);
    expect((await w.engine.position(sick1, ETH)).size).to.equal(units(15) - units(15) / 4n);
    expect((await w.engine.position(sick2, ETH)).size).to.equal(units(15) - units(15) / 4n);
    expect((await w.engine.position(healthy, ETH)).size).to.equal(units(5));

    const many = Array.from({ length: 101 }, () => healthy);
    await expect(w.liquidationEngine.liquidateBatch(many))
      .to.be.revertedWithCustomError(w.liquidationEngine, "BatchTooLarge")
      .withArgs(101, 100);
  });

  it("checkUpkeep returns exactly the liquidatable accounts of the page; performUpkeep re-checks its input", async function () {
    const { w, healthy, sick1, sick2 } = await mixed();
    const page = (first: bigint, count: bigint) => abi.encode(["uint256", "uint256"], [first, count]);
    await pinNext();
    const [needed, data] = await w.automation.checkUpkeep(page(0n, 100n), PENDING);
    expect(needed).to.equal(true);
    expect(abi.decode(["uint256[]"], data)[0]).to.deep.equal([sick1, sick2]);
    expect(await w.liquidationEngine.liquidatableAccounts(1, 100, PENDING)).to.deep.equal([sick1, sick2]);
    expect(await w.liquidationEngine.liquidatableAccounts(sick1 + 1n, 100, PENDING)).to.deep.equal([sick2]);
    expect(await w.liquidationEngine.liquidatableAccounts(1, 1, PENDING)).to.deep.equal([]); // [1, 2): healthy only
    const [none] = await w.automation.checkUpkeep(page(healthy, 1n), PENDING);
    expect(none).to.equal(false);

    // a forged performData naming a healthy account: skipped, the rest liquidated
    const forged = abi.encode(["uint256[]"], [[healthy, sick1, sick2]]);
    const tx = w.automation.connect(w.keeper).performUpkeep(forged);
    await expect(tx).to.emit(w.liquidationEngine, "LiquidationSkipped").withArgs(healthy, Status.Healthy);
    const { legs } = parseLiquidation(w, await receipt(tx));
    expect(legs.map((l) => l.sizeDelta)).to.deep.equal([-units(15) / 4n, -units(15) / 4n]);
    // cooling down now: nothing to do
    const [after, afterData] = await w.automation.checkUpkeep(page(1n, 100n));
    expect(after).to.equal(false);
    expect(abi.decode(["uint256[]"], afterData)[0]).to.deep.equal([]);
  });

  it("prices a market the batch has not priced yet: an account in two markets after one in one market goes as previewed", async function () {
    const w = await loadFixture(world);
    // the first account holds ETH only (the batch's price cache then holds ETH alone); the second holds
    // ETH and BTC, so its BTC price must still be read when its turn comes
    const ethOnly = await positionAccount(w, w.alice, 1_000n, ETH, -units(8));
    const both = await openAccount(w, w.bob, 2_000n * USDC);
    await w.engine.connect(w.bob).modifyPosition(both, ETH, units(10), MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(both, BTC, -units(1), 0n);
    await setPriceWad(w, ETH, 2_100n * WAD);
    await setPriceWad(w, BTC, 32_500n * WAD);
    await pinNext();
    const plans = [
      await w.liquidationEngine.previewLiquidation(ethOnly, PENDING),
      await w.liquidationEngine.previewLiquidation(both, PENDING),
    ];
    expect(plans[0].legs.map((l) => l.marketId)).to.deep.equal([BigInt(ETH)]);
    expect(plans[1].legs.map((l) => l.marketId)).to.deep.equal([BigInt(ETH), BigInt(BTC)]);
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidateBatch([ethOnly, both]));
    const topic = (id: bigint) => "0x" + id.toString(16).padStart(64, "0");
    for (const [i, id] of [ethOnly, both].entries()) {
      const engineAddresses = [await w.engine.getAddress(), await w.vault.getAddress()].map((a) => a.toLowerCase());
      const logs = rc.logs.filter(
        (l) => engineAddresses.includes(l.address.toLowerCase()) && l.topics[1] === topic(id) && l.topics.length > 2,
      );
      expectMatchesPlan(w, plans[i], { logs });
    }
    expect((await w.engine.position(both, BTC)).size).to.equal(-units(1) + plans[1].legs[1].sizeDelta);
  });

  it("measures liquidateBatch of 50 tranches", async function () {
    const w = await loadFixture(world);
    const ids: bigint[] = [];
    const owners = [w.alice, w.bob, w.carol];
    for (let i = 0; i < 50; ++i) ids.push(await positionAccount(w, owners[i % 3], 1_100n, ETH, units(15)));
    await setHealths(
      w,
      ETH,
      ids.map((id) => [id, (8n * WAD) / 10n] as [bigint, bigint]),
    );
    await pinNext();
    expect((await w.liquidationEngine.liquidatableAccounts(1, 100, PENDING)).length).to.equal(50);
    const rc = await receipt(w.liquidationEngine.connect(w.keeper).liquidateBatch(ids, { gasLimit: 16_777_216n }));
    const { legs } = parseLiquidation(w, rc);
    expect(legs.length).to.equal(50);
    console.log(
      `\n    liquidateBatch of 50 tranches: ${rc.gasUsed} gas (${rc.gasUsed / 50n} per tranche); tx cap 16777216`,
    );
    expect(rc.gasUsed).to.be.lessThan(16_777_216n);
  });
});

describe("LiquidationEngine: bad input", function () {
  async function one() {
    const w = await loadFixture(world);
    const a = await positionAccount(w, w.alice, 1_000n, ETH, units(15));
    const closed = await openAccount(w, w.bob, 100n * USDC);
    return { w, a, closed };
  }

  it("refuses a healthy account with AccountHealthy(equity, maintenance) and changes nothing", async function () {
    const { w, a } = await one();
    const before = await snapshotState(w, [a]);
    await pinNext();
    const [s] = await w.engine.liquidationSnapshot(a, PENDING);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(a))
      .to.be.revertedWithCustomError(w.liquidationEngine, "AccountHealthy")
      .withArgs(a, s.equity, s.maintenanceMargin);
    expect(await snapshotState(w, [a])).to.equal(before);
  });

  it("refuses a closed account (NoPositions) and an unknown one (the engine's AccountNotFound)", async function () {
    const { w, closed } = await one();
    await expect(w.liquidationEngine.liquidate(closed))
      .to.be.revertedWithCustomError(w.liquidationEngine, "NoPositions")
      .withArgs(closed);
    await expect(w.liquidationEngine.liquidate(12345))
      .to.be.revertedWithCustomError(w.engine, "AccountNotFound")
      .withArgs(12345);
    await expect(w.liquidationEngine.previewLiquidation(12345))
      .to.be.revertedWithCustomError(w.engine, "AccountNotFound")
      .withArgs(12345);
    await expect(w.liquidationEngine.flag(12345))
      .to.be.revertedWithCustomError(w.engine, "AccountNotFound")
      .withArgs(12345);
  });

  it("never liquidates at a stale price (the oracle's StaleAnswer), skips it in a batch, and resumes with a fresh round", async function () {
    const { w, a } = await one();
    await setHealths(w, ETH, [[a, (8n * WAD) / 10n]]);
    const [, , , updatedAt] = await w.feeds.get(ETH)!.latestRoundData();
    const now = Number(updatedAt) + 3_601;
    await pinNext(now);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(a))
      .to.be.revertedWithCustomError(w.oracle, "StaleAnswer")
      .withArgs(ETH_FEED, updatedAt, 3_600, now);
    await expect(w.liquidationEngine.liquidateBatch([a]))
      .to.emit(w.liquidationEngine, "LiquidationSkipped")
      .withArgs(a, Status.SnapshotFailed);
    expect((await w.engine.position(a, ETH)).size).to.equal(units(15));
    expect(await w.liquidationEngine.liquidatableAccounts(1, 10)).to.deep.equal([]);

    const [, answer] = await w.feeds.get(ETH)!.latestRoundData();
    await w.feeds.get(ETH)!.updateAnswer(answer);
    await expect(w.liquidationEngine.connect(w.keeper).liquidate(a)).to.emit(w.liquidationEngine, "LiquidationSettled");
  });

  it("forceReduce: only the LIQUIDATOR role, and never a trade that adds risk (NotAReduction)", async function () {
    const { w, a, closed } = await one();
    await expect(w.engine.connect(w.stranger).forceReduce(a, ETH, -units(1), 0n))
      .to.be.revertedWithCustomError(w.engine, "AccessControlUnauthorizedAccount")
      .withArgs(w.stranger.address, LIQUIDATOR_ROLE);
    expect(await w.engine.hasRole(LIQUIDATOR_ROLE, await w.liquidationEngine.getAddress())).to.equal(true);
    await w.engine.connect(w.admin).grantRole(LIQUIDATOR_ROLE, w.stranger.address);
    const e = w.engine.connect(w.stranger);
    for (const delta of [units(1), -units(16), 0n]) {
      await expect(e.forceReduce(a, ETH, delta, 0n))
        .to.be.revertedWithCustomError(w.engine, "NotAReduction")
        .withArgs(a, ETH, units(15), delta);
    }
    await expect(e.forceReduce(closed, ETH, -units(1), 0n))
      .to.be.revertedWithCustomError(w.engine, "NotAReduction")
      .withArgs(closed, ETH, 0n, -units(1));
    await expect(e.forceReduce(a, ETH, -units(5), 0n)).to.emit(w.engine, "PositionModified");
    expect((await w.engine.position(a, ETH)).size).to.equal(units(10));
  });
});

describe("LiquidationEngine: governance", function () {
  const n = encodeBytes32String;
  const cfg = async (w: World) => toObject(await w.liquidationEngine.config());
  const rwd = async (w: World) => toObject(await w.liquidationEngine.rewardConfig());

  it("refuses every setter to callers without GOVERNOR and changes nothing", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine.connect(w.stranger);
    const before = [await cfg(w), await rwd(w), toObject(await w.liquidationEngine.adlConfig())];
    for (const call of [
      le.setConfig(await cfg(w)),
      le.setRewardConfig(await rwd(w)),
      le.setAdlConfig({ window: 60, maxNotionalPerWindow: 1n }),
    ]) {
      await expect(call)
        .to.be.revertedWithCustomError(w.liquidationEngine, "AccessControlUnauthorizedAccount")
        .withArgs(w.stranger.address, GOVERNOR_ROLE);
    }
    expect([await cfg(w), await rwd(w), toObject(await w.liquidationEngine.adlConfig())]).to.deep.equal(before);
  });

  it("bounds every Config field: ParameterOutOfBounds one past each bound, accepted at the bound", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine.connect(w.governor);
    // capBypassRatio is bounded by backstopRatio: start from 0 so every backstopRatio in bounds is accepted
    const base = { ...(await cfg(w)), capBypassRatio: 0n };
    await le.setConfig(base);
    const bounds: [keyof typeof base, string, bigint, bigint][] = [
      ["trancheFraction", "trancheFraction", WAD / 20n, WAD],
      ["healthBuffer", "healthBuffer", 0n, WAD],
      ["backstopRatio", "backstopRatio", WAD / 10n, WAD],
      ["penaltyRate", "penaltyRate", 0n, WAD / 20n],
      ["cooldown", "cooldown", 0n, 3_600n],
      ["capacityWindow", "capacityWindow", 1n, 86_400n],
      ["capacityDepthFactor", "capacityDepthFactor", WAD / 1000n, 18n * WAD],
      ["dustNotional", "dustNotional", 0n, 10_000n * WAD],
      ["capBypassRatio", "capBypassRatio", 0n, base.backstopRatio],
    ];
    for (const [field, name, lo, hi] of bounds) {
      if (lo > 0n) {
        await expect(le.setConfig({ ...base, [field]: lo - 1n }))
          .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
          .withArgs(n(name), lo - 1n, lo, hi);
      }
      await expect(le.setConfig({ ...base, [field]: hi + 1n }))
        .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
        .withArgs(n(name), hi + 1n, lo, hi);
      for (const v of [lo, hi]) {
        await expect(le.setConfig({ ...base, [field]: v })).to.emit(w.liquidationEngine, "ConfigSet");
        expect((await cfg(w))[field]).to.equal(v);
      }
      await le.setConfig(base);
    }
  });

  it("stores WAD fields in 1e-6 units: a value that is not a whole unit is refused (ParameterNotInUnits), nothing changes; a whole unit reads back exactly", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine.connect(w.governor);
    const UNIT = 10n ** 12n;
    const config = await cfg(w);
    const reward = await rwd(w);
    // every WAD field, at a value inside its bounds: one wei off a whole unit, then one unit above its default
    const configFields: [keyof typeof config, string][] = [
      ["trancheFraction", "trancheFraction"],
      ["healthBuffer", "healthBuffer"],
      ["backstopRatio", "backstopRatio"],
      ["penaltyRate", "penaltyRate"],
      ["capacityDepthFactor", "capacityDepthFactor"],
      ["dustNotional", "dustNotional"],
      ["capBypassRatio", "capBypassRatio"],
    ];
    for (const [field, name] of configFields) {
      // capBypassRatio is bounded by backstopRatio, which is at its default: step down instead
      const next = field === "capBypassRatio" ? (config[field] as bigint) - UNIT : (config[field] as bigint) + UNIT;
      const off = next + 1n;
      await expect(le.setConfig({ ...config, [field]: off }))
        .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterNotInUnits")
        .withArgs(n(name), off, UNIT);
      expect([await cfg(w), await rwd(w)]).to.deep.equal([config, reward]);
      await expect(le.setConfig({ ...config, [field]: next })).to.emit(w.liquidationEngine, "ConfigSet");
      expect(await cfg(w)).to.deep.equal({ ...config, [field]: next });
      expect(await rwd(w)).to.deep.equal(reward); // dustNotional shares the reward's word
      await le.setConfig(config);
    }
    const rewardFields: [keyof typeof reward, string][] = [
      ["flat", "rewardFlat"],
      ["min", "rewardMin"],
      ["shareOfNotional", "rewardShare"],
      ["max", "rewardMax"],
      ["escalationPerSecond", "escalationPerSecond"],
      ["maxMultiplier", "maxMultiplier"],
    ];
    for (const [field, name] of rewardFields) {
      const next = (reward[field] as bigint) + UNIT;
      const off = next + 1n;
      await expect(le.setRewardConfig({ ...reward, [field]: off }))
        .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterNotInUnits")
        .withArgs(n(name), off, UNIT);
      expect([await cfg(w), await rwd(w)]).to.deep.equal([config, reward]);
      await expect(le.setRewardConfig({ ...reward, [field]: next })).to.emit(w.liquidationEngine, "RewardConfigSet");
      expect(await rwd(w)).to.deep.equal({ ...reward, [field]: next });
      expect(await cfg(w)).to.deep.equal(config); // the dust in the same word is kept
      await le.setRewardConfig(reward);
    }
    // every field at once at the top of its width's bounds reads back exactly (no field spills into the next)
    const top = {
      trancheFraction: WAD,
      healthBuffer: WAD,
      backstopRatio: WAD,
      penaltyRate: WAD / 20n,
      cooldown: 3_600n,
      capacityWindow: 86_400n,
      capacityDepthFactor: 18n * WAD,
      dustNotional: 10_000n * WAD,
      capBypassRatio: WAD,
    };
    const topReward = {
      flat: 10_000n * WAD,
      min: 10_000n * WAD,
      shareOfNotional: WAD / 100n,
      max: 10_000n * WAD,
      escalationPerSecond: WAD / 100n,
      maxMultiplier: 10n * WAD,
    };
    await le.setConfig(top);
    await le.setRewardConfig(topReward);
    expect([await cfg(w), await rwd(w)]).to.deep.equal([top, topReward]);
  });

  it("bounds every RewardConfig field and the AdlConfig", async function () {
    const w = await loadFixture(world);
    const le = w.liquidationEngine.connect(w.governor);
    const base = await rwd(w);
    const bounds: [keyof typeof base, string, bigint, bigint][] = [
      ["max", "rewardMax", 0n, 10_000n * WAD],
      ["flat", "rewardFlat", 0n, 10_000n * WAD],
      ["shareOfNotional", "rewardShare", 0n, WAD / 100n],
      ["escalationPerSecond", "escalationPerSecond", 0n, WAD / 100n],
      ["maxMultiplier", "maxMultiplier", WAD, 10n * WAD],
    ];
    for (const [field, name, lo, hi] of bounds) {
      const at = (v: bigint) => ({ ...base, [field]: v, min: field === "max" ? 0n : base.min });
      if (lo > 0n) {
        await expect(le.setRewardConfig(at(lo - 1n)))
          .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
          .withArgs(n(name), lo - 1n, lo, hi);
      }
      await expect(le.setRewardConfig(at(hi + 1n)))
        .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
        .withArgs(n(name), hi + 1n, lo, hi);
      for (const v of [lo, hi]) {
        await expect(le.setRewardConfig(at(v))).to.emit(w.liquidationEngine, "RewardConfigSet");
        expect((await rwd(w))[field]).to.equal(v);
      }
      await le.setRewardConfig(base);
    }
    // min is bounded by max
    await expect(le.setRewardConfig({ ...base, min: base.max + 1n }))
      .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
      .withArgs(n("rewardMin"), base.max + 1n, 0n, base.max);
    await expect(le.setRewardConfig({ ...base, min: base.max })).to.emit(w.liquidationEngine, "RewardConfigSet");

    const adl = { window: 3_600n, maxNotionalPerWindow: 1_000n * WAD };
    await expect(le.setAdlConfig({ ...adl, window: 0n }))
      .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
      .withArgs(n("adlWindow"), 0n, 1n, 86_400n);
    await expect(le.setAdlConfig({ ...adl, window: 86_401n }))
      .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
      .withArgs(n("adlWindow"), 86_401n, 1n, 86_400n);
    await expect(le.setAdlConfig({ ...adl, maxNotionalPerWindow: 0n }))
      .to.be.revertedWithCustomError(w.liquidationEngine, "ParameterOutOfBounds")
      .withArgs(n("adlMaxNotional"), 0n, 1n, 2n ** 128n - 1n);
    for (const v of [
      { window: 1n, maxNotionalPerWindow: 1n },
      { window: 86_400n, maxNotionalPerWindow: 2n ** 128n - 1n },
    ]) {
      await expect(le.setAdlConfig(v))
        .to.emit(w.liquidationEngine, "AdlConfigSet")
        .withArgs([v.window, v.maxNotionalPerWindow]);
    }
  });
});

// ---------------------------------------------------------------------------------------- shared

const anyUint = (x: bigint) => x >= 0n;
const anyInt = () => true;

/** An ethers struct Result as a plain object (for spreading into a setter's argument). */
function toObject<T>(r: T): T {
  return (r as unknown as Result).toObject() as T;
}

async function expectBadDebtAccounted(w: World) {
  const le = w.liquidationEngine;
  expect(await le.badDebtIncurred()).to.equal(
    (await le.badDebtCovered()) + (await le.badDebtSocialised()) + (await le.badDebtPending()),
  );
}

/** Candidates scored as the engine scores them (value * account notional / equity), best first. */
async function rankCandidates(w: World, market: number, ids: bigint[]) {
  const scored: { id: bigint; score: bigint }[] = [];
  for (const id of ids) {
    const [s, ps] = await w.engine.liquidationSnapshot(id, PENDING);
    const p = ps.find((x) => x.marketId === BigInt(market))!;
    scored.push({ id, score: (p.value * s.notional) / s.equity });
  }
  return scored.sort((x, y) => (y.score > x.score ? 1 : y.score < x.score ? -1 : 0));
}
