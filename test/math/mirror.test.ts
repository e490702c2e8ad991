/**
 * Worked examples of the mirror's rounding and its typed errors. The differential test proves the
 * mirror equals the chain; these pin down, in numbers a reader can check by hand, what that is.
 */
import { expect } from "chai";
import { id } from "ethers";

import {
  ArithmeticOverflowError,
  FullMulDivFailedError,
  InputOutOfRangeError,
  MAX_INT256,
  MAX_UINT256,
  MAX_UINT64,
  MIN_INT256,
  MathError,
  NonPositiveFillPriceError,
  type RiskParams,
  SafeCastOverflowedUintToIntError,
  SolidityPanicError,
  WAD,
  abs,
  applyTrade,
  fillPrice,
  fundingRate,
  mulDivCeil,
  mulDivDown,
  mulDivFloor,
  mulWadUp,
  positionValue,
  tradeFee,
  volatilityTerm,
} from "../../scripts/lib/math/index.js";

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

  it("positionValue rounds toward negative infinity, for longs and shorts", function () {
    // size * (price - index - basis) = +-1e-18 of a wei
    expect(positionValue(1n, 2n, 3n, 0n)).to.equal(0n); // +1e-18 rounds down to 0
    expect(positionValue(-1n, 2n, 3n, 0n)).to.equal(-1n); // -1e-18 rounds down to -1
    // 2 long from basis 95 at price 110 with the index at 10: 2 * (110 - 10 - 95) = 10
    expect(positionValue(2n * WAD, 95n * WAD, 110n * WAD, 10n * WAD)).to.equal(10n * WAD);
  });

  it("positionValue is PnL less funding owed since entry: a rising index costs longs and pays shorts", function () {
    // opened at fill 100 with the index at 5: basis 95. The index then rises by 3 (funding owed 3 a unit).
    const basis = 100n * WAD - 5n * WAD;
    expect(positionValue(WAD, basis, 100n * WAD, 8n * WAD)).to.equal(-3n * WAD);
    expect(positionValue(-WAD, basis, 100n * WAD, 8n * WAD)).to.equal(3n * WAD);
  });

  it("applyTrade: opening sets the basis to fill - funding index", function () {
    expect(applyTrade(0n, 0n, WAD, 100n * WAD, 5n * WAD)).to.deep.equal({ newBasis: 95n * WAD, realised: 0n });
    // a negative index (shorts have been paying) gives a basis above the fill
    expect(applyTrade(0n, 0n, -WAD, 100n * WAD, -5n * WAD)).to.deep.equal({ newBasis: 105n * WAD, realised: 0n });
  });

  it("applyTrade averages the basis against the trader: a long's up, a short's down", function () {
    // basis 2 and mark 3, equal weights: 2.5
    expect(applyTrade(1n, 2n, 1n, 3n, 0n)).to.deep.equal({ newBasis: 3n, realised: 0n });
    expect(applyTrade(-1n, 2n, -1n, 3n, 0n)).to.deep.equal({ newBasis: 2n, realised: 0n });
    // negative bases round the same way: (-2 + -3) / 2 = -2.5
    expect(applyTrade(1n, -2n, 1n, 0n, 3n)).to.deep.equal({ newBasis: -2n, realised: 0n });
    expect(applyTrade(-1n, -2n, -1n, 0n, 3n)).to.deep.equal({ newBasis: -3n, realised: 0n });
  });

  it("applyTrade: a close realises PnL net of funding and zeroes the basis; a flip opens at the mark", function () {
    // 2 long at basis 95, closed at 110 with the index at 10: 2 * (110 - 10 - 95)
    expect(applyTrade(2n * WAD, 95n * WAD, -2n * WAD, 110n * WAD, 10n * WAD)).to.deep.equal({
      newBasis: 0n,
      realised: 10n * WAD,
    });
    // a partial close keeps the basis
    expect(applyTrade(2n * WAD, 95n * WAD, -WAD, 110n * WAD, 10n * WAD)).to.deep.equal({
      newBasis: 95n * WAD,
      realised: 5n * WAD,
    });
    // 2 long at basis 100 sold 5 at 90 with the index at 3: realises 2 * (90 - 3 - 100), 3 short at 87
    expect(applyTrade(2n * WAD, 100n * WAD, -5n * WAD, 90n * WAD, 3n * WAD)).to.deep.equal({
      newBasis: 87n * WAD,
      realised: -26n * WAD,
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
    const overflow = thrown(() => abs(MIN_INT256));
    expect(overflow).to.be.instanceOf(ArithmeticOverflowError);
    expect(overflow).to.be.instanceOf(SolidityPanicError);
    expect((overflow as SolidityPanicError).code).to.equal(0x11n);
  });

  it("a zero divisor or a quotient above uint256 is solady's FullMulDivFailed(), not a panic", function () {
    const division = thrown(() => mulDivDown(1n, 1n, 0n));
    expect(division).to.be.instanceOf(FullMulDivFailedError);
    expect(division).to.not.be.instanceOf(SolidityPanicError);
    expect((division as FullMulDivFailedError).operation).to.equal("mulDivDown");
    expect(thrown(() => mulDivDown(MAX_UINT256, 2n, 1n))).to.be.instanceOf(FullMulDivFailedError);
    // rounding up type(uint256).max fails too: floor(x * (WAD + 1) / WAD) is exactly max, with a remainder
    const x = 0xffffffffffffffed8da22e2dbc54606ce862ed069eb19350550de6906b1de3b1n;
    expect(thrown(() => mulWadUp(x, WAD + 1n))).to.be.instanceOf(FullMulDivFailedError);
    // a zero skewScale reaches it through fundingRate
    expect(thrown(() => fundingRate(1n, 0n, 1n))).to.be.instanceOf(FullMulDivFailedError);
  });

  it("the error classes carry the selectors of the Solidity errors they mirror", function () {
    expect(FullMulDivFailedError.SELECTOR).to.equal(id("FullMulDivFailed()").slice(0, 10));
    expect(SafeCastOverflowedUintToIntError.SELECTOR).to.equal(id("SafeCastOverflowedUintToInt(uint256)").slice(0, 10));
  });

  it("a zero trade on a flat position divides by zero, as on chain", function () {
    expect(thrown(() => applyTrade(0n, 0n, 0n, WAD, 0n))).to.be.instanceOf(FullMulDivFailedError);
  });

  it("inputs the ABI could not encode are rejected, not computed", function () {
    expect(thrown(() => mulDivDown(-1n, 1n, 1n))).to.be.instanceOf(InputOutOfRangeError);
    const error = thrown(() => volatilityTerm({ ...params, kMm: MAX_UINT64 + 1n }, 0n));
    expect(error).to.be.instanceOf(InputOutOfRangeError);
    expect((error as InputOutOfRangeError).parameter).to.equal("RiskParams.kMm");
  });
});

describe("math mirror: regressions and known library behaviour (see test/solidity/*.t.sol)", function () {
  it("regression: mulDivFloor / mulDivCeil throw SafeCastOverflowedUintToInt above int256 max (they wrapped)", function () {
    // The library cast with an unchecked int256(...): floor(MAX_INT * 2) was -2. Now SafeCast.toInt256.
    for (const call of [() => mulDivFloor(MAX_INT256, 2n, 1n), () => mulDivCeil(MAX_INT256, 2n, 1n)]) {
      const error = thrown(call);
      expect(error).to.be.instanceOf(SafeCastOverflowedUintToIntError);
      expect((error as SafeCastOverflowedUintToIntError).value).to.equal(2n * MAX_INT256);
    }
    // the boundary: a magnitude of 2^255 - 1 converts, 2^255 does not, even where -2^255 would fit
    expect(mulDivFloor(MAX_INT256, 1n, 1n)).to.equal(MAX_INT256);
    const error = thrown(() => mulDivFloor(-(1n << 254n), 2n, 1n));
    expect((error as SafeCastOverflowedUintToIntError).value).to.equal(1n << 255n);
  });

  it("regression: a price, fill or elapsed time above int256 max throws SafeCastOverflowedUintToInt (it wrapped)", function () {
    const big = MAX_INT256 + 1n;
    for (const call of [
      () => positionValue(1n, 0n, big, 0n),
      () => fillPrice(big, 0n, 0n, 1n),
      () => applyTrade(0n, 0n, 1n, big, 0n),
    ]) {
      const error = thrown(call);
      expect(error).to.be.instanceOf(SafeCastOverflowedUintToIntError);
      expect((error as SafeCastOverflowedUintToIntError).value).to.equal(big);
    }
  });

  it("fundingRate floors: a one-wei short skew pays, a one-wei long skew does not", function () {
    expect(fundingRate(-1n, 10n ** 21n, 10n ** 12n)).to.equal(-1n);
    expect(fundingRate(1n, 10n ** 21n, 10n ** 12n)).to.equal(0n);
  });
});
