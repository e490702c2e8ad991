// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FixedPoint} from "./FixedPoint.sol";

/// @title PerpMath
/// @notice Pure math of fills, funding and PnL. Mirrored to the wei in scripts/lib/math/perpMath.ts.
/// @dev Rounding always favours the protocol: buyers fill higher, sellers lower; PnL rounds
///      toward negative infinity; funding owed rounds up.
library PerpMath {
    using FixedPoint for uint256;

    uint256 internal constant WAD = 1e18;

    error NonPositiveFillPrice(int256 fillPrice);

    /// @notice fill = index * (1 + (skewBefore + skewAfter) / 2 / skewScale), where
    ///         skewAfter = skewBefore + sizeDelta. Trades that reduce skew get the better price.
    function fillPrice(
        uint256 indexPrice,
        int256 skew,
        int256 sizeDelta,
        uint256 skewScale
    ) internal pure returns (uint256) {
        int256 num = 2 * skew + sizeDelta;
        uint256 denom = 2 * skewScale;
        // A buy rounds the fill up, a sell down.
        int256 adjustment =
            sizeDelta > 0
                ? FixedPoint.mulDivCeil(num, indexPrice, denom)
                : FixedPoint.mulDivFloor(num, indexPrice, denom);
        int256 fill = int256(indexPrice) + adjustment;
        if (fill <= 0) revert NonPositiveFillPrice(fill);
        return uint256(fill);
    }

    /// @notice Funding rate per second, proportional to skew and clamped:
    ///         clamp(skew / skewScale, -1, 1) * maxFundingRatePerSecond. Positive: longs pay shorts.
    function fundingRate(
        int256 skew,
        uint256 skewScale,
        uint256 maxFundingRatePerSecond
    ) internal pure returns (int256) {
        int256 proportion = FixedPoint.mulDivFloor(skew, WAD, skewScale);
        if (proportion > int256(WAD)) proportion = int256(WAD);
        if (proportion < -int256(WAD)) proportion = -int256(WAD);
        return FixedPoint.mulDivFloor(proportion, maxFundingRatePerSecond, WAD);
    }

    /// @notice Change of the cumulative funding index (quote owed per unit of long size) over
    ///         `elapsed` seconds at `indexPrice`.
    function fundingIndexDelta(
        int256 ratePerSecond,
        uint256 indexPrice,
        uint256 elapsed
    ) internal pure returns (int256) {
        return FixedPoint.mulDivFloor(ratePerSecond * int256(elapsed), indexPrice, WAD);
    }

    /// @notice Funding a position owes since it last settled (negative: it receives). Rounded up.
    function fundingOwed(int256 size, int256 fundingIndex, int256 lastFundingIndex) internal pure returns (int256) {
        return FixedPoint.mulWadCeilSigned(size, fundingIndex - lastFundingIndex);
    }

    /// @notice PnL of `size` from `entryPrice` to `price`, rounded toward negative infinity.
    function pnl(int256 size, uint256 entryPrice, uint256 price) internal pure returns (int256) {
        return FixedPoint.mulWadFloorSigned(size, int256(price) - int256(entryPrice));
    }

    /// @notice Notional |size| * price, rounded up (margin is owed on it).
    function notional(int256 size, uint256 price) internal pure returns (uint256) {
        return FixedPoint.abs(size).mulWadUp(price);
    }

    /// @notice Applies a trade to a position. Returns the new entry price and the PnL realised by
    ///         the part of the trade that closes the existing position.
    /// @dev Increasing: size-weighted average entry, rounded against the trader (longs up, shorts
    ///      down). Reducing: entry unchanged. Flipping: the old side is realised in full and the
    ///      remainder opens at the fill.
    function applyTrade(
        int256 oldSize,
        uint256 entryPrice,
        int256 sizeDelta,
        uint256 fill
    ) internal pure returns (uint256 newEntryPrice, int256 realisedPnl) {
        int256 newSize = oldSize + sizeDelta;
        if (oldSize == 0 || (oldSize > 0) == (sizeDelta > 0)) {
            uint256 absOld = FixedPoint.abs(oldSize);
            uint256 absDelta = FixedPoint.abs(sizeDelta);
            uint256 absNew = absOld + absDelta;
            uint256 weighted = absOld * entryPrice + absDelta * fill;
            newEntryPrice = newSize > 0 ? weighted.mulDivUp(1, absNew) : weighted / absNew;
            return (newEntryPrice, 0);
        }
        if (FixedPoint.abs(sizeDelta) <= FixedPoint.abs(oldSize)) {
            // reduce or close: the closed part is -sizeDelta, on the side of oldSize
            realisedPnl = pnl(-sizeDelta, entryPrice, fill);
            newEntryPrice = newSize == 0 ? 0 : entryPrice;
            return (newEntryPrice, realisedPnl);
        }
        realisedPnl = pnl(oldSize, entryPrice, fill);
        newEntryPrice = fill;
    }
}
