// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IVault} from "../interfaces/IVault.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {Roles} from "../libraries/Roles.sol";
import {Bounds} from "../libraries/Bounds.sol";

/// @title Vault
/// @notice Holds every token of the protocol. The books always balance to the wei:
///         token balance * SCALE == sum(trader margin) + lpPool + protocolFees,
///         because every internal move is a transfer between two of these three ledgers.
/// @dev LP shares are ERC-4626 with a decimals offset (virtual shares) against the inflation attack;
///      totalAssets() is book value (not balanceOf), so a donation cannot move the share price either.
contract Vault is IVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPoint for uint256;
    using SafeCast for uint256;

    uint256 public constant MIN_LP_FEE_SHARE = 0;
    uint256 public constant MAX_LP_FEE_SHARE = 1e18;
    uint256 public constant MIN_LP_LOCK_RATIO = 0.05e18;
    uint256 public constant MAX_LP_LOCK_RATIO = 1e18;
    uint256 public constant MAX_INSURANCE_FEE_SHARE = 1e18;
    uint32 public constant MIN_LP_LOCKUP = 10 minutes;
    uint32 public constant MAX_LP_LOCKUP = 14 days;
    /// @notice Largest single deposit, in token units: keeps every WAD ledger far from overflow.
    uint256 public constant MAX_DEPOSIT = type(uint96).max;

    /// @inheritdoc IVault
    uint256 public immutable SCALE;

    // Slot layout matters on the trade path: engine + lpFeeShare share a slot, and so do the two
    // ledgers that settle() touches besides the margin.
    /// @inheritdoc IVault
    address public engine;
    /// @notice Share of trading fees credited to the LP pool (WAD); the rest accrues to the protocol.
    uint64 public lpFeeShare;
    uint128 internal _lpPool;
    uint128 internal _protocolFees;
    /// @notice Fraction of the open skew's notional the pool must keep (WAD).
    uint256 public lpLockRatio;
    /// @notice Set once, together: the contract that charges penalties and the fund that covers bad debt.
    address public liquidationEngine;
    address public insuranceFund;
    /// @notice Share of protocol fees owed to the insurance fund (WAD).
    uint256 public insuranceFeeShare;
    /// @dev The engine when it is also the liquidation engine (the liquidation modules run at the engine's
    ///      address), else 0; set by setEngine and wireLiquidation. It shares a slot with the insurance ledger,
    ///      which a tranche's penalty writes: settleLiquidation checks its caller against it instead of a cold
    ///      read of the engine's slot (which only trades need).
    address internal _liquidatingEngine;
    /// @dev Penalty shares owed to the insurance fund, not yet sent (WAD; 96 bits hold 7.9e10 tokens, and
    ///      flushInsurance, open to anyone, empties it).
    uint96 internal _insurancePending;
    /// @dev The part of _protocolFees already split with the insurance fund: the share applies once.
    uint256 internal _protocolFeesSplit;

    /// @inheritdoc IVault
    uint32 public lpLockup;

    /// @dev LP shares minted by recent deposits: one bucket per owner whose unlock time each deposit
    ///      pushes out. A deposit made to someone else can only delay shares still locked anyway
    ///      (an unlocked bucket is emptied first), never shares already free.
    struct LpLock {
        uint128 shares;
        uint64 unlockAt;
    }

    mapping(address owner => LpLock) internal _lpLocks;
    mapping(uint256 accountId => uint256 marginWad) internal _margin;
    mapping(address keeper => uint256 rewardsWad) internal _keeperRewards;

    modifier onlyEngine() {
        if (msg.sender != engine) revert NotEngine(msg.sender);
        _;
    }

    /// @dev settleLiquidation's check: the engine that is also the liquidation engine may settle and charge a
    ///      penalty; any other caller gets settle's check (onlyEngine), and a penalty is refused to an engine
    ///      that is not the liquidation engine (chargePenalty's check). Only those callers read the engine's slot.
    modifier onlyLiquidatingEngine(bool penalty) {
        if (msg.sender != _liquidatingEngine || msg.sender == address(0)) {
            if (msg.sender != engine) revert NotEngine(msg.sender);
            if (penalty) revert NotLiquidationEngine(msg.sender);
        }
        _;
    }

    modifier onlyLiquidationEngine() {
        if (msg.sender != liquidationEngine || msg.sender == address(0)) revert NotLiquidationEngine(msg.sender);
        _;
    }

    constructor(
        IERC20Metadata collateral,
        address admin,
        address governor
    ) ERC20("Cascade LP", "cLP") ERC4626(collateral) {
        if (admin == address(0) || governor == address(0)) revert ZeroAddress();
        uint8 dec = collateral.decimals();
        if (dec > 18) revert UnsupportedDecimals(dec);
        SCALE = 10 ** (18 - dec);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(Roles.GOVERNOR, governor);
        lpFeeShare = 0.7e18;
        lpLockRatio = 0.2e18;
        insuranceFeeShare = 0.5e18;
        emit LpFeeShareSet(0.7e18);
        emit LpLockRatioSet(0.2e18);
        emit InsuranceFeeShareSet(0.5e18);
        lpLockup = 1 days;
        emit LpLockupSet(1 days);
    }

    // ------------------------------------------------------------------ admin

    /// @inheritdoc IVault
    function setEngine(address engine_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (engine_ == address(0)) revert ZeroAddress();
        if (engine != address(0)) revert EngineAlreadySet(engine);
        engine = engine_;
        if (engine_ == liquidationEngine) _liquidatingEngine = engine_;
        emit EngineSet(engine_);
    }

    /// @inheritdoc IVault
    function wireLiquidation(address liquidationEngine_, address insuranceFund_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (liquidationEngine_ == address(0) || insuranceFund_ == address(0)) revert ZeroAddress();
        if (liquidationEngine != address(0)) revert AlreadySet();
        liquidationEngine = liquidationEngine_;
        insuranceFund = insuranceFund_;
        if (liquidationEngine_ == engine) _liquidatingEngine = liquidationEngine_;
        emit LiquidationWired(liquidationEngine_, insuranceFund_);
    }

    /// @inheritdoc IVault
    function setInsuranceFeeShare(uint256 shareWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("insuranceFeeShare", shareWad, 0, MAX_INSURANCE_FEE_SHARE);
        insuranceFeeShare = shareWad;
        emit InsuranceFeeShareSet(shareWad);
    }

    /// @inheritdoc IVault
    function setLpFeeShare(uint256 shareWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("lpFeeShare", shareWad, MIN_LP_FEE_SHARE, MAX_LP_FEE_SHARE);
        lpFeeShare = uint64(shareWad);
        emit LpFeeShareSet(shareWad);
    }

    /// @inheritdoc IVault
    function setLpLockRatio(uint256 ratioWad) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("lpLockRatio", ratioWad, MIN_LP_LOCK_RATIO, MAX_LP_LOCK_RATIO);
        lpLockRatio = ratioWad;
        emit LpLockRatioSet(ratioWad);
    }

    function setLpLockup(uint32 lockupSeconds) external onlyRole(Roles.GOVERNOR) {
        Bounds.check("lpLockup", lockupSeconds, MIN_LP_LOCKUP, MAX_LP_LOCKUP);
        lpLockup = lockupSeconds;
        emit LpLockupSet(lockupSeconds);
    }

    /// @inheritdoc IVault
    function claimProtocolFees(address to) external onlyRole(Roles.GOVERNOR) nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        _setAsideInsuranceFees();
        amount = _protocolFees / SCALE;
        if (amount == 0) revert ZeroAmount();
        _protocolFees -= (amount * SCALE).toUint128();
        _protocolFeesSplit = _protocolFees;
        emit ProtocolFeesClaimed(to, amount);
        IERC20(asset()).safeTransfer(to, amount);
    }

    // ------------------------------------------------------------------ engine

    /// @inheritdoc IVault
    function depositMargin(uint256 accountId, address from, uint256 amount) external onlyEngine nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (amount > MAX_DEPOSIT) revert AmountTooLarge(amount, MAX_DEPOSIT);
        _margin[accountId] += amount * SCALE;
        emit MarginDeposited(accountId, from, amount);
        _pullExact(from, amount);
    }

    /// @inheritdoc IVault
    function withdrawMargin(uint256 accountId, address to, uint256 amount) external onlyEngine nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 amountWad = amount * SCALE;
        uint256 margin = _margin[accountId];
        if (amountWad > margin) revert InsufficientMargin(accountId, amountWad, margin);
        _margin[accountId] = margin - amountWad;
        emit MarginWithdrawn(accountId, to, amount);
        IERC20(asset()).safeTransfer(to, amount);
    }

    /// @inheritdoc IVault
    function settle(
        uint256 accountId,
        int256 pnlWad,
        uint256 feeWad
    ) external onlyEngine nonReentrant returns (uint256 marginWad, uint256 shortfallWad, uint256 feePaidWad) {
        marginWad = _margin[accountId];
        uint256 pool = _lpPool;
        if (pnlWad > 0) {
            uint256 owed = uint256(pnlWad);
            uint256 paid = owed.min(pool);
            if (paid < owed) emit ProfitShortfall(accountId, owed, paid);
            pool -= paid;
            marginWad += paid;
        } else if (pnlWad < 0) {
            uint256 loss = uint256(-pnlWad);
            uint256 taken = loss.min(marginWad);
            marginWad -= taken;
            pool += taken;
            shortfallWad = loss - taken;
        }
        if (feeWad != 0) {
            // A fee the margin cannot pay is forgone, never turned into debt.
            feePaidWad = feeWad.min(marginWad);
            marginWad -= feePaidWad;
            uint256 toPool = feePaidWad.mulWadDown(lpFeeShare);
            pool += toPool;
            _protocolFees += (feePaidWad - toPool).toUint128();
        }
        _margin[accountId] = marginWad;
        _lpPool = pool.toUint128();
    }

    /// @dev A liquidation leg's settlement: settle's PnL arithmetic with no fee, the margin returned (not
    ///      written: the penalty is taken from it first), the LP pool written. settle keeps its own body
    ///      inline: sharing this function cost every trade 109 gas. VaultSettleLiquidation.t.sol proves the
    ///      two equal on every path (loss, loss beyond the margin, profit, profit beyond the pool).
    function _settleLeg(uint256 accountId, int256 pnlWad) internal returns (uint256 marginWad, uint256 shortfallWad) {
        marginWad = _margin[accountId];
        uint256 pool = _lpPool;
        if (pnlWad > 0) {
            uint256 owed = uint256(pnlWad);
            uint256 paid = owed.min(pool);
            if (paid < owed) emit ProfitShortfall(accountId, owed, paid);
            pool -= paid;
            marginWad += paid;
        } else if (pnlWad < 0) {
            uint256 loss = uint256(-pnlWad);
            uint256 taken = loss.min(marginWad);
            marginWad -= taken;
            pool += taken;
            shortfallWad = loss - taken;
        }
        _lpPool = pool.toUint128();
    }

    // ------------------------------------------------------------------ liquidations

    /// @inheritdoc IVault
    function chargePenalty(
        uint256 accountId,
        address keeper,
        uint256 keeperWad,
        uint256 insuranceWad
    ) external onlyLiquidationEngine nonReentrant returns (uint256 keeperPaidWad, uint256 insurancePaidWad) {
        uint256 margin;
        (keeperPaidWad, insurancePaidWad, margin) = _penalty(keeper, keeperWad, insuranceWad, _margin[accountId]);
        _margin[accountId] = margin;
        emit PenaltyCharged(accountId, keeper, keeperPaidWad, insurancePaidWad);
    }

    /// @inheritdoc IVault
    function settleLiquidation(
        uint256 accountId,
        int256 pnlWad,
        address keeper,
        uint256 keeperWad,
        uint256 insuranceWad
    )
        external
        onlyLiquidatingEngine(keeperWad != 0 || insuranceWad != 0)
        nonReentrant
        returns (uint256 shortfallWad, uint256 keeperPaidWad, uint256 insurancePaidWad)
    {
        bool penalty = keeperWad != 0 || insuranceWad != 0;
        uint256 margin;
        (margin, shortfallWad) = _settleLeg(accountId, pnlWad);
        // No PenaltyCharged: the engine's TrancheLiquidated events carry the penalty (their sum).
        if (penalty) (keeperPaidWad, insurancePaidWad, margin) = _penalty(keeper, keeperWad, insuranceWad, margin);
        _margin[accountId] = margin;
    }

    /// @dev Takes the penalty from `margin` (keeper first) and returns what is left; the caller writes it
    ///      (and chargePenalty emits PenaltyCharged).
    function _penalty(
        address keeper,
        uint256 keeperWad,
        uint256 insuranceWad,
        uint256 margin
    ) internal returns (uint256 keeperPaidWad, uint256 insurancePaidWad, uint256 marginLeft) {
        keeperPaidWad = keeperWad.min(margin);
        insurancePaidWad = insuranceWad.min(margin - keeperPaidWad);
        marginLeft = margin - keeperPaidWad - insurancePaidWad;
        if (keeperPaidWad != 0) _keeperRewards[keeper] += keeperPaidWad;
        if (insurancePaidWad != 0) _creditInsurance(insurancePaidWad);
    }

    /// @inheritdoc IVault
    function receiveCover(uint256 amount) external nonReentrant {
        address fund = insuranceFund;
        if (msg.sender != fund || fund == address(0)) revert NotInsuranceFund(msg.sender);
        if (amount == 0) revert ZeroAmount();
        _lpPool += (amount * SCALE).toUint128();
        emit CoverReceived(amount);
        _pullExact(fund, amount);
    }

    /// @inheritdoc IVault
    function claimKeeperRewards(address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        amount = _keeperRewards[msg.sender] / SCALE;
        if (amount == 0) revert ZeroAmount();
        _keeperRewards[msg.sender] -= amount * SCALE;
        emit KeeperRewardsClaimed(msg.sender, to, amount);
        IERC20(asset()).safeTransfer(to, amount);
    }

    /// @inheritdoc IVault
    function flushInsurance() external nonReentrant returns (uint256 amount) {
        address fund = insuranceFund;
        if (fund == address(0)) revert ZeroAddress();
        _setAsideInsuranceFees();
        amount = _insurancePending / SCALE;
        if (amount == 0) return 0;
        _insurancePending -= (amount * SCALE).toUint96();
        emit InsuranceFlushed(fund, amount);
        IERC20(asset()).safeTransfer(fund, amount);
    }

    /// @dev Adds to the insurance ledger with one read and one write of its slot (solc would read it again to
    ///      mask the field in); past 96 bits it reverts as SafeCast does.
    function _creditInsurance(uint256 amountWad) internal {
        uint256 word;
        uint256 shift;
        assembly ("memory-safe") {
            word := sload(_insurancePending.slot)
            shift := mul(8, _insurancePending.offset)
        }
        uint256 pending = (word >> shift) + amountWad;
        if (pending > type(uint96).max) revert SafeCast.SafeCastOverflowedUintDowncast(96, pending);
        word = (word & ((uint256(1) << shift) - 1)) | (pending << shift);
        assembly ("memory-safe") {
            sstore(_insurancePending.slot, word)
        }
    }

    /// @dev Splits the protocol fees accrued since the last split; what was split before stays the
    ///      protocol's.
    function _setAsideInsuranceFees() internal {
        if (insuranceFund == address(0)) return;
        uint256 share = _unsplitFeeShare();
        if (share != 0) {
            _protocolFees -= share.toUint128();
            _creditInsurance(share);
        }
        _protocolFeesSplit = _protocolFees;
    }

    function _unsplitFeeShare() internal view returns (uint256) {
        uint256 fees = _protocolFees;
        uint256 split = _protocolFeesSplit;
        return fees > split ? (fees - split).mulWadDown(insuranceFeeShare) : 0;
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IVault
    function keeperRewardsOf(address keeper) external view returns (uint256) {
        return _keeperRewards[keeper];
    }

    /// @inheritdoc IVault
    function insuranceLedgerWad() external view returns (uint256) {
        return _insurancePending;
    }

    /// @inheritdoc IVault
    function claimableProtocolFees() external view returns (uint256) {
        return (_protocolFees - (insuranceFund == address(0) ? 0 : _unsplitFeeShare())) / SCALE;
    }

    /// @inheritdoc IVault
    function insurancePendingWad() external view returns (uint256) {
        if (insuranceFund == address(0)) return _insurancePending;
        return _insurancePending + _unsplitFeeShare();
    }

    /// @inheritdoc IVault
    function marginOf(uint256 accountId) external view returns (uint256) {
        return _margin[accountId];
    }

    /// @inheritdoc IVault
    function lpPoolWad() external view returns (uint256) {
        return _lpPool;
    }

    /// @inheritdoc IVault
    function protocolFeesWad() external view returns (uint256) {
        return _protocolFees;
    }

    /// @inheritdoc IERC4626
    /// @dev The LP book value: the pool less what traders have won and not yet realised (plus what they
    ///      have lost), floored at zero, in token units rounded down. Never reverts (ERC-4626): while a
    ///      market's price is stale the book is the engine's lax one (`lpExposureLax`: last answer,
    ///      traders' losses there not counted), which never reads higher than that price would.
    ///      Deposits, mints, withdrawals and redemptions still refuse a stale price: each also reads the
    ///      strict `lpExposure` (`_requirePositiveBook`, `lockedLiquidity`), so this value only prices
    ///      them while every price is fresh, when the two views are equal to the wei.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        int256 nav = int256(uint256(_lpPool)) - _traderNetLax();
        return nav <= 0 ? 0 : uint256(nav) / SCALE;
    }

    /// @inheritdoc IVault
    function lockedLiquidity() public view returns (uint256) {
        (, uint256 skewNotional) = _exposure();
        return skewNotional.mulWadUp(lpLockRatio).mulDivUp(1, SCALE);
    }

    /// @inheritdoc IVault
    function availableLiquidity() public view returns (uint256) {
        uint256 assets = totalAssets().min(_lpPool / SCALE);
        uint256 locked = lockedLiquidity();
        return assets > locked ? assets - locked : 0;
    }

    /// @inheritdoc IVault
    function lockedLpShares(address owner) public view returns (uint256) {
        LpLock memory lock = _lpLocks[owner];
        if (block.timestamp >= lock.unlockAt) return 0;
        return uint256(lock.shares).min(balanceOf(owner));
    }

    /// @inheritdoc IVault
    function lpUnlockAt(address owner) external view returns (uint256) {
        return _lpLocks[owner].unlockAt;
    }

    // The max* views never revert (ERC-4626): while the book cannot be valued (a stale price of a
    // market with open interest) or is not positive, deposits and withdrawals would revert, so they
    // report 0.

    /// @inheritdoc IERC4626
    /// @dev `MAX_DEPOSIT`, or 0 while the book cannot be valued.
    function maxDeposit(address) public view override(ERC4626, IERC4626) returns (uint256) {
        if (_deficitPending() != 0) return 0;
        (bool ok, ) = _bookValue();
        return ok ? MAX_DEPOSIT : 0;
    }

    /// @inheritdoc IERC4626
    /// @dev The shares `MAX_DEPOSIT` buys, or 0 while the book cannot be valued.
    function maxMint(address) public view override(ERC4626, IERC4626) returns (uint256) {
        if (_deficitPending() != 0) return 0;
        (bool ok, ) = _bookValue();
        return ok ? _convertToShares(MAX_DEPOSIT, Math.Rounding.Floor) : 0;
    }

    /// @inheritdoc IERC4626
    /// @dev What the owner's unlocked shares redeem for, at most the available (unlocked) liquidity; 0
    ///      while the book cannot be valued.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        // Not super.maxWithdraw: in OpenZeppelin 5.7 it goes through maxRedeem and would round twice.
        (bool ok, ) = _bookValue();
        if (!ok) return 0;
        return previewRedeem(balanceOf(owner) - lockedLpShares(owner)).min(availableLiquidity());
    }

    /// @inheritdoc IERC4626
    /// @dev The owner's unlocked shares, at most what the available liquidity buys back; 0 while the book
    ///      cannot be valued.
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        (bool ok, ) = _bookValue();
        if (!ok) return 0;
        uint256 unlocked = balanceOf(owner) - lockedLpShares(owner);
        return unlocked.min(_convertToShares(availableLiquidity(), Math.Rounding.Floor));
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ LP entry points

    /// @inheritdoc IERC4626
    /// @dev Refused (`LpBookValueNotPositive`) while the book is at or below zero; the minted shares are
    ///      locked with the receiver for `lpLockup`.
    function deposit(
        uint256 assets,
        address receiver
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        _requireNoPendingDeficit();
        _requirePositiveBook();
        return super.deposit(assets, receiver);
    }

    /// @inheritdoc IERC4626
    /// @dev As `deposit`: refused while the book is at or below zero; the shares are locked for `lpLockup`.
    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        _requireNoPendingDeficit();
        _requirePositiveBook();
        return super.mint(shares, receiver);
    }

    /// @dev Bad debt the insurance fund could not cover waits for auto-deleveraging, whose recovery
    ///      raises the share price: a share bought in between (at the price the loss lowered) would take
    ///      part of a recovery owed to the LPs who bore the loss. Entry waits until it is recovered.
    function _requireNoPendingDeficit() internal view {
        uint256 pending = _deficitPending();
        if (pending != 0) revert LpEntryClosedWhileDeficitPending(pending);
    }

    /// @dev The liquidation engine's bad debt pending recovery (0 before it is wired).
    function _deficitPending() internal view returns (uint256) {
        address le = liquidationEngine;
        if (le == address(0)) return 0;
        return ILiquidationConfigurator(le).badDebtPending();
    }

    /// @dev With the book at or below zero, any price buys the pool's deficit: refuse (the first deposit
    ///      into an empty pool is the exception, it has no deficit to buy).
    function _requirePositiveBook() internal view {
        (int256 traderNet, ) = _exposure();
        int256 bookValue = int256(uint256(_lpPool)) - traderNet;
        if (bookValue < 0 || (bookValue == 0 && totalSupply() != 0)) revert LpBookValueNotPositive(bookValue);
    }

    /// @inheritdoc IERC4626
    /// @dev At most the available liquidity (`LiquidityLocked` beyond it), from unlocked shares only.
    function withdraw(
        uint256 assets,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        uint256 available = availableLiquidity();
        if (assets > available) revert LiquidityLocked(assets, available);
        return super.withdraw(assets, receiver, owner);
    }

    /// @inheritdoc IERC4626
    /// @dev At most the available liquidity (`LiquidityLocked` beyond it), unlocked shares only.
    function redeem(
        uint256 shares,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        uint256 assets = previewRedeem(shares);
        uint256 available = availableLiquidity();
        if (assets > available) revert LiquidityLocked(assets, available);
        return super.redeem(shares, receiver, owner);
    }

    // ------------------------------------------------------------------ internals

    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        if (assets == 0 || shares == 0) revert ZeroAmount();
        _lpPool += (assets * SCALE).toUint128();
        super._deposit(caller, receiver, assets, shares);
        LpLock memory lock = _lpLocks[receiver];
        uint256 stillLocked = block.timestamp < lock.unlockAt ? lock.shares : 0;
        uint64 unlockAt = uint64(block.timestamp + lpLockup);
        uint128 locked = (stillLocked + shares).toUint128();
        _lpLocks[receiver] = LpLock(locked, unlockAt);
        emit LpSharesLockedUntil(receiver, shares, locked, unlockAt);
    }

    /// @dev Locked shares neither leave by redeem/withdraw (a burn) nor move by transfer.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) {
            uint256 locked = lockedLpShares(from);
            if (locked != 0) {
                uint256 unlocked = balanceOf(from) - locked;
                if (value > unlocked) revert LpSharesLocked(from, value, unlocked, _lpLocks[from].unlockAt);
            }
        }
        super._update(from, to, value);
    }

    function _withdraw(
        address caller,
        address receiver,
        address owner,
        uint256 assets,
        uint256 shares
    ) internal override {
        if (assets == 0 || shares == 0) revert ZeroAmount();
        _lpPool -= (assets * SCALE).toUint128();
        super._withdraw(caller, receiver, owner, assets, shares);
    }

    function _transferIn(address from, uint256 assets) internal override {
        _pullExact(from, assets);
    }

    /// @dev Rejects fee-on-transfer and other tokens whose transfers do not move exactly `amount`.
    function _pullExact(address from, uint256 amount) internal {
        IERC20 token = IERC20(asset());
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(from, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert BalanceChangingToken(amount, received);
    }

    /// @dev The book value, or false when it cannot be read (a stale price) or is not positive.
    function _bookValue() internal view returns (bool ok, uint256 assets) {
        address e = engine;
        if (e == address(0)) return (true, _lpPool / SCALE);
        try IPerpEngine(e).lpExposure() returns (int256 traderNet, uint256) {
            int256 nav = int256(uint256(_lpPool)) - traderNet;
            if (nav < 0 || (nav == 0 && totalSupply() != 0)) return (false, 0);
            return (true, uint256(nav) / SCALE);
        } catch {
            return (false, 0);
        }
    }

    /// @dev The strict trader net PnL when every price is fresh, else the engine's lax one.
    function _traderNetLax() internal view returns (int256) {
        address e = engine;
        if (e == address(0)) return 0;
        try IPerpEngine(e).lpExposure() returns (int256 traderNet, uint256) {
            return traderNet;
        } catch {
            (int256 laxNet, ) = IPerpEngine(e).lpExposureLax();
            return laxNet;
        }
    }

    function _exposure() internal view returns (int256 traderNet, uint256 skewNotional) {
        address e = engine;
        if (e == address(0)) return (0, 0);
        return IPerpEngine(e).lpExposure();
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }
}
