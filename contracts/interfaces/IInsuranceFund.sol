// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title IInsuranceFund
/// @notice ERC-4626 fund in the collateral token. Stakers earn the penalty and fee income paid into it;
///         it covers bad debt first. Withdrawals are requested, wait out a cooldown, and must then be
///         taken within a window, so stakers cannot leave just before a loss they can see coming.
interface IInsuranceFund is IERC4626 {
    struct WithdrawalRequest {
        uint128 shares;
        uint64 readyAt;
        uint64 expiresAt;
    }

    error NotLiquidationEngine(address caller);
    error AlreadySet();
    error ZeroAddress();
    error ZeroAmount();
    error WithdrawalNotRequested(address owner);
    error WithdrawalCoolingDown(address owner, uint256 readyAt);
    error WithdrawalWindowExpired(address owner, uint256 expiredAt);
    error WithdrawalAboveRequest(address owner, uint256 shares, uint256 requestedShares);
    /// @notice Shares under a live withdrawal request stay with their owner until it is taken,
    ///         cancelled or expired: a transfer may move only the rest.
    error SharesLockedByRequest(address owner, uint256 shares, uint256 transferable);
    error ParameterOutOfBounds(bytes32 parameter, uint256 value, uint256 min, uint256 max);

    event LiquidationEngineSet(address liquidationEngine);
    event WithdrawalWindowSet(uint32 cooldown, uint32 window);
    event StressLossRatioSet(uint256 ratioWad);
    event WithdrawalRequested(address indexed owner, uint256 shares, uint256 readyAt, uint256 expiresAt);
    event WithdrawalCancelled(address indexed owner);
    /// @notice Bad debt covered: `amount` tokens paid into the vault's LP pool.
    event BadDebtCovered(uint256 requestedWad, uint256 amount);
    event KeeperPaid(address indexed keeper, uint256 amount);

    /// @notice Starts (or restarts) the cooldown for withdrawing up to `shares`.
    function requestWithdrawal(uint256 shares) external;
    function cancelWithdrawal() external;

    /// @notice Pays up to `amountWad` of bad debt into the vault's LP pool, as far as the fund reaches
    ///         (never reverts for lack of funds). Liquidation engine only.
    /// @return coveredWad what was paid, in WAD (whole token units)
    function cover(uint256 amountWad) external returns (uint256 coveredWad);

    /// @notice Tops up a keeper's reward when the penalty could not pay it. Liquidation engine only.
    function payKeeper(address keeper, uint256 amountWad) external returns (uint256 paidWad);

    /// @notice Tokens the fund can pay out now, including income the vault still holds for it.
    function coverable() external view returns (uint256 amount);

    /// @notice Fund assets over a worst-case loss measure (open notional * stressLossRatio), WAD.
    ///         type(uint256).max with no open interest.
    function coverageRatio() external view returns (uint256);

    function withdrawalRequest(address owner) external view returns (WithdrawalRequest memory);

    /// @notice Shares of `owner` under a withdrawal request that has not expired: they cannot be
    ///         transferred, so a ripe request is always backed by shares its owner held through the
    ///         whole cooldown (moving shares to an address with an older request gains nothing).
    function lockedShares(address owner) external view returns (uint256);
}
