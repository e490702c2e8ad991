// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FixedPoint} from "../../contracts/libraries/FixedPoint.sol";
import {MathTestBase} from "./MathTestBase.sol";

/// @notice Properties of FixedPoint: each helper rounds the way its name says, by under one unit,
///         for magnitudes where the exact product fits int256 (|a|, b, c up to 1e36).
contract FixedPointTest is MathTestBase {
    int256 internal constant MAX_OPERAND = 1e36;

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

    /// KNOWN BUG, reported to the lead, not fixed here (the libraries are out of this branch's
    /// scope): mulDivFloor and mulDivCeil cast the unsigned quotient with an unchecked
    /// `int256(...)`, so a quotient of 2^255 or more wraps to a wrong-signed value instead of
    /// reverting. Unreachable from PerpMath within realistic bounds (quotients there stay below
    /// ~1e53, against 2^255 ~ 5.8e76), but FixedPoint is a general helper. The fix is SafeCast.toInt256; when it lands,
    /// replace these assertions with vm.expectRevert(SafeCast.SafeCastOverflowedUintToInt.selector).
    function test_KnownBug_MulDivFloorAndCeilWrapAboveInt256Max() public pure {
        assertEq(FixedPoint.mulDivFloor(type(int256).max, 2, 1), -2, "floor(MAX_INT * 2) wraps to -2");
        assertEq(FixedPoint.mulDivCeil(type(int256).max, 2, 1), -2, "ceil(MAX_INT * 2) wraps to -2");
        assertEq(FixedPoint.mulDivFloor(-type(int256).max, 2, 1), 2, "floor(-MAX_INT * 2) wraps to +2");
    }
}
