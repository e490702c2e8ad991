// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {IVault} from "../../contracts/interfaces/IVault.sol";
import {IOracleAdapter} from "../../contracts/interfaces/IOracleAdapter.sol";
import {Erc4626Properties} from "./helpers/Erc4626Properties.sol";

/// @notice The ERC-4626 properties on the vault's LP shares, with open skew, price moves and trading
///         fees shaping the book value; plus the rule for a stale price: the views answer with the lax
///         book (never above the fresh one at the same price) and every entry point refuses.
contract VaultErc4626Test is Erc4626Properties {
    uint256 internal constant HONEST_LIQUIDITY = 20_000_000 * USDC;
    uint256 internal constant TRADER_MARGIN = 50_000_000 * USDC;

    address internal trader;
    uint256 internal accountId;

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        address honest = makeAddr("honestLp");
        usdc.mint(honest, HONEST_LIQUIDITY);
        vm.startPrank(honest);
        usdc.approve(address(vault), type(uint256).max);
        vault.deposit(HONEST_LIQUIDITY, honest);
        vm.stopPrank();

        trader = makeAddr("trader");
        usdc.mint(trader, TRADER_MARGIN);
        vm.startPrank(trader);
        usdc.approve(address(vault), type(uint256).max);
        accountId = engine.createAccount();
        engine.deposit(accountId, TRADER_MARGIN);
        vm.stopPrank();

        _setUpProperties();
    }

    function _vault() internal view override returns (IERC4626) {
        return IERC4626(address(vault));
    }

    function _refusesWorthlessRedeem() internal pure override returns (bytes4) {
        return IVault.ZeroAmount.selector;
    }

    /// @dev The holder's deposit is past its lockup (feeds pushed again after the wait).
    function _seedHolder() internal override {
        _fund(holder, HOLDER_ASSETS);
        vm.prank(holder);
        vault.deposit(HOLDER_ASSETS, holder);
        vm.warp(block.timestamp + vault.lpLockup());
        _refreshFeeds();
        assertEq(vault.lockedLpShares(holder), 0);
    }

    /// @dev Open skew in either direction in both markets (up to 8% of ETH's skew scale), then the
    ///      prices move (up to 30% either way): the traders' PnL and the premium move the book value.
    function _scenario(uint256 seed) internal override {
        int256 ethSize = int256(bound(uint256(keccak256(abi.encode(seed, 1))), 0, 80_000e18)) - 40_000e18;
        int256 btcSize = int256(bound(uint256(keccak256(abi.encode(seed, 2))), 0, 2_000e18)) - 1_000e18;
        vm.startPrank(trader);
        if (ethSize != 0) {
            engine.modifyPosition(accountId, ETH, _clip(ethSize, 10_000e18), ethSize > 0 ? type(uint256).max : 0);
        }
        if (btcSize != 0) {
            engine.modifyPosition(accountId, BTC, _clip(btcSize, 1_000e18), btcSize > 0 ? type(uint256).max : 0);
        }
        vm.stopPrank();
        int256 ethMove = int256(bound(uint256(keccak256(abi.encode(seed, 3))), 70, 130));
        int256 btcMove = int256(bound(uint256(keccak256(abi.encode(seed, 4))), 70, 130));
        ethFeed.updateAnswer((ETH_INITIAL_ANSWER * ethMove) / 100);
        btcFeed.updateAnswer((BTC_INITIAL_ANSWER * btcMove) / 100);
    }

    /// @dev A trade no larger than the market's maximum trade size.
    function _clip(int256 size, int256 maxTrade) internal pure returns (int256) {
        if (size > maxTrade) return maxTrade;
        if (size < -maxTrade) return -maxTrade;
        return size;
    }

    /// @notice A stale price: the views answer with a book no higher than the fresh one at the same
    ///         price, and deposit, mint, withdraw and redeem all refuse (the oracle's StaleAnswer).
    function testFuzz_stalePriceViewsAnswerLowAndEntriesRefuse(uint256 seed, uint256 amountSeed) public {
        _scenario(seed);
        vm.warp(block.timestamp + HEARTBEAT + 1);
        uint256 laxAssets = vault.totalAssets();
        uint256 laxShares = vault.convertToShares(1_000 * USDC);
        uint256 laxValue = vault.convertToAssets(1e18);
        uint256 amount = bound(amountSeed, 1, 1_000_000 * USDC);
        _fund(holder, amount);
        vm.startPrank(holder);
        vm.expectPartialRevert(IOracleAdapter.StaleAnswer.selector);
        vault.deposit(amount, holder);
        vm.expectPartialRevert(IOracleAdapter.StaleAnswer.selector);
        vault.mint(amount, holder);
        vm.expectPartialRevert(IOracleAdapter.StaleAnswer.selector);
        vault.withdraw(amount, holder, holder);
        vm.expectPartialRevert(IOracleAdapter.StaleAnswer.selector);
        vault.redeem(amount, holder, holder);
        vm.stopPrank();

        // the same answers, fresh again, in the same block: the strict book
        _refreshFeeds();
        assertLe(laxAssets, vault.totalAssets(), "the lax book reads above the fresh one");
        assertGe(laxShares, vault.convertToShares(1_000 * USDC));
        assertLe(laxValue, vault.convertToAssets(1e18));
    }

    /// @notice The lax book equals the strict one to the wei while the traders are net in profit (what
    ///         they are owed always counts), and drops only their net loss otherwise.
    function testFuzz_laxExposureIsStrictExposureLessStaleLosses(uint256 seed) public {
        _scenario(seed);
        (int256 strictNet, uint256 strictSkew) = engine.lpExposure();
        (int256 laxNet, uint256 laxSkew) = engine.lpExposureLax();
        assertEq(laxNet, strictNet, "fresh: lax == strict");
        assertEq(laxSkew, strictSkew);
        vm.warp(block.timestamp + HEARTBEAT + 1);
        (laxNet, ) = engine.lpExposureLax();
        _refreshFeeds();
        (strictNet, ) = engine.lpExposure();
        assertGe(laxNet, strictNet, "an old price never counts traders' losses");
        assertGe(laxNet, 0);
    }
}
