// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title ITrigger
/// @notice A small contract that proposes a stress level (0..4) for a market from on-chain facts. The
///         circuit breaker takes the highest proposal of all its triggers.
interface ITrigger {
    /// @notice Level this trigger proposes for `marketId` now (0 = normal .. 4 = halted).
    function proposeLevel(uint256 marketId) external view returns (uint8 level);

    /// @notice Short name for events and dashboards, e.g. "price-move".
    function name() external view returns (string memory);
}
