// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Test} from "forge-std/Test.sol";

import {RiskParams} from "../../contracts/libraries/RiskModel.sol";
import {WAD} from "../../contracts/libraries/Constants.sol";

/// @notice Realistic bounds shared by the math fuzz tests, the same as the TypeScript differential
///         test's: prices 1e6..1e30 (WAD), sizes up to 1e30, ratios up to 18e18, sigma up to 50e18,
///         elapsed up to 1e8 s, skewScale 1e15..1e30, funding index up to 1e40 either sign, and a
///         position's basis (fill - funding index) up to 1e40 + 1e30 either sign. Within them every
///         exact product a property needs stays far inside int256, so the properties compare against
///         exact integers.
abstract contract MathTestBase is Test {
    int256 internal constant SIGNED_WAD = 1e18;
    uint256 internal constant MIN_PRICE = 1e6;
    uint256 internal constant MAX_PRICE = 1e30;
    uint256 internal constant MAX_SIZE = 1e30;
    uint256 internal constant MAX_RATIO = 18e18;
    uint256 internal constant MAX_SIGMA = 50e18;
    uint256 internal constant MAX_ELAPSED = 1e8;
    uint256 internal constant MIN_SKEW_SCALE = 1e15;
    uint256 internal constant MAX_SKEW_SCALE = 1e30;
    uint256 internal constant MAX_FUNDING_RATE = 1e18;
    int256 internal constant MAX_FUNDING_INDEX = 1e40;
    int256 internal constant MAX_BASIS = 1e40 + 1e30;

    function _price(uint256 x) internal pure returns (uint256) {
        return bound(x, MIN_PRICE, MAX_PRICE);
    }

    function _size(int256 x) internal pure returns (int256) {
        return bound(x, -int256(MAX_SIZE), int256(MAX_SIZE));
    }

    function _absSize(uint256 x) internal pure returns (uint256) {
        return bound(x, 0, MAX_SIZE);
    }

    function _nonZeroSize(int256 x) internal pure returns (int256) {
        x = _size(x);
        return x == 0 ? int256(1) : x;
    }

    function _fundingIndex(int256 x) internal pure returns (int256) {
        return bound(x, -MAX_FUNDING_INDEX, MAX_FUNDING_INDEX);
    }

    function _basis(int256 x) internal pure returns (int256) {
        return bound(x, -MAX_BASIS, MAX_BASIS);
    }

    function _ratio(uint256 x) internal pure returns (uint256) {
        return bound(x, 0, MAX_RATIO);
    }

    function _multiplier(uint256 x) internal pure returns (uint256) {
        return bound(x, WAD, MAX_RATIO);
    }

    function _sigma(uint256 x) internal pure returns (uint256) {
        return bound(x, 0, MAX_SIGMA);
    }

    function _skewScale(uint256 x) internal pure returns (uint256) {
        return bound(x, MIN_SKEW_SCALE, MAX_SKEW_SCALE);
    }

    function _ratio64(uint64 x) internal pure returns (uint64) {
        return SafeCast.toUint64(bound(x, 0, MAX_RATIO));
    }

    /// @dev Parameters a governor could set: every ratio within bounds, mmrMin <= mmrMax, and both
    ///      multipliers the model documents as ">= 1" at least 1.
    function _sane(RiskParams memory p) internal pure returns (RiskParams memory) {
        p.mmrBase = _ratio64(p.mmrBase);
        p.mmrMin = _ratio64(p.mmrMin);
        p.mmrMax = _ratio64(p.mmrMax);
        if (p.mmrMin > p.mmrMax) (p.mmrMin, p.mmrMax) = (p.mmrMax, p.mmrMin);
        p.kMm = _ratio64(p.kMm);
        p.imMultiplier = SafeCast.toUint64(_multiplier(p.imMultiplier));
        p.sizePremium = _ratio64(p.sizePremium);
        p.mmrRampPerSecond = _ratio64(p.mmrRampPerSecond);
        p.baseFee = _ratio64(p.baseFee);
        p.kFee = _ratio64(p.kFee);
        return p;
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
