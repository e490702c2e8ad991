// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";

import {ILiquidator} from "../../contracts/interfaces/ILiquidator.sol";
import {ILiquidationConfigurator} from "../../contracts/interfaces/ILiquidationConfigurator.sol";
import {IPerpEngine} from "../../contracts/interfaces/IPerpEngine.sol";
import {IVault} from "../../contracts/interfaces/IVault.sol";
import {ProtocolFixture} from "./helpers/ProtocolFixture.sol";
import {WAD} from "../../contracts/libraries/Constants.sol";

/// @notice previewLiquidation is what liquidate does, to the wei, in the same block: per leg (size, fill,
///         realised value, shortfall), the penalty (keeper and insurance credits), the keeper reward (from the
///         penalty and from the fund), and the bad debt covered or socialised. Also the tranche properties:
///         a share of at most trancheFraction unless backstop or dust, a tranche that improves health, a
///         backstop that closes everything.
contract LiquidationPreviewTest is ProtocolFixture {
    uint256 internal constant LIQUIDITY = 20_000_000 * USDC;
    uint256 internal SCALE;
    address internal keeper;
    address internal staker;

    /// @dev State read before a liquidation, compared with the state after.
    struct Before {
        uint256 margin;
        int256[2] sizes;
        uint256 keeperRewards;
        uint256 insuranceLedger;
        uint256 keeperTokens;
        uint256 badDebtCovered;
        uint256 badDebtPending;
        uint256 health;
        uint256 pendingLong0;
        uint256 pendingShort0;
        uint256 pendingLong1;
        uint256 pendingShort1;
    }

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        SCALE = vault.SCALE();
        keeper = makeAddr("keeper");
        staker = makeAddr("staker");
        address lp = makeAddr("lp");
        usdc.mint(lp, LIQUIDITY);
        vm.startPrank(lp);
        usdc.approve(address(vault), LIQUIDITY);
        vault.deposit(LIQUIDITY, lp);
        vm.stopPrank();
        usdc.mint(staker, 10_000_000 * USDC);
        vm.prank(staker);
        usdc.approve(address(insuranceFund), type(uint256).max);
    }

    // ================================================================== preview == execution

    /// @notice One position, any side and size, margin for 2x to 15x, moved to a random health from deep
    ///         under water to just below maintenance, an insurance fund of random size, and a random age of
    ///         the escalation clock.
    function testFuzz_previewEqualsExecution_oneMarket(
        uint256 marketSeed,
        uint256 sizeSeed,
        uint256 leverageSeed,
        bool isLong,
        int256 healthSeed,
        uint256 stakeSeed,
        uint256 ageSeed
    ) public {
        uint256 marketId = marketSeed % 2;
        uint256 account = _openLeveraged(marketId, sizeSeed, leverageSeed, isLong);
        _stake(stakeSeed);
        _moveToHealth(account, marketId, bound(healthSeed, -1e18, 0.999e18));
        vm.assume(engine.isLiquidatable(account)); // the feed's 8 decimals may tip it just over
        _age(account, ageSeed);
        _liquidateAndCompare(account);
    }

    /// @notice Two positions (each market, random sides), independent random moves of both prices.
    function testFuzz_previewEqualsExecution_twoMarkets(
        uint256 ethSizeSeed,
        uint256 btcSizeSeed,
        uint256 leverageSeed,
        bool ethLong,
        bool btcLong,
        int256 ethMoveSeed,
        int256 btcMoveSeed,
        uint256 stakeSeed
    ) public {
        uint256 account = _openLeveraged(ETH, ethSizeSeed, leverageSeed, ethLong);
        _addPosition(account, BTC, btcSizeSeed, btcLong);
        _stake(stakeSeed);
        _movePrice(ETH, bound(ethMoveSeed, -3_000, 3_000));
        _movePrice(BTC, bound(btcMoveSeed, -3_000, 3_000));
        IPerpEngine.AccountSummary memory s = engine.accountSummary(account);
        if (s.equity >= int256(s.maintenanceMargin)) {
            vm.expectRevert(
                abi.encodeWithSelector(ILiquidator.AccountHealthy.selector, account, s.equity, s.maintenanceMargin)
            );
            liquidationEngine.liquidate(account);
            return;
        }
        _liquidateAndCompare(account);
    }

    /// @notice A sequence of tranches on one account (cooldowns waited out, feeds kept fresh): each one
    ///         matches its preview, until the account is healthy or closed.
    function testFuzz_previewEqualsExecution_successiveTranches(
        uint256 sizeSeed,
        uint256 leverageSeed,
        bool isLong,
        uint256 healthSeed
    ) public {
        uint256 account = _openLeveraged(ETH, sizeSeed, leverageSeed, isLong);
        _moveToHealth(account, ETH, int256(bound(healthSeed, 0.67e18, 0.99e18)));
        vm.assume(engine.isLiquidatable(account));
        for (uint256 i; i < 8 && engine.isLiquidatable(account); ++i) {
            _liquidateAndCompare(account);
            vm.warp(block.timestamp + 30);
            ethFeed.updateAnswer(_answer(address(ethFeed)));
            btcFeed.updateAnswer(_answer(address(btcFeed)));
        }
        assertFalse(engine.isLiquidatable(account), "still liquidatable after 8 tranches");
    }

    // ================================================================== tranche properties

    /// @notice A non-backstop tranche closes at most trancheFraction of every position, unless what would
    ///         remain is dust; after it the account is strictly healthier (and the LiquidationSettled
    ///         healthAfter is a lower bound of its real health).
    function testFuzz_trancheBoundedAndImprovesHealth(
        uint256 marketSeed,
        uint256 sizeSeed,
        uint256 leverageSeed,
        bool isLong,
        uint256 healthSeed
    ) public {
        uint256 marketId = marketSeed % 2;
        uint256 account = _openLeveraged(marketId, sizeSeed, leverageSeed, isLong);
        _moveToHealth(account, marketId, int256(bound(healthSeed, 0.667e18, 0.999e18)));
        IPerpEngine.AccountSummary memory s = engine.accountSummary(account);
        ILiquidationConfigurator.Config memory c = _config();
        vm.assume(engine.isLiquidatable(account));
        vm.assume(s.equity >= int256((s.maintenanceMargin * c.backstopRatio) / WAD));

        uint256 healthBefore = engine.health(account);
        int256 sizeBefore = engine.position(account, marketId).size;
        ILiquidator.Plan memory plan = liquidationEngine.previewLiquidation(account);
        assertFalse(plan.backstop, "backstop above the backstop ratio");
        if (plan.fraction > c.trancheFraction) {
            assertEq(plan.fraction, WAD, "above trancheFraction but not a full close");
            assertLt((s.notional * (WAD - c.trancheFraction)) / WAD, c.dustNotional, "full close without dust");
        }
        vm.recordLogs();
        vm.prank(keeper);
        liquidationEngine.liquidate(account);
        uint256 closedAbs = _abs(sizeBefore - engine.position(account, marketId).size);
        if (plan.fraction < WAD) {
            assertLe(closedAbs, _mulDivUp(_abs(sizeBefore), c.trancheFraction, WAD), "closed more than the fraction");
            uint256 healthAfter = engine.health(account);
            assertGt(healthAfter, healthBefore, "tranche did not improve health");
            assertLe(_settledHealth(vm.getRecordedLogs()), healthAfter, "reported health above the real one");
        } else {
            assertEq(engine.position(account, marketId).size, 0, "full close left a position");
        }
    }

    /// @notice Below the backstop ratio everything closes at once, in every market, whatever the cooldown.
    function testFuzz_backstopClosesEverything(
        uint256 ethSizeSeed,
        uint256 btcSizeSeed,
        uint256 leverageSeed,
        bool ethLong,
        bool btcLong,
        uint256 healthSeed
    ) public {
        uint256 account = _openLeveraged(ETH, ethSizeSeed, leverageSeed, ethLong);
        _addPosition(account, BTC, btcSizeSeed, btcLong);
        // the ETH price alone takes the account below the backstop ratio
        _moveToHealth(account, ETH, int256(bound(healthSeed, 0, 0.66e18)));
        IPerpEngine.AccountSummary memory s = engine.accountSummary(account);
        vm.assume(s.equity < int256((s.maintenanceMargin * _config().backstopRatio) / WAD));
        ILiquidator.Plan memory plan = liquidationEngine.previewLiquidation(account);
        assertTrue(plan.backstop, "not a backstop");
        assertEq(plan.fraction, WAD, "backstop fraction");
        vm.prank(keeper);
        liquidationEngine.liquidate(account);
        assertEq(engine.position(account, ETH).size, 0, "ETH left open");
        assertEq(engine.position(account, BTC).size, 0, "BTC left open");
        assertEq(engine.accountMarkets(account).length, 0, "markets left listed");
    }

    // ================================================================== the comparison

    /// @dev A TrancheLiquidated's position fields against the plan's leg and the size before.
    function _checkLegEvent(bytes memory data, ILiquidator.Leg memory leg, int256 sizeBefore) internal pure {
        (int256 sizeDelta, int256 newSize, uint256 price, int256 realised) = abi.decode(
            data,
            (int256, int256, uint256, int256)
        );
        assertEq(sizeDelta, leg.sizeDelta, "event sizeDelta");
        assertEq(newSize, sizeBefore + leg.sizeDelta, "event newSize");
        assertEq(price, leg.price, "event price");
        assertEq(realised, leg.realised, "event realised");
    }

    function _liquidateAndCompare(uint256 account) internal {
        ILiquidator.Plan memory plan = liquidationEngine.previewLiquidation(account);
        Before memory b = _before(account);

        vm.recordLogs();
        vm.prank(keeper);
        uint256 notional = liquidationEngine.liquidate(account);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(notional, plan.trancheNotional, "returned notional");

        // legs: the liquidation engine's per-leg events, in plan order (a leg emits no PositionModified and
        // the vault no PenaltyCharged: TrancheLiquidated carries the fill, the new size, the realised PnL
        // and the penalty share)
        uint256 fills;
        uint256 tranches;
        uint256 penalty;
        uint256 reward;
        uint256 covered;
        uint256 socialised;
        for (uint256 i; i < logs.length; ++i) {
            bytes32 topic = logs[i].topics[0];
            assertTrue(topic != IPerpEngine.PositionModified.selector, "a liquidation leg emitted PositionModified");
            assertTrue(topic != IVault.PenaltyCharged.selector, "a tranche emitted PenaltyCharged");
            if (topic == IPerpEngine.BadDebtIncurred.selector) {
                uint256 marketId = uint256(logs[i].topics[2]);
                assertEq(abi.decode(logs[i].data, (uint256)), _leg(plan, marketId).shortfall, "leg shortfall");
            } else if (topic == ILiquidator.TrancheLiquidated.selector) {
                ILiquidator.Leg memory leg = plan.legs[tranches++];
                ++fills;
                assertEq(uint256(logs[i].topics[1]), account, "event account");
                assertEq(uint256(logs[i].topics[2]), leg.marketId, "event market");
                assertEq(address(uint160(uint256(logs[i].topics[3]))), keeper, "event keeper");
                _checkLegEvent(logs[i].data, leg, b.sizes[leg.marketId]);
                (, , , , uint256 p, uint256 r, uint256 c, uint256 so) = abi.decode(
                    logs[i].data,
                    (int256, int256, uint256, int256, uint256, uint256, uint256, uint256)
                );
                assertEq(c + so, leg.shortfall, "event bad debt");
                penalty += p;
                reward += r;
                covered += c;
                socialised += so;
            }
        }
        assertEq(fills, plan.legs.length, "fills");
        assertEq(tranches, plan.legs.length, "tranche events");
        assertEq(penalty, plan.keeperFromPenalty + plan.insuranceShare, "penalty");
        assertEq(reward, plan.keeperReward, "reward");
        assertEq(covered, plan.badDebtCovered, "covered");
        assertEq(socialised, plan.badDebtSocialised, "socialised");
        assertEq(plan.keeperReward, plan.keeperFromPenalty + plan.keeperFromFund, "reward parts");
        assertEq(plan.badDebt, plan.badDebtCovered + plan.badDebtSocialised, "bad debt parts");

        // positions and ledgers
        for (uint256 i; i < plan.legs.length; ++i) {
            ILiquidator.Leg memory leg = plan.legs[i];
            assertEq(
                engine.position(account, leg.marketId).size,
                b.sizes[leg.marketId] + leg.sizeDelta,
                "position after"
            );
        }
        assertEq(vault.marginOf(account), _replayMargin(b.margin, plan), "margin after");
        assertEq(vault.keeperRewardsOf(keeper) - b.keeperRewards, plan.keeperFromPenalty, "keeper credited");
        assertEq((usdc.balanceOf(keeper) - b.keeperTokens) * SCALE, plan.keeperFromFund, "keeper paid by the fund");
        if (plan.badDebt == 0 && plan.keeperFromFund == 0) {
            // nothing made the fund flush: the insurance ledger grew by the insurance share exactly
            assertEq(_insuranceLedger() - b.insuranceLedger, plan.insuranceShare, "insurance credited");
        }
        assertEq(liquidationEngine.badDebtCovered() - b.badDebtCovered, plan.badDebtCovered, "covered total");
        assertEq(liquidationEngine.badDebtPending() - b.badDebtPending, plan.badDebtSocialised, "pending total");
        assertEq(
            liquidationEngine.pendingDeficit(ETH, true) +
                liquidationEngine.pendingDeficit(ETH, false) +
                liquidationEngine.pendingDeficit(BTC, true) +
                liquidationEngine.pendingDeficit(BTC, false) -
                (b.pendingLong0 + b.pendingShort0 + b.pendingLong1 + b.pendingShort1),
            plan.badDebtSocialised,
            "deficit queued"
        );
        assertEq(
            liquidationEngine.badDebtIncurred(),
            liquidationEngine.badDebtCovered() +
                liquidationEngine.badDebtSocialised() +
                liquidationEngine.badDebtPending(),
            "bad debt identity"
        );
        if (plan.fraction < WAD) assertGt(engine.health(account), b.health, "health did not improve");
    }

    function _before(uint256 account) internal view returns (Before memory b) {
        b.margin = vault.marginOf(account);
        b.sizes[ETH] = engine.position(account, ETH).size;
        b.sizes[BTC] = engine.position(account, BTC).size;
        b.keeperRewards = vault.keeperRewardsOf(keeper);
        b.insuranceLedger = _insuranceLedger();
        b.keeperTokens = usdc.balanceOf(keeper);
        b.badDebtCovered = liquidationEngine.badDebtCovered();
        b.badDebtPending = liquidationEngine.badDebtPending();
        b.health = engine.health(account);
        b.pendingLong0 = liquidationEngine.pendingDeficit(ETH, true);
        b.pendingShort0 = liquidationEngine.pendingDeficit(ETH, false);
        b.pendingLong1 = liquidationEngine.pendingDeficit(BTC, true);
        b.pendingShort1 = liquidationEngine.pendingDeficit(BTC, false);
    }

    /// @dev The vault's settlement of each leg in plan order (a loss takes what the margin holds), then the
    ///      penalty, keeper part first.
    function _replayMargin(uint256 margin, ILiquidator.Plan memory plan) internal pure returns (uint256) {
        for (uint256 i; i < plan.legs.length; ++i) {
            int256 r = plan.legs[i].realised;
            if (r >= 0) margin += uint256(r);
            else margin -= _min(uint256(-r), margin);
        }
        return margin - plan.keeperFromPenalty - plan.insuranceShare;
    }

    function _leg(ILiquidator.Plan memory plan, uint256 marketId) internal pure returns (ILiquidator.Leg memory leg) {
        for (uint256 i; i < plan.legs.length; ++i) {
            if (plan.legs[i].marketId == marketId) return plan.legs[i];
        }
        revert("no leg in that market");
    }

    function _settledHealth(Vm.Log[] memory logs) internal pure returns (uint256 healthAfter) {
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == ILiquidator.LiquidationSettled.selector) {
                (, , , healthAfter, ) = abi.decode(logs[i].data, (bool, uint256, uint256, uint256, uint256));
                return healthAfter;
            }
        }
        revert("no LiquidationSettled");
    }

    // ================================================================== setup helpers

    /// @dev An account of this contract holding one position of random size, with margin for 2x to 15x.
    function _openLeveraged(
        uint256 marketId,
        uint256 sizeSeed,
        uint256 leverageSeed,
        bool isLong
    ) internal returns (uint256 account) {
        uint256 maxSize = marketId == ETH ? 2_000e18 : 100e18;
        uint256 size = bound(sizeSeed, maxSize / 10_000, maxSize);
        uint256 notional = (size * _price(marketId)) / WAD;
        uint256 margin = notional / bound(leverageSeed, 2, 15) / 1e12 + 10 * USDC;
        usdc.mint(address(this), margin);
        usdc.approve(address(vault), margin);
        account = engine.createAccount();
        engine.deposit(account, margin);
        engine.modifyPosition(account, marketId, isLong ? int256(size) : -int256(size), isLong ? type(uint256).max : 0);
    }

    /// @dev A second position sized like the first in notional terms, with its own margin.
    function _addPosition(uint256 account, uint256 marketId, uint256 sizeSeed, bool isLong) internal {
        uint256 maxSize = marketId == ETH ? 2_000e18 : 100e18;
        uint256 size = bound(sizeSeed, maxSize / 10_000, maxSize);
        uint256 margin = (size * _price(marketId)) / WAD / 5 / 1e12 + 10 * USDC;
        usdc.mint(address(this), margin);
        usdc.approve(address(vault), margin);
        engine.deposit(account, margin);
        engine.modifyPosition(account, marketId, isLong ? int256(size) : -int256(size), isLong ? type(uint256).max : 0);
    }

    function _stake(uint256 seed) internal {
        uint256 amount = bound(seed, 0, 50_000) * USDC;
        if (amount == 0) return;
        vm.prank(staker);
        insuranceFund.deposit(amount, staker);
    }

    /// @dev Sets the feed to the price at which the account's health is `h` given its one position in
    ///      `marketId` (from the break-even price), floored to the feed's 8 decimals.
    function _moveToHealth(uint256 account, uint256 marketId, int256 h) internal {
        IPerpEngine.PositionView memory v = engine.positionView(account, marketId);
        IPerpEngine.AccountSummary memory s = engine.accountSummary(account);
        // equity(p) = equity(now) + size * (p - now); maintenance(p) = mmNow * p / now (this market only)
        int256 size = v.size;
        int256 nowPrice = int256(v.indexPrice);
        int256 absSize = size >= 0 ? size : -size;
        int256 mmr = int256(v.maintenanceMarginRatio);
        // equity0 + size * (p - p0) / WAD = h * (otherMm + |size| * p * mmr / WAD^2) / WAD
        int256 otherMm = int256(s.maintenanceMargin) - (((absSize * nowPrice) / 1e18) * mmr) / 1e18;
        int256 num = (size * nowPrice) / 1e18 - s.equity + (h * otherMm) / 1e18;
        int256 den = size - (((h * absSize) / 1e18) * mmr) / 1e18;
        vm.assume(den != 0);
        int256 p = (num * 1e18) / den;
        int256 answer = p / 1e10;
        vm.assume(answer > 0 && answer < type(int192).max);
        _feedOf(marketId).updateAnswer(answer);
    }

    function _movePrice(uint256 marketId, int256 bps) internal {
        MockAggregatorLike feed = MockAggregatorLike(address(_feedOf(marketId)));
        (, int256 answer, , , ) = feed.latestRoundData();
        _feedOf(marketId).updateAnswer((answer * (10_000 + bps)) / 10_000);
    }

    /// @dev Optionally starts the reward-escalation clock some time ago (feeds kept fresh). `flag` counts
    ///      only for an account held back (cooldown, capacity): one that can be liquidated now is not aged.
    function _age(uint256 account, uint256 seed) internal {
        uint256 age = bound(seed, 0, 3_000);
        if (age == 0 || !engine.isLiquidatable(account)) return;
        try liquidationEngine.flag(account) {} catch {
            return;
        }
        vm.warp(block.timestamp + age);
        ethFeed.updateAnswer(_answer(address(ethFeed)));
        btcFeed.updateAnswer(_answer(address(btcFeed)));
    }

    function _answer(MockAggregatorLike feed) internal view returns (int256 answer) {
        (, answer, , , ) = feed.latestRoundData();
    }

    function _answer(address feed) internal view returns (int256) {
        return _answer(MockAggregatorLike(feed));
    }

    function _price(uint256 marketId) internal view returns (uint256) {
        return uint256(_answer(address(_feedOf(marketId)))) * 1e10;
    }

    function _config() internal view returns (ILiquidationConfigurator.Config memory c) {
        // the getter's tuple of static fields is encoded exactly as the struct (too many to destructure)
        (bool ok, bytes memory ret) = address(liquidationEngine).staticcall(abi.encodeWithSignature("config()"));
        require(ok, "config()");
        c = abi.decode(ret, (ILiquidationConfigurator.Config));
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function _mulDivUp(uint256 a, uint256 b, uint256 c) internal pure returns (uint256) {
        return (a * b + c - 1) / c;
    }
}

interface MockAggregatorLike {
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80);
}
