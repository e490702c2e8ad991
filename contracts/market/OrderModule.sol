// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IOrders} from "../interfaces/IOrders.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {ICircuitBreaker} from "../interfaces/ICircuitBreaker.sol";
import {Bounds} from "../libraries/Bounds.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {Roles} from "../libraries/Roles.sol";
import {PerpEngineBase} from "./PerpEngineBase.sol";

/// @title OrderModule
/// @notice Two-step orders (IOrders): commit, then settle at the first oracle round published at least
///         `minDelay` after the commit.
/// @dev A module of PerpEngine, reached at the engine's address through the fallback chain (after
///      BackstopModule; what it does not serve goes on to auto-deleveraging). The fill itself is the
///      engine's own trade, reached through a self-call (`fillOrder`), so a settled order passes exactly
///      the checks of a direct trade, and a fill that fails them is caught and the order refused.
contract OrderModule is IOrders, PerpEngineBase {
    using FixedPoint for uint256;
    using SafeCast for uint256;

    /// @notice Bounds of the parameters (seconds; WAD for the reward).
    uint256 public constant MIN_MIN_DELAY = 1;
    uint256 public constant MAX_MIN_DELAY = 300;
    uint256 public constant MIN_WINDOW = 10;
    uint256 public constant MAX_MAX_DELAY = 1 days;
    uint256 public constant MAX_SETTLEMENT_REWARD = 100e18;
    /// @notice The fee allowance escrowed at commit: this many times the fee quoted then.
    uint256 public constant ESCROW_FEE_FACTOR = 2;

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

    // ================================================================== commit

    /// @inheritdoc IOrders
    function commitOrder(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 limitPrice
    ) external nonReentrant {
        OrderConfig memory c = _orderConfig;
        if (!c.enabled) revert OrdersNotEnabled();
        address owner = _accounts[accountId].owner;
        if (owner == address(0)) revert IPerpEngine.AccountNotFound(accountId);
        if (owner != msg.sender) revert IPerpEngine.NotAccountOwner(accountId, msg.sender);
        Order storage o = _orders[accountId];
        uint256 at = o.committedAt;
        if (at != 0) {
            if (block.timestamp <= at + c.maxDelay) revert OrderPending(accountId, at + c.maxDelay);
            emit OrderCancelled(accountId, o.marketId, msg.sender);
        }
        uint256 escrow = c.settlementReward + _checkedFeeAllowance(accountId, marketId, sizeDelta);
        uint256 margin = vault.marginOf(accountId);
        if (margin < escrow) revert InsufficientMarginForEscrow(accountId, margin, escrow);

        o.sizeDelta = int128(sizeDelta); // |sizeDelta| <= maxTradeSize, a uint128
        o.limitPrice = uint128(limitPrice.min(type(uint128).max));
        o.escrow = escrow.toUint128();
        o.committedAt = uint40(block.timestamp);
        o.marketId = uint8(marketId); // listed: < MAX_MARKETS
        emit OrderCommitted(
            accountId,
            marketId,
            sizeDelta,
            limitPrice,
            escrow,
            block.timestamp + c.minDelay,
            block.timestamp + c.maxDelay
        );
    }

    /// @dev The checks a commit can make now (they run again at settlement), and the fee allowance:
    ///      ESCROW_FEE_FACTOR times the fee quoted at the current price, volatility and stress level.
    function _checkedFeeAllowance(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta
    ) internal view returns (uint256) {
        IPerpEngine.MarketConfig storage cfg = _listedConfig(marketId);
        if (sizeDelta == 0) revert IPerpEngine.ZeroSizeDelta();
        uint256 absDelta = FixedPoint.abs(sizeDelta); // int256.min reverts here
        if (absDelta > cfg.maxTradeSize) revert IPerpEngine.TradeSizeTooLarge(marketId, absDelta, cfg.maxTradeSize);
        int256 size = _positions[accountId][marketId].size;
        if (!_addsRisk(size, size + sizeDelta)) revert OrderNotRiskAdding(accountId, marketId, size, sizeDelta);
        // No escrow for an order the market refuses now.
        ICircuitBreaker.TradePolicy memory policy = _policy(marketId);
        if (!policy.tradingOpen) revert IPerpEngine.TradingHalted(marketId);
        if (!policy.newRiskAllowed || cfg.reduceOnly) revert IPerpEngine.MarketReduceOnly(marketId);
        return ESCROW_FEE_FACTOR * _feeQuote(cfg, marketId, size, sizeDelta, policy);
    }

    function _feeQuote(
        IPerpEngine.MarketConfig storage cfg,
        uint256 marketId,
        int256 size,
        int256 sizeDelta,
        ICircuitBreaker.TradePolicy memory policy
    ) internal view returns (uint256) {
        (uint256 price, uint256 sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        uint256 fill = PerpMath.fillPrice(price, _skew(_states[marketId]), sizeDelta, cfg.skewScale);
        return _tradeFee(cfg, size, sizeDelta, fill, sigma, policy.feeMultiplier);
    }

    // ================================================================== settle

    /// @inheritdoc IOrders
    function settleOrder(uint256 accountId, uint80 roundId) external nonReentrant {
        _settle(accountId, roundId, true);
    }

    /// @inheritdoc IOrders
    function settleOrders(
        uint256[] calldata accountIds,
        uint80[] calldata roundIds
    ) external nonReentrant returns (uint256 done) {
        if (accountIds.length != roundIds.length) revert LengthMismatch(accountIds.length, roundIds.length);
        for (uint256 i; i < accountIds.length; ++i) {
            if (_settle(accountIds[i], roundIds[i], false)) ++done;
        }
    }

    /// @dev `strict`: revert with the reason an order cannot be settled; otherwise return false.
    function _settle(uint256 accountId, uint80 roundId, bool strict) internal returns (bool) {
        Order memory o = _orders[accountId];
        OrderConfig memory c = _orderConfig;
        (bytes memory err, uint256 price) = _prove(accountId, o, c, roundId);
        if (err.length != 0) {
            if (strict) {
                assembly ("memory-safe") {
                    revert(add(err, 0x20), mload(err))
                }
            }
            return false;
        }
        delete _orders[accountId];
        // The reward first, so the fill's margin check sees the margin without it.
        uint256 paid;
        if (c.settlementReward != 0) {
            (paid, ) = vault.chargePenalty(accountId, msg.sender, c.settlementReward, 0);
        }
        bytes4 reason;
        try IPerpEngine(address(this)).fillOrder(accountId, o.marketId, o.sizeDelta, o.limitPrice, price) {} catch (
            bytes memory r
        ) {
            // Every refusal of a trade carries an error; empty data is a fill starved of gas.
            if (r.length < 4) revert SettlementOutOfGas(accountId);
            reason = bytes4(r);
        }
        if (reason == bytes4(0)) {
            emit OrderSettled(
                accountId,
                o.marketId,
                o.sizeDelta,
                roundId,
                price,
                msg.sender,
                paid,
                block.timestamp - o.committedAt
            );
        } else {
            emit OrderRefused(accountId, o.marketId, roundId, msg.sender, paid, reason);
        }
        return true;
    }

    /// @dev Why the order cannot be settled at `roundId` (empty: it can), and the round's price. The round
    ///      must be the first at or after commit time + minDelay: at or after it, and its predecessor
    ///      before it.
    function _prove(
        uint256 accountId,
        Order memory o,
        OrderConfig memory c,
        uint80 roundId
    ) internal view returns (bytes memory err, uint256 price) {
        if (o.committedAt == 0) return (abi.encodeWithSelector(NoPendingOrder.selector, accountId), 0);
        uint256 latest = uint256(o.committedAt) + c.maxDelay;
        if (block.timestamp > latest) return (abi.encodeWithSelector(OrderExpired.selector, accountId, latest), 0);
        uint256 updatedAt;
        uint256 previous;
        try oracle.roundPrice(_configs[o.marketId].feedId, roundId) returns (uint256 p, uint256 u, uint256 prev) {
            (price, updatedAt, previous) = (p, u, prev);
        } catch (bytes memory r) {
            return (r.length == 0 ? abi.encodeWithSelector(NotFirstRound.selector, roundId, 0, 0) : r, 0);
        }
        uint256 earliest = uint256(o.committedAt) + c.minDelay;
        if (updatedAt < o.committedAt) {
            err = abi.encodeWithSelector(RoundBeforeCommit.selector, roundId, updatedAt, o.committedAt);
        } else if (updatedAt < earliest) {
            err = abi.encodeWithSelector(RoundTooEarly.selector, roundId, updatedAt, earliest);
        } else if (updatedAt > latest) {
            err = abi.encodeWithSelector(RoundAfterWindow.selector, roundId, updatedAt, latest);
        } else if (previous == 0 || previous >= earliest) {
            err = abi.encodeWithSelector(NotFirstRound.selector, roundId, previous, earliest);
        }
    }

    // ================================================================== cancel

    /// @inheritdoc IOrders
    function cancelOrder(uint256 accountId) external nonReentrant {
        Order storage o = _orders[accountId];
        uint256 at = o.committedAt;
        if (at == 0) revert NoPendingOrder(accountId);
        uint256 expiresAt = at + _orderConfig.maxDelay;
        if (block.timestamp <= expiresAt) revert OrderNotExpired(accountId, expiresAt);
        uint256 marketId = o.marketId;
        delete _orders[accountId];
        emit OrderCancelled(accountId, marketId, msg.sender);
    }

    // ================================================================== parameters

    /// @inheritdoc IOrders
    function setOrderConfig(
        uint32 minDelay,
        uint32 maxDelay,
        uint128 settlementReward
    ) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("minDelay", minDelay, MIN_MIN_DELAY, MAX_MIN_DELAY);
        Bounds.check("maxDelay", maxDelay, uint256(minDelay) + MIN_WINDOW, MAX_MAX_DELAY);
        Bounds.check("settlementReward", settlementReward, 0, MAX_SETTLEMENT_REWARD);
        OrderConfig storage c = _orderConfig;
        c.minDelay = minDelay;
        c.maxDelay = maxDelay;
        c.settlementReward = settlementReward;
        emit OrderConfigSet(minDelay, maxDelay, settlementReward);
    }

    /// @inheritdoc IOrders
    function enableOrders() external onlyRole(Roles.GOVERNOR) {
        OrderConfig storage c = _orderConfig;
        if (c.enabled) revert OrdersAlreadyEnabled();
        if (c.maxDelay == 0) revert OrderConfigUnset();
        c.enabled = true;
        emit OrdersEnabled();
    }

    // ================================================================== views

    /// @inheritdoc IOrders
    function orderConfig() external view returns (OrderConfig memory) {
        return _orderConfig;
    }

    /// @inheritdoc IOrders
    function pendingOrder(uint256 accountId) external view returns (Order memory) {
        return _orders[accountId];
    }
}
