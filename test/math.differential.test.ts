/**
 * Differential test: every function of FixedPoint, RiskModel and PerpMath, called through
 * MathHarness on chain and through the bigint mirror in scripts/lib/math/, must agree to the wei,
 * and must revert (throw) on exactly the same inputs, with the same panic code or custom error.
 *
 * Reproduce a failure with the seed printed at the start: FC_SEED=<seed> npx hardhat test mocha.
 */
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import * as math from "../scripts/lib/math/index.js";
import type { MathHarness } from "../types/ethers-contracts/index.js";
import * as arb from "./helpers/arbitraries.js";
import { chainOutcome, describeOutcome, mirrorOutcome } from "./helpers/outcome.js";
import { fcSeed, seedBanner } from "./helpers/seed.js";

const seed = fcSeed;
const numRuns = 300;

const { ethers } = await network.create();

describe("math mirror vs Solidity libraries (differential, fast-check)", function () {
  let harness: MathHarness;
  const reverts = new Map<string, number>();

  before(async function () {
    console.log(seedBanner(numRuns));
    harness = await ethers.deployContract("MathHarness");
  });

  after(function () {
    const summary = [...reverts].map(([name, count]) => `${name} ${count}`).join(", ");
    console.log(`      reverting cases (of ${numRuns}): ${summary}`);
  });

  /** Both sides on every generated input; the mocha test title names the function. */
  function differential<T extends unknown[]>(
    name: string,
    inputs: fc.Arbitrary<T>,
    onChain: (...args: T) => Promise<unknown>,
    inMirror: (...args: T) => unknown,
  ): void {
    it(name, async function () {
      let reverted = 0;
      const property = fc.asyncProperty(inputs, async (args) => {
        const chain = await chainOutcome(harness.interface, () => onChain(...args));
        const mirror = mirrorOutcome(() => inMirror(...args));
        expect(describeOutcome(mirror), `mirror vs chain for ${name}${fc.stringify(args)}`).to.equal(
          describeOutcome(chain),
        );
        if ("revert" in chain) reverted++;
      });
      await fc.assert(property, { seed, numRuns });
      reverts.set(name, reverted);
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
      fc.tuple(arb.price(), arb.size(), arb.size(), arb.skewScale()),
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
      fc.tuple(arb.fundingRatePerSecond(), arb.price(), arb.elapsed()),
      (rate, index, elapsed) => harness.fundingIndexDelta(rate, index, elapsed),
      math.fundingIndexDelta,
    );
    differential(
      "fundingOwed",
      fc.tuple(arb.size(), arb.fundingIndex(), arb.fundingIndex()),
      (size, index, last) => harness.fundingOwed(size, index, last),
      math.fundingOwed,
    );
    differential(
      "pnl",
      fc.tuple(arb.size(), arb.price(), arb.price()),
      (size, entry, price) => harness.pnl(size, entry, price),
      math.pnl,
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
        .tuple(arb.trade(), arb.price(), arb.price())
        .map(([[oldSize, sizeDelta], entry, fill]) => [oldSize, entry, sizeDelta, fill] as const),
      (oldSize, entry, sizeDelta, fill) => harness.applyTrade(oldSize, entry, sizeDelta, fill),
      math.applyTrade,
    );
  });
});
