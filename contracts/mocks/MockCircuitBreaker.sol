// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ICircuitBreaker} from "../interfaces/ICircuitBreaker.sol";

/// @notice A circuit breaker whose policy tests set directly, and which can be made to revert, to show
///         that nothing a breaker says (or fails to say) can block reducing, closing or liquidating.
contract MockCircuitBreaker {
    error BreakerBroken();

    mapping(uint256 marketId => ICircuitBreaker.TradePolicy) internal _policies;
    mapping(uint256 marketId => bool) internal _set;
    bool public broken;

    function setPolicy(uint256 marketId, ICircuitBreaker.TradePolicy calldata policy) external {
        _policies[marketId] = policy;
        _set[marketId] = true;
    }

    function setBroken(bool broken_) external {
        broken = broken_;
    }

    function tradePolicy(uint256 marketId) external view returns (ICircuitBreaker.TradePolicy memory) {
        if (broken) revert BreakerBroken();
        if (!_set[marketId]) return ICircuitBreaker.TradePolicy(1e18, 1e18, 0, true, true);
        return _policies[marketId];
    }
}
