// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {ILiquidator} from "../../contracts/interfaces/ILiquidator.sol";
import {ILiquidationConfigurator} from "../../contracts/interfaces/ILiquidationConfigurator.sol";
import {IOwnImpactMark} from "../../contracts/interfaces/IOwnImpactMark.sol";
import {IBackstopConfigurator} from "../../contracts/interfaces/IBackstop.sol";
import {IPerpEngine} from "../../contracts/interfaces/IPerpEngine.sol";
import {ProtocolFixture} from "./helpers/ProtocolFixture.sol";
import {WAD} from "../../contracts/libraries/Constants.sol";

/// @notice The own-impact liquidation mark (OwnImpactModule): the signed measure of the protocol's own forced
///         trades (its sign, accumulation and decay, a write per liquidation leg), the hold of an account below
///         maintenance at the oracle but not at the marks (liquidate reverts with no state change, a batch
///         skips it with its status), the switch and its bound, and the adversary who pushes the measure with
///         sacrificial accounts. No backstop vault here: every takeover declines (takeovers: mocha,
///         test/backstop/ownImpactMark.test.ts).
contract OwnImpactMarkTest is ProtocolFixture {
    uint256 internal constant LIQUIDITY = 50_000_000 * USDC;
    int256 internal constant LN2_WAD = 693147180559945309;
    IOwnImpactMark internal mark;
    address internal keeper;

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        mark = IOwnImpactMark(address(engine));
        keeper = makeAddr("keeper");
        address lp = makeAddr("lp");
        usdc.mint(lp, LIQUIDITY);
        vm.startPrank(lp);
        usdc.approve(address(vault), LIQUIDITY);
        vault.deposit(LIQUIDITY, lp);
        vm.stopPrank();
        _setBackstopConfig(0.003e18, 2e18); // the replay's cap: 0.6% of the price
    }

    // ================================================================== the measure

    /// @notice A long's legs sell: the measure falls by exactly their notional; a short's legs buy and add theirs;
    ///         a trade of the account's own adds nothing.
    function test_measureSignAndAccumulation() public {
        _setSwitch(true);
        uint256 s = _open(ETH, 1_000e18, 110_000, true);
        uint256 t = _open(ETH, -500e18, 60_000, false);
        assertEq(mark.ownFlow(ETH), 0, "trades are not forced flow");
        _setPrice(ETH, 1_900e18);
        int256 expected = _legNotional(s, ETH);
        assertTrue(expected < 0, "the long's legs sell");
        liquidationEngine.liquidate(s);
        assertEq(mark.ownFlow(ETH), expected, "the legs' notional, signed");
        _setPrice(ETH, 2_100e18);
        int256 bought = _legNotional(t, ETH);
        assertTrue(bought > 0, "the short's legs buy");
        liquidationEngine.liquidate(t);
        assertEq(mark.ownFlow(ETH), expected + bought, "accumulated in the same block");
        assertEq(mark.ownFlow(BTC), 0, "per market");
    }

    /// @notice The measure decays with flowHalfLife, rounded toward zero: one half-life halves it (to the
    ///         decay factor's wei), a new leg adds to the decayed figure.
    function test_measureDecays() public {
        _setSwitch(true);
        uint256 s = _open(ETH, 1_000e18, 110_000, true);
        _setPrice(ETH, 1_900e18);
        liquidationEngine.liquidate(s);
        int256 flow0 = mark.ownFlow(ETH);
        vm.warp(block.timestamp + 600);
        int256 factor = FixedPointMathLib.expWad(-LN2_WAD);
        int256 flow1 = mark.ownFlow(ETH);
        assertEq(flow1, (flow0 * factor) / 1e18, "decayed one half-life, toward zero");
        assertLe(_abs(flow1 - flow0 / 2), uint256(-flow0) / 1e12, "about half");
        assertLe(_abs(flow1), _abs(flow0 / 2) + 1, "never above the exact half (rounded toward zero)");
        vm.warp(block.timestamp + 600 * 80);
        assertEq(mark.ownFlow(ETH), 0, "gone after 80 half-lives");
    }

    // ================================================================== the mark

    /// @notice The view's mark: the oracle over (1 + estimate), the estimate the measure over skewScale x price
    ///         toward zero, capped at impactBudget x lateMultiplier, the mark rounded toward the price.
    function test_markViewAndCap() public {
        _setSwitch(true);
        _pushSales(1_000e18);
        int256 flow = mark.ownFlow(ETH);
        (uint256 m, uint256 price) = mark.ownImpactMark(ETH);
        uint256 depth = (1_000_000e18 * price) / WAD;
        uint256 est = (uint256(-flow) * WAD) / depth;
        assertTrue(est > 0 && est < 0.006e18, "below the cap here");
        assertEq(m, (price * WAD) / (WAD - est), "oracle / (1 + estimate), rounded down above the price");
        // a cap of impactBudget x lateMultiplier = 0.01% binds
        _setBackstopConfig(0.0001e18, 1e18);
        (m, price) = mark.ownImpactMark(ETH);
        assertEq(m, (price * WAD) / (WAD - 0.0001e18), "capped");
        (m, price) = mark.ownImpactMark(BTC);
        assertEq(m, price, "no measure, no mark");
    }

    // ================================================================== the hold

    /// @notice Switch on: an account below maintenance at the oracle and above it at the mark is refused with
    ///         its equity and maintenance at the mark, and nothing changes; a batch skips it with HeldAtMark.
    function test_holdRevertsWithNoStateChangeAndBatchSkips() public {
        uint256 b = _open(ETH, 100e18, 25_000, true);
        _setSwitch(true);
        _pushSales(1_000e18);
        _stepDownUntilLiquidatable(b, ETH);
        IPerpEngine.AccountSummary memory atOracle = engine.accountSummary(b);
        int256 flow = mark.ownFlow(ETH);
        uint256 margin = vault.marginOf(b);
        int256 size = engine.positionView(b, ETH).size;
        try liquidationEngine.liquidate(b) {
            fail();
        } catch (bytes memory reason) {
            (bytes4 sel, uint256 id, int256 eq, uint256 mm) = _decodeHeld(reason);
            assertEq(sel, ILiquidator.LiquidationHeldAtMark.selector, "held at the mark");
            assertEq(id, b, "the account");
            assertGe(eq, int256(mm), "not below maintenance at the mark");
            assertGt(eq, atOracle.equity, "a long is worth more at the mark above the price");
        }
        assertEq(mark.ownFlow(ETH), flow, "the measure unchanged");
        assertEq(vault.marginOf(b), margin, "the margin unchanged");
        assertEq(engine.positionView(b, ETH).size, size, "the position unchanged");

        uint256[] memory ids = new uint256[](1);
        ids[0] = b;
        vm.expectEmit(true, false, false, true, address(engine));
        emit ILiquidator.LiquidationSkipped(b, ILiquidator.Status.HeldAtMark);
        assertEq(liquidationEngine.liquidateBatch(ids), 0, "skipped");
        assertEq(engine.positionView(b, ETH).size, size, "the position unchanged by the batch");
        assertEq(mark.ownFlow(ETH), flow, "the measure unchanged by the batch");

        // the same account with the switch off is liquidated, and nothing is added to the measure
        _setSwitch(false);
        liquidationEngine.liquidate(b);
        assertTrue(engine.positionView(b, ETH).size < size, "tranched with the switch off");
        assertEq(mark.ownFlow(ETH), flow, "no measure kept with the switch off");
    }

    /// @notice A short is never held by sales (the mark above the price only lowers its equity).
    function test_shortNotHeldBySales() public {
        uint256 b = _open(ETH, -100e18, 25_000, false);
        _setSwitch(true);
        _pushSales(1_000e18);
        _stepUpUntilLiquidatable(b, ETH);
        int256 size = engine.positionView(b, ETH).size;
        liquidationEngine.liquidate(b);
        assertTrue(engine.positionView(b, ETH).size > size, "tranched");
    }

    /// @notice The hold ends when the measure decays: the same account, the same price, later.
    function test_holdEndsWhenMeasureDecays() public {
        uint256 b = _open(ETH, 100e18, 25_000, true);
        _setSwitch(true);
        _pushSales(1_000e18);
        _stepDownUntilLiquidatable(b, ETH);
        vm.expectPartialRevert(ILiquidator.LiquidationHeldAtMark.selector);
        liquidationEngine.liquidate(b);
        vm.warp(block.timestamp + 600 * 20);
        ethFeed.updateAnswer(_answer(ETH)); // the same price, fresh
        assertTrue(engine.isLiquidatable(b), "still below maintenance at the oracle");
        int256 size = engine.positionView(b, ETH).size;
        liquidationEngine.liquidate(b);
        assertTrue(engine.positionView(b, ETH).size < size, "liquidated once the measure decayed");
    }

    // ================================================================== the switch and the bound

    function test_switchGovernorOnlyWithEvent() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                address(this),
                keccak256("cascade.role.governor")
            )
        );
        mark.setOwnImpactMark(true);
        assertFalse(mark.ownImpactMarkOn(), "off by default");
        vm.expectEmit(false, false, false, true, address(engine));
        emit IOwnImpactMark.OwnImpactMarkSet(true);
        _setSwitch(true);
        assertTrue(mark.ownImpactMarkOn(), "on");
        // a flag of the liquidation configuration word: a new configuration keeps it
        (bool ok, bytes memory ret) = address(engine).staticcall(abi.encodeWithSignature("config()"));
        require(ok, "config()");
        ILiquidationConfigurator.Config memory c = abi.decode(ret, (ILiquidationConfigurator.Config));
        vm.prank(governor);
        ILiquidationConfigurator(address(engine)).setConfig(c);
        assertTrue(mark.ownImpactMarkOn(), "kept by setConfig");
        _setSwitch(false);
        assertFalse(mark.ownImpactMarkOn(), "off");
    }

    /// @notice The check is a self-call only.
    function test_checkIsSelfOnly() public {
        vm.expectRevert(abi.encodeWithSelector(ILiquidator.NotSelf.selector, address(this)));
        mark.ownImpactCheck(1, 1, new uint256[](0));
    }

    /// @notice The explicit guard, whatever the parameters: with the largest cap the bounds allow (impactBudget
    ///         10% x lateMultiplier 18 (uint64), clamped to MAX_MARK_SHIFT 50%) and the measure pushed far past it, an
    ///         account at or below zero equity at the oracle is liquidated.
    function test_zeroEquityNeverHeldWhateverTheParameters() public {
        _setBackstopConfig(0.1e18, 18e18);
        uint256 b = _open(ETH, 100e18, 25_000, true);
        _setSwitch(true);
        for (uint256 i; i < 4; ++i) _pushSales(10_000e18);
        // the long's equity at or below zero at the oracle: a 12.5% fall on 8x
        _setPrice(ETH, (_price(ETH) * 875) / 1000);
        IPerpEngine.AccountSummary memory s = engine.accountSummary(b);
        assertLe(s.equity, 0, "no equity at the oracle");
        // without the guard the mark would hold it: its equity at the mark above its maintenance there
        (uint256 m, uint256 price) = mark.ownImpactMark(ETH);
        int256 atMark = s.equity + int256((100e18 * (m - price)) / WAD);
        assertGt(atMark, int256((s.maintenanceMargin * m) / price), "the mark alone would hold it");
        int256 size = engine.positionView(b, ETH).size;
        liquidationEngine.liquidate(b);
        assertTrue(engine.positionView(b, ETH).size != size, "liquidated");
    }

    /// @notice The adversary: sacrificial accounts liquidated one after another push the measure as far as they
    ///         like, but the mark moves at most the cap (0.6%): an account whose shortfall below maintenance at the
    ///         oracle is more than the cap's reach (its notional x cap / (1 - cap), here with room to spare) is
    ///         always liquidated; one within the reach is held, until the measure decays.
    function testFuzz_adversaryCannotHoldBeyondTheCap(uint256 sacrificeSeed, uint256 rounds, uint256 gapSeed) public {
        uint256 b = _open(ETH, 100e18, 25_000, true);
        _setSwitch(true);
        rounds = bound(rounds, 1, 4);
        for (uint256 i; i < rounds; ++i) _pushSales(bound(sacrificeSeed >> (i * 16), 500e18, 5_000e18));
        (uint256 m, uint256 price) = mark.ownImpactMark(ETH);
        assertLe(m, (price * WAD) / (WAD - 0.006e18), "the mark within the cap's reach");
        // the price at which b's shortfall below maintenance is `gap` of its notional beyond the cap's reach
        uint256 gap = bound(gapSeed, 0.001e18, 0.05e18);
        _stepDownUntilLiquidatable(b, ETH);
        _setPrice(ETH, (_price(ETH) * (WAD - 0.0065e18 - gap)) / WAD);
        IPerpEngine.AccountSummary memory s = engine.accountSummary(b);
        uint256 notional = (100e18 * _price(ETH)) / WAD;
        assertGt(
            s.maintenanceMargin - uint256(s.equity > 0 ? s.equity : int256(0)),
            (notional * 0.006e18) / (WAD - 0.006e18),
            "shortfall beyond the cap's reach"
        );
        int256 size = engine.positionView(b, ETH).size;
        liquidationEngine.liquidate(b);
        assertTrue(engine.positionView(b, ETH).size < size, "liquidated however the measure was pushed");
    }

    // ================================================================== helpers

    function _setBackstopConfig(uint64 impactBudget, uint64 lateMultiplier) internal {
        vm.prank(governor);
        IBackstopConfigurator(address(engine)).setBackstopConfig(_backstopTestConfig(impactBudget, lateMultiplier, 0));
    }

    function _setSwitch(bool on) internal {
        vm.prank(governor);
        mark.setOwnImpactMark(on);
    }

    /// @dev A sacrificial long of `size` ETH at 20x, taken down 5.2% (past zero equity, so the mark never holds it)
    ///      and liquidated until closed (the price put back): with the mark on, the measure falls by what it sold.
    function _pushSales(uint256 size) internal {
        uint256 price = _price(ETH);
        uint256 s = _open(ETH, int256(size), (size * price) / WAD / 20 / 1e18 + 1_000, true);
        _setPrice(ETH, (price * 948) / 1000);
        for (uint256 i; i < 10 && engine.positionView(s, ETH).size != 0; ++i) {
            try liquidationEngine.liquidate(s) {} catch {
                break;
            }
        }
        _setPrice(ETH, price);
    }

    /// @dev Opens a position of `size` (signed) with `marginUsd` dollars of margin.
    function _open(uint256 marketId, int256 size, uint256 marginUsd, bool isLong) internal returns (uint256 account) {
        uint256 amount = marginUsd * USDC;
        usdc.mint(address(this), amount);
        usdc.approve(address(vault), amount);
        account = engine.createAccount();
        engine.deposit(account, amount);
        engine.modifyPosition(account, marketId, size, isLong ? type(uint256).max : 0);
    }

    /// @dev The signed notional of the account's next tranche's leg in `marketId` (a sell negative).
    function _legNotional(uint256 account, uint256 marketId) internal view returns (int256 total) {
        ILiquidator.Plan memory p = liquidationEngine.previewLiquidation(account);
        for (uint256 i; i < p.legs.length; ++i) {
            if (p.legs[i].marketId != marketId) continue;
            int256 n = int256(p.legs[i].notional);
            total += p.legs[i].sizeDelta < 0 ? -n : n;
        }
    }

    /// @dev Lowers the price by 0.01% steps until the account is below maintenance at the oracle.
    function _stepDownUntilLiquidatable(uint256 account, uint256 marketId) internal {
        for (uint256 i; i < 5_000 && !engine.isLiquidatable(account); ++i) {
            _setPrice(marketId, (_price(marketId) * 9_999) / 10_000);
        }
        assertTrue(engine.isLiquidatable(account), "reached");
    }

    function _stepUpUntilLiquidatable(uint256 account, uint256 marketId) internal {
        for (uint256 i; i < 5_000 && !engine.isLiquidatable(account); ++i) {
            _setPrice(marketId, (_price(marketId) * 10_001) / 10_000);
        }
        assertTrue(engine.isLiquidatable(account), "reached");
    }

    function _decodeHeld(bytes memory r) internal pure returns (bytes4 sel, uint256 id, int256 equity, uint256 mm) {
        require(r.length == 100, "not LiquidationHeldAtMark's length");
        assembly ("memory-safe") {
            sel := mload(add(r, 32))
            id := mload(add(r, 36))
            equity := mload(add(r, 68))
            mm := mload(add(r, 100))
        }
    }

    function _setPrice(uint256 marketId, uint256 priceWad) internal {
        _feedOf(marketId).updateAnswer(int256(priceWad / 1e10));
    }

    function _answer(uint256 marketId) internal view returns (int256 answer) {
        (, answer, , , ) = _feedOf(marketId).latestRoundData();
    }

    function _price(uint256 marketId) internal view returns (uint256) {
        return uint256(_answer(marketId)) * 1e10;
    }

    function _abs(int256 x) internal pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
