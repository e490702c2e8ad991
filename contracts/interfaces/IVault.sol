// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title IVault
/// @notice Custody of the one collateral token. Keeps trader margin per account and the LP pool,
///         which is the counterparty to the net skew (ERC-4626 shares). Amounts crossing the edge are
///         in token units; every internal balance is WAD. Only the engine moves internal balances.
interface IVault is IERC4626, IBoundedParameters {
    error NotEngine(address caller);
    error NotLiquidationEngine(address caller);
    error NotInsuranceFund(address caller);
    error AlreadySet();
    error EngineAlreadySet(address engine);
    error ZeroAddress();
    error ZeroAmount();
    error AmountTooLarge(uint256 amount, uint256 max);
    error BalanceChangingToken(uint256 expected, uint256 received);
    error InsufficientMargin(uint256 accountId, uint256 requestedWad, uint256 availableWad);
    error LiquidityLocked(uint256 requestedAssets, uint256 availableAssets);
    error UnsupportedDecimals(uint8 decimals);
    /// @notice LP shares from a deposit stay with the depositor for `lpLockup` seconds: no redeem,
    ///         withdraw or transfer of them before `unlockAt`.
    error LpSharesLocked(address owner, uint256 shares, uint256 unlocked, uint256 unlockAt);
    /// @notice The LP book value is at or below zero: a deposit would buy the pool's deficit.
    error LpBookValueNotPositive(int256 bookValueWad);
    /// @notice Bad debt is pending recovery by auto-deleveraging: its recovery belongs to the LPs who
    ///         bore the loss, so no LP deposit or mint is taken until it is recovered.
    error LpEntryClosedWhileDeficitPending(uint256 pendingWad);

    event EngineSet(address engine);
    event MarginDeposited(uint256 indexed accountId, address indexed from, uint256 amount);
    event MarginWithdrawn(uint256 indexed accountId, address indexed to, uint256 amount);
    /// @notice Emitted when a trader's profit exceeded the LP pool and was paid only in part.
    event ProfitShortfall(uint256 indexed accountId, uint256 owedWad, uint256 paidWad);
    event ProtocolFeesClaimed(address indexed to, uint256 amount);
    event LpFeeShareSet(uint256 shareWad);
    event LpLockRatioSet(uint256 ratioWad);
    event LpLockupSet(uint32 lockupSeconds);
    /// @notice `shares` were added to `owner`'s locked LP shares; all of them unlock at `unlockAt`.
    event LpSharesLockedUntil(address indexed owner, uint256 shares, uint256 lockedShares, uint256 unlockAt);
    event LiquidationWired(address liquidationEngine, address insuranceFund);
    event InsuranceFeeShareSet(uint256 shareWad);
    /// @notice A liquidation penalty taken from an account: part credited to the keeper, part owed to
    ///         the insurance fund.
    event PenaltyCharged(uint256 indexed accountId, address indexed keeper, uint256 keeperWad, uint256 insuranceWad);
    event KeeperRewardsClaimed(address indexed keeper, address indexed to, uint256 amount);
    event InsuranceFlushed(address indexed insuranceFund, uint256 amount);
    /// @notice The insurance fund paid `amount` tokens into the LP pool to cover bad debt.
    event CoverReceived(uint256 amount);

    // ----- wiring and parameters (admin once; governor, bounded) -----
    /// @notice Wires the engine once; it can never be replaced (it is the only mover of balances).
    function setEngine(address engine_) external;
    /// @notice Wires the liquidation engine and the insurance fund, once.
    function wireLiquidation(address liquidationEngine_, address insuranceFund_) external;
    /// @notice Share of protocol fees set aside for the insurance fund (WAD, <= MAX_INSURANCE_FEE_SHARE).
    function setInsuranceFeeShare(uint256 shareWad) external;
    /// @notice Share of each trading fee credited to the LP pool (WAD, within its bounds).
    function setLpFeeShare(uint256 shareWad) external;
    /// @notice Share of the open skew's notional LPs cannot withdraw (WAD, within its bounds).
    function setLpLockRatio(uint256 ratioWad) external;
    /// @notice Sends the protocol's accrued fees (whole token units) to `to`, after setting aside the
    ///         insurance fund's share. Governor.
    function claimProtocolFees(address to) external returns (uint256 amount);
    /// @notice Assets LPs can take out now: book value (never more than the pool's realised cash) less
    ///         locked liquidity.
    function availableLiquidity() external view returns (uint256);

    /// @notice Pulls `amount` tokens from `from` and credits account margin. Engine only.
    function depositMargin(uint256 accountId, address from, uint256 amount) external;

    /// @notice Debits account margin and sends `amount` tokens to `to`. Engine only; the engine has
    ///         already checked initial margin.
    function withdrawMargin(uint256 accountId, address to, uint256 amount) external;

    /// @notice Settles realised PnL (positive: the pool pays the trader) and a fee against an account.
    ///         A loss larger than the margin leaves the margin at zero and returns the rest as
    ///         `shortfallWad` (bad debt) for the engine to route. A fee the remaining margin cannot pay
    ///         is forgone: `feePaidWad` is what was charged. Engine only.
    function settle(
        uint256 accountId,
        int256 pnlWad,
        uint256 feeWad
    ) external returns (uint256 marginWad, uint256 shortfallWad, uint256 feePaidWad);

    /// @notice Takes a liquidation penalty from an account's margin: `keeperWad` credited to the keeper's
    ///         claimable rewards, `insuranceWad` owed to the insurance fund (flushed lazily). Takes what
    ///         the margin holds, keeper first. Liquidation engine only.
    function chargePenalty(
        uint256 accountId,
        address keeper,
        uint256 keeperWad,
        uint256 insuranceWad
    ) external returns (uint256 keeperPaidWad, uint256 insurancePaidWad);

    /// @notice A liquidation leg's settlement and the tranche's penalty in one call: settles `pnlWad`
    ///         exactly as `settle` with no fee, then, when `keeperWad` or `insuranceWad` is non-zero, takes
    ///         the penalty exactly as `chargePenalty` does, but without PenaltyCharged: the liquidation
    ///         engine's TrancheLiquidated events record the tranche's penalty (their `penalty` fields sum to
    ///         it). Emits ProfitShortfall when a profit is cut. One call instead of two saves the second
    ///         call's dispatch, guard and margin write on every tranche. Engine only; with a penalty the
    ///         engine must also be the liquidation engine (the modules run at the engine's address).
    function settleLiquidation(
        uint256 accountId,
        int256 pnlWad,
        address keeper,
        uint256 keeperWad,
        uint256 insuranceWad
    ) external returns (uint256 shortfallWad, uint256 keeperPaidWad, uint256 insurancePaidWad);

    /// @notice Pulls `amount` tokens from the insurance fund into the LP pool (bad-debt cover).
    ///         Insurance fund only.
    function receiveCover(uint256 amount) external;

    /// @notice Sends the caller's accrued keeper rewards (whole token units) to `to`.
    function claimKeeperRewards(address to) external returns (uint256 amount);

    /// @notice Moves the insurance fund's share of protocol fees and the penalties owed to it into the
    ///         fund (whole token units). Permissionless.
    function flushInsurance() external returns (uint256 amount);

    function marginOf(uint256 accountId) external view returns (uint256 marginWad);
    function keeperRewardsOf(address keeper) external view returns (uint256 rewardsWad);
    /// @notice What the insurance fund is owed and has not been sent yet, including its fee share (WAD).
    function insurancePendingWad() external view returns (uint256);
    /// @notice The insurance ledger alone (penalty shares and fee shares already set aside), WAD: with
    ///         margins, the LP pool, protocol fees and keeper rewards, what the vault's tokens back.
    function insuranceLedgerWad() external view returns (uint256);
    /// @notice Whole token units claimProtocolFees would pay now.
    function claimableProtocolFees() external view returns (uint256);
    function lpPoolWad() external view returns (uint256);
    function protocolFeesWad() external view returns (uint256);
    /// @notice Liquidity the LPs cannot withdraw because open positions need it (token units).
    function lockedLiquidity() external view returns (uint256 assets);
    function engine() external view returns (address);
    /// @notice The liquidation engine (may charge penalties), set once by wireLiquidation.
    function liquidationEngine() external view returns (address);
    /// @notice The insurance fund (receives penalty shares, pays cover), set once by wireLiquidation.
    function insuranceFund() external view returns (address);
    /// @notice 10 ** (18 - token decimals): token units -> WAD.
    function SCALE() external view returns (uint256);

    /// @notice Seconds LP shares stay locked after the deposit that minted them (GOVERNOR, bounded):
    ///         an LP cannot enter and leave around a trade, a price round or a recovery.
    function lpLockup() external view returns (uint32);

    /// @notice LP shares of `owner` still locked now (0 once `lpUnlockAt(owner)` has passed).
    function lockedLpShares(address owner) external view returns (uint256);

    /// @notice When `owner`'s locked LP shares unlock (0 if none were ever locked).
    function lpUnlockAt(address owner) external view returns (uint256);
}
