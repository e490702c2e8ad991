// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title MockAggregator
/// @notice A Chainlink AggregatorV3Interface feed under full control, for tests, local deployments
///         and crash replays. Behaves like a proxy: round ids are (phaseId << 64) | n, starting in
///         phase 1, and getRoundData reverts for ids never written. Also serves as an L2
///         sequencer-uptime feed (decimals 0, answer 0 = up, 1 = down, startedAt = status change).
/// @dev A pushed round costs one fresh storage slot: complete rounds derive startedAt and
///      answeredInRound instead of storing them; only rounds crafted by setRoundData pay for a
///      second slot. Answers are int192 like Chainlink OCR answers.
contract MockAggregator is AggregatorV3Interface {
    using SafeCast for uint256;
    using SafeCast for int256;

    error RoundNotFound(uint80 roundId);
    error PhaseNotAhead(uint16 phaseId, uint80 latestRoundId);
    error LengthMismatch(uint256 answers, uint256 timestamps);

    /// @dev Same signature as Chainlink's AggregatorInterface event, so off-chain watchers work unchanged.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event RoundDataSet(
        uint80 indexed roundId,
        int256 answer,
        uint256 startedAt,
        uint256 updatedAt,
        uint80 answeredInRound
    );
    event PhaseStarted(uint16 phaseId, uint80 firstRoundId);
    event RevertOnMissingRoundSet(bool revertOnMissingRound);

    struct Round {
        int192 answer;
        uint40 updatedAt;
        bool written;
        bool crafted;
    }

    struct CraftedFields {
        uint40 startedAt;
        uint80 answeredInRound;
    }

    uint8 private constant PHASE_OFFSET = 64;

    uint8 private immutable _decimals;
    string private _description;

    /// @notice Id of the latest round, what latestRoundData returns.
    uint80 public latestRound;
    /// @notice Id the next pushRound will use.
    uint80 public nextRoundId;
    /// @notice When false, getRoundData returns zeros for unwritten ids (some aggregators do) instead
    ///         of reverting (what proxies do).
    bool public revertOnMissingRound = true;

    mapping(uint80 roundId => Round) private _rounds;
    mapping(uint80 roundId => CraftedFields) private _crafted;

    constructor(uint8 decimals_, int256 initialAnswer, string memory description_) {
        _decimals = decimals_;
        _description = description_;
        nextRoundId = (uint80(1) << PHASE_OFFSET) + 1;
        _push(initialAnswer, block.timestamp);
    }

    // ---------------------------------------------------------------- control

    /// @notice Appends a complete round (startedAt = updatedAt, answeredInRound = roundId).
    function pushRound(int256 answer, uint256 updatedAt) external returns (uint80 roundId) {
        return _push(answer, updatedAt);
    }

    /// @notice Appends a complete round stamped with the current block time.
    function updateAnswer(int256 answer) external returns (uint80 roundId) {
        return _push(answer, block.timestamp);
    }

    /// @notice Appends many complete rounds in one transaction (replays, loop-bound tests).
    function pushRounds(int256[] calldata answers, uint256[] calldata updatedAts) external {
        if (answers.length != updatedAts.length) revert LengthMismatch(answers.length, updatedAts.length);
        for (uint256 i = 0; i < answers.length; ++i) {
            _push(answers[i], updatedAts[i]);
        }
    }

    /// @notice Writes any round, valid or not; it becomes the latest when its id is >= the latest.
    function setRoundData(
        uint80 roundId,
        int256 answer,
        uint256 startedAt,
        uint256 updatedAt,
        uint80 answeredInRound
    ) external {
        _rounds[roundId] = Round({
            answer: answer.toInt192(),
            updatedAt: updatedAt.toUint40(),
            written: true,
            crafted: true
        });
        _crafted[roundId] = CraftedFields({startedAt: startedAt.toUint40(), answeredInRound: answeredInRound});
        if (roundId >= latestRound) {
            latestRound = roundId;
            nextRoundId = roundId + 1;
        }
        emit RoundDataSet(roundId, answer, startedAt, updatedAt, answeredInRound);
    }

    /// @notice Starts a new phase, as a proxy does when its aggregator is replaced: the next pushed
    ///         round is (phaseId << 64) | 1, leaving a gap after the current latest round.
    function startPhase(uint16 phaseId) external {
        uint80 firstRoundId = (uint80(phaseId) << PHASE_OFFSET) + 1;
        if (firstRoundId <= latestRound) revert PhaseNotAhead(phaseId, latestRound);
        nextRoundId = firstRoundId;
        emit PhaseStarted(phaseId, firstRoundId);
    }

    function setRevertOnMissingRound(bool revertOnMissingRound_) external {
        revertOnMissingRound = revertOnMissingRound_;
        emit RevertOnMissingRoundSet(revertOnMissingRound_);
    }

    // ---------------------------------------------------------------- AggregatorV3Interface

    function decimals() external view returns (uint8) {
        return _decimals;
    }

    function description() external view returns (string memory) {
        return _description;
    }

    function version() external pure returns (uint256) {
        return 4;
    }

    function getRoundData(uint80 roundId) external view returns (uint80, int256, uint256, uint256, uint80) {
        return _roundData(roundId);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return _roundData(latestRound);
    }

    // ---------------------------------------------------------------- internals

    function _push(int256 answer, uint256 updatedAt) internal returns (uint80 roundId) {
        roundId = nextRoundId;
        _rounds[roundId] = Round({
            answer: answer.toInt192(),
            updatedAt: updatedAt.toUint40(),
            written: true,
            crafted: false
        });
        latestRound = roundId;
        nextRoundId = roundId + 1;
        emit AnswerUpdated(answer, roundId, updatedAt);
    }

    function _roundData(uint80 roundId) internal view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory round = _rounds[roundId];
        if (!round.written) {
            if (revertOnMissingRound) revert RoundNotFound(roundId);
            return (roundId, 0, 0, 0, 0);
        }
        if (round.crafted) {
            CraftedFields memory crafted = _crafted[roundId];
            return (roundId, round.answer, crafted.startedAt, round.updatedAt, crafted.answeredInRound);
        }
        return (roundId, round.answer, round.updatedAt, round.updatedAt, roundId);
    }
}
