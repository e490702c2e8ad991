/**
 * The twelfth round's candidate on a recorded run, no replay (docs/experiments.md, "Is
 * the probability calibrated?"): a backtest report with every row's rules' inputs (and probes) recomputed
 * as if the historic part of each probability needed `--min-horizons` non-overlapping windows of its
 * horizon (reliability.ts `inputsWithMinHorizons`). The copy is read by `variantTable.ts` and
 * `reliabilityTable.ts` like any report.
 *
 *   npx tsx scripts/monitor/historicCandidate.ts <report.json> <out.json> [--min-horizons 30]
 */
import { readFileSync, writeFileSync } from "node:fs";

import { type ForecastProbe, inputsWithMinHorizons, probeWithMinHorizons } from "./reliability.js";
import { recordedInputs } from "./variantTable.js";

function main(): void {
  const args = process.argv.slice(2);
  const k = args.indexOf("--min-horizons");
  const minHorizons = k >= 0 ? Number(args[k + 1]) : 30;
  const files = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--min-horizons");
  if (files.length !== 2 || !Number.isInteger(minHorizons) || minHorizons < 0) {
    console.error("usage: historicCandidate.ts <report.json> <out.json> [--min-horizons <n >= 0>]");
    process.exit(2);
  }
  const report = JSON.parse(readFileSync(files[0], "utf8")) as {
    rows: { event: string; result: { inputs?: Record<string, unknown>[]; probes?: ForecastProbe[] } }[];
  };
  for (const row of report.rows) {
    const probes = row.result.probes;
    if (!probes || !probes.every((p) => p.shocks !== undefined && p.down.parts)) {
      throw new Error(`${files[0]}: ${row.event} has no probes with parts (re-run its backtest)`);
    }
    const inputs = recordedInputs(row as Parameters<typeof recordedInputs>[0]);
    row.result.inputs = inputsWithMinHorizons(inputs, probes, minHorizons).map((x) =>
      Object.fromEntries(Object.entries(x).map(([key, v]) => [key, v === Infinity ? null : v])),
    );
    row.result.probes = probes.map((p) => probeWithMinHorizons(p, minHorizons));
  }
  writeFileSync(files[1], JSON.stringify(report) + "\n");
  console.log(`written: ${files[1]} (historic part with at least ${minHorizons} non-overlapping windows)`);
}

main();
