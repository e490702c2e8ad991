// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

import {RiskParams} from "../libraries/RiskModel.sol";

/// @title IPerpEngine
/// @notice Many perpetual markets in one contract, cross-margined accounts (an address may hold
///         several accounts to isolate risk), oracle-priced fills with a skew premium, funding
///         proportional to skew accrued per second, volatility-adjusted margin and fees.
interface IPerpEngine is IBoundedParameters {
    /// @notice Static configuration of a market (governor, bounded).
    ///         Field order is storage order: what a liquidation reads (the feed, the depth and the funding
    ///         rate cap, in the first two slots) is kept apart from the trade caps (the third slot).
    struct MarketConfig {
        bytes32 feedId; // oracle adapter feed
        uint128 skewScale; // depth, in base units (WAD): skew premium = skew / skewScale
        uint64 maxFundingRatePerSecond; // WAD, reached at |skew| >= skewScale
        bool listed;
        bool reduceOnly; // set by the guardian (safer), cleared by the governor
        uint128 maxOpenInterest; // per side, base units (WAD)
        uint128 maxTradeSize; // per trade, base units (WAD)
        RiskParams risk;
    }

    /// @notice Mutable state of a market.
    struct MarketState {
        uint128 longOpenInterest; // base units (WAD)
        uint128 shortOpenInterest;
        int128 fundingIndex; // cumulative funding per unit of long size (quote WAD)
        uint64 lastAccrualTime;
        uint64 maintenanceTerm; // ramped volatility term of maintenance margin (WAD)
        int128 basisSum; // sum of floor(size * basis) over positions: the LP pool's book value uses it
    }

    /// @notice One storage slot. Net value = size * (price - fundingIndex - basis): the basis is the entry
    ///         price less the funding index at entry (size-weighted), so funding settles lazily.
    struct Position {
        int128 size; // base units (WAD), positive long
        int128 basis; // WAD
    }

    /// @notice Cross-margin totals of an account at current prices (all WAD).
    struct AccountSummary {
        uint256 margin; // collateral balance in the vault
        int256 equity; // margin + unrealised PnL net of funding
        uint256 maintenanceMargin;
        uint256 initialMargin;
        uint256 notional;
    }

    /// @notice Everything about one position at current prices.
    struct PositionView {
        int256 size;
        int256 basis;
        int256 breakEvenPrice; // the index price at which the position's net value is zero
        uint256 indexPrice;
        int256 fundingIndex; // the market's, accrued to now
        int256 unrealisedPnl; // net of funding owed
        uint256 notional;
        uint256 maintenanceMarginRatio;
        uint256 initialMarginRatio;
    }

    /// @notice One position as the liquidation engine sees it, at current prices.
    struct PositionSnapshot {
        uint256 marketId;
        int256 size;
        int256 basis;
        int256 fundingIndex; // the market's, accrued to now
        uint256 price; // index price
        int256 value; // net value: size * (price - fundingIndex - basis), what closing at price realises
        uint256 notional;
        uint256 maintenanceMargin;
        uint256 skewScale; // the market's depth (liquidation capacity is sized from it)
    }

    error AccountNotFound(uint256 accountId);
    error NotAReduction(uint256 accountId, uint256 marketId, int256 size, int256 sizeDelta);
    error NotAccountOwner(uint256 accountId, address caller);
    error MarketNotFound(uint256 marketId);
    error MarketAlreadyListed(uint256 marketId);
    error ZeroAmount();
    error ZeroAddress();
    error ZeroSizeDelta();
    error NoPosition(uint256 accountId, uint256 marketId);
    error TradeSizeTooLarge(uint256 marketId, uint256 size, uint256 maxTradeSize);
    error LimitPriceMissed(uint256 fillPrice, uint256 limitPrice, bool isBuy);
    error OpenInterestCapExceeded(uint256 marketId, uint256 openInterest, uint256 cap);
    error MarginBelowInitial(uint256 accountId, int256 equity, uint256 initialMargin);
    error InsufficientFreeMargin(uint256 accountId, uint256 requestedWad, uint256 availableWad);
    error LeverageAboveCap(uint256 accountId, uint256 leverageWad, uint256 maxLeverageWad);
    error MarketReduceOnly(uint256 marketId);
    error TradingHalted(uint256 marketId);
    error TooManyPositions(uint256 accountId, uint256 max);
    error GuardianCanOnlyTighten(uint256 marketId);
    error AccountUnderwater(uint256 accountId, uint256 shortfall);
    /// @notice A risk-adding trade would leave a position below the minimum notional (the liquidation
    ///         config's dustNotional). Reducing and closing are never refused for size.
    /// @notice Two-step orders are on: a trade that adds risk must be committed and settled (IOrders).
    error RiskNeedsOrder(uint256 accountId, uint256 marketId);
    error PositionBelowMinimum(uint256 accountId, uint256 marketId, uint256 notional, uint256 minimum);

    event AccountCreated(uint256 indexed accountId, address indexed owner);
    event MarketListed(uint256 indexed marketId, bytes32 feedId);
    event MarketConfigSet(uint256 indexed marketId, MarketConfig config);
    event MarketReduceOnlySet(uint256 indexed marketId, bool reduceOnly, address by);
    event CircuitBreakerSet(address breaker);
    event MarketAccrued(uint256 indexed marketId, int256 fundingIndex, int256 fundingRatePerSecond, uint256 term);
    event PositionModified(
        uint256 indexed accountId,
        uint256 indexed marketId,
        int256 sizeDelta,
        int256 newSize,
        uint256 fillPrice,
        uint256 fee,
        int256 realisedPnl,
        int256 fundingIndex
    );
    event BadDebtIncurred(uint256 indexed accountId, uint256 indexed marketId, uint256 amountWad);

    // ----- accounts and margin -----
    /// @notice Creates an account owned by the caller. Its liquidation state slot is written now, so a
    ///         liquidation never pays for a fresh slot.
    function createAccount() external returns (uint256 accountId);
    /// @notice Adds margin (token units). Anyone may add margin to any account; never restricted. Margin
    ///         added ends the account's reward-escalation episode (its flag clears, AccountFlagged(id, 0)):
    ///         withdrawing it again does not bring the old clock back.
    function deposit(uint256 accountId, uint256 amount) external;
    /// @notice Withdraws margin (token units) if the account still meets initial margin after it, and the
    ///         leverage cap of the stress level of every market it holds (notional <= equity * maxLeverage).
    function withdraw(uint256 accountId, uint256 amount, address to) external;

    // ----- trading -----
    /// @notice Changes a position by `sizeDelta` (positive buys). A buy fails if the fill is above
    ///         `limitPrice`, a sell if it is below. Once two-step orders are enabled (IOrders), a trade
    ///         that adds risk (open, increase, flip) is refused with RiskNeedsOrder; reducing and closing
    ///         stay here, one step, whatever is pending.
    function modifyPosition(uint256 accountId, uint256 marketId, int256 sizeDelta, uint256 limitPrice) external;
    /// @notice The fill of a settled two-step order: the trade modifyPosition would make, every check
    ///         included, but filled around `indexPrice` (the order's round) instead of the latest price.
    ///         Callable only by the engine itself (the order module's settlement, at this address).
    function fillOrder(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 limitPrice,
        uint256 indexPrice
    ) external;
    /// @notice Closes the account's position in a market; never refused by margin, stress level or caps.
    function closePosition(uint256 accountId, uint256 marketId, uint256 limitPrice) external;
    /// @notice Accrues funding and the maintenance-margin ramp of a market. Permissionless.
    function accrue(uint256 marketId) external;

    /// @notice Reduces (or closes) a position with no margin check, fee, stress-level or size limit, at
    ///         the oracle index price, or at `priceWad` when non-zero. Liquidator role only; it can never
    ///         add risk. (Liquidations and auto-deleveraging run inside the engine and reduce directly.)
    /// @return realised value realised into margin (PnL net of funding)
    /// @return shortfall the part of a realised loss the margin could not pay (bad debt)
    /// @return fillPrice the price used
    function forceReduce(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 priceWad
    ) external returns (int256 realised, uint256 shortfall, uint256 fillPrice);

    // ----- markets (governor; guardian may only tighten) -----
    /// @notice Lists a market. Its feed must already be registered and answering. Governor.
    function listMarket(uint256 marketId, MarketConfig calldata config) external;
    /// @notice Changes a listed market's parameters (the feed stays). Accrues first, so funding up to
    ///         now is charged at the old parameters. Governor.
    function setMarketConfig(uint256 marketId, MarketConfig calldata config) external;
    /// @notice Puts a market in reduce-only mode. Guardian or governor: it only makes things safer.
    function restrictMarket(uint256 marketId) external;
    /// @notice Lifts reduce-only mode. Governor only.
    function unrestrictMarket(uint256 marketId) external;
    /// @notice Lowers a market's open-interest cap (and the trade-size cap with it). Guardian; only lower.
    function lowerOpenInterestCap(uint256 marketId, uint128 newCap) external;
    /// @notice Sets (or, with address(0), removes) the circuit breaker consulted by risk-adding trades.
    function setCircuitBreaker(address breaker) external;

    // ----- views -----
    /// @notice Cross-margin totals of an account at current prices, initial margin included.
    function accountSummary(uint256 accountId) external view returns (AccountSummary memory);
    /// @notice accountSummary plus every position, in one pass (one oracle read per market). Initial
    ///         margin is not computed (zero): liquidations never depend on the circuit breaker answering.
    function liquidationSnapshot(
        uint256 accountId
    ) external view returns (AccountSummary memory summary, PositionSnapshot[] memory positions);
    /// @notice A market's static configuration.
    function marketConfig(uint256 marketId) external view returns (MarketConfig memory);
    /// @notice A market's state as last accrued.
    function marketState(uint256 marketId) external view returns (MarketState memory);
    /// @notice A position as stored (size and basis).
    function position(uint256 accountId, uint256 marketId) external view returns (Position memory);
    /// @notice The owner of an account (address(0) for none).
    function accountOwner(uint256 accountId) external view returns (address);
    /// @notice Ids of the markets in which the account has a position.
    function accountMarkets(uint256 accountId) external view returns (uint256[] memory ids);
    /// @notice Current funding rate per second of a market (positive: longs pay).
    function fundingRate(uint256 marketId) external view returns (int256);
    /// @notice The id the next createAccount returns.
    function nextAccountId() external view returns (uint256);
    /// @notice Bit i set: market i is listed.
    function listedMarkets() external view returns (uint96);
    /// @notice The circuit breaker consulted by risk-adding trades (address(0): none).
    function circuitBreaker() external view returns (address);
    /// @notice Sum over markets of (long + short open interest) * index price (WAD).
    function openNotional() external view returns (uint256);
    /// @notice equity / maintenance margin (WAD); type(uint256).max without positions, 0 if equity <= 0.
    function health(uint256 accountId) external view returns (uint256);
    /// @notice Whether the account is below maintenance margin (and holds a position).
    function isLiquidatable(uint256 accountId) external view returns (bool);
    /// @notice Everything about one position at current prices.
    function positionView(uint256 accountId, uint256 marketId) external view returns (PositionView memory);
    /// @notice Fill price and fee a trade of `sizeDelta` would get now, from a position of `currentSize`.
    function quoteTrade(
        uint256 marketId,
        int256 sizeDelta,
        int256 currentSize
    ) external view returns (uint256 fillPrice, uint256 fee);
    /// @notice Unrealised PnL of all traders net of funding they owe (the LP pool's liability), and the
    ///         notional of the open skew summed over markets (the vault locks a ratio of it), both WAD.
    function lpExposure() external view returns (int256 traderNetPnl, uint256 skewNotional);
    /// @notice lpExposure for views that must not revert (the vault's ERC-4626 totalAssets and
    ///         convertTo*). Equal to lpExposure while every price is fresh. A market whose fresh price
    ///         cannot be read is marked at its feed's latest answer however old (else the oracle's last
    ///         validated volatility anchor), and only its traders' net gain counts, never their net
    ///         loss: an old price never raises the LP book value. Never reverts on a price.
    function lpExposureLax() external view returns (int256 traderNetPnl, uint256 skewNotional);
}
