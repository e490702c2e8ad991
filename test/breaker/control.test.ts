/**
 * The breaker's state machine and its controls, on a breaker of its own whose triggers are
 * SettableTriggers (test/solidity/helpers/BreakerMocks.sol), so every proposal and every block time
 * is exact: the maximum of the proposals and floors, triggers that revert, escalation and
 * cooldown de-escalation, the guardian's floor, the risk oracle's expiring raise, the governance
 * override; then access control on every admin function of the breaker and the triggers, every
 * bounded setter at and beyond its bounds, and the trigger list.
 */
import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { ZeroAddress, ZeroHash, encodeBytes32String, keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";

import type { CircuitBreaker } from "../../types/ethers-contracts/index.js";
import { WAD } from "../../deploy/params.js";
import { GOVERNOR_ROLE, GUARDIAN_ROLE, RISK_ORACLE_ROLE } from "../../deploy/protocol.js";
import { BTC, ETH } from "../helpers/fixture.js";
import {
  COOLDOWN,
  DEFAULT_POLICIES,
  RISK_ORACLE_MAX_DURATION,
  SOURCE,
  TRIGGER_NAMES,
  deployBreakerWorld,
  deploySettableTrigger,
  deploySoloBreaker,
  levelChanges,
  levelOf,
  runOscillation,
} from "../helpers/breaker.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const field = encodeBytes32String;
const DAY = 86_400n;
const MAX_UINT = 2n ** 256n - 1n;
/** A forecast reference (any non-zero hash). */
const REF = keccak256(toUtf8Bytes("forecast"));

async function controlled() {
  const w = await deployBreakerWorld(ethers);
  const s = [
    await deploySettableTrigger(ethers),
    await deploySettableTrigger(ethers),
    await deploySettableTrigger(ethers),
  ];
  const breaker = await deploySoloBreaker(ethers, w, s);
  await breaker.connect(w.admin).grantRole(RISK_ORACLE_ROLE, w.riskOracle.address);
  return { w, breaker, s };
}

/** Pokes ETH in a block mined exactly at `at`; returns the receipt. */
async function pokeAt(breaker: CircuitBreaker, at: bigint, marketId = ETH) {
  await time.setNextBlockTimestamp(at);
  return (await breaker.poke(marketId)).wait();
}

/** Runs `call` in a block mined exactly at `at`. */
async function callAt<T>(at: bigint, call: () => Promise<T>): Promise<T> {
  await time.setNextBlockTimestamp(at);
  return call();
}

async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

/** proposedLevel as a plain [level, source]. */
async function proposed(breaker: CircuitBreaker, marketId = ETH): Promise<[number, string]> {
  const [level, source] = await breaker.proposedLevel(marketId);
  return [Number(level), source];
}

type Ctx = Awaited<ReturnType<typeof controlled>>;
type Who = "stranger" | "guardian" | "governor" | "riskOracle";

describe("CircuitBreaker: proposals", function () {
  it("takes the highest proposal and names the trigger behind it", async function () {
    const { breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 1);
    await s[1].set(ETH, 3);
    await s[2].set(ETH, 2);
    const [level, source] = await breaker.proposedLevel(ETH);
    expect(level).to.equal(3n);
    expect(source).to.equal(await s[1].getAddress());
    await expect(breaker.poke(ETH))
      .to.emit(breaker, "LevelChanged")
      .withArgs(ETH, 0, 3, SOURCE.Trigger, await s[1].getAddress());
    expect(await levelOf(breaker, ETH)).to.equal(3);
    expect(await breaker.poke.staticCall(ETH)).to.equal(3n);
  });

  it("takes the guardian's or the risk oracle's floor when it is higher than every trigger", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 1);
    await breaker.connect(w.riskOracle).riskOracleRaise(ETH, 2, 3600, REF);
    expect(await proposed(breaker)).to.deep.equal([2, ZeroAddress]);
    await breaker.connect(w.guardian).raiseLevel(ETH, 3);
    expect(await proposed(breaker)).to.deep.equal([3, ZeroAddress]);
    await s[2].set(ETH, 4);
    expect(await proposed(breaker)).to.deep.equal([4, await s[2].getAddress()]);
  });

  it("reads a proposal above 4 as 4", async function () {
    const { breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 9);
    await breaker.poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(4);
  });

  it("keeps markets apart", async function () {
    const { breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 2);
    await s[1].set(BTC, 1);
    await breaker.poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(2);
    expect(await levelOf(breaker, BTC)).to.equal(0);
    await breaker.poke(BTC);
    expect(await levelOf(breaker, BTC)).to.equal(1);
  });

  it("is permissionless", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 1);
    await breaker.connect(w.stranger).poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(1);
  });

  it("a reverting trigger proposes nothing, is reported with TriggerFailed, and does not block poke", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    const broken = await ethers.deployContract("RevertingTrigger");
    await breaker.connect(w.governor).addTrigger(broken);
    await s[2].set(ETH, 2);
    expect(await proposed(breaker)).to.deep.equal([2, await s[2].getAddress()]);
    const tx = breaker.poke(ETH);
    await expect(tx)
      .to.emit(breaker, "TriggerFailed")
      .withArgs(await broken.getAddress(), ETH);
    await expect(tx)
      .to.emit(breaker, "LevelChanged")
      .withArgs(ETH, 0, 2, SOURCE.Trigger, await s[2].getAddress());
  });

  it("poke still succeeds when every trigger reverts", async function () {
    const { w } = await loadFixture(controlled);
    const b1 = await ethers.deployContract("RevertingTrigger");
    const b2 = await ethers.deployContract("RevertingTrigger");
    const breaker = await deploySoloBreaker(ethers, w, [b1, b2]);
    const receipt = await (await breaker.poke(ETH)).wait();
    const failed = receipt!.logs.map((l) => breaker.interface.parseLog(l)).filter((e) => e?.name === "TriggerFailed");
    expect(failed.map((e) => e!.args.trigger)).to.deep.equal([await b1.getAddress(), await b2.getAddress()]);
    expect(await levelOf(breaker, ETH)).to.equal(0);
  });

  it("the deployed triggers that need a feed revert for an unlisted market; poke reports them and goes on", async function () {
    const { w } = await loadFixture(controlled);
    const receipt = await (await w.breaker.poke(7)).wait();
    const failed = receipt!.logs
      .map((l) => w.breaker.interface.parseLog(l))
      .filter((e) => e?.name === "TriggerFailed")
      .map((e) => e!.args.trigger as string);
    expect(failed).to.have.members([w.triggers["price-move"], w.triggers["volatility"], w.triggers["oracle-health"]]);
    expect(await levelOf(w.breaker, 7)).to.equal(0);
  });
});

describe("CircuitBreaker: hysteresis", function () {
  it("escalates at once on poke, and jumps straight to the proposal", async function () {
    const { breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 1);
    const t = (await now()) + 10n;
    await pokeAt(breaker, t);
    await s[0].set(ETH, 4);
    const receipt = await pokeAt(breaker, t + 20n);
    expect(levelChanges(breaker, receipt)).to.deep.equal([
      { from: 1, to: 4, source: SOURCE.Trigger, by: await s[0].getAddress() },
    ]);
    expect((await breaker.marketLevel(ETH)).lastChange).to.equal(t + 20n);
  });

  it("steps down one level per cooldown, each at lastChange + cooldown exactly", async function () {
    const { breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 4);
    const t = (await now()) + 10n;
    await pokeAt(breaker, t);
    await s[0].set(ETH, 0);
    let last = t;
    for (const expected of [3, 2, 1, 0]) {
      const early = await pokeAt(breaker, last + COOLDOWN - 1n);
      expect(levelChanges(breaker, early)).to.deep.equal([]);
      const due = await pokeAt(breaker, last + COOLDOWN);
      expect(levelChanges(breaker, due)).to.deep.equal([
        { from: expected + 1, to: expected, source: SOURCE.Cooldown, by: ZeroAddress },
      ]);
      last += COOLDOWN;
    }
    await pokeAt(breaker, last + 10n * COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(0);
  });

  it("stops stepping down at the proposal, and climbs back at once if it rises", async function () {
    const { breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 4);
    const t = (await now()) + 10n;
    await pokeAt(breaker, t);
    await s[0].set(ETH, 2);
    await pokeAt(breaker, t + COOLDOWN);
    await pokeAt(breaker, t + 2n * COOLDOWN);
    await pokeAt(breaker, t + 5n * COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(2);
    await s[1].set(ETH, 3);
    await pokeAt(breaker, t + 5n * COOLDOWN + 10n);
    expect(await levelOf(breaker, ETH)).to.equal(3);
  });

  it("a proposal that dips below the level within the cooldown does not lower it", async function () {
    const { breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 2);
    const t = (await now()) + 10n;
    await pokeAt(breaker, t);
    for (let i = 1n; i * 300n < COOLDOWN; i++) {
      await s[0].set(ETH, i % 2n === 0n ? 2 : 1);
      await pokeAt(breaker, t + i * 300n);
      expect(await levelOf(breaker, ETH)).to.equal(2);
    }
  });

  it("does not flap while the proposal stays at the level: price swinging 6% / 5.7% around 5%, 4 h", async function () {
    const { w } = await loadFixture(controlled);
    const breaker = await deploySoloBreaker(ethers, w, [w.triggers["price-move"]]);
    // every 5 minutes: 2000, 2120 (+6%), 2000 (-5.66%), ... one level change in 48 pokes
    const run = await runOscillation(w, breaker, time, [2000n, 2120n], 48, 300n);
    expect(run.levels.join("")).to.equal("0" + "1".repeat(47));
    expect(run.changes).to.equal(1);
  });

  it("a proposal that goes away steps down: the same swings, then a calm hour", async function () {
    const { w } = await loadFixture(controlled);
    const breaker = await deploySoloBreaker(ethers, w, [w.triggers["price-move"]]);
    await runOscillation(w, breaker, time, [2000n, 2120n], 12, 300n);
    const calm = await runOscillation(w, breaker, time, [2120n], 24, 300n);
    // the last 6% move leaves the 1 h window after 12 rounds (round 11 is the last poke that still
    // proposes 1); the level steps down a full cooldown (6 rounds) after that poke
    expect(calm.levels.indexOf(0)).to.equal(17);
    expect(calm.changes).to.equal(1);
  });
});

describe("CircuitBreaker: guardian", function () {
  it("raises at once and holds the floor through pokes until governance lowers it", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await expect(breaker.connect(w.guardian).raiseLevel(ETH, 2))
      .to.emit(breaker, "LevelChanged")
      .withArgs(ETH, 0, 2, SOURCE.Guardian, w.guardian.address);
    expect((await breaker.marketLevel(ETH)).guardianLevel).to.equal(2n);
    let t = (await now()) + 10n;
    for (let i = 0; i < 6; i++) {
      await pokeAt(breaker, t);
      t += COOLDOWN;
    }
    expect(await levelOf(breaker, ETH)).to.equal(2);
    // triggers go above the floor, then calm: back down to the floor, not below
    await s[0].set(ETH, 4);
    await pokeAt(breaker, t);
    await s[0].set(ETH, 0);
    for (let i = 1n; i <= 6n; i++) await pokeAt(breaker, t + i * COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(2);
    await expect(breaker.connect(w.governor).overrideLevel(ETH, 0, 0))
      .to.emit(breaker, "LevelChanged")
      .withArgs(ETH, 2, 0, SOURCE.Governance, w.governor.address);
    expect((await breaker.marketLevel(ETH)).guardianLevel).to.equal(0n);
    await breaker.poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(0);
  });

  it("the floor raised from a poke is named as the guardian's", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 3);
    await breaker.poke(ETH);
    // a floor below the level in force records the floor without moving the level
    await expect(breaker.connect(w.guardian).raiseLevel(ETH, 2))
      .to.emit(breaker, "LevelChanged")
      .withArgs(ETH, 3, 3, SOURCE.Guardian, w.guardian.address);
    await s[0].set(ETH, 0);
    const t = (await now()) + COOLDOWN + 10n;
    await pokeAt(breaker, t);
    await pokeAt(breaker, t + COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(2);
  });

  it("can only raise: GuardianCanOnlyRaise for the same or a lower level; UnknownLevel above 4", async function () {
    const { w, breaker } = await loadFixture(controlled);
    await breaker.connect(w.guardian).raiseLevel(ETH, 2);
    await expect(breaker.connect(w.guardian).raiseLevel(ETH, 2))
      .to.be.revertedWithCustomError(breaker, "GuardianCanOnlyRaise")
      .withArgs(ETH, 2, 2);
    await expect(breaker.connect(w.guardian).raiseLevel(ETH, 1))
      .to.be.revertedWithCustomError(breaker, "GuardianCanOnlyRaise")
      .withArgs(ETH, 2, 1);
    await expect(breaker.connect(w.guardian).raiseLevel(ETH, 0))
      .to.be.revertedWithCustomError(breaker, "GuardianCanOnlyRaise")
      .withArgs(ETH, 2, 0);
    await expect(breaker.connect(w.guardian).raiseLevel(ETH, 5))
      .to.be.revertedWithCustomError(breaker, "UnknownLevel")
      .withArgs(5);
    await expect(breaker.connect(w.guardian).overrideLevel(ETH, 0, 0))
      .to.be.revertedWithCustomError(breaker, "AccessControlUnauthorizedAccount")
      .withArgs(w.guardian.address, GOVERNOR_ROLE);
    await breaker.connect(w.guardian).raiseLevel(ETH, 4);
    expect(await levelOf(breaker, ETH)).to.equal(4);
  });

  it("a floor at the level triggers set is accepted once, then refused", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 3);
    await breaker.poke(ETH);
    await breaker.connect(w.guardian).raiseLevel(ETH, 3);
    await expect(breaker.connect(w.guardian).raiseLevel(ETH, 3))
      .to.be.revertedWithCustomError(breaker, "GuardianCanOnlyRaise")
      .withArgs(ETH, 3, 3);
  });
});

describe("CircuitBreaker: risk oracle", function () {
  it("raises up to riskOracleMaxLevel (2): RiskOracleLevelTooHigh above", async function () {
    const { w, breaker } = await loadFixture(controlled);
    await expect(breaker.connect(w.riskOracle).riskOracleRaise(ETH, 3, 3600, REF))
      .to.be.revertedWithCustomError(breaker, "RiskOracleLevelTooHigh")
      .withArgs(3, 2);
    const t = (await now()) + 10n;
    const tx = await callAt(t, () => breaker.connect(w.riskOracle).riskOracleRaise(ETH, 2, 3600, REF));
    await expect(tx)
      .to.emit(breaker, "RiskOracleRaise")
      .withArgs(ETH, 2, t + 3600n, REF, 0);
    await expect(tx).to.emit(breaker, "LevelChanged").withArgs(ETH, 0, 2, SOURCE.RiskOracle, w.riskOracle.address);
  });

  it("bounds the duration: 0 and 6 h + 1 refused, 1 s and 6 h accepted", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const oracle = breaker.connect(w.riskOracle);
    await expect(oracle.riskOracleRaise(ETH, 1, 0, REF))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("duration"), 0, 1, RISK_ORACLE_MAX_DURATION);
    await expect(oracle.riskOracleRaise(ETH, 1, RISK_ORACLE_MAX_DURATION + 1n, REF))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("duration"), RISK_ORACLE_MAX_DURATION + 1n, 1, RISK_ORACLE_MAX_DURATION);
    await oracle.riskOracleRaise(ETH, 1, 1, REF);
    await oracle.riskOracleRaise(BTC, 1, RISK_ORACLE_MAX_DURATION, REF);
  });

  it("expires by itself: held until expiry, then one step down per cooldown", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const t = (await now()) + 10n;
    await callAt(t, () => breaker.connect(w.riskOracle).riskOracleRaise(ETH, 2, 3600, REF));
    await pokeAt(breaker, t + COOLDOWN);
    await pokeAt(breaker, t + 3599n);
    expect(await levelOf(breaker, ETH)).to.equal(2);
    // expired at t + 3600, but the floor still held the level at the poke of t + 3599: the cooldown
    // counts from that poke
    const expired = await pokeAt(breaker, t + 3600n);
    expect(levelChanges(breaker, expired)).to.deep.equal([]);
    const due = await pokeAt(breaker, t + 3599n + COOLDOWN);
    expect(levelChanges(breaker, due)).to.deep.equal([{ from: 2, to: 1, source: SOURCE.Cooldown, by: ZeroAddress }]);
    await pokeAt(breaker, t + 3599n + 2n * COOLDOWN - 1n);
    expect(await levelOf(breaker, ETH)).to.equal(1);
    await pokeAt(breaker, t + 3599n + 2n * COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(0);
  });

  it("a raise shorter than the cooldown still holds the level a full cooldown", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const t = (await now()) + 10n;
    await callAt(t, () => breaker.connect(w.riskOracle).riskOracleRaise(ETH, 1, 600, REF));
    await pokeAt(breaker, t + 600n);
    expect(await levelOf(breaker, ETH)).to.equal(1);
    await pokeAt(breaker, t + COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(0);
  });

  it("a raise below the level in force records the floor without moving the level", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 3);
    await breaker.poke(ETH);
    const tx = breaker.connect(w.riskOracle).riskOracleRaise(ETH, 2, 7200, REF);
    await expect(tx).to.emit(breaker, "RiskOracleRaise");
    await expect(tx).not.to.emit(breaker, "LevelChanged");
    await s[0].set(ETH, 0);
    const t = (await now()) + COOLDOWN + 10n;
    await pokeAt(breaker, t);
    await pokeAt(breaker, t + COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(2);
  });

  it("setRiskOracleBounds: maxLevel 0..4, maxDuration 1 s..1 day, and the oracle follows them", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const gov = breaker.connect(w.governor);
    await expect(gov.setRiskOracleBounds(5, 3600))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("riskOracleMaxLevel"), 5, 0, 4);
    await expect(gov.setRiskOracleBounds(2, 0))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("riskOracleMaxDuration"), 0, 1, DAY);
    await expect(gov.setRiskOracleBounds(2, DAY + 1n))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("riskOracleMaxDuration"), DAY + 1n, 1, DAY);
    await expect(gov.setRiskOracleBounds(4, DAY)).to.emit(breaker, "RiskOracleBoundsSet").withArgs(4, DAY);
    await breaker.connect(w.riskOracle).riskOracleRaise(ETH, 4, DAY, REF);
    expect(await levelOf(breaker, ETH)).to.equal(4);
    await gov.setRiskOracleBounds(0, 1);
    await expect(breaker.connect(w.riskOracle).riskOracleRaise(BTC, 1, 1, REF))
      .to.be.revertedWithCustomError(breaker, "RiskOracleLevelTooHigh")
      .withArgs(1, 0);
    await expect(breaker.connect(w.riskOracle).riskOracleRaise(BTC, 0, 2, REF))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("duration"), 2, 1, 1);
  });
});

describe("CircuitBreaker: risk oracle cadence (minimum delay, renewal cap, reference)", function () {
  const MIN_DELAY = 30n * 60n;

  it("refuses a second raise of a market within the minimum delay, with the time it is next allowed", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const oracle = breaker.connect(w.riskOracle);
    const t = (await now()) + 10n;
    await callAt(t, () => oracle.riskOracleRaise(ETH, 1, 3600, REF));
    await time.setNextBlockTimestamp(t + MIN_DELAY - 1n);
    await expect(oracle.riskOracleRaise(ETH, 2, 3600, REF))
      .to.be.revertedWithCustomError(breaker, "RiskOracleTooSoon")
      .withArgs(ETH, t + MIN_DELAY);
    // another market is not held back, and nothing changed on the refused one
    await oracle.riskOracleRaise(BTC, 1, 3600, REF);
    expect((await breaker.marketLevel(ETH)).riskOracleLevel).to.equal(1n);
    const tx = await callAt(t + MIN_DELAY, () => oracle.riskOracleRaise(ETH, 2, 3600, REF));
    await expect(tx)
      .to.emit(breaker, "RiskOracleRaise")
      .withArgs(ETH, 2, t + MIN_DELAY + 3600n, REF, 1);
  });

  it("caps back-to-back renewals at riskOracleMaxRenewals (3); after a lapse of a minimum delay it counts from 0", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const oracle = breaker.connect(w.riskOracle);
    const t = (await now()) + 10n;
    for (let i = 0n; i <= 3n; i++) {
      const tx = await callAt(t + i * 3600n, () => oracle.riskOracleRaise(ETH, 2, 7200, REF));
      await expect(tx)
        .to.emit(breaker, "RiskOracleRaise")
        .withArgs(ETH, 2, t + i * 3600n + 7200n, REF, i);
    }
    // the fourth renewal: the floor expires at t + 3 h + 2 h
    await time.setNextBlockTimestamp(t + 4n * 3600n);
    await expect(oracle.riskOracleRaise(ETH, 2, 7200, REF))
      .to.be.revertedWithCustomError(breaker, "RiskOracleRenewalsExhausted")
      .withArgs(ETH, 4, 3);
    const expiry = t + 3n * 3600n + 7200n;
    // expired, but not yet a minimum delay ago: still back to back
    await time.setNextBlockTimestamp(expiry + MIN_DELAY - 1n);
    await expect(oracle.riskOracleRaise(ETH, 2, 7200, REF)).to.be.revertedWithCustomError(
      breaker,
      "RiskOracleRenewalsExhausted",
    );
    const tx = await callAt(expiry + MIN_DELAY, () => oracle.riskOracleRaise(ETH, 2, 7200, REF));
    await expect(tx)
      .to.emit(breaker, "RiskOracleRaise")
      .withArgs(ETH, 2, expiry + MIN_DELAY + 7200n, REF, 0);
    expect((await breaker.marketLevel(ETH)).riskOracleRenewals).to.equal(0n);
  });

  it("needs a non-zero reference, and the event carries it", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const oracle = breaker.connect(w.riskOracle);
    await expect(oracle.riskOracleRaise(ETH, 1, 60, ZeroHash)).to.be.revertedWithCustomError(
      breaker,
      "RiskOracleReferenceMissing",
    );
    const ref = keccak256(toUtf8Bytes("inputs of round 42"));
    await expect(oracle.riskOracleRaise(ETH, 1, 60, ref))
      .to.emit(breaker, "RiskOracleRaise")
      .withArgs(ETH, 1, anyValue, ref, 0);
  });

  it("a governance override resets the renewal count (the minimum delay still holds)", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const oracle = breaker.connect(w.riskOracle);
    const t = (await now()) + 10n;
    await callAt(t, () => oracle.riskOracleRaise(ETH, 2, 7200, REF));
    await callAt(t + MIN_DELAY, () => oracle.riskOracleRaise(ETH, 2, 7200, REF));
    await callAt(t + MIN_DELAY + 1n, () => breaker.connect(w.governor).overrideLevel(ETH, 0, 0));
    expect((await breaker.marketLevel(ETH)).riskOracleRenewals).to.equal(0n);
    await time.setNextBlockTimestamp(t + 2n * MIN_DELAY - 1n);
    await expect(oracle.riskOracleRaise(ETH, 1, 60, REF)).to.be.revertedWithCustomError(breaker, "RiskOracleTooSoon");
    const tx = await callAt(t + 2n * MIN_DELAY, () => oracle.riskOracleRaise(ETH, 1, 60, REF));
    await expect(tx).to.emit(breaker, "RiskOracleRaise").withArgs(ETH, 1, anyValue, REF, 0);
  });

  it("setRiskOracleCadence: minDelay 1 min..6 h, maxRenewals 0..8, emits, and the oracle follows", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const gov = breaker.connect(w.governor);
    await expect(gov.setRiskOracleCadence(59, 3))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("riskOracleMinDelay"), 59, 60, 21_600);
    await expect(gov.setRiskOracleCadence(21_601, 3))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("riskOracleMinDelay"), 21_601, 60, 21_600);
    await expect(gov.setRiskOracleCadence(60, 9))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("riskOracleMaxRenewals"), 9, 0, 8);
    expect([await breaker.riskOracleMinDelay(), await breaker.riskOracleMaxRenewals()]).to.deep.equal([1800n, 3n]);
    await expect(gov.setRiskOracleCadence(60, 0)).to.emit(breaker, "RiskOracleCadenceSet").withArgs(60, 0);
    const oracle = breaker.connect(w.riskOracle);
    const t = (await now()) + 10n;
    await callAt(t, () => oracle.riskOracleRaise(ETH, 1, 3600, REF));
    await time.setNextBlockTimestamp(t + 60n);
    await expect(oracle.riskOracleRaise(ETH, 1, 3600, REF))
      .to.be.revertedWithCustomError(breaker, "RiskOracleRenewalsExhausted")
      .withArgs(ETH, 1, 0);
  });
});

describe("CircuitBreaker: governance override", function () {
  it("sets the level below the triggers and caps their escalation until it expires", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 4);
    await breaker.poke(ETH);
    const t = (await now()) + 10n;
    const tx = await callAt(t, () => breaker.connect(w.governor).overrideLevel(ETH, 1, 7200));
    await expect(tx)
      .to.emit(breaker, "GovernanceOverride")
      .withArgs(ETH, 1, t + 7200n);
    await expect(tx).to.emit(breaker, "LevelChanged").withArgs(ETH, 4, 1, SOURCE.Governance, w.governor.address);
    expect(await proposed(breaker)).to.deep.equal([1, await s[0].getAddress()]);
    for (const dt of [1n, COOLDOWN, 3600n, 7199n]) {
      await pokeAt(breaker, t + dt);
      expect(await levelOf(breaker, ETH), `at +${dt}`).to.equal(1);
    }
    const expired = await pokeAt(breaker, t + 7200n);
    expect(levelChanges(breaker, expired)).to.deep.equal([
      { from: 1, to: 4, source: SOURCE.Trigger, by: await s[0].getAddress() },
    ]);
  });

  it("is a cap, not a floor: an override up to 4 steps down after a cooldown when nothing proposes 4", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const t = (await now()) + 10n;
    await callAt(t, () => breaker.connect(w.governor).overrideLevel(ETH, 4, Number(DAY)));
    await pokeAt(breaker, t + COOLDOWN - 1n);
    expect(await levelOf(breaker, ETH)).to.equal(4);
    await pokeAt(breaker, t + COOLDOWN);
    expect(await levelOf(breaker, ETH)).to.equal(3);
  });

  it("clears the guardian's and the risk oracle's floors; caps only the triggers", async function () {
    const { w, breaker } = await loadFixture(controlled);
    await breaker.connect(w.guardian).raiseLevel(ETH, 3);
    await breaker.connect(w.riskOracle).riskOracleRaise(ETH, 2, 7200, REF);
    await breaker.connect(w.governor).overrideLevel(ETH, 0, 3600);
    const m = await breaker.marketLevel(ETH);
    expect([m.level, m.guardianLevel, m.riskOracleLevel, m.riskOracleExpiry]).to.deep.equal([0n, 0n, 0n, 0n]);
    await breaker.poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(0);
    // the guardian may still raise during an override
    await breaker.connect(w.guardian).raiseLevel(ETH, 2);
    await breaker.poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(2);
  });

  it("duration 0 ends an override: the next poke escalates again", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    await s[0].set(ETH, 3);
    await breaker.connect(w.governor).overrideLevel(ETH, 0, 3600);
    await breaker.poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(0);
    await breaker.connect(w.governor).overrideLevel(ETH, 0, 0);
    await breaker.poke(ETH);
    expect(await levelOf(breaker, ETH)).to.equal(3);
  });

  it("bounds: level above 4 is UnknownLevel, duration above 1 day is refused, 1 day accepted", async function () {
    const { w, breaker } = await loadFixture(controlled);
    const gov = breaker.connect(w.governor);
    await expect(gov.overrideLevel(ETH, 5, 0))
      .to.be.revertedWithCustomError(breaker, "UnknownLevel")
      .withArgs(5);
    await expect(gov.overrideLevel(ETH, 1, DAY + 1n))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("duration"), DAY + 1n, 0, DAY);
    await gov.overrideLevel(ETH, 4, DAY);
    expect(await levelOf(breaker, ETH)).to.equal(4);
  });
});

describe("CircuitBreaker: cooldown setter and construction", function () {
  it("setDeescalationCooldown: 59 s and 1 day + 1 refused, 60 s and 1 day accepted, and used", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    const gov = breaker.connect(w.governor);
    await expect(gov.setDeescalationCooldown(59))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("deescalationCooldown"), 59, 60, DAY);
    await expect(gov.setDeescalationCooldown(DAY + 1n))
      .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
      .withArgs(field("deescalationCooldown"), DAY + 1n, 60, DAY);
    await expect(gov.setDeescalationCooldown(DAY)).to.emit(breaker, "DeescalationCooldownSet").withArgs(DAY);
    await expect(gov.setDeescalationCooldown(60)).to.emit(breaker, "DeescalationCooldownSet").withArgs(60);
    await s[0].set(ETH, 2);
    const t = (await now()) + 10n;
    await pokeAt(breaker, t);
    await s[0].set(ETH, 0);
    await pokeAt(breaker, t + 59n);
    expect(await levelOf(breaker, ETH)).to.equal(2);
    await pokeAt(breaker, t + 60n);
    expect(await levelOf(breaker, ETH)).to.equal(1);
  });

  it("announces its defaults when deployed and refuses a zero address", async function () {
    const { w } = await loadFixture(controlled);
    const factory = await ethers.getContractFactory("CircuitBreaker");
    const breaker = (await factory.deploy(
      w.admin.address,
      w.governor.address,
      w.guardian.address,
    )) as unknown as CircuitBreaker;
    const tx = breaker.deploymentTransaction()!;
    await expect(tx).to.emit(breaker, "DeescalationCooldownSet").withArgs(COOLDOWN);
    await expect(tx).to.emit(breaker, "RiskOracleBoundsSet").withArgs(2, RISK_ORACLE_MAX_DURATION);
    await expect(tx)
      .to.emit(breaker, "RiskOracleCadenceSet")
      .withArgs(30 * 60, 3);
    for (let lv = 0; lv < 5; lv++) {
      const p = DEFAULT_POLICIES[lv];
      await expect(tx)
        .to.emit(breaker, "PolicySet")
        .withArgs(lv, [p.feeMultiplier, p.imMultiplier, p.maxLeverage, p.newRiskAllowed, p.tradingOpen]);
    }
    for (const args of [
      [ZeroAddress, w.governor.address, w.guardian.address],
      [w.admin.address, ZeroAddress, w.guardian.address],
      [w.admin.address, w.governor.address, ZeroAddress],
    ]) {
      await expect(factory.deploy(args[0], args[1], args[2]))
        .to.be.revertedWithCustomError(breaker, "ParameterOutOfBounds")
        .withArgs(field("address"), 0, 1, 2n ** 160n - 1n);
    }
  });
});

describe("CircuitBreaker: the trigger list", function () {
  it("the deployment registers the five triggers by name", async function () {
    const { w } = await loadFixture(controlled);
    expect(await w.breaker.triggers()).to.deep.equal(TRIGGER_NAMES.map((n) => w.triggers[n]));
    for (const n of TRIGGER_NAMES) {
      const t = await ethers.getContractAt("ITrigger", w.triggers[n]);
      expect(await t.name()).to.equal(n);
    }
  });

  it("addTrigger emits TriggerAdded; refuses duplicates, addresses without code, and a ninth", async function () {
    const { w } = await loadFixture(controlled);
    const gov = w.breaker.connect(w.governor);
    const extra = [];
    for (let i = 0; i < 3; i++) {
      const t = await deploySettableTrigger(ethers);
      await expect(gov.addTrigger(t))
        .to.emit(w.breaker, "TriggerAdded")
        .withArgs(await t.getAddress(), "settable");
      extra.push(t);
    }
    expect((await w.breaker.triggers()).length).to.equal(8);
    await expect(gov.addTrigger(extra[0])).to.be.revertedWithCustomError(w.breaker, "TooManyTriggers").withArgs(8);
    await gov.removeTrigger(extra[2]);
    await expect(gov.addTrigger(extra[0]))
      .to.be.revertedWithCustomError(w.breaker, "TriggerAlreadyAdded")
      .withArgs(await extra[0].getAddress());
    await expect(gov.addTrigger(w.stranger.address))
      .to.be.revertedWithCustomError(w.breaker, "TriggerNotFound")
      .withArgs(w.stranger.address);
    const ninth = await deploySettableTrigger(ethers);
    await gov.addTrigger(ninth);
    await expect(gov.addTrigger(extra[2])).to.be.revertedWithCustomError(w.breaker, "TooManyTriggers");
  });

  it("removeTrigger emits TriggerRemoved, drops its proposals, and refuses an unknown trigger", async function () {
    const { w, breaker, s } = await loadFixture(controlled);
    const gov = breaker.connect(w.governor);
    await s[0].set(ETH, 3);
    await expect(gov.removeTrigger(s[0]))
      .to.emit(breaker, "TriggerRemoved")
      .withArgs(await s[0].getAddress());
    expect(await breaker.triggers()).to.have.members([await s[1].getAddress(), await s[2].getAddress()]);
    expect((await breaker.proposedLevel(ETH))[0]).to.equal(0n);
    await expect(gov.removeTrigger(s[0]))
      .to.be.revertedWithCustomError(breaker, "TriggerNotFound")
      .withArgs(await s[0].getAddress());
  });
});

describe("Breaker and triggers: access control", function () {
  type Call = { what: string; run: (c: Ctx, as: Who) => Promise<unknown>; role: string; refused: Who[] };
  const thresholds = (t: bigint[]) => t as [bigint, bigint, bigint, bigint];
  const calls: Call[] = [
    {
      what: "breaker.raiseLevel",
      role: GUARDIAN_ROLE,
      refused: ["stranger", "governor", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).raiseLevel(ETH, 1),
    },
    {
      what: "breaker.riskOracleRaise",
      role: RISK_ORACLE_ROLE,
      refused: ["stranger", "guardian", "governor"],
      run: (c, as) => c.breaker.connect(c.w[as]).riskOracleRaise(ETH, 1, 60, REF),
    },
    {
      what: "breaker.overrideLevel",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).overrideLevel(ETH, 0, 0),
    },
    {
      what: "breaker.setPolicies",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).setPolicies(DEFAULT_POLICIES),
    },
    {
      what: "breaker.addTrigger",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).addTrigger(c.w.triggers["volatility"]),
    },
    {
      what: "breaker.removeTrigger",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).removeTrigger(c.s[0]),
    },
    {
      what: "breaker.setDeescalationCooldown",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).setDeescalationCooldown(600),
    },
    {
      what: "breaker.setRiskOracleBounds",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).setRiskOracleBounds(1, 60),
    },
    {
      what: "breaker.setRiskOracleCadence",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian", "riskOracle"],
      run: (c, as) => c.breaker.connect(c.w[as]).setRiskOracleCadence(120, 2),
    },
    {
      what: "breaker.grantRole",
      role: ethers.ZeroHash,
      refused: ["stranger", "guardian", "governor"],
      run: (c, as) => c.breaker.connect(c.w[as]).grantRole(GUARDIAN_ROLE, c.w.stranger.address),
    },
  ];
  for (const name of TRIGGER_NAMES) {
    // every trigger shares ThresholdTrigger's setters; the PriceMoveTrigger ABI has them all
    const trigger = (c: Ctx, as: Who) => ethers.getContractAt("PriceMoveTrigger", c.w.triggers[name], c.w[as]);
    calls.push(
      {
        what: `${name}.setMaxLevel`,
        role: GOVERNOR_ROLE,
        refused: ["stranger", "guardian"],
        run: async (c, as) => (await trigger(c, as)).setMaxLevel(2),
      },
      {
        what: `${name}.setDefaultThresholds`,
        role: GOVERNOR_ROLE,
        refused: ["stranger", "guardian"],
        run: async (c, as) => (await trigger(c, as)).setDefaultThresholds(thresholds([1n, 2n, 3n, 4n])),
      },
      {
        what: `${name}.setMarketThresholds`,
        role: GOVERNOR_ROLE,
        refused: ["stranger", "guardian"],
        run: async (c, as) => (await trigger(c, as)).setMarketThresholds(ETH, thresholds([1n, 2n, 3n, 4n])),
      },
    );
  }
  calls.push(
    {
      what: "price-move.setWindow",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian"],
      run: async (c, as) =>
        (await ethers.getContractAt("PriceMoveTrigger", c.w.triggers["price-move"], c.w[as])).setWindow(600, 10),
    },
    {
      what: "oracle-health.setStaleLevel",
      role: GOVERNOR_ROLE,
      refused: ["stranger", "guardian"],
      run: async (c, as) =>
        (await ethers.getContractAt("OracleHealthTrigger", c.w.triggers["oracle-health"], c.w[as])).setStaleLevel(2),
    },
  );

  for (const call of calls) {
    it(`${call.what} refuses ${call.refused.join(", ")} with AccessControlUnauthorizedAccount`, async function () {
      const c = await loadFixture(controlled);
      const before = await state(c);
      for (const as of call.refused) {
        await expect(call.run(c, as))
          .to.be.revertedWithCustomError(c.breaker, "AccessControlUnauthorizedAccount")
          .withArgs(c.w[as].address, call.role);
      }
      expect(await state(c)).to.equal(before);
    });
  }

  /** Everything the refused calls could have changed. */
  async function state(c: Ctx): Promise<string> {
    const parts: unknown[] = [];
    for (const b of [c.breaker, c.w.breaker]) {
      parts.push(
        [...(await b.marketLevel(ETH))],
        await b.triggers(),
        await b.deescalationCooldown(),
        await b.riskOracleMaxLevel(),
        await b.riskOracleMaxDuration(),
        await b.hasRole(GUARDIAN_ROLE, c.w.stranger.address),
      );
      for (let lv = 0; lv < 5; lv++) parts.push([...(await b.policy(lv))]);
    }
    for (const name of TRIGGER_NAMES) {
      const t = await ethers.getContractAt("PriceMoveTrigger", c.w.triggers[name]);
      parts.push(await t.maxLevel(), [...(await t.thresholds(ETH))], [...(await t.thresholds(BTC))]);
    }
    const pm = await ethers.getContractAt("PriceMoveTrigger", c.w.triggers["price-move"]);
    const oh = await ethers.getContractAt("OracleHealthTrigger", c.w.triggers["oracle-health"]);
    parts.push(await pm.window(), await pm.maxRounds(), await oh.staleLevel());
    return JSON.stringify(parts, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  }
});

describe("Triggers: bounded setters", function () {
  const bounds: Record<string, { lo: bigint; hi: bigint; higherIsWorse: boolean; defaults: bigint[] }> = {
    "price-move": {
      lo: WAD / 1000n,
      hi: WAD,
      higherIsWorse: true,
      defaults: [5n, 10n, 20n, 30n].map((x) => (x * WAD) / 100n),
    },
    volatility: {
      lo: WAD / 20n,
      hi: 50n * WAD,
      higherIsWorse: true,
      defaults: [(12n * WAD) / 10n, 2n * WAD, 3n * WAD, 5n * WAD],
    },
    "oracle-health": {
      lo: WAD / 1000n,
      hi: WAD,
      higherIsWorse: true,
      defaults: [3n, 6n, 10n, 15n].map((x) => (x * WAD) / 100n),
    },
    "liquidation-pressure": {
      lo: WAD / 10_000n,
      hi: 10n * WAD,
      higherIsWorse: true,
      defaults: [5n, 10n, 20n, 40n].map((x) => (x * WAD) / 1000n),
    },
    "insurance-coverage": {
      lo: WAD / 100n,
      hi: 100n * WAD,
      higherIsWorse: false,
      defaults: [2n * WAD, WAD, WAD / 2n, WAD / 4n],
    },
  };
  const maxLevels: Record<string, number> = {
    "price-move": 4,
    volatility: 3,
    "oracle-health": 4,
    "liquidation-pressure": 3,
    "insurance-coverage": 2,
  };

  for (const name of TRIGGER_NAMES) {
    const b = bounds[name];
    const ordered = (lowEnd: bigint, highEnd: bigint) => {
      const t = [lowEnd, lowEnd + 1n, highEnd - 1n, highEnd];
      return (b.higherIsWorse ? t : t.reverse()) as [bigint, bigint, bigint, bigint];
    };

    it(`${name}: defaults, maxLevel ${maxLevels[name]}, and thresholds within [${b.lo}, ${b.hi}] only`, async function () {
      const { w } = await loadFixture(controlled);
      const t = (await ethers.getContractAt("PriceMoveTrigger", w.triggers[name])).connect(w.governor);
      expect([...(await t.thresholds(ETH))]).to.deep.equal(b.defaults);
      expect(await t.maxLevel()).to.equal(BigInt(maxLevels[name]));
      await expect(t.setDefaultThresholds(ordered(b.lo - 1n, b.hi)))
        .to.be.revertedWithCustomError(t, "ParameterOutOfBounds")
        .withArgs(field("threshold"), b.lo - 1n, b.lo, b.hi);
      await expect(t.setMarketThresholds(ETH, ordered(b.lo, b.hi + 1n)))
        .to.be.revertedWithCustomError(t, "ParameterOutOfBounds")
        .withArgs(field("threshold"), b.hi + 1n, b.lo, b.hi);
      const edge = ordered(b.lo, b.hi);
      await expect(t.setDefaultThresholds(edge)).to.emit(t, "ThresholdsSet").withArgs(MAX_UINT, true, edge);
      expect([...(await t.thresholds(BTC))]).to.deep.equal(edge);
      const own = ordered(b.lo + 10n, b.hi - 10n);
      await expect(t.setMarketThresholds(ETH, own)).to.emit(t, "ThresholdsSet").withArgs(ETH, false, own);
      expect([...(await t.thresholds(ETH))]).to.deep.equal(own);
      expect([...(await t.thresholds(BTC))]).to.deep.equal(edge);
    });

    it(`${name}: thresholds must be strictly ordered (ThresholdsNotOrdered at the first offender)`, async function () {
      const { w } = await loadFixture(controlled);
      const t = (await ethers.getContractAt("PriceMoveTrigger", w.triggers[name])).connect(w.governor);
      const equal = [...b.defaults] as [bigint, bigint, bigint, bigint];
      equal[2] = equal[1];
      await expect(t.setDefaultThresholds(equal)).to.be.revertedWithCustomError(t, "ThresholdsNotOrdered").withArgs(2);
      const reversed = [...b.defaults].reverse() as [bigint, bigint, bigint, bigint];
      await expect(t.setMarketThresholds(ETH, reversed))
        .to.be.revertedWithCustomError(t, "ThresholdsNotOrdered")
        .withArgs(1);
    });

    it(`${name}: setMaxLevel refuses 0 and 5, accepts 1 and 4`, async function () {
      const { w } = await loadFixture(controlled);
      const t = (await ethers.getContractAt("PriceMoveTrigger", w.triggers[name])).connect(w.governor);
      for (const bad of [0, 5]) {
        await expect(t.setMaxLevel(bad))
          .to.be.revertedWithCustomError(t, "ParameterOutOfBounds")
          .withArgs(field("maxLevel"), bad, 1, 4);
      }
      await expect(t.setMaxLevel(1)).to.emit(t, "MaxLevelSet").withArgs(1);
      expect(await t.levelFor(ETH, b.higherIsWorse ? MAX_UINT : 0n)).to.equal(1n);
      await expect(t.setMaxLevel(4)).to.emit(t, "MaxLevelSet").withArgs(4);
      expect(await t.levelFor(ETH, b.higherIsWorse ? MAX_UINT : 0n)).to.equal(4n);
    });
  }

  it("price-move.setWindow: window 1 min..1 day, maxRounds 1..64", async function () {
    const { w } = await loadFixture(controlled);
    const t = (await ethers.getContractAt("PriceMoveTrigger", w.triggers["price-move"])).connect(w.governor);
    const cases: [number, number, string, number, number, bigint][] = [
      [59, 48, "window", 59, 60, DAY],
      [Number(DAY) + 1, 48, "window", Number(DAY) + 1, 60, DAY],
      [3600, 0, "maxRounds", 0, 1, 64n],
      [3600, 65, "maxRounds", 65, 1, 64n],
    ];
    for (const [window, rounds, name, value, lo, hi] of cases) {
      await expect(t.setWindow(window, rounds))
        .to.be.revertedWithCustomError(t, "ParameterOutOfBounds")
        .withArgs(field(name), value, lo, hi);
    }
    await expect(t.setWindow(60, 1)).to.emit(t, "WindowSet").withArgs(60, 1);
    await expect(t.setWindow(DAY, 64)).to.emit(t, "WindowSet").withArgs(DAY, 64);
    expect([await t.window(), await t.maxRounds()]).to.deep.equal([DAY, 64n]);
  });

  it("oracle-health.setStaleLevel: refuses 0 and 5, accepts 1 and 4", async function () {
    const { w } = await loadFixture(controlled);
    const t = (await ethers.getContractAt("OracleHealthTrigger", w.triggers["oracle-health"])).connect(w.governor);
    for (const bad of [0, 5]) {
      await expect(t.setStaleLevel(bad))
        .to.be.revertedWithCustomError(t, "ParameterOutOfBounds")
        .withArgs(field("staleLevel"), bad, 1, 4);
    }
    await expect(t.setStaleLevel(1)).to.emit(t, "StaleLevelSet").withArgs(1);
    await expect(t.setStaleLevel(4)).to.emit(t, "StaleLevelSet").withArgs(4);
    expect(await t.staleLevel()).to.equal(4n);
  });
});
