// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {Vault} from "../../../contracts/vault/Vault.sol";
import {ILiquidationEngine} from "../../../contracts/interfaces/ILiquidationEngine.sol";
import {IPerpEngine} from "../../../contracts/interfaces/IPerpEngine.sol";
import {MockAggregator} from "../../../contracts/mocks/MockAggregator.sol";
import {MockUSDC} from "../../../contracts/mocks/MockUSDC.sol";

/// @notice An adversary around auto-deleveraging (issue 11, Medium 2-4): ADL called by anyone with any
///         list (random callers, random subsets in random order), ranked ADL by the keeper, an LP that
///         deposits, mints and redeems around it, cross-margined ETH + BTC accounts trading, prices moving
///         both ways, liquidations booking new deficits, time passing. Ghost counters for the properties
///         of AdlInvariant.t.sol: each counts a breach and must stay 0.
contract AdlHandler is CommonBase, StdUtils {
    uint256 internal constant MAX_LIST = 6;

    PerpEngine public immutable engine;
    ILiquidationEngine public immutable liquidationEngine;
    Vault public immutable vault;
    MockUSDC public immutable usdc;
    address public immutable keeper;
    address public immutable attacker;
    address public immutable stranger;

    MockAggregator[2] internal _feeds;
    int256[2] internal _initialAnswers;
    uint256[] internal _accounts;
    address[] internal _owners;

    /// @notice ADL calls that succeeded from a caller without ADL_KEEPER.
    uint256 public ghost_unauthorisedChanged;
    /// @notice Successful ADL calls whose list, up to the last account reduced, was not strictly ranked.
    uint256 public ghost_misrankedChanged;
    /// @notice Accounts an ADL call reduced that ended below their maintenance margin.
    uint256 public ghost_belowFloor;
    /// @notice Accounts whose margin an ADL call moved (a break-even close realises nothing).
    uint256 public ghost_principalTaken;
    /// @notice LP deposits or mints that went through while bad debt was pending recovery.
    uint256 public ghost_entryWhilePending;
    /// @notice Value (token units) the adversary LP's shares bought while a deficit was pending gained
    ///         from recoveries.
    uint256 public ghost_recoveryCaptured;

    uint256 public adlCalls;
    uint256 public adlSuccesses;
    uint256 public adlUnauthorisedTries;
    uint256 public adlReductions;

    /// @dev Shares the adversary got while bad debt was pending (forgotten once nothing is pending).
    uint256 internal _lateShares;

    constructor(
        PerpEngine engine_,
        ILiquidationEngine liquidationEngine_,
        Vault vault_,
        MockUSDC usdc_,
        MockAggregator[2] memory feeds_,
        uint256[] memory accounts_,
        address[] memory owners_,
        address keeper_
    ) {
        engine = engine_;
        liquidationEngine = liquidationEngine_;
        vault = vault_;
        usdc = usdc_;
        _feeds = feeds_;
        for (uint256 i; i < 2; ++i) (, _initialAnswers[i], , , ) = feeds_[i].latestRoundData();
        _accounts = accounts_;
        _owners = owners_;
        keeper = keeper_;
        attacker = address(uint160(uint256(keccak256("adl.attacker"))));
        stranger = address(uint160(uint256(keccak256("adl.stranger"))));
        vm.prank(attacker);
        usdc_.approve(address(vault_), type(uint256).max);
    }

    /// @dev Shares bought during a pending deficit count only while that deficit is still pending.
    modifier settles() {
        _;
        if (liquidationEngine.badDebtPending() == 0) _lateShares = 0;
    }

    // ================================================================== actions

    /// @notice A trade on any account in either market: opens, adds to, reduces or flips.
    function trade(uint256 accountSeed, uint256 marketSeed, int256 sizeSeed) external settles {
        uint256 i = accountSeed % _accounts.length;
        uint256 market = marketSeed % 2;
        int256 max = market == 0 ? int256(20e18) : int256(1.5e18);
        int256 size = bound(sizeSeed, -max, max);
        if (size == 0) return;
        vm.prank(_owners[i]);
        try engine.modifyPosition(_accounts[i], market, size, size > 0 ? type(uint256).max : 0) {} catch {}
    }

    /// @notice A price move of 0.5% to 25% either way, within [initial / 4, initial * 4].
    function movePrice(uint256 marketSeed, uint256 bpsSeed, bool up) external settles {
        uint256 market = marketSeed % 2;
        MockAggregator feed = _feeds[market];
        (, int256 answer, , , ) = feed.latestRoundData();
        int256 bps = int256(bound(bpsSeed, 50, 2_500));
        int256 next = up ? (answer * (10_000 + bps)) / 10_000 : (answer * (10_000 - bps)) / 10_000;
        int256 lo = _initialAnswers[market] / 4;
        int256 hi = _initialAnswers[market] * 4;
        feed.updateAnswer(
            next < lo
                ? lo
                : next > hi
                    ? hi
                    : next
        );
    }

    /// @notice The keeper liquidates the first liquidatable account from the seed on: books deficits.
    function liquidate(uint256 accountSeed) external settles {
        for (uint256 k; k < _accounts.length; ++k) {
            uint256 id = _accounts[(accountSeed + k) % _accounts.length];
            if (!engine.isLiquidatable(id)) continue;
            vm.prank(keeper);
            try liquidationEngine.liquidate(id) {} catch {}
            return;
        }
    }

    /// @notice Time passes (up to two days, past the LP lockup); the feeds get a round at their price.
    function warp(uint256 secondsSeed) external settles {
        vm.warp(block.timestamp + bound(secondsSeed, 1, 2 days));
        vm.roll(block.number + 1);
        for (uint256 i; i < 2; ++i) {
            (, int256 answer, , , ) = _feeds[i].latestRoundData();
            _feeds[i].updateAnswer(answer);
        }
    }

    /// @notice The adversary deposits as an LP, pending deficit or not.
    function lpDeposit(uint256 amountSeed) external settles {
        uint256 amount = bound(amountSeed, 1e6, 2_000_000e6);
        usdc.mint(attacker, amount);
        bool pending = liquidationEngine.badDebtPending() != 0;
        vm.prank(attacker);
        try vault.deposit(amount, attacker) returns (uint256 shares) {
            if (pending) {
                ++ghost_entryWhilePending;
                _lateShares += shares;
            }
        } catch {}
    }

    /// @notice The adversary mints LP shares, pending deficit or not.
    function lpMint(uint256 sharesSeed) external settles {
        uint256 shares = bound(sharesSeed, 1e18, 2_000_000e18);
        usdc.mint(attacker, 4_000_000e6);
        bool pending = liquidationEngine.badDebtPending() != 0;
        vm.prank(attacker);
        try vault.mint(shares, attacker) {
            if (pending) {
                ++ghost_entryWhilePending;
                _lateShares += shares;
            }
        } catch {}
    }

    /// @notice The adversary redeems what it may.
    function lpRedeem(uint256 sharesSeed) external settles {
        uint256 max = vault.maxRedeem(attacker);
        if (max == 0) return;
        uint256 shares = bound(sharesSeed, 1, max);
        vm.prank(attacker);
        try vault.redeem(shares, attacker, attacker) {
            _lateShares = _lateShares > shares ? _lateShares - shares : 0;
        } catch {}
    }

    /// @notice The keeper's call: every candidate, ranked as the engine scores them.
    function adlRanked(uint256 marketSeed, bool bankruptLong) external settles {
        uint256 market = marketSeed % 2;
        if (liquidationEngine.pendingDeficit(market, bankruptLong) == 0) bankruptLong = !bankruptLong;
        (uint256[] memory ids, uint256 n) = _ranked(market, bankruptLong);
        assembly ("memory-safe") {
            mstore(ids, n)
        }
        _adl(keeper, market, bankruptLong, ids);
    }

    /// @notice Anyone (keeper, adversary, a trader, a stranger) with any list: distinct accounts in a
    ///         random order.
    function adlAnyList(
        uint256 callerSeed,
        uint256 marketSeed,
        bool bankruptLong,
        uint256 listSeed,
        uint256 lengthSeed
    ) external settles {
        uint256 market = marketSeed % 2;
        if (liquidationEngine.pendingDeficit(market, bankruptLong) == 0) bankruptLong = !bankruptLong;
        uint256 c = callerSeed % (_owners.length + 3);
        address caller =
            c == 0
                ? keeper
                : c == 1
                    ? attacker
                    : c == 2
                        ? stranger
                        : _owners[c - 3];
        uint256 n = bound(lengthSeed, 1, Math.min(MAX_LIST, _accounts.length));
        uint256[] memory pool = _accounts;
        uint256[] memory ids = new uint256[](n);
        for (uint256 k; k < n; ++k) {
            uint256 j = k + (uint256(keccak256(abi.encode(listSeed, k))) % (pool.length - k));
            (pool[k], pool[j]) = (pool[j], pool[k]);
            ids[k] = pool[k];
        }
        _adl(caller, market, bankruptLong, ids);
    }

    // ================================================================== internals

    struct Before {
        uint256[] scores;
        bool[] eligible;
        int256[] sizes;
        uint256[] margins;
        uint256 assetsPerShare;
    }

    function _adl(address caller, uint256 market, bool bankruptLong, uint256[] memory ids) internal {
        ++adlCalls;
        if (caller != keeper) ++adlUnauthorisedTries;
        Before memory b = _before(market, ids);
        vm.prank(caller);
        try liquidationEngine.autoDeleverage(market, bankruptLong, ids) {
            ++adlSuccesses;
            if (caller != keeper) ++ghost_unauthorisedChanged;
            _after(market, ids, b);
        } catch {}
    }

    function _before(uint256 market, uint256[] memory ids) internal view returns (Before memory b) {
        b.scores = new uint256[](ids.length);
        b.eligible = new bool[](ids.length);
        b.sizes = new int256[](ids.length);
        b.margins = new uint256[](ids.length);
        for (uint256 k; k < ids.length; ++k) {
            (b.scores[k], b.eligible[k]) = _score(ids[k], market);
            b.sizes[k] = engine.position(ids[k], market).size;
            b.margins[k] = vault.marginOf(ids[k]);
        }
        b.assetsPerShare = _assetsPerShare();
    }

    function _after(uint256 market, uint256[] memory ids, Before memory b) internal {
        uint256 last;
        bool any;
        for (uint256 k; k < ids.length; ++k) {
            if (engine.position(ids[k], market).size == b.sizes[k]) continue;
            ++adlReductions;
            any = true;
            last = k;
            (IPerpEngine.AccountSummary memory s, ) = engine.liquidationSnapshot(ids[k]);
            if (s.equity < int256(s.maintenanceMargin)) ++ghost_belowFloor;
            if (vault.marginOf(ids[k]) != b.margins[k]) ++ghost_principalTaken;
        }
        // the engine went through the list in order up to the last account it reduced: that part must
        // have been eligible and strictly ranked (score descending, ties by ascending id)
        for (uint256 k; any && k <= last; ++k) {
            if (!b.eligible[k]) ++ghost_misrankedChanged;
            else if (
                k > 0 && (b.scores[k] > b.scores[k - 1] || (b.scores[k] == b.scores[k - 1] && ids[k] <= ids[k - 1]))
            ) ++ghost_misrankedChanged;
        }
        uint256 perShare = _assetsPerShare();
        if (_lateShares != 0 && b.assetsPerShare != 0 && perShare > b.assetsPerShare) {
            ghost_recoveryCaptured += Math.mulDiv(_lateShares, perShare - b.assetsPerShare, 1e18);
        }
    }

    /// @dev The engine's ADL score (value * account notional / equity) and whether it is a candidate
    ///      of the winning side in profit with positive equity (`eligible` says so; the side is checked by
    ///      the engine, and a wrong side is as ineligible as a loss).
    function _score(uint256 id, uint256 market) internal view returns (uint256 score, bool eligible) {
        (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) = engine.liquidationSnapshot(
            id
        );
        for (uint256 k; k < ps.length; ++k) {
            if (ps[k].marketId != market) continue;
            if (ps[k].value <= 0 || s.equity <= 0) return (0, false);
            return (Math.mulDiv(uint256(ps[k].value), s.notional, uint256(s.equity)), true);
        }
    }

    /// @dev Candidates of the winning side, by score descending, ties by ascending id (the accounts are
    ///      held in ascending id order and the insertion keeps equal scores in it).
    function _ranked(uint256 market, bool bankruptLong) internal view returns (uint256[] memory ids, uint256 n) {
        ids = new uint256[](_accounts.length);
        uint256[] memory scores = new uint256[](_accounts.length);
        for (uint256 i; i < _accounts.length; ++i) {
            int256 size = engine.position(_accounts[i], market).size;
            if (size == 0 || (size > 0) == bankruptLong) continue;
            (uint256 score, bool eligible) = _score(_accounts[i], market);
            if (!eligible) continue;
            uint256 j = n++;
            while (j > 0 && scores[j - 1] < score) {
                scores[j] = scores[j - 1];
                ids[j] = ids[j - 1];
                --j;
            }
            scores[j] = score;
            ids[j] = _accounts[i];
        }
    }

    /// @dev Token units per 1e18 shares; 0 when the book cannot be read (a stale price).
    function _assetsPerShare() internal view returns (uint256) {
        try vault.convertToAssets(1e18) returns (uint256 a) {
            return a;
        } catch {
            return 0;
        }
    }
}
