/**
 * The keeper's account-health helpers (scripts/lib/math/account.ts) against a straightforward
 * computation written here from the formulas, with plain bigint floor/ceil division, sharing no
 * code with the mirror. Pure TypeScript: no chain.
 */
import { expect } from "chai";
import fc from "fast-check";

import {
  type PositionSnapshot,
  type RiskParams,
  accountEquity,
  positionInitialMargin,
  positionMaintenanceMargin,
  positionNotional,
} from "../../scripts/lib/math/index.js";
import * as arb from "../helpers/arbitraries.js";
import { fcSeed, seedBanner } from "../helpers/seed.js";

const W = 10n ** 18n;
const numRuns = 300;

/** floor(a / b) and ceil(a / b) for b > 0 and a of either sign (bigint `/` truncates toward 0). */
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n ? a / b - 1n : a / b);
const ceilDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a > 0n ? a / b + 1n : a / b);
const absOf = (x: bigint): bigint => (x < 0n ? -x : x);
const least = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const greatest = (a: bigint, b: bigint): bigint => (a > b ? a : b);

const expectedNotional = (size: bigint, price: bigint): bigint => ceilDiv(absOf(size) * price, W);

const expectedPremium = (p: RiskParams, size: bigint, skewScale: bigint): bigint =>
  ceilDiv(p.sizePremium * absOf(size), skewScale);

function expectedMaintenance(p: RiskParams, ramped: bigint, size: bigint, price: bigint, skewScale: bigint): bigint {
  const ratio = least(ramped + expectedPremium(p, size, skewScale), W);
  return ceilDiv(expectedNotional(size, price) * ratio, W);
}

function expectedInitial(
  p: RiskParams,
  sigma: bigint,
  ramped: bigint,
  size: bigint,
  price: bigint,
  skewScale: bigint,
  level: bigint,
): bigint {
  // Sane parameters (mmrMin <= mmrMax), so the clamp is an ordinary min(max(...)).
  const target = least(greatest(p.mmrBase + ceilDiv(p.kMm * sigma, W), p.mmrMin), p.mmrMax);
  const term = greatest(target, ramped);
  const scaled = ceilDiv(ceilDiv(term * p.imMultiplier, W) * level, W);
  const ratio = least(scaled + expectedPremium(p, size, skewScale), W);
  return ceilDiv(expectedNotional(size, price) * ratio, W);
}

/** Each position floors on its own: margin + sum(floor(size * (price - index - basis) / WAD)). */
function expectedEquity(margin: bigint, positions: readonly PositionSnapshot[]): bigint {
  let equity = margin;
  for (const q of positions) equity += floorDiv(q.size * (q.price - q.fundingIndex - q.basis), W);
  return equity;
}

const realSkewScale = () => arb.uintIn(arb.BOUNDS.minSkewScale, arb.BOUNDS.maxSkewScale);

describe("account-health helpers vs an independent computation", function () {
  before(function () {
    console.log(seedBanner(numRuns));
  });

  it("positionNotional is |size| * price / WAD rounded up", function () {
    fc.assert(
      fc.property(arb.size(), arb.price(), (size, price) => {
        expect(positionNotional(size, price)).to.equal(expectedNotional(size, price));
      }),
      { seed: fcSeed, numRuns },
    );
  });

  it("positionMaintenanceMargin", function () {
    fc.assert(
      fc.property(
        arb.saneRiskParams(),
        arb.ratio(),
        arb.size(),
        arb.price(),
        realSkewScale(),
        (p, ramped, size, price, skewScale) => {
          expect(positionMaintenanceMargin(p, ramped, size, price, skewScale)).to.equal(
            expectedMaintenance(p, ramped, size, price, skewScale),
          );
        },
      ),
      { seed: fcSeed, numRuns },
    );
  });

  it("positionInitialMargin, and it is never below maintenance with multipliers >= 1", function () {
    fc.assert(
      fc.property(
        arb.saneRiskParams(),
        arb.sigma(),
        arb.ratio(),
        arb.size(),
        arb.price(),
        realSkewScale(),
        arb.uintIn(W, arb.BOUNDS.maxRatio),
        (p, sigma, ramped, size, price, skewScale, level) => {
          const initial = positionInitialMargin(p, sigma, ramped, size, price, skewScale, level);
          expect(initial).to.equal(expectedInitial(p, sigma, ramped, size, price, skewScale, level));
          expect(initial >= positionMaintenanceMargin(p, ramped, size, price, skewScale)).to.equal(true);
        },
      ),
      { seed: fcSeed, numRuns },
    );
  });

  it("accountEquity is margin + sum(positionValue), rounded against the account", function () {
    fc.assert(
      fc.property(arb.intIn(10n ** 40n), fc.array(arb.positionSnapshot(), { maxLength: 6 }), (margin, positions) => {
        const equity = accountEquity(margin, positions);
        expect(equity).to.equal(expectedEquity(margin, positions));
        // Rounding only ever lowers equity: never above the exact rational value, and by under
        // one wei per position.
        const exactTimesWad = positions.reduce(
          (sum, q) => sum + q.size * (q.price - q.fundingIndex - q.basis),
          margin * W,
        );
        expect(equity * W <= exactTimesWad).to.equal(true);
        expect(exactTimesWad - equity * W <= BigInt(positions.length) * (W - 1n)).to.equal(true);
      }),
      { seed: fcSeed, numRuns },
    );
  });

  it("accountEquity of an account without positions is its margin", function () {
    expect(accountEquity(-5n, [])).to.equal(-5n);
    expect(accountEquity(123n * W, [])).to.equal(123n * W);
  });
});
