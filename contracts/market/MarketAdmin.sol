// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {ICircuitBreaker} from "../interfaces/ICircuitBreaker.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {RiskModel, RiskParams} from "../libraries/RiskModel.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds, IBoundedParameters} from "../libraries/Bounds.sol";
import {LiquidationParams} from "../libraries/LiquidationParams.sol";
import {RiskWord} from "../libraries/RiskWord.sol";
import {PerpEngineBase} from "./PerpEngineBase.sol";

/// @title MarketAdmin
/// @notice The engine's market administration: listing, bounded parameter changes, the guardian's
///         tightening and the circuit breaker. A module: PerpEngine forwards these functions to it by
///         delegatecall, so it runs on the engine's storage and roles (Aave's PoolConfigurator, as a
///         module). Called directly it sees its own empty storage and refuses everything.
/// @dev Split out because setters are rare and their bounds checks are large: the engine keeps its
///      bytes for trading.
contract MarketAdmin is PerpEngineBase {
    using SafeCast for uint256;
    using FixedPoint for uint256;

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

    constructor(IVault vault_, IOracleAdapter oracle_) PerpEngineBase(vault_, oracle_) {}

    /// @notice IPerpEngine.listMarket, forwarded here by PerpEngine.
    function listMarket(uint256 marketId, IPerpEngine.MarketConfig calldata config) external onlyRole(Roles.GOVERNOR) {
        if (marketId >= MAX_MARKETS)
            revert IBoundedParameters.ParameterOutOfBounds("marketId", marketId, 0, MAX_MARKETS - 1);
        if (_configs[marketId].listed) revert IPerpEngine.MarketAlreadyListed(marketId);
        _checkConfig(config, 0, 0);
        (, uint256 sigma) = oracle.getPriceAndVolatility(config.feedId);
        IPerpEngine.MarketConfig storage cfg = _configs[marketId];
        _writeConfig(cfg, config);
        cfg.listed = true;
        cfg.reduceOnly = false;
        IPerpEngine.MarketState storage st = _states[marketId];
        st.lastAccrualTime = uint64(block.timestamp);
        st.maintenanceTerm = RiskModel.volatilityTerm(config.risk, sigma).toUint64();
        _listedMarkets |= uint96(uint256(1) << marketId);
        emit IPerpEngine.MarketListed(marketId, config.feedId);
        emit IPerpEngine.MarketConfigSet(marketId, _configs[marketId]);
    }

    /// @notice IPerpEngine.setMarketConfig, forwarded here by PerpEngine.
    function setMarketConfig(
        uint256 marketId,
        IPerpEngine.MarketConfig calldata config
    ) external onlyRole(Roles.GOVERNOR) {
        IPerpEngine.MarketConfig storage cfg = _listedConfig(marketId);
        IPerpEngine.MarketState storage st = _states[marketId];
        _checkConfig(config, st.longOpenInterest, st.shortOpenInterest);
        (uint256 price, uint256 sigma) = oracle.getPriceAndVolatility(cfg.feedId);
        _accrue(marketId, cfg, st, price, sigma);
        bytes32 feedId = cfg.feedId;
        bool reduceOnly = cfg.reduceOnly;
        _writeConfig(cfg, config);
        cfg.feedId = feedId;
        cfg.reduceOnly = reduceOnly;
        emit IPerpEngine.MarketConfigSet(marketId, _configs[marketId]);
    }

    /// @notice IPerpEngine.restrictMarket, forwarded here by PerpEngine.
    function restrictMarket(uint256 marketId) external {
        if (!hasRole(Roles.GUARDIAN, msg.sender) && !hasRole(Roles.GOVERNOR, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, Roles.GUARDIAN);
        }
        _listedConfig(marketId).reduceOnly = true;
        emit IPerpEngine.MarketReduceOnlySet(marketId, true, msg.sender);
    }

    /// @notice IPerpEngine.unrestrictMarket, forwarded here by PerpEngine.
    function unrestrictMarket(uint256 marketId) external onlyRole(Roles.GOVERNOR) {
        _listedConfig(marketId).reduceOnly = false;
        emit IPerpEngine.MarketReduceOnlySet(marketId, false, msg.sender);
    }

    /// @notice IPerpEngine.lowerOpenInterestCap, forwarded here by PerpEngine.
    function lowerOpenInterestCap(uint256 marketId, uint128 newCap) external onlyRole(Roles.GUARDIAN) {
        IPerpEngine.MarketConfig storage cfg = _listedConfig(marketId);
        if (newCap >= cfg.maxOpenInterest) revert IPerpEngine.GuardianCanOnlyTighten(marketId);
        cfg.maxOpenInterest = newCap;
        if (cfg.maxTradeSize > newCap) cfg.maxTradeSize = newCap;
        emit IPerpEngine.MarketConfigSet(marketId, cfg);
    }

    /// @notice IPerpEngine.setCircuitBreaker, forwarded here by PerpEngine.
    function setCircuitBreaker(address breaker) external onlyRole(Roles.GOVERNOR) {
        if (breaker != address(0) && breaker.code.length == 0) revert IPerpEngine.ZeroAddress();
        _circuitBreaker = ICircuitBreaker(breaker);
        emit IPerpEngine.CircuitBreakerSet(breaker);
    }

    function _writeConfig(IPerpEngine.MarketConfig storage cfg, IPerpEngine.MarketConfig calldata c) internal {
        cfg.feedId = c.feedId;
        cfg.skewScale = c.skewScale;
        cfg.maxOpenInterest = c.maxOpenInterest;
        cfg.maxTradeSize = c.maxTradeSize;
        cfg.maxFundingRatePerSecond = c.maxFundingRatePerSecond;
        cfg.risk = c.risk;
        uint256 w = RiskWord.encode(c.risk);
        uint256 offset = RiskWord.OFFSET;
        assembly ("memory-safe") {
            sstore(add(cfg.slot, offset), w)
        }
    }

    function _checkConfig(IPerpEngine.MarketConfig calldata c, uint256 longOi, uint256 shortOi) internal pure {
        Bounds.check("skewScale", c.skewScale, MIN_SKEW_SCALE, MAX_SKEW_SCALE);
        uint256 maxOi = uint256(c.skewScale).mulWadDown(MAX_OI_TO_SKEW_SCALE);
        Bounds.check("maxOpenInterest", c.maxOpenInterest, 1, maxOi);
        // Existing open interest must also stay within the premium bound under a new skewScale.
        Bounds.check("openInterest", longOi.max(shortOi), 0, maxOi);
        Bounds.check("maxTradeSize", c.maxTradeSize, 1, c.maxOpenInterest);
        Bounds.check("maxFundingRatePerSecond", c.maxFundingRatePerSecond, 0, MAX_FUNDING_RATE_PER_SECOND);
        RiskParams calldata r = c.risk;
        Bounds.check("mmrMin", r.mmrMin, MIN_MMR, MAX_MMR);
        Bounds.check("mmrMax", r.mmrMax, r.mmrMin, MAX_MMR);
        Bounds.check("mmrBase", r.mmrBase, r.mmrMin, r.mmrMax);
        Bounds.check("kMm", r.kMm, 0, MAX_K_MM);
        Bounds.check("imMultiplier", r.imMultiplier, MIN_IM_MULTIPLIER, MAX_IM_MULTIPLIER);
        Bounds.check("sizePremium", r.sizePremium, 0, MAX_SIZE_PREMIUM);
        Bounds.check("mmrRampPerSecond", r.mmrRampPerSecond, MIN_MMR_RAMP_PER_SECOND, MAX_MMR_RAMP_PER_SECOND);
        Bounds.check("baseFee", r.baseFee, 0, MAX_BASE_FEE);
        Bounds.check("kFee", r.kFee, 0, MAX_K_FEE);
        // The risk word (RiskWord) holds these five in units of 1e-6 of a WAD: only whole units are accepted.
        LiquidationParams.checkUnit("mmrMin", r.mmrMin);
        LiquidationParams.checkUnit("mmrMax", r.mmrMax);
        LiquidationParams.checkUnit("mmrBase", r.mmrBase);
        LiquidationParams.checkUnit("kMm", r.kMm);
        LiquidationParams.checkUnit("sizePremium", r.sizePremium);
    }
}
