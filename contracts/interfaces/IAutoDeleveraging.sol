// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

/// @title IAutoDeleveraging
/// @notice Recovers the bad debt the insurance fund could not cover (queued per market and side by the
///         liquidation engine) by reducing the most profitable opposite-side positions at their
///         break-even price, bounded per market and window. Reached at the engine's address.
/// @dev Who is reduced is not the caller's choice: only the ADL_KEEPER role calls, its list must be
///      ranked by the score the engine computes itself, and every reduction emits that score, so the
///      ranking can be audited against the chain. No candidate is taken below its maintenance margin.
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
    /// @notice Every candidate given was at or below its maintenance margin: nothing could be taken.
    error NoAdlCandidateAboveMaintenance(uint256 marketId, bool bankruptLong);
    /// @notice A reduction would have left the account below its maintenance margin (never expected:
    ///         the size closed is capped so that it stays at or above it).
    error AdlBreachesMaintenance(uint256 accountId, int256 equity, uint256 maintenanceMargin);
    /// @notice forceReduce was given a price farther than MAX_FORCE_REDUCE_DEVIATION from the index.
    error ForceReducePriceOutOfBand(uint256 priceWad, uint256 indexPrice, uint256 maxDeviationWad);

    /// @notice deleverageBackstop without a backstop vault or with its trigger (adlDrawdown) off.
    error BackstopDeleverageOff();
    /// @notice deleverageBackstop while the vault's share price is above its trigger price (the drawdown
    ///         breaker's peak less adlDrawdown) and its inventory within what its loss budget left carries
    ///         (backstopExcess is 0).
    error BackstopAboveTrigger(uint256 sharePrice, uint256 triggerPrice);
    /// @notice deleverageBackstop above the vault's trigger while bad debt of the vault's side is pending in
    ///         the market (`deficit`, WAD): autoDeleverage recovers it from the opposite side's profits first.
    error BackstopYieldsToDeficit(uint256 marketId, bool bankruptLong, uint256 deficit);

    event AdlConfigSet(AdlConfig config);
    /// @notice The backstop vault's inventory closed against one candidate's opposite position at the
    ///         oracle price: `sizeDelta` is the candidate's (the vault's is its negation), `score` its rank.
    event BackstopDeleveraged(
        uint256 indexed marketId,
        uint256 indexed accountId,
        int256 sizeDelta,
        uint256 price,
        uint256 score
    );
    /// @notice One candidate reduced: the size closed, at its break-even price, the deficit recovered,
    ///         and the candidate's ranking score when it was reduced (pnl * leverage, see autoDeleverage).
    event AutoDeleveraged(
        uint256 indexed marketId,
        uint256 indexed accountId,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 recovered,
        uint256 score
    );
    /// @notice A ranked candidate left untouched: at or below its maintenance margin, so ADL may take
    ///         nothing from it.
    event AdlCandidateSkipped(uint256 indexed marketId, uint256 indexed accountId, uint256 score);

    /// @notice Reduces the given opposite-side positions at their break-even price, until the market's
    ///         queued deficit is recovered or the per-window bound is reached. ADL_KEEPER role only.
    ///         The list must be ranked by score = position value * account notional / account equity
    ///         (pnl * leverage, computed by the engine), strictly descending, equal scores by ascending
    ///         account id; else AdlCandidatesNotRanked and nothing changes. Each candidate is reduced at
    ///         most so far that its equity stays at or above its maintenance margin; a candidate already
    ///         at or below it is skipped (AdlCandidateSkipped).
    /// @return recovered deficit recovered (WAD)
    function autoDeleverage(
        uint256 marketId,
        bool bankruptLong,
        uint256[] calldata candidates
    ) external returns (uint256 recovered);

    /// @notice Closes the backstop vault's inventory in `marketId` against the given opposite positions in
    ///         profit, both at the oracle index price, with no sale into the market (open interest falls on
    ///         both sides, skew does not move). How much: all of it once the vault's share price is
    ///         `adlDrawdown` or more below the drawdown breaker's peak; above that, the part beyond what the
    ///         vault's loss budget left can carry through a stress move (backstopExcess), so that a running
    ///         crash passes the inventory on before its next step takes the vault to the edge of its budget.
    ///         BackstopAboveTrigger when there is no such part (BackstopYieldsToDeficit when a deficit of
    ///         the vault's side is pending). ADL_KEEPER role only. The same candidates and
    ///         ranking as autoDeleverage (score = position value * account notional / account equity,
    ///         strictly descending, equal scores by ascending id; accounts at or below maintenance are
    ///         skipped); each is closed as far as what may be closed goes, realising its profit at the index
    ///         (its equity does not change). Not bounded by the ADL window: no loss is passed on. A loss the
    ///         vault's margin cannot pay is bad debt: the insurance fund covers it, the rest is queued for
    ///         autoDeleverage.
    /// @return closed the notional closed (WAD)
    function deleverageBackstop(uint256 marketId, uint256[] calldata candidates) external returns (uint256 closed);

    /// @notice Past the backstop vault's loss budget (its drawdown `drawdown` >= maxDrawdown, deleveraging on):
    ///         asks the insurance fund (IInsuranceFund.backVault, within its vaultShare) for what puts the
    ///         vault's conservative share price just above the edge (the breaker's peak less maxDrawdown), and
    ///         credits what it paid to the vault's account (BackstopBacked). The unwind's self-call only
    ///         (NotSelf): what deleveraging cannot take is then unwound at its paced rate, not sold at once.
    /// @return paid what the fund paid (WAD; 0: nothing, the edge as before)
    function backBackstop(uint256 marketId, uint256 drawdown) external returns (uint256 paid);

    /// @notice The bad debt of a takeover the insurance fund could not cover (`shortfall` less `covered`, WAD),
    ///         paid by the backstop vault's account: the vault is the layer of loss capital after the fund, before
    ///         the profitable opposite side. Only while its conservative share price stays less than
    ///         `badDebtDrawdown` below the drawdown breaker's peak (0: it pays none): the budget past that carries
    ///         its inventory, and spent on bad debt it would bring on the edge's sale. Reverts TakeoverUncovered (the
    ///         takeover reverts with it, and the account goes to the backstop close, which queues the rest for
    ///         auto-deleveraging) where the vault's margin cannot pay it or its conservative share price ends that
    ///         far below the breaker's peak; else BackstopBadDebtPaid. The takeover's self-call only (NotSelf).
    function backstopBadDebt(uint256 accountId, uint256 shortfall, uint256 covered) external;

    /// @notice A loss of the backstop vault's inventory beyond its whole margin (`shortfall`, WAD), realised by an
    ///         unwind: the insurance fund covers what it can, the rest is queued for auto-deleveraging like any
    ///         other bad debt (BackstopLoss). The unwind's self-call only (NotSelf).
    function backstopLoss(uint256 marketId, bool vaultLong, uint256 shortfall) external;

    /// @notice What deleverageBackstop may close now of the vault's inventory in `marketId` (absolute size,
    ///         WAD): all of it at or past the trigger (the breaker's peak share price less adlDrawdown);
    ///         above it, the size beyond the carry, the loss budget left (the vault's equity at the
    ///         conservative mark above the edge, the peak share price less maxDrawdown) over the stress move
    ///         (WAD of the price) times the price. The stress move is over the vault's holding horizon
    ///         (maxHold): the larger of the oracle's volatility estimate and its last round's move over the
    ///         round before, each scaled by the square root of the horizon over its time. Above the
    ///         trigger it is 0 while bad debt of the vault's side is pending in the market (pendingDeficit):
    ///         the opposite side's profits recover that first. 0: nothing to close. BackstopDeleverageOff
    ///         without a vault or with adlDrawdown 0.
    function backstopExcess(uint256 marketId) external view returns (uint256 excess);

    /// @notice Sets the per-market bound. Governor; window and notional within their bounds.
    function setAdlConfig(AdlConfig calldata a) external;

    /// @notice The per-market bound.
    function adlConfig() external view returns (uint32 window, uint128 maxNotionalPerWindow);

    /// @notice How far (WAD fraction of the index) a non-zero price given to IPerpEngine.forceReduce
    ///         may lie from the oracle index.
    function MAX_FORCE_REDUCE_DEVIATION() external view returns (uint256);

    /// @notice A market's auto-deleveraging window as stored.
    function adlWindow(uint256 marketId) external view returns (uint40 start, uint128 used);
}
