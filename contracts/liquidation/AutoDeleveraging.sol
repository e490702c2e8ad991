// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IAutoDeleveraging} from "../interfaces/IAutoDeleveraging.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds} from "../libraries/Bounds.sol";
import {WAD} from "../libraries/Constants.sol";
import {PerpEngineBase} from "../market/PerpEngineBase.sol";

/// @title AutoDeleveraging
/// @notice Recovers the bad debt the insurance fund could not cover, which the liquidation engine
///         queues per market and side (pendingDeficit), from the most profitable opposite-side
///         positions at their break-even price, bounded per market and window.
/// @dev A module of PerpEngine, reached at the engine's address through its fallback: it reduces
///      positions directly in the engine's storage and settles the shared bad-debt ledger. Its own
///      contract because it is a separate job from liquidating (different callers, inputs, bounds).
contract AutoDeleveraging is IAutoDeleveraging, PerpEngineBase {
    using FixedPoint for uint256;
    using SafeCast for uint256;

    uint256 public constant MIN_ADL_WINDOW = 1;
    uint256 public constant MAX_ADL_WINDOW = 1 days;
    uint256 public constant MAX_CANDIDATES = 100;

    constructor(IVault vault_, IOracleAdapter oracle_) PerpEngineBase(vault_, oracle_) {}

    /// @inheritdoc IAutoDeleveraging
    function setAdlConfig(AdlConfig calldata a) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("adlWindow", a.window, MIN_ADL_WINDOW, MAX_ADL_WINDOW);
        Bounds.check("adlMaxNotional", a.maxNotionalPerWindow, 1, type(uint128).max);
        _adlConfig = a;
        emit AdlConfigSet(a);
    }

    /// @notice IPerpEngine.forceReduce, forwarded by PerpEngine through the liquidation
    ///         modules: the reduction at a given price that auto-deleveraging is built on. Liquidator role only.
    function forceReduce(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 priceWad
    ) external onlyRole(Roles.LIQUIDATOR) nonReentrant returns (int256, uint256, uint256) {
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
    ) external nonReentrant returns (uint256 recovered) {
        uint256 deficit = _pendingDeficit[marketId][bankruptLong];
        if (deficit == 0) revert NothingToDeleverage(marketId, bankruptLong);
        if (candidates.length > MAX_CANDIDATES) revert TooManyCandidates(candidates.length, MAX_CANDIDATES);
        AdlConfig memory ac = _adlConfig;
        ILiquidationConfigurator.Window memory w = _rolled(_adlWindows[marketId], ac.window);
        AdlStep memory st;
        st.marketId = marketId;
        st.bankruptLong = bankruptLong;
        st.previousScore = type(uint256).max;
        for (uint256 i; i < candidates.length && deficit != 0; ++i) {
            st.room = uint256(ac.maxNotionalPerWindow) - w.used;
            st.accountId = candidates[i];
            st.deficit = deficit;
            // The window's bound ends the round: what is done so far stands, the rest waits.
            if (!_deleverageOne(st)) break;
            st.previousScore = st.score;
            deficit -= st.recovered;
            recovered += st.recovered;
            w.used = (uint256(w.used) + st.notional).min(ac.maxNotionalPerWindow).toUint128();
        }
        if (recovered == 0) revert AdlCapacityExhausted(marketId, uint256(w.start) + ac.window);
        _adlWindows[marketId] = w;
        _pendingDeficit[marketId][bankruptLong] = deficit;
        _badDebt.pending -= recovered;
        _badDebt.socialised += recovered;
    }

    /// @dev One auto-deleveraging step: inputs and results, in memory to keep the stack shallow.
    struct AdlStep {
        uint256 accountId;
        uint256 marketId;
        bool bankruptLong;
        uint256 deficit;
        uint256 room;
        uint256 previousScore;
        uint256 recovered;
        uint256 notional;
        uint256 score;
    }

    /// @dev Closes the part of one candidate's position whose profit equals the remaining deficit (or all
    ///      of it), at its break-even price, so that part realises nothing and the LP pool keeps the
    ///      profit it would have paid: that is what recovers the deficit. Never takes a candidate's
    ///      principal. Candidates must be given by non-increasing pnl * leverage.
    /// @return done false when the window has no room for any of this candidate's size
    function _deleverageOne(AdlStep memory st) internal returns (bool done) {
        (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) = _snapshot(st.accountId);
        IPerpEngine.PositionSnapshot memory p = _find(ps, st.marketId);
        // the other side of the bankrupt positions, in profit, on an account with positive equity
        if (p.size == 0 || (p.size > 0) == st.bankruptLong || p.value <= 0 || s.equity <= 0) {
            revert NotAnAdlCandidate(st.accountId, st.marketId);
        }
        st.score = uint256(p.value).mulDivDown(s.notional, uint256(s.equity));
        if (st.score > st.previousScore) revert AdlCandidatesNotRanked(st.accountId, st.score, st.previousScore);
        (int256 closed, uint256 fill, int256 valueAtIndex) = _adlClose(p, st.deficit, st.room);
        if (closed == 0) return false;
        (int256 realised, , ) = _reduce(st.accountId, st.marketId, -closed, fill);
        int256 gained = valueAtIndex - realised;
        st.recovered = gained <= 0 ? 0 : uint256(gained).min(st.deficit);
        st.notional = PerpMath.notional(closed, p.price);
        emit AutoDeleveraged(st.marketId, st.accountId, -closed, fill, st.recovered);
        return true;
    }

    /// @dev How much of a candidate's position to close (the part whose profit covers the deficit,
    ///      within the window's room), at what price (its break-even), and its value at the index.
    function _adlClose(
        IPerpEngine.PositionSnapshot memory p,
        uint256 deficit,
        uint256 room
    ) internal pure returns (int256 closed, uint256 fill, int256 valueAtIndex) {
        uint256 absSize = FixedPoint.abs(p.size);
        uint256 closeAbs = uint256(p.value) <= deficit ? absSize : absSize.mulDivUp(deficit, uint256(p.value));
        closeAbs = closeAbs.min(room.mulDivDown(WAD, p.price));
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
