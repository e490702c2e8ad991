// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {InsuranceFund} from "../../../contracts/insurance/InsuranceFund.sol";
import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {Vault} from "../../../contracts/vault/Vault.sol";
import {ILiquidator} from "../../../contracts/interfaces/ILiquidator.sol";
import {ILiquidationConfigurator} from "../../../contracts/interfaces/ILiquidationConfigurator.sol";
import {ILiquidationEngine} from "../../../contracts/interfaces/ILiquidationEngine.sol";
import {IAutoDeleveraging} from "../../../contracts/interfaces/IAutoDeleveraging.sol";
import {IPerpEngine} from "../../../contracts/interfaces/IPerpEngine.sol";
import {MockAggregator} from "../../../contracts/mocks/MockAggregator.sol";
import {MockUSDC} from "../../../contracts/mocks/MockUSDC.sol";
import {ProtocolHandler} from "./ProtocolHandler.sol";
import {WAD} from "../../../contracts/libraries/Constants.sol";

/// @notice The liquidation layer's actions for the invariant suite, next to ProtocolHandler (which drives
///         the traders, LPs, prices and time on the same accounts): crashes, liquidations single and
///         batched, auto-deleveraging with candidates ranked off-chain, insurance staking and withdrawals,
///         keeper claims and flushes. Ghost state for the invariants; refusals counted like ProtocolHandler's.
/// @dev A separate contract because ProtocolHandler plus these actions exceed the contract size limit.
contract LiquidationHandler is CommonBase, StdUtils {
    enum Action {
        Liquidate,
        LiquidateBatch,
        AutoDeleverage,
        Crash,
        InsuranceStake,
        InsuranceRequest,
        InsuranceWithdraw,
        ClaimKeeperRewards,
        FlushInsurance
    }

    uint256 public constant ACTION_COUNT = 9;
    uint256 internal constant BPS = 10_000;
    uint256 public constant MIN_CRASH_BPS = 2_000;
    uint256 public constant MAX_CRASH_BPS = 4_000;
    uint256 public constant MAX_STAKE = 20_000e6;

    MockUSDC public immutable usdc;
    Vault public immutable vault;
    PerpEngine public immutable engine;
    ILiquidationEngine public immutable liquidationEngine;
    InsuranceFund public immutable insuranceFund;
    /// @dev Told of every crash, so the run's trading sanity check counts only the opens before it.
    ProtocolHandler public immutable protocol;
    address public immutable keeper;
    uint256 public immutable SCALE;

    ProtocolHandler.Market[] internal _markets;
    uint256[] internal _accountIds;
    address[] internal _stakers;

    /// @notice Successful liquidations of an account whose health was >= 1 just before (must stay 0).
    uint256 public ghost_healthyLiquidated;
    /// @notice Tranches after which an account still holding positions was not strictly healthier.
    uint256 public ghost_trancheWorsened;
    uint256 public ghost_tranches;
    uint256 public ghost_badDebtLiquidations;
    /// @notice Accounts an auto-deleveraging call reduced that it left below their maintenance margin, or
    ///         whose margin it moved (must stay 0).
    uint256 public ghost_adlBelowMaintenance;
    uint256 public ghost_adlRecovered;
    /// @notice Tokens the vault gained (or, negative, lost) to the insurance fund: cover in, flushes out.
    int256 public ghost_netFundToVault;
    uint256 public ghost_keeperClaimed;
    uint256 public ghost_keeperPaidByFund;
    uint256 public ghost_staked;
    uint256 public ghost_unstaked;

    mapping(Action => ProtocolHandler.ActionStats) internal _stats;
    mapping(Action => mapping(bytes4 selector => uint256 count)) public revertsBySelector;
    uint256 public ghost_unexpectedReverts;
    Action public lastUnexpectedAction;
    bytes public lastUnexpectedRevert;

    constructor(
        MockUSDC usdc_,
        Vault vault_,
        PerpEngine engine_,
        ILiquidationEngine liquidationEngine_,
        InsuranceFund insuranceFund_,
        ProtocolHandler.Market[] memory markets_,
        uint256[] memory accountIds_,
        address[] memory stakers_,
        ProtocolHandler protocol_
    ) {
        protocol = protocol_;
        usdc = usdc_;
        vault = vault_;
        engine = engine_;
        liquidationEngine = liquidationEngine_;
        insuranceFund = insuranceFund_;
        keeper = address(uint160(uint256(keccak256("handler.keeper"))));
        SCALE = vault_.SCALE();
        for (uint256 i = 0; i < markets_.length; ++i) {
            _markets.push(markets_[i]);
        }
        _accountIds = accountIds_;
        _stakers = stakers_;
        for (uint256 i = 0; i < stakers_.length; ++i) {
            vm.prank(stakers_[i]);
            usdc.approve(address(insuranceFund_), type(uint256).max);
        }
    }

    // ================================================================== actions

    /// @dev Liquidates the first account from the seeded one on that the engine lists as liquidatable now
    ///      (or the seeded account if none is, to exercise the refusals).
    function liquidate(uint256 accountSeed) external {
        _countCall(Action.Liquidate);
        uint256 accountId = _accountIds[accountSeed % _accountIds.length];
        for (uint256 i = 0; i < _accountIds.length; ++i) {
            uint256 id = _accountIds[(accountSeed + i) % _accountIds.length];
            if (engine.isLiquidatable(id)) {
                accountId = id;
                break;
            }
        }
        uint256 healthBefore = engine.health(accountId);
        uint256 vaultBefore = usdc.balanceOf(address(vault));
        uint256 keeperBefore = usdc.balanceOf(keeper);
        uint256 badDebtBefore = liquidationEngine.badDebtIncurred();
        vm.prank(keeper);
        try liquidationEngine.liquidate(accountId) {
            _afterTranche(accountId, healthBefore);
            _countSuccess(Action.Liquidate);
        } catch (bytes memory reason) {
            _countRevert(Action.Liquidate, reason);
        }
        if (liquidationEngine.badDebtIncurred() != badDebtBefore) ++ghost_badDebtLiquidations;
        _recordFundFlows(vaultBefore, keeperBefore);
    }

    /// @dev Every account, twice (the second time it is cooling down) and an unknown id: never reverts.
    function liquidateBatch(uint256 startSeed) external {
        _countCall(Action.LiquidateBatch);
        uint256 n = _accountIds.length;
        uint256[] memory ids = new uint256[](2 * n + 1);
        uint256[] memory healthBefore = new uint256[](n);
        int256[] memory sizesBefore = new int256[](n * _markets.length);
        for (uint256 i = 0; i < n; ++i) {
            uint256 id = _accountIds[(startSeed + i) % n];
            ids[i] = id;
            ids[n + i] = id;
            healthBefore[i] = engine.health(id);
            for (uint256 k = 0; k < _markets.length; ++k) {
                sizesBefore[i * _markets.length + k] = engine.position(id, _markets[k].id).size;
            }
        }
        ids[2 * n] = type(uint128).max; // no such account: skipped, not reverted
        uint256 vaultBefore = usdc.balanceOf(address(vault));
        uint256 keeperBefore = usdc.balanceOf(keeper);
        vm.prank(keeper);
        try liquidationEngine.liquidateBatch(ids) {
            for (uint256 i = 0; i < n; ++i) {
                bool changed;
                for (uint256 k = 0; k < _markets.length; ++k) {
                    if (engine.position(ids[i], _markets[k].id).size != sizesBefore[i * _markets.length + k]) {
                        changed = true;
                    }
                }
                if (changed) _afterTranche(ids[i], healthBefore[i]);
            }
            _countSuccess(Action.LiquidateBatch);
        } catch (bytes memory reason) {
            _countRevert(Action.LiquidateBatch, reason);
        }
        _recordFundFlows(vaultBefore, keeperBefore);
    }

    /// @dev Ranks every account holding the winning side of a market with a queued deficit off-chain, as
    ///      the engine scores them (position value * account notional / equity, best first), and passes them.
    function autoDeleverage(uint256 marketSeed, bool bankruptLong) external {
        _countCall(Action.AutoDeleverage);
        uint256 marketId = _market(marketSeed).id;
        if (liquidationEngine.pendingDeficit(marketId, bankruptLong) == 0) bankruptLong = !bankruptLong;
        if (liquidationEngine.pendingDeficit(marketId, bankruptLong) == 0) return _countSkip(Action.AutoDeleverage);
        (uint256[] memory ranked, uint256 count) = _rankAdl(marketId, bankruptLong);
        if (count == 0) return _countSkip(Action.AutoDeleverage);
        assembly ("memory-safe") {
            mstore(ranked, count)
        }
        uint256[] memory margins = new uint256[](_accountIds.length);
        int256[] memory sizes = new int256[](_accountIds.length);
        for (uint256 i = 0; i < _accountIds.length; ++i) {
            margins[i] = vault.marginOf(_accountIds[i]);
            sizes[i] = engine.position(_accountIds[i], marketId).size;
        }
        try liquidationEngine.autoDeleverage(marketId, bankruptLong, ranked) returns (uint256 recovered) {
            ghost_adlRecovered += recovered;
            _countSuccess(Action.AutoDeleverage);
        } catch (bytes memory reason) {
            _countRevert(Action.AutoDeleverage, reason);
        }
        for (uint256 i = 0; i < _accountIds.length; ++i) {
            if (engine.position(_accountIds[i], marketId).size == sizes[i]) continue;
            (IPerpEngine.AccountSummary memory s, ) = engine.liquidationSnapshot(_accountIds[i]);
            if (s.equity < int256(s.maintenanceMargin) || vault.marginOf(_accountIds[i]) != margins[i]) {
                ++ghost_adlBelowMaintenance;
            }
        }
    }

    /// @dev A fall of 20% to 40% in one round: enough to leave leveraged longs with bad debt.
    function crash(uint256 marketSeed, uint256 dropSeed) external {
        _countCall(Action.Crash);
        ProtocolHandler.Market memory market = _market(marketSeed);
        uint256 dropBps = bound(dropSeed, MIN_CRASH_BPS, MAX_CRASH_BPS);
        (, int256 answer, , , ) = market.feed.latestRoundData();
        int256 next = (answer * int256(BPS - dropBps)) / int256(BPS);
        if (next < market.minAnswer) next = market.minAnswer;
        market.feed.updateAnswer(next);
        protocol.markDisrupted();
        _countSuccess(Action.Crash);
    }

    function insuranceStake(uint256 stakerSeed, uint256 amountSeed) external {
        _countCall(Action.InsuranceStake);
        if (_stakers.length == 0) return _countSkip(Action.InsuranceStake);
        address staker = _stakers[stakerSeed % _stakers.length];
        uint256 amount = bound(amountSeed, 1, MAX_STAKE);
        _mint(staker, amount);
        vm.prank(staker);
        try insuranceFund.deposit(amount, staker) {
            ghost_staked += amount;
            _countSuccess(Action.InsuranceStake);
        } catch (bytes memory reason) {
            _countRevert(Action.InsuranceStake, reason);
        }
    }

    function insuranceRequest(uint256 stakerSeed, uint256 sharesSeed) external {
        _countCall(Action.InsuranceRequest);
        if (_stakers.length == 0) return _countSkip(Action.InsuranceRequest);
        address staker = _stakers[stakerSeed % _stakers.length];
        uint256 balance = insuranceFund.balanceOf(staker);
        if (balance == 0) return _countSkip(Action.InsuranceRequest);
        vm.prank(staker);
        try insuranceFund.requestWithdrawal(bound(sharesSeed, 1, balance)) {
            _countSuccess(Action.InsuranceRequest);
        } catch (bytes memory reason) {
            _countRevert(Action.InsuranceRequest, reason);
        }
    }

    /// @dev Waits out the cooldown of a pending request if needed (feeds refreshed), then redeems within
    ///      maxRedeem: ERC-4626 says that must not revert.
    function insuranceWithdraw(uint256 stakerSeed, uint256 sharesSeed) external {
        _countCall(Action.InsuranceWithdraw);
        if (_stakers.length == 0) return _countSkip(Action.InsuranceWithdraw);
        address staker = _stakers[stakerSeed % _stakers.length];
        IInsuranceFundRequest.WithdrawalRequest memory r = IInsuranceFundRequest(address(insuranceFund))
            .withdrawalRequest(staker);
        if (r.shares == 0 || block.timestamp >= r.expiresAt) return _countSkip(Action.InsuranceWithdraw);
        if (block.timestamp < r.readyAt) {
            vm.warp(r.readyAt);
            vm.roll(block.number + 1);
            _refreshFeeds();
        }
        uint256 max = insuranceFund.maxRedeem(staker);
        if (max == 0) return _countSkip(Action.InsuranceWithdraw);
        uint256 vaultBefore = usdc.balanceOf(address(vault));
        uint256 before = usdc.balanceOf(staker);
        vm.prank(staker);
        try insuranceFund.redeem(bound(sharesSeed, 1, max), staker, staker) {
            ghost_unstaked += usdc.balanceOf(staker) - before;
            _countSuccess(Action.InsuranceWithdraw);
        } catch (bytes memory reason) {
            _countRevert(Action.InsuranceWithdraw, reason);
        }
        ghost_netFundToVault += int256(usdc.balanceOf(address(vault))) - int256(vaultBefore);
    }

    function claimKeeperRewards() external {
        _countCall(Action.ClaimKeeperRewards);
        if (vault.keeperRewardsOf(keeper) < SCALE) {
            return _countSkip(Action.ClaimKeeperRewards);
        }
        vm.prank(keeper);
        try vault.claimKeeperRewards(keeper) returns (uint256 amount) {
            ghost_keeperClaimed += amount;
            _countSuccess(Action.ClaimKeeperRewards);
        } catch (bytes memory reason) {
            _countRevert(Action.ClaimKeeperRewards, reason);
        }
    }

    function flushInsurance() external {
        _countCall(Action.FlushInsurance);
        try vault.flushInsurance() returns (uint256 amount) {
            ghost_netFundToVault -= int256(amount);
            _countSuccess(Action.FlushInsurance);
        } catch (bytes memory reason) {
            _countRevert(Action.FlushInsurance, reason);
        }
    }

    // ================================================================== views

    function stats(Action action) external view returns (ProtocolHandler.ActionStats memory) {
        return _stats[action];
    }

    function stakers() external view returns (address[] memory) {
        return _stakers;
    }

    /// @notice Names for logs, in Action order.
    function actionName(Action action) public pure returns (string memory) {
        string[9] memory names = [
            "liquidate",
            "liquidateBatch",
            "autoDeleverage",
            "crash",
            "insuranceStake",
            "insuranceRequest",
            "insuranceWithdraw",
            "claimKeeperRewards",
            "flushInsurance"
        ];
        return names[uint256(action)];
    }

    // ================================================================== internals

    function _market(uint256 seed) internal view returns (ProtocolHandler.Market memory) {
        return _markets[seed % _markets.length];
    }

    /// @dev After a successful tranche: the account was liquidatable, and it is now closed or healthier.
    function _afterTranche(uint256 accountId, uint256 healthBefore) internal {
        ++ghost_tranches;
        if (healthBefore >= WAD) ++ghost_healthyLiquidated;
        if (engine.accountMarkets(accountId).length != 0 && engine.health(accountId) <= healthBefore) {
            ++ghost_trancheWorsened;
        }
    }

    /// @dev Liquidations move tokens between the vault and the fund (cover in, flushes out) and from the
    ///      fund to the keeper; the vault's side of it is whatever its balance did.
    function _recordFundFlows(uint256 vaultBefore, uint256 keeperBefore) internal {
        ghost_netFundToVault += int256(usdc.balanceOf(address(vault))) - int256(vaultBefore);
        ghost_keeperPaidByFund += usdc.balanceOf(keeper) - keeperBefore;
    }

    /// @dev Accounts on the winning side of `marketId`, in profit, with positive equity, by score descending.
    function _rankAdl(uint256 marketId, bool bankruptLong) internal view returns (uint256[] memory ids, uint256 n) {
        ids = new uint256[](_accountIds.length);
        uint256[] memory scores = new uint256[](_accountIds.length);
        for (uint256 i = 0; i < _accountIds.length; ++i) {
            (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) = engine
                .liquidationSnapshot(_accountIds[i]);
            for (uint256 k = 0; k < ps.length; ++k) {
                IPerpEngine.PositionSnapshot memory p = ps[k];
                if (p.marketId != marketId || (p.size > 0) == bankruptLong || p.value <= 0 || s.equity <= 0) continue;
                uint256 score = Math.mulDiv(uint256(p.value), s.notional, uint256(s.equity));
                uint256 j = n++;
                while (j > 0 && scores[j - 1] < score) {
                    scores[j] = scores[j - 1];
                    ids[j] = ids[j - 1];
                    --j;
                }
                scores[j] = score;
                ids[j] = _accountIds[i];
            }
        }
    }

    function _refreshFeeds() internal {
        for (uint256 i = 0; i < _markets.length; ++i) {
            MockAggregator feed = _markets[i].feed;
            (, int256 answer, , , ) = feed.latestRoundData();
            feed.updateAnswer(answer);
        }
    }

    function _mint(address to, uint256 amount) internal {
        usdc.mint(to, amount);
    }

    function _countCall(Action action) internal {
        ++_stats[action].calls;
    }

    function _countSuccess(Action action) internal {
        ++_stats[action].successes;
    }

    function _countSkip(Action action) internal {
        ++_stats[action].skips;
    }

    function _countRevert(Action action, bytes memory reason) internal {
        bytes4 selector = reason.length >= 4 ? bytes4(reason) : bytes4(0);
        ++revertsBySelector[action][selector];
        if (_isExpected(action, selector)) {
            ++_stats[action].reverts;
        } else {
            ++ghost_unexpectedReverts;
            lastUnexpectedAction = action;
            lastUnexpectedRevert = reason;
        }
    }

    /// @dev The refusals each action may meet. Anything else (ExecutionDiverged, TrancheDidNotImproveHealth,
    ///      a panic, a revert in a batch or in a redemption within maxRedeem) is a finding.
    function _isExpected(Action action, bytes4 selector) internal pure returns (bool) {
        if (action == Action.Liquidate) {
            return
                selector == ILiquidator.AccountHealthy.selector ||
                selector == ILiquidator.NoPositions.selector ||
                selector == ILiquidator.TrancheCoolingDown.selector ||
                selector == ILiquidator.LiquidationCapacityExhausted.selector;
        }
        if (action == Action.AutoDeleverage) {
            return
                selector == IAutoDeleveraging.AdlCapacityExhausted.selector ||
                selector == IAutoDeleveraging.NoAdlCandidateAboveMaintenance.selector;
        }
        return false;
    }
}

/// @dev The one view of IInsuranceFund the handler needs.
interface IInsuranceFundRequest {
    struct WithdrawalRequest {
        uint128 shares;
        uint64 readyAt;
        uint64 expiresAt;
    }

    function withdrawalRequest(address owner) external view returns (WithdrawalRequest memory);
}
