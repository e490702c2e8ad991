// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

/// @title IOracleAdapter
/// @notice Validated reads of Chainlink AggregatorV3Interface feeds, normalised to WAD, plus an
///         on-chain volatility estimate (EWMA of squared log returns over the feed's rounds).
interface IOracleAdapter is IBoundedParameters {
    /// @notice Configuration of one feed, as feedConfig reports it (the adapter stores it packed with the
    ///         feed's sigma in one slot, the volWindow with the variance).
    struct FeedConfig {
        address aggregator; // AggregatorV3Interface (a proxy on live networks)
        uint32 heartbeat; // seconds after which an answer is stale
        uint8 decimals; // the aggregator's decimals, cached at registration
        uint32 volWindow; // seconds: EWMA time constant (weight of a round = dt / (dt + volWindow))
        bool bounded; // answers at or beyond the aggregator's min/max answer are refused (see answerBounds)
    }

    /// @notice The aggregator's own circuit bounds (Chainlink's minAnswer/maxAnswer, in its decimals): an
    ///         aggregator clamps a price that leaves them, so an answer at a bound is not a price.
    struct AnswerBounds {
        int128 minAnswer;
        int128 maxAnswer;
    }

    /// @notice Volatility state of one feed, as volatilityState reports it.
    struct VolatilityState {
        uint80 lastRoundId; // last round folded into the estimate
        uint40 lastTimestamp; // its updatedAt
        uint128 lastPriceWad; // its answer, in WAD
        uint128 varianceWad; // annualised variance of log returns (WAD)
        uint128 sigmaWad; // sqrt(variance): annualised volatility (WAD), what consumers read
    }

    error FeedNotFound(bytes32 feedId);
    error FeedAlreadyExists(bytes32 feedId);
    error InvalidAggregator(address aggregator);
    error NonPositiveAnswer(bytes32 feedId, int256 answer);
    error IncompleteRound(bytes32 feedId, uint80 roundId, uint80 answeredInRound, uint256 updatedAt);
    error StaleAnswer(bytes32 feedId, uint256 updatedAt, uint256 heartbeat, uint256 currentTime);
    error AnswerFromTheFuture(bytes32 feedId, uint256 updatedAt, uint256 currentTime);
    error SequencerDown(address sequencerFeed);
    error SequencerGracePeriodNotOver(uint256 upSince, uint256 gracePeriod, uint256 currentTime);
    /// @notice The answer sits at (or beyond) the aggregator's min/max answer: the aggregator clamped it
    ///         (the LUNA failure mode), so the real price is unknown.
    error AnswerAtAggregatorBound(bytes32 feedId, int256 answer, int256 minAnswer, int256 maxAnswer);
    error InvalidAnswerBounds(int256 minAnswer, int256 maxAnswer);

    event FeedSet(bytes32 indexed feedId, address aggregator, uint32 heartbeat, uint8 decimals, uint32 volWindow);
    event SequencerFeedSet(address sequencerFeed, uint32 gracePeriod);
    /// @notice (0, 0) clears the bounds.
    event AnswerBoundsSet(bytes32 indexed feedId, int256 minAnswer, int256 maxAnswer);
    event VolatilityUpdated(bytes32 indexed feedId, uint80 roundId, uint256 priceWad, uint256 sigmaWad, uint256 rounds);
    event VolatilityReset(bytes32 indexed feedId, uint256 sigmaWad);
    /// @notice The volatility state was (re)anchored at `roundId` by setFeed.
    event VolatilityAnchored(bytes32 indexed feedId, uint80 roundId, uint256 priceWad, uint256 sigmaWad);

    /// @notice Latest validated price in WAD and its timestamp. Reverts on a non-positive, incomplete,
    ///         stale or future answer, and while the L2 sequencer is down or in its grace period.
    function getPrice(bytes32 feedId) external view returns (uint256 priceWad, uint256 updatedAt);

    /// @notice getPrice plus the current volatility estimate, in one call (the engine's hot path).
    function getPriceAndVolatility(bytes32 feedId) external view returns (uint256 priceWad, uint256 sigmaWad);

    /// @notice Latest answer validated for sign and completeness but NOT for staleness or the
    ///         sequencer. For callers that apply their own staleness policy (liquidations).
    function latestPrice(bytes32 feedId) external view returns (uint256 priceWad, uint256 updatedAt);

    /// @notice Round `roundId` of the feed: its answer in WAD (checked as the latest answer is, without
    ///         the staleness check), its updatedAt, and the updatedAt of the round before it (0 when that
    ///         round cannot be read or has no answer). Two-step orders prove with it that a round is the
    ///         first one after a time.
    function roundPrice(
        bytes32 feedId,
        uint80 roundId
    ) external view returns (uint256 priceWad, uint256 updatedAt, uint256 previousUpdatedAt);

    /// @notice Current annualised volatility estimate of a feed (WAD).
    function volatility(bytes32 feedId) external view returns (uint256 sigmaWad);

    /// @notice Folds up to `maxRounds` new rounds into the EWMA. Permissionless; bounded loop.
    /// @dev Visits at most min(maxRounds, MAX_ROUNDS_PER_UPDATE) round ids after the anchor. When the
    ///      next sequential round is missing or invalid (a phase change, a reverting or zeroed id),
    ///      the latest round is folded in as one return over the whole gap and the walk stops. Rounds
    ///      not newer than the anchor are stepped over without folding. Reverts with the read errors
    ///      if the latest round itself is invalid; does not check staleness or the sequencer.
    /// @return processed the number of rounds folded in
    function updateVolatility(bytes32 feedId, uint256 maxRounds) external returns (uint256 processed);

    function feedConfig(bytes32 feedId) external view returns (FeedConfig memory);
    function volatilityState(bytes32 feedId) external view returns (VolatilityState memory);

    /// @notice The L2 sequencer-uptime feed (address(0) when disabled) and its grace period in seconds.
    function sequencerConfig() external view returns (address sequencerFeed, uint32 gracePeriod);

    /// @notice Registers or re-points a feed. GOVERNOR only. Reads and caches the aggregator's
    ///         decimals, validates its current answer (sign, completeness, not from the future) and
    ///         anchors the volatility state at its latest round. A new feed starts at
    ///         `initialSigmaWad`; re-setting an existing feed keeps its current sigma (the argument
    ///         is still bound-checked but ignored), since the market it prices has not changed.
    function setFeed(
        bytes32 feedId,
        address aggregator,
        uint32 heartbeat,
        uint32 volWindow,
        uint256 initialSigmaWad
    ) external;

    /// @notice Sets the Chainlink L2 sequencer-uptime feed (answer 0 = up, 1 = down; startedAt = time
    ///         of the last status change) and the grace period after it comes back up. address(0)
    ///         disables the check (L1). GOVERNOR only.
    function setSequencerFeed(address sequencerFeed, uint32 gracePeriod) external;

    /// @notice Overwrites a feed's volatility estimate, e.g. after an outage left it meaningless.
    ///         The round anchor is kept. GOVERNOR only.
    function resetVolatility(bytes32 feedId, uint256 sigmaWad) external;

    /// @notice Sets the aggregator's min/max answer for a feed (GOVERNOR): every read then refuses an
    ///         answer at or beyond them (`AnswerAtAggregatorBound`), so nothing trades or liquidates at a
    ///         clamped price. (0, 0) clears them; re-pointing a feed (`setFeed`) clears them too, since they
    ///         belong to the aggregator.
    function setAnswerBounds(bytes32 feedId, int256 minAnswer, int256 maxAnswer) external;

    /// @notice The feed's answer bounds, (0, 0) when none are set.
    function answerBounds(bytes32 feedId) external view returns (AnswerBounds memory);
}
