/**
 * Mirror of contracts/libraries/PerpMath.sol: fills, funding and PnL, to the wei.
 *
 * Rounding favours the protocol, as in the library: buyers fill higher and sellers lower, PnL
 * rounds toward negative infinity, funding owed rounds up.
 */
import { NonPositiveFillPriceError } from "./errors.js";
import {
  WAD,
  abs,
  mulDivCeil,
  mulDivFloor,
  mulDivUp,
  mulWadCeilSigned,
  mulWadFloorSigned,
  mulWadUp,
} from "./fixedPoint.js";
import {
  addInt,
  addUint,
  assertInt256,
  assertUint256,
  divUint,
  mulInt,
  mulUint,
  negInt,
  subInt,
  uint256ToInt256,
} from "./solidityIntegers.js";

/**
 * fill = index + index * (2 * skew + sizeDelta) / (2 * skewScale), i.e. the index moved by the
 * average of the skew before and after the trade. A buy rounds the fill up, a sell (or a zero
 * delta) down. Throws NonPositiveFillPriceError where the library reverts with
 * NonPositiveFillPrice, and the checked-arithmetic panics of `2 * skew + sizeDelta`,
 * `2 * skewScale` and a zero skewScale.
 */
export function fillPrice(indexPrice: bigint, skew: bigint, sizeDelta: bigint, skewScale: bigint): bigint {
  assertUint256("indexPrice", indexPrice);
  assertInt256("skew", skew);
  assertInt256("sizeDelta", sizeDelta);
  assertUint256("skewScale", skewScale);
  const num = addInt(mulInt(2n, skew, "fillPrice"), sizeDelta, "fillPrice");
  const denom = mulUint(2n, skewScale, "fillPrice");
  const adjustment = sizeDelta > 0n ? mulDivCeil(num, indexPrice, denom) : mulDivFloor(num, indexPrice, denom);
  const fill = addInt(uint256ToInt256(indexPrice), adjustment, "fillPrice");
  if (fill <= 0n) throw new NonPositiveFillPriceError(fill);
  return fill;
}

/**
 * Funding rate per second: floor(clamp(floor(skew * WAD / skewScale), -WAD, WAD) * maxRate / WAD).
 * Positive: longs pay shorts. Both steps floor; solvency does not depend on it because every
 * position settles through fundingOwed, which rounds up for longs and shorts alike.
 */
export function fundingRate(skew: bigint, skewScale: bigint, maxFundingRatePerSecond: bigint): bigint {
  let proportion = mulDivFloor(skew, WAD, skewScale);
  if (proportion > WAD) proportion = WAD;
  if (proportion < -WAD) proportion = -WAD;
  return mulDivFloor(proportion, maxFundingRatePerSecond, WAD);
}

/** Change of the funding index over `elapsed` seconds: floor(rate * elapsed * indexPrice / WAD). */
export function fundingIndexDelta(ratePerSecond: bigint, indexPrice: bigint, elapsed: bigint): bigint {
  assertInt256("ratePerSecond", ratePerSecond);
  assertUint256("elapsed", elapsed);
  // `int256(elapsed)` is an unchecked conversion in the library; the product is checked.
  return mulDivFloor(mulInt(ratePerSecond, uint256ToInt256(elapsed), "fundingIndexDelta"), indexPrice, WAD);
}

/** Funding owed since the last settlement, ceil(size * (index - last) / WAD); negative: received. */
export function fundingOwed(size: bigint, fundingIndex: bigint, lastFundingIndex: bigint): bigint {
  assertInt256("fundingIndex", fundingIndex);
  assertInt256("lastFundingIndex", lastFundingIndex);
  return mulWadCeilSigned(size, subInt(fundingIndex, lastFundingIndex, "fundingOwed"));
}

/** PnL of `size` from `entryPrice` to `price`, floor(size * (price - entry) / WAD). */
export function pnl(size: bigint, entryPrice: bigint, price: bigint): bigint {
  assertUint256("entryPrice", entryPrice);
  assertUint256("price", price);
  // Both prices go through the library's unchecked `int256(...)` before the checked subtraction.
  return mulWadFloorSigned(size, subInt(uint256ToInt256(price), uint256ToInt256(entryPrice), "pnl"));
}

/** Notional ceil(|size| * price / WAD): margin is owed on it. */
export function notional(size: bigint, price: bigint): bigint {
  return mulWadUp(abs(size), price);
}

/** Result of {@link applyTrade}, named like the library's return values. */
export interface TradeResult {
  readonly newEntryPrice: bigint;
  readonly realisedPnl: bigint;
}

/**
 * Applies a trade to a position.
 * - Opening or adding: size-weighted average entry, rounded against the trader (longs up, shorts
 *   down); nothing realised. A zero trade on a zero position divides by zero, as on chain.
 * - Reducing or closing: entry unchanged (zero once flat); realises pnl(-sizeDelta, entry, fill).
 * - Flipping: realises pnl(oldSize, entry, fill) in full; the remainder opens at the fill.
 */
export function applyTrade(oldSize: bigint, entryPrice: bigint, sizeDelta: bigint, fill: bigint): TradeResult {
  assertInt256("oldSize", oldSize);
  assertUint256("entryPrice", entryPrice);
  assertInt256("sizeDelta", sizeDelta);
  assertUint256("fill", fill);
  const newSize = addInt(oldSize, sizeDelta, "applyTrade");
  if (oldSize === 0n || oldSize > 0n === sizeDelta > 0n) {
    const absOld = abs(oldSize);
    const absDelta = abs(sizeDelta);
    const absNew = addUint(absOld, absDelta, "applyTrade");
    const weighted = addUint(
      mulUint(absOld, entryPrice, "applyTrade"),
      mulUint(absDelta, fill, "applyTrade"),
      "applyTrade",
    );
    const newEntryPrice = newSize > 0n ? mulDivUp(weighted, 1n, absNew) : divUint(weighted, absNew, "applyTrade");
    return { newEntryPrice, realisedPnl: 0n };
  }
  if (abs(sizeDelta) <= abs(oldSize)) {
    const realisedPnl = pnl(negInt(sizeDelta, "applyTrade"), entryPrice, fill);
    return { newEntryPrice: newSize === 0n ? 0n : entryPrice, realisedPnl };
  }
  return { newEntryPrice: fill, realisedPnl: pnl(oldSize, entryPrice, fill) };
}
