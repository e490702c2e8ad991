// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// solhint-disable-next-line max-line-length
import {AutomationCompatibleInterface} from "@chainlink/contracts/src/v0.8/automation/interfaces/AutomationCompatibleInterface.sol";

/// @title ILiquidationAutomation
/// @notice Chainlink Automation in front of the liquidation engine. checkData = abi.encode(firstAccountId,
///         count): checkUpkeep returns the accounts of that page the engine would liquidate now (at most
///         MAX_BATCH) as performData = abi.encode(uint256[]); performUpkeep liquidates them through
///         liquidateBatch, which re-checks each (input is never trusted: a healthy or unknown account is
///         skipped).
interface ILiquidationAutomation is AutomationCompatibleInterface {
    error ZeroAddress();

    /// @notice Keeper rewards earned by the upkeep's tranches, claimed by the admin.
    event RewardsClaimed(address indexed to, uint256 amount);

    /// @notice Claims the keeper rewards this adapter earned (whole token units) to `to`. Admin.
    function claimRewards(address to) external returns (uint256 amount);
}
