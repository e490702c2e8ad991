// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IBoundedParameters} from "./Bounds.sol";
import {LiquidationMath} from "./LiquidationMath.sol";

/// @title LiquidationParams
/// @notice The liquidation and keeper-reward configurations as the engine stores them: one word each
///         (two cold slots a tranche instead of four). Every WAD field (shares, ratios and quote amounts
///         alike) is stored in units of UNIT = 1e12 wei, i.e. 1e-6 of a WAD: a share to 0.0001%, an amount
///         to a millionth of a dollar; seconds are stored as they are. The setters accept only whole units
///         (ParameterNotInUnits), so decoding gives back exactly what governance set.
/// @dev The reward word (read by every margin check: the liquidation margin, and dustNotional by the
///      minimum-position check): flat, min, max, dustNotional in 40 bits each (bits 0, 40, 80, 120), then
///      shareOfNotional, escalationPerSecond, maxMultiplier in 32 bits each (bits 160, 192, 224).
///      The liquidation word: trancheFraction, healthBuffer, backstopRatio, penaltyRate,
///      capacityDepthFactor, capBypassRatio in 32 bits each (bits 0 to 191), cooldown in 16 (bit 192),
///      capacityWindow in 32 (bit 208), the OWN_IMPACT_MARK flag in bit 254, the BACKSTOP_SET flag in bit 255.
///      Every bound fits its width: 40 bits of units hold 1.09e6 WAD (the amounts are bounded by 10,000e18),
///      32 bits hold 4,294 WAD (the largest share bound is 18e18).
library LiquidationParams {
    /// @notice The storage unit of every WAD field: 1e-6 of a WAD.
    uint256 internal constant UNIT = 1e12;

    uint256 private constant M40 = type(uint40).max;
    /// @notice Bit 255 of the configuration word: a backstop vault is set (IBackstopConfigurator's
    ///         setBackstopVault sets it, once; setConfig keeps it), so a tranche that has none skips the
    ///         backstop state's cold slot.
    uint256 internal constant BACKSTOP_SET = 1 << 255;
    /// @notice Bit 254: the own-impact mark is on (OwnImpactModule.setOwnImpactMark; setConfig keeps it), so a
    ///         tranche with it off pays nothing for it (no self-call, no measure written).
    uint256 internal constant OWN_IMPACT_MARK = 1 << 254;
    /// @notice The flags setConfig keeps.
    uint256 internal constant FLAGS = BACKSTOP_SET | OWN_IMPACT_MARK;

    /// @dev Reverts ParameterNotInUnits unless `value` is a whole number of UNIT.
    function checkUnit(bytes32 name, uint256 value) internal pure {
        if (value % UNIT != 0) revert IBoundedParameters.ParameterNotInUnits(name, value, UNIT);
    }

    /// @dev The configuration as one word (dustNotional goes in the reward word); every field must already
    ///      be within its bounds and in units.
    function encodeConfig(ILiquidationConfigurator.Config memory c) internal pure returns (uint256 w) {
        w =
            (uint256(c.trancheFraction) / UNIT) |
            ((uint256(c.healthBuffer) / UNIT) << 32) |
            ((uint256(c.backstopRatio) / UNIT) << 64) |
            ((uint256(c.penaltyRate) / UNIT) << 96) |
            ((uint256(c.capacityDepthFactor) / UNIT) << 128) |
            ((uint256(c.capBypassRatio) / UNIT) << 160) |
            (uint256(c.cooldown) << 192) |
            (uint256(c.capacityWindow) << 208);
    }

    /// @dev The configuration from its word and the reward word (which holds dustNotional). Written in
    ///      assembly (each field to its word of the memory struct, in declaration order) to keep the
    ///      modules that read it small.
    function decodeConfig(
        uint256 w,
        uint256 rewardWord
    ) internal pure returns (ILiquidationConfigurator.Config memory c) {
        uint256 u = UNIT;
        assembly ("memory-safe") {
            let m := 0xffffffff
            mstore(c, mul(and(w, m), u)) // trancheFraction
            mstore(add(c, 0x20), mul(and(shr(32, w), m), u)) // healthBuffer
            mstore(add(c, 0x40), mul(and(shr(64, w), m), u)) // backstopRatio
            mstore(add(c, 0x60), mul(and(shr(96, w), m), u)) // penaltyRate
            mstore(add(c, 0x80), and(shr(192, w), 0xffff)) // cooldown
            mstore(add(c, 0xa0), and(shr(208, w), m)) // capacityWindow
            mstore(add(c, 0xc0), mul(and(shr(128, w), m), u)) // capacityDepthFactor
            mstore(add(c, 0xe0), mul(and(shr(120, rewardWord), 0xffffffffff), u)) // dustNotional
            mstore(add(c, 0x100), mul(and(shr(160, w), m), u)) // capBypassRatio
        }
    }

    /// @dev The reward configuration and dustNotional as one word; every field within bounds and in units.
    function encodeReward(
        ILiquidationConfigurator.RewardConfig memory r,
        uint256 dust
    ) internal pure returns (uint256 w) {
        w =
            (uint256(r.flat) / UNIT) |
            ((uint256(r.min) / UNIT) << 40) |
            ((uint256(r.max) / UNIT) << 80) |
            ((dust / UNIT) << 120) |
            ((uint256(r.shareOfNotional) / UNIT) << 160) |
            ((uint256(r.escalationPerSecond) / UNIT) << 192) |
            ((uint256(r.maxMultiplier) / UNIT) << 224);
    }

    /// @dev The reward configuration from its word, in assembly like decodeConfig.
    function decodeReward(uint256 w) internal pure returns (ILiquidationConfigurator.RewardConfig memory r) {
        uint256 u = UNIT;
        assembly ("memory-safe") {
            let m := 0xffffffffff
            mstore(r, mul(and(w, m), u)) // flat
            mstore(add(r, 0x20), mul(and(shr(40, w), m), u)) // min
            mstore(add(r, 0x40), mul(and(shr(160, w), 0xffffffff), u)) // shareOfNotional
            mstore(add(r, 0x60), mul(and(shr(80, w), m), u)) // max
            mstore(add(r, 0x80), mul(and(shr(192, w), 0xffffffff), u)) // escalationPerSecond
            mstore(add(r, 0xa0), mul(shr(224, w), u)) // maxMultiplier
        }
    }

    /// @dev LiquidationMath.liquidationMargin from the reward word's four fields (no struct in memory).
    function liquidationMargin(uint256 rewardWord, uint256 notional) internal pure returns (uint256) {
        unchecked {
            return
                LiquidationMath.liquidationMargin(
                    (rewardWord & M40) * UNIT,
                    ((rewardWord >> 160) & type(uint32).max) * UNIT,
                    ((rewardWord >> 40) & M40) * UNIT,
                    ((rewardWord >> 80) & M40) * UNIT,
                    notional
                );
        }
    }

    function dustNotional(uint256 rewardWord) internal pure returns (uint256) {
        unchecked {
            return ((rewardWord >> 120) & M40) * UNIT;
        }
    }

    function cooldown(uint256 configWord) internal pure returns (uint256) {
        return uint16(configWord >> 192);
    }

    function capacityWindow(uint256 configWord) internal pure returns (uint256) {
        return uint32(configWord >> 208);
    }
}
