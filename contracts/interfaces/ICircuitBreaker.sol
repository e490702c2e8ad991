// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title ICircuitBreaker
/// @notice What the engine asks on every trade: the policy of the market's current stress level.
interface ICircuitBreaker {
    /// @notice Restrictions of one stress level. Multipliers are WAD (1e18 = unchanged).
    struct TradePolicy {
        uint64 feeMultiplier; // applied to the risk-adding fee rate
        uint64 imMultiplier; // applied to the initial margin ratio
        uint64 maxLeverage; // WAD; account notional / equity after a risk-adding trade; 0 = no cap
        bool newRiskAllowed; // false: only trades that reduce a position
        bool tradingOpen; // false: halted; still, reducing and liquidations are never refused
    }

    /// @notice Policy in force for `marketId` now.
    function tradePolicy(uint256 marketId) external view returns (TradePolicy memory);
}
