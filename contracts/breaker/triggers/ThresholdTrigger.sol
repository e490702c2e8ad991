// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ITrigger} from "../../interfaces/ITrigger.sol";
import {Roles} from "../../libraries/Roles.sol";
import {Bounds, IBoundedParameters} from "../../libraries/Bounds.sol";

/// @title ThresholdTrigger
/// @notice Base of the triggers: a measured value against four thresholds (levels 1..4), a default set
///         and optional per-market sets, tuned by governance within bounds.
abstract contract ThresholdTrigger is ITrigger, AccessControl {
    error ThresholdsNotOrdered(uint256 index);

    event ThresholdsSet(uint256 indexed marketId, bool isDefault, uint256[4] thresholds);
    event MaxLevelSet(uint8 maxLevel);

    /// @dev true: a higher value is worse (thresholds ascending); false: lower is worse (descending).
    bool internal immutable HIGHER_IS_WORSE;
    uint256 internal immutable MIN_THRESHOLD;
    uint256 internal immutable MAX_THRESHOLD;

    /// @notice Highest level this trigger may propose (1..4).
    uint8 public maxLevel;

    uint256[4] internal _default;
    mapping(uint256 marketId => uint256[4]) internal _perMarket;
    mapping(uint256 marketId => bool) internal _hasPerMarket;

    constructor(
        address admin,
        address governor,
        bool higherIsWorse,
        uint256 minThreshold,
        uint256 maxThreshold,
        uint256[4] memory defaults,
        uint8 maxLevel_
    ) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
        HIGHER_IS_WORSE = higherIsWorse;
        MIN_THRESHOLD = minThreshold;
        MAX_THRESHOLD = maxThreshold;
        _checkThresholds(defaults);
        _default = defaults;
        emit ThresholdsSet(type(uint256).max, true, defaults);
        Bounds.check("maxLevel", maxLevel_, 1, 4);
        maxLevel = maxLevel_;
        emit MaxLevelSet(maxLevel_);
    }

    /// @notice Governance: the highest level this trigger may propose (1..4).
    function setMaxLevel(uint8 maxLevel_) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("maxLevel", maxLevel_, 1, 4);
        maxLevel = maxLevel_;
        emit MaxLevelSet(maxLevel_);
    }

    /// @notice Governance: the four thresholds (levels 1..4) of every market without its own, each within
    ///         the trigger's bounds and strictly ordered from mild to severe.
    function setDefaultThresholds(uint256[4] calldata t) external onlyRole(Roles.GOVERNOR) {
        _checkThresholds(t);
        _default = t;
        emit ThresholdsSet(type(uint256).max, true, t);
    }

    /// @notice Governance: a market's own four thresholds (levels 1..4), bounded and ordered as the
    ///         default ones.
    function setMarketThresholds(uint256 marketId, uint256[4] calldata t) external onlyRole(Roles.GOVERNOR) {
        _checkThresholds(t);
        _perMarket[marketId] = t;
        _hasPerMarket[marketId] = true;
        emit ThresholdsSet(marketId, false, t);
    }

    /// @notice The thresholds in force for a market: its own, else the default ones.
    function thresholds(uint256 marketId) public view returns (uint256[4] memory) {
        return _hasPerMarket[marketId] ? _perMarket[marketId] : _default;
    }

    /// @inheritdoc ITrigger
    function proposeLevel(uint256 marketId) external view virtual returns (uint8) {
        return levelFor(marketId, measure(marketId));
    }

    /// @notice The value this trigger measures for a market now (units per trigger).
    function measure(uint256 marketId) public view virtual returns (uint256);

    /// @notice Level a value maps to: the number of thresholds it reaches.
    function levelFor(uint256 marketId, uint256 value) public view returns (uint8 level) {
        uint256[4] memory t = thresholds(marketId);
        for (uint256 i; i < 4; ++i) {
            if (HIGHER_IS_WORSE ? value >= t[i] : value <= t[i]) level = uint8(i + 1);
        }
        if (level > maxLevel) level = maxLevel;
    }

    function _checkThresholds(uint256[4] memory t) internal view {
        for (uint256 i; i < 4; ++i) {
            if (t[i] < MIN_THRESHOLD || t[i] > MAX_THRESHOLD) {
                revert IBoundedParameters.ParameterOutOfBounds("threshold", t[i], MIN_THRESHOLD, MAX_THRESHOLD);
            }
            if (i != 0 && (HIGHER_IS_WORSE ? t[i] <= t[i - 1] : t[i] >= t[i - 1])) revert ThresholdsNotOrdered(i);
        }
    }
}
