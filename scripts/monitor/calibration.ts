/**
 * Calibration of the monitor's fitted choices, escalation (rules.ts `Escalation`: how many of the last
 * fresh forecasts must want a level before it takes effect, and then the run of falling distances after
 * which level 1 is confirmed at once, the fast path), and their out-of-sample check.
 *
 * As a VaR limit is calibrated: the targets are false-alarm rates on calm time (level >= 1 at most 5%
 * of it, at most one level-2 raise per 30 days), and the choice is the least strict setting of a fixed
 * grid that meets them on calm data. Leave-one-event-out: for each catalogued event the setting is
 * chosen on the calm bootstrap of the other five alone, and then measured on the sixth: its own calm
 * history, its own bootstrapped calm paths, and its crash replay's lead times. Nothing of the held-out
 * event, and no lead time of any event, takes part in its choice.
 */
import {
  type ChangeGateSettings,
  type EscalationSettings,
  type RuleInputs,
  type Rules,
  DEFAULT_CHANGE_GATE,
  DEFAULT_ESCALATION,
  DEFAULT_RULES,
  levelSeries,
  rulesSchema,
} from "./rules.js";

/** The false-alarm targets of issue 13: calm time at level >= 1, level-2 raises per 30 calm days. */
export const FALSE_ALARM_TARGETS = { shareAtLevel1: 0.05, level2RaisesPer30Days: 1 } as const;

/**
 * The settings tried, least strict first: more confirmations needed is stricter, and for as many
 * confirmations a longer window (which forgives a missed round) is less strict. One step per fresh
 * forecast throughout. Fixed before any calibration; the first that meets the targets is chosen.
 */
export const ESCALATION_GRID: readonly EscalationSettings[] = [
  [1, 1],
  [2, 4],
  [2, 3],
  [2, 2],
  [3, 6],
  [3, 5],
  [3, 4],
  [3, 3],
  [4, 6],
  [4, 5],
  [4, 4],
  [5, 6],
  [5, 5],
  [6, 6],
].map(([confirm, window]) => ({ confirm, window, stepPerForecast: 1 }));

/**
 * The fast path's run lengths tried (rules.ts Escalation `fastRun`), least strict first: level 1 at once
 * after the distance to trouble fell on 1, 2, ... 6 fresh forecasts in a row. Fixed before any
 * calibration; chosen after the count (`ESCALATION_GRID`), on the same calm data, by the same targets.
 */
export const FAST_RUN_GRID: readonly number[] = [1, 2, 3, 4, 5, 6];

/** Calm figures pooled over several series (each a run of consecutive forecasts, calm throughout). */
export type PooledCalm = {
  hours: number;
  /** share of the time at level >= 1 */
  shareAtLevel1: number;
  /** entries into level >= 2, and per 30 days of the pooled time */
  level2Raises: number;
  level2RaisesPer30Days: number;
  /** per series: level-2 entries scaled to 30 days (for an interval over bootstrapped paths) */
  perSeriesPer30Days: number[];
};

export type Variant = {
  rules: Rules;
  gate: ChangeGateSettings | null;
  escalation: EscalationSettings | null;
};

/** Level in effect at every forecast of one series under a variant (no persistence: escalation replaces it). */
export function variantLevels(inputs: readonly RuleInputs[], v: Variant): number[] {
  return levelSeries(inputs, v.rules, { gate: v.gate, persistence: null, escalation: v.escalation }).map(
    (d) => d.level,
  );
}

/**
 * Calm time at level >= 1 and level-2 entries over series of calm forecasts: each forecast's level holds
 * until the next forecast of its series; an entry is a forecast at level >= 2 after one below it (or
 * the series' first).
 */
export function pooledCalm(series: readonly (readonly RuleInputs[])[], v: Variant): PooledCalm {
  let seconds = 0;
  let alert = 0;
  let raises = 0;
  const perSeries: number[] = [];
  for (const inputs of series) {
    const levels = variantLevels(inputs, v);
    let s = 0;
    let r = 0;
    for (let i = 0; i + 1 < inputs.length; i++) {
      const dt = inputs[i + 1].t - inputs[i].t;
      s += dt;
      if (levels[i] >= 1) alert += dt;
      if (levels[i] >= 2 && (i === 0 || levels[i - 1] < 2)) r++;
    }
    seconds += s;
    raises += r;
    perSeries.push(s > 0 ? (r * 30 * 86_400) / s : 0);
  }
  return {
    hours: seconds / 3_600,
    shareAtLevel1: seconds > 0 ? alert / seconds : 0,
    level2Raises: raises,
    level2RaisesPer30Days: seconds > 0 ? (raises * 30 * 86_400) / seconds : 0,
    perSeriesPer30Days: perSeries,
  };
}

export const meetsTargets = (c: PooledCalm) =>
  c.shareAtLevel1 <= FALSE_ALARM_TARGETS.shareAtLevel1 &&
  c.level2RaisesPer30Days <= FALSE_ALARM_TARGETS.level2RaisesPer30Days;

/**
 * The least strict escalation of the grid whose pooled calm figures over `calm` meet the targets, under
 * `rules` and `gate`; `met` false (and the strictest setting) when none does.
 */
export function calibrateEscalation(
  calm: readonly (readonly RuleInputs[])[],
  o: { rules?: Rules; gate?: ChangeGateSettings | null; grid?: readonly EscalationSettings[] } = {},
): { escalation: EscalationSettings; met: boolean; calm: PooledCalm } {
  const grid = o.grid ?? ESCALATION_GRID;
  if (grid.length === 0) throw new Error("calibrateEscalation: an empty grid");
  const base = { rules: o.rules ?? DEFAULT_RULES, gate: o.gate === undefined ? DEFAULT_CHANGE_GATE : o.gate };
  let last: { escalation: EscalationSettings; met: boolean; calm: PooledCalm } | undefined;
  for (const escalation of grid) {
    const calmFig = pooledCalm(calm, { ...base, escalation });
    last = { escalation, met: meetsTargets(calmFig), calm: calmFig };
    if (last.met) return last;
  }
  return last!;
}

/**
 * The fast path for an escalation already chosen (`calibrateEscalation`): the least strict run length of
 * `grid` whose pooled calm figures over `calm` still meet the targets; `fastRun` 0 (no fast path) when
 * none does.
 */
export function calibrateFastPath(
  calm: readonly (readonly RuleInputs[])[],
  escalation: EscalationSettings,
  o: { rules?: Rules; gate?: ChangeGateSettings | null; grid?: readonly number[] } = {},
): { fastRun: number; met: boolean; calm: PooledCalm } {
  const base = { rules: o.rules ?? DEFAULT_RULES, gate: o.gate === undefined ? DEFAULT_CHANGE_GATE : o.gate };
  for (const fastRun of o.grid ?? FAST_RUN_GRID) {
    const c = pooledCalm(calm, { ...base, escalation: { ...escalation, fastRun } });
    if (meetsTargets(c)) return { fastRun, met: true, calm: c };
  }
  const c = pooledCalm(calm, { ...base, escalation: { ...escalation, fastRun: 0 } });
  return { fastRun: 0, met: false, calm: c };
}

/** Seconds before the wave the level first reached `level` (negative: after it); undefined: never. */
export function leadOf(
  inputs: readonly RuleInputs[],
  levels: readonly number[],
  waveStart: number,
  level: number,
): number | undefined {
  const i = levels.findIndex((l) => l >= level);
  return i < 0 ? undefined : waveStart - inputs[i].t;
}

/** One event's data for the leave-one-event-out check. */
export type EventData = {
  event: string;
  /** the event's longer calm history (calmHistory.ts `calmInputs`) */
  calm: RuleInputs[];
  /** 30-day paths bootstrapped from that history alone */
  bootstrap: RuleInputs[][];
  /** the crash replay's forecasts and its first wave (a backtest report), when at hand */
  replay?: { inputs: RuleInputs[]; waveStart: number };
};

export type HeldOutRow = {
  event: string;
  /** chosen on the other events' bootstrap: the count (ESCALATION_GRID), then the fast path's run on it */
  escalation: EscalationSettings;
  /** the fast path's run chosen on the same data (FAST_RUN_GRID; 0: none met the targets, or no fast grid) */
  fastRun: number;
  trainingMet: boolean;
  training: PooledCalm;
  /** the held-out event, under the chosen setting */
  calm: PooledCalm;
  bootstrap: PooledCalm;
  lead?: { level1: number | undefined; level2: number | undefined };
};

/** Leave-one-event-out: each event's figures under the setting calibrated without it. */
export function leaveOneEventOut(
  events: readonly EventData[],
  o: {
    rules?: Rules;
    gate?: ChangeGateSettings | null;
    grid?: readonly EscalationSettings[];
    /** the fast path's grid (default FAST_RUN_GRID; empty: no fast path, the count alone) */
    fastGrid?: readonly number[];
  } = {},
): HeldOutRow[] {
  const rules = o.rules ?? DEFAULT_RULES;
  const gate = o.gate === undefined ? DEFAULT_CHANGE_GATE : o.gate;
  return events.map((held) => {
    const training = events.filter((e) => e !== held).flatMap((e) => e.bootstrap);
    let c = calibrateEscalation(training, { rules, gate, grid: o.grid });
    let fastRun = 0;
    if (c.met && (o.fastGrid ?? FAST_RUN_GRID).length > 0) {
      const f = calibrateFastPath(training, c.escalation, { rules, gate, grid: o.fastGrid });
      if (f.met) {
        fastRun = f.fastRun;
        c = { ...c, calm: f.calm };
      }
    }
    const v: Variant = { rules, gate, escalation: { ...c.escalation, fastRun } };
    let lead: HeldOutRow["lead"];
    if (held.replay) {
      const levels = variantLevels(held.replay.inputs, v);
      lead = {
        level1: leadOf(held.replay.inputs, levels, held.replay.waveStart, 1),
        level2: leadOf(held.replay.inputs, levels, held.replay.waveStart, 2),
      };
    }
    return {
      event: held.event,
      escalation: c.escalation,
      fastRun,
      trainingMet: c.met,
      training: c.calm,
      calm: pooledCalm([held.calm], v),
      bootstrap: pooledCalm(held.bootstrap, v),
      lead,
    };
  });
}

/** A candidate rule set: the default rules with some thresholds changed (rules.ts `rulesSchema`). */
export type RuleCandidate = { name: string; rules: Rules };

/**
 * Candidate rule sets for `backtest:monitor -- --loeo --candidates <file>`: a non-empty array of
 * `{ "name": ..., "rules": { <threshold>: <value>, ... } }`, each validated by the rules' schema over the
 * defaults (no `rules`: the defaults themselves). Throws, naming the entry, on anything else.
 */
export function parseCandidates(raw: unknown, source = "candidates"): RuleCandidate[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new Error(`${source}: a non-empty JSON array`);
  return raw.map((c: unknown, i) => {
    const entry = (c ?? {}) as { name?: unknown; rules?: unknown };
    if (typeof entry.name !== "string" || entry.name === "") throw new Error(`${source}: entry ${i} has no name`);
    const parsed = rulesSchema.safeParse(entry.rules ?? {});
    if (!parsed.success) {
      const why = parsed.error.issues.map((x) => `${x.path.join(".") || "rules"}: ${x.message}`).join("; ");
      throw new Error(`${source}: ${entry.name}: ${why}`);
    }
    return { name: entry.name, rules: parsed.data };
  });
}

/**
 * Each candidate's leads on recorded replays (a backtest report's `RuleInputs` and first wave), under
 * the given gate and escalation (the defaults' by default): seconds before the wave that level >= 1 and
 * level 2 first took effect (negative: after it; undefined: never). No calm data: the leads only, to see
 * which candidates could move a warning before the cost of each is measured (`leaveOneEventOut`).
 */
export function candidateLeads(
  replays: ReadonlyMap<string, { inputs: RuleInputs[]; waveStart: number }>,
  candidates: readonly RuleCandidate[],
  o: { gate?: ChangeGateSettings | null; escalation?: EscalationSettings | null } = {},
): { name: string; leads: { event: string; level1: number | undefined; level2: number | undefined }[] }[] {
  const gate = o.gate === undefined ? DEFAULT_CHANGE_GATE : o.gate;
  const escalation = o.escalation === undefined ? DEFAULT_ESCALATION : o.escalation;
  return candidates.map((c) => ({
    name: c.name,
    leads: [...replays].map(([event, r]) => {
      const levels = variantLevels(r.inputs, { rules: c.rules, gate, escalation });
      return {
        event,
        level1: leadOf(r.inputs, levels, r.waveStart, 1),
        level2: leadOf(r.inputs, levels, r.waveStart, 2),
      };
    }),
  }));
}
