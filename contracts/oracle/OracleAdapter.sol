// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {Roles} from "../libraries/Roles.sol";
import {VolatilityMath} from "../libraries/VolatilityMath.sol";
import {Bounds} from "../libraries/Bounds.sol";

/// @title OracleAdapter
/// @notice Validated, WAD-normalised Chainlink reads and a permissionlessly updated EWMA volatility
///         estimate per feed. Read by the engine on every trade and liquidation, so the hot path touches
///         one storage slot per feed (`_reads`: the aggregator, heartbeat, decimals, flags and sigma),
///         the sequencer's slot only when a sequencer feed is set, and the aggregator.
contract OracleAdapter is IOracleAdapter, AccessControl {
    using SafeCast for uint256;

    uint256 public constant MIN_HEARTBEAT = 60;
    uint256 public constant MAX_HEARTBEAT = 3 days;
    uint256 public constant MIN_VOL_WINDOW = 5 minutes;
    uint256 public constant MAX_VOL_WINDOW = 30 days;
    uint256 public constant MIN_SIGMA = 0;
    uint256 public constant MAX_SIGMA = VolatilityMath.MAX_SIGMA;
    uint256 public constant MIN_SEQUENCER_GRACE = 0;
    uint256 public constant MAX_SEQUENCER_GRACE = 1 days;
    /// @dev Chainlink feeds use at most 18; far beyond that an int192 answer can no longer express
    ///      ordinary prices, so such an aggregator is misconfigured rather than exotic.
    uint256 public constant MAX_DECIMALS = 36;
    /// @dev Caps the gas of one updateVolatility call (each round is an external call plus a ln).
    uint256 public constant MAX_ROUNDS_PER_UPDATE = 64;

    /// @dev Answers above this are treated as invalid rounds by the volatility walk: Chainlink's
    ///      OCR answers are int192, and the bound keeps answer * 10^18 far from overflow.
    uint256 private constant MAX_ANSWER = type(uint192).max;

    struct SequencerConfig {
        address feed;
        uint32 gracePeriod;
    }

    /// @dev The volatility walk's state of one feed, two slots; its sigma lives in the feed's read word
    ///      (`_reads`), where every price read finds it. The EWMA window sits with the variance it weighs.
    struct VolatilityStore {
        uint80 lastRoundId;
        uint40 lastTimestamp;
        uint128 lastPriceWad;
        uint128 varianceWad;
        uint32 volWindow;
    }

    /// @dev The read word: everything a price read needs in one slot per feed. Bits 0-159 the aggregator,
    ///      160-177 the heartbeat (at most MAX_HEARTBEAT, 3 days < 2^18), 178-183 the decimals (at most
    ///      MAX_DECIMALS, 36 < 2^6), 184 answer bounds set, 185 a sequencer feed set, 186-255 sigma (at most
    ///      MAX_SIGMA, 50e18 < 2^66, in 70 bits).
    uint256 private constant _HEARTBEAT_SHIFT = 160;
    uint256 private constant _HEARTBEAT_MASK = (1 << 18) - 1;
    uint256 private constant _DECIMALS_SHIFT = 178;
    uint256 private constant _DECIMALS_MASK = (1 << 6) - 1;
    uint256 private constant _BOUNDED_BIT = 1 << 184;
    uint256 private constant _SEQUENCER_BIT = 1 << 185;
    uint256 private constant _SIGMA_SHIFT = 186;
    uint256 private constant _SIGMA_BITS = 70;

    /// @dev Working copy of the anchor while updateVolatility walks rounds (memory, one write at the end).
    struct Anchor {
        uint80 roundId;
        uint256 timestamp;
        uint256 priceWad;
        uint256 varianceWad;
        uint256 folded;
    }

    /// @dev One round as read from the aggregator, already normalised.
    struct Observation {
        bool valid;
        uint80 roundId;
        uint256 priceWad;
        uint256 updatedAt;
    }

    mapping(bytes32 feedId => uint256 word) private _reads;
    mapping(bytes32 feedId => AnswerBounds) internal _answerBounds;
    mapping(bytes32 feedId => VolatilityStore) private _volatility;
    SequencerConfig private _sequencer;
    /// @dev Every feed ever set, so setSequencerFeed can flag each feed's read word.
    bytes32[] private _feedIds;

    constructor(address admin, address governor) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc IOracleAdapter
    function setFeed(
        bytes32 feedId,
        address aggregator,
        uint32 heartbeat,
        uint32 volWindow,
        uint256 initialSigmaWad
    ) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("heartbeat", heartbeat, MIN_HEARTBEAT, MAX_HEARTBEAT);
        Bounds.check("volWindow", volWindow, MIN_VOL_WINDOW, MAX_VOL_WINDOW);
        Bounds.check("sigma", initialSigmaWad, MIN_SIGMA, MAX_SIGMA);
        if (aggregator.code.length == 0) revert InvalidAggregator(aggregator);
        // Reading the aggregator before writing is safe: both calls are STATICCALLs (view).
        uint8 decimals = _readDecimals(aggregator);
        Bounds.check("decimals", decimals, 0, MAX_DECIMALS);
        uint256 previous = _reads[feedId];
        VolatilityState memory anchor = _newAnchor(feedId, aggregator, decimals, initialSigmaWad, previous);

        if (previous == 0) _feedIds.push(feedId);
        _reads[feedId] = _pack(aggregator, heartbeat, decimals, _sequencer.feed != address(0), anchor.sigmaWad);
        if (_answerBounds[feedId].maxAnswer != 0) {
            delete _answerBounds[feedId];
            emit AnswerBoundsSet(feedId, 0, 0);
        }
        _volatility[feedId] = VolatilityStore({
            lastRoundId: anchor.lastRoundId,
            lastTimestamp: anchor.lastTimestamp,
            lastPriceWad: anchor.lastPriceWad,
            varianceWad: anchor.varianceWad,
            volWindow: volWindow
        });

        emit FeedSet(feedId, aggregator, heartbeat, decimals, volWindow);
        emit VolatilityAnchored(feedId, anchor.lastRoundId, anchor.lastPriceWad, anchor.sigmaWad);
    }

    /// @inheritdoc IOracleAdapter
    function setAnswerBounds(bytes32 feedId, int256 minAnswer, int256 maxAnswer) external onlyRole(Roles.GOVERNOR) {
        (, uint256 word) = _loadFeed(feedId);
        bool clear = minAnswer == 0 && maxAnswer == 0;
        if (!clear && (minAnswer < 0 || minAnswer >= maxAnswer || maxAnswer > type(int128).max)) {
            revert InvalidAnswerBounds(minAnswer, maxAnswer);
        }
        _answerBounds[feedId] = AnswerBounds(int128(minAnswer), int128(maxAnswer));
        _reads[feedId] = clear ? word & ~_BOUNDED_BIT : word | _BOUNDED_BIT;
        emit AnswerBoundsSet(feedId, minAnswer, maxAnswer);
    }

    /// @inheritdoc IOracleAdapter
    function answerBounds(bytes32 feedId) external view returns (AnswerBounds memory) {
        return _answerBounds[feedId];
    }

    /// @inheritdoc IOracleAdapter
    function setSequencerFeed(address sequencerFeed, uint32 gracePeriod) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("sequencerGrace", gracePeriod, MIN_SEQUENCER_GRACE, MAX_SEQUENCER_GRACE);
        if (sequencerFeed != address(0) && sequencerFeed.code.length == 0) revert InvalidAggregator(sequencerFeed);

        _sequencer = SequencerConfig({feed: sequencerFeed, gracePeriod: gracePeriod});
        // Each feed's read word says whether to read the sequencer's slot at all (L1: never).
        bool set = sequencerFeed != address(0);
        uint256 n = _feedIds.length;
        for (uint256 i; i < n; ++i) {
            bytes32 id = _feedIds[i];
            uint256 word = _reads[id];
            _reads[id] = set ? word | _SEQUENCER_BIT : word & ~_SEQUENCER_BIT;
        }

        emit SequencerFeedSet(sequencerFeed, gracePeriod);
    }

    /// @inheritdoc IOracleAdapter
    function resetVolatility(bytes32 feedId, uint256 sigmaWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("sigma", sigmaWad, MIN_SIGMA, MAX_SIGMA);
        (, uint256 word) = _loadFeed(feedId);

        uint256 varianceWad = VolatilityMath.varianceFromSigma(sigmaWad);

        _volatility[feedId].varianceWad = varianceWad.toUint128();
        _reads[feedId] = _withSigma(word, sigmaWad);

        emit VolatilityReset(feedId, sigmaWad);
    }

    // ---------------------------------------------------------------- volatility

    /// @inheritdoc IOracleAdapter
    function updateVolatility(bytes32 feedId, uint256 maxRounds) external returns (uint256 processed) {
        (FeedConfig memory cfg, uint256 word) = _loadFeed(feedId);
        VolatilityStore memory state = _volatility[feedId];
        cfg.volWindow = state.volWindow;
        Observation memory latest;
        (latest.roundId, latest.priceWad, latest.updatedAt) = _readLatest(
            feedId,
            cfg.aggregator,
            cfg.decimals,
            cfg.bounded
        );
        uint256 budget = Math.min(maxRounds, MAX_ROUNDS_PER_UPDATE);
        if (latest.roundId <= state.lastRoundId || budget == 0) return 0;

        Anchor memory anchor = Anchor({
            roundId: state.lastRoundId,
            timestamp: state.lastTimestamp,
            priceWad: state.lastPriceWad,
            varianceWad: state.varianceWad,
            folded: 0
        });
        _walk(cfg, anchor, latest, budget);
        processed = anchor.folded;
        uint256 sigmaWad = processed == 0 ? word >> _SIGMA_SHIFT : VolatilityMath.sigmaFromVariance(anchor.varianceWad);

        _volatility[feedId] = VolatilityStore({
            lastRoundId: anchor.roundId,
            lastTimestamp: anchor.timestamp.toUint40(),
            lastPriceWad: anchor.priceWad.toUint128(),
            varianceWad: anchor.varianceWad.toUint128(),
            volWindow: state.volWindow
        });
        if (processed != 0) _reads[feedId] = _withSigma(word, sigmaWad);

        // Emitted whenever the anchor moved, including a walk that only stepped over rounds that
        // were not newer (processed == 0), so every state change is visible off-chain.
        emit VolatilityUpdated(feedId, anchor.roundId, anchor.priceWad, sigmaWad, processed);
    }

    // ---------------------------------------------------------------- reads

    /// @inheritdoc IOracleAdapter
    function getPrice(bytes32 feedId) external view returns (uint256 priceWad, uint256 updatedAt) {
        (priceWad, updatedAt) = _readFresh(feedId, _reads[feedId]);
    }

    /// @inheritdoc IOracleAdapter
    function getPriceAndVolatility(bytes32 feedId) external view returns (uint256 priceWad, uint256 sigmaWad) {
        uint256 word = _reads[feedId];
        (priceWad, ) = _readFresh(feedId, word);
        // Sigma is stored in the read word, never derived on the hot path: no second slot.
        sigmaWad = word >> _SIGMA_SHIFT;
    }

    /// @inheritdoc IOracleAdapter
    function latestPrice(bytes32 feedId) external view returns (uint256 priceWad, uint256 updatedAt) {
        (FeedConfig memory cfg, ) = _loadFeed(feedId);
        (, priceWad, updatedAt) = _readLatest(feedId, cfg.aggregator, cfg.decimals, cfg.bounded);
    }

    /// @inheritdoc IOracleAdapter
    function roundPrice(
        bytes32 feedId,
        uint80 roundId
    ) external view returns (uint256 priceWad, uint256 updatedAt, uint256 previousUpdatedAt) {
        (FeedConfig memory cfg, ) = _loadFeed(feedId);
        AggregatorV3Interface agg = AggregatorV3Interface(cfg.aggregator);
        (uint80 id, int256 answer, , uint256 at, uint80 answeredInRound) = agg.getRoundData(roundId);
        if (id != roundId) revert IncompleteRound(feedId, roundId, answeredInRound, at);
        priceWad = _validRound(feedId, cfg.decimals, cfg.bounded, roundId, answer, at, answeredInRound);
        updatedAt = at;
        // A predecessor that cannot be read (the first round of a phase) reads as 0: not provable.
        if (roundId > 0) {
            try agg.getRoundData(roundId - 1) returns (uint80, int256 a, uint256, uint256 prevAt, uint80) {
                if (a > 0) previousUpdatedAt = prevAt;
            } catch {}
        }
    }

    /// @inheritdoc IOracleAdapter
    /// @dev Reverts for an unknown feed rather than returning 0, which a caller could take for calm.
    function volatility(bytes32 feedId) external view returns (uint256 sigmaWad) {
        (, uint256 word) = _loadFeed(feedId);
        sigmaWad = word >> _SIGMA_SHIFT;
    }

    /// @inheritdoc IOracleAdapter
    /// @dev Returns an all-zero struct for an unknown feed (aggregator == address(0)); does not revert.
    function feedConfig(bytes32 feedId) external view returns (FeedConfig memory cfg) {
        cfg = _unpack(_reads[feedId]);
        cfg.volWindow = _volatility[feedId].volWindow;
    }

    /// @inheritdoc IOracleAdapter
    /// @dev Returns an all-zero struct for an unknown feed; does not revert.
    function volatilityState(bytes32 feedId) external view returns (VolatilityState memory) {
        VolatilityStore memory v = _volatility[feedId];
        return
            VolatilityState({
                lastRoundId: v.lastRoundId,
                lastTimestamp: v.lastTimestamp,
                lastPriceWad: v.lastPriceWad,
                varianceWad: v.varianceWad,
                sigmaWad: uint128(_reads[feedId] >> _SIGMA_SHIFT)
            });
    }

    /// @inheritdoc IOracleAdapter
    function sequencerConfig() external view returns (address sequencerFeed, uint32 gracePeriod) {
        SequencerConfig memory seq = _sequencer;
        return (seq.feed, seq.gracePeriod);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Validates the aggregator's latest answer and builds the volatility state anchored on it.
    function _newAnchor(
        bytes32 feedId,
        address aggregator,
        uint8 decimals,
        uint256 initialSigmaWad,
        uint256 previous
    ) internal view returns (VolatilityState memory anchor) {
        (uint80 roundId, uint256 priceWad, uint256 updatedAt) = _readLatest(feedId, aggregator, decimals, false);
        anchor.lastRoundId = roundId;
        anchor.lastTimestamp = updatedAt.toUint40();
        anchor.lastPriceWad = priceWad.toUint128();
        if (previous != 0) {
            // Re-pointing a feed (new proxy, new heartbeat) does not change how volatile the market
            // is, so the estimate survives; only the anchor moves, since round ids are per aggregator.
            anchor.varianceWad = _volatility[feedId].varianceWad;
            anchor.sigmaWad = uint128(previous >> _SIGMA_SHIFT);
        } else {
            anchor.varianceWad = VolatilityMath.varianceFromSigma(initialSigmaWad).toUint128();
            anchor.sigmaWad = initialSigmaWad.toUint128();
        }
    }

    /// @dev The feed's read word and its fields (volWindow 0: it is kept with the variance); reverts for an
    ///      unknown feed.
    function _loadFeed(bytes32 feedId) internal view returns (FeedConfig memory cfg, uint256 word) {
        word = _reads[feedId];
        cfg = _unpack(word);
        if (cfg.aggregator == address(0)) revert FeedNotFound(feedId);
    }

    /// @dev The sequencer is checked first: while an L2 is down every answer is suspect, fresh or not. Its
    ///      slot is read only when the feed's word says a sequencer feed is set.
    function _readFresh(bytes32 feedId, uint256 word) internal view returns (uint256 priceWad, uint256 updatedAt) {
        address aggregator = address(uint160(word));
        if (aggregator == address(0)) revert FeedNotFound(feedId);
        if (word & _SEQUENCER_BIT != 0) _checkSequencer();
        (, priceWad, updatedAt) = _readLatest(
            feedId,
            aggregator,
            uint8((word >> _DECIMALS_SHIFT) & _DECIMALS_MASK),
            word & _BOUNDED_BIT != 0
        );
        uint256 heartbeat = (word >> _HEARTBEAT_SHIFT) & _HEARTBEAT_MASK;
        // updatedAt <= block.timestamp was checked by _readLatest, so the subtraction cannot underflow.
        if (block.timestamp - updatedAt > heartbeat) {
            revert StaleAnswer(feedId, updatedAt, heartbeat, block.timestamp);
        }
    }

    /// @dev A read word from its fields; heartbeat and decimals are bound-checked by setFeed before.
    function _pack(
        address aggregator,
        uint256 heartbeat,
        uint256 decimals,
        bool sequencer,
        uint256 sigmaWad
    ) private pure returns (uint256 word) {
        word = uint256(uint160(aggregator)) | (heartbeat << _HEARTBEAT_SHIFT) | (decimals << _DECIMALS_SHIFT);
        if (sequencer) word |= _SEQUENCER_BIT;
        word = _withSigma(word, sigmaWad);
    }

    /// @dev The word with its sigma replaced; sigma is at most MAX_SIGMA on every path, the check guards the width.
    function _withSigma(uint256 word, uint256 sigmaWad) private pure returns (uint256) {
        if (sigmaWad >> _SIGMA_BITS != 0) revert SafeCast.SafeCastOverflowedUintDowncast(uint8(_SIGMA_BITS), sigmaWad);
        return (word & ((uint256(1) << _SIGMA_SHIFT) - 1)) | (sigmaWad << _SIGMA_SHIFT);
    }

    function _unpack(uint256 word) private pure returns (FeedConfig memory cfg) {
        cfg.aggregator = address(uint160(word));
        cfg.heartbeat = uint32((word >> _HEARTBEAT_SHIFT) & _HEARTBEAT_MASK);
        cfg.decimals = uint8((word >> _DECIMALS_SHIFT) & _DECIMALS_MASK);
        cfg.bounded = word & _BOUNDED_BIT != 0;
    }

    function _checkSequencer() internal view {
        SequencerConfig memory seq = _sequencer;
        if (seq.feed == address(0)) return;
        (, int256 status, uint256 startedAt, , ) = AggregatorV3Interface(seq.feed).latestRoundData();
        // startedAt == 0 is an uninitialised round (Arbitrum before its first update): the status is
        // unknown, and unknown must be treated as down.
        if (status != 0 || startedAt == 0) revert SequencerDown(seq.feed);
        // Written as an addition so a startedAt in the future reads as "not up long enough" rather
        // than underflowing.
        if (block.timestamp < startedAt + seq.gracePeriod) {
            revert SequencerGracePeriodNotOver(startedAt, seq.gracePeriod, block.timestamp);
        }
    }

    function _readLatest(
        bytes32 feedId,
        address aggregator,
        uint8 decimals,
        bool bounded
    ) internal view returns (uint80 roundId, uint256 priceWad, uint256 updatedAt) {
        int256 answer;
        uint80 answeredInRound;
        (roundId, answer, , updatedAt, answeredInRound) = AggregatorV3Interface(aggregator).latestRoundData();
        priceWad = _validRound(feedId, decimals, bounded, roundId, answer, updatedAt, answeredInRound);
    }

    /// @dev The checks every answer passes before it is used, whether the latest or a named round.
    function _validRound(
        bytes32 feedId,
        uint8 decimals,
        bool bounded,
        uint80 roundId,
        int256 answer,
        uint256 updatedAt,
        uint80 answeredInRound
    ) internal view returns (uint256 priceWad) {
        if (answer <= 0) revert NonPositiveAnswer(feedId, answer);
        if (bounded) {
            // An aggregator clamps to its bounds; an answer sitting on one is the bound, not the price.
            AnswerBounds memory b = _answerBounds[feedId];
            if (answer <= b.minAnswer || answer >= b.maxAnswer) {
                revert AnswerAtAggregatorBound(feedId, answer, b.minAnswer, b.maxAnswer);
            }
        }
        if (updatedAt == 0 || answeredInRound < roundId) {
            revert IncompleteRound(feedId, roundId, answeredInRound, updatedAt);
        }
        if (updatedAt > block.timestamp) revert AnswerFromTheFuture(feedId, updatedAt, block.timestamp);
        priceWad = _toWad(uint256(answer), decimals);
        // With more than 18 decimals a tiny answer floors to 0; a zero price is as unusable as a
        // zero answer.
        if (priceWad == 0) revert NonPositiveAnswer(feedId, answer);
    }

    /// @dev Visits round ids after the anchor, at most `budget` of them, folding each into `anchor`.
    function _walk(
        FeedConfig memory cfg,
        Anchor memory anchor,
        Observation memory latest,
        uint256 budget
    ) internal view {
        for (uint256 visited = 0; visited < budget && anchor.roundId < latest.roundId; ++visited) {
            // Proxy round ids are (phaseId << 64) | aggregatorRoundId, so +1 stays within a phase;
            // crossing a phase (or any hole) shows up as a missing round and takes the gap path.
            Observation memory next = _tryReadRound(cfg, anchor.roundId + 1);
            // One return over the whole gap still measures the move, where walking on could mean
            // billions of ids. The latest round was validated by the caller.
            _advance(anchor, next.valid ? next : latest, cfg.volWindow);
        }
    }

    /// @dev Never reverts on a bad round (the walk must be able to step around it), only reports it.
    function _tryReadRound(FeedConfig memory cfg, uint80 roundId) internal view returns (Observation memory round) {
        try AggregatorV3Interface(cfg.aggregator).getRoundData(roundId) returns (
            uint80 returnedId,
            int256 answer,
            uint256,
            uint256 updatedAt,
            uint80 answeredInRound
        ) {
            if (
                returnedId != roundId ||
                answer <= 0 ||
                uint256(answer) > MAX_ANSWER ||
                updatedAt == 0 ||
                answeredInRound < roundId ||
                updatedAt > block.timestamp
            ) return round;
            uint256 priceWad = _toWad(uint256(answer), cfg.decimals);
            if (priceWad == 0 || priceWad > type(uint128).max) return round;
            round = Observation({valid: true, roundId: roundId, priceWad: priceWad, updatedAt: updatedAt});
        } catch {
            // A proxy reverts for ids it never had (e.g. across a phase change): report, do not revert.
        }
    }

    /// @dev Moves the anchor to `round`; folds the return only when the round is strictly newer,
    ///      since a return over zero or negative time says nothing about variance per second.
    function _advance(Anchor memory anchor, Observation memory round, uint256 window) internal pure {
        anchor.roundId = round.roundId;
        if (round.updatedAt <= anchor.timestamp) return;
        uint256 absReturnWad = VolatilityMath.absLogReturn(anchor.priceWad, round.priceWad);
        anchor.varianceWad = VolatilityMath.fold(
            anchor.varianceWad,
            absReturnWad,
            round.updatedAt - anchor.timestamp,
            window
        );
        anchor.timestamp = round.updatedAt;
        anchor.priceWad = round.priceWad;
        ++anchor.folded;
    }

    function _readDecimals(address aggregator) internal view returns (uint8) {
        try AggregatorV3Interface(aggregator).decimals() returns (uint8 decimals) {
            return decimals;
        } catch {
            revert InvalidAggregator(aggregator);
        }
    }

    /// @dev Scaling down (decimals > 18) truncates: the lost digits are below 1e-18 of a unit.
    function _toWad(uint256 answer, uint8 decimals) internal pure returns (uint256) {
        if (decimals <= 18) return answer * 10 ** (18 - decimals);
        return answer / 10 ** (decimals - 18);
    }
}
