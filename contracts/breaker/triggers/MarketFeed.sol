// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {IPerpEngine} from "../../interfaces/IPerpEngine.sol";
import {IOracleAdapter} from "../../interfaces/IOracleAdapter.sol";

/// @title MarketFeed
/// @notice How a trigger finds a market's Chainlink feed: engine market -> feed id -> aggregator.
abstract contract MarketFeed {
    IPerpEngine public immutable engine;
    IOracleAdapter public immutable oracle;

    constructor(IPerpEngine engine_, IOracleAdapter oracle_) {
        engine = engine_;
        oracle = oracle_;
    }

    function _feedId(uint256 marketId) internal view returns (bytes32) {
        return engine.marketConfig(marketId).feedId;
    }

    function _aggregator(bytes32 feedId) internal view returns (AggregatorV3Interface) {
        return AggregatorV3Interface(oracle.feedConfig(feedId).aggregator);
    }

    /// @dev |a - b| / b in WAD.
    function _relativeMove(uint256 a, uint256 b) internal pure returns (uint256) {
        uint256 diff = a > b ? a - b : b - a;
        return (diff * 1e18) / b;
    }
}
