// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title Roles
/// @notice Role identifiers shared by every contract. DEFAULT_ADMIN_ROLE (OpenZeppelin) grants and
///         revokes them; on a test network it is held by a timelock.
library Roles {
    /// @dev Sets parameters within their MIN_/MAX_ bounds, lists markets and feeds.
    bytes32 internal constant GOVERNOR = keccak256("cascade.role.governor");
    /// @dev May only make things safer: restrict markets, lower caps, raise stress levels.
    bytes32 internal constant GUARDIAN = keccak256("cascade.role.guardian");
    /// @dev Contracts allowed to force-reduce positions (the liquidation engine).
    bytes32 internal constant LIQUIDATOR = keccak256("cascade.role.liquidator");
    /// @dev Off-chain forecaster that may raise a stress level up to a bound, with expiry.
    bytes32 internal constant RISK_ORACLE = keccak256("cascade.role.risk-oracle");
    /// @dev Keeper allowed to auto-deleverage, with a ranking the engine checks (IAutoDeleveraging).
    bytes32 internal constant ADL_KEEPER = keccak256("cascade.role.adl-keeper");
}
