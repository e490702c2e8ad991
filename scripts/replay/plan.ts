/**
 * What a run will do, decided before any chain exists: the markets (one per path, each sized from
 * the population that will trade it), the tick schedule, and the traders. Pure functions.
 */
import { type MarketSpec, feedId } from "../../deploy/params.js";
import { WAD } from "../lib/math/index.js";
import { parseDecimal } from "./decimal.js";
import {
  type PopulationSpec,
  type TraderSpec,
  generatePopulation,
  wantedNotional,
  withPopulationOverrides,
} from "./population.js";
import { type ResolvedParams, marketSettings } from "./presets.js";
import type { PricePath } from "./types.js";

/** Decimals of the replay's feeds: 18, so the oracle reports exactly the WAD price the engine computed. */
export const FEED_DECIMALS = 18;
/** seconds between the (deterministic) setup block and the first tick */
export const SETUP_LEAD = 600;
/** the engine lists at most this many markets; each trader holds one, so its 8-per-account limit does not bind */
const MAX_PATHS = 96;

/** One market of a run, as planned: its path, depth and risk sizing. */
export type PlannedMarket = {
  id: number;
  symbol: string;
  feedId: string;
  path: PricePath;
  heartbeat: number;
  /** the population's wanted notional in it (quote WAD) */
  wanted: bigint;
  depthUsd: bigint;
  impactDepthUsd: bigint;
  skewScale: bigint;
  spec: MarketSpec;
};

export type RunPlan = {
  population: PopulationSpec;
  markets: PlannedMarket[];
  /** the scheduled tick times (feedback ticks are added while running) */
  schedule: number[];
  traders: TraderSpec[];
  /** the setup block's time: SETUP_LEAD before the first tick */
  tSetup: number;
};

/** The scheduled tick times: every point of every path, and a tick at least every `maxTick` seconds. */
export function tickSchedule(paths: readonly PricePath[], maxTick: number): number[] {
  const times = [...new Set(paths.flatMap((p) => p.points.map((pt) => pt.t)))].sort((a, b) => a - b);
  const out: number[] = [];
  for (let k = 0; k < times.length; k++) {
    out.push(times[k]);
    if (k + 1 < times.length) for (let t = times[k] + maxTick; t < times[k + 1]; t += maxTick) out.push(t);
  }
  return out;
}

export function checkPaths(paths: readonly PricePath[]): void {
  if (paths.length === 0) throw new Error("replay: no price path");
  if (paths.length > MAX_PATHS)
    throw new Error(`replay: at most ${MAX_PATHS} paths (the engine lists at most 96 markets)`);
  for (const p of paths) {
    if (p.points.length === 0) throw new Error(`replay: path ${p.event}/${p.symbol} has no points`);
    for (let k = 0; k < p.points.length; k++) {
      if (p.points[k].priceWad <= 0n) throw new Error(`replay: ${p.symbol} price at ${p.points[k].t} is not positive`);
      if (k > 0 && p.points[k].t <= p.points[k - 1].t) {
        throw new Error(`replay: ${p.symbol} points are not in strictly increasing time at ${p.points[k].t}`);
      }
    }
  }
}

/** Distinct market symbols: a second path of the same symbol gets a suffix (feed ids must differ). */
export function distinctSymbols(paths: readonly PricePath[]): string[] {
  const symbols: string[] = [];
  for (const p of paths) {
    let s = p.symbol;
    for (let k = 2; symbols.includes(s); k++) s = `${p.symbol}-${k}`;
    symbols.push(s);
  }
  return symbols;
}

export function planRun(paths: PricePath[], params: ResolvedParams, basePopulation: PopulationSpec): RunPlan {
  checkPaths(paths);
  const population = withPopulationOverrides(basePopulation, params.population);
  const symbols = distinctSymbols(paths);
  // A tick at least every half heartbeat too: the engine refreshes each feed then, so that a held
  // price never goes stale (a stale oracle stops liquidations).
  const minHeartbeat = Math.min(...symbols.map((sym) => marketSettings(params, sym).heartbeat));
  const maxTick = Math.max(1, Math.min(params.replay.maxTickSeconds, Math.floor(minHeartbeat / 2)));
  const schedule = tickSchedule(paths, maxTick);
  const traders = generatePopulation(population, symbols, schedule[0], schedule[schedule.length - 1]);
  const markets = paths.map((path, k) => planMarket(k, symbols[k], path, params, wantedNotional(traders, k)));
  return { population, markets, schedule, traders, tSetup: schedule[0] - SETUP_LEAD };
}

/**
 * A market deep enough for its population: depth (skewScale * price) is the preset's multiple of the
 * wanted notional, at least $1M; the impact model's depth a multiple of that (or the preset's figure).
 */
function planMarket(
  id: number,
  symbol: string,
  path: PricePath,
  params: ResolvedParams,
  wanted: bigint,
): PlannedMarket {
  const settings = marketSettings(params, symbol);
  const p0 = path.points[0].priceWad;
  const minDepth = 1_000_000n * WAD;
  let depthUsd = settings.depthUsd ?? (wanted * BigInt(Math.round(settings.depthToNotional * 1e6))) / 1_000_000n;
  if (depthUsd < minDepth) depthUsd = minDepth;
  let skewScale = (depthUsd * WAD) / p0;
  if (skewScale < WAD) skewScale = WAD;
  if (skewScale > 10n ** 30n) skewScale = 10n ** 30n;
  depthUsd = (skewScale * p0) / WAD;
  const impactUsd = params.impact.depthUsd[symbol];
  const impactDepthUsd =
    impactUsd !== undefined
      ? parseDecimal(impactUsd)
      : (depthUsd * BigInt(Math.round(params.impact.depthToMarket * 1e6))) / 1_000_000n;
  const maxOi = skewScale / 4n;
  const spec: MarketSpec = {
    id,
    symbol,
    initialPriceUsd: p0 / WAD > 0n ? p0 / WAD : 1n,
    feedDecimals: FEED_DECIMALS,
    heartbeat: settings.heartbeat,
    volWindow: settings.volWindow,
    initialSigma: settings.initialSigma,
    skewScale,
    maxOpenInterest: maxOi,
    maxTradeSize: maxOi,
    maxFundingRatePerSecond: settings.maxFundingRatePerSecond,
    risk: settings.risk,
  };
  return {
    id,
    symbol,
    feedId: feedId(symbol),
    path,
    heartbeat: settings.heartbeat,
    wanted,
    depthUsd,
    impactDepthUsd,
    skewScale,
    spec,
  };
}
