// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IBoundedParameters} from "../libraries/Bounds.sol";

/// @title IBackstopTypes
/// @notice The backstop's parameters, state, errors and events, shared by IBackstop (the module that
///         takes over and unwinds) and IBackstopConfigurator (its governance, served by
///         LiquidationConfigurator).
interface IBackstopTypes is IBoundedParameters {
    /// @notice Governed parameters (all WAD ratios unless stated).
    struct BackstopConfig {
        uint64 feeRate; // fee on the notional taken over (at most half the margin left), trader -> vault
        uint64 accountShare; // one takeover's notional <= accountShare * vault equity
        uint64 marketShare; // vault notional in a market <= marketShare * equity * refSigma / max(sigma, refSigma)
        uint64 refSigma; // annualised volatility at which marketShare applies in full
        uint64 depthShare; // vault notional in a market <= depthShare * market depth (skewScale * price)
        uint64 totalShare; // vault notional in all markets <= totalShare * vault equity
        uint64 maxDrawdown; // takeovers stop once the share price is this far below its window's peak
        uint32 drawdownWindow; // seconds: the peak is the highest share price seen in this window
        uint64 impactBudget; // unwind: decayed forced flow + tranche window use <= budget * depth
        uint32 flowHalfLife; // seconds: half-life of the forced-flow measure
        // seconds: inventory older than this unwinds with lateMultiplier times the budget; a takeover of an
        // account above the backstop may not take a market's inventory past what the unwind sells in this time
        // at its budget (the "unwind" cap; below the backstop a decline would sell the account at once)
        uint32 maxHold;
        uint64 lateMultiplier; // >= 1
        // <= maxDrawdown (0: off): once the share price is this far below the drawdown breaker's peak, the
        // ADL keeper may close the vault's inventory against the most profitable opposite positions at the
        // oracle price (IAutoDeleveraging.deleverageBackstop), with no sale into the market
        uint64 adlDrawdown;
        // <= maxDrawdown (0: the vault pays none): the vault's account pays a takeover's bad debt the insurance
        // fund cannot cover while its share price stays less than this far below the breaker's peak
        // (IAutoDeleveraging.backstopBadDebt); the rest of the budget carries its inventory
        uint64 badDebtDrawdown;
    }

    /// @notice The vault, its engine account and the drawdown breaker's state.
    struct BackstopState {
        address vault; // the BackstopVault (0: takeovers off)
        uint40 peakAt; // start of the drawdown window
        uint64 accountId; // the vault's engine account
        uint128 peakSharePrice; // highest share price in the window (assets per 1e18 shares, WAD)
    }

    /// @notice The decaying measure of the protocol's own forced flow in one market (quote notional).
    struct Flow {
        uint128 amount; // WAD, as of `at`
        uint40 at;
        uint40 inventorySince; // when the vault's inventory in the market was opened (0: none)
        // when an unwind first found the vault at maxDrawdown with this inventory (0: not yet): until one
        // tranche cooldown after it, the edge leaves what the other side's open interest could take to
        // deleverageBackstop
        uint40 edgeAt;
    }

    error NotSelf(address caller);
    error BackstopNotSet();
    error BackstopAlreadySet(address vault);
    error NotBackstopAccountOwner(uint256 accountId, address owner, address vault);
    error NothingToUnwind(uint256 marketId);
    error UnwindBudgetExhausted(uint256 marketId, uint256 usedWad, uint256 budgetWad);
    /// @notice A takeover that does not fit (the self-call reverts with it and the liquidation engine
    ///         closes the account as before): which cap ("account", "total", "market", "unwind": for an
    ///         account above the backstop, the market's inventory past what the unwind sells within `maxHold`
    ///         at its budget, "vaultHealth",
    ///         "vaultMargin"), the value and the limit.
    error TakeoverCapExceeded(bytes32 cap, uint256 value, uint256 limit);
    /// @notice A takeover's bad debt that neither the insurance fund (`coveredWad` of `badDebtWad`) nor the
    ///         vault's loss budget can pay: the account goes to the backstop close.
    error TakeoverUncovered(uint256 badDebtWad, uint256 coveredWad);

    event BackstopVaultSet(address indexed vault, uint256 indexed accountId);
    event BackstopConfigSet(BackstopConfig config);
    /// @notice One position of `accountId` moved to the vault's account at `price` (no sale).
    event PositionTakenOver(
        uint256 indexed accountId,
        uint256 indexed marketId,
        int256 size,
        uint256 price,
        int256 traderRealised,
        int256 vaultRealised
    );
    /// @notice An account's takeover: fee to the vault, keeper reward, bad debt covered by the insurance
    ///         fund and the margin the trader keeps.
    event AccountTakenOver(
        uint256 indexed accountId,
        address indexed keeper,
        uint256 notional,
        uint256 feeWad,
        uint256 keeperWad,
        uint256 badDebtCoveredWad,
        uint256 marginLeftWad
    );
    /// @notice The vault sold `sizeDelta` of its inventory at the oracle price.
    event BackstopUnwound(
        uint256 indexed marketId,
        address indexed caller,
        int256 sizeDelta,
        uint256 price,
        uint256 notional,
        int256 realised,
        bool late
    );
    /// @notice An unwind while the vault's share price is `drawdownWad` below the drawdown breaker's peak:
    ///         the impact budget was `budgetWad` (raised by the loss ramp, or the whole inventory at
    ///         maxDrawdown).
    event BackstopLossUnwind(uint256 indexed marketId, uint256 drawdownWad, uint256 budgetWad);
    /// @notice An unwind found the vault at maxDrawdown in `marketId` with deleveraging on: until `until`, the
    ///         edge sells at once only the inventory beyond the other side's open interest (what no opposite
    ///         position can take), and leaves the rest to deleverageBackstop; from then on, all of it.
    event BackstopEdgeReached(uint256 indexed marketId, uint256 until);
    /// @notice The drawdown breaker's peak moved (a new window or a higher share price).
    event BackstopPeakSet(uint256 sharePrice, uint256 at);
    /// @notice Takeovers refused because the vault's share price fell past maxDrawdown.
    event BackstopHalted(uint256 sharePrice, uint256 peakSharePrice);
    /// @notice The vault's account paid `amountWad` of the bad debt of `accountId`'s takeover, what the
    ///         insurance fund could not cover (within its loss budget, below its deleveraging trigger).
    event BackstopBadDebtPaid(uint256 indexed accountId, uint256 amountWad);
    /// @notice Past the loss budget's edge, the insurance fund paid `paidWad` of the `neededWad` that puts the
    ///         vault's share price back at the edge, credited to the vault's account (an unwind in `marketId`).
    event BackstopBacked(uint256 indexed marketId, uint256 neededWad, uint256 paidWad);
    /// @notice The vault's own inventory went bankrupt while unwinding: covered by the insurance fund,
    ///         the rest queued for auto-deleveraging.
    event BackstopLoss(uint256 indexed marketId, uint256 shortfallWad, uint256 coveredWad);
}

/// @title IBackstop
/// @notice The backstop takeover and the paced unwind, served at the engine's address by the
///         BackstopModule (a module of PerpEngine, after LiquidationConfigurator in the fall-through
///         order). An account below maintenance has its positions transferred at the oracle
///         price to the backstop vault's own engine account (no sale, no price move, open interest and
///         skew unchanged), pays a backstop fee to the vault and keeps the rest of its margin; what does
///         not fit the caps goes through the liquidation engine's tranches and backstop close. The vault's
///         inventory is then sold by a permissionless `unwind(market)` within an impact budget.
interface IBackstop is IBackstopTypes {
    /// @notice Takes over `accountId` if it is below maintenance and fits every cap; returns the notional
    ///         taken over, or 0 when the backstop is off, the account is not liquidatable (or is the vault's
    ///         own), or the drawdown breaker has stopped takeovers. Reverts (the whole takeover undone) when
    ///         a cap does not fit: the liquidation engine's tranche or backstop close then goes as without a
    ///         vault. Callable only by the engine itself (the liquidation engine's self-call).
    function backstopTakeover(uint256 accountId, address keeper) external returns (uint256 notional);

    /// @notice Sells the vault's inventory in `marketId` at the oracle price, as much as the market's
    ///         impact budget has room for (`lateMultiplier` times more once the inventory is older than
    ///         `maxHold`). The budget also grows with the vault's loss (the loss ramp): while its share
    ///         price is `drawdown` below the drawdown breaker's peak (within the breaker's window), the budget
    ///         is multiplied by (maxDrawdown / (maxDrawdown - drawdown))^2, at most by `lateMultiplier`; at
    ///         `maxDrawdown` or beyond, the whole inventory is sold at once; with deleveraging on
    ///         (`adlDrawdown` > 0), for one tranche cooldown after the first unwind at that edge
    ///         (`BackstopEdgeReached`) only what the other side's open interest cannot take is sold at once
    ///         (with at least the budget's room at `lateMultiplier`), the rest left to deleverageBackstop,
    ///         which closes it with no sale. So the vault's loss is bounded by its budget plus one unwind
    ///         step's move (and one cooldown's, on what the other side could take), on any path. Emits
    ///         `BackstopUnwound` (and `BackstopLossUnwind` while in drawdown). Permissionless. Returns the
    ///         notional sold.
    function unwind(uint256 marketId) external returns (uint256 notional);
}

/// @title IBackstopFlow
/// @notice The forced-flow measure the unwind paces by, at the engine's address (served by AutoDeleveraging,
///         on the same storage: BackstopModule had no room for the view).
interface IBackstopFlow {
    /// @notice The forced-flow measure of `marketId`, decayed to now (WAD quote notional).
    function forcedFlow(uint256 marketId) external view returns (uint256);
}

/// @title IBackstopRoom
/// @notice The unwind's room, at the engine's address (served by OwnImpactModule, on the same storage:
///         BackstopModule had no room for the view).
interface IBackstopRoom {
    /// @notice What unwind(marketId) would sell now (notional, WAD), and the budget and its use.
    function unwindRoom(
        uint256 marketId
    ) external view returns (uint256 sellable, uint256 usedWad, uint256 budgetWad, bool late);
}

/// @title IBackstopConfigurator
/// @notice The backstop's governance and state, at the engine's address (LiquidationConfigurator).
interface IBackstopConfigurator is IBackstopTypes {
    /// @notice Sets the backstop vault once: it must own `accountId` (its own engine account). Governor.
    function setBackstopVault(address backstopVault, uint256 accountId) external;

    /// @notice Sets the backstop's parameters, each within its bounds. Governor.
    function setBackstopConfig(BackstopConfig calldata c) external;

    function backstopConfig() external view returns (BackstopConfig memory);

    function backstopState() external view returns (BackstopState memory);
}

/// @title IBackstopEngine
/// @notice Everything about the backstop that callers reach at the engine's address.
interface IBackstopEngine is IBackstop, IBackstopConfigurator, IBackstopFlow, IBackstopRoom {}
