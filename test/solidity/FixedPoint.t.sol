// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";

import {FixedPoint} from "../../contracts/libraries/FixedPoint.sol";
import {MathHarness} from "../../contracts/harness/MathHarness.sol";
import {MathTestBase} from "./MathTestBase.sol";
import {WAD} from "../../contracts/libraries/Constants.sol";

/// @notice Properties of FixedPoint: each helper rounds the way its name says, by under one unit,
///         for magnitudes where the exact product fits int256 (|a|, b, c up to 1e36).
contract FixedPointTest is MathTestBase {
    int256 internal constant MAX_OPERAND = 1e36;

    MathHarness internal harness;

    function setUp() public {
        // Only to observe reverts (vm.expectRevert needs an external call); properties use the library.
        harness = new MathHarness();
    }

    function testFuzz_MulDivFloorAndCeilBracketTheExactQuotient(int256 a, uint256 b, uint256 c) public pure {
        a = bound(a, -MAX_OPERAND, MAX_OPERAND);
        b = bound(b, 0, uint256(MAX_OPERAND));
        c = bound(c, 1, uint256(MAX_OPERAND));
        int256 exact = a * int256(b);
        int256 divisor = int256(c);
        int256 floor = FixedPoint.mulDivFloor(a, b, c);
        int256 ceil = FixedPoint.mulDivCeil(a, b, c);
        assertLe(floor * divisor, exact, "floor above exact");
        assertGt(floor * divisor + divisor, exact, "floor more than one below");
        assertGe(ceil * divisor, exact, "ceil below exact");
        assertLt(ceil * divisor - divisor, exact, "ceil more than one above");
        assertEq(ceil - floor, exact % divisor == 0 ? int256(0) : int256(1), "ceil and floor disagree");
    }

    function testFuzz_SignedWadHelpersBracketTheExactProduct(int256 a, int256 b) public pure {
        a = bound(a, -MAX_OPERAND, MAX_OPERAND);
        b = bound(b, -MAX_OPERAND, MAX_OPERAND);
        int256 exact = a * b;
        int256 floor = FixedPoint.mulWadFloorSigned(a, b);
        int256 ceil = FixedPoint.mulWadCeilSigned(a, b);
        assertLe(floor * SIGNED_WAD, exact, "floor above exact");
        assertGt(floor * SIGNED_WAD + SIGNED_WAD, exact, "floor more than one below");
        assertGe(ceil * SIGNED_WAD, exact, "ceil below exact");
        assertLt(ceil * SIGNED_WAD - SIGNED_WAD, exact, "ceil more than one above");
    }

    function testFuzz_UnsignedUpIsDownPlusRemainder(uint256 a, uint256 b, uint256 c) public pure {
        a = bound(a, 0, uint256(MAX_OPERAND));
        b = bound(b, 0, uint256(MAX_OPERAND));
        c = bound(c, 1, uint256(MAX_OPERAND));
        uint256 remainderBit = (a * b) % c == 0 ? 0 : 1;
        assertEq(FixedPoint.mulDivUp(a, b, c), FixedPoint.mulDivDown(a, b, c) + remainderBit);
        remainderBit = (a * b) % WAD == 0 ? 0 : 1;
        assertEq(FixedPoint.mulWadUp(a, b), FixedPoint.mulWadDown(a, b) + remainderBit);
    }

    function testFuzz_ClampStaysWithinOrderedBounds(uint256 x, uint256 lo, uint256 hi) public pure {
        if (lo > hi) (lo, hi) = (hi, lo);
        uint256 y = FixedPoint.clamp(x, lo, hi);
        assertGe(y, lo);
        assertLe(y, hi);
        if (x >= lo && x <= hi) assertEq(y, x);
    }

    /// solady's fullMulDiv reverts with the custom error FullMulDivFailed() (0xae47f702), not a
    /// Panic, when the divisor is zero or the quotient does not fit uint256; fullMulDivUp also when
    /// rounding up a quotient of type(uint256).max. The TypeScript mirror throws
    /// FullMulDivFailedError on exactly these inputs.
    function test_ZeroDivisorAndOverflowRevertFullMulDivFailed() public {
        bytes memory failed = abi.encodeWithSelector(FixedPointMathLib.FullMulDivFailed.selector);
        assertEq(FixedPointMathLib.FullMulDivFailed.selector, bytes4(0xae47f702));
        vm.expectRevert(failed);
        harness.mulDivDown(1, 1, 0);
        vm.expectRevert(failed);
        harness.mulDivUp(0, 0, 0);
        vm.expectRevert(failed);
        harness.mulDivFloor(-1, 1, 0);
        vm.expectRevert(failed);
        harness.mulWadDown(type(uint256).max, WAD + 1);
        // floor(x * (WAD + 1) / WAD) is exactly type(uint256).max, with a remainder: only rounding up overflows
        uint256 x = 0xffffffffffffffed8da22e2dbc54606ce862ed069eb19350550de6906b1de3b1;
        assertEq(harness.mulWadDown(x, WAD + 1), type(uint256).max);
        vm.expectRevert(failed);
        harness.mulWadUp(x, WAD + 1);
    }

    /// REGRESSION (was a known bug): mulDivFloor and mulDivCeil cast the unsigned quotient with an
    /// unchecked int256(...), so a quotient of 2^255 or more wrapped to a wrong-signed value
    /// (floor(MAX_INT * 2) was -2). They now use SafeCast.toInt256 and revert
    /// SafeCastOverflowedUintToInt(magnitude of the quotient).
    function test_Regression_MulDivFloorAndCeilRevertAboveInt256Max() public {
        uint256 twiceMax = 2 * uint256(type(int256).max);
        bytes memory overflow = abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintToInt.selector, twiceMax);
        vm.expectRevert(overflow);
        harness.mulDivFloor(type(int256).max, 2, 1);
        vm.expectRevert(overflow);
        harness.mulDivCeil(type(int256).max, 2, 1);
        vm.expectRevert(overflow);
        harness.mulDivFloor(-type(int256).max, 2, 1);
        vm.expectRevert(overflow);
        harness.mulWadFloorSigned(type(int256).max, 2e18);
    }

    /// The boundary of the regression: a quotient magnitude of type(int256).max converts, one more
    /// reverts, for either sign. So these helpers never return type(int256).min: its magnitude,
    /// 2^255, does not fit int256 before the negation.
    function test_Regression_SafeCastBoundaryIsInt256Max() public {
        assertEq(harness.mulDivFloor(type(int256).max, 1, 1), type(int256).max);
        assertEq(harness.mulDivCeil(-type(int256).max, 1, 1), -type(int256).max);
        uint256 twoTo255 = uint256(type(int256).max) + 1;
        bytes memory overflow = abi.encodeWithSelector(SafeCast.SafeCastOverflowedUintToInt.selector, twoTo255);
        vm.expectRevert(overflow);
        harness.mulDivFloor(2 ** 254, 2, 1);
        vm.expectRevert(overflow);
        harness.mulDivCeil(-(2 ** 254), 2, 1);
    }
}
