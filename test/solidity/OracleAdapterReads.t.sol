// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IOracleAdapter} from "../../contracts/interfaces/IOracleAdapter.sol";
import {MockAggregator} from "../../contracts/mocks/MockAggregator.sol";
import {OracleFixture} from "./OracleFixture.sol";

/// @notice Validation of every read: errors with their arguments, staleness, sequencer, decimals.
contract OracleAdapterReadsTest is OracleFixture {
    /// @dev getPrice, getPriceAndVolatility and latestPrice must all refuse the same bad answer.
    function _expectAllReadsRevert(bytes memory err) internal {
        vm.expectRevert(err);
        adapter.getPrice(ETH);
        vm.expectRevert(err);
        adapter.getPriceAndVolatility(ETH);
        vm.expectRevert(err);
        adapter.latestPrice(ETH);
    }

    function test_getPrice_returnsWadPriceAndTimestamp() public {
        vm.warp(T0 + 10);
        feed.updateAnswer(2345.6789e8);
        (uint256 priceWad, uint256 updatedAt) = adapter.getPrice(ETH);
        assertEq(priceWad, 2345.6789e18);
        assertEq(updatedAt, T0 + 10);
        (uint256 priceWad2, uint256 sigmaWad) = adapter.getPriceAndVolatility(ETH);
        assertEq(priceWad2, 2345.6789e18);
        assertEq(sigmaWad, SIGMA0);
        assertEq(adapter.volatility(ETH), SIGMA0);
    }

    function test_RevertWhen_answerIsZero() public {
        feed.updateAnswer(0);
        _expectAllReadsRevert(abi.encodeWithSelector(IOracleAdapter.NonPositiveAnswer.selector, ETH, int256(0)));
    }

    function test_RevertWhen_answerIsNegative() public {
        feed.updateAnswer(-1);
        _expectAllReadsRevert(abi.encodeWithSelector(IOracleAdapter.NonPositiveAnswer.selector, ETH, int256(-1)));
    }

    function test_RevertWhen_answeredInAnEarlierRound() public {
        uint80 roundId = feed.latestRound() + 1;
        feed.setRoundData(roundId, PRICE0, T0, T0, roundId - 1);
        _expectAllReadsRevert(
            abi.encodeWithSelector(IOracleAdapter.IncompleteRound.selector, ETH, roundId, roundId - 1, T0)
        );
    }

    function test_RevertWhen_updatedAtIsZero() public {
        uint80 roundId = feed.latestRound() + 1;
        feed.setRoundData(roundId, PRICE0, T0, 0, roundId);
        _expectAllReadsRevert(
            abi.encodeWithSelector(IOracleAdapter.IncompleteRound.selector, ETH, roundId, roundId, uint256(0))
        );
    }

    function test_RevertWhen_answerIsFromTheFuture() public {
        feed.pushRound(PRICE0, T0 + 1);
        _expectAllReadsRevert(abi.encodeWithSelector(IOracleAdapter.AnswerFromTheFuture.selector, ETH, T0 + 1, T0));
    }

    function test_staleness_exactlyAtHeartbeatIsAccepted() public {
        vm.warp(T0 + HEARTBEAT);
        (uint256 priceWad, uint256 updatedAt) = adapter.getPrice(ETH);
        assertEq(priceWad, 2000e18);
        assertEq(updatedAt, T0);
        (priceWad, ) = adapter.getPriceAndVolatility(ETH);
        assertEq(priceWad, 2000e18);
    }

    function test_RevertWhen_staleOneSecondPastHeartbeat() public {
        uint256 nowTs = T0 + HEARTBEAT + 1;
        vm.warp(nowTs);
        bytes memory err = abi.encodeWithSelector(
            IOracleAdapter.StaleAnswer.selector,
            ETH,
            T0,
            uint256(HEARTBEAT),
            nowTs
        );
        vm.expectRevert(err);
        adapter.getPrice(ETH);
        vm.expectRevert(err);
        adapter.getPriceAndVolatility(ETH);
        // latestPrice leaves staleness to its caller.
        (uint256 priceWad, uint256 updatedAt) = adapter.latestPrice(ETH);
        assertEq(priceWad, 2000e18);
        assertEq(updatedAt, T0);
    }

    function test_RevertWhen_feedIsUnknown() public {
        bytes32 unknown = "BTC/USD";
        bytes memory err = abi.encodeWithSelector(IOracleAdapter.FeedNotFound.selector, unknown);
        vm.expectRevert(err);
        adapter.getPrice(unknown);
        vm.expectRevert(err);
        adapter.getPriceAndVolatility(unknown);
        vm.expectRevert(err);
        adapter.latestPrice(unknown);
        vm.expectRevert(err);
        adapter.volatility(unknown);
        vm.expectRevert(err);
        adapter.updateVolatility(unknown, 1);
        vm.expectRevert(err);
        vm.prank(governor);
        adapter.resetVolatility(unknown, 1e18);
        // The struct views report absence instead of reverting.
        assertEq(adapter.feedConfig(unknown).aggregator, address(0));
    }

    // ---------------------------------------------------------------- sequencer

    function _withSequencer(uint32 grace) internal returns (MockAggregator sequencer) {
        // Decimals 0, answer 0 = up; the constructor's round marks "up since now".
        sequencer = new MockAggregator(0, 0, "L2 sequencer uptime");
        vm.prank(governor);
        adapter.setSequencerFeed(address(sequencer), grace);
    }

    function test_sequencer_gracePeriodNotOverThenOk() public {
        _withSequencer(1 hours);
        bytes memory err = abi.encodeWithSelector(
            IOracleAdapter.SequencerGracePeriodNotOver.selector,
            T0,
            uint256(1 hours),
            T0
        );
        vm.expectRevert(err);
        adapter.getPrice(ETH);
        vm.expectRevert(err);
        adapter.getPriceAndVolatility(ETH);

        vm.warp(T0 + 1 hours - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.SequencerGracePeriodNotOver.selector,
                T0,
                uint256(1 hours),
                T0 + 1 hours - 1
            )
        );
        adapter.getPrice(ETH);

        vm.warp(T0 + 1 hours);
        (uint256 priceWad, ) = adapter.getPrice(ETH);
        assertEq(priceWad, 2000e18);
        (priceWad, ) = adapter.getPriceAndVolatility(ETH);
        assertEq(priceWad, 2000e18);
    }

    function test_RevertWhen_sequencerIsDown() public {
        MockAggregator sequencer = _withSequencer(0);
        vm.warp(T0 + 60);
        sequencer.updateAnswer(1);
        bytes memory err = abi.encodeWithSelector(IOracleAdapter.SequencerDown.selector, address(sequencer));
        vm.expectRevert(err);
        adapter.getPrice(ETH);
        vm.expectRevert(err);
        adapter.getPriceAndVolatility(ETH);
        // Neither the raw read nor the volatility walk depends on the sequencer.
        (uint256 priceWad, ) = adapter.latestPrice(ETH);
        assertEq(priceWad, 2000e18);
        assertEq(adapter.updateVolatility(ETH, 64), 0);
    }

    function test_sequencer_backUpRestartsTheGracePeriod() public {
        MockAggregator sequencer = _withSequencer(30 minutes);
        vm.warp(T0 + 2 hours);
        sequencer.updateAnswer(1);
        vm.warp(T0 + 3 hours);
        sequencer.updateAnswer(0);
        feed.updateAnswer(PRICE0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IOracleAdapter.SequencerGracePeriodNotOver.selector,
                T0 + 3 hours,
                uint256(30 minutes),
                T0 + 3 hours
            )
        );
        adapter.getPrice(ETH);
        vm.warp(T0 + 3 hours + 30 minutes);
        (uint256 priceWad, ) = adapter.getPrice(ETH);
        assertEq(priceWad, 2000e18);
    }

    function test_RevertWhen_sequencerRoundUninitialised() public {
        MockAggregator sequencer = _withSequencer(0);
        sequencer.setRoundData(sequencer.latestRound() + 1, 0, 0, T0, sequencer.latestRound() + 1);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.SequencerDown.selector, address(sequencer)));
        adapter.getPrice(ETH);
    }

    function test_sequencer_disabledWithZeroAddress() public {
        MockAggregator sequencer = _withSequencer(1 hours);
        sequencer.updateAnswer(1);
        vm.prank(governor);
        adapter.setSequencerFeed(address(0), 0);
        (uint256 priceWad, ) = adapter.getPrice(ETH);
        assertEq(priceWad, 2000e18);
    }

    // ---------------------------------------------------------------- decimals

    function testFuzz_normalisesDecimals(uint8 pick, uint256 answer) public {
        uint8[4] memory choices = [uint8(6), 8, 18, 20];
        uint8 decimals = choices[pick % 4];
        // Up to 1e26 keeps the WAD price within uint128 (the anchor's type) even at 6 decimals.
        answer = bound(answer, 1, 1e26);
        uint256 expected = decimals <= 18 ? answer * 10 ** (18 - decimals) : answer / 10 ** (decimals - 18);

        MockAggregator aggregator = new MockAggregator(decimals, int256(answer), "fuzz");
        if (expected == 0) {
            // A positive answer below one WAD unit is as unusable as zero.
            vm.expectRevert(
                abi.encodeWithSelector(IOracleAdapter.NonPositiveAnswer.selector, bytes32("FUZZ"), int256(answer))
            );
        }
        vm.prank(governor);
        adapter.setFeed("FUZZ", address(aggregator), HEARTBEAT, WINDOW, SIGMA0);
        if (expected == 0) return;

        (uint256 priceWad, ) = adapter.getPrice("FUZZ");
        assertEq(priceWad, expected);
        assertEq(adapter.feedConfig("FUZZ").decimals, decimals);
    }

    function test_normalisesKnownDecimals() public {
        _newFeed("D6", 6, 1.5e6, 0);
        _newFeed("D18", 18, 1.5e18, 0);
        _newFeed("D20", 20, 1.5e20 + 99, 0);
        _newFeed("D36", 36, 1.5e36, 0);
        (uint256 p6, ) = adapter.getPrice("D6");
        (uint256 p18, ) = adapter.getPrice("D18");
        (uint256 p20, ) = adapter.getPrice("D20");
        (uint256 p36, ) = adapter.getPrice("D36");
        assertEq(p6, 1.5e18);
        assertEq(p18, 1.5e18);
        assertEq(p20, 1.5e18); // the two extra digits are truncated
        assertEq(p36, 1.5e18);
    }

    function test_RevertWhen_answerFloorsToZeroWad() public {
        MockAggregator aggregator = new MockAggregator(20, 99, "tiny");
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.NonPositiveAnswer.selector, bytes32("TINY"), int256(99)));
        vm.prank(governor);
        adapter.setFeed("TINY", address(aggregator), HEARTBEAT, WINDOW, SIGMA0);
    }
}
