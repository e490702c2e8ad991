// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IBackstop} from "../interfaces/IBackstop.sol";
import {IBackstopVault} from "../interfaces/IBackstopVault.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IAutoDeleveraging} from "../interfaces/IAutoDeleveraging.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {LiquidationMath} from "../libraries/LiquidationMath.sol";
import {LiquidationParams} from "../libraries/LiquidationParams.sol";
import {ForcedFlow} from "../libraries/ForcedFlow.sol";
import {WAD} from "../libraries/Constants.sol";
import {PerpEngineBase} from "../market/PerpEngineBase.sol";

/// @title BackstopModule
/// @notice The backstop vault's takeover of accounts at the backstop and the paced unwind of what it
///         took over (IBackstop).
/// @dev A module of PerpEngine, after LiquidationConfigurator in the fall-through order (unknown calls
///      go on to auto-deleveraging). The liquidation engine reaches `backstopTakeover` through a
///      self-call when its plan is a backstop close: a revert (a cap that does not fit) undoes the whole
///      takeover and the engine closes the account as before.
contract BackstopModule is IBackstop, PerpEngineBase {
    using FixedPoint for uint256;
    using SafeCast for uint256;
    using SafeCast for int256;

    /// @dev A part taken over leaves the account at equity >= maintenance x (1 + this): twice maintenance, as far
    ///      above it as maintenance is above zero (_share).
    uint64 private constant PART_HEALTH_BUFFER = 1e18;

    /// @notice The module that serves what this one does not (auto-deleveraging).
    address public immutable next;

    constructor(IVault vault_, IOracleAdapter oracle_, address next_) PerpEngineBase(vault_, oracle_) {
        if (next_.code.length == 0) revert IPerpEngine.ZeroAddress();
        next = next_;
    }

    /// @dev Auto-deleveraging lives in the next module, on the same storage.
    fallback() external {
        _delegate(next);
    }

    // ================================================================== takeover

    /// @inheritdoc IBackstop
    function backstopTakeover(uint256 accountId, address keeper) external returns (uint256 notional) {
        if (msg.sender != address(this)) revert NotSelf(msg.sender);
        BackstopState memory b = _backstop;
        if (b.vault == address(0) || accountId == b.accountId) return 0;
        (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) = _snapshot(accountId);
        if (ps.length == 0 || s.equity >= int256(s.maintenanceMargin)) return 0;
        BackstopConfig memory c = _backstopConfig;
        if (!_drawdownOk(b, c)) return 0;

        (IPerpEngine.AccountSummary memory vs, IPerpEngine.PositionSnapshot[] memory before) = _snapshot(b.accountId);
        uint256 equity = vs.equity > 0 ? uint256(vs.equity) : 0;
        uint256 share = _share(c, s, ps, before, accountId);
        notional = s.notional.mulWadDown(share);
        _cap("account", notional, equity.mulWadDown(c.accountShare));
        uint256 covered = _moveAll(accountId, b.accountId, ps, share);
        _settleTakeover(accountId, b.accountId, keeper, notional, covered, c);
        _checkCaps(c, b.accountId, before, equity);
    }

    /// @dev Above the backstop, the share (WAD) of every position taken over: WAD when the whole fits the unwind
    ///      cap (with its drawdown share) in every market, else the part that brings the account to twice its
    ///      maintenance if that fits and the tranche's cooldown has run, else a revert (the engine tranches). The
    ///      vault's notional in a market is convex in the share and the share 0 leaves it as it was, so
    ///      (limit - was) / (whole - was) of the account, rounded down, is the most that fits. The other caps
    ///      decline the whole as before.
    function _share(
        BackstopConfig memory c,
        IPerpEngine.AccountSummary memory s,
        IPerpEngine.PositionSnapshot[] memory ps,
        IPerpEngine.PositionSnapshot[] memory before,
        uint256 accountId
    ) internal view returns (uint256 share) {
        ILiquidationConfigurator.Config memory lc = _liquidationConfig();
        if (LiquidationMath.isBackstop(lc, s.equity, s.maintenanceMargin)) return WAD;
        // the loss budget left (1 - drawdown / maxDrawdown): the unwind cap's share in drawdown
        uint256 paced = WAD - _lossDrawdown(_backstop, c).mulDivDown(WAD, c.maxDrawdown).min(WAD);
        share = WAD;
        for (uint256 i; i < ps.length; ++i) {
            (uint256 was, uint256 whole) = _wholeIn(ps[i], before);
            uint256 limit = _unwindable(c, ps[i], paced);
            if (whole > limit.max(was))
                share = share.min(limit <= was ? 0 : (limit - was).mulDivDown(WAD, whole - was));
        }
        if (share == WAD) return WAD; // the whole fits: no part to size
        // a part is what brings the account to twice its maintenance after the fee it pays (the tranche's rule at
        // PART_HEALTH_BUFFER with the takeover's fee rate for the penalty, no tranche cap; all of it where the rest
        // would be dust), no more: the rest of the vault's room stays for the accounts that fit whole. The fee is
        // at most feeRate x the part's notional (rounded up by 1 wei at most; the cap of half the margin only
        // lowers it), so sizing with the full rate, rounded up, errs toward the larger part. A tranche leaves
        // ~1.1 x maintenance, under 2% of notional above zero, which one sharp minute takes through; a part that
        // left as little would spend the room that saves an account taken whole on one that is wiped out anyway
        // (docs/architecture.md, "The part's size").
        (lc.healthBuffer, lc.trancheFraction, lc.penaltyRate) = (PART_HEALTH_BUFFER, uint64(WAD), c.feeRate);
        uint256 least = LiquidationMath.trancheFraction(
            lc,
            s.equity,
            s.maintenanceMargin,
            s.notional,
            false,
            LiquidationParams.liquidationMargin(_rewardConfigWord, s.notional)
        );
        // and no sooner than the tranche it replaces (its cooldown, which the engine checks only after a takeover
        // declines): share 0 until then
        if (share < WAD && block.timestamp < uint256(_accounts[accountId].lastTrancheAt) + lc.cooldown) share = 0;
        if (share < least) revert TakeoverCapExceeded("unwind", share, least);
        return least;
    }

    /// @dev The vault's notional in `p`'s market before the takeover and after taking `p` whole.
    function _wholeIn(
        IPerpEngine.PositionSnapshot memory p,
        IPerpEngine.PositionSnapshot[] memory before
    ) internal pure returns (uint256 was, uint256 whole) {
        int256 size = p.size;
        for (uint256 j; j < before.length; ++j) {
            if (before[j].marketId == p.marketId) (size, was) = (size + before[j].size, before[j].notional);
        }
        whole = PerpMath.notional(size, p.price);
    }

    /// @dev `share` (WAD) of every position to the vault, gains first (so a loss leg's shortfall is what the
    ///      account's whole equity leaves). Negative equity goes to the insurance fund as in a backstop close;
    ///      what the fund cannot cover the vault pays within its loss budget (AutoDeleveraging.backstopBadDebt,
    ///      a self-call), else the takeover is left to that close (and its auto-deleveraging). `covered` is
    ///      the fund's part.
    function _moveAll(
        uint256 accountId,
        uint256 vaultId,
        IPerpEngine.PositionSnapshot[] memory ps,
        uint256 share
    ) internal returns (uint256 covered) {
        uint256 shortfall;
        for (uint256 pass; pass < 2; ++pass) {
            for (uint256 i; i < ps.length; ++i) {
                if ((ps[i].value >= 0) == (pass == 0)) shortfall += _moveLeg(accountId, vaultId, ps[i], share);
            }
        }
        if (shortfall == 0) return 0;
        covered = IInsuranceFund(vault.insuranceFund()).cover(shortfall);
        if (covered < shortfall) IAutoDeleveraging(address(this)).backstopBadDebt(accountId, shortfall, covered);
        _badDebt.incurred += shortfall;
        _badDebt.covered += shortfall;
    }

    /// @dev The fee, the account's liquidation state (a closed account starts afresh) and the event.
    function _settleTakeover(
        uint256 accountId,
        uint256 vaultId,
        address keeper,
        uint256 notional,
        uint256 covered,
        BackstopConfig memory c
    ) internal {
        (uint256 fee, uint256 keeperWad, uint256 marginLeft) = _chargeFee(accountId, vaultId, keeper, notional, c);
        AccountData storage acct = _accounts[accountId];
        acct.lastTrancheAt = uint40(block.timestamp);
        acct.liquidatableSince = 0;
        acct.marginAtFlag = marginLeft.toUint128();
        emit AccountTakenOver(accountId, keeper, notional, fee, keeperWad, covered, marginLeft);
    }

    /// @dev Closes `share` (WAD) of the trader's position at the oracle price (that part's PnL realised there;
    ///      its size rounded toward zero) and opens the same size on the vault's account at that price: open
    ///      interest and skew do not change (or fall, where the vault held the other side: that part nets with
    ///      no sale). `p` is left holding the part moved.
    function _moveLeg(
        uint256 accountId,
        uint256 vaultId,
        IPerpEngine.PositionSnapshot memory p,
        uint256 share
    ) internal returns (uint256 shortfall) {
        uint256 m = p.marketId;
        IPerpEngine.MarketConfig storage cfg = _configs[m];
        IPerpEngine.MarketState storage st = _states[m];
        (, uint256 sigma) = _priceOf(cfg.feedId);
        _accrue(m, cfg, st, p.price, sigma);

        Trade memory t;
        t.oldSize = p.size;
        t.oldBasis = p.basis;
        p.size = (t.oldSize * int256(share)) / int256(WAD);
        t.newSize = t.oldSize - p.size;
        (t.newBasis, p.value) = PerpMath.applyTrade(t.oldSize, p.basis, -p.size, p.price, p.fundingIndex);
        _writeMarket(cfg, st, m, t);
        _positions[accountId][m] = IPerpEngine.Position(t.newSize.toInt128(), t.newBasis.toInt128());
        _writeAccountMarkets(accountId, _accounts[accountId].markets, m, t.newSize);
        (, shortfall, ) = vault.settle(accountId, p.value, 0);
        emit IPerpEngine.PositionModified(accountId, m, -p.size, t.newSize, p.price, 0, p.value, p.fundingIndex);
        int256 vaultRealised = _openVaultLeg(vaultId, p, cfg, st);
        emit PositionTakenOver(accountId, m, p.size, p.price, p.value, vaultRealised);
    }

    /// @dev The vault's side of a moved leg: the same size added at the oracle price (netting first
    ///      against an opposite inventory, whose PnL it realises).
    function _openVaultLeg(
        uint256 vaultId,
        IPerpEngine.PositionSnapshot memory p,
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st
    ) internal returns (int256) {
        uint256 m = p.marketId;
        IPerpEngine.Position storage vp = _positions[vaultId][m];
        Trade memory v;
        v.oldSize = vp.size;
        v.oldBasis = vp.basis;
        v.newSize = v.oldSize + p.size;
        (v.newBasis, v.realisedPnl) = PerpMath.applyTrade(v.oldSize, v.oldBasis, p.size, p.price, p.fundingIndex);
        // addsRisk stays false: the side's open interest does not grow, so its cap is not in question
        _writeMarket(cfg, st, m, v);
        vp.size = v.newSize.toInt128();
        vp.basis = v.newBasis.toInt128();
        _writeAccountMarkets(vaultId, _accounts[vaultId].markets, m, v.newSize);
        if (v.realisedPnl != 0) {
            (, uint256 vaultShortfall, ) = vault.settle(vaultId, v.realisedPnl, 0);
            if (vaultShortfall != 0) revert TakeoverCapExceeded("vaultMargin", vaultShortfall, 0);
        }
        Flow storage f = _forcedFlow[m];
        if (v.newSize == 0) (f.inventorySince, f.edgeAt) = (0, 0);
        else if (v.oldSize == 0 || (v.oldSize > 0) != (v.newSize > 0)) {
            (f.inventorySince, f.edgeAt) = (uint40(block.timestamp), 0);
        }
        emit IPerpEngine.PositionModified(vaultId, m, p.size, v.newSize, p.price, 0, v.realisedPnl, p.fundingIndex);
        return v.realisedPnl;
    }

    /// @dev The backstop fee (rounded up, at most half the margin left) from the trader to the vault's
    ///      account, the keeper's reward out of it; the trader keeps the rest of its margin: an account with
    ///      equity left at the oracle price is never wiped out by its takeover.
    function _chargeFee(
        uint256 accountId,
        uint256 vaultId,
        address keeper,
        uint256 notional,
        BackstopConfig memory c
    ) internal returns (uint256 fee, uint256 keeperWad, uint256 marginLeft) {
        uint256 margin = vault.marginOf(accountId);
        fee = notional.mulWadUp(c.feeRate).min(margin / 2);
        keeperWad = LiquidationMath.reward(_rewardParams(), notional, 0).min(fee);
        if (keeperWad != 0) vault.chargePenalty(accountId, keeper, keeperWad, 0);
        uint256 toVault = fee - keeperWad;
        if (toVault != 0) {
            // through the pool and back in one call: the pool's balance does not change
            vault.settle(accountId, -int256(toVault), 0);
            vault.settle(vaultId, int256(toVault), 0);
        }
        marginLeft = margin - fee;
    }

    /// @dev Caps on the vault's book after the takeover, against its equity before it: total notional,
    ///      and in every market whose inventory grew, equity scaled down by volatility and the market's
    ///      depth. The vault's account must stay above maintenance.
    function _checkCaps(
        BackstopConfig memory c,
        uint256 vaultId,
        IPerpEngine.PositionSnapshot[] memory before,
        uint256 equity
    ) internal view {
        (IPerpEngine.AccountSummary memory vs, IPerpEngine.PositionSnapshot[] memory ps) = _snapshot(vaultId);
        if (vs.equity < int256(vs.maintenanceMargin)) {
            revert TakeoverCapExceeded("vaultHealth", vs.maintenanceMargin, vs.equity > 0 ? uint256(vs.equity) : 0);
        }
        uint256 totalBefore;
        for (uint256 i; i < before.length; ++i) totalBefore += before[i].notional;
        if (vs.notional > totalBefore) _cap("total", vs.notional, equity.mulWadDown(c.totalShare));
        for (uint256 i; i < ps.length; ++i) {
            uint256 was;
            for (uint256 j; j < before.length; ++j) {
                if (before[j].marketId == ps[i].marketId) was = before[j].notional;
            }
            if (ps[i].notional > was) _marketCap(c, ps[i], equity);
        }
    }

    /// @dev A market whose inventory grew: equity scaled down by volatility, and a share of the depth. (The
    ///      unwind cap is not checked here: above the backstop the share taken fits it by construction,
    ///      _share; below it there is none, where a decline closes the whole account into the market at once,
    ///      more forced flow now than any unwind of it.)
    function _marketCap(BackstopConfig memory c, IPerpEngine.PositionSnapshot memory p, uint256 equity) internal view {
        (, uint256 sigma) = _priceOf(_configs[p.marketId].feedId);
        uint256 byEquity = equity.mulWadDown(c.marketShare).mulDivDown(c.refSigma, sigma.max(c.refSigma));
        _cap("market", p.notional, byEquity.min(p.skewScale.mulWadDown(p.price).mulWadDown(c.depthShare)));
    }

    /// @dev The unwind cap in `p`'s market: what the unwind can sell within `maxHold` at its budget (from nothing
    ///      in flight: the budget at once, then the decayed measure's recovery, budget x ln2 / flowHalfLife a
    ///      second), times `paced`, the loss budget left. Intake beyond it would outrun the unwind: it would be
    ///      sold late, or by the loss ramp into the move. Above the backstop only (_share).
    function _unwindable(
        BackstopConfig memory c,
        IPerpEngine.PositionSnapshot memory p,
        uint256 paced
    ) internal pure returns (uint256) {
        uint256 budget = p.skewScale.mulWadDown(p.price).mulWadDown(c.impactBudget);
        uint256 sellable = budget + budget.mulDivDown(uint256(ForcedFlow.LN2_WAD) * c.maxHold, WAD * c.flowHalfLife);
        return sellable.mulWadDown(paced);
    }

    function _cap(bytes32 name, uint256 value, uint256 limit) internal pure {
        if (value > limit) revert TakeoverCapExceeded(name, value, limit);
    }

    /// @dev The drawdown breaker: the vault's share price against the highest one of the window. A new
    ///      high (or an expired window) restarts the window there.
    function _drawdownOk(BackstopState memory b, BackstopConfig memory c) internal returns (bool) {
        uint256 price = IBackstopVault(b.vault).sharePrice();
        if (price > b.peakSharePrice || block.timestamp >= uint256(b.peakAt) + c.drawdownWindow) {
            _backstop.peakSharePrice = price.toUint128();
            _backstop.peakAt = uint40(block.timestamp);
            emit BackstopPeakSet(price, block.timestamp);
            return true;
        }
        if (price < uint256(b.peakSharePrice).mulWadDown(WAD - c.maxDrawdown)) {
            emit BackstopHalted(price, b.peakSharePrice);
            return false;
        }
        return true;
    }

    // ================================================================== unwind

    /// @inheritdoc IBackstop
    function unwind(uint256 marketId) external nonReentrant returns (uint256 notional) {
        BackstopState memory b = _backstop;
        if (b.vault == address(0)) revert BackstopNotSet();
        uint256 vaultId = b.accountId;
        int256 size = _positions[vaultId][marketId].size;
        if (size == 0) revert NothingToUnwind(marketId);
        BackstopConfig memory c = _backstopConfig;
        uint256 drawdown = _lossDrawdown(b, c);
        uint256 backed;
        if (drawdown >= c.maxDrawdown && c.adlDrawdown != 0) {
            // past the edge the insurance fund pays the loss beyond the budget, within its share (AutoDeleveraging)
            backed = IAutoDeleveraging(address(this)).backBackstop(marketId, drawdown);
            if (backed != 0) drawdown = _lossDrawdown(b, c);
        }
        Flow storage f = _forcedFlow[marketId];
        if (drawdown >= c.maxDrawdown && c.adlDrawdown != 0 && f.edgeAt == 0) {
            f.edgeAt = uint40(block.timestamp);
            emit BackstopEdgeReached(marketId, block.timestamp + LiquidationParams.cooldown(_liqConfigWord));
        }
        (uint256 closeAbs, uint256 used, uint256 budget, bool late) = _room(marketId, size, drawdown);
        if (closeAbs == 0) {
            if (backed != 0) return 0;
            revert UnwindBudgetExhausted(marketId, used, budget);
        }
        if (drawdown != 0) emit BackstopLossUnwind(marketId, drawdown, budget);
        notional = _sell(vaultId, marketId, size, closeAbs, late);
    }

    /// @dev Sells `closeAbs` of the vault's position at the oracle price and adds it to the forced flow (the unwind's
    ///      room measure and the own-impact mark's signed one).
    function _sell(
        uint256 vaultId,
        uint256 marketId,
        int256 size,
        uint256 closeAbs,
        bool late
    ) internal returns (uint256 notional) {
        int256 delta = size > 0 ? -int256(closeAbs) : int256(closeAbs);
        (int256 realised, uint256 shortfall, uint256 price) = _reduce(vaultId, marketId, delta, 0);
        notional = PerpMath.notional(delta, price);
        uint256 halfLife = _backstopConfig.flowHalfLife;
        Flow storage f = _forcedFlow[marketId];
        f.amount = (ForcedFlow.decayed(f, halfLife) + notional).toUint128();
        f.at = uint40(block.timestamp);
        // the own-impact mark's signed measure (OwnImpactModule), while the mark is on: a sale of a long inventory is
        // negative (the configuration word is warm: _room read it)
        if (_liqConfigWord & LiquidationParams.OWN_IMPACT_MARK != 0) {
            _addOwnFlow(marketId, delta < 0 ? -int256(notional) : int256(notional), halfLife);
        }
        if (closeAbs == FixedPoint.abs(size)) (f.inventorySince, f.edgeAt) = (0, 0);
        if (shortfall != 0) IAutoDeleveraging(address(this)).backstopLoss(marketId, size > 0, shortfall);
        emit BackstopUnwound(marketId, msg.sender, delta, price, notional, realised, late);
    }
}
