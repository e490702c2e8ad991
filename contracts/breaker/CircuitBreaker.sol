// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {ICircuitBreaker} from "../interfaces/ICircuitBreaker.sol";
import {ITrigger} from "../interfaces/ITrigger.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds, IBoundedParameters} from "../libraries/Bounds.sol";

/// @title CircuitBreaker
/// @notice The protocol's negative feedback loop: as stress rises, restrictions on new risk rise step by
///         step; reducing risk stays open at every level (the engine never consults the breaker for a
///         trade that only reduces, nor for liquidations).
/// @dev Trades read one market slot and one policy slot. Triggers are evaluated only by `poke`, which
///      anyone may call; keepers poke on every oracle round.
contract CircuitBreaker is ICircuitBreaker, AccessControl {
    uint8 public constant MAX_LEVEL = 4;
    uint256 public constant MAX_TRIGGERS = 8;
    uint256 public constant MIN_MULTIPLIER = 1e18;
    uint256 public constant MAX_MULTIPLIER = 10e18;
    uint256 public constant MIN_LEVERAGE = 1e18;
    uint256 public constant MAX_LEVERAGE = 200e18;
    uint32 public constant MIN_COOLDOWN = 1 minutes;
    uint32 public constant MAX_COOLDOWN = 1 days;
    uint32 public constant MAX_RISK_ORACLE_DURATION = 1 days;
    uint32 public constant MAX_OVERRIDE_DURATION = 1 days;
    uint32 public constant MIN_RISK_ORACLE_DELAY = 1 minutes;
    uint32 public constant MAX_RISK_ORACLE_DELAY = 6 hours;
    uint8 public constant MAX_RISK_ORACLE_RENEWALS = 8;
    /// @notice Gas one trigger may use per question; a price-move walk of 64 rounds needs ~350k.
    uint256 public constant TRIGGER_GAS = 1_000_000;

    /// @notice Policy of each level 0..4; monotonic: a higher level is never laxer.
    TradePolicy[5] internal _policies;
    ITrigger[] internal _triggers;
    mapping(uint256 marketId => MarketLevel) internal _markets;

    /// @inheritdoc ICircuitBreaker
    uint32 public deescalationCooldown = 30 minutes;
    /// @inheritdoc ICircuitBreaker
    uint8 public riskOracleMaxLevel = 2;
    /// @inheritdoc ICircuitBreaker
    uint32 public riskOracleMaxDuration = 6 hours;
    /// @inheritdoc ICircuitBreaker
    uint32 public riskOracleMinDelay = 30 minutes;
    /// @inheritdoc ICircuitBreaker
    uint8 public riskOracleMaxRenewals = 3;

    constructor(address admin, address governor, address guardian) {
        if (admin == address(0) || governor == address(0) || guardian == address(0)) {
            revert IBoundedParameters.ParameterOutOfBounds("address", 0, 1, type(uint160).max);
        }
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
        _grantRole(Roles.GUARDIAN, guardian);
        TradePolicy[5] memory p;
        p[0] = TradePolicy(1e18, 1e18, 0, true, true);
        p[1] = TradePolicy(1.5e18, 1.25e18, 50e18, true, true);
        p[2] = TradePolicy(2.5e18, 2e18, 20e18, true, true);
        p[3] = TradePolicy(4e18, 3e18, 10e18, false, true);
        p[4] = TradePolicy(5e18, 4e18, 5e18, false, false);
        _setPolicies(p);
        emit DeescalationCooldownSet(30 minutes);
        emit RiskOracleBoundsSet(2, 6 hours);
        emit RiskOracleCadenceSet(30 minutes, 3);
    }

    // ================================================================== the engine's view

    /// @inheritdoc ICircuitBreaker
    function tradePolicy(uint256 marketId) external view returns (TradePolicy memory) {
        return _policies[_markets[marketId].level];
    }

    // ================================================================== poke

    /// @inheritdoc ICircuitBreaker
    function poke(uint256 marketId) external returns (uint8) {
        MarketLevel memory m = _markets[marketId];
        (uint8 proposed, address source, bool fromTrigger, uint256 failed) = _proposed(marketId, m);
        for (uint256 i; failed != 0; ++i) {
            if (failed & 1 != 0) emit TriggerFailed(address(_triggers[i]), marketId);
            failed >>= 1;
        }
        uint8 current = m.level;
        if (proposed > current) {
            m.lastHeld = uint40(block.timestamp);
            _move(marketId, m, proposed, fromTrigger ? Source.Trigger : _floorSource(m, proposed), source);
        } else if (proposed == current) {
            // The hold clock counts only above level 0 (a step down needs a level to step from, and every
            // move away from 0 restarts the clock), so a poke that finds nothing at level 0 writes nothing.
            if (current != 0) {
                m.lastHeld = uint40(block.timestamp);
                _markets[marketId] = m;
            }
        } else {
            // Hysteresis: step down one level only once the proposal has stayed below the level for a
            // whole cooldown (counted from the last poke that still proposed it, not from the last
            // change), so a price hovering at a threshold does not flap the level.
            uint256 quietSince = m.lastHeld > m.lastChange ? m.lastHeld : m.lastChange;
            if (block.timestamp >= quietSince + deescalationCooldown) {
                m.lastHeld = uint40(block.timestamp);
                _move(marketId, m, current - 1, Source.Cooldown, address(0));
            }
        }
        return _markets[marketId].level;
    }

    /// @inheritdoc ICircuitBreaker
    function proposedLevel(uint256 marketId) external view returns (uint8 level, address source) {
        (level, source, , ) = _proposed(marketId, _markets[marketId]);
    }

    /// @inheritdoc ICircuitBreaker
    function pokeDue(uint256 marketId) external view returns (bool) {
        MarketLevel memory m = _markets[marketId];
        uint256 current = m.level;
        // Once the cooldown has passed above level 0, a poke writes whatever it finds: a step down, a hold
        // (the hold clock is older than now) or an escalation.
        if (current != 0) {
            uint256 quietSince = m.lastHeld > m.lastChange ? m.lastHeld : m.lastChange;
            if (block.timestamp >= quietSince + deescalationCooldown) return true;
        }
        // Otherwise a poke writes only when the proposal reaches `need`: above the level, or the level itself
        // when it would move the hold clock (above 0, not already held at this time).
        uint256 need = current == 0 || m.lastHeld == block.timestamp ? current + 1 : current;
        if (m.guardianLevel >= need) return true;
        if (block.timestamp < m.riskOracleExpiry && m.riskOracleLevel >= need) return true;
        bool capped = block.timestamp < m.overrideExpiry && m.overrideLevel < need;
        uint256 n = _triggers.length;
        for (uint256 i; i < n; ++i) {
            (bool ok, uint256 proposal) = _ask(_triggers[i], marketId);
            // a failing trigger is reported by the poke (TriggerFailed)
            if (!ok) return true;
            if (proposal > MAX_LEVEL) proposal = MAX_LEVEL;
            if (!capped && proposal >= need) return true;
        }
        return false;
    }

    // ================================================================== guardian, risk oracle, governance

    /// @inheritdoc ICircuitBreaker
    function raiseLevel(uint256 marketId, uint8 level) external onlyRole(Roles.GUARDIAN) {
        if (level > MAX_LEVEL) revert UnknownLevel(level);
        MarketLevel memory m = _markets[marketId];
        // A floor at or below what is already in force and already floored changes nothing.
        if (level <= m.guardianLevel || (level <= m.level && m.guardianLevel >= m.level)) {
            revert GuardianCanOnlyRaise(marketId, m.level, level);
        }
        m.guardianLevel = level;
        if (level > m.level) {
            _move(marketId, m, level, Source.Guardian, msg.sender);
        } else {
            _markets[marketId] = m;
            emit LevelChanged(marketId, m.level, m.level, Source.Guardian, msg.sender);
        }
    }

    /// @inheritdoc ICircuitBreaker
    function riskOracleRaise(
        uint256 marketId,
        uint8 level,
        uint32 duration,
        bytes32 forecastRef
    ) external onlyRole(Roles.RISK_ORACLE) {
        if (level > riskOracleMaxLevel) revert RiskOracleLevelTooHigh(level, riskOracleMaxLevel);
        Bounds.check("duration", duration, 1, riskOracleMaxDuration);
        if (forecastRef == bytes32(0)) revert RiskOracleReferenceMissing();
        MarketLevel memory m = _markets[marketId];
        uint256 delay = riskOracleMinDelay;
        if (m.riskOracleLastRaise != 0 && block.timestamp < m.riskOracleLastRaise + delay) {
            revert RiskOracleTooSoon(marketId, m.riskOracleLastRaise + delay);
        }
        // Back to back: the previous floor has not lapsed for a whole minimum delay. Capping these stops an
        // oracle (or a stolen key) from holding a market raised forever by renewing; after the cap it must
        // stay silent until its floor has been gone a minimum delay, and the level may step down meanwhile.
        uint8 renewal;
        if (m.riskOracleExpiry != 0 && block.timestamp < m.riskOracleExpiry + delay) {
            renewal = m.riskOracleRenewals + 1;
            if (renewal > riskOracleMaxRenewals) {
                revert RiskOracleRenewalsExhausted(marketId, renewal, riskOracleMaxRenewals);
            }
        }
        m.riskOracleLevel = level;
        m.riskOracleExpiry = uint40(block.timestamp + duration);
        m.riskOracleLastRaise = uint40(block.timestamp);
        m.riskOracleRenewals = renewal;
        emit RiskOracleRaise(marketId, level, m.riskOracleExpiry, forecastRef, renewal);
        if (level > m.level) _move(marketId, m, level, Source.RiskOracle, msg.sender);
        else _markets[marketId] = m;
    }

    /// @inheritdoc ICircuitBreaker
    function overrideLevel(uint256 marketId, uint8 level, uint32 duration) external onlyRole(Roles.GOVERNOR) {
        if (level > MAX_LEVEL) revert UnknownLevel(level);
        Bounds.check("duration", duration, 0, MAX_OVERRIDE_DURATION);
        MarketLevel memory m = _markets[marketId];
        m.guardianLevel = 0;
        m.riskOracleLevel = 0;
        m.riskOracleExpiry = 0;
        m.riskOracleRenewals = 0;
        m.overrideLevel = level;
        m.overrideExpiry = uint40(block.timestamp + duration);
        emit GovernanceOverride(marketId, level, m.overrideExpiry);
        _move(marketId, m, level, Source.Governance, msg.sender);
    }

    /// @inheritdoc ICircuitBreaker
    function setPolicies(TradePolicy[5] calldata policies) external onlyRole(Roles.GOVERNOR) {
        _setPolicies(policies);
    }

    /// @inheritdoc ICircuitBreaker
    function addTrigger(ITrigger trigger) external onlyRole(Roles.GOVERNOR) {
        if (address(trigger).code.length == 0) revert TriggerNotFound(address(trigger));
        uint256 n = _triggers.length;
        if (n >= MAX_TRIGGERS) revert TooManyTriggers(MAX_TRIGGERS);
        for (uint256 i; i < n; ++i) {
            if (_triggers[i] == trigger) revert TriggerAlreadyAdded(address(trigger));
        }
        _triggers.push(trigger);
        emit TriggerAdded(address(trigger), trigger.name());
    }

    /// @inheritdoc ICircuitBreaker
    function removeTrigger(ITrigger trigger) external onlyRole(Roles.GOVERNOR) {
        uint256 n = _triggers.length;
        for (uint256 i; i < n; ++i) {
            if (_triggers[i] == trigger) {
                _triggers[i] = _triggers[n - 1];
                _triggers.pop();
                emit TriggerRemoved(address(trigger));
                return;
            }
        }
        revert TriggerNotFound(address(trigger));
    }

    /// @inheritdoc ICircuitBreaker
    function setDeescalationCooldown(uint32 cooldown) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("deescalationCooldown", cooldown, MIN_COOLDOWN, MAX_COOLDOWN);
        deescalationCooldown = cooldown;
        emit DeescalationCooldownSet(cooldown);
    }

    /// @inheritdoc ICircuitBreaker
    function setRiskOracleBounds(uint8 maxLevel, uint32 maxDuration) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("riskOracleMaxLevel", maxLevel, 0, MAX_LEVEL);
        Bounds.check("riskOracleMaxDuration", maxDuration, 1, MAX_RISK_ORACLE_DURATION);
        riskOracleMaxLevel = maxLevel;
        riskOracleMaxDuration = maxDuration;
        emit RiskOracleBoundsSet(maxLevel, maxDuration);
    }

    /// @inheritdoc ICircuitBreaker
    function setRiskOracleCadence(uint32 minDelay, uint8 maxRenewals) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("riskOracleMinDelay", minDelay, MIN_RISK_ORACLE_DELAY, MAX_RISK_ORACLE_DELAY);
        Bounds.check("riskOracleMaxRenewals", maxRenewals, 0, MAX_RISK_ORACLE_RENEWALS);
        riskOracleMinDelay = minDelay;
        riskOracleMaxRenewals = maxRenewals;
        emit RiskOracleCadenceSet(minDelay, maxRenewals);
    }

    // ================================================================== views

    /// @inheritdoc ICircuitBreaker
    function policy(uint8 level) external view returns (TradePolicy memory) {
        if (level > MAX_LEVEL) revert UnknownLevel(level);
        return _policies[level];
    }

    /// @inheritdoc ICircuitBreaker
    function marketLevel(uint256 marketId) external view returns (MarketLevel memory) {
        return _markets[marketId];
    }

    /// @inheritdoc ICircuitBreaker
    function triggers() external view returns (ITrigger[] memory) {
        return _triggers;
    }

    // ================================================================== internals

    /// @dev Highest of: every trigger (capped by a live governance override), the guardian's floor, the
    ///      risk oracle's unexpired floor. A trigger that reverts proposes nothing, and `poke` reports it:
    ///      a broken trigger must not be able to halt a market.
    function _proposed(
        uint256 marketId,
        MarketLevel memory m
    ) internal view returns (uint8 level, address source, bool fromTrigger, uint256 failed) {
        uint256 n = _triggers.length;
        for (uint256 i; i < n; ++i) {
            (bool ok, uint256 proposal) = _ask(_triggers[i], marketId);
            if (!ok) {
                failed |= 1 << i;
                continue;
            }
            if (proposal > MAX_LEVEL) proposal = MAX_LEVEL;
            if (proposal > level) (level, source) = (uint8(proposal), address(_triggers[i]));
        }
        if (block.timestamp < m.overrideExpiry && level > m.overrideLevel) level = m.overrideLevel;
        fromTrigger = level != 0;
        if (m.guardianLevel > level) (level, source, fromTrigger) = (m.guardianLevel, address(0), false);
        if (block.timestamp < m.riskOracleExpiry && m.riskOracleLevel > level) {
            (level, source, fromTrigger) = (m.riskOracleLevel, address(0), false);
        }
    }

    /// @dev Asks one trigger, tolerating anything it might do: a revert, running out of the gas it is
    ///      given, returning nothing or a word that is not a uint8 (all read as a failure, never as stress).
    ///      Only 32 bytes of its answer are ever copied, so it cannot grief with return data.
    function _ask(ITrigger trigger, uint256 marketId) internal view returns (bool ok, uint256 proposal) {
        bytes memory data = abi.encodeCall(ITrigger.proposeLevel, (marketId));
        uint256 gasCap = TRIGGER_GAS;
        // A caller who gives poke too little gas must not starve a trigger into a failure, which reads as
        // "no proposal" and could step a level down: unless the trigger can get its whole cap (the EVM
        // keeps 1/64 of what is left back from a call), the whole call fails instead.
        uint256 needed = gasCap + gasCap / 63 + 10_000;
        if (gasleft() < needed) revert InsufficientGasForTrigger(address(trigger), gasleft(), needed);
        assembly ("memory-safe") {
            ok := staticcall(gasCap, trigger, add(data, 32), mload(data), 0, 0)
            if lt(returndatasize(), 32) {
                ok := 0
            }
            if ok {
                returndatacopy(0, 0, 32)
                proposal := mload(0)
                // not an ABI-encoded uint8: a broken trigger, not a signal of stress
                if gt(proposal, 255) {
                    ok := 0
                }
            }
        }
    }

    function _floorSource(MarketLevel memory m, uint8 level) internal view returns (Source) {
        if (m.guardianLevel == level) return Source.Guardian;
        if (block.timestamp < m.riskOracleExpiry && m.riskOracleLevel == level) return Source.RiskOracle;
        return Source.Trigger;
    }

    function _move(uint256 marketId, MarketLevel memory m, uint8 to, Source source, address by) internal {
        uint8 from = m.level;
        m.level = to;
        m.lastChange = uint40(block.timestamp);
        _markets[marketId] = m;
        emit LevelChanged(marketId, from, to, source, by);
    }

    function _setPolicies(TradePolicy[5] memory p) internal {
        for (uint8 lv; lv <= MAX_LEVEL; ++lv) {
            Bounds.check("feeMultiplier", p[lv].feeMultiplier, MIN_MULTIPLIER, MAX_MULTIPLIER);
            Bounds.check("imMultiplier", p[lv].imMultiplier, MIN_MULTIPLIER, MAX_MULTIPLIER);
            if (p[lv].maxLeverage != 0) Bounds.check("maxLeverage", p[lv].maxLeverage, MIN_LEVERAGE, MAX_LEVERAGE);
            if (lv != 0) {
                TradePolicy memory lower = p[lv - 1];
                if (p[lv].feeMultiplier < lower.feeMultiplier) revert LevelsNotMonotonic(lv, "feeMultiplier");
                if (p[lv].imMultiplier < lower.imMultiplier) revert LevelsNotMonotonic(lv, "imMultiplier");
                // 0 means "no cap", the laxest value
                if (lower.maxLeverage != 0 && (p[lv].maxLeverage == 0 || p[lv].maxLeverage > lower.maxLeverage)) {
                    revert LevelsNotMonotonic(lv, "maxLeverage");
                }
                if (p[lv].newRiskAllowed && !lower.newRiskAllowed) revert LevelsNotMonotonic(lv, "newRiskAllowed");
                if (p[lv].tradingOpen && !lower.tradingOpen) revert LevelsNotMonotonic(lv, "tradingOpen");
            }
        }
        // Halting trading must also stop new risk; reduce-only and halted must actually restrict.
        for (uint8 lv; lv <= MAX_LEVEL; ++lv) {
            if (!p[lv].tradingOpen && p[lv].newRiskAllowed) revert LevelsNotMonotonic(lv, "tradingOpen");
            _policies[lv] = p[lv];
            emit PolicySet(lv, p[lv]);
        }
    }
}
