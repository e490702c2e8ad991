// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {LibBit} from "solady/utils/LibBit.sol";

import {IPerpEngine} from "./interfaces/IPerpEngine.sol";
import {IVault} from "./interfaces/IVault.sol";
import {IOracleAdapter} from "./interfaces/IOracleAdapter.sol";
import {ICircuitBreaker} from "./interfaces/ICircuitBreaker.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";
import {PerpMath} from "./libraries/PerpMath.sol";
import {RiskModel, RiskParams} from "./libraries/RiskModel.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title PerpEngine
/// @notice Markets, positions, cross-margined accounts, funding and fills. Collateral lives in the
///         Vault; prices and volatility come from the OracleAdapter; the stress-level policy from
///         the CircuitBreaker (optional).
/// @dev Every external function reads: validate, accrue, compute, write, emit, external calls. The
///      Vault is trusted (deployed with the engine) and holds no user-controlled hooks in `settle`.
contract PerpEngine is IPerpEngine, AccessControl, ReentrancyGuardTransient {
    using SafeCast for uint256;
    using SafeCast for int256;
    using FixedPoint for uint256;

    uint256 internal constant WAD = 1e18;

    uint256 public constant MAX_MARKETS = 96;
    /// @dev Positions are stored as int128; no single trade can be larger.
    int256 internal constant MAX_SIZE = int256(type(int128).max);
    uint256 public constant MAX_POSITIONS_PER_ACCOUNT = 8;

    uint256 public constant MIN_SKEW_SCALE = 1e18;
    uint256 public constant MAX_SKEW_SCALE = 1e30;
    /// @dev maxOpenInterest <= skewScale / 4 keeps |skew premium| <= 3/8, so a fill is always > 0
    ///      and reducing a position can never be refused for a non-positive fill.
    uint256 public constant MAX_OI_TO_SKEW_SCALE = 0.25e18;
    uint256 public constant MAX_FUNDING_RATE_PER_SECOND = 1e13;
    uint256 public constant MIN_MMR = 0.001e18;
    uint256 public constant MAX_MMR = 0.5e18;
    uint256 public constant MAX_K_MM = 0.2e18;
    uint256 public constant MIN_IM_MULTIPLIER = 1e18;
    uint256 public constant MAX_IM_MULTIPLIER = 10e18;
    uint256 public constant MAX_SIZE_PREMIUM = 1e18;
    uint256 public constant MIN_MMR_RAMP_PER_SECOND = 1e11;
    uint256 public constant MAX_MMR_RAMP_PER_SECOND = 1e15;
    uint256 public constant MAX_BASE_FEE = 0.01e18;
    uint256 public constant MAX_K_FEE = 10e18;

    IVault public immutable vault;
    IOracleAdapter public immutable oracle;
    /// @notice 10 ** (18 - collateral decimals).
    uint256 public immutable SCALE;

    ICircuitBreaker public circuitBreaker;
    uint256 public nextAccountId = 1;
    /// @notice Bit i set: market i is listed.
    uint96 public listedMarkets;

    struct AccountData {
        address owner;
        uint96 markets; // bit i set: the account has a position in market i
    }

    mapping(uint256 accountId => AccountData) internal _accounts;
    mapping(uint256 marketId => MarketConfig) internal _configs;
    mapping(uint256 marketId => MarketState) internal _states;
    mapping(uint256 accountId => mapping(uint256 marketId => Position)) internal _positions;

    /// @dev Values of the traded market already read this call, reused by the margin check.
    struct MarketCache {
        uint256 marketId;
        uint256 price;
        uint256 sigma;
        int256 fundingIndex;
        uint256 term;
        uint256 imMultiplier;
    }

    /// @dev Locals of a trade, in memory to keep the stack shallow without viaIR.
    struct Trade {
        int256 oldSize;
        int256 newSize;
        int256 oldBasis;
        int256 newBasis;
        uint256 fill;
        uint256 fee;
        int256 realisedPnl;
        bool addsRisk;
    }

    constructor(IVault vault_, IOracleAdapter oracle_, address admin, address governor, address guardian) {
        if (
            address(vault_) == address(0) ||
            address(oracle_) == address(0) ||
            admin == address(0) ||
            governor == address(0) ||
            guardian == address(0)
        ) revert ZeroAddress();
        vault = vault_;
        oracle = oracle_;
        SCALE = vault_.SCALE();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
        _grantRole(Roles.GUARDIAN, guardian);
    }

    // ================================================================== accounts and margin

    /// @inheritdoc IPerpEngine
    function createAccount() external returns (uint256 accountId) {
        accountId = nextAccountId++;
        _accounts[accountId].owner = msg.sender;
        emit AccountCreated(accountId, msg.sender);
    }

    /// @inheritdoc IPerpEngine
    function deposit(uint256 accountId, uint256 amount) external nonReentrant {
        if (_accounts[accountId].owner == address(0)) revert AccountNotFound(accountId);
        vault.depositMargin(accountId, msg.sender, amount);
    }

    /// @inheritdoc IPerpEngine
    function withdraw(uint256 accountId, uint256 amount, address to) external nonReentrant {
        AccountData memory acct = _ownedAccount(accountId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 margin = vault.marginOf(accountId);
        uint256 available = margin;
        if (acct.markets != 0) {
            AccountSummary memory s = _summary(accountId, acct.markets, margin, _noCache(), _noPositions(), true);
            int256 free = s.equity - int256(s.initialMargin);
            available = free <= 0 ? 0 : uint256(free).min(margin);
        }
        uint256 amountWad = amount > type(uint256).max / SCALE ? type(uint256).max : amount * SCALE;
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
        AccountData memory acct = _ownedAccount(accountId);
        _trade(accountId, acct, marketId, sizeDelta, limitPrice);
    }

    /// @inheritdoc IPerpEngine
    function closePosition(uint256 accountId, uint256 marketId, uint256 limitPrice) external nonReentrant {
        AccountData memory acct = _ownedAccount(accountId);
        int256 size = _positions[accountId][marketId].size;
        if (size == 0) revert NoPosition(accountId, marketId);
        _trade(accountId, acct, marketId, -size, limitPrice);
    }

    /// @inheritdoc IPerpEngine
    function accrue(uint256 marketId) external nonReentrant {
        MarketConfig storage cfg = _listedConfig(marketId);
        (uint256 price, uint256 sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        _accrue(marketId, cfg, _states[marketId], price, sigma);
    }

    /// @inheritdoc IPerpEngine
    function forceReduce(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 priceWad
    ) external onlyRole(Roles.LIQUIDATOR) nonReentrant returns (int256, uint256 shortfall, uint256) {
        MarketConfig storage cfg = _listedConfig(marketId);
        Position storage pos = _positions[accountId][marketId];
        Trade memory t;
        t.oldSize = pos.size;
        t.newSize = t.oldSize + sizeDelta;
        if (sizeDelta == 0 || t.oldSize == 0 || _addsRisk(t.oldSize, t.newSize)) {
            revert NotAReduction(accountId, marketId, t.oldSize, sizeDelta);
        }
        MarketCache memory c;
        (c.price, c.sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        (c.fundingIndex, ) = _accrue(marketId, cfg, _states[marketId], c.price, c.sigma);
        t.fill = priceWad == 0 ? c.price : priceWad;
        t.oldBasis = pos.basis;
        (t.newBasis, t.realisedPnl) = PerpMath.applyTrade(t.oldSize, t.oldBasis, sizeDelta, t.fill, c.fundingIndex);
        _writeMarket(cfg, _states[marketId], marketId, t);
        pos.size = t.newSize.toInt128();
        pos.basis = t.newBasis.toInt128();
        _writeAccountMarkets(accountId, _accounts[accountId].markets, marketId, t.newSize);
        (, shortfall, ) = vault.settle(accountId, t.realisedPnl, 0);
        if (shortfall != 0) emit BadDebtIncurred(accountId, marketId, shortfall);
        emit PositionModified(accountId, marketId, sizeDelta, t.newSize, t.fill, 0, t.realisedPnl, c.fundingIndex);
        return (t.realisedPnl, shortfall, t.fill);
    }

    function _trade(
        uint256 accountId,
        AccountData memory acct,
        uint256 marketId,
        int256 sizeDelta,
        uint256 limitPrice
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
        if (t.addsRisk) _checkRiskAllowed(cfg, policy, marketId, sizeDelta);

        // ---- accrue
        MarketState storage st = _states[marketId];
        MarketCache memory c;
        c.marketId = marketId;
        c.imMultiplier = policy.imMultiplier;
        (c.price, c.sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        (c.fundingIndex, c.term) = _accrue(marketId, cfg, st, c.price, c.sigma);

        // ---- compute
        t.fill = PerpMath.fillPrice(c.price, _skew(st), sizeDelta, cfg.skewScale);
        if (sizeDelta > 0 ? t.fill > limitPrice : t.fill < limitPrice) {
            revert LimitPriceMissed(t.fill, limitPrice, sizeDelta > 0);
        }
        t.fee = RiskModel.tradeFee(cfg.risk, t.oldSize, sizeDelta, t.fill, c.sigma, policy.feeMultiplier);
        (t.newBasis, t.realisedPnl) = PerpMath.applyTrade(t.oldSize, t.oldBasis, sizeDelta, t.fill, c.fundingIndex);

        // ---- write
        _writeMarket(cfg, st, marketId, t);
        pos.size = t.newSize.toInt128();
        pos.basis = t.newBasis.toInt128();
        uint96 markets = _writeAccountMarkets(accountId, acct.markets, marketId, t.newSize);

        // ---- settle with the vault, then check the margin of a risk-adding trade
        // The fee actually charged replaces the quoted one: a margin that cannot pay it forgoes it.
        uint256 margin;
        uint256 shortfall;
        (margin, shortfall, t.fee) = vault.settle(accountId, t.realisedPnl, t.fee);
        // A voluntary trade may not leave bad debt behind: that is the liquidation engine's job, which
        // routes it to the insurance fund and auto-deleveraging. Close gains first, or be liquidated.
        if (shortfall != 0) revert AccountUnderwater(accountId, shortfall);
        if (t.addsRisk) _checkInitialMargin(accountId, markets, margin, c, policy.maxLeverage);

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

    /// @dev Open interest per side, the cap on the side a risk-adding trade grew, and the aggregates the
    ///      LP pool's book value is computed from.
    function _writeMarket(MarketConfig storage cfg, MarketState storage st, uint256 marketId, Trade memory t) internal {
        uint256 longOi = st.longOpenInterest;
        uint256 shortOi = st.shortOpenInterest;
        if (t.oldSize > 0) longOi -= uint256(t.oldSize);
        else shortOi -= uint256(-t.oldSize);
        if (t.newSize > 0) longOi += uint256(t.newSize);
        else shortOi += uint256(-t.newSize);
        if (t.addsRisk) {
            uint256 grown = t.newSize > 0 ? longOi : shortOi;
            if (grown > cfg.maxOpenInterest) revert OpenInterestCapExceeded(marketId, grown, cfg.maxOpenInterest);
        }
        st.longOpenInterest = longOi.toUint128();
        st.shortOpenInterest = shortOi.toUint128();
        st.basisSum = (int256(st.basisSum) +
            FixedPoint.mulWadFloorSigned(t.newSize, t.newBasis) -
            FixedPoint.mulWadFloorSigned(t.oldSize, t.oldBasis)).toInt128();
    }

    function _writeAccountMarkets(
        uint256 accountId,
        uint96 markets,
        uint256 marketId,
        int256 newSize
    ) internal returns (uint96 updated) {
        uint96 bit = uint96(uint256(1) << marketId);
        updated = markets;
        if (newSize == 0) {
            updated &= ~bit;
        } else if (updated & bit == 0) {
            updated |= bit;
            if (LibBit.popCount(updated) > MAX_POSITIONS_PER_ACCOUNT) {
                revert TooManyPositions(accountId, MAX_POSITIONS_PER_ACCOUNT);
            }
        }
        if (updated != markets) _accounts[accountId].markets = updated;
    }

    function _checkInitialMargin(
        uint256 accountId,
        uint96 markets,
        uint256 margin,
        MarketCache memory c,
        uint256 maxLeverage
    ) internal view {
        AccountSummary memory s = _summary(accountId, markets, margin, c, _noPositions(), true);
        if (s.equity < int256(s.initialMargin)) revert MarginBelowInitial(accountId, s.equity, s.initialMargin);
        if (maxLeverage != 0 && s.notional > uint256(s.equity).mulWadDown(maxLeverage)) {
            revert LeverageAboveCap(accountId, s.notional.mulDivUp(WAD, uint256(s.equity)), maxLeverage);
        }
    }

    // ================================================================== admin

    /// @notice Lists a market. Its feed must already be registered and answering.
    function listMarket(uint256 marketId, MarketConfig calldata config) external onlyRole(Roles.GOVERNOR) {
        if (marketId >= MAX_MARKETS) revert ParameterOutOfBounds("marketId", marketId, 0, MAX_MARKETS - 1);
        if (_configs[marketId].listed) revert MarketAlreadyListed(marketId);
        _checkConfig(config, 0, 0);
        (, uint256 sigma) = oracle.getPriceAndVolatility(config.feedId);
        MarketConfig storage cfg = _configs[marketId];
        _writeConfig(cfg, config);
        cfg.listed = true;
        cfg.reduceOnly = false;
        MarketState storage st = _states[marketId];
        st.lastAccrualTime = uint64(block.timestamp);
        st.maintenanceTerm = RiskModel.volatilityTerm(config.risk, sigma).toUint64();
        listedMarkets |= uint96(uint256(1) << marketId);
        emit MarketListed(marketId, config.feedId);
        emit MarketConfigSet(marketId, _configs[marketId]);
    }

    /// @notice Changes a listed market's parameters (the feed stays). Accrues first, so funding up to
    ///         now is charged at the old parameters.
    function setMarketConfig(uint256 marketId, MarketConfig calldata config) external onlyRole(Roles.GOVERNOR) {
        MarketConfig storage cfg = _listedConfig(marketId);
        MarketState storage st = _states[marketId];
        _checkConfig(config, st.longOpenInterest, st.shortOpenInterest);
        (uint256 price, uint256 sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        _accrue(marketId, cfg, st, price, sigma);
        bytes32 feedId = cfg.feedId;
        bool reduceOnly = cfg.reduceOnly;
        _writeConfig(cfg, config);
        cfg.feedId = feedId;
        cfg.reduceOnly = reduceOnly;
        emit MarketConfigSet(marketId, _configs[marketId]);
    }

    /// @notice Puts a market in reduce-only mode. Guardian or governor: it only makes things safer.
    function restrictMarket(uint256 marketId) external {
        if (!hasRole(Roles.GUARDIAN, msg.sender) && !hasRole(Roles.GOVERNOR, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, Roles.GUARDIAN);
        }
        _listedConfig(marketId).reduceOnly = true;
        emit MarketReduceOnlySet(marketId, true, msg.sender);
    }

    /// @notice Lifts reduce-only mode. Governor only.
    function unrestrictMarket(uint256 marketId) external onlyRole(Roles.GOVERNOR) {
        _listedConfig(marketId).reduceOnly = false;
        emit MarketReduceOnlySet(marketId, false, msg.sender);
    }

    /// @notice Lowers a market's open-interest cap. The guardian may only lower it.
    function lowerOpenInterestCap(uint256 marketId, uint128 newCap) external onlyRole(Roles.GUARDIAN) {
        MarketConfig storage cfg = _listedConfig(marketId);
        if (newCap >= cfg.maxOpenInterest) revert GuardianCanOnlyTighten(marketId);
        cfg.maxOpenInterest = newCap;
        if (cfg.maxTradeSize > newCap) cfg.maxTradeSize = newCap;
        emit MarketConfigSet(marketId, cfg);
    }

    /// @notice Sets (or, with address(0), removes) the circuit breaker consulted by risk-adding trades.
    function setCircuitBreaker(ICircuitBreaker breaker) external onlyRole(Roles.GOVERNOR) {
        if (address(breaker) != address(0) && address(breaker).code.length == 0) revert ZeroAddress();
        circuitBreaker = breaker;
        emit CircuitBreakerSet(address(breaker));
    }

    // ================================================================== views

    /// @inheritdoc IPerpEngine
    function accountSummary(uint256 accountId) public view returns (AccountSummary memory) {
        return _accountSummary(accountId, true);
    }

    function _accountSummary(uint256 accountId, bool withInitial) internal view returns (AccountSummary memory) {
        AccountData memory acct = _accounts[accountId];
        if (acct.owner == address(0)) revert AccountNotFound(accountId);
        return _summary(accountId, acct.markets, vault.marginOf(accountId), _noCache(), _noPositions(), withInitial);
    }

    /// @inheritdoc IPerpEngine
    function liquidationSnapshot(
        uint256 accountId
    ) external view returns (AccountSummary memory summary, PositionSnapshot[] memory positions) {
        AccountData memory acct = _accounts[accountId];
        if (acct.owner == address(0)) revert AccountNotFound(accountId);
        positions = new PositionSnapshot[](LibBit.popCount(acct.markets));
        summary = _summary(accountId, acct.markets, vault.marginOf(accountId), _noCache(), positions, false);
    }

    /// @inheritdoc IPerpEngine
    function openNotional() external view returns (uint256 total) {
        uint96 bits = listedMarkets;
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

    function _marginRatios(
        MarketConfig storage cfg,
        MarketCache memory c,
        uint256 absSize
    ) internal view returns (uint256 mmr, uint256 imr) {
        RiskParams memory risk = cfg.risk;
        uint256 skewScale = cfg.skewScale;
        mmr = RiskModel.maintenanceMarginRatio(risk, c.term, absSize, skewScale);
        imr = RiskModel.initialMarginRatio(risk, c.sigma, c.term, absSize, skewScale, c.imMultiplier);
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
        fee = RiskModel.tradeFee(cfg.risk, currentSize, sizeDelta, fillPrice, sigma, feeMultiplier);
    }

    /// @inheritdoc IPerpEngine
    function lpExposure() external view returns (int256 traderNetPnl, uint256 skewNotional) {
        uint96 bits = listedMarkets;
        while (bits != 0) {
            uint256 m = LibBit.ffs(bits);
            bits &= bits - 1;
            MarketState storage st = _states[m];
            uint256 longOi = st.longOpenInterest;
            uint256 shortOi = st.shortOpenInterest;
            if (longOi == 0 && shortOi == 0) continue;
            MarketConfig storage cfg = _configs[m];
            (uint256 price, uint256 sigma) = oracle.getPriceAndVolatility(cfg.feedId);
            (int256 index, ) = _pendingAccrual(cfg, st, price, sigma);
            int256 skew = int256(longOi) - int256(shortOi);
            // The skew is marked at what closing it would fill at (the premium of taking it to zero),
            // not at the index: traders paid that premium on the way in, so an index mark would show
            // them a loss of about skew^2 * price / (2 * skewScale) that closing refunds, and the LP
            // share price would move with each trade by that much instead of by its fees.
            uint256 mark = skew == 0 ? price : PerpMath.fillPrice(price, skew, -skew, cfg.skewScale);
            traderNetPnl += FixedPoint.mulWadFloorSigned(skew, int256(mark) - index) - st.basisSum;
            skewNotional += PerpMath.notional(skew, price);
        }
    }

    function marketConfig(uint256 marketId) external view returns (MarketConfig memory) {
        return _configs[marketId];
    }

    function marketState(uint256 marketId) external view returns (MarketState memory) {
        return _states[marketId];
    }

    function position(uint256 accountId, uint256 marketId) external view returns (Position memory) {
        return _positions[accountId][marketId];
    }

    function accountOwner(uint256 accountId) external view returns (address) {
        return _accounts[accountId].owner;
    }

    /// @notice Ids of the markets in which the account has a position.
    function accountMarkets(uint256 accountId) external view returns (uint256[] memory ids) {
        uint96 bits = _accounts[accountId].markets;
        ids = new uint256[](LibBit.popCount(bits));
        for (uint256 i; bits != 0; ++i) {
            ids[i] = LibBit.ffs(bits);
            bits &= bits - 1;
        }
    }

    /// @notice Current funding rate per second of a market (positive: longs pay).
    function fundingRate(uint256 marketId) external view returns (int256) {
        return _rate(_listedConfig(marketId), _states[marketId]);
    }

    // ================================================================== internals

    /// @dev Cross-margin totals. `cached` carries the traded market's values already read this call.
    ///      When `out` is non-empty (one slot per position), each position is also reported in it.
    ///      Without `withInitial`, initial margin is left at zero and the circuit breaker is not read:
    ///      liquidation and health views must not depend on the breaker answering.
    function _summary(
        uint256 accountId,
        uint96 markets,
        uint256 margin,
        MarketCache memory cached,
        PositionSnapshot[] memory out,
        bool withInitial
    ) internal view returns (AccountSummary memory s) {
        s.margin = margin;
        s.equity = int256(margin);
        MarketCache memory other;
        for (uint256 i; markets != 0; ++i) {
            uint256 m = LibBit.ffs(markets);
            markets &= markets - 1;
            MarketConfig storage cfg = _configs[m];
            MarketCache memory c = cached;
            if (m != cached.marketId) {
                c = other;
                (c.price, c.sigma) = oracle.getPriceAndVolatility(cfg.feedId);
                (c.fundingIndex, c.term) = _pendingAccrual(cfg, _states[m], c.price, c.sigma);
                c.imMultiplier = withInitial ? _policy(m).imMultiplier : WAD;
            }
            Position memory p = _positions[accountId][m];
            int256 value = PerpMath.positionValue(p.size, p.basis, c.price, c.fundingIndex);
            uint256 notional = PerpMath.notional(p.size, c.price);
            (uint256 mmr, uint256 imr) = _marginRatios(cfg, c, FixedPoint.abs(p.size));
            uint256 mm = RiskModel.marginRequirement(notional, mmr);
            s.equity += value;
            s.maintenanceMargin += mm;
            if (withInitial) s.initialMargin += RiskModel.marginRequirement(notional, imr);
            s.notional += notional;
            if (out.length != 0)
                out[i] = PositionSnapshot(
                    m,
                    p.size,
                    p.basis,
                    c.fundingIndex,
                    c.price,
                    value,
                    notional,
                    mm,
                    cfg.skewScale
                );
        }
    }

    function _accrue(
        uint256 marketId,
        MarketConfig storage cfg,
        MarketState storage st,
        uint256 price,
        uint256 sigma
    ) internal returns (int256 index, uint256 term) {
        uint256 last = st.lastAccrualTime;
        if (block.timestamp == last) return (st.fundingIndex, st.maintenanceTerm);
        (index, term) = _pendingAccrual(cfg, st, price, sigma);
        st.fundingIndex = index.toInt128();
        st.lastAccrualTime = uint64(block.timestamp);
        st.maintenanceTerm = term.toUint64();
        emit MarketAccrued(marketId, index, _rate(cfg, st), term);
    }

    function _pendingAccrual(
        MarketConfig storage cfg,
        MarketState storage st,
        uint256 price,
        uint256 sigma
    ) internal view returns (int256 index, uint256 term) {
        uint256 elapsed = block.timestamp - st.lastAccrualTime;
        index = st.fundingIndex;
        term = st.maintenanceTerm;
        if (elapsed == 0) return (index, term);
        index += PerpMath.fundingIndexDelta(_rate(cfg, st), price, elapsed);
        RiskParams memory risk = cfg.risk;
        term = RiskModel.rampVolatilityTerm(
            term,
            RiskModel.volatilityTerm(risk, sigma),
            elapsed,
            risk.mmrRampPerSecond
        );
    }

    function _rate(MarketConfig storage cfg, MarketState storage st) internal view returns (int256) {
        return PerpMath.fundingRate(_skew(st), cfg.skewScale, cfg.maxFundingRatePerSecond);
    }

    function _skew(MarketState storage st) internal view returns (int256) {
        return int256(uint256(st.longOpenInterest)) - int256(uint256(st.shortOpenInterest));
    }

    function _policy(uint256 marketId) internal view returns (ICircuitBreaker.TradePolicy memory) {
        ICircuitBreaker breaker = circuitBreaker;
        if (address(breaker) == address(0)) return _neutralPolicy();
        return breaker.tradePolicy(marketId);
    }

    function _neutralPolicy() internal pure returns (ICircuitBreaker.TradePolicy memory p) {
        p.feeMultiplier = uint64(WAD);
        p.imMultiplier = uint64(WAD);
        p.newRiskAllowed = true;
        p.tradingOpen = true;
    }

    function _ownedAccount(uint256 accountId) internal view returns (AccountData memory acct) {
        acct = _accounts[accountId];
        if (acct.owner == address(0)) revert AccountNotFound(accountId);
        if (acct.owner != msg.sender) revert NotAccountOwner(accountId, msg.sender);
    }

    function _listedConfig(uint256 marketId) internal view returns (MarketConfig storage cfg) {
        cfg = _configs[marketId];
        if (!cfg.listed) revert MarketNotFound(marketId);
    }

    function _absUnchecked(int256 x) internal pure returns (uint256) {
        unchecked {
            return x >= 0 ? uint256(x) : uint256(-x); // -int256.min wraps to itself: 2^255 as uint
        }
    }

    function _noCache() internal pure returns (MarketCache memory c) {
        c.marketId = type(uint256).max;
    }

    function _noPositions() internal pure returns (PositionSnapshot[] memory) {
        return new PositionSnapshot[](0);
    }

    /// @dev A trade adds risk when the position grows or flips; shrinking toward zero never does.
    function _addsRisk(int256 oldSize, int256 newSize) internal pure returns (bool) {
        if (newSize == 0) return false;
        if (oldSize == 0) return true;
        if ((oldSize > 0) != (newSize > 0)) return true;
        return FixedPoint.abs(newSize) > FixedPoint.abs(oldSize);
    }

    function _writeConfig(MarketConfig storage cfg, MarketConfig calldata c) internal {
        cfg.feedId = c.feedId;
        cfg.skewScale = c.skewScale;
        cfg.maxOpenInterest = c.maxOpenInterest;
        cfg.maxTradeSize = c.maxTradeSize;
        cfg.maxFundingRatePerSecond = c.maxFundingRatePerSecond;
        cfg.risk = c.risk;
    }

    function _checkConfig(MarketConfig calldata c, uint256 longOi, uint256 shortOi) internal pure {
        _bound("skewScale", c.skewScale, MIN_SKEW_SCALE, MAX_SKEW_SCALE);
        uint256 maxOi = uint256(c.skewScale).mulWadDown(MAX_OI_TO_SKEW_SCALE);
        _bound("maxOpenInterest", c.maxOpenInterest, 1, maxOi);
        // Existing open interest must also stay within the premium bound under a new skewScale.
        _bound("openInterest", longOi.max(shortOi), 0, maxOi);
        _bound("maxTradeSize", c.maxTradeSize, 1, c.maxOpenInterest);
        _bound("maxFundingRatePerSecond", c.maxFundingRatePerSecond, 0, MAX_FUNDING_RATE_PER_SECOND);
        RiskParams calldata r = c.risk;
        _bound("mmrMin", r.mmrMin, MIN_MMR, MAX_MMR);
        _bound("mmrMax", r.mmrMax, r.mmrMin, MAX_MMR);
        _bound("mmrBase", r.mmrBase, r.mmrMin, r.mmrMax);
        _bound("kMm", r.kMm, 0, MAX_K_MM);
        _bound("imMultiplier", r.imMultiplier, MIN_IM_MULTIPLIER, MAX_IM_MULTIPLIER);
        _bound("sizePremium", r.sizePremium, 0, MAX_SIZE_PREMIUM);
        _bound("mmrRampPerSecond", r.mmrRampPerSecond, MIN_MMR_RAMP_PER_SECOND, MAX_MMR_RAMP_PER_SECOND);
        _bound("baseFee", r.baseFee, 0, MAX_BASE_FEE);
        _bound("kFee", r.kFee, 0, MAX_K_FEE);
    }

    function _bound(bytes32 name, uint256 value, uint256 lo, uint256 hi) internal pure {
        if (value < lo || value > hi) revert ParameterOutOfBounds(name, value, lo, hi);
    }
}
