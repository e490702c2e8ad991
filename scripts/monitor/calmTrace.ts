/**
 * Why a replay's own calm stretch alarms, per step, from a backtest report's recorded rule inputs (no
 * replay): every step more than an hour before the first wave, the level each stage of the default rules
 * gives (the plain rules, after the change gate, after escalation) with the rule that set it, the
 * distances the gate and the fast path read, and the oracle price when the report carries the series.
 * Then, per rule, the calm seconds at level >= 1 it accounts for (docs/experiments.md, "Risk monitor",
 * "False alarms: the replays' own calm").
 *
 *   npx tsx scripts/monitor/calmTrace.ts <report.json> [event] [--all] [--fresh-from-prices]
 *
 * `--all` prints every calm step; by default only the steps whose level in effect is >= 1 and the steps
 * around them. Escalation counts the forecasts the report recorded as fresh (after a new oracle round);
 * a report without that record, or `--fresh-from-prices`, takes a step whose reference price did not
 * change as one after no new round.
 */
import { readFileSync } from "node:fs";

import { leadOf } from "./calibration.js";
import {
  ChangeGate,
  DEFAULT_CHANGE_GATE,
  DEFAULT_ESCALATION,
  DEFAULT_RULES,
  Escalation,
  type RuleInputs,
  levelFromInputs,
  levelSeries,
} from "./rules.js";

type Row = {
  event: string;
  result: {
    waveStart?: number;
    inputs?: Record<string, unknown>[];
    series?: { t: number; price: number }[];
  };
};

/** The rule family behind a reason (the text before its figures). */
export function ruleOf(reason: string): string {
  if (reason.startsWith("P(liquidation wave within 15 min)")) return "wave 15 min (level 2)";
  if (reason.startsWith("P(liquidation wave within 1 h)")) return "wave 1 h (level 1)";
  if (reason.startsWith("P(15 min)")) return "critical 15 min";
  if (reason.startsWith("P(1 h)")) return "critical 1 h";
  if (reason.startsWith("P(24 h)")) return "critical 24 h";
  if (reason.startsWith("the book is past")) return "critical now";
  return "none";
}

function main(): void {
  const [file, only] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  if (!file) throw new Error("usage: calmTrace.ts <report.json> [event] [--all]");
  const all = process.argv.includes("--all");
  const report = JSON.parse(readFileSync(file, "utf8")) as { rows: Row[] };
  for (const row of report.rows) {
    if (only && row.event !== only) continue;
    const { waveStart, series } = row.result;
    if (!row.result.inputs || waveStart === undefined) continue;
    const recorded = row.result.inputs.map(
      (x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v === null ? Infinity : v])) as RuleInputs,
    );
    const price = new Map(series?.map((s) => [s.t, s.price]) ?? []);
    // freshness as recorded (RuleInputs `fresh`); a report from before it was recorded: a step whose
    // reference price did not change followed no new round of that feed (a held path price)
    const fromPrices = recorded.some((x) => x.fresh === undefined) || process.argv.includes("--fresh-from-prices");
    const inputs = recorded.map((x, i) => ({
      ...x,
      fresh: fromPrices ? !(i > 0 && price.get(x.t) === price.get(recorded[i - 1].t)) : x.fresh,
    }));
    const gate = new ChangeGate();
    const escalation = new Escalation(DEFAULT_ESCALATION);
    const calmEnd = waveStart - 3_600;
    const lines: string[] = [];
    const byRule = new Map<string, number>();
    let calm = 0;
    let alert = 0;
    let shown = -Infinity;
    const decisions = inputs.map((x) => {
      const plain = levelFromInputs(x, DEFAULT_RULES);
      const gated = levelFromInputs(gate.filter(x), DEFAULT_RULES);
      const effect = escalation.update(gated, x.fresh ?? true, x.t);
      return { x, plain, gated, effect };
    });
    for (let i = 0; i + 1 < decisions.length; i++) {
      const { x, plain, gated, effect } = decisions[i];
      if (x.t >= calmEnd) break;
      const dt = Math.min(decisions[i + 1].x.t, calmEnd) - x.t;
      calm += dt;
      if (effect.level >= 1) {
        alert += dt;
        const rule = ruleOf(gated.reason);
        byRule.set(rule, (byRule.get(rule) ?? 0) + dt);
      }
      const near = decisions.slice(Math.max(0, i - 3), i + 4).some((d) => d.effect.level >= 1);
      if (!all && !near) continue;
      if (!all && i > shown + 1) lines.push("  ...");
      shown = i;
      const p = price.get(x.t);
      const same = i > 0 && p !== undefined && p === price.get(decisions[i - 1].x.t);
      const d = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "inf");
      lines.push(
        `  ${new Date(x.t * 1000).toISOString().slice(5, 16)}${p === undefined ? "" : ` ${p.toFixed(4)}${same ? "=" : " "}`} plain ${plain.level} gated ${gated.level} effect ${effect.level}` +
          ` crit ${d(x.distance1h)} wave ${d(x.waveDistance1h)} P1h ${(x.p1h * 100).toFixed(2)}% W1h ${(x.wave1h * 100).toFixed(1)}% W15 ${(x.wave15m * 100).toFixed(1)}%` +
          ` | ${effect.reason}`,
      );
    }
    console.log(
      `${row.event}: calm ${(calm / 3_600).toFixed(1)} h, at level >= 1 ${calm ? ((100 * alert) / calm).toFixed(1) : "-"}% (${(alert / 60).toFixed(0)} min)`,
    );
    for (const [rule, s] of byRule) console.log(`  ${rule}: ${(s / 60).toFixed(0)} min`);
    console.log(lines.join("\n"));
    if (!series) continue;
    const prices = inputs.map((x) => price.get(x.t)!);
    const stale = inputs.filter((x) => !x.fresh).length;
    console.log(
      `  forecasts after no new oracle round: ${stale} of ${inputs.length} (${fromPrices ? "from the prices" : "as recorded"})`,
    );
    const min = (v: number | undefined) => (v === undefined ? "never" : (v / 60).toFixed(0));
    const show = (name: string, f: ReturnType<typeof moveFigures>) =>
      console.log(
        `    ${name}: ${min(f.lead1)} / ${min(f.lead2)}; ${f.calmShare === undefined ? "-" : (f.calmShare * 100).toFixed(1) + "%"}; ${f.calmRaises}`,
      );
    console.log(`  lead L>=1 / L2 min; calm at L>=1; L2 entries in calm:`);
    show(
      "every step fresh",
      moveFigures(
        inputs.map((x) => ({ ...x, fresh: true })),
        prices,
        waveStart,
        0,
      ),
    );
    show("fresh only after a new round", moveFigures(inputs, prices, waveStart, 0));
    // the default escalation with rounds counted only when they move the price (rules.ts `minMove`)
    for (const minMove of MIN_MOVES.filter((m) => m > 0)) {
      show(`minMove ${(minMove * 100).toFixed(2)}%`, moveFigures(inputs, prices, waveStart, minMove));
    }
  }
}

/** The moves shown: none (today's default), the push feed's 0.5% and neighbours for the sensitivity. */
export const MIN_MOVES = [0, 0.001, 0.0025, 0.005, 0.01] as const;

/** Leads and calm figures of the default rules with `minMove` on one replay's recorded inputs and prices. */
export function moveFigures(
  inputs: readonly RuleInputs[],
  prices: readonly number[],
  waveStart: number,
  minMove: number,
): { lead1: number | undefined; lead2: number | undefined; calmShare: number | undefined; calmRaises: number } {
  const levels = levelSeries(
    inputs,
    DEFAULT_RULES,
    { gate: DEFAULT_CHANGE_GATE, persistence: null, escalation: { ...DEFAULT_ESCALATION, minMove } },
    prices,
  ).map((d) => d.level);
  const calmEnd = waveStart - 3_600;
  let calm = 0;
  let alert = 0;
  let raises = 0;
  for (let i = 0; i + 1 < inputs.length && inputs[i].t < calmEnd; i++) {
    const dt = Math.min(inputs[i + 1].t, calmEnd) - inputs[i].t;
    calm += dt;
    if (levels[i] >= 1) alert += dt;
    if (levels[i] >= 2 && (i === 0 || levels[i - 1] < 2)) raises++;
  }
  return {
    lead1: leadOf(inputs, levels, waveStart, 1),
    lead2: leadOf(inputs, levels, waveStart, 2),
    calmShare: calm > 0 ? alert / calm : undefined,
    calmRaises: raises,
  };
}

if (process.argv[1]?.endsWith("calmTrace.ts")) main();
