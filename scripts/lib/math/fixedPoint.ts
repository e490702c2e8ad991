/**
 * Mirror of contracts/libraries/FixedPoint.sol: WAD helpers with an explicit rounding direction.
 *
 * Unsigned helpers delegate to solady `FixedPointMathLib.fullMulDiv` / `fullMulDivUp`, which
 * compute the exact 512-bit product before dividing, so `a * b` never overflows on its own; they
 * give the same results as OpenZeppelin `Math.mulDiv`, but fail with the custom error
 * `FullMulDivFailed()` rather than a Panic. Signed helpers round toward negative ("floor") or
 * positive ("ceil") infinity, never toward zero, so that the caller can always pick the direction
 * that favours the protocol, and convert the quotient with SafeCast.
 */
import { FullMulDivFailedError } from "./errors.js";
import { MAX_UINT256, assertInt256, assertUint256, negInt, toInt256 } from "./solidityIntegers.js";

/** 1.0 in 18-decimal fixed point: prices, ratios and rates are WAD-scaled. */
export const WAD = 10n ** 18n;

/**
 * solady `fullMulDiv(a, b, c)` (floor) and `fullMulDivUp(a, b, c)` (ceil). Both revert
 * FullMulDivFailed() when c is zero or floor(a * b / c) does not fit uint256 (solady checks
 * `c > high word of a * b`, which is the same condition); the rounding-up variant also when the
 * floor is exactly type(uint256).max and there is a remainder (its `z + 1` would wrap to zero).
 */
function fullMulDiv(a: bigint, b: bigint, c: bigint, roundUp: boolean, operation: string): bigint {
  if (c === 0n) throw new FullMulDivFailedError(operation);
  const product = a * b;
  const quotient = product / c;
  if (quotient > MAX_UINT256) throw new FullMulDivFailedError(operation);
  if (!roundUp || product % c === 0n) return quotient;
  if (quotient === MAX_UINT256) throw new FullMulDivFailedError(operation);
  return quotient + 1n;
}

/** floor(a * b / WAD): what the protocol pays out or credits. */
export function mulWadDown(a: bigint, b: bigint): bigint {
  return fullMulDiv(assertUint256("a", a), assertUint256("b", b), WAD, false, "mulWadDown");
}

/** ceil(a * b / WAD): what a user owes (margin, fees). */
export function mulWadUp(a: bigint, b: bigint): bigint {
  return fullMulDiv(assertUint256("a", a), assertUint256("b", b), WAD, true, "mulWadUp");
}

/** floor(a * b / c). */
export function mulDivDown(a: bigint, b: bigint, c: bigint): bigint {
  return fullMulDiv(assertUint256("a", a), assertUint256("b", b), assertUint256("c", c), false, "mulDivDown");
}

/** ceil(a * b / c). */
export function mulDivUp(a: bigint, b: bigint, c: bigint): bigint {
  return fullMulDiv(assertUint256("a", a), assertUint256("b", b), assertUint256("c", c), true, "mulDivUp");
}

/** |x|. Negating type(int256).min is a checked-arithmetic panic in Solidity, so it throws here. */
export function abs(x: bigint): bigint {
  assertInt256("x", x);
  return x >= 0n ? x : negInt(x, "abs");
}

/**
 * floor(a * b / c) for a signed `a` (b, c meant > 0). A negative `a` is floored by rounding its
 * magnitude up and negating. The magnitude goes through SafeCast.toInt256 before the sign, so it
 * must fit int256: a result of type(int256).min, or anything beyond, throws
 * SafeCastOverflowedUintToIntError with that magnitude, as on chain. `-a` of type(int256).min is
 * a checked-arithmetic panic first.
 */
export function mulDivFloor(a: bigint, b: bigint, c: bigint): bigint {
  assertInt256("a", a);
  assertUint256("b", b);
  assertUint256("c", c);
  if (a >= 0n) return toInt256(fullMulDiv(a, b, c, false, "mulDivFloor"), "mulDivFloor");
  const magnitude = fullMulDiv(negInt(a, "mulDivFloor"), b, c, true, "mulDivFloor");
  return -toInt256(magnitude, "mulDivFloor");
}

/** ceil(a * b / c) for a signed `a`: the magnitude of a negative `a` rounds down. Same casts as mulDivFloor. */
export function mulDivCeil(a: bigint, b: bigint, c: bigint): bigint {
  assertInt256("a", a);
  assertUint256("b", b);
  assertUint256("c", c);
  if (a >= 0n) return toInt256(fullMulDiv(a, b, c, true, "mulDivCeil"), "mulDivCeil");
  const magnitude = fullMulDiv(negInt(a, "mulDivCeil"), b, c, false, "mulDivCeil");
  return -toInt256(magnitude, "mulDivCeil");
}

/** floor(a * b / WAD) for signed a and b: a negative `b` flips the sign, so the ceil is negated. */
export function mulWadFloorSigned(a: bigint, b: bigint): bigint {
  assertInt256("a", a);
  assertInt256("b", b);
  return b >= 0n ? mulDivFloor(a, b, WAD) : negInt(mulDivCeil(a, abs(b), WAD), "mulWadFloorSigned");
}

/** ceil(a * b / WAD) for signed a and b: a negative `b` flips the sign, so the floor is negated. */
export function mulWadCeilSigned(a: bigint, b: bigint): bigint {
  assertInt256("a", a);
  assertInt256("b", b);
  return b >= 0n ? mulDivCeil(a, abs(b), WAD) : negInt(mulDivFloor(a, abs(b), WAD), "mulWadCeilSigned");
}

export function min(a: bigint, b: bigint): bigint {
  assertUint256("a", a);
  assertUint256("b", b);
  return a < b ? a : b;
}

export function max(a: bigint, b: bigint): bigint {
  assertUint256("a", a);
  assertUint256("b", b);
  return a > b ? a : b;
}

/**
 * `lo` if x < lo, else `hi` if x > hi, else x. Checks `lo` first, like the library: with lo > hi
 * (a misconfiguration callers must prevent) the result is not monotonic in x.
 */
export function clamp(x: bigint, lo: bigint, hi: bigint): bigint {
  assertUint256("x", x);
  assertUint256("lo", lo);
  assertUint256("hi", hi);
  return x < lo ? lo : x > hi ? hi : x;
}
