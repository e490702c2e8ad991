/**
 * Runs events x parameter sets, writes the ReplayReport JSON into the output folder, prints the
 * summary table and renders the HTML report. The runs of a plan go to worker processes (worker.ts),
 * as many at a time as there are cores: each run is one in-process chain on one thread.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";

import cliProgress from "cli-progress";
import type { NetworkManager } from "hardhat/types/network";

import { runReplay } from "./engine.js";
import { workerPool } from "./pool.js";
import { comparisons, summaryTable } from "./metrics.js";
import type { PopulationSpec } from "./population.js";
import type { ResolvedParams } from "./presets.js";
import type { ReplayReport, ReplayRun } from "./result.js";
import type { EventPaths } from "./sources.js";
import type { RunJob } from "./worker.js";
import { withoutContractDecoder } from "./decoder.js";

export const REPORT_FILE = "replay-report.json";

export type Plan = {
  network: NetworkManager;
  events: EventPaths[];
  presets: ResolvedParams[];
  population?: PopulationSpec;
  outDir: string;
  /** show a progress bar (still only on a TTY and outside CI; only when the runs go one at a time) */
  progress?: boolean;
  /**
   * runs at a time, each in its own worker process (worker.ts); 1: every run in this process.
   * Default: one per core, at most one per run.
   */
  jobs?: number;
  /** where the summary and notices go (default: console.log) */
  log?: (line: string) => void;
  /**
   * the runtime's artifacts (`hre.artifacts`): given, runs in this process connect without Hardhat's
   * contract decoder (decoder.ts; the replay's entry points pass it, tests do not)
   */
  artifacts?: object;
};

/** A progress bar on stderr, off when stderr is not a terminal or under CI. */
export function progressEnabled(wanted = true): boolean {
  return wanted && process.stderr.isTTY === true && !process.env.CI;
}

/** Every run of a plan, events in order and each event's presets in order. */
export function planJobs(plan: Pick<Plan, "events" | "presets" | "population">): RunJob[] {
  return plan.events.flatMap((ev) =>
    plan.presets.map((params) => ({
      event: ev.event,
      title: ev.title,
      paths: ev.paths,
      params,
      population: plan.population,
    })),
  );
}

const label = (job: RunJob) => `${job.event} / ${job.params.name}`;
const done = (job: RunJob, run: ReplayRun) => `${label(job)}: ${run.steps.length} ticks in ${run.seconds.toFixed(1)} s`;

export async function runPlan(plan: Plan): Promise<{ report: ReplayReport; file: string }> {
  const log = plan.log ?? ((line: string) => console.log(line));
  const jobs = planJobs(plan);
  const parallel = parallelism(plan.jobs, jobs.length);
  const started = performance.now();
  const runs = await runJobs(plan, jobs, log);
  const report: ReplayReport = { generatedAt: new Date().toISOString(), runs, comparisons: comparisons(runs) };
  mkdirSync(plan.outDir, { recursive: true });
  const file = join(plan.outDir, REPORT_FILE);
  writeFileSync(file, JSON.stringify(report, null, 1) + "\n");
  log(summaryTable(report));
  const cpu = runs.reduce((a, r) => a + (r.cpuSeconds ?? 0), 0);
  log(
    `\n${runs.length} runs in ${((performance.now() - started) / 1000).toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU ` +
      `(${parallel > 1 ? `${parallel} at a time, in worker processes` : "one at a time"})`,
  );
  log(`report: ${resolve(file)}`);
  await render(report, plan.outDir, log);
  return { report, file };
}

/** Runs at a time: `wanted`, or one per core; at most one per run. */
export function parallelism(wanted: number | undefined, runs: number): number {
  return Math.max(1, Math.min(wanted ?? availableParallelism(), runs));
}

/** The runs, in worker processes when more than one go at a time; results in the jobs' order. */
export function runJobs(
  plan: Pick<Plan, "network" | "progress" | "jobs" | "artifacts">,
  jobs: RunJob[],
  log: (line: string) => void,
): Promise<ReplayRun[]> {
  const parallel = parallelism(plan.jobs, jobs.length);
  return parallel > 1 ? runInWorkers(jobs, parallel, log) : runHere(plan, jobs, log);
}

/** The runs one after the other in this process, with a progress bar when wanted. */
async function runHere(
  plan: Pick<Plan, "network" | "progress" | "artifacts">,
  jobs: RunJob[],
  log: (line: string) => void,
): Promise<ReplayRun[]> {
  if (plan.artifacts && jobs.length) await withoutContractDecoder({ artifacts: plan.artifacts, network: plan.network });
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
    for (const job of jobs) {
      let started = false;
      const { run } = await runReplay({
        network: plan.network,
        ...job,
        onTick: (n, total) => {
          if (!bar) return;
          if (!started) {
            bar.start(total, 0, { run: label(job) });
            started = true;
          }
          bar.update(n);
        },
      });
      if (bar && started) bar.stop();
      if (!bar) log(done(job, run));
      runs.push(run);
    }
  } finally {
    bar?.stop();
  }
  return runs;
}

/**
 * The runs spread over `count` worker processes (worker.ts), each taking the next run (longest
 * first) when it is free; the runs come back in the plan's order whatever the order they finish in. A run that fails
 * stops the plan: the other workers are ended and the error is thrown.
 */
async function runInWorkers(jobs: RunJob[], count: number, log: (line: string) => void): Promise<ReplayRun[]> {
  const runs = new Array<ReplayRun>(jobs.length);
  // longest first (a protected run costs about three baseline ones: breaker, tranches), so that the
  // last run to finish is a short one
  const cost = (j: RunJob) => j.paths.reduce((a, p) => a + p.points.length, 0) * (j.params.breaker ? 3 : 1);
  const order = jobs.map((_, k) => k).sort((a, b) => cost(jobs[b]) - cost(jobs[a]) || a - b);
  await workerPool(jobs, order, count, label, (id, run) => {
    runs[id] = run;
    log(done(jobs[id], run));
  });
  return runs;
}

/** Renders the HTML report (report/index.ts), loaded only now: its chart libraries are heavy. */
export async function render(report: ReplayReport, outDir: string, log: (line: string) => void): Promise<void> {
  const { renderReport } = await import("./report/index.js");
  await renderReport(report, outDir);
  log(`HTML report: ${resolve(outDir)}`);
}
