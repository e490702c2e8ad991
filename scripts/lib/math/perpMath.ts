/**
 * Mirror of contracts/libraries/PerpMath.sol: fills, funding and position value, to the wei.
 *
 * Rounding favours the protocol, as in the library: buyers fill higher and sellers lower, a
 * position's value rounds toward negative infinity, and an averaged basis rounds against the
 * trader. A position is one slot on chain, (size, basis) with basis = entry price - funding index
 * at entry, so its value size * (price - fundingIndex - basis) is PnL net of funding owed.
 */
import { NonPositiveFillPriceError } from "./errors.js";
import { WAD, abs, mulDivCeil, mulDivFloor, mulWadFloorSigned, mulWadUp } from "./fixedPoint.js";
import { addInt, addUint, assertInt256, assertUint256, mulInt, mulUint, subInt, toInt256 } from "./solidityIntegers.js";

/**
 * fill = index + index * (2 * skew + sizeDelta) / (2 * skewScale), i.e. the index moved by the
 * average of the skew before and after the trade. A buy rounds the fill up, a sell (or a zero
 * delta) down. Throws NonPositiveFillPriceError where the library reverts with
 * NonPositiveFillPrice, the checked-arithmetic panics of `2 * skew + sizeDelta` and
 * `2 * skewScale`, FullMulDivFailedError for a zero skewScale, and
 * SafeCastOverflowedUintToIntError for an index price above type(int256).max.
 */
export function fillPrice(indexPrice: bigint, skew: bigint, sizeDelta: bigint, skewScale: bigint): bigint {
  assertUint256("indexPrice", indexPrice);
  assertInt256("skew", skew);
  assertInt256("sizeDelta", sizeDelta);
  assertUint256("skewScale", skewScale);
  const num = addInt(mulInt(2n, skew, "fillPrice"), sizeDelta, "fillPrice");
  const denom = mulUint(2n, skewScale, "fillPrice");
  const adjustment = sizeDelta > 0n ? mulDivCeil(num, indexPrice, denom) : mulDivFloor(num, indexPrice, denom);
  const fill = addInt(toInt256(indexPrice, "fillPrice"), adjustment, "fillPrice");
  if (fill <= 0n) throw new NonPositiveFillPriceError(fill);
  return fill;
}

/**
 * Funding rate per second: floor(clamp(floor(skew * WAD / skewScale), -WAD, WAD) * maxRate / WAD).
 * Positive: longs pay shorts. Both steps floor, so a one-wei short skew charges shorts one wei
 * per second and a one-wei long skew charges nothing (known, harmless: see PerpMath.t.sol).
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
  // SafeCast.toInt256(elapsed), then the checked product.
  const elapsedSigned = toInt256(elapsed, "fundingIndexDelta");
  return mulDivFloor(mulInt(ratePerSecond, elapsedSigned, "fundingIndexDelta"), indexPrice, WAD);
}

/**
 * Net value of a position: floor(size * (price - fundingIndex - basis) / WAD), i.e. its PnL from
 * the entry price less the funding it owes since entry. Rounds toward negative infinity for
 * longs and shorts alike, so a position is never worth more off chain than on.
 */
export function positionValue(size: bigint, basis: bigint, price: bigint, fundingIndex: bigint): bigint {
  assertInt256("size", size);
  assertInt256("basis", basis);
  assertUint256("price", price);
  assertInt256("fundingIndex", fundingIndex);
  const priceSigned = toInt256(price, "positionValue");
  const net = subInt(subInt(priceSigned, fundingIndex, "positionValue"), basis, "positionValue");
  return mulWadFloorSigned(size, net);
}

/** Notional ceil(|size| * price / WAD): margin is owed on it. */
export function notional(size: bigint, price: bigint): bigint {
  return mulWadUp(abs(size), price);
}

/** Result of {@link applyTrade}, named like the library's return values. */
export interface TradeResult {
  /** basis of the position after the trade (0 once flat) */
  readonly newBasis: bigint;
  /** value realised by the part of the trade that closes the existing position */
  readonly realised: bigint;
}

/**
 * Applies a trade of `sizeDelta` at `fill`, with the market's funding index at `fundingIndex`, to
 * a position (`oldSize`, `basis`). The mark is fill - fundingIndex: the basis of a position opened
 * now.
 * - Opening or adding: the size-weighted average of the old basis and the mark, rounded against
 *   the trader (a long's basis up, a short's down); nothing realised. A zero trade on a zero
 *   position divides by zero: FullMulDivFailedError, as on chain.
 * - Reducing or closing: basis unchanged (zero once flat); realises
 *   positionValue(-sizeDelta, basis, fill, fundingIndex).
 * - Flipping: realises positionValue(oldSize, ...) in full; the remainder opens at the mark.
 * The mark is computed (and its checks thrown) before the branch, like the library.
 */
export function applyTrade(
  oldSize: bigint,
  basis: bigint,
  sizeDelta: bigint,
  fill: bigint,
  fundingIndex: bigint,
): TradeResult {
  assertInt256("oldSize", oldSize);
  assertInt256("basis", basis);
  assertInt256("sizeDelta", sizeDelta);
  assertUint256("fill", fill);
  assertInt256("fundingIndex", fundingIndex);
  const newSize = addInt(oldSize, sizeDelta, "applyTrade");
  const mark = subInt(toInt256(fill, "applyTrade"), fundingIndex, "applyTrade");
  if (oldSize === 0n || oldSize > 0n === sizeDelta > 0n) {
    const absOld = abs(oldSize);
    const absDelta = abs(sizeDelta);
    const absNew = addUint(absOld, absDelta, "applyTrade");
    // abs() is at most type(int256).max, so the library's unchecked int256(abs...) is exact.
    const weighted = addInt(mulInt(absOld, basis, "applyTrade"), mulInt(absDelta, mark, "applyTrade"), "applyTrade");
    const newBasis = newSize > 0n ? mulDivCeil(weighted, 1n, absNew) : mulDivFloor(weighted, 1n, absNew);
    return { newBasis, realised: 0n };
  }
  if (abs(sizeDelta) <= abs(oldSize)) {
    // reduce or close: the closed part is -sizeDelta, on the side of oldSize
    const realised = positionValue(-sizeDelta, basis, fill, fundingIndex);
    return { newBasis: newSize === 0n ? 0n : basis, realised };
  }
  return { newBasis: mark, realised: positionValue(oldSize, basis, fill, fundingIndex) };
}
