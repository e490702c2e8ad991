// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {IPerpEngine} from "../../interfaces/IPerpEngine.sol";
import {IOracleAdapter} from "../../interfaces/IOracleAdapter.sol";
import {Roles} from "../../libraries/Roles.sol";
import {MarketFeed} from "./MarketFeed.sol";
import {ITrigger} from "../../interfaces/ITrigger.sol";
import {ThresholdTrigger} from "./ThresholdTrigger.sol";
import {Bounds} from "../../libraries/Bounds.sol";

/// @title OracleHealthTrigger
/// @notice The jump between the latest two rounds (WAD), measured against the thresholds; and
///         staleness: an answer older than the feed's heartbeat proposes `staleLevel` at least.
contract OracleHealthTrigger is ThresholdTrigger, MarketFeed {
    event StaleLevelSet(uint8 level);

    uint256 internal constant STALE = type(uint256).max;

    uint8 public staleLevel = 3;

    constructor(
        IPerpEngine engine_,
        IOracleAdapter oracle_,
        address admin,
        address governor
    )
        ThresholdTrigger(admin, governor, true, 0.001e18, 1e18, [uint256(0.03e18), 0.06e18, 0.1e18, 0.15e18], 4)
        MarketFeed(engine_, oracle_)
    {
        emit StaleLevelSet(3);
    }

    /// @inheritdoc ITrigger
    function name() external pure returns (string memory) {
        return "oracle-health";
    }

    function setStaleLevel(uint8 level) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("staleLevel", level, 1, 4);
        staleLevel = level;
        emit StaleLevelSet(level);
    }

    /// @inheritdoc ITrigger
    /// @dev A stale answer proposes `staleLevel`; otherwise the jump is measured against the thresholds.
    function proposeLevel(uint256 marketId) external view override returns (uint8) {
        uint256 jump = measure(marketId);
        if (jump == STALE) return staleLevel < maxLevel ? staleLevel : maxLevel;
        return levelFor(marketId, jump);
    }

    /// @inheritdoc ThresholdTrigger
    /// @dev Jump of the latest round from the one before (WAD); type(uint256).max when stale.
    function measure(uint256 marketId) public view override returns (uint256) {
        bytes32 feedId = _feedId(marketId);
        IOracleAdapter.FeedConfig memory cfg = oracle.feedConfig(feedId);
        AggregatorV3Interface agg = AggregatorV3Interface(cfg.aggregator);
        (uint80 roundId, int256 latest, , uint256 updatedAt, ) = agg.latestRoundData();
        if (latest <= 0 || updatedAt == 0 || block.timestamp > updatedAt + cfg.heartbeat) return STALE;
        if (roundId <= 1) return 0;
        try agg.getRoundData(roundId - 1) returns (uint80, int256 previous, uint256, uint256 at, uint80) {
            if (previous <= 0 || at == 0) return 0;
            return _relativeMove(uint256(latest), uint256(previous));
        } catch {
            return 0;
        }
    }
}
