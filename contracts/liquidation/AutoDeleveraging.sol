// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";

import {IAutoDeleveraging} from "../interfaces/IAutoDeleveraging.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IBackstopTypes, IBackstopFlow} from "../interfaces/IBackstop.sol";
import {IBackstopVault} from "../interfaces/IBackstopVault.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {ForcedFlow} from "../libraries/ForcedFlow.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds} from "../libraries/Bounds.sol";
import {WAD} from "../libraries/Constants.sol";
import {VolatilityMath} from "../libraries/VolatilityMath.sol";
import {PerpEngineBase} from "../market/PerpEngineBase.sol";

/// @title AutoDeleveraging
/// @notice Recovers the bad debt the insurance fund could not cover, which the liquidation engine
///         queues per market and side (pendingDeficit), from the most profitable opposite-side
///         positions at their break-even price, bounded per market and window.
/// @dev A module of PerpEngine, reached at the engine's address through its fallback: it reduces
///      positions directly in the engine's storage and settles the shared bad-debt ledger. Its own
///      contract because it is a separate job from liquidating (different callers, inputs, bounds).
contract AutoDeleveraging is IAutoDeleveraging, IBackstopFlow, PerpEngineBase {
    using FixedPoint for uint256;
    using SafeCast for uint256;

    uint256 public constant MIN_ADL_WINDOW = 1;
    uint256 public constant MAX_ADL_WINDOW = 1 days;
    uint256 public constant MAX_CANDIDATES = 100;
    /// @inheritdoc IAutoDeleveraging
    uint256 public constant MAX_FORCE_REDUCE_DEVIATION = 0.01e18;
    /// @dev Wei of equity left above maintenance when a candidate's cut is capped: covers the rounding
    ///      of the value and margin figures the cap is computed from, in the candidate's favour.
    uint256 internal constant FLOOR_SLACK = 16;

    /// @notice The module that serves what this one does not (the own-impact mark, last in the chain).
    address public immutable next;

    constructor(IVault vault_, IOracleAdapter oracle_, address next_) PerpEngineBase(vault_, oracle_) {
        if (next_.code.length == 0) revert IPerpEngine.ZeroAddress();
        next = next_;
    }

    /// @dev The own-impact mark lives in the next module, on the same storage.
    fallback() external {
        _delegate(next);
    }

    /// @inheritdoc IAutoDeleveraging
    function setAdlConfig(AdlConfig calldata a) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("adlWindow", a.window, MIN_ADL_WINDOW, MAX_ADL_WINDOW);
        Bounds.check("adlMaxNotional", a.maxNotionalPerWindow, 1, type(uint128).max);
        _adlConfig = a;
        emit AdlConfigSet(a);
    }

    /// @inheritdoc IBackstopFlow
    function forcedFlow(uint256 marketId) external view returns (uint256) {
        return ForcedFlow.decayed(_forcedFlow[marketId], _backstopConfig.flowHalfLife);
    }

    /// @notice IPerpEngine.forceReduce, forwarded by PerpEngine through the liquidation modules.
    ///         Liquidator role only; a non-zero price must lie within MAX_FORCE_REDUCE_DEVIATION of the
    ///         oracle index (ForceReducePriceOutOfBand), so the role cannot move value at a made-up price.
    function forceReduce(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 priceWad
    ) external onlyRole(Roles.LIQUIDATOR) nonReentrant returns (int256, uint256, uint256) {
        if (priceWad != 0) {
            (uint256 index, ) = _priceOf(_listedConfig(marketId).feedId);
            uint256 band = index.mulWadDown(MAX_FORCE_REDUCE_DEVIATION);
            if (priceWad + band < index || priceWad > index + band) {
                revert ForceReducePriceOutOfBand(priceWad, index, MAX_FORCE_REDUCE_DEVIATION);
            }
        }
        return _reduce(accountId, marketId, sizeDelta, priceWad);
    }

    /// @inheritdoc IAutoDeleveraging
    function adlConfig() external view returns (uint32 window, uint128 maxNotionalPerWindow) {
        AdlConfig memory a = _adlConfig;
        return (a.window, a.maxNotionalPerWindow);
    }

    /// @inheritdoc IAutoDeleveraging
    function adlWindow(uint256 marketId) external view returns (uint40 start, uint128 used) {
        ILiquidationConfigurator.Window memory w = _adlWindows[marketId];
        return (w.start, w.used);
    }

    /// @inheritdoc IAutoDeleveraging
    function autoDeleverage(
        uint256 marketId,
        bool bankruptLong,
        uint256[] calldata candidates
    ) external onlyRole(Roles.ADL_KEEPER) nonReentrant returns (uint256 recovered) {
        uint256 deficit = _pendingDeficit[marketId][bankruptLong];
        if (deficit == 0) revert NothingToDeleverage(marketId, bankruptLong);
        if (candidates.length > MAX_CANDIDATES) revert TooManyCandidates(candidates.length, MAX_CANDIDATES);
        AdlConfig memory ac = _adlConfig;
        ILiquidationConfigurator.Window memory w = _rolled(_adlWindows[marketId], ac.window);
        AdlStep memory st;
        bool full;
        st.marketId = marketId;
        st.bankruptLong = bankruptLong;
        st.previousScore = type(uint256).max;
        for (uint256 i; i < candidates.length && deficit != 0; ++i) {
            st.room = uint256(ac.maxNotionalPerWindow) - w.used;
            st.accountId = candidates[i];
            st.deficit = deficit;
            st.recovered = 0;
            st.notional = 0;
            // The window's bound ends the round: what is done so far stands, the rest waits.
            if (!_deleverageOne(st)) {
                full = true;
                break;
            }
            st.previousScore = st.score;
            st.previousId = st.accountId;
            deficit -= st.recovered;
            recovered += st.recovered;
            w.used = (uint256(w.used) + st.notional).min(ac.maxNotionalPerWindow).toUint128();
        }
        if (recovered == 0) {
            if (full) revert AdlCapacityExhausted(marketId, uint256(w.start) + ac.window);
            revert NoAdlCandidateAboveMaintenance(marketId, bankruptLong);
        }
        _adlWindows[marketId] = w;
        _pendingDeficit[marketId][bankruptLong] = deficit;
        _badDebt.pending -= recovered;
        _badDebt.socialised += recovered;
    }

    /// @inheritdoc IAutoDeleveraging
    function deleverageBackstop(
        uint256 marketId,
        uint256[] calldata candidates
    ) external onlyRole(Roles.ADL_KEEPER) nonReentrant returns (uint256 closed) {
        IBackstopTypes.BackstopState memory b = _backstop;
        int256 size = _positions[b.accountId][marketId].size;
        AdlStep memory st;
        st.marketId = marketId;
        st.bankruptLong = size > 0;
        (uint256 excess, uint256 sharePrice, uint256 triggerPrice) = _backstopExcess(b, marketId, size);
        if (size == 0) revert NothingToDeleverage(marketId, st.bankruptLong);
        if (excess == 0) {
            uint256 deficit = _pendingDeficit[marketId][st.bankruptLong];
            if (deficit != 0) revert BackstopYieldsToDeficit(marketId, st.bankruptLong, deficit);
            revert BackstopAboveTrigger(sharePrice, triggerPrice);
        }
        int256 left = size > 0 ? int256(excess) : -int256(excess);
        if (candidates.length > MAX_CANDIDATES) revert TooManyCandidates(candidates.length, MAX_CANDIDATES);
        st.previousScore = type(uint256).max;
        for (uint256 i; i < candidates.length && left != 0; ++i) {
            st.accountId = candidates[i];
            left -= _againstVault(st, b.accountId, left);
            st.previousScore = st.score;
            st.previousId = st.accountId;
            closed += st.notional;
        }
        if (closed == 0) revert NoAdlCandidateAboveMaintenance(marketId, st.bankruptLong);
    }

    /// @inheritdoc IAutoDeleveraging
    function backBackstop(uint256 marketId, uint256 drawdown) external returns (uint256 paid) {
        if (msg.sender != address(this)) revert IBackstopTypes.NotSelf(msg.sender);
        // a vault with nothing left at the conservative mark: no share price to restore (and the unwind never reverts)
        if (drawdown >= WAD) return 0;
        IBackstopTypes.BackstopState memory b = _backstop;
        // the share price is the vault's marked assets over its supply: assets x (d - maxDrawdown) / (1 - d)
        // more puts it at the edge; a millionth more, just above it (rounded up: the vault's favour)
        uint256 need = (IBackstopVault(b.vault).totalAssets() * SCALE).mulDivUp(
            drawdown - _backstopConfig.maxDrawdown + 1e12,
            WAD - drawdown
        );
        paid = IInsuranceFund(vault.insuranceFund()).backVault(need);
        if (paid == 0) return 0;
        // the fund paid the tokens into the LP pool; the pool credits them to the vault's account
        vault.settle(b.accountId, int256(paid), 0);
        emit IBackstopTypes.BackstopBacked(marketId, need, paid);
    }

    /// @inheritdoc IAutoDeleveraging
    function backstopBadDebt(uint256 accountId, uint256 shortfall, uint256 covered) external {
        if (msg.sender != address(this)) revert IBackstopTypes.NotSelf(msg.sender);
        IBackstopTypes.BackstopState memory b = _backstop;
        uint256 rest = shortfall - covered;
        (, uint256 unpaid, ) = vault.settle(b.accountId, -int256(rest), 0);
        IBackstopTypes.BackstopConfig memory c = _backstopConfig;
        if (unpaid != 0 || _lossDrawdown(b, c) >= c.badDebtDrawdown) {
            revert IBackstopTypes.TakeoverUncovered(shortfall, covered);
        }
        emit IBackstopTypes.BackstopBadDebtPaid(accountId, rest);
    }

    /// @inheritdoc IAutoDeleveraging
    function backstopLoss(uint256 marketId, bool vaultLong, uint256 shortfall) external {
        if (msg.sender != address(this)) revert IBackstopTypes.NotSelf(msg.sender);
        emit IBackstopTypes.BackstopLoss(marketId, shortfall, _coverVaultLoss(marketId, vaultLong, shortfall));
    }

    /// @inheritdoc IAutoDeleveraging
    function backstopExcess(uint256 marketId) external view returns (uint256 excess) {
        IBackstopTypes.BackstopState memory b = _backstop;
        (excess, , ) = _backstopExcess(b, marketId, _positions[b.accountId][marketId].size);
    }

    /// @dev What deleverageBackstop may close of the vault's inventory `size` in a market (absolute size):
    ///      all of it at or past the trigger (the breaker's peak share price less adlDrawdown); above it, what
    ///      exceeds the carry: the size whose loss over a stress move (_stressMove) the loss budget left (the
    ///      conservative equity above the edge, the peak less maxDrawdown) can pay. Rounded down (the carry
    ///      down, so the excess up: the vault's favour).
    function _backstopExcess(
        IBackstopTypes.BackstopState memory b,
        uint256 marketId,
        int256 size
    ) internal view returns (uint256 excess, uint256 sharePrice, uint256 triggerPrice) {
        // the fields one at a time: past the trigger (the common call) reads only adlDrawdown's slot
        uint256 trigger = _backstopConfig.adlDrawdown;
        if (b.vault == address(0) || trigger == 0) revert BackstopDeleverageOff();
        sharePrice = IBackstopVault(b.vault).sharePrice();
        triggerPrice = uint256(b.peakSharePrice).mulWadDown(WAD - trigger);
        excess = FixedPoint.abs(size);
        if (excess == 0 || sharePrice <= triggerPrice) return (excess, sharePrice, triggerPrice);
        // above the trigger the vault yields to a deficit pending on its side: the opposite side's profits
        // recover that bad debt first (autoDeleverage), and the carry's excess must not use them up
        if (_pendingDeficit[marketId][size > 0] != 0) return (0, sharePrice, triggerPrice);
        uint256 budgetLeft = _lossBudgetLeft(b, _backstopConfig.maxDrawdown, sharePrice);
        if (budgetLeft == 0) return (excess, sharePrice, triggerPrice);
        bytes32 feedId = _listedConfig(marketId).feedId;
        (uint256 price, uint256 sigma) = _priceOf(feedId);
        uint256 carry = budgetLeft.mulDivDown(WAD, _stressMove(feedId, sigma, _backstopConfig.maxHold)).mulDivDown(
            WAD,
            price
        );
        excess -= excess.min(carry);
    }

    /// @dev The vault's loss budget left (WAD of the asset): its equity at the conservative mark times the
    ///      share of its share price above the edge (the breaker's peak less maxDrawdown); 0 at or past it.
    function _lossBudgetLeft(
        IBackstopTypes.BackstopState memory b,
        uint256 maxDrawdown,
        uint256 sharePrice
    ) internal view returns (uint256) {
        uint256 edge = uint256(b.peakSharePrice).mulWadUp(WAD - maxDrawdown);
        (int256 equity, uint256 notional) = IBackstopVault(b.vault).book();
        int256 marked = equity - int256(notional.mulWadUp(IBackstopVault(b.vault).markHaircut()));
        if (marked <= 0 || sharePrice <= edge) return 0;
        return uint256(marked).mulDivDown(sharePrice - edge, sharePrice);
    }

    /// @dev The stress move the vault's inventory must be carried through (WAD fraction of the price): over
    ///      its holding horizon (`horizon`, maxHold), the larger of the oracle's volatility estimate and the
    ///      move of its last round over the round before, each scaled to the horizon by the square root of
    ///      time. The last round's move is what a running crash shows at once; the estimate lags it.
    function _stressMove(bytes32 feedId, uint256 sigma, uint256 horizon) internal view returns (uint256 move) {
        move = sigma.mulWadUp(FixedPointMathLib.sqrtWad((horizon * WAD) / VolatilityMath.SECONDS_PER_YEAR) + 1);
        (uint80 id, , , , ) = AggregatorV3Interface(oracle.feedConfig(feedId).aggregator).latestRoundData();
        if (id == 0) return move.max(1);
        try oracle.roundPrice(feedId, id) returns (uint256 p1, uint256 t1, uint256) {
            try oracle.roundPrice(feedId, id - 1) returns (uint256 p0, uint256 t0, uint256) {
                if (t1 > t0) {
                    uint256 r = (p1 > p0 ? p1 - p0 : p0 - p1).mulDivUp(WAD, p0);
                    move = move.max(r.mulWadUp(FixedPointMathLib.sqrtWad((horizon * WAD) / (t1 - t0)) + 1));
                }
            } catch {}
        } catch {}
        move = move.max(1);
    }

    /// @dev One candidate of deleverageBackstop: its position closed against the vault's inventory (`left`)
    ///      as far as either goes, both at the index; `delta` the candidate's reduction (the sign of the
    ///      vault's inventory, the candidate's side being opposite), its notional in `st.notional`.
    function _againstVault(AdlStep memory st, uint256 vaultId, int256 left) internal returns (int256 delta) {
        (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot memory p) = _candidate(st);
        st.notional = 0;
        if (s.equity <= int256(s.maintenanceMargin)) {
            emit AdlCandidateSkipped(st.marketId, st.accountId, st.score);
            return 0;
        }
        uint256 abs = FixedPoint.abs(p.size).min(FixedPoint.abs(left));
        delta = left > 0 ? int256(abs) : -int256(abs);
        _reduce(st.accountId, st.marketId, delta, 0);
        (, uint256 shortfall, ) = _reduce(vaultId, st.marketId, -delta, 0);
        if (shortfall != 0) _coverVaultLoss(st.marketId, st.bankruptLong, shortfall);
        st.notional = PerpMath.notional(delta, p.price);
        emit BackstopDeleveraged(st.marketId, st.accountId, delta, p.price, st.score);
    }

    /// @dev The vault's realised loss beyond its margin: bad debt like any other, covered by the insurance
    ///      fund as far as it goes, the rest queued for auto-deleveraging.
    function _coverVaultLoss(uint256 marketId, bool vaultLong, uint256 shortfall) internal returns (uint256 covered) {
        covered = IInsuranceFund(vault.insuranceFund()).cover(shortfall);
        _badDebt.incurred += shortfall;
        _badDebt.covered += covered;
        uint256 rest = shortfall - covered;
        _pendingDeficit[marketId][vaultLong] += rest;
        _badDebt.pending += rest;
    }

    /// @dev One auto-deleveraging step: inputs and results, in memory to keep the stack shallow.
    struct AdlStep {
        uint256 accountId;
        uint256 marketId;
        bool bankruptLong;
        uint256 deficit;
        uint256 room;
        uint256 previousScore;
        uint256 previousId;
        uint256 recovered;
        uint256 notional;
        uint256 score;
    }

    /// @dev Closes the part of one candidate's position whose profit equals the remaining deficit (or all
    ///      of it), at its break-even price, so that part realises nothing and the LP pool keeps the
    ///      profit it would have paid: that is what recovers the deficit. The part is capped so that the
    ///      account's equity stays at or above its maintenance margin (checked after the reduction);
    ///      an account already at or below it is skipped. Candidates must be strictly ranked: score
    ///      (pnl * leverage) descending, equal scores by ascending id.
    /// @return done false when the window has no room for any of this candidate's size
    function _deleverageOne(AdlStep memory st) internal returns (bool done) {
        (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot memory p) = _candidate(st);
        uint256 maxAbs = _floorCap(s, p);
        if (maxAbs == 0) {
            emit AdlCandidateSkipped(st.marketId, st.accountId, st.score);
            return true;
        }
        return _take(st, p, maxAbs);
    }

    /// @dev A candidate's account and position, checked: the other side of the bankrupt (or the vault's)
    ///      positions, in profit, on an account with positive equity, ranked after the previous one (its
    ///      score set in `st`).
    function _candidate(
        AdlStep memory st
    ) internal view returns (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot memory p) {
        IPerpEngine.PositionSnapshot[] memory ps;
        (s, ps) = _snapshot(st.accountId);
        p = _find(ps, st.marketId);
        if (p.size == 0 || (p.size > 0) == st.bankruptLong || p.value <= 0 || s.equity <= 0) {
            revert NotAnAdlCandidate(st.accountId, st.marketId);
        }
        st.score = uint256(p.value).mulDivDown(s.notional, uint256(s.equity));
        if (
            st.score > st.previousScore ||
            (st.score == st.previousScore && st.previousScore != type(uint256).max && st.accountId <= st.previousId)
        ) revert AdlCandidatesNotRanked(st.accountId, st.score, st.previousScore);
    }

    /// @dev Reduces the candidate by the part _adlClose sizes, checks the maintenance floor after it.
    function _take(
        AdlStep memory st,
        IPerpEngine.PositionSnapshot memory p,
        uint256 maxAbs
    ) internal returns (bool done) {
        (int256 closed, uint256 fill, int256 valueAtIndex) = _adlClose(p, st.deficit, st.room, maxAbs);
        if (closed == 0) return false;
        (int256 realised, , ) = _reduce(st.accountId, st.marketId, -closed, fill);
        (IPerpEngine.AccountSummary memory s, ) = _snapshot(st.accountId);
        if (s.equity < int256(s.maintenanceMargin)) {
            revert AdlBreachesMaintenance(st.accountId, s.equity, s.maintenanceMargin);
        }
        int256 gained = valueAtIndex - realised;
        st.recovered = gained <= 0 ? 0 : uint256(gained).min(st.deficit);
        st.notional = PerpMath.notional(closed, p.price);
        emit AutoDeleveraged(st.marketId, st.accountId, -closed, fill, st.recovered, st.score);
        return true;
    }

    /// @dev The largest size of `p` whose close at break-even leaves the account at or above maintenance.
    ///      Closing c of size a takes about c/a of the position's value from equity and, the maintenance
    ///      ratio never rising as a position shrinks, lowers its maintenance by at least c/a of the
    ///      position's: c * (value - mm) / a <= equity - maintenance. 0 when there is no headroom.
    function _floorCap(
        IPerpEngine.AccountSummary memory s,
        IPerpEngine.PositionSnapshot memory p
    ) internal pure returns (uint256) {
        int256 headroom = s.equity - int256(s.maintenanceMargin) - int256(FLOOR_SLACK);
        if (headroom <= 0) return 0;
        uint256 absSize = FixedPoint.abs(p.size);
        if (uint256(p.value) <= p.maintenanceMargin) return absSize;
        return absSize.mulDivDown(uint256(headroom), uint256(p.value) - p.maintenanceMargin).min(absSize);
    }

    /// @dev How much of a candidate's position to close (the part whose profit covers the deficit,
    ///      within the window's room and the maintenance cap), at what price (its break-even), and its
    ///      value at the index.
    function _adlClose(
        IPerpEngine.PositionSnapshot memory p,
        uint256 deficit,
        uint256 room,
        uint256 maxAbs
    ) internal pure returns (int256 closed, uint256 fill, int256 valueAtIndex) {
        uint256 absSize = FixedPoint.abs(p.size);
        uint256 closeAbs = uint256(p.value) <= deficit ? absSize : absSize.mulDivUp(deficit, uint256(p.value));
        closeAbs = closeAbs.min(maxAbs).min(room.mulDivDown(WAD, p.price));
        if (closeAbs == 0) return (0, 0, 0);
        closed = p.size > 0 ? int256(closeAbs) : -int256(closeAbs);
        valueAtIndex = PerpMath.positionValue(closed, p.basis, p.price, p.fundingIndex);
        int256 breakEven = p.basis + p.fundingIndex;
        fill = breakEven > 0 ? uint256(breakEven) : 1;
    }

    function _rolled(
        ILiquidationConfigurator.Window memory w,
        uint256 length
    ) internal view returns (ILiquidationConfigurator.Window memory) {
        if (block.timestamp >= uint256(w.start) + length)
            return ILiquidationConfigurator.Window(uint40(block.timestamp), 0);
        return w;
    }

    function _find(
        IPerpEngine.PositionSnapshot[] memory ps,
        uint256 marketId
    ) internal pure returns (IPerpEngine.PositionSnapshot memory p) {
        for (uint256 i; i < ps.length; ++i) {
            if (ps[i].marketId == marketId) return ps[i];
        }
    }
}
