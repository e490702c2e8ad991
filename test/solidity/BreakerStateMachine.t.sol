// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICircuitBreaker} from "../../contracts/interfaces/ICircuitBreaker.sol";
import {BreakerWorld} from "./helpers/BreakerWorld.sol";

/// @notice The breaker's state machine under random sequences of proposals, time, guardian raises,
///         risk-oracle raises and governance overrides, with a trigger that always reverts among its
///         triggers. After every step: the proposal is the maximum of the (clamped, override-capped)
///         trigger proposals and the live floors; a poke escalates straight to a higher proposal,
///         steps down exactly one level once a cooldown has passed since the last change or the last poke
///         that still proposed the level (whichever is later), and
///         otherwise changes nothing; the level never sits below the guardian's floor or a live
///         risk-oracle floor; and poke never reverts.
contract BreakerStateMachineTest is BreakerWorld {
    uint256 internal constant MARKET = 3;
    uint256 internal constant STEPS = 40;

    /// @dev Counts of what the random walks exercised, checked to be non-trivial in one long walk.
    uint256 internal escalations;
    uint256 internal stepsDown;
    uint256 internal holds;

    function setUp() public {
        _deployBreaker(true);
    }

    function test_revertingTriggerIsReportedAndSkipped() public {
        a.set(MARKET, 2);
        vm.expectEmit(true, true, false, false, address(breaker));
        emit ICircuitBreaker.TriggerFailed(address(broken), MARKET);
        vm.expectEmit(true, false, false, true, address(breaker));
        emit ICircuitBreaker.LevelChanged(MARKET, 0, 2, ICircuitBreaker.Source.Trigger, address(a));
        assertEq(breaker.poke(MARKET), 2);
    }

    function test_proposalAboveFourReadsAsFour() public {
        b.set(MARKET, 255);
        (uint8 level, address source) = breaker.proposedLevel(MARKET);
        assertEq(level, 4);
        assertEq(source, address(b));
        assertEq(breaker.poke(MARKET), 4);
    }

    function test_cooldownBoundaryIsExact() public {
        a.set(MARKET, 3);
        breaker.poke(MARKET);
        uint256 t = block.timestamp;
        a.set(MARKET, 0);
        vm.warp(t + COOLDOWN - 1);
        assertEq(breaker.poke(MARKET), 3);
        vm.warp(t + COOLDOWN);
        assertEq(breaker.poke(MARKET), 2);
        vm.warp(t + 2 * uint256(COOLDOWN) - 1);
        assertEq(breaker.poke(MARKET), 2);
        vm.warp(t + 2 * uint256(COOLDOWN));
        assertEq(breaker.poke(MARKET), 1);
    }

    function testFuzz_stateMachine(uint256 seed) public {
        _walk(seed, STEPS);
    }

    /// @notice One long walk, to show the random steps reach every kind of transition.
    function test_longWalkExercisesEveryTransition() public {
        _walk(uint256(keccak256("breaker")), 600);
        assertGt(escalations, 20, "escalations");
        assertGt(stepsDown, 20, "steps down");
        assertGt(holds, 20, "holds");
    }

    // ------------------------------------------------------------------ the walk

    function _walk(uint256 seed, uint256 steps) internal {
        for (uint256 i; i < steps; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 op = r % 10;
            if (op < 6) _pokeStep(r);
            else if (op == 6) _guardianStep(r);
            else if (op == 7) _riskOracleStep(r);
            else if (op == 8) _overrideStep(r);
            else vm.warp(block.timestamp + ((r >> 8) % 2 hours));
            _checkFloors();
        }
    }

    /// @dev De-escalation waits a cooldown from the later of the last change and the last poke at which
    ///      the proposal still reached the level (so a proposal dipping between pokes does not flap it).
    function _quietSince(ICircuitBreaker.MarketLevel memory m) internal pure returns (uint256) {
        return m.lastHeld > m.lastChange ? m.lastHeld : m.lastChange;
    }

    function _pokeStep(uint256 r) internal {
        // proposals 0..5 (5 reads as 4); time from none to two cooldowns
        a.set(MARKET, uint8((r >> 8) % 6));
        b.set(MARKET, uint8((r >> 16) % 6));
        vm.warp(block.timestamp + ((r >> 24) % (2 * uint256(COOLDOWN))));

        ICircuitBreaker.MarketLevel memory before = breaker.marketLevel(MARKET);
        uint8 expected = _expectedProposal(before);
        (uint8 viewed, ) = breaker.proposedLevel(MARKET);
        assertEq(viewed, expected, "proposedLevel");

        uint8 level = breaker.poke(MARKET);
        ICircuitBreaker.MarketLevel memory afterPoke = breaker.marketLevel(MARKET);
        assertEq(level, afterPoke.level, "poke returns the level in force");
        assertLe(level, 4, "level <= 4");
        if (expected > before.level) {
            assertEq(level, expected, "escalates straight to the proposal");
            assertEq(afterPoke.lastChange, block.timestamp, "escalation restarts the cooldown");
            ++escalations;
        } else if (expected < before.level && block.timestamp >= _quietSince(before) + COOLDOWN) {
            assertEq(level, before.level - 1, "one level down per cooldown");
            assertEq(afterPoke.lastChange, block.timestamp, "a step restarts the cooldown");
            ++stepsDown;
        } else {
            assertEq(level, before.level, "holds");
            assertEq(afterPoke.lastChange, before.lastChange, "a hold keeps the clock");
            // a poke whose proposal reaches the level in force records that it still held; at level 0
            // there is no level to hold (nothing steps down from it) and the poke writes nothing
            if (expected == before.level && before.level != 0) {
                assertEq(afterPoke.lastHeld, block.timestamp, "held now");
            } else {
                assertEq(afterPoke.lastHeld, before.lastHeld, "no hold, no clock");
            }
            ++holds;
        }
        // floors and the override are never touched by a poke
        assertEq(afterPoke.guardianLevel, before.guardianLevel);
        assertEq(afterPoke.riskOracleLevel, before.riskOracleLevel);
        assertEq(afterPoke.riskOracleExpiry, before.riskOracleExpiry);
        assertEq(afterPoke.overrideLevel, before.overrideLevel);
        assertEq(afterPoke.overrideExpiry, before.overrideExpiry);
    }

    function _guardianStep(uint256 r) internal {
        uint8 requested = uint8((r >> 8) % 5);
        ICircuitBreaker.MarketLevel memory m = breaker.marketLevel(MARKET);
        bool allowed = requested > m.guardianLevel && !(requested <= m.level && m.guardianLevel >= m.level);
        vm.prank(guardian);
        if (!allowed) {
            vm.expectRevert(
                abi.encodeWithSelector(ICircuitBreaker.GuardianCanOnlyRaise.selector, MARKET, m.level, requested)
            );
        }
        breaker.raiseLevel(MARKET, requested);
        if (!allowed) return;
        ICircuitBreaker.MarketLevel memory n = breaker.marketLevel(MARKET);
        assertEq(n.guardianLevel, requested);
        assertEq(n.level, requested > m.level ? requested : m.level);
    }

    function _riskOracleStep(uint256 r) internal {
        uint8 requested = uint8((r >> 8) % 3);
        uint32 duration = uint32(1 + ((r >> 16) % 6 hours));
        ICircuitBreaker.MarketLevel memory m = breaker.marketLevel(MARKET);
        uint256 delay = breaker.riskOracleMinDelay();
        uint8 maxRenewals = breaker.riskOracleMaxRenewals();
        bool backToBack = m.riskOracleExpiry != 0 && block.timestamp < m.riskOracleExpiry + delay;
        vm.prank(riskOracle);
        if (m.riskOracleLastRaise != 0 && block.timestamp < m.riskOracleLastRaise + delay) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    ICircuitBreaker.RiskOracleTooSoon.selector,
                    MARKET,
                    m.riskOracleLastRaise + delay
                )
            );
            breaker.riskOracleRaise(MARKET, requested, duration, keccak256(abi.encode(r)));
            return;
        }
        if (backToBack && m.riskOracleRenewals + 1 > maxRenewals) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    ICircuitBreaker.RiskOracleRenewalsExhausted.selector,
                    MARKET,
                    m.riskOracleRenewals + 1,
                    maxRenewals
                )
            );
            breaker.riskOracleRaise(MARKET, requested, duration, keccak256(abi.encode(r)));
            return;
        }
        breaker.riskOracleRaise(MARKET, requested, duration, keccak256(abi.encode(r)));
        ICircuitBreaker.MarketLevel memory n = breaker.marketLevel(MARKET);
        assertEq(n.riskOracleLevel, requested);
        assertEq(n.riskOracleExpiry, block.timestamp + duration);
        assertEq(n.riskOracleLastRaise, block.timestamp);
        assertEq(n.riskOracleRenewals, backToBack ? m.riskOracleRenewals + 1 : 0);
        assertLe(n.riskOracleRenewals, maxRenewals);
        assertEq(n.level, requested > m.level ? requested : m.level);
    }

    function _overrideStep(uint256 r) internal {
        uint8 level = uint8((r >> 8) % 5);
        uint32 duration = uint32((r >> 16) % 1 days);
        vm.prank(governor);
        breaker.overrideLevel(MARKET, level, duration);
        ICircuitBreaker.MarketLevel memory n = breaker.marketLevel(MARKET);
        assertEq(n.level, level);
        assertEq(n.guardianLevel, 0);
        assertEq(n.riskOracleLevel, 0);
        assertEq(n.overrideExpiry, block.timestamp + duration);
    }

    /// @dev The level in force never sits below the guardian's floor, nor below a live risk-oracle floor
    ///      (either floor moves the level at once when raised, and de-escalation stops at it).
    function _checkFloors() internal view {
        ICircuitBreaker.MarketLevel memory m = breaker.marketLevel(MARKET);
        assertGe(m.level, m.guardianLevel, "level >= guardian floor");
        if (block.timestamp < m.riskOracleExpiry)
            assertGe(m.level, m.riskOracleLevel, "level >= live risk-oracle floor");
    }

    /// @dev max(clamp(a), clamp(b)), capped by a live override, then the floors.
    function _expectedProposal(ICircuitBreaker.MarketLevel memory m) internal view returns (uint8 p) {
        uint8 pa = a.level(MARKET) > 4 ? 4 : a.level(MARKET);
        uint8 pb = b.level(MARKET) > 4 ? 4 : b.level(MARKET);
        p = pa > pb ? pa : pb;
        if (block.timestamp < m.overrideExpiry && p > m.overrideLevel) p = m.overrideLevel;
        if (m.guardianLevel > p) p = m.guardianLevel;
        if (block.timestamp < m.riskOracleExpiry && m.riskOracleLevel > p) p = m.riskOracleLevel;
    }
}
