/**
 * Account health off chain: the library functions composed the way the engine composes them.
 *
 * Pure functions over bigint only. Each helper inherits the library's rounding: margins round up
 * and equity rounds down (PnL floors, funding owed ceils). No engine contract exists yet: once it
 * does, check these against its preview views (same inputs, same wei), since a keeper comparing
 * `accountEquity` with the sum of `positionMaintenanceMargin` is only right if the engine composes
 * the libraries exactly this way.
 */
import { abs } from "./fixedPoint.js";
import { fundingOwed, notional, pnl } from "./perpMath.js";
import { type RiskParams, initialMarginRatio, maintenanceMarginRatio, marginRequirement } from "./riskModel.js";
import { addInt, assertInt256, subInt } from "./solidityIntegers.js";

/** What the equity of one position depends on, as read from the engine and the oracle. */
export interface PositionSnapshot {
  /** signed size, WAD (positive: long) */
  readonly size: bigint;
  /** average entry price, WAD */
  readonly entryPrice: bigint;
  /** market funding index when the position last settled */
  readonly lastFundingIndex: bigint;
  /** current market funding index (accrued up to now) */
  readonly fundingIndex: bigint;
  /** current mark price, WAD */
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
 * margin + sum(pnl(size, entry, price) - fundingOwed(size, index, lastIndex)), in checked int256
 * like the engine would sum it. `marginWad` is signed so a balance left negative by settled losses
 * is representable; the result is negative when the account is under water.
 */
export function accountEquity(marginWad: bigint, positions: readonly PositionSnapshot[]): bigint {
  let equity = assertInt256("marginWad", marginWad);
  for (const position of positions) {
    const unrealised = pnl(position.size, position.entryPrice, position.price);
    const owed = fundingOwed(position.size, position.fundingIndex, position.lastFundingIndex);
    equity = addInt(equity, subInt(unrealised, owed, "accountEquity"), "accountEquity");
  }
  return equity;
}
