/**
 * fast-check arbitraries for the margin math, within the protocol's realistic bounds, biased
 * toward the edges (zero, one wei, the bounds themselves) where rounding and reverts live.
 */
import fc from "fast-check";

import { MAX_INT256, MAX_UINT256, MAX_UINT64, MIN_INT256, type RiskParams, WAD } from "../../scripts/lib/math/index.js";

export { WAD };

/** Realistic bounds (WAD-scaled where it applies). */
export const BOUNDS = {
  minPrice: 10n ** 6n,
  maxPrice: 10n ** 30n,
  maxSize: 10n ** 30n,
  maxRatio: 18n * WAD,
  maxSigma: 50n * WAD,
  maxElapsed: 10n ** 8n,
  minSkewScale: 10n ** 15n,
  maxSkewScale: 10n ** 30n,
  /** 100% per second: far above any real funding rate, so the bounds are not what passes. */
  maxFundingRatePerSecond: WAD,
  /** |rate| * elapsed * price / WAD at the bounds above. */
  maxFundingIndex: 10n ** 40n,
  /** basis = fill - funding index at entry: a price less an index of either sign. */
  maxBasis: 10n ** 40n + 10n ** 30n,
} as const;

const digits = (x: bigint): number => x.toString().length;

/**
 * Uniform number of decimal digits, then uniform within that decade, clipped to [min, max], so that
 * 1e6 and 1e29 are about as likely as 1e30 (a uniform bigint would almost always be ~max).
 */
export function logUniform(min: bigint, max: bigint): fc.Arbitrary<bigint> {
  return fc.integer({ min: digits(min), max: digits(max) }).chain((d) => {
    const lo = d === 1 ? 0n : 10n ** BigInt(d - 1);
    const hi = 10n ** BigInt(d) - 1n;
    return fc.bigInt({ min: lo > min ? lo : min, max: hi < max ? hi : max });
  });
}

/** [min, max], one case in five taken from the edges. */
export function uintIn(min: bigint, max: bigint): fc.Arbitrary<bigint> {
  const edges = [min, min + 1n, max - 1n, max].filter((x) => x >= min && x <= max);
  return fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...edges) }, { weight: 4, arbitrary: logUniform(min, max) });
}

/** [-maxAbs, maxAbs], zero and one wei of either sign included. */
export function intIn(maxAbs: bigint): fc.Arbitrary<bigint> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(0n, 1n, -1n, maxAbs, -maxAbs) },
    { weight: 4, arbitrary: fc.tuple(fc.boolean(), logUniform(0n, maxAbs)).map(([neg, x]) => (neg ? -x : x)) },
  );
}

/** A price; zero and one wei included, since the library must reject or survive them. */
export const price = (): fc.Arbitrary<bigint> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(0n, 1n) },
    { weight: 9, arbitrary: uintIn(BOUNDS.minPrice, BOUNDS.maxPrice) },
  );

/**
 * A uint256 that the libraries convert to int256 (a price, a fill, an elapsed time): mostly `base`,
 * one case in twenty at the conversion's edge (2^255 - 1 converts, 2^255 and above revert
 * SafeCastOverflowedUintToInt), so the differential test reaches those reverts too.
 */
export function orCastEdge(base: fc.Arbitrary<bigint>): fc.Arbitrary<bigint> {
  return fc.oneof(
    { weight: 19, arbitrary: base },
    { weight: 1, arbitrary: fc.constantFrom(MAX_INT256, MAX_INT256 + 1n, MAX_UINT256) },
  );
}

export const size = (): fc.Arbitrary<bigint> => intIn(BOUNDS.maxSize);
export const absSize = (): fc.Arbitrary<bigint> => uintIn(0n, BOUNDS.maxSize);
export const ratio = (): fc.Arbitrary<bigint> => uintIn(0n, BOUNDS.maxRatio);
export const sigma = (): fc.Arbitrary<bigint> => uintIn(0n, BOUNDS.maxSigma);
export const elapsed = (): fc.Arbitrary<bigint> => uintIn(0n, BOUNDS.maxElapsed);
export const fundingIndex = (): fc.Arbitrary<bigint> => intIn(BOUNDS.maxFundingIndex);
/** A position's basis (entry price less the funding index at entry): either sign. */
export const basis = (): fc.Arbitrary<bigint> => intIn(BOUNDS.maxBasis);
export const fundingRatePerSecond = (): fc.Arbitrary<bigint> => intIn(BOUNDS.maxFundingRatePerSecond);

/** A skew scale; a rare zero checks that both sides fail on the division by zero. */
export const skewScale = (): fc.Arbitrary<bigint> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant(0n) },
    { weight: 19, arbitrary: uintIn(BOUNDS.minSkewScale, BOUNDS.maxSkewScale) },
  );

/** Any uint64 field, mostly realistic ratios, sometimes the type's maximum. */
const riskParamField = (): fc.Arbitrary<bigint> =>
  fc.oneof({ weight: 19, arbitrary: ratio() }, { weight: 1, arbitrary: fc.constant(MAX_UINT64) });

/** Risk parameters, not necessarily sane (mmrMin may exceed mmrMax): the mirror must agree anyway. */
export const riskParams = (): fc.Arbitrary<RiskParams> =>
  fc.record({
    mmrBase: riskParamField(),
    mmrMin: riskParamField(),
    mmrMax: riskParamField(),
    kMm: riskParamField(),
    imMultiplier: riskParamField(),
    sizePremium: riskParamField(),
    mmrRampPerSecond: riskParamField(),
    baseFee: riskParamField(),
    kFee: riskParamField(),
  });

/** Full uint256: realistic magnitudes, the whole range, and the type's edges (overflow paths). */
export const anyUint256 = (): fc.Arbitrary<bigint> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(0n, 1n, 2n, WAD, 1n << 255n, MAX_UINT256 - 1n, MAX_UINT256) },
    { weight: 5, arbitrary: logUniform(0n, 10n ** 40n) },
    { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: MAX_UINT256 }) },
  );

/** Full int256, same mix as {@link anyUint256}. */
export const anyInt256 = (): fc.Arbitrary<bigint> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(0n, 1n, -1n, WAD, -WAD, MIN_INT256, MIN_INT256 + 1n, MAX_INT256) },
    { weight: 5, arbitrary: intIn(10n ** 40n) },
    { weight: 3, arbitrary: fc.bigInt({ min: MIN_INT256, max: MAX_INT256 }) },
  );

/**
 * [oldSize, sizeDelta] pairs that reach every branch of a trade: independent sizes, a partial
 * reduce, a full close, a flip, and a zero trade on a flat position.
 */
export const trade = (): fc.Arbitrary<[bigint, bigint]> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(size(), size()) },
    { weight: 2, arbitrary: size().map((old): [bigint, bigint] => [old, -(old / 2n)]) },
    { weight: 2, arbitrary: size().map((old): [bigint, bigint] => [old, -old]) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(size(), absSize())
        .map(([old, extra]): [bigint, bigint] => [old, -old - (old < 0n ? -extra : extra)]),
    },
    { weight: 1, arbitrary: fc.constant<[bigint, bigint]>([0n, 0n]) },
  );

/** Risk parameters a governor could set: mmrMin <= mmrMax, multipliers >= 1. */
export const saneRiskParams = (): fc.Arbitrary<RiskParams> =>
  fc
    .record({
      mmrBase: ratio(),
      mmrMin: ratio(),
      mmrMax: ratio(),
      kMm: ratio(),
      imMultiplier: uintIn(WAD, BOUNDS.maxRatio),
      sizePremium: ratio(),
      mmrRampPerSecond: ratio(),
      baseFee: ratio(),
      kFee: ratio(),
    })
    .map((p) => (p.mmrMin <= p.mmrMax ? p : { ...p, mmrMin: p.mmrMax, mmrMax: p.mmrMin }));

/** A position as a keeper reads it: size, basis, and the market's current index and price. */
export const positionSnapshot = () =>
  fc.record({
    size: size(),
    basis: basis(),
    fundingIndex: fundingIndex(),
    price: price(),
  });
