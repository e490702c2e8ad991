// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {LibBit} from "solady/utils/LibBit.sol";

import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {IVault} from "../interfaces/IVault.sol";
import {IOracleAdapter} from "../interfaces/IOracleAdapter.sol";
import {ICircuitBreaker} from "../interfaces/ICircuitBreaker.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {IAutoDeleveraging} from "../interfaces/IAutoDeleveraging.sol";
import {IBackstop} from "../interfaces/IBackstop.sol";
import {IBackstopVault} from "../interfaces/IBackstopVault.sol";
import {IOrders} from "../interfaces/IOrders.sol";
import {IOwnImpactMark} from "../interfaces/IOwnImpactMark.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {PerpMath} from "../libraries/PerpMath.sol";
import {RiskModel, RiskParams} from "../libraries/RiskModel.sol";
import {LiquidationParams} from "../libraries/LiquidationParams.sol";
import {RiskWord} from "../libraries/RiskWord.sol";
import {ForcedFlow} from "../libraries/ForcedFlow.sol";
import {WAD} from "../libraries/Constants.sol";

/// @title PerpEngineBase
/// @notice The engine's storage and the bookkeeping every part of the engine shares: funding accrual,
///         the maintenance ramp, the cross-margin summary and the one primitive that reduces a position.
///         PerpEngine and its modules (MarketAdmin, LiquidationEngine, LiquidationConfigurator,
///         AutoDeleveraging) inherit it, so a
///         module reached by delegatecall works on exactly the engine's storage: a liquidation reads and
///         writes positions where they live instead of copying them across a contract boundary.
/// @dev Storage is append only: a new variable goes after the last one, in this contract only (the
///      contracts that inherit it declare no storage of their own).
abstract contract PerpEngineBase is AccessControl, ReentrancyGuardTransient {
    using SafeCast for uint256;
    using SafeCast for int256;
    using FixedPoint for uint256;

    uint256 public constant MAX_MARKETS = 96;

    IVault public immutable vault;
    IOracleAdapter public immutable oracle;
    /// @notice 10 ** (18 - collateral decimals).
    uint256 public immutable SCALE;

    // ------------------------------------------------------------------ market storage
    ICircuitBreaker internal _circuitBreaker;
    uint256 internal _nextAccountId = 1;
    /// @dev Bit i set: market i is listed.
    uint96 internal _listedMarkets;

    /// @dev Slot 0 is what every trade reads; slot 1 is the account's liquidation state. Both are written
    ///      when the account is created, so a liquidation never pays for a fresh slot (a first write
    ///      costs 20k more than a rewrite, which in a cascade is block space the next tranche needs).
    struct AccountData {
        address owner;
        uint96 markets; // bit i set: the account has a position in market i
        uint40 lastTrancheAt;
        uint40 liquidatableSince; // start of the reward-escalation clock; 0 = not running
        uint128 marginAtFlag; // margin when flagged or last liquidated: more margin since restarts the clock
        bool created; // keeps slot 1 non-zero from creation on
        uint40 seenAt; // when flag() last saw the account liquidatable (a tranche's time is lastTrancheAt)
    }

    mapping(uint256 accountId => AccountData) internal _accounts;
    mapping(uint256 marketId => IPerpEngine.MarketConfig) internal _configs;
    mapping(uint256 marketId => IPerpEngine.MarketState) internal _states;
    mapping(uint256 accountId => mapping(uint256 marketId => IPerpEngine.Position)) internal _positions;

    // ------------------------------------------------------------------ liquidation storage
    /// @dev The liquidation configuration and the reward configuration (with dustNotional), one word each
    ///      in LiquidationParams' units and layout: a tranche reads two cold slots for both, a trade's margin
    ///      check one.
    uint256 internal _liqConfigWord;
    uint256 internal _rewardConfigWord;
    IAutoDeleveraging.AdlConfig internal _adlConfig;
    /// @dev Retired: each market's capacity window now lives in its state's basis-sum slot (_capacityWindow).
    ///      The mapping's slot stays so that every later variable keeps its place.
    mapping(uint256 marketId => ILiquidationConfigurator.Window) private _retiredCapacityWindows;
    mapping(uint256 marketId => ILiquidationConfigurator.Window) internal _adlWindows;
    mapping(uint256 marketId => mapping(bool bankruptLong => uint256 amountWad)) internal _pendingDeficit;
    ILiquidationConfigurator.BadDebtLedger internal _badDebt;

    // ------------------------------------------------------------------ backstop storage (BackstopModule)
    IBackstop.BackstopConfig internal _backstopConfig;
    IBackstop.BackstopState internal _backstop;
    mapping(uint256 marketId => IBackstop.Flow) internal _forcedFlow;

    // ------------------------------------------------------------------ order storage (OrderModule)
    IOrders.OrderConfig internal _orderConfig;
    mapping(uint256 accountId => IOrders.Order) internal _orders;

    // ------------------------------------------------------------------ own-impact mark storage (OwnImpactModule)
    /// @dev The signed, decaying measure of the protocol's own forced trades per market (_addOwnFlow).
    mapping(uint256 marketId => IOwnImpactMark.OwnFlow) internal _ownFlow;

    /// @dev Values of one market already read this call, reused by the margin check.
    struct MarketCache {
        uint256 marketId;
        uint256 price;
        uint256 sigma;
        int256 fundingIndex;
        uint256 term;
        uint256 imMultiplier;
    }

    /// @dev Locals of a trade, in memory to keep the stack shallow without viaIR.
    struct Trade {
        int256 oldSize;
        int256 newSize;
        int256 oldBasis;
        int256 newBasis;
        uint256 fill;
        uint256 fee;
        int256 realisedPnl;
        bool addsRisk;
    }

    /// @dev Transient slots of the per-call price cache: the id of the open cache (0: none) and the last
    ///      id used. A liquidation call opens a cache, so every account and leg of it is priced from one
    ///      oracle read per market (the answer cannot change inside the call), and closes it on return.
    bytes32 private constant _PRICE_CACHE_OPEN = keccak256("cascade.engine.priceCache.open");
    bytes32 private constant _PRICE_CACHE_LAST = keccak256("cascade.engine.priceCache.last");
    /// @dev The markets whose prices the open cache holds: the cache's id in bits 128 and up, a bit per
    ///      market below (a word left by an earlier cache has another id and counts as empty). An account
    ///      whose markets are all held skips the per-market look-ups (its feed id, the feed's slot).
    bytes32 private constant _PRICE_CACHE_MARKETS = keccak256("cascade.engine.priceCache.markets");

    constructor(IVault vault_, IOracleAdapter oracle_) {
        if (address(vault_) == address(0) || address(oracle_) == address(0)) revert IPerpEngine.ZeroAddress();
        vault = vault_;
        oracle = oracle_;
        SCALE = vault_.SCALE();
    }

    // ------------------------------------------------------------------ prices

    /// @dev The oracle's price and volatility of a feed, from the open price cache when it holds them.
    function _priceOf(bytes32 feedId) internal view returns (uint256 price, uint256 sigma) {
        bytes32 slot = _priceSlot(feedId);
        if (slot != 0) {
            assembly ("memory-safe") {
                price := tload(slot)
                sigma := tload(add(slot, 1))
            }
            if (price != 0) return (price, sigma);
        }
        return oracle.getPriceAndVolatility(feedId);
    }

    /// @dev Whether the open price cache holds the feed (always false without an open cache).
    function _isCached(bytes32 feedId) internal view returns (bool cached) {
        bytes32 slot = _priceSlot(feedId);
        if (slot == 0) return false;
        assembly ("memory-safe") {
            cached := iszero(iszero(tload(slot)))
        }
    }

    /// @dev Opens a price cache with a new id (ids only grow within a transaction, so a fresh cache holds
    ///      no market: the markets word, if any, carries an earlier id) and returns the id.
    function _openPriceCache() internal returns (uint256 id) {
        bytes32 open = _PRICE_CACHE_OPEN;
        bytes32 last = _PRICE_CACHE_LAST;
        assembly ("memory-safe") {
            id := add(tload(last), 1)
            tstore(last, id)
            tstore(open, id)
        }
    }

    /// @dev The markets whose prices the open cache holds (0 without an open cache), and the cache's id.
    function _cachedMarkets() internal view returns (uint256 held, uint256 id) {
        bytes32 open = _PRICE_CACHE_OPEN;
        bytes32 marketsSlot = _PRICE_CACHE_MARKETS;
        uint256 word;
        assembly ("memory-safe") {
            id := tload(open)
            word := tload(marketsSlot)
        }
        if (id != 0 && word >> 128 == id) held = uint128(word);
    }

    /// @dev Reads every market in `markets` that the open cache does not hold yet into it (no-op without
    ///      an open cache); a market whose feed refuses to answer stays out of it. Returns the markets the
    ///      cache holds now (what _cachedMarkets would read back; 0 without an open cache).
    function _cacheMarkets(uint96 markets) internal returns (uint256) {
        (uint256 held, uint256 id) = _cachedMarkets();
        return _cacheMarketsIn(id, held, markets, true);
    }

    /// @dev _cacheMarkets for the open cache `id` (0: none) that holds the markets `held`: a caller that has
    ///      just opened the cache knows both (held is 0) and skips reading them back. `record`: write the markets
    ///      the cache holds for a later _cachedMarkets of the same cache; a caller that caches once per cache
    ///      (liquidate: one account) has no later reader and skips the write.
    function _cacheMarketsIn(uint256 id, uint256 held, uint96 markets, bool record) internal returns (uint256) {
        uint256 want = markets & ~held;
        if (id == 0 || want == 0) return held;
        for (; want != 0; want &= want - 1) {
            uint256 m = LibBit.ffs(want);
            if (_cachePrice(_configs[m].feedId, id)) held |= uint256(1) << m;
        }
        if (record) {
            bytes32 marketsSlot = _PRICE_CACHE_MARKETS;
            uint256 word = (id << 128) | held;
            assembly ("memory-safe") {
                tstore(marketsSlot, word)
            }
        }
        return held;
    }

    /// @dev Overwrites the open cache's price of a feed it holds (OwnImpactModule: the marks, then the prices back).
    function _setCachedPrice(bytes32 feedId, uint256 price) internal {
        bytes32 slot = _priceSlot(feedId);
        assembly ("memory-safe") {
            tstore(slot, price)
        }
    }

    function _closePriceCache() internal {
        bytes32 open = _PRICE_CACHE_OPEN;
        assembly ("memory-safe") {
            tstore(open, 0)
        }
    }

    /// @dev Reads a feed into the open cache; a feed that refuses to answer is left out (the caller's
    ///      plan reports it). Whether the cache holds the feed now.
    function _cachePrice(bytes32 feedId, uint256 id) private returns (bool cached) {
        bytes32 slot = _priceSlotIn(feedId, id);
        uint256 held;
        assembly ("memory-safe") {
            held := tload(slot)
        }
        if (held != 0) return true;
        try oracle.getPriceAndVolatility(feedId) returns (uint256 price, uint256 sigma) {
            assembly ("memory-safe") {
                tstore(slot, price)
                tstore(add(slot, 1), sigma)
            }
            return price != 0;
        } catch {}
    }

    function _priceSlot(bytes32 feedId) private view returns (bytes32 slot) {
        bytes32 open = _PRICE_CACHE_OPEN;
        uint256 id;
        assembly ("memory-safe") {
            id := tload(open)
        }
        if (id == 0) return 0;
        // keccak256(abi.encode(feedId, id, open)), hashed in scratch space: no memory allocated per read
        // (_priceSlotIn's hash, repeated here: a call to it would grow every module that reads prices).
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, feedId)
            mstore(add(p, 32), id)
            mstore(add(p, 64), open)
            slot := keccak256(p, 96)
        }
    }

    /// @dev The feed's slot in the open cache `id` (non-zero): keccak256(abi.encode(feedId, id, open)),
    ///      hashed at the free-memory pointer without moving it (no memory allocated per read).
    function _priceSlotIn(bytes32 feedId, uint256 id) private pure returns (bytes32 slot) {
        bytes32 open = _PRICE_CACHE_OPEN;
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, feedId)
            mstore(add(p, 32), id)
            mstore(add(p, 64), open)
            slot := keccak256(p, 96)
        }
    }

    // ------------------------------------------------------------------ reduce

    /// @dev Reduces (or closes) a position with no margin check, fee, stress level or size cap, at the
    ///      oracle index price or at `priceWad` when non-zero. It can never add risk.
    function _reduce(
        uint256 accountId,
        uint256 marketId,
        int256 sizeDelta,
        uint256 priceWad
    ) internal returns (int256, uint256 shortfall, uint256) {
        IPerpEngine.MarketConfig storage cfg = _listedConfig(marketId);
        IPerpEngine.Position storage pos = _positions[accountId][marketId];
        Trade memory t;
        t.oldSize = pos.size;
        t.newSize = t.oldSize + sizeDelta;
        if (sizeDelta == 0 || t.oldSize == 0 || _addsRisk(t.oldSize, t.newSize)) {
            revert IPerpEngine.NotAReduction(accountId, marketId, t.oldSize, sizeDelta);
        }
        MarketCache memory c;
        (c.price, c.sigma) = _priceOf(cfg.feedId);
        (c.fundingIndex, ) = _accrue(marketId, cfg, _states[marketId], c.price, c.sigma);
        t.fill = priceWad == 0 ? c.price : priceWad;
        t.oldBasis = pos.basis;
        (t.newBasis, t.realisedPnl) = PerpMath.applyTrade(t.oldSize, t.oldBasis, sizeDelta, t.fill, c.fundingIndex);
        _writeMarket(cfg, _states[marketId], marketId, t);
        pos.size = t.newSize.toInt128();
        pos.basis = t.newBasis.toInt128();
        _writeAccountMarkets(accountId, _accounts[accountId].markets, marketId, t.newSize);
        (, shortfall, ) = vault.settle(accountId, t.realisedPnl, 0);
        if (shortfall != 0) emit IPerpEngine.BadDebtIncurred(accountId, marketId, shortfall);
        emit IPerpEngine.PositionModified(
            accountId,
            marketId,
            sizeDelta,
            t.newSize,
            t.fill,
            0,
            t.realisedPnl,
            c.fundingIndex
        );
        return (t.realisedPnl, shortfall, t.fill);
    }

    /// @dev A liquidation leg: the reduction _reduce would make at the index price, from what the plan
    ///      already computed at that price (the fill `leg.price`, which the plan read from the call's price
    ///      cache; the basis stays, the closed part realises `leg.realised`, the same PerpMath.applyTrade
    ///      arithmetic), without reading the market's configuration or the price again (the volatility
    ///      only when the market accrues). The vault settles the leg and, on the tranche's last leg, takes
    ///      the penalty (`keeperWad` for the keeper, `insuranceWad` for the insurance fund; both 0 on the
    ///      other legs) in the same call (Vault.settleLiquidation). The leg's event is the caller's
    ///      (LiquidationEngine's TrancheLiquidated, which carries the new size and the realised PnL).
    function _reduceLeg(
        uint256 accountId,
        ILiquidator.Leg memory leg,
        address keeper,
        uint256 keeperWad,
        uint256 insuranceWad,
        uint256 windowLength,
        uint256[] memory accruals
    ) internal returns (uint256 shortfall, int256 newSize) {
        uint256 marketId = leg.marketId;
        newSize = _moveLeg(accountId, marketId, leg, windowLength, accruals);
        (shortfall, , ) = vault.settleLiquidation(accountId, leg.realised, keeper, keeperWad, insuranceWad);
        if (shortfall != 0) emit IPerpEngine.BadDebtIncurred(accountId, marketId, shortfall);
    }

    /// @dev The leg's writes to the engine's storage (accrual, open interest, the position, the account's
    ///      markets, the leg's notional counted in the market's capacity window of `windowLength` seconds);
    ///      the vault's settlement and the events are _reduceLeg's.
    function _moveLeg(
        uint256 accountId,
        uint256 marketId,
        ILiquidator.Leg memory leg,
        uint256 windowLength,
        uint256[] memory accruals
    ) private returns (int256 newSize) {
        IPerpEngine.MarketState storage st = _states[marketId];
        IPerpEngine.Position storage pos = _positions[accountId][marketId];
        Trade memory t;
        t.oldSize = pos.size;
        t.oldBasis = pos.basis;
        t.newSize = t.oldSize + leg.sizeDelta;
        t.newBasis = t.newSize == 0 ? int256(0) : t.oldBasis;
        _accrueAsPlanned(marketId, st, accruals);
        _writeLegMarket(st, t, windowLength, leg.notional);
        // One write of the position's slot, whole: size in bits 0-127, basis in 128-255 (as solc packs it).
        uint256 posWord = uint256(uint128(t.newSize.toInt128())) | (uint256(uint128(t.newBasis.toInt128())) << 128);
        assembly ("memory-safe") {
            sstore(pos.slot, posWord)
        }
        // A reduction that leaves a position changes none of the account's markets (its bit is set: it held
        // the position): only a closed one is taken out.
        if (t.newSize == 0) _writeAccountMarkets(accountId, _accounts[accountId].markets, marketId, 0);
        newSize = t.newSize;
    }

    /// @dev A liquidation leg's accrual: the one the plan's summary computed for the market (`accruals`, see
    ///      _summary), written and emitted exactly as _accrue would here, since its inputs are the plan's: the
    ///      price and volatility from the call's price cache, the block, and the market's state, which nothing
    ///      changes before the market's own accrual (a tranche has one leg per market). Nothing when the market
    ///      accrued in this block already (the plan then read the stored values). A market missing from
    ///      `accruals` cannot happen (every leg comes from a position the summary read) and would revert.
    function _accrueAsPlanned(uint256 marketId, IPerpEngine.MarketState storage st, uint256[] memory accruals) private {
        if (block.timestamp == uint64(_accrualWord(st) >> 128)) return;
        uint256 at;
        while (accruals[at] != marketId) at += ACCRUAL_WORDS; // past the end (cannot happen): reverts
        int256 index;
        uint256 term;
        int256 rate;
        assembly ("memory-safe") {
            let p := add(add(accruals, 32), mul(at, 32))
            index := mload(add(p, 32))
            term := mload(add(p, 64))
            rate := mload(add(p, 96))
        }
        // The accrual's slot written whole, as _accrue writes it.
        uint256 word =
            uint256(uint128(index.toInt128())) |
                (uint256(uint64(block.timestamp)) << 128) |
                (uint256(term.toUint64()) << 192);
        assembly ("memory-safe") {
            sstore(add(st.slot, 1), word)
        }
        emit IPerpEngine.MarketAccrued(marketId, index, rate, term);
    }

    /// @dev Adds a forced trade of `notional` (signed: a sell negative) to the market's own-impact measure, the
    ///      measure decayed to now first (toward zero); nothing without a half-life (no backstop config). Saturates
    ///      at int128's range instead of reverting: the measure never blocks a liquidation or an unwind.
    function _addOwnFlow(uint256 marketId, int256 notional, uint256 halfLife) internal {
        if (halfLife == 0) return;
        IOwnImpactMark.OwnFlow storage f = _ownFlow[marketId];
        int256 amount = ForcedFlow.decayedSigned(f.amount, f.at, halfLife) + notional;
        if (amount > type(int128).max) amount = type(int128).max;
        else if (amount < type(int128).min) amount = type(int128).min;
        (f.amount, f.at) = (int128(amount), uint40(block.timestamp));
    }

    // ------------------------------------------------------------------ writes shared by trades and reductions

    /// @dev Open interest per side, the cap on the side a risk-adding trade grew, and the aggregates the
    ///      LP pool's book value is computed from.
    function _writeMarket(
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st,
        uint256 marketId,
        Trade memory t
    ) internal {
        uint256 longOi = st.longOpenInterest;
        uint256 shortOi = st.shortOpenInterest;
        if (t.oldSize > 0) longOi -= uint256(t.oldSize);
        else shortOi -= uint256(-t.oldSize);
        if (t.newSize > 0) longOi += uint256(t.newSize);
        else shortOi += uint256(-t.newSize);
        if (t.addsRisk) {
            uint256 grown = t.newSize > 0 ? longOi : shortOi;
            if (grown > cfg.maxOpenInterest) {
                revert IPerpEngine.OpenInterestCapExceeded(marketId, grown, cfg.maxOpenInterest);
            }
        }
        // Each of the state's two slots written once, whole (solc writes a packed field by reading the slot
        // back and masking it in): both sides' open interest in slot 0; in slot 2 the basis sum (bits 0-127),
        // the capacity window above it kept as it is (_capacityWindow).
        uint256 oiWord = uint256(longOi.toUint128()) | (uint256(shortOi.toUint128()) << 128);
        uint256 basisWord;
        assembly ("memory-safe") {
            basisWord := sload(add(st.slot, 2))
        }
        basisWord =
            ((basisWord >> 128) << 128) |
            uint128(
                (int256(int128(uint128(basisWord))) +
                    FixedPoint.mulWadFloorSigned(t.newSize, t.newBasis) -
                    FixedPoint.mulWadFloorSigned(t.oldSize, t.oldBasis)).toInt128()
            );
        assembly ("memory-safe") {
            sstore(st.slot, oiWord)
            sstore(add(st.slot, 2), basisWord)
        }
    }

    /// @dev _writeMarket for a liquidation leg (a reduction: no cap to check), with the leg's `notional` counted
    ///      in the market's capacity window (_capacityWindow) in the same write of the basis sum's slot, a new
    ///      window opened when the current one is `windowLength` seconds old or more: one read and one write
    ///      of that slot a leg instead of two.
    function _writeLegMarket(
        IPerpEngine.MarketState storage st,
        Trade memory t,
        uint256 windowLength,
        uint256 notional
    ) private {
        uint256 longOi = st.longOpenInterest;
        uint256 shortOi = st.shortOpenInterest;
        if (t.oldSize > 0) longOi -= uint256(t.oldSize);
        else shortOi -= uint256(-t.oldSize);
        if (t.newSize > 0) longOi += uint256(t.newSize);
        else shortOi += uint256(-t.newSize);
        uint256 oiWord = uint256(longOi.toUint128()) | (uint256(shortOi.toUint128()) << 128);
        uint256 basisWord;
        assembly ("memory-safe") {
            basisWord := sload(add(st.slot, 2))
        }
        // The window above the basis sum: its start in bits 128-159, used in 160-255.
        uint256 start = uint32(basisWord >> 128);
        uint256 used = basisWord >> 160;
        if (block.timestamp >= start + windowLength) (start, used) = (block.timestamp, 0);
        basisWord =
            (uint256(uint32(start)) << 128) |
            ((used + notional).min(type(uint96).max) << 160) |
            uint128(
                (int256(int128(uint128(basisWord))) +
                    FixedPoint.mulWadFloorSigned(t.newSize, t.newBasis) -
                    FixedPoint.mulWadFloorSigned(t.oldSize, t.oldBasis)).toInt128()
            );
        assembly ("memory-safe") {
            sstore(st.slot, oiWord)
            sstore(add(st.slot, 2), basisWord)
        }
    }

    /// @dev A market's liquidation capacity window, kept in the upper half of its state's basis-sum slot
    ///      (slot 2: basisSum in bits 0-127 as solc packs it, the window's start in 128-159, used in 160-255),
    ///      which a tranche reads and rewrites anyway: one cold slot and one write fewer than a slot of its
    ///      own. The start is in seconds as a uint32 (until 2106), used saturates at 2^96 - 1 (7.9e10 of
    ///      quote notional in WAD, far above any market's window capacity).
    function _capacityWindow(uint256 marketId) internal view returns (ILiquidationConfigurator.Window memory w) {
        IPerpEngine.MarketState storage st = _states[marketId];
        uint256 word;
        assembly ("memory-safe") {
            word := sload(add(st.slot, 2))
        }
        w.start = uint40(uint32(word >> 128));
        w.used = uint128(word >> 160);
    }

    function _writeAccountMarkets(
        uint256 accountId,
        uint96 markets,
        uint256 marketId,
        int256 newSize
    ) internal returns (uint96 updated) {
        uint96 bit = uint96(uint256(1) << marketId);
        updated = markets;
        if (newSize == 0) {
            updated &= ~bit;
        } else if (updated & bit == 0) {
            updated |= bit;
            if (LibBit.popCount(updated) > MAX_POSITIONS_PER_ACCOUNT) {
                revert IPerpEngine.TooManyPositions(accountId, MAX_POSITIONS_PER_ACCOUNT);
            }
        }
        if (updated != markets) _accounts[accountId].markets = updated;
    }

    uint256 public constant MAX_POSITIONS_PER_ACCOUNT = 8;

    // ------------------------------------------------------------------ reads

    /// @dev Cross-margin totals. `cached` carries the traded market's values already read this call.
    ///      When `out` is non-empty (one slot per position), each position is also reported in it.
    ///      When `accruals` is non-empty (ACCRUAL_WORDS a position), each position's market's pending accrual
    ///      is recorded in it (market id, funding index, term, rate: what _accrue would write and emit at
    ///      this price in this block), so that a liquidation leg writes the plan's accrual instead of
    ///      computing it again (_accrueAsPlanned).
    ///      Without `withInitial`, initial margin is left at zero and the circuit breaker is not read:
    ///      liquidation and health views must not depend on the breaker answering.
    function _summary(
        uint256 accountId,
        uint96 markets,
        uint256 margin,
        MarketCache memory cached,
        IPerpEngine.PositionSnapshot[] memory out,
        uint256[] memory accruals,
        bool withInitial
    ) internal view returns (IPerpEngine.AccountSummary memory s) {
        s.margin = margin;
        s.equity = int256(margin);
        MarketCache memory other;
        for (uint256 i; markets != 0; ++i) {
            uint256 m = LibBit.ffs(markets);
            markets &= markets - 1;
            IPerpEngine.MarketConfig storage cfg = _configs[m];
            MarketCache memory c = cached;
            if (m != cached.marketId) {
                c = other;
                (c.price, c.sigma) = _priceOf(cfg.feedId);
                IPerpEngine.MarketState storage st = _states[m];
                int256 rate;
                (c.fundingIndex, c.term, rate) = _pendingAccrualAndRate(cfg, st, _accrualWord(st), c.price, c.sigma);
                if (accruals.length != 0) _recordAccrual(accruals, i, m, c.fundingIndex, c.term, rate);
                c.imMultiplier = withInitial ? _policy(m).imMultiplier : WAD;
            }
            IPerpEngine.Position memory p = _positions[accountId][m];
            // The depth, read once on the maintenance-only path (its ratio and the snapshot take it).
            uint256 skewScale;
            int256 value = PerpMath.positionValue(p.size, p.basis, c.price, c.fundingIndex);
            uint256 notional = PerpMath.notional(p.size, c.price);
            uint256 mm;
            if (withInitial) {
                (uint256 mmr, uint256 imr) = _marginRatios(cfg, c, FixedPoint.abs(p.size));
                mm = RiskModel.marginRequirement(notional, mmr);
                s.initialMargin += RiskModel.marginRequirement(notional, imr);
            } else {
                // Maintenance only needs the size premium: from the risk word (warm: the accrual read it).
                skewScale = cfg.skewScale;
                uint256 mmr = RiskModel.maintenanceMarginRatio(
                    _sizePremium(cfg),
                    c.term,
                    FixedPoint.abs(p.size),
                    skewScale
                );
                mm = RiskModel.marginRequirement(notional, mmr);
            }
            s.equity += value;
            s.maintenanceMargin += mm;
            s.notional += notional;
            if (out.length != 0)
                out[i] = IPerpEngine.PositionSnapshot(
                    m,
                    p.size,
                    p.basis,
                    c.fundingIndex,
                    c.price,
                    value,
                    notional,
                    mm,
                    withInitial ? cfg.skewScale : skewScale
                );
        }
        // The keeper who will liquidate the account is paid from its own margin: the requirement holds
        // the liquidation margin (Synthetix's), so a solvent account never needs the insurance fund.
        uint256 lm = LiquidationParams.liquidationMargin(_rewardConfigWord, s.notional);
        s.maintenanceMargin += lm;
        if (withInitial) s.initialMargin += lm;
    }

    /// @dev The account's summary and every position, as a liquidation plans from them.
    function _snapshot(
        uint256 accountId
    ) internal view returns (IPerpEngine.AccountSummary memory s, IPerpEngine.PositionSnapshot[] memory ps) {
        AccountData storage acct = _accounts[accountId];
        if (acct.owner == address(0)) revert IPerpEngine.AccountNotFound(accountId);
        uint96 markets = acct.markets;
        ps = new IPerpEngine.PositionSnapshot[](LibBit.popCount(markets));
        s = _summary(accountId, markets, vault.marginOf(accountId), _noCache(), ps, _noAccruals(), false);
    }

    /// @dev Words a position takes in `_summary`'s accruals: market id, funding index, term, rate.
    uint256 internal constant ACCRUAL_WORDS = 4;

    /// @dev No accruals asked of `_summary` (an empty array: nothing allocated).
    function _noAccruals() internal pure returns (uint256[] memory none) {}

    function _recordAccrual(
        uint256[] memory accruals,
        uint256 i,
        uint256 marketId,
        int256 index,
        uint256 term,
        int256 rate
    ) private pure {
        // The four words written in place, bounds checked once (always true: an entry a position).
        assert(i < accruals.length / ACCRUAL_WORDS);
        assembly ("memory-safe") {
            let p := add(add(accruals, 32), mul(i, mul(ACCRUAL_WORDS, 32)))
            mstore(p, marketId)
            mstore(add(p, 32), index)
            mstore(add(p, 64), term)
            mstore(add(p, 96), rate)
        }
    }

    function _marginRatios(
        IPerpEngine.MarketConfig storage cfg,
        MarketCache memory c,
        uint256 absSize
    ) internal view returns (uint256 mmr, uint256 imr) {
        RiskParams memory risk = _riskOf(cfg);
        uint256 skewScale = cfg.skewScale;
        mmr = RiskModel.maintenanceMarginRatio(risk, c.term, absSize, skewScale);
        imr = RiskModel.initialMarginRatio(risk, c.sigma, c.term, absSize, skewScale, c.imMultiplier);
    }

    function _accrue(
        uint256 marketId,
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st,
        uint256 price,
        uint256 sigma
    ) internal returns (int256 index, uint256 term) {
        uint256 word = _accrualWord(st);
        if (block.timestamp == uint64(word >> 128)) return (int128(uint128(word)), uint64(word >> 192));
        int256 rate;
        (index, term, rate) = _pendingAccrualAndRate(cfg, st, word, price, sigma);
        // The accrual's slot (slot 1: fundingIndex in bits 0-127, lastAccrualTime in 128-191, maintenanceTerm
        // in 192-255, as solc packs the struct) written once, whole; the event's rate is the one the
        // accrual used (open interest has not moved since).
        word =
            uint256(uint128(index.toInt128())) |
            (uint256(uint64(block.timestamp)) << 128) |
            (uint256(term.toUint64()) << 192);
        assembly ("memory-safe") {
            sstore(add(st.slot, 1), word)
        }
        emit IPerpEngine.MarketAccrued(marketId, index, rate, term);
    }

    function _pendingAccrual(
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st,
        uint256 price,
        uint256 sigma
    ) internal view returns (int256 index, uint256 term) {
        (index, term, ) = _pendingAccrualAndRate(cfg, st, _accrualWord(st), price, sigma);
    }

    /// @dev The state's accrual slot (slot 1): fundingIndex in bits 0-127, lastAccrualTime in 128-191,
    ///      maintenanceTerm in 192-255, as solc packs the struct; read once instead of once per field.
    function _accrualWord(IPerpEngine.MarketState storage st) internal view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(add(st.slot, 1))
        }
    }

    /// @dev _pendingAccrual and the funding rate it accrued at (0 when no time has passed).
    function _pendingAccrualAndRate(
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st,
        uint256 word,
        uint256 price,
        uint256 sigma
    ) private view returns (int256 index, uint256 term, int256 rate) {
        uint256 elapsed = block.timestamp - uint64(word >> 128);
        index = int128(uint128(word));
        term = uint64(word >> 192);
        if (elapsed == 0) return (index, term, 0);
        rate = _rate(cfg, st);
        index += PerpMath.fundingIndexDelta(rate, price, elapsed);
        // The ramp's five parameters from the risk word (one slot; RiskParams' slots stay cold).
        (uint256 target, uint256 speed) = _rampTarget(cfg, sigma);
        term = RiskModel.rampVolatilityTerm(term, target, elapsed, speed);
    }

    /// @dev The market's risk word (RiskWord: the slot after the configuration's six, as a seventh slot of the
    ///      struct would be).
    function _riskWord(IPerpEngine.MarketConfig storage cfg) internal view returns (uint256 w) {
        uint256 offset = RiskWord.OFFSET;
        assembly ("memory-safe") {
            w := sload(add(cfg.slot, offset))
        }
    }

    /// @dev RiskModel.tradeFee with the market's baseFee and kFee, read from the configuration's risk slots (bits
    ///      192-255 of the second, bits 0-63 of the third, as solc packs RiskParams) without the ramp's slot.
    function _tradeFee(
        IPerpEngine.MarketConfig storage cfg,
        int256 oldSize,
        int256 sizeDelta,
        uint256 fillPrice,
        uint256 sigma,
        uint256 feeMultiplier
    ) internal view returns (uint256) {
        uint256 baseFee;
        uint256 kFee;
        assembly ("memory-safe") {
            baseFee := shr(192, sload(add(cfg.slot, 4)))
            kFee := and(sload(add(cfg.slot, 5)), 0xffffffffffffffff)
        }
        return RiskModel.tradeFee(baseFee, kFee, oldSize, sizeDelta, fillPrice, sigma, feeMultiplier);
    }

    /// @dev The maintenance volatility term's target at `sigma` and the ramp's speed, from the risk word (each
    ///      field below 2^32 units: no overflow).
    function _rampTarget(
        IPerpEngine.MarketConfig storage cfg,
        uint256 sigma
    ) internal view returns (uint256 target, uint256 speed) {
        uint256 w = _riskWord(cfg);
        uint256 u = RiskWord.UNIT;
        uint256 base;
        uint256 kMm;
        uint256 lo;
        uint256 hi;
        assembly ("memory-safe") {
            let m := 0xffffffff
            base := mul(and(w, m), u)
            lo := mul(and(shr(32, w), m), u)
            hi := mul(and(shr(64, w), m), u)
            kMm := mul(and(shr(96, w), m), u)
            speed := and(shr(160, w), 0xffffffffffffffff)
        }
        target = RiskModel.volatilityTerm(base, kMm, lo, hi, sigma);
    }

    /// @dev The size premium from the risk word.
    function _sizePremium(IPerpEngine.MarketConfig storage cfg) internal view returns (uint256) {
        return ((_riskWord(cfg) >> 128) & 0xffffffff) * RiskWord.UNIT;
    }

    /// @dev The market's RiskParams as the configuration holds them, without reading their first slot: the ramp's
    ///      fields and the size premium from the risk word, imMultiplier and baseFee from the second slot (bits
    ///      0-63 and 192-255, as solc packs the struct), kFee from the third. Each written to its word of the
    ///      memory struct, in declaration order.
    function _riskOf(IPerpEngine.MarketConfig storage cfg) internal view returns (RiskParams memory p) {
        uint256 w = _riskWord(cfg);
        uint256 u = RiskWord.UNIT;
        assembly ("memory-safe") {
            let m := 0xffffffff
            let m64 := 0xffffffffffffffff
            let s2 := sload(add(cfg.slot, 4))
            mstore(p, mul(and(w, m), u)) // mmrBase
            mstore(add(p, 0x20), mul(and(shr(32, w), m), u)) // mmrMin
            mstore(add(p, 0x40), mul(and(shr(64, w), m), u)) // mmrMax
            mstore(add(p, 0x60), mul(and(shr(96, w), m), u)) // kMm
            mstore(add(p, 0x80), and(s2, m64)) // imMultiplier
            mstore(add(p, 0xa0), mul(and(shr(128, w), m), u)) // sizePremium
            mstore(add(p, 0xc0), and(shr(160, w), m64)) // mmrRampPerSecond
            mstore(add(p, 0xe0), shr(192, s2)) // baseFee
            mstore(add(p, 0x100), and(sload(add(cfg.slot, 5)), m64)) // kFee
        }
    }

    function _rate(
        IPerpEngine.MarketConfig storage cfg,
        IPerpEngine.MarketState storage st
    ) internal view returns (int256) {
        return PerpMath.fundingRate(_skew(st), cfg.skewScale, cfg.maxFundingRatePerSecond);
    }

    /// @dev Long less short open interest, from one read of their slot (long in bits 0-127, short above).
    function _skew(IPerpEngine.MarketState storage st) internal view returns (int256) {
        uint256 word;
        assembly ("memory-safe") {
            word := sload(st.slot)
        }
        return int256(uint256(uint128(word))) - int256(word >> 128);
    }

    function _policy(uint256 marketId) internal view returns (ICircuitBreaker.TradePolicy memory) {
        ICircuitBreaker breaker = _circuitBreaker;
        if (address(breaker) == address(0)) return _neutralPolicy();
        return breaker.tradePolicy(marketId);
    }

    function _neutralPolicy() internal pure returns (ICircuitBreaker.TradePolicy memory p) {
        p.feeMultiplier = uint64(WAD);
        p.imMultiplier = uint64(WAD);
        p.newRiskAllowed = true;
        p.tradingOpen = true;
    }

    function _listedConfig(uint256 marketId) internal view returns (IPerpEngine.MarketConfig storage cfg) {
        cfg = _configs[marketId];
        if (!cfg.listed) revert IPerpEngine.MarketNotFound(marketId);
    }

    function _noCache() internal pure returns (MarketCache memory c) {
        c.marketId = type(uint256).max;
    }

    /// @dev A trade adds risk when the position grows or flips; shrinking toward zero never does.
    function _addsRisk(int256 oldSize, int256 newSize) internal pure returns (bool) {
        if (newSize == 0) return false;
        if (oldSize == 0) return true;
        if ((oldSize > 0) != (newSize > 0)) return true;
        return FixedPoint.abs(newSize) > FixedPoint.abs(oldSize);
    }

    /// @dev The liquidation configuration, decoded (LiquidationParams: two words, WAD fields in 1e-6 units).
    function _liquidationConfig() internal view returns (ILiquidationConfigurator.Config memory) {
        return LiquidationParams.decodeConfig(_liqConfigWord, _rewardConfigWord);
    }

    /// @dev The backstop vault's share price below the drawdown breaker's peak (WAD; 0 at or above it, or once
    ///      the breaker's window has run out: the breaker would start a new one at the next takeover). Read by
    ///      the takeover, the unwind (BackstopModule) and the takeover's bad debt (AutoDeleveraging).
    function _lossDrawdown(
        IBackstop.BackstopState memory b,
        IBackstop.BackstopConfig memory c
    ) internal view returns (uint256) {
        uint256 peak = b.peakSharePrice;
        if (peak == 0 || block.timestamp >= uint256(b.peakAt) + c.drawdownWindow) return 0;
        uint256 price = IBackstopVault(b.vault).sharePrice();
        return price >= peak ? 0 : WAD - price.mulDivUp(WAD, peak);
    }

    // ------------------------------------------------------------------ the unwind's room (BackstopModule.unwind,
    //                                                                    OwnImpactModule.unwindRoom)

    /// @dev The size the unwind may sell now: the budget (a share of the market's depth, times
    ///      lateMultiplier once the inventory is older than maxHold, raised by the loss ramp at the vault's
    ///      `drawdown`) less the decayed forced flow and what tranches used of the market's capacity window;
    ///      all of it at maxDrawdown (but see _edge).
    function _room(
        uint256 marketId,
        int256 size,
        uint256 drawdown
    ) internal view returns (uint256 closeAbs, uint256 used, uint256 budget, bool late) {
        IBackstop.BackstopConfig memory c = _backstopConfig;
        IPerpEngine.MarketConfig storage cfg = _listedConfig(marketId);
        (uint256 price, ) = _priceOf(cfg.feedId);
        IBackstop.Flow memory f = _forcedFlow[marketId];
        budget = uint256(cfg.skewScale).mulWadDown(price).mulWadDown(c.impactBudget);
        late = f.inventorySince != 0 && block.timestamp >= uint256(f.inventorySince) + c.maxHold;
        if (late) budget = budget.mulWadDown(c.lateMultiplier);
        used = ForcedFlow.decayed(f, c.flowHalfLife);
        uint32 window = uint32(LiquidationParams.capacityWindow(_liqConfigWord));
        ILiquidationConfigurator.Window memory w = _capacityWindow(marketId);
        if (block.timestamp < uint256(w.start) + window) used += w.used;
        // the loss ramp (at its cap from maxDrawdown on), then the loss budget's edge: at maxDrawdown what is
        // left is sold, whatever the impact budget says (_edge)
        uint256 abs = FixedPoint.abs(size);
        if (!late) budget = _ramped(budget, drawdown.min(c.maxDrawdown - 1), c.maxDrawdown, c.lateMultiplier);
        closeAbs = used >= budget ? 0 : (budget - used).mulDivDown(WAD, price).min(abs);
        if (drawdown < c.maxDrawdown) return (closeAbs, used, budget, late);
        uint256 edge = _edge(marketId, size, f.edgeAt, c.adlDrawdown);
        if (edge <= closeAbs) return (closeAbs, used, budget, late);
        return (edge, used, used + edge.mulWadUp(price), late);
    }

    /// @dev What the loss budget's edge sells at once: all of it; with deleveraging on, until one tranche
    ///      cooldown after the first unwind at the edge, only the inventory beyond the other side's open
    ///      interest. What an opposite position can take is left to deleverageBackstop, which closes it at the
    ///      oracle with no sale: a sale at the edge lands in the move that brought the vault there, and is the
    ///      cascade's next step. What no deleveraging took is sold at once after the cooldown.
    function _edge(uint256 marketId, int256 size, uint40 edgeAt, uint64 adlDrawdown) internal view returns (uint256) {
        uint256 abs = FixedPoint.abs(size);
        if (
            adlDrawdown == 0 ||
            (edgeAt != 0 && block.timestamp > uint256(edgeAt) + LiquidationParams.cooldown(_liqConfigWord))
        ) return abs;
        IPerpEngine.MarketState storage st = _states[marketId];
        return abs - abs.min(size > 0 ? st.shortOpenInterest : st.longOpenInterest);
    }

    /// @dev The loss ramp: the budget times (maxDrawdown / (maxDrawdown - drawdown))^2, at most times `cap`
    ///      (lateMultiplier: the late unwind's bound on standing impact). The sooner the vault's loss uses up
    ///      its budget, the sooner its inventory goes; `drawdown` < maxDrawdown here.
    function _ramped(uint256 budget, uint256 drawdown, uint256 maxDd, uint256 cap) internal pure returns (uint256) {
        if (drawdown == 0) return budget;
        uint256 left = maxDd - drawdown;
        return budget.mulDivDown(maxDd, left).mulDivDown(maxDd, left).min(budget.mulWadDown(cap));
    }

    /// @dev The keeper-reward configuration, decoded (LiquidationParams: one word).
    function _rewardParams() internal view returns (ILiquidationConfigurator.RewardConfig memory) {
        return LiquidationParams.decodeReward(_rewardConfigWord);
    }

    /// @dev The longest time the reward-escalation clock runs without being seen (a tranche, or flag() finding
    ///      the account liquidatable): escalation counts only time during which the account was seen
    ///      liquidatable, with gaps of at most this (docs/architecture.md, "The mechanism", the escalation clock).
    uint256 internal constant ESCALATION_GAP = 600;

    /// @dev When the account's reward-escalation clock started, or 0 when it does not run: not flagged or
    ///      liquidated in this episode, margin added since (the owner acted on it), or not seen liquidatable
    ///      for more than ESCALATION_GAP.
    ///      The account's liquidation slot is read once (lastTrancheAt in bits 0-39, liquidatableSince in
    ///      40-79, marginAtFlag in 80-207, seenAt in 216-255, as solc packs the struct) instead of once per
    ///      field.
    function _clockStart(AccountData storage acct, uint256 marginNow) internal view returns (uint256) {
        uint256 word;
        assembly ("memory-safe") {
            word := sload(add(acct.slot, 1))
        }
        return _clockFrom(word, marginNow);
    }

    /// @dev _clockStart from the account's liquidation slot `word`, read by the caller.
    function _clockFrom(uint256 word, uint256 marginNow) internal view returns (uint256 since) {
        since = uint40(word >> 40);
        uint256 seen = uint40(word);
        uint256 seenAt = uint40(word >> 216);
        if (seenAt > seen) seen = seenAt;
        uint256 marginAtFlag = uint128(word >> 80);
        // A clock not seen running (a tranche, a flag) for ESCALATION_GAP may have outlived a recovery by
        // price that no transaction saw: its episode is over.
        if (since != 0 && (marginNow > marginAtFlag || block.timestamp > seen + ESCALATION_GAP)) since = 0;
    }

    /// @dev Writes the account's liquidation state (slot 1 of AccountData) in one SSTORE instead of one per
    ///      field: lastTrancheAt in bits 0-39, liquidatableSince in 40-79, marginAtFlag in 80-207 and
    ///      `created` (true for every account that exists) in bit 208, as solc packs the struct.
    function _writeLiquidationState(
        AccountData storage acct,
        uint40 lastTrancheAt,
        uint40 liquidatableSince,
        uint128 marginAtFlag
    ) internal {
        uint256 packed =
            uint256(lastTrancheAt) |
                (uint256(liquidatableSince) << 40) |
                (uint256(marginAtFlag) << 80) |
                (uint256(1) << 208);
        assembly ("memory-safe") {
            sstore(add(acct.slot, 1), packed)
        }
    }

    /// @dev Forwards the call unchanged to a module, which runs on this contract's storage.
    function _delegate(address module) internal {
        // Never returns to Solidity code, so it may use memory from 0 on.
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) {
                revert(0, returndatasize())
            }
            return(0, returndatasize())
        }
    }
}
