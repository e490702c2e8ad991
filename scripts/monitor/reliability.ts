/**
 * Is the forecast's probability calibrated? Each recorded forecast predicts, per direction, the chance
 * that the price moves as far as the book's critical shock (and as far as its first liquidation wave)
 * within 15 min and 1 h. The path then did or did not: the reference market's oracle price, as the
 * forecast read it, reached price * (1 -/+ shock) at some later step inside the horizon. A reliability
 * table puts the forecasts in bins of predicted probability and compares the mean prediction with the
 * share that came true (docs/experiments.md, "Is the probability calibrated?").
 *
 * The forecasts are not independent draws: one every replay step, each horizon spans many steps, so
 * neighbouring forecasts share most of their future path (and a crash is one path whatever its length).
 * The table is counted per forecast and also per distinct window (`episodes`: runs of consecutive
 * forecasts of one bin whose outcomes are the same event); the number of episodes, not of forecasts,
 * bounds what a bin can show.
 */
import type { Forecast } from "./forecast.js";
import type { Direction } from "./ladder.js";
import type { RuleInputs } from "./rules.js";
import {
  type PricePoint,
  type ProbabilityModel,
  type ShockSample,
  YEAR_SECONDS,
  demeaned,
  moveProbability,
  standardisedShocks,
} from "./stats.js";

/** What one forecast predicted for one direction: the shocks as fractions of the price, null when none. */
export type DirectionProbe = {
  critical: number | null;
  /** P(critical within 15 min, 1 h); 0 when no critical shock up to the grid's end */
  p15m: number;
  p1h: number;
  /** the 1 h probability's parts: historic simulation (undefined: too little history) and the Student-t */
  historic1h: number | null;
  studentT1h: number;
  wave: number | null;
  w15m: number;
  w1h: number;
  /**
   * the parts of every probability above, [historic (null: not reported), Student-t], in the order
   * p15m, p1h, w15m, w1h: a change to how they combine is measured on the record with no replay
   */
  parts?: [number | null, number][];
};

/** One forecast's predictions (both directions), its time and the reference price it read. */
export type ForecastProbe = {
  t: number;
  price: number;
  /** the oracle's annualised volatility the forecast used (the largest over the markets) */
  sigma: number;
  worst: Direction;
  /** the history's standardised shocks and their step (s): how many windows the historic part had */
  shocks?: number;
  stepSeconds?: number;
  /**
   * the point this forecast added to the return history (the reference feed's new round, at its own time),
   * null: none (no new round of it); absent in reports from before the history followed the rounds, whose
   * history had one point per forecast at (t, price)
   */
  round?: PricePoint | null;
  /**
   * the reference market (the largest sigma, then the most open interest: chain.ts `referenceMarket`) whose
   * history the forecast read,
   * and the point this forecast added to each feed's history (by market id): with them the history is the
   * reference's rounds up to here, whichever market it is; absent in reports from before the backtest kept
   * every feed's rounds (their history is the first market's, `round`)
   */
  reference?: number | null;
  rounds?: Record<number, PricePoint>;
  down: DirectionProbe;
  up: DirectionProbe;
};

const frac = (x: bigint | undefined) => (x === undefined ? null : Number(x) / 1e18);

/** The probe of a forecast, at the reference price it read. */
export function probeOf(f: Forecast, t: number, price: number, sample?: ShockSample): ForecastProbe {
  const side = (d: Direction): DirectionProbe => {
    const x = f[d];
    const at = (hs: typeof x.horizons, s: number) => hs.find((h) => h.horizonSeconds === s);
    const none = x.criticalShock === undefined;
    const noWave = x.waveShock === undefined;
    const h1 = at(x.horizons, 3_600);
    return {
      critical: frac(x.criticalShock),
      p15m: none ? 0 : (at(x.horizons, 900)?.probability ?? 0),
      p1h: none ? 0 : (h1?.probability ?? 0),
      historic1h: none ? null : (h1?.historic ?? null),
      studentT1h: none ? 0 : (h1?.studentT ?? 0),
      wave: frac(x.waveShock),
      w15m: noWave ? 0 : (at(x.waveHorizons, 900)?.probability ?? 0),
      w1h: noWave ? 0 : (at(x.waveHorizons, 3_600)?.probability ?? 0),
      parts: [at(x.horizons, 900), h1, at(x.waveHorizons, 900), at(x.waveHorizons, 3_600)].map(
        (m) => [m?.historic ?? null, m?.studentT ?? 0] as [number | null, number],
      ),
    };
  };
  return {
    t,
    price,
    sigma: f.indicators.sigmaMax,
    worst: f.worst.direction,
    shocks: sample?.z.length,
    stepSeconds: sample?.stepSeconds,
    down: side("down"),
    up: side("up"),
  };
}

/**
 * Did the path reach `shock` (a fraction) in `direction` within `horizon` seconds after forecast i?
 * The steps after i with t <= t_i + horizon; undefined when the path ends before the horizon does
 * (a censored window is left out rather than counted as "no").
 */
export function reached(
  path: readonly { t: number; price: number }[],
  i: number,
  shock: number,
  direction: Direction,
  horizon: number,
): boolean | undefined {
  const p0 = path[i].price;
  const end = path[i].t + horizon;
  if (path[path.length - 1].t < end) return undefined;
  const target = direction === "down" ? p0 * (1 - shock) : p0 * (1 + shock);
  for (let j = i + 1; j < path.length && path[j].t <= end; j++) {
    if (direction === "down" ? path[j].price <= target : path[j].price >= target) return true;
  }
  return false;
}

/** One prediction and what happened, for the table. */
export type Outcome = { t: number; predicted: number; hit: boolean };

export type Target = "critical" | "wave";
export const HORIZONS = [900, 3_600] as const;

/**
 * Every (forecast, direction) with a shock of `target` on the grid, its predicted probability over
 * `horizon` and whether the path got there. `worstOnly`: the worst direction alone (what the rules read).
 * `from`/`to` keep forecasts in [from, to) (e.g. the calm stretch before the first wave).
 */
export function outcomes(
  probes: readonly ForecastProbe[],
  target: Target,
  horizon: (typeof HORIZONS)[number],
  o: { worstOnly?: boolean; from?: number; to?: number } = {},
): Outcome[] {
  const out: Outcome[] = [];
  // one direction after the other: each direction's outcomes in time order (reliability's windows)
  for (const d of ["down", "up"] as const) {
    for (let i = 0; i < probes.length; i++) {
      const p = probes[i];
      if (o.from !== undefined && p.t < o.from) continue;
      if (o.to !== undefined && p.t >= o.to) continue;
      if (o.worstOnly && p.worst !== d) continue;
      const x = p[d];
      const shock = target === "critical" ? x.critical : x.wave;
      if (shock === null) continue;
      const predicted = target === "critical" ? (horizon === 900 ? x.p15m : x.p1h) : horizon === 900 ? x.w15m : x.w1h;
      // a shock of 0 is already there: nothing to forecast
      if (!(shock > 0)) continue;
      const hit = reached(probes, i, shock, d, horizon);
      if (hit === undefined) continue;
      out.push({ t: p.t, predicted, hit });
    }
  }
  return out;
}

/** The bins' upper edges of predicted probability (the last bin ends at 1 inclusive). */
export const BIN_EDGES = [0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1] as const;

export type ReliabilityBin = {
  lo: number;
  hi: number;
  forecasts: number;
  meanPredicted: number;
  observed: number;
  /**
   * distinct windows: a forecast starts a new one when the one before in this bin is at least `horizon`
   * seconds earlier (its window no longer overlaps); hits counted once per window
   */
  episodes: number;
  episodeHits: number;
};

/** The reliability table of `xs` (sorted by time within each series; several series may be concatenated). */
export function reliability(xs: readonly Outcome[], horizon: number): ReliabilityBin[] {
  const bins: ReliabilityBin[] = BIN_EDGES.map((hi, k) => ({
    lo: k === 0 ? 0 : BIN_EDGES[k - 1],
    hi,
    forecasts: 0,
    meanPredicted: 0,
    observed: 0,
    episodes: 0,
    episodeHits: 0,
  }));
  const last: (number | undefined)[] = bins.map(() => undefined);
  const lastHit: boolean[] = bins.map(() => false);
  for (const x of xs) {
    let k = BIN_EDGES.findIndex((hi) => x.predicted < hi);
    if (k < 0) k = BIN_EDGES.length - 1;
    const b = bins[k];
    b.forecasts++;
    b.meanPredicted += x.predicted;
    if (x.hit) b.observed++;
    const prev = last[k];
    const fresh = prev === undefined || x.t - prev >= horizon || x.t < prev;
    if (fresh) {
      b.episodes++;
      lastHit[k] = false;
      last[k] = x.t;
    }
    if (x.hit && !lastHit[k]) {
      b.episodeHits++;
      lastHit[k] = true;
    }
  }
  for (const b of bins) {
    if (b.forecasts > 0) {
      b.meanPredicted /= b.forecasts;
      b.observed /= b.forecasts;
    }
  }
  return bins;
}

/** Brier score and the mean predicted against the observed frequency over all of `xs`. */
export function summary(xs: readonly Outcome[]): { n: number; brier: number; meanPredicted: number; observed: number } {
  if (xs.length === 0) return { n: 0, brier: 0, meanPredicted: 0, observed: 0 };
  let brier = 0;
  let mp = 0;
  let ob = 0;
  for (const x of xs) {
    const y = x.hit ? 1 : 0;
    brier += (x.predicted - y) ** 2;
    mp += x.predicted;
    ob += y;
  }
  return { n: xs.length, brier: brier / xs.length, meanPredicted: mp / xs.length, observed: ob / xs.length };
}

/**
 * A probe as the forecast would have made it had the historic part needed `minHorizons` non-overlapping
 * windows of each horizon (stats.ts `moveProbability` `minHorizons`; ForecastSettings
 * `historicMinHorizons`): from its recorded parts, each probability the larger of the historic (when it
 * still counts) and the Student-t. A probe without parts is returned as it is.
 */
export function probeWithMinHorizons(p: ForecastProbe, minHorizons: number): ForecastProbe {
  if (p.shocks === undefined || !p.stepSeconds) return p;
  const counts = (h: number) => Math.floor(p.shocks! / Math.max(1, Math.round(h / p.stepSeconds!))) >= minHorizons;
  const side = (x: DirectionProbe): DirectionProbe => {
    if (!x.parts) return x;
    const [p15, p1, w15, w1] = x.parts.map(([hist, t], k) =>
      Math.max(hist !== null && counts(k % 2 ? 3_600 : 900) ? hist : 0, t),
    );
    return {
      ...x,
      p15m: x.critical === null ? 0 : p15,
      p1h: x.critical === null ? 0 : p1,
      historic1h: x.historic1h !== null && counts(3_600) ? x.historic1h : null,
      w15m: x.wave === null ? 0 : w15,
      w1h: x.wave === null ? 0 : w1,
    };
  };
  const down = side(p.down);
  const up = side(p.up);
  return { ...p, worst: up.p1h > down.p1h ? "up" : "down", down, up };
}

/**
 * The rules' inputs of a run recomputed from its probes (one per input, in order) under
 * `probeWithMinHorizons`: the worst direction's probabilities and distance, the waves' larger
 * probabilities. The waves' distances, the 24 h probability (whose historic part never has 30 windows
 * of a day on these histories), freshness and price stay as recorded; the self-feeding waves' figures
 * too (no default rule reads them).
 */
export function inputsWithMinHorizons(
  inputs: readonly RuleInputs[],
  probes: readonly ForecastProbe[],
  minHorizons: number,
): RuleInputs[] {
  if (inputs.length !== probes.length) throw new Error("inputsWithMinHorizons: one probe per input");
  return inputs.map((x, i) => {
    const p = probeWithMinHorizons(probes[i], minHorizons);
    const w = p[p.worst];
    const sigma1h = p.sigma * Math.sqrt(3_600 / YEAR_SECONDS);
    const distance =
      w.critical === null
        ? Infinity
        : Math.abs(p.worst === "down" ? Math.log(Math.max(1e-12, 1 - w.critical)) : Math.log(1 + w.critical)) / sigma1h;
    return {
      ...x,
      criticalNow: w.critical === 0,
      p15m: w.p15m,
      p1h: w.p1h,
      distance1h: sigma1h > 0 ? distance : Infinity,
      wave15m: Math.max(p.down.w15m, p.up.w15m),
      wave1h: Math.max(p.down.w1h, p.up.w1h),
    };
  });
}

/**
 * A run's probabilities recomputed under a probability model (stats.ts `ProbabilityModel`) from its probes
 * alone, no replay: the backtest's price history at a forecast is the reference market's rounds up to it
 * (each probe's `rounds` and `reference`; an older report: its `round`, the first market's, or without it one
 * point per observed step), and each probe carries the volatility and the
 * shocks, so every probability the rules read is computed again as the forecast computes it. Under the
 * model the run was recorded with it gives back the recorded inputs (`check`: the largest difference).
 * The self-feeding waves' figures stay as recorded (no default rule reads them; the probes do not carry
 * which direction's wave feeds itself), so do freshness and price.
 */
export function inputsUnderModel(
  inputs: readonly RuleInputs[],
  probes: readonly ForecastProbe[],
  model: ProbabilityModel,
  /** the historic part on the demeaned shocks (forecast.ts `historicDemean`) */
  demean = false,
  /**
   * the history as the backtest built it before it followed the reference feed's rounds: one point per forecast at
   * its time and reference price (a report's probes without `round` are read so in any case)
   */
  perStep = false,
): { inputs: RuleInputs[]; probes: ForecastProbe[]; check: number } {
  if (inputs.length !== probes.length) throw new Error("inputsUnderModel: one probe per input");
  const history: PricePoint[] = [];
  // every feed's rounds by market id, for the probes that carry them (the reference's is the forecast's history)
  const histories = new Map<number, PricePoint[]>();
  const outInputs: RuleInputs[] = [];
  const outProbes: ForecastProbe[] = [];
  let check = 0;
  const diff = (a: number, b: number) => {
    if (a === b) return 0;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
    return Math.abs(a - b);
  };
  for (let i = 0; i < probes.length; i++) {
    const p = probes[i];
    let read: PricePoint[] = history;
    if (!perStep && p.rounds !== undefined) {
      for (const [id, point] of Object.entries(p.rounds)) {
        const h = histories.get(Number(id)) ?? [];
        h.push(point);
        histories.set(Number(id), h);
      }
      read = p.reference === undefined || p.reference === null ? [] : (histories.get(p.reference) ?? []);
    } else {
      const point = perStep || p.round === undefined ? { t: p.t, price: p.price } : p.round;
      if (point) history.push(point);
    }
    const sample = demean ? demeaned(standardisedShocks(read)) : standardisedShocks(read);
    const side = (d: Direction) => {
      const x = p[d];
      const at = (shock: number, h: number) => moveProbability(shock, d, h, p.sigma, sample, 30, 0, model);
      const c = x.critical === null ? undefined : [900, 3_600, 86_400].map((h) => at(x.critical!, h));
      const w = x.wave === null ? undefined : [900, 3_600].map((h) => at(x.wave!, h));
      const probe: DirectionProbe = {
        ...x,
        p15m: c ? c[0].probability : 0,
        p1h: c ? c[1].probability : 0,
        historic1h: c ? (c[1].historic ?? null) : null,
        studentT1h: c ? c[1].studentT : 0,
        w15m: w ? w[0].probability : 0,
        w1h: w ? w[1].probability : 0,
        parts: [c?.[0], c?.[1], w?.[0], w?.[1]].map(
          (m) => [m?.historic ?? null, m?.studentT ?? 0] as [number | null, number],
        ),
      };
      return {
        probe,
        p24h: c ? c[2].probability : 0,
        distance1h: c ? c[1].distance : Infinity,
        waveDistance1h: w ? w[1].distance : Infinity,
      };
    };
    const down = side("down");
    const up = side("up");
    const worst: Direction = up.probe.p1h > down.probe.p1h ? "up" : "down";
    const ws = worst === "up" ? up : down;
    const x = inputs[i];
    const y: RuleInputs = {
      ...x,
      criticalNow: ws.probe.critical === 0,
      p15m: ws.probe.p15m,
      p1h: ws.probe.p1h,
      p24h: ws.p24h,
      distance1h: ws.distance1h,
      wave15m: Math.max(down.probe.w15m, up.probe.w15m),
      wave1h: Math.max(down.probe.w1h, up.probe.w1h),
      waveDistance1h: Math.min(down.waveDistance1h, up.waveDistance1h),
    };
    const keys = ["p15m", "p1h", "p24h", "distance1h", "wave15m", "wave1h", "waveDistance1h"] as const;
    for (const k of keys) check = Math.max(check, diff(x[k] ?? Infinity, y[k]));
    outInputs.push(y);
    outProbes.push({ ...p, worst, down: down.probe, up: up.probe });
  }
  return { inputs: outInputs, probes: outProbes, check };
}

/**
 * The non-overlapping windows of `xs` (sorted by time) whose prediction is at least `min`: greedy, a window
 * starts at the first such forecast a horizon or more after the last window's start, and is read at that
 * forecast. With the windows' predictions and outcomes, the chance that a calibrated forecast shows none
 * of them come true is the product of 1 - p (the windows do not overlap, so they share no future path).
 */
export function distinctWindows(
  xs: readonly Outcome[],
  horizon: number,
  min: number,
): { windows: Outcome[]; hits: number; noHitIfCalibrated: number } {
  const windows: Outcome[] = [];
  for (const x of [...xs].filter((o) => o.predicted >= min).sort((a, b) => a.t - b.t)) {
    const last = windows[windows.length - 1];
    if (!last || x.t - last.t >= horizon) windows.push(x);
  }
  return {
    windows,
    hits: windows.filter((w) => w.hit).length,
    noHitIfCalibrated: windows.reduce((a, w) => a * (1 - w.predicted), 1),
  };
}
