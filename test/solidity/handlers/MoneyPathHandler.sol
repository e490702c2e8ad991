// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {InsuranceFund} from "../../../contracts/insurance/InsuranceFund.sol";
import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {Vault} from "../../../contracts/vault/Vault.sol";
import {IVault} from "../../../contracts/interfaces/IVault.sol";
import {MockAggregator} from "../../../contracts/mocks/MockAggregator.sol";
import {MockUSDC} from "../../../contracts/mocks/MockUSDC.sol";

/// @notice An adversary on the LP and insurance money paths.
///         LP: an attacker holding unlocked LP shares and a trading account runs atomic round trips
///         (deposit, trade, redeem the shares it minted, unwind, in either order) against skew that an
///         honest trader opens, prices that move and an honest LP that comes and goes.
///         Insurance: three helper addresses of one staker stake, pass shares between them, ask to
///         withdraw, cancel, and try to take shares out at any time, by shares or by assets.
///         The handler records what the invariants check: the attacker's wealth across each round
///         trip, and for every share burned by an insurance exit, whether its owner held it under a
///         ripe request of its own through the whole cooldown.
contract MoneyPathHandler is CommonBase, StdUtils {
    uint256 internal constant MAX_TRADE = 10_000e18; // ETH's maximum trade size
    uint256 internal constant MAX_LP_AMOUNT = 50_000_000e6;
    uint256 internal constant MAX_STAKE = 5_000_000e6;
    uint256 internal constant HEARTBEAT = 1 hours;

    MockUSDC public immutable usdc;
    Vault public immutable vault;
    PerpEngine public immutable engine;
    InsuranceFund public immutable insuranceFund;
    MockAggregator public immutable ethFeed;
    MockAggregator public immutable btcFeed;
    uint256 public immutable SCALE;
    int256 internal immutable ETH_START;

    address public immutable attacker;
    uint256 public immutable attackerAccount;
    address public immutable honestTrader;
    uint256 public immutable honestAccount;
    address public immutable honestLp;
    address[2] public helpers;

    // ---- what the invariants read
    /// @notice Round trips that left the attacker richer, and the largest gain seen (WAD).
    uint256 public ghost_profitableRoundTrips;
    uint256 public ghost_maxRoundTripGainWad;
    uint256 public ghost_roundTrips;
    /// @notice Insurance exits that burned shares not held under a ripe request of the owner's own
    ///         through the whole cooldown.
    uint256 public ghost_unbackedExits;
    uint256 public ghost_exits;
    /// @notice A preview on the wrong side of its call, or an amount within a max* refused.
    uint256 public ghost_previewViolations;
    uint256 public ghost_maxDishonoured;
    bytes public lastDishonour;

    /// @dev Per helper: when its live request was made and how many shares it has held without a break
    ///      since then (the most a ripe request may still take).
    mapping(address => uint256) public ghost_requestedAt;
    mapping(address => uint256) public ghost_backed;

    bool public stale;

    constructor(
        MockUSDC usdc_,
        Vault vault_,
        PerpEngine engine_,
        InsuranceFund insuranceFund_,
        MockAggregator ethFeed_,
        MockAggregator btcFeed_,
        address honestLp_
    ) {
        usdc = usdc_;
        vault = vault_;
        engine = engine_;
        insuranceFund = insuranceFund_;
        ethFeed = ethFeed_;
        btcFeed = btcFeed_;
        SCALE = vault_.SCALE();
        (, ETH_START, , , ) = ethFeed_.latestRoundData();
        attacker = address(uint160(uint256(keccak256("moneypath.attacker"))));
        honestTrader = address(uint160(uint256(keccak256("moneypath.honestTrader"))));
        honestLp = honestLp_;
        for (uint256 i = 0; i < 2; ++i) {
            helpers[i] = address(uint160(uint256(keccak256(abi.encode("moneypath.helper", i)))));
            vm.prank(helpers[i]);
            usdc.approve(address(insuranceFund), type(uint256).max);
        }
        address[3] memory traders = [attacker, honestTrader, honestLp];
        for (uint256 i = 0; i < 3; ++i) {
            vm.prank(traders[i]);
            usdc.approve(address(vault), type(uint256).max);
        }
        vm.prank(attacker);
        attackerAccount = engine_.createAccount();
        vm.prank(honestTrader);
        honestAccount = engine_.createAccount();
    }

    /// @dev Called by the test after the clock has passed the attacker's seed deposit's lockup.
    function seed(uint256 attackerLp, uint256 margin) external {
        usdc.mint(attacker, attackerLp + margin);
        usdc.mint(honestTrader, margin);
        vm.prank(attacker);
        vault.deposit(attackerLp, attacker);
        vm.prank(attacker);
        engine.deposit(attackerAccount, margin);
        vm.prank(honestTrader);
        engine.deposit(honestAccount, margin);
        for (uint256 i = 0; i < 2; ++i) {
            usdc.mint(helpers[i], MAX_STAKE);
            vm.prank(helpers[i]);
            insuranceFund.deposit(MAX_STAKE, helpers[i]);
        }
    }

    // ================================================================== market

    /// @notice The honest trader moves the ETH skew (either way, up to the maximum trade).
    function honestTrade(uint256 sizeSeed, bool buy) external {
        if (stale) return;
        int256 size = int256(bound(sizeSeed, 1e15, MAX_TRADE));
        vm.prank(honestTrader);
        try engine.modifyPosition(honestAccount, 0, buy ? size : -size, buy ? type(uint256).max : 0) {} catch {}
    }

    /// @notice ETH moves up to 5% either way from its last answer, kept within [1/4, 4] of its start.
    function movePrice(uint256 moveSeed) external {
        (, int256 answer, , , ) = ethFeed.latestRoundData();
        int256 next = (answer * int256(bound(moveSeed, 95, 105))) / 100;
        if (next < ETH_START / 4 || next > ETH_START * 4) next = answer;
        ethFeed.updateAnswer(next);
        _touchBtc();
        stale = false;
    }

    /// @notice Time passes (up to nine days: one step may ripen a request) and both feeds answer again, or (goStale) nobody
    ///         answers for more than the heartbeat.
    function warp(uint256 secondsSeed, bool goStale) external {
        if (goStale) {
            vm.warp(block.timestamp + HEARTBEAT + 1 + bound(secondsSeed, 0, 1 days));
            stale = true;
            return;
        }
        vm.warp(block.timestamp + bound(secondsSeed, 1, 9 days));
        (, int256 answer, , , ) = ethFeed.latestRoundData();
        ethFeed.updateAnswer(answer);
        _touchBtc();
        stale = false;
    }

    // ================================================================== LP

    function honestLpDeposit(uint256 amountSeed) external {
        uint256 assets = bound(amountSeed, 1e6, MAX_LP_AMOUNT);
        usdc.mint(honestLp, assets);
        uint256 preview = _tryPreviewDeposit(assets);
        vm.prank(honestLp);
        try vault.deposit(assets, honestLp) returns (uint256 shares) {
            if (shares < preview) ++ghost_previewViolations;
        } catch {}
    }

    /// @dev Within maxRedeem: only a redemption worth no assets may be refused.
    function honestLpRedeem(uint256 sharesSeed) external {
        uint256 max = vault.maxRedeem(honestLp);
        if (max == 0) return;
        uint256 shares = bound(sharesSeed, 1, max);
        uint256 preview = vault.previewRedeem(shares);
        vm.prank(honestLp);
        try vault.redeem(shares, honestLp, honestLp) returns (uint256 assets) {
            if (assets < preview) ++ghost_previewViolations;
        } catch (bytes memory reason) {
            if (preview != 0 || bytes4(reason) != IVault.ZeroAmount.selector) _dishonoured(reason);
        }
    }

    /// @notice The attacker's round trip in one transaction: deposit `assets` as LP and trade `size`
    ///         ETH (in either order), redeem as many shares as the deposit minted (its older shares are
    ///         unlocked), then close the position. Its wealth (tokens, margin, and its shares at their
    ///         redemption value) must not have grown.
    function lpRoundTrip(uint256 assetsSeed, uint256 sizeSeed, bool buy, bool tradeFirst) external {
        if (stale) return;
        uint256 assets = bound(assetsSeed, 1e6, MAX_LP_AMOUNT);
        int256 size = int256(bound(sizeSeed, 1e15, MAX_TRADE));
        if (!buy) size = -size;
        usdc.mint(attacker, assets);
        uint256 before = _attackerWealth();

        // One prank per call (a prank reaches only the next call; views are read before it).
        bool ok = tradeFirst ? _trade(size) && _lpDeposit(assets) : _lpDeposit(assets) && _trade(size);
        uint256 minted = ok ? _lastMinted : 0;
        if (ok && vault.previewRedeem(minted) != 0) {
            // Refused beyond maxRedeem (the attacker's unlocked shares, the pool's free liquidity);
            // within it, it must go through.
            uint256 max = vault.maxRedeem(attacker);
            vm.prank(attacker);
            try vault.redeem(minted, attacker, attacker) {} catch (bytes memory reason) {
                if (minted <= max) _dishonoured(reason);
            }
        }
        if (engine.position(attackerAccount, 0).size != 0) {
            vm.prank(attacker);
            engine.closePosition(attackerAccount, 0, size > 0 ? 0 : type(uint256).max);
        }

        uint256 afterWealth = _attackerWealth();
        ++ghost_roundTrips;
        if (afterWealth > before) {
            ++ghost_profitableRoundTrips;
            if (afterWealth - before > ghost_maxRoundTripGainWad) ghost_maxRoundTripGainWad = afterWealth - before;
        }
    }

    uint256 internal _lastMinted;

    function _lpDeposit(uint256 assets) internal returns (bool) {
        uint256 preview = _tryPreviewDeposit(assets);
        vm.prank(attacker);
        try vault.deposit(assets, attacker) returns (uint256 shares) {
            if (shares < preview) ++ghost_previewViolations;
            _lastMinted = shares;
            return true;
        } catch {
            return false;
        }
    }

    function _trade(int256 size) internal returns (bool) {
        vm.prank(attacker);
        try engine.modifyPosition(attackerAccount, 0, size, size > 0 ? type(uint256).max : 0) {
            return true;
        } catch {
            return false;
        }
    }

    /// @dev Tokens, margin and the redemption value of every share, in WAD. Used in one block only.
    function _attackerWealth() internal view returns (uint256) {
        uint256 shares = vault.balanceOf(attacker);
        return (usdc.balanceOf(attacker) + vault.previewRedeem(shares)) * SCALE + vault.marginOf(attackerAccount);
    }

    function _tryPreviewDeposit(uint256 assets) internal view returns (uint256) {
        try vault.previewDeposit(assets) returns (uint256 shares) {
            return shares;
        } catch {
            return 0;
        }
    }

    // ================================================================== insurance

    function stake(uint256 helperSeed, uint256 amountSeed) external {
        address h = _helper(helperSeed);
        uint256 assets = bound(amountSeed, 1, MAX_STAKE);
        usdc.mint(h, assets);
        uint256 preview = insuranceFund.previewDeposit(assets);
        vm.prank(h);
        try insuranceFund.deposit(assets, h) returns (uint256 shares) {
            if (shares < preview) ++ghost_previewViolations;
        } catch (bytes memory reason) {
            _dishonoured(reason);
        }
        _trackBalances();
    }

    /// @notice Shares passed from one of the staker's helpers to the other: the whole balance (as the
    ///         bypass needs) or as much as the seed says.
    function moveShares(uint256 fromSeed, uint256 amountSeed, bool all) external {
        address from = _helper(fromSeed);
        address to = _helper(fromSeed + 1);
        uint256 balance = insuranceFund.balanceOf(from);
        if (balance == 0) return;
        uint256 amount = all ? balance : bound(amountSeed, 1, balance);
        vm.prank(from);
        try insuranceFund.transfer(to, amount) {} catch {}
        _trackBalances();
    }

    function request(uint256 helperSeed, uint256 sharesSeed) external {
        address h = _helper(helperSeed);
        uint256 balance = insuranceFund.balanceOf(h);
        if (balance == 0) return;
        uint256 shares = bound(sharesSeed, 1, balance);
        vm.prank(h);
        insuranceFund.requestWithdrawal(shares);
        ghost_requestedAt[h] = block.timestamp;
        ghost_backed[h] = shares;
        _trackBalances();
    }

    function cancel(uint256 helperSeed) external {
        address h = _helper(helperSeed);
        vm.prank(h);
        try insuranceFund.cancelWithdrawal() {
            ghost_backed[h] = 0;
            ghost_requestedAt[h] = 0;
        } catch {}
    }

    /// @notice Any helper tries to take out its whole balance, or part of it, at any time, by shares or
    ///         by assets.
    function exit(uint256 helperSeed, uint256 amountSeed, bool byShares) external {
        address h = _helper(helperSeed);
        uint256 balance = insuranceFund.balanceOf(h);
        if (balance == 0) return;
        uint256 max = insuranceFund.maxRedeem(h);
        uint256 shares = amountSeed % 2 == 0 ? balance : bound(amountSeed, 1, balance);
        uint256 burned;
        bool ok;
        if (byShares) {
            uint256 preview = insuranceFund.previewRedeem(shares);
            vm.prank(h);
            try insuranceFund.redeem(shares, h, h) returns (uint256 assets) {
                ok = true;
                burned = shares;
                if (assets < preview) ++ghost_previewViolations;
            } catch (bytes memory reason) {
                if (shares <= max) _dishonoured(reason);
            }
        } else {
            uint256 assets = insuranceFund.previewRedeem(shares);
            if (assets == 0) return;
            uint256 preview = insuranceFund.previewWithdraw(assets);
            uint256 sharesBefore = insuranceFund.balanceOf(h);
            vm.prank(h);
            try insuranceFund.withdraw(assets, h, h) returns (uint256 s) {
                ok = true;
                burned = sharesBefore - insuranceFund.balanceOf(h);
                if (s > preview || burned != s) ++ghost_previewViolations;
            } catch (bytes memory reason) {
                if (assets <= insuranceFund.maxWithdraw(h)) _dishonoured(reason);
            }
        }
        if (ok) {
            ++ghost_exits;
            uint256 requestedAt = ghost_requestedAt[h];
            bool ripe =
                requestedAt != 0 &&
                    block.timestamp >= requestedAt + insuranceFund.cooldown() &&
                    block.timestamp < requestedAt + insuranceFund.cooldown() + insuranceFund.window();
            if (!ripe || burned > ghost_backed[h]) ++ghost_unbackedExits;
            ghost_backed[h] = burned > ghost_backed[h] ? 0 : ghost_backed[h] - burned;
        }
        _trackBalances();
    }

    // ================================================================== internals

    function helperList() external view returns (address[2] memory) {
        return helpers;
    }

    function _helper(uint256 seed_) internal view returns (address) {
        return helpers[seed_ % 2];
    }

    /// @dev A share counts as held through the cooldown only while the balance never dipped below it.
    function _trackBalances() internal {
        for (uint256 i = 0; i < 2; ++i) {
            uint256 balance = insuranceFund.balanceOf(helpers[i]);
            if (balance < ghost_backed[helpers[i]]) ghost_backed[helpers[i]] = balance;
        }
    }

    function _touchBtc() internal {
        (, int256 answer, , , ) = btcFeed.latestRoundData();
        btcFeed.updateAnswer(answer);
    }

    function _dishonoured(bytes memory reason) internal {
        ++ghost_maxDishonoured;
        lastDishonour = reason;
    }
}
