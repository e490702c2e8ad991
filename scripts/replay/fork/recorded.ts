/**
 * The recorded rounds of a fork target (the `timestamp,price` oracle files under CRASH_DATA_DIR), as
 * the raw integer answers the feed published: the decimal text is parsed exactly, never through a
 * float, so pushing these answers and reading them back must give the same values to the wei.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

import type { ForkTarget } from "./targets.js";
import { answerToWad } from "./rounds.js";

export type RecordedRound = {
  /** unix seconds: the round's updatedAt */
  t: number;
  /** the answer in the feed's decimals */
  answer: bigint;
  priceWad: bigint;
};

/** CRASH_DATA_DIR, else ../shared/data/crashes beside the repository, if either exists. */
export function crashDataDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  const candidates = [env.CRASH_DATA_DIR, resolve(cwd, "..", "shared", "data", "crashes")];
  return candidates.find((d): d is string => d !== undefined && d !== "" && existsSync(d));
}

/** Path of a target's recorded rounds, or undefined when no data directory has the file. */
export function recordedRoundsFile(target: ForkTarget, dataDir = crashDataDir()): string | undefined {
  if (!dataDir) return undefined;
  const file = join(dataDir, target.recorded.file);
  return existsSync(file) ? file : undefined;
}

/** "0.99755917" with 8 decimals -> 99755917n; throws if the text has more decimals than the feed. */
export function parseAnswer(text: string, decimals: number): bigint {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m) throw new Error(`not a non-negative decimal: ${JSON.stringify(text)}`);
  const fraction = (m[2] ?? "").replace(/0+$/, "");
  if (fraction.length > decimals) {
    throw new Error(`${text} has more than ${decimals} decimals: it is not an answer of this feed`);
  }
  return BigInt(m[1]) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
}

export function parseRecordedRounds(csv: string, decimals: number, source = "csv"): RecordedRound[] {
  const lines = csv.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines[0]?.trim() !== "timestamp,price") {
    throw new Error(`${source}: expected the header "timestamp,price", got ${JSON.stringify(lines[0])}`);
  }
  const rounds = lines.slice(1).map((line, i) => {
    const [t, price, extra] = line.split(",");
    if (extra !== undefined || !/^\d+$/.test(t ?? "")) throw new Error(`${source}:${i + 2}: bad row ${line}`);
    const answer = parseAnswer(price, decimals);
    return { t: Number(t), answer, priceWad: answerToWad(answer, decimals) };
  });
  for (let i = 1; i < rounds.length; i++) {
    if (rounds[i].t < rounds[i - 1].t) throw new Error(`${source}: rows out of time order at row ${i + 2}`);
  }
  return rounds;
}

export function loadRecordedRounds(target: ForkTarget, file: string): RecordedRound[] {
  return parseRecordedRounds(readFileSync(file, "utf8"), target.decimals, file);
}
