/**
 * One keeper per key and per checkpoint: two processes sending from one key fight over nonces, and
 * two writing one checkpoint overwrite each other's. A lock is a file created exclusively (O_EXCL)
 * holding the owner's pid; a lock whose pid no longer runs (a keeper killed with SIGKILL, a host
 * that rebooted) is taken over. Released when the keeper stops.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export class LockHeldError extends Error {
  constructor(
    readonly path: string,
    readonly pid: number,
  ) {
    super(`another keeper (pid ${pid}) holds ${path}`);
    this.name = "LockHeldError";
  }
}

export type Lock = { path: string; release(): void };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock at `path` for this process; LockHeldError when a running process holds it. */
export function acquireLock(path: string, what: Record<string, unknown> = {}): Lock {
  mkdirSync(dirname(path), { recursive: true });
  const body = JSON.stringify({ pid: process.pid, since: new Date().toISOString(), ...what });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, body, { flag: "wx" });
      return {
        path,
        release: () => {
          try {
            if (ownerOf(path) === process.pid) rmSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = ownerOf(path);
      if (pid !== undefined && pid !== process.pid && alive(pid)) throw new LockHeldError(path, pid);
      rmSync(path, { force: true }); // left by a process that is gone: take it over
    }
  }
  throw new Error(`could not take the lock ${path}`);
}

function ownerOf(path: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(path, "utf8")) as { pid?: unknown }).pid;
    return typeof pid === "number" && Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}
