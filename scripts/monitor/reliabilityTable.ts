/**
 * The reliability tables of backtest reports (reliability.ts; docs/experiments.md, "Is
 * the probability calibrated?"): per target (the critical shock, the first wave's) and horizon (15 min,
 * 1 h), the forecasts in bins of predicted probability, their mean prediction and the share the path bore
 * out, counted per forecast and per distinct window. Pooled over every report's events, both directions;
 * then the calm stretch alone (more than an hour before the first wave) and the worst direction alone.
 *
 *   npx tsx scripts/monitor/reliabilityTable.ts <report.json> [<report.json> ...] [--calm] [--worst] [--hours]
 *
 * --hours: per run, the calm stretch's non-overlapping hours that start at a critical P(1 h) of 5% or more,
 * their predictions, how many came true and the chance a calibrated forecast shows none (`distinctWindows`).
 *
 * A report written before the probes were recorded (no `probes`) is refused: re-run its backtest.
 */
import { readFileSync } from "node:fs";

import {
  type ForecastProbe,
  type Outcome,
  type Target,
  HORIZONS,
  outcomes,
  reliability,
  distinctWindows,
  summary,
} from "./reliability.js";

type Report = { rows: { event: string; source: string; result: { waveStart?: number; probes?: ForecastProbe[] } }[] };

function main() {
  const args = process.argv.slice(2);
  const files = args.filter((a) => !a.startsWith("--"));
  if (files.length === 0) {
    console.error("usage: reliabilityTable.ts <report.json> [...] [--calm] [--worst] [--hours]");
    process.exit(2);
  }
  const calmOnly = args.includes("--calm");
  const hours = args.includes("--hours");
  const worstOnly = args.includes("--worst");
  const runs: { name: string; probes: ForecastProbe[]; waveStart?: number }[] = [];
  for (const f of files) {
    const r = JSON.parse(readFileSync(f, "utf8")) as Report;
    for (const row of r.rows) {
      if (!row.result.probes) throw new Error(`${f}: ${row.event} has no probes (re-run its backtest)`);
      runs.push({ name: `${row.event} (${row.source})`, probes: row.result.probes, waveStart: row.result.waveStart });
    }
  }
  if (hours) {
    // per run: the calm's non-overlapping hours that start at a critical P(1 h) of 5% or more
    for (const r of runs) {
      const to = r.waveStart === undefined ? undefined : r.waveStart - 3_600;
      const d = distinctWindows(outcomes(r.probes, "critical", 3_600, { worstOnly, to }), 3_600, 0.05);
      console.log(
        `${r.name}: ${d.windows.length} calm hours at P(1 h) >= 5% (${d.windows.map((w) => pct(w.predicted)).join(", ")}), ${d.hits} came true; none if calibrated: ${pct(d.noHitIfCalibrated)}`,
      );
    }
    return;
  }
  console.log(
    `${runs.length} runs: ${runs.map((r) => r.name).join(", ")}; ${calmOnly ? "calm stretch only" : "whole runs"}, ${worstOnly ? "worst direction" : "both directions"}\n`,
  );
  for (const target of ["critical", "wave"] as Target[]) {
    for (const h of HORIZONS) {
      const xs: Outcome[] = [];
      for (const r of runs) {
        const to = calmOnly ? (r.waveStart === undefined ? undefined : r.waveStart - 3_600) : undefined;
        xs.push(...outcomes(r.probes, target, h, { worstOnly, to }));
      }
      const s = summary(xs);
      console.log(
        `### ${target} shock within ${h / 60} min: ${s.n} forecasts, mean predicted ${pct(s.meanPredicted)}, observed ${pct(s.observed)}, Brier ${s.brier.toFixed(4)}\n`,
      );
      console.log("| predicted | forecasts | mean predicted | observed | windows | windows hit |");
      console.log("| --- | --- | --- | --- | --- | --- |");
      for (const b of reliability(xs, h)) {
        if (b.forecasts === 0) continue;
        console.log(
          `| ${pct(b.lo)}-${pct(b.hi)} | ${b.forecasts} | ${pct(b.meanPredicted)} | ${pct(b.observed)} | ${b.episodes} | ${b.episodeHits} |`,
        );
      }
      console.log("");
    }
  }
}

const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 && x > 0 ? 2 : 1)}%`;

main();
