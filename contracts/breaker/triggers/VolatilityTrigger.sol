// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "../../interfaces/IPerpEngine.sol";
import {IOracleAdapter} from "../../interfaces/IOracleAdapter.sol";
import {MarketFeed} from "./MarketFeed.sol";
import {ITrigger} from "../../interfaces/ITrigger.sol";
import {ThresholdTrigger} from "./ThresholdTrigger.sol";

/// @title VolatilityTrigger
/// @notice The oracle adapter's annualised volatility estimate (WAD; 1e18 = 100%).
contract VolatilityTrigger is ThresholdTrigger, MarketFeed {
    constructor(
        IPerpEngine engine_,
        IOracleAdapter oracle_,
        address admin,
        address governor
    )
        ThresholdTrigger(admin, governor, true, 0.05e18, 50e18, [uint256(1.2e18), 2e18, 3e18, 5e18], 3)
        MarketFeed(engine_, oracle_)
    {}

    /// @inheritdoc ITrigger
    function name() external pure returns (string memory) {
        return "volatility";
    }

    /// @inheritdoc ThresholdTrigger
    function measure(uint256 marketId) public view override returns (uint256) {
        return oracle.volatility(_feedId(marketId));
    }
}
