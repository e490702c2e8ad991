// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ILiquidationConfigurator} from "../../contracts/interfaces/ILiquidationConfigurator.sol";
import {ProtocolFixture} from "./helpers/ProtocolFixture.sol";
import {LiquidationAdversaryHandler} from "./handlers/LiquidationAdversaryHandler.sol";

/// @notice Issue 11's liquidation properties under an adversary (LiquidationAdversaryHandler): hedged pairs
///         of small accounts liquidated by their own owner, self-flagging, whales with a small leg in a market
///         whose window another liquidation filled, a stale feed. Windows are made small (the least depth
///         factor), so closes near bankruptcy (which bypass the cap) overfill them in most runs.
contract LiquidationAdversaryInvariantTest is ProtocolFixture {
    LiquidationAdversaryHandler internal handler;

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        address lp = makeAddr("lp");
        usdc.mint(lp, 20_000_000 * USDC);
        vm.startPrank(lp);
        usdc.approve(address(vault), type(uint256).max);
        vault.deposit(10_000_000 * USDC, lp);
        usdc.approve(address(insuranceFund), type(uint256).max);
        insuranceFund.deposit(100_000 * USDC, lp);
        vm.stopPrank();

        (
            uint64 trancheFraction,
            uint64 healthBuffer,
            uint64 backstopRatio,
            uint64 penaltyRate,
            uint16 cooldown,
            uint32 capacityWindow,
            ,
            uint80 dustNotional,

        ) = liquidationEngine.config();
        vm.prank(governor);
        liquidationEngine.setConfig(
            ILiquidationConfigurator.Config({
                trancheFraction: trancheFraction,
                healthBuffer: healthBuffer,
                backstopRatio: backstopRatio,
                penaltyRate: penaltyRate,
                cooldown: cooldown,
                capacityWindow: capacityWindow,
                capacityDepthFactor: 0.001e18,
                dustNotional: dustNotional,
                capBypassRatio: backstopRatio
            })
        );

        handler = new LiquidationAdversaryHandler(
            usdc,
            vault,
            engine,
            insuranceFund,
            ethFeed,
            btcFeed,
            makeAddr("attacker")
        );
        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = LiquidationAdversaryHandler.openHedgedPair.selector;
        selectors[1] = LiquidationAdversaryHandler.openWhale.selector;
        selectors[2] = LiquidationAdversaryHandler.openBtcFiller.selector;
        selectors[3] = LiquidationAdversaryHandler.movePrice.selector;
        selectors[4] = LiquidationAdversaryHandler.warp.selector;
        selectors[5] = LiquidationAdversaryHandler.staleBtc.selector;
        selectors[6] = LiquidationAdversaryHandler.flag.selector;
        selectors[7] = LiquidationAdversaryHandler.liquidate.selector;
        selectors[8] = LiquidationAdversaryHandler.liquidateAll.selector;
        selectors[9] = LiquidationAdversaryHandler.moveEthWhileBtcStale.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice A solvent account's liquidation never draws on the insurance fund.
    function invariant_solventLiquidationNeverDrawsOnTheFund() public view {
        assertEq(handler.ghost_solventFundDraws(), 0, "a liquidation without bad debt drew on the fund");
    }

    /// @notice An account with a liquidatable leg in a market with room is always liquidatable.
    function invariant_openMarketLegAlwaysLiquidatable() public view {
        assertEq(handler.ghost_blockedByOtherMarket(), 0, "refused for capacity with room in a leg's own market");
    }

    /// @notice An account liquidatable whatever its stale leg's price in the band, with a fresh leg, is
    ///         liquidatable (only its cooldown or capacity holds it back).
    function invariant_staleLegNeverBlocksTheFreshLegs() public view {
        assertEq(handler.ghost_staleLegBlocked(), 0, "a stale leg held back an account liquidatable anyway");
    }

    /// @notice The scenario the stale-leg property guards, played once: a whale's tiny BTC leg goes stale and
    ///         ETH falls until the whale is liquidated on ETH.
    function test_staleLegDoesNotBlockTheWhale() public {
        handler.openWhale(0, 0, 0); // 100 ETH + 0.005 BTC on 4% of the ETH notional
        handler.staleBtc();
        for (uint256 i; i < 6; ++i) {
            handler.moveEthWhileBtcStale(300); // ETH -3%
            handler.liquidateAll();
        }
        assertGt(handler.ghost_staleLegLiquidations(), 0, "the whale was liquidated with its BTC leg stale");
        assertEq(handler.ghost_staleLegBlocked(), 0, "the stale leg held it back");
    }

    /// @notice The scenario the first property guards, played once: a hedged pair of 0.1-ETH accounts on
    ///         $12 each, ETH down 1% at a time, the attacker liquidating its own accounts after each step, then
    ///         again after the clock aged.
    function test_hedgedDustPairDoesNotDrawOnTheFund() public {
        handler.openHedgedPair(0, 12);
        assertEq(handler.accountCount(), 2, "pair opened");
        for (uint256 i; i < 15; ++i) {
            handler.movePrice(0, 500); // ETH -1%
            handler.liquidateAll();
        }
        assertGt(handler.ghost_solventLiquidations(), 0, "a solvent liquidation happened");
        assertEq(handler.ghost_solventFundDraws(), 0, "it drew on the fund");
    }

    /// @notice The scenario the second property guards, played once: a 200-BTC account's close (near
    ///         bankruptcy, so it bypasses the cap) overfills the BTC window; within it, a whale with a
    ///         0.005-BTC leg falls below maintenance on ETH.
    function test_fullWindowHoldsBackOnlyItsLeg() public {
        handler.openWhale(0, 0, 0); // 100 ETH + 0.005 BTC on 4% of the ETH notional
        handler.openBtcFiller(200e18); // 200 BTC long on 5%
        assertEq(handler.accountCount(), 2, "both opened");
        uint256 before;
        handler.movePrice(1, 0); // BTC -6%: the filler is past bankruptcy, its close bypasses the cap
        handler.liquidateAll();
        before = handler.ghost_liquidations();
        assertGt(before, 0, "the filler was liquidated");
        for (uint256 i; i < 5; ++i) {
            handler.movePrice(0, 500); // ETH -1%
            handler.liquidateAll();
        }
        assertEq(handler.ghost_blockedByOtherMarket(), 0, "refused with room in its own market");
        assertGt(handler.ghost_liquidations(), before, "the whale was liquidated");
    }
}
