// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "../../interfaces/IPerpEngine.sol";
import {IOracleAdapter} from "../../interfaces/IOracleAdapter.sol";
import {ILiquidationConfigurator} from "../../interfaces/ILiquidationConfigurator.sol";
import {FixedPoint} from "../../libraries/FixedPoint.sol";
import {MarketFeed} from "./MarketFeed.sol";
import {ITrigger} from "../../interfaces/ITrigger.sol";
import {ThresholdTrigger} from "./ThresholdTrigger.sol";

/// @title LiquidationPressureTrigger
/// @notice Notional liquidated in the liquidation engine's current capacity window, relative to the
///         market's open interest notional (WAD; 0.01e18 = 1% of open interest per window).
contract LiquidationPressureTrigger is ThresholdTrigger, MarketFeed {
    using FixedPoint for uint256;

    ILiquidationConfigurator public immutable liquidations;

    constructor(
        IPerpEngine engine_,
        IOracleAdapter oracle_,
        ILiquidationConfigurator liquidations_,
        address admin,
        address governor
    )
        ThresholdTrigger(admin, governor, true, 0.0001e18, 10e18, [uint256(0.005e18), 0.01e18, 0.02e18, 0.04e18], 3)
        MarketFeed(engine_, oracle_)
    {
        liquidations = liquidations_;
    }

    /// @inheritdoc ITrigger
    function name() external pure returns (string memory) {
        return "liquidation-pressure";
    }

    /// @inheritdoc ThresholdTrigger
    function measure(uint256 marketId) public view override returns (uint256) {
        (, uint256 used, ) = liquidations.liquidationCapacity(marketId);
        if (used == 0) return 0;
        IPerpEngine.MarketState memory st = engine.marketState(marketId);
        uint256 oi = uint256(st.longOpenInterest) + st.shortOpenInterest;
        (uint256 price, ) = oracle.latestPrice(_feedId(marketId));
        uint256 oiNotional = oi.mulWadUp(price);
        // Liquidations that emptied the market are the most pressure there is.
        if (oiNotional == 0) return type(uint256).max;
        return uint256(used).mulDivDown(1e18, oiNotional);
    }
}
