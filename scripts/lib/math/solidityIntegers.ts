/**
 * Solidity 0.8 integer semantics in bigint: type bounds, checked arithmetic that throws where the
 * EVM panics, and the explicit conversions that do NOT check (they reinterpret bits).
 *
 * The libraries are written in checked arithmetic, so an overflow there is a revert, not a wrapped
 * value; the mirror must throw at the same inputs or a keeper would compute a number the chain
 * can never produce.
 */
import { ArithmeticOverflowError, InputOutOfRangeError, SafeCastOverflowedUintToIntError } from "./errors.js";

export const MAX_UINT256 = (1n << 256n) - 1n;
export const MAX_UINT128 = (1n << 128n) - 1n;
export const MAX_UINT64 = (1n << 64n) - 1n;
export const MAX_INT256 = (1n << 255n) - 1n;
export const MIN_INT256 = -(1n << 255n);
export const MAX_INT128 = (1n << 127n) - 1n;
export const MIN_INT128 = -(1n << 127n);

export function assertUint256(parameter: string, x: bigint): bigint {
  if (x < 0n || x > MAX_UINT256) throw new InputOutOfRangeError(parameter, x, "uint256");
  return x;
}

export function assertUint128(parameter: string, x: bigint): bigint {
  if (x < 0n || x > MAX_UINT128) throw new InputOutOfRangeError(parameter, x, "uint128");
  return x;
}

export function assertUint64(parameter: string, x: bigint): bigint {
  if (x < 0n || x > MAX_UINT64) throw new InputOutOfRangeError(parameter, x, "uint64");
  return x;
}

export function assertInt128(parameter: string, x: bigint): bigint {
  if (x < MIN_INT128 || x > MAX_INT128) throw new InputOutOfRangeError(parameter, x, "int128");
  return x;
}

export function assertInt256(parameter: string, x: bigint): bigint {
  if (x < MIN_INT256 || x > MAX_INT256) throw new InputOutOfRangeError(parameter, x, "int256");
  return x;
}

function checkUint(x: bigint, operation: string): bigint {
  if (x < 0n || x > MAX_UINT256) throw new ArithmeticOverflowError(operation);
  return x;
}

function checkInt(x: bigint, operation: string): bigint {
  if (x < MIN_INT256 || x > MAX_INT256) throw new ArithmeticOverflowError(operation);
  return x;
}

export const addUint = (a: bigint, b: bigint, operation: string): bigint => checkUint(a + b, operation);
export const subUint = (a: bigint, b: bigint, operation: string): bigint => checkUint(a - b, operation);
export const mulUint = (a: bigint, b: bigint, operation: string): bigint => checkUint(a * b, operation);
export const addInt = (a: bigint, b: bigint, operation: string): bigint => checkInt(a + b, operation);
export const subInt = (a: bigint, b: bigint, operation: string): bigint => checkInt(a - b, operation);
export const mulInt = (a: bigint, b: bigint, operation: string): bigint => checkInt(a * b, operation);
/** `-x` on int256 panics only for type(int256).min. */
export const negInt = (x: bigint, operation: string): bigint => checkInt(-x, operation);

/**
 * OpenZeppelin `SafeCast.toInt256(x)` for a uint256 x: the libraries convert every uint256 that
 * may exceed type(int256).max this way, and revert rather than wrap.
 */
export function toInt256(x: bigint, operation: string): bigint {
  if (x > MAX_INT256) throw new SafeCastOverflowedUintToIntError(x, operation);
  return x;
}

/**
 * `int256(x)` for a uint256 x. Solidity does not check this conversion: values above
 * type(int256).max come back negative (two's complement). Only where the contracts still use it
 * (PerpEngine's `int256(margin)` and the like), so the mirror agrees with them even where they
 * would wrap.
 */
export const uint256ToInt256 = (x: bigint): bigint => BigInt.asIntN(256, x);

/** `uint256(x)` for an int256 x; unchecked in Solidity, the libraries only apply it to x >= 0. */
export const int256ToUint256 = (x: bigint): bigint => BigInt.asUintN(256, x);
