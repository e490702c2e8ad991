/**
 * A replay worker: a child process (forked by runner.ts) that runs the replays it is sent, one at a
 * time, each on its own in-process chain, and answers with the run. Runs are independent (each
 * deploys its own protocol on its own chain), so the result of a run does not depend on the process
 * it ran in; a plan spreads its runs over a few workers to use every core.
 *
 * Messages (structured clone, so bigints travel as they are):
 *   parent -> worker  { kind: "run", id, job }      a RunJob
 *   worker -> parent  { kind: "done", id, run }     or { kind: "failed", id, error }
 * The worker exits when the parent closes the channel.
 */
import type { ReplayRun } from "./result.js";
import type { PopulationSpec } from "./population.js";
import type { ResolvedParams } from "./presets.js";
import type { PricePath } from "./types.js";

/** One run, as the parent sends it. */
export type RunJob = {
  event: string;
  title: string;
  paths: PricePath[];
  params: ResolvedParams;
  population?: PopulationSpec;
};

export type ToWorker = { kind: "run"; id: number; job: RunJob };
export type FromWorker = { kind: "done"; id: number; run: ReplayRun } | { kind: "failed"; id: number; error: string };

async function serve(): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error("scripts/replay/worker.ts runs as a child process of the replay runner, not on its own");
  const { default: hre } = await import("hardhat");
  const { runReplay } = await import("./engine.js");
  // the replay reads reverts from their data: no stack-trace decoder (decoder.ts), about 1 s less a process
  const { withoutContractDecoder } = await import("./decoder.js");
  await withoutContractDecoder(hre);
  let queue = Promise.resolve();
  process.on("message", (m: ToWorker) => {
    queue = queue.then(async () => {
      let reply: FromWorker;
      try {
        const { run } = await runReplay({ network: hre.network, ...m.job });
        reply = { kind: "done", id: m.id, run };
      } catch (e) {
        reply = { kind: "failed", id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
      }
      send(reply);
    });
  });
  process.on("disconnect", () => void queue.then(() => process.exit(0)));
}

serve().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
