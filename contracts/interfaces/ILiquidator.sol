// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title ILiquidator
/// @notice Brings accounts below maintenance margin back to health in tranches, at a pace the market
///         can absorb; routes bad debt to the insurance fund, then queues the rest for auto-deleveraging.
///         Served at the engine's address (LiquidationEngine module).
interface ILiquidator {
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
        SnapshotFailed,
        HeldAtMark
    }

    /// @notice Why an account cannot be liquidated now, with what the error reports.
    struct Refusal {
        Status status; // Ok: no refusal
        uint256 readyAt; // CoolingDown: when the cooldown ends
        uint256 marketId; // NoCapacity: the market whose window is full
        uint256 windowEndsAt; // NoCapacity: when that window ends
        bytes reason; // SnapshotFailed: the revert data of the account's snapshot
    }

    error AccountHealthy(uint256 accountId, int256 equity, uint256 maintenanceMargin);
    /// @notice The own-impact mark (IOwnImpactMark) holds the account: the backstop vault declined it and it is
    ///         below maintenance at the oracle but not at the marks, where its equity and maintenance are these.
    error LiquidationHeldAtMark(uint256 accountId, int256 equityAtMark, uint256 maintenanceAtMark);
    error NoPositions(uint256 accountId);
    error TrancheCoolingDown(uint256 accountId, uint256 readyAt);
    error LiquidationCapacityExhausted(uint256 accountId, uint256 marketId, uint256 windowEndsAt);
    error TrancheDidNotImproveHealth(uint256 accountId, uint256 healthBefore, uint256 healthAfter);
    error ExecutionDiverged(uint256 accountId, uint256 marketId);
    error BatchTooLarge(uint256 size, uint256 max);
    error NotSelf(address caller);
    /// @notice `flag` on an account that can be liquidated now: nothing holds it back.
    error NotHeldBack(uint256 accountId);
    /// @notice `clearFlag` on an account still below its maintenance margin.
    error AccountStillLiquidatable(uint256 accountId, int256 equity, uint256 maintenanceMargin);

    event AccountFlagged(uint256 indexed accountId, uint256 since);
    /// @notice One position's part of a tranche: the position's change (a liquidation leg emits no
    ///         PositionModified: this event carries what it would, the fee being 0 and the basis unchanged
    ///         unless `newSize` is 0), the PnL realised into margin (before any ProfitShortfall cut or bad
    ///         debt), its share of the penalty (taken from the margin: the vault emits no PenaltyCharged
    ///         for a tranche; the tranche's penalty is the sum over its legs, taken after its last leg
    ///         settles), of the keeper reward and of the bad debt covered by the fund or socialised.
    event TrancheLiquidated(
        uint256 indexed accountId,
        uint256 indexed marketId,
        address indexed keeper,
        int256 sizeDelta,
        int256 newSize,
        uint256 fillPrice,
        int256 realisedPnl,
        uint256 penalty,
        uint256 keeperReward,
        uint256 badDebtCovered,
        uint256 badDebtSocialised
    );
    /// @notice One call's outcome; `liquidatableSince` is when the reward-escalation clock started.
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

    /// @notice Liquidates one tranche of `accountId`. Permissionless; the caller is the keeper.
    /// @return trancheNotional quote notional closed (WAD)
    function liquidate(uint256 accountId) external returns (uint256 trancheNotional);

    /// @notice Liquidates one tranche of each account that can be liquidated now; the others are
    ///         skipped with LiquidationSkipped, and one whose execution reverts is reported with
    ///         LiquidationFailed, never reverting the batch. At most MAX_BATCH accounts.
    function liquidateBatch(uint256[] memory accountIds) external returns (uint256 liquidated);

    /// @notice One account of a batch: planned and, when it can be liquidated now, executed; otherwise
    ///         the status says why not. Callable only by the contract itself (the batch holds the lock).
    function executeForBatch(uint256 accountId, address keeper) external returns (Status status);

    /// @notice Exactly what liquidate(accountId) would do now; reverts with the error it would.
    function previewLiquidation(uint256 accountId) external view returns (Plan memory plan);
}
