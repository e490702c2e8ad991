/**
 * The sweep's grid (scripts/replay/sweep.ts runs it): every run of seed x impact variant x data set x event x
 * preset, in that order, baseline before protected, so that whatever has finished is whole cells. The data sets
 * are the real series (CRASH_DATA_DIR), the stylised scenarios, or the user's own price paths (`--paths`): each
 * file is then an event of its own (its name without `.csv`), one market whose symbol is `symbol` (the market
 * settings of that symbol apply, as with `npm run replay -- --path <file> --symbol <name>`).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";

import { loadPreset, withOverrides } from "./presets.js";
import { listEvents, pathsFor, userPaths, type EventPaths } from "./sources.js";
import { type DataSet, type RunKey, VARIANTS } from "./sweepTable.js";
import type { RunJob } from "./worker.js";

export const SWEEP_PRESETS = ["baseline", "protected"] as const;

export type GridOptions = {
  seeds: string;
  variants: string;
  data: string;
  events: string;
  accounts: number;
  dataDir?: string;
  /** the user's own price paths: each file one event of the data set "path" (`data` and `events` are then unused) */
  paths?: string[];
  /** with `paths`: the market symbol of every file */
  symbol?: string;
};

export type Job = { key: RunKey; job: RunJob };

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** A path file's event id in the grid: its name without the `.csv`. */
export const pathEventId = (file: string) => basename(file).replace(/\.csv$/i, "");

/**
 * The code fingerprint a grid of your own paths records its runs under: the code's, with every path file's name and
 * contents folded in, so that a run of a file since edited is run again (a run is keyed by the file's name alone).
 * Without paths: the code's, unchanged.
 */
export function gridFingerprint(code: string, paths?: readonly string[]): string {
  if (!paths?.length) return code;
  const h = createHash("sha256").update(code);
  for (const file of paths) h.update(`\0${pathEventId(file)}\0`).update(readFileSync(file));
  return h.digest("hex").slice(0, 16);
}

/** The grid's runs in order: seed, variant, data set, event, then baseline and protected. */
export function gridJobs(o: GridOptions): Job[] {
  const seeds = list(o.seeds).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`bad seed ${s}`);
    return n;
  });
  const variants = list(o.variants);
  for (const v of variants) if (!(v in VARIANTS)) throw new Error(`unknown variant ${v}`);
  // the paths of each data set and event, read once (an unknown id, missing data or a bad file fails here)
  const paths = new Map<string, EventPaths>();
  let data: DataSet[];
  let events: string[];
  if (o.paths?.length) {
    data = ["path"];
    events = o.paths.map(pathEventId);
    const seen = new Set<string>();
    for (const [k, file] of o.paths.entries()) {
      if (seen.has(events[k]))
        throw new Error(`two path files are named ${events[k]}: each must be an event of its own`);
      seen.add(events[k]);
      const ev = userPaths([file], [o.symbol ?? "BTC"]);
      paths.set(`path|${events[k]}`, { ...ev, event: events[k] });
    }
  } else {
    data = list(o.data) as DataSet[];
    for (const d of data) if (d !== "real" && d !== "stylised") throw new Error(`unknown data set ${d}`);
    events = o.events === "all" ? listEvents() : list(o.events);
    for (const d of data)
      for (const e of events) paths.set(`${d}|${e}`, pathsFor(e, { dataDir: o.dataDir, stylised: d === "stylised" }));
  }
  const base = Object.fromEntries(SWEEP_PRESETS.map((p) => [p, loadPreset(p)]));
  const jobs: Job[] = [];
  for (const seed of seeds)
    for (const variant of variants)
      for (const d of data)
        for (const event of events)
          for (const preset of SWEEP_PRESETS) {
            const impact = VARIANTS[variant];
            const params = withOverrides(base[preset], {
              population: { accounts: o.accounts, seed },
              ...(Object.keys(impact).length ? { impact } : {}),
            });
            const ev = paths.get(`${d}|${event}`)!;
            jobs.push({
              key: { seed, variant, data: d, event, preset },
              job: { event, title: ev.title, paths: ev.paths, params },
            });
          }
  return jobs;
}
