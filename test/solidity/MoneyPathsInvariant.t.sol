// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {IInsuranceFund} from "../../contracts/interfaces/IInsuranceFund.sol";
import {ProtocolFixture} from "./helpers/ProtocolFixture.sol";
import {MoneyPathHandler} from "./handlers/MoneyPathHandler.sol";

/// @notice Stateful fuzzing of the LP and insurance money paths against an adversary (see
///         MoneyPathHandler): no LP round trip around trades profits, no insurance share leaves without
///         a ripe request of its owner's own that held it through the cooldown, previews and max* views
///         are honest, and neither ERC-4626 contract's views ever revert, stale feeds included.
contract MoneyPathsInvariantTest is ProtocolFixture {
    uint256 internal constant HONEST_LIQUIDITY = 20_000_000 * USDC;
    uint256 internal constant ATTACKER_LIQUIDITY = 20_000_000 * USDC;
    uint256 internal constant MARGIN = 50_000_000 * USDC;

    MoneyPathHandler internal handler;

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        address honestLp = makeAddr("honestLp");
        handler = new MoneyPathHandler(usdc, vault, engine, insuranceFund, ethFeed, btcFeed, honestLp);

        usdc.mint(honestLp, HONEST_LIQUIDITY);
        vm.prank(honestLp);
        vault.deposit(HONEST_LIQUIDITY, honestLp);
        handler.seed(ATTACKER_LIQUIDITY, MARGIN);
        // both LPs' seed shares are free: the attacker's round trips redeem out of them
        vm.warp(block.timestamp + vault.lpLockup());
        ethFeed.updateAnswer(ETH_INITIAL_ANSWER);
        btcFeed.updateAnswer(BTC_INITIAL_ANSWER);

        bytes4[] memory selectors = new bytes4[](11);
        selectors[0] = MoneyPathHandler.honestTrade.selector;
        selectors[1] = MoneyPathHandler.movePrice.selector;
        selectors[2] = MoneyPathHandler.warp.selector;
        selectors[3] = MoneyPathHandler.honestLpDeposit.selector;
        selectors[4] = MoneyPathHandler.honestLpRedeem.selector;
        selectors[5] = MoneyPathHandler.lpRoundTrip.selector;
        selectors[6] = MoneyPathHandler.stake.selector;
        selectors[7] = MoneyPathHandler.moveShares.selector;
        selectors[8] = MoneyPathHandler.request.selector;
        selectors[9] = MoneyPathHandler.cancel.selector;
        selectors[10] = MoneyPathHandler.exit.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice No LP-and-trader round trip around trades ends richer than it started.
    function invariant_noLpRoundTripProfits() public view {
        assertEq(handler.ghost_maxRoundTripGainWad(), 0, "an LP round trip around a trade gained (WAD)");
        assertEq(handler.ghost_profitableRoundTrips(), 0, "profitable LP round trips");
    }

    /// @notice Every insurance share burned by an exit was held by its owner, under a ripe request of
    ///         its own, through the whole cooldown.
    function invariant_noStakerExitsWithoutOwnRipeRequest() public view {
        assertEq(handler.ghost_unbackedExits(), 0, "an insurance exit without a ripe request of its own");
    }

    /// @notice A live request is backed by shares its owner has held without a break since it asked:
    ///         what a ripe request may take was never passed to another address in the meantime.
    function invariant_liveRequestsStayBacked() public view {
        address[2] memory helpers = handler.helperList();
        for (uint256 i = 0; i < 2; ++i) {
            IInsuranceFund.WithdrawalRequest memory r = insuranceFund.withdrawalRequest(helpers[i]);
            if (block.timestamp >= r.expiresAt) continue;
            assertGe(handler.ghost_backed(helpers[i]), r.shares, "a live request's shares left its owner");
        }
    }

    /// @notice Previews are on the side the standard requires, and every amount within a max* went through.
    function invariant_previewsAndMaxViewsHonest() public view {
        assertEq(handler.ghost_previewViolations(), 0, "a preview on the wrong side of its call");
        assertEq(handler.ghost_maxDishonoured(), 0, vm.toString(handler.lastDishonour()));
    }

    /// @notice The ERC-4626 views of both contracts answer in every state, stale feeds included.
    function invariant_erc4626ViewsNeverRevert() public view {
        address[2] memory helpers = handler.helperList();
        address[5] memory who = [
            handler.attacker(),
            handler.honestLp(),
            handler.honestTrader(),
            helpers[0],
            helpers[1]
        ];
        IERC4626[2] memory vaults = [IERC4626(address(vault)), IERC4626(address(insuranceFund))];
        for (uint256 v = 0; v < 2; ++v) {
            IERC4626 x = vaults[v];
            x.totalAssets();
            x.convertToShares(1_000_000 * USDC);
            x.convertToAssets(1e18);
            x.previewDeposit(1_000_000 * USDC);
            x.previewMint(1e18);
            x.previewWithdraw(1_000_000 * USDC);
            x.previewRedeem(1e18);
            for (uint256 i = 0; i < who.length; ++i) {
                x.maxDeposit(who[i]);
                x.maxMint(who[i]);
                x.maxWithdraw(who[i]);
                x.maxRedeem(who[i]);
            }
        }
    }
}
