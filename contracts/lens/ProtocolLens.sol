// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {IProtocolLens} from "../interfaces/IProtocolLens.sol";
import {IBackstopConfigurator} from "../interfaces/IBackstop.sol";
import {IAutoDeleveraging} from "../interfaces/IAutoDeleveraging.sol";
import {IVault} from "../interfaces/IVault.sol";

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
        view_ = _keeperView(marketIds);
    }

    /// @inheritdoc IProtocolLens
    function keeperViewWith(
        uint256[] calldata marketIds,
        Read[] calldata reads
    ) external view returns (KeeperView memory view_, Answer[] memory answers) {
        view_ = _keeperView(marketIds);
        answers = _answers(reads);
    }

    /// @inheritdoc IProtocolLens
    function readAll(Read[] calldata reads) external view returns (Answer[] memory answers) {
        answers = _answers(reads);
    }

    function _answers(Read[] calldata reads) private view returns (Answer[] memory answers) {
        answers = new Answer[](reads.length);
        for (uint256 i; i < reads.length; ++i) {
            (bool ok, bytes memory out) = reads[i].target.staticcall(reads[i].data);
            if (ok) answers[i] = Answer(true, out);
        }
    }

    function _keeperView(uint256[] calldata marketIds) private view returns (KeeperView memory view_) {
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
    function accountsView(
        address vault,
        uint256[] calldata accountIds
    ) external view returns (AccountView[] memory accounts) {
        IPerpEngine e = IPerpEngine(engine);
        accounts = new AccountView[](accountIds.length);
        for (uint256 i; i < accountIds.length; ++i) {
            uint256 id = accountIds[i];
            AccountView memory a = accounts[i];
            (a.owner, a.margin, a.markets) = (e.accountOwner(id), IVault(vault).marginOf(id), e.accountMarkets(id));
            a.positions = new IPerpEngine.Position[](a.markets.length);
            for (uint256 j; j < a.markets.length; ++j) a.positions[j] = e.position(id, a.markets[j]);
        }
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
