/**
 * What one scan reads from the chain, all pinned to one block and sent together (one JSON-RPC
 * batch): per market its config, state, oracle price and sigma and liquidation-capacity window, and
 * the liquidation engine's config. The number of calls depends on the number of markets, never on
 * the number of accounts: every account is then evaluated off chain with the mirror.
 */
import type { BigNumberish } from "ethers";

import { WAD } from "../lib/math/fixedPoint.js";
import { type EngineSnapshot, type MarketSnapshot, marketSnapshot, pendingAccrual } from "../lib/math/engine.js";
import { capacity as liquidationCapacity, staleBound } from "../lib/math/liquidation.js";
import type { ProtocolLens } from "../../types/ethers-contracts/contracts/lens/ProtocolLens.js";
import { decodeRevert, type ProtocolContracts } from "./contracts.js";

export type LiquidationParams = {
  trancheFraction: bigint;
  healthBuffer: bigint;
  backstopRatio: bigint;
  penaltyRate: bigint;
  /** seconds */
  cooldown: bigint;
  /** seconds */
  capacityWindow: bigint;
  capacityDepthFactor: bigint;
  dustNotional: bigint;
  /** equity below maintenance * capBypassRatio: the tranche ignores the capacity cap */
  capBypassRatio: bigint;
};

/**
 * A market whose feed answers only `StaleAnswer`, as LiquidationConfigurator.staleValuation values a
 * leg in it: at its feed's last answer moved to the edge of the stale band most favourable to the
 * account (LiquidationMath.staleBound), up for a long, down for a short, each with its funding and
 * maintenance term accrued to the view's timestamp at that price.
 */
export type StaleMarket = {
  /** the feed's last answer (WAD) and its time (seconds) */
  lastPrice: bigint;
  updatedAt: bigint;
  /** a long leg's market: priced at the band's upper edge */
  long: MarketSnapshot;
  /** a short leg's market: priced at the band's lower edge (at least 0) */
  short: MarketSnapshot;
};

/** A market's liquidation capacity in the current window (quote WAD). */
export type CapacityRoom = { capacity: bigint; used: bigint; room: bigint };

export type ChainView = {
  blockNumber: number;
  /** the block's timestamp: eth_call at this block runs at it */
  timestamp: bigint;
  baseFeePerGas: bigint | null;
  /** for the mirror, with every market's funding and maintenance ramp already accrued to `timestamp` */
  engine: EngineSnapshot;
  capacity: Map<number, CapacityRoom>;
  /** markets whose oracle read failed (stale, down), with the error's name */
  unpriced: Map<number, string>;
  /**
   * the unpriced markets whose feed is only stale (`StaleAnswer`) and whose last answer reads: an
   * account with a leg in one is valued with that leg at its band's edge, and its fresh legs can be
   * liquidated; an account in any other unpriced market cannot be liquidated now
   */
  stale: Map<number, StaleMarket>;
  liquidation: LiquidationParams;
};

export type BlockRef = { number: number; timestamp: number; baseFeePerGas: bigint | null };

/**
 * Reads the chain at `block`. `feedIds` maps each market to its oracle feed (from the deployment
 * record); a market whose config names another feed is re-read with that one.
 */
export async function readChainView(
  c: ProtocolContracts,
  feedIds: ReadonlyMap<number, string>,
  block: BlockRef,
): Promise<ChainView> {
  const at = { blockTag: block.number };
  const ids = [...feedIds.keys()];
  const { liq, reward, perMarket } = c.lens
    ? await readThroughLens(c.lens, ids, at)
    : await readOneByOne(c, feedIds, at);
  const liquidation: LiquidationParams = {
    trancheFraction: liq.trancheFraction,
    healthBuffer: liq.healthBuffer,
    backstopRatio: liq.backstopRatio,
    penaltyRate: liq.penaltyRate,
    cooldown: liq.cooldown,
    capacityWindow: liq.capacityWindow,
    capacityDepthFactor: liq.capacityDepthFactor,
    dustNotional: liq.dustNotional,
    capBypassRatio: liq.capBypassRatio,
  };
  const timestamp = BigInt(block.timestamp);
  const markets = new Map<number, MarketSnapshot>();
  const capacity = new Map<number, CapacityRoom>();
  const unpriced = new Map<number, string>();
  const stale = new Map<number, StaleMarket>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const [config, state, read, window] = perMarket[i];
    if (!config.listed) continue;
    if ("error" in read) {
      unpriced.set(id, read.error);
      if (read.error === "StaleAnswer") {
        const last = await staleMarket(c, config, state, at, timestamp);
        if (last) stale.set(id, last);
      }
      continue;
    }
    // Liquidation views never consult the breaker (liquidationSnapshot leaves initial margin at zero);
    // the keeper only uses maintenance margin, so the neutral multiplier is exact for it.
    const snapshot = marketSnapshot(config, state, read.price, read.sigma, WAD);
    markets.set(id, accrued(snapshot, timestamp));
    capacity.set(id, capacityRoom(liquidation, config.skewScale, read.price, window, timestamp));
  }
  return {
    blockNumber: block.number,
    timestamp,
    baseFeePerGas: block.baseFeePerGas,
    engine: {
      timestamp,
      markets,
      // a Result's `flat` is Array.prototype.flat: the flat part is read by position
      liquidationMargin: { flat: reward[0], min: reward.min, shareOfNotional: reward.shareOfNotional, max: reward.max },
    },
    capacity,
    unpriced,
    stale,
    liquidation,
  };
}

type MarketConfig = Awaited<ReturnType<ProtocolContracts["engine"]["marketConfig"]>>;
type MarketState = Awaited<ReturnType<ProtocolContracts["engine"]["marketState"]>>;
type Quote = { price: bigint; sigma: bigint } | { error: string };
/** What a scan reads, before it is put together: the same values from the lens or from one call each. */
type RawView = {
  liq: Awaited<ReturnType<ProtocolContracts["liquidationEngine"]["config"]>>;
  reward: Awaited<ReturnType<ProtocolContracts["liquidationEngine"]["rewardConfig"]>>;
  /** per market, in `ids`' order: its config, state, price of its config's feed, capacity window */
  perMarket: [MarketConfig, MarketState, Quote, { start: bigint; used: bigint }][];
};

/** The name of a revert, as the keeper reports it: the protocol error's name, else the message. */
function revertName(e: unknown): string {
  return decodeRevert(e)?.name ?? (e as Error).message;
}

/**
 * One call per value (a deployment without a lens): the liquidation configs, then per market its
 * config, state, price (the record's feed first, the config's when it names another) and window.
 */
async function readOneByOne(
  c: ProtocolContracts,
  feedIds: ReadonlyMap<number, string>,
  at: { blockTag: number },
): Promise<RawView> {
  const ids = [...feedIds.keys()];
  const priceOf = (feedId: string): Promise<Quote> =>
    c.oracle.getPriceAndVolatility(feedId, at).then(
      ([price, sigma]) => ({ price, sigma }),
      (e: unknown) => ({ error: revertName(e) }),
    );
  const [liq, reward, ...reads] = await Promise.all([
    c.liquidationEngine.config(at),
    c.liquidationEngine.rewardConfig(at),
    ...ids.map((id) =>
      Promise.all([
        c.engine.marketConfig(id, at),
        c.engine.marketState(id, at),
        priceOf(feedIds.get(id)!),
        c.liquidationEngine.capacityWindow(id, at),
      ]),
    ),
  ]);
  const perMarket: RawView["perMarket"] = [];
  for (let i = 0; i < ids.length; i++) {
    const [config, state, quoted, window] = reads[i];
    const read = config.listed && config.feedId !== feedIds.get(ids[i]) ? await priceOf(config.feedId) : quoted;
    perMarket.push([config, state, read, window]);
  }
  return { liq, reward, perMarket };
}

/**
 * One call (ProtocolLens.keeperView): the same views, read by the lens at the same block, its oracle
 * read at each listed market's own feed. A feed's revert comes back as data, named as the call's
 * revert would be (a revert that names no protocol error: its data, as text).
 */
async function readThroughLens(lens: ProtocolLens, ids: number[], at: { blockTag: number }): Promise<RawView> {
  const v = await lens.keeperView(ids, at);
  const perMarket: RawView["perMarket"] = v.markets.map((m) => {
    const quote: Quote = m.priced
      ? { price: m.priceWad, sigma: m.sigmaWad }
      : { error: decodeRevert({ data: m.priceError })?.name ?? `reverted with data ${m.priceError}` };
    return [
      m.config as unknown as MarketConfig,
      m.state as unknown as MarketState,
      quote,
      { start: m.windowStart, used: m.windowUsed },
    ];
  });
  return {
    liq: v.liquidation as unknown as RawView["liq"],
    reward: v.reward as unknown as RawView["reward"],
    perMarket,
  };
}

/**
 * A stale market's two valuations (long and short legs), from the feed's last answer and sigma read
 * at the view's block, as staleValuation reads them (`latestPrice`, `volatility`); undefined when even
 * the last answer does not read (the contract then refuses with the oracle's error). Read only for a
 * market whose feed is stale, so a scan with every feed fresh makes no extra call.
 */
async function staleMarket(
  c: ProtocolContracts,
  config: Parameters<typeof marketSnapshot>[0] & { feedId: string },
  state: Parameters<typeof marketSnapshot>[1],
  at: { blockTag: number },
  now: bigint,
): Promise<StaleMarket | undefined> {
  try {
    const [[lastPrice, updatedAt], sigma] = await Promise.all([
      c.oracle.latestPrice(config.feedId, at),
      c.oracle.volatility(config.feedId, at),
    ]);
    // `block.timestamp - updatedAt` is a checked subtraction in the contract: it reverts there too
    if (updatedAt > now) return undefined;
    const edge = (long: boolean) =>
      accrued(marketSnapshot(config, state, staleBound(lastPrice, sigma, now - updatedAt, long), sigma, WAD), now);
    return { lastPrice, updatedAt, long: edge(true), short: edge(false) };
  } catch {
    // the last answer does not read, or the mirror's checked arithmetic reverts where the contract's does
    return undefined;
  }
}

/**
 * The market with its pending accrual written in, as the engine would write it at `now`. The
 * mirror's `pendingAccrual` returns the stored values unchanged when no time has elapsed, so every
 * account summary computed on this snapshot equals one computed on the original, while the accrual
 * is computed once per market instead of once per position.
 */
export function accrued(market: MarketSnapshot, now: bigint): MarketSnapshot {
  const { fundingIndex, term } = pendingAccrual(market, now);
  return { ...market, state: { ...market.state, fundingIndex, maintenanceTerm: term, lastAccrualTime: now } };
}

/** The room LiquidationEngine._fitCapacity sees: LiquidationMath.capacity, less what the window used. */
export function capacityRoom(
  p: Pick<LiquidationParams, "capacityDepthFactor" | "capacityWindow">,
  skewScale: bigint,
  price: bigint,
  window: { start: BigNumberish; used: BigNumberish },
  now: bigint,
): CapacityRoom {
  const capacity = liquidationCapacity(p.capacityDepthFactor, skewScale, price);
  const rolled = now >= BigInt(window.start) + p.capacityWindow;
  const used = rolled ? 0n : BigInt(window.used);
  return { capacity, used, room: capacity > used ? capacity - used : 0n };
}
