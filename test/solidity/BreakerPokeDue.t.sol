// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICircuitBreaker} from "../../contracts/interfaces/ICircuitBreaker.sol";
import {ITrigger} from "../../contracts/interfaces/ITrigger.sol";
import {BreakerWorld} from "./helpers/BreakerWorld.sol";

/// @notice `pokeDue` answers exactly whether a poke now would change anything: under random sequences of
///         proposals (0..5, 5 reading as 4), time (none at all included, so a hold at the same time
///         occurs), guardian and risk-oracle floors, governance overrides and a trigger that fails while
///         it is registered, `pokeDue` is true exactly when the poke that follows changes the market's
///         level state or emits an event. A keeper that skips the pokes it says are not due leaves the
///         breaker as the pokes would have.
contract BreakerPokeDueTest is BreakerWorld {
    uint256 internal constant MARKET = 5;

    bool internal brokenAdded;

    uint256 internal dueCount;
    uint256 internal notDueCount;
    uint256 internal heldAbove0NotDue;

    function setUp() public {
        _deployBreaker(false);
    }

    /// @notice At level 0 with nothing proposed a poke writes nothing and emits nothing, and is not due.
    function test_quietLevelZeroPokeWritesNothing() public {
        ICircuitBreaker.MarketLevel memory before = breaker.marketLevel(MARKET);
        vm.warp(block.timestamp + 1 hours);
        assertFalse(breaker.pokeDue(MARKET), "not due");
        vm.recordLogs();
        assertEq(breaker.poke(MARKET), 0);
        assertEq(vm.getRecordedLogs().length, 0, "no event");
        assertEq(keccak256(abi.encode(breaker.marketLevel(MARKET))), keccak256(abi.encode(before)), "no write");
        assertEq(breaker.marketLevel(MARKET).lastHeld, 0, "no hold clock at level 0");
    }

    /// @notice Above level 0 a proposal at the level moves the hold clock (due), once per block time.
    function test_holdIsDueOncePerTime() public {
        a.set(MARKET, 2);
        assertTrue(breaker.pokeDue(MARKET), "escalation due");
        breaker.poke(MARKET);
        assertFalse(breaker.pokeDue(MARKET), "held at this very time");
        vm.warp(block.timestamp + 1);
        assertTrue(breaker.pokeDue(MARKET), "hold at a later time moves the clock");
        breaker.poke(MARKET);
        assertEq(breaker.marketLevel(MARKET).lastHeld, block.timestamp);
        // below the level, within the cooldown: a poke changes nothing
        a.set(MARKET, 1);
        vm.warp(block.timestamp + COOLDOWN - 1);
        assertFalse(breaker.pokeDue(MARKET), "waiting out the cooldown");
        vm.warp(block.timestamp + 1);
        assertTrue(breaker.pokeDue(MARKET), "cooldown over: steps down");
        assertEq(breaker.poke(MARKET), 1);
    }

    /// @notice A governance override caps what triggers can make due; a failing trigger is always due.
    function test_overrideCapAndFailingTrigger() public {
        vm.prank(governor);
        breaker.overrideLevel(MARKET, 0, 1 hours);
        a.set(MARKET, 3);
        assertFalse(breaker.pokeDue(MARKET), "capped at 0 by the override");
        vm.prank(governor);
        breaker.addTrigger(ITrigger(address(broken)));
        assertTrue(breaker.pokeDue(MARKET), "a failing trigger is reported by a poke");
    }

    function testFuzz_pokeDueMatchesPoke(uint256 seed) public {
        _walk(seed, 60);
    }

    /// @notice One long walk, to show both answers and the subtle hold case occur often.
    function test_longWalk() public {
        _walk(uint256(keccak256("poke-due")), 800);
        assertGt(dueCount, 50, "due");
        assertGt(notDueCount, 50, "not due");
        assertGt(heldAbove0NotDue, 5, "held above 0 at the same time");
    }

    function _walk(uint256 seed, uint256 steps) internal {
        for (uint256 i; i < steps; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 op = r % 20;
            if (op < 14) _pokeStep(r);
            else if (op == 14) _guardianStep(r);
            else if (op == 15) _riskOracleStep(r);
            else if (op == 16) _overrideStep(r);
            else if (op == 17) _toggleBroken();
            else vm.warp(block.timestamp + ((r >> 8) % 2 hours));
        }
    }

    function _pokeStep(uint256 r) internal {
        // mostly quiet proposals, as in a replay; time from none (a third of the steps) to two cooldowns
        a.set(MARKET, (r >> 8) % 3 == 0 ? uint8((r >> 12) % 6) : 0);
        b.set(MARKET, (r >> 16) % 4 == 0 ? uint8((r >> 20) % 6) : 0);
        if ((r >> 28) % 3 != 0) vm.warp(block.timestamp + ((r >> 32) % (2 * uint256(COOLDOWN))));

        ICircuitBreaker.MarketLevel memory before = breaker.marketLevel(MARKET);
        bool due = breaker.pokeDue(MARKET);
        vm.recordLogs();
        breaker.poke(MARKET);
        uint256 events = vm.getRecordedLogs().length;
        bool written = keccak256(abi.encode(breaker.marketLevel(MARKET))) != keccak256(abi.encode(before));
        assertEq(due, written || events != 0, "pokeDue == the poke changes something");
        if (due) ++dueCount;
        else ++notDueCount;
        if (!due && before.level != 0 && before.lastHeld == block.timestamp) ++heldAbove0NotDue;
    }

    function _guardianStep(uint256 r) internal {
        vm.prank(guardian);
        try breaker.raiseLevel(MARKET, uint8((r >> 8) % 5)) {} catch {}
    }

    function _riskOracleStep(uint256 r) internal {
        vm.prank(riskOracle);
        try
            breaker.riskOracleRaise(
                MARKET,
                uint8((r >> 8) % 3),
                uint32(1 + ((r >> 16) % 6 hours)),
                keccak256(abi.encode(r))
            )
        {} catch {}
    }

    function _overrideStep(uint256 r) internal {
        vm.prank(governor);
        breaker.overrideLevel(MARKET, uint8((r >> 8) % 5), uint32((r >> 16) % 1 days));
    }

    function _toggleBroken() internal {
        vm.prank(governor);
        if (brokenAdded) breaker.removeTrigger(ITrigger(address(broken)));
        else breaker.addTrigger(ITrigger(address(broken)));
        brokenAdded = !brokenAdded;
    }
}
