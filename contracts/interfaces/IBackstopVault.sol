// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {IBoundedParameters} from "../libraries/Bounds.sol";

/// @title IBackstopVault
/// @notice An ERC-4626 vault whose depositors capitalise the protocol's backstop: its assets are the
///         margin of its own engine account, which takes over accounts at the backstop at the oracle price
///         (IBackstop) and unwinds them at a pace the market absorbs. Ring-fenced from the LP pool and the
///         insurance fund: its depositors carry its inventory's risk and earn its backstop fees and the
///         rebound of the protocol's own impact. Shares are priced at the inventory's conservative mark
///         (equity less a haircut on open notional) for redemptions, at the full mark for deposits.
///         Leaving takes a request, a cooldown during which the requested shares still carry the vault's
///         gains and losses, and margin the engine lets go (the inventory's initial margin stays).
interface IBackstopVault is IERC4626, IBoundedParameters {
    struct RedeemRequest {
        uint128 shares; // escrowed in the vault, still carrying its PnL
        uint40 readyAt; // redeemable from then on
    }

    error ZeroAddress();
    error ZeroAmount();
    error RedeemNotReady(address owner, uint256 readyAt);
    error RedeemExceedsRequest(address owner, uint256 shares, uint256 requested);

    event RedeemRequested(address indexed owner, uint256 shares, uint256 totalRequested, uint256 readyAt);
    event CooldownSet(uint32 cooldownSeconds);
    event MarkHaircutSet(uint256 haircutWad);

    /// @notice Escrows `shares` of the caller for redemption after the cooldown (a new request adds to the
    ///         one pending and restarts its cooldown).
    function requestRedeem(uint256 shares) external;

    /// @notice Seconds between a redeem request and its redemption (GOVERNOR, bounded).
    function setCooldown(uint32 cooldownSeconds) external;

    /// @notice Haircut on open inventory's notional in the redemption mark (WAD, GOVERNOR, bounded).
    function setMarkHaircut(uint256 haircutWad) external;

    /// @notice The vault's engine account.
    function accountId() external view returns (uint256);

    /// @notice Assets per 1e18 shares at the conservative mark (WAD of the asset): the drawdown breaker's
    ///         measure.
    function sharePrice() external view returns (uint256);

    /// @notice The engine account's equity (WAD, at the oracle) and open notional (WAD).
    function book() external view returns (int256 equityWad, uint256 notionalWad);

    function redeemRequest(address owner) external view returns (RedeemRequest memory);

    function cooldown() external view returns (uint32);

    function markHaircut() external view returns (uint256);
}
