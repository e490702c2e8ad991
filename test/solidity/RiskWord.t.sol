// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";

import {IPerpEngine} from "../../contracts/interfaces/IPerpEngine.sol";
import {IVault} from "../../contracts/interfaces/IVault.sol";
import {IOracleAdapter} from "../../contracts/interfaces/IOracleAdapter.sol";
import {IBoundedParameters} from "../../contracts/libraries/Bounds.sol";
import {RiskModel, RiskParams} from "../../contracts/libraries/RiskModel.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";
import {MarketAdmin} from "../../contracts/market/MarketAdmin.sol";

/// @dev Just what the engine's constructor and listMarket ask of the vault and the oracle.
contract RiskWordStubs {
    uint256 public constant SCALE = 1e12;

    function getPriceAndVolatility(bytes32) external pure returns (uint256, uint256) {
        return (2_000e18, 0.8e18);
    }
}

/// @dev MarketAdmin with the engine's readers of the risk word exposed.
contract RiskWordHarness is MarketAdmin {
    constructor(address stubs) MarketAdmin(IVault(stubs), IOracleAdapter(stubs)) {
        _grantRole(Roles.GOVERNOR, msg.sender);
    }

    function riskOf(uint256 m) external view returns (RiskParams memory) {
        return _riskOf(_configs[m]);
    }

    function stored(uint256 m) external view returns (RiskParams memory) {
        return _configs[m].risk;
    }

    function sizePremium(uint256 m) external view returns (uint256) {
        return _sizePremium(_configs[m]);
    }

    function listed(uint256 m) external view returns (bool) {
        return _configs[m].listed;
    }

    function rampTarget(uint256 m, uint256 sigma) external view returns (uint256 target, uint256 speed) {
        return _rampTarget(_configs[m], sigma);
    }
}

/// @notice The risk word (RiskWord): every reader of it gets exactly the RiskParams governance set, at each
///         field's bounds and between them; a value the word cannot hold is refused with no state change.
contract RiskWordTest is Test {
    RiskWordHarness internal engine;
    uint256 internal constant UNIT = 1e12;

    function setUp() public {
        engine = new RiskWordHarness(address(new RiskWordStubs()));
    }

    function _config(RiskParams memory r) internal pure returns (IPerpEngine.MarketConfig memory c) {
        c.feedId = "ETH/USD";
        c.skewScale = 1_000_000e18;
        c.maxFundingRatePerSecond = 1e12;
        c.maxOpenInterest = 100_000e18;
        c.maxTradeSize = 10_000e18;
        c.risk = r;
    }

    function _lowest() internal view returns (RiskParams memory r) {
        r.mmrMin = uint64(engine.MIN_MMR());
        r.mmrMax = r.mmrMin;
        r.mmrBase = r.mmrMin;
        r.kMm = 0;
        r.imMultiplier = uint64(engine.MIN_IM_MULTIPLIER());
        r.sizePremium = 0;
        r.mmrRampPerSecond = uint64(engine.MIN_MMR_RAMP_PER_SECOND());
    }

    function _highest() internal view returns (RiskParams memory r) {
        r.mmrMin = uint64(engine.MAX_MMR());
        r.mmrMax = r.mmrMin;
        r.mmrBase = r.mmrMin;
        r.kMm = uint64(engine.MAX_K_MM());
        r.imMultiplier = uint64(engine.MAX_IM_MULTIPLIER());
        r.sizePremium = uint64(engine.MAX_SIZE_PREMIUM());
        r.mmrRampPerSecond = uint64(engine.MAX_MMR_RAMP_PER_SECOND());
        r.baseFee = uint64(engine.MAX_BASE_FEE());
        r.kFee = uint64(engine.MAX_K_FEE());
    }

    /// @dev Between the bounds, with a ramp speed that is no round number (the default's 1e16 / 3600).
    function _between() internal pure returns (RiskParams memory r) {
        r.mmrMin = 0.003e18;
        r.mmrMax = 0.123457e18;
        r.mmrBase = 0.010001e18;
        r.kMm = 0.199999e18;
        r.imMultiplier = 1.5e18 + 7;
        r.sizePremium = 0.999999e18;
        r.mmrRampPerSecond = 2_777_777_777_777;
        r.baseFee = 0.0005e18 + 3;
        r.kFee = 1e18 + 11;
    }

    function _assertSame(uint256 m) internal view {
        RiskParams memory want = engine.stored(m);
        RiskParams memory got = engine.riskOf(m);
        assertEq(abi.encode(got), abi.encode(want), "riskOf");
        assertEq(engine.sizePremium(m), want.sizePremium, "sizePremium");
        uint256[4] memory sigmas = [uint256(0), 0.8e18, 3e18, 50e18];
        for (uint256 i; i < sigmas.length; ++i) {
            (uint256 target, uint256 speed) = engine.rampTarget(m, sigmas[i]);
            assertEq(target, RiskModel.volatilityTerm(want, sigmas[i]), "ramp target");
            assertEq(speed, want.mmrRampPerSecond, "ramp speed");
        }
    }

    function test_readersGetWhatWasSetAtEachBound() public {
        engine.listMarket(0, _config(_lowest()));
        engine.listMarket(1, _config(_highest()));
        engine.listMarket(2, _config(_between()));
        _assertSame(0);
        _assertSame(1);
        _assertSame(2);
        assertEq(abi.encode(engine.stored(2)), abi.encode(_between()), "the struct keeps what was set");
    }

    function test_setMarketConfigRewritesTheWord() public {
        engine.listMarket(0, _config(_lowest()));
        engine.setMarketConfig(0, _config(_highest()));
        _assertSame(0);
        assertEq(engine.sizePremium(0), engine.MAX_SIZE_PREMIUM(), "the new size premium");
        engine.setMarketConfig(0, _config(_between()));
        _assertSame(0);
    }

    function test_aValueOffTheUnitIsRefusedWithNoStateChange() public {
        engine.listMarket(0, _config(_between()));
        bytes32[5] memory names = [bytes32("mmrMin"), "mmrMax", "mmrBase", "kMm", "sizePremium"];
        for (uint256 i; i < names.length; ++i) {
            RiskParams memory r = _between();
            uint256 value;
            if (i == 0) value = r.mmrMin += 1;
            else if (i == 1) value = r.mmrMax += 1;
            else if (i == 2) value = r.mmrBase += 1;
            else if (i == 3) value = r.kMm += 1;
            else value = r.sizePremium += uint64(UNIT / 2);
            vm.expectRevert(
                abi.encodeWithSelector(IBoundedParameters.ParameterNotInUnits.selector, names[i], value, UNIT)
            );
            engine.setMarketConfig(0, _config(r));
            vm.expectRevert(
                abi.encodeWithSelector(IBoundedParameters.ParameterNotInUnits.selector, names[i], value, UNIT)
            );
            engine.listMarket(1, _config(r));
        }
        _assertSame(0);
        assertEq(abi.encode(engine.stored(0)), abi.encode(_between()), "unchanged");
        assertFalse(engine.listed(1), "market 1 not listed");
    }
}
