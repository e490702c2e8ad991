// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {RiskModel, RiskParams} from "../libraries/RiskModel.sol";

/// @title MathHarness
/// @notice TEST HARNESS ONLY, never deployed by the protocol. Exposes every internal function of
///         FixedPoint, RiskModel and PerpMath as an external pure function, under the library's own
///         name and argument order, so that test/math.differential.test.ts can compare them to the
///         bigint mirror in scripts/lib/math/ to the wei, reverts included.
/// @dev No logic lives here: each function forwards its arguments unchanged, so any difference a
///      test finds is a difference between the library and the mirror.
contract MathHarness {
    // ---------------------------------------------------------------- FixedPoint

    function mulWadDown(uint256 a, uint256 b) external pure returns (uint256) {
        return FixedPoint.mulWadDown(a, b);
    }

    function mulWadUp(uint256 a, uint256 b) external pure returns (uint256) {
        return FixedPoint.mulWadUp(a, b);
    }

    function mulDivDown(uint256 a, uint256 b, uint256 c) external pure returns (uint256) {
        return FixedPoint.mulDivDown(a, b, c);
    }

    function mulDivUp(uint256 a, uint256 b, uint256 c) external pure returns (uint256) {
        return FixedPoint.mulDivUp(a, b, c);
    }

    function abs(int256 x) external pure returns (uint256) {
        return FixedPoint.abs(x);
    }

    function mulDivFloor(int256 a, uint256 b, uint256 c) external pure returns (int256) {
        return FixedPoint.mulDivFloor(a, b, c);
    }

    function mulDivCeil(int256 a, uint256 b, uint256 c) external pure returns (int256) {
        return FixedPoint.mulDivCeil(a, b, c);
    }

    function mulWadFloorSigned(int256 a, int256 b) external pure returns (int256) {
        return FixedPoint.mulWadFloorSigned(a, b);
    }

    function mulWadCeilSigned(int256 a, int256 b) external pure returns (int256) {
        return FixedPoint.mulWadCeilSigned(a, b);
    }

    function min(uint256 a, uint256 b) external pure returns (uint256) {
        return FixedPoint.min(a, b);
    }

    function max(uint256 a, uint256 b) external pure returns (uint256) {
        return FixedPoint.max(a, b);
    }

    function clamp(uint256 x, uint256 lo, uint256 hi) external pure returns (uint256) {
        return FixedPoint.clamp(x, lo, hi);
    }

    // ---------------------------------------------------------------- RiskModel

    function volatilityTerm(RiskParams calldata p, uint256 sigmaWad) external pure returns (uint256) {
        return RiskModel.volatilityTerm(p, sigmaWad);
    }

    function rampVolatilityTerm(
        uint256 current,
        uint256 target,
        uint256 elapsed,
        uint256 rampPerSecond
    ) external pure returns (uint256) {
        return RiskModel.rampVolatilityTerm(current, target, elapsed, rampPerSecond);
    }

    function sizePremiumRatio(
        RiskParams calldata p,
        uint256 absSize,
        uint256 skewScale
    ) external pure returns (uint256) {
        return RiskModel.sizePremiumRatio(p, absSize, skewScale);
    }

    function maintenanceMarginRatio(
        RiskParams calldata p,
        uint256 rampedTerm,
        uint256 absSize,
        uint256 skewScale
    ) external pure returns (uint256) {
        return RiskModel.maintenanceMarginRatio(p, rampedTerm, absSize, skewScale);
    }

    function initialMarginRatio(
        RiskParams calldata p,
        uint256 sigmaWad,
        uint256 rampedTerm,
        uint256 absSize,
        uint256 skewScale,
        uint256 levelImMultiplier
    ) external pure returns (uint256) {
        return RiskModel.initialMarginRatio(p, sigmaWad, rampedTerm, absSize, skewScale, levelImMultiplier);
    }

    function marginRequirement(uint256 notional_, uint256 ratio) external pure returns (uint256) {
        return RiskModel.marginRequirement(notional_, ratio);
    }

    function riskFeeRate(
        RiskParams calldata p,
        uint256 sigmaWad,
        uint256 levelFeeMultiplier
    ) external pure returns (uint256) {
        return RiskModel.riskFeeRate(p, sigmaWad, levelFeeMultiplier);
    }

    function tradeFee(
        RiskParams calldata p,
        int256 oldSize,
        int256 sizeDelta,
        uint256 fillPrice_,
        uint256 sigmaWad,
        uint256 levelFeeMultiplier
    ) external pure returns (uint256) {
        return RiskModel.tradeFee(p, oldSize, sizeDelta, fillPrice_, sigmaWad, levelFeeMultiplier);
    }

    // ---------------------------------------------------------------- PerpMath

    function fillPrice(
        uint256 indexPrice,
        int256 skew,
        int256 sizeDelta,
        uint256 skewScale
    ) external pure returns (uint256) {
        return PerpMath.fillPrice(indexPrice, skew, sizeDelta, skewScale);
    }

    function fundingRate(
        int256 skew,
        uint256 skewScale,
        uint256 maxFundingRatePerSecond
    ) external pure returns (int256) {
        return PerpMath.fundingRate(skew, skewScale, maxFundingRatePerSecond);
    }

    function fundingIndexDelta(
        int256 ratePerSecond,
        uint256 indexPrice,
        uint256 elapsed
    ) external pure returns (int256) {
        return PerpMath.fundingIndexDelta(ratePerSecond, indexPrice, elapsed);
    }

    function positionValue(
        int256 size,
        int256 basis,
        uint256 price,
        int256 fundingIndex
    ) external pure returns (int256) {
        return PerpMath.positionValue(size, basis, price, fundingIndex);
    }

    function notional(int256 size, uint256 price) external pure returns (uint256) {
        return PerpMath.notional(size, price);
    }

    function applyTrade(
        int256 oldSize,
        int256 basis,
        int256 sizeDelta,
        uint256 fill,
        int256 fundingIndex
    ) external pure returns (int256 newBasis, int256 realised) {
        return PerpMath.applyTrade(oldSize, basis, sizeDelta, fill, fundingIndex);
    }
}
