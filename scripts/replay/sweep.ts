/**
 * The outcome targets off the default setting (issue 12): every event of the real series and of the
 * stylised scenarios, protected against baseline on the same path and population, for three
 * population seeds and the impact model's variants (default, depth halved and doubled, half-life
 * 300 s and 1,200 s). Too long for CI; run it by hand (README, "Crash replays"):
 *
 *   CRASH_DATA_DIR=... nice -n 10 npm run sweep -- [--workers 2] [--out reports/sweep]
 *       [--seeds 20200312,1,2] [--variants default,depth0.5,depth2,hl300,hl1200]
 *       [--data real,stylised] [--events all] [--accounts 60] [--fresh] [--code]
 *       [--report [--fingerprint <code>]]
 *   nice -n 10 npm run sweep -- --paths docs/paths/oos/*.csv [--symbol BTC] [--seeds ...] [--variants ...]
 *
 * With `--paths` the grid is your own price paths instead of the crash catalogue: each file is an event of its
 * own (data set "path"), graded on the same targets (scripts/replay/sweepGrid.ts builds the grid); the files'
 * contents are part of the fingerprint, so a file edited since is run again.
 *
 * Each run (seed x variant x data set x event x preset) goes to a replay worker process
 * (scripts/replay/worker.ts, the one the replay CLI forks), `--workers` at a time, in the grid's
 * order (seed, variant, data set, event; baseline then protected), so that whatever has finished
 * is whole cells. Every finished run is appended to `<out>/sweep-runs.jsonl` at once (its metrics,
 * the vault's worst loss and its budget, its time; not its steps), and a run already there is not
 * run again: a sweep stopped halfway resumes where it stopped (`--fresh` starts over), provided the
 * code the runs depend on is the same (`fingerprint`: a run recorded under other contracts or another
 * replay engine is run again). The workers read the compiled contracts at every run: compiling in the
 * same checkout during a sweep changes the contracts under it. At the end,
 * and after every finished cell, `<out>/sweep-results.json` (every run and every cell graded) and
 * `<out>/sweep-table.md` (the table) are rewritten.
 *
 * Exit status: 0 when the whole grid ran and every target holds in every cell; 2 when a target
 * misses in some cell (or, with a partial grid, nothing missed but cells are missing: 3); 1 on an
 * error.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { Command, InvalidArgumentError } from "commander";

import { workerPool } from "./pool.js";
import { type Job, gridFingerprint, gridJobs } from "./sweepGrid.js";
import { type RunSummary, VARIANTS, cellsOf, keyOf, markdownTable, summarise, tally } from "./sweepTable.js";

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

const program = new Command()
  .name("sweep")
  .description("Issue 12's outcome targets over population seeds and impact-model variants (long; outside CI).")
  .option("--seeds <list>", "population seeds", "20200312,1,2")
  .option("--variants <list>", `impact variants (${Object.keys(VARIANTS).join(", ")})`, Object.keys(VARIANTS).join(","))
  .option("--data <list>", "data sets: real (CRASH_DATA_DIR), stylised", "real,stylised")
  .option("--events <list>", 'event ids, or "all"', "all")
  .option(
    "--paths <files...>",
    'your own price paths (timestamp,price CSV), each file an event of its own (data set "path"; --data and --events are then unused)',
  )
  .option("--symbol <name>", "with --paths: the market symbol of every file (its market settings apply)", "BTC")
  .option("--accounts <n>", "traders per run (the outcome test's setting)", positive("--accounts"), 60)
  .option("--workers <n>", "runs at a time, each in its own worker process", positive("--workers"), 2)
  .option("--data-dir <dir>", "crash data directory (default: CRASH_DATA_DIR)")
  .option("-o, --out <dir>", "output folder", "reports/sweep")
  .option("--fresh", "forget the runs already in the output folder and start over")
  .option("--no-compile", "do not compile the contracts first")
  .option("--code", "print the fingerprint of the code the runs depend on, and exit")
  .option("--report", "write the results and the table from the runs already recorded, and run nothing")
  .option("--fingerprint <code>", "with --report: the runs recorded under this code (default: the code now)");

type Options = {
  seeds: string;
  variants: string;
  data: string;
  events: string;
  paths?: string[];
  symbol: string;
  accounts: number;
  workers: number;
  dataDir?: string;
  out: string;
  fresh?: boolean;
  compile: boolean;
  code?: boolean;
  report?: boolean;
  fingerprint?: string;
};

/**
 * What a run's outcome depends on, as git sees it: the committed trees of the contracts, the deployment,
 * the keeper, the shared math and the replay (but the sweep's own files), and any uncommitted change to
 * them. A run recorded under another fingerprint (another mechanism) is not reused. Outside git: none.
 */
function fingerprint(): string {
  const git = (...args: string[]) =>
    execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const paths = ["contracts", "deploy", "scripts/keeper", "scripts/lib", "scripts/replay", "hardhat.config.ts"];
  const sweep = /(^|\/)sweep(Table|Grid)?\.ts$/;
  try {
    const tree = git("ls-tree", "-r", "HEAD", "--", ...paths)
      .split("\n")
      .filter((l) => l && !sweep.test(l));
    const own = ["sweep", "sweepTable", "sweepGrid"].map((f) => `:(exclude)scripts/replay/${f}.ts`);
    const dirty = git("diff", "HEAD", "--", ...paths, ...own);
    return createHash("sha256").update(tree.join("\n")).update(dirty).digest("hex").slice(0, 16);
  } catch {
    return "none";
  }
}

/** The runs already in the results file (those of this grid's setting and this code). */
function loadDone(file: string, accounts: number, code: string): Map<string, RunSummary> {
  const done = new Map<string, RunSummary>();
  if (!existsSync(file)) return done;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as RunSummary;
    if (r.accounts === accounts && r.code === code) done.set(keyOf(r), r);
  }
  return done;
}

const fmtTime = (s: number) => `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;

async function main(): Promise<number> {
  program.parse();
  const o = program.opts<Options>();
  if (o.code) {
    console.log(gridFingerprint(fingerprint(), o.paths));
    return 0;
  }
  const jobs = gridJobs(o);
  mkdirSync(o.out, { recursive: true });
  const runsFile = join(o.out, "sweep-runs.jsonl");
  if (o.fresh) rmSync(runsFile, { force: true });
  if (o.fingerprint !== undefined && !o.report) throw new Error("--fingerprint goes with --report");
  const code = o.fingerprint ?? gridFingerprint(fingerprint(), o.paths);
  const done = loadDone(runsFile, o.accounts, code);
  const todo = o.report ? [] : jobs.filter((j) => !done.has(keyOf(j.key)));
  const order = new Map(jobs.map((j, k) => [keyOf(j.key), k]));
  const recorded = jobs.filter((j) => done.has(keyOf(j.key))).length;
  console.error(
    `sweep: ${jobs.length} runs (${jobs.length / 2} cells), ${recorded} already in ${runsFile} (code ${code}), ` +
      (o.report ? "reporting them" : `${todo.length} to run, ${Math.min(o.workers, todo.length)} at a time`),
  );

  const write = () => {
    const runs = [...done.values()].filter((r) => order.has(keyOf(r)));
    // in the grid's order, whatever order the runs finished in
    const cells = cellsOf(runs).sort((a, b) => order.get(keyOf(a.p))! - order.get(keyOf(b.p))!);
    const t = tally(cells);
    writeFileSync(
      join(o.out, "sweep-results.json"),
      JSON.stringify({ generatedAt: new Date().toISOString(), options: o, tally: t, runs, cells }, null, 1) + "\n",
    );
    const cpu = runs.reduce((a, r) => a + (r.cpuSeconds ?? 0), 0);
    const summary =
      `${t.ok} of ${t.cells} cells meet every target (${jobs.length / 2} in the grid). ` +
      `Per target: no uncovered bad debt ${t.noUncoveredBadDebt}, vault loss within budget ${t.vaultWithinBudget}, ` +
      `extra drop <= 1/3 ${t.extraDropAtMostThird}, fewer wiped out ${t.fewerWipeouts}. ` +
      `${runs.length} runs, ${cpu.toFixed(0)} s CPU in the runs.`;
    writeFileSync(join(o.out, "sweep-table.md"), `${markdownTable(cells)}\n\n${summary}\n`);
    return { cells, t, summary };
  };

  const started = performance.now();
  let finished = 0;
  let cpuSoFar = 0;
  const onRun = (job: Job, summary: RunSummary) => {
    summary.code = code;
    appendFileSync(runsFile, JSON.stringify(summary) + "\n");
    done.set(keyOf(job.key), summary);
    finished++;
    cpuSoFar += summary.cpuSeconds ?? 0;
    const wall = (performance.now() - started) / 1000;
    const eta = (wall / finished) * (todo.length - finished);
    const k = job.key;
    console.error(
      `[${finished}/${todo.length}] ${k.seed} ${k.variant} ${k.data} ${k.event} ${k.preset}: ` +
        `${summary.ticks} ticks, ${summary.seconds.toFixed(1)} s wall, ${(summary.cpuSeconds ?? 0).toFixed(1)} s CPU ` +
        `| ${fmtTime(wall)} so far, ~${fmtTime(eta)} left`,
    );
    if (k.preset === "protected" || done.has(keyOf({ ...k, preset: "protected" }))) write();
  };
  if (todo.length && o.compile) {
    // the workers load TypeChain's types and the artifacts: compile first, as the replay CLI does
    const { default: hre } = await import("hardhat");
    await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
  }
  if (todo.length) await runInWorkers(todo, o.workers, onRun);

  const { cells, t, summary } = write();
  console.log(markdownTable(cells));
  console.log(`\n${summary}`);
  console.log(`results: ${resolve(o.out, "sweep-results.json")}, table: ${resolve(o.out, "sweep-table.md")}`);
  if (todo.length)
    console.log(
      `this invocation: ${todo.length} runs, ${cpuSoFar.toFixed(0)} s CPU, ${fmtTime((performance.now() - started) / 1000)} wall`,
    );
  if (t.ok < t.cells) return 2;
  return t.cells === jobs.length / 2 ? 0 : 3;
}

/** The jobs over `count` worker processes (the replay's pool), in order, each worker taking the next when it is free. */
async function runInWorkers(jobs: Job[], count: number, onRun: (job: Job, s: RunSummary) => void): Promise<void> {
  const byRun = new Map(jobs.map((j) => [j.job, j]));
  await workerPool(
    jobs.map((j) => j.job),
    jobs.map((_, k) => k),
    count,
    (run) => keyOf(byRun.get(run)!.key),
    (id, run) => onRun(jobs[id], summarise(jobs[id].key, run)),
  );
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? `sweep: ${e.message}` : e);
    process.exit(1);
  },
);
