// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {IPerpEngine} from "../../interfaces/IPerpEngine.sol";
import {IOracleAdapter} from "../../interfaces/IOracleAdapter.sol";
import {Roles} from "../../libraries/Roles.sol";
import {MarketFeed} from "./MarketFeed.sol";
import {ITrigger} from "../../interfaces/ITrigger.sol";
import {ThresholdTrigger} from "./ThresholdTrigger.sol";
import {Bounds} from "../../libraries/Bounds.sol";

/// @title PriceMoveTrigger
/// @notice Largest relative move between the latest answer and any answer of the last `window`
///         seconds, read from the oracle's own rounds (WAD; 0.1e18 = 10%).
/// @dev Walks back at most `maxRounds` rounds; a gap or phase change ends the walk. Bounded work, so a
///      flood of rounds shortens the window it sees rather than making poke unaffordable.
contract PriceMoveTrigger is ThresholdTrigger, MarketFeed {
    uint32 public constant MIN_WINDOW = 1 minutes;
    uint32 public constant MAX_WINDOW = 1 days;
    uint16 public constant MAX_ROUNDS = 64;

    event WindowSet(uint32 window, uint16 maxRounds);

    uint32 public window = 1 hours;
    uint16 public maxRounds = 48;

    constructor(
        IPerpEngine engine_,
        IOracleAdapter oracle_,
        address admin,
        address governor
    )
        ThresholdTrigger(admin, governor, true, 0.001e18, 1e18, [uint256(0.05e18), 0.1e18, 0.2e18, 0.3e18], 4)
        MarketFeed(engine_, oracle_)
    {
        emit WindowSet(1 hours, 48);
    }

    /// @inheritdoc ITrigger
    function name() external pure returns (string memory) {
        return "price-move";
    }

    function setWindow(uint32 window_, uint16 maxRounds_) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("window", window_, MIN_WINDOW, MAX_WINDOW);
        Bounds.check("maxRounds", maxRounds_, 1, MAX_ROUNDS);
        window = window_;
        maxRounds = maxRounds_;
        emit WindowSet(window_, maxRounds_);
    }

    /// @inheritdoc ThresholdTrigger
    function measure(uint256 marketId) public view override returns (uint256 move) {
        AggregatorV3Interface agg = _aggregator(_feedId(marketId));
        (uint80 roundId, int256 latest, , uint256 updatedAt, ) = agg.latestRoundData();
        if (latest <= 0 || updatedAt == 0) return 0;
        uint256 since = block.timestamp > window ? block.timestamp - window : 0;
        // The rounds that mattered in the window are the latest and every older one until the first
        // that was already in force at the window's start: stop once the newer round is at or before it.
        uint256 newerAt = updatedAt;
        uint256 n = maxRounds;
        for (uint256 i = 1; i <= n && roundId > i && newerAt > since; ++i) {
            try agg.getRoundData(uint80(roundId - i)) returns (uint80, int256 answer, uint256, uint256 at, uint80) {
                if (at == 0 || answer <= 0) break;
                uint256 m = _relativeMove(uint256(latest), uint256(answer));
                if (m > move) move = m;
                newerAt = at;
            } catch {
                break;
            }
        }
    }
}
