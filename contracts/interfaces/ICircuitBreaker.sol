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

    /// @notice Risk-oracle role: raises a market to at most `riskOracleMaxLevel` for at most
    ///         `riskOracleMaxDuration`, expiring by itself. At most one raise per market every
    ///         `riskOracleMinDelay`; a raise made before the previous one lapsed (its expiry plus the
    ///         minimum delay) is a renewal, and at most `riskOracleMaxRenewals` renewals follow each
    ///         other. `forecastRef` (non-zero) names the forecast behind the raise.
    function riskOracleRaise(uint256 marketId, uint8 level, uint32 duration, bytes32 forecastRef) external;

    function marketLevel(uint256 marketId) external view returns (MarketLevel memory);
    function triggers() external view returns (ITrigger[] memory);
}
