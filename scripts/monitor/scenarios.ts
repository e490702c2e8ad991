/**
 * The scenario lab: what today's book would do in each catalogued crash and in the stress cases
 * that matter most to a cascade (thinner depth, a slow keeper, a stale oracle, a collateral depeg),
 * through the bigint mirror's linear forms and the cascade's fixed point (cascade.ts): fast, the
 * whole catalogue in well under a second for a large book.
 *
 * Each scenario is four numbers applied to the book as it is now:
 * - `shock`: the exogenous joint move of every market (down or up), the cascade then adds its own;
 * - `depthBps`: the impact depth as a share of the depth the protocol assumes (skewScale x price);
 * - `depeg`: the collateral's loss of value against the markets' quote currency (exposure.ts
 *   `depegged`: margins and the fund count at 1 - depeg);
 * - `lag`: a further adverse move between the cascade's last liquidation trigger and the closes
 *   (a slow keeper): accounts close at the lagged prices, so bad debt is counted there.
 *
 * Where the numbers come from (`catalogueScenarios`), from the replay's own price paths (the real
 * series when CRASH_DATA_DIR is set, the stylised scenarios otherwise):
 * - a crash: the main path's largest fall from a running peak (and its largest rise from a running
 *   trough, for shorts), with the event's collateral depeg when it has one;
 * - depth haircuts: a reference shock (the median of the crashes' falls) at 50% and 25% depth;
 * - a slow keeper: the reference shock, with closes `keeperDelaySeconds` late: the lag is the
 *   catalogue's largest fall over that delay;
 * - a stale oracle: the oracle holds its last round for a heartbeat while the market moves, then
 *   jumps: the shock is the catalogue's largest fall within one heartbeat, arriving at once (nothing
 *   is liquidated on the way down);
 * - a collateral depeg: the catalogue's deepest collateral depeg alone, and with the reference shock.
 */
import { WAD } from "../lib/math/fixedPoint.js";
import type { PricePath } from "../replay/types.js";
import { type CascadeMarket, type RunawayTest, badDebtAt, cascade } from "./cascade.js";
import { type MonitorState, depegged } from "./exposure.js";
import { cascadeMarkets } from "./forecast.js";
import { type Direction, type ThresholdTable, thresholdTables } from "./ladder.js";

export type ScenarioKind = "crash" | "depth" | "slow-keeper" | "stale-oracle" | "depeg";

export type Scenario = {
  id: string;
  kind: ScenarioKind;
  title: string;
  direction: Direction;
  /** exogenous joint move, WAD */
  shock: bigint;
  /** impact depth, bps of the assumed depth */
  depthBps: number;
  /** collateral depeg, WAD */
  depeg: bigint;
  /** further adverse move before the closes execute, WAD */
  lag: bigint;
  /** where the numbers came from */
  source: string;
};

export type ScenarioResult = {
  scenario: Scenario;
  /** the move at the cascade's fixed point (before the lag), WAD */
  total: bigint;
  extra: bigint;
  liquidatedNotional: bigint;
  accounts: number;
  /** negative equity at the closing prices, WAD */
  badDebt: bigint;
  /** the fund's coverable assets in the scenario (after the depeg), WAD */
  insurance: bigint;
  /** bad debt beyond the fund, WAD */
  uncovered: bigint;
  runaway: boolean;
  critical: boolean;
};

export type LabOptions = { maxImpactWad?: bigint; runaway?: RunawayTest };

const bps = (x: number) => (BigInt(x) * WAD) / 10_000n;

/** The highest move (WAD) a direction has a price for: a fall stops short of 100%. */
function ceiling(direction: Direction): bigint {
  return direction === "down" ? WAD - 1n : 10n * WAD;
}

/**
 * Runs scenarios on one state. Tables are built once per depeg (the only input that changes the
 * book), markets once per depth.
 */
export function runScenarios(
  state: MonitorState,
  scenarios: readonly Scenario[],
  o: LabOptions = {},
): ScenarioResult[] {
  const tables = new Map<bigint, { state: MonitorState; tables: Record<Direction, ThresholdTable> }>();
  const markets = new Map<string, CascadeMarket[]>();
  return scenarios.map((sc) => {
    let t = tables.get(sc.depeg);
    if (!t) {
      const s = depegged(state, sc.depeg);
      t = { state: s, tables: thresholdTables(s) };
      tables.set(sc.depeg, t);
    }
    const key = `${sc.depthBps}`;
    let ms = markets.get(key);
    if (!ms) {
      ms = cascadeMarkets(t.state, sc.depthBps);
      markets.set(key, ms);
    }
    const table = t.tables[sc.direction];
    const r = cascade(table, ms, sc.shock, {
      insuranceWad: t.state.insuranceWad,
      maxImpactWad: o.maxImpactWad,
      runaway: o.runaway,
    });
    let closing = r.total + sc.lag;
    if (closing > ceiling(sc.direction)) closing = ceiling(sc.direction);
    const badDebt = sc.lag === 0n ? r.badDebt : badDebtAt(table, closing);
    const uncovered = badDebt > t.state.insuranceWad ? badDebt - t.state.insuranceWad : 0n;
    return {
      scenario: sc,
      total: r.total,
      extra: r.extra,
      liquidatedNotional: r.liquidatedNotional,
      accounts: r.accounts,
      badDebt,
      insurance: t.state.insuranceWad,
      uncovered,
      runaway: r.runaway,
      critical: r.runaway || uncovered > 0n,
    };
  });
}

/** Largest fall (WAD, of the running peak) and rise (of the running trough) of a path. */
export function extremes(path: PricePath): { fall: bigint; rise: bigint } {
  let peak = 0n;
  let trough = 0n;
  let fall = 0n;
  let rise = 0n;
  for (const { priceWad: p } of path.points) {
    if (p <= 0n) continue;
    if (p > peak) peak = p;
    if (trough === 0n || p < trough) trough = p;
    const f = ((peak - p) * WAD) / peak;
    const r = ((p - trough) * WAD) / trough;
    if (f > fall) fall = f;
    if (r > rise) rise = r;
  }
  return { fall, rise };
}

/** Largest fall (WAD) within any window of `seconds` (from a point to a later one at most that far). */
export function worstFallWithin(path: PricePath, seconds: number): bigint {
  const pts = path.points;
  let worst = 0n;
  let j = 0;
  // a monotone deque of the window's maxima would be O(n); the paths are a few thousand points
  for (let i = 0; i < pts.length; i++) {
    while (pts[j].t < pts[i].t - seconds) j++;
    for (let k = j; k < i; k++) {
      const peak = pts[k].priceWad;
      if (peak <= 0n) continue;
      const f = ((peak - pts[i].priceWad) * WAD) / peak;
      if (f > worst) worst = f;
    }
  }
  return worst;
}

export type CatalogueEvent = {
  id: string;
  title: string;
  /** the event's main market path (the first path of the event) */
  market: PricePath;
  /** the collateral's USD path, when the event has one */
  collateral?: PricePath;
};

export type CatalogueOptions = {
  /** keeper's delay for the slow-keeper case, seconds (default 300) */
  keeperDelaySeconds?: number;
  /** the oracle's heartbeat for the stale-oracle case, seconds (default 3600) */
  heartbeatSeconds?: number;
  /** the depth haircuts, bps of the assumed depth (default 5000 and 2500) */
  depthHaircutsBps?: number[];
  /** label of the data the paths came from ("real" or "stylised") */
  source: string;
};

const median = (xs: bigint[]): bigint => {
  const s = [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return s.length ? s[(s.length - 1) >> 1] : 0n;
};

/** The standard scenario set, its numbers drawn from the catalogue's paths (see the file comment). */
export function catalogueScenarios(events: readonly CatalogueEvent[], o: CatalogueOptions): Scenario[] {
  const delay = o.keeperDelaySeconds ?? 300;
  const heartbeat = o.heartbeatSeconds ?? 3_600;
  const out: Scenario[] = [];
  const falls: bigint[] = [];
  let lag = 0n;
  let lagFrom = "";
  let jump = 0n;
  let jumpFrom = "";
  let depeg = 0n;
  let depegFrom = "";
  const pct = (x: bigint) => `${(Number((x * 10_000n) / WAD) / 100).toFixed(2)}%`;
  for (const ev of events) {
    const { fall, rise } = extremes(ev.market);
    falls.push(fall);
    let evDepeg = 0n;
    if (ev.collateral) {
      const low = ev.collateral.points.reduce((m, p) => (p.priceWad < m ? p.priceWad : m), WAD);
      evDepeg = low < WAD ? WAD - low : 0n;
      if (evDepeg > depeg) {
        depeg = evDepeg;
        depegFrom = `${ev.id} ${ev.collateral.symbol} low`;
      }
    }
    const from = `${ev.id} ${ev.market.symbol} (${o.source})`;
    const withDepeg = evDepeg > 0n ? `, collateral -${pct(evDepeg)}` : "";
    out.push({
      id: `crash:${ev.id}:down`,
      kind: "crash",
      title: `${ev.title}: its largest fall (${pct(fall)}${withDepeg})`,
      direction: "down",
      shock: fall,
      depthBps: 10_000,
      depeg: evDepeg,
      lag: 0n,
      source: from,
    });
    out.push({
      id: `crash:${ev.id}:up`,
      kind: "crash",
      title: `${ev.title}: its largest rise (${pct(rise)}${withDepeg})`,
      direction: "up",
      shock: rise,
      depthBps: 10_000,
      depeg: evDepeg,
      lag: 0n,
      source: from,
    });
    const l = worstFallWithin(ev.market, delay);
    if (l > lag) {
      lag = l;
      lagFrom = from;
    }
    const j = worstFallWithin(ev.market, heartbeat);
    if (j > jump) {
      jump = j;
      jumpFrom = from;
    }
  }
  const reference = median(falls);
  const refNote = `median of the catalogue's falls (${o.source})`;
  for (const d of o.depthHaircutsBps ?? [5_000, 2_500]) {
    out.push({
      id: `depth:${d}`,
      kind: "depth",
      title: `Reference fall ${pct(reference)} at ${d / 100}% of the assumed depth`,
      direction: "down",
      shock: reference,
      depthBps: d,
      depeg: 0n,
      lag: 0n,
      source: refNote,
    });
  }
  out.push({
    id: "slow-keeper",
    kind: "slow-keeper",
    title: `Reference fall ${pct(reference)}, closes ${delay / 60} min late (a further ${pct(lag)})`,
    direction: "down",
    shock: reference,
    depthBps: 10_000,
    depeg: 0n,
    lag,
    source: `${refNote}; lag: largest ${delay} s fall, ${lagFrom}`,
  });
  out.push({
    id: "stale-oracle",
    kind: "stale-oracle",
    title: `Oracle stale for ${heartbeat / 60} min, then one jump of ${pct(jump)}`,
    direction: "down",
    shock: jump,
    depthBps: 10_000,
    depeg: 0n,
    lag: 0n,
    source: `largest ${heartbeat} s fall, ${jumpFrom}`,
  });
  if (depeg > 0n) {
    out.push({
      id: "depeg",
      kind: "depeg",
      title: `Collateral depeg of ${pct(depeg)} alone`,
      direction: "down",
      shock: 0n,
      depthBps: 10_000,
      depeg,
      lag: 0n,
      source: depegFrom,
    });
    out.push({
      id: "depeg+fall",
      kind: "depeg",
      title: `Collateral depeg of ${pct(depeg)} with the reference fall ${pct(reference)}`,
      direction: "down",
      shock: reference,
      depthBps: 10_000,
      depeg,
      lag: 0n,
      source: `${depegFrom}; ${refNote}`,
    });
  }
  return out;
}

/** A scenario given by hand (the CLI's --shock-bps and friends). */
export function customScenario(o: {
  direction: Direction;
  shockBps: number;
  depthBps?: number;
  depegBps?: number;
  lagBps?: number;
}): Scenario {
  return {
    id: "custom",
    kind: o.depegBps ? "depeg" : "crash",
    title: `Custom: ${o.direction} ${o.shockBps / 100}%, depth ${(o.depthBps ?? 10_000) / 100}%, depeg ${(o.depegBps ?? 0) / 100}%, lag ${(o.lagBps ?? 0) / 100}%`,
    direction: o.direction,
    shock: bps(o.shockBps),
    depthBps: o.depthBps ?? 10_000,
    depeg: bps(o.depegBps ?? 0),
    lag: bps(o.lagBps ?? 0),
    source: "given",
  };
}

const usd = (wad: bigint) => `$${(wad / WAD).toLocaleString("en-US")}`;
const pctOf = (wad: bigint) => `${(Number((wad * 10_000n) / WAD) / 100).toFixed(2)}%`;

/** The lab's results as a markdown table (the CLI's output, the docs' tables). */
export function labTable(results: readonly ScenarioResult[]): string {
  const lines = [
    "| scenario | shock | depth | depeg | lag | total move | liquidated | accounts | bad debt | fund | uncovered | critical |",
    "|" + " --- |".repeat(12),
  ];
  for (const r of results) {
    const s = r.scenario;
    lines.push(
      `| ${s.id} | ${s.direction === "down" ? "-" : "+"}${pctOf(s.shock)} | ${s.depthBps / 100}% | ${pctOf(s.depeg)} | ${pctOf(s.lag)} | ${pctOf(r.total)} | ${usd(r.liquidatedNotional)} | ${r.accounts} | ${usd(r.badDebt)} | ${usd(r.insurance)} | ${usd(r.uncovered)} | ${r.critical ? (r.runaway ? "runaway" : "yes") : "no"} |`,
    );
  }
  return lines.join("\n");
}
