// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {RiskModel, RiskParams} from "../libraries/RiskModel.sol";
import {LiquidationMath} from "../libraries/LiquidationMath.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";

/// @title MathHarness
/// @notice TEST HARNESS ONLY, never deployed by the protocol. Exposes every internal function of
///         FixedPoint, RiskModel, PerpMath and LiquidationMath as an external pure function, under the library's own
///         name and argument order, so that test/math/differential.test.ts can compare them to the
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

    // ---------------------------------------------------------------- LiquidationMath
    // A Plan is built from the scalar fields each function reads, and the fields it fills are returned.

    function trancheFraction(
        ILiquidationConfigurator.Config calldata c,
        int256 equity,
        uint256 maintenanceMargin,
        uint256 notional_,
        bool backstop,
        uint256 fixedMargin
    ) external pure returns (uint256) {
        return LiquidationMath.trancheFraction(c, equity, maintenanceMargin, notional_, backstop, fixedMargin);
    }

    function isBackstop(
        ILiquidationConfigurator.Config calldata c,
        int256 equity,
        uint256 maintenanceMargin
    ) external pure returns (bool) {
        return LiquidationMath.isBackstop(c, equity, maintenanceMargin);
    }

    function bypassesCapacity(
        ILiquidationConfigurator.Config calldata c,
        int256 equity,
        uint256 maintenanceMargin
    ) external pure returns (bool) {
        return LiquidationMath.bypassesCapacity(c, equity, maintenanceMargin);
    }

    function capacity(uint256 depthFactor, uint256 skewScale, uint256 price) external pure returns (uint256) {
        return LiquidationMath.capacity(depthFactor, skewScale, price);
    }

    function shareThatFits(uint256 room, uint256 notional_) external pure returns (uint256) {
        return LiquidationMath.shareThatFits(room, notional_);
    }

    function planLegs(
        uint256[] calldata fractions,
        IPerpEngine.PositionSnapshot[] calldata ps,
        uint256 margin,
        uint256 pool
    )
        external
        pure
        returns (
            ILiquidator.Leg[] memory legs,
            uint256 trancheNotional,
            uint256 remainingMaintenance,
            uint256 badDebt,
            uint256 marginLeft,
            uint256 fraction
        )
    {
        ILiquidator.Plan memory plan;
        marginLeft = LiquidationMath.planLegs(plan, ps, fractions, margin, pool);
        return (plan.legs, plan.trancheNotional, plan.remainingMaintenance, plan.badDebt, marginLeft, plan.fraction);
    }

    function liquidationMargin(
        ILiquidationConfigurator.RewardConfig calldata r,
        uint256 notional_
    ) external pure returns (uint256) {
        return LiquidationMath.liquidationMargin(r, notional_);
    }

    function staleBound(
        uint256 lastPrice,
        uint256 sigma,
        uint256 staleness,
        bool long
    ) external pure returns (uint256) {
        return LiquidationMath.staleBound(lastPrice, sigma, staleness, long);
    }

    function reward(
        ILiquidationConfigurator.RewardConfig calldata r,
        uint256 notional_,
        uint256 elapsed
    ) external pure returns (uint256) {
        return LiquidationMath.reward(r, notional_, elapsed);
    }

    function splitPenalty(
        uint256 trancheNotional,
        int256 equity,
        uint256[3] calldata fractionMaintenanceRemaining,
        uint256 penaltyRate,
        uint256 marginLeft,
        uint256 rewardWad
    ) external pure returns (uint256 keeperFromPenalty, uint256 insuranceShare, uint256 marginAfter) {
        ILiquidator.Plan memory plan;
        plan.trancheNotional = trancheNotional;
        plan.equity = equity;
        plan.fraction = fractionMaintenanceRemaining[0];
        plan.maintenanceMargin = fractionMaintenanceRemaining[1];
        plan.remainingMaintenance = fractionMaintenanceRemaining[2];
        LiquidationMath.splitPenalty(plan, penaltyRate, marginLeft, rewardWad);
        return (plan.keeperFromPenalty, plan.insuranceShare, plan.marginAfter);
    }

    function fundPayments(
        uint256 badDebt,
        uint256 keeperFromPenalty,
        uint256 rewardWad,
        uint256 availableTokens,
        uint256 scale
    )
        external
        pure
        returns (uint256 badDebtCovered, uint256 badDebtSocialised, uint256 keeperFromFund, uint256 keeperReward)
    {
        ILiquidator.Plan memory plan;
        plan.badDebt = badDebt;
        plan.keeperFromPenalty = keeperFromPenalty;
        LiquidationMath.fundPayments(plan, rewardWad, availableTokens, scale);
        return (plan.badDebtCovered, plan.badDebtSocialised, plan.keeperFromFund, plan.keeperReward);
    }

    function healthBeforeAfter(
        int256 equity,
        uint256 maintenanceMargin,
        uint256 fraction,
        uint256 keeperFromPenalty,
        uint256 insuranceShare,
        uint256 legCount,
        uint256 remainingMaintenance
    ) external pure returns (uint256 before, uint256 healthAfter) {
        ILiquidator.Plan memory plan;
        plan.equity = equity;
        plan.maintenanceMargin = maintenanceMargin;
        plan.fraction = fraction;
        plan.keeperFromPenalty = keeperFromPenalty;
        plan.insuranceShare = insuranceShare;
        plan.legs = new ILiquidator.Leg[](legCount);
        plan.remainingMaintenance = remainingMaintenance;
        return LiquidationMath.healthBeforeAfter(plan);
    }
}
