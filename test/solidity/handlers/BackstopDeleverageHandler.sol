// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {Vm} from "forge-std/Vm.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {BackstopVault} from "../../../contracts/backstop/BackstopVault.sol";
import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {IAutoDeleveraging} from "../../../contracts/interfaces/IAutoDeleveraging.sol";
import {IBackstopEngine, IBackstopTypes} from "../../../contracts/interfaces/IBackstop.sol";
import {ILiquidationEngine} from "../../../contracts/interfaces/ILiquidationEngine.sol";
import {IPerpEngine} from "../../../contracts/interfaces/IPerpEngine.sol";
import {WAD} from "../../../contracts/libraries/Constants.sol";
import {BackstopHandler} from "./BackstopHandler.sol";

/// @notice The adversary of `deleverageBackstop` (issue 12), beside BackstopHandler whose traders, takeovers,
///         price moves and clock it shares (the accounts are BackstopHandler's): the ADL keeper, or a stranger,
///         closes the backstop vault's inventory against candidate lists chosen to break it. Each call is
///         measured before and after, and a breach adds to a ghost counter with its figures in
///         `lastViolation`; BackstopInvariant.t.sol asserts the counters stay zero.
contract BackstopDeleverageHandler is CommonBase {
    BackstopHandler public immutable actors;
    PerpEngine public immutable engine;
    ILiquidationEngine public immutable liq;
    IBackstopEngine public immutable bs;
    BackstopVault public immutable bv;
    address public immutable keeper;
    address public immutable stranger;
    uint256 public immutable vaultId;
    uint256 public immutable SCALE;

    // -------------------------------------------------------------- coverage
    uint256 public ghost_vaultDeleverages;
    uint256 public ghost_vaultDeleverageRefusals;
    uint256 public ghost_vaultDeleveragesAboveTrigger;
    uint256 public ghost_candidatesClosed;

    // -------------------------------------------------------------- breaches (must stay 0)
    /// @notice deleverageBackstop went through while the engine said nothing could go (backstopExcess 0: above
    ///         the trigger and within the carry), with the trigger off, or for a caller without ADL_KEEPER; or it
    ///         closed more than backstopExcess; or backstopExcess was not the whole inventory past the trigger.
    uint256 public ghost_deleverageOutOfTurn;
    /// @notice deleverageBackstop grew the vault's inventory, flipped it, touched another market's, or moved it
    ///         by other than the candidates' reductions.
    uint256 public ghost_vaultInventoryGrown;
    /// @notice A candidate deleverageBackstop closed that was not on the other side and in profit above its
    ///         maintenance before, ended below maintenance, grew or flipped, or a listed account it did not
    ///         close changed.
    uint256 public ghost_candidateBroken;
    /// @notice deleverageBackstop moved the forced flow (a sale), or open interest other than by the closed
    ///         size on both sides (so skew moved).
    uint256 public ghost_deleverageSold;
    /// @notice deleverageBackstop moved value between the vault and a candidate: the vault's equity (or share
    ///         price) below, or a candidate's equity above, what a close at the oracle leaves (1e9 wei slack).
    uint256 public ghost_deleverageValueLeak;
    /// @notice deleverageBackstop refused with an error outside its documented ones, or with the wrong one
    ///         (not AccessControlUnauthorizedAccount for a stranger, not BackstopAboveTrigger above it).
    uint256 public ghost_deleverageBadRefusal;
    string public lastViolation;

    constructor(BackstopHandler actors_, PerpEngine engine_, BackstopVault bv_, address keeper_) {
        actors = actors_;
        engine = engine_;
        liq = ILiquidationEngine(address(engine_));
        bs = IBackstopEngine(address(engine_));
        bv = bv_;
        keeper = keeper_;
        stranger = address(uint160(uint256(keccak256(abi.encode("deleverage stranger")))));
        vaultId = bv_.accountId();
        SCALE = 10 ** 12;
    }

    /// @notice The ADL keeper (or, one call in five, a stranger) calls deleverageBackstop in one market with a
    ///         candidate list chosen adversarially: the keeper's ranked list, the same reversed, with a
    ///         duplicate, with the vault itself, or any accounts in any order (wrong side, losing, below
    ///         maintenance). Each property is checked against what was read before the call.
    function deleverageVault(uint256 marketSeed, uint256 modeSeed, uint256 pickSeed) external {
        uint256 m = marketSeed % 2;
        uint256[] memory list = _candidateList(m, modeSeed % 6, pickSeed);
        address caller = pickSeed % 5 == 0 ? stranger : keeper;
        DelevBefore memory b = _delevBefore(m, list);
        // past the trigger the whole inventory may go
        if (b.triggerOn && b.sharePrice <= b.triggerPrice && b.excess != _abs(b.vaultSize[m])) {
            ++ghost_deleverageOutOfTurn;
            lastViolation = string.concat("backstopExcess past the trigger: ", vm.toString(b.excess));
        }
        vm.recordLogs();
        vm.prank(caller);
        try liq.deleverageBackstop(m, list) {
            ++ghost_vaultDeleverages;
            if (caller != keeper || !b.triggerOn || b.excess == 0) {
                ++ghost_deleverageOutOfTurn;
                lastViolation = string.concat(
                    "deleverageBackstop out of turn: share price ",
                    vm.toString(b.sharePrice),
                    ", trigger ",
                    vm.toString(b.triggerPrice),
                    caller == keeper ? "" : ", by a stranger"
                );
            }
            uint256 closedAbs = _abs(b.vaultSize[m] - _vaultSize(m));
            if (closedAbs > b.excess) {
                ++ghost_deleverageOutOfTurn;
                lastViolation = string.concat(
                    "deleverageBackstop closed ",
                    vm.toString(closedAbs),
                    " beyond the excess ",
                    vm.toString(b.excess)
                );
            }
            _checkDeleverage(m, list, b, vm.getRecordedLogs());
        } catch (bytes memory err) {
            vm.getRecordedLogs();
            ++ghost_vaultDeleverageRefusals;
            if (b.triggerOn && b.sharePrice > b.triggerPrice) ++ghost_vaultDeleveragesAboveTrigger;
            _checkRefusal(err, caller, m, b);
        }
    }

    /// @dev What deleverageBackstop is checked against, read before it.
    struct DelevBefore {
        bool triggerOn;
        uint256 sharePrice;
        uint256 triggerPrice;
        uint256 excess;
        uint256 deficit; // the pending deficit of the vault's side in the market (its excess then yields to it)
        int256 vaultEquity;
        int256[2] vaultSize;
        IPerpEngine.MarketState market;
        uint256 flow;
        IPerpEngine.AccountSummary[] summaries;
        int256[] sizes;
        int256[] values;
    }

    function _delevBefore(uint256 m, uint256[] memory list) internal view returns (DelevBefore memory b) {
        IBackstopTypes.BackstopState memory st = bs.backstopState();
        uint256 trigger = bs.backstopConfig().adlDrawdown;
        b.triggerOn = st.vault != address(0) && trigger != 0;
        b.sharePrice = bv.sharePrice();
        b.triggerPrice = (uint256(st.peakSharePrice) * (WAD - trigger)) / WAD;
        (b.vaultEquity, ) = bv.book();
        b.vaultSize[0] = _vaultSize(0);
        b.vaultSize[1] = _vaultSize(1);
        if (b.triggerOn) b.excess = liq.backstopExcess(m);
        if (b.vaultSize[m] != 0) b.deficit = liq.pendingDeficit(m, b.vaultSize[m] > 0);
        b.market = engine.marketState(m);
        b.flow = bs.forcedFlow(m);
        b.summaries = new IPerpEngine.AccountSummary[](list.length);
        b.sizes = new int256[](list.length);
        b.values = new int256[](list.length);
        for (uint256 i; i < list.length; ++i) {
            IPerpEngine.PositionSnapshot[] memory ps;
            (b.summaries[i], ps) = engine.liquidationSnapshot(list[i]);
            for (uint256 k; k < ps.length; ++k) {
                if (ps[k].marketId == m) (b.sizes[i], b.values[i]) = (ps[k].size, ps[k].value);
            }
        }
    }

    /// @dev mode 0, 1: the keeper's list (opposite side, in profit, above maintenance, ranked as the engine
    ///      scores); 2: that list reversed; 3: with one entry repeated; 4: one to five accounts of any kind in
    ///      any order; 5: the keeper's list with the vault's own account put in.
    function _candidateList(uint256 m, uint256 mode, uint256 pickSeed) internal view returns (uint256[] memory list) {
        uint256[] memory accounts = _accounts();
        if (mode == 4 || accounts.length == 0) {
            uint256 count = accounts.length == 0 ? 0 : 1 + (pickSeed % 5);
            list = new uint256[](count);
            for (uint256 i; i < count; ++i) {
                list[i] = accounts[uint256(keccak256(abi.encode(pickSeed, i))) % accounts.length];
            }
            return list;
        }
        int256 inventory = _vaultSize(m);
        (uint256[] memory ranked, uint256 n) = _rankedAgainstVault(accounts, m, inventory > 0);
        uint256 extra = mode == 3 || mode == 5 ? 1 : 0;
        list = new uint256[](n + extra);
        for (uint256 i; i < n; ++i) list[mode == 2 ? n - 1 - i : i] = ranked[i];
        if (extra == 0) return list;
        uint256 at = (pickSeed / 7) % (n + 1);
        for (uint256 i = n; i > at; --i) list[i] = list[i - 1];
        list[at] = mode == 5 || n == 0 ? vaultId : ranked[(pickSeed / 11) % n];
    }

    /// @dev The opposite side of the vault's inventory (`vaultLong`), in profit with equity above maintenance,
    ///      by the engine's score (value * notional / equity) descending, ties by ascending id.
    function _rankedAgainstVault(
        uint256[] memory accounts,
        uint256 m,
        bool vaultLong
    ) internal view returns (uint256[] memory ids, uint256 n) {
        ids = new uint256[](accounts.length);
        uint256[] memory scores = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) = engine
                .liquidationSnapshot(accounts[i]);
            if (s.equity <= int256(s.maintenanceMargin)) continue;
            for (uint256 k; k < ps.length; ++k) {
                if (ps[k].marketId != m || ps[k].size == 0 || (ps[k].size > 0) == vaultLong || ps[k].value <= 0) {
                    continue;
                }
                uint256 score = Math.mulDiv(uint256(ps[k].value), s.notional, uint256(s.equity));
                uint256 j = n++;
                while (j > 0 && (scores[j - 1] < score || (scores[j - 1] == score && ids[j - 1] > accounts[i]))) {
                    scores[j] = scores[j - 1];
                    ids[j] = ids[j - 1];
                    --j;
                }
                scores[j] = score;
                ids[j] = accounts[i];
            }
        }
    }

    /// @dev A refusal carries one of deleverageBackstop's documented errors, and the right one for a stranger
    ///      (AccessControlUnauthorizedAccount), for the keeper with no inventory (NothingToDeleverage) and with
    ///      nothing the engine lets go (backstopExcess 0: BackstopYieldsToDeficit while a deficit of the vault's
    ///      side is pending in the market, else BackstopAboveTrigger).
    function _checkRefusal(bytes memory err, address caller, uint256 m, DelevBefore memory b) internal {
        bytes4 sel = err.length >= 4 ? bytes4(err) : bytes4(0);
        bool documented =
            sel == IAccessControl.AccessControlUnauthorizedAccount.selector ||
                sel == IAutoDeleveraging.BackstopDeleverageOff.selector ||
                sel == IAutoDeleveraging.BackstopAboveTrigger.selector ||
                sel == IAutoDeleveraging.BackstopYieldsToDeficit.selector ||
                sel == IAutoDeleveraging.NothingToDeleverage.selector ||
                sel == IAutoDeleveraging.TooManyCandidates.selector ||
                sel == IAutoDeleveraging.NotAnAdlCandidate.selector ||
                sel == IAutoDeleveraging.AdlCandidatesNotRanked.selector ||
                sel == IAutoDeleveraging.NoAdlCandidateAboveMaintenance.selector;
        bool right = documented;
        if (caller != keeper) right = sel == IAccessControl.AccessControlUnauthorizedAccount.selector;
        else if (!b.triggerOn) right = sel == IAutoDeleveraging.BackstopDeleverageOff.selector;
        else if (b.vaultSize[m] == 0) right = sel == IAutoDeleveraging.NothingToDeleverage.selector;
        else if (b.excess == 0) {
            right =
                b.deficit != 0
                    ? sel == IAutoDeleveraging.BackstopYieldsToDeficit.selector
                    : sel == IAutoDeleveraging.BackstopAboveTrigger.selector;
        }
        if (!right) {
            ++ghost_deleverageBadRefusal;
            lastViolation = string.concat("deleverageBackstop refused with ", vm.toString(err));
        }
    }

    /// @dev After a deleverageBackstop that went through: every BackstopDeleveraged candidate checked, then the
    ///      vault's inventory, the market and the vault's value.
    function _checkDeleverage(uint256 m, uint256[] memory list, DelevBefore memory b, Vm.Log[] memory logs) internal {
        int256[] memory closed = new int256[](list.length);
        bool[] memory touched = new bool[](list.length);
        int256 total;
        for (uint256 i; i < logs.length; ++i) {
            if (
                logs[i].emitter != address(engine) ||
                logs[i].topics[0] != IAutoDeleveraging.BackstopDeleveraged.selector
            ) {
                continue;
            }
            uint256 id = uint256(logs[i].topics[2]);
            (int256 delta, , ) = abi.decode(logs[i].data, (int256, uint256, uint256));
            total += delta;
            ++ghost_candidatesClosed;
            bool found;
            for (uint256 k; k < list.length && !found; ++k) {
                if (list[k] != id || touched[k]) continue;
                (found, touched[k], closed[k]) = (true, true, delta);
            }
            if (!found) _candidateBreach("closed an account twice or one not listed", id, delta);
        }
        for (uint256 k; k < list.length; ++k) {
            if (!touched[k] && _closedElsewhere(list[k], list, touched)) continue;
            // the vault's own entry, never read once its inventory ran out: its change is the inventory's,
            // checked by _checkVaultInventory (found at 10,000 runs: the vault listed after the last close)
            if (!touched[k] && list[k] == vaultId) continue;
            _checkCandidate(m, list[k], b, k, touched[k], closed[k]);
        }
        _checkVaultInventory(m, b, total);
        _checkMarket(m, b, total);
        (int256 equity, ) = bv.book();
        if (equity + 1e9 < b.vaultEquity || bv.sharePrice() + SCALE < b.sharePrice) {
            ++ghost_deleverageValueLeak;
            lastViolation = string.concat(
                "deleverageBackstop: vault equity ",
                vm.toString(b.vaultEquity),
                " -> ",
                vm.toString(equity),
                ", share price ",
                vm.toString(b.sharePrice),
                " -> ",
                vm.toString(bv.sharePrice())
            );
        }
    }

    function _checkCandidate(
        uint256 m,
        uint256 id,
        DelevBefore memory b,
        uint256 k,
        bool touched,
        int256 delta
    ) internal {
        int256 size = engine.positionView(id, m).size;
        if (!touched) {
            // a listed account left alone (skipped at or below maintenance, or after the inventory ran out)
            if (size != b.sizes[k]) _candidateBreach("changed an untouched account", id, size);
            return;
        }
        IPerpEngine.AccountSummary memory s0 = b.summaries[k];
        bool eligible =
            b.sizes[k] != 0 &&
                (b.sizes[k] > 0) != (b.vaultSize[m] > 0) &&
                b.values[k] > 0 &&
                s0.equity > int256(s0.maintenanceMargin);
        if (!eligible) _candidateBreach("closed an ineligible account", id, b.values[k]);
        if (
            size != b.sizes[k] + delta ||
            _abs(size) >= _abs(b.sizes[k]) ||
            (size != 0 && (size > 0) != (b.sizes[k] > 0))
        ) {
            _candidateBreach("grew or flipped a candidate", id, size);
        }
        (IPerpEngine.AccountSummary memory s, ) = engine.liquidationSnapshot(id);
        if (s.equity < int256(s.maintenanceMargin))
            _candidateBreach("left a candidate below maintenance", id, s.equity);
        if (s.equity > s0.equity + 1e9) {
            ++ghost_deleverageValueLeak;
            lastViolation = string.concat(
                "deleverageBackstop: candidate ",
                vm.toString(id),
                " equity ",
                vm.toString(s0.equity),
                " -> ",
                vm.toString(s.equity)
            );
        }
    }

    /// @dev Whether `id` is also at an entry the engine closed (a repeat after the inventory ran out is never
    ///      read, so the call goes through with the account changed at its other entry).
    function _closedElsewhere(uint256 id, uint256[] memory list, bool[] memory touched) internal pure returns (bool) {
        for (uint256 k; k < list.length; ++k) if (touched[k] && list[k] == id) return true;
        return false;
    }

    function _checkVaultInventory(uint256 m, DelevBefore memory b, int256 total) internal {
        int256 was = b.vaultSize[m];
        int256 now_ = _vaultSize(m);
        bool ok =
            now_ == was - total &&
                _abs(now_) < _abs(was) &&
                (now_ == 0 || (now_ > 0) == (was > 0)) &&
                _vaultSize(1 - m) == b.vaultSize[1 - m];
        if (!ok) {
            ++ghost_vaultInventoryGrown;
            lastViolation = string.concat(
                "deleverageBackstop: vault inventory ",
                vm.toString(was),
                " -> ",
                vm.toString(now_),
                ", candidates closed ",
                vm.toString(total)
            );
        }
    }

    function _checkMarket(uint256 m, DelevBefore memory b, int256 total) internal {
        IPerpEngine.MarketState memory a = engine.marketState(m);
        uint256 size = _abs(total);
        bool ok =
            uint256(b.market.longOpenInterest) - a.longOpenInterest == size &&
                uint256(b.market.shortOpenInterest) - a.shortOpenInterest == size &&
                bs.forcedFlow(m) == b.flow;
        if (!ok) {
            ++ghost_deleverageSold;
            lastViolation = string.concat(
                "deleverageBackstop moved the market: long OI ",
                vm.toString(b.market.longOpenInterest),
                " -> ",
                vm.toString(a.longOpenInterest),
                ", short OI ",
                vm.toString(b.market.shortOpenInterest),
                " -> ",
                vm.toString(a.shortOpenInterest),
                ", closed ",
                vm.toString(size)
            );
        }
    }

    function _candidateBreach(string memory what, uint256 id, int256 figure) internal {
        ++ghost_candidateBroken;
        lastViolation = string.concat(
            "deleverageBackstop ",
            what,
            ": account ",
            vm.toString(id),
            ", ",
            vm.toString(figure)
        );
    }

    function _accounts() internal view returns (uint256[] memory ids) {
        ids = new uint256[](actors.accountCount());
        for (uint256 i; i < ids.length; ++i) ids[i] = actors.accounts(i);
    }

    function _vaultSize(uint256 m) internal view returns (int256) {
        return engine.positionView(vaultId, m).size;
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return uint256(x < 0 ? -x : x);
    }
}
