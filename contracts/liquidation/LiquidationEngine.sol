// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
// solhint-disable-next-line max-line-length
import {AutomationCompatibleInterface} from "@chainlink/contracts/src/v0.8/automation/interfaces/AutomationCompatibleInterface.sol";

import {ILiquidationEngine} from "../interfaces/ILiquidationEngine.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds, ParameterOutOfBounds} from "../libraries/Bounds.sol";
import {WAD} from "../libraries/Constants.sol";

/// @title LiquidationEngine
/// @notice Tranche-based gradual liquidation. Each call closes one tranche of an account below
///         maintenance margin: the smaller of `trancheFraction` of every position and what brings the
///         account back to maintenance plus a buffer; a dust remainder closes too; an account below the
///         backstop threshold closes in full, without cooldown. Liquidated notional per market and window
///         is capped, so forced selling is spread in time; only an account near bankruptcy (below the
///         capBypassRatio threshold) bypasses the cap. Fills are at the oracle index price.
/// @dev previewLiquidation and liquidate run the same `_plan`; execution then checks every realised
///      value against the plan (ExecutionDiverged), so the preview is exact by construction.
contract LiquidationEngine is
    ILiquidationEngine,
    AutomationCompatibleInterface,
    AccessControl,
    ReentrancyGuardTransient
{
    using FixedPoint for uint256;
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
    uint256 public constant MIN_ADL_WINDOW = 1;
    uint256 public constant MAX_ADL_WINDOW = 1 days;
    uint256 public constant MAX_BATCH = 100;
    uint256 public constant MAX_SCAN = 500;

    IPerpEngine public immutable engine;
    IVault public immutable vault;
    IInsuranceFund public immutable insuranceFund;
    IERC20 public immutable collateral;
    uint256 public immutable SCALE;

    Config public config;
    RewardConfig public rewardConfig;
    AdlConfig public adlConfig;

    struct AccountState {
        uint40 lastTrancheAt;
        uint40 liquidatableSince;
        uint128 marginAtFlag; // margin when flagged: more margin since means the owner acted, clock restarts
    }

    struct Window {
        uint40 start;
        uint128 used; // quote notional (WAD)
    }

    mapping(uint256 accountId => AccountState) public accountState;
    mapping(uint256 marketId => Window) public capacityWindow;
    mapping(uint256 marketId => Window) public adlWindow;
    /// @notice Bad debt the fund could not cover, per market and side of the bankrupt positions,
    ///         waiting for auto-deleveraging of the other side.
    mapping(uint256 marketId => mapping(bool bankruptLong => uint256 amountWad)) public pendingDeficit;

    /// @notice Bad-debt accounting: incurred == covered + socialised + pending, always.
    uint256 public badDebtIncurred;
    uint256 public badDebtCovered;
    uint256 public badDebtSocialised;
    uint256 public badDebtPending;

    constructor(IPerpEngine engine_, IVault vault_, IInsuranceFund insuranceFund_, address admin, address governor) {
        if (
            address(engine_) == address(0) ||
            address(vault_) == address(0) ||
            address(insuranceFund_) == address(0) ||
            admin == address(0) ||
            governor == address(0)
        ) revert ParameterOutOfBounds("address", 0, 1, type(uint160).max);
        engine = engine_;
        vault = vault_;
        insuranceFund = insuranceFund_;
        collateral = IERC20(vault_.asset());
        SCALE = vault_.SCALE();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
        _setConfig(
            Config({
                trancheFraction: 0.25e18,
                healthBuffer: 0.1e18,
                backstopRatio: 0.6667e18,
                penaltyRate: 0.005e18,
                cooldown: 30,
                capacityWindow: 60,
                capacityDepthFactor: 0.005e18,
                dustNotional: 100e18,
                capBypassRatio: 0.6667e18
            })
        );
        _setRewardConfig(
            RewardConfig({
                flat: 2e18,
                shareOfNotional: 0.0005e18,
                min: 2e18,
                max: 500e18,
                escalationPerSecond: 0.001e18,
                maxMultiplier: 3e18
            })
        );
        _setAdlConfig(AdlConfig({window: 3600, maxNotionalPerWindow: 10_000_000e18}));
    }

    // ================================================================== admin

    function setConfig(Config calldata c) external onlyRole(Roles.GOVERNOR) {
        _setConfig(c);
    }

    function setRewardConfig(RewardConfig calldata r) external onlyRole(Roles.GOVERNOR) {
        _setRewardConfig(r);
    }

    function setAdlConfig(AdlConfig calldata a) external onlyRole(Roles.GOVERNOR) {
        _setAdlConfig(a);
    }

    function _setConfig(Config memory c) internal {
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
        config = c;
        emit ConfigSet(c);
    }

    function _setRewardConfig(RewardConfig memory r) internal {
        Bounds.check("rewardMax", r.max, 0, MAX_REWARD);
        Bounds.check("rewardMin", r.min, 0, r.max);
        Bounds.check("rewardFlat", r.flat, 0, MAX_REWARD);
        Bounds.check("rewardShare", r.shareOfNotional, 0, MAX_REWARD_SHARE);
        Bounds.check("escalationPerSecond", r.escalationPerSecond, 0, MAX_ESCALATION_PER_SECOND);
        Bounds.check("maxMultiplier", r.maxMultiplier, WAD, MAX_REWARD_MULTIPLIER);
        rewardConfig = r;
        emit RewardConfigSet(r);
    }

    function _setAdlConfig(AdlConfig memory a) internal {
        Bounds.check("adlWindow", a.window, MIN_ADL_WINDOW, MAX_ADL_WINDOW);
        Bounds.check("adlMaxNotional", a.maxNotionalPerWindow, 1, type(uint128).max);
        adlConfig = a;
        emit AdlConfigSet(a);
    }

    // ================================================================== liquidation

    /// @inheritdoc ILiquidationEngine
    function liquidate(uint256 accountId) external nonReentrant returns (uint256 trancheNotional) {
        (Plan memory plan, Status status, bytes memory reason) = _plan(accountId);
        if (status != Status.Ok) _revertFor(plan, status, reason);
        _execute(plan, msg.sender);
        return plan.trancheNotional;
    }

    /// @inheritdoc ILiquidationEngine
    function liquidateBatch(uint256[] memory accountIds) public nonReentrant returns (uint256 liquidated) {
        if (accountIds.length > MAX_BATCH) revert BatchTooLarge(accountIds.length, MAX_BATCH);
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
    }

    /// @notice One account of a batch: planned and, when it can be liquidated now, executed; otherwise
    ///         the status says why not. Callable only by this contract (the batch holds the lock).
    function executeForBatch(uint256 accountId, address keeper) external returns (Status status) {
        if (msg.sender != address(this)) revert NotSelf(msg.sender);
        Plan memory plan;
        (plan, status, ) = _plan(accountId);
        if (status == Status.Ok) _execute(plan, keeper);
    }

    /// @inheritdoc ILiquidationEngine
    function previewLiquidation(uint256 accountId) external view returns (Plan memory plan) {
        Status status;
        bytes memory reason;
        (plan, status, reason) = _plan(accountId);
        if (status != Status.Ok) _revertFor(plan, status, reason);
    }

    /// @inheritdoc ILiquidationEngine
    function flag(uint256 accountId) external {
        if (accountState[accountId].liquidatableSince != 0) return;
        (IPerpEngine.AccountSummary memory s, ) = engine.liquidationSnapshot(accountId);
        if (s.maintenanceMargin == 0 || s.equity >= int256(s.maintenanceMargin)) {
            revert AccountHealthy(accountId, s.equity, s.maintenanceMargin);
        }
        accountState[accountId].liquidatableSince = uint40(block.timestamp);
        accountState[accountId].marginAtFlag = s.margin.toUint128();
        emit AccountFlagged(accountId, block.timestamp);
    }

    /// @notice Stops the reward-escalation clock of an account that is healthy again. Permissionless.
    function clearFlag(uint256 accountId) external {
        if (accountState[accountId].liquidatableSince == 0) return;
        (IPerpEngine.AccountSummary memory s, ) = engine.liquidationSnapshot(accountId);
        if (s.maintenanceMargin != 0 && s.equity < int256(s.maintenanceMargin)) {
            revert TrancheCoolingDown(accountId, 0);
        }
        accountState[accountId].liquidatableSince = 0;
        emit AccountFlagged(accountId, 0);
    }

    // ================================================================== Chainlink Automation

    /// @notice checkData = abi.encode(firstAccountId, count). Returns the accounts in that page that
    ///         can be liquidated now (at most MAX_BATCH), as performData = abi.encode(uint256[]).
    function checkUpkeep(bytes calldata checkData) external view returns (bool upkeepNeeded, bytes memory performData) {
        (uint256 first, uint256 count) = abi.decode(checkData, (uint256, uint256));
        uint256[] memory ids = liquidatableAccounts(first, count);
        if (ids.length > MAX_BATCH) {
            assembly ("memory-safe") {
                mstore(ids, MAX_BATCH)
            }
        }
        return (ids.length != 0, abi.encode(ids));
    }

    /// @notice Liquidates the accounts in performData, re-checking each: input is never trusted, a
    ///         healthy or unknown account is skipped.
    function performUpkeep(bytes calldata performData) external {
        liquidateBatch(abi.decode(performData, (uint256[])));
    }

    /// @inheritdoc ILiquidationEngine
    function liquidatableAccounts(uint256 firstAccountId, uint256 count) public view returns (uint256[] memory ids) {
        uint256 end = firstAccountId + count.min(MAX_SCAN);
        uint256 next = engine.nextAccountId();
        if (end > next) end = next;
        if (firstAccountId == 0) firstAccountId = 1;
        ids = new uint256[](end > firstAccountId ? end - firstAccountId : 0);
        uint256 n;
        for (uint256 id = firstAccountId; id < end; ++id) {
            (, Status status, ) = _plan(id);
            if (status == Status.Ok) ids[n++] = id;
        }
        assembly ("memory-safe") {
            mstore(ids, n)
        }
    }

    // ================================================================== auto-deleveraging

    /// @inheritdoc ILiquidationEngine
    function autoDeleverage(
        uint256 marketId,
        bool bankruptLong,
        uint256[] calldata candidates
    ) external nonReentrant returns (uint256 recovered) {
        uint256 deficit = pendingDeficit[marketId][bankruptLong];
        if (deficit == 0) revert NothingToDeleverage(marketId, bankruptLong);
        if (candidates.length > MAX_BATCH) revert BatchTooLarge(candidates.length, MAX_BATCH);
        AdlConfig memory ac = adlConfig;
        Window memory w = _rolled(adlWindow[marketId], ac.window);
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
        adlWindow[marketId] = w;
        pendingDeficit[marketId][bankruptLong] = deficit;
        badDebtPending -= recovered;
        badDebtSocialised += recovered;
    }

    /// @dev Closes the part of one candidate's position whose profit equals the remaining deficit (or all
    ///      of it), at its break-even price, so that part realises nothing and the LP pool keeps the
    ///      profit it would have paid: that is what recovers the deficit. Never takes a candidate's
    ///      principal. Candidates must be given by non-increasing pnl * leverage.
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

    /// @return done false when the window has no room for any of this candidate's size
    function _deleverageOne(AdlStep memory st) internal returns (bool done) {
        (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) = engine.liquidationSnapshot(
            st.accountId
        );
        IPerpEngine.PositionSnapshot memory p = _find(ps, st.marketId);
        // the other side of the bankrupt positions, in profit, on an account with positive equity
        if (p.size == 0 || (p.size > 0) == st.bankruptLong || p.value <= 0 || s.equity <= 0) {
            revert NotAnAdlCandidate(st.accountId, st.marketId);
        }
        st.score = uint256(p.value).mulDivDown(s.notional, uint256(s.equity));
        if (st.score > st.previousScore) revert AdlCandidatesNotRanked(st.accountId, st.score, st.previousScore);
        (int256 closed, uint256 fill, int256 valueAtIndex) = _adlClose(p, st.deficit, st.room);
        if (closed == 0) return false;
        (int256 realised, , ) = engine.forceReduce(st.accountId, st.marketId, -closed, fill);
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

    // ================================================================== planning

    /// @dev Everything a tranche will do, computed from one engine snapshot. Shared by preview and execution.
    function _plan(uint256 accountId) internal view returns (Plan memory plan, Status status, bytes memory reason) {
        plan.accountId = accountId;
        IPerpEngine.AccountSummary memory s;
        IPerpEngine.PositionSnapshot[] memory ps;
        try engine.liquidationSnapshot(accountId) returns (
            IPerpEngine.AccountSummary memory s_,
            IPerpEngine.PositionSnapshot[] memory ps_
        ) {
            (s, ps) = (s_, ps_);
        } catch (bytes memory r) {
            return (plan, Status.SnapshotFailed, r);
        }
        if (ps.length == 0) return (plan, Status.NoPositions, reason);
        plan.equity = s.equity;
        plan.maintenanceMargin = s.maintenanceMargin;
        plan.marginBefore = s.margin;
        if (s.equity >= int256(s.maintenanceMargin)) return (plan, Status.Healthy, reason);

        Config memory c = config;
        plan.backstop = s.equity < int256(s.maintenanceMargin.mulWadDown(c.backstopRatio));
        if (!plan.backstop) {
            uint256 readyAt = uint256(accountState[accountId].lastTrancheAt) + c.cooldown;
            if (accountState[accountId].lastTrancheAt != 0 && block.timestamp < readyAt) {
                plan.fraction = readyAt; // carried to the error
                return (plan, Status.CoolingDown, reason);
            }
        }
        plan.fraction = plan.backstop ? WAD : _fraction(c, s);
        if (plan.fraction < WAD && s.notional.mulWadDown(WAD - plan.fraction) < c.dustNotional) plan.fraction = WAD;
        // Near bankruptcy (below capBypassRatio) the whole position goes now; any other tranche, a
        // backstop's included, fits in the markets' remaining capacity and waits for the next window.
        if (s.equity >= int256(s.maintenanceMargin.mulWadDown(c.capBypassRatio))) {
            uint256 blocked;
            (plan.fraction, blocked) = _fitCapacity(c, ps, plan.fraction);
            if (plan.fraction == 0) {
                plan.trancheNotional = blocked; // carried to the error
                return (plan, Status.NoCapacity, reason);
            }
        }
        // The vault pays a gain only as far as the LP pool reaches: read it when a leg realises one.
        uint256 pool = type(uint256).max;
        for (uint256 i; i < ps.length; ++i) {
            if (ps[i].value > 0) {
                pool = vault.lpPoolWad();
                break;
            }
        }
        _planLegs(plan, ps, s.margin, pool);
        _planMoney(plan, s);
        return (plan, Status.Ok, reason);
    }

    /// @dev Smallest share of every position whose close brings equity to maintenance * (1 + buffer),
    ///      assuming the full penalty is charged (so it errs toward closing more), capped at the tranche
    ///      fraction. Closing a share x at the index price realises value without changing equity; it
    ///      lowers maintenance margin by at least x of it (the size premium falls with size).
    function _fraction(Config memory c, IPerpEngine.AccountSummary memory s) internal pure returns (uint256) {
        uint256 target = s.maintenanceMargin.mulWadUp(WAD + c.healthBuffer);
        uint256 penaltyAll = s.notional.mulWadUp(c.penaltyRate);
        if (target <= penaltyAll) return c.trancheFraction;
        // s.equity < maintenance <= target here
        uint256 gap = s.equity <= 0 ? target + uint256(-s.equity) : target - uint256(s.equity);
        uint256 needed = gap.mulDivUp(WAD, target - penaltyAll);
        return needed.min(c.trancheFraction).max(1);
    }

    /// @dev Scales the share down to what every market's remaining window capacity allows.
    function _fitCapacity(
        Config memory c,
        IPerpEngine.PositionSnapshot[] memory ps,
        uint256 fraction
    ) internal view returns (uint256, uint256 blockedMarket) {
        for (uint256 i; i < ps.length; ++i) {
            uint256 capacity = ps[i].skewScale.mulWadDown(c.capacityDepthFactor).mulWadDown(ps[i].price);
            Window memory w = _rolled(capacityWindow[ps[i].marketId], c.capacityWindow);
            uint256 room = capacity > w.used ? capacity - w.used : 0;
            uint256 allowed = room.mulDivDown(WAD, ps[i].notional);
            if (allowed < fraction) {
                fraction = allowed;
                blockedMarket = ps[i].marketId;
            }
        }
        return (fraction, blockedMarket);
    }

    /// @dev The legs, ordered gains first so a cross-margined account never shows a spurious shortfall
    ///      on one leg while another leg's gain is still unrealised; and the vault's settlement replayed
    ///      to find the shortfall of each.
    function _planLegs(
        Plan memory plan,
        IPerpEngine.PositionSnapshot[] memory ps,
        uint256 margin,
        uint256 pool
    ) internal pure {
        uint256 n = ps.length;
        plan.legs = new Leg[](n);
        for (uint256 i; i < n; ++i) {
            IPerpEngine.PositionSnapshot memory p = ps[i];
            uint256 absSize = FixedPoint.abs(p.size);
            uint256 closeAbs = plan.fraction == WAD ? absSize : absSize.mulDivUp(plan.fraction, WAD).min(absSize);
            int256 closed = p.size > 0 ? int256(closeAbs) : -int256(closeAbs);
            Leg memory leg = Leg({
                marketId: p.marketId,
                sizeDelta: -closed,
                price: p.price,
                notional: PerpMath.notional(closed, p.price),
                realised: PerpMath.positionValue(closed, p.basis, p.price, p.fundingIndex),
                shortfall: 0,
                bankruptLong: p.size > 0
            });
            if (closeAbs < absSize)
                plan.remainingMaintenance += p.maintenanceMargin.mulDivUp(absSize - closeAbs, absSize);
            // insertion by realised value, descending
            uint256 j = i;
            while (j > 0 && plan.legs[j - 1].realised < leg.realised) {
                plan.legs[j] = plan.legs[j - 1];
                --j;
            }
            plan.legs[j] = leg;
            plan.trancheNotional += leg.notional;
        }
        // Replays Vault.settle: a gain is paid up to the pool, a loss is taken from margin into the pool.
        for (uint256 i; i < n; ++i) {
            int256 r = plan.legs[i].realised;
            if (r >= 0) {
                uint256 paid = uint256(r).min(pool);
                pool -= paid;
                margin += paid;
            } else {
                uint256 loss = uint256(-r);
                uint256 taken = loss.min(margin);
                margin -= taken;
                if (pool != type(uint256).max) pool += taken;
                plan.legs[i].shortfall = loss - taken;
                plan.badDebt += loss - taken;
            }
        }
        // what is left for the penalty: carried in keeperFromPenalty until _planMoney splits it
        plan.keeperFromPenalty = margin;
    }

    /// @dev Penalty, keeper reward, insurance share and bad-debt routing, in the vault's and the fund's
    ///      own rounding so that the plan is what they will do.
    function _planMoney(Plan memory plan, IPerpEngine.AccountSummary memory s) internal view {
        uint256 marginLeft = plan.keeperFromPenalty;
        Config memory c = config;
        // The penalty never exceeds half the equity share being closed, so a tranche cannot make the
        // account less healthy; an account with no equity pays none.
        uint256 penalty = plan.trancheNotional.mulWadUp(c.penaltyRate);
        uint256 cap = s.equity > 0 ? uint256(s.equity).mulWadDown(plan.fraction) / 2 : 0;
        penalty = penalty.min(cap);
        uint256 reward = _reward(plan.accountId, plan.trancheNotional, s.margin);
        uint256 fromPenalty = reward.min(penalty);
        plan.keeperFromPenalty = fromPenalty.min(marginLeft);
        plan.insuranceShare = (penalty - fromPenalty).min(marginLeft - plan.keeperFromPenalty);
        plan.marginAfter = marginLeft - plan.keeperFromPenalty - plan.insuranceShare;

        // The fund is only read when it has to pay: bad debt, or a reward the penalty cannot cover.
        if (plan.badDebt == 0 && reward <= plan.keeperFromPenalty) {
            plan.keeperReward = plan.keeperFromPenalty;
            return;
        }
        uint256 available = collateral.balanceOf(address(insuranceFund)) + vault.insurancePendingWad() / SCALE;
        if (plan.badDebt != 0) {
            uint256 tokens = plan.badDebt.mulDivUp(1, SCALE).min(available);
            plan.badDebtCovered = (tokens * SCALE).min(plan.badDebt);
            plan.badDebtSocialised = plan.badDebt - plan.badDebtCovered;
            available -= tokens;
        }
        if (reward > plan.keeperFromPenalty) {
            plan.keeperFromFund = ((reward - plan.keeperFromPenalty) / SCALE).min(available) * SCALE;
        }
        plan.keeperReward = plan.keeperFromPenalty + plan.keeperFromFund;
    }

    function _reward(uint256 accountId, uint256 notional, uint256 margin) internal view returns (uint256) {
        RewardConfig memory r = rewardConfig;
        uint256 base = (uint256(r.flat) + notional.mulWadDown(r.shareOfNotional)).clamp(r.min, r.max);
        AccountState memory a = accountState[accountId];
        // An owner who added margin since the flag acted on it: the clock starts again.
        uint256 since = margin > a.marginAtFlag ? 0 : a.liquidatableSince;
        uint256 elapsed = since == 0 ? 0 : block.timestamp - since;
        uint256 multiplier = (WAD + elapsed * r.escalationPerSecond).min(r.maxMultiplier);
        return base.mulWadDown(multiplier);
    }

    // ================================================================== execution

    function _execute(Plan memory plan, address keeper) internal {
        uint256 accountId = plan.accountId;
        AccountState memory a = accountState[accountId];
        if (a.liquidatableSince == 0 || plan.marginBefore > a.marginAtFlag) {
            a.liquidatableSince = uint40(block.timestamp);
        }
        uint256 since = a.liquidatableSince;
        a.lastTrancheAt = uint40(block.timestamp);

        Config memory c = config;
        for (uint256 i; i < plan.legs.length; ++i) {
            Leg memory leg = plan.legs[i];
            (int256 realised, uint256 shortfall, ) = engine.forceReduce(accountId, leg.marketId, leg.sizeDelta, 0);
            if (realised != leg.realised || shortfall != leg.shortfall)
                revert ExecutionDiverged(accountId, leg.marketId);
            Window memory w = _rolled(capacityWindow[leg.marketId], c.capacityWindow);
            w.used = (uint256(w.used) + leg.notional).min(type(uint128).max).toUint128();
            capacityWindow[leg.marketId] = w;
        }
        if (plan.keeperFromPenalty != 0 || plan.insuranceShare != 0) {
            vault.chargePenalty(accountId, keeper, plan.keeperFromPenalty, plan.insuranceShare);
        }
        if (plan.badDebt != 0) _routeBadDebt(plan);
        if (plan.keeperFromFund != 0) {
            if (insuranceFund.payKeeper(keeper, plan.keeperFromFund) != plan.keeperFromFund) {
                revert ExecutionDiverged(accountId, type(uint256).max);
            }
        }

        uint256 healthAfter = _checkImproved(plan);
        // A healthy or closed account starts a fresh escalation clock next time.
        if (healthAfter >= WAD) a.liquidatableSince = 0;
        a.marginAtFlag = plan.marginAfter.toUint128();
        accountState[accountId] = a;
        _emitLegs(plan, keeper);
        emit LiquidationSettled(
            accountId,
            keeper,
            plan.backstop,
            plan.fraction,
            plan.trancheNotional,
            healthAfter,
            since
        );
    }

    function _routeBadDebt(Plan memory plan) internal {
        badDebtIncurred += plan.badDebt;
        if (plan.badDebtCovered != 0) {
            uint256 covered = insuranceFund.cover(plan.badDebt);
            if (covered != plan.badDebtCovered) revert ExecutionDiverged(plan.accountId, type(uint256).max);
            badDebtCovered += covered;
        }
        uint256 toCover = plan.badDebtCovered;
        for (uint256 i; i < plan.legs.length; ++i) {
            uint256 shortfall = plan.legs[i].shortfall;
            if (shortfall == 0) continue;
            uint256 covered = shortfall.min(toCover);
            toCover -= covered;
            uint256 socialised = shortfall - covered;
            if (socialised == 0) continue;
            pendingDeficit[plan.legs[i].marketId][plan.legs[i].bankruptLong] += socialised;
            badDebtPending += socialised;
            emit DeficitQueued(plan.legs[i].marketId, plan.legs[i].bankruptLong, socialised);
        }
    }

    /// @dev Every tranche leaves the account healthier or closed. Execution has already matched the
    ///      plan to the wei (realised values and shortfalls), so equity after is exact: equity before,
    ///      less what the penalty took, less the rounding of splitting each position (floor of the parts
    ///      <= the whole). Maintenance after is bounded above by each position's maintenance scaled to
    ///      what remains (the size premium only falls with size), plus a wei per leg. The health this
    ///      yields is a lower bound of the true one, so asserting it improved is the stricter check.
    function _checkImproved(Plan memory plan) internal pure returns (uint256 healthAfter) {
        if (plan.fraction == WAD) return type(uint256).max; // closed
        int256 equityAfter =
            plan.equity - int256(plan.keeperFromPenalty + plan.insuranceShare) - int256(plan.legs.length);
        uint256 mmAfter = plan.remainingMaintenance + plan.legs.length;
        healthAfter = equityAfter <= 0 ? 0 : uint256(equityAfter).mulDivDown(WAD, mmAfter);
        uint256 before = plan.equity <= 0 ? 0 : uint256(plan.equity).mulDivDown(WAD, plan.maintenanceMargin);
        if (healthAfter <= before) revert TrancheDidNotImproveHealth(plan.accountId, before, healthAfter);
    }

    /// @dev Per-leg events; penalty and reward are split by notional (the last leg takes the rounding),
    ///      bad debt is reported on the leg where it arose.
    function _emitLegs(Plan memory plan, address keeper) internal {
        uint256 penalty = plan.keeperFromPenalty + plan.insuranceShare;
        uint256 penaltyLeft = penalty;
        uint256 rewardLeft = plan.keeperReward;
        uint256 toCover = plan.badDebtCovered;
        uint256 n = plan.legs.length;
        for (uint256 i; i < n; ++i) {
            Leg memory leg = plan.legs[i];
            uint256 legPenalty = i + 1 == n ? penaltyLeft : penalty.mulDivDown(leg.notional, plan.trancheNotional);
            uint256 legReward =
                i + 1 == n ? rewardLeft : plan.keeperReward.mulDivDown(leg.notional, plan.trancheNotional);
            penaltyLeft -= legPenalty;
            rewardLeft -= legReward;
            uint256 covered = leg.shortfall.min(toCover);
            toCover -= covered;
            emit TrancheLiquidated(
                plan.accountId,
                leg.marketId,
                keeper,
                leg.sizeDelta,
                leg.price,
                legPenalty,
                legReward,
                covered,
                leg.shortfall - covered
            );
        }
    }

    // ================================================================== helpers

    function _rolled(Window memory w, uint256 length) internal view returns (Window memory) {
        if (block.timestamp >= uint256(w.start) + length) return Window(uint40(block.timestamp), 0);
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

    function _revertFor(Plan memory plan, Status status, bytes memory reason) internal view {
        if (status == Status.SnapshotFailed) {
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
        if (status == Status.NoPositions) revert NoPositions(plan.accountId);
        if (status == Status.Healthy) revert AccountHealthy(plan.accountId, plan.equity, plan.maintenanceMargin);
        if (status == Status.CoolingDown) revert TrancheCoolingDown(plan.accountId, plan.fraction);
        uint256 windowEnds = uint256(capacityWindow[plan.trancheNotional].start) + config.capacityWindow;
        revert LiquidationCapacityExhausted(plan.accountId, plan.trancheNotional, windowEnds);
    }
}
