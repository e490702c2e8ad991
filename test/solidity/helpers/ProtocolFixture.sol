// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";

import {InsuranceFund} from "../../../contracts/insurance/InsuranceFund.sol";
import {LiquidationEngine} from "../../../contracts/liquidation/LiquidationEngine.sol";
import {PerpEngine} from "../../../contracts/market/PerpEngine.sol";
import {MarketAdmin} from "../../../contracts/market/MarketAdmin.sol";
import {LiquidationConfigurator} from "../../../contracts/liquidation/LiquidationConfigurator.sol";
import {AutoDeleveraging} from "../../../contracts/liquidation/AutoDeleveraging.sol";
import {OwnImpactModule} from "../../../contracts/liquidation/OwnImpactModule.sol";
import {Vault} from "../../../contracts/vault/Vault.sol";
import {ILiquidationEngine} from "../../../contracts/interfaces/ILiquidationEngine.sol";
import {IPerpEngine} from "../../../contracts/interfaces/IPerpEngine.sol";
import {IBackstopTypes} from "../../../contracts/interfaces/IBackstop.sol";
import {RiskParams} from "../../../contracts/libraries/RiskModel.sol";
import {Roles} from "../../../contracts/libraries/Roles.sol";
import {MockAggregator} from "../../../contracts/mocks/MockAggregator.sol";
import {MockUSDC} from "../../../contracts/mocks/MockUSDC.sol";
import {OracleAdapter} from "../../../contracts/oracle/OracleAdapter.sol";
import {WAD} from "../../../contracts/libraries/Constants.sol";

/// @notice Deploys and wires the protocol the way deploy/protocol.ts does, with the parameters of
///         deploy/params.ts (DEFAULT_MARKETS, DEFAULT_RISK), for Solidity tests.
abstract contract ProtocolFixture is Test {
    /// @dev One whole MockUSDC (6 decimals).
    uint256 internal constant USDC = 1e6;
    uint8 internal constant FEED_DECIMALS = 8;

    uint256 internal constant ETH = 0;
    uint256 internal constant BTC = 1;
    bytes32 internal constant ETH_FEED = bytes32("ETH/USD");
    bytes32 internal constant BTC_FEED = bytes32("BTC/USD");
    int256 internal constant ETH_INITIAL_ANSWER = 2_000e8;
    int256 internal constant BTC_INITIAL_ANSWER = 30_000e8;

    uint32 internal constant HEARTBEAT = 1 hours;
    uint32 internal constant VOL_WINDOW = 6 hours;
    /// @dev 0.1% per hour at |skew| >= skewScale (DEFAULT_MAX_FUNDING_RATE).
    uint64 internal constant MAX_FUNDING_RATE = uint64(WAD / 1000 / 3600);

    /// @dev A realistic clock: the feeds' first rounds are stamped with it.
    uint256 internal constant START_TIME = 1_700_000_000;

    MockUSDC internal usdc;
    MockAggregator internal ethFeed;
    MockAggregator internal btcFeed;
    OracleAdapter internal oracle;
    Vault internal vault;
    PerpEngine internal engine;
    InsuranceFund internal insuranceFund;
    ILiquidationEngine internal liquidationEngine;

    address internal admin;
    address internal governor;
    address internal guardian;

    function _deployProtocol() internal {
        admin = makeAddr("admin");
        governor = makeAddr("governor");
        guardian = makeAddr("guardian");
        vm.warp(START_TIME);

        usdc = new MockUSDC();
        ethFeed = new MockAggregator(FEED_DECIMALS, ETH_INITIAL_ANSWER, "ETH / USD");
        btcFeed = new MockAggregator(FEED_DECIMALS, BTC_INITIAL_ANSWER, "BTC / USD");
        oracle = new OracleAdapter(admin, governor);
        vault = new Vault(usdc, admin, governor);
        engine = new PerpEngine(
            vault,
            oracle,
            admin,
            governor,
            guardian,
            address(new MarketAdmin(vault, oracle)),
            address(
                new LiquidationEngine(
                    vault,
                    oracle,
                    address(new LiquidationConfigurator(vault, oracle, _afterConfigurator()))
                )
            )
        );

        vm.prank(admin);
        vault.setEngine(address(engine));

        vm.startPrank(governor);
        oracle.setFeed(ETH_FEED, address(ethFeed), HEARTBEAT, VOL_WINDOW, 0.6e18);
        oracle.setFeed(BTC_FEED, address(btcFeed), HEARTBEAT, VOL_WINDOW, 0.5e18);
        engine.listMarket(ETH, _marketConfig(ETH_FEED, 1_000_000e18, 100_000e18, 10_000e18));
        engine.listMarket(BTC, _marketConfig(BTC_FEED, 50_000e18, 5_000e18, 1_000e18));
        vm.stopPrank();
    }

    /// @dev The module after LiquidationConfigurator in the engine's fall-through order: auto-deleveraging, then
    ///      the own-impact mark's, here; a suite that needs the backstop puts BackstopModule in front of it (deploy/protocol.ts).
    function _afterConfigurator() internal virtual returns (address) {
        return address(new AutoDeleveraging(vault, oracle, address(new OwnImpactModule(vault, oracle))));
    }

    /// @dev The insurance fund and the liquidation engine (a module reached at the engine's address),
    ///      wired as deploy/protocol.ts wires them.
    function _deployLiquidation() internal {
        insuranceFund = new InsuranceFund(usdc, vault, engine, admin, governor);
        liquidationEngine = ILiquidationEngine(address(engine));
        vm.startPrank(admin);
        vault.wireLiquidation(address(liquidationEngine), address(insuranceFund));
        insuranceFund.setLiquidationEngine(address(liquidationEngine));
        engine.grantRole(Roles.LIQUIDATOR, address(liquidationEngine));
        vm.stopPrank();
    }

    /// @dev Penalty shares and fee share owed to the fund and not yet sent: the vault's own ledger, without
    ///      the view's share of the protocol fees still held (that part is still inside protocolFees).
    function _insuranceLedger() internal view returns (uint256) {
        return vault.insuranceLedgerWad();
    }

    function _marketConfig(
        bytes32 feedId,
        uint128 skewScale,
        uint128 maxOpenInterest,
        uint128 maxTradeSize
    ) internal pure returns (IPerpEngine.MarketConfig memory) {
        return
            IPerpEngine.MarketConfig({
                feedId: feedId,
                skewScale: skewScale,
                maxOpenInterest: maxOpenInterest,
                maxTradeSize: maxTradeSize,
                maxFundingRatePerSecond: MAX_FUNDING_RATE,
                listed: true,
                reduceOnly: false,
                risk: _defaultRisk()
            });
    }

    /// @dev DEFAULT_RISK of deploy/params.ts.
    function _defaultRisk() internal pure returns (RiskParams memory) {
        return
            RiskParams({
                mmrBase: 0.01e18,
                mmrMin: 0.005e18,
                mmrMax: 0.2e18,
                kMm: 0.01e18,
                imMultiplier: 2e18,
                sizePremium: 0.1e18,
                mmrRampPerSecond: uint64(WAD / 100 / 3600),
                baseFee: 0.0005e18,
                kFee: 0.5e18
            });
    }

    /// @dev The Solidity tests' backstop configuration (the mocha tests' BACKSTOP_TEST_CONFIG but for the three
    ///      fields a test chooses): the unwind's impact budget and late multiplier, and the deleveraging trigger.
    function _backstopTestConfig(
        uint64 impactBudget,
        uint64 lateMultiplier,
        uint64 adlDrawdown
    ) internal pure returns (IBackstopTypes.BackstopConfig memory) {
        return
            IBackstopTypes.BackstopConfig({
                feeRate: 0.01e18,
                accountShare: 0.5e18,
                marketShare: 2e18,
                refSigma: 0.8e18,
                depthShare: 0.2e18,
                totalShare: 3e18,
                maxDrawdown: 0.15e18,
                drawdownWindow: 8 hours,
                impactBudget: impactBudget,
                flowHalfLife: 600,
                maxHold: 1 hours,
                lateMultiplier: lateMultiplier,
                adlDrawdown: adlDrawdown,
                // the vault pays bad debt up to its deleveraging trigger (its whole budget with deleveraging off)
                badDebtDrawdown: adlDrawdown != 0 ? adlDrawdown : 0.15e18
            });
    }

    function _feedOf(uint256 marketId) internal view returns (MockAggregator) {
        return marketId == ETH ? ethFeed : btcFeed;
    }

    /// @dev Sum of trader margin, LP pool and protocol fees: every claim on the vault's tokens (WAD).
    function _ledgerTotal(uint256[] memory accountIds) internal view returns (uint256 total) {
        for (uint256 i = 0; i < accountIds.length; ++i) {
            total += vault.marginOf(accountIds[i]);
        }
        total += vault.lpPoolWad() + vault.protocolFeesWad();
    }
}
