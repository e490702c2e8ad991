// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {FixedPointMathLib as M} from "solady/utils/FixedPointMathLib.sol";
import {WAD} from "./Constants.sol";

/// @title FixedPoint
/// @notice WAD helpers with an explicit rounding direction on every operation. Full 512-bit precision
///         (solady fullMulDiv: same results as OpenZeppelin Math.mulDiv, with a cheap 256-bit fast
///         path; a zero divisor or a result above uint256 reverts FullMulDivFailed()). Signed variants
///         round toward negative infinity ("floor") or positive infinity ("ceil"), so callers pick
///         the direction that favours the protocol rather than truncating toward zero.
library FixedPoint {
    function mulWadDown(uint256 a, uint256 b) internal pure returns (uint256) {
        return M.fullMulDiv(a, b, WAD);
    }

    function mulWadUp(uint256 a, uint256 b) internal pure returns (uint256) {
        return M.fullMulDivUp(a, b, WAD);
    }

    function mulDivDown(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        return M.fullMulDiv(a, b, c);
    }

    function mulDivUp(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        return M.fullMulDivUp(a, b, c);
    }

    function abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    /// @dev floor(a * b / c) for signed a; b, c > 0. Reverts SafeCastOverflowedUintToInt when the
    ///      magnitude of the quotient exceeds type(int256).max.
    function mulDivFloor(int256 a, uint256 b, uint256 c) internal pure returns (int256) {
        if (a >= 0) return SafeCast.toInt256(M.fullMulDiv(uint256(a), b, c));
        return -SafeCast.toInt256(M.fullMulDivUp(uint256(-a), b, c));
    }

    /// @dev ceil(a * b / c) for signed a; b, c > 0. Reverts SafeCastOverflowedUintToInt when the
    ///      magnitude of the quotient exceeds type(int256).max.
    function mulDivCeil(int256 a, uint256 b, uint256 c) internal pure returns (int256) {
        if (a >= 0) return SafeCast.toInt256(M.fullMulDivUp(uint256(a), b, c));
        return -SafeCast.toInt256(M.fullMulDiv(uint256(-a), b, c));
    }

    /// @dev floor(a * b / WAD) where both factors may be negative.
    function mulWadFloorSigned(int256 a, int256 b) internal pure returns (int256) {
        return b >= 0 ? mulDivFloor(a, uint256(b), WAD) : -mulDivCeil(a, abs(b), WAD);
    }

    /// @dev ceil(a * b / WAD) where both factors may be negative.
    function mulWadCeilSigned(int256 a, int256 b) internal pure returns (int256) {
        return b >= 0 ? mulDivCeil(a, abs(b), WAD) : -mulDivFloor(a, abs(b), WAD);
    }

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    function clamp(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return x < lo ? lo : (x > hi ? hi : x);
    }
}
