// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test, Vm} from "forge-std/Test.sol";

import {IVault} from "../../contracts/interfaces/IVault.sol";
import {MockUSDC} from "../../contracts/mocks/MockUSDC.sol";
import {Vault} from "../../contracts/vault/Vault.sol";

/// @notice Vault.settleLiquidation (a liquidation leg's settlement and the tranche's penalty in one call)
///         leaves every ledger exactly as settle followed by chargePenalty does, emits settle's events
///         but not chargePenalty's PenaltyCharged (the liquidation engine's TrancheLiquidated records a
///         tranche's penalty), and keeps both callers' checks: engine only, and the penalty only when the engine is
///         also the liquidation engine. This test contract plays the engine.
contract VaultSettleLiquidationTest is Test {
    uint256 internal constant SCALE = 1e12;
    address internal constant KEEPER = address(0xBEEF);
    address internal constant FUND = address(0xF00D);

    MockUSDC internal usdc;
    Vault internal split; // settle, then chargePenalty
    Vault internal joint; // settleLiquidation

    function setUp() public {
        usdc = new MockUSDC();
        split = _vault(address(this));
        joint = _vault(address(this));
    }

    function _vault(address liquidationEngine) internal returns (Vault v) {
        v = new Vault(usdc, address(this), address(this));
        v.setEngine(address(this));
        v.wireLiquidation(liquidationEngine, FUND);
        usdc.mint(address(this), 1_000_000e6);
        usdc.approve(address(v), type(uint256).max);
        // Account 1 loses 300 to the pool (a profit can then be paid from it); accounts 2 and 3 hold margin.
        v.depositMargin(1, address(this), 1_000e6);
        v.depositMargin(2, address(this), 100e6);
        v.depositMargin(3, address(this), 50e6);
        v.settle(1, -300e18, 0);
    }

    /// @dev Both vaults' ledgers after the same leg and penalty, one through each path.
    function _compare(uint256 accountId, int256 pnl, uint256 keeperWad, uint256 insuranceWad) internal {
        (, uint256 shortfallSplit, ) = split.settle(accountId, pnl, 0);
        if (keeperWad != 0 || insuranceWad != 0) split.chargePenalty(accountId, KEEPER, keeperWad, insuranceWad);
        (uint256 shortfallJoint, , ) = joint.settleLiquidation(accountId, pnl, KEEPER, keeperWad, insuranceWad);
        assertEq(shortfallJoint, shortfallSplit, "shortfall");
        assertEq(joint.marginOf(accountId), split.marginOf(accountId), "margin");
        assertEq(joint.lpPoolWad(), split.lpPoolWad(), "pool");
        assertEq(joint.keeperRewardsOf(KEEPER), split.keeperRewardsOf(KEEPER), "keeper");
        assertEq(joint.insuranceLedgerWad(), split.insuranceLedgerWad(), "insurance");
    }

    function test_lossThenPenalty_equalsSettleThenChargePenalty() public {
        _compare(2, -40e18, 7e18, 3e18);
        assertEq(joint.marginOf(2), 50e18);
    }

    function test_profitPaysAPenaltyLargerThanTheMarginBefore() public {
        // 50 of margin, a 200 profit, a 120 penalty: only the profit settled first can pay it.
        _compare(3, 200e18, 100e18, 20e18);
        assertEq(joint.marginOf(3), 130e18);
        assertEq(joint.keeperRewardsOf(KEEPER), 100e18);
    }

    function test_profitBeyondThePool_equalsSettleThenChargePenalty() public {
        _compare(2, 1_000e18, 20e18, 5e18); // the pool holds 300 of the 1,000 owed
        assertEq(joint.marginOf(2), 375e18);
        assertEq(joint.lpPoolWad(), 0);
    }

    function test_lossBeyondMargin_penaltyTakesNothing() public {
        _compare(3, -80e18, 5e18, 5e18);
        assertEq(joint.marginOf(3), 0);
    }

    function test_noPenalty_settlesOnly() public {
        _compare(2, -10e18, 0, 0);
        assertEq(joint.keeperRewardsOf(KEEPER), 0);
    }

    /// A tranche's penalty is recorded by the liquidation engine's TrancheLiquidated events: the vault
    /// emits only the ProfitShortfall; chargePenalty (backstop, orders) still emits PenaltyCharged.
    function test_profitShortfallOnly_noPenaltyCharged() public {
        vm.recordLogs();
        joint.settleLiquidation(2, 1_000e18, KEEPER, 1e18, 0); // the pool holds 300
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1);
        assertEq(logs[0].topics[0], IVault.ProfitShortfall.selector);
        assertEq(joint.keeperRewardsOf(KEEPER), 1e18);
    }

    function test_engineOnly() public {
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(IVault.NotEngine.selector, KEEPER));
        joint.settleLiquidation(2, -1e18, KEEPER, 0, 0);
    }

    /// The liquidating engine's address shares its slot with the insurance ledger: credits keep it, and it is
    /// set whichever of setEngine and wireLiquidation comes last.
    function test_ledgerAndCallerShareASlot_wiringInEitherOrder() public {
        Vault v = new Vault(usdc, address(this), address(this));
        v.wireLiquidation(address(this), FUND);
        v.setEngine(address(this));
        usdc.approve(address(v), type(uint256).max);
        v.depositMargin(2, address(this), 100e6);
        for (uint256 i; i < 3; ++i) v.settleLiquidation(2, -1e18, KEEPER, 1e18, 2e18);
        assertEq(v.insuranceLedgerWad(), 6e18);
        assertEq(v.keeperRewardsOf(KEEPER), 3e18);
        assertEq(v.marginOf(2), 88e18);
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(IVault.NotEngine.selector, KEEPER));
        v.settleLiquidation(2, -1e18, KEEPER, 1e18, 0);
    }

    /// The insurance ledger holds 96 bits (7.9e10 tokens in WAD): a credit past them reverts, changing nothing.
    function test_insuranceLedgerPast96BitsReverts() public {
        uint256 tokens = 1e17; // 1e29 in WAD, above 2^96 - 1 (7.9e28)
        usdc.mint(address(this), tokens);
        joint.depositMargin(2, address(this), tokens);
        uint256 past = uint256(type(uint96).max) + 1;
        vm.expectRevert(abi.encodeWithSignature("SafeCastOverflowedUintDowncast(uint8,uint256)", 96, past));
        joint.settleLiquidation(2, 0, KEEPER, 0, past);
        joint.settleLiquidation(2, 0, KEEPER, 0, past - 1);
        assertEq(joint.insuranceLedgerWad(), past - 1);
    }

    function test_penaltyOnlyWhenTheEngineIsTheLiquidationEngine() public {
        Vault other = _vault(address(0xABCD));
        vm.expectRevert(abi.encodeWithSelector(IVault.NotLiquidationEngine.selector, address(this)));
        other.settleLiquidation(2, -1e18, KEEPER, 1e18, 0);
        // without a penalty it is a settlement, which is the engine's
        other.settleLiquidation(2, -1e18, KEEPER, 0, 0);
        assertEq(other.marginOf(2), 99e18);
    }
}
