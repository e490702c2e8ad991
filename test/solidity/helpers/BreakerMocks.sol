// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ITrigger} from "../../../contracts/interfaces/ITrigger.sol";

/// @notice A trigger whose proposal per market the test sets, to drive the breaker's state machine
///         without any oracle.
contract SettableTrigger is ITrigger {
    mapping(uint256 marketId => uint8) public level;

    function set(uint256 marketId, uint8 level_) external {
        level[marketId] = level_;
    }

    function proposeLevel(uint256 marketId) external view returns (uint8) {
        return level[marketId];
    }

    function name() external pure returns (string memory) {
        return "settable";
    }
}

/// @notice A settable trigger that needs real gas to answer (a walk over many oracle rounds does): it
///         reads `work` cold storage slots first, so a caller who forwards too little gas starves it.
contract GasHungryTrigger is ITrigger {
    mapping(uint256 marketId => uint8) public level;
    uint256 public work = 100; // cold reads, ~2.2k gas each

    function set(uint256 marketId, uint8 level_) external {
        level[marketId] = level_;
    }

    function setWork(uint256 work_) external {
        work = work_;
    }

    function proposeLevel(uint256 marketId) external view returns (uint8) {
        uint256 acc;
        for (uint256 i; i < work; ++i) {
            uint256 v;
            assembly ("memory-safe") {
                v := sload(add(0x1000, i))
            }
            acc += v;
        }
        return level[marketId] + uint8(acc);
    }

    function name() external pure returns (string memory) {
        return "gas-hungry";
    }
}

/// @notice A trigger that always reverts, as a trigger whose oracle is gone would.
contract RevertingTrigger is ITrigger {
    error TriggerBroken(uint256 marketId);

    function proposeLevel(uint256 marketId) external pure returns (uint8) {
        revert TriggerBroken(marketId);
    }

    function name() external pure returns (string memory) {
        return "reverting";
    }
}

/// @notice A broken trigger that answers, but not with a uint8: the word 300 (e.g. an implementation
///         upgraded to return a raw measurement). Deliberately does not implement ITrigger.
contract WideWordTrigger {
    function proposeLevel(uint256) external pure returns (uint256) {
        return 300;
    }

    function name() external pure returns (string memory) {
        return "wide-word";
    }
}

/// @notice A broken trigger that answers every call it does not know with no data at all.
contract SilentTrigger {
    function name() external pure returns (string memory) {
        return "silent";
    }

    fallback() external {}
}

interface IMeasuringTrigger {
    function proposeLevel(uint256 marketId) external view returns (uint8);
    function measure(uint256 marketId) external view returns (uint256);
}

/// @notice Reads a trigger inside a transaction, so that its views run at a block time the test sets
///         exactly (an eth_call runs in a pending block whose time the test does not control).
contract TriggerProbe {
    uint8 public level;
    uint256 public measured;

    function probe(IMeasuringTrigger trigger, uint256 marketId) external {
        level = trigger.proposeLevel(marketId);
        measured = trigger.measure(marketId);
    }
}
