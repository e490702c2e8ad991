// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IInsuranceFund} from "../interfaces/IInsuranceFund.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds} from "../libraries/Bounds.sol";

/// @title InsuranceFund
/// @notice Stakers deposit the collateral token for shares; penalties and a share of fees flow in
///         (through the vault), and bad debt flows out (into the vault's LP pool, which was short it).
/// @dev totalAssets counts the tokens held plus the income the vault holds for the fund, so that
///      income accrues to shares the moment it is charged. Shares use a decimals offset of 6 against
///      the inflation attack.
contract InsuranceFund is IInsuranceFund, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPoint for uint256;
    using SafeCast for uint256;

    uint32 public constant MIN_COOLDOWN = 1 hours;
    uint32 public constant MAX_COOLDOWN = 30 days;
    uint32 public constant MIN_WINDOW = 1 hours;
    uint32 public constant MAX_WINDOW = 14 days;
    uint256 public constant MIN_STRESS_LOSS_RATIO = 0.001e18;
    uint256 public constant MAX_STRESS_LOSS_RATIO = 1e18;
    uint256 public constant MAX_VAULT_SHARE = 0.5e18;

    IVault public immutable vault;
    IPerpEngine public immutable engine;
    uint256 public immutable SCALE;

    address public liquidationEngine;
    uint32 public cooldown = 7 days;
    uint32 public window = 2 days;
    /// @notice Share of open notional the fund should be able to lose in a crash (WAD).
    uint256 public stressLossRatio = 0.02e18;

    /// @notice Share of the fund that may back the backstop vault's loss beyond its budget within one
    ///         withdrawal cooldown (WAD; 0: never). The rest stays for traders' bad debt.
    uint256 public vaultShare = 0.25e18;

    mapping(address owner => WithdrawalRequest) internal _requests;

    /// @dev What backVault paid since `_vaultBackedSince` (tokens); a new period starts one cooldown later.
    uint128 internal _vaultBacked;
    uint64 internal _vaultBackedSince;

    modifier onlyLiquidationEngine() {
        if (msg.sender != liquidationEngine || msg.sender == address(0)) revert NotLiquidationEngine(msg.sender);
        _;
    }

    constructor(
        IERC20Metadata collateral,
        IVault vault_,
        IPerpEngine engine_,
        address admin,
        address governor
    ) ERC20("Cascade Insurance", "cINS") ERC4626(collateral) {
        if (address(vault_) == address(0) || address(engine_) == address(0)) revert ZeroAddress();
        if (admin == address(0) || governor == address(0)) revert ZeroAddress();
        vault = vault_;
        engine = engine_;
        SCALE = vault_.SCALE();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
        emit WithdrawalWindowSet(7 days, 2 days);
        emit StressLossRatioSet(0.02e18);
        emit VaultShareSet(0.25e18);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IInsuranceFund
    function setLiquidationEngine(address liquidationEngine_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (liquidationEngine_ == address(0)) revert ZeroAddress();
        if (liquidationEngine != address(0)) revert AlreadySet();
        liquidationEngine = liquidationEngine_;
        emit LiquidationEngineSet(liquidationEngine_);
    }

    /// @inheritdoc IInsuranceFund
    function setWithdrawalWindow(uint32 cooldown_, uint32 window_) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("cooldown", cooldown_, MIN_COOLDOWN, MAX_COOLDOWN);
        Bounds.check("window", window_, MIN_WINDOW, MAX_WINDOW);
        cooldown = cooldown_;
        window = window_;
        emit WithdrawalWindowSet(cooldown_, window_);
    }

    /// @inheritdoc IInsuranceFund
    function setStressLossRatio(uint256 ratioWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("stressLossRatio", ratioWad, MIN_STRESS_LOSS_RATIO, MAX_STRESS_LOSS_RATIO);
        stressLossRatio = ratioWad;
        emit StressLossRatioSet(ratioWad);
    }

    /// @inheritdoc IInsuranceFund
    function setVaultShare(uint256 shareWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("vaultShare", shareWad, 0, MAX_VAULT_SHARE);
        vaultShare = shareWad;
        emit VaultShareSet(shareWad);
    }

    // ------------------------------------------------------------------ stakers

    /// @inheritdoc IInsuranceFund
    function requestWithdrawal(uint256 shares) external {
        if (shares == 0) revert ZeroAmount();
        uint256 balance = balanceOf(msg.sender);
        if (shares > balance) revert WithdrawalAboveRequest(msg.sender, shares, balance);
        uint64 readyAt = uint64(block.timestamp + cooldown);
        uint64 expiresAt = readyAt + window;
        _requests[msg.sender] = WithdrawalRequest(shares.toUint128(), readyAt, expiresAt);
        emit WithdrawalRequested(msg.sender, shares, readyAt, expiresAt);
    }

    /// @inheritdoc IInsuranceFund
    function cancelWithdrawal() external {
        if (_requests[msg.sender].shares == 0) revert WithdrawalNotRequested(msg.sender);
        delete _requests[msg.sender];
        emit WithdrawalCancelled(msg.sender);
    }

    /// @inheritdoc IERC4626
    function deposit(
        uint256 assets,
        address receiver
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.deposit(assets, receiver);
    }

    /// @inheritdoc IERC4626
    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        return super.mint(shares, receiver);
    }

    /// @inheritdoc IERC4626
    /// @dev Only from a ripe withdrawal request (`requestWithdrawal`, then the cooldown), which it
    ///      consumes; 0 assets is a no-op.
    function withdraw(
        uint256 assets,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 shares) {
        // Withdrawing nothing is a no-op for anyone, as ERC-4626 vaults generally allow.
        if (assets == 0) return 0;
        shares = previewWithdraw(assets);
        _consumeRequest(owner, shares);
        _flushIfShort(assets);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    /// @inheritdoc IERC4626
    /// @dev Only from a ripe withdrawal request, which it consumes; 0 shares is a no-op.
    function redeem(
        uint256 shares,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 assets) {
        if (shares == 0) return 0;
        _consumeRequest(owner, shares);
        assets = previewRedeem(shares);
        _flushIfShort(assets);
        _withdraw(_msgSender(), receiver, owner, assets, shares);
    }

    /// @inheritdoc IERC4626
    /// @dev What `maxRedeem` redeems for.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        return previewRedeem(maxRedeem(owner));
    }

    /// @inheritdoc IERC4626
    /// @dev The shares of the owner's request while it is ripe (between `readyAt` and `expiresAt`), at
    ///      most its balance; 0 otherwise.
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        WithdrawalRequest memory r = _requests[owner];
        if (block.timestamp < r.readyAt || block.timestamp >= r.expiresAt) return 0;
        return uint256(r.shares).min(balanceOf(owner));
    }

    // ------------------------------------------------------------------ liquidation engine

    /// @inheritdoc IInsuranceFund
    function cover(uint256 amountWad) external onlyLiquidationEngine nonReentrant returns (uint256 coveredWad) {
        if (amountWad == 0) return 0;
        vault.flushInsurance();
        IERC20 token = IERC20(asset());
        // Round the bad debt up to whole token units: what the pool is owed is paid in full.
        uint256 amount = amountWad.mulDivUp(1, SCALE).min(token.balanceOf(address(this)));
        if (amount == 0) return 0;
        coveredWad = (amount * SCALE).min(amountWad);
        emit BadDebtCovered(amountWad, amount);
        token.forceApprove(address(vault), amount);
        vault.receiveCover(amount);
    }

    /// @inheritdoc IInsuranceFund
    function backVault(uint256 amountWad) external onlyLiquidationEngine nonReentrant returns (uint256 paidWad) {
        if (amountWad == 0) return 0;
        vault.flushInsurance();
        IERC20 token = IERC20(asset());
        uint256 held = token.balanceOf(address(this));
        uint256 backed = _vaultBacked;
        if (block.timestamp >= uint256(_vaultBackedSince) + cooldown) {
            backed = 0;
            _vaultBackedSince = uint64(block.timestamp);
        }
        // within a period, at most vaultShare of what the fund held before it paid the vault (rounded down)
        uint256 limit = (held + backed).mulWadDown(vaultShare);
        uint256 amount = amountWad.mulDivUp(1, SCALE).min(limit - limit.min(backed)).min(held);
        _vaultBacked = (backed + amount).toUint128();
        if (amount == 0) return 0;
        paidWad = amount * SCALE;
        emit VaultBacked(amountWad, amount, backed + amount);
        token.forceApprove(address(vault), amount);
        vault.receiveCover(amount);
    }

    /// @inheritdoc IInsuranceFund
    function vaultBacking() external view returns (uint256 backed, uint256 since) {
        return (_vaultBacked, _vaultBackedSince);
    }

    /// @inheritdoc IInsuranceFund
    function payKeeper(
        address keeper,
        uint256 amountWad
    ) external onlyLiquidationEngine nonReentrant returns (uint256 paidWad) {
        vault.flushInsurance();
        IERC20 token = IERC20(asset());
        uint256 amount = (amountWad / SCALE).min(token.balanceOf(address(this)));
        if (amount == 0) return 0;
        paidWad = amount * SCALE;
        emit KeeperPaid(keeper, amount);
        token.safeTransfer(keeper, amount);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IERC4626
    /// @dev Tokens held plus income the vault holds for the fund (rounded down): `coverable()`.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        return coverable();
    }

    /// @inheritdoc IInsuranceFund
    function coverable() public view returns (uint256) {
        return IERC20(asset()).balanceOf(address(this)) + vault.insurancePendingWad() / SCALE;
    }

    /// @inheritdoc IInsuranceFund
    function coverageRatio() external view returns (uint256) {
        uint256 worstCase = engine.openNotional().mulWadUp(stressLossRatio);
        if (worstCase == 0) return type(uint256).max;
        return (coverable() * SCALE).mulDivDown(1e18, worstCase);
    }

    /// @inheritdoc IInsuranceFund
    function withdrawalRequest(address owner) external view returns (WithdrawalRequest memory) {
        return _requests[owner];
    }

    /// @inheritdoc IInsuranceFund
    function lockedShares(address owner) public view returns (uint256) {
        WithdrawalRequest memory r = _requests[owner];
        if (block.timestamp >= r.expiresAt) return 0;
        return uint256(r.shares).min(balanceOf(owner));
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ internals

    function _consumeRequest(address owner, uint256 shares) internal {
        WithdrawalRequest memory r = _requests[owner];
        if (r.shares == 0) revert WithdrawalNotRequested(owner);
        if (block.timestamp < r.readyAt) revert WithdrawalCoolingDown(owner, r.readyAt);
        if (block.timestamp >= r.expiresAt) revert WithdrawalWindowExpired(owner, r.expiresAt);
        if (shares > r.shares) revert WithdrawalAboveRequest(owner, shares, r.shares);
        if (shares == 0) revert ZeroAmount();
        _requests[owner].shares = uint128(r.shares - shares);
    }

    /// @dev A transfer (not a mint or a burn) may not touch shares under a live request: otherwise
    ///      helper addresses holding staggered requests would give a staker a ripe request at any
    ///      time, and the cooldown would protect nothing. Burns go through `_consumeRequest` first.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 balance = balanceOf(from);
            uint256 locked = lockedShares(from);
            uint256 transferable = balance - locked;
            if (value > transferable) revert SharesLockedByRequest(from, value, transferable);
        }
        super._update(from, to, value);
    }

    function _flushIfShort(uint256 assets) internal {
        if (IERC20(asset()).balanceOf(address(this)) < assets) vault.flushInsurance();
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }
}
