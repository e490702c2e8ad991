// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";

import {CircuitBreaker} from "../../../contracts/breaker/CircuitBreaker.sol";
import {ITrigger} from "../../../contracts/interfaces/ITrigger.sol";
import {Roles} from "../../../contracts/libraries/Roles.sol";
import {RevertingTrigger, SettableTrigger} from "./BreakerMocks.sol";

/// @notice A breaker with two settable triggers (and a reverting one, registered or not) and its four
///         roles, shared by the breaker's random-walk suites.
abstract contract BreakerWorld is Test {
    uint32 internal constant COOLDOWN = 30 minutes;

    CircuitBreaker internal breaker;
    SettableTrigger internal a;
    SettableTrigger internal b;
    RevertingTrigger internal broken;

    address internal admin = makeAddr("admin");
    address internal governor = makeAddr("governor");
    address internal guardian = makeAddr("guardian");
    address internal riskOracle = makeAddr("riskOracle");

    /// @dev Deploys the breaker and its triggers (`a`, then `broken` when `registerBroken`, then `b`) and
    ///      grants the risk-oracle role.
    function _deployBreaker(bool registerBroken) internal {
        vm.warp(1_700_000_000);
        breaker = new CircuitBreaker(admin, governor, guardian);
        a = new SettableTrigger();
        b = new SettableTrigger();
        broken = new RevertingTrigger();
        vm.startPrank(governor);
        breaker.addTrigger(ITrigger(address(a)));
        if (registerBroken) breaker.addTrigger(ITrigger(address(broken)));
        breaker.addTrigger(ITrigger(address(b)));
        vm.stopPrank();
        vm.prank(admin);
        breaker.grantRole(Roles.RISK_ORACLE, riskOracle);
    }
}
