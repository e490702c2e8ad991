/**
 * False alarms on the longer calm history the crash data holds: the multi-day BTC bars around each
 * catalogued event (1 h, 30 min or 15 min bars, 1.5 to 3 days before the crash), where the replays
 * themselves start only hours before it.
 *
 * No chain and no replay: the replay's own population (scripts/replay/plan.ts, the protected preset),
 * its leverage clamped to the initial margin as the protocol clamps it, each trader's position opened
 * at a bar up to a day back (a book renewed daily, not one held through days of drift), and an account
 * liquidatable at a bar is out of the book (the keeper has closed it); each bar
 * moves the market, the oracle's volatility is
 * its time-weighted EWMA of the bars' log returns (the estimator of docs/architecture.md, "Oracle",
 * with the market's `volWindow`), the maintenance term follows it, and the monitor forecasts from the
 * bars seen so far (no look-ahead) and applies its rules. Calm is every bar that closes at least
 * `calmGapHours` (12) before the event's replay window opens, so no part of the crash is in it.
 *
 * Measured per event, for any set of rules and forecast settings: the share of calm time at level
 * >= 1, and the level-2 raises (entries into level 2) per 30 calm days.
 */
import { join } from "node:path";

import { WAD } from "../lib/math/fixedPoint.js";
import { mulberry32 } from "../lib/random.js";
import { marketSnapshot } from "../lib/math/engine.js";
import { DEFAULT_LIQUIDATION_MARGIN } from "./syntheticBook.js";
import { volatilityTerm } from "../lib/math/riskModel.js";
import { crashEvent } from "../replay/data/index.js";
import { ohlcPath, readOhlcFile } from "../replay/data/loaders.js";
import { planRun } from "../replay/plan.js";
import { defaultPopulation } from "../replay/population.js";
import { loadPreset } from "../replay/presets.js";
import type { PricePath } from "../replay/types.js";
import { type MonitorAccount, type MonitorState, mirrorLiquidatable } from "./exposure.js";
import { type ForecastSettings, DEFAULT_FORECAST_SETTINGS, forecast } from "./forecast.js";
import {
  type ChangeGateSettings,
  type EscalationSettings,
  type Persistence,
  type RuleInputs,
  type Rules,
  DEFAULT_ESCALATION,
  DEFAULT_GATE,
  DEFAULT_PERSISTENCE,
  DEFAULT_RULES,
  levelSeries,
  ruleInputs,
} from "./rules.js";
import { YEAR_SECONDS, type PricePoint } from "./stats.js";

/** The BTC bars of each event that reach furthest back before it. */
export const CALM_FILES: Record<string, string> = {
  "black-thursday-2020": "btc-usdt-2020-03-12-1h.csv",
  "may-2021": "btc-usdt-2021-05-19-1h.csv",
  "june-2022": "btc-usdt-2022-06-13-30m.csv",
  "ftx-2022": "btc-usdt-2022-11-09-30m.csv",
  "usdc-depeg-2023": "btc-usdt-2023-03-11-15m.csv",
  "october-2025": "btc-usdt-2025-10-10-15m.csv",
};

export type CalmResult = {
  event: string;
  bars: number;
  calmHours: number;
  shareAtLevel1: number;
  level2RaisesPer30Days: number;
  /** calm bars at each level 0..3 */
  atLevel: number[];
};

/** The calm bars of an event (closing at least `gapHours` before its replay window opens). */
export function calmPath(dataDir: string, event: string, gapHours = 12): PricePath {
  const file = CALM_FILES[event];
  if (!file) throw new Error(`no calm history for ${event}`);
  const path = ohlcPath(readOhlcFile(join(dataDir, file)), { event, symbol: "BTC", source: file, quote: "USDT" });
  const end = crashEvent(event).window.start - gapHours * 3_600;
  return { ...path, points: path.points.filter((p) => p.t <= end), gaps: [] };
}

/**
 * Which book the calm bars are forecast on.
 * - `replay`: the replay's own population (population.json: leverage log-uniform 2x-50x, clamped by
 *   the protocol to its initial margin, about 31x at the opening volatility), a stress population;
 *   an account liquidatable at the bar itself is out of the book.
 * - `realistic`: the same traders, margins and sides, with a leverage mix taken from a public
 *   snapshot of real positions, and survivors only. The source: an on-chain analyst's breakdown of
 *   Hyperliquid's open interest by leverage (reported by Odaily, 2025-12-15, "$7.63 billion of open
 *   interest"): $2.77 bn at 0-3x, $3.7 bn at 3-7x, the remaining $1.16 bn above 7x. Those are shares of
 *   notional, so each trader's bucket is drawn with a probability proportional to the bucket's share
 *   over its mean leverage (margins are drawn independently of leverage), which gives back the
 *   notional shares: 64% of the traders at 1-3x, 33% at 3-7x, 3% from 7x to the protocol's clamp,
 *   log-uniform inside a bucket. Survivors only: a position opened at bar e is in the book at bar i
 *   only if no bar close from e to i made it liquidatable (the keeper would have closed it).
 *   Position ages are the replay book's (each trader's entry a bar up to a day back, by index): no
 *   public source for holding times was found, so they are not changed.
 */
export type CalmBook = "replay" | "realistic";

/** Hyperliquid open interest by leverage bucket (see CalmBook): [low, high) leverage and USD bn. */
export const REALISTIC_LEVERAGE_BUCKETS: readonly { low: number; high: number; notionalBn: number }[] = [
  { low: 1, high: 3, notionalBn: 2.77 },
  { low: 3, high: 7, notionalBn: 3.7 },
  { low: 7, high: Infinity, notionalBn: 7.63 - 2.77 - 3.7 },
];

/**
 * A trader's leverage (WAD) in the realistic mix, from its index alone (deterministic): a bucket with
 * probability proportional to notional share / mean leverage, then log-uniform inside it; the open
 * top bucket ends at `maxLeverage` (the protocol's clamp).
 */
export function realisticLeverage(index: number, maxLeverage: number): bigint {
  const buckets = REALISTIC_LEVERAGE_BUCKETS.map((b) => {
    const high = Math.min(b.high, maxLeverage);
    const mean = (high - b.low) / Math.log(high / b.low);
    return { low: b.low, high, weight: b.notionalBn / mean };
  });
  const total = buckets.reduce((a, b) => a + b.weight, 0);
  // two independent uniforms from the index (golden-ratio sequences: evenly spread, no PRNG state)
  const u1 = (index * 0.6180339887498949 + 0.5) % 1;
  const u2 = (index * 0.7548776662466927 + 0.25) % 1;
  let acc = 0;
  for (const b of buckets) {
    acc += b.weight / total;
    if (u1 < acc || b === buckets[buckets.length - 1]) {
      const lev = b.low * Math.exp(u2 * Math.log(b.high / b.low));
      return BigInt(Math.round(lev * 100)) * 10n ** 16n;
    }
  }
  throw new Error("unreachable");
}

/** The replay's population opened at the path's first price, as a monitor state at each bar. */
export function calmStates(
  path: PricePath,
  book: CalmBook = "replay",
): { t: number; state: MonitorState; price: number }[] {
  const params = loadPreset("protected");
  const plan = planRun([path], params, defaultPopulation());
  // the fund as the replay seeds it: a share of the population's wanted notional
  const insuranceWad =
    (plan.markets[0].wanted * BigInt(Math.round(params.funds.insuranceToNotional * 1e6))) / 1_000_000n;
  const spec = plan.markets[0].spec;
  // the protocol clamps a wanted leverage to its initial margin at opening (as the replay's traders
  // find it): initial ratio = volatility term x imMultiplier, at the opening volatility
  const initialRatio = (volatilityTerm(spec.risk, spec.initialSigma) * spec.risk.imMultiplier) / WAD;
  const maxLeverage = (WAD * WAD) / initialRatio;
  // a book is renewed as traders close and reopen: each trader's position here was opened at the
  // price of a bar up to a day back (its age fixed by its index), so the book at any bar is made of
  // entries of the past day, never of positions held through days of drift
  const barSeconds = path.points.length > 1 ? path.points[1].t - path.points[0].t : 3_600;
  const ageBars = Math.max(1, Math.round(86_400 / barSeconds));
  // the entry: the last bar at or before the position's age back (a whole number of the first bars'
  // length; on evenly spaced bars exactly that many bars back), so a path whose bars change length keeps
  // positions up to a day old
  const entryBar = (i: number, index: number) => {
    const at = path.points[i].t - ((index * 7_919) % ageBars) * barSeconds;
    let lo = 0;
    let hi = i;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (path.points[mid].t <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const maxLevNumber = Number((maxLeverage * 100n) / WAD) / 100;
  const bookAt = (i: number) => {
    const accounts: MonitorAccount[] = plan.traders.map((tr) => {
      const entry = path.points[entryBar(i, tr.index)].priceWad;
      const marginWad = tr.margin * 10n ** 12n;
      const wanted = book === "realistic" ? realisticLeverage(tr.index, maxLevNumber) : tr.leverageWad;
      const leverage = wanted < maxLeverage ? wanted : maxLeverage;
      const size = (((marginWad * leverage) / WAD) * WAD) / entry;
      return {
        id: BigInt(tr.index + 1),
        owner: `0x${(tr.index + 1).toString(16).padStart(40, "0")}`,
        margin: marginWad,
        positions: new Map([[0, { size: tr.long ? size : -size, basis: entry }]]),
      };
    });
    let longOi = 0n;
    let shortOi = 0n;
    for (const a of accounts) {
      const s = a.positions.get(0)!.size;
      if (s > 0n) longOi += s;
      else shortOi -= s;
    }
    return { accounts, longOi, shortOi };
  };
  const tau = spec.volWindow;
  let variance = (Number(spec.initialSigma) / 1e18) ** 2;
  const out: { t: number; state: MonitorState; price: number }[] = [];
  const snapshots: Map<number, ReturnType<typeof marketSnapshot>>[] = [];
  let prev: { t: number; price: number } | undefined;
  for (const [i, pt] of path.points.entries()) {
    const { accounts, longOi, shortOi } = bookAt(i);
    const price = Number(pt.priceWad) / 1e18;
    if (prev && pt.t > prev.t && price > 0) {
      const dt = pt.t - prev.t;
      const r = Math.log(price / prev.price);
      variance = (variance * tau) / (dt + tau) + (r * r * YEAR_SECONDS) / (dt + tau);
    }
    prev = { t: pt.t, price };
    const sigma = BigInt(Math.round(Math.sqrt(variance) * 1e18));
    const timestamp = BigInt(pt.t);
    const snapshot = marketSnapshot(
      { skewScale: spec.skewScale, maxFundingRatePerSecond: spec.maxFundingRatePerSecond, risk: spec.risk },
      {
        longOpenInterest: longOi,
        shortOpenInterest: shortOi,
        fundingIndex: 0n,
        lastAccrualTime: timestamp,
        maintenanceTerm: volatilityTerm(spec.risk, sigma),
      },
      pt.priceWad,
      sigma,
      WAD,
    );
    // an account liquidatable at this bar has been liquidated by the keeper: it is not in the book
    const markets = new Map([[0, snapshot]]);
    snapshots.push(markets);
    const open = accounts.filter((a, k) => {
      if (mirrorLiquidatable(a, markets, timestamp, DEFAULT_LIQUIDATION_MARGIN)) return false;
      if (book !== "realistic") return true;
      // survivors only: not liquidatable at any bar close since its entry
      for (let j = entryBar(i, plan.traders[k].index); j < i; j++) {
        if (mirrorLiquidatable(a, snapshots[j], BigInt(path.points[j].t), DEFAULT_LIQUIDATION_MARGIN)) return false;
      }
      return true;
    });
    out.push({
      t: pt.t,
      price,
      state: {
        blockNumber: out.length + 1,
        timestamp,
        markets: [{ id: 0, symbol: "BTC", snapshot }],
        liquidationMargin: DEFAULT_LIQUIDATION_MARGIN,
        accounts: open,
        insuranceWad,
      },
    });
  }
  return out;
}

/** What the rules read at every calm bar (rules.ts RuleInputs): the book forecast from the bars seen so far. */
export function calmInputs(
  path: PricePath,
  book: CalmBook = "replay",
  settings: ForecastSettings = DEFAULT_FORECAST_SETTINGS,
): RuleInputs[] {
  const history: PricePoint[] = [];
  return calmStates(path, book).map((s) => {
    history.push({ t: s.t, price: s.price });
    return { ...ruleInputs(forecast(s.state, history, settings).forecast), price: s.price };
  });
}

/** The false-alarm figures of one variant of the rules over calm bars' inputs. */
export function calmFigures(
  event: string,
  inputs: readonly RuleInputs[],
  rules: Rules,
  o: { gate: ChangeGateSettings | null; persistence: Persistence | null; escalation?: EscalationSettings | null },
): CalmResult {
  const levels = levelSeries(inputs, rules, o).map((d) => d.level);
  let seconds = 0;
  let alert = 0;
  let raises = 0;
  const atLevel = [0, 0, 0, 0];
  for (let i = 0; i + 1 < inputs.length; i++) {
    const dt = inputs[i + 1].t - inputs[i].t;
    seconds += dt;
    atLevel[Math.min(3, levels[i])]++;
    if (levels[i] >= 1) alert += dt;
    if (levels[i] >= 2 && (i === 0 || levels[i - 1] < 2)) raises++;
  }
  return {
    event,
    bars: inputs.length,
    calmHours: seconds / 3_600,
    shareAtLevel1: seconds ? alert / seconds : 0,
    level2RaisesPer30Days: seconds ? (raises * 30 * 86_400) / seconds : 0,
    atLevel,
  };
}

/** Levels the rules give on every calm bar, and the false-alarm figures. */
export function calmFalseAlarms(
  event: string,
  path: PricePath,
  rules: Rules = DEFAULT_RULES,
  settings: ForecastSettings = DEFAULT_FORECAST_SETTINGS,
  o: {
    book?: CalmBook;
    persistence?: Persistence | null;
    gate?: ChangeGateSettings | null;
    escalation?: EscalationSettings | null;
  } = {},
): CalmResult {
  return calmFigures(event, calmInputs(path, o.book ?? "replay", settings), rules, {
    // null: the rules' level as it is, forecast by forecast (before persistence)
    persistence: o.persistence === null ? null : (o.persistence ?? DEFAULT_PERSISTENCE),
    gate: o.gate === undefined ? DEFAULT_GATE : o.gate,
    // every calm bar is a fresh oracle round
    escalation: o.escalation === undefined ? DEFAULT_ESCALATION : o.escalation,
  });
}

/**
 * A path of `days` of hourly bars built from calm blocks of `sources` (a moving-block bootstrap): each
 * source's calm bars are taken hourly (every bar of an hourly file, every second or fourth of a 30- or
 * 15-minute one), their log returns cut into overlapping blocks of `blockHours` that never cross from
 * one source to another, and blocks drawn at random (a source in proportion to its blocks, a uniform
 * start) are laid end to end from the first source's first price, so volatility clusters inside a block
 * survive. Prices are rounded to cents before they become WAD.
 */
export function bootstrapPath(
  sources: readonly PricePath[],
  days: number,
  blockHours: number,
  next: () => number,
): PricePath {
  const blocks: number[][] = [];
  for (const path of sources) {
    const pts = path.points;
    if (pts.length < 3) continue;
    const stride = Math.max(1, Math.round(3_600 / (pts[1].t - pts[0].t)));
    const hourly = pts.filter((_, i) => i % stride === 0);
    const returns = hourly.slice(1).map((p, i) => Math.log(Number(p.priceWad) / Number(hourly[i].priceWad)));
    for (let k = 0; k + blockHours <= returns.length; k++) blocks.push(returns.slice(k, k + blockHours));
  }
  if (blocks.length === 0) throw new Error("too few calm bars to resample");
  const first = sources[0].points[0];
  let price = Number(first.priceWad) / 1e18;
  const out = [{ t: first.t, priceWad: first.priceWad }];
  while (out.length <= days * 24) {
    for (const r of blocks[Math.floor(next() * blocks.length)]) {
      if (out.length > days * 24) break;
      price *= Math.exp(r);
      out.push({ t: first.t + out.length * 3_600, priceWad: BigInt(Math.round(price * 100)) * 10n ** 16n });
    }
  }
  return {
    ...sources[0],
    event: "bootstrap",
    source: `block bootstrap of ${sources.map((p) => p.source).join(", ")}`,
    resolution: 3_600,
    points: out,
    gaps: [],
  };
}

export type BootstrapResult = {
  event: string;
  paths: number;
  days: number;
  /** per variant: level-2 entries of each path, their mean per 30 days with a 90% interval, and calm share */
  variants: {
    name: string;
    raises: number[];
    meanPer30Days: number;
    /** 90% interval of the mean (percentile bootstrap over the paths) */
    meanInterval: [number, number];
    /** 5th and 95th percentile of one path's count */
    pathInterval: [number, number];
    shareAtLevel1: number;
  }[];
};

const quantile = (sorted: readonly number[], q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];

/**
 * Level-2 raises per 30 calm days by bootstrap: `paths` 30-day hourly paths resampled from the calm bars
 * of `sources` (bootstrapPath), the book (the stress book by default) forecast over each, each variant's
 * level series, and the entries into level 2 counted per path.
 */
export function bootstrapRaises(
  event: string,
  sources: readonly PricePath[],
  variants: readonly {
    name: string;
    rules: Rules;
    gate: ChangeGateSettings | null;
    persistence: Persistence | null;
    escalation?: EscalationSettings | null;
  }[],
  o: { paths: number; days?: number; blockHours?: number; seed?: number; book?: CalmBook },
): BootstrapResult {
  const days = o.days ?? 30;
  const next = mulberry32(o.seed ?? 20_260_101);
  const runs = variants.map(() => ({ raises: [] as number[], share: [] as number[] }));
  for (let k = 0; k < o.paths; k++) {
    const inputs = calmInputs(bootstrapPath(sources, days, o.blockHours ?? 6, next), o.book ?? "replay");
    variants.forEach((v, j) => {
      const r = calmFigures(event, inputs, v.rules, v);
      runs[j].raises.push((r.level2RaisesPer30Days * days) / 30);
      runs[j].share.push(r.shareAtLevel1);
    });
  }
  return {
    event,
    paths: o.paths,
    days,
    variants: variants.map((v, j) => {
      const raises = runs[j].raises;
      const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      // percentile bootstrap of the mean over the paths (1,000 resamples, its own seeded stream)
      const draw = mulberry32(7_919 + j);
      const means: number[] = [];
      for (let b = 0; b < 1_000; b++) {
        let sum = 0;
        for (let i = 0; i < raises.length; i++) sum += raises[Math.floor(draw() * raises.length)];
        means.push(sum / raises.length);
      }
      means.sort((a, b) => a - b);
      const sorted = [...raises].sort((a, b) => a - b);
      return {
        name: v.name,
        raises,
        meanPer30Days: (mean(raises) * 30) / days,
        meanInterval: [(quantile(means, 0.05) * 30) / days, (quantile(means, 0.95) * 30) / days],
        pathInterval: [quantile(sorted, 0.05), quantile(sorted, 0.95)],
        shareAtLevel1: mean(runs[j].share),
      };
    }),
  };
}

/**
 * A path of our own (synthetic, not historic data), to check a rule on something it was not designed
 * on: `calmDays` of 15-minute bars of a random walk at `sigmaAnnual` (normal log returns from a seeded
 * stream), then a deterioration of `precursorHours` where the volatility doubles and the price drifts
 * down `precursorDrift` in all, then a fall of `fall` over one hour (4 equal bars), then 2 hours flat.
 * Returns the path and the time the fall starts (the bar before its first falling bar). With
 * `moveBarSeconds` the deterioration and the fall come in bars of that length instead (the same
 * volatility per unit of time, the same drift and fall in all): a moving market whose oracle posts a
 * round on every deviation, where a calm one posts one per bar.
 */
export function calmThenFallPath(
  o: {
    calmDays?: number;
    sigmaAnnual?: number;
    precursorHours?: number;
    precursorDrift?: number;
    fall?: number;
    seed?: number;
    start?: number;
    moveBarSeconds?: number;
  } = {},
): { path: PricePath; fallStart: number; precursorStart: number } {
  const bar = 900;
  const moveBar = o.moveBarSeconds ?? bar;
  if (!(Number.isInteger(moveBar) && moveBar > 0 && 3_600 % moveBar === 0)) {
    throw new Error(`moveBarSeconds ${moveBar}: a whole divisor of an hour`);
  }
  const next = mulberry32(o.seed ?? 1_234);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const sigmaBar = (o.sigmaAnnual ?? 0.5) * Math.sqrt(bar / YEAR_SECONDS);
  const calmBars = Math.round(((o.calmDays ?? 2.5) * 86_400) / bar);
  const preBars = Math.round(((o.precursorHours ?? 3) * 3_600) / bar);
  const start = o.start ?? 1_900_000_000;
  let price = 30_000;
  const points = [{ t: start, priceWad: BigInt(Math.round(price * 100)) * 10n ** 16n }];
  let t = start;
  const push = (r: number, dt: number) => {
    price *= Math.exp(r);
    t += dt;
    points.push({ t, priceWad: BigInt(Math.round(price * 100)) * 10n ** 16n });
  };
  for (let i = 0; i < calmBars; i++) push(sigmaBar * normal(), bar);
  const precursorStart = points[points.length - 1].t;
  // the deterioration and the fall in bars of moveBar: per-bar volatility scaled by sqrt(time)
  const k = bar / moveBar;
  const sigmaMove = sigmaBar / Math.sqrt(k);
  const moveBars = preBars * k;
  const drift = Math.log(1 - (o.precursorDrift ?? 0.04)) / moveBars;
  for (let i = 0; i < moveBars; i++) push(drift + 2 * sigmaMove * normal(), moveBar);
  const fallStart = points[points.length - 1].t;
  for (let i = 0; i < 4 * k; i++) push(Math.log(1 - (o.fall ?? 0.12)) / (4 * k), moveBar);
  for (let i = 0; i < 8; i++) push(0, bar);
  return {
    path: {
      event: "synthetic-calm-then-fall",
      symbol: "BTC",
      source: "synthetic: seeded random walk, a deterioration, a fall (not historic data)",
      stylised: true,
      quote: "USD",
      resolution: bar,
      points,
    },
    fallStart,
    precursorStart,
  };
}
