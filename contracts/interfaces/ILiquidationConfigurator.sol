// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

/// @title ILiquidationConfigurator
/// @notice The liquidation engine's parameters (governor, bounded) and what it keeps, read back:
///         per-account state, capacity windows, the bad-debt ledger and the deficits queued for
///         auto-deleveraging. Served at the engine's address (LiquidationConfigurator module).
interface ILiquidationConfigurator is IBoundedParameters {
    /// @notice Tranche parameters (governor, bounded). Ratios and dustNotional WAD, each a whole number of
    ///         1e-6 of a WAD (1e12 wei: a ratio to 0.0001%, an amount to a millionth of a dollar);
    ///         cooldown and capacityWindow in seconds.
    /// @dev Stored as one word, dustNotional in the reward configuration's word (LiquidationParams), so a
    ///      tranche reads two cold slots for both configurations.
    struct Config {
        uint64 trancheFraction; // largest share of every position one tranche closes
        uint64 healthBuffer; // a tranche aims at equity >= maintenance * (1 + buffer)
        uint64 backstopRatio; // equity below maintenance * backstopRatio: close everything, no cooldown
        uint64 penaltyRate; // penalty on the tranche's notional
        uint16 cooldown; // seconds between an account's tranches (backstop ignores it); <= 1 hour
        uint32 capacityWindow; // seconds
        uint64 capacityDepthFactor; // liquidated notional per window <= factor * skewScale * price
        uint80 dustNotional; // quote (WAD): a remainder below it closes too; <= 10,000e18
        uint64 capBypassRatio; // equity below maintenance * capBypassRatio (near bankruptcy): no capacity cap
    }

    /// @notice Keeper reward: clamp(flat + share * notional, min, max) * escalation, where escalation
    ///         rises from 1 with the time since the account was first seen liquidatable. Every field WAD, a
    ///         whole number of 1e-6 of a WAD (1e12 wei).
    /// @dev Stored as one word with the Config's dustNotional (LiquidationParams): every margin check reads it.
    struct RewardConfig {
        uint96 flat; // quote (WAD): covers gas
        uint96 min; // quote (WAD)
        uint64 shareOfNotional; // WAD
        uint96 max; // quote (WAD)
        uint64 escalationPerSecond; // WAD added to the multiplier per second
        uint64 maxMultiplier; // WAD
    }

    /// @notice A market's liquidation capacity window: when it started and the notional used in it.
    struct Window {
        uint40 start;
        uint128 used; // quote notional (WAD)
    }

    /// @notice Bad-debt accounting: incurred == covered + socialised + pending, always (WAD).
    struct BadDebtLedger {
        uint256 incurred;
        uint256 covered; // by the insurance fund
        uint256 socialised; // recovered by auto-deleveraging
        uint256 pending; // queued for auto-deleveraging
    }

    /// @notice An account's totals with its legs whose feeds are stale valued at the bound most favourable
    ///         to the account (LiquidationMath.staleBound), as the liquidation health check counts them (WAD).
    struct StaleValuation {
        int256 equity; // the fresh legs' equity plus the stale legs' values
        uint256 maintenanceMargin; // the whole account's, its liquidation margin on the whole notional
        uint256 notional; // the whole account's
        uint256 staleMaintenance; // the stale legs' own maintenance margin (at least 1 wei)
    }

    /// @notice See staleValuation: the account's fresh legs are under water while its stale legs (a gain
    ///         in `marketId`) may cover the loss, so it waits for the stale feed.
    error StaleLegMayCoverLoss(uint256 accountId, uint256 marketId);

    /// @notice flag() saw the account liquidatable; its escalation clock runs from `liquidatableSince`.
    event AccountSeenLiquidatable(uint256 indexed accountId, uint256 liquidatableSince);

    event ConfigSet(Config config);
    event RewardConfigSet(RewardConfig config);

    /// @notice Bounds of Config and RewardConfig (WAD unless seconds or quote notional).
    function MIN_TRANCHE_FRACTION() external view returns (uint256);
    function MAX_HEALTH_BUFFER() external view returns (uint256);
    function MIN_BACKSTOP_RATIO() external view returns (uint256);
    function MAX_PENALTY_RATE() external view returns (uint256);
    function MAX_COOLDOWN() external view returns (uint256);
    function MIN_CAPACITY_WINDOW() external view returns (uint256);
    function MAX_CAPACITY_WINDOW() external view returns (uint256);
    function MIN_CAPACITY_DEPTH_FACTOR() external view returns (uint256);
    function MAX_CAPACITY_DEPTH_FACTOR() external view returns (uint256);
    function MAX_DUST_NOTIONAL() external view returns (uint256);
    function MAX_REWARD() external view returns (uint256);
    function MAX_REWARD_SHARE() external view returns (uint256);
    function MAX_ESCALATION_PER_SECOND() external view returns (uint256);
    function MAX_REWARD_MULTIPLIER() external view returns (uint256);

    /// @notice A market's liquidation capacity in the current window, as a tranche sees it now.
    /// @return capacity notional that may be liquidated per window: capacityDepthFactor * skewScale * price
    ///         (0 for a market that is not listed)
    /// @return used notional liquidated in the current window (0 once the window has ended)
    /// @return windowEndsAt when the current window ends (now + capacityWindow when none is open)
    function liquidationCapacity(
        uint256 marketId
    ) external view returns (uint256 capacity, uint256 used, uint256 windowEndsAt);

    /// @notice Sets the tranche parameters. Governor; every field within its MIN_/MAX_ bounds
    ///         (ParameterOutOfBounds), every WAD field a whole number of 1e-6 of a WAD (1e12 wei;
    ///         ParameterNotInUnits). Either refusal changes nothing.
    function setConfig(Config calldata c) external;

    /// @notice Sets the keeper-reward parameters. Governor; every field within its bounds
    ///         (ParameterOutOfBounds) and a whole number of 1e-6 of a WAD (1e12 wei; ParameterNotInUnits).
    ///         Either refusal changes nothing.
    function setRewardConfig(RewardConfig calldata r) external;

    /// @notice The tranche parameters, in WAD (and seconds) exactly as set.
    function config()
        external
        view
        returns (
            uint64 trancheFraction,
            uint64 healthBuffer,
            uint64 backstopRatio,
            uint64 penaltyRate,
            uint16 cooldown,
            uint32 capacityWindow,
            uint64 capacityDepthFactor,
            uint80 dustNotional,
            uint64 capBypassRatio
        );

    /// @notice The keeper-reward parameters, in WAD exactly as set.
    function rewardConfig()
        external
        view
        returns (
            uint96 flat,
            uint96 min,
            uint64 shareOfNotional,
            uint96 max,
            uint64 escalationPerSecond,
            uint64 maxMultiplier
        );

    /// @notice An account's liquidation state: its last tranche, when its reward-escalation clock
    ///         started (0: not running) and its margin then (more margin since restarts the clock).
    function accountState(
        uint256 accountId
    ) external view returns (uint40 lastTrancheAt, uint40 liquidatableSince, uint128 marginAtFlag);

    /// @notice A market's capacity window as stored (it may have ended; see liquidationCapacity).
    function capacityWindow(uint256 marketId) external view returns (uint40 start, uint128 used);

    /// @notice Bad debt the fund could not cover, per market and side of the bankrupt positions,
    ///         waiting for auto-deleveraging of the other side (WAD).
    function pendingDeficit(uint256 marketId, bool bankruptLong) external view returns (uint256);

    /// @notice Bad debt realised by liquidations, in total (WAD).
    function badDebtIncurred() external view returns (uint256);

    /// @notice Bad debt covered (WAD): by the insurance fund, and at a takeover what the fund could not cover
    ///         and the backstop vault paid within its loss budget (`BackstopBadDebtPaid`).
    function badDebtCovered() external view returns (uint256);

    /// @notice Bad debt recovered by auto-deleveraging (WAD).
    function badDebtSocialised() external view returns (uint256);

    /// @notice Bad debt queued for auto-deleveraging (WAD).
    function badDebtPending() external view returns (uint256);

    /// @notice Starts an account's reward-escalation clock when it is liquidatable but really held back
    ///         (its cooldown, or no capacity in any of its markets), and records that the account was seen
    ///         liquidatable (AccountSeenLiquidatable): a clock not seen by a flag or a tranche for 600 s
    ///         ends (it may have outlived a recovery by price). An account liquidatable now keeps a running
    ///         clock seen; without one it reverts NotHeldBack. Otherwise reverts (AccountHealthy,
    ///         NoPositions, or the snapshot's error). Permissionless.
    function flag(uint256 accountId) external;

    /// @notice Stops the reward-escalation clock of an account that is healthy again
    ///         (AccountStillLiquidatable otherwise). Permissionless.
    function clearFlag(uint256 accountId) external;

    /// @notice The account's positions in the markets of the bit set `markets` (bit i: market i), each at
    ///         its feed's last answer moved by the stale band in the account's favour (up for a long, down
    ///         for a short), added to the totals of its other legs: `freshEquity` (margin plus their
    ///         values), `freshMaintenance` (with the liquidation margin of `freshNotional`) and
    ///         `freshNotional`. The liquidation engine counts stale legs so in its health check and does not
    ///         trade them. Reverts StaleLegMayCoverLoss when the other legs alone are under water (equity
    ///         below zero) while the stale legs, at the edge of their band, could meet that loss: closing
    ///         them would leave bad debt the insurance fund covers while that gain, later the owner's,
    ///         should meet it, so the account waits for the feed. A stale leg that cannot cover the loss
    ///         (a tiny one) never holds the account back.
    ///         Reverts with the oracle's error when a feed's last answer is itself unusable.
    function staleValuation(
        uint256 accountId,
        uint256 markets,
        int256 freshEquity,
        uint256 freshMaintenance,
        uint256 freshNotional
    ) external view returns (StaleValuation memory v);

    /// @notice Accounts in [firstAccountId, firstAccountId + count) that liquidate() would act on now
    ///         (at most MAX_SCAN ids are scanned).
    function liquidatableAccounts(uint256 firstAccountId, uint256 count) external view returns (uint256[] memory);
}
