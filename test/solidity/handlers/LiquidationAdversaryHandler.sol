// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {InsuranceFund} from "../../../contracts/insurance/InsuranceFund.sol";
import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {Vault} from "../../../contracts/vault/Vault.sol";
import {ILiquidator} from "../../../contracts/interfaces/ILiquidator.sol";
import {ILiquidationEngine} from "../../../contracts/interfaces/ILiquidationEngine.sol";
import {ILiquidationConfigurator} from "../../../contracts/interfaces/ILiquidationConfigurator.sol";
import {IPerpEngine} from "../../../contracts/interfaces/IPerpEngine.sol";
import {LiquidationMath} from "../../../contracts/libraries/LiquidationMath.sol";
import {MockAggregator} from "../../../contracts/mocks/MockAggregator.sol";
import {MockUSDC} from "../../../contracts/mocks/MockUSDC.sol";
import {WAD} from "../../../contracts/libraries/Constants.sol";

/// @notice An adversary of the liquidation layer: one attacker owns hedged pairs of small accounts and is
///         its own keeper (self-liquidation), flags its own accounts, and holds multi-market accounts whose
///         small leg sits in a market another account's liquidation filled; prices move, time passes, a
///         feed may go stale. Ghost counters record every breach of the two properties at the moment it
///         happens:
///         - a liquidation of an account without bad debt never draws on the insurance fund;
///         - an account below maintenance, out of its cooldown, with a leg in a market whose window has
///           room for it, is never refused for capacity.
contract LiquidationAdversaryHandler is CommonBase, StdUtils {
    uint256 internal constant ETH = 0;
    uint256 internal constant BTC = 1;

    MockUSDC public immutable usdc;
    Vault public immutable vault;
    PerpEngine public immutable engine;
    ILiquidationEngine public immutable liq;
    InsuranceFund public immutable fund;
    MockAggregator public immutable ethFeed;
    MockAggregator public immutable btcFeed;
    address public immutable attacker;
    uint256 public immutable SCALE;

    uint256[] public accounts;
    int256 internal _ethAnswer;
    int256 internal _btcAnswer;
    bool internal _btcStale;

    /// @notice Liquidations of an account without bad debt after which the fund held less (must stay 0).
    uint256 public ghost_solventFundDraws;
    /// @notice Capacity refusals of an account with a leg that had room in its own market (must stay 0).
    uint256 public ghost_blockedByOtherMarket;
    /// @notice Liquidations that went through (a run with none checked little).
    uint256 public ghost_liquidations;
    uint256 public ghost_solventLiquidations;
    uint256 public ghost_capacityRefusals;
    /// @notice Refusals (but cooldown or capacity) of an account liquidatable whatever its stale leg's price
    ///         in its band, with a fresh leg to trade (must stay 0).
    uint256 public ghost_staleLegBlocked;
    /// @notice Previews that went through for an account with a stale leg (a run with none checked little).
    uint256 public ghost_staleLegLiquidations;

    constructor(
        MockUSDC usdc_,
        Vault vault_,
        PerpEngine engine_,
        InsuranceFund fund_,
        MockAggregator ethFeed_,
        MockAggregator btcFeed_,
        address attacker_
    ) {
        usdc = usdc_;
        vault = vault_;
        engine = engine_;
        liq = ILiquidationEngine(address(engine_));
        fund = fund_;
        ethFeed = ethFeed_;
        btcFeed = btcFeed_;
        attacker = attacker_;
        SCALE = vault_.SCALE();
        (, _ethAnswer, , , ) = ethFeed_.latestRoundData();
        (, _btcAnswer, , , ) = btcFeed_.latestRoundData();
        vm.prank(attacker_);
        usdc_.approve(address(vault_), type(uint256).max);
    }

    // ------------------------------------------------------------------ actions

    /// @notice A hedged pair of small accounts (0.1 to 0.5 ETH), each on a thin margin.
    function openHedgedPair(uint256 sizeSeed, uint256 marginSeed) external {
        int256 size = int256(_bound(sizeSeed, 0.1e18, 0.5e18));
        uint256 margin = _bound(marginSeed, 8, 60) * 1e6;
        _open(ETH, size, margin);
        _open(ETH, -size, margin);
    }

    /// @notice A large ETH position with a small BTC leg, on a margin of 4% to 12% of its notional.
    function openWhale(uint256 ethSeed, uint256 btcSeed, uint256 marginSeed) external {
        int256 ethSize = int256(_bound(ethSeed, 100e18, 1_500e18));
        int256 btcSize = int256(_bound(btcSeed, 0.005e18, 0.05e18));
        uint256 margin = (uint256(ethSize) * 2_000 * _bound(marginSeed, 4, 12)) / 100 / 1e12;
        uint256 id = _open(ETH, ethSize, margin);
        if (id == 0) return;
        vm.prank(attacker);
        try engine.modifyPosition(id, BTC, btcSize, type(uint256).max) {} catch {}
    }

    /// @notice A large BTC account whose liquidation fills the BTC window.
    function openBtcFiller(uint256 sizeSeed) external {
        int256 size = int256(_bound(sizeSeed, 50e18, 200e18));
        _open(BTC, (sizeSeed & 1) == 0 ? size : -size, (uint256(size) * 30_000) / 20 / 1e12);
    }

    /// @notice Moves a price by -6% .. +6% (bounded to a band) and lets a few seconds pass.
    function movePrice(uint256 marketSeed, uint256 bpsSeed) external {
        int256 bps = int256(_bound(bpsSeed, 0, 1_200)) - 600;
        vm.warp(block.timestamp + 5);
        if (marketSeed % 2 == 0) {
            _ethAnswer = _clampAnswer((_ethAnswer * (10_000 + bps)) / 10_000, 2_000e8);
        } else {
            _btcAnswer = _clampAnswer((_btcAnswer * (10_000 + bps)) / 10_000, 30_000e8);
        }
        _push();
    }

    /// @notice Lets time pass (cooldowns, windows, escalation).
    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + _bound(secondsSeed, 1, 600));
        _push();
    }

    /// @notice The BTC feed goes stale (no round for more than its heartbeat); the next push refreshes it.
    function staleBtc() external {
        vm.warp(block.timestamp + 1 hours + 1);
        _btcStale = true;
        ethFeed.updateAnswer(_ethAnswer);
    }

    /// @notice While BTC's feed is stale, ETH moves by -6% .. +6% (BTC stays stale); otherwise as movePrice.
    function moveEthWhileBtcStale(uint256 bpsSeed) external {
        if (!_btcStale) return;
        int256 bps = int256(_bound(bpsSeed, 0, 1_200)) - 600;
        vm.warp(block.timestamp + 5);
        _ethAnswer = _clampAnswer((_ethAnswer * (10_000 + bps)) / 10_000, 2_000e8);
        ethFeed.updateAnswer(_ethAnswer);
    }

    /// @notice The attacker flags one of its own accounts (accepted only when it is held back).
    function flag(uint256 seed) external {
        if (accounts.length == 0) return;
        vm.prank(attacker);
        try liq.flag(accounts[seed % accounts.length]) {} catch {}
    }

    /// @notice The attacker liquidates one of its own accounts as its own keeper, and the properties are
    ///         checked on what happened.
    function liquidate(uint256 seed) external {
        if (accounts.length == 0) return;
        _liquidate(accounts[seed % accounts.length]);
    }

    /// @notice Every account in turn (worst cases come up more often than by picking one).
    function liquidateAll() external {
        for (uint256 i; i < accounts.length; ++i) _liquidate(accounts[i]);
    }

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    // ------------------------------------------------------------------ internals

    function _liquidate(uint256 id) internal {
        ILiquidator.Plan memory plan;
        (bool staleLeg, bool liquidatableAnyway, bool bankruptAnyway) = _staleCase(id);
        try liq.previewLiquidation(id) returns (ILiquidator.Plan memory p) {
            plan = p;
            if (staleLeg) ++ghost_staleLegLiquidations;
        } catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            // Liquidatable with the stale leg 50% in the account's favour (far past its band): only its
            // cooldown or capacity may hold it back, or a stale gain that may cover a loss, never when the
            // account is bankrupt even there.
            if (
                liquidatableAnyway &&
                selector != ILiquidator.TrancheCoolingDown.selector &&
                selector != ILiquidator.LiquidationCapacityExhausted.selector &&
                (selector != ILiquidationConfigurator.StaleLegMayCoverLoss.selector || bankruptAnyway)
            ) ++ghost_staleLegBlocked;
            if (selector == ILiquidator.LiquidationCapacityExhausted.selector) {
                ++ghost_capacityRefusals;
                if (_someLegHasRoom(id)) ++ghost_blockedByOtherMarket;
            }
            return;
        }
        uint256 before = _fundWad();
        vm.prank(attacker);
        try liq.liquidate(id) {
            ++ghost_liquidations;
            if (plan.badDebt == 0) {
                ++ghost_solventLiquidations;
                if (_fundWad() < before) ++ghost_solventFundDraws;
            }
        } catch {}
    }

    /// @dev With BTC's feed stale and the account holding a BTC leg and an ETH leg: whether it is below
    ///      maintenance (and below zero equity) with BTC's answer moved 50% in the account's favour, read in
    ///      a self-call that reverts (probeFavourable), so nothing of it stays.
    function _staleCase(uint256 id) internal returns (bool staleLeg, bool liquidatableAnyway, bool bankruptAnyway) {
        if (!_btcStale) return (false, false, false);
        if (engine.position(id, BTC).size == 0 || engine.position(id, ETH).size == 0) return (false, false, false);
        staleLeg = true;
        try this.probeFavourable(id) {} catch (bytes memory r) {
            if (r.length != 64) return (staleLeg, false, false);
            (liquidatableAnyway, bankruptAnyway) = abi.decode(r, (bool, bool));
        }
    }

    /// @notice Not an action (not a target selector): pushes BTC's answer 50% in the account's favour, reads
    ///         its summary, and reverts with (below maintenance, below zero) so that nothing changes.
    function probeFavourable(uint256 id) external {
        int256 btcSize = engine.position(id, BTC).size;
        btcFeed.updateAnswer(btcSize > 0 ? (_btcAnswer * 3) / 2 : _btcAnswer / 2);
        IPerpEngine.AccountSummary memory s = engine.accountSummary(id);
        bytes memory out = abi.encode(s.equity < int256(s.maintenanceMargin), s.equity < 0);
        assembly ("memory-safe") {
            revert(add(out, 32), mload(out))
        }
    }

    /// @dev Whether some leg of the account has room for at least a wei of share in its own market's window.
    function _someLegHasRoom(uint256 id) internal view returns (bool) {
        (, IPerpEngine.PositionSnapshot[] memory ps) = engine.liquidationSnapshot(id);
        for (uint256 i; i < ps.length; ++i) {
            (uint256 cap, uint256 used, ) = liq.liquidationCapacity(ps[i].marketId);
            uint256 room = cap > used ? cap - used : 0;
            if (LiquidationMath.shareThatFits(room, ps[i].notional) != 0) return true;
        }
        return false;
    }

    /// @dev What the insurance fund can pay from: its tokens plus what the vault holds for it (WAD).
    function _fundWad() internal view returns (uint256) {
        return usdc.balanceOf(address(fund)) * SCALE + vault.insurancePendingWad();
    }

    function _open(uint256 marketId, int256 size, uint256 margin) internal returns (uint256 id) {
        if (_btcStale) return 0;
        usdc.mint(attacker, margin);
        vm.startPrank(attacker);
        id = engine.createAccount();
        engine.deposit(id, margin);
        try engine.modifyPosition(id, marketId, size, size > 0 ? type(uint256).max : 0) {
            accounts.push(id);
        } catch {
            id = 0;
        }
        vm.stopPrank();
    }

    function _push() internal {
        ethFeed.updateAnswer(_ethAnswer);
        btcFeed.updateAnswer(_btcAnswer);
        _btcStale = false;
    }

    function _clampAnswer(int256 answer, int256 initial) internal pure returns (int256) {
        if (answer < (initial * 6) / 10) return (initial * 6) / 10;
        if (answer > (initial * 14) / 10) return (initial * 14) / 10;
        return answer;
    }
}
