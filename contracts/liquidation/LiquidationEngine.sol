// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {LibBit} from "solady/utils/LibBit.sol";

import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IBackstop} from "../interfaces/IBackstop.sol";
import {IOwnImpactMark} from "../interfaces/IOwnImpactMark.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {LiquidationMath} from "../libraries/LiquidationMath.sol";
import {LiquidationParams} from "../libraries/LiquidationParams.sol";
import {WAD} from "../libraries/Constants.sol";
import {PerpEngineBase} from "../market/PerpEngineBase.sol";

/// @title LiquidationEngine
/// @notice Tranche-based gradual liquidation. Each call closes one tranche of an account below
///         maintenance margin: the smaller of `trancheFraction` of every position and what brings the
///         account back to maintenance plus a buffer; a dust remainder closes too; an account below the
///         backstop threshold closes in full, without cooldown. Liquidated notional per market and window
///         is capped, so forced selling is spread in time; only an account near bankruptcy (below the
///         capBypassRatio threshold) bypasses the cap. Fills are at the oracle index price.
/// @dev A module of PerpEngine: reached at the engine's address through its fallback (delegatecall), it
///      reads and writes positions, markets and the account's liquidation state in the engine's own
///      storage. previewLiquidation and liquidate run the same `_plan`; execution then checks every
///      realised value against the plan (ExecutionDiverged), so the preview is exact by construction.
contract LiquidationEngine is ILiquidator, PerpEngineBase {
    using FixedPoint for uint256;
    using SafeCast for uint256;

    uint256 public constant MAX_BATCH = 100;

    /// @dev What a tranche's execution takes from its plan besides the Plan itself: read or computed once.
    struct Context {
        uint256[] accruals; // each fresh position's market's pending accrual (_summary), which the legs write
        uint256 since; // the reward-escalation clock's start (_clockStart; 0: not running)
        uint256 configWord; // the liquidation configuration's word (0 when the plan stopped before reading it)
    }

    IERC20 public immutable collateral;
    /// @notice The module that serves what this one does not (parameters and ledgers, then
    ///         auto-deleveraging): calls fall through the engine's modules in that order.
    address public immutable next;

    constructor(IVault vault_, IOracleAdapter oracle_, address next_) PerpEngineBase(vault_, oracle_) {
        if (next_.code.length == 0) revert IPerpEngine.ZeroAddress();
        collateral = IERC20(vault_.asset());
        next = next_;
    }

    /// @dev Parameters, ledgers and auto-deleveraging live in the next modules, on the same storage.
    fallback() external {
        _delegate(next);
    }

    // ================================================================== liquidation

    /// @inheritdoc ILiquidator
    function liquidate(uint256 accountId) external nonReentrant returns (uint256 trancheNotional) {
        // A cache just opened holds no market yet; nothing reads its markets back in this call.
        (Plan memory plan, Refusal memory refusal, Context memory ctx) = _plan(
            accountId,
            _cacheMarketsIn(_openPriceCache(), 0, _accounts[accountId].markets, false)
        );
        uint256 taken = _takeover(plan, ctx, msg.sender);
        if (taken == 0) {
            if (refusal.status != Status.Ok) _revertFor(plan, refusal);
            if (ctx.configWord & LiquidationParams.OWN_IMPACT_MARK != 0) _atMark(plan, false);
            _execute(plan, ctx, msg.sender);
            taken = plan.trancheNotional;
        }
        _closePriceCache();
        return taken;
    }

    /// @inheritdoc ILiquidator
    function liquidateBatch(uint256[] memory accountIds) external nonReentrant returns (uint256 liquidated) {
        if (accountIds.length > MAX_BATCH) revert BatchTooLarge(accountIds.length, MAX_BATCH);
        // One oracle read per market for the whole batch: every account is priced alike.
        _openPriceCache();
        for (uint256 i; i < accountIds.length; ++i) {
            // Each account through a self-call: one whose execution reverts is skipped and reported
            // (LiquidationFailed) instead of undoing every other tranche of the batch.
            try this.executeForBatch(accountIds[i], msg.sender) returns (Status status) {
                if (status == Status.Ok) ++liquidated;
                else emit LiquidationSkipped(accountIds[i], status);
            } catch (bytes memory reason) {
                emit LiquidationFailed(accountIds[i], reason);
            }
        }
        _closePriceCache();
    }

    /// @inheritdoc ILiquidator
    function executeForBatch(uint256 accountId, address keeper) external returns (Status) {
        if (msg.sender != address(this)) revert NotSelf(msg.sender);
        (Plan memory plan, Refusal memory refusal, Context memory ctx) = _plan(
            accountId,
            _cacheMarkets(_accounts[accountId].markets)
        );
        if (_takeover(plan, ctx, keeper) != 0) return Status.Ok;
        if (refusal.status == Status.Ok) {
            if (ctx.configWord & LiquidationParams.OWN_IMPACT_MARK != 0 && _atMark(plan, true))
                return Status.HeldAtMark;
            _execute(plan, ctx, keeper);
        }
        return refusal.status;
    }

    /// @inheritdoc ILiquidator
    function previewLiquidation(uint256 accountId) external view returns (Plan memory plan) {
        Refusal memory refusal;
        (uint256 held, ) = _cachedMarkets();
        (plan, refusal, ) = _plan(accountId, held);
        if (refusal.status != Status.Ok) _revertFor(plan, refusal);
    }

    // ================================================================== views

    // ================================================================== planning

    /// @dev Everything a tranche will do, computed from the engine's own storage (LiquidationMath does
    ///      the arithmetic). Shared by preview and execution; a refusal says why not, with its numbers.
    ///      `ctx`: what the takeover and the execution use again (the summary's accruals, the escalation clock,
    ///      the configuration word) instead of computing or reading it a second time.
    function _plan(
        uint256 accountId,
        uint256 held
    ) internal view returns (Plan memory plan, Refusal memory refusal, Context memory ctx) {
        plan.accountId = accountId;
        IPerpEngine.PositionSnapshot[] memory ps;
        IPerpEngine.AccountSummary memory s;
        bytes memory failed;
        uint256 staleMaintenance;
        (s, ps, ctx.accruals, failed, staleMaintenance) = _tryPositions(accountId, held);
        if (failed.length != 0) {
            refusal.status = Status.SnapshotFailed;
            refusal.reason = failed;
            return (plan, refusal, ctx);
        }
        if (ps.length == 0) {
            refusal.status = Status.NoPositions;
            return (plan, refusal, ctx);
        }
        plan.equity = s.equity;
        plan.maintenanceMargin = s.maintenanceMargin;
        plan.marginBefore = s.margin;
        if (s.equity >= int256(s.maintenanceMargin)) {
            refusal.status = Status.Healthy;
            return (plan, refusal, ctx);
        }

        // Each word read once: the liquidation margin (three times) and the reward come from the reward word.
        uint256 rewardWord = _rewardConfigWord;
        ctx.configWord = _liqConfigWord;
        ILiquidationConfigurator.Config memory c = LiquidationParams.decodeConfig(ctx.configWord, rewardWord);
        ILiquidationConfigurator.RewardConfig memory r = LiquidationParams.decodeReward(rewardWord);
        plan.backstop = LiquidationMath.isBackstop(c, s.equity, s.maintenanceMargin);
        AccountData storage acct = _accounts[accountId];
        {
            // The account's liquidation slot, read once for the cooldown and the escalation clock.
            uint256 stateWord;
            assembly ("memory-safe") {
                stateWord := sload(add(acct.slot, 1))
            }
            ctx.since = _clockFrom(stateWord, plan.marginBefore);
            uint256 lastTrancheAt = uint40(stateWord);
            if (!plan.backstop && lastTrancheAt != 0 && block.timestamp < lastTrancheAt + c.cooldown) {
                refusal.status = Status.CoolingDown;
                refusal.readyAt = lastTrancheAt + c.cooldown;
                return (plan, refusal, ctx);
            }
        }
        plan.fraction = LiquidationMath.trancheFraction(
            c,
            s.equity,
            s.maintenanceMargin,
            s.notional,
            plan.backstop,
            LiquidationMath.liquidationMargin(r, s.notional)
        );
        // Near bankruptcy (below capBypassRatio) the whole position goes now; any other tranche, a
        // backstop's included, fits each leg in its own market's remaining capacity: a full window holds
        // back only that market's leg, the others go now.
        uint256[] memory fractions = new uint256[](ps.length);
        if (LiquidationMath.bypassesCapacity(c, s.equity, s.maintenanceMargin)) {
            for (uint256 i; i < ps.length; ++i) fractions[i] = plan.fraction;
        } else {
            _fitCapacity(c, ps, fractions, plan, refusal); // sets every leg's share
            if (refusal.status != Status.Ok) return (plan, refusal, ctx);
        }
        uint256 marginLeft = LiquidationMath.planLegs(plan, ps, fractions, s.margin, _poolFor(ps));
        // Stale legs stay open (no price to trade at) with all their maintenance.
        if (staleMaintenance != 0) {
            plan.remainingMaintenance += staleMaintenance;
            plan.fraction = plan.fraction.min(WAD - 1);
        }
        // What remains keeps its liquidation margin: bounded above on the notional left plus a wei a leg.
        if (plan.fraction != WAD) {
            plan.remainingMaintenance += LiquidationMath.liquidationMargin(
                r,
                s.notional - plan.trancheNotional + plan.legs.length
            );
        }
        _planMoney(plan, r, c.penaltyRate, marginLeft, ctx.since);
    }

    /// @dev The vault pays a gain only as far as the LP pool reaches: the pool, read only when a leg realises a
    ///      gain (unbounded otherwise).
    function _poolFor(IPerpEngine.PositionSnapshot[] memory ps) internal view returns (uint256) {
        for (uint256 i; i < ps.length; ++i) {
            if (ps[i].value > 0) return vault.lpPoolWad();
        }
        return type(uint256).max;
    }

    /// @dev The account's positions at current prices, as PerpEngine.liquidationSnapshot reports them,
    ///      except that an unknown account or an oracle that refuses to answer (invalid, sequencer down) is
    ///      returned as the revert data instead of reverting: a batch or a scan skips such an account. Legs
    ///      whose feed is only stale are not in `ps` (they cannot be traded) but are in the summary, valued
    ///      at the bound most favourable to the account (`staleValuation`); `staleMaintenance` is their
    ///      maintenance margin (non-zero exactly when there are such legs). With no fresh leg the stale
    ///      answer is the refusal. `held`: the markets the open price cache holds (_cachedMarkets; the caller
    ///      has them from _cacheMarkets), whose prices answered already.
    function _tryPositions(
        uint256 accountId,
        uint256 held
    )
        internal
        view
        returns (
            IPerpEngine.AccountSummary memory s,
            IPerpEngine.PositionSnapshot[] memory ps,
            uint256[] memory accruals,
            bytes memory failed,
            uint256 staleMaintenance
        )
    {
        // The account's first slot read once: its owner in bits 0-159, its markets above (as solc packs them).
        uint96 markets;
        {
            AccountData storage acct = _accounts[accountId];
            uint256 head;
            assembly ("memory-safe") {
                head := sload(acct.slot)
            }
            if (uint160(head) == 0) {
                return (s, ps, accruals, abi.encodeWithSelector(IPerpEngine.AccountNotFound.selector, accountId), 0);
            }
            markets = uint96(head >> 160);
        }
        uint256 stale;
        // Every market's price must answer before the summary reads them: one the cache holds did.
        for (uint96 bits = markets & ~uint96(held); bits != 0; bits &= bits - 1) {
            uint256 m = LibBit.ffs(bits);
            bytes32 feedId = _configs[m].feedId;
            if (_isCached(feedId)) continue;
            try oracle.getPriceAndVolatility(feedId) returns (uint256, uint256) {} catch (bytes memory reason) {
                bytes4 error_;
                assembly ("memory-safe") {
                    error_ := mload(add(reason, 32))
                }
                if (reason.length < 4 || error_ != IOracleAdapter.StaleAnswer.selector) {
                    return (s, ps, accruals, reason.length == 0 ? bytes("oracle") : reason, 0);
                }
                failed = reason;
                stale |= uint256(1) << m;
            }
        }
        markets &= ~uint96(stale);
        if (markets == 0) return (s, ps, accruals, failed, 0);
        uint256 n = LibBit.popCount(markets);
        ps = new IPerpEngine.PositionSnapshot[](n);
        // An entry a position, every one written by _summary (no cached market): allocated without zeroing.
        assembly ("memory-safe") {
            accruals := mload(0x40)
            mstore(accruals, mul(n, ACCRUAL_WORDS))
            mstore(0x40, add(add(accruals, 32), mul(n, mul(ACCRUAL_WORDS, 32))))
        }
        s = _summary(accountId, markets, vault.marginOf(accountId), _noCache(), ps, accruals, false);
        if (stale == 0) return (s, ps, accruals, "", 0);
        // The valuation (LiquidationConfigurator.staleValuation) through a self-call: the account's totals
        // with the stale legs are written straight into `s`; its revert (StaleLegMayCoverLoss, or the
        // oracle's error when even a last answer is unusable) is this call's.
        bytes4 selector = ILiquidationConfigurator.staleValuation.selector;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 4), accountId)
            mstore(add(p, 36), stale)
            mstore(add(p, 68), mload(add(s, 32))) // equity
            mstore(add(p, 100), mload(add(s, 64))) // maintenanceMargin
            mstore(add(p, 132), mload(add(s, 128))) // notional
            if iszero(staticcall(gas(), address(), p, 164, p, 128)) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
            mstore(add(s, 32), mload(p))
            mstore(add(s, 64), mload(add(p, 32)))
            mstore(add(s, 128), mload(add(p, 64)))
            staleMaintenance := mload(add(p, 96))
        }
        failed = "";
    }

    /// @dev Scales each leg's share down to what its own market's remaining window capacity allows (0: the
    ///      leg waits); refuses only when no leg fits anywhere, with the first market that blocked.
    function _fitCapacity(
        ILiquidationConfigurator.Config memory c,
        IPerpEngine.PositionSnapshot[] memory ps,
        uint256[] memory fractions,
        Plan memory plan,
        Refusal memory refusal
    ) internal view {
        uint256 blocked = type(uint256).max;
        bool any;
        for (uint256 i; i < ps.length; ++i) {
            uint256 cap = LiquidationMath.capacity(c.capacityDepthFactor, ps[i].skewScale, ps[i].price);
            uint256 used = _usedInWindow(ps[i].marketId, c.capacityWindow);
            uint256 room = cap > used ? cap - used : 0;
            uint256 allowed = LiquidationMath.shareThatFits(room, ps[i].notional).min(plan.fraction);
            fractions[i] = allowed;
            if (allowed != 0) any = true;
            else if (blocked == type(uint256).max) blocked = ps[i].marketId;
        }
        if (!any) {
            refusal.status = Status.NoCapacity;
            refusal.marketId = blocked;
            refusal.windowEndsAt = uint256(_capacityWindow(blocked).start) + c.capacityWindow;
        }
    }

    /// @dev Penalty, keeper reward, insurance share and bad-debt routing, in the vault's and the fund's
    ///      own rounding so that the plan is what they will do. `since`: the escalation clock's start.
    function _planMoney(
        Plan memory plan,
        ILiquidationConfigurator.RewardConfig memory r,
        uint256 penaltyRate,
        uint256 marginLeft,
        uint256 since
    ) internal view {
        uint256 rewardWad = LiquidationMath.reward(r, plan.trancheNotional, since == 0 ? 0 : block.timestamp - since);
        LiquidationMath.splitPenalty(plan, penaltyRate, marginLeft, rewardWad);
        // The fund is only read when it has to pay: bad debt (a solvent account pays its own keeper).
        if (plan.badDebt == 0) {
            plan.keeperReward = plan.keeperFromPenalty;
            return;
        }
        uint256 available = collateral.balanceOf(vault.insuranceFund()) + vault.insurancePendingWad() / SCALE;
        // The fund tops up at most the unescalated reward: an escalation is the account's own money, so a
        // clock an episode left behind (a recovery by price nobody cleared) can never draw on the fund.
        LiquidationMath.fundPayments(
            plan,
            LiquidationMath.liquidationMargin(r, plan.trancheNotional),
            available,
            SCALE
        );
    }

    // ================================================================== execution

    /// @dev `ctx.since`: the plan's escalation clock (_plan), unchanged since: nothing writes the account's
    ///      liquidation slot or its margin between the plan and its execution (a takeover that declines
    ///      writes nothing).
    function _execute(Plan memory plan, Context memory ctx, address keeper) internal {
        uint256 accountId = plan.accountId;
        AccountData storage acct = _accounts[accountId];
        uint256 since = ctx.since;
        if (since == 0) since = block.timestamp;

        _executeLegs(plan, keeper, ctx);
        IInsuranceFund fund;
        if (plan.badDebt != 0 || plan.keeperFromFund != 0) fund = IInsuranceFund(vault.insuranceFund());
        if (plan.badDebt != 0) _routeBadDebt(plan, fund);
        if (plan.keeperFromFund != 0) {
            if (fund.payKeeper(keeper, plan.keeperFromFund) != plan.keeperFromFund) {
                revert ExecutionDiverged(accountId, type(uint256).max);
            }
        }

        (uint256 before, uint256 healthAfter) = LiquidationMath.healthBeforeAfter(plan);
        // An account without equity (possible only with a stale leg left open) pays no penalty and is not
        // made worse by closing its fresh legs.
        if (healthAfter <= before && plan.equity > 0) revert TrancheDidNotImproveHealth(accountId, before, healthAfter);
        // One write of the account's liquidation slot. A healthy or closed account starts a fresh
        // escalation clock next time.
        _writeLiquidationState(
            acct,
            uint40(block.timestamp),
            healthAfter >= WAD ? 0 : uint40(since),
            plan.marginAfter.toUint128()
        );
        // LiquidationSettled, its data words written at the free-memory pointer (not moved), as `emit` encodes them.
        bytes32 topic = LiquidationSettled.selector;
        bool backstop = plan.backstop;
        uint256 fraction = plan.fraction;
        uint256 trancheNotional = plan.trancheNotional;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, backstop)
            mstore(add(p, 32), fraction)
            mstore(add(p, 64), trancheNotional)
            mstore(add(p, 96), healthAfter)
            mstore(add(p, 128), since)
            log3(p, 160, topic, accountId, keeper)
        }
    }

    /// @dev Reduces every leg, counts it in its market's window and emits its TrancheLiquidated. The vault's
    ///      settlement must be what the plan replayed (it reads the pool and margin the plan read; anything
    ///      else is a bug, and the whole tranche reverts). The last leg's vault call also takes the penalty,
    ///      after its settlement.
    function _executeLegs(Plan memory plan, address keeper, Context memory ctx) internal {
        uint256 windowLength = LiquidationParams.capacityWindow(ctx.configWord);
        uint256 n = plan.legs.length;
        // What is left to split over the legs: the penalty, the keeper reward, the fund's cover.
        uint256[3] memory left = [plan.keeperFromPenalty + plan.insuranceShare, plan.keeperReward, plan.badDebtCovered];
        for (uint256 i; i < n; ++i) {
            Leg memory leg = plan.legs[i];
            bool last = i + 1 == n;
            (uint256 shortfall, int256 newSize) = _reduceLeg(
                plan.accountId,
                leg,
                keeper,
                last ? plan.keeperFromPenalty : 0,
                last ? plan.insuranceShare : 0,
                windowLength,
                ctx.accruals
            );
            if (shortfall != leg.shortfall) revert ExecutionDiverged(plan.accountId, leg.marketId);
            _emitLeg(plan, leg, keeper, newSize, last, left);
        }
    }

    /// @dev A leg's TrancheLiquidated; penalty and reward are split by notional (the last leg takes the
    ///      rounding), bad debt is reported on the leg where it arose. The data words are written at the
    ///      free-memory pointer (not moved) in the event's field order, as `emit` would encode them.
    function _emitLeg(
        Plan memory plan,
        Leg memory leg,
        address keeper,
        int256 newSize,
        bool last,
        uint256[3] memory left
    ) internal {
        uint256 legPenalty =
            last
                ? left[0]
                : (plan.keeperFromPenalty + plan.insuranceShare).mulDivDown(leg.notional, plan.trancheNotional);
        uint256 legReward = last ? left[1] : plan.keeperReward.mulDivDown(leg.notional, plan.trancheNotional);
        uint256 covered = leg.shortfall.min(left[2]);
        left[0] -= legPenalty;
        left[1] -= legReward;
        left[2] -= covered;
        bytes32 topic = TrancheLiquidated.selector;
        uint256 accountId = plan.accountId;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, mload(add(leg, 32))) // sizeDelta
            mstore(add(p, 32), newSize)
            mstore(add(p, 64), mload(add(leg, 64))) // fillPrice: the leg's price
            mstore(add(p, 96), mload(add(leg, 128))) // realisedPnl: the leg's realised value
            mstore(add(p, 128), legPenalty)
            mstore(add(p, 160), legReward)
            mstore(add(p, 192), covered)
            mstore(add(p, 224), sub(mload(add(leg, 160)), covered)) // socialised: the shortfall not covered
            log4(p, 256, topic, accountId, mload(leg), keeper)
        }
    }

    function _routeBadDebt(Plan memory plan, IInsuranceFund fund) internal {
        _badDebt.incurred += plan.badDebt;
        if (plan.badDebtCovered != 0) {
            uint256 covered = fund.cover(plan.badDebt);
            if (covered != plan.badDebtCovered) revert ExecutionDiverged(plan.accountId, type(uint256).max);
            _badDebt.covered += covered;
        }
        uint256 toCover = plan.badDebtCovered;
        for (uint256 i; i < plan.legs.length; ++i) {
            uint256 shortfall = plan.legs[i].shortfall;
            if (shortfall == 0) continue;
            uint256 covered = shortfall.min(toCover);
            toCover -= covered;
            uint256 socialised = shortfall - covered;
            if (socialised == 0) continue;
            _pendingDeficit[plan.legs[i].marketId][plan.legs[i].bankruptLong] += socialised;
            _badDebt.pending += socialised;
            emit DeficitQueued(plan.legs[i].marketId, plan.legs[i].bankruptLong, socialised);
        }
    }

    // ================================================================== helpers

    /// @dev With a backstop vault, a liquidatable account goes to the vault first (BackstopModule, through a
    ///      self-call): the notional taken over, or 0 when it declined or reverted (a cap, the drawdown
    ///      breaker), and the account's tranche or backstop close goes (or waits) as without a vault.
    ///      Healthy, flat and unreadable accounts have equity >= maintenance in the plan (both 0).
    function _takeover(Plan memory plan, Context memory ctx, address keeper) internal returns (uint256 taken) {
        // The configuration word's flag (the plan read the word: a liquidatable account's plan always does)
        // instead of the backstop state's cold slot.
        if (plan.equity >= int256(plan.maintenanceMargin) || ctx.configWord & LiquidationParams.BACKSTOP_SET == 0) {
            return 0;
        }
        bytes4 selector = IBackstop.backstopTakeover.selector;
        uint256 accountId = plan.accountId;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 4), accountId)
            mstore(add(p, 36), keeper)
            if call(gas(), address(), 0, p, 68, p, 32) {
                if eq(returndatasize(), 32) {
                    taken := mload(p)
                }
            }
        }
    }

    /// @dev With the mark on (the configuration word's flag), the own-impact mark's check of an account the vault
    ///      declined, and the record of its legs
    ///      (OwnImpactModule.ownImpactCheck, a self-call with the legs as market id and signed notional, a sell
    ///      negative). Held: true when `soft` (a batch: the status) and the module refused with
    ///      LiquidationHeldAtMark; any other revert, and that one in `liquidate`, is this call's.
    function _atMark(Plan memory plan, bool soft) internal returns (bool held) {
        bytes4 selector = IOwnImpactMark.ownImpactCheck.selector;
        bytes4 heldAtMark = LiquidationHeldAtMark.selector;
        Leg[] memory legs = plan.legs;
        uint256 accountId = plan.accountId;
        int256 equity = plan.equity;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, selector)
            mstore(add(p, 4), accountId)
            mstore(add(p, 36), equity)
            mstore(add(p, 68), 96)
            let n := mload(legs)
            mstore(add(p, 100), add(n, n))
            let q := add(p, 132)
            for {
                let i := 0
            } lt(i, n) {
                i := add(i, 1)
            } {
                let leg := mload(add(add(legs, 32), mul(i, 32)))
                let notional := mload(add(leg, 96))
                if slt(mload(add(leg, 32)), 0) {
                    notional := sub(0, notional)
                }
                mstore(q, mload(leg))
                mstore(add(q, 32), notional)
                q := add(q, 64)
            }
            if iszero(call(gas(), address(), 0, p, sub(q, p), 0, 0)) {
                returndatacopy(p, 0, returndatasize())
                held := and(soft, eq(and(mload(p), shl(224, 0xffffffff)), heldAtMark))
                if iszero(held) {
                    revert(p, returndatasize())
                }
            }
        }
    }

    /// @dev What the market's current capacity window has used: _capacityWindow's `used`, or 0 once the window is
    ///      `length` seconds old (a new one opens with the leg), read as scalars instead of Window structs.
    function _usedInWindow(uint256 marketId, uint256 length) internal view returns (uint256) {
        IPerpEngine.MarketState storage st = _states[marketId];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(add(st.slot, 2))
        }
        // The window above the basis sum: its start in bits 128-159, used in 160-255 (_capacityWindow).
        return block.timestamp >= uint256(uint32(word >> 128)) + length ? 0 : word >> 160;
    }

    function _revertFor(Plan memory plan, Refusal memory refusal) internal pure {
        Status status = refusal.status;
        if (status == Status.SnapshotFailed) {
            bytes memory reason = refusal.reason;
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
        if (status == Status.NoPositions) revert NoPositions(plan.accountId);
        if (status == Status.Healthy) revert AccountHealthy(plan.accountId, plan.equity, plan.maintenanceMargin);
        if (status == Status.CoolingDown) revert TrancheCoolingDown(plan.accountId, refusal.readyAt);
        revert LiquidationCapacityExhausted(plan.accountId, refusal.marketId, refusal.windowEndsAt);
    }
}
