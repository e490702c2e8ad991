// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {IBackstopConfigurator} from "../interfaces/IBackstop.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {LiquidationMath} from "../libraries/LiquidationMath.sol";
import {LiquidationParams} from "../libraries/LiquidationParams.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {RiskModel} from "../libraries/RiskModel.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {LibBit} from "solady/utils/LibBit.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds} from "../libraries/Bounds.sol";
import {WAD} from "../libraries/Constants.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {PerpEngineBase} from "../market/PerpEngineBase.sol";

/// @title LiquidationConfigurator
/// @notice The liquidation engine's parameters (tranche and keeper-reward configuration, bounded, set by
///         governance) and everything it keeps, read back: per-account state, capacity windows and the
///         market's capacity now, the bad-debt ledger and the deficits queued for auto-deleveraging.
/// @dev A module of PerpEngine, after LiquidationEngine in the fall-through order (Aave's
///      PoolConfigurator, as a module): the liquidation engine keeps its bytes for planning and
///      executing tranches. Unknown calls fall through to auto-deleveraging.
contract LiquidationConfigurator is ILiquidationConfigurator, IBackstopConfigurator, PerpEngineBase {
    using SafeCast for uint256;

    uint256 public constant MIN_TRANCHE_FRACTION = 0.05e18;
    uint256 public constant MAX_HEALTH_BUFFER = 1e18;
    uint256 public constant MIN_BACKSTOP_RATIO = 0.1e18;
    uint256 public constant MAX_PENALTY_RATE = 0.05e18;
    uint256 public constant MAX_COOLDOWN = 1 hours;
    uint256 public constant MIN_CAPACITY_WINDOW = 1;
    uint256 public constant MAX_CAPACITY_WINDOW = 1 days;
    uint256 public constant MIN_CAPACITY_DEPTH_FACTOR = 0.001e18;
    /// @dev Large enough that a baseline configuration is effectively uncapped.
    uint256 public constant MAX_CAPACITY_DEPTH_FACTOR = 18e18;
    uint256 public constant MAX_DUST_NOTIONAL = 10_000e18;
    uint256 public constant MAX_REWARD = 10_000e18;
    uint256 public constant MAX_REWARD_SHARE = 0.01e18;
    uint256 public constant MAX_ESCALATION_PER_SECOND = 0.01e18;
    uint256 public constant MAX_REWARD_MULTIPLIER = 10e18;
    /// @notice At most this many account ids are scanned by one liquidatableAccounts call.
    uint256 public constant MAX_SCAN = 500;

    // backstop (IBackstopConfigurator)
    uint256 public constant MAX_FEE_RATE = 0.05e18;
    uint256 public constant MIN_SHARE = 0.001e18;
    uint256 public constant MAX_ACCOUNT_SHARE = 1e18;
    uint256 public constant MAX_MARKET_SHARE = 10e18;
    uint256 public constant MIN_REF_SIGMA = 0.01e18;
    uint256 public constant MAX_REF_SIGMA = 10e18;
    uint256 public constant MAX_DEPTH_SHARE = 1e18;
    uint256 public constant MAX_TOTAL_SHARE = 20e18;
    uint256 public constant MAX_DRAWDOWN = 0.5e18;
    uint256 public constant MIN_DRAWDOWN_WINDOW = 1 hours;
    uint256 public constant MAX_DRAWDOWN_WINDOW = 7 days;
    uint256 public constant MIN_IMPACT_BUDGET = 0.0001e18;
    uint256 public constant MAX_IMPACT_BUDGET = 0.1e18;
    uint256 public constant MIN_FLOW_HALF_LIFE = 60;
    uint256 public constant MAX_FLOW_HALF_LIFE = 1 days;
    uint256 public constant MIN_MAX_HOLD = 60;
    uint256 public constant MAX_MAX_HOLD = 7 days;
    uint256 public constant MAX_LATE_MULTIPLIER = 100e18;

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

    /// @inheritdoc ILiquidationConfigurator
    /// @dev Here, not in the liquidation engine (its bytes go to planning): the engine's own preview says
    ///      whether the account is held back (its cooldown or capacity refusal) and nothing else.
    function flag(uint256 accountId) external {
        bool now_;
        try ILiquidator(address(this)).previewLiquidation(accountId) {
            now_ = true;
        } catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            if (
                selector != ILiquidator.TrancheCoolingDown.selector &&
                selector != ILiquidator.LiquidationCapacityExhausted.selector
            ) {
                assembly ("memory-safe") {
                    revert(add(reason, 32), mload(reason))
                }
            }
        }
        AccountData storage acct = _accounts[accountId];
        uint256 margin = vault.marginOf(accountId);
        // Held back now: a clock not running starts now; a running one goes on. Liquidatable now: only a
        // running clock is seen (a flag never starts one before anyone could act).
        uint256 since = _clockStart(acct, margin);
        if (since == 0) {
            if (now_) revert ILiquidator.NotHeldBack(accountId);
            since = block.timestamp;
            acct.liquidatableSince = uint40(since);
            acct.marginAtFlag = uint128(margin);
            emit ILiquidator.AccountFlagged(accountId, since);
        }
        acct.seenAt = uint40(block.timestamp);
        emit AccountSeenLiquidatable(accountId, since);
    }

    /// @inheritdoc ILiquidationConfigurator
    /// @dev Here, not in the liquidation engine (its bytes go to planning): each id through the engine's own
    ///      previewLiquidation, which succeeds exactly when liquidate would act now.
    function liquidatableAccounts(uint256 firstAccountId, uint256 count) external view returns (uint256[] memory ids) {
        uint256 end = firstAccountId + (count < MAX_SCAN ? count : MAX_SCAN);
        uint256 last = _nextAccountId;
        if (end > last) end = last;
        if (firstAccountId == 0) firstAccountId = 1;
        ids = new uint256[](end > firstAccountId ? end - firstAccountId : 0);
        uint256 n;
        for (uint256 id = firstAccountId; id < end; ++id) {
            try ILiquidator(address(this)).previewLiquidation(id) returns (ILiquidator.Plan memory) {
                ids[n++] = id;
            } catch {}
        }
        assembly ("memory-safe") {
            mstore(ids, n)
        }
    }

    /// @inheritdoc ILiquidationConfigurator
    /// @dev Here, not in the liquidation engine (its bytes go to planning), which calls it only when a leg
    ///      of the account is stale.
    function staleValuation(
        uint256 accountId,
        uint256 markets,
        int256 freshEquity,
        uint256 freshMaintenance,
        uint256 freshNotional
    ) external view returns (StaleValuation memory v) {
        v.equity = freshEquity;
        v.notional = freshNotional;
        uint256 gainer;
        for (; markets != 0; markets &= markets - 1) {
            uint256 m = LibBit.ffs(markets);
            IPerpEngine.MarketConfig storage cfg = _configs[m];
            (uint256 price, uint256 updatedAt) = oracle.latestPrice(cfg.feedId);
            uint256 sigma = oracle.volatility(cfg.feedId);
            IPerpEngine.Position memory pos = _positions[accountId][m];
            price = LiquidationMath.staleBound(price, sigma, block.timestamp - updatedAt, pos.size > 0);
            (int256 index, uint256 term) = _pendingAccrual(cfg, _states[m], price, sigma);
            int256 value = PerpMath.positionValue(pos.size, pos.basis, price, index);
            if (value > 0) gainer = m;
            uint256 notional = PerpMath.notional(pos.size, price);
            v.equity += value;
            v.notional += notional;
            v.staleMaintenance += RiskModel.marginRequirement(
                notional,
                RiskModel.maintenanceMarginRatio(_sizePremium(cfg), term, FixedPoint.abs(pos.size), cfg.skewScale)
            );
        }
        // Bankrupt on its fresh legs while its stale legs, at the edge of their band, could still meet the
        // loss: closing the fresh legs would have the fund cover a loss the stale gain may later meet (and
        // pay to the owner), so it waits. A stale leg that cannot cover the loss (a tiny leg) never holds
        // the account back: it is bankrupt at any price in the band, and its fresh legs close now.
        if (freshEquity < 0 && v.equity >= 0) revert StaleLegMayCoverLoss(accountId, gainer);
        if (v.staleMaintenance == 0) v.staleMaintenance = 1;
        // The liquidation margin is one term on the whole notional.
        v.maintenanceMargin =
            freshMaintenance +
            v.staleMaintenance +
            LiquidationParams.liquidationMargin(_rewardConfigWord, v.notional) -
            LiquidationParams.liquidationMargin(_rewardConfigWord, freshNotional);
    }

    /// @inheritdoc ILiquidationConfigurator
    function clearFlag(uint256 accountId) external {
        AccountData storage acct = _accounts[accountId];
        if (acct.liquidatableSince == 0) return;
        (IPerpEngine.AccountSummary memory s, ) = _snapshot(accountId);
        if (s.maintenanceMargin != 0 && s.equity < int256(s.maintenanceMargin)) {
            revert ILiquidator.AccountStillLiquidatable(accountId, s.equity, s.maintenanceMargin);
        }
        acct.liquidatableSince = 0;
        emit ILiquidator.AccountFlagged(accountId, 0);
    }

    /// @inheritdoc ILiquidationConfigurator
    function setConfig(Config calldata c) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("trancheFraction", c.trancheFraction, MIN_TRANCHE_FRACTION, WAD);
        Bounds.check("healthBuffer", c.healthBuffer, 0, MAX_HEALTH_BUFFER);
        Bounds.check("backstopRatio", c.backstopRatio, MIN_BACKSTOP_RATIO, WAD);
        Bounds.check("penaltyRate", c.penaltyRate, 0, MAX_PENALTY_RATE);
        Bounds.check("cooldown", c.cooldown, 0, MAX_COOLDOWN);
        Bounds.check("capacityWindow", c.capacityWindow, MIN_CAPACITY_WINDOW, MAX_CAPACITY_WINDOW);
        Bounds.check(
            "capacityDepthFactor",
            c.capacityDepthFactor,
            MIN_CAPACITY_DEPTH_FACTOR,
            MAX_CAPACITY_DEPTH_FACTOR
        );
        Bounds.check("dustNotional", c.dustNotional, 0, MAX_DUST_NOTIONAL);
        // a bypass above the backstop would let capped partial tranches through uncapped
        Bounds.check("capBypassRatio", c.capBypassRatio, 0, c.backstopRatio);
        // Stored in 1e-6 of a WAD (LiquidationParams): a WAD field must be a whole number of that unit.
        LiquidationParams.checkUnit("trancheFraction", c.trancheFraction);
        LiquidationParams.checkUnit("healthBuffer", c.healthBuffer);
        LiquidationParams.checkUnit("backstopRatio", c.backstopRatio);
        LiquidationParams.checkUnit("penaltyRate", c.penaltyRate);
        LiquidationParams.checkUnit("capacityDepthFactor", c.capacityDepthFactor);
        LiquidationParams.checkUnit("dustNotional", c.dustNotional);
        LiquidationParams.checkUnit("capBypassRatio", c.capBypassRatio);
        _liqConfigWord = LiquidationParams.encodeConfig(c) | (_liqConfigWord & LiquidationParams.FLAGS);
        _rewardConfigWord = LiquidationParams.encodeReward(_rewardParams(), c.dustNotional);
        emit ConfigSet(c);
    }

    /// @inheritdoc ILiquidationConfigurator
    function setRewardConfig(RewardConfig calldata r) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("rewardMax", r.max, 0, MAX_REWARD);
        Bounds.check("rewardMin", r.min, 0, r.max);
        Bounds.check("rewardFlat", r.flat, 0, MAX_REWARD);
        Bounds.check("rewardShare", r.shareOfNotional, 0, MAX_REWARD_SHARE);
        Bounds.check("escalationPerSecond", r.escalationPerSecond, 0, MAX_ESCALATION_PER_SECOND);
        Bounds.check("maxMultiplier", r.maxMultiplier, WAD, MAX_REWARD_MULTIPLIER);
        LiquidationParams.checkUnit("rewardMax", r.max);
        LiquidationParams.checkUnit("rewardMin", r.min);
        LiquidationParams.checkUnit("rewardFlat", r.flat);
        LiquidationParams.checkUnit("rewardShare", r.shareOfNotional);
        LiquidationParams.checkUnit("escalationPerSecond", r.escalationPerSecond);
        LiquidationParams.checkUnit("maxMultiplier", r.maxMultiplier);
        _rewardConfigWord = LiquidationParams.encodeReward(r, LiquidationParams.dustNotional(_rewardConfigWord));
        emit RewardConfigSet(r);
    }

    /// @inheritdoc ILiquidationConfigurator
    function liquidationCapacity(
        uint256 marketId
    ) external view returns (uint256 capacity, uint256 used, uint256 windowEndsAt) {
        Config memory c = _liquidationConfig();
        Window memory w = _rolled(_capacityWindow(marketId), c.capacityWindow);
        IPerpEngine.MarketConfig storage cfg = _configs[marketId];
        // An unlisted market has no capacity and reads no feed: a caller that only needs what was
        // used (the liquidation-pressure trigger) never fails on it.
        if (cfg.listed) {
            (uint256 price, ) = oracle.latestPrice(cfg.feedId);
            capacity = LiquidationMath.capacity(c.capacityDepthFactor, cfg.skewScale, price);
        }
        return (capacity, w.used, uint256(w.start) + c.capacityWindow);
    }

    /// @inheritdoc ILiquidationConfigurator
    function config()
        external
        view
        returns (
            uint64 trancheFraction,
            uint64 healthBuffer,
            uint64 backstopRatio,
            uint64 penaltyRate,
            uint16 cooldown,
            uint32 capacityWindow_,
            uint64 capacityDepthFactor,
            uint80 dustNotional,
            uint64 capBypassRatio
        )
    {
        Config memory c = _liquidationConfig();
        return (
            c.trancheFraction,
            c.healthBuffer,
            c.backstopRatio,
            c.penaltyRate,
            c.cooldown,
            c.capacityWindow,
            c.capacityDepthFactor,
            c.dustNotional,
            c.capBypassRatio
        );
    }

    /// @inheritdoc ILiquidationConfigurator
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
        )
    {
        RewardConfig memory r = _rewardParams();
        return (r.flat, r.min, r.shareOfNotional, r.max, r.escalationPerSecond, r.maxMultiplier);
    }

    /// @inheritdoc ILiquidationConfigurator
    function accountState(
        uint256 accountId
    ) external view returns (uint40 lastTrancheAt, uint40 liquidatableSince, uint128 marginAtFlag) {
        AccountData storage a = _accounts[accountId];
        return (a.lastTrancheAt, a.liquidatableSince, a.marginAtFlag);
    }

    /// @inheritdoc ILiquidationConfigurator
    function capacityWindow(uint256 marketId) external view returns (uint40 start, uint128 used) {
        Window memory w = _capacityWindow(marketId);
        return (w.start, w.used);
    }

    /// @inheritdoc ILiquidationConfigurator
    function pendingDeficit(uint256 marketId, bool bankruptLong) external view returns (uint256) {
        return _pendingDeficit[marketId][bankruptLong];
    }

    /// @inheritdoc ILiquidationConfigurator
    function badDebtIncurred() external view returns (uint256) {
        return _badDebt.incurred;
    }

    /// @inheritdoc ILiquidationConfigurator
    function badDebtCovered() external view returns (uint256) {
        return _badDebt.covered;
    }

    /// @inheritdoc ILiquidationConfigurator
    function badDebtSocialised() external view returns (uint256) {
        return _badDebt.socialised;
    }

    /// @inheritdoc ILiquidationConfigurator
    function badDebtPending() external view returns (uint256) {
        return _badDebt.pending;
    }

    // ------------------------------------------------------------------ backstop

    /// @inheritdoc IBackstopConfigurator
    function setBackstopVault(address backstopVault, uint256 accountId) external onlyRole(Roles.GOVERNOR) {
        if (_backstop.vault != address(0)) revert BackstopAlreadySet(_backstop.vault);
        if (backstopVault == address(0)) revert IPerpEngine.ZeroAddress();
        address owner = _accounts[accountId].owner;
        if (owner != backstopVault) revert NotBackstopAccountOwner(accountId, owner, backstopVault);
        _backstop = BackstopState(backstopVault, 0, accountId.toUint64(), 0);
        _liqConfigWord |= LiquidationParams.BACKSTOP_SET;
        emit BackstopVaultSet(backstopVault, accountId);
    }

    /// @inheritdoc IBackstopConfigurator
    function setBackstopConfig(BackstopConfig calldata c) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("feeRate", c.feeRate, 0, MAX_FEE_RATE);
        Bounds.check("accountShare", c.accountShare, MIN_SHARE, MAX_ACCOUNT_SHARE);
        Bounds.check("marketShare", c.marketShare, MIN_SHARE, MAX_MARKET_SHARE);
        Bounds.check("refSigma", c.refSigma, MIN_REF_SIGMA, MAX_REF_SIGMA);
        Bounds.check("depthShare", c.depthShare, MIN_SHARE, MAX_DEPTH_SHARE);
        Bounds.check("totalShare", c.totalShare, MIN_SHARE, MAX_TOTAL_SHARE);
        Bounds.check("maxDrawdown", c.maxDrawdown, MIN_SHARE, MAX_DRAWDOWN);
        Bounds.check("drawdownWindow", c.drawdownWindow, MIN_DRAWDOWN_WINDOW, MAX_DRAWDOWN_WINDOW);
        Bounds.check("impactBudget", c.impactBudget, MIN_IMPACT_BUDGET, MAX_IMPACT_BUDGET);
        Bounds.check("flowHalfLife", c.flowHalfLife, MIN_FLOW_HALF_LIFE, MAX_FLOW_HALF_LIFE);
        Bounds.check("maxHold", c.maxHold, MIN_MAX_HOLD, MAX_MAX_HOLD);
        Bounds.check("lateMultiplier", c.lateMultiplier, WAD, MAX_LATE_MULTIPLIER);
        Bounds.check("adlDrawdown", c.adlDrawdown, 0, c.maxDrawdown);
        Bounds.check("badDebtDrawdown", c.badDebtDrawdown, 0, c.maxDrawdown);
        _backstopConfig = c;
        emit BackstopConfigSet(c);
    }

    /// @inheritdoc IBackstopConfigurator
    function backstopConfig() external view returns (BackstopConfig memory) {
        return _backstopConfig;
    }

    /// @inheritdoc IBackstopConfigurator
    function backstopState() external view returns (BackstopState memory) {
        return _backstop;
    }

    function _rolled(Window memory w, uint256 length) internal view returns (Window memory) {
        if (block.timestamp >= uint256(w.start) + length) return Window(uint40(block.timestamp), 0);
        return w;
    }
}
