// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

import {ITrigger} from "./ITrigger.sol";

/// @title ICircuitBreaker
/// @notice Graded stress levels per market: 0 normal, 1 caution, 2 restricted, 3 reduce-only,
///         4 halted. The engine asks for the policy of the current level on every risk-adding trade.
///         Triggers propose levels; anyone may poke a market to apply them. Escalation is immediate,
///         de-escalation waits out a cooldown and goes down one level at a time.
interface ICircuitBreaker is IBoundedParameters {
    /// @notice Restrictions of one stress level. Multipliers are WAD (1e18 = unchanged).
    struct TradePolicy {
        uint64 feeMultiplier; // applied to the risk-adding fee rate
        uint64 imMultiplier; // applied to the initial margin ratio
        uint96 maxLeverage; // WAD; account notional / equity after a risk-adding trade; 0 = no cap
        bool newRiskAllowed; // false: only trades that reduce a position
        bool tradingOpen; // false: halted; still, reducing and liquidations are never refused
    }

    /// @notice Per-market level state. One slot.
    struct MarketLevel {
        uint8 level; // in force
        uint8 guardianLevel; // floor set by the guardian, until governance lowers it
        uint8 riskOracleLevel; // floor set by the risk oracle, until riskOracleExpiry
        uint40 riskOracleExpiry;
        uint40 lastChange; // when the level last moved
        uint40 lastHeld; // last poke at which the proposal was at or above the level in force
        uint8 overrideLevel; // governance cap on escalation, until overrideExpiry
        uint40 overrideExpiry;
        uint40 riskOracleLastRaise; // when the risk oracle last raised (0: never)
        uint8 riskOracleRenewals; // back-to-back raises since the last one that followed a lapse
    }

    /// @notice Who moved a level.
    enum Source {
        Trigger,
        Cooldown,
        Guardian,
        RiskOracle,
        Governance
    }

    /// @notice A trigger must be asked with its whole gas cap at hand: less, and the poke (or view) fails
    ///         rather than reading a starved trigger as "no proposal".
    error InsufficientGasForTrigger(address trigger, uint256 gasLeft, uint256 needed);
    error UnknownLevel(uint8 level);
    error LevelsNotMonotonic(uint8 level, bytes32 field);
    error TriggerAlreadyAdded(address trigger);
    error TriggerNotFound(address trigger);
    error TooManyTriggers(uint256 max);
    error GuardianCanOnlyRaise(uint256 marketId, uint8 current, uint8 requested);
    error RiskOracleLevelTooHigh(uint8 requested, uint8 max);
    /// @notice The risk oracle raised this market less than `riskOracleMinDelay` ago.
    error RiskOracleTooSoon(uint256 marketId, uint256 nextAllowed);
    /// @notice Another back-to-back renewal would exceed `riskOracleMaxRenewals`; the raise must lapse first.
    error RiskOracleRenewalsExhausted(uint256 marketId, uint8 renewal, uint8 maxRenewals);
    /// @notice A raise must name what justified it (a hash of the forecast inputs).
    error RiskOracleReferenceMissing();

    event LevelChanged(uint256 indexed marketId, uint8 from, uint8 to, Source source, address by);
    event PolicySet(uint8 indexed level, TradePolicy policy);
    event TriggerAdded(address indexed trigger, string name);
    event TriggerRemoved(address indexed trigger);
    event TriggerFailed(address indexed trigger, uint256 indexed marketId);
    event DeescalationCooldownSet(uint32 cooldown);
    event RiskOracleBoundsSet(uint8 maxLevel, uint32 maxDuration);
    event GovernanceOverride(uint256 indexed marketId, uint8 level, uint256 expiry);
    /// @param forecastRef hash of the forecast inputs that justified the raise
    /// @param renewal 0 for a raise after a lapse, n for the n-th back-to-back renewal
    event RiskOracleRaise(uint256 indexed marketId, uint8 level, uint256 expiry, bytes32 forecastRef, uint8 renewal);
    event RiskOracleCadenceSet(uint32 minDelay, uint8 maxRenewals);

    /// @notice Policy in force for `marketId` now.
    function tradePolicy(uint256 marketId) external view returns (TradePolicy memory);

    /// @notice Applies the triggers' proposals (and the guardian's and risk oracle's floors) to a market.
    ///         Permissionless. Returns the level in force afterwards.
    function poke(uint256 marketId) external returns (uint8 level);

    /// @notice Highest level the triggers and floors propose now, and the trigger behind it
    ///         (address(0) when a floor or nothing is behind it).
    function proposedLevel(uint256 marketId) external view returns (uint8 level, address source);

    /// @notice Whether `poke(marketId)` would change anything now: move the level, move the hold clock
    ///         (`lastHeld`, above level 0 only) or report a failing trigger. False means a poke now would
    ///         write nothing and emit nothing, so a keeper may skip it. Asks the triggers only until one
    ///         answers the question (at most as many as a poke asks), and none once the cooldown has passed
    ///         above level 0 (a poke then always writes).
    function pokeDue(uint256 marketId) external view returns (bool);

    /// @notice Risk-oracle role: raises a market to at most `riskOracleMaxLevel` for at most
    ///         `riskOracleMaxDuration`, expiring by itself. At most one raise per market every
    ///         `riskOracleMinDelay`; a raise made before the previous one lapsed (its expiry plus the
    ///         minimum delay) is a renewal, and at most `riskOracleMaxRenewals` renewals follow each
    ///         other. `forecastRef` (non-zero) names the forecast behind the raise.
    function riskOracleRaise(uint256 marketId, uint8 level, uint32 duration, bytes32 forecastRef) external;

    /// @notice Guardian: raises a market's level by hand, at once; the level stays at least there (a
    ///         floor under the triggers' proposals) until governance lowers it with `overrideLevel`.
    ///         Reverts `GuardianCanOnlyRaise` when the floor would not rise.
    function raiseLevel(uint256 marketId, uint8 level) external;

    /// @notice Governance: sets a market's level, below what the triggers propose if need be, and caps
    ///         escalation by triggers at `level` for `duration` seconds (0 ends an override, at most
    ///         `MAX_OVERRIDE_DURATION`). Clears the guardian's and the risk oracle's floors.
    function overrideLevel(uint256 marketId, uint8 level, uint32 duration) external;

    /// @notice Governance: the trade policy of each level 0..4; multipliers within
    ///         [MIN_MULTIPLIER, MAX_MULTIPLIER], leverage caps within [MIN_LEVERAGE, MAX_LEVERAGE] or 0,
    ///         and monotonic (a higher level is never laxer), else `LevelsNotMonotonic`.
    function setPolicies(TradePolicy[5] calldata policies) external;

    /// @notice Governance: adds a trigger (a contract; at most `MAX_TRIGGERS`, each once). Every poke then
    ///         asks it, with `TRIGGER_GAS` at most.
    function addTrigger(ITrigger trigger) external;

    /// @notice Governance: removes a trigger (the last one takes its place in the list).
    function removeTrigger(ITrigger trigger) external;

    /// @notice Governance: the time a level must hold before it may step down one level, within
    ///         [MIN_COOLDOWN, MAX_COOLDOWN].
    function setDeescalationCooldown(uint32 cooldown) external;

    /// @notice Governance: the highest level the risk oracle may set (at most `MAX_LEVEL`) and for how
    ///         long at most (1 s .. `MAX_RISK_ORACLE_DURATION`).
    function setRiskOracleBounds(uint8 maxLevel, uint32 maxDuration) external;

    /// @notice Governance: the least time between two risk-oracle raises of one market
    ///         ([MIN_RISK_ORACLE_DELAY, MAX_RISK_ORACLE_DELAY]) and how many back-to-back renewals may
    ///         follow each other (at most `MAX_RISK_ORACLE_RENEWALS`).
    function setRiskOracleCadence(uint32 minDelay, uint8 maxRenewals) external;

    /// @notice The trade policy of `level` (0..4); reverts `UnknownLevel` above 4.
    function policy(uint8 level) external view returns (TradePolicy memory);

    /// @notice A market's level state: the level in force, the floors and override, and the times the
    ///         hysteresis counts from.
    function marketLevel(uint256 marketId) external view returns (MarketLevel memory);

    /// @notice The triggers every poke asks, in the order they are asked.
    function triggers() external view returns (ITrigger[] memory);

    /// @notice Time (seconds) a level must hold before it may step down one level.
    function deescalationCooldown() external view returns (uint32);

    /// @notice Highest level the risk oracle may set.
    function riskOracleMaxLevel() external view returns (uint8);

    /// @notice Longest time (seconds) one risk-oracle raise may last.
    function riskOracleMaxDuration() external view returns (uint32);

    /// @notice Least time (seconds) between two risk-oracle raises of one market.
    function riskOracleMinDelay() external view returns (uint32);

    /// @notice How many risk-oracle raises may renew a live one back to back before it must lapse.
    function riskOracleMaxRenewals() external view returns (uint8);
}
