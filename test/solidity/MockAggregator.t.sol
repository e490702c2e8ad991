// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";

import {MockAggregator} from "../../contracts/mocks/MockAggregator.sol";

/// @notice The mock behaves like a Chainlink proxy: phase-encoded ids, reverts for unknown ids,
///         complete pushed rounds and arbitrary crafted ones. Replays and deploy scripts rely on it.
contract MockAggregatorTest is Test {
    uint80 internal constant PHASE1 = uint80(1) << 64;
    MockAggregator internal feed;

    function setUp() public {
        vm.warp(1_700_000_000);
        feed = new MockAggregator(8, 2000e8, "ETH / USD");
    }

    function test_metadata() public view {
        assertEq(feed.decimals(), 8);
        assertEq(feed.description(), "ETH / USD");
        assertEq(feed.version(), 4);
    }

    function test_constructorRoundIsCompleteInPhaseOne() public view {
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) = feed
            .latestRoundData();
        assertEq(roundId, PHASE1 + 1);
        assertEq(answer, 2000e8);
        assertEq(startedAt, 1_700_000_000);
        assertEq(updatedAt, 1_700_000_000);
        assertEq(answeredInRound, roundId);
    }

    function test_pushRoundAppendsAndEmits() public {
        vm.expectEmit(address(feed));
        emit MockAggregator.AnswerUpdated(2100e8, PHASE1 + 2, 1_700_000_100);
        uint80 roundId = feed.pushRound(2100e8, 1_700_000_100);
        assertEq(roundId, PHASE1 + 2);
        (, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) = feed.getRoundData(roundId);
        assertEq(answer, 2100e8);
        assertEq(startedAt, 1_700_000_100);
        assertEq(updatedAt, 1_700_000_100);
        assertEq(answeredInRound, roundId);
        // Older rounds stay readable.
        (, int256 first, , , ) = feed.getRoundData(PHASE1 + 1);
        assertEq(first, 2000e8);
    }

    function test_RevertWhen_roundNeverWritten() public {
        vm.expectRevert(abi.encodeWithSelector(MockAggregator.RoundNotFound.selector, PHASE1 + 2));
        feed.getRoundData(PHASE1 + 2);
        vm.expectRevert(abi.encodeWithSelector(MockAggregator.RoundNotFound.selector, uint80(1)));
        feed.getRoundData(1);
    }

    function test_missingRoundsCanReturnZeros() public {
        feed.setRevertOnMissingRound(false);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) = feed
            .getRoundData(PHASE1 + 9);
        assertEq(roundId, PHASE1 + 9);
        assertEq(answer, 0);
        assertEq(startedAt, 0);
        assertEq(updatedAt, 0);
        assertEq(answeredInRound, 0);
    }

    function test_setRoundDataCraftsAndBecomesLatestOnlyIfNotOlder() public {
        uint80 id = PHASE1 + 5;
        feed.setRoundData(id, -3, 11, 12, id - 2);
        assertEq(feed.latestRound(), id);
        (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound) = feed
            .latestRoundData();
        assertEq(roundId, id);
        assertEq(answer, -3);
        assertEq(startedAt, 11);
        assertEq(updatedAt, 12);
        assertEq(answeredInRound, id - 2);
        // The next push continues after the crafted round.
        assertEq(feed.updateAnswer(1e8), id + 1);

        // An older id is written but does not move latest.
        feed.setRoundData(PHASE1 + 3, 7, 1, 2, PHASE1 + 3);
        assertEq(feed.latestRound(), id + 1);
        (, int256 older, , , ) = feed.getRoundData(PHASE1 + 3);
        assertEq(older, 7);
    }

    function test_startPhaseLeavesAGap() public {
        feed.startPhase(2);
        uint80 roundId = feed.updateAnswer(1e8);
        assertEq(roundId, (uint80(2) << 64) + 1);
        vm.expectRevert(abi.encodeWithSelector(MockAggregator.RoundNotFound.selector, PHASE1 + 2));
        feed.getRoundData(PHASE1 + 2);

        vm.expectRevert(abi.encodeWithSelector(MockAggregator.PhaseNotAhead.selector, uint16(2), roundId));
        feed.startPhase(2);
    }

    function test_pushRoundsInBulk() public {
        int256[] memory answers = new int256[](3);
        uint256[] memory times = new uint256[](3);
        for (uint256 i = 0; i < 3; ++i) {
            answers[i] = int256(100 + i);
            times[i] = 1_700_000_000 + i;
        }
        feed.pushRounds(answers, times);
        assertEq(feed.latestRound(), PHASE1 + 4);
        (, int256 answer, , uint256 updatedAt, ) = feed.getRoundData(PHASE1 + 3);
        assertEq(answer, 101);
        assertEq(updatedAt, 1_700_000_001);

        vm.expectRevert(abi.encodeWithSelector(MockAggregator.LengthMismatch.selector, 3, 2));
        feed.pushRounds(answers, new uint256[](2));
    }

    function test_sequencerStatusSemantics() public {
        // Decimals 0, answer 0 = up; startedAt is the time of the last status change.
        MockAggregator sequencer = new MockAggregator(0, 0, "L2 sequencer uptime");
        sequencer.pushRound(1, 1_699_999_000);
        (, int256 status, uint256 startedAt, , ) = sequencer.latestRoundData();
        assertEq(status, 1);
        assertEq(startedAt, 1_699_999_000);
    }
}
