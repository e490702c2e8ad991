// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {PerpMath} from "../../contracts/libraries/PerpMath.sol";
import {MathHarness} from "../../contracts/harness/MathHarness.sol";
import {MathTestBase} from "./MathTestBase.sol";

/// @notice Properties of PerpMath, fuzzed within realistic bounds: every rounding favours the
///         protocol, by at most one wei, and applyTrade conserves PnL.
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

    /// Funding owed is never below the exact amount (longs and shorts alike), by under one wei.
    function testFuzz_FundingOwedNeverBelowExact(int256 size, int256 index, int256 lastIndex) public pure {
        size = _size(size);
        index = bound(index, -MAX_FUNDING_INDEX, MAX_FUNDING_INDEX);
        lastIndex = bound(lastIndex, -MAX_FUNDING_INDEX, MAX_FUNDING_INDEX);
        int256 exactScaled = size * (index - lastIndex);
        int256 owed = PerpMath.fundingOwed(size, index, lastIndex);
        assertGe(owed * SIGNED_WAD, exactScaled, "funding owed rounded down");
        assertLt(owed * SIGNED_WAD, exactScaled + SIGNED_WAD, "funding owed more than one wei above");
    }

    // ---------------------------------------------------------------- pnl and notional

    function testFuzz_PnlNeverAboveExact(int256 size, uint256 entryPrice, uint256 price) public pure {
        size = _size(size);
        entryPrice = _price(entryPrice);
        price = _price(price);
        int256 exactScaled = size * (int256(price) - int256(entryPrice));
        int256 result = PerpMath.pnl(size, entryPrice, price);
        assertLe(result * SIGNED_WAD, exactScaled, "pnl rounded up");
        assertGt(result * SIGNED_WAD + SIGNED_WAD, exactScaled, "pnl more than one wei below");
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

    function testFuzz_FullCloseRealisesPnlOfOldSize(int256 oldSize, uint256 entryPrice, uint256 fill) public pure {
        oldSize = _nonZeroSize(oldSize);
        entryPrice = _price(entryPrice);
        fill = _price(fill);
        (uint256 newEntry, int256 realised) = PerpMath.applyTrade(oldSize, entryPrice, -oldSize, fill);
        assertEq(realised, PerpMath.pnl(oldSize, entryPrice, fill), "close did not realise pnl(oldSize)");
        assertEq(newEntry, 0, "a flat position kept an entry price");
    }

    /// A trade opposite to and larger than the position realises all of it and opens the rest at
    /// the fill.
    function testFuzz_FlipRealisesWholeOldPosition(
        int256 oldSize,
        uint256 beyond,
        uint256 entryPrice,
        uint256 fill
    ) public pure {
        oldSize = _nonZeroSize(oldSize);
        int256 extra = int256(bound(beyond, 1, MAX_SIZE));
        int256 sizeDelta = oldSize > 0 ? -oldSize - extra : -oldSize + extra;
        entryPrice = _price(entryPrice);
        fill = _price(fill);
        (uint256 newEntry, int256 realised) = PerpMath.applyTrade(oldSize, entryPrice, sizeDelta, fill);
        assertEq(realised, PerpMath.pnl(oldSize, entryPrice, fill), "flip did not realise the whole position");
        assertEq(newEntry, fill, "the new side did not open at the fill");
    }

    /// Closing in two steps never realises more than closing at once (no rounding to harvest), and
    /// a partial close leaves the entry price alone.
    function testFuzz_SplitCloseNeverRealisesMore(
        int256 oldSize,
        uint256 firstPart,
        uint256 entryPrice,
        uint256 fill
    ) public pure {
        oldSize = _nonZeroSize(oldSize);
        int256 first = int256(bound(firstPart, 0, _abs(oldSize)));
        if (oldSize < 0) first = -first;
        entryPrice = _price(entryPrice);
        fill = _price(fill);
        (uint256 entryAfterFirst, int256 realisedFirst) = PerpMath.applyTrade(oldSize, entryPrice, -first, fill);
        int256 rest = oldSize - first;
        int256 realisedRest;
        if (rest != 0) {
            assertEq(entryAfterFirst, entryPrice, "a partial close moved the entry price");
            (, realisedRest) = PerpMath.applyTrade(rest, entryAfterFirst, -rest, fill);
        }
        assertLe(realisedFirst + realisedRest, PerpMath.pnl(oldSize, entryPrice, fill));
    }

    /// Adding to a position averages the entry against the trader (longs up, shorts down) by under
    /// one wei, and never outside [min(entry, fill), max(entry, fill)].
    function testFuzz_IncreaseAveragesEntryAgainstTheTrader(
        int256 oldSize,
        uint256 addition,
        uint256 entryPrice,
        uint256 fill
    ) public pure {
        oldSize = _size(oldSize);
        int256 sizeDelta = int256(bound(addition, 1, MAX_SIZE));
        if (oldSize < 0) sizeDelta = -sizeDelta;
        entryPrice = oldSize == 0 ? 0 : _price(entryPrice);
        fill = _price(fill);
        (uint256 newEntry, int256 realised) = PerpMath.applyTrade(oldSize, entryPrice, sizeDelta, fill);
        assertEq(realised, 0, "an increase realised pnl");
        uint256 absNew = _abs(oldSize) + _abs(sizeDelta);
        uint256 weighted = _abs(oldSize) * entryPrice + _abs(sizeDelta) * fill;
        if (sizeDelta > 0) {
            assertGe(newEntry * absNew, weighted, "long entry rounded down");
            assertLt(newEntry * absNew, weighted + absNew, "long entry more than one wei up");
        } else {
            assertLe(newEntry * absNew, weighted, "short entry rounded up");
            assertGt(newEntry * absNew + absNew, weighted, "short entry more than one wei down");
        }
        if (oldSize != 0) {
            assertGe(newEntry, entryPrice < fill ? entryPrice : fill);
            assertLe(newEntry, entryPrice > fill ? entryPrice : fill);
        }
    }
}
