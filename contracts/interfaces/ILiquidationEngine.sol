// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title ILiquidationEngine
/// @notice Brings accounts below maintenance margin back to health in tranches, at a pace the market
///         can absorb; routes bad debt to the insurance fund, then to auto-deleveraging.
interface ILiquidationEngine {
    /// @notice Tranche parameters (governor, bounded). Ratios WAD.
    /// @dev Two storage slots: the four WAD ratios, then the rest (types sized to each field's bound).
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
    ///         rises from 1 with the time since the account was first seen liquidatable.
    struct RewardConfig {
        uint96 flat; // quote (WAD): covers gas
        uint96 min; // quote (WAD)
        uint64 shareOfNotional; // WAD
        uint96 max; // quote (WAD)
        uint64 escalationPerSecond; // WAD added to the multiplier per second
        uint64 maxMultiplier; // WAD
    }

    /// @notice Bound on auto-deleveraging per market.
    struct AdlConfig {
        uint32 window; // seconds
        uint128 maxNotionalPerWindow; // quote (WAD)
    }

    /// @notice One position's part of a tranche.
    struct Leg {
        uint256 marketId;
        int256 sizeDelta; // what the tranche closes (opposite sign to the position)
        uint256 price; // fill: the oracle index price
        uint256 notional;
        int256 realised; // value realised into margin (PnL net of funding)
        uint256 shortfall; // loss the margin could not pay (bad debt)
        bool bankruptLong; // side of the position that closed (for routing bad debt)
    }

    /// @notice Everything one call of liquidate(account) does, as previewLiquidation reports it.
    struct Plan {
        uint256 accountId;
        bool backstop; // full close (as far as capacity allows above capBypassRatio), no cooldown
        int256 equity; // before
        uint256 maintenanceMargin; // before
        uint256 fraction; // WAD share of every position closed
        Leg[] legs; // in execution order: gains realised before losses
        uint256 trancheNotional;
        uint256 keeperReward; // total paid to the keeper (from the penalty, then from the fund)
        uint256 keeperFromPenalty;
        uint256 keeperFromFund;
        uint256 insuranceShare; // penalty share owed to the insurance fund
        uint256 badDebt;
        uint256 badDebtCovered; // by the insurance fund
        uint256 badDebtSocialised; // queued for auto-deleveraging
        uint256 remainingMaintenance; // upper bound of the maintenance margin left after the tranche
        uint256 marginBefore;
        uint256 marginAfter;
    }

    enum Status {
        Ok,
        NoPositions,
        Healthy,
        CoolingDown,
        NoCapacity,
        SnapshotFailed
    }

    error AccountHealthy(uint256 accountId, int256 equity, uint256 maintenanceMargin);
    error NoPositions(uint256 accountId);
    error TrancheCoolingDown(uint256 accountId, uint256 readyAt);
    error LiquidationCapacityExhausted(uint256 accountId, uint256 marketId, uint256 windowEndsAt);
    error TrancheDidNotImproveHealth(uint256 accountId, uint256 healthBefore, uint256 healthAfter);
    error ExecutionDiverged(uint256 accountId, uint256 marketId);
    error NothingToDeleverage(uint256 marketId, bool bankruptLong);
    error NotAnAdlCandidate(uint256 accountId, uint256 marketId);
    error AdlCandidatesNotRanked(uint256 accountId, uint256 score, uint256 previousScore);
    error AdlCapacityExhausted(uint256 marketId, uint256 windowEndsAt);
    error BatchTooLarge(uint256 size, uint256 max);
    error NotSelf(address caller);

    event ConfigSet(Config config);
    event RewardConfigSet(RewardConfig config);
    event AdlConfigSet(AdlConfig config);
    event AccountFlagged(uint256 indexed accountId, uint256 since);
    /// @notice One call's outcome; `liquidatableSince` is when the reward-escalation clock started.
    /// @notice One position's part of a tranche, with its share of the penalty, the keeper reward
    ///         and the bad debt covered by the fund or socialised.
    event TrancheLiquidated(
        uint256 indexed accountId,
        uint256 indexed marketId,
        address indexed keeper,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 penalty,
        uint256 keeperReward,
        uint256 badDebtCovered,
        uint256 badDebtSocialised
    );
    event LiquidationSettled(
        uint256 indexed accountId,
        address indexed keeper,
        bool backstop,
        uint256 fraction,
        uint256 trancheNotional,
        uint256 healthAfter,
        uint256 liquidatableSince
    );
    event LiquidationSkipped(uint256 indexed accountId, Status status);
    /// @notice An account of a batch whose execution reverted; the rest of the batch went on.
    event LiquidationFailed(uint256 indexed accountId, bytes reason);
    event DeficitQueued(uint256 indexed marketId, bool bankruptLong, uint256 amount);
    event AutoDeleveraged(
        uint256 indexed marketId,
        uint256 indexed accountId,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 recovered
    );

    /// @notice Liquidates one tranche of `accountId`. Permissionless; the caller is the keeper.
    function liquidate(uint256 accountId) external returns (uint256 trancheNotional);

    /// @notice Liquidates one tranche of each account that can be liquidated now; the others are
    ///         skipped with LiquidationSkipped, never reverted.
    function liquidateBatch(uint256[] memory accountIds) external returns (uint256 liquidated);

    /// @notice Exactly what liquidate(accountId) would do now; reverts with the error it would.
    function previewLiquidation(uint256 accountId) external view returns (Plan memory plan);

    /// @notice Starts an account's reward-escalation clock when it is liquidatable but cannot be
    ///         liquidated yet (cooldown, capacity). Permissionless.
    function flag(uint256 accountId) external;

    /// @notice Reduces the given opposite-side positions, most profitable first (pnl * leverage, strictly
    ///         non-increasing in the list), at their break-even price, until the market's queued deficit
    ///         is recovered or the per-window bound is reached. Permissionless.
    function autoDeleverage(
        uint256 marketId,
        bool bankruptLong,
        uint256[] calldata candidates
    ) external returns (uint256 recovered);

    /// @notice Accounts in [firstAccountId, firstAccountId + count) that liquidate() would act on now.
    function liquidatableAccounts(uint256 firstAccountId, uint256 count) external view returns (uint256[] memory);
}
