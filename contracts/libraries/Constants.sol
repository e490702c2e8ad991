// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @dev The fixed-point unit of every price, size, ratio and balance inside the contracts (1e18).
///      The one definition: libraries and contracts import it from here.
uint256 constant WAD = 1e18;
