// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

/// @title IOrders
/// @notice Two-step orders: every trade that adds risk (open, increase, flip) is committed first and
///         filled later at the price of the first oracle round published at least `minDelay` after the
///         commit, so no one can trade at a price they already know is about to change. Served by the
///         OrderModule at PerpEngine's address.
/// @dev One pending order per account. The commit reserves an escrow in the account's margin (the
///      settlement reward and a fee allowance; nothing is transferred, withdrawals leave it in place).
///      Anyone settles a pending order within its window by naming the round; the contract proves the
///      round is the first one at or after commit time + minDelay (its predecessor is older), so no one
///      chooses the price. Settlement re-runs every check of a direct trade (stress level, initial
///      margin, leverage cap, open-interest cap, limit price) against the position as it then is; an
///      order that fails them is refused (removed, the settler still paid). An order not settled by
///      commit time + maxDelay is expired: anyone may cancel it, and its escrow stays in the margin.
interface IOrders is IBoundedParameters {
    /// @notice The governed parameters and the one-way switch.
    struct OrderConfig {
        uint32 minDelay; // seconds after the commit before a round may fill it
        uint32 maxDelay; // seconds after the commit the order may still be settled (the window's end)
        uint128 settlementReward; // WAD, paid to the settler from the account's margin
        bool enabled; // once set, modifyPosition refuses risk-adding trades (never unset)
    }

    /// @notice A pending order (committedAt == 0: none).
    struct Order {
        int128 sizeDelta;
        uint128 limitPrice; // WAD; a buy fills at or below it, a sell at or above it
        uint128 escrow; // WAD reserved in the margin: settlement reward + fee allowance
        uint40 committedAt;
        uint8 marketId;
    }

    error OrdersNotEnabled();
    error OrdersAlreadyEnabled();
    error OrderConfigUnset();
    error OrderPending(uint256 accountId, uint256 expiresAt);
    error NoPendingOrder(uint256 accountId);
    error OrderNotRiskAdding(uint256 accountId, uint256 marketId, int256 size, int256 sizeDelta);
    error OrderExpired(uint256 accountId, uint256 expiresAt);
    error OrderNotExpired(uint256 accountId, uint256 expiresAt);
    error InsufficientMarginForEscrow(uint256 accountId, uint256 marginWad, uint256 escrowWad);
    /// @notice The round was published before the order was committed: its price was known then.
    error RoundBeforeCommit(uint80 roundId, uint256 updatedAt, uint256 committedAt);
    /// @notice The round is after the commit but before commit time + minDelay.
    error RoundTooEarly(uint80 roundId, uint256 updatedAt, uint256 earliest);
    /// @notice The round was published after the order's window closed.
    error RoundAfterWindow(uint80 roundId, uint256 updatedAt, uint256 latest);
    /// @notice The round's predecessor is not older than commit time + minDelay (or cannot be read): the
    ///         round is not provably the first one that may fill the order.
    error NotFirstRound(uint80 roundId, uint256 previousUpdatedAt, uint256 earliest);
    /// @notice The fill ran out of gas: the whole settlement reverts, so a settler cannot starve a fill
    ///         to have the order refused and still be paid.
    error SettlementOutOfGas(uint256 accountId);
    error LengthMismatch(uint256 accounts, uint256 rounds);

    event OrderCommitted(
        uint256 indexed accountId,
        uint256 indexed marketId,
        int256 sizeDelta,
        uint256 limitPrice,
        uint256 escrow,
        uint256 settleFrom,
        uint256 expiresAt
    );
    /// @notice `delay`: seconds from the commit to this settlement.
    event OrderSettled(
        uint256 indexed accountId,
        uint256 indexed marketId,
        int256 sizeDelta,
        uint80 roundId,
        uint256 roundPrice,
        address indexed settler,
        uint256 rewardPaid,
        uint256 delay
    );
    /// @notice The fill failed a check at settlement (`reason`: the error's selector); the order is gone
    ///         and the settler was paid.
    event OrderRefused(
        uint256 indexed accountId,
        uint256 indexed marketId,
        uint80 roundId,
        address indexed settler,
        uint256 rewardPaid,
        bytes4 reason
    );
    /// @notice An expired order removed (by anyone, or replaced by its owner's next commit).
    event OrderCancelled(uint256 indexed accountId, uint256 indexed marketId, address by);
    event OrderConfigSet(uint256 minDelay, uint256 maxDelay, uint256 settlementReward);
    event OrdersEnabled();

    /// @notice Commits a risk-adding trade (the account owner only). Refuses a trade that does not add
    ///         risk (reduce with modifyPosition) and a second live order; an expired one is replaced.
    /// @param limitPrice WAD; the worst fill accepted (a buy at most, a sell at least).
    function commitOrder(uint256 accountId, uint256 marketId, int256 sizeDelta, uint256 limitPrice) external;

    /// @notice Settles the account's pending order at round `roundId` of its market's feed, which must be
    ///         the first round at or after commit time + minDelay and within the window. Anyone may call;
    ///         the settlement reward goes to the caller's claimable keeper rewards, filled or refused.
    function settleOrder(uint256 accountId, uint80 roundId) external;

    /// @notice settleOrder for many accounts; one that cannot be settled (none pending, expired, wrong
    ///         round) is skipped, not reverted. Returns how many were settled or refused.
    function settleOrders(uint256[] calldata accountIds, uint80[] calldata roundIds) external returns (uint256 done);

    /// @notice Removes an expired order (anyone). The escrow was never moved: it stays in the margin.
    function cancelOrder(uint256 accountId) external;

    /// @notice Sets the delays and the reward (governor): 1 <= minDelay <= MAX_MIN_DELAY,
    ///         minDelay + MIN_WINDOW <= maxDelay <= MAX_MAX_DELAY, settlementReward <= MAX_SETTLEMENT_REWARD.
    function setOrderConfig(uint32 minDelay, uint32 maxDelay, uint128 settlementReward) external;

    /// @notice Turns two-step orders on for good (governor): from then on modifyPosition refuses
    ///         risk-adding trades. Requires the parameters to be set.
    function enableOrders() external;

    /// @notice The parameters and the switch.
    function orderConfig() external view returns (OrderConfig memory);

    /// @notice The account's pending order (committedAt == 0: none).
    function pendingOrder(uint256 accountId) external view returns (Order memory);
}
