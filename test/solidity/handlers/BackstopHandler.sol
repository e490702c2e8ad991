// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Vm} from "forge-std/Vm.sol";

import {BackstopVault} from "../../../contracts/backstop/BackstopVault.sol";
import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {Vault} from "../../../contracts/vault/Vault.sol";
import {OracleAdapter} from "../../../contracts/oracle/OracleAdapter.sol";
import {IBackstopEngine, IBackstopTypes} from "../../../contracts/interfaces/IBackstop.sol";
import {ILiquidationEngine} from "../../../contracts/interfaces/ILiquidationEngine.sol";
import {IPerpEngine} from "../../../contracts/interfaces/IPerpEngine.sol";
import {MockAggregator} from "../../../contracts/mocks/MockAggregator.sol";
import {MockUSDC} from "../../../contracts/mocks/MockUSDC.sol";
import {WAD} from "../../../contracts/libraries/Constants.sol";

/// @notice An adversary of the backstop vault (issue 12): traders open and close positions in two markets,
///         prices move by up to 20% at a step, the keeper liquidates (an account at the backstop is taken
///         over by the vault), traders liquidate their own accounts into the vault, others open against
///         the vault's inventory (a later takeover nets), anyone unwinds, depositors enter the vault, request
///         and redeem (a run on the shares), and the clock jumps past the vault's cooldown, the inventory's
///         maxHold and the drawdown window.
///
///         Every property is checked at the moment it can break, by measuring before and after the call
///         and recomputing what the contracts promise from their views; a breach adds to a ghost counter
///         (a failed assertion inside a handler call would only be a discarded revert) and records its
///         figures in `lastViolation`. BackstopInvariant.t.sol asserts the counters stay zero.
///         BackstopDeleverageHandler acts beside it on the same accounts (deleverageBackstop).
contract BackstopHandler is CommonBase, StdUtils {
    uint256 internal constant ETH = 0;
    uint256 internal constant BTC = 1;
    uint256 internal constant MAX_PRICE = type(uint256).max;

    MockUSDC public immutable usdc;
    Vault public immutable vault;
    PerpEngine public immutable engine;
    ILiquidationEngine public immutable liq;
    IBackstopEngine public immutable bs;
    BackstopVault public immutable bv;
    OracleAdapter public immutable oracle;
    MockAggregator public immutable ethFeed;
    MockAggregator public immutable btcFeed;
    address public immutable keeper;
    uint256 public immutable SCALE;
    uint256 public immutable vaultId;

    address[3] internal _traders;
    address[3] internal _depositors;
    uint256[] public accounts;
    mapping(uint256 accountId => address) public ownerOf;
    int256 internal _ethAnswer;
    int256 internal _btcAnswer;
    int256 internal immutable _ethStart;
    int256 internal immutable _btcStart;

    // -------------------------------------------------------------- coverage (a run with none checked little)
    uint256 public ghost_takeovers;
    uint256 public ghost_selfTakeovers;
    uint256 public ghost_nettedTakeovers;
    /// @notice Takeovers that logged AccountTakenOver in the self-call and then reverted there (a cap checked
    ///         after the legs moved): the recorded logs keep a reverted frame's events, so the event alone does
    ///         not prove a takeover; the engine closed the account in the market instead.
    uint256 public ghost_declinedAfterEvent;
    uint256 public ghost_closes;
    uint256 public ghost_unwinds;
    uint256 public ghost_lateUnwinds;
    uint256 public ghost_deposits;
    uint256 public ghost_redemptions;
    uint256 public ghost_refusedRedemptions;

    // -------------------------------------------------------------- breaches (must stay 0)
    /// @notice A takeover changed a market's skew, or open interest other than by the netted size.
    uint256 public ghost_oiBroken;
    /// @notice The vault's account below maintenance right after a takeover.
    uint256 public ghost_vaultUnderMaintenance;
    /// @notice A takeover in which the vault paid bad debt the fund could not cover and ended it at or past
    ///         badDebtDrawdown below the drawdown breaker's peak.
    uint256 public ghost_badDebtPastBound;
    /// @notice Takeovers in which the vault paid bad debt (coverage).
    uint256 public ghost_badDebtPaid;
    /// @notice A takeover past a cap (account, market or total), recomputed from the views.
    uint256 public ghost_capBroken;
    /// @notice An unwind sold more than the budget's room, or left the forced flow above the budget.
    uint256 public ghost_unwindOverBudget;
    /// @notice An unwind's loss beyond the vault's margin that the bad-debt ledger did not take in full.
    uint256 public ghost_vaultLossLost;
    /// @notice A redemption paid more than the vault's free margin (equity less initial margin), or left the
    ///         vault's account under its initial margin.
    uint256 public ghost_redeemOverFree;
    /// @notice A takeover after which the trader (with the keeper's reward when it liquidated itself) held
    ///         more than a close at the oracle would have left it (its equity at the oracle price).
    uint256 public ghost_roundTripProfit;
    string public lastViolation;

    constructor(
        MockUSDC usdc_,
        Vault vault_,
        PerpEngine engine_,
        BackstopVault bv_,
        OracleAdapter oracle_,
        MockAggregator ethFeed_,
        MockAggregator btcFeed_,
        address keeper_
    ) {
        usdc = usdc_;
        vault = vault_;
        engine = engine_;
        liq = ILiquidationEngine(address(engine_));
        bs = IBackstopEngine(address(engine_));
        bv = bv_;
        oracle = oracle_;
        ethFeed = ethFeed_;
        btcFeed = btcFeed_;
        keeper = keeper_;
        SCALE = vault_.SCALE();
        vaultId = bv_.accountId();
        (, _ethAnswer, , , ) = ethFeed_.latestRoundData();
        (, _btcAnswer, , , ) = btcFeed_.latestRoundData();
        _ethStart = _ethAnswer;
        _btcStart = _btcAnswer;
        for (uint256 i; i < 3; ++i) {
            _traders[i] = address(uint160(uint256(keccak256(abi.encode("backstop trader", i)))));
            _depositors[i] = address(uint160(uint256(keccak256(abi.encode("backstop depositor", i)))));
            vm.prank(_traders[i]);
            usdc_.approve(address(vault_), type(uint256).max);
            vm.prank(_depositors[i]);
            usdc_.approve(address(bv_), type(uint256).max);
        }
    }

    // ================================================================== trading

    /// @notice A trader opens a position of $2k to $1M at 5x to 25x in one market.
    function open(uint256 actorSeed, uint256 marketSeed, uint256 notionalSeed, uint256 levSeed, bool long) external {
        uint256 m = marketSeed % 2;
        uint256 notional = _bound(notionalSeed, 2_000, 1_000_000) * WAD;
        _openAccount(_traders[actorSeed % 3], m, notional, _bound(levSeed, 5, 25), long);
    }

    /// @notice A trader opens against the vault's inventory (the other side, at 20x to 25x), so that its own
    ///         takeover later nets against that inventory with no sale.
    function openAgainstInventory(uint256 actorSeed, uint256 marketSeed, uint256 notionalSeed) external {
        uint256 m = marketSeed % 2;
        int256 inventory = _vaultSize(m);
        if (inventory == 0) return;
        uint256 notional = _bound(notionalSeed, 2_000, 200_000) * WAD;
        _openAccount(_traders[actorSeed % 3], m, notional, 20 + (notionalSeed % 6), inventory < 0);
    }

    /// @notice The owner closes every position of one of its accounts (never blocked).
    function close(uint256 seed) external {
        if (accounts.length == 0) return;
        uint256 id = accounts[seed % accounts.length];
        for (uint256 m; m < 2; ++m) {
            int256 size = engine.positionView(id, m).size;
            if (size == 0) continue;
            vm.prank(ownerOf[id]);
            try engine.modifyPosition(id, m, -size, size > 0 ? 0 : MAX_PRICE) {
                ++ghost_closes;
            } catch {}
        }
    }

    /// @notice Moves one market's price by -20% .. +20% (a gap), within 30% .. 170% of where it started.
    function movePrice(uint256 marketSeed, uint256 bpsSeed) external {
        int256 bps = int256(_bound(bpsSeed, 0, 4_000)) - 2_000;
        vm.warp(block.timestamp + 5);
        if (marketSeed % 2 == ETH) _ethAnswer = _clamp((_ethAnswer * (10_000 + bps)) / 10_000, _ethStart);
        else _btcAnswer = _clamp((_btcAnswer * (10_000 + bps)) / 10_000, _btcStart);
        _push();
    }

    /// @notice Lets time pass: seconds, or past the vault's cooldown, the inventory's maxHold, the drawdown
    ///         window or the forced flow's half-life.
    function warp(uint256 kindSeed, uint256 secondsSeed) external {
        IBackstopTypes.BackstopConfig memory c = bs.backstopConfig();
        uint256 k = kindSeed % 5;
        uint256 dt =
            k == 0
                ? _bound(secondsSeed, 1, 600)
                : k == 1
                    ? uint256(bv.cooldown()) + 1
                    : k == 2
                        ? uint256(c.maxHold) + 1
                        : k == 3
                            ? uint256(c.drawdownWindow) + 1
                            : uint256(c.flowHalfLife) * _bound(secondsSeed, 1, 4);
        vm.warp(block.timestamp + dt);
        _push();
    }

    // ================================================================== liquidation

    /// @notice The keeper liquidates one account.
    function liquidate(uint256 seed) external {
        if (accounts.length == 0) return;
        _liquidate(accounts[seed % accounts.length], keeper);
    }

    /// @notice The owner liquidates its own account as its keeper: a self-liquidation into the vault.
    function selfLiquidate(uint256 seed) external {
        if (accounts.length == 0) return;
        uint256 id = accounts[seed % accounts.length];
        _liquidate(id, ownerOf[id]);
    }

    /// @notice A keeper pass: every account in turn, then an unwind of each market with inventory (the
    ///         keeper's own job).
    function liquidateAll() external {
        for (uint256 i; i < accounts.length; ++i) _liquidate(accounts[i], keeper);
        for (uint256 m; m < 2; ++m) _unwind(m, keeper);
    }

    /// @notice Anyone unwinds the vault's inventory in one market.
    function unwind(uint256 marketSeed, uint256 callerSeed) external {
        _unwind(marketSeed % 2, address(uint160(uint256(keccak256(abi.encode(callerSeed))))));
    }

    // ================================================================== the vault's shares

    /// @notice A depositor puts $1k to $500k into the backstop vault.
    function deposit(uint256 actorSeed, uint256 amountSeed) external {
        address d = _depositors[actorSeed % 3];
        uint256 amount = _bound(amountSeed, 1_000, 500_000) * 1e6;
        usdc.mint(d, amount);
        vm.prank(d);
        try bv.deposit(amount, d) {
            ++ghost_deposits;
        } catch {}
    }

    /// @notice A depositor requests the redemption of some or all of its shares.
    function requestRedeem(uint256 actorSeed, uint256 shareSeed) external {
        address d = _depositors[actorSeed % 3];
        uint256 held = bv.balanceOf(d);
        if (held == 0) return;
        vm.prank(d);
        bv.requestRedeem(_bound(shareSeed, 1, held));
    }

    /// @notice A depositor redeems what it requested (all at once: a run), checked against the vault's free
    ///         margin.
    function redeem(uint256 actorSeed, uint256 shareSeed) external {
        address d = _depositors[actorSeed % 3];
        uint256 ready = bv.maxRedeem(d);
        if (ready == 0) return;
        uint256 shares = shareSeed % 2 == 0 ? ready : _bound(shareSeed, 1, ready);
        (IPerpEngine.AccountSummary memory s, ) = engine.liquidationSnapshot(vaultId);
        uint256 free = s.margin;
        if (s.notional != 0) {
            int256 f = s.equity - int256(s.initialMargin);
            free = f <= 0 ? 0 : _min(uint256(f), s.margin);
        }
        vm.prank(d);
        try bv.redeem(shares, d, d) returns (uint256 assets) {
            ++ghost_redemptions;
            (IPerpEngine.AccountSummary memory a, ) = engine.liquidationSnapshot(vaultId);
            if (assets * SCALE > free || (a.notional != 0 && a.equity < int256(a.initialMargin))) {
                ++ghost_redeemOverFree;
                lastViolation = string.concat(
                    "redeem: paid ",
                    vm.toString(assets * SCALE),
                    " of free margin ",
                    vm.toString(free),
                    "; equity after ",
                    vm.toString(a.equity),
                    ", initial margin ",
                    vm.toString(a.initialMargin)
                );
            }
        } catch {
            ++ghost_refusedRedemptions;
        }
    }

    // ================================================================== views for the suite

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function depositor(uint256 i) external view returns (address) {
        return _depositors[i];
    }

    // ================================================================== internals

    struct Ledger {
        uint256 incurred;
        uint256 covered;
        uint256 socialised;
        uint256 pending;
    }

    /// @dev What a takeover is checked against, read before it.
    struct Before {
        IPerpEngine.AccountSummary trader;
        IPerpEngine.PositionSnapshot[] traderPositions;
        IPerpEngine.AccountSummary vault;
        IPerpEngine.PositionSnapshot[] vaultPositions;
        IPerpEngine.MarketState[2] markets;
        uint256 ownerRewards;
    }

    function _unwind(uint256 m, address caller) internal {
        if (_vaultSize(m) == 0) return;
        (, uint256 used, uint256 budget, bool late) = bs.unwindRoom(m);
        uint256 marginBefore = vault.marginOf(vaultId);
        Ledger memory before = _ledger();
        vm.recordLogs();
        vm.prank(caller);
        try bs.unwind(m) returns (uint256 notional) {
            ++ghost_unwinds;
            if (late) ++ghost_lateUnwinds;
            if (used + notional > budget) {
                ++ghost_unwindOverBudget;
                lastViolation = string.concat(
                    "unwind over budget: used ",
                    vm.toString(used),
                    " + sold ",
                    vm.toString(notional),
                    " > budget ",
                    vm.toString(budget)
                );
            }
            if (bs.forcedFlow(m) > budget) {
                ++ghost_unwindOverBudget;
                lastViolation = string.concat("forced flow above the budget: ", vm.toString(bs.forcedFlow(m)));
            }
            _checkUnwindLoss(marginBefore, before);
        } catch {
            vm.getRecordedLogs();
        }
    }

    function _liquidate(uint256 id, address caller) internal {
        Before memory b;
        (b.trader, b.traderPositions) = engine.liquidationSnapshot(id);
        (b.vault, b.vaultPositions) = engine.liquidationSnapshot(vaultId);
        b.markets[ETH] = engine.marketState(ETH);
        b.markets[BTC] = engine.marketState(BTC);
        b.ownerRewards = vault.keeperRewardsOf(ownerOf[id]);
        IBackstopTypes.BackstopConfig memory c = bs.backstopConfig();
        vm.recordLogs();
        vm.prank(caller);
        try liq.liquidate(id) {} catch {
            vm.getRecordedLogs();
            return;
        }
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bool takenOver;
        bool paidBadDebt;
        uint256 notional;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(engine)) continue;
            if (logs[i].topics[0] == IBackstopTypes.AccountTakenOver.selector) {
                takenOver = true;
                (notional, , , , ) = abi.decode(logs[i].data, (uint256, uint256, uint256, uint256, uint256));
            }
            if (logs[i].topics[0] == IBackstopTypes.BackstopBadDebtPaid.selector) paidBadDebt = true;
        }
        if (!takenOver || !_legsMoved(id, b)) return;
        ++ghost_takeovers;
        if (caller == ownerOf[id]) ++ghost_selfTakeovers;
        if (paidBadDebt) _checkBadDebtBound(c);
        _checkOpenInterest(id, b);
        _checkVaultAfter(b, c, notional);
        _checkRoundTrip(id, b);
    }

    /// @dev What the takeover moved of the trader's position in market `m`: its size before less its size now.
    function _part(uint256 id, Before memory b, uint256 m) internal view returns (int256) {
        return _sizeIn(b.traderPositions, m) - engine.positionView(id, m).size;
    }

    /// @dev Whether the takeover whose event was recorded stood: the cheatcode's recorded logs keep the events of
    ///      a reverted frame, and a cap checked after the legs moved (`_checkCaps`: total, market, the vault's
    ///      health) reverts the whole self-call after `AccountTakenOver`, the engine then closing the account in
    ///      the market. A takeover that stood moved the same share of every leg to the vault (above the backstop
    ///      a part where the whole does not fit the unwind cap): in each of the trader's markets the vault's size
    ///      grew by exactly what the trader's fell, and those parts are the same share of each leg's size to
    ///      within each part's rounding toward zero. A reverted one moved none. Legs moved in unequal shares, or
    ///      some and not others, is a breach.
    function _legsMoved(uint256 id, Before memory b) internal returns (bool) {
        uint256 moved;
        uint256 n = b.traderPositions.length;
        int256[] memory parts = new int256[](n);
        for (uint256 i; i < n; ++i) {
            uint256 m = b.traderPositions[i].marketId;
            int256 part = _vaultSize(m) - _sizeIn(b.vaultPositions, m);
            if (part != 0 && part == _part(id, b, m)) (parts[i], moved) = (part, moved + 1);
        }
        if (moved == 0) {
            ++ghost_declinedAfterEvent;
            return false;
        }
        bool same = moved == n;
        for (uint256 i = 1; i < n && same; ++i) {
            int256 s0 = b.traderPositions[0].size;
            int256 si = b.traderPositions[i].size;
            same = _abs(parts[i] * s0 - parts[0] * si) <= _abs(s0) + _abs(si);
        }
        if (!same) {
            ++ghost_oiBroken;
            lastViolation = string.concat(
                "takeover of unequal shares: ",
                vm.toString(moved),
                " of ",
                vm.toString(n),
                " legs moved to the vault"
            );
        }
        return same;
    }

    /// @dev Open interest and skew at a takeover: skew unchanged in every market; each side's open interest
    ///      unchanged, or down by exactly the size of the part moved netted against the vault's opposite inventory.
    function _checkOpenInterest(uint256 id, Before memory b) internal {
        for (uint256 m; m < 2; ++m) {
            IPerpEngine.MarketState memory a = engine.marketState(m);
            int256 traderSize = _part(id, b, m);
            int256 vaultSize = _sizeIn(b.vaultPositions, m);
            uint256 netted;
            if (traderSize != 0 && vaultSize != 0 && (traderSize > 0) != (vaultSize > 0)) {
                netted = _min(_abs(traderSize), _abs(vaultSize));
                ++ghost_nettedTakeovers;
            }
            bool ok =
                uint256(b.markets[m].longOpenInterest) - a.longOpenInterest == netted &&
                    uint256(b.markets[m].shortOpenInterest) - a.shortOpenInterest == netted;
            if (!ok) {
                ++ghost_oiBroken;
                lastViolation = string.concat(
                    "takeover moved open interest in market ",
                    vm.toString(m),
                    ": long ",
                    vm.toString(b.markets[m].longOpenInterest),
                    " -> ",
                    vm.toString(a.longOpenInterest),
                    ", short ",
                    vm.toString(b.markets[m].shortOpenInterest),
                    " -> ",
                    vm.toString(a.shortOpenInterest),
                    ", netted ",
                    vm.toString(netted)
                );
            }
        }
    }

    /// @dev After a takeover in which the vault paid bad debt: its share price less than badDebtDrawdown below the
    ///      drawdown breaker's peak (the fee it earned after paying only raises it, so the bound checked at the
    ///      payment holds here too).
    function _checkBadDebtBound(IBackstopTypes.BackstopConfig memory c) internal {
        ++ghost_badDebtPaid;
        IBackstopTypes.BackstopState memory st = bs.backstopState();
        uint256 price = bv.sharePrice();
        // as the engine measures it: no drawdown once the breaker's window has passed
        bool live = st.peakSharePrice != 0 && block.timestamp < uint256(st.peakAt) + c.drawdownWindow;
        uint256 drawdown = !live || price >= st.peakSharePrice ? 0 : WAD - (price * WAD) / st.peakSharePrice;
        if (drawdown >= c.badDebtDrawdown) {
            ++ghost_badDebtPastBound;
            lastViolation = string.concat(
                "the vault paid bad debt past its bound: drawdown ",
                vm.toString(drawdown),
                ", bound ",
                vm.toString(c.badDebtDrawdown)
            );
        }
    }

    /// @dev After a takeover: the vault's account above maintenance, and each cap (recomputed here from the
    ///      views) respected against the vault's equity before the takeover.
    function _checkVaultAfter(Before memory b, IBackstopTypes.BackstopConfig memory c, uint256 taken) internal {
        (IPerpEngine.AccountSummary memory a, IPerpEngine.PositionSnapshot[] memory ps) = engine.liquidationSnapshot(
            vaultId
        );
        if (a.equity < int256(a.maintenanceMargin)) {
            ++ghost_vaultUnderMaintenance;
            lastViolation = string.concat(
                "vault under maintenance after a takeover: equity ",
                vm.toString(a.equity),
                ", maintenance ",
                vm.toString(a.maintenanceMargin)
            );
        }
        uint256 equity = b.vault.equity > 0 ? uint256(b.vault.equity) : 0;
        if (taken > (equity * c.accountShare) / WAD) _capBreach("account", taken, equity);
        if (a.notional > b.vault.notional && a.notional > (equity * c.totalShare) / WAD) {
            _capBreach("total", a.notional, equity);
        }
        for (uint256 i; i < ps.length; ++i) {
            uint256 was;
            for (uint256 j; j < b.vaultPositions.length; ++j) {
                if (b.vaultPositions[j].marketId == ps[i].marketId) was = b.vaultPositions[j].notional;
            }
            if (ps[i].notional <= was) continue;
            (, uint256 sigma) = oracle.getPriceAndVolatility(
                ps[i].marketId == ETH ? bytes32("ETH/USD") : bytes32("BTC/USD")
            );
            uint256 byEquity = (((equity * c.marketShare) / WAD) * c.refSigma) / _max(sigma, c.refSigma);
            uint256 byDepth = (((ps[i].skewScale * ps[i].price) / WAD) * c.depthShare) / WAD;
            if (ps[i].notional > _min(byEquity, byDepth)) _capBreach("market", ps[i].notional, equity);
        }
    }

    /// @dev A takeover never leaves the trader better off than a close at the oracle: what it holds after
    ///      (its equity: the margin left and what a part taken left of its positions, plus the keeper's reward
    ///      when it liquidated itself) is at most its equity at the oracle price before (nothing when that was
    ///      negative).
    function _checkRoundTrip(uint256 id, Before memory b) internal {
        (IPerpEngine.AccountSummary memory a, ) = engine.liquidationSnapshot(id);
        int256 after_ = a.equity + int256(vault.keeperRewardsOf(ownerOf[id]) - b.ownerRewards);
        int256 atOracle = b.trader.equity > 0 ? b.trader.equity : int256(0);
        if (after_ > atOracle) {
            ++ghost_roundTripProfit;
            lastViolation = string.concat(
                "takeover round trip: the owner holds ",
                vm.toString(after_),
                " after, its equity at the oracle was ",
                vm.toString(b.trader.equity)
            );
        }
    }

    /// @dev An unwind's realised loss beyond the vault's margin is bad debt in full: incurred grows by
    ///      exactly that shortfall, and all of it is covered by the fund or pending for auto-deleveraging.
    function _checkUnwindLoss(uint256 marginBefore, Ledger memory before) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        int256 realised;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter == address(engine) && logs[i].topics[0] == IBackstopTypes.BackstopUnwound.selector) {
                (, , , realised, ) = abi.decode(logs[i].data, (int256, uint256, uint256, int256, bool));
            }
        }
        uint256 loss = realised < 0 ? uint256(-realised) : 0;
        uint256 shortfall = loss > marginBefore ? loss - marginBefore : 0;
        Ledger memory a = _ledger();
        uint256 incurred = a.incurred - before.incurred;
        uint256 booked = (a.covered - before.covered) + (a.pending - before.pending);
        if (incurred != shortfall || booked != shortfall) {
            ++ghost_vaultLossLost;
            lastViolation = string.concat(
                "unwind loss beyond margin: shortfall ",
                vm.toString(shortfall),
                ", incurred ",
                vm.toString(incurred),
                ", covered + pending ",
                vm.toString(booked)
            );
        }
    }

    function _capBreach(string memory cap, uint256 value, uint256 equity) internal {
        ++ghost_capBroken;
        lastViolation = string.concat(
            "takeover past the ",
            cap,
            " cap: notional ",
            vm.toString(value),
            " on vault equity ",
            vm.toString(equity)
        );
    }

    function _ledger() internal view returns (Ledger memory ledger) {
        ledger.incurred = liq.badDebtIncurred();
        ledger.covered = liq.badDebtCovered();
        ledger.socialised = liq.badDebtSocialised();
        ledger.pending = liq.badDebtPending();
    }

    function _openAccount(address trader, uint256 m, uint256 notional, uint256 leverage, bool long) internal {
        uint256 price = (m == ETH ? uint256(_ethAnswer) : uint256(_btcAnswer)) * 1e10;
        int256 size = int256((notional * WAD) / price);
        if (!long) size = -size;
        uint256 margin = notional / leverage / SCALE + 1;
        usdc.mint(trader, margin);
        vm.startPrank(trader);
        uint256 id = engine.createAccount();
        engine.deposit(id, margin);
        try engine.modifyPosition(id, m, size, long ? MAX_PRICE : 0) {
            accounts.push(id);
            ownerOf[id] = trader;
        } catch {}
        vm.stopPrank();
    }

    function _vaultSize(uint256 m) internal view returns (int256) {
        return engine.positionView(vaultId, m).size;
    }

    function _sizeIn(IPerpEngine.PositionSnapshot[] memory ps, uint256 m) internal pure returns (int256) {
        for (uint256 i; i < ps.length; ++i) if (ps[i].marketId == m) return ps[i].size;
        return 0;
    }

    function _push() internal {
        ethFeed.updateAnswer(_ethAnswer);
        btcFeed.updateAnswer(_btcAnswer);
    }

    function _clamp(int256 answer, int256 start) internal pure returns (int256) {
        if (answer < (start * 3) / 10) return (start * 3) / 10;
        if (answer > (start * 17) / 10) return (start * 17) / 10;
        return answer;
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return uint256(x < 0 ? -x : x);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function _max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }
}
