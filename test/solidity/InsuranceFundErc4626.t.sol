// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {Erc4626Properties} from "./helpers/Erc4626Properties.sol";

/// @notice The ERC-4626 properties on the insurance fund's shares, with fee income held for the fund
///         by the vault, flushes and donations shaping the share price. The holder's request for all its
///         shares is ripe for the whole test (the cooldown has passed, the window has not).
contract InsuranceFundErc4626Test is Erc4626Properties {
    uint256 internal constant TRADER_MARGIN = 50_000_000 * USDC;

    address internal trader;
    uint256 internal accountId;

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        address lp = makeAddr("lp");
        usdc.mint(lp, 20_000_000 * USDC);
        vm.startPrank(lp);
        usdc.approve(address(vault), type(uint256).max);
        vault.deposit(20_000_000 * USDC, lp);
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
        return IERC4626(address(insuranceFund));
    }

    /// @dev Stakes, asks to withdraw every share, and waits out the cooldown (feeds pushed again).
    function _seedHolder() internal override {
        _fund(holder, HOLDER_ASSETS);
        vm.startPrank(holder);
        uint256 shares = insuranceFund.deposit(HOLDER_ASSETS, holder);
        insuranceFund.requestWithdrawal(shares);
        vm.stopPrank();
        vm.warp(block.timestamp + insuranceFund.cooldown());
        _refreshFeeds();
        assertEq(insuranceFund.maxRedeem(holder), shares);
    }

    /// @dev Trading fees (part of them the fund's, held by the vault until flushed), sometimes flushed,
    ///      and a donation of up to a million tokens straight to the fund.
    function _scenario(uint256 seed) internal override {
        uint256 trades = bound(uint256(keccak256(abi.encode(seed, 1))), 0, 4);
        vm.startPrank(trader);
        for (uint256 i = 0; i < trades; ++i) {
            int256 size = int256(bound(uint256(keccak256(abi.encode(seed, 10 + i))), 1e15, 10_000e18));
            bool buy = uint256(keccak256(abi.encode(seed, 20 + i))) % 2 == 0;
            engine.modifyPosition(accountId, ETH, buy ? size : -size, buy ? type(uint256).max : 0);
        }
        vm.stopPrank();
        if (uint256(keccak256(abi.encode(seed, 3))) % 2 == 0) vault.flushInsurance();
        uint256 donation = bound(uint256(keccak256(abi.encode(seed, 4))), 0, 1_000_000 * USDC);
        if (donation != 0) usdc.mint(address(insuranceFund), donation);
    }
}
