// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {FixedPoint} from "./FixedPoint.sol";
import {WAD} from "./Constants.sol";

/// @title PerpMath
/// @notice Pure math of fills, funding and position value. Mirrored to the wei in scripts/lib/math/perpMath.ts.
/// @dev Rounding always favours the protocol: buyers fill higher, sellers lower; position value
///      rounds toward negative infinity.
library PerpMath {
    using FixedPoint for uint256;

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
        int256 fill = SafeCast.toInt256(indexPrice) + adjustment;
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
        return FixedPoint.mulDivFloor(ratePerSecond * SafeCast.toInt256(elapsed), indexPrice, WAD);
    }

    /// @notice Net value of a position at `price` and cumulative funding `fundingIndex`:
    ///         size * (price - fundingIndex - basis), rounded toward negative infinity.
    /// @dev basis = entryPrice - fundingIndexAtEntry, so this is pnl(size, entry, price) minus the funding
    ///      owed since entry, in one number: a position fits one storage slot (size, basis) and its
    ///      funding settles lazily, whenever any part of it is realised.
    function positionValue(
        int256 size,
        int256 basis,
        uint256 price,
        int256 fundingIndex
    ) internal pure returns (int256) {
        return FixedPoint.mulWadFloorSigned(size, SafeCast.toInt256(price) - fundingIndex - basis);
    }

    /// @notice Notional |size| * price, rounded up (margin is owed on it).
    function notional(int256 size, uint256 price) internal pure returns (uint256) {
        return FixedPoint.abs(size).mulWadUp(price);
    }

    /// @notice Applies a trade of `sizeDelta` at `fill` (funding index `fundingIndex`) to a position.
    ///         Returns the new basis and the value realised by the part of the trade that closes the
    ///         existing position (PnL net of the funding that part owes).
    /// @dev Increasing: size-weighted average of the old basis and (fill - fundingIndex), rounded against
    ///      the trader (a long's basis up, a short's down). Reducing: basis unchanged. Flipping: the old
    ///      side is realised in full and the remainder opens at (fill - fundingIndex).
    function applyTrade(
        int256 oldSize,
        int256 basis,
        int256 sizeDelta,
        uint256 fill,
        int256 fundingIndex
    ) internal pure returns (int256 newBasis, int256 realised) {
        int256 newSize = oldSize + sizeDelta;
        int256 mark = SafeCast.toInt256(fill) - fundingIndex;
        if (oldSize == 0 || (oldSize > 0) == (sizeDelta > 0)) {
            uint256 absOld = FixedPoint.abs(oldSize);
            uint256 absNew = absOld + FixedPoint.abs(sizeDelta);
            int256 weighted = int256(absOld) * basis + int256(FixedPoint.abs(sizeDelta)) * mark;
            newBasis =
                newSize > 0 ? FixedPoint.mulDivCeil(weighted, 1, absNew) : FixedPoint.mulDivFloor(weighted, 1, absNew);
            return (newBasis, 0);
        }
        if (FixedPoint.abs(sizeDelta) <= FixedPoint.abs(oldSize)) {
            // reduce or close: the closed part is -sizeDelta, on the side of oldSize
            realised = positionValue(-sizeDelta, basis, fill, fundingIndex);
            return (newSize == 0 ? int256(0) : basis, realised);
        }
        realised = positionValue(oldSize, basis, fill, fundingIndex);
        newBasis = mark;
    }
}
