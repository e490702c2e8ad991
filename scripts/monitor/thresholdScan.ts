/**
 * The default rules' probability thresholds scaled together, on the recorded forecasts of backtest reports
 * (no replay; docs/experiments.md, "Risk monitor", "The thresholds scaled together"): for each scale k every
 * threshold of DEFAULT_RULES is multiplied by k (at most 1; rules.ts `scaledRules`), the gate and escalation stay the defaults, and
 * per replay the leads of level >= 1 and level 2, the calm share at level >= 1 and the level-2 entries in calm
 * are printed. It shows what a less (or more) sensitive monitor would give on the same forecasts: the
 * trade between calm alarms and warnings, not a setting.
 *
 *   npx tsx scripts/monitor/thresholdScan.ts <report.json>[:<event>] [...] [--scales 1,1.5,2,3,4]
 */
import { DEFAULT_ESCALATION, scaledRules } from "./rules.js";
import { recordedReplays, variantFigures } from "./variantTable.js";

function main(): void {
  const args = process.argv.slice(2);
  const s = args.indexOf("--scales");
  const scales = s >= 0 ? (args[s + 1] ?? "").split(",").map(Number) : [1, 1.5, 2, 3, 4];
  const files = args.filter((a, i) => a !== "--scales" && args[i - 1] !== "--scales");
  if (files.length === 0 || scales.some((k) => !(k > 0))) {
    throw new Error("usage: thresholdScan.ts <report.json>[:<event>] [...] [--scales 1,1.5,2,3,4]");
  }
  const min = (v: number | undefined) => (v === undefined ? "never" : (v / 60).toFixed(0));
  const pct = (v: number | undefined) => (v === undefined ? "-" : `${(v * 100).toFixed(1)}%`);
  const lines = [
    "cells: lead of level >= 1 / level 2 before the first wave (min), calm share at level >= 1, level-2 entries in calm",
    "",
    `| replay | ${scales.map((k) => `thresholds x${k}`).join(" | ")} |`,
    "|" + " --- |".repeat(scales.length + 1),
  ];
  for (const arg of files) {
    const [file, only] = arg.split(":");
    for (const { who, inputs, waveStart } of recordedReplays(file, only)) {
      const cells = scales.map((k) => {
        const f = variantFigures(inputs, waveStart, scaledRules(k), DEFAULT_ESCALATION);
        return `${min(f.lead1)} / ${min(f.lead2)}, ${pct(f.calmShare)}, ${f.calmShare === undefined ? "-" : f.calmRaises}`;
      });
      lines.push(`| ${who} | ${cells.join(" | ")} |`);
    }
  }
  console.log(lines.join("\n"));
}

if (process.argv[1]?.endsWith("thresholdScan.ts")) main();
