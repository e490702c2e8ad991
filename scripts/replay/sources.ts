/**
 * Where a replay's price paths come from. The engine only takes `PricePath[]`; this module asks the
 * crash-data loaders (scripts/replay/data/, another helper's work) for them, through one dynamic
 * import, so that the replay neither reads ../shared/data itself nor fails to build while the loaders
 * are not merged. Expected from "./data/index.js":
 *
 *   loadEvent(id, { dataDir, mode }) -> PricePath[]   real series from CRASH_DATA_DIR (or dataDir)
 *   stylisedPaths(id) -> PricePath[]                  the project's own stylised scenario of an event
 *   CRASH_EVENT_IDS: readonly string[]                 the events "all" runs
 *   crashEvent(id).title (optional)                   a title for the report
 *
 * "synthetic" is always available: the synthetic crash of ./synthetic.ts (not historic data).
 */
import { existsSync } from "node:fs";

import { syntheticCrash } from "./synthetic.js";
import type { PricePath } from "./types.js";

export type EventPaths = { event: string; title: string; paths: PricePath[] };

export type PathOptions = {
  /** crash-data directory; default: the loaders' own default (CRASH_DATA_DIR) */
  dataDir?: string;
  /** the stylised scenario instead of the real series */
  stylised?: boolean;
  /** how OHLC bars become points ("close", "low-inclusive"); default: the loaders' */
  mode?: string;
};

type DataModule = {
  loadEvent?: (id: string, options: { dataDir?: string; mode?: string }) => PricePath[];
  stylisedPaths?: (id: string) => PricePath[];
  CRASH_EVENT_IDS?: readonly string[];
  crashEvent?: (id: string) => { title?: string };
};

export class DataModuleMissingError extends Error {
  constructor(detail: string) {
    super(
      `the crash-data loaders are not available: ${detail}. They live in scripts/replay/data/ (index.ts exporting ` +
        `loadEvent, stylisedPaths and CRASH_EVENT_IDS), which is not on this branch yet. Until it is merged, ` +
        `run the synthetic crash: --event synthetic.`,
    );
    this.name = "DataModuleMissingError";
  }
}

const DATA_INDEX = new URL("./data/index.ts", import.meta.url);

async function dataModule(): Promise<DataModule> {
  if (!existsSync(DATA_INDEX) && !existsSync(new URL("./data/index.js", import.meta.url))) {
    throw new DataModuleMissingError("scripts/replay/data/index.ts does not exist");
  }
  // A specifier held in a variable: the type checker does not require the module to exist.
  const specifier = "./data/index.js";
  return (await import(specifier)) as DataModule;
}

/** Event ids "all" stands for (from the loaders), or just "synthetic" when they are missing. */
export async function listEvents(): Promise<string[]> {
  const mod = await dataModule();
  if (!mod.CRASH_EVENT_IDS) throw new DataModuleMissingError("scripts/replay/data/index.ts exports no CRASH_EVENT_IDS");
  return [...mod.CRASH_EVENT_IDS];
}

/** The price paths of one event. */
export async function pathsFor(event: string, options: PathOptions = {}): Promise<EventPaths> {
  if (event === "synthetic") {
    return { event, title: "Synthetic crash (not historic data)", paths: [syntheticCrash()] };
  }
  const mod = await dataModule();
  let paths: PricePath[];
  if (options.stylised) {
    if (typeof mod.stylisedPaths !== "function") {
      throw new DataModuleMissingError("scripts/replay/data/index.ts exports no stylisedPaths(id)");
    }
    paths = mod.stylisedPaths(event);
  } else {
    if (typeof mod.loadEvent !== "function") {
      throw new DataModuleMissingError("scripts/replay/data/index.ts exports no loadEvent(id, options)");
    }
    paths = mod.loadEvent(event, { dataDir: options.dataDir, mode: options.mode });
  }
  const title = typeof mod.crashEvent === "function" ? (mod.crashEvent(event).title ?? event) : event;
  return { event, title, paths };
}
