// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IBackstopVault} from "../interfaces/IBackstopVault.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds} from "../libraries/Bounds.sol";

/// @title BackstopVault
/// @notice The backstop's capital (IBackstopVault): every asset deposited becomes margin of the vault's
///         own engine account, which the engine's BackstopModule fills with the positions of accounts that
///         reach the backstop and unwinds at a paced rate.
/// @dev Not the LP pool and not the insurance fund: its own token, its own account, its own losses.
contract BackstopVault is IBackstopVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    using FixedPoint for uint256;
    using SafeCast for uint256;
    using Math for uint256;

    uint256 public constant MIN_COOLDOWN = 1 hours;
    uint256 public constant MAX_COOLDOWN = 30 days;
    uint256 public constant MAX_MARK_HAIRCUT = 0.2e18;

    IPerpEngine public immutable engine;
    /// @notice 10 ** (18 - asset decimals).
    uint256 public immutable SCALE;
    /// @inheritdoc IBackstopVault
    uint256 public immutable accountId;

    /// @inheritdoc IBackstopVault
    uint32 public cooldown = 3 days;
    /// @inheritdoc IBackstopVault
    uint256 public markHaircut = 0.02e18;

    mapping(address owner => RedeemRequest) internal _requests;

    constructor(
        IERC20 asset_,
        IPerpEngine engine_,
        address admin,
        address governor
    ) ERC4626(asset_) ERC20("Cascade Backstop Vault", "cBACK") {
        if (address(engine_) == address(0) || admin == address(0) || governor == address(0)) revert ZeroAddress();
        engine = engine_;
        IVault collateralVault = IVault(_engineVault(engine_));
        SCALE = collateralVault.SCALE();
        accountId = engine_.createAccount();
        SafeERC20.forceApprove(asset_, address(collateralVault), type(uint256).max);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
    }

    // ------------------------------------------------------------------ governance

    /// @inheritdoc IBackstopVault
    function setCooldown(uint32 cooldownSeconds) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("cooldown", cooldownSeconds, MIN_COOLDOWN, MAX_COOLDOWN);
        cooldown = cooldownSeconds;
        emit CooldownSet(cooldownSeconds);
    }

    /// @inheritdoc IBackstopVault
    function setMarkHaircut(uint256 haircutWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("markHaircut", haircutWad, 0, MAX_MARK_HAIRCUT);
        markHaircut = haircutWad;
        emit MarkHaircutSet(haircutWad);
    }

    // ------------------------------------------------------------------ leaving

    /// @inheritdoc IBackstopVault
    function requestRedeem(uint256 shares) external nonReentrant {
        if (shares == 0) revert ZeroAmount();
        _transfer(msg.sender, address(this), shares);
        RedeemRequest storage r = _requests[msg.sender];
        uint256 total = uint256(r.shares) + shares;
        r.shares = total.toUint128();
        r.readyAt = uint40(block.timestamp + cooldown);
        emit RedeemRequested(msg.sender, shares, total, r.readyAt);
    }

    /// @notice The shares of `owner`'s request once its cooldown is over (0 before).
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        RedeemRequest memory r = _requests[owner];
        if (block.timestamp < r.readyAt) return 0;
        return r.shares;
    }

    /// @notice What maxRedeem's shares are worth at the conservative mark.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        return previewRedeem(maxRedeem(owner));
    }

    function deposit(
        uint256 assets,
        address receiver
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.deposit(assets, receiver);
    }

    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.mint(shares, receiver);
    }

    function withdraw(
        uint256 assets,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.withdraw(assets, receiver, owner);
    }

    function redeem(
        uint256 shares,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.redeem(shares, receiver, owner);
    }

    // ------------------------------------------------------------------ pricing

    /// @notice The engine account's equity less `markHaircut` of its open notional (what selling it would
    ///         plausibly cost), rounded down to whole asset units, never below zero.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        (int256 equity, uint256 notional) = book();
        int256 marked = equity - int256(notional.mulWadUp(markHaircut));
        return marked > 0 ? uint256(marked) / SCALE : 0;
    }

    /// @notice Deposits are priced at the full mark (no haircut): an entrant never buys below what the
    ///         book is worth at the oracle, so it cannot dilute the depositors who carry the inventory.
    function previewDeposit(uint256 assets) public view override(ERC4626, IERC4626) returns (uint256) {
        return assets.mulDiv(totalSupply() + 10 ** _decimalsOffset(), _fullAssets() + 1, Math.Rounding.Floor);
    }

    /// @notice Mint priced like deposit, rounded up.
    function previewMint(uint256 shares) public view override(ERC4626, IERC4626) returns (uint256) {
        return shares.mulDiv(_fullAssets() + 1, totalSupply() + 10 ** _decimalsOffset(), Math.Rounding.Ceil);
    }

    /// @inheritdoc IBackstopVault
    function sharePrice() external view returns (uint256) {
        return convertToAssets(1e18) * SCALE;
    }

    /// @inheritdoc IBackstopVault
    function book() public view returns (int256 equityWad, uint256 notionalWad) {
        (IPerpEngine.AccountSummary memory s, ) = engine.liquidationSnapshot(accountId);
        return (s.equity, s.notional);
    }

    /// @inheritdoc IBackstopVault
    function redeemRequest(address owner) external view returns (RedeemRequest memory) {
        return _requests[owner];
    }

    function supportsInterface(bytes4 id) public view override returns (bool) {
        return id == type(IBackstopVault).interfaceId || super.supportsInterface(id);
    }

    // ------------------------------------------------------------------ internals

    function _fullAssets() internal view returns (uint256) {
        (int256 equity, ) = book();
        return equity > 0 ? uint256(equity) / SCALE : 0;
    }

    /// @dev Deposited assets go straight into the engine account's margin.
    function _transferIn(address from, uint256 assets) internal override {
        super._transferIn(from, assets);
        engine.deposit(accountId, assets);
    }

    /// @dev Redemptions come out of the engine account's margin: the engine refuses what the open
    ///      inventory's initial margin needs (InsufficientFreeMargin), so a run stops there.
    function _transferOut(address to, uint256 assets) internal override {
        engine.withdraw(accountId, assets, to);
    }

    /// @dev Burns escrowed shares of a ready request instead of the owner's free shares.
    function _withdraw(
        address caller,
        address receiver,
        address owner,
        uint256 assets,
        uint256 shares
    ) internal override {
        RedeemRequest storage r = _requests[owner];
        if (block.timestamp < r.readyAt || r.readyAt == 0) revert RedeemNotReady(owner, r.readyAt);
        if (shares > r.shares) revert RedeemExceedsRequest(owner, shares, r.shares);
        if (caller != owner) _spendAllowance(owner, caller, shares);
        r.shares = uint128(r.shares - shares);
        _burn(address(this), shares);
        _transferOut(receiver, assets);
        emit Withdraw(caller, receiver, owner, assets, shares);
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    function _engineVault(IPerpEngine engine_) private view returns (address) {
        return address(IPerpEngineVaultView(address(engine_)).vault());
    }
}

/// @dev The engine's public `vault` getter (PerpEngineBase), not part of IPerpEngine.
interface IPerpEngineVaultView {
    function vault() external view returns (address);
}
