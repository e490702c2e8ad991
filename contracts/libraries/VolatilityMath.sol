// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {WAD} from "./Constants.sol";

/// @title VolatilityMath
/// @notice Time-weighted EWMA of squared log returns, annualised, in WAD.
/// @dev One step, for a return r = ln(p / p0) observed over dt seconds with time constant tau:
///          variance' = variance * tau / (dt + tau) + r^2 * SECONDS_PER_YEAR / (dt + tau)
///      i.e. weight alpha = dt / (dt + tau) on the per-second sample r^2 / dt, annualised. Weighting
///      by elapsed time rather than by round makes the estimate track the realised variance of the
///      last ~tau seconds whether rounds come every minute (deviation triggers in a crash) or once a
///      heartbeat. Every rounding goes up: a higher sigma is the side that protects the protocol.
library VolatilityMath {
    uint256 internal constant SECONDS_PER_YEAR = 365 days;
    /// @dev 5000% annualised: far above any real market, low enough that sigma^2 and the margin
    ///      terms built on it stay small numbers.
    uint256 internal constant MAX_SIGMA = 50e18;
    /// @dev MAX_SIGMA^2 in WAD, exact (2500e18), so a capped variance maps back to exactly MAX_SIGMA.
    uint256 internal constant MAX_VARIANCE = (MAX_SIGMA * MAX_SIGMA) / WAD;

    /// @notice |ln(priceWad / prevPriceWad)| in WAD. Both prices must be non-zero.
    function absLogReturn(uint256 prevPriceWad, uint256 priceWad) internal pure returns (uint256) {
        uint256 ratioWad = Math.mulDiv(priceWad, WAD, prevPriceWad);
        // A drop of more than 18 orders of magnitude floors the ratio to 0, where ln is undefined;
        // clamping to 1 wei still yields |r| ~ 41.4, which saturates the variance cap anyway.
        if (ratioWad == 0) ratioWad = 1;
        int256 r = FixedPointMathLib.lnWad(SafeCast.toInt256(ratioWad));
        return r >= 0 ? uint256(r) : uint256(-r);
    }

    /// @notice Folds one return into the variance.
    /// @param varianceWad current annualised variance (WAD)
    /// @param absReturnWad |ln(p / p0)| (WAD)
    /// @param dt seconds between the two observations; 0 is treated as 1 so the weight stays positive
    /// @param window EWMA time constant tau in seconds (> 0)
    function fold(
        uint256 varianceWad,
        uint256 absReturnWad,
        uint256 dt,
        uint256 window
    ) internal pure returns (uint256) {
        if (dt == 0) dt = 1;
        // Both terms share the denominator (dt + tau) * WAD, so a single ceiling division rounds the
        // sum up once instead of twice. With variance <= MAX_VARIANCE, tau <= 30 days and |r| far below
        // 1e30 the numerator stays below 2^256 by a wide margin.
        uint256 numerator = varianceWad * window * WAD + absReturnWad * absReturnWad * SECONDS_PER_YEAR;
        uint256 next = Math.ceilDiv(numerator, (dt + window) * WAD);
        return next > MAX_VARIANCE ? MAX_VARIANCE : next;
    }

    /// @notice sigma = sqrt(variance), both WAD; rounded up.
    function sigmaFromVariance(uint256 varianceWad) internal pure returns (uint256) {
        return Math.sqrt(varianceWad * WAD, Math.Rounding.Ceil);
    }

    /// @notice variance = sigma^2, both WAD; rounded up.
    function varianceFromSigma(uint256 sigmaWad) internal pure returns (uint256) {
        return Math.mulDiv(sigmaWad, sigmaWad, WAD, Math.Rounding.Ceil);
    }
}
