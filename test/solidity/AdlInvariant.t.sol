// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "../../contracts/interfaces/IPerpEngine.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";
import {ProtocolFixture} from "./helpers/ProtocolFixture.sol";
import {AdlHandler} from "./handlers/AdlHandler.sol";

/// @notice Auto-deleveraging against an adversary (issue 11, Medium 2-4). Every run starts with bad debt
///         pending recovery: a long went bankrupt in an ETH fall and the insurance fund is empty, while
///         cross-margined accounts hold winning ETH shorts beside BTC longs (one of them, like the
///         review's, with equity close to its maintenance margin). The handler (AdlHandler) then calls
///         ADL as anyone with any list, ranked ADL as the keeper, LP deposits, mints and redemptions
///         around it, trades, price moves both ways, liquidations and time.
contract AdlInvariantTest is ProtocolFixture {
    uint256 internal constant ACCOUNTS = 6;

    AdlHandler internal handler;
    address internal keeper;
    uint256[] internal accounts;
    address[] internal owners;

    function setUp() public {
        _deployProtocol();
        _deployLiquidation();
        keeper = makeAddr("adlKeeper");
        vm.prank(admin);
        engine.grantRole(Roles.ADL_KEEPER, keeper);
        vm.prank(governor);
        vault.setInsuranceFeeShare(0); // nothing for the fund: a shortfall goes to the ADL queue

        address lp = makeAddr("honestLp");
        usdc.mint(lp, 1_000_000 * USDC);
        vm.startPrank(lp);
        usdc.approve(address(vault), type(uint256).max);
        vault.deposit(1_000_000 * USDC, lp);
        vm.stopPrank();

        // [margin (USDC), ETH size, BTC size]: the bankrupt long, then the other side, cross-margined
        int256[3][ACCOUNTS] memory book = [
            [int256(4_000), 60e18, 0],
            [int256(300), -4e18, 0],
            [int256(20_000), -10e18, 0.2e18],
            [int256(1_000), -5e18, 0.1e18],
            [int256(5_000), -3e18, 1e18],
            [int256(50_000), 2e18, -0.5e18]
        ];
        for (uint256 i; i < ACCOUNTS; ++i) {
            address owner = makeAddr(string.concat("trader", vm.toString(i)));
            usdc.mint(owner, 10_000_000 * USDC);
            vm.startPrank(owner);
            usdc.approve(address(vault), type(uint256).max);
            uint256 id = engine.createAccount();
            engine.deposit(id, uint256(book[i][0]) * USDC);
            if (book[i][1] != 0) engine.modifyPosition(id, ETH, book[i][1], book[i][1] > 0 ? type(uint256).max : 0);
            if (book[i][2] != 0) engine.modifyPosition(id, BTC, book[i][2], book[i][2] > 0 ? type(uint256).max : 0);
            vm.stopPrank();
            accounts.push(id);
            owners.push(owner);
        }
        // ETH falls 5%: the long is bankrupt and liquidated; BTC falls 35%: account 3's equity nears
        // its maintenance margin (its ETH profit is more than its equity)
        ethFeed.updateAnswer((ETH_INITIAL_ANSWER * 95) / 100);
        btcFeed.updateAnswer((BTC_INITIAL_ANSWER * 65) / 100);
        vm.prank(keeper);
        liquidationEngine.liquidate(accounts[0]);
        require(liquidationEngine.badDebtPending() != 0, "setup: no deficit pending");

        handler = new AdlHandler(engine, liquidationEngine, vault, usdc, [ethFeed, btcFeed], accounts, owners, keeper);
        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = AdlHandler.trade.selector;
        selectors[1] = AdlHandler.movePrice.selector;
        selectors[2] = AdlHandler.liquidate.selector;
        selectors[3] = AdlHandler.warp.selector;
        selectors[4] = AdlHandler.lpDeposit.selector;
        selectors[5] = AdlHandler.lpMint.selector;
        selectors[6] = AdlHandler.lpRedeem.selector;
        selectors[7] = AdlHandler.adlRanked.selector;
        selectors[8] = AdlHandler.adlAnyList.selector;
        selectors[9] = AdlHandler.adlAnyList.selector; // twice as likely: the adversary's call
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice The starting book gives the campaign something to take: the keeper's ranked call recovers
    ///         part of the deficit, and account 3 (the review's shape: ETH profit above its equity) is
    ///         above maintenance but would go below it if all its ETH profit were taken.
    function test_startingBookHasWorkForAdl() public {
        (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) = engine.liquidationSnapshot(
            accounts[3]
        );
        assertGt(s.equity, int256(s.maintenanceMargin), "account 3 starts below maintenance");
        int256 ethValue = ps[0].marketId == ETH ? ps[0].value : ps[1].value;
        assertGt(ethValue, 0, "account 3's ETH short is not in profit");
        assertGt(ethValue, s.equity - int256(s.maintenanceMargin), "account 3 has room for all its profit");
        uint256 pendingBefore = liquidationEngine.badDebtPending();
        uint256 adlBefore = handler.adlReductions();
        handler.adlRanked(ETH, true);
        assertGt(handler.adlReductions(), adlBefore, "the ranked call reduced nobody");
        assertLt(liquidationEngine.badDebtPending(), pendingBefore, "the ranked call recovered nothing");
        (s, ) = engine.liquidationSnapshot(accounts[3]);
        assertGe(s.equity, int256(s.maintenanceMargin), "account 3 left below maintenance");
        assertEq(handler.ghost_belowFloor(), 0, "a reduced account ended below maintenance");
    }

    /// @notice Only ADL_KEEPER's calls change anything: anyone else's reverts.
    function invariant_adlOnlyByTheKeeper() public view {
        assertEq(handler.ghost_unauthorisedChanged(), 0, "an ADL call without ADL_KEEPER went through");
    }

    /// @notice A list not strictly ranked by the engine's score (as far as the engine went) changes nothing.
    function invariant_misrankedAdlChangesNothing() public view {
        assertEq(handler.ghost_misrankedChanged(), 0, "a mis-ranked ADL list went through");
    }

    /// @notice ADL leaves every account it reduced at or above its maintenance margin, margin untouched.
    function invariant_adlLeavesCandidatesAtOrAboveMaintenance() public view {
        assertEq(handler.ghost_belowFloor(), 0, "ADL left an account below its maintenance margin");
        assertEq(handler.ghost_principalTaken(), 0, "ADL moved an account's margin");
    }

    /// @notice No LP enters while bad debt is pending recovery, so no LP share bought at the price the loss
    ///         lowered gains from its recovery; the max* views say so.
    function invariant_noLpProfitsFromARecovery() public view {
        assertEq(handler.ghost_entryWhilePending(), 0, "an LP entered while bad debt was pending");
        assertEq(
            handler.ghost_recoveryCaptured(),
            0,
            "shares bought during a pending deficit gained from its recovery"
        );
        if (liquidationEngine.badDebtPending() != 0) {
            assertEq(vault.maxDeposit(handler.attacker()), 0, "maxDeposit > 0 while bad debt is pending");
            assertEq(vault.maxMint(handler.attacker()), 0, "maxMint > 0 while bad debt is pending");
        }
    }

    /// @notice incurred == covered + socialised + pending.
    function invariant_adlBadDebtAccounted() public view {
        assertEq(
            liquidationEngine.badDebtIncurred(),
            liquidationEngine.badDebtCovered() +
                liquidationEngine.badDebtSocialised() +
                liquidationEngine.badDebtPending(),
            "bad debt incurred != covered + socialised + pending"
        );
    }
}
