/**
 * The replay's worker pool: runs in worker processes (worker.ts, under tsx), shared by the replay
 * CLI's runner and the sweep. Only Node's own modules: loading it loads no contract code.
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

import type { ReplayRun } from "./result.js";
import type { FromWorker, RunJob, ToWorker } from "./worker.js";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));
// tsx's loader, resolved here so that the worker finds it from any working directory
const TSX = import.meta.resolve("tsx");

/**
 * Runs `jobs` in `count` worker processes (worker.ts), in `order` (indices into `jobs`), each worker
 * taking the next job when it is free; `onRun` gets each run as it ends (an error it throws stops the
 * pool). A run that fails, or a worker that dies, stops the pool: the other workers are ended and the
 * error is thrown (`name` says which job). Every worker has ended when this returns or throws.
 */
export async function workerPool(
  jobs: RunJob[],
  order: number[],
  count: number,
  name: (job: RunJob) => string,
  onRun: (id: number, run: ReplayRun) => void,
): Promise<void> {
  const workers: ChildProcess[] = [];
  let next = 0;
  let ok = false;
  try {
    await new Promise<void>((resolvePool, reject) => {
      let finished = 0;
      const feed = (w: ChildProcess) => {
        if (next < order.length) {
          const id = order[next++];
          w.send({ kind: "run", id, job: jobs[id] } satisfies ToWorker);
        } else w.disconnect();
      };
      for (let k = 0; k < Math.min(count, order.length); k++) {
        const w = fork(WORKER, [], { execArgv: ["--import", TSX], serialization: "advanced", stdio: "inherit" });
        workers.push(w);
        w.on("message", (m: FromWorker) => {
          if (m.kind === "failed") return reject(new Error(`${name(jobs[m.id])}: ${m.error}`));
          try {
            onRun(m.id, m.run);
          } catch (e) {
            return reject(e as Error);
          }
          if (++finished === order.length) resolvePool();
          else feed(w);
        });
        w.on("exit", (code) => {
          if (code !== 0 && finished < order.length) reject(new Error(`a replay worker exited with status ${code}`));
        });
        feed(w);
      }
    });
    ok = true;
  } finally {
    // wait for every worker to end (ended now if a run failed), so that none outlives the pool
    for (const w of workers) {
      if (!ok) w.kill();
      else if (w.connected) w.disconnect();
    }
    await Promise.all(workers.map((w) => (w.exitCode !== null || w.signalCode !== null ? undefined : once(w, "exit"))));
  }
}
