/**
 * Errors thrown by the bigint mirror where the Solidity libraries revert.
 *
 * Every error the mirror can throw extends {@link MathError}, so a keeper can tell "the chain
 * would revert on these inputs" (skip the account, or report it) from a bug in its own code.
 */

/** Base class of everything the mirror throws. */
export abstract class MathError extends Error {
  protected constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A Solidity `Panic(uint256)`: checked arithmetic failed. The code is the one the EVM returns,
 * so a test can compare it with the revert data of the contract.
 */
export abstract class SolidityPanicError extends MathError {
  /** Panic code, as in the revert data `Panic(uint256)`. */
  readonly code: bigint;
  /** The mirrored library function that failed. */
  readonly operation: string;

  protected constructor(code: bigint, operation: string, message: string) {
    super(`${message} in ${operation} (Solidity panic 0x${code.toString(16)})`);
    this.code = code;
    this.operation = operation;
  }
}

/**
 * Panic 0x11: an addition, subtraction, multiplication or negation left its type's range. The only
 * panic the libraries can raise: every division goes through solady (FullMulDivFailedError).
 */
export class ArithmeticOverflowError extends SolidityPanicError {
  static readonly CODE = 0x11n;

  constructor(operation: string) {
    super(ArithmeticOverflowError.CODE, operation, "arithmetic overflow or underflow");
  }
}

/**
 * Mirrors solady's `FixedPointMathLib.FullMulDivFailed()`, which every FixedPoint multiply-divide
 * reverts with (no Panic): the divisor is zero (e.g. a zero skewScale), the exact quotient does
 * not fit uint256, or, when rounding up, the quotient is type(uint256).max with a remainder.
 */
export class FullMulDivFailedError extends MathError {
  /** The 4-byte revert data, `bytes4(keccak256("FullMulDivFailed()"))`. */
  static readonly SELECTOR = "0xae47f702";
  /** The mirrored library function that failed. */
  readonly operation: string;

  constructor(operation: string) {
    super(`FullMulDivFailed() in ${operation}: zero divisor, or a quotient that does not fit uint256`);
    this.operation = operation;
  }
}

/**
 * Mirrors OpenZeppelin `SafeCast.SafeCastOverflowedUintToInt(uint256 value)`: a uint256 above
 * type(int256).max was converted to int256 (a signed quotient too large, or a price, fill or
 * elapsed time beyond 2^255 - 1).
 */
export class SafeCastOverflowedUintToIntError extends MathError {
  /** `bytes4(keccak256("SafeCastOverflowedUintToInt(uint256)"))`. */
  static readonly SELECTOR = "0x24775e06";
  /** The value that did not fit, as in the revert argument. */
  readonly value: bigint;
  /** The mirrored library function that failed. */
  readonly operation: string;

  constructor(value: bigint, operation: string) {
    super(`SafeCastOverflowedUintToInt(${value}) in ${operation}: the value does not fit int256`);
    this.value = value;
    this.operation = operation;
  }
}

/**
 * Mirrors `PerpMath.NonPositiveFillPrice(int256 fillPrice)`: the trade is too large against the
 * skew for the fill formula to give a positive price. Use a smaller trade.
 */
export class NonPositiveFillPriceError extends MathError {
  /** The non-positive fill, as in the revert argument. */
  readonly fillPrice: bigint;

  constructor(fillPrice: bigint) {
    super(`fill price ${fillPrice} is not positive: the trade is too large against the skew; reduce it`);
    this.fillPrice = fillPrice;
  }
}

/**
 * An argument does not fit the Solidity type of the parameter it mirrors. The chain could never
 * receive it (ABI encoding would fail), so this signals a bug or bad data in the caller; check the
 * units (WAD) and the source of the value.
 */
export class InputOutOfRangeError extends MathError {
  readonly parameter: string;
  readonly value: bigint;
  readonly solidityType: string;

  constructor(parameter: string, value: bigint, solidityType: string) {
    super(`${parameter} = ${value} does not fit ${solidityType}: check its units (WAD) and where it came from`);
    this.parameter = parameter;
    this.value = value;
    this.solidityType = solidityType;
  }
}

/**
 * The snapshot handed to the engine mirror lacks data the engine would read: a position in a
 * market whose config, state and oracle values are not in the snapshot. Not a MathError: the
 * chain would not revert, the caller's snapshot is incomplete; read every market the account
 * holds (engine.accountMarkets) before computing its summary.
 */
export class IncompleteSnapshotError extends Error {
  readonly marketId: number;

  constructor(marketId: number) {
    super(`the snapshot has a position in market ${marketId} but no data for that market; read it first`);
    this.name = new.target.name;
    this.marketId = marketId;
  }
}
