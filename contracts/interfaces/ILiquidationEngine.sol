// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {ILiquidator} from "./ILiquidator.sol";
import {ILiquidationConfigurator} from "./ILiquidationConfigurator.sol";
import {IAutoDeleveraging} from "./IAutoDeleveraging.sol";

/// @title ILiquidationEngine
/// @notice Everything about liquidations that callers reach at the engine's address: tranches
///         (ILiquidator), their parameters and ledgers (ILiquidationConfigurator) and auto-deleveraging
///         of what the insurance fund could not cover (IAutoDeleveraging). Three modules of PerpEngine
///         serve it on the engine's storage, whose roles (IAccessControl) govern it; keepers, scripts and
///         other contracts use this one interface.
interface ILiquidationEngine is ILiquidator, ILiquidationConfigurator, IAutoDeleveraging, IAccessControl {
    /// @notice A liquidation or auto-deleveraging entered while the engine's lock is held (the engine's
    ///         own ReentrancyGuardTransient: trades, liquidations and ADL share one lock).
    error ReentrancyGuardReentrantCall();
}
