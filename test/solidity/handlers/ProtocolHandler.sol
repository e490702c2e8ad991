// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {CommonBase} from "forge-std/Base.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {Vault} from "../../../contracts/vault/Vault.sol";
import {IPerpEngine} from "../../../contracts/interfaces/IPerpEngine.sol";
import {IVault} from "../../../contracts/interfaces/IVault.sol";
import {MockAggregator} from "../../../contracts/mocks/MockAggregator.sol";
import {MockUSDC} from "../../../contracts/mocks/MockUSDC.sol";
import {OracleAdapter} from "../../../contracts/oracle/OracleAdapter.sol";
import {WAD} from "../../../contracts/libraries/Constants.sol";

/// @notice Drives the protocol with bounded random actions from a fixed set of traders and LPs, and
///         keeps ghost state (token flows, per-trader net deposits, per-action outcomes) for the
///         invariants to check against.
/// @dev Every action is counted. A legitimate refusal (not enough margin, open-interest cap, ...) is
///      caught and counted under its error selector; any other revert is recorded as unexpected, and
///      an invariant fails on it. Actions never revert themselves, so the run always continues.
contract ProtocolHandler is CommonBase, StdUtils {
    enum Action {
        DepositMargin,
        WithdrawMargin,
        OpenPosition,
        ModifyPosition,
        ReducePosition,
        ClosePosition,
        MovePrice,
        Warp,
        LpDeposit,
        LpWithdraw,
        LpRedeem,
        Accrue,
        UpdateVolatility,
        ClaimProtocolFees,
        Donate
    }

    uint256 public constant ACTION_COUNT = 15;

    struct ActionStats {
        uint256 calls;
        uint256 successes;
        uint256 reverts; // expected refusals
        uint256 skips; // nothing sensible to do in this state (e.g. closing without a position)
    }

    struct Market {
        uint256 id;
        bytes32 feedId;
        MockAggregator feed;
        int256 minAnswer; // the random walk stays within [minAnswer, maxAnswer]
        int256 maxAnswer;
    }

    uint256 internal constant BPS = 10_000;

    uint256 public constant MAX_PRICE_MOVE_BPS = 1_500;
    uint256 public constant MAX_WARP = 2 hours;
    uint256 public constant MAX_MARGIN_DEPOSIT = 1_000_000e6;
    uint256 public constant MAX_LP_DEPOSIT = 2_000_000e6;
    uint256 public constant MAX_DONATION = 100_000e6;
    /// @dev openPosition sizes trades to at most this leverage on the account's free margin, so that most
    ///      pass the initial-margin check (initial margin is about 3.2% of notional at launch sigma).
    uint256 public constant SIZING_LEVERAGE = 15;
    /// @dev Rounds folded per updateVolatility call, at most (the adapter caps it at 64).
    uint256 public constant MAX_VOL_ROUNDS = 64;

    MockUSDC public immutable usdc;
    OracleAdapter public immutable oracle;
    Vault public immutable vault;
    PerpEngine public immutable engine;
    address public immutable governor;
    address public immutable treasury;
    address public immutable donor;
    uint256 public immutable SCALE;

    Market[] internal _markets;
    address[] internal _traders;
    uint256[] internal _accountIds;
    mapping(uint256 accountId => address trader) public ownerOf;
    address[] internal _lps;

    // ------------------------------------------------------------------ ghost state (token units)

    /// @notice Margin deposited minus margin withdrawn, per trader.
    mapping(address trader => int256 net) public ghost_netMarginDeposits;
    /// @notice USDC minted to each trader or LP by the handler (their wallets start empty).
    mapping(address user => uint256 minted) public ghost_minted;
    uint256 public ghost_marginDeposited;
    uint256 public ghost_marginWithdrawn;
    uint256 public ghost_lpDeposited;
    uint256 public ghost_lpWithdrawn;
    uint256 public ghost_feesClaimed;
    /// @notice Tokens sent straight to the vault: nobody's claim, so not in any ledger.
    uint256 public ghost_donated;
    /// @notice Positions closed while the account's equity was negative (losses beyond the margin).
    uint256 public ghost_underwaterCloses;

    mapping(Action => ActionStats) internal _stats;
    mapping(Action => mapping(bytes4 selector => uint256 count)) public revertsBySelector;
    bytes4[] internal _seenSelectors;
    mapping(bytes4 selector => bool) internal _seen;

    uint256 public ghost_unexpectedReverts;
    /// @dev Set by the first crash or volatility update of a run: from then on a sized trade may be refused
    ///      for good reasons (the account fell under water, initial margin rose past SIZING_LEVERAGE), so
    ///      the run's sanity check counts only the open attempts made before it.
    bool public disrupted;
    uint256 public calmOpenAttempts;
    uint256 public calmOpenSuccesses;
    Action public lastUnexpectedAction;
    bytes public lastUnexpectedRevert;

    constructor(
        MockUSDC usdc_,
        OracleAdapter oracle_,
        Vault vault_,
        PerpEngine engine_,
        address governor_,
        Market[] memory markets_,
        address[] memory traders_,
        uint256 accountsPerTrader,
        address[] memory lps_,
        uint256 initialMargin,
        uint256 initialLiquidity
    ) {
        usdc = usdc_;
        oracle = oracle_;
        vault = vault_;
        engine = engine_;
        governor = governor_;
        treasury = address(uint160(uint256(keccak256("handler.treasury"))));
        donor = address(uint160(uint256(keccak256("handler.donor"))));
        SCALE = vault_.SCALE();
        for (uint256 i = 0; i < markets_.length; ++i) {
            _markets.push(markets_[i]);
        }
        _lps = lps_;
        for (uint256 i = 0; i < lps_.length; ++i) {
            vm.prank(lps_[i]);
            usdc.approve(address(vault), type(uint256).max);
        }
        _traders = traders_;
        for (uint256 i = 0; i < traders_.length; ++i) {
            address trader = traders_[i];
            vm.prank(trader);
            usdc.approve(address(vault), type(uint256).max);
            for (uint256 j = 0; j < accountsPerTrader; ++j) {
                vm.prank(trader);
                uint256 accountId = engine.createAccount();
                _accountIds.push(accountId);
                ownerOf[accountId] = trader;
            }
        }

        // Seeding goes through the same paths as the actions, so the ghost flows include it.
        if (initialLiquidity != 0) {
            _mint(lps_[0], initialLiquidity);
            vm.prank(lps_[0]);
            vault.deposit(initialLiquidity, lps_[0]);
            ghost_lpDeposited += initialLiquidity;
        }
        for (uint256 i = 0; i < _accountIds.length && initialMargin != 0; ++i) {
            uint256 accountId = _accountIds[i];
            address trader = ownerOf[accountId];
            _mint(trader, initialMargin);
            vm.prank(trader);
            engine.deposit(accountId, initialMargin);
            _creditMargin(trader, initialMargin);
        }
    }

    // ================================================================== trader actions

    function depositMargin(uint256 accountSeed, uint256 amountSeed) external {
        _countCall(Action.DepositMargin);
        (uint256 accountId, address trader) = _account(accountSeed);
        uint256 amount = bound(amountSeed, 1, MAX_MARGIN_DEPOSIT);
        _mint(trader, amount);

        vm.prank(trader);
        try engine.deposit(accountId, amount) {
            _creditMargin(trader, amount);
            _countSuccess(Action.DepositMargin);
        } catch (bytes memory reason) {
            _countRevert(Action.DepositMargin, reason);
        }
    }

    /// @dev Any amount up to the whole margin: the engine decides what is free.
    function withdrawMargin(uint256 accountSeed, uint256 amountSeed) external {
        _countCall(Action.WithdrawMargin);
        (uint256 accountId, address trader) = _account(accountSeed);
        uint256 balance = vault.marginOf(accountId) / SCALE;
        if (balance == 0) return _countSkip(Action.WithdrawMargin);
        uint256 amount = bound(amountSeed, 1, balance);

        vm.prank(trader);
        try engine.withdraw(accountId, amount, trader) {
            ghost_marginWithdrawn += amount;
            ghost_netMarginDeposits[trader] -= int256(amount);
            _countSuccess(Action.WithdrawMargin);
        } catch (bytes memory reason) {
            _countRevert(Action.WithdrawMargin, reason);
        }
    }

    /// @dev A trade sized to at most SIZING_LEVERAGE times the account's free margin, either side (so it
    ///      may also reduce or flip the position). Skipped when there is no free margin.
    function openPosition(uint256 accountSeed, uint256 marketSeed, uint256 sizeSeed, bool isBuy) external {
        _countCall(Action.OpenPosition);
        (uint256 accountId, address trader) = _account(accountSeed);
        Market memory market = _market(marketSeed);
        uint256 cap = Math.min(engine.marketConfig(market.id).maxTradeSize, _leveragedSize(accountId, market));
        if (cap == 0) return _countSkip(Action.OpenPosition);
        uint256 floor = _minSize(market);
        if (floor > cap) return _countSkip(Action.OpenPosition);
        bool calm = !disrupted;
        if (calm) ++calmOpenAttempts;
        bool filled = _trade(
            Action.OpenPosition,
            accountId,
            trader,
            market.id,
            _signed(bound(sizeSeed, floor, cap), isBuy)
        );
        if (calm && filled) ++calmOpenSuccesses;
    }

    /// @dev Any size within the trade cap, either side, whatever the margin: the engine decides.
    function modifyPosition(uint256 accountSeed, uint256 marketSeed, uint256 sizeSeed, bool isBuy) external {
        _countCall(Action.ModifyPosition);
        (uint256 accountId, address trader) = _account(accountSeed);
        Market memory market = _market(marketSeed);
        uint256 cap = engine.marketConfig(market.id).maxTradeSize;
        uint256 floor = Math.min(_minSize(market), cap);
        _trade(Action.ModifyPosition, accountId, trader, market.id, _signed(bound(sizeSeed, floor, cap), isBuy));
    }

    /// @dev Shrinks an open position by part of its size (never to zero): never adds risk, so it must
    ///      go through whatever the account's health.
    function reducePosition(uint256 accountSeed, uint256 marketSeed, uint256 sizeSeed) external {
        _countCall(Action.ReducePosition);
        (bool found, uint256 accountId, address trader, uint256 marketId, int256 size) = _findPosition(
            accountSeed,
            marketSeed
        );
        uint256 absSize = found ? _abs(size) : 0;
        if (absSize < 2) return _countSkip(Action.ReducePosition);
        _trade(Action.ReducePosition, accountId, trader, marketId, _signed(bound(sizeSeed, 1, absSize - 1), size < 0));
    }

    /// @dev Closes the first open position found from the chosen account and market on.
    function closePosition(uint256 accountSeed, uint256 marketSeed) external {
        _countCall(Action.ClosePosition);
        (bool found, uint256 accountId, address trader, uint256 marketId, int256 size) = _findPosition(
            accountSeed,
            marketSeed
        );
        if (!found) return _countSkip(Action.ClosePosition);
        bool underwater = engine.accountSummary(accountId).equity < 0;
        vm.prank(trader);
        try engine.closePosition(accountId, marketId, _limitPrice(-size)) {
            if (underwater) ++ghost_underwaterCloses;
            _countSuccess(Action.ClosePosition);
        } catch (bytes memory reason) {
            _countRevert(Action.ClosePosition, reason);
        }
    }

    // ================================================================== market actions

    /// @dev Moves a feed by at most MAX_PRICE_MOVE_BPS in a new round stamped now (so it stays fresh).
    function movePrice(uint256 marketSeed, int256 moveSeed) external {
        _countCall(Action.MovePrice);
        Market memory market = _market(marketSeed);
        int256 moveBps = bound(moveSeed, -int256(MAX_PRICE_MOVE_BPS), int256(MAX_PRICE_MOVE_BPS));
        (, int256 answer, , , ) = market.feed.latestRoundData();
        int256 next = (answer * (int256(BPS) + moveBps)) / int256(BPS);
        if (next < market.minAnswer) next = market.minAnswer;
        if (next > market.maxAnswer) next = market.maxAnswer;
        market.feed.updateAnswer(next);
        _countSuccess(Action.MovePrice);
    }

    /// @dev Time passes (funding accrues, the maintenance term ramps), then every feed answers again so
    ///      that nothing is stale: staleness is the oracle tests' business, not this suite's.
    function warp(uint256 secondsSeed) external {
        _countCall(Action.Warp);
        uint256 dt = bound(secondsSeed, 1, MAX_WARP);
        vm.warp(block.timestamp + dt);
        vm.roll(block.number + 1);
        for (uint256 i = 0; i < _markets.length; ++i) {
            MockAggregator feed = _markets[i].feed;
            (, int256 answer, , , ) = feed.latestRoundData();
            feed.updateAnswer(answer);
        }
        _countSuccess(Action.Warp);
    }

    function accrue(uint256 marketSeed) external {
        _countCall(Action.Accrue);
        Market memory market = _market(marketSeed);
        try engine.accrue(market.id) {
            _countSuccess(Action.Accrue);
        } catch (bytes memory reason) {
            _countRevert(Action.Accrue, reason);
        }
    }

    /// @dev Permissionless; changes sigma and with it initial margin and fees.
    function updateVolatility(uint256 marketSeed, uint256 roundsSeed) external {
        _countCall(Action.UpdateVolatility);
        Market memory market = _market(marketSeed);
        uint256 rounds = bound(roundsSeed, 1, MAX_VOL_ROUNDS);
        try oracle.updateVolatility(market.feedId, rounds) {
            disrupted = true;
            _countSuccess(Action.UpdateVolatility);
        } catch (bytes memory reason) {
            _countRevert(Action.UpdateVolatility, reason);
        }
    }

    // ================================================================== LP actions

    function lpDeposit(uint256 lpSeed, uint256 amountSeed) external {
        _countCall(Action.LpDeposit);
        address lp = _lp(lpSeed);
        uint256 amount = bound(amountSeed, 1, MAX_LP_DEPOSIT);
        _mint(lp, amount);

        vm.prank(lp);
        try vault.deposit(amount, lp) {
            ghost_lpDeposited += amount;
            _countSuccess(Action.LpDeposit);
        } catch (bytes memory reason) {
            _countRevert(Action.LpDeposit, reason);
        }
    }

    /// @dev Within maxWithdraw, so ERC-4626 says it must not revert.
    function lpWithdraw(uint256 lpSeed, uint256 amountSeed) external {
        _countCall(Action.LpWithdraw);
        address lp = _lp(lpSeed);
        uint256 max = vault.maxWithdraw(lp);
        if (max == 0) return _countSkip(Action.LpWithdraw);
        uint256 amount = bound(amountSeed, 1, max);

        vm.prank(lp);
        try vault.withdraw(amount, lp, lp) {
            ghost_lpWithdrawn += amount;
            _countSuccess(Action.LpWithdraw);
        } catch (bytes memory reason) {
            _countRevert(Action.LpWithdraw, reason);
        }
    }

    /// @dev Within maxRedeem; only a redemption worth zero assets may be refused.
    function lpRedeem(uint256 lpSeed, uint256 sharesSeed) external {
        _countCall(Action.LpRedeem);
        address lp = _lp(lpSeed);
        uint256 max = vault.maxRedeem(lp);
        if (max == 0) return _countSkip(Action.LpRedeem);
        uint256 shares = bound(sharesSeed, 1, max);

        vm.prank(lp);
        try vault.redeem(shares, lp, lp) returns (uint256 assets) {
            ghost_lpWithdrawn += assets;
            _countSuccess(Action.LpRedeem);
        } catch (bytes memory reason) {
            _countRevert(Action.LpRedeem, reason);
        }
    }

    // ================================================================== others

    function claimProtocolFees() external {
        _countCall(Action.ClaimProtocolFees);
        // With an insurance fund wired, the claim first sets aside the fund's share of new fees.
        if (vault.claimableProtocolFees() == 0) return _countSkip(Action.ClaimProtocolFees);

        vm.prank(governor);
        try vault.claimProtocolFees(treasury) returns (uint256 amount) {
            ghost_feesClaimed += amount;
            _countSuccess(Action.ClaimProtocolFees);
        } catch (bytes memory reason) {
            _countRevert(Action.ClaimProtocolFees, reason);
        }
    }

    /// @dev A plain transfer to the vault: it must neither break the books nor move the share price.
    function donate(uint256 amountSeed) external {
        _countCall(Action.Donate);
        uint256 amount = bound(amountSeed, 1, MAX_DONATION);
        usdc.mint(donor, amount);
        vm.prank(donor);
        // MockUSDC is OpenZeppelin's ERC20: transfer reverts on failure rather than returning false.
        usdc.transfer(address(vault), amount);
        ghost_donated += amount;
        _countSuccess(Action.Donate);
    }

    // ================================================================== views for the invariants

    function accountIds() external view returns (uint256[] memory) {
        return _accountIds;
    }

    function traders() external view returns (address[] memory) {
        return _traders;
    }

    function lps() external view returns (address[] memory) {
        return _lps;
    }

    function marketIds() external view returns (uint256[] memory ids) {
        ids = new uint256[](_markets.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            ids[i] = _markets[i].id;
        }
    }

    function stats(Action action) external view returns (ActionStats memory) {
        return _stats[action];
    }

    function seenSelectors() external view returns (bytes4[] memory) {
        return _seenSelectors;
    }

    /// @notice Names for logs, in Action order.
    function actionName(Action action) public pure returns (string memory) {
        string[15] memory names = [
            "depositMargin",
            "withdrawMargin",
            "openPosition",
            "modifyPosition",
            "reducePosition",
            "closePosition",
            "movePrice",
            "warp",
            "lpDeposit",
            "lpWithdraw",
            "lpRedeem",
            "accrue",
            "updateVolatility",
            "claimProtocolFees",
            "donate"
        ];
        return names[uint256(action)];
    }

    // ================================================================== internals

    function _account(uint256 seed) internal view returns (uint256 accountId, address trader) {
        accountId = _accountIds[seed % _accountIds.length];
        trader = ownerOf[accountId];
    }

    function _market(uint256 seed) internal view returns (Market memory) {
        return _markets[seed % _markets.length];
    }

    function _lp(uint256 seed) internal view returns (address) {
        return _lps[seed % _lps.length];
    }

    /// @dev The limit price never binds: the fill is what the skew makes it.
    function _trade(
        Action action,
        uint256 accountId,
        address trader,
        uint256 marketId,
        int256 sizeDelta
    ) internal returns (bool filled) {
        vm.prank(trader);
        try engine.modifyPosition(accountId, marketId, sizeDelta, _limitPrice(sizeDelta)) {
            _countSuccess(action);
            return true;
        } catch (bytes memory reason) {
            _countRevert(action, reason);
        }
    }

    /// @notice Called by the liquidation handler's crash: see `disrupted`. Not a fuzzed action.
    function markDisrupted() external {
        disrupted = true;
    }

    /// @dev Scans accounts (then markets) from the seeded ones for an open position.
    function _findPosition(
        uint256 accountSeed,
        uint256 marketSeed
    ) internal view returns (bool found, uint256 accountId, address trader, uint256 marketId, int256 size) {
        uint256 accounts = _accountIds.length;
        uint256 markets = _markets.length;
        for (uint256 i = 0; i < accounts; ++i) {
            accountId = _accountIds[((accountSeed % accounts) + i) % accounts];
            for (uint256 k = 0; k < markets; ++k) {
                marketId = _markets[((marketSeed % markets) + k) % markets].id;
                size = engine.position(accountId, marketId).size;
                if (size != 0) return (true, accountId, ownerOf[accountId], marketId, size);
            }
        }
        return (false, 0, address(0), 0, 0);
    }

    function _signed(uint256 absSize, bool positive) internal pure returns (int256) {
        return positive ? int256(absSize) : -int256(absSize);
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _limitPrice(int256 sizeDelta) internal pure returns (uint256) {
        return sizeDelta > 0 ? type(uint256).max : 0;
    }

    /// @dev Size (WAD) worth SIZING_LEVERAGE times the account's margin above its initial requirement.
    function _leveragedSize(uint256 accountId, Market memory market) internal view returns (uint256) {
        IPerpEngine.AccountSummary memory s = engine.accountSummary(accountId);
        int256 free = s.equity - int256(s.initialMargin);
        if (free <= 0) return 0;
        (uint256 price, ) = oracle.getPrice(market.feedId);
        return Math.mulDiv(uint256(free) * SIZING_LEVERAGE, WAD, price);
    }

    function _mint(address to, uint256 amount) internal {
        usdc.mint(to, amount);
        ghost_minted[to] += amount;
    }

    function _creditMargin(address trader, uint256 amount) internal {
        ghost_marginDeposited += amount;
        ghost_netMarginDeposits[trader] += int256(amount);
    }

    function _countCall(Action action) internal {
        ++_stats[action].calls;
    }

    function _countSuccess(Action action) internal {
        ++_stats[action].successes;
    }

    function _countSkip(Action action) internal {
        ++_stats[action].skips;
    }

    function _countRevert(Action action, bytes memory reason) internal {
        bytes4 selector = reason.length >= 4 ? bytes4(reason) : bytes4(0);
        ++revertsBySelector[action][selector];
        if (!_seen[selector]) {
            _seen[selector] = true;
            _seenSelectors.push(selector);
        }
        if (_isExpected(action, selector)) {
            ++_stats[action].reverts;
        } else {
            ++ghost_unexpectedReverts;
            lastUnexpectedAction = action;
            lastUnexpectedRevert = reason;
        }
    }

    /// @dev The least size a trade opening a position may have: the engine refuses a risk-adding trade that
    ///      leaves a position below the minimum notional (PositionBelowMinimum), $100 by default; $110 here.
    function _minSize(Market memory market) internal view returns (uint256) {
        (uint256 price, ) = oracle.latestPrice(market.feedId);
        return Math.mulDiv(110e18, 1e18, price, Math.Rounding.Ceil);
    }

    /// @dev The refusals each action may legitimately meet in the states this handler creates. Anything
    ///      else (a panic, a SafeCast overflow, LiquidityLocked within maxWithdraw, a failing close) is a
    ///      finding.
    function _isExpected(Action action, bytes4 selector) internal pure returns (bool) {
        if (action == Action.WithdrawMargin) return selector == IPerpEngine.InsufficientFreeMargin.selector;
        if (action == Action.OpenPosition || action == Action.ModifyPosition) {
            return
                selector == IPerpEngine.MarginBelowInitial.selector ||
                selector == IPerpEngine.PositionBelowMinimum.selector ||
                selector == IPerpEngine.OpenInterestCapExceeded.selector ||
                selector == IPerpEngine.AccountUnderwater.selector;
        }
        // A voluntary trade may not leave bad debt: an underwater account is left to the liquidation engine.
        if (action == Action.ReducePosition || action == Action.ClosePosition) {
            return selector == IPerpEngine.AccountUnderwater.selector;
        }
        // A deposit into a book at or below zero would buy the pool's deficit: refused.
        if (action == Action.LpDeposit && selector == IVault.LpBookValueNotPositive.selector) return true;
        // Deposits and redemptions so small that they round to zero shares or assets.
        if (action == Action.LpRedeem) return selector == IVault.ZeroAmount.selector;
        // ... and no LP entry while bad debt waits for auto-deleveraging (the liquidation handler's crashes).
        if (action == Action.LpDeposit) {
            return
                selector == IVault.ZeroAmount.selector || selector == IVault.LpEntryClosedWhileDeficitPending.selector;
        }
        return false;
    }
}
