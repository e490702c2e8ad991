/**
 * Differential test: every function of FixedPoint, RiskModel, PerpMath and LiquidationMath, called through
 * MathHarness on chain and through the bigint mirror in scripts/lib/math/, must agree to the wei,
 * and must revert (throw) on exactly the same inputs, with the same panic code or custom error
 * (FullMulDivFailed(), SafeCastOverflowedUintToInt(value), NonPositiveFillPrice(fill)).
 *
 * Reproduce a failure with the seed printed at the start: FC_SEED=<seed> npx hardhat test mocha.
 */
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import * as math from "../../scripts/lib/math/index.js";
import type { MathHarness } from "../../types/ethers-contracts/index.js";
import * as arb from "../helpers/arbitraries.js";
import { chainOutcome, describeOutcome, mirrorOutcome } from "../helpers/outcome.js";
import { fcSeed, seedBanner } from "../helpers/seed.js";

const seed = fcSeed;
const numRuns = 300;

const { ethers } = await network.create();

describe("math mirror vs Solidity libraries (differential, fast-check)", function () {
  let harness: MathHarness;
  /** Per function, how many generated cases reverted, by error name: evidence that each revert path is reached. */
  const reverts = new Map<string, Map<string, number>>();

  before(async function () {
    console.log(seedBanner(numRuns));
    harness = await ethers.deployContract("MathHarness");
  });

  after(function () {
    console.log(`      reverting cases (of ${numRuns}), by error:`);
    for (const [name, kinds] of reverts) {
      const total = [...kinds.values()].reduce((a, b) => a + b, 0);
      const detail = [...kinds].map(([kind, count]) => `${kind} ${count}`).join(", ");
      console.log(`        ${name} ${total}${total === 0 ? "" : ` (${detail})`}`);
    }
  });

  /** Both sides on every generated input; the mocha test title names the function. */
  function differential<T extends unknown[]>(
    name: string,
    inputs: fc.Arbitrary<T>,
    onChain: (...args: T) => Promise<unknown>,
    inMirror: (...args: T) => unknown,
  ): void {
    it(name, async function () {
      const kinds = new Map<string, number>();
      const property = fc.asyncProperty(inputs, async (args) => {
        const chain = await chainOutcome(harness.interface, () => onChain(...args));
        const mirror = mirrorOutcome(() => inMirror(...args));
        expect(describeOutcome(mirror), `mirror vs chain for ${name}${fc.stringify(args)}`).to.equal(
          describeOutcome(chain),
        );
        if ("revert" in chain) {
          const kind = chain.revert.startsWith("Panic") ? chain.revert : chain.revert.replace(/\(.*$/, "");
          kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        }
      });
      await fc.assert(property, { seed, numRuns });
      reverts.set(name, kinds);
    });
  }

  describe("FixedPoint", function () {
    const u = arb.anyUint256;
    const i = arb.anyInt256;
    differential("mulWadDown", fc.tuple(u(), u()), (a, b) => harness.mulWadDown(a, b), math.mulWadDown);
    differential("mulWadUp", fc.tuple(u(), u()), (a, b) => harness.mulWadUp(a, b), math.mulWadUp);
    differential("mulDivDown", fc.tuple(u(), u(), u()), (a, b, c) => harness.mulDivDown(a, b, c), math.mulDivDown);
    differential("mulDivUp", fc.tuple(u(), u(), u()), (a, b, c) => harness.mulDivUp(a, b, c), math.mulDivUp);
    differential("abs", fc.tuple(i()), (x) => harness.abs(x), math.abs);
    differential("mulDivFloor", fc.tuple(i(), u(), u()), (a, b, c) => harness.mulDivFloor(a, b, c), math.mulDivFloor);
    differential("mulDivCeil", fc.tuple(i(), u(), u()), (a, b, c) => harness.mulDivCeil(a, b, c), math.mulDivCeil);
    differential(
      "mulWadFloorSigned",
      fc.tuple(i(), i()),
      (a, b) => harness.mulWadFloorSigned(a, b),
      math.mulWadFloorSigned,
    );
    differential(
      "mulWadCeilSigned",
      fc.tuple(i(), i()),
      (a, b) => harness.mulWadCeilSigned(a, b),
      math.mulWadCeilSigned,
    );
    differential("min", fc.tuple(u(), u()), (a, b) => harness.min(a, b), math.min);
    differential("max", fc.tuple(u(), u()), (a, b) => harness.max(a, b), math.max);
    differential("clamp", fc.tuple(u(), u(), u()), (x, lo, hi) => harness.clamp(x, lo, hi), math.clamp);
  });

  describe("LiquidationMath", function () {
    const W = arb.WAD;
    const config = () =>
      fc
        .record({
          trancheFraction: arb.uintIn(W / 20n, W),
          healthBuffer: arb.uintIn(0n, W),
          backstopRatio: arb.uintIn(W / 10n, W),
          penaltyRate: arb.uintIn(0n, W / 20n),
          cooldown: arb.uintIn(0n, 3_600n),
          capacityWindow: arb.uintIn(1n, 86_400n),
          capacityDepthFactor: arb.uintIn(W / 1000n, 18n * W),
          dustNotional: arb.uintIn(0n, 10_000n * W),
          capBypassRatio: arb.uintIn(0n, W),
        })
        .map((c) => ({
          ...c,
          capBypassRatio: c.capBypassRatio > c.backstopRatio ? c.backstopRatio : c.capBypassRatio,
        }));
    const rewardConfig = () =>
      fc
        .record({
          flat: arb.uintIn(0n, 10_000n * W),
          min: arb.uintIn(0n, 10_000n * W),
          shareOfNotional: arb.uintIn(0n, W / 100n),
          max: arb.uintIn(0n, 10_000n * W),
          escalationPerSecond: arb.uintIn(0n, W / 100n),
          maxMultiplier: arb.uintIn(W, 10n * W),
        })
        .map((r) => (r.min <= r.max ? r : { ...r, min: r.max, max: r.min }));
    const equity = () => arb.intIn(10n ** 32n);
    const money = () => arb.uintIn(0n, 10n ** 32n);
    const fraction = () => fc.oneof(arb.uintIn(1n, W), fc.constant(W));
    const position = () =>
      fc
        .record({
          marketId: arb.uintIn(0n, 95n),
          size: arb.intIn(10n ** 27n),
          basis: arb.intIn(10n ** 24n),
          fundingIndex: arb.intIn(10n ** 24n),
          price: arb.uintIn(10n ** 6n, 10n ** 24n),
          maintenanceMargin: money(),
        })
        .map((p) => ({ ...p, notional: math.notional(p.size, p.price) }));
    const snapshotTuple = (p: math.PlannedPosition) => ({ ...p, value: 0n, skewScale: 0n });
    const legTuple = (l: math.Leg) => [
      l.marketId,
      l.sizeDelta,
      l.price,
      l.notional,
      l.realised,
      l.shortfall,
      l.bankruptLong,
    ];

    differential(
      "trancheFraction",
      fc.tuple(config(), equity(), money(), money(), fc.boolean(), fc.oneof(money(), fc.constant(0n))),
      (c, e, mm, n, b, l) => harness.trancheFraction(c, e, mm, n, b, l),
      math.trancheFraction,
    );
    differential(
      "isBackstop",
      fc.tuple(config(), equity(), money()),
      (c, e, mm) => harness.isBackstop(c, e, mm),
      math.isBackstop,
    );
    differential(
      "bypassesCapacity",
      fc.tuple(config(), equity(), money()),
      (c, e, mm) => harness.bypassesCapacity(c, e, mm),
      math.bypassesCapacity,
    );
    differential(
      "capacity",
      fc.tuple(arb.uintIn(0n, 18n * W), arb.skewScale(), arb.price()),
      (d, k, p) => harness.capacity(d, k, p),
      math.capacity,
    );
    differential(
      "shareThatFits",
      fc.tuple(money(), money()),
      (r, n) => harness.shareThatFits(r, n),
      math.shareThatFits,
    );
    differential(
      "planLegs",
      fc.tuple(
        // each position with its own share (0: its market's window is full and the leg waits)
        fc.array(fc.tuple(position(), fc.oneof(fraction(), fc.constant(0n))), { minLength: 1, maxLength: 4 }),
        money(),
        fc.oneof(money(), fc.constant(math.MAX_UINT256)),
      ),
      (pf, m, pool) =>
        harness.planLegs(
          pf.map(([, f]) => f),
          pf.map(([p]) => snapshotTuple(p)),
          m,
          pool,
        ),
      (pf, m, pool) => {
        const r = math.planLegs(
          pf.map(([, f]) => f),
          pf.map(([p]) => p),
          m,
          pool,
        );
        return [r.legs.map(legTuple), r.trancheNotional, r.remainingMaintenance, r.badDebt, r.marginLeft, r.fraction];
      },
    );
    differential(
      "liquidationMargin",
      fc.tuple(rewardConfig(), fc.oneof(money(), fc.constant(0n))),
      (r, n) => harness.liquidationMargin(r, n),
      math.liquidationMargin,
    );
    differential(
      "reward",
      fc.tuple(rewardConfig(), money(), arb.elapsed()),
      (r, n, t) => harness.reward(r, n, t),
      math.reward,
    );
    differential(
      "staleBound",
      fc.tuple(
        fc.oneof(arb.price(), money()),
        fc.oneof(arb.sigma(), arb.anyUint256()),
        fc.oneof(arb.elapsed(), arb.uintIn(0n, 10n ** 9n), arb.anyUint256()),
        fc.boolean(),
      ),
      (p, sigma, t, long) => harness.staleBound(p, sigma, t, long),
      math.staleBound,
    );
    differential(
      "splitPenalty",
      fc.tuple(money(), equity(), fraction(), money(), money(), arb.uintIn(0n, W / 20n), money(), money()),
      (n, e, f, mm, rm, rate, m, rw) => harness.splitPenalty(n, e, [f, mm, rm], rate, m, rw),
      math.splitPenalty,
    );
    differential(
      "fundPayments",
      fc.tuple(money(), money(), money(), arb.uintIn(0n, 10n ** 20n), arb.uintIn(1n, 10n ** 12n)),
      (d, k, rw, a, sc) => harness.fundPayments(d, k, rw, a, sc),
      math.fundPayments,
    );
    differential(
      "healthBeforeAfter",
      fc.tuple(equity(), arb.uintIn(1n, 10n ** 32n), fraction(), money(), money(), arb.uintIn(0n, 8n), money()),
      (e, mm, f, k, i, n, rm) => harness.healthBeforeAfter(e, mm, f, k, i, n, rm),
      (e, mm, f, k, i, n, rm) => {
        const r = math.healthBeforeAfter(e, mm, f, k, i, n, rm);
        return [r.before, r.after];
      },
    );
  });

  describe("RiskModel", function () {
    differential(
      "volatilityTerm",
      fc.tuple(arb.riskParams(), arb.sigma()),
      (p, sigma) => harness.volatilityTerm(p, sigma),
      math.volatilityTerm,
    );
    differential(
      "rampVolatilityTerm",
      fc.tuple(arb.ratio(), arb.ratio(), arb.elapsed(), arb.ratio()),
      (current, target, elapsed, rate) => harness.rampVolatilityTerm(current, target, elapsed, rate),
      math.rampVolatilityTerm,
    );
    differential(
      "sizePremiumRatio",
      fc.tuple(arb.riskParams(), arb.absSize(), arb.skewScale()),
      (p, absSize, skewScale) => harness.sizePremiumRatio(p, absSize, skewScale),
      math.sizePremiumRatio,
    );
    differential(
      "maintenanceMarginRatio",
      fc.tuple(arb.riskParams(), arb.ratio(), arb.absSize(), arb.skewScale()),
      (p, ramped, absSize, skewScale) => harness.maintenanceMarginRatio(p, ramped, absSize, skewScale),
      math.maintenanceMarginRatio,
    );
    differential(
      "initialMarginRatio",
      fc.tuple(arb.riskParams(), arb.sigma(), arb.ratio(), arb.absSize(), arb.skewScale(), arb.ratio()),
      (p, sigma, ramped, absSize, skewScale, level) =>
        harness.initialMarginRatio(p, sigma, ramped, absSize, skewScale, level),
      math.initialMarginRatio,
    );
    differential(
      "marginRequirement",
      fc.tuple(arb.uintIn(0n, 10n ** 42n), arb.ratio()),
      (notional, ratio) => harness.marginRequirement(notional, ratio),
      math.marginRequirement,
    );
    differential(
      "riskFeeRate",
      fc.tuple(arb.riskParams(), arb.sigma(), arb.ratio()),
      (p, sigma, level) => harness.riskFeeRate(p, sigma, level),
      math.riskFeeRate,
    );
    differential(
      "tradeFee",
      fc
        .tuple(arb.riskParams(), arb.trade(), arb.price(), arb.sigma(), arb.ratio())
        .map(([p, [oldSize, sizeDelta], fill, sigma, level]) => [p, oldSize, sizeDelta, fill, sigma, level] as const),
      (p, oldSize, sizeDelta, fill, sigma, level) => harness.tradeFee(p, oldSize, sizeDelta, fill, sigma, level),
      math.tradeFee,
    );
  });

  describe("PerpMath", function () {
    differential(
      "fillPrice",
      fc.tuple(arb.orCastEdge(arb.price()), arb.size(), arb.size(), arb.skewScale()),
      (index, skew, sizeDelta, skewScale) => harness.fillPrice(index, skew, sizeDelta, skewScale),
      math.fillPrice,
    );
    differential(
      "fundingRate",
      fc.tuple(arb.size(), arb.skewScale(), arb.uintIn(0n, arb.BOUNDS.maxFundingRatePerSecond)),
      (skew, skewScale, maxRate) => harness.fundingRate(skew, skewScale, maxRate),
      math.fundingRate,
    );
    differential(
      "fundingIndexDelta",
      fc.tuple(arb.fundingRatePerSecond(), arb.price(), arb.orCastEdge(arb.elapsed())),
      (rate, index, elapsed) => harness.fundingIndexDelta(rate, index, elapsed),
      math.fundingIndexDelta,
    );
    differential(
      "positionValue",
      fc.tuple(arb.size(), arb.basis(), arb.orCastEdge(arb.price()), arb.fundingIndex()),
      (size, basis, price, index) => harness.positionValue(size, basis, price, index),
      math.positionValue,
    );
    differential(
      "notional",
      fc.tuple(arb.size(), arb.price()),
      (size, price) => harness.notional(size, price),
      math.notional,
    );
    differential(
      "applyTrade",
      fc
        .tuple(arb.trade(), arb.basis(), arb.orCastEdge(arb.price()), arb.fundingIndex())
        .map(([[oldSize, sizeDelta], basis, fill, index]) => [oldSize, basis, sizeDelta, fill, index] as const),
      (oldSize, basis, sizeDelta, fill, index) => harness.applyTrade(oldSize, basis, sizeDelta, fill, index),
      math.applyTrade,
    );
  });

  /** Fixed inputs that once behaved differently, through both sides; the chain's revert is spelled out. */
  describe("regressions", function () {
    async function expectBoth(call: () => Promise<unknown>, mirror: () => unknown, revert: string): Promise<void> {
      const chain = await chainOutcome(harness.interface, call);
      expect(describeOutcome(chain), "chain").to.equal(`revert ${revert}`);
      expect(describeOutcome(mirrorOutcome(mirror)), "mirror").to.equal(`revert ${revert}`);
    }

    it("regression: mulDivFloor / mulDivCeil revert SafeCastOverflowedUintToInt above int256 max (they wrapped to -2)", async function () {
      const twiceMax = 2n * math.MAX_INT256;
      const revert = `SafeCastOverflowedUintToInt(${twiceMax})`;
      await expectBoth(
        () => harness.mulDivFloor(math.MAX_INT256, 2n, 1n),
        () => math.mulDivFloor(math.MAX_INT256, 2n, 1n),
        revert,
      );
      await expectBoth(
        () => harness.mulDivCeil(math.MAX_INT256, 2n, 1n),
        () => math.mulDivCeil(math.MAX_INT256, 2n, 1n),
        revert,
      );
      await expectBoth(
        () => harness.mulDivFloor(-math.MAX_INT256, 2n, 1n),
        () => math.mulDivFloor(-math.MAX_INT256, 2n, 1n),
        revert,
      );
    });

    it("regression: PerpMath's uint256 inputs above int256 max revert SafeCastOverflowedUintToInt (they wrapped negative)", async function () {
      const big = math.MAX_INT256 + 1n;
      const revert = `SafeCastOverflowedUintToInt(${big})`;
      await expectBoth(
        () => harness.positionValue(1n, 0n, big, 0n),
        () => math.positionValue(1n, 0n, big, 0n),
        revert,
      );
      await expectBoth(
        () => harness.fillPrice(big, 0n, 0n, 1n),
        () => math.fillPrice(big, 0n, 0n, 1n),
        revert,
      );
      await expectBoth(
        () => harness.fundingIndexDelta(0n, 1n, big),
        () => math.fundingIndexDelta(0n, 1n, big),
        revert,
      );
      await expectBoth(
        () => harness.applyTrade(0n, 0n, 1n, big, 0n),
        () => math.applyTrade(0n, 0n, 1n, big, 0n),
        revert,
      );
    });

    it("solady: a zero divisor or a quotient above uint256 reverts FullMulDivFailed(), not a Panic", async function () {
      await expectBoth(
        () => harness.mulDivDown(1n, 1n, 0n),
        () => math.mulDivDown(1n, 1n, 0n),
        "FullMulDivFailed()",
      );
      await expectBoth(
        () => harness.mulWadUp(math.MAX_UINT256, 2n * math.WAD),
        () => math.mulWadUp(math.MAX_UINT256, 2n * math.WAD),
        "FullMulDivFailed()",
      );
      await expectBoth(
        () => harness.fundingRate(1n, 0n, 1n),
        () => math.fundingRate(1n, 0n, 1n),
        "FullMulDivFailed()",
      );
      // floor(x * (WAD + 1) / WAD) is exactly type(uint256).max with a remainder: only rounding up fails
      const x = 0xffffffffffffffed8da22e2dbc54606ce862ed069eb19350550de6906b1de3b1n;
      expect(await harness.mulWadDown(x, math.WAD + 1n)).to.equal(math.MAX_UINT256);
      expect(math.mulWadDown(x, math.WAD + 1n)).to.equal(math.MAX_UINT256);
      await expectBoth(
        () => harness.mulWadUp(x, math.WAD + 1n),
        () => math.mulWadUp(x, math.WAD + 1n),
        "FullMulDivFailed()",
      );
    });
  });
});
