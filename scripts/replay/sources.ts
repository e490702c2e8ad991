/**
 * Where a replay's price paths come from. The engine only takes `PricePath[]`; this module gets them
 * from the crash-data layer (./data/): the real series of an event from the crash-data directory
 * (CRASH_DATA_DIR or --data-dir), the project's stylised scenario of it (--stylised), or a user's
 * own files (--path). "synthetic" is always available: the synthetic crash of ./synthetic.ts (not
 * historic data).
 */
import { CRASH_EVENT_IDS, USER_PATH_EVENT, crashEvent, loadEvent, loadUserPaths, stylisedPaths } from "./data/index.js";
import type { OhlcMode } from "./data/loaders.js";
import { basename } from "node:path";
import { syntheticCrash } from "./synthetic.js";
import type { PricePath } from "./types.js";

export type EventPaths = { event: string; title: string; paths: PricePath[] };

export type PathOptions = {
  /** crash-data directory; default: CRASH_DATA_DIR */
  dataDir?: string;
  /** the stylised scenario instead of the real series */
  stylised?: boolean;
  /** how OHLC bars become points; default: "close" */
  mode?: OhlcMode;
};

/** How OHLC bars may become points (--mode). */
export const OHLC_MODES: readonly OhlcMode[] = ["close", "low-inclusive"];

export const SYNTHETIC_EVENT = "synthetic";

/** The event ids "all" stands for. */
export function listEvents(): string[] {
  return [...CRASH_EVENT_IDS];
}

/** The price paths of one event. */
export function pathsFor(event: string, options: PathOptions = {}): EventPaths {
  if (event === SYNTHETIC_EVENT) {
    return { event, title: "Synthetic crash (not historic data)", paths: [syntheticCrash()] };
  }
  const { title } = crashEvent(event);
  const paths = options.stylised
    ? stylisedPaths(event)
    : loadEvent(event, { dataDir: options.dataDir, mode: options.mode });
  return { event, title, paths };
}

/** A user's own price paths (--path), one market per file, replayed as one event. */
export function userPaths(files: readonly string[], symbols?: readonly string[]): EventPaths {
  const paths = loadUserPaths(files, symbols);
  return {
    event: USER_PATH_EVENT,
    title: `Your price path${files.length > 1 ? "s" : ""}: ${files.map((f) => basename(f)).join(", ")}`,
    paths,
  };
}
