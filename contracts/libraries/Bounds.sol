// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title IBoundedParameters
/// @notice The one error every bounded setter refuses with. Interfaces of contracts with governed
///         parameters inherit it, so it is in their ABI once, defined here only.
interface IBoundedParameters {
    /// @notice A governed parameter outside its MIN_/MAX_ bounds: which one, the value given and the bounds.
    error ParameterOutOfBounds(bytes32 parameter, uint256 value, uint256 min, uint256 max);
    /// @notice A governed parameter within its bounds but not a whole number of the unit it is stored in
    ///         (e.g. the liquidation configuration's WAD fields, stored in 1e-6 of a WAD): which one, the
    ///         value given and the unit.
    error ParameterNotInUnits(bytes32 parameter, uint256 value, uint256 unit);
}

/// @title Bounds
/// @notice The one bounds check every setter uses, so every contract refuses a bad parameter with the
///         same error carrying the numbers that failed.
library Bounds {
    /// @dev Reverts ParameterOutOfBounds unless lo <= value <= hi.
    function check(bytes32 name, uint256 value, uint256 lo, uint256 hi) internal pure {
        if (value < lo || value > hi) revert IBoundedParameters.ParameterOutOfBounds(name, value, lo, hi);
    }
}
