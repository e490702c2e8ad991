/**
 * Runs events x parameter sets, writes the ReplayReport JSON into the output folder, prints the
 * summary table, and hands the report to the report helper's renderer when it is there.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import cliProgress from "cli-progress";
import type { NetworkManager } from "hardhat/types/network";

import { runReplay } from "./engine.js";
import type { KeeperFactory } from "./keeperAdapter.js";
import { comparisons, summaryTable } from "./metrics.js";
import type { PopulationSpec } from "./population.js";
import type { ResolvedParams } from "./presets.js";
import type { ReplayReport, ReplayRun } from "./result.js";
import type { EventPaths } from "./sources.js";

export const REPORT_FILE = "replay-report.json";

export type Plan = {
  network: NetworkManager;
  events: EventPaths[];
  presets: ResolvedParams[];
  population?: PopulationSpec;
  outDir: string;
  /** show a progress bar (still only on a TTY and outside CI) */
  progress?: boolean;
  keeper?: KeeperFactory;
  /** where the summary and notices go (default: console.log) */
  log?: (line: string) => void;
};

/** A progress bar on stderr, off when stderr is not a terminal or under CI. */
export function progressEnabled(wanted = true): boolean {
  return wanted && process.stderr.isTTY === true && !process.env.CI;
}

export async function runPlan(plan: Plan): Promise<{ report: ReplayReport; file: string }> {
  const log = plan.log ?? ((line: string) => console.log(line));
  const runs: ReplayRun[] = [];
  const bar = progressEnabled(plan.progress)
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "{run} [{bar}] {value}/{total} ticks | {duration_formatted}",
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  try {
    for (const ev of plan.events) {
      for (const params of plan.presets) {
        const label = `${ev.event} / ${params.name}`;
        let started = false;
        const { run } = await runReplay({
          network: plan.network,
          event: ev.event,
          title: ev.title,
          paths: ev.paths,
          params,
          population: plan.population,
          keeper: plan.keeper,
          onTick: (done, total) => {
            if (!bar) return;
            if (!started) {
              bar.start(total, 0, { run: label });
              started = true;
            }
            bar.update(done);
          },
        });
        if (bar && started) bar.stop();
        if (!bar) log(`${label}: ${run.steps.length} ticks in ${run.seconds.toFixed(1)} s`);
        runs.push(run);
      }
    }
  } finally {
    bar?.stop();
  }
  const report: ReplayReport = { generatedAt: new Date().toISOString(), runs, comparisons: comparisons(runs) };
  mkdirSync(plan.outDir, { recursive: true });
  const file = join(plan.outDir, REPORT_FILE);
  writeFileSync(file, JSON.stringify(report, null, 1) + "\n");
  log(summaryTable(report));
  log(`\nreport: ${resolve(file)}`);
  await render(report, plan.outDir, log);
  return { report, file };
}

/** Calls renderReport(report, outDir) from scripts/replay/report/index.ts when that module exists. */
export async function render(report: ReplayReport, outDir: string, log: (line: string) => void): Promise<boolean> {
  const index = ["index.ts", "index.js"].find((f) => existsSync(new URL(`./report/${f}`, import.meta.url)));
  if (index === undefined) {
    log(
      "HTML report not available: scripts/replay/report/index.ts is not on this branch (the JSON above is complete).",
    );
    return false;
  }
  const specifier = "./report/index.js";
  const mod = (await import(specifier)) as { renderReport?: (r: ReplayReport, dir: string) => unknown };
  if (typeof mod.renderReport !== "function") {
    log("HTML report not available: scripts/replay/report/index.ts exports no renderReport(report, outDir).");
    return false;
  }
  await mod.renderReport(report, outDir);
  log(`HTML report: ${resolve(outDir)}`);
  return true;
}
