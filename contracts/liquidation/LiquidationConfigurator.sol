// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {LiquidationMath} from "../libraries/LiquidationMath.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds} from "../libraries/Bounds.sol";
import {WAD} from "../libraries/Constants.sol";
import {PerpEngineBase} from "../market/PerpEngineBase.sol";

/// @title LiquidationConfigurator
/// @notice The liquidation engine's parameters (tranche and keeper-reward configuration, bounded, set by
///         governance) and everything it keeps, read back: per-account state, capacity windows and the
///         market's capacity now, the bad-debt ledger and the deficits queued for auto-deleveraging.
/// @dev A module of PerpEngine, after LiquidationEngine in the fall-through order (Aave's
///      PoolConfigurator, as a module): the liquidation engine keeps its bytes for planning and
///      executing tranches. Unknown calls fall through to auto-deleveraging.
contract LiquidationConfigurator is ILiquidationConfigurator, PerpEngineBase {
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
        try ILiquidator(address(this)).previewLiquidation(accountId) {
            revert ILiquidator.NotHeldBack(accountId);
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
        // Held back now: a clock not running starts now; a running one goes on.
        if (_clockStart(acct, margin) == 0) {
            acct.liquidatableSince = uint40(block.timestamp);
            acct.marginAtFlag = uint128(margin);
            emit ILiquidator.AccountFlagged(accountId, block.timestamp);
        }
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
        _liqConfig = c;
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
        _rewardConfig = r;
        emit RewardConfigSet(r);
    }

    /// @inheritdoc ILiquidationConfigurator
    function liquidationCapacity(
        uint256 marketId
    ) external view returns (uint256 capacity, uint256 used, uint256 windowEndsAt) {
        Config memory c = _liqConfig;
        Window memory w = _rolled(_capacityWindows[marketId], c.capacityWindow);
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
        Config memory c = _liqConfig;
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
        RewardConfig memory r = _rewardConfig;
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
        Window memory w = _capacityWindows[marketId];
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

    function _rolled(Window memory w, uint256 length) internal view returns (Window memory) {
        if (block.timestamp >= uint256(w.start) + length) return Window(uint40(block.timestamp), 0);
        return w;
    }
}
