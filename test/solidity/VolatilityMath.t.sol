// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";

import {VolatilityMath} from "../../contracts/libraries/VolatilityMath.sol";

/// @notice Unit and fuzz tests of the EWMA step on its own, away from the adapter's bookkeeping.
contract VolatilityMathTest is Test {
    uint256 internal constant MAX_VARIANCE = 2500e18;
    uint256 internal constant MAX_ABS_RETURN = 100e18; // beyond ln(uint128.max)

    function testFuzz_foldMonotonicInAbsReturn(
        uint256 variance,
        uint256 a,
        uint256 b,
        uint256 dt,
        uint256 window
    ) public pure {
        variance = bound(variance, 0, MAX_VARIANCE);
        a = bound(a, 0, MAX_ABS_RETURN);
        b = bound(b, a, MAX_ABS_RETURN);
        dt = bound(dt, 0, 365 days);
        window = bound(window, 5 minutes, 30 days);
        assertLe(VolatilityMath.fold(variance, a, dt, window), VolatilityMath.fold(variance, b, dt, window));
    }

    function testFuzz_foldMonotonicInPriorVariance(
        uint256 lowVariance,
        uint256 highVariance,
        uint256 absReturn,
        uint256 dt,
        uint256 window
    ) public pure {
        lowVariance = bound(lowVariance, 0, MAX_VARIANCE);
        highVariance = bound(highVariance, lowVariance, MAX_VARIANCE);
        absReturn = bound(absReturn, 0, MAX_ABS_RETURN);
        dt = bound(dt, 0, 365 days);
        window = bound(window, 5 minutes, 30 days);
        assertLe(
            VolatilityMath.fold(lowVariance, absReturn, dt, window),
            VolatilityMath.fold(highVariance, absReturn, dt, window)
        );
    }

    function testFuzz_foldStaysWithinCapAndRoundsUp(
        uint256 variance,
        uint256 absReturn,
        uint256 dt,
        uint256 window
    ) public pure {
        variance = bound(variance, 0, MAX_VARIANCE);
        absReturn = bound(absReturn, 0, MAX_ABS_RETURN);
        dt = bound(dt, 1, 365 days);
        window = bound(window, 5 minutes, 30 days);
        uint256 next = VolatilityMath.fold(variance, absReturn, dt, window);
        assertLe(next, MAX_VARIANCE);
        // Rounded up: next * denominator covers the exact numerator unless the cap bit.
        uint256 numerator = variance * window * 1e18 + absReturn * absReturn * 365 days;
        uint256 denominator = (dt + window) * 1e18;
        if (next < MAX_VARIANCE) {
            assertGe(next * denominator, numerator);
            if (next > 0) assertLt((next - 1) * denominator, numerator);
        }
    }

    function test_fold_zeroDtCountsAsOneSecond() public pure {
        assertEq(VolatilityMath.fold(1e18, 0.01e18, 0, 1 days), VolatilityMath.fold(1e18, 0.01e18, 1, 1 days));
    }

    function test_fold_zeroReturnOnlyDecays() public pure {
        // 1e18 * 86400 / 90000 = 0.96e18 exactly.
        assertEq(VolatilityMath.fold(1e18, 0, 3600, 1 days), 0.96e18);
        // 1 * 86400 / 90000 rounds up to 1, never to 0.
        assertEq(VolatilityMath.fold(1, 0, 3600, 1 days), 1);
        assertEq(VolatilityMath.fold(0, 0, 3600, 1 days), 0);
    }

    function testFuzz_sigmaFromVarianceIsCeilSqrt(uint256 variance) public pure {
        variance = bound(variance, 0, MAX_VARIANCE);
        uint256 sigma = VolatilityMath.sigmaFromVariance(variance);
        assertGe(sigma * sigma, variance * 1e18);
        if (sigma > 0) assertLt((sigma - 1) * (sigma - 1), variance * 1e18);
        assertLe(sigma, 50e18);
    }

    function testFuzz_varianceFromSigmaRoundsUp(uint256 sigma) public pure {
        sigma = bound(sigma, 0, 50e18);
        uint256 variance = VolatilityMath.varianceFromSigma(sigma);
        assertGe(variance * 1e18, sigma * sigma);
        if (variance > 0) assertLt((variance - 1) * 1e18, sigma * sigma);
        assertGe(VolatilityMath.sigmaFromVariance(variance), sigma);
    }

    function test_maxSigmaMapsToMaxVarianceExactly() public pure {
        assertEq(VolatilityMath.varianceFromSigma(50e18), MAX_VARIANCE);
        assertEq(VolatilityMath.sigmaFromVariance(MAX_VARIANCE), 50e18);
        assertEq(VolatilityMath.MAX_VARIANCE, MAX_VARIANCE);
    }

    function test_absLogReturn_knownValues() public pure {
        assertEq(VolatilityMath.absLogReturn(2000e18, 2000e18), 0);
        // ln 2 = 0.693147180559945309417...
        assertApproxEqAbs(VolatilityMath.absLogReturn(1e18, 2e18), 693147180559945309, 2);
        assertApproxEqAbs(VolatilityMath.absLogReturn(2e18, 1e18), 693147180559945309, 2);
    }

    function test_absLogReturn_collapseBeyond18OrdersIsClamped() public pure {
        // price / prev floors to 0 in WAD; the clamp to 1 wei gives ln(1e-18) = -41.446531673892822...
        assertApproxEqAbs(VolatilityMath.absLogReturn(1e38, 1), 41446531673892822312, 2);
    }
}
