/**
 * The crash catalogue as the scenario lab reads it: each event's main market path and, when the event
 * has one, its collateral path, through the replay's public loaders (scripts/replay/sources.ts): the
 * real series from the crash-data directory when there is one, the stylised scenarios otherwise.
 */
import { crashEvent } from "../replay/data/index.js";
import { listEvents, pathsFor } from "../replay/sources.js";
import type { CatalogueEvent } from "./scenarios.js";

export type Catalogue = { source: "real" | "stylised"; events: CatalogueEvent[]; skipped: string[] };

/**
 * Every catalogued event. `dataDir` (default CRASH_DATA_DIR): the real series; an event whose files
 * are missing is listed in `skipped`. Without a directory, or with `stylised`, the stylised paths.
 */
export function loadCatalogue(o: { dataDir?: string; stylised?: boolean } = {}): Catalogue {
  const dir = o.dataDir ?? process.env.CRASH_DATA_DIR;
  const stylised = o.stylised === true || !dir;
  const events: CatalogueEvent[] = [];
  const skipped: string[] = [];
  for (const id of listEvents()) {
    let paths;
    try {
      paths = pathsFor(id, { stylised, dataDir: dir }).paths;
    } catch (e) {
      skipped.push(`${id}: ${(e as Error).message}`);
      continue;
    }
    const ev = crashEvent(id);
    const collateralSymbol = ev.series.find((s) => s.role === "collateral")?.symbol;
    const market = paths.find((p) => p.symbol !== collateralSymbol) ?? paths[0];
    const collateral = collateralSymbol ? paths.find((p) => p.symbol === collateralSymbol) : undefined;
    events.push({ id, title: ev.title, market, collateral });
  }
  return { source: stylised ? "stylised" : "real", events, skipped };
}
