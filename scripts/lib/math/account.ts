/**
 * Account health off chain: the library functions composed the way the engine composes them.
 *
 * Pure functions over bigint only. Each helper inherits the library's rounding: margins round up
 * and equity rounds down (each position's value floors). For the engine's views themselves
 * (funding accrued to now, the ramped maintenance term, the stress level's multiplier), use
 * engine.ts, which builds on these same library functions and is tested against PerpEngine.
 */
import { abs } from "./fixedPoint.js";
import { notional, positionValue } from "./perpMath.js";
import { type RiskParams, initialMarginRatio, maintenanceMarginRatio, marginRequirement } from "./riskModel.js";
import { addInt, assertInt256 } from "./solidityIntegers.js";

/** What the value of one position depends on, as read from the engine and the oracle. */
export interface PositionSnapshot {
  /** signed size, WAD (positive: long) */
  readonly size: bigint;
  /** entry price less the funding index at entry (size-weighted), WAD; may be negative */
  readonly basis: bigint;
  /** current market funding index (accrued up to now) */
  readonly fundingIndex: bigint;
  /** current index price, WAD */
  readonly price: bigint;
}

/** |size| * price, rounded up: the base that margin requirements apply to. */
export function positionNotional(size: bigint, price: bigint): bigint {
  return notional(size, price);
}

/** Maintenance margin of one position: ceil(notional * maintenanceMarginRatio). */
export function positionMaintenanceMargin(
  params: RiskParams,
  rampedTerm: bigint,
  size: bigint,
  price: bigint,
  skewScale: bigint,
): bigint {
  const ratio = maintenanceMarginRatio(params, rampedTerm, abs(size), skewScale);
  return marginRequirement(notional(size, price), ratio);
}

/** Initial margin of one position: ceil(notional * initialMarginRatio), at the current sigma. */
export function positionInitialMargin(
  params: RiskParams,
  sigmaWad: bigint,
  rampedTerm: bigint,
  size: bigint,
  price: bigint,
  skewScale: bigint,
  levelImMultiplier: bigint,
): bigint {
  const ratio = initialMarginRatio(params, sigmaWad, rampedTerm, abs(size), skewScale, levelImMultiplier);
  return marginRequirement(notional(size, price), ratio);
}

/**
 * margin + sum(positionValue(size, basis, price, fundingIndex)), in checked int256 like the engine
 * sums it: PnL and funding owed are one number per position, so there is no separate funding
 * term. The vault's margin is a uint256 (a loss beyond it becomes bad debt, never a negative
 * balance); `marginWad` takes any int256 so a caller may pass an adjusted figure. The result is
 * negative when the account is under water.
 */
export function accountEquity(marginWad: bigint, positions: readonly PositionSnapshot[]): bigint {
  let equity = assertInt256("marginWad", marginWad);
  for (const p of positions) {
    equity = addInt(equity, positionValue(p.size, p.basis, p.price, p.fundingIndex), "accountEquity");
  }
  return equity;
}
