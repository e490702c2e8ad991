// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {PerpMath} from "../../contracts/libraries/PerpMath.sol";
import {MathHarness} from "../../contracts/harness/MathHarness.sol";
import {MathTestBase} from "./MathTestBase.sol";
import {WAD} from "../../contracts/libraries/Constants.sol";

/// @notice Properties of PerpMath, fuzzed within realistic bounds: every rounding favours the
///         protocol, by at most one wei, and applyTrade realises a position's net value (PnL less the
///         funding it owes, through its basis = entry price - funding index at entry) without
///         leaving rounding to harvest.
contract PerpMathTest is MathTestBase {
    MathHarness internal harness;

    function setUp() public {
        // Only to observe reverts (try/catch needs an external call); properties use the library.
        harness = new MathHarness();
    }

    // ---------------------------------------------------------------- fillPrice

    /// A buy never fills below the exact rational fill, a sell never above, each within one wei;
    /// the call reverts exactly when that protocol-favouring fill would not be positive.
    function testFuzz_FillPriceRoundsAgainstTheTrader(
        uint256 indexPrice,
        int256 skew,
        int256 sizeDelta,
        uint256 skewScale
    ) public view {
        indexPrice = _price(indexPrice);
        skew = _size(skew);
        sizeDelta = _size(sizeDelta);
        skewScale = _skewScale(skewScale);
        int256 denom = 2 * int256(skewScale);
        // exact fill, scaled by denom: index * denom + index * (2 * skew + sizeDelta)
        int256 exactScaled = int256(indexPrice) * denom + int256(indexPrice) * (2 * skew + sizeDelta);
        bool isBuy = sizeDelta > 0;
        try harness.fillPrice(indexPrice, skew, sizeDelta, skewScale) returns (uint256 fill) {
            int256 fillScaled = int256(fill) * denom;
            if (isBuy) {
                assertGe(fillScaled, exactScaled, "a buy filled below the exact price");
                assertLt(fillScaled, exactScaled + denom, "a buy filled more than one wei above");
            } else {
                assertLe(fillScaled, exactScaled, "a sell filled above the exact price");
                assertGt(fillScaled, exactScaled - denom, "a sell filled more than one wei below");
            }
        } catch (bytes memory reason) {
            assertEq(bytes4(reason), PerpMath.NonPositiveFillPrice.selector, "unexpected revert");
            // ceil(exact) <= 0 for a buy, floor(exact) <= 0 for a sell
            if (isBuy) assertLe(exactScaled, 0, "a buy reverted with a positive fill");
            else assertLt(exactScaled, denom, "a sell reverted with a fill of at least one wei");
        }
    }

    /// Worked revert: index 10, skewScale 1, selling 3 into zero skew gives 10 + floor(10 * -3 / 2).
    function test_FillPriceRevertsWithTheNonPositiveFill() public {
        vm.expectRevert(abi.encodeWithSelector(PerpMath.NonPositiveFillPrice.selector, int256(-5)));
        harness.fillPrice(10, 0, -3, 1);
    }

    /// The same trade costs a buyer more when the skew is already longer.
    function testFuzz_FillPriceMonotoneInSkewForBuys(
        uint256 indexPrice,
        int256 skew,
        uint256 moreSkew,
        int256 sizeDelta,
        uint256 skewScale
    ) public view {
        indexPrice = _price(indexPrice);
        skew = _size(skew);
        int256 longerSkew = skew + int256(_absSize(moreSkew));
        sizeDelta = bound(sizeDelta, 1, int256(MAX_SIZE));
        skewScale = _skewScale(skewScale);
        try harness.fillPrice(indexPrice, skew, sizeDelta, skewScale) returns (uint256 fill) {
            assertGe(PerpMath.fillPrice(indexPrice, longerSkew, sizeDelta, skewScale), fill);
        } catch {}
    }

    // ---------------------------------------------------------------- funding

    function testFuzz_FundingRateBoundedAndMonotoneInSkew(
        int256 skewA,
        int256 skewB,
        uint256 skewScale,
        uint256 maxRate
    ) public pure {
        skewA = _size(skewA);
        skewB = _size(skewB);
        if (skewA > skewB) (skewA, skewB) = (skewB, skewA);
        skewScale = _skewScale(skewScale);
        maxRate = bound(maxRate, 0, MAX_FUNDING_RATE);
        int256 rateA = PerpMath.fundingRate(skewA, skewScale, maxRate);
        int256 rateB = PerpMath.fundingRate(skewB, skewScale, maxRate);
        assertLe(rateA, rateB, "a longer skew lowered the funding rate");
        assertLe(_abs(rateA), maxRate, "rate above the maximum");
        assertLe(_abs(rateB), maxRate, "rate above the maximum");
        if (skewA >= 0) assertGe(rateA, 0, "longs received funding on a long skew");
        if (skewB <= 0) assertLe(rateB, 0, "shorts received funding on a short skew");
    }

    /// KNOWN BEHAVIOUR (reported, harmless): both steps of fundingRate floor, so any short skew,
    /// however tiny, charges shorts at least one wei per second, while a tiny long skew charges
    /// nothing. Rounding toward zero would be symmetric; the amounts are ~1e-18 of a unit.
    function test_Known_FundingRateFloorsATinyShortSkewToMinusOneWei() public pure {
        assertEq(PerpMath.fundingRate(-1, 1e21, 1e12), -1);
        assertEq(PerpMath.fundingRate(1, 1e21, 1e12), 0);
    }

    /// The index moves by floor(rate * elapsed * price), exactly to the wei below.
    function testFuzz_FundingIndexDeltaIsFloor(int256 rate, uint256 indexPrice, uint256 elapsed) public pure {
        rate = bound(rate, -int256(MAX_FUNDING_RATE), int256(MAX_FUNDING_RATE));
        indexPrice = _price(indexPrice);
        elapsed = bound(elapsed, 0, MAX_ELAPSED);
        int256 exactScaled = rate * int256(elapsed) * int256(indexPrice);
        int256 delta = PerpMath.fundingIndexDelta(rate, indexPrice, elapsed);
        assertLe(delta * SIGNED_WAD, exactScaled);
        assertGt(delta * SIGNED_WAD + SIGNED_WAD, exactScaled);
    }

    // ---------------------------------------------------------------- position value and notional

    /// Net value floor(size * (price - fundingIndex - basis) / WAD): never above the exact value, and
    /// under one wei below it, for longs and shorts, and either sign of index and basis.
    function testFuzz_PositionValueRoundsTowardNegativeInfinity(
        int256 size,
        int256 basis,
        uint256 price,
        int256 fundingIndex
    ) public pure {
        size = _size(size);
        basis = _basis(basis);
        price = _price(price);
        fundingIndex = _fundingIndex(fundingIndex);
        int256 exactScaled = size * (int256(price) - fundingIndex - basis);
        int256 value = PerpMath.positionValue(size, basis, price, fundingIndex);
        assertLe(value * SIGNED_WAD, exactScaled, "position value rounded up");
        assertGt(value * SIGNED_WAD + SIGNED_WAD, exactScaled, "position value more than one wei below");
    }

    function testFuzz_NotionalNeverBelowExact(int256 size, uint256 price) public pure {
        size = _size(size);
        price = _price(price);
        uint256 exactScaled = _abs(size) * price;
        uint256 result = PerpMath.notional(size, price);
        assertGe(result * WAD, exactScaled);
        assertLt(result * WAD, exactScaled + WAD);
    }

    // ---------------------------------------------------------------- applyTrade

    /// A position and the market it trades in, grouped to keep fuzzed functions within the stack.
    struct TradeCase {
        int256 oldSize;
        int256 basis;
        uint256 fill;
        int256 fundingIndex;
    }

    /// An open position (non-zero size) at bounded prices.
    function _open(TradeCase memory t) internal pure returns (TradeCase memory) {
        t.oldSize = _nonZeroSize(t.oldSize);
        t.basis = _basis(t.basis);
        t.fill = _price(t.fill);
        t.fundingIndex = _fundingIndex(t.fundingIndex);
        return t;
    }

    function _apply(TradeCase memory t, int256 sizeDelta) internal pure returns (int256, int256) {
        return PerpMath.applyTrade(t.oldSize, t.basis, sizeDelta, t.fill, t.fundingIndex);
    }

    function _valueAtFill(TradeCase memory t) internal pure returns (int256) {
        return PerpMath.positionValue(t.oldSize, t.basis, t.fill, t.fundingIndex);
    }

    /// Closing a position realises exactly its net value at the fill and the current index (PnL and
    /// funding owed, settled together), and leaves no basis behind.
    function testFuzz_FullCloseRealisesPositionValue(TradeCase memory t) public pure {
        t = _open(t);
        (int256 newBasis, int256 realised) = _apply(t, -t.oldSize);
        assertEq(realised, _valueAtFill(t), "close did not realise positionValue(oldSize, basis, fill, index)");
        assertEq(newBasis, 0, "a flat position kept a basis");
    }

    /// A trade opposite to and larger than the position realises all of it, and the rest opens at
    /// basis fill - fundingIndex, exactly.
    function testFuzz_FlipRealisesWholeOldSideAndOpensAtTheMark(TradeCase memory t, uint256 beyond) public pure {
        t = _open(t);
        int256 extra = int256(bound(beyond, 1, MAX_SIZE));
        int256 sizeDelta = t.oldSize > 0 ? -t.oldSize - extra : -t.oldSize + extra;
        (int256 newBasis, int256 realised) = _apply(t, sizeDelta);
        assertEq(realised, _valueAtFill(t), "flip did not realise the whole old side");
        assertEq(newBasis, int256(t.fill) - t.fundingIndex, "the new side did not open at fill - index");
    }

    /// Closing in two steps never realises more than closing at once (no rounding to harvest), and
    /// a partial close leaves the basis alone.
    function testFuzz_SplitCloseNeverRealisesMore(TradeCase memory t, uint256 firstPart) public pure {
        t = _open(t);
        int256 first = int256(bound(firstPart, 0, _abs(t.oldSize)));
        if (t.oldSize < 0) first = -first;
        (int256 basisAfterFirst, int256 realisedFirst) = _apply(t, -first);
        int256 rest = t.oldSize - first;
        int256 realisedRest;
        if (rest != 0) {
            assertEq(basisAfterFirst, t.basis, "a partial close moved the basis");
            (, realisedRest) = PerpMath.applyTrade(rest, basisAfterFirst, -rest, t.fill, t.fundingIndex);
        }
        assertLe(realisedFirst + realisedRest, _valueAtFill(t), "splitting the close realised more");
    }

    /// Opening or adding realises nothing; the new basis is the size-weighted average of the old
    /// basis and the mark (fill - fundingIndex), rounded against the trader (a long's up, a short's
    /// down) by under one wei, so it lies between the two. From flat it is the mark exactly.
    function testFuzz_IncreaseAveragesBasisAgainstTheTrader(TradeCase memory t, int256 addition) public pure {
        t.oldSize = _size(t.oldSize);
        t.basis = t.oldSize == 0 ? int256(0) : _basis(t.basis);
        t.fill = _price(t.fill);
        t.fundingIndex = _fundingIndex(t.fundingIndex);
        int256 sizeDelta = _nonZeroSize(addition);
        if (t.oldSize != 0 && (t.oldSize > 0) != (sizeDelta > 0)) sizeDelta = -sizeDelta;
        (int256 newBasis, int256 realised) = _apply(t, sizeDelta);
        assertEq(realised, 0, "an increase realised value");
        int256 mark = int256(t.fill) - t.fundingIndex;
        int256 absNew = int256(_abs(t.oldSize) + _abs(sizeDelta));
        int256 weighted = int256(_abs(t.oldSize)) * t.basis + int256(_abs(sizeDelta)) * mark;
        if (sizeDelta > 0) {
            assertGe(newBasis * absNew, weighted, "long basis rounded down");
            assertLt(newBasis * absNew, weighted + absNew, "long basis more than one wei up");
        } else {
            assertLe(newBasis * absNew, weighted, "short basis rounded up");
            assertGt(newBasis * absNew + absNew, weighted, "short basis more than one wei down");
        }
        if (t.oldSize == 0) {
            assertEq(newBasis, mark, "a position opened from flat not at the mark");
        } else {
            assertGe(newBasis, t.basis < mark ? t.basis : mark, "basis below both the old basis and the mark");
            assertLe(newBasis, t.basis > mark ? t.basis : mark, "basis above both the old basis and the mark");
        }
    }

    // ---------------------------------------------------------------- regressions

    /// REGRESSION: PerpMath converted its uint256 inputs (index price, price, fill, elapsed) with an
    /// unchecked int256(...), so a value above type(int256).max turned negative and gave a wrong
    /// result or an unrelated revert (a panic, NonPositiveFillPrice). They now go through
    /// SafeCast.toInt256 and revert SafeCastOverflowedUintToInt(value).
    function test_Regression_UintInputsAboveInt256MaxRevertSafeCast() public {
        uint256 big = uint256(type(int256).max) + 1;
        bytes memory overflow = abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintToInt.selector, big);
        vm.expectRevert(overflow);
        harness.positionValue(1, 0, big, 0);
        vm.expectRevert(overflow);
        harness.fillPrice(big, 0, 0, 1);
        vm.expectRevert(overflow);
        harness.fundingIndexDelta(0, 1, big);
        vm.expectRevert(overflow);
        harness.applyTrade(0, 0, 1, big, 0);
        // the largest value that converts still does
        assertEq(harness.positionValue(0, 0, big - 1, 0), 0);
    }
}
