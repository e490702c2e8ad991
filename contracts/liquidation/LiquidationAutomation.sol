// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
// solhint-disable-next-line max-line-length
import {AutomationCompatibleInterface} from "@chainlink/contracts/src/v0.8/automation/interfaces/AutomationCompatibleInterface.sol";

import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {ILiquidationAutomation} from "../interfaces/ILiquidationAutomation.sol";
import {IVault} from "../interfaces/IVault.sol";

/// @title LiquidationAutomation
/// @notice Chainlink Automation adapter: checkUpkeep scans a page of account ids for those the
///         liquidation engine would act on now; performUpkeep hands them to liquidateBatch, which
///         re-plans each account and skips what is no longer liquidatable, so performData is never
///         trusted. This contract is the keeper of those tranches: their rewards accrue to it in the
///         vault and its admin claims them.
/// @dev Its own contract so that the engine carries no Automation code and an upkeep can be
///      registered, funded and replaced without touching the engine.
contract LiquidationAutomation is ILiquidationAutomation, AccessControl {
    uint256 public constant MAX_BATCH = 100;

    ILiquidator public immutable liquidations;
    IVault public immutable vault;

    constructor(ILiquidator liquidations_, IVault vault_, address admin) {
        if (address(liquidations_) == address(0) || address(vault_) == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        liquidations = liquidations_;
        vault = vault_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc AutomationCompatibleInterface
    function checkUpkeep(bytes calldata checkData) external view returns (bool upkeepNeeded, bytes memory performData) {
        (uint256 first, uint256 count) = abi.decode(checkData, (uint256, uint256));
        // served by the configurator module at the same address
        uint256[] memory ids = ILiquidationConfigurator(address(liquidations)).liquidatableAccounts(first, count);
        if (ids.length > MAX_BATCH) {
            assembly ("memory-safe") {
                mstore(ids, MAX_BATCH)
            }
        }
        return (ids.length != 0, abi.encode(ids));
    }

    /// @inheritdoc AutomationCompatibleInterface
    function performUpkeep(bytes calldata performData) external {
        liquidations.liquidateBatch(abi.decode(performData, (uint256[])));
    }

    /// @inheritdoc ILiquidationAutomation
    function claimRewards(address to) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint256 amount) {
        amount = vault.claimKeeperRewards(to);
        emit RewardsClaimed(to, amount);
    }
}
