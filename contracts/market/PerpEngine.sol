// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {LibBit} from "solady/utils/LibBit.sol";

import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {ICircuitBreaker} from "../interfaces/ICircuitBreaker.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IAutoDeleveraging} from "../interfaces/IAutoDeleveraging.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {LiquidationParams} from "../libraries/LiquidationParams.sol";
import {Roles} from "../libraries/Roles.sol";
import {WAD} from "../libraries/Constants.sol";
import {PerpEngineBase} from "./PerpEngineBase.sol";

/// @title PerpEngine
/// @notice Markets, positions, cross-margined accounts, funding and fills. Collateral lives in the
///         Vault; prices and volatility come from the OracleAdapter; the stress-level policy from
///         the CircuitBreaker (optional).
/// @dev Every external function reads: validate, accrue, compute, write, emit, external calls. The
///      Vault is trusted (deployed with the engine) and holds no user-controlled hooks in `settle`.
///      Modules run on this contract's storage by delegatecall (Euler EVK's pattern): market
///      administration (MarketAdmin: its functions are declared here and forwarded to it), and the
///      liquidation modules (LiquidationEngine, LiquidationConfigurator, AutoDeleveraging: the
///      ILiquidationEngine surface, reached through the fallback at this address, each module passing
///      what it does not serve to the next). Liquidations so read and write positions where they live.
contract PerpEngine is IPerpEngine, PerpEngineBase {
    using SafeCast for uint256;
    using SafeCast for int256;
    using FixedPoint for uint256;

    /// @dev Positions are stored as int128; no single trade can be larger.
    int256 internal constant MAX_SIZE = int256(type(int128).max);

    /// @notice Module with the market-administration functions (listMarket, setMarketConfig, ...).
    address public immutable marketAdmin;
    /// @notice First of the liquidation modules (ILiquidationEngine), reached through the fallback:
    ///         LiquidationEngine, then LiquidationConfigurator, then AutoDeleveraging.
    address public immutable liquidationModule;

    constructor(
        IVault vault_,
        IOracleAdapter oracle_,
        address admin,
        address governor,
        address guardian,
        address marketAdmin_,
        address liquidationModule_
    ) PerpEngineBase(vault_, oracle_) {
        if (
            admin == address(0) ||
            governor == address(0) ||
            guardian == address(0) ||
            marketAdmin_.code.length == 0 ||
            liquidationModule_.code.length == 0
        ) revert ZeroAddress();
        marketAdmin = marketAdmin_;
        liquidationModule = liquidationModule_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
        _grantRole(Roles.GUARDIAN, guardian);
        // The liquidation modules' defaults (set here: constructor code costs no runtime bytes).
        ILiquidationConfigurator.Config memory c = ILiquidationConfigurator.Config({
            trancheFraction: 0.25e18,
            healthBuffer: 0.1e18,
            backstopRatio: 0.6667e18,
            penaltyRate: 0.005e18,
            cooldown: 30,
            capacityWindow: 60,
            capacityDepthFactor: 0.005e18,
            dustNotional: 100e18,
            capBypassRatio: 0.6667e18
        });
        ILiquidationConfigurator.RewardConfig memory r = ILiquidationConfigurator.RewardConfig({
            flat: 2e18,
            shareOfNotional: 0.0005e18,
            min: 2e18,
            max: 500e18,
            escalationPerSecond: 0.001e18,
            maxMultiplier: 3e18
        });
        IAutoDeleveraging.AdlConfig memory a = IAutoDeleveraging.AdlConfig({
            window: 3600,
            maxNotionalPerWindow: 10_000_000e18
        });
        // Whole units of LiquidationParams (1e-6 of a WAD), as the setters require.
        _liqConfigWord = LiquidationParams.encodeConfig(c);
        _rewardConfigWord = LiquidationParams.encodeReward(r, c.dustNotional);
        _adlConfig = a;
        emit ILiquidationConfigurator.ConfigSet(c);
        emit ILiquidationConfigurator.RewardConfigSet(r);
        emit IAutoDeleveraging.AdlConfigSet(a);
    }

    /// @dev Liquidations, their parameters and ledgers, and auto-deleveraging run in their modules, on
    ///      this storage (ILiquidationEngine at this address).
    fallback() external {
        _delegate(liquidationModule);
    }

    // ================================================================== accounts and margin

    /// @inheritdoc IPerpEngine
    function createAccount() external returns (uint256 accountId) {
        accountId = _nextAccountId++;
        AccountData storage acct = _accounts[accountId];
        acct.owner = msg.sender;
        acct.created = true;
        emit AccountCreated(accountId, msg.sender);
    }

    /// @inheritdoc IPerpEngine
    function deposit(uint256 accountId, uint256 amount) external nonReentrant {
        AccountData storage acct = _accounts[accountId];
        if (acct.owner == address(0)) revert AccountNotFound(accountId);
        if (acct.liquidatableSince != 0) {
            acct.liquidatableSince = 0;
            emit ILiquidator.AccountFlagged(accountId, 0);
        }
        vault.depositMargin(accountId, msg.sender, amount);
    }

    /// @inheritdoc IPerpEngine
    function withdraw(uint256 accountId, uint256 amount, address to) external nonReentrant {
        uint96 markets = _ownedAccount(accountId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 margin = vault.marginOf(accountId);
        uint256 available = margin;
        if (markets != 0) {
            AccountSummary memory s = _summary(
                accountId,
                markets,
                margin,
                _noCache(),
                _noPositions(),
                _noAccruals(),
                true
            );
            // What stays must meet initial margin and every held market's stress-level leverage cap.
            uint256 required = s.initialMargin.max(s.notional.mulDivUp(WAD, _leverageCap(markets)));
            int256 free = s.equity - int256(required);
            available = free <= 0 ? 0 : uint256(free).min(margin);
        }
        uint256 amountWad = amount > type(uint256).max / SCALE ? type(uint256).max : amount * SCALE;
        // A pending order's escrow stays in the margin until it is settled or cancelled.
        uint256 escrow = _orders[accountId].escrow;
        available = available > escrow ? available - escrow : 0;
        if (amountWad > available) revert InsufficientFreeMargin(accountId, amountWad, available);
        vault.withdrawMargin(accountId, to, amount);
    }

    // ================================================================== trading

    /// @inheritdoc IPerpEngine
    function modifyPosition(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 limitPrice
    ) external nonReentrant {
        _ownedAccount(accountId);
        _trade(accountId, marketId, sizeDelta, limitPrice, 0);
    }

    /// @inheritdoc IPerpEngine
    function fillOrder(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 limitPrice,
        uint256 indexPrice
    ) external {
        if (msg.sender != address(this)) revert NotAccountOwner(accountId, msg.sender);
        _trade(accountId, marketId, sizeDelta, limitPrice, indexPrice);
    }

    /// @inheritdoc IPerpEngine
    function closePosition(uint256 accountId, uint256 marketId, uint256 limitPrice) external nonReentrant {
        _ownedAccount(accountId);
        int256 size = _positions[accountId][marketId].size;
        if (size == 0) revert NoPosition(accountId, marketId);
        _trade(accountId, marketId, -size, limitPrice, 0);
    }

    /// @inheritdoc IPerpEngine
    function accrue(uint256 marketId) external nonReentrant {
        MarketConfig storage cfg = _listedConfig(marketId);
        (uint256 price, uint256 sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        _accrue(marketId, cfg, _states[marketId], price, sigma);
    }

    /// @inheritdoc IPerpEngine
    function forceReduce(uint256, uint256, int256, uint256) external returns (int256, uint256, uint256) {
        _delegate(liquidationModule);
    }

    /// @dev `indexPrice`: 0 for a direct trade (filled around the latest price); a settled order's round
    ///      price otherwise.
    function _trade(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 limitPrice,
        uint256 indexPrice
    ) internal {
        // ---- validate
        if (sizeDelta == 0) revert ZeroSizeDelta();
        MarketConfig storage cfg = _listedConfig(marketId);
        // Before any arithmetic on it: a delta beyond int128 can never be a valid trade, and
        // int256.min cannot even be negated.
        if (sizeDelta > MAX_SIZE || sizeDelta < -MAX_SIZE) {
            revert TradeSizeTooLarge(marketId, _absUnchecked(sizeDelta), cfg.maxTradeSize);
        }
        Position storage pos = _positions[accountId][marketId];
        Trade memory t;
        t.oldSize = pos.size;
        t.oldBasis = pos.basis;
        t.newSize = t.oldSize + sizeDelta;
        t.addsRisk = _addsRisk(t.oldSize, t.newSize);
        // A trade that only reduces never consults the breaker: nothing it could say applies to it, and
        // a broken breaker must not be able to block it.
        ICircuitBreaker.TradePolicy memory policy = t.addsRisk ? _policy(marketId) : _neutralPolicy();
        if (t.addsRisk) {
            // With two-step orders on, risk is added only by a settled order (indexPrice: its round's).
            if (indexPrice == 0 && _orderConfig.enabled) revert RiskNeedsOrder(accountId, marketId);
            _checkRiskAllowed(cfg, policy, marketId, sizeDelta);
        }

        // ---- accrue
        MarketState storage st = _states[marketId];
        MarketCache memory c;
        c.marketId = marketId;
        c.imMultiplier = policy.imMultiplier;
        (c.price, c.sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        (c.fundingIndex, c.term) = _accrue(marketId, cfg, st, c.price, c.sigma);

        // ---- compute
        // An order fills at its round's price; margin and accrual use the current one.
        t.fill = PerpMath.fillPrice(indexPrice == 0 ? c.price : indexPrice, _skew(st), sizeDelta, cfg.skewScale);
        if (sizeDelta > 0 ? t.fill > limitPrice : t.fill < limitPrice) {
            revert LimitPriceMissed(t.fill, limitPrice, sizeDelta > 0);
        }
        t.fee = _tradeFee(cfg, t.oldSize, sizeDelta, t.fill, c.sigma, policy.feeMultiplier);
        (t.newBasis, t.realisedPnl) = PerpMath.applyTrade(t.oldSize, t.oldBasis, sizeDelta, t.fill, c.fundingIndex);

        // ---- write
        _writeMarket(cfg, st, marketId, t);
        pos.size = t.newSize.toInt128();
        pos.basis = t.newBasis.toInt128();
        uint96 markets = _writeAccountMarkets(accountId, _accounts[accountId].markets, marketId, t.newSize);

        // ---- settle with the vault, then check the margin of a risk-adding trade
        // The fee actually charged replaces the quoted one: a margin that cannot pay it forgoes it.
        uint256 margin;
        uint256 shortfall;
        (margin, shortfall, t.fee) = vault.settle(accountId, t.realisedPnl, t.fee);
        // A voluntary trade may not leave bad debt behind: that is the liquidation engine's job, which
        // routes it to the insurance fund and auto-deleveraging. Close gains first, or be liquidated.
        if (shortfall != 0) revert AccountUnderwater(accountId, shortfall);
        if (t.addsRisk) {
            _checkMinimum(accountId, t.newSize, c);
            _checkInitialMargin(accountId, markets, margin, c, policy.maxLeverage);
        }

        emit PositionModified(accountId, marketId, sizeDelta, t.newSize, t.fill, t.fee, t.realisedPnl, c.fundingIndex);
    }

    function _checkRiskAllowed(
        MarketConfig storage cfg,
        ICircuitBreaker.TradePolicy memory policy,
        uint256 marketId,
        int256 sizeDelta
    ) internal view {
        if (!policy.tradingOpen) revert TradingHalted(marketId);
        if (!policy.newRiskAllowed || cfg.reduceOnly) revert MarketReduceOnly(marketId);
        uint256 absDelta = FixedPoint.abs(sizeDelta);
        if (absDelta > cfg.maxTradeSize) revert TradeSizeTooLarge(marketId, absDelta, cfg.maxTradeSize);
    }

    /// @dev No dust: a risk-adding trade leaves the position at or above the minimum notional (the
    ///      liquidation config's dustNotional), so its liquidation pays a keeper from its own margin.
    ///      Reducing and closing never come here.
    function _checkMinimum(uint256 accountId, int256 newSize, MarketCache memory c) internal view {
        uint256 minimum = LiquidationParams.dustNotional(_rewardConfigWord);
        uint256 positionNotional = PerpMath.notional(newSize, c.price);
        if (positionNotional < minimum) revert PositionBelowMinimum(accountId, c.marketId, positionNotional, minimum);
    }

    function _checkInitialMargin(
        uint256 accountId,
        uint96 markets,
        uint256 margin,
        MarketCache memory c,
        uint256 maxLeverage
    ) internal view {
        AccountSummary memory s = _summary(accountId, markets, margin, c, _noPositions(), _noAccruals(), true);
        if (s.equity < int256(s.initialMargin)) revert MarginBelowInitial(accountId, s.equity, s.initialMargin);
        if (maxLeverage != 0 && s.notional > uint256(s.equity).mulWadDown(maxLeverage)) {
            revert LeverageAboveCap(accountId, s.notional.mulDivUp(WAD, uint256(s.equity)), maxLeverage);
        }
    }

    // ================================================================== admin (MarketAdmin module)

    /// @inheritdoc IPerpEngine
    function listMarket(uint256, MarketConfig calldata) external {
        _delegate(marketAdmin);
    }

    /// @inheritdoc IPerpEngine
    function setMarketConfig(uint256, MarketConfig calldata) external {
        _delegate(marketAdmin);
    }

    /// @inheritdoc IPerpEngine
    function restrictMarket(uint256) external {
        _delegate(marketAdmin);
    }

    /// @inheritdoc IPerpEngine
    function unrestrictMarket(uint256) external {
        _delegate(marketAdmin);
    }

    /// @inheritdoc IPerpEngine
    function lowerOpenInterestCap(uint256, uint128) external {
        _delegate(marketAdmin);
    }

    /// @inheritdoc IPerpEngine
    function setCircuitBreaker(address) external {
        _delegate(marketAdmin);
    }

    // ================================================================== views

    /// @inheritdoc IPerpEngine
    function accountSummary(uint256 accountId) public view returns (AccountSummary memory) {
        return _accountSummary(accountId, true);
    }

    function _accountSummary(uint256 accountId, bool withInitial) internal view returns (AccountSummary memory) {
        AccountData storage acct = _accounts[accountId];
        if (acct.owner == address(0)) revert AccountNotFound(accountId);
        return
            _summary(
                accountId,
                acct.markets,
                vault.marginOf(accountId),
                _noCache(),
                _noPositions(),
                _noAccruals(),
                withInitial
            );
    }

    /// @inheritdoc IPerpEngine
    function liquidationSnapshot(
        uint256 accountId
    ) external view returns (AccountSummary memory summary, PositionSnapshot[] memory positions) {
        return _snapshot(accountId);
    }

    /// @inheritdoc IPerpEngine
    function openNotional() external view returns (uint256 total) {
        uint96 bits = _listedMarkets;
        while (bits != 0) {
            uint256 m = LibBit.ffs(bits);
            bits &= bits - 1;
            MarketState storage st = _states[m];
            uint256 oi = uint256(st.longOpenInterest) + st.shortOpenInterest;
            if (oi == 0) continue;
            (uint256 price, ) = oracle.latestPrice(_configs[m].feedId);
            total += oi.mulWadUp(price);
        }
    }

    /// @inheritdoc IPerpEngine
    function health(uint256 accountId) external view returns (uint256) {
        AccountSummary memory s = _accountSummary(accountId, false);
        if (s.maintenanceMargin == 0) return type(uint256).max;
        if (s.equity <= 0) return 0;
        return uint256(s.equity).mulDivDown(WAD, s.maintenanceMargin);
    }

    /// @inheritdoc IPerpEngine
    function isLiquidatable(uint256 accountId) external view returns (bool) {
        AccountSummary memory s = _accountSummary(accountId, false);
        return s.maintenanceMargin != 0 && s.equity < int256(s.maintenanceMargin);
    }

    /// @inheritdoc IPerpEngine
    function positionView(uint256 accountId, uint256 marketId) external view returns (PositionView memory v) {
        MarketConfig storage cfg = _listedConfig(marketId);
        Position memory p = _positions[accountId][marketId];
        MarketCache memory c;
        (c.price, c.sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        (c.fundingIndex, c.term) = _pendingAccrual(cfg, _states[marketId], c.price, c.sigma);
        c.imMultiplier = _policy(marketId).imMultiplier;
        v.size = p.size;
        v.basis = p.basis;
        v.breakEvenPrice = p.size == 0 ? int256(0) : p.basis + c.fundingIndex;
        v.indexPrice = c.price;
        v.fundingIndex = c.fundingIndex;
        v.unrealisedPnl = PerpMath.positionValue(p.size, p.basis, c.price, c.fundingIndex);
        v.notional = PerpMath.notional(p.size, c.price);
        (v.maintenanceMarginRatio, v.initialMarginRatio) = _marginRatios(cfg, c, FixedPoint.abs(p.size));
    }

    /// @inheritdoc IPerpEngine
    function quoteTrade(
        uint256 marketId,
        int256 sizeDelta,
        int256 currentSize
    ) external view returns (uint256 fillPrice, uint256 fee) {
        MarketConfig storage cfg = _listedConfig(marketId);
        (uint256 price, uint256 sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        fillPrice = PerpMath.fillPrice(price, _skew(_states[marketId]), sizeDelta, cfg.skewScale);
        uint256 feeMultiplier = _policy(marketId).feeMultiplier;
        fee = _tradeFee(cfg, currentSize, sizeDelta, fillPrice, sigma, feeMultiplier);
    }

    /// @inheritdoc IPerpEngine
    function lpExposure() external view returns (int256 traderNetPnl, uint256 skewNotional) {
        return _lpExposure(false);
    }

    /// @inheritdoc IPerpEngine
    function lpExposureLax() external view returns (int256 traderNetPnl, uint256 skewNotional) {
        return _lpExposure(true);
    }

    /// @dev `lax`: a market whose fresh price cannot be read is marked at its last answer instead of
    ///      reverting, and its traders' net loss is not counted (their net gain still is).
    function _lpExposure(bool lax) internal view returns (int256 traderNetPnl, uint256 skewNotional) {
        uint96 bits = _listedMarkets;
        while (bits != 0) {
            uint256 m = LibBit.ffs(bits);
            bits &= bits - 1;
            MarketState storage st = _states[m];
            uint256 longOi = st.longOpenInterest;
            uint256 shortOi = st.shortOpenInterest;
            if (longOi == 0 && shortOi == 0) continue;
            MarketConfig storage cfg = _configs[m];
            (uint256 price, uint256 sigma, bool fresh) = lax ? _laxPrice(cfg.feedId) : _freshPrice(cfg.feedId);
            (int256 index, ) = _pendingAccrual(cfg, st, price, sigma);
            int256 skew = int256(longOi) - int256(shortOi);
            // The skew is marked at what closing it would fill at (the premium of taking it to zero),
            // not at the index: traders paid that premium on the way in, so an index mark would show
            // them a loss of about skew^2 * price / (2 * skewScale) that closing refunds, and the LP
            // share price would move with each trade by that much instead of by its fees.
            uint256 mark = skew == 0 ? price : PerpMath.fillPrice(price, skew, -skew, cfg.skewScale);
            int256 net = FixedPoint.mulWadFloorSigned(skew, int256(mark) - index) - st.basisSum;
            // At an old price the traders' loss is not yet the LPs' to count; what they are owed is.
            if (fresh || net > 0) traderNetPnl += net;
            skewNotional += PerpMath.notional(skew, price);
        }
    }

    function _freshPrice(bytes32 feedId) internal view returns (uint256 price, uint256 sigma, bool fresh) {
        (price, sigma) = oracle.getPriceAndVolatility(feedId);
        fresh = true;
    }

    /// @dev The fresh price if there is one; else the feed's latest answer however old (or, if even
    ///      that cannot be read, the volatility anchor's last validated price). Never reverts for a
    ///      listed market's feed.
    function _laxPrice(bytes32 feedId) internal view returns (uint256 price, uint256 sigma, bool fresh) {
        try oracle.getPriceAndVolatility(feedId) returns (uint256 p, uint256 s) {
            return (p, s, true);
        } catch {}
        IOracleAdapter.VolatilityState memory v = oracle.volatilityState(feedId);
        sigma = v.sigmaWad;
        try oracle.latestPrice(feedId) returns (uint256 p, uint256) {
            price = p;
        } catch {
            price = v.lastPriceWad;
        }
    }

    /// @inheritdoc IPerpEngine
    function marketConfig(uint256 marketId) external view returns (MarketConfig memory) {
        return _configs[marketId];
    }

    /// @inheritdoc IPerpEngine
    function marketState(uint256 marketId) external view returns (MarketState memory) {
        return _states[marketId];
    }

    /// @inheritdoc IPerpEngine
    function position(uint256 accountId, uint256 marketId) external view returns (Position memory) {
        return _positions[accountId][marketId];
    }

    /// @inheritdoc IPerpEngine
    function accountOwner(uint256 accountId) external view returns (address) {
        return _accounts[accountId].owner;
    }

    /// @inheritdoc IPerpEngine
    function nextAccountId() external view returns (uint256) {
        return _nextAccountId;
    }

    /// @inheritdoc IPerpEngine
    function listedMarkets() external view returns (uint96) {
        return _listedMarkets;
    }

    /// @inheritdoc IPerpEngine
    function circuitBreaker() external view returns (address) {
        return address(_circuitBreaker);
    }

    /// @inheritdoc IPerpEngine
    function accountMarkets(uint256 accountId) external view returns (uint256[] memory ids) {
        uint96 bits = _accounts[accountId].markets;
        ids = new uint256[](LibBit.popCount(bits));
        for (uint256 i; bits != 0; ++i) {
            ids[i] = LibBit.ffs(bits);
            bits &= bits - 1;
        }
    }

    /// @inheritdoc IPerpEngine
    function fundingRate(uint256 marketId) external view returns (int256) {
        return _rate(_listedConfig(marketId), _states[marketId]);
    }

    // ================================================================== internals

    /// @dev Reads slot 0 only (owner and markets): trades never touch the liquidation state slot.
    function _ownedAccount(uint256 accountId) internal view returns (uint96 markets) {
        AccountData storage acct = _accounts[accountId];
        address owner = acct.owner;
        if (owner == address(0)) revert AccountNotFound(accountId);
        if (owner != msg.sender) revert NotAccountOwner(accountId, msg.sender);
        return acct.markets;
    }

    /// @dev The tightest stress-level leverage cap over the markets (type(uint256).max: none). Reads the
    ///      breaker only when one is set.
    function _leverageCap(uint96 markets) internal view returns (uint256 cap) {
        cap = type(uint256).max;
        if (address(_circuitBreaker) == address(0)) return cap;
        for (; markets != 0; markets &= markets - 1) {
            uint256 lev = _policy(LibBit.ffs(markets)).maxLeverage;
            if (lev != 0 && lev < cap) cap = lev;
        }
    }

    function _absUnchecked(int256 x) internal pure returns (uint256) {
        unchecked {
            return x >= 0 ? uint256(x) : uint256(-x); // -int256.min wraps to itself: 2^255 as uint
        }
    }

    function _noPositions() internal pure returns (PositionSnapshot[] memory) {
        return new PositionSnapshot[](0);
    }
}
