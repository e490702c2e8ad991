/**
 * Crash-replay benchmark: a ~960-step one-minute path with 1,000 traders, baseline then protected.
 * The two runs go as the replay CLI runs them, one worker process per core (`--jobs 1`: one after the
 * other). Prints wall and CPU time per preset, steps (ticks) per second, transactions, calls and gas,
 * and the outcome metrics. Reports, does not assert (target: both presets under 60 s on 2 cores).
 *
 *   npm run bench:replay [-- --accounts 1000 --steps 960 --out runs.json]
 *
 * The path: Black Thursday's BTCUSDT perpetual 1m series through sources.ts when the crash-data loaders
 * and CRASH_DATA_DIR are there (its two legs are ~960 one-minute bars), otherwise a SYNTHETIC crash of
 * the same length (scripts/replay/synthetic.ts, not historic data).
 */
import { writeFileSync } from "node:fs";

import { Command } from "commander";

import { formatPct, formatUsd } from "../replay/decimal.js";
import { compare } from "../replay/metrics.js";
import { loadPreset, withOverrides } from "../replay/presets.js";
import type { ReplayRun } from "../replay/result.js";
import { pathsFor } from "../replay/sources.js";
import { syntheticCrash } from "../replay/synthetic.js";
import type { PricePath } from "../replay/types.js";

const o = new Command()
  .option("--accounts <n>", "traders", (v) => Number(v), 1000)
  .option("--steps <n>", "steps of the synthetic path (when the real one is not reachable)", (v) => Number(v), 960)
  .option("--synthetic", "use the synthetic path even when the real one is reachable")
  .option("--jobs <n>", "runs at a time, each in its own process (default: one per core)", (v) => Number(v))
  .option(
    "--presets <names>",
    "comma-separated presets to run (a profile of one run: --presets protected --jobs 1)",
    "baseline,protected",
  )
  .option("--out <file>", "also write the runs as a replay report (compare two with scripts/replay/compareReports.ts)")
  .parse()
  .opts<{ accounts: number; steps: number; synthetic?: boolean; jobs?: number; presets: string; out?: string }>();

async function benchPath(): Promise<{ path: PricePath; why: string }> {
  if (!o.synthetic) {
    try {
      const ev = pathsFor("black-thursday-2020", { dataDir: process.env.CRASH_DATA_DIR });
      const path = ev.paths[0];
      return { path, why: `real series: ${path.source} (${path.points.length} points)` };
    } catch (e) {
      return {
        path: syntheticCrash({ steps: o.steps, stepSeconds: 60 }),
        why: `SYNTHETIC path (not historic data), ${o.steps} x 1 min: the real one is not reachable (${(e as Error).message.split(". ")[0]})`,
      };
    }
  }
  return { path: syntheticCrash({ steps: o.steps, stepSeconds: 60 }), why: `SYNTHETIC path, ${o.steps} x 1 min` };
}

const { default: hre } = await import("hardhat");
await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
// the engine imports the contracts' TypeChain types, which the build writes
const { runJobs } = await import("../replay/runner.js");
const { path, why } = await benchPath();
console.log(`replay bench: ${o.accounts} accounts; ${why}`);

const started = Date.now();
const names = o.presets.split(",");
const jobs = names.map((name) => ({
  event: "bench",
  title: "bench",
  paths: [path],
  params: withOverrides(loadPreset(name), { population: { accounts: o.accounts } }),
}));
// as the replay CLI runs them: one worker process per core (--jobs 1: one after the other, here)
const runs: ReplayRun[] = await runJobs(
  { network: hre.network, artifacts: hre.artifacts, jobs: o.jobs },
  jobs,
  () => undefined,
);
for (const [k, name] of names.entries()) {
  const run = runs[k];
  const s = run.stats ?? {};
  const m = run.metrics;
  console.log(
    `\n${name}: ${run.seconds.toFixed(1)} s wall, ${(run.cpuSeconds ?? 0).toFixed(1)} s CPU, ${run.steps.length} steps (${s.feedbackTicks} feedback), ` +
      `${(run.steps.length / run.seconds).toFixed(1)} steps/s`,
  );
  console.log(
    `  chain: ${s.txs} txs (${s.failedTxs} reverted), ${s.calls} calls, ${s.cachedReads ?? 0} reads answered from the cache, ${(Number(s.gasUsed) / 1e6).toFixed(0)} Mgas; ` +
      `time in txs ${((s.sendMs as number) / 1000).toFixed(1)} s, in calls ${((s.callMs as number) / 1000).toFixed(1)} s, ` +
      `rest (setup, mirror, JS) ${(run.seconds - ((s.sendMs as number) + (s.callMs as number)) / 1000).toFixed(1)} s`,
  );
  // the keeper's own counters follow its name in the stats
  const keys = Object.keys(s);
  const own = keys.slice(keys.indexOf("keeper") + 1).map((k) => `${k} ${s[k]}`);
  console.log(`  keeper: ${s.keeper}\n    ${own.join(", ")}`);
  console.log(
    `  outcome: bad debt $${formatUsd(BigInt(m.badDebtIncurred))} (insurance $${formatUsd(BigInt(m.badDebtCoveredByInsurance))}, ` +
      `ADL $${formatUsd(BigInt(m.badDebtSocialised))}, uncovered $${formatUsd(BigInt(m.badDebtUncovered))}); ` +
      `extra drop ${formatPct(BigInt(m.maxExtraDrop))}; liquidated ${m.accountsLiquidated}, wiped out ${m.accountsWipedOut}; ` +
      `${m.tranches} tranches, $${formatUsd(BigInt(m.liquidatedNotional ?? 0))}; insurance drawdown $${formatUsd(BigInt(m.insuranceDrawdown))}; ` +
      `max level ${m.maxLevel}`,
  );
  for (const note of run.notes ?? []) console.log(`  note: ${note}`);
}
if (o.out) writeFileSync(o.out, JSON.stringify({ runs }, null, 1));
console.log(
  `\ntotal ${((Date.now() - started) / 1000).toFixed(1)} s wall, ${runs.reduce((a, r) => a + (r.cpuSeconds ?? 0), 0).toFixed(1)} s CPU ` +
    `(target < 60 s wall on 2 cores, reported, not asserted)`,
);
if (runs.length === 2) {
  const c = compare(runs[0], runs[1]);
  console.log(
    `targets (protected vs baseline): no uncovered bad debt ${c.noUncoveredBadDebt}, ` +
      `extra drop <= half ${c.extraDropAtMostHalf}, fewer wipe-outs ${c.fewerWipeouts}`,
  );
}
process.exit(0);
