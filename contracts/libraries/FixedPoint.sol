// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title FixedPoint
/// @notice WAD helpers with an explicit rounding direction on every operation. Signed variants
///         round toward negative infinity ("floor") or positive infinity ("ceil"), so callers pick
///         the direction that favours the protocol rather than truncating toward zero.
library FixedPoint {
    uint256 internal constant WAD = 1e18;

    function mulWadDown(uint256 a, uint256 b) internal pure returns (uint256) {
        return Math.mulDiv(a, b, WAD);
    }

    function mulWadUp(uint256 a, uint256 b) internal pure returns (uint256) {
        return Math.mulDiv(a, b, WAD, Math.Rounding.Ceil);
    }

    function mulDivDown(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        return Math.mulDiv(a, b, c);
    }

    function mulDivUp(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        return Math.mulDiv(a, b, c, Math.Rounding.Ceil);
    }

    function abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    /// @dev floor(a * b / c) for signed a; b, c > 0.
    function mulDivFloor(int256 a, uint256 b, uint256 c) internal pure returns (int256) {
        if (a >= 0) return int256(Math.mulDiv(uint256(a), b, c));
        return -int256(Math.mulDiv(uint256(-a), b, c, Math.Rounding.Ceil));
    }

    /// @dev ceil(a * b / c) for signed a; b, c > 0.
    function mulDivCeil(int256 a, uint256 b, uint256 c) internal pure returns (int256) {
        if (a >= 0) return int256(Math.mulDiv(uint256(a), b, c, Math.Rounding.Ceil));
        return -int256(Math.mulDiv(uint256(-a), b, c));
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
