// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "./IPerpEngine.sol";
import {ILiquidationConfigurator} from "./ILiquidationConfigurator.sol";

/// @title IProtocolLens
/// @notice Read-only: what a keeper's scan reads at one block, in one call instead of one per value.
///         Every field is what the protocol's own views answer at that block; nothing is computed here.
interface IProtocolLens {
    /// @notice One market as a keeper's scan reads it.
    struct MarketView {
        uint256 marketId;
        IPerpEngine.MarketConfig config; // IPerpEngine.marketConfig
        IPerpEngine.MarketState state; // IPerpEngine.marketState
        bool priced; // IOracleAdapter.getPriceAndVolatility(config.feedId) answered (a listed market only)
        uint256 priceWad; // its answer when priced, else 0
        uint256 sigmaWad;
        bytes priceError; // its revert data when it reverted (a stale or failed feed), else empty
        uint40 windowStart; // ILiquidationConfigurator.capacityWindow, as stored
        uint128 windowUsed;
    }

    /// @notice The liquidation engine's parameters and each asked market (a market not listed has only
    ///         its config and state read: no price).
    struct KeeperView {
        ILiquidationConfigurator.Config liquidation; // ILiquidationConfigurator.config
        ILiquidationConfigurator.RewardConfig reward; // ILiquidationConfigurator.rewardConfig
        MarketView[] markets; // in the order asked
    }

    /// @notice What the keeper's deleveraging job reads at the start of a pass (scripts/keeper/deleverager.ts):
    ///         the bad debt waiting for ADL and, where the backstop vault may pass inventory on, its markets.
    struct DeleverageView {
        uint256 badDebtPending; // ILiquidationConfigurator.badDebtPending
        // IBackstopConfigurator.backstopState and backstopConfig both answered (false: a deployment without the
        // backstop's configurator; the fields below are then 0)
        bool backstop;
        address vault; // IBackstopConfigurator.backstopState().vault
        uint256 accountId; // IBackstopConfigurator.backstopState().accountId
        uint256 adlDrawdown; // IBackstopConfigurator.backstopConfig().adlDrawdown
        // IPerpEngine.accountMarkets(accountId) whose IAutoDeleveraging.backstopExcess is above 0, in that
        // order; read only with a vault and adlDrawdown above 0 (else empty)
        uint256[] excessMarkets;
    }

    /// @notice The engine whose markets and liquidation parameters are read (the liquidation modules
    ///         answer at its address).
    function engine() external view returns (address);

    /// @notice The oracle adapter the prices are read from.
    function oracle() external view returns (address);

    /// @notice What a keeper's scan reads, for `marketIds`, at the current block.
    function keeperView(uint256[] calldata marketIds) external view returns (KeeperView memory view_);

    /// @notice What the keeper's deleveraging job reads, at the current block, in one call.
    function deleverageView() external view returns (DeleverageView memory v);
}
