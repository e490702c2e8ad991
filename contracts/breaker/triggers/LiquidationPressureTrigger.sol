// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "../../interfaces/IPerpEngine.sol";
import {IOracleAdapter} from "../../interfaces/IOracleAdapter.sol";
import {ILiquidationConfigurator} from "../../interfaces/ILiquidationConfigurator.sol";
import {FixedPoint} from "../../libraries/FixedPoint.sol";
import {Roles} from "../../libraries/Roles.sol";
import {Bounds} from "../../libraries/Bounds.sol";
import {MarketFeed} from "./MarketFeed.sol";
import {ITrigger} from "../../interfaces/ITrigger.sol";
import {ThresholdTrigger} from "./ThresholdTrigger.sol";

/// @title LiquidationPressureTrigger
/// @notice Notional liquidated in the liquidation engine's current capacity window, relative to the
///         market's open interest notional floored at `minOpenInterestNotional` (WAD; 0.01e18 = 1% of
///         open interest per window).
/// @dev The floor keeps a market with little open interest from reading as a crisis: without it, a
///      liquidation that emptied a market of a few hundred dollars divided by zero open interest and
///      proposed reduce-only. Below the floor the same liquidated notional weighs as it would against
///      a market of the floor's size.
contract LiquidationPressureTrigger is ThresholdTrigger, MarketFeed {
    using FixedPoint for uint256;

    /// @notice Bounds of `minOpenInterestNotional` (WAD, quote units): from 1 unit up to 10 billion.
    uint256 public constant MIN_OPEN_INTEREST_FLOOR = 1e18;
    uint256 public constant MAX_OPEN_INTEREST_FLOOR = 10_000_000_000e18;

    /// @notice The governor changed the open-interest floor of the denominator.
    event MinOpenInterestNotionalSet(uint256 notionalWad);

    ILiquidationConfigurator public immutable liquidations;

    /// @notice Smallest open-interest notional the liquidated notional is measured against (WAD).
    uint256 public minOpenInterestNotional;

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
        minOpenInterestNotional = 100_000e18;
        emit MinOpenInterestNotionalSet(100_000e18);
    }

    /// @inheritdoc ITrigger
    function name() external pure returns (string memory) {
        return "liquidation-pressure";
    }

    /// @notice Sets the open-interest floor (governor; bounded by MIN/MAX_OPEN_INTEREST_FLOOR).
    function setMinOpenInterestNotional(uint256 notionalWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("minOpenInterestNotional", notionalWad, MIN_OPEN_INTEREST_FLOOR, MAX_OPEN_INTEREST_FLOOR);
        minOpenInterestNotional = notionalWad;
        emit MinOpenInterestNotionalSet(notionalWad);
    }

    /// @inheritdoc ThresholdTrigger
    function measure(uint256 marketId) public view override returns (uint256) {
        (, uint256 used, ) = liquidations.liquidationCapacity(marketId);
        if (used == 0) return 0;
        IPerpEngine.MarketState memory st = engine.marketState(marketId);
        uint256 oi = uint256(st.longOpenInterest) + st.shortOpenInterest;
        (uint256 price, ) = oracle.latestPrice(_feedId(marketId));
        // A market emptied by its liquidations, or one that never held much, is measured against the
        // floor, never against zero.
        uint256 oiNotional = oi.mulWadUp(price).max(minOpenInterestNotional);
        return used.mulDivDown(1e18, oiNotional);
    }
}
