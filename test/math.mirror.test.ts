/**
 * Worked examples of the mirror's rounding and its typed errors. The differential test proves the
 * mirror equals the chain; these pin down, in numbers a reader can check by hand, what that is.
 */
import { expect } from "chai";

import {
  ArithmeticOverflowError,
  DivisionByZeroError,
  InputOutOfRangeError,
  MAX_INT256,
  MAX_UINT64,
  MIN_INT256,
  MathError,
  NonPositiveFillPriceError,
  type RiskParams,
  SolidityPanicError,
  WAD,
  abs,
  applyTrade,
  fillPrice,
  fundingOwed,
  fundingRate,
  mulDivCeil,
  mulDivDown,
  mulDivFloor,
  pnl,
  tradeFee,
  volatilityTerm,
} from "../scripts/lib/math/index.js";

const params: RiskParams = {
  mmrBase: WAD / 100n,
  mmrMin: WAD / 50n,
  mmrMax: WAD / 4n,
  kMm: WAD / 10n,
  imMultiplier: 2n * WAD,
  sizePremium: WAD / 10n,
  mmrRampPerSecond: WAD / 1_000_000n,
  baseFee: WAD / 1_000n,
  kFee: WAD,
};

function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

describe("math mirror: worked rounding examples", function () {
  it("fillPrice: a buy rounds the fill up, a sell down", function () {
    // index 3 wei, skewScale 2: adjustment = 3 * (+-1) / 4 = +-0.75 wei
    expect(fillPrice(3n, 0n, 1n, 2n)).to.equal(4n);
    expect(fillPrice(3n, 0n, -1n, 2n)).to.equal(2n);
    // 1 unit bought at skew 0 with skewScale 1000: index * (1 + 1 / 2000)
    expect(fillPrice(100n * WAD, 0n, WAD, 1000n * WAD)).to.equal(100n * WAD + WAD / 20n);
  });

  it("pnl rounds toward negative infinity, fundingOwed toward positive infinity", function () {
    expect(pnl(1n, 2n, 3n)).to.equal(0n); // +1e-18 wei rounds down to 0
    expect(pnl(-1n, 2n, 3n)).to.equal(-1n); // -1e-18 wei rounds down to -1
    expect(fundingOwed(1n, 1n, 0n)).to.equal(1n); // owes 1e-18 wei: rounds up to 1
    expect(fundingOwed(-1n, 1n, 0n)).to.equal(0n); // receives 1e-18 wei: rounds up to 0
  });

  it("applyTrade averages entry against the trader: longs up, shorts down", function () {
    expect(applyTrade(1n, 2n, 1n, 3n)).to.deep.equal({ newEntryPrice: 3n, realisedPnl: 0n }); // 2.5 -> 3
    expect(applyTrade(-1n, 2n, -1n, 3n)).to.deep.equal({ newEntryPrice: 2n, realisedPnl: 0n }); // 2.5 -> 2
  });

  it("applyTrade: a close zeroes the entry and a flip realises the whole old side", function () {
    expect(applyTrade(2n * WAD, 100n * WAD, -2n * WAD, 110n * WAD)).to.deep.equal({
      newEntryPrice: 0n,
      realisedPnl: 20n * WAD,
    });
    expect(applyTrade(2n * WAD, 100n * WAD, -5n * WAD, 90n * WAD)).to.deep.equal({
      newEntryPrice: 90n * WAD,
      realisedPnl: -20n * WAD,
    });
  });

  it("tradeFee: the reducing part pays baseFee only, the adding part the risk rate", function () {
    const sigma = WAD / 2n; // risk rate = 0.1% * (1 + 1 * 0.5) = 0.15%
    expect(tradeFee(params, 2n * WAD, -WAD, 100n * WAD, sigma, WAD)).to.equal(WAD / 10n); // 0.1% of 100
    expect(tradeFee(params, 0n, WAD, 100n * WAD, sigma, WAD)).to.equal((15n * WAD) / 100n); // 0.15% of 100
    // flip of 3 from +1: 1 reduces (0.1), 2 add (0.3)
    expect(tradeFee(params, WAD, -3n * WAD, 100n * WAD, sigma, WAD)).to.equal((4n * WAD) / 10n);
  });

  it("volatilityTerm clamps mmrBase + kMm * sigma into [mmrMin, mmrMax]", function () {
    expect(volatilityTerm(params, 0n)).to.equal(WAD / 50n); // 1% below the 2% floor
    expect(volatilityTerm(params, WAD / 2n)).to.equal((6n * WAD) / 100n); // 1% + 0.1 * 50%
    expect(volatilityTerm(params, 10n * WAD)).to.equal(WAD / 4n); // capped at 25%
  });
});

describe("math mirror: typed errors where the libraries revert", function () {
  it("NonPositiveFillPriceError carries the fill, like the custom error", function () {
    // sell 3 into skew 0 with skewScale 1: fill = 10 + floor(10 * -3 / 2) = -5
    const error = thrown(() => fillPrice(10n, 0n, -3n, 1n));
    expect(error).to.be.instanceOf(NonPositiveFillPriceError);
    expect(error).to.be.instanceOf(MathError);
    expect((error as NonPositiveFillPriceError).fillPrice).to.equal(-5n);
  });

  it("checked-arithmetic panics carry the EVM panic code", function () {
    const division = thrown(() => mulDivDown(1n, 1n, 0n));
    expect(division).to.be.instanceOf(DivisionByZeroError);
    expect((division as SolidityPanicError).code).to.equal(0x12n);
    const overflow = thrown(() => abs(MIN_INT256));
    expect(overflow).to.be.instanceOf(ArithmeticOverflowError);
    expect((overflow as SolidityPanicError).code).to.equal(0x11n);
  });

  it("a zero trade on a flat position divides by zero, as on chain", function () {
    expect(thrown(() => applyTrade(0n, 0n, 0n, WAD))).to.be.instanceOf(DivisionByZeroError);
  });

  it("inputs the ABI could not encode are rejected, not computed", function () {
    expect(thrown(() => mulDivDown(-1n, 1n, 1n))).to.be.instanceOf(InputOutOfRangeError);
    const error = thrown(() => volatilityTerm({ ...params, kMm: MAX_UINT64 + 1n }, 0n));
    expect(error).to.be.instanceOf(InputOutOfRangeError);
    expect((error as InputOutOfRangeError).parameter).to.equal("RiskParams.kMm");
  });
});

describe("math mirror: known library behaviour, mirrored on purpose (see test/solidity/*.t.sol)", function () {
  it("KNOWN BUG: mulDivFloor / mulDivCeil wrap a quotient >= 2^255 instead of reverting", function () {
    // The library casts with an unchecked int256(...); the mirror must agree with the chain. When
    // FixedPoint switches to SafeCast.toInt256, change the mirror and this test together.
    expect(mulDivFloor(MAX_INT256, 2n, 1n)).to.equal(-2n);
    expect(mulDivCeil(MAX_INT256, 2n, 1n)).to.equal(-2n);
  });

  it("fundingRate floors: a one-wei short skew pays, a one-wei long skew does not", function () {
    expect(fundingRate(-1n, 10n ** 21n, 10n ** 12n)).to.equal(-1n);
    expect(fundingRate(1n, 10n ** 21n, 10n ** 12n)).to.equal(0n);
  });
});
