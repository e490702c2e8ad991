// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {ICircuitBreaker} from "../interfaces/ICircuitBreaker.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {RiskModel, RiskParams} from "../libraries/RiskModel.sol";

/// @title PerpEngineBase
/// @notice The engine's storage and the market bookkeeping every part of the engine shares (funding
///         accrual, the maintenance ramp, listed-market lookup). PerpEngine and its modules
///         (MarketAdmin) inherit it, so a module reached by delegatecall sees exactly the engine's
///         storage layout. Append only: a new variable goes after the last one.
abstract contract PerpEngineBase is AccessControl {
    using SafeCast for uint256;
    using SafeCast for int256;

    IOracleAdapter public immutable oracle;

    ICircuitBreaker internal _circuitBreaker;
    uint256 internal _nextAccountId = 1;
    /// @dev Bit i set: market i is listed.
    uint96 internal _listedMarkets;

    struct AccountData {
        address owner;
        uint96 markets; // bit i set: the account has a position in market i
    }

    mapping(uint256 accountId => AccountData) internal _accounts;
    mapping(uint256 marketId => IPerpEngine.MarketConfig) internal _configs;
    mapping(uint256 marketId => IPerpEngine.MarketState) internal _states;
    mapping(uint256 accountId => mapping(uint256 marketId => IPerpEngine.Position)) internal _positions;

    constructor(IOracleAdapter oracle_) {
        if (address(oracle_) == address(0)) revert IPerpEngine.ZeroAddress();
        oracle = oracle_;
    }

    function _accrue(
        uint256 marketId,
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st,
        uint256 price,
        uint256 sigma
    ) internal returns (int256 index, uint256 term) {
        uint256 last = st.lastAccrualTime;
        if (block.timestamp == last) return (st.fundingIndex, st.maintenanceTerm);
        (index, term) = _pendingAccrual(cfg, st, price, sigma);
        st.fundingIndex = index.toInt128();
        st.lastAccrualTime = uint64(block.timestamp);
        st.maintenanceTerm = term.toUint64();
        emit IPerpEngine.MarketAccrued(marketId, index, _rate(cfg, st), term);
    }

    function _pendingAccrual(
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st,
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

    function _rate(
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st
    ) internal view returns (int256) {
        return PerpMath.fundingRate(_skew(st), cfg.skewScale, cfg.maxFundingRatePerSecond);
    }

    function _skew(IPerpEngine.MarketState storage st) internal view returns (int256) {
        return int256(uint256(st.longOpenInterest)) - int256(uint256(st.shortOpenInterest));
    }

    function _listedConfig(uint256 marketId) internal view returns (IPerpEngine.MarketConfig storage cfg) {
        cfg = _configs[marketId];
        if (!cfg.listed) revert IPerpEngine.MarketNotFound(marketId);
    }
}
