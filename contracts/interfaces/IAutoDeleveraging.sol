// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

/// @title IAutoDeleveraging
/// @notice Recovers the bad debt the insurance fund could not cover (queued per market and side by the
///         liquidation engine) by reducing the most profitable opposite-side positions at their
///         break-even price, bounded per market and window. Reached at the engine's address.
interface IAutoDeleveraging is IBoundedParameters {
    /// @notice Bound on auto-deleveraging per market.
    struct AdlConfig {
        uint32 window; // seconds
        uint128 maxNotionalPerWindow; // quote (WAD)
    }

    error NothingToDeleverage(uint256 marketId, bool bankruptLong);
    error NotAnAdlCandidate(uint256 accountId, uint256 marketId);
    error AdlCandidatesNotRanked(uint256 accountId, uint256 score, uint256 previousScore);
    error AdlCapacityExhausted(uint256 marketId, uint256 windowEndsAt);
    error TooManyCandidates(uint256 size, uint256 max);

    event AdlConfigSet(AdlConfig config);
    /// @notice One candidate reduced: the size closed, at its break-even price, and the deficit recovered.
    event AutoDeleveraged(
        uint256 indexed marketId,
        uint256 indexed accountId,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 recovered
    );

    /// @notice Reduces the given opposite-side positions, most profitable first (pnl * leverage, strictly
    ///         non-increasing in the list), at their break-even price, until the market's queued deficit
    ///         is recovered or the per-window bound is reached. Permissionless.
    /// @return recovered deficit recovered (WAD)
    function autoDeleverage(
        uint256 marketId,
        bool bankruptLong,
        uint256[] calldata candidates
    ) external returns (uint256 recovered);

    /// @notice Sets the per-market bound. Governor; window and notional within their bounds.
    function setAdlConfig(AdlConfig calldata a) external;

    /// @notice The per-market bound.
    function adlConfig() external view returns (uint32 window, uint128 maxNotionalPerWindow);

    /// @notice A market's auto-deleveraging window as stored.
    function adlWindow(uint256 marketId) external view returns (uint40 start, uint128 used);
}
