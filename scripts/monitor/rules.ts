/**
 * From a forecast to a stress level, by explicit rules (docs/architecture.md, "Risk monitor"), and
 * from a level to what the risk-oracle service does about it.
 *
 * The forecast's worst direction gives the probability that the exogenous move reaches the critical
 * shock (runaway, or bad debt beyond the insurance fund) within 15 minutes, 1 hour and 24 hours, and
 * in either direction the probability of reaching the wave shock (a cascade that liquidates 1% of
 * the open interest). The level is the highest whose rule holds:
 *
 *   3 (reduce-only, guardian's call): the book is critical now (critical shock 0), or P(15 min) >= level3P15m
 *   2 (restricted):                   P(15 min) >= level2P15m or P(1 h) >= level2P1h,
 *                                     or P(self-feeding wave within 15 min) >= level2WaveP15m
 *   1 (caution):                      P(1 h) >= level1P1h or P(24 h) >= level1P24h,
 *                                     or P(self-feeding wave within 1 h) >= level1WaveP1h
 *   0 otherwise
 *
 * A wave counts only when it feeds itself (Forecast `waveAmplifies`): a cascade is amplification, not
 * liquidations as such. The level then goes through persistence (`LevelTracker`) before anything acts
 * on it.
 *
 * A level above what the risk-oracle role may set (riskOracleMaxLevel, 2 by default) is raised to the
 * role's maximum and reported to the guardian as an alert; the service never asks for more.
 */
import { z } from "zod";

import type { Forecast } from "./forecast.js";

export const rulesSchema = z
  .object({
    level1P1h: z.number().min(0).max(1).default(0.01),
    level1P24h: z.number().min(0).max(1).default(0.1),
    level2P15m: z.number().min(0).max(1).default(0.01),
    level2P1h: z.number().min(0).max(1).default(0.05),
    level3P15m: z.number().min(0).max(1).default(0.1),
    level1WaveP1h: z.number().min(0).max(1).default(0.1),
    level2WaveP15m: z.number().min(0).max(1).default(0.1),
    /**
     * a wave sets a level only when it feeds itself (Forecast `waveAmplifies`). Off by default: measured
     * with the wait below, it cost the fast crashes their warning (docs/experiments.md, "False alarms: persistence")
     */
    waveMustFeedItself: z.boolean().default(false),
    /**
     * the critical probabilities (P(15 min), P(1 h)) set level 2 only when the critical shock lies beyond the
     * first wave's: when they are the same shock, its probability is the wave's, which has its own level-2
     * rule (docs/experiments.md, "False alarms: the alarm's duration"; off by default: measured, not adopted)
     */
    level2CriticalBeyondWave: z.boolean().optional(),
  })
  .refine((r) => r.level2P1h >= r.level1P1h, { error: "level2P1h must be at least level1P1h" })
  .refine((r) => r.level3P15m >= r.level2P15m, { error: "level3P15m must be at least level2P15m" });

export type Rules = z.output<typeof rulesSchema>;
export const DEFAULT_RULES: Rules = rulesSchema.parse({});

/** Every probability threshold of the rules (what `scaledRules` scales; the options are not thresholds). */
export const PROBABILITY_THRESHOLDS = [
  "level1P1h",
  "level1P24h",
  "level2P15m",
  "level2P1h",
  "level3P15m",
  "level1WaveP1h",
  "level2WaveP15m",
] as const;

/** `base` with every probability threshold times `k`, capped at 1 (the options left as they are). */
export function scaledRules(k: number, base: Rules = DEFAULT_RULES): Rules {
  if (!(k > 0) || !Number.isFinite(k)) throw new Error(`scale ${k}: a positive number`);
  const r: Rules = { ...base };
  for (const key of PROBABILITY_THRESHOLDS) r[key] = Math.min(1, base[key] * k);
  return r;
}

/**
 * The thresholds for probabilities of reaching the shock within the horizon (stats.ts `ProbabilityModel`
 * `reach`): each of DEFAULT_RULES' doubled, so that a level stays at the distance-to-cascade where the
 * end-of-horizon rules put it on a diffusion (reflection: reaching is twice being past at the end;
 * docs/experiments.md, "Risk monitor", "The probability of reaching").
 */
export const REACH_RULES: Rules = rulesSchema.parse(scaledRules(2));

export type LevelDecision = {
  level: number;
  /** the rule that set it, for logs, alerts and the dashboard */
  reason: string;
  p15m: number;
  p1h: number;
  p24h: number;
  /** P(wave) within 15 min and 1 h, the larger of the two directions */
  wave15m: number;
  wave1h: number;
  /** an observation (the book is past its critical shock now), not a forecast: persistence does not delay it */
  immediate?: boolean;
  /**
   * the book's distance to trouble: distance-to-cascade at 1 h of the nearer of the critical shock and the
   * liquidation wave the rules read (Infinity when neither is in reach), before the change gate; escalation's
   * fast path follows its trend across fresh forecasts. Absent: unknown (no trend).
   */
  distance?: number;
};

/** The probabilities of the worst direction by horizon (0 when nothing up to the grid's end is critical). */
function probabilities(f: Forecast): { p15m: number; p1h: number; p24h: number } {
  const d = f[f.worst.direction];
  if (d.criticalShock === undefined) return { p15m: 0, p1h: 0, p24h: 0 };
  const at = (s: number) => d.horizons.find((h) => h.horizonSeconds === s)?.probability ?? 0;
  return { p15m: at(900), p1h: at(3_600), p24h: at(86_400) };
}

/**
 * What the rules read from one forecast, and nothing else: the level is a function of these numbers
 * (`levelFromInputs`), so a backtest can record them once and derive the level under any set of rules,
 * persistence and change gate afterwards from the same forecasts.
 */
export type RuleInputs = {
  /** forecast time (s) */
  t: number;
  /** the book is past its critical shock now */
  criticalNow: boolean;
  /** probabilities of the worst direction's critical shock by horizon (0 when none up to the grid's end) */
  p15m: number;
  p1h: number;
  p24h: number;
  /** distance-to-cascade at 1 h: |ln(1 - critical)| over the 1 h volatility; Infinity when nothing is critical */
  distance1h: number;
  /** P(any liquidation wave) within 15 min and 1 h, the larger of the two directions */
  wave15m: number;
  wave1h: number;
  /** the same for self-feeding waves only (Forecast `waveAmplifies`) */
  feedingWave15m: number;
  feedingWave1h: number;
  /** the wave's distance at 1 h, nearer direction; Infinity when no wave; and for self-feeding waves only */
  waveDistance1h: number;
  feedingWaveDistance1h: number;
  /** the reference market's oracle price the forecast read (escalation's `minMove`); absent in older reports */
  price?: number;
  /**
   * the forecast follows an oracle round the one before had not seen (escalation counts and climbs only on
   * such a forecast); absent: fresh (every calm bar is a round; older reports did not record it)
   */
  fresh?: boolean;
};

/** The rules' inputs of a forecast (see RuleInputs). */
export function ruleInputs(f: Forecast): RuleInputs {
  const dirs = ["down", "up"] as const;
  const waveAt = (s: number, feeding: boolean) =>
    Math.max(
      ...dirs.map((d) =>
        f[d].waveShock === undefined || (feeding && !f[d].waveAmplifies)
          ? 0
          : (f[d].waveHorizons.find((h) => h.horizonSeconds === s)?.probability ?? 0),
      ),
    );
  const waveDistance = (feeding: boolean) =>
    Math.min(
      ...dirs.map((d) =>
        f[d].waveShock === undefined || (feeding && !f[d].waveAmplifies)
          ? Infinity
          : (f[d].waveHorizons.find((h) => h.horizonSeconds === 3_600)?.distance ?? Infinity),
      ),
    );
  const worst = f[f.worst.direction];
  return {
    t: Number(f.timestamp),
    criticalNow: worst.criticalShock === 0n,
    ...probabilities(f),
    distance1h:
      worst.criticalShock === undefined
        ? Infinity
        : (worst.horizons.find((h) => h.horizonSeconds === 3_600)?.distance ?? Infinity),
    wave15m: waveAt(900, false),
    wave1h: waveAt(3_600, false),
    feedingWave15m: waveAt(900, true),
    feedingWave1h: waveAt(3_600, true),
    waveDistance1h: waveDistance(false),
    feedingWaveDistance1h: waveDistance(true),
  };
}

export function levelFor(f: Forecast, rules: Rules = DEFAULT_RULES): LevelDecision {
  return levelFromInputs(ruleInputs(f), rules);
}

/** The level the rules give for one forecast's inputs (see the file comment). */
export function levelFromInputs(x: RuleInputs, rules: Rules = DEFAULT_RULES): LevelDecision {
  const feeding = rules.waveMustFeedItself;
  const p = {
    p15m: x.p15m,
    p1h: x.p1h,
    p24h: x.p24h,
    wave15m: feeding ? x.feedingWave15m : x.wave15m,
    wave1h: feeding ? x.feedingWave1h : x.wave1h,
  };
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const distance = Math.min(x.distance1h, feeding ? x.feedingWaveDistance1h : x.waveDistance1h);
  const at = (level: number, reason: string): LevelDecision => ({ level, reason, ...p, distance });
  if (x.criticalNow) return { ...at(3, "the book is past its critical shock now"), immediate: true };
  if (p.p15m >= rules.level3P15m) return at(3, `P(15 min) ${pct(p.p15m)} >= ${pct(rules.level3P15m)}`);
  const waveDistance = feeding ? x.feedingWaveDistance1h : x.waveDistance1h;
  // the critical shock is the first wave's (the same distance): its probability is the wave's
  const criticalIsWave =
    rules.level2CriticalBeyondWave === true &&
    Number.isFinite(x.distance1h) &&
    Math.abs(x.distance1h - waveDistance) <= 1e-9 * Math.max(1, x.distance1h);
  if (!criticalIsWave) {
    if (p.p15m >= rules.level2P15m) return at(2, `P(15 min) ${pct(p.p15m)} >= ${pct(rules.level2P15m)}`);
    if (p.p1h >= rules.level2P1h) return at(2, `P(1 h) ${pct(p.p1h)} >= ${pct(rules.level2P1h)}`);
  }
  if (p.wave15m >= rules.level2WaveP15m) {
    return at(2, `P(liquidation wave within 15 min) ${pct(p.wave15m)} >= ${pct(rules.level2WaveP15m)}`);
  }
  if (p.p1h >= rules.level1P1h) return at(1, `P(1 h) ${pct(p.p1h)} >= ${pct(rules.level1P1h)}`);
  if (p.p24h >= rules.level1P24h) return at(1, `P(24 h) ${pct(p.p24h)} >= ${pct(rules.level1P24h)}`);
  if (p.wave1h >= rules.level1WaveP1h) {
    return at(1, `P(liquidation wave within 1 h) ${pct(p.wave1h)} >= ${pct(rules.level1WaveP1h)}`);
  }
  return at(0, "no rule holds");
}

/**
 * Persistence: a level the rules want is acted on only once it has held on consecutive forecasts for
 * long enough (docs/experiments.md, "False alarms: persistence and the self-feeding wave"). One forecast is
 * an estimate from one oracle round (the volatility, the book and the impact all move with it); a
 * risk over the next 15 minutes or hour that appears in one round and is gone in the next is not yet
 * evidence. A level rises to L when the rules have wanted at least L on every forecast of the last
 * `confirmSeconds` (and on at least `confirmForecasts` of them); it falls as soon as the rules want
 * less (the breaker's floor, once raised, holds for its own duration anyway). "The book is past its
 * critical shock now" is an observation, not a forecast: it takes effect at once.
 */
export type Persistence = {
  /** seconds the rules must have wanted a level before it takes effect (default 300: a third of the shortest horizon) */
  confirmSeconds: number;
  /** and on at least this many consecutive forecasts (default 2) */
  confirmForecasts: number;
};

/** No wait by default (every forecast's level at once): the 300 s / 2-forecast wait is an option, not yet
 *  a default, because with it the fast crashes lost their lead (docs/experiments.md, "False alarms: persistence"). */
export const DEFAULT_PERSISTENCE: Persistence = { confirmSeconds: 0, confirmForecasts: 1 };

/** The options measured against the defaults (`backtest:monitor --calm`): the 300 s / 2-forecast wait and
 *  self-feeding waves only. */
export const MEASURED_PERSISTENCE: Persistence = { confirmSeconds: 300, confirmForecasts: 2 };

/** Filters the rules' levels through persistence, forecast by forecast (one per market book). */
export class LevelTracker {
  /** per level 1..3: time and count of the current run of forecasts wanting at least that level */
  private readonly runs: ({ since: number; count: number } | undefined)[] = [undefined, undefined, undefined];

  constructor(private readonly p: Persistence = DEFAULT_PERSISTENCE) {}

  /** The level in effect at time `t` (seconds) after the rules' `decision` for that time. */
  update(t: number, decision: LevelDecision): LevelDecision {
    for (let l = 1; l <= 3; l++) {
      if (decision.level < l) this.runs[l - 1] = undefined;
      else {
        const r = this.runs[l - 1];
        this.runs[l - 1] = r ? { since: r.since, count: r.count + 1 } : { since: t, count: 1 };
      }
    }
    if (decision.immediate) return decision;
    for (let l = decision.level; l >= 1; l--) {
      const r = this.runs[l - 1]!;
      if (t - r.since >= this.p.confirmSeconds && r.count >= this.p.confirmForecasts) {
        return l === decision.level
          ? decision
          : { ...decision, level: l, reason: `${decision.reason} (level ${decision.level} not yet confirmed)` };
      }
    }
    if (decision.level === 0) return decision;
    return { ...decision, level: 0, reason: `${decision.reason} (not yet confirmed)` };
  }
}

/**
 * The change gate (docs/architecture.md, "Risk monitor"; docs/experiments.md, "False alarms: the change gate"). A standing
 * property of the book (its leverage, how its liquidation prices cluster) is what the book is, not
 * news: in a fragile book the probability of reaching the critical shock is high on every calm
 * forecast. The gate lets a probability rule set a level only when the distance it is computed from
 * (distance-to-cascade at 1 h: the critical shock, or the wave's shock, over the hour's volatility;
 * it falls when the book moves towards its cluster and when the volatility rises) is below every
 * distance the monitor's own forecasts found from `windowSeconds` to `lagSeconds` ago: a new low
 * against the book's recent history. The lag keeps the comparison with the time before the current
 * deterioration: a distance that keeps falling, or stays below where it had been, keeps the gate open;
 * one that has stood still for `lagSeconds` is again the book's standing level. "The book is past its
 * critical shock now" is an observation and is never gated. With no forecast yet older than the lag
 * (a monitor that has just started), nothing is gated: no history is no evidence of calm.
 */
export type ChangeGateSettings = {
  /** the history the distance is compared with reaches this far back (default 24 h, the longest horizon) */
  windowSeconds: number;
  /**
   * ... and ends this long ago (default 15 min, the evidence window: a level needs the distance at a new
   * low against everything from 24 h to 15 min before, so the deterioration is still going on)
   */
  lagSeconds: number;
};

/**
 * The gate's history ends at the evidence window (15 min), the eleventh round's candidate, adopted with the
 * divergence runaway in the eighteenth round (docs/experiments.md, "The critical shock without the local
 * cluster"); before it, the history ended 1 h back (`HOUR_LAG_GATE`).
 */
export const DEFAULT_CHANGE_GATE: ChangeGateSettings = { windowSeconds: 86_400, lagSeconds: 900 };

/** The gate before the eighteenth round: its history ended 1 h back (a backtest variant). */
export const HOUR_LAG_GATE: ChangeGateSettings = { windowSeconds: 86_400, lagSeconds: 3_600 };

/** The gate the monitor applies unless told otherwise (null: none): on, since it kept every measured lead
 *  (docs/experiments.md, "False alarms: the change gate"). */
export const DEFAULT_GATE: ChangeGateSettings | null = DEFAULT_CHANGE_GATE;

/** Applies the change gate forecast by forecast (one per market book). */
export class ChangeGate {
  private readonly past: { t: number; critical: number; wave: number; feedingWave: number }[] = [];

  constructor(private readonly g: ChangeGateSettings = DEFAULT_CHANGE_GATE) {}

  /** The inputs with the probabilities of every distance that is not at a new low set to 0; records `x`. */
  filter(x: RuleInputs): RuleInputs {
    while (this.past.length > 0 && this.past[0].t < x.t - this.g.windowSeconds) this.past.shift();
    let critical = Infinity;
    let wave = Infinity;
    let feedingWave = Infinity;
    let any = false;
    for (const p of this.past) {
      if (p.t > x.t - this.g.lagSeconds) break;
      any = true;
      critical = Math.min(critical, p.critical);
      wave = Math.min(wave, p.wave);
      feedingWave = Math.min(feedingWave, p.feedingWave);
    }
    this.past.push({
      t: x.t,
      critical: x.distance1h,
      wave: x.waveDistance1h,
      feedingWave: x.feedingWaveDistance1h,
    });
    if (!any) return x;
    const out = { ...x };
    if (!(x.distance1h < critical)) Object.assign(out, { p15m: 0, p1h: 0, p24h: 0 });
    if (!(x.waveDistance1h < wave)) Object.assign(out, { wave15m: 0, wave1h: 0 });
    if (!(x.feedingWaveDistance1h < feedingWave)) Object.assign(out, { feedingWave15m: 0, feedingWave1h: 0 });
    return out;
  }
}

/**
 * Escalation (docs/architecture.md, "Risk monitor"; docs/experiments.md, "False alarms: escalation"): a level the rules
 * want is acted on only once it is confirmed by fresh forecasts (each after an oracle round the one
 * before had not seen), and the level in effect climbs one step per fresh forecast.
 *
 * - **Confirmation in event time.** Out of level 0 only when at least `confirm` of the last `window`
 *   fresh forecasts (this one included, and this one wanting at least level 1) wanted level 1 or more.
 *   Counted in oracle rounds, not seconds: rounds come on every deviation in a moving market and at the
 *   heartbeat in a calm one, so a warning confirms within minutes in a fall and only over hours of a
 *   calm book's bars. An isolated new low of one round is not yet evidence; a flicker (a round that
 *   misses in a run of hits) does not restart the count.
 * - **One step per fresh forecast.** The level in effect rises by at most `stepPerForecast` on each fresh
 *   forecast: level 2 (a raise of the breaker) needs level 1 in effect on the round before. A forecast
 *   that is not fresh (the same rounds read again on a new block) never raises the level.
 * - **Fast path for a book moving toward the boundary** (`fastRun`, docs/experiments.md, "False alarms:
 *   the fast path"). Level 1 (a warning; no raise) is confirmed at once, without the count, when the
 *   book's distance to trouble (LevelDecision `distance`: the nearer of the critical shock and the wave,
 *   over the hour's volatility) fell on each of the last `fastRun` fresh forecasts: the book itself
 *   moving toward its cluster round after round, which a calm book does only briefly. It only adds level
 *   1 (caution): level 2 and above (the restricting raises) come from the count alone, exactly as
 *   without it (a level-2 raise needs the count's own level 1 on the round before).
 * - **Evidence within the shortest horizon** (`evidenceSeconds`, docs/experiments.md, "False alarms:
 *   evidence within 15 minutes"). A fresh forecast confirms (counts among the `confirm` hits, or extends the fast path's
 *   run) only while it is at most `evidenceSeconds` (900: the rules' shortest horizon) old: the count
 *   becomes a rate, hits per 15 minutes. A moving market brings rounds every minute or so and confirms
 *   within minutes; a calm one brings a round per bar or heartbeat, and a forecast an hour old whose
 *   15-minute risk did not come is not evidence for the next one.
 * - **Rounds that move** (`minMove`, off by default: measured and not adopted, docs/experiments.md, "False
 *   alarms: the replays' own calm"). A fresh forecast counts only when the reference price moved at least
 *   `minMove` from the last one that counted: the rounds a push feed with that deviation threshold posts.
 * - It falls at once to what the rules want, and "the book is past its critical shock now" is an
 *   observation that takes effect at once, as everywhere else.
 *
 * `confirm` and `window` are the one calibrated choice (calibration.ts: the least strict pair of a fixed
 * grid that keeps calm time at level >= 1 within 5% and level-2 raises within one per 30 days on
 * bootstrapped calm paths; checked leave-one-event-out).
 */
export type EscalationSettings = {
  /** fresh forecasts out of the last `window` that must want level >= 1 */
  confirm: number;
  window: number;
  /** levels the level in effect may climb per fresh forecast */
  stepPerForecast: number;
  /**
   * the fast path: level 1 is confirmed at once when the book's distance to trouble fell on each of the
   * last `fastRun` fresh forecasts (strictly, one forecast to the next); 0 or absent: no fast path
   */
  fastRun?: number;
  /**
   * a fresh forecast confirms (a hit of the count, a fall of the fast path's run) only while it is at most
   * this many seconds old; 0 or absent: no expiry (the fifth round's escalation)
   */
  evidenceSeconds?: number;
  /**
   * a fresh forecast counts (as a hit, a fall of the fast path's run, a step up) only when the reference
   * oracle price moved at least this fraction from the price of the last forecast that counted: the
   * rounds a push feed with this deviation threshold would have posted (docs/experiments.md, "False
   * alarms: the replays' own calm"); 0 or absent: every fresh forecast counts (the seventh round's)
   */
  minMove?: number;
  /**
   * the alarm's dwell (docs/experiments.md, "False alarms: the alarm's duration"; off by default: measured and
   * not adopted): an alarm (the level in effect out of 0) that no fresh forecast re-confirms within this
   * many seconds expires, and stays spent until a forecast is materially worse than the one it expired on
   * or the rules want level 0; 0 or absent: an alarm lasts as long as the rules want it
   */
  dwellSeconds?: number;
  /**
   * what re-confirms an alarm under `dwellSeconds`: a fresh forecast whose distance to trouble (LevelDecision
   * `distance`) is at most (1 - renewMargin) times the alarm's anchor (the distance of the forecast that
   * started or last renewed it); default 0.1
   */
  renewMargin?: number;
  /**
   * the alarm needs a falling distance (docs/experiments.md, "False alarms: an alarm that needs a falling distance"): the level in
   * effect is above 0 only while the distance to trouble (LevelDecision `distance`) is below that of the latest
   * fresh forecast at least this many seconds older (the book moved toward trouble over the window); otherwise
   * level 0, and a level-2 raise again needs level 1 the round before. An observation ("past its critical
   * shock now") and a monitor with no forecast that old are not filtered; 0 or absent: off
   */
  trendSeconds?: number;
};

/**
 * A push feed's deviation threshold (Chainlink's BTC/USD and ETH/USD on mainnet: a round on a 0.5% move
 * or at the heartbeat): escalation's `minMove` in the variant that counts only the rounds such a feed
 * would have posted (docs/experiments.md, "False alarms: the replays' own calm").
 */
export const PUSH_FEED_DEVIATION = 0.005;

/** The rules' shortest horizon (P(15 min)): how long a fresh forecast's evidence lasts by default. */
export const EVIDENCE_SECONDS = 900;

/** The dwell's default margin: an alarm is re-confirmed by a forecast whose distance to trouble is 10% closer. */
export const DWELL_RENEW_MARGIN = 0.1;

/**
 * The calibration's choice on all six events' own calm bootstrap paths (calibration.ts; the in-sample row
 * of `backtest:monitor -- --loeo`, 2 paths of 30 days per event, seed 20260101): 3 of 4, then a fast path
 * of 2 falls. Left out in turn, each event's count came out 3 of 4 or 3 of 5 and every fast path 2
 * (docs/experiments.md, "False alarms: escalation" and "False alarms: the fast path").
 */
export const DEFAULT_ESCALATION: EscalationSettings = {
  confirm: 3,
  window: 4,
  stepPerForecast: 1,
  fastRun: 2,
  evidenceSeconds: EVIDENCE_SECONDS,
};

/** The fifth round's default: the same count and fast path with no expiry of evidence (a backtest variant). */
export const NO_EXPIRY_ESCALATION: EscalationSettings = { confirm: 3, window: 4, stepPerForecast: 1, fastRun: 2 };

/** The tenth round's measured candidate: the default with the alarm's dwell, 15 minutes and a 10% margin. */
export const DWELL_ESCALATION: EscalationSettings = {
  ...DEFAULT_ESCALATION,
  dwellSeconds: EVIDENCE_SECONDS,
  renewMargin: DWELL_RENEW_MARGIN,
};

/** The eleventh round's measured candidate: the default with an alarm that needs the distance falling over 15 minutes. */
export const TREND_ESCALATION: EscalationSettings = { ...DEFAULT_ESCALATION, trendSeconds: EVIDENCE_SECONDS };

/** The fourth round's default, counting only (no fast path): a variant of the backtests, the "before" column. */
export const COUNT_ONLY_ESCALATION: EscalationSettings = { confirm: 3, window: 4, stepPerForecast: 1 };

/** Applies escalation forecast by forecast (one per market book). */
export class Escalation {
  /** whether each of the last `window` fresh forecasts wanted level >= 1, and its time (oldest first) */
  private readonly recent: { hit: boolean; t: number }[] = [];
  /** the distance to trouble of the last `fastRun` + 1 fresh forecasts and their times (oldest first; NaN: unknown) */
  private readonly distances: { d: number; t: number }[] = [];
  /** the level the count alone has in effect (the one that climbs), and the level in effect with the fast path */
  private level = 0;
  private effective = 0;

  constructor(private readonly e: EscalationSettings = DEFAULT_ESCALATION) {
    if (!(Number.isInteger(e.confirm) && e.confirm >= 1 && Number.isInteger(e.window) && e.window >= e.confirm)) {
      throw new Error(
        `escalation: confirm ${e.confirm} of window ${e.window} must be integers, 1 <= confirm <= window`,
      );
    }
    if (!(Number.isInteger(e.stepPerForecast) && e.stepPerForecast >= 1)) {
      throw new Error(`escalation: stepPerForecast ${e.stepPerForecast} must be an integer >= 1`);
    }
    const run = e.fastRun ?? 0;
    if (!(Number.isInteger(run) && run >= 0)) throw new Error(`escalation: fastRun ${run} must be an integer >= 0`);
    const ev = e.evidenceSeconds ?? 0;
    if (!(Number.isFinite(ev) && ev >= 0)) throw new Error(`escalation: evidenceSeconds ${ev} must be >= 0`);
    const mv = e.minMove ?? 0;
    if (!(Number.isFinite(mv) && mv >= 0 && mv < 1)) throw new Error(`escalation: minMove ${mv} must be in [0, 1)`);
    const dw = e.dwellSeconds ?? 0;
    if (!(Number.isFinite(dw) && dw >= 0)) throw new Error(`escalation: dwellSeconds ${dw} must be >= 0`);
    const rm = e.renewMargin ?? DWELL_RENEW_MARGIN;
    if (!(Number.isFinite(rm) && rm > 0 && rm < 1)) {
      throw new Error(`escalation: renewMargin ${rm} must be in (0, 1)`);
    }
    const tr = e.trendSeconds ?? 0;
    if (!(Number.isFinite(tr) && tr >= 0 && tr <= 86_400)) {
      throw new Error(`escalation: trendSeconds ${tr} must be in [0, 86400]`);
    }
  }

  /** fresh forecasts' distances to trouble and times (trendSeconds): the latest at least that old, then every later one */
  private readonly trendPast: { d: number; t: number }[] = [];

  /** the alarm under `dwellSeconds`: the distance and time of the forecast that started or last renewed it */
  private alarm: { anchor: number; t: number } | undefined;
  /** the anchor of the alarm that expired, while it is spent (dwellSeconds) */
  private spent: number | undefined;

  /** the reference price of the last forecast that counted (minMove) */
  private countedPrice: number | undefined;

  /**
   * Whether a fresh forecast at reference price `price` counts under `minMove`: the first one does, then
   * one whose price is at least `minMove` away from the last that counted. A forecast without a price (a
   * monitor with no oracle history yet) counts: nothing shows that its round did not move.
   */
  private moved(price: number | undefined): boolean {
    const mv = this.e.minMove ?? 0;
    if (mv === 0 || price === undefined || !(price > 0)) return true;
    if (this.countedPrice !== undefined && Math.abs(price / this.countedPrice - 1) < mv) return false;
    this.countedPrice = price;
    return true;
  }

  /** Whether a fresh forecast made at `at` still counts as evidence at `now` (see `evidenceSeconds`). */
  private current(at: number, now: number): boolean {
    const ev = this.e.evidenceSeconds ?? 0;
    return ev === 0 || now - at <= ev;
  }

  /** Whether the distance to trouble fell on each of the last `fastRun` fresh forecasts, all still current. */
  private falling(now: number): boolean {
    const run = this.e.fastRun ?? 0;
    const d = this.distances;
    if (run === 0 || d.length <= run) return false;
    if (!this.current(d[d.length - 1 - run].t, now)) return false;
    for (let j = d.length - run; j < d.length; j++) {
      if (!(d[j].d < d[j - 1].d)) return false;
    }
    return true;
  }

  /**
   * The level in effect after the rules' `decision` for a forecast made at `t` (seconds); `fresh`: it
   * follows a new oracle round. `t` is needed when evidence expires (`evidenceSeconds` > 0), `price` (the
   * reference market's oracle price) when rounds must move (`minMove` > 0).
   */
  update(decision: LevelDecision, fresh = true, t?: number, price?: number): LevelDecision {
    if (
      t === undefined &&
      ((this.e.evidenceSeconds ?? 0) > 0 || (this.e.dwellSeconds ?? 0) > 0 || (this.e.trendSeconds ?? 0) > 0)
    ) {
      throw new Error("escalation: a forecast's time is needed when evidence or an alarm expires");
    }
    // under minMove a round that did not move the price as far as a push feed's deviation is not fresh
    if (fresh) fresh = this.moved(price);
    const now = t ?? 0;
    return this.trend(this.dwell(decision, this.escalate(decision, fresh, now), fresh, now), fresh, now);
  }

  /**
   * The alarm needs a falling distance (`trendSeconds`): the level escalation (and the dwell) put in effect
   * stays above 0 only while the distance to trouble is below that of the latest fresh forecast at least
   * `trendSeconds` older.
   */
  private trend(out: LevelDecision, fresh: boolean, now: number): LevelDecision {
    const span = this.e.trendSeconds ?? 0;
    if (span === 0) return out;
    const d = out.distance ?? NaN;
    if (fresh) this.trendPast.push({ d, t: now });
    while (this.trendPast.length >= 2 && this.trendPast[1].t <= now - span) this.trendPast.shift();
    if (out.immediate || out.level === 0) return out;
    const ref = this.trendPast[0];
    // no forecast that old (a monitor that has just started), or a distance unknown: no evidence either way
    if (ref === undefined || ref.t > now - span || Number.isNaN(d) || Number.isNaN(ref.d)) return out;
    if (d < ref.d) return out;
    // escalation's own level falls with it: a level-2 raise again needs level 1 in effect the round before
    this.level = 0;
    this.effective = 0;
    const was = Number.isFinite(ref.d) ? ref.d.toFixed(2) : "none in reach";
    return {
      ...out,
      level: 0,
      reason: `${out.reason} (the distance to trouble ${Number.isFinite(d) ? d.toFixed(2) : "none in reach"} did not fall over ${span} s: ${was} then)`,
    };
  }

  /**
   * The alarm's dwell (`dwellSeconds`) on the level escalation put in effect (`out`) for the rules'
   * `decision`: an alarm not re-confirmed by a materially worse fresh forecast within the dwell expires.
   */
  private dwell(decision: LevelDecision, out: LevelDecision, fresh: boolean, now: number): LevelDecision {
    const dwell = this.e.dwellSeconds ?? 0;
    if (dwell === 0) return out;
    if (out.immediate || decision.level === 0) {
      // an observation, or the episode the rules wanted is over: nothing is held against the next alarm
      this.alarm = undefined;
      this.spent = undefined;
      return out;
    }
    if (out.level === 0) return out;
    const m = this.e.renewMargin ?? DWELL_RENEW_MARGIN;
    const d = out.distance ?? NaN;
    // materially worse than an anchor: the distance to trouble closer by the margin (unknown: never)
    const worse = (anchor: number) => fresh && d <= anchor * (1 - m);
    const off = (why: string): LevelDecision => {
      // escalation's own level falls with it: a level-2 raise again needs level 1 in effect the round before
      this.level = 0;
      this.effective = 0;
      return { ...out, level: 0, reason: `${out.reason} (${why})` };
    };
    const closer = `a fresh forecast ${(m * 100).toFixed(0)}% closer`;
    if (this.alarm === undefined) {
      if (this.spent !== undefined && !worse(this.spent)) {
        return off(`the alarm expired at distance ${this.spent.toFixed(2)}; it returns on ${closer}`);
      }
      this.spent = undefined;
      this.alarm = { anchor: d, t: now };
      return out;
    }
    if (worse(this.alarm.anchor)) {
      this.alarm = { anchor: d, t: now };
      return out;
    }
    if (now - this.alarm.t > dwell) {
      this.spent = this.alarm.anchor;
      this.alarm = undefined;
      return off(`expired: not re-confirmed by ${closer} within ${dwell} s`);
    }
    return out;
  }

  /** Escalation proper (the count, one step per fresh forecast, the fast path), before the dwell. */
  private escalate(decision: LevelDecision, fresh: boolean, now: number): LevelDecision {
    if (fresh) {
      this.recent.push({ hit: decision.level >= 1, t: now });
      if (this.recent.length > this.e.window) this.recent.shift();
      this.distances.push({ d: decision.distance ?? NaN, t: now });
      if (this.distances.length > (this.e.fastRun ?? 0) + 1) this.distances.shift();
    }
    if (decision.immediate) {
      this.level = decision.level;
      this.effective = decision.level;
      return decision;
    }
    const hits = this.recent.filter((r) => r.hit && this.current(r.t, now)).length;
    // the count (the fourth round), on its own level: every level-2 and higher figure is the count's
    let level = decision.level;
    let why = "";
    const within = (this.e.evidenceSeconds ?? 0) > 0 ? ` within ${this.e.evidenceSeconds} s` : "";
    const counted = `${hits} of the last ${this.e.window} fresh forecasts${within}, ${this.e.confirm} needed`;
    if (level >= 1 && hits < this.e.confirm) {
      level = 0;
      why = ` (not yet confirmed: ${counted})`;
    } else if (level > this.level) {
      const reachable = fresh ? this.level + this.e.stepPerForecast : this.level;
      if (level > reachable) {
        why = ` (level ${level} wanted; ${fresh ? "one step per fresh forecast" : "no fresh oracle round"})`;
        level = reachable;
      }
    }
    this.level = level;
    // the fast path: level 1 besides, for a book moving toward the boundary (held, not entered, without a fresh round)
    const fast = level === 0 && decision.level >= 1 && this.falling(now) && (fresh || this.effective >= 1);
    this.effective = fast ? 1 : level;
    if (fast) {
      why = ` (level 1 at once: the distance fell on ${this.e.fastRun} fresh forecasts in a row${decision.level > 1 ? `; level ${decision.level} not yet confirmed: ${counted}` : ""})`;
      return decision.level === 1 ? decision : { ...decision, level: 1, reason: `${decision.reason}${why}` };
    }
    return level === decision.level ? decision : { ...decision, level, reason: `${decision.reason}${why}` };
  }
}

/**
 * The level in effect for a series of forecasts' inputs under rules, an optional change gate and
 * persistence and escalation (each null or absent: not applied): how the backtests derive every variant from one run.
 */
export function levelSeries(
  inputs: readonly RuleInputs[],
  rules: Rules,
  o: {
    gate: ChangeGateSettings | null;
    persistence: Persistence | null;
    escalation?: EscalationSettings | null;
  },
  /** the reference oracle price at each forecast (needed when the escalation has `minMove`) */
  prices?: readonly number[],
): LevelDecision[] {
  const gate = o.gate ? new ChangeGate(o.gate) : undefined;
  const tracker = o.persistence ? new LevelTracker(o.persistence) : undefined;
  const escalation = o.escalation ? new Escalation(o.escalation) : undefined;
  // a forecast is fresh unless its inputs say it followed no new oracle round (RuleInputs `fresh`)
  return inputs.map((x, i) => {
    const d = levelFromInputs(gate ? gate.filter(x) : x, rules);
    const p = tracker ? tracker.update(x.t, d) : d;
    return escalation ? escalation.update(p, x.fresh ?? true, x.t, prices?.[i] ?? x.price) : p;
  });
}

/**
 * The variants every backtest reports from the same forecasts: the defaults' building blocks one at a
 * time, so each one's cost and gain is separated (docs/experiments.md, "False alarms: the change gate").
 */
export const RULE_VARIANTS: readonly {
  name: string;
  rules: Rules;
  gate: ChangeGateSettings | null;
  persistence: Persistence | null;
  escalation?: EscalationSettings | null;
}[] = [
  { name: "plain", rules: { ...DEFAULT_RULES, waveMustFeedItself: false }, gate: null, persistence: null },
  {
    name: "wait",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: null,
    persistence: MEASURED_PERSISTENCE,
  },
  { name: "feeding", rules: { ...DEFAULT_RULES, waveMustFeedItself: true }, gate: null, persistence: null },
  {
    name: "wait+feeding",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: true },
    gate: null,
    persistence: MEASURED_PERSISTENCE,
  },
  {
    name: "gate",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
  },
  {
    name: "gate+feeding",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: true },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
  },
  {
    name: "gate+step",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: { confirm: 1, window: 1, stepPerForecast: 1 },
  },
  {
    name: "escalation",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: null,
    persistence: null,
    escalation: DEFAULT_ESCALATION,
  },
  {
    name: "gate+escalation, count only",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: COUNT_ONLY_ESCALATION,
  },
  {
    name: "gate+escalation, no expiry",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: NO_EXPIRY_ESCALATION,
  },
  {
    name: "gate+escalation",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: DEFAULT_ESCALATION,
  },
  {
    name: "gate+escalation, dwell 15 min",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: DWELL_ESCALATION,
  },
  {
    name: "gate+escalation, L2 critical beyond wave",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false, level2CriticalBeyondWave: true },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: DEFAULT_ESCALATION,
  },
  {
    name: "gate+escalation, falling distance 15 min",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: TREND_ESCALATION,
  },
  {
    name: "gate lag 1 h+escalation",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: HOUR_LAG_GATE,
    persistence: null,
    escalation: DEFAULT_ESCALATION,
  },
  {
    name: "gate+escalation, rounds move 0.5%",
    rules: { ...DEFAULT_RULES, waveMustFeedItself: false },
    gate: DEFAULT_CHANGE_GATE,
    persistence: null,
    escalation: { ...DEFAULT_ESCALATION, minMove: PUSH_FEED_DEVIATION },
  },
];

/** What the breaker holds for one market, as `marketLevel` and the role's bounds report it. */
export type BreakerMarket = {
  marketId: number;
  level: number;
  riskOracleLevel: number;
  riskOracleExpiry: number;
  riskOracleLastRaise: number;
  riskOracleRenewals: number;
};

export type RoleBounds = { maxLevel: number; maxDuration: number; minDelay: number; maxRenewals: number };

export type OracleAction =
  | { kind: "raise"; marketId: number; level: number; duration: number; reference: string; renewal: boolean }
  | { kind: "wait"; marketId: number; until: number; reason: string }
  | { kind: "alert"; marketId: number; wanted: number; reason: string }
  | { kind: "none"; marketId: number; reason: string };

export type ActOptions = {
  /** seconds a raise lasts (at most the role's maxDuration) */
  raiseDuration: number;
  /** renew a live floor only when less than this many seconds of it remain */
  renewWithin: number;
};

/**
 * The service's actions for one forecast at time `now` (seconds). `fresh` is false when no oracle
 * round has arrived since the last raise: nothing is then raised or renewed (holding a market raised
 * longer needs new oracle data, not the same data read again).
 */
export function actions(
  decision: LevelDecision,
  reference: string,
  fresh: boolean,
  markets: readonly BreakerMarket[],
  bounds: RoleBounds,
  now: number,
  o: ActOptions,
): OracleAction[] {
  const out: OracleAction[] = [];
  const wanted = decision.level;
  const level = Math.min(wanted, bounds.maxLevel);
  const duration = Math.min(o.raiseDuration, bounds.maxDuration);
  for (const m of markets) {
    if (wanted > bounds.maxLevel) {
      out.push({
        kind: "alert",
        marketId: m.marketId,
        wanted,
        reason: `${decision.reason}: level ${wanted} is above what the risk oracle may set (${bounds.maxLevel}); guardian's call`,
      });
    }
    if (level === 0) {
      out.push({ kind: "none", marketId: m.marketId, reason: "level 0: any floor expires by itself" });
      continue;
    }
    if (!fresh) {
      out.push({
        kind: "none",
        marketId: m.marketId,
        reason: "no oracle round since the last raise: no renewal",
      });
      continue;
    }
    const live = now < m.riskOracleExpiry && m.riskOracleLevel > 0;
    if (live && m.riskOracleLevel >= level && m.riskOracleExpiry - now > o.renewWithin) {
      out.push({
        kind: "none",
        marketId: m.marketId,
        reason: `floor ${m.riskOracleLevel} holds until ${m.riskOracleExpiry}`,
      });
      continue;
    }
    const nextAllowed = m.riskOracleLastRaise === 0 ? 0 : m.riskOracleLastRaise + bounds.minDelay;
    if (now < nextAllowed) {
      out.push({ kind: "wait", marketId: m.marketId, until: nextAllowed, reason: "minimum delay between raises" });
      continue;
    }
    const backToBack = m.riskOracleExpiry !== 0 && now < m.riskOracleExpiry + bounds.minDelay;
    if (backToBack && m.riskOracleRenewals + 1 > bounds.maxRenewals) {
      out.push({
        kind: "alert",
        marketId: m.marketId,
        wanted: level,
        reason: `renewals exhausted (${m.riskOracleRenewals} of ${bounds.maxRenewals}): the floor will lapse; guardian's call to hold level ${level}`,
      });
      continue;
    }
    out.push({ kind: "raise", marketId: m.marketId, level, duration, reference, renewal: backToBack });
  }
  return out;
}
