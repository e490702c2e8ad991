/**
 * Crash replay command line.
 *
 *   npm run replay -- --event black-thursday-2020 --preset both --out reports/replay
 *   npm run replay -- --event all --stylised --accounts 200
 *   npm run replay -- --event synthetic --params scripts/replay/presets/baseline-tranches.json
 *   npm run replay -- --path btc-my-crash.csv --check
 *   npm run replay -- --list
 *
 * A standalone script (tsx), not `hardhat run`: `hardhat run` passes no arguments to a script. It
 * imports the Hardhat runtime from "hardhat", which loads hardhat.config.ts from the working
 * directory (run it from the repository root, as npm does), compiles the contracts if needed (the
 * `build` task, as `hardhat run` would; --no-compile skips it), and only then loads the runner: the
 * engine and the keeper import TypeChain's generated factories, which exist only after a compile, so
 * on a fresh clone the first command compiles and runs instead of failing on a missing `types/`
 * module. Nothing this file imports at the top needs them. Offline: nothing is downloaded.
 *
 * Exit status: 0 done; 1 a run failed; 2 bad input (an unknown option or value, a malformed price
 * file, no crash data) or, with --check, an outcome target not met.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";

import { CrashDataError, crashEvent, describeEvent } from "./data/index.js";
import type { OhlcMode } from "./data/loaders.js";
import { type PopulationSpec, defaultPopulation, loadPopulation } from "./population.js";
import { targetsMet } from "./metrics.js";
import { type ResolvedParams, loadParamsFile, loadPreset, presetNames, withOverrides } from "./presets.js";
import { type EventPaths, OHLC_MODES, SYNTHETIC_EVENT, listEvents, pathsFor, userPaths } from "./sources.js";

/** Bad input: the run did not start. */
const EXIT_USAGE = 2;

const count = (name: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    throw new InvalidArgumentError(`${name} must be ${min === 0 ? "a non-negative" : "a positive"} integer`);
  }
  return n;
};

const program = new Command()
  .name("replay")
  .description("Replay historic crashes through the deployed protocol: baseline against protected mechanisms.")
  .option("-e, --event <id>", 'event id, "all" (every event of the data catalogue) or "synthetic"', "all")
  .option("--path <files...>", "replay your own price path(s): timestamp,price CSV files, one market each")
  .option("--symbol <names>", "with --path: the market symbol of each file, comma-separated (default: file name)")
  .option("-p, --preset <names>", `"both" (baseline,protected), or comma-separated preset names`)
  .option(
    "--params <files...>",
    "parameter files (JSON overrides, may `extends` a preset): extra runs against baseline",
  )
  .option("-o, --out <dir>", "output folder for replay-report.json (and the HTML report)", "reports/replay")
  .option("-a, --accounts <n>", "number of traders (overrides the population file)", count("--accounts", 0))
  .option("--seed <n>", "population seed (overrides the population file)", count("--seed", 0))
  .option("--population <file>", "population file (default scripts/replay/population.json)")
  .option("--stylised", "run the stylised scenarios instead of the real series")
  .option("--data-dir <dir>", "crash data directory (default: CRASH_DATA_DIR)")
  .addOption(
    new Option("--mode <mode>", "how OHLC bars become points (default: close)").choices(OHLC_MODES as string[]),
  )
  .option("-j, --jobs <n>", "runs at a time, each in its own process (default: one per core)", count("--jobs", 1))
  .option("--check", "exit with status 2 when an outcome target is not met")
  .option("--no-progress", "no progress bar (it is also off when stderr is not a terminal, and under CI)")
  .option("--no-compile", "do not compile the contracts first")
  .option("--list", "describe the events and presets, then exit")
  .exitOverride();

type Options = {
  event: string;
  path?: string[];
  symbol?: string;
  preset?: string;
  params?: string[];
  out: string;
  accounts?: number;
  seed?: number;
  population?: string;
  stylised?: boolean;
  dataDir?: string;
  mode?: OhlcMode;
  jobs?: number;
  check?: boolean;
  progress: boolean;
  compile: boolean;
  list?: boolean;
};

/** Bad input found after parsing: reported like commander's own errors (exit 2). */
class UsageError extends Error {}

/** The events and presets, each with what it is. */
function describe(): string {
  const lines = ["events (--event; all: every one but synthetic):"];
  for (const id of listEvents()) lines.push(indent(describeEvent(id)));
  lines.push(
    indent(`${SYNTHETIC_EVENT}: a synthetic crash written in scripts/replay/synthetic.ts (not historic data)`),
  );
  lines.push("", "presets (--preset; both: baseline,protected):");
  for (const name of presetNames())
    lines.push(indent(`${name}: ${loadPreset(name).description || "(no description)"}`));
  lines.push("", "your own path: --path <file.csv...> (timestamp,price, unix seconds; one market per file)");
  return lines.join("\n");
}

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");

/** The parameter sets: --preset (default both); --params files run after them, against baseline. */
function presetsOf(o: Options): ResolvedParams[] {
  const names =
    o.preset === undefined
      ? o.params?.length
        ? ["baseline"]
        : ["baseline", "protected"]
      : o.preset
          .split(",")
          .map((s) => s.trim())
          .flatMap((s) => (s === "both" ? ["baseline", "protected"] : [s]));
  const presets: ResolvedParams[] = [...new Set(names)].map(loadPreset);
  presets.push(...(o.params ?? []).map(loadParamsFile));
  if (o.accounts === undefined && o.seed === undefined) return presets;
  const population = {
    ...(o.accounts !== undefined ? { accounts: o.accounts } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
  return presets.map((p) => withOverrides(p, { population }));
}

/** The events to run: the user's path (--path), or --event's. */
function eventsOf(o: Options): EventPaths[] {
  if (o.path) {
    if (program.getOptionValueSource("event") === "cli") throw new UsageError("--path and --event exclude each other");
    if (o.stylised) throw new UsageError("--path and --stylised exclude each other");
    return [
      userPaths(
        o.path,
        o.symbol?.split(",").map((s) => s.trim()),
      ),
    ];
  }
  if (o.symbol !== undefined) throw new UsageError("--symbol goes with --path");
  const ids = o.event === "all" ? listEvents() : [o.event];
  if (o.event !== SYNTHETIC_EVENT) for (const id of ids) crashEvent(id); // an unknown id fails before any run
  return ids.map((id) => pathsFor(id, { dataDir: o.dataDir, stylised: o.stylised, mode: o.mode }));
}

async function main(): Promise<number> {
  program.parse();
  const o = program.opts<Options>();
  if (o.list) {
    console.log(describe());
    return 0;
  }
  let presets: ResolvedParams[];
  let population: PopulationSpec;
  try {
    presets = presetsOf(o);
    population = o.population ? loadPopulation(o.population) : defaultPopulation();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const events = eventsOf(o);

  // The Hardhat runtime, outside `hardhat run`; the runner (engine, TypeChain types) after the compile.
  const { default: hre } = await import("hardhat");
  if (o.compile) await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
  const { progressEnabled, runPlan } = await import("./runner.js");
  const { report } = await runPlan({
    network: hre.network,
    artifacts: hre.artifacts,
    events,
    presets,
    population,
    outDir: o.out,
    progress: progressEnabled(o.progress),
    jobs: o.jobs,
  });
  const failed = report.comparisons.filter((c) => !targetsMet(c));
  return o.check && failed.length ? EXIT_USAGE : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof CommanderError) {
      // commander printed the message (or the help) already
      process.exit(e.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    const usage = e instanceof UsageError || e instanceof CrashDataError;
    console.error(e instanceof Error ? `replay: ${e.message}` : e);
    if (usage) console.error("replay: see --help, and --list for the events and presets");
    process.exit(usage ? EXIT_USAGE : 1);
  },
);
