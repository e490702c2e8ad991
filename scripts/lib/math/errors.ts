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

/** Panic 0x11: an addition, subtraction, multiplication or negation left its type's range. */
export class ArithmeticOverflowError extends SolidityPanicError {
  static readonly CODE = 0x11n;

  constructor(operation: string) {
    super(ArithmeticOverflowError.CODE, operation, "arithmetic overflow or underflow");
  }
}

/** Panic 0x12: division or modulo by zero (e.g. a zero skewScale). */
export class DivisionByZeroError extends SolidityPanicError {
  static readonly CODE = 0x12n;

  constructor(operation: string) {
    super(DivisionByZeroError.CODE, operation, "division by zero");
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
