/**
 * Candidate rules on the recorded inputs of backtest reports (no replay; docs/experiments.md, "Risk
 * monitor", "False alarms: the alarm's duration"): per event and rule set, the leads of level >= 1 and level 2
 * before the first wave, the calm share at level >= 1 and the level-2 entries in the calm stretch (more
 * than an hour before the first wave), and the share of the last hour before the wave at level >= 1 (so a
 * rule that keeps the first lead but drops the warning before the wave shows it). Every rule set goes
 * through `levelSeries`, the code the service and the backtests run.
 *
 *   npx tsx scripts/monitor/variantTable.ts <report.json> [<report.json> ...] [--event <id>]
 *
 * Freshness is each forecast's recorded `fresh` (a report without it: a step whose reference price did not
 * change followed no new round, as calmTrace.ts reads it).
 */
import { readFileSync } from "node:fs";

import { leadOf } from "./calibration.js";
import {
  DEFAULT_CHANGE_GATE,
  DEFAULT_ESCALATION,
  DEFAULT_RULES,
  DWELL_ESCALATION,
  REACH_RULES,
  HOUR_LAG_GATE,
  TREND_ESCALATION,
  type ChangeGateSettings,
  type EscalationSettings,
  type RuleInputs,
  type Rules,
  levelSeries,
} from "./rules.js";

/**
 * The rule sets compared: today's default, the tenth round's two candidates at their chosen settings, and
 * the eleventh round's two with their sensitivity (docs/experiments.md, "False alarms: an alarm that needs a falling distance").
 */
export const CANDIDATES: readonly {
  name: string;
  rules: Rules;
  escalation: EscalationSettings;
  gate?: ChangeGateSettings;
}[] = [
  { name: "default", rules: DEFAULT_RULES, escalation: DEFAULT_ESCALATION },
  { name: "dwell 15 min, 10%", rules: DEFAULT_RULES, escalation: DWELL_ESCALATION },
  {
    name: "L2 critical beyond wave",
    rules: { ...DEFAULT_RULES, level2CriticalBeyondWave: true },
    escalation: DEFAULT_ESCALATION,
  },
  { name: "gate lag 1 h", rules: DEFAULT_RULES, escalation: DEFAULT_ESCALATION, gate: HOUR_LAG_GATE },
  {
    name: "gate lag 30 min",
    rules: DEFAULT_RULES,
    escalation: DEFAULT_ESCALATION,
    gate: { ...HOUR_LAG_GATE, lagSeconds: 1_800 },
  },
  { name: "falling distance 15 min", rules: DEFAULT_RULES, escalation: TREND_ESCALATION },
  {
    name: "falling distance 30 min",
    rules: DEFAULT_RULES,
    escalation: { ...TREND_ESCALATION, trendSeconds: 1_800 },
  },
  // the thirteenth round's, for inputs recomputed under the reach model (modelCandidate.ts): there "default"
  // is today's thresholds read as probabilities of reaching
  { name: "reach thresholds", rules: REACH_RULES, escalation: DEFAULT_ESCALATION },
  {
    name: "reach thresholds; L2 at P(1 h) 50%",
    rules: { ...REACH_RULES, level2P1h: 0.5 },
    escalation: DEFAULT_ESCALATION,
  },
];

export type VariantFigures = {
  lead1: number | undefined;
  lead2: number | undefined;
  /** calm share at level >= 1 (undefined: no calm stretch) and the calm stretch's length (s) */
  calmShare: number | undefined;
  calmSeconds: number;
  /** level-2 entries in the calm stretch */
  calmRaises: number;
  /** share of the hour before the first wave at level >= 1 */
  lastHour: number | undefined;
};

/** One rule set's figures on one replay's recorded inputs. */
export function variantFigures(
  inputs: readonly RuleInputs[],
  waveStart: number,
  rules: Rules,
  escalation: EscalationSettings,
  gate: ChangeGateSettings = DEFAULT_CHANGE_GATE,
): VariantFigures {
  const levels = levelSeries(inputs, rules, { gate, persistence: null, escalation }).map((d) => d.level);
  const calmEnd = waveStart - 3_600;
  let calm = 0;
  let alert = 0;
  let raises = 0;
  let hour = 0;
  let hourAlert = 0;
  for (let i = 0; i + 1 < inputs.length && inputs[i].t < waveStart; i++) {
    const t0 = inputs[i].t;
    const t1 = Math.min(inputs[i + 1].t, waveStart);
    if (t0 < calmEnd) {
      const dt = Math.min(t1, calmEnd) - t0;
      calm += dt;
      if (levels[i] >= 1) alert += dt;
      if (levels[i] >= 2 && (i === 0 || levels[i - 1] < 2)) raises++;
    }
    if (t1 > calmEnd) {
      const dt = t1 - Math.max(t0, calmEnd);
      hour += dt;
      if (levels[i] >= 1) hourAlert += dt;
    }
  }
  return {
    lead1: leadOf(inputs, levels, waveStart, 1),
    lead2: leadOf(inputs, levels, waveStart, 2),
    calmShare: calm > 0 ? alert / calm : undefined,
    calmSeconds: calm,
    calmRaises: raises,
    lastHour: hour > 0 ? hourAlert / hour : undefined,
  };
}

export type ReportRow = {
  event: string;
  source?: string;
  population?: { accounts: number; seed: number };
  result: { waveStart?: number; inputs?: Record<string, unknown>[]; series?: { t: number; price: number }[] };
};

/** A report row's recorded inputs (null read back as Infinity), freshness as calmTrace.ts reads it. */
export function recordedInputs(row: ReportRow): RuleInputs[] {
  const recorded = (row.result.inputs ?? []).map(
    (x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v === null ? Infinity : v])) as RuleInputs,
  );
  if (recorded.every((x) => x.fresh !== undefined)) return recorded;
  const price = new Map(row.result.series?.map((s) => [s.t, s.price]) ?? []);
  return recorded.map((x, i) => ({ ...x, fresh: !(i > 0 && price.get(x.t) === price.get(recorded[i - 1].t)) }));
}

/** A recorded replay of a report: its name for a table, its rules' inputs and its first wave. */
export type RecordedReplay = { who: string; inputs: RuleInputs[]; waveStart: number };

/** The replays of a report file (of one event when `only` is given) that recorded their inputs and found a wave. */
export function recordedReplays(file: string, only?: string): RecordedReplay[] {
  const report = JSON.parse(readFileSync(file, "utf8")) as { rows: ReportRow[] };
  const out: RecordedReplay[] = [];
  for (const row of report.rows) {
    if (only && row.event !== only) continue;
    const { waveStart } = row.result;
    if (!row.result.inputs || waveStart === undefined) continue;
    const who = `${row.event} (${row.source ?? "?"}, ${row.population?.accounts ?? "?"}/${row.population?.seed ?? "?"})`;
    out.push({ who, inputs: recordedInputs(row), waveStart });
  }
  return out;
}

function main(): void {
  const files = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--event" && all[i - 1] !== "--rules");
  const i = process.argv.indexOf("--event");
  const only = i > 0 ? process.argv[i + 1] : undefined;
  // --rules <name,name>: only these rule sets (CANDIDATES' names)
  const r = process.argv.indexOf("--rules");
  const sets = r > 0 ? process.argv[r + 1].split(",") : undefined;
  if (files.length === 0) {
    throw new Error("usage: variantTable.ts <report.json> [...] [--event <id>] [--rules <name,name>]");
  }
  const min = (v: number | undefined) => (v === undefined ? "never" : (v / 60).toFixed(0));
  const pct = (v: number | undefined) => (v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);
  const lines = [
    "| replay | rules | lead L>=1 / L2 (min) | calm at L>=1 | L2 entries in calm | last hour at L>=1 |",
    "|" + " --- |".repeat(6),
  ];
  for (const file of files) {
    for (const { who, inputs, waveStart } of recordedReplays(file, only)) {
      for (const c of CANDIDATES) {
        if (sets && !sets.includes(c.name)) continue;
        const f = variantFigures(inputs, waveStart, c.rules, c.escalation, c.gate);
        lines.push(
          `| ${who} | ${c.name} | ${min(f.lead1)} / ${min(f.lead2)} | ${pct(f.calmShare)}${f.calmSeconds ? ` (${(f.calmSeconds / 3_600).toFixed(1)} h)` : ""} | ${f.calmRaises} | ${pct(f.lastHour)} |`,
        );
      }
    }
  }
  console.log(lines.join("\n"));
}

if (process.argv[1]?.endsWith("variantTable.ts")) main();
