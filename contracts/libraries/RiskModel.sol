// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FixedPoint} from "./FixedPoint.sol";
import {WAD} from "./Constants.sol";

/// @notice Risk parameters of one market, all WAD ratios unless named otherwise.
/// @dev Nine uint64 fields: three storage slots (4 + 4 + 1). uint64 holds ratios up to 18.4 (1840%), far
///      above any bound.
struct RiskParams {
    uint64 mmrBase; // maintenance margin ratio before the volatility term
    uint64 mmrMin; // floor of (mmrBase + kMm * sigma)
    uint64 mmrMax; // cap of (mmrBase + kMm * sigma)
    uint64 kMm; // maintenance margin added per unit of annualised sigma
    uint64 imMultiplier; // initial margin = volatility term * imMultiplier (>= 1) + size premium
    uint64 sizePremium; // extra margin ratio per unit of |size| / skewScale
    uint64 mmrRampPerSecond; // bounded speed at which the maintenance volatility term moves
    uint64 baseFee; // fee ratio on notional for every trade
    uint64 kFee; // fee surcharge per unit of sigma, only on the risk-adding part of a trade
}

/// @title RiskModel
/// @notice Pure margin and fee math. Every view that a keeper or a UI needs calls this same code,
///         and scripts/lib/math/ (riskModel.ts, perpMath.ts) mirrors it in bigint to the wei.
/// @dev Rounding: every requirement and fee rounds up (the user owes more), so a view can never
///      show an account as healthier than execution will find it.
library RiskModel {
    using FixedPoint for uint256;

    /// @notice Target of the maintenance volatility term: clamp(mmrBase + kMm * sigma, mmrMin, mmrMax).
    function volatilityTerm(RiskParams memory p, uint256 sigmaWad) internal pure returns (uint256) {
        return volatilityTerm(p.mmrBase, p.kMm, p.mmrMin, p.mmrMax, sigmaWad);
    }

    /// @notice The same target from the four parameters it reads (the engine's accrual passes them
    ///         straight from storage, without building the struct in memory).
    function volatilityTerm(
        uint256 mmrBase,
        uint256 kMm,
        uint256 mmrMin,
        uint256 mmrMax,
        uint256 sigmaWad
    ) internal pure returns (uint256) {
        uint256 raw = mmrBase + kMm.mulWadUp(sigmaWad);
        return raw.clamp(mmrMin, mmrMax);
    }

    /// @notice Moves the maintenance volatility term from `current` toward `target` by at most
    ///         `rampPerSecond * elapsed`. A zero `current` means "never set" and jumps to target.
    /// @dev Raising maintenance margin at once in a crash would itself push accounts under water;
    ///      the ramp gives traders time to add margin while initial margin already reflects sigma.
    function rampVolatilityTerm(
        uint256 current,
        uint256 target,
        uint256 elapsed,
        uint256 rampPerSecond
    ) internal pure returns (uint256) {
        if (current == 0) return target;
        uint256 step = rampPerSecond * elapsed;
        if (target > current) return target - current > step ? current + step : target;
        return current - target > step ? current - step : target;
    }

    /// @notice Extra margin ratio for large positions: sizePremium * |size| / skewScale, rounded up.
    function sizePremiumRatio(RiskParams memory p, uint256 absSize, uint256 skewScale) internal pure returns (uint256) {
        return sizePremiumRatio(p.sizePremium, absSize, skewScale);
    }

    function sizePremiumRatio(uint256 sizePremium, uint256 absSize, uint256 skewScale) internal pure returns (uint256) {
        return sizePremium.mulDivUp(absSize, skewScale);
    }

    /// @notice Maintenance margin ratio of a position, given the market's ramped volatility term.
    function maintenanceMarginRatio(
        RiskParams memory p,
        uint256 rampedTerm,
        uint256 absSize,
        uint256 skewScale
    ) internal pure returns (uint256) {
        return maintenanceMarginRatio(p.sizePremium, rampedTerm, absSize, skewScale);
    }

    /// @notice The same ratio from the one parameter it reads (the size premium).
    function maintenanceMarginRatio(
        uint256 sizePremium,
        uint256 rampedTerm,
        uint256 absSize,
        uint256 skewScale
    ) internal pure returns (uint256) {
        return (rampedTerm + sizePremiumRatio(sizePremium, absSize, skewScale)).min(WAD);
    }

    /// @notice Initial margin ratio: takes the volatility term at once (not ramped), never below the
    ///         ramped maintenance term, scaled by imMultiplier and the stress level's multiplier.
    function initialMarginRatio(
        RiskParams memory p,
        uint256 sigmaWad,
        uint256 rampedTerm,
        uint256 absSize,
        uint256 skewScale,
        uint256 levelImMultiplier
    ) internal pure returns (uint256) {
        uint256 term = volatilityTerm(p, sigmaWad).max(rampedTerm);
        uint256 ratio = term.mulWadUp(p.imMultiplier).mulWadUp(levelImMultiplier);
        return (ratio + sizePremiumRatio(p, absSize, skewScale)).min(WAD);
    }

    /// @notice Margin owed on a notional at a ratio, rounded up.
    function marginRequirement(uint256 notional, uint256 ratio) internal pure returns (uint256) {
        return notional.mulWadUp(ratio);
    }

    /// @notice Fee ratio charged on the risk-adding part of a trade:
    ///         baseFee * (1 + kFee * sigma) * levelFeeMultiplier, rounded up.
    function riskFeeRate(
        RiskParams memory p,
        uint256 sigmaWad,
        uint256 levelFeeMultiplier
    ) internal pure returns (uint256) {
        return riskFeeRate(p.baseFee, p.kFee, sigmaWad, levelFeeMultiplier);
    }

    /// @notice The same rate from the two parameters it reads.
    function riskFeeRate(
        uint256 baseFee,
        uint256 kFee,
        uint256 sigmaWad,
        uint256 levelFeeMultiplier
    ) internal pure returns (uint256) {
        uint256 surcharge = WAD + kFee.mulWadUp(sigmaWad);
        return baseFee.mulWadUp(surcharge).mulWadUp(levelFeeMultiplier);
    }

    /// @notice Fee of a trade from `oldSize` by `sizeDelta` at `fillPrice`. The part that reduces
    ///         the existing position pays baseFee only; the part that opens or adds pays the
    ///         volatility- and level-adjusted rate.
    function tradeFee(
        RiskParams memory p,
        int256 oldSize,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 sigmaWad,
        uint256 levelFeeMultiplier
    ) internal pure returns (uint256) {
        return tradeFee(p.baseFee, p.kFee, oldSize, sizeDelta, fillPrice, sigmaWad, levelFeeMultiplier);
    }

    /// @notice The same fee from the two parameters it reads (the engine passes them from storage).
    function tradeFee(
        uint256 baseFee,
        uint256 kFee,
        int256 oldSize,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 sigmaWad,
        uint256 levelFeeMultiplier
    ) internal pure returns (uint256 fee) {
        uint256 absDelta = FixedPoint.abs(sizeDelta);
        uint256 reducing = (oldSize > 0) != (sizeDelta > 0) ? absDelta.min(FixedPoint.abs(oldSize)) : 0;
        uint256 adding = absDelta - reducing;
        if (reducing != 0) fee = reducing.mulWadUp(fillPrice).mulWadUp(baseFee);
        if (adding != 0) {
            fee += adding.mulWadUp(fillPrice).mulWadUp(riskFeeRate(baseFee, kFee, sigmaWad, levelFeeMultiplier));
        }
    }
}
