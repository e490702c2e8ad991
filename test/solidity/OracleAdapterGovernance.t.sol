// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {IOracleAdapter} from "../../contracts/interfaces/IOracleAdapter.sol";
import {OracleAdapter} from "../../contracts/oracle/OracleAdapter.sol";
import {MockAggregator} from "../../contracts/mocks/MockAggregator.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";
import {IBoundedParameters} from "../../contracts/libraries/Bounds.sol";
import {OracleFixture} from "./OracleFixture.sol";

/// @notice Roles, bounds, events and the (absence of) state change on refused setter calls.
contract OracleAdapterGovernanceTest is OracleFixture {
    function _outOfBounds(bytes32 name, uint256 value, uint256 min, uint256 max) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IBoundedParameters.ParameterOutOfBounds.selector, name, value, min, max);
    }

    function _assertFeedUnchanged(
        IOracleAdapter.FeedConfig memory a,
        IOracleAdapter.FeedConfig memory b
    ) internal pure {
        assertEq(a.aggregator, b.aggregator);
        assertEq(a.heartbeat, b.heartbeat);
        assertEq(a.decimals, b.decimals);
        assertEq(a.volWindow, b.volWindow);
    }

    function _assertVolUnchanged(
        IOracleAdapter.VolatilityState memory a,
        IOracleAdapter.VolatilityState memory b
    ) internal pure {
        assertEq(a.lastRoundId, b.lastRoundId);
        assertEq(a.lastTimestamp, b.lastTimestamp);
        assertEq(a.lastPriceWad, b.lastPriceWad);
        assertEq(a.varianceWad, b.varianceWad);
        assertEq(a.sigmaWad, b.sigmaWad);
    }

    function test_constructor_grantsRoles() public view {
        assertTrue(adapter.hasRole(adapter.DEFAULT_ADMIN_ROLE(), admin));
        assertTrue(adapter.hasRole(Roles.GOVERNOR, governor));
        assertFalse(adapter.hasRole(Roles.GOVERNOR, admin));
        assertFalse(adapter.hasRole(adapter.DEFAULT_ADMIN_ROLE(), governor));
    }

    function test_setFeed_storesConfigAndAnchor() public view {
        IOracleAdapter.FeedConfig memory cfg = adapter.feedConfig(ETH);
        assertEq(cfg.aggregator, address(feed));
        assertEq(cfg.heartbeat, HEARTBEAT);
        assertEq(cfg.decimals, 8);
        assertEq(cfg.volWindow, WINDOW);
        IOracleAdapter.VolatilityState memory vol = adapter.volatilityState(ETH);
        assertEq(vol.lastRoundId, PHASE1 + 1);
        assertEq(vol.lastTimestamp, T0);
        assertEq(vol.lastPriceWad, 2000e18);
        assertEq(vol.sigmaWad, SIGMA0);
        assertEq(vol.varianceWad, 0.25e18);
    }

    function test_setFeed_emitsEvents() public {
        MockAggregator aggregator = new MockAggregator(18, 1e18, "USDC / USD");
        vm.expectEmit(address(adapter));
        emit IOracleAdapter.FeedSet("USDC/USD", address(aggregator), 1 days, 18, 7 days);
        vm.expectEmit(address(adapter));
        emit IOracleAdapter.VolatilityAnchored("USDC/USD", PHASE1 + 1, 1e18, 0.05e18);
        vm.prank(governor);
        adapter.setFeed("USDC/USD", address(aggregator), 1 days, 7 days, 0.05e18);
    }

    function test_setFeed_resetKeepsSigmaAndReanchors() public {
        // Move sigma away from its initial value first.
        vm.warp(T0 + 60);
        feed.updateAnswer(2100e8);
        adapter.updateVolatility(ETH, 64);
        uint256 sigmaBefore = _sigma(ETH);
        uint256 varianceBefore = _variance(ETH);
        assertTrue(sigmaBefore != SIGMA0);

        // The replacement aggregator lives in phase 3 with a different price.
        MockAggregator replacement = new MockAggregator(6, 2050e6, "ETH / USD v2");
        replacement.startPhase(3);
        vm.warp(T0 + 120);
        uint80 roundId = replacement.updateAnswer(2060e6);
        assertEq(roundId, (uint80(3) << 64) + 1);

        vm.prank(governor);
        adapter.setFeed(ETH, address(replacement), 2 hours, 2 days, 3e18);

        IOracleAdapter.FeedConfig memory cfg = adapter.feedConfig(ETH);
        assertEq(cfg.aggregator, address(replacement));
        assertEq(cfg.heartbeat, 2 hours);
        assertEq(cfg.decimals, 6);
        assertEq(cfg.volWindow, 2 days);
        IOracleAdapter.VolatilityState memory vol = adapter.volatilityState(ETH);
        assertEq(vol.lastRoundId, roundId);
        assertEq(vol.lastTimestamp, T0 + 120);
        assertEq(vol.lastPriceWad, 2060e18);
        assertEq(vol.sigmaWad, sigmaBefore, "sigma kept, initialSigma ignored on re-set");
        assertEq(vol.varianceWad, varianceBefore);
        (uint256 priceWad, ) = adapter.getPrice(ETH);
        assertEq(priceWad, 2060e18);
    }

    function test_RevertWhen_setFeedWithoutCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.InvalidAggregator.selector, eoa));
        vm.prank(governor);
        adapter.setFeed("X", eoa, HEARTBEAT, WINDOW, SIGMA0);
    }

    function test_RevertWhen_setFeedOnContractWithoutDecimals() public {
        // A contract with code but no decimals(): the adapter itself.
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.InvalidAggregator.selector, address(adapter)));
        vm.prank(governor);
        adapter.setFeed("X", address(adapter), HEARTBEAT, WINDOW, SIGMA0);
    }

    function test_setFeed_decimalsBound() public {
        MockAggregator ok = new MockAggregator(36, 1e36, "36");
        vm.prank(governor);
        adapter.setFeed("D36", address(ok), HEARTBEAT, WINDOW, SIGMA0);
        assertEq(adapter.feedConfig("D36").decimals, 36);

        MockAggregator tooMany = new MockAggregator(37, 1e37, "37");
        vm.expectRevert(_outOfBounds("decimals", 37, 0, 36));
        vm.prank(governor);
        adapter.setFeed("D37", address(tooMany), HEARTBEAT, WINDOW, SIGMA0);
    }

    function test_RevertWhen_setFeedWithBadCurrentAnswer() public {
        MockAggregator broken = new MockAggregator(8, 0, "broken");
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.NonPositiveAnswer.selector, bytes32("X"), int256(0)));
        vm.prank(governor);
        adapter.setFeed("X", address(broken), HEARTBEAT, WINDOW, SIGMA0);

        MockAggregator future = new MockAggregator(8, 1e8, "future");
        future.pushRound(1e8, T0 + 5);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.AnswerFromTheFuture.selector, bytes32("X"), T0 + 5, T0));
        vm.prank(governor);
        adapter.setFeed("X", address(future), HEARTBEAT, WINDOW, SIGMA0);
        assertEq(adapter.feedConfig("X").aggregator, address(0));
    }

    // ---------------------------------------------------------------- roles

    function test_RevertWhen_setterCalledWithoutGovernorRole() public {
        MockAggregator aggregator = new MockAggregator(8, 1e8, "x");
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector,
            stranger,
            Roles.GOVERNOR
        );
        IOracleAdapter.FeedConfig memory cfgBefore = adapter.feedConfig(ETH);
        IOracleAdapter.VolatilityState memory volBefore = adapter.volatilityState(ETH);

        vm.expectRevert(err);
        vm.prank(stranger);
        adapter.setFeed(ETH, address(aggregator), HEARTBEAT, WINDOW, SIGMA0);

        vm.expectRevert(err);
        vm.prank(stranger);
        adapter.setSequencerFeed(address(aggregator), 0);

        vm.expectRevert(err);
        vm.prank(stranger);
        adapter.resetVolatility(ETH, 1e18);

        // The admin holds DEFAULT_ADMIN_ROLE, not GOVERNOR: it must grant the role, not act as it.
        bytes memory adminErr = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector,
            admin,
            Roles.GOVERNOR
        );
        vm.expectRevert(adminErr);
        vm.prank(admin);
        adapter.resetVolatility(ETH, 1e18);

        _assertFeedUnchanged(adapter.feedConfig(ETH), cfgBefore);
        _assertVolUnchanged(adapter.volatilityState(ETH), volBefore);
        (address seqFeed, uint32 grace) = adapter.sequencerConfig();
        assertEq(seqFeed, address(0));
        assertEq(grace, 0);
    }

    // ---------------------------------------------------------------- bounds

    function test_bounds_constants() public view {
        assertEq(adapter.MIN_HEARTBEAT(), 60);
        assertEq(adapter.MAX_HEARTBEAT(), 3 days);
        assertEq(adapter.MIN_VOL_WINDOW(), 5 minutes);
        assertEq(adapter.MAX_VOL_WINDOW(), 30 days);
        assertEq(adapter.MIN_SIGMA(), 0);
        assertEq(adapter.MAX_SIGMA(), 50e18);
        assertEq(adapter.MIN_SEQUENCER_GRACE(), 0);
        assertEq(adapter.MAX_SEQUENCER_GRACE(), 1 days);
        assertEq(adapter.MAX_DECIMALS(), 36);
        assertEq(adapter.MAX_ROUNDS_PER_UPDATE(), 64);
    }

    function test_bounds_heartbeat() public {
        IOracleAdapter.FeedConfig memory cfgBefore = adapter.feedConfig(ETH);
        vm.startPrank(governor);
        vm.expectRevert(_outOfBounds("heartbeat", 59, 60, 3 days));
        adapter.setFeed(ETH, address(feed), 59, WINDOW, SIGMA0);
        vm.expectRevert(_outOfBounds("heartbeat", 3 days + 1, 60, 3 days));
        adapter.setFeed(ETH, address(feed), 3 days + 1, WINDOW, SIGMA0);
        _assertFeedUnchanged(adapter.feedConfig(ETH), cfgBefore);

        adapter.setFeed(ETH, address(feed), 60, WINDOW, SIGMA0);
        assertEq(adapter.feedConfig(ETH).heartbeat, 60);
        adapter.setFeed(ETH, address(feed), 3 days, WINDOW, SIGMA0);
        assertEq(adapter.feedConfig(ETH).heartbeat, 3 days);
        vm.stopPrank();
    }

    function test_bounds_volWindow() public {
        IOracleAdapter.FeedConfig memory cfgBefore = adapter.feedConfig(ETH);
        vm.startPrank(governor);
        vm.expectRevert(_outOfBounds("volWindow", 5 minutes - 1, 5 minutes, 30 days));
        adapter.setFeed(ETH, address(feed), HEARTBEAT, 5 minutes - 1, SIGMA0);
        vm.expectRevert(_outOfBounds("volWindow", 30 days + 1, 5 minutes, 30 days));
        adapter.setFeed(ETH, address(feed), HEARTBEAT, 30 days + 1, SIGMA0);
        _assertFeedUnchanged(adapter.feedConfig(ETH), cfgBefore);

        adapter.setFeed(ETH, address(feed), HEARTBEAT, 5 minutes, SIGMA0);
        assertEq(adapter.feedConfig(ETH).volWindow, 5 minutes);
        adapter.setFeed(ETH, address(feed), HEARTBEAT, 30 days, SIGMA0);
        assertEq(adapter.feedConfig(ETH).volWindow, 30 days);
        vm.stopPrank();
    }

    function test_bounds_sigma() public {
        MockAggregator aggregator = new MockAggregator(8, 1e8, "x");
        vm.startPrank(governor);
        vm.expectRevert(_outOfBounds("sigma", 50e18 + 1, 0, 50e18));
        adapter.setFeed("NEW", address(aggregator), HEARTBEAT, WINDOW, 50e18 + 1);
        assertEq(adapter.feedConfig("NEW").aggregator, address(0));
        adapter.setFeed("NEW", address(aggregator), HEARTBEAT, WINDOW, 50e18);
        assertEq(_sigma("NEW"), 50e18);
        assertEq(_variance("NEW"), 2500e18);

        IOracleAdapter.VolatilityState memory volBefore = adapter.volatilityState(ETH);
        vm.expectRevert(_outOfBounds("sigma", 50e18 + 1, 0, 50e18));
        adapter.resetVolatility(ETH, 50e18 + 1);
        _assertVolUnchanged(adapter.volatilityState(ETH), volBefore);
        adapter.resetVolatility(ETH, 50e18);
        assertEq(_sigma(ETH), 50e18);
        adapter.resetVolatility(ETH, 0);
        assertEq(_sigma(ETH), 0);
        assertEq(_variance(ETH), 0);
        vm.stopPrank();
    }

    function test_bounds_sequencerGrace() public {
        MockAggregator sequencer = new MockAggregator(0, 0, "seq");
        vm.startPrank(governor);
        vm.expectRevert(_outOfBounds("sequencerGrace", 1 days + 1, 0, 1 days));
        adapter.setSequencerFeed(address(sequencer), 1 days + 1);
        (address seqFeed, ) = adapter.sequencerConfig();
        assertEq(seqFeed, address(0));

        adapter.setSequencerFeed(address(sequencer), 1 days);
        (address seqFeedAfter, uint32 grace) = adapter.sequencerConfig();
        assertEq(seqFeedAfter, address(sequencer));
        assertEq(grace, 1 days);
        adapter.setSequencerFeed(address(sequencer), 0);
        (, grace) = adapter.sequencerConfig();
        assertEq(grace, 0);
        vm.stopPrank();
    }

    function test_RevertWhen_sequencerFeedHasNoCode() public {
        address eoa = makeAddr("eoa");
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.InvalidAggregator.selector, eoa));
        vm.prank(governor);
        adapter.setSequencerFeed(eoa, 0);
    }

    // ---------------------------------------------------------------- events

    function test_setSequencerFeed_emits() public {
        MockAggregator sequencer = new MockAggregator(0, 0, "seq");
        vm.expectEmit(address(adapter));
        emit IOracleAdapter.SequencerFeedSet(address(sequencer), 1 hours);
        vm.prank(governor);
        adapter.setSequencerFeed(address(sequencer), 1 hours);
    }

    function test_resetVolatility_emitsAndKeepsAnchor() public {
        IOracleAdapter.VolatilityState memory before = adapter.volatilityState(ETH);
        vm.expectEmit(address(adapter));
        emit IOracleAdapter.VolatilityReset(ETH, 1.2e18);
        vm.prank(governor);
        adapter.resetVolatility(ETH, 1.2e18);
        IOracleAdapter.VolatilityState memory afterReset = adapter.volatilityState(ETH);
        assertEq(afterReset.sigmaWad, 1.2e18);
        assertEq(afterReset.varianceWad, 1.44e18);
        assertEq(afterReset.lastRoundId, before.lastRoundId);
        assertEq(afterReset.lastTimestamp, before.lastTimestamp);
        assertEq(afterReset.lastPriceWad, before.lastPriceWad);
    }

    function test_adminCanGrantGovernor() public {
        vm.prank(admin);
        adapter.grantRole(Roles.GOVERNOR, stranger);
        vm.prank(stranger);
        adapter.resetVolatility(ETH, 0.7e18);
        assertEq(adapter.volatility(ETH), 0.7e18);
    }

    function test_newAdapterHasNoFeeds() public {
        OracleAdapter fresh = new OracleAdapter(admin, governor);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.FeedNotFound.selector, ETH));
        fresh.getPrice(ETH);
    }
}
