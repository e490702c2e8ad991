// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {IOracleAdapter} from "../../contracts/interfaces/IOracleAdapter.sol";
import {MockAggregator} from "../../contracts/mocks/MockAggregator.sol";
import {OracleFixture} from "./OracleFixture.sol";

/// @notice The volatility walk: bounded loop, gaps and phase changes, skipped rounds, decay, the cap,
///         monotonicity and values computed independently of the contract's code path.
contract OracleVolatilityTest is OracleFixture {
    uint80 internal constant PHASE2 = uint80(2) << 64;

    struct Update {
        uint80 roundId;
        uint256 priceWad;
        uint256 sigmaWad;
        uint256 rounds;
        uint256 count;
    }

    /// @dev Decodes the VolatilityUpdated events recorded since vm.recordLogs().
    function _recordedUpdates() internal returns (Update memory last) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter != address(adapter)) continue;
            if (logs[i].topics[0] != IOracleAdapter.VolatilityUpdated.selector) continue;
            (last.roundId, last.priceWad, last.sigmaWad, last.rounds) = abi.decode(
                logs[i].data,
                (uint80, uint256, uint256, uint256)
            );
            ++last.count;
        }
    }

    function _push(MockAggregator aggregator, int256 answer, uint256 updatedAt) internal returns (uint80) {
        return aggregator.pushRound(answer, updatedAt);
    }

    // ---------------------------------------------------------------- nothing to do

    function test_update_noNewRoundsReturnsZeroAndChangesNothing() public {
        IOracleAdapter.VolatilityState memory before = adapter.volatilityState(ETH);
        vm.recordLogs();
        assertEq(adapter.updateVolatility(ETH, 64), 0);
        assertEq(_recordedUpdates().count, 0);
        IOracleAdapter.VolatilityState memory afterUpdate = adapter.volatilityState(ETH);
        assertEq(afterUpdate.lastRoundId, before.lastRoundId);
        assertEq(afterUpdate.varianceWad, before.varianceWad);
        assertEq(afterUpdate.sigmaWad, before.sigmaWad);
    }

    function test_update_zeroMaxRoundsDoesNothing() public {
        vm.warp(T0 + 60);
        feed.updateAnswer(2100e8);
        vm.recordLogs();
        assertEq(adapter.updateVolatility(ETH, 0), 0);
        assertEq(_recordedUpdates().count, 0);
        assertEq(adapter.volatilityState(ETH).lastRoundId, PHASE1 + 1);
    }

    function test_update_isPermissionless() public {
        vm.warp(T0 + 60);
        feed.updateAnswer(2100e8);
        vm.prank(stranger);
        assertEq(adapter.updateVolatility(ETH, 64), 1);
    }

    function test_RevertWhen_latestRoundInvalid() public {
        vm.warp(T0 + 60);
        feed.updateAnswer(-5);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.NonPositiveAnswer.selector, ETH, int256(-5)));
        adapter.updateVolatility(ETH, 64);
    }

    // ---------------------------------------------------------------- bounded loop

    function _pushHundred(MockAggregator aggregator) internal {
        int256[] memory answers = new int256[](100);
        uint256[] memory times = new uint256[](100);
        for (uint256 i = 0; i < 100; ++i) {
            answers[i] = PRICE0 + int256((i * 7919) % 101) * 1e8 - 50e8;
            times[i] = T0 + 60 * (i + 1);
        }
        aggregator.pushRounds(answers, times);
    }

    function test_update_boundedLoopProcesses64Then36() public {
        _pushHundred(feed);
        vm.warp(T0 + 6000);

        vm.recordLogs();
        assertEq(adapter.updateVolatility(ETH, type(uint256).max), 64);
        Update memory first = _recordedUpdates();
        assertEq(first.count, 1);
        assertEq(first.rounds, 64);
        assertEq(first.roundId, PHASE1 + 65);
        assertEq(adapter.volatilityState(ETH).lastRoundId, PHASE1 + 65);
        assertEq(adapter.volatilityState(ETH).lastTimestamp, T0 + 64 * 60);
        assertEq(first.sigmaWad, _sigma(ETH));

        assertEq(adapter.updateVolatility(ETH, 1000), 36);
        assertEq(adapter.volatilityState(ETH).lastRoundId, PHASE1 + 101);
        assertEq(adapter.updateVolatility(ETH, 1000), 0);

        // Batching does not change the result: the same rounds folded 10 at a time on a twin feed.
        MockAggregator twin = _newFeedAt("TWIN", T0);
        _pushHundred(twin);
        vm.warp(T0 + 6000);
        for (uint256 i = 0; i < 10; ++i) {
            assertEq(adapter.updateVolatility("TWIN", 10), 10);
        }
        assertEq(_variance("TWIN"), _variance(ETH));
        assertEq(_sigma("TWIN"), _sigma(ETH));
    }

    // ---------------------------------------------------------------- gaps

    function test_update_phaseJumpFoldsLatestAcrossTheGap() public {
        _push(feed, 2010e8, T0 + 60);
        _push(feed, 1990e8, T0 + 120);
        _push(feed, 2000e8, T0 + 180);
        feed.startPhase(2);
        // An extreme round right after the phase change must not be visited: the walk jumps to latest.
        assertEq(_push(feed, 5000e8, T0 + 240), PHASE2 + 1);
        uint80 latest = _push(feed, 2000e8, T0 + 300);
        vm.warp(T0 + 300);

        uint256 sigmaBeforeGap = _sigmaAfterThreeRounds();
        vm.recordLogs();
        assertEq(adapter.updateVolatility(ETH, 64), 4);
        Update memory update = _recordedUpdates();
        assertEq(update.rounds, 4);
        assertEq(update.roundId, latest);
        IOracleAdapter.VolatilityState memory vol = adapter.volatilityState(ETH);
        assertEq(vol.lastRoundId, latest);
        assertEq(vol.lastTimestamp, T0 + 300);
        assertEq(vol.lastPriceWad, 2000e18);
        // The gap return is ln(2000/2000) = 0, so sigma only decays from the three-round value.
        assertLt(_sigma(ETH), sigmaBeforeGap);

        // After the jump the walk continues sequentially inside phase 2.
        vm.warp(T0 + 360);
        assertEq(_push(feed, 2001e8, T0 + 360), PHASE2 + 3);
        assertEq(adapter.updateVolatility(ETH, 64), 1);
        assertEq(adapter.volatilityState(ETH).lastRoundId, PHASE2 + 3);
    }

    /// @dev Sigma of a twin feed that saw only the three phase-1 rounds of the gap test.
    function _sigmaAfterThreeRounds() internal returns (uint256) {
        uint256 nowTs = block.timestamp;
        vm.warp(T0);
        MockAggregator twin = _newFeed("TWIN3", 8, PRICE0, SIGMA0);
        _push(twin, 2010e8, T0 + 60);
        _push(twin, 1990e8, T0 + 120);
        _push(twin, 2000e8, T0 + 180);
        vm.warp(nowTs);
        assertEq(adapter.updateVolatility("TWIN3", 64), 3);
        return _sigma("TWIN3");
    }

    function test_update_gapWhenAggregatorReturnsZerosForMissingIds() public {
        feed.setRevertOnMissingRound(false);
        _push(feed, 2100e8, T0 + 60);
        feed.startPhase(7);
        _push(feed, 9999e8, T0 + 120);
        uint80 latest = _push(feed, 2200e8, T0 + 180);
        vm.warp(T0 + 180);

        assertEq(adapter.updateVolatility(ETH, 64), 2);
        assertEq(adapter.volatilityState(ETH).lastRoundId, latest);

        // Same two returns (2000 -> 2100 over 60 s, 2100 -> 2200 over 120 s) on a gap-free twin.
        vm.warp(T0);
        MockAggregator twin = _newFeed("TWIN", 8, PRICE0, SIGMA0);
        _push(twin, 2100e8, T0 + 60);
        _push(twin, 2200e8, T0 + 180);
        vm.warp(T0 + 180);
        assertEq(adapter.updateVolatility("TWIN", 64), 2);
        assertEq(_variance(ETH), _variance("TWIN"));
        assertEq(_sigma(ETH), _sigma("TWIN"));
    }

    function test_update_invalidSequentialRoundFoldsLatestAndStops() public {
        // Three kinds of bad rounds in the middle of a series; each must send the walk to latest.
        for (uint256 kind = 0; kind < 3; ++kind) {
            vm.warp(T0);
            bytes32 feedId = bytes32(uint256(0xbad0 + kind));
            MockAggregator aggregator = _newFeed(feedId, 8, PRICE0, SIGMA0);
            _push(aggregator, 2100e8, T0 + 60);
            uint80 bad = aggregator.latestRound() + 1;
            if (kind == 0) aggregator.setRoundData(bad, 9000e8, T0 + 90, T0 + 90, bad - 1);
            if (kind == 1) aggregator.setRoundData(bad, 0, T0 + 90, T0 + 90, bad);
            if (kind == 2) aggregator.setRoundData(bad, 9000e8, T0 + 90, 0, bad);
            _push(aggregator, 500e8, T0 + 120); // never visited
            uint80 latest = _push(aggregator, 2200e8, T0 + 180);
            vm.warp(T0 + 180);

            assertEq(adapter.updateVolatility(feedId, 64), 2);
            assertEq(adapter.volatilityState(feedId).lastRoundId, latest);

            vm.warp(T0);
            bytes32 twinId = bytes32(uint256(0x7000 + kind));
            MockAggregator twin = _newFeed(twinId, 8, PRICE0, SIGMA0);
            _push(twin, 2100e8, T0 + 60);
            _push(twin, 2200e8, T0 + 180);
            vm.warp(T0 + 180);
            adapter.updateVolatility(twinId, 64);
            assertEq(_variance(feedId), _variance(twinId));
        }
    }

    function test_update_skipsRoundsNotNewerThanAnchor() public {
        // Same timestamp as the anchor (T0): no time elapsed, so nothing to fold, but the cursor moves.
        uint80 sameTime = _push(feed, 3000e8, T0);
        vm.recordLogs();
        assertEq(adapter.updateVolatility(ETH, 64), 0);
        Update memory update = _recordedUpdates();
        assertEq(update.count, 1);
        assertEq(update.rounds, 0);
        IOracleAdapter.VolatilityState memory vol = adapter.volatilityState(ETH);
        assertEq(vol.lastRoundId, sameTime);
        assertEq(vol.lastTimestamp, T0);
        assertEq(vol.lastPriceWad, 2000e18, "a skipped round does not move the price anchor");
        assertEq(vol.sigmaWad, SIGMA0);

        // The next real round is measured against the last folded price (2000), not the skipped 3000.
        vm.warp(T0 + 60);
        _push(feed, 2020e8, T0 + 60);
        assertEq(adapter.updateVolatility(ETH, 64), 1);
        MockAggregator twin = _newFeedAt("TWIN", T0);
        _push(twin, 2020e8, T0 + 60);
        adapter.updateVolatility("TWIN", 64);
        assertEq(_variance(ETH), _variance("TWIN"));
    }

    function _newFeedAt(bytes32 feedId, uint256 at) internal returns (MockAggregator aggregator) {
        uint256 nowTs = block.timestamp;
        vm.warp(at);
        aggregator = _newFeed(feedId, 8, PRICE0, SIGMA0);
        vm.warp(nowTs);
    }

    // ---------------------------------------------------------------- values

    function test_constantPriceDecaysSigmaTowardZero() public {
        uint256 expectedVariance = 0.25e18;
        uint256 previousSigma = SIGMA0;
        for (uint256 i = 1; i <= 50; ++i) {
            uint256 t = T0 + i * 1 hours;
            vm.warp(t);
            feed.updateAnswer(PRICE0);
            vm.recordLogs();
            assertEq(adapter.updateVolatility(ETH, 64), 1);
            // r = 0, so variance' = ceil(variance * tau / (dt + tau)) exactly.
            expectedVariance = _ceilDiv(expectedVariance * WINDOW, 1 hours + WINDOW);
            assertEq(_variance(ETH), expectedVariance);
            uint256 sigma = _sigma(ETH);
            assertEq(sigma, _ceilSqrt(expectedVariance * 1e18));
            assertEq(_recordedUpdates().sigmaWad, sigma);
            assertLt(sigma, previousSigma);
            previousSigma = sigma;
        }
        // 0.5 * sqrt((86400 / 90000)^50) = 0.5 * 0.96^25 ~ 0.1802
        assertApproxEqRel(previousSigma, 0.180198358429009e18, 1e12); // 1e-6 relative
    }

    function test_fixedRoundsMatchIndependentValues() public {
        // 2000 -> 2020 (+1%) after 1 h, -> 1979.6 (-2%) after 30 min, -> 2177.56 (+10%) after 10 min.
        uint256[3] memory dts = [uint256(3600), 1800, 600];
        int256[3] memory answers = [int256(2020e8), 1979.6e8, 2177.56e8];
        // |ln| of 1.01, 0.98, 1.1 to 18 decimals (computed offline to 60 digits).
        uint256[3] memory absLn = [uint256(9950330853168083), 20202707317519448, 95310179804324860];
        // sqrt of the exact real recurrence, computed offline with 60-digit decimals.
        uint256[3] memory sigmaReal = [uint256(524111422375302785), 644221263429770934, 1924828099258263037];

        uint256 expectedVariance = 0.25e18;
        uint256 t = T0;
        for (uint256 i = 0; i < 3; ++i) {
            t += dts[i];
            vm.warp(t);
            feed.pushRound(answers[i], t);
            assertEq(adapter.updateVolatility(ETH, 64), 1);

            uint256 numerator = expectedVariance * WINDOW * 1e18 + absLn[i] * absLn[i] * SECONDS_PER_YEAR;
            expectedVariance = _ceilDiv(numerator, (dts[i] + WINDOW) * 1e18);
            // lnWad may differ from the correctly rounded ln by a wei or two; that moves the variance
            // by far less than 100 wei at these magnitudes.
            assertApproxEqAbs(_variance(ETH), expectedVariance, 100);
            assertEq(_sigma(ETH), _ceilSqrt(uint256(_variance(ETH)) * 1e18));
            assertApproxEqRel(_sigma(ETH), sigmaReal[i], 1e6); // 1e-12 relative
        }
    }

    function test_hugeMoveIsCappedAtMaxSigma() public {
        vm.warp(T0 + 1);
        feed.updateAnswer(PRICE0 * 1_000_000);
        assertEq(adapter.updateVolatility(ETH, 64), 1);
        assertEq(_sigma(ETH), adapter.MAX_SIGMA());
        assertEq(_variance(ETH), 2500e18);
        (, uint256 sigmaWad) = adapter.getPriceAndVolatility(ETH);
        assertEq(sigmaWad, 50e18);
    }

    function test_upAndDownMovesOfTheSameFactorAreSymmetric() public {
        MockAggregator down = _newFeed("DOWN", 8, PRICE0, SIGMA0);
        vm.warp(T0 + 600);
        feed.updateAnswer(PRICE0 * 2);
        down.updateAnswer(PRICE0 / 2);
        adapter.updateVolatility(ETH, 64);
        adapter.updateVolatility("DOWN", 64);
        assertApproxEqRel(_sigma(ETH), _sigma("DOWN"), 1e3);
        assertGt(_sigma(ETH), SIGMA0);
    }

    // ---------------------------------------------------------------- fuzz

    /// @dev Sigma stays within [0, MAX_SIGMA], is ceil(sqrt(variance)) and variance within its cap,
    ///      for arbitrary series of moves and spacings.
    function testFuzz_sigmaBoundedAndConsistent(uint256 seed, uint256 sigma0, uint8 count) public {
        sigma0 = bound(sigma0, 0, 50e18);
        count = uint8(bound(count, 1, 20));
        MockAggregator aggregator = _newFeed("FUZZ", 8, PRICE0, sigma0);
        uint256 t = T0;
        int256 price = PRICE0;
        for (uint256 i = 0; i < count; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            t += 1 + (r % 2 days);
            // Multiply the price by a factor in [1/1000, 1000] (log-uniform-ish), keeping it positive.
            uint256 factorPpm = 1_000 + ((r >> 64) % 1_000_000_000);
            price = int256((uint256(price) * factorPpm) / 1_000_000);
            if (price <= 0) price = 1;
            // 1e28 at 8 decimals is 1e38 in WAD, inside the uint128 anchor.
            if (price > 1e28) price = 1e28;
            aggregator.pushRound(price, t);
        }
        vm.warp(t);
        assertEq(adapter.updateVolatility("FUZZ", 64), count);
        uint256 sigma = _sigma("FUZZ");
        uint256 variance = _variance("FUZZ");
        assertLe(sigma, 50e18);
        assertLe(variance, 2500e18);
        assertEq(sigma, _ceilSqrt(variance * 1e18));
    }

    /// @dev For the same prior state and dt, a larger |log return| never yields a smaller sigma.
    function testFuzz_sigmaMonotonicInAbsReturn(
        uint256 p0,
        uint256 x,
        uint256 y,
        uint256 dt,
        uint256 sigma0,
        bool up
    ) public {
        p0 = bound(p0, 1e6, 1e14);
        dt = bound(dt, 1, 30 days);
        sigma0 = bound(sigma0, 0, 50e18);
        uint256 priceSmallMove;
        uint256 priceBigMove;
        if (up) {
            // Rises by x and y ppm of p0, up to x1,000,000; x <= y.
            x = bound(x, 0, 1e12);
            y = bound(y, x, 1e12);
            priceSmallMove = p0 + (p0 * x) / 1e6;
            priceBigMove = p0 + (p0 * y) / 1e6;
        } else {
            // Falls by x and y ppm of p0, never to zero; x <= y.
            x = bound(x, 0, 1e6 - 1);
            y = bound(y, x, 1e6 - 1);
            priceSmallMove = p0 - (p0 * x) / 1e6;
            priceBigMove = p0 - (p0 * y) / 1e6;
        }
        MockAggregator small = _newFeed("SMALL", 8, int256(p0), sigma0);
        MockAggregator big = _newFeed("BIG", 8, int256(p0), sigma0);
        small.pushRound(int256(priceSmallMove), T0 + dt);
        big.pushRound(int256(priceBigMove), T0 + dt);
        vm.warp(T0 + dt);
        adapter.updateVolatility("SMALL", 1);
        adapter.updateVolatility("BIG", 1);
        assertLe(_sigma("SMALL"), _sigma("BIG"));
        assertLe(_variance("SMALL"), _variance("BIG"));
    }
}
