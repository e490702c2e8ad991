// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";

import {OracleAdapter} from "../../contracts/oracle/OracleAdapter.sol";
import {MockAggregator} from "../../contracts/mocks/MockAggregator.sol";

/// @dev Shared set-up: an ETH/USD feed (8 decimals, 2000 USD) registered at a realistic timestamp, so
///      round ids start at (1 << 64) + 1 as behind a Chainlink proxy in phase 1.
abstract contract OracleFixture is Test {
    bytes32 internal constant ETH = "ETH/USD";
    uint256 internal constant T0 = 1_700_000_000;
    uint32 internal constant HEARTBEAT = 1 hours;
    uint32 internal constant WINDOW = 1 days;
    uint256 internal constant SIGMA0 = 0.5e18;
    int256 internal constant PRICE0 = 2000e8;
    uint80 internal constant PHASE1 = uint80(1) << 64;
    uint256 internal constant SECONDS_PER_YEAR = 365 days;

    address internal admin = makeAddr("admin");
    address internal governor = makeAddr("governor");
    address internal stranger = makeAddr("stranger");

    OracleAdapter internal adapter;
    MockAggregator internal feed;

    function setUp() public virtual {
        vm.warp(T0);
        adapter = new OracleAdapter(admin, governor);
        feed = new MockAggregator(8, PRICE0, "ETH / USD");
        vm.prank(governor);
        adapter.setFeed(ETH, address(feed), HEARTBEAT, WINDOW, SIGMA0);
    }

    function _sigma(bytes32 feedId) internal view returns (uint256) {
        return adapter.volatilityState(feedId).sigmaWad;
    }

    function _variance(bytes32 feedId) internal view returns (uint256) {
        return adapter.volatilityState(feedId).varianceWad;
    }

    /// @dev ceil(a / b) written out, so expected values do not go through the library under test.
    function _ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }

    /// @dev Smallest s with s * s >= x, by bisection: deliberately not the library's Newton iteration.
    function _ceilSqrt(uint256 x) internal pure returns (uint256) {
        uint256 lo = 0;
        uint256 hi = 1 << 128;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (mid * mid >= x) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }

    /// @dev Registers a fresh feed with its own aggregator; returns the aggregator.
    function _newFeed(
        bytes32 feedId,
        uint8 decimals,
        int256 answer,
        uint256 sigmaWad
    ) internal returns (MockAggregator) {
        MockAggregator aggregator = new MockAggregator(decimals, answer, "test feed");
        vm.prank(governor);
        adapter.setFeed(feedId, address(aggregator), HEARTBEAT, WINDOW, sigmaWad);
        return aggregator;
    }
}
