/**
 * The checkpoint: the last block whose events the book holds (and that block's hash, to notice a
 * node that was reset or a reorg past it), plus every account and position. A restart loads it
 * and follows events from the next block instead of rescanning from the deployment's startBlock.
 * Written atomically (temp file, then rename), so a kill mid-write leaves the previous one intact.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

import type { SerializedAccount } from "./book.js";

export type Checkpoint = {
  version: 1;
  chainId: number;
  /** the engine's address: a checkpoint of another deployment is never used */
  engine: string;
  lastBlock: number;
  lastBlockHash: string;
  savedAt: string;
  accounts: SerializedAccount[];
};

export type CheckpointLoad =
  | { ok: true; checkpoint: Checkpoint }
  | { ok: false; reason: "missing" | "unreadable" | "other-deployment"; detail?: string };

export function loadCheckpoint(path: string, expect: { chainId: number; engine: string }): CheckpointLoad {
  if (!existsSync(path)) return { ok: false, reason: "missing" };
  let c: Checkpoint;
  try {
    c = JSON.parse(readFileSync(path, "utf8")) as Checkpoint;
  } catch (e) {
    return { ok: false, reason: "unreadable", detail: (e as Error).message };
  }
  if (c?.version !== 1 || !Number.isInteger(c.lastBlock) || !Array.isArray(c.accounts)) {
    return { ok: false, reason: "unreadable", detail: "not a keeper checkpoint (version 1)" };
  }
  if (c.chainId !== expect.chainId || c.engine.toLowerCase() !== expect.engine.toLowerCase()) {
    return { ok: false, reason: "other-deployment", detail: `chain ${c.chainId}, engine ${c.engine}` };
  }
  return { ok: true, checkpoint: c };
}

export function saveCheckpoint(path: string, c: Checkpoint): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(c));
  renameSync(tmp, path);
}
