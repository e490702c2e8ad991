/**
 * A recorded run under another probability model, no replay (docs/experiments.md, "Risk monitor", "The
 * probability of reaching"): every row's rules' inputs and probes recomputed from its probes (reliability.ts
 * `inputsUnderModel`) as if the forecast had computed the probability of reaching each shock within the
 * horizon (`reach`) or of being past it at the horizon's end (`end`). It first recomputes the row under the
 * model the run recorded (`--recorded`, `end` by default) and refuses the row when that does not give the
 * recorded inputs back (the largest difference is printed). The copy is read by `variantTable.ts` and
 * `reliabilityTable.ts` like any report.
 *
 *   npx tsx scripts/monitor/modelCandidate.ts <report.json> <out.json> [--model reach|end] [--recorded end|reach] [--demean] [--per-step-history]
 *
 * `--demean`: the historic part on the history's shocks with their mean removed (forecast.ts `historicDemean`;
 * docs/experiments.md, "Why the USDC depeg's calm alarms"), under `--model` (give `--model end` for it alone).
 * `--per-step-history`: the history as the backtest built it before it followed the reference feed's rounds (one
 * point per forecast): the before column of that fix, on the same replays.
 */
import { readFileSync, writeFileSync } from "node:fs";

import { type ForecastProbe, inputsUnderModel } from "./reliability.js";
import { PROBABILITY_MODELS, type ProbabilityModel } from "./stats.js";
import { recordedInputs } from "./variantTable.js";

/** recomputing the recorded model must give the recorded figures back to float rounding */
const TOLERANCE = 1e-12;

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string, fallback: string) => {
    const k = args.indexOf(`--${name}`);
    return k >= 0 ? args[k + 1] : fallback;
  };
  const model = opt("model", "reach") as ProbabilityModel;
  const recorded = opt("recorded", "end") as ProbabilityModel;
  const demean = args.includes("--demean");
  const perStep = args.includes("--per-step-history");
  const files = args.filter((a, i) => !a.startsWith("--") && !["--model", "--recorded"].includes(args[i - 1]));
  if (files.length !== 2 || !PROBABILITY_MODELS.includes(model) || !PROBABILITY_MODELS.includes(recorded)) {
    console.error(
      "usage: modelCandidate.ts <report.json> <out.json> [--model reach|end] [--recorded end|reach] [--demean] [--per-step-history]",
    );
    process.exit(2);
  }
  const report = JSON.parse(readFileSync(files[0], "utf8")) as {
    rows: { event: string; result: { inputs?: Record<string, unknown>[]; probes?: ForecastProbe[] } }[];
  };
  for (const row of report.rows) {
    const probes = row.result.probes;
    if (!probes) throw new Error(`${files[0]}: ${row.event} has no probes (re-run its backtest)`);
    const inputs = recordedInputs(row as Parameters<typeof recordedInputs>[0]);
    const same = inputsUnderModel(inputs, probes, recorded);
    if (!(same.check <= TOLERANCE)) {
      throw new Error(
        `${files[0]}: ${row.event}: the ${recorded} model does not give the recorded inputs back (${same.check})`,
      );
    }
    const out = inputsUnderModel(inputs, probes, model, demean, perStep);
    row.result.inputs = out.inputs.map((x) =>
      Object.fromEntries(Object.entries(x).map(([key, v]) => [key, v === Infinity ? null : v])),
    );
    row.result.probes = out.probes;
    console.log(`${row.event}: ${probes.length} forecasts, ${recorded} recomputed to ${same.check.toExponential(1)}`);
  }
  writeFileSync(files[1], JSON.stringify(report) + "\n");
  console.log(
    `written: ${files[1]} (probabilities under the ${model} model${demean ? ", historic part demeaned" : ""}${perStep ? ", one history point per forecast" : ""})`,
  );
}

main();
