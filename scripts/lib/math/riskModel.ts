/**
 * Mirror of contracts/libraries/RiskModel.sol: margin ratios and fees, to the wei.
 *
 * Every requirement and fee rounds up (the user owes more), exactly like the library, so that an
 * off-chain health check can never find an account healthier than execution will.
 */
import { WAD, abs, clamp, max, min, mulDivUp, mulWadUp } from "./fixedPoint.js";
import { addUint, assertUint256, assertUint64, mulUint, subUint } from "./solidityIntegers.js";

/** Mirrors the `RiskParams` struct: WAD ratios stored as uint64 on chain (at most ~18.4). */
export interface RiskParams {
  /** maintenance margin ratio before the volatility term */
  readonly mmrBase: bigint;
  /** floor of (mmrBase + kMm * sigma) */
  readonly mmrMin: bigint;
  /** cap of (mmrBase + kMm * sigma) */
  readonly mmrMax: bigint;
  /** maintenance margin added per unit of annualised sigma */
  readonly kMm: bigint;
  /** initial margin = volatility term * imMultiplier (>= 1) + size premium */
  readonly imMultiplier: bigint;
  /** extra margin ratio per unit of |size| / skewScale */
  readonly sizePremium: bigint;
  /** bounded speed at which the maintenance volatility term moves, per second */
  readonly mmrRampPerSecond: bigint;
  /** fee ratio on notional for every trade */
  readonly baseFee: bigint;
  /** fee surcharge per unit of sigma, only on the risk-adding part of a trade */
  readonly kFee: bigint;
}

/** Field order of the Solidity struct (ABI tuple order). */
export const RISK_PARAMS_FIELDS = [
  "mmrBase",
  "mmrMin",
  "mmrMax",
  "kMm",
  "imMultiplier",
  "sizePremium",
  "mmrRampPerSecond",
  "baseFee",
  "kFee",
] as const satisfies readonly (keyof RiskParams)[];

/** Throws InputOutOfRangeError if a field does not fit the struct's uint64. */
export function assertRiskParams(p: RiskParams): RiskParams {
  for (const field of RISK_PARAMS_FIELDS) assertUint64(`RiskParams.${field}`, p[field]);
  return p;
}

/** Target of the maintenance volatility term: clamp(mmrBase + ceil(kMm * sigma), mmrMin, mmrMax). */
export function volatilityTerm(p: RiskParams, sigmaWad: bigint): bigint {
  assertRiskParams(p);
  const raw = addUint(p.mmrBase, mulWadUp(p.kMm, sigmaWad), "volatilityTerm");
  return clamp(raw, p.mmrMin, p.mmrMax);
}

/**
 * Moves the maintenance volatility term from `current` toward `target` by at most
 * `rampPerSecond * elapsed` (a checked product). A zero `current` means "never set" and jumps
 * straight to the target, so a term that has legitimately reached zero is not ramped either.
 */
export function rampVolatilityTerm(current: bigint, target: bigint, elapsed: bigint, rampPerSecond: bigint): bigint {
  assertUint256("current", current);
  assertUint256("target", target);
  assertUint256("elapsed", elapsed);
  assertUint256("rampPerSecond", rampPerSecond);
  if (current === 0n) return target;
  const step = mulUint(rampPerSecond, elapsed, "rampVolatilityTerm");
  if (target > current) return target - current > step ? addUint(current, step, "rampVolatilityTerm") : target;
  return current - target > step ? subUint(current, step, "rampVolatilityTerm") : target;
}

/** ceil(sizePremium * absSize / skewScale); a zero skewScale is a division-by-zero panic. */
export function sizePremiumRatio(p: RiskParams, absSize: bigint, skewScale: bigint): bigint {
  assertRiskParams(p);
  return mulDivUp(p.sizePremium, absSize, skewScale);
}

/** min(rampedTerm + sizePremiumRatio, WAD): the ramped term plus the (unramped) size premium. */
export function maintenanceMarginRatio(p: RiskParams, rampedTerm: bigint, absSize: bigint, skewScale: bigint): bigint {
  assertUint256("rampedTerm", rampedTerm);
  const premium = sizePremiumRatio(p, absSize, skewScale);
  return min(addUint(rampedTerm, premium, "maintenanceMarginRatio"), WAD);
}

/**
 * min(ceil(ceil(max(volatilityTerm, rampedTerm) * imMultiplier) * levelImMultiplier) + premium, WAD).
 * Takes the unramped volatility term at once, but never goes below the ramped maintenance term.
 */
export function initialMarginRatio(
  p: RiskParams,
  sigmaWad: bigint,
  rampedTerm: bigint,
  absSize: bigint,
  skewScale: bigint,
  levelImMultiplier: bigint,
): bigint {
  const term = max(volatilityTerm(p, sigmaWad), rampedTerm);
  const ratio = mulWadUp(mulWadUp(term, p.imMultiplier), levelImMultiplier);
  return min(addUint(ratio, sizePremiumRatio(p, absSize, skewScale), "initialMarginRatio"), WAD);
}

/** Margin owed on a notional at a ratio: ceil(notional * ratio / WAD). */
export function marginRequirement(notional: bigint, ratio: bigint): bigint {
  return mulWadUp(notional, ratio);
}

/** ceil(ceil(baseFee * (WAD + ceil(kFee * sigma))) * levelFeeMultiplier): every step rounds up. */
export function riskFeeRate(p: RiskParams, sigmaWad: bigint, levelFeeMultiplier: bigint): bigint {
  assertRiskParams(p);
  const surcharge = addUint(WAD, mulWadUp(p.kFee, sigmaWad), "riskFeeRate");
  return mulWadUp(mulWadUp(p.baseFee, surcharge), levelFeeMultiplier);
}

/**
 * Fee of a trade from `oldSize` by `sizeDelta` at `fillPrice`. The part that reduces the position
 * pays baseFee only; the part that opens or adds pays riskFeeRate. Each part's notional and fee
 * round up on their own, so a flip costs exactly a close plus an open (no rounding to gain by
 * splitting it). riskFeeRate is evaluated only when something is added, like the library, so its
 * panics surface only then.
 */
export function tradeFee(
  p: RiskParams,
  oldSize: bigint,
  sizeDelta: bigint,
  fillPrice: bigint,
  sigmaWad: bigint,
  levelFeeMultiplier: bigint,
): bigint {
  assertRiskParams(p);
  const absDelta = abs(sizeDelta);
  const reducing = oldSize > 0n !== sizeDelta > 0n ? min(absDelta, abs(oldSize)) : 0n;
  const adding = subUint(absDelta, reducing, "tradeFee");
  let fee = 0n;
  if (reducing !== 0n) fee = mulWadUp(mulWadUp(reducing, fillPrice), p.baseFee);
  if (adding !== 0n) {
    const riskFee = mulWadUp(mulWadUp(adding, fillPrice), riskFeeRate(p, sigmaWad, levelFeeMultiplier));
    fee = addUint(fee, riskFee, "tradeFee");
  }
  return fee;
}
