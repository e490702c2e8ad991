// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {RiskParams} from "./RiskModel.sol";
import {LiquidationParams} from "./LiquidationParams.sol";

/// @title RiskWord
/// @notice The risk parameters a liquidation reads (the maintenance ramp's five and the size premium), kept a
///         second time in one word beside the market's configuration, so that a tranche reads one cold slot for
///         them instead of the two of `RiskParams`' first slots. The ABI struct stays in `MarketConfig` as the
///         record the getters return; the admin path writes both, the engine's hot paths read the word.
/// @dev Layout: mmrBase, mmrMin, mmrMax, kMm, sizePremium in 32 bits each (bits 0, 32, 64, 96, 128), in
///      LiquidationParams.UNIT (1e12 wei, 1e-6 of a WAD; their bounds, at most 1e18, need 20 bits), then
///      mmrRampPerSecond as it is (wei, a uint64) in bits 160-223. `MarketAdmin` refuses a value of the five
///      that is not a whole unit (ParameterNotInUnits), so decoding gives back exactly what governance set.
///      The word's slot is the one after the six of `IPerpEngine.MarketConfig` in `_configs[marketId]`, where a
///      seventh slot of the struct would be (a mapping's entries are spread by keccak256: nothing else is there);
///      a field added to `MarketConfig` would have to move it.
library RiskWord {
    uint256 internal constant UNIT = LiquidationParams.UNIT;
    /// @dev The word's slot: the configuration's slot + 6.
    uint256 internal constant OFFSET = 6;

    /// @dev The word of `r`; its five WAD fields must be within bounds and whole units.
    function encode(RiskParams calldata r) internal pure returns (uint256 w) {
        w =
            (uint256(r.mmrBase) / UNIT) |
            ((uint256(r.mmrMin) / UNIT) << 32) |
            ((uint256(r.mmrMax) / UNIT) << 64) |
            ((uint256(r.kMm) / UNIT) << 96) |
            ((uint256(r.sizePremium) / UNIT) << 128) |
            (uint256(r.mmrRampPerSecond) << 160);
    }
}
