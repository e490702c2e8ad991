/**
 * What PerpEngine's views compute (`accountSummary`, `health`, `isLiquidatable`, and the pending
 * accrual behind every view), from a snapshot a keeper can read through the contracts' plain
 * getters: per market `marketConfig`, `marketState`, `oracle.getPriceAndVolatility` and the
 * circuit breaker's level multiplier; per account `vault.marginOf` and `position`; and the block
 * timestamp the views would run at.
 *
 * Why compute it off chain: a keeper scanning many accounts reads each market once and evaluates
 * every account locally, instead of one `accountSummary` call per account that re-reads every
 * oracle. That is only sound if the result is the engine's to the wei, so these functions call
 * the same library mirrors in the same order with the same rounding as PerpEngine's `_summary`
 * and `_pendingAccrual`, and test/math/engine.test.ts compares them with the deployed engine.
 */
import { type LiquidationMarginConfig, liquidationMargin } from "./liquidation.js";
import { IncompleteSnapshotError } from "./errors.js";
import { WAD, abs, mulDivDown } from "./fixedPoint.js";
import { fundingIndexDelta, fundingRate, notional, positionValue } from "./perpMath.js";
import {
  type RiskParams,
  assertRiskParams,
  initialMarginRatio,
  maintenanceMarginRatio,
  marginRequirement,
  rampVolatilityTerm,
  volatilityTerm,
} from "./riskModel.js";
import {
  MAX_UINT256,
  addInt,
  addUint,
  assertInt128,
  assertUint128,
  assertUint256,
  assertUint64,
  subUint,
  uint256ToInt256,
} from "./solidityIntegers.js";

/** PerpEngine.MAX_MARKETS: market ids are 0..95 (bits of a uint96). */
export const MAX_MARKETS = 96;

/** The parts of `IPerpEngine.MarketConfig` (from `engine.marketConfig(id)`) that the views use. */
export interface MarketConfigSnapshot {
  /** uint128, base units (WAD): skew premium and funding proportion are skew / skewScale */
  readonly skewScale: bigint;
  /** uint64, WAD per second, reached at |skew| >= skewScale */
  readonly maxFundingRatePerSecond: bigint;
  readonly risk: RiskParams;
}

/** The parts of `IPerpEngine.MarketState` (from `engine.marketState(id)`) that the views use. */
export interface MarketStateSnapshot {
  /** uint128, base units (WAD) */
  readonly longOpenInterest: bigint;
  /** uint128, base units (WAD) */
  readonly shortOpenInterest: bigint;
  /** int128: the cumulative funding index as of `lastAccrualTime` */
  readonly fundingIndex: bigint;
  /** uint64, seconds */
  readonly lastAccrualTime: bigint;
  /** uint64, WAD: the ramped maintenance volatility term as of `lastAccrualTime` */
  readonly maintenanceTerm: bigint;
}

/** Everything the views read about one market. */
export interface MarketSnapshot {
  readonly config: MarketConfigSnapshot;
  readonly state: MarketStateSnapshot;
  /** index price, WAD: `oracle.getPriceAndVolatility(config.feedId)`, first value */
  readonly price: bigint;
  /** annualised volatility, WAD: `oracle.getPriceAndVolatility(config.feedId)`, second value */
  readonly sigma: bigint;
  /**
   * The stress level's initial-margin multiplier, WAD: `circuitBreaker.tradePolicy(id).imMultiplier`,
   * or exactly WAD (1e18) when the engine has no circuit breaker. The level's fee multiplier plays
   * no part in these views.
   */
  readonly levelImMultiplier: bigint;
}

/**
 * A market as the views need it, from what `engine.marketConfig(id)`, `engine.marketState(id)` and
 * `oracle.getPriceAndVolatility(feedId)` return (ethers Results carry more fields; only these are kept).
 */
export function marketSnapshot(
  config: { skewScale: bigint; maxFundingRatePerSecond: bigint; risk: RiskParams },
  state: MarketStateSnapshot,
  price: bigint,
  sigma: bigint,
  levelImMultiplier: bigint,
): MarketSnapshot {
  const r = config.risk;
  return {
    config: {
      skewScale: config.skewScale,
      maxFundingRatePerSecond: config.maxFundingRatePerSecond,
      risk: {
        mmrBase: r.mmrBase,
        mmrMin: r.mmrMin,
        mmrMax: r.mmrMax,
        kMm: r.kMm,
        imMultiplier: r.imMultiplier,
        sizePremium: r.sizePremium,
        mmrRampPerSecond: r.mmrRampPerSecond,
        baseFee: r.baseFee,
        kFee: r.kFee,
      },
    },
    state: {
      longOpenInterest: state.longOpenInterest,
      shortOpenInterest: state.shortOpenInterest,
      fundingIndex: state.fundingIndex,
      lastAccrualTime: state.lastAccrualTime,
      maintenanceTerm: state.maintenanceTerm,
    },
    price,
    sigma,
    levelImMultiplier,
  };
}

/** The chain as the views see it. */
export interface EngineSnapshot {
  /** `block.timestamp` of the block the views run in (seconds) */
  readonly timestamp: bigint;
  /** by market id; must hold every market in which a summarised account has a position */
  readonly markets: ReadonlyMap<number, MarketSnapshot>;
  /**
   * The engine's keeper-reward configuration (`rewardConfig()`): every account's maintenance and
   * initial margin hold its liquidation margin, clamp(flat + share * notional, min, max).
   */
  readonly liquidationMargin: LiquidationMarginConfig;
}

/** `engine.position(accountId, marketId)`: one storage slot. */
export interface EnginePosition {
  /** int128, base units (WAD), positive long */
  readonly size: bigint;
  /** int128, WAD: entry price less the funding index at entry (size-weighted) */
  readonly basis: bigint;
}

/** One account as the views see it. */
export interface AccountSnapshot {
  /** `vault.marginOf(accountId)`, uint256 WAD */
  readonly margin: bigint;
  /**
   * `engine.position(accountId, marketId)` by market id. Zero-size entries are skipped: the
   * engine's account bitmap has a market's bit set exactly when the size there is non-zero.
   */
  readonly positions: ReadonlyMap<number, EnginePosition>;
}

/** A market's funding index and maintenance term accrued to a timestamp, not yet written. */
export interface Accrual {
  readonly fundingIndex: bigint;
  readonly term: bigint;
}

/** Mirrors `IPerpEngine.AccountSummary` (all WAD). */
export interface AccountSummary {
  readonly margin: bigint;
  /** margin + sum of position values (PnL net of funding owed); negative when under water */
  readonly equity: bigint;
  readonly maintenanceMargin: bigint;
  readonly initialMargin: bigint;
  readonly notional: bigint;
}

/** Checks the on-chain types of a market snapshot (a uint64 or int128 out of range is a bad read). */
function assertMarket(m: MarketSnapshot): MarketSnapshot {
  assertUint128("MarketConfig.skewScale", m.config.skewScale);
  assertUint64("MarketConfig.maxFundingRatePerSecond", m.config.maxFundingRatePerSecond);
  assertRiskParams(m.config.risk);
  assertUint128("MarketState.longOpenInterest", m.state.longOpenInterest);
  assertUint128("MarketState.shortOpenInterest", m.state.shortOpenInterest);
  assertInt128("MarketState.fundingIndex", m.state.fundingIndex);
  assertUint64("MarketState.lastAccrualTime", m.state.lastAccrualTime);
  assertUint64("MarketState.maintenanceTerm", m.state.maintenanceTerm);
  assertUint256("price", m.price);
  assertUint256("sigma", m.sigma);
  assertUint64("levelImMultiplier", m.levelImMultiplier);
  return m;
}

/**
 * Mirrors `PerpEngine._pendingAccrual`: the funding index and maintenance term a market would
 * have if it were accrued at `now`. Funding accrues at the rate of the current skew (it changes
 * only on trades, each of which accrues first) at the current index price, over the seconds since
 * the last accrual; the term ramps toward the target for the current sigma by at most
 * `mmrRampPerSecond` per second. With no time elapsed nothing changes, whatever the price: the
 * engine returns the stored values as they are.
 */
export function pendingAccrual(market: MarketSnapshot, now: bigint): Accrual {
  const { config, state } = assertMarket(market);
  assertUint256("now", now);
  // A timestamp before the last accrual is a checked-subtraction panic, as in the engine.
  const elapsed = subUint(now, state.lastAccrualTime, "pendingAccrual");
  if (elapsed === 0n) return { fundingIndex: state.fundingIndex, term: state.maintenanceTerm };
  const skew = state.longOpenInterest - state.shortOpenInterest; // two uint128s: cannot overflow int256
  const rate = fundingRate(skew, config.skewScale, config.maxFundingRatePerSecond);
  const fundingIndex = addInt(state.fundingIndex, fundingIndexDelta(rate, market.price, elapsed), "pendingAccrual");
  const target = volatilityTerm(config.risk, market.sigma);
  const term = rampVolatilityTerm(state.maintenanceTerm, target, elapsed, config.risk.mmrRampPerSecond);
  return { fundingIndex, term };
}

/**
 * Mirrors `positionView(accountId, marketId).unrealisedPnl`: the position's value at the current
 * price and the funding index accrued to `now`, i.e. PnL net of the funding it owes.
 */
export function unrealisedPnl(market: MarketSnapshot, position: EnginePosition, now: bigint): bigint {
  assertInt128("Position.size", position.size);
  assertInt128("Position.basis", position.basis);
  const { fundingIndex } = pendingAccrual(market, now);
  return positionValue(position.size, position.basis, market.price, fundingIndex);
}

/**
 * Market ids in the order the engine walks the account's bitmap: lowest set bit first; every leg's id
 * and fields checked first, flat legs left out.
 */
export function heldMarkets(account: AccountSnapshot): number[] {
  const ids: number[] = [];
  for (const [id, p] of account.positions) {
    if (!Number.isInteger(id) || id < 0 || id >= MAX_MARKETS) {
      throw new RangeError(`market id ${id} is not an integer in [0, ${MAX_MARKETS - 1}]`);
    }
    assertInt128("Position.size", p.size);
    assertInt128("Position.basis", p.basis);
    if (p.size !== 0n) ids.push(id);
  }
  return ids.sort((a, b) => a - b);
}

/**
 * Mirrors `PerpEngine.accountSummary` (its `_summary` without a trade's cache): margin, equity
 * (margin plus every position's value at the funding index accrued to the snapshot's timestamp),
 * and the maintenance margin, initial margin and notional summed position by position, each
 * rounded up on its own as the engine does. Maintenance uses the ramped term; initial margin the
 * unramped target for the current sigma (never below the ramped term) times the level multiplier.
 */
export function accountSummary(snapshot: EngineSnapshot, account: AccountSnapshot): AccountSummary {
  assertUint256("now", snapshot.timestamp);
  const margin = assertUint256("margin", account.margin);
  // The engine starts from an unchecked `int256(margin)`: a vault balance never comes near 2^255.
  let equity = uint256ToInt256(margin);
  let maintenanceMargin = 0n;
  let initialMargin = 0n;
  let totalNotional = 0n;
  for (const id of heldMarkets(account)) {
    const market = snapshot.markets.get(id);
    if (market === undefined) throw new IncompleteSnapshotError(id);
    const { size, basis } = account.positions.get(id)!;
    const { fundingIndex, term } = pendingAccrual(market, snapshot.timestamp);
    const { risk, skewScale } = market.config;
    equity = addInt(equity, positionValue(size, basis, market.price, fundingIndex), "accountSummary");
    const positionNotional = notional(size, market.price);
    const absSize = abs(size);
    const mmr = maintenanceMarginRatio(risk, term, absSize, skewScale);
    const imr = initialMarginRatio(risk, market.sigma, term, absSize, skewScale, market.levelImMultiplier);
    maintenanceMargin = addUint(maintenanceMargin, marginRequirement(positionNotional, mmr), "accountSummary");
    initialMargin = addUint(initialMargin, marginRequirement(positionNotional, imr), "accountSummary");
    totalNotional = addUint(totalNotional, positionNotional, "accountSummary");
  }
  // The liquidation margin (LiquidationMath.liquidationMargin), once per account on its whole notional.
  const lm = liquidationMargin(snapshot.liquidationMargin, totalNotional);
  maintenanceMargin = addUint(maintenanceMargin, lm, "accountSummary");
  initialMargin = addUint(initialMargin, lm, "accountSummary");
  return { margin, equity, maintenanceMargin, initialMargin, notional: totalNotional };
}

/**
 * Mirrors `PerpEngine.health`: floor(equity * WAD / maintenanceMargin). type(uint256).max when
 * nothing is owed (no positions), 0 when equity is not positive. Rounds down, so an account is
 * never shown healthier than the engine finds it.
 */
export function health(summary: AccountSummary): bigint {
  if (summary.maintenanceMargin === 0n) return MAX_UINT256;
  if (summary.equity <= 0n) return 0n;
  return mulDivDown(summary.equity, WAD, summary.maintenanceMargin);
}

/**
 * Mirrors `PerpEngine.isLiquidatable`: equity strictly below a non-zero maintenance margin (the
 * engine compares with an unchecked `int256(maintenanceMargin)`, mirrored as is). An account at
 * exactly its maintenance margin is not liquidatable, though its health is exactly WAD.
 */
export function isLiquidatable(summary: AccountSummary): boolean {
  return summary.maintenanceMargin !== 0n && summary.equity < uint256ToInt256(summary.maintenanceMargin);
}
