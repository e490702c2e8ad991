/**
 * Crash replay command line.
 *
 *   npm run replay -- --event black-thursday-2020 --preset both --out reports/replay
 *   npm run replay -- --event all --stylised --accounts 200
 *   npm run replay -- --event synthetic --params scripts/replay/presets/baseline-tranches.json
 *   npm run replay -- --event synthetic --keeper scan
 *   npm run replay -- --list
 *
 * A standalone script (tsx), not `hardhat run`: `hardhat run` passes no arguments to a script. It
 * imports the Hardhat runtime from "hardhat", which loads hardhat.config.ts from the working
 * directory (run it from the repository root, as npm does), compiles the contracts if needed (the
 * `build` task, as `hardhat run` would; --no-compile skips it), and creates one in-process network per
 * run. Offline: nothing is downloaded.
 *
 * The modules that run a replay (the engine, the keepers) import TypeChain's generated factories,
 * which exist only after a compile. So this file imports nothing that needs them: it parses and
 * validates the arguments, compiles, and only then loads the runner (`loadRunner`). On a fresh clone
 * the first command compiles and runs instead of failing on a missing `types/` module.
 */
import { Command, InvalidArgumentError } from "commander";

import type { KeeperFactory } from "./keeperAdapter.js";
import { type PopulationSpec, defaultPopulation, loadPopulation } from "./population.js";
import { type ResolvedParams, loadParamsFile, loadPreset, presetNames, withOverrides } from "./presets.js";
import { type EventPaths, listEvents, pathsFor } from "./sources.js";

/** The keepers a run can use: the keeper service (the default) and the replay's reference loop. */
const KEEPER_KINDS = ["service", "scan"] as const;
type KeeperKind = (typeof KEEPER_KINDS)[number];

/** The runner and the chosen keeper, loaded once the contracts are compiled (see the header). */
async function loadRunner(kind: KeeperKind) {
  const runner = await import("./runner.js");
  const keeper: KeeperFactory =
    kind === "service"
      ? (await import("./serviceKeeper.js")).serviceKeeper
      : (await import("./keeperAdapter.js")).scanKeeper;
  return { ...runner, keeper };
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

const program = new Command()
  .name("replay")
  .description("Replay historic crashes through the deployed protocol: baseline against protected mechanisms.")
  .option("-e, --event <id>", 'event id, "all" (every event of the data catalogue) or "synthetic"', "all")
  .option("-p, --preset <names>", `"both" (baseline,protected), or comma-separated preset names`)
  .option(
    "--params <files...>",
    "parameter files (JSON overrides, may `extends` a preset): extra runs against baseline",
  )
  .option("-o, --out <dir>", "output folder for replay-report.json (and the HTML report)", "reports/replay")
  .option("-a, --accounts <n>", "number of traders (overrides the population file)", int("--accounts"))
  .option("--seed <n>", "population seed (overrides the population file)", int("--seed"))
  .option("--population <file>", "population file (default scripts/replay/population.json)")
  .option("--stylised", "run the stylised scenarios instead of the real series")
  .option("--data-dir <dir>", "crash data directory (default: CRASH_DATA_DIR)")
  .option("--mode <mode>", 'how OHLC bars become points: "close" or "low-inclusive" (default: the loaders\')')
  .option(
    "--keeper <kind>",
    'the keeper: "service" (scripts/keeper, the keeper service itself) or "scan" (the replay\'s reference loop, to compare)',
    (v: string) => {
      if (!(KEEPER_KINDS as readonly string[]).includes(v))
        throw new InvalidArgumentError(`--keeper must be one of ${KEEPER_KINDS.join(", ")}`);
      return v;
    },
    "service",
  )
  .option("--check", "exit with status 2 when an outcome target is not met")
  .option("--no-progress", "no progress bar (it is also off when stderr is not a terminal, and under CI)")
  .option("--no-compile", "do not compile the contracts first")
  .option("--list", "list the events and presets, then exit");

type Options = {
  event: string;
  preset?: string;
  params?: string[];
  out: string;
  accounts?: number;
  seed?: number;
  population?: string;
  stylised?: boolean;
  dataDir?: string;
  mode?: string;
  keeper: KeeperKind;
  check?: boolean;
  progress: boolean;
  compile: boolean;
  list?: boolean;
};

async function main(): Promise<number> {
  program.parse();
  const o = program.opts<Options>();

  if (o.list) {
    let events: string[];
    try {
      events = await listEvents();
    } catch (e) {
      events = [];
      console.log((e as Error).message);
    }
    console.log(`events: ${[...events, "synthetic"].join(", ")}`);
    console.log(`presets: ${presetNames().join(", ")}`);
    return 0;
  }

  // Which parameter sets: --preset (default both); --params files run after them, against baseline.
  const names =
    o.preset === undefined
      ? o.params?.length
        ? ["baseline"]
        : ["baseline", "protected"]
      : o.preset
          .split(",")
          .map((s) => s.trim())
          .flatMap((s) => (s === "both" ? ["baseline", "protected"] : [s]));
  let presets: ResolvedParams[] = [...new Set(names)].map(loadPreset);
  presets.push(...(o.params ?? []).map(loadParamsFile));
  const population: PopulationSpec = o.population ? loadPopulation(o.population) : defaultPopulation();
  if (o.accounts !== undefined || o.seed !== undefined) {
    presets = presets.map((p) =>
      withOverrides(p, {
        population: {
          ...(o.accounts !== undefined ? { accounts: o.accounts } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
        },
      }),
    );
  }

  const ids = o.event === "all" ? await listEvents() : [o.event];
  const events: EventPaths[] = [];
  for (const id of ids) events.push(await pathsFor(id, { dataDir: o.dataDir, stylised: o.stylised, mode: o.mode }));

  // The Hardhat runtime, outside `hardhat run`.
  const { default: hre } = await import("hardhat");
  if (o.compile) await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
  const { runPlan, progressEnabled, keeper } = await loadRunner(o.keeper);

  const { report } = await runPlan({
    network: hre.network,
    events,
    presets,
    population,
    outDir: o.out,
    progress: progressEnabled(o.progress),
    keeper,
  });
  const failed = report.comparisons.filter((c) => !(c.noUncoveredBadDebt && c.extraDropAtMostHalf && c.fewerWipeouts));
  return o.check && failed.length ? 2 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? `replay: ${e.message}` : e);
    process.exit(1);
  },
);
