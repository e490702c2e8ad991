/**
 * The keeper CLI as a child process, for end-to-end tests: its JSON log lines collected as they
 * come, a way to wait for a given line, and its exit code.
 */
import { type ChildProcess, spawn } from "node:child_process";

import { REPO_ROOT, stopChild } from "./node.js";

export type LogLine = { level: number; msg: string } & Record<string, unknown>;

export type KeeperProcess = {
  child: ChildProcess;
  logs: LogLine[];
  /** everything written to stderr */
  stderr(): string;
  /** everything written to stdout, raw */
  stdout(): string;
  exit: Promise<number | null>;
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
};

/**
 * How the keeper is started: `node` runs the documented direct command (node_modules/.bin/node
 * --import tsx scripts/keeper/cli.ts), `npm` runs `npm run keeper -- ...`. `detached` puts it in a
 * process group of its own, so that a test can signal the group as a terminal's Ctrl-C does.
 */
export type SpawnOptions = { via?: "node" | "npm"; detached?: boolean };

export function spawnKeeper(
  args: string[],
  env: Record<string, string | undefined> = {},
  o: SpawnOptions = {},
): KeeperProcess {
  const [command, argv] =
    o.via === "npm"
      ? ["npm", ["run", "--silent", "keeper", "--", ...args]]
      : [`${REPO_ROOT}node_modules/.bin/node`, ["--import", "tsx", "scripts/keeper/cli.ts", ...args]];
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: o.detached ?? false,
  });
  const logs: LogLine[] = [];
  let out = "";
  let err = "";
  let partial = "";
  const waiters: { predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        continue;
      }
      logs.push(parsed);
      for (const w of [...waiters]) {
        if (w.predicate(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    logs,
    stderr: () => err,
    stdout: () => out,
    exit,
    waitForLog(predicate, timeoutMs = 30_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<LogLine>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`keeper log line not seen within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`));
        }, timeoutMs);
        const w = {
          predicate,
          resolve: (l: LogLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(w);
        void exit.then((code) => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            reject(new Error(`keeper exited (${code}) before the log line; stderr: ${err.slice(-2000)}`));
          }
        });
      });
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (signal === "SIGTERM") await stopChild(child, 10_000);
      else child.kill(signal);
      return exit;
    },
  };
}
