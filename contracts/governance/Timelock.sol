// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Timelock
/// @notice OpenZeppelin's TimelockController under a local name, so that it gets an artifact and TypeChain
///         types like every other contract of the project. On a test network it holds GOVERNOR and
///         DEFAULT_ADMIN_ROLE of every protocol contract: a parameter change is scheduled by a proposer
///         and executed after `minDelay`. Nothing is added or changed.
/// @dev Pass `admin = address(0)` to leave the timelock administered by itself only (what deploy/ does).
contract Timelock is TimelockController {
    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors,
        address admin
    ) TimelockController(minDelay, proposers, executors, admin) {}
}
