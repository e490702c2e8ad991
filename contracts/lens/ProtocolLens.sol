// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {IProtocolLens} from "../interfaces/IProtocolLens.sol";
import {IBackstopConfigurator} from "../interfaces/IBackstop.sol";
import {IAutoDeleveraging} from "../interfaces/IAutoDeleveraging.sol";

/// @title ProtocolLens
/// @notice Views only: gathers the protocol's own views into one answer for off-chain readers. It holds
///         no state besides the two addresses, has no roles and sends nothing.
contract ProtocolLens is IProtocolLens {
    /// @inheritdoc IProtocolLens
    address public immutable engine;
    /// @inheritdoc IProtocolLens
    address public immutable oracle;

    constructor(address engine_, address oracle_) {
        engine = engine_;
        oracle = oracle_;
    }

    /// @inheritdoc IProtocolLens
    function keeperView(uint256[] calldata marketIds) external view returns (KeeperView memory view_) {
        // config() and rewardConfig() answer their structs' fields as a flat tuple: the same encoding
        view_.liquidation = abi.decode(
            _read(engine, abi.encodeCall(ILiquidationConfigurator.config, ())),
            (ILiquidationConfigurator.Config)
        );
        view_.reward = abi.decode(
            _read(engine, abi.encodeCall(ILiquidationConfigurator.rewardConfig, ())),
            (ILiquidationConfigurator.RewardConfig)
        );
        view_.markets = new MarketView[](marketIds.length);
        for (uint256 i; i < marketIds.length; ++i) view_.markets[i] = _market(marketIds[i]);
    }

    /// @inheritdoc IProtocolLens
    function deleverageView() external view returns (DeleverageView memory v) {
        v.badDebtPending = ILiquidationConfigurator(engine).badDebtPending();
        // the keeper reads state and config together and skips the vault's job when either fails
        try IBackstopConfigurator(engine).backstopState() returns (IBackstopConfigurator.BackstopState memory state) {
            try IBackstopConfigurator(engine).backstopConfig() returns (
                IBackstopConfigurator.BackstopConfig memory config
            ) {
                (v.backstop, v.vault, v.accountId, v.adlDrawdown) = (
                    true,
                    state.vault,
                    state.accountId,
                    config.adlDrawdown
                );
            } catch {
                return v;
            }
        } catch {
            return v;
        }
        if (v.vault == address(0) || v.adlDrawdown == 0) return v;
        uint256[] memory ids = IPerpEngine(engine).accountMarkets(v.accountId);
        uint256 n;
        for (uint256 i; i < ids.length; ++i) {
            if (IAutoDeleveraging(engine).backstopExcess(ids[i]) > 0) ids[n++] = ids[i];
        }
        assembly ("memory-safe") {
            mstore(ids, n) // the markets kept, in their order
        }
        v.excessMarkets = ids;
    }

    function _market(uint256 marketId) private view returns (MarketView memory m) {
        m.marketId = marketId;
        m.config = IPerpEngine(engine).marketConfig(marketId);
        m.state = IPerpEngine(engine).marketState(marketId);
        (m.windowStart, m.windowUsed) = ILiquidationConfigurator(engine).capacityWindow(marketId);
        if (!m.config.listed) return m;
        try IOracleAdapter(oracle).getPriceAndVolatility(m.config.feedId) returns (uint256 price, uint256 sigma) {
            (m.priced, m.priceWad, m.sigmaWad) = (true, price, sigma);
        } catch (bytes memory reason) {
            // an unpriced market is an answer (a stale or failed feed), not a failed read
            m.priceError = reason;
        }
    }

    /// @dev A static call that bubbles its revert up unchanged.
    function _read(address target, bytes memory data) private view returns (bytes memory out) {
        bool ok;
        (ok, out) = target.staticcall(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(out, 32), mload(out))
            }
        }
    }
}
