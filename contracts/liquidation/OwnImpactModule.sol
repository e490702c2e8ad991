// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {LibBit} from "solady/utils/LibBit.sol";

import {IOwnImpactMark} from "../interfaces/IOwnImpactMark.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {IBackstopTypes, IBackstopRoom} from "../interfaces/IBackstop.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {ForcedFlow} from "../libraries/ForcedFlow.sol";
import {Roles} from "../libraries/Roles.sol";
import {LiquidationParams} from "../libraries/LiquidationParams.sol";
import {WAD} from "../libraries/Constants.sol";
import {PerpEngineBase} from "../market/PerpEngineBase.sol";

/// @title OwnImpactModule
/// @notice The own-impact liquidation mark (IOwnImpactMark): the signed measure of the protocol's own forced
///         trades per market, the mark it gives, and the check the liquidation engine makes of an account the
///         backstop vault declined, before its tranche or backstop close. It also serves the unwind's
///         `unwindRoom` view (IBackstopRoom), moved here from BackstopModule for room.
/// @dev A module of PerpEngine, the last in the fall-through order (after auto-deleveraging: with the mark off no
///      other call pays its hop). The liquidation engine reaches `ownImpactCheck` through a self-call; the check
///      values the account with the engine's own summary (PerpEngineBase._summary) over the call's price cache
///      holding the marks, then puts the oracle prices back. The unwind's sales are added to the measure by
///      BackstopModule (_sell), the legs here, both through PerpEngineBase._addOwnFlow.
contract OwnImpactModule is IOwnImpactMark, IBackstopRoom, PerpEngineBase {
    using FixedPoint for uint256;

    /// @notice The largest |estimate| whatever the backstop's parameters (WAD): keeps `1 + estimate` positive.
    ///         At the defaults the cap `impactBudget x lateMultiplier` (0.6%) is far below it.
    uint256 public constant MAX_MARK_SHIFT = 0.5e18;

    constructor(IVault vault_, IOracleAdapter oracle_) PerpEngineBase(vault_, oracle_) {}

    /// @inheritdoc IOwnImpactMark
    function setOwnImpactMark(bool on) external onlyRole(Roles.GOVERNOR) {
        _liqConfigWord =
            on
                ? _liqConfigWord | LiquidationParams.OWN_IMPACT_MARK
                : _liqConfigWord & ~LiquidationParams.OWN_IMPACT_MARK;
        emit OwnImpactMarkSet(on);
    }

    /// @inheritdoc IOwnImpactMark
    function ownImpactMarkOn() external view returns (bool) {
        return _liqConfigWord & LiquidationParams.OWN_IMPACT_MARK != 0;
    }

    /// @inheritdoc IOwnImpactMark
    function ownFlow(uint256 marketId) external view returns (int256) {
        return _ownFlowNow(marketId, _backstopConfig.flowHalfLife);
    }

    /// @inheritdoc IOwnImpactMark
    function ownImpactMark(uint256 marketId) external view returns (uint256 mark, uint256 price) {
        IBackstopTypes.BackstopConfig memory c = _backstopConfig;
        IPerpEngine.MarketConfig storage cfg = _listedConfig(marketId);
        (price, ) = _priceOf(cfg.feedId);
        mark = _mark(price, cfg.skewScale, _ownFlowNow(marketId, c.flowHalfLife), _cap(c));
    }

    /// @inheritdoc IBackstopRoom
    function unwindRoom(
        uint256 marketId
    ) external view returns (uint256 sellable, uint256 usedWad, uint256 budgetWad, bool late) {
        IBackstopTypes.BackstopState memory b = _backstop;
        if (b.vault == address(0)) return (0, 0, 0, false);
        int256 size = _positions[b.accountId][marketId].size;
        if (size == 0) return (0, 0, 0, false);
        uint256 closeAbs;
        (closeAbs, usedWad, budgetWad, late) = _room(marketId, size, _lossDrawdown(b, _backstopConfig));
        (uint256 price, ) = _priceOf(_configs[marketId].feedId);
        sellable = closeAbs.mulWadDown(price);
    }

    /// @inheritdoc IOwnImpactMark
    function ownImpactCheck(uint256 accountId, int256 equity, uint256[] calldata legs) external {
        if (msg.sender != address(this)) revert ILiquidator.NotSelf(msg.sender);
        // The three fields the mark reads share one slot of the backstop config: read alone, not the whole struct.
        IBackstopTypes.BackstopConfig memory c;
        (c.impactBudget, c.flowHalfLife, c.lateMultiplier) = (
            _backstopConfig.impactBudget,
            _backstopConfig.flowHalfLife,
            _backstopConfig.lateMultiplier
        );
        // Never an account at or below zero equity at the oracle, whatever the parameters.
        if (equity > 0) _holdAtMark(accountId, c);
        for (uint256 i; i + 1 < legs.length; i += 2) _addOwnFlow(legs[i], int256(legs[i + 1]), c.flowHalfLife);
    }

    /// @dev Reverts with LiquidationHeldAtMark when the account is not below maintenance with every market priced
    ///      at its mark. No hold when a market of the account has no price in the call's cache (a stale leg: the
    ///      mark never holds what it cannot value) or when no mark moves. The cache's prices are put back.
    function _holdAtMark(uint256 accountId, IBackstopTypes.BackstopConfig memory c) internal {
        uint256 cap = _cap(c);
        if (cap == 0) return;
        uint96 markets = _accounts[accountId].markets;
        uint256 n = LibBit.popCount(markets);
        bytes32[] memory feeds = new bytes32[](n);
        uint256[] memory prices = new uint256[](n);
        uint256[] memory marks = new uint256[](n);
        bool moved;
        uint256 i;
        for (uint96 bits = markets; bits != 0; bits &= bits - 1) {
            bool cached;
            (cached, feeds[i], prices[i], marks[i]) = _markIn(LibBit.ffs(bits), c.flowHalfLife, cap);
            if (!cached) return;
            if (marks[i] != prices[i]) moved = true;
            ++i;
        }
        if (!moved) return;
        for (i = 0; i < n; ++i) _setCachedPrice(feeds[i], marks[i]);
        IPerpEngine.AccountSummary memory s = _summary(
            accountId,
            markets,
            vault.marginOf(accountId),
            _noCache(),
            new IPerpEngine.PositionSnapshot[](0),
            _noAccruals(),
            false
        );
        if (s.equity >= int256(s.maintenanceMargin)) {
            revert ILiquidator.LiquidationHeldAtMark(accountId, s.equity, s.maintenanceMargin);
        }
        for (i = 0; i < n; ++i) _setCachedPrice(feeds[i], prices[i]);
    }

    /// @dev Market `m`'s feed, price and mark, or `cached` false when the call's cache has no price for it.
    function _markIn(
        uint256 m,
        uint256 halfLife,
        uint256 cap
    ) internal view returns (bool cached, bytes32 feedId, uint256 price, uint256 mark) {
        IPerpEngine.MarketConfig storage cfg = _configs[m];
        feedId = cfg.feedId;
        if (!_isCached(feedId)) return (false, feedId, 0, 0);
        (price, ) = _priceOf(feedId);
        mark = _mark(price, cfg.skewScale, _ownFlowNow(m, halfLife), cap);
        cached = true;
    }

    /// @dev The mark's cap: impactBudget x lateMultiplier, at most MAX_MARK_SHIFT.
    function _cap(IBackstopTypes.BackstopConfig memory c) internal pure returns (uint256) {
        return uint256(c.impactBudget).mulWadDown(c.lateMultiplier).min(MAX_MARK_SHIFT);
    }

    function _ownFlowNow(uint256 marketId, uint256 halfLife) internal view returns (int256) {
        IOwnImpactMark.OwnFlow memory f = _ownFlow[marketId];
        return ForcedFlow.decayedSigned(f.amount, f.at, halfLife);
    }

    /// @dev `price / (1 + estimate)`, estimate = flow / (skewScale x price) (the depth rounded down, the estimate
    ///      toward zero, its magnitude at most `cap` < WAD), the mark rounded toward the price: the correction is
    ///      the smaller one. A sale (flow < 0) puts the mark above the price.
    function _mark(uint256 price, uint256 skewScale, int256 flow, uint256 cap) internal pure returns (uint256) {
        uint256 depth = skewScale.mulWadDown(price);
        if (depth == 0 || flow == 0) return price;
        uint256 m = FixedPoint.abs(flow).mulDivDown(WAD, depth).min(cap);
        if (m == 0) return price;
        return flow < 0 ? price.mulDivDown(WAD, WAD - m) : price.mulDivUp(WAD, WAD + m);
    }
}
