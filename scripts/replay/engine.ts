/**
 * The crash-replay engine: one run = one event's price path(s) driven through a freshly deployed
 * protocol on an in-process Hardhat network, with a seeded population of leveraged traders and the
 * keeper service, under one parameter set. A run is four named steps over one state (state.ts):
 *
 *   plan     what the run will do, before any chain exists: markets sized from the population, the
 *            tick schedule, the traders (plan.ts);
 *   setup    chain, protocol, feeds, configuration, funds, accounts, keeper (setup.ts);
 *   ticks    every tick of the schedule, feedback ticks inserted after liquidations (tick.ts, with
 *            traders.ts, adl.ts and digest.ts: reading what happened from the logs);
 *   record   the steps as they go and the run at the end (record.ts).
 *
 * Every transaction is mined at the tick's timestamp (chain.ts; the keeper service's through a
 * provider that does the same), so a run is reproducible to the wei for a seed; only the wall and
 * CPU times and the keeper's wall-time counters differ between two runs.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkConnection, NetworkManager } from "hardhat/types/network";

import type { Protocol } from "../../deploy/protocol.js";
import type { Book } from "./book.js";
import type { Chain } from "./chain.js";
import { memoizeAbiCoding } from "./abiMemo.js";
import { planRun } from "./plan.js";
import { type PopulationSpec, defaultPopulation } from "./population.js";
import type { ResolvedParams } from "./presets.js";
import { recordRun } from "./record.js";
import type { ReplayRun } from "./result.js";
import type { ServiceKeeper } from "./serviceKeeper.js";
import { setUpRun } from "./setup.js";
import type { PushedRound } from "./state.js";
import { type StepHook, playSchedule } from "./tick.js";
import type { PricePath } from "./types.js";

export { tickSchedule } from "./plan.js";
export type { PushedRound } from "./state.js";

export type EngineOptions = {
  /** `network` from "hardhat" (the HRE's network manager): each run creates its own in-process chain */
  network: NetworkManager;
  event: string;
  title?: string;
  paths: PricePath[];
  params: ResolvedParams;
  /** default: scripts/replay/population.json; the params' `population` overrides apply on top */
  population?: PopulationSpec;
  /** called after every scheduled tick (feedback ticks are not counted) */
  onTick?: (done: number, total: number) => void;
  /** leave the network open and return a handle to it (tests inspect the chain after the run) */
  keepOpen?: boolean;
  /** awaited after every recorded step, with the chain as it then is (the risk monitor's backtest) */
  onStep?: StepHook;
};

export type ReplayHandle = {
  connection: NetworkConnection;
  ethers: HardhatEthers;
  chain: Chain;
  protocol: Protocol;
  /** the rounds the engine pushed, per market, in order */
  pushedRounds: PushedRound[];
  /** the feed each market's oracle reads (after re-pointing) */
  feeds: string[];
  /** the run's book (book.ts: the keeper's event-followed account book, read with the mirror), at the end */
  book: Book;
  /** the keeper service that ran */
  keeper: ServiceKeeper;
  close(): Promise<void>;
};

export type EngineResult = { run: ReplayRun; handle?: ReplayHandle };

// the same views answer the same bytes tick after tick: coded once (abiMemo.ts)
memoizeAbiCoding();

export async function runReplay(opts: EngineOptions): Promise<EngineResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const plan = planRun(opts.paths, opts.params, opts.population ?? defaultPopulation());
  const run = await setUpRun(opts.network, opts.params, plan);
  const close = () => run.connection.close();
  try {
    await playSchedule(run, opts.onTick, opts.onStep);
    const used = process.cpuUsage(cpu);
    const result = await recordRun(run, opts, {
      seconds: (performance.now() - started) / 1000,
      cpuSeconds: (used.user + used.system) / 1e6,
    });
    if (!opts.keepOpen) {
      await close();
      return { run: result };
    }
    const { connection, ethers, chain, protocol, book, keeper } = run;
    const feeds = run.markets.map((m) => m.feed);
    return {
      run: result,
      handle: {
        connection,
        ethers,
        chain,
        protocol,
        pushedRounds: run.record.pushedRounds,
        feeds,
        book,
        keeper,
        close,
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}
