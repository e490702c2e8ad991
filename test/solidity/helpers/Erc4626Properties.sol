// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {ProtocolFixture} from "./ProtocolFixture.sol";

/// @notice EIP-4626 properties, fuzzed on a protocol state the fuzzer also shapes (open skew, price
///         moves, income): every round trip in one block leaves the actor no richer, every preview is
///         on the side the standard requires of the call it previews, every max* is honoured, and the
///         views never revert, not even while a feed is stale. A suite per vault supplies the vault and
///         how an actor comes to hold shares it may take out now.
/// @dev `holder` holds shares it may redeem at once (an unlocked LP balance, a ripe insurance request);
///      `newcomer` holds nothing. Amounts are kept below `MAX_ASSETS` (a billion tokens).
abstract contract Erc4626Properties is ProtocolFixture {
    uint256 internal constant MAX_ASSETS = 1_000_000_000 * USDC;
    uint256 internal constant HOLDER_ASSETS = 2_000_000_000 * USDC;

    address internal holder;
    address internal newcomer;

    /// @dev The ERC-4626 contract under test.
    function _vault() internal view virtual returns (IERC4626);

    /// @dev Makes `holder` hold HOLDER_ASSETS worth of shares it may take out now, and sets the clock
    ///      so that it still may for the whole test.
    function _seedHolder() internal virtual;

    /// @dev Shapes the state from a seed: trades, price moves, income. Leaves every feed fresh.
    function _scenario(uint256 seed) internal virtual;

    function _setUpProperties() internal {
        holder = makeAddr("holder");
        newcomer = makeAddr("newcomer");
        address[2] memory actors = [holder, newcomer];
        for (uint256 i = 0; i < 2; ++i) {
            vm.prank(actors[i]);
            usdc.approve(address(_vault()), type(uint256).max);
        }
        _seedHolder();
    }

    /// @dev Pushes the feeds' current answers again, stamped now: fresh prices, unchanged.
    function _refreshFeeds() internal {
        (, int256 ethAnswer, , , ) = ethFeed.latestRoundData();
        (, int256 btcAnswer, , , ) = btcFeed.latestRoundData();
        ethFeed.updateAnswer(ethAnswer);
        btcFeed.updateAnswer(btcAnswer);
    }

    function _fund(address who, uint256 assets) internal {
        usdc.mint(who, assets);
    }

    /// @dev Shares `holder` may take out now, bounded by a seed and by MAX_ASSETS worth.
    function _holderShares(uint256 seed) internal view returns (uint256) {
        IERC4626 v = _vault();
        uint256 max = v.maxRedeem(holder);
        uint256 cap = v.convertToShares(MAX_ASSETS);
        if (cap < max) max = cap;
        vm.assume(max != 0);
        return bound(seed, 1, max);
    }

    /// @dev Assets `holder` may take out now, bounded by a seed.
    function _holderAssets(uint256 seed) internal view returns (uint256) {
        uint256 max = _vault().maxWithdraw(holder);
        if (max > MAX_ASSETS) max = MAX_ASSETS;
        vm.assume(max != 0);
        return bound(seed, 1, max);
    }

    function _deposit(address who, uint256 assets) internal returns (uint256 shares) {
        IERC4626 v = _vault();
        _fund(who, assets);
        uint256 preview = v.previewDeposit(assets);
        vm.prank(who);
        shares = v.deposit(assets, who);
        assertLe(preview, shares, "previewDeposit over-estimates the shares deposit mints");
    }

    function _mint(address who, uint256 shares) internal returns (uint256 assets) {
        IERC4626 v = _vault();
        uint256 preview = v.previewMint(shares);
        _fund(who, preview);
        uint256 before = usdc.balanceOf(who);
        vm.prank(who);
        assets = v.mint(shares, who);
        assertEq(before - usdc.balanceOf(who), assets, "mint pulled other than it returned");
        assertGe(preview, assets, "previewMint under-estimates the assets mint pulls");
    }

    function _withdraw(address who, uint256 assets) internal returns (uint256 shares) {
        IERC4626 v = _vault();
        uint256 preview = v.previewWithdraw(assets);
        uint256 sharesBefore = v.balanceOf(who);
        uint256 before = usdc.balanceOf(who);
        vm.prank(who);
        shares = v.withdraw(assets, who, who);
        assertEq(sharesBefore - v.balanceOf(who), shares, "withdraw burned other than it returned");
        assertEq(usdc.balanceOf(who) - before, assets, "withdraw paid other than asked");
        assertGe(preview, shares, "previewWithdraw under-estimates the shares withdraw burns");
    }

    /// @dev The vault's LP shares refuse a redemption worth no assets (ZeroAmount) rather than burn
    ///      shares for nothing; the insurance fund pays the zero.
    function _refusesWorthlessRedeem() internal pure virtual returns (bytes4) {
        return bytes4(0);
    }

    function _redeem(address who, uint256 shares) internal returns (uint256 assets) {
        IERC4626 v = _vault();
        uint256 preview = v.previewRedeem(shares);
        bytes4 refusal = _refusesWorthlessRedeem();
        if (preview == 0 && refusal != bytes4(0)) {
            vm.prank(who);
            vm.expectRevert(refusal);
            v.redeem(shares, who, who);
            return 0;
        }
        uint256 before = usdc.balanceOf(who);
        vm.prank(who);
        assets = v.redeem(shares, who, who);
        assertEq(usdc.balanceOf(who) - before, assets, "redeem paid other than it returned");
        assertLe(preview, assets, "previewRedeem over-estimates the assets redeem pays");
    }

    // ================================================================== round trips

    function testFuzz_depositThenRedeemNeverProfits(uint256 seed, uint256 assetsSeed) public {
        _scenario(seed);
        uint256 assets = bound(assetsSeed, 1, MAX_ASSETS);
        uint256 shares = _deposit(holder, assets);
        assertLe(_redeem(holder, shares), assets, "deposit -> redeem returned more than deposited");
    }

    function testFuzz_depositThenWithdrawNeverProfits(uint256 seed, uint256 assetsSeed) public {
        _scenario(seed);
        uint256 assets = bound(assetsSeed, 1, MAX_ASSETS);
        uint256 shares = _deposit(holder, assets);
        assertGe(_withdraw(holder, assets), shares, "deposit -> withdraw burned fewer shares than minted");
    }

    function testFuzz_mintThenRedeemNeverProfits(uint256 seed, uint256 sharesSeed) public {
        _scenario(seed);
        uint256 shares = bound(sharesSeed, 1, _vault().convertToShares(MAX_ASSETS));
        uint256 assets = _mint(holder, shares);
        assertLe(_redeem(holder, shares), assets, "mint -> redeem returned more than paid");
    }

    function testFuzz_mintThenWithdrawNeverProfits(uint256 seed, uint256 sharesSeed) public {
        _scenario(seed);
        uint256 shares = bound(sharesSeed, 1, _vault().convertToShares(MAX_ASSETS));
        uint256 assets = _mint(holder, shares);
        assertGe(_withdraw(holder, assets), shares, "mint -> withdraw burned fewer shares than minted");
    }

    function testFuzz_redeemThenDepositNeverProfits(uint256 seed, uint256 sharesSeed) public {
        _scenario(seed);
        uint256 shares = _holderShares(sharesSeed);
        uint256 assets = _redeem(holder, shares);
        vm.assume(assets != 0);
        assertLe(_deposit(holder, assets), shares, "redeem -> deposit minted more shares than burned");
    }

    function testFuzz_redeemThenMintNeverProfits(uint256 seed, uint256 sharesSeed) public {
        _scenario(seed);
        uint256 shares = _holderShares(sharesSeed);
        uint256 assets = _redeem(holder, shares);
        assertGe(_mint(holder, shares), assets, "redeem -> mint cost less than redeem paid");
    }

    function testFuzz_withdrawThenDepositNeverProfits(uint256 seed, uint256 assetsSeed) public {
        _scenario(seed);
        uint256 assets = _holderAssets(assetsSeed);
        uint256 shares = _withdraw(holder, assets);
        assertLe(_deposit(holder, assets), shares, "withdraw -> deposit minted more shares than burned");
    }

    function testFuzz_withdrawThenMintNeverProfits(uint256 seed, uint256 assetsSeed) public {
        _scenario(seed);
        uint256 assets = _holderAssets(assetsSeed);
        uint256 shares = _withdraw(holder, assets);
        assertGe(_mint(holder, shares), assets, "withdraw -> mint cost less than withdraw paid");
    }

    // ================================================================== max* honoured

    /// @dev "MUST NOT be higher than the actual maximum that would be accepted": any amount up to the
    ///      max goes through (up to MAX_ASSETS: a larger deposit is a supply question, not the vault's).
    function testFuzz_maxDepositAndMaxMintAreHonoured(uint256 seed, uint256 assetsSeed, uint256 sharesSeed) public {
        _scenario(seed);
        IERC4626 v = _vault();
        uint256 maxAssets = v.maxDeposit(newcomer);
        if (maxAssets > MAX_ASSETS) maxAssets = MAX_ASSETS;
        if (maxAssets != 0) _deposit(newcomer, bound(assetsSeed, 1, maxAssets));
        uint256 maxShares = v.maxMint(newcomer);
        uint256 cap = v.convertToShares(MAX_ASSETS);
        if (maxShares > cap) maxShares = cap;
        if (maxShares != 0) _mint(newcomer, bound(sharesSeed, 1, maxShares));
    }

    function testFuzz_maxWithdrawAndMaxRedeemAreHonoured(uint256 seed, uint256 amountSeed, bool byShares) public {
        _scenario(seed);
        IERC4626 v = _vault();
        if (byShares) {
            uint256 max = v.maxRedeem(holder);
            assertGt(max, 0, "the holder may redeem");
            uint256 shares = bound(amountSeed, 1, max);
            if (v.previewRedeem(shares) != 0) _redeem(holder, shares);
            // the newcomer holds nothing and may take nothing
            assertEq(v.maxRedeem(newcomer), 0);
        } else {
            uint256 max = v.maxWithdraw(holder);
            assertGt(max, 0, "the holder may withdraw");
            _withdraw(holder, bound(amountSeed, 1, max));
            assertEq(v.maxWithdraw(newcomer), 0);
        }
    }

    // ================================================================== views never revert

    /// @dev Every view of the standard answers while every feed is stale.
    function testFuzz_viewsNeverRevertWhileStale(uint256 seed, uint256 amount, uint256 staleFor) public {
        _scenario(seed);
        vm.warp(block.timestamp + HEARTBEAT + 1 + bound(staleFor, 0, 30 days));
        IERC4626 v = _vault();
        v.asset();
        v.totalAssets();
        v.convertToShares(amount % (MAX_ASSETS * 1e3));
        v.convertToAssets(amount % (MAX_ASSETS * 1e9));
        address[2] memory actors = [holder, newcomer];
        for (uint256 i = 0; i < 2; ++i) {
            v.maxDeposit(actors[i]);
            v.maxMint(actors[i]);
            v.maxWithdraw(actors[i]);
            v.maxRedeem(actors[i]);
        }
        v.previewDeposit(amount % MAX_ASSETS);
        v.previewMint(amount % (MAX_ASSETS * 1e6));
        v.previewRedeem(amount % (MAX_ASSETS * 1e6));
        v.previewWithdraw(amount % MAX_ASSETS);
    }
}
