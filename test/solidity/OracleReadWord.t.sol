// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IOracleAdapter} from "../../contracts/interfaces/IOracleAdapter.sol";
import {MockAggregator} from "../../contracts/mocks/MockAggregator.sol";
import {OracleFixture} from "./OracleFixture.sol";

/// @notice The adapter's read word: a price read (with its volatility) touches one storage slot of the
///         adapter, the sequencer's slot only while a sequencer feed is set, and packing the fields
///         together loses none of them.
contract OracleReadWordTest is OracleFixture {
    bytes32 internal constant BTC = "BTC/USD";
    uint256 internal constant MAX_SIGMA = 50e18;

    /// @dev The adapter's storage slots one call reads (with repeats), from vm.accesses.
    function _slotsRead(function() external view returns (uint256, uint256) read) internal returns (uint256) {
        vm.record();
        read();
        (bytes32[] memory reads, ) = vm.accesses(address(adapter));
        return reads.length;
    }

    function _getPriceAndVolatility() external view returns (uint256, uint256) {
        return adapter.getPriceAndVolatility(ETH);
    }

    function _getPrice() external view returns (uint256, uint256) {
        return adapter.getPrice(ETH);
    }

    function test_priceReadTouchesOneSlotWithoutASequencer() public {
        assertEq(_slotsRead(this._getPriceAndVolatility), 1, "getPriceAndVolatility");
        assertEq(_slotsRead(this._getPrice), 1, "getPrice");
    }

    function test_priceReadTouchesTheSequencerSlotOnlyWhileOneIsSet() public {
        MockAggregator sequencer = new MockAggregator(0, 0, "L2 sequencer uptime");
        vm.prank(governor);
        adapter.setSequencerFeed(address(sequencer), 0);
        assertEq(_slotsRead(this._getPriceAndVolatility), 2, "with a sequencer");
        vm.prank(governor);
        adapter.setSequencerFeed(address(0), 0);
        assertEq(_slotsRead(this._getPriceAndVolatility), 1, "sequencer cleared");
    }

    /// @dev Feeds set before and after the sequencer both check it; clearing it frees both.
    function test_sequencerFlagReachesEveryFeed() public {
        MockAggregator btc = new MockAggregator(8, 60_000e8, "BTC / USD");
        vm.prank(governor);
        adapter.setFeed(BTC, address(btc), HEARTBEAT, WINDOW, SIGMA0);
        MockAggregator sequencer = new MockAggregator(0, 1, "L2 sequencer uptime");
        vm.prank(governor);
        adapter.setSequencerFeed(address(sequencer), 0);
        bytes32 sol = "SOL/USD";
        MockAggregator solFeed = new MockAggregator(8, 150e8, "SOL / USD");
        vm.prank(governor);
        adapter.setFeed(sol, address(solFeed), HEARTBEAT, WINDOW, SIGMA0);

        bytes memory down = abi.encodeWithSelector(IOracleAdapter.SequencerDown.selector, address(sequencer));
        bytes32[3] memory ids = [ETH, BTC, sol];
        for (uint256 i; i < ids.length; ++i) {
            vm.expectRevert(down);
            adapter.getPriceAndVolatility(ids[i]);
            vm.expectRevert(down);
            adapter.getPrice(ids[i]);
        }

        vm.prank(governor);
        adapter.setSequencerFeed(address(0), 0);
        (uint256 p, ) = adapter.getPrice(BTC);
        assertEq(p, 60_000e18);
        (p, ) = adapter.getPrice(sol);
        assertEq(p, 150e18);
        (p, ) = adapter.getPrice(ETH);
        assertEq(p, 2000e18);
    }

    /// @dev Every field at its widest bound survives every writer of the word.
    function test_packedFieldsSurviveEveryWriter() public {
        MockAggregator wide = new MockAggregator(36, 2000e36, "wide");
        uint32 maxHeartbeat = uint32(adapter.MAX_HEARTBEAT());
        vm.prank(governor);
        adapter.setFeed(BTC, address(wide), maxHeartbeat, WINDOW, MAX_SIGMA);
        vm.prank(governor);
        adapter.setAnswerBounds(BTC, 1, type(int128).max);
        MockAggregator sequencer = new MockAggregator(0, 0, "L2 sequencer uptime");
        vm.prank(governor);
        adapter.setSequencerFeed(address(sequencer), 0);

        IOracleAdapter.FeedConfig memory cfg = adapter.feedConfig(BTC);
        assertEq(cfg.aggregator, address(wide));
        assertEq(cfg.heartbeat, maxHeartbeat);
        assertEq(cfg.decimals, 36);
        assertEq(cfg.volWindow, WINDOW);
        assertTrue(cfg.bounded);
        assertEq(adapter.volatility(BTC), MAX_SIGMA);

        vm.prank(governor);
        adapter.resetVolatility(BTC, 1);
        assertEq(adapter.volatility(BTC), 1);
        assertEq(adapter.volatilityState(BTC).sigmaWad, 1);
        cfg = adapter.feedConfig(BTC);
        assertEq(cfg.aggregator, address(wide));
        assertEq(cfg.heartbeat, maxHeartbeat);
        assertEq(cfg.decimals, 36);
        assertTrue(cfg.bounded);

        vm.prank(governor);
        adapter.setAnswerBounds(BTC, 0, 0);
        cfg = adapter.feedConfig(BTC);
        assertFalse(cfg.bounded);
        assertEq(adapter.volatility(BTC), 1);
        (uint256 p, uint256 s) = adapter.getPriceAndVolatility(BTC);
        assertEq(p, 2000e18);
        assertEq(s, 1);

        // Re-pointing keeps sigma and the sequencer flag, drops the bounds.
        MockAggregator other = new MockAggregator(8, 2100e8, "other");
        vm.prank(governor);
        adapter.setFeed(BTC, address(other), HEARTBEAT, WINDOW, SIGMA0);
        assertEq(adapter.volatility(BTC), 1);
        sequencer.updateAnswer(1);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.SequencerDown.selector, address(sequencer)));
        adapter.getPrice(BTC);
    }
}
