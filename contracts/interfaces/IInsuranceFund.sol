// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title IInsuranceFund
/// @notice ERC-4626 fund in the collateral token. Stakers earn the penalty and fee income paid into it;
///         it covers bad debt first. Withdrawals are requested, wait out a cooldown, and must then be
///         taken within a window, so stakers cannot leave just before a loss they can see coming.
interface IInsuranceFund is IERC4626, IBoundedParameters {
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

    event LiquidationEngineSet(address liquidationEngine);
    event WithdrawalWindowSet(uint32 cooldown, uint32 window);
    event StressLossRatioSet(uint256 ratioWad);
    event WithdrawalRequested(address indexed owner, uint256 shares, uint256 readyAt, uint256 expiresAt);
    event WithdrawalCancelled(address indexed owner);
    /// @notice Bad debt covered: `amount` tokens paid into the vault's LP pool.
    event BadDebtCovered(uint256 requestedWad, uint256 amount);
    event KeeperPaid(address indexed keeper, uint256 amount);
    event VaultShareSet(uint256 shareWad);
    /// @notice The backstop vault's loss beyond its budget paid: `amount` tokens into the vault's LP pool,
    ///         which credits them to the vault's account; `backed` tokens paid so in the current period.
    event VaultBacked(uint256 requestedWad, uint256 amount, uint256 backed);

    /// @notice Wires the liquidation engine, the only caller of cover and payKeeper. Admin.
    function setLiquidationEngine(address liquidationEngine_) external;
    /// @notice Withdrawal cooldown and the window to take a request in (seconds, within their bounds).
    function setWithdrawalWindow(uint32 cooldown_, uint32 window_) external;
    /// @notice Loss ratio of open notional the coverage ratio is measured against (WAD, bounded).
    function setStressLossRatio(uint256 ratioWad) external;

    /// @notice Share of the fund that may back the backstop vault past its loss budget within one
    ///         withdrawal cooldown (WAD, at most MAX_VAULT_SHARE; 0 turns it off). Governor.
    function setVaultShare(uint256 shareWad) external;

    /// @notice Starts (or restarts) the cooldown for withdrawing up to `shares`.
    function requestWithdrawal(uint256 shares) external;
    function cancelWithdrawal() external;

    /// @notice Pays up to `amountWad` of bad debt into the vault's LP pool, as far as the fund reaches
    ///         (never reverts for lack of funds). Liquidation engine only.
    /// @return coveredWad what was paid, in WAD (whole token units)
    function cover(uint256 amountWad) external returns (uint256 coveredWad);

    /// @notice Pays up to `amountWad` of the backstop vault's loss beyond its budget into the vault's LP pool
    ///         (rounded up to whole tokens), within `vaultShare` of what the fund held before it began paying
    ///         in the current period (one withdrawal cooldown from the first payment). Never reverts for lack
    ///         of room: pays what it may, possibly nothing. Liquidation engine only.
    /// @return paidWad what was paid, in WAD (whole token units)
    function backVault(uint256 amountWad) external returns (uint256 paidWad);

    /// @notice Tokens backVault paid in the current period, and when that period began.
    function vaultBacking() external view returns (uint256 backed, uint256 since);

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
