// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "../../contracts/interfaces/IPerpEngine.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";
import {ProtocolFixture} from "./helpers/ProtocolFixture.sol";
import {LiquidationHandler} from "./handlers/LiquidationHandler.sol";
import {ProtocolHandler} from "./handlers/ProtocolHandler.sol";

/// @notice Stateful fuzzing of the vault's books, open interest and LP shares under random trading,
///         price moves, time, LP flows, fee claims and donations, and of the liquidation layer under
///         crashes, liquidations (single and batched), auto-deleveraging and insurance staking (see
///         ProtocolHandler for the actions).
contract VaultInvariantTest is ProtocolFixture {
    uint256 internal constant TRADERS = 4;
    uint256 internal constant ACCOUNTS_PER_TRADER = 2;
    uint256 internal constant LPS = 2;
    uint256 internal constant INITIAL_MARGIN = 100_000 * USDC;
    uint256 internal constant INITIAL_LIQUIDITY = 5_000_000 * USDC;
    /// @dev The random walk of each feed stays within [initial / band, initial * band].
    int256 internal constant PRICE_BAND = 100;
    /// @dev Per run, once this many margin-sized trades (openPosition) were attempted, at least one in
    ///      MIN_TRADE_SUCCESS_RATIO must have gone through: a run that only reverts would check nothing.
    uint256 internal constant MIN_TRADE_ATTEMPTS = 4;
    uint256 internal constant MIN_TRADE_SUCCESS_RATIO = 4;

    ProtocolHandler internal handler;
    LiquidationHandler internal liqHandler;
    uint256 internal SCALE;

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        SCALE = vault.SCALE();

        ProtocolHandler.Market[] memory markets = new ProtocolHandler.Market[](2);
        markets[0] = ProtocolHandler.Market({
            id: ETH,
            feedId: ETH_FEED,
            feed: ethFeed,
            minAnswer: ETH_INITIAL_ANSWER / PRICE_BAND,
            maxAnswer: ETH_INITIAL_ANSWER * PRICE_BAND
        });
        markets[1] = ProtocolHandler.Market({
            id: BTC,
            feedId: BTC_FEED,
            feed: btcFeed,
            minAnswer: BTC_INITIAL_ANSWER / PRICE_BAND,
            maxAnswer: BTC_INITIAL_ANSWER * PRICE_BAND
        });
        address[] memory traders = new address[](TRADERS);
        for (uint256 i = 0; i < TRADERS; ++i) {
            traders[i] = makeAddr(string.concat("trader", vm.toString(i)));
        }
        address[] memory lps = new address[](LPS);
        for (uint256 i = 0; i < LPS; ++i) {
            lps[i] = makeAddr(string.concat("lp", vm.toString(i)));
        }

        handler = new ProtocolHandler(
            usdc,
            oracle,
            vault,
            engine,
            governor,
            markets,
            traders,
            ACCOUNTS_PER_TRADER,
            lps,
            INITIAL_MARGIN,
            INITIAL_LIQUIDITY
        );

        address[] memory stakers = new address[](2);
        stakers[0] = makeAddr("staker0");
        stakers[1] = makeAddr("staker1");
        liqHandler = new LiquidationHandler(
            usdc,
            vault,
            engine,
            liquidationEngine,
            insuranceFund,
            markets,
            handler.accountIds(),
            stakers,
            handler
        );

        bytes4[] memory selectors = new bytes4[](handler.ACTION_COUNT());
        selectors[0] = ProtocolHandler.depositMargin.selector;
        selectors[1] = ProtocolHandler.withdrawMargin.selector;
        selectors[2] = ProtocolHandler.openPosition.selector;
        selectors[3] = ProtocolHandler.modifyPosition.selector;
        selectors[4] = ProtocolHandler.reducePosition.selector;
        selectors[5] = ProtocolHandler.closePosition.selector;
        selectors[6] = ProtocolHandler.movePrice.selector;
        selectors[7] = ProtocolHandler.warp.selector;
        selectors[8] = ProtocolHandler.lpDeposit.selector;
        selectors[9] = ProtocolHandler.lpWithdraw.selector;
        selectors[10] = ProtocolHandler.lpRedeem.selector;
        selectors[11] = ProtocolHandler.accrue.selector;
        selectors[12] = ProtocolHandler.updateVolatility.selector;
        selectors[13] = ProtocolHandler.claimProtocolFees.selector;
        selectors[14] = ProtocolHandler.donate.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));

        bytes4[] memory liquidationSelectors = new bytes4[](liqHandler.ACTION_COUNT());
        liquidationSelectors[0] = LiquidationHandler.liquidate.selector;
        liquidationSelectors[1] = LiquidationHandler.liquidateBatch.selector;
        liquidationSelectors[2] = LiquidationHandler.autoDeleverage.selector;
        liquidationSelectors[3] = LiquidationHandler.crash.selector;
        liquidationSelectors[4] = LiquidationHandler.insuranceStake.selector;
        liquidationSelectors[5] = LiquidationHandler.insuranceRequest.selector;
        liquidationSelectors[6] = LiquidationHandler.insuranceWithdraw.selector;
        liquidationSelectors[7] = LiquidationHandler.claimKeeperRewards.selector;
        liquidationSelectors[8] = LiquidationHandler.flushInsurance.selector;
        vm.prank(admin);
        engine.grantRole(Roles.ADL_KEEPER, address(liqHandler)); // the handler ranks as the keeper does
        targetContract(address(liqHandler));
        targetSelector(FuzzSelector({addr: address(liqHandler), selectors: liquidationSelectors}));
    }

    // ================================================================== invariants

    /// @notice token balance * SCALE == sum(margin) + lpPool + protocolFees + keeper rewards + insurance
    ///         ledger, to the wei, once direct transfers (donations: nobody's claim, never credited to a
    ///         ledger) are set aside. The insurance ledger is the vault's own (penalty shares and the fee
    ///         share already set aside), not insurancePendingWad(), which also counts the fund's share of the
    ///         protocol fees still inside protocolFees.
    function invariant_vaultBooksBalance() public view {
        assertEq(
            usdc.balanceOf(address(vault)) * SCALE,
            _ledgerTotal(_allAccounts()) +
                vault.keeperRewardsOf(liqHandler.keeper()) +
                _insuranceLedger() +
                handler.ghost_donated() * SCALE,
            "vault balance != margin + LP pool + protocol fees + keeper rewards + insurance + donations"
        );
    }

    /// @notice The vault's tokens always cover trader margin + LP pool + fees owed.
    function invariant_tokenBalanceCoversClaims() public view {
        assertGe(
            usdc.balanceOf(address(vault)) * SCALE,
            _ledgerTotal(_allAccounts()),
            "vault balance below margin + LP pool + protocol fees"
        );
    }

    /// @notice Every token that entered or left the vault went through a path the handler counted, and
    ///         reached the right wallet.
    function invariant_tokenFlowsReconcile() public view {
        int256 expected =
            int256(
                handler.ghost_marginDeposited() +
                    handler.ghost_lpDeposited() +
                    handler.ghost_donated() -
                    handler.ghost_marginWithdrawn() -
                    handler.ghost_lpWithdrawn() -
                    handler.ghost_feesClaimed() -
                    liqHandler.ghost_keeperClaimed()
            ) + liqHandler.ghost_netFundToVault();
        assertEq(int256(usdc.balanceOf(address(vault))), expected, "vault balance != ghost token flows");
        assertEq(usdc.balanceOf(handler.treasury()), handler.ghost_feesClaimed(), "treasury != fees claimed");

        int256 netDeposits;
        address[] memory traders = handler.traders();
        for (uint256 i = 0; i < traders.length; ++i) {
            int256 net = handler.ghost_netMarginDeposits(traders[i]);
            netDeposits += net;
            assertEq(
                int256(usdc.balanceOf(traders[i])),
                int256(handler.ghost_minted(traders[i])) - net,
                "trader wallet != minted - net margin deposits"
            );
        }
        assertEq(
            netDeposits,
            int256(handler.ghost_marginDeposited()) - int256(handler.ghost_marginWithdrawn()),
            "per-trader net deposits != total"
        );
    }

    /// @notice Per market, long (short) open interest is the sum of positive (negative) sizes, and an
    ///         account lists exactly the markets it holds a position in.
    function invariant_openInterestMatchesPositions() public view {
        uint256[] memory accounts = _allAccounts();
        uint256[] memory markets = handler.marketIds();
        for (uint256 k = 0; k < markets.length; ++k) {
            uint256 longs;
            uint256 shorts;
            for (uint256 i = 0; i < accounts.length; ++i) {
                int256 size = engine.position(accounts[i], markets[k]).size;
                if (size > 0) longs += uint256(size);
                else shorts += uint256(-size);
                assertEq(_listsMarket(accounts[i], markets[k]), size != 0, "account market list != positions");
            }
            IPerpEngine.MarketState memory st = engine.marketState(markets[k]);
            assertEq(st.longOpenInterest, longs, "long open interest != sum of long sizes");
            assertEq(st.shortOpenInterest, shorts, "short open interest != sum of short sizes");
        }
    }

    /// @notice Margin is a uint256, so it cannot go negative; what can go wrong is a requirement left
    ///         behind: a flat account owes no margin and its equity is its margin, an account with a
    ///         position always owes some, and initial margin is never below maintenance margin.
    function invariant_flatAccountsOweNoMargin() public view {
        uint256[] memory accounts = _allAccounts();
        uint256[] memory markets = handler.marketIds();
        for (uint256 i = 0; i < accounts.length; ++i) {
            bool flat = true;
            for (uint256 k = 0; k < markets.length; ++k) {
                if (engine.position(accounts[i], markets[k]).size != 0) flat = false;
            }
            IPerpEngine.AccountSummary memory s = engine.accountSummary(accounts[i]);
            assertEq(s.margin, vault.marginOf(accounts[i]), "summary margin != vault margin");
            assertGe(s.initialMargin, s.maintenanceMargin, "initial margin below maintenance");
            if (flat) {
                assertEq(s.maintenanceMargin, 0, "flat account owes maintenance margin");
                assertEq(s.initialMargin, 0, "flat account owes initial margin");
                assertEq(s.notional, 0, "flat account has notional");
                assertEq(s.equity, int256(s.margin), "flat account equity != margin");
                assertFalse(engine.isLiquidatable(accounts[i]), "flat account liquidatable");
            } else {
                assertGt(s.maintenanceMargin, 0, "position without maintenance margin");
            }
        }
    }

    /// @notice No shares, nothing to withdraw; and the shares never claim more than the pool's book value.
    function invariant_lpSharesBacked() public view {
        uint256 supply = vault.totalSupply();
        uint256 totalAssets = vault.totalAssets();
        address[] memory lps = handler.lps();
        uint256 claimed;
        for (uint256 i = 0; i < lps.length; ++i) {
            uint256 maxWithdraw = vault.maxWithdraw(lps[i]);
            if (supply == 0) {
                assertEq(maxWithdraw, 0, "withdrawable without shares");
                assertEq(vault.maxRedeem(lps[i]), 0, "redeemable without shares");
            }
            assertLe(maxWithdraw, vault.lpPoolWad() / SCALE, "maxWithdraw above the pool's cash");
            claimed += vault.previewRedeem(vault.balanceOf(lps[i]));
        }
        assertLe(vault.convertToAssets(supply), totalAssets, "shares worth more than total assets");
        assertLe(claimed, totalAssets, "LP redemptions worth more than total assets");
    }

    /// @notice The LP pool's liability (lpExposure's trader net PnL, from per-market aggregates) equals
    ///         the sum of the accounts' unrealised PnL net of funding, plus what closing each market's
    ///         skew gets back of its premium (the book marks skew at its closing fill), up to rounding.
    function invariant_lpExposureMatchesAccounts() public view {
        uint256[] memory accounts = _allAccounts();
        uint256[] memory markets = handler.marketIds();
        int256 sumUnrealised;
        uint256 positions;
        for (uint256 i = 0; i < accounts.length; ++i) {
            IPerpEngine.AccountSummary memory s = engine.accountSummary(accounts[i]);
            sumUnrealised += s.equity - int256(s.margin);
            for (uint256 k = 0; k < markets.length; ++k) {
                if (engine.position(accounts[i], markets[k]).size != 0) ++positions;
            }
        }
        for (uint256 k = 0; k < markets.length; ++k) {
            IPerpEngine.MarketState memory st = engine.marketState(markets[k]);
            int256 skew = int256(uint256(st.longOpenInterest)) - int256(uint256(st.shortOpenInterest));
            (uint256 price, ) = oracle.getPriceAndVolatility(engine.marketConfig(markets[k]).feedId);
            // closing the skew fills at price * (1 + skew / (2 * skewScale)): skew * (fill - price)
            int256 premium = (skew * int256(price)) / int256(2 * uint256(engine.marketConfig(markets[k]).skewScale));
            sumUnrealised += (skew * premium) / 1e18;
        }
        (int256 traderNetPnl, ) = engine.lpExposure();
        // Per position the account view floors PnL and ceils funding on its own size, the aggregate does
        // it once per market: at most one wei each way per position, plus a few per market (the premium's
        // own roundings).
        uint256 tolerance = 2 * positions + 4 * markets.length;
        assertApproxEqAbs(sumUnrealised, traderNetPnl, tolerance, "lpExposure != sum of account PnL");
    }

    // ------------------------------------------------------------------ liquidation layer

    /// @notice Every claim on the vault's tokens is backed: margins, LP pool, protocol fees, keeper rewards
    ///         and what is owed to the insurance fund.
    function invariant_claimsCovered() public view {
        assertGe(
            usdc.balanceOf(address(vault)) * SCALE,
            _ledgerTotal(_allAccounts()) + vault.keeperRewardsOf(liqHandler.keeper()) + _insuranceLedger(),
            "vault balance below margin + LP pool + fees + keeper rewards + insurance"
        );
    }

    /// @notice incurred == covered + socialised + pending, and pending is exactly the queued deficits.
    function invariant_badDebtAccounted() public view {
        assertEq(
            liquidationEngine.badDebtIncurred(),
            liquidationEngine.badDebtCovered() +
                liquidationEngine.badDebtSocialised() +
                liquidationEngine.badDebtPending(),
            "bad debt incurred != covered + socialised + pending"
        );
        uint256 queued;
        uint256[] memory markets = handler.marketIds();
        for (uint256 k = 0; k < markets.length; ++k) {
            queued +=
                liquidationEngine.pendingDeficit(markets[k], true) +
                liquidationEngine.pendingDeficit(markets[k], false);
        }
        assertEq(queued, liquidationEngine.badDebtPending(), "queued deficits != bad debt pending");
        assertEq(liqHandler.ghost_adlRecovered(), liquidationEngine.badDebtSocialised(), "ADL recovered != socialised");
    }

    /// @notice Every successful tranche (single or batched) found the account below maintenance just before.
    function invariant_noHealthyAccountLiquidated() public view {
        assertEq(liqHandler.ghost_healthyLiquidated(), 0, "a healthy account was liquidated");
    }

    /// @notice After every tranche the account is closed or strictly healthier.
    function invariant_trancheImprovesHealthOrCloses() public view {
        assertEq(liqHandler.ghost_trancheWorsened(), 0, "a tranche left the account open and no healthier");
    }

    /// @notice Auto-deleveraging takes no principal: every account it reduced is left at or above its
    ///         maintenance margin (equity, not margin: break-even fills never move margin, so a check on
    ///         margin alone could not fail), its margin untouched.
    function invariant_adlLeavesAccountsAtOrAboveMaintenance() public view {
        assertEq(liqHandler.ghost_adlBelowMaintenance(), 0, "auto-deleveraging left an account below maintenance");
    }

    /// @notice The fund's tokens are stakes in, less redemptions, covers and keeper top-ups, plus flushes;
    ///         the keeper's wallet is what it claimed from the vault plus what the fund paid it.
    function invariant_insuranceTokensReconcile() public view {
        assertEq(
            int256(usdc.balanceOf(address(insuranceFund))),
            int256(liqHandler.ghost_staked()) -
                int256(liqHandler.ghost_unstaked()) -
                liqHandler.ghost_netFundToVault() -
                int256(liqHandler.ghost_keeperPaidByFund()),
            "fund balance != stakes - redemptions - net to vault - keeper top-ups"
        );
        assertEq(
            usdc.balanceOf(liqHandler.keeper()),
            liqHandler.ghost_keeperClaimed() + liqHandler.ghost_keeperPaidByFund(),
            "keeper wallet != claimed + paid by the fund"
        );
    }

    /// @notice Only the refusals listed in ProtocolHandler._isExpected happen. The message carries the
    ///         action and the raw revert data of the last unexpected one (invariant runs print no logs).
    function invariant_noUnexpectedReverts() public view {
        assertEq(
            liqHandler.ghost_unexpectedReverts(),
            0,
            string.concat(
                "unexpected revert in ",
                liqHandler.actionName(liqHandler.lastUnexpectedAction()),
                ": ",
                vm.toString(liqHandler.lastUnexpectedRevert())
            )
        );
        assertEq(
            handler.ghost_unexpectedReverts(),
            0,
            string.concat(
                "unexpected revert in ",
                handler.actionName(handler.lastUnexpectedAction()),
                ": ",
                vm.toString(handler.lastUnexpectedRevert())
            )
        );
    }

    /// @notice After each run: trading was actually exercised (a run that only reverts checks nothing).
    /// @dev Hardhat prints no console output of invariant runs, so the evidence is an assertion.
    ///      Only the opens attempted before the run's first crash or volatility update count: after one,
    ///      every sized open may be refused legitimately (at 10,000 runs some runs crash first).
    function afterInvariant() public view {
        uint256 attempted = handler.calmOpenAttempts();
        if (attempted >= MIN_TRADE_ATTEMPTS) {
            assertGe(
                handler.calmOpenSuccesses() * MIN_TRADE_SUCCESS_RATIO,
                attempted,
                "too few trades went through before any crash"
            );
        }
    }

    // ================================================================== fuzz tests

    /// @notice Opening and closing at one index price in one block never pays the trader: the fill of
    ///         the close mirrors the open's skew premium, rounding is against the trader, fees only take.
    function testFuzz_roundTripAtFixedPriceNeverProfits(
        uint256 marketSeed,
        uint256 priceSeed,
        uint256 sizeSeed,
        bool isLong,
        int256 skewSeed
    ) public {
        uint256 marketId = marketSeed % 2;
        int128 cap = int128(engine.marketConfig(marketId).maxTradeSize);
        _setRandomPrice(marketId, priceSeed);
        _openSkew(marketId, bound(skewSeed, -cap, cap));

        uint256 trader = _fundedAccount();
        uint256 absSize = bound(sizeSeed, 1, uint256(int256(cap)));
        int256 sizeDelta = isLong ? int256(absSize) : -int256(absSize);
        vm.assume(!_dust(marketId, sizeDelta)); // no dust position can be opened
        uint256 marginBefore = vault.marginOf(trader);
        uint256 othersBefore = vault.lpPoolWad() + vault.protocolFeesWad();

        engine.modifyPosition(trader, marketId, sizeDelta, isLong ? type(uint256).max : 0);
        engine.closePosition(trader, marketId, isLong ? 0 : type(uint256).max);

        _assertRoundTripLost(trader, marketId, marginBefore, othersBefore);
    }

    /// @notice The same over three legs that net to zero (open, resize or flip, close): the skew
    ///         premium paid along any path at a fixed index price sums to nothing, fees still take.
    function testFuzz_multiLegRoundTripNeverProfits(
        uint256 marketSeed,
        uint256 priceSeed,
        int256 firstSeed,
        int256 secondSeed,
        int256 skewSeed
    ) public {
        uint256 marketId = marketSeed % 2;
        int128 cap = int128(engine.marketConfig(marketId).maxTradeSize);
        _setRandomPrice(marketId, priceSeed);
        _openSkew(marketId, bound(skewSeed, -cap, cap));

        uint256 trader = _fundedAccount();
        // Each leg within half the cap, so the closing leg stays within the cap too.
        int256 first = bound(firstSeed, -cap / 2, cap / 2);
        int256 second = bound(secondSeed, -cap / 2, cap / 2);
        vm.assume(first != 0);
        vm.assume(!_dust(marketId, first) && !_dust(marketId, first + second)); // no dust position can be opened
        uint256 marginBefore = vault.marginOf(trader);
        uint256 othersBefore = vault.lpPoolWad() + vault.protocolFeesWad();

        engine.modifyPosition(trader, marketId, first, _limit(first));
        if (second != 0) engine.modifyPosition(trader, marketId, second, _limit(second));
        int256 size = engine.position(trader, marketId).size;
        if (size != 0) engine.closePosition(trader, marketId, _limit(-size));

        _assertRoundTripLost(trader, marketId, marginBefore, othersBefore);
    }

    // ================================================================== helpers

    /// @dev Every account the engine ever created (the handler's, and any a fuzz test added).
    function _allAccounts() internal view returns (uint256[] memory ids) {
        ids = new uint256[](engine.nextAccountId() - 1);
        for (uint256 i = 0; i < ids.length; ++i) {
            ids[i] = i + 1;
        }
    }

    function _listsMarket(uint256 accountId, uint256 marketId) internal view returns (bool) {
        uint256[] memory listed = engine.accountMarkets(accountId);
        for (uint256 i = 0; i < listed.length; ++i) {
            if (listed[i] == marketId) return true;
        }
        return false;
    }

    /// @dev An answer within a tenth and ten times the initial one, in a new round stamped now.
    function _setRandomPrice(uint256 marketId, uint256 seed) internal {
        int256 initial = marketId == ETH ? ETH_INITIAL_ANSWER : BTC_INITIAL_ANSWER;
        uint256 answer = bound(seed, uint256(initial / 10), uint256(initial * 10));
        _feedOf(marketId).updateAnswer(int256(answer));
    }

    /// @dev Another trader's position, so the round trip starts from a random skew.
    function _openSkew(uint256 marketId, int256 skew) internal {
        if (skew == 0 || _dust(marketId, skew)) return;
        uint256 other = _fundedAccount();
        engine.modifyPosition(other, marketId, skew, _limit(skew));
    }

    /// @dev Whether a position of `size` would be below the minimum notional a risk-adding trade may leave
    ///      (the liquidation config's dustNotional, with a dollar to spare for the fill's premium).
    function _dust(uint256 marketId, int256 size) internal view returns (bool) {
        if (size == 0) return false;
        (uint256 price, ) = oracle.latestPrice(engine.marketConfig(marketId).feedId);
        (, , , , , , , uint80 minimum, ) = liquidationEngine.config();
        uint256 absSize = size > 0 ? uint256(size) : uint256(-size);
        return (absSize * price) / 1e18 < uint256(minimum) + 1e18;
    }

    /// @dev An account of this contract with margin for a whole-cap trade at ten times the initial price.
    function _fundedAccount() internal returns (uint256 accountId) {
        uint256 amount = 100_000_000 * USDC;
        usdc.mint(address(this), amount);
        usdc.approve(address(vault), amount);
        accountId = engine.createAccount();
        engine.deposit(accountId, amount);
    }

    function _limit(int256 sizeDelta) internal pure returns (uint256) {
        return sizeDelta > 0 ? type(uint256).max : 0;
    }

    function _assertRoundTripLost(
        uint256 trader,
        uint256 marketId,
        uint256 marginBefore,
        uint256 othersBefore
    ) internal view {
        assertEq(engine.position(trader, marketId).size, 0, "round trip left a position");
        uint256 marginAfter = vault.marginOf(trader);
        assertLt(marginAfter, marginBefore, "round trip at a fixed price did not cost the trader");
        // What the trader lost went to the LP pool and the protocol, nowhere else.
        assertEq(
            vault.lpPoolWad() + vault.protocolFeesWad() - othersBefore,
            marginBefore - marginAfter,
            "trader's loss != LP pool + fee gain"
        );
        assertEq(
            usdc.balanceOf(address(vault)) * SCALE,
            _ledgerTotal(_allAccounts()),
            "books unbalanced after round trip"
        );
    }
}
