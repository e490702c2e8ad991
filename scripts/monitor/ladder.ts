/**
 * The liquidation ladder: for every adverse joint move x on a grid (0 to `maxBps`, every `stepBps`),
 * the notional that is liquidatable at the moved prices and the shortfall (negative equity, what the
 * insurance fund would cover if closed there), per market and side, from every position of the book.
 *
 * "Down" moves every market's price to price * (1 - x), "up" to price * (1 + x); an account is
 * counted once it is liquidatable at the grid point, with all its positions (a cross-margined
 * account falls as one). Which grid point an account first becomes liquidatable at is exact: the
 * linear form (exposure.ts) decides where it is clear of the boundary, the keeper's wei-exact mirror
 * decides within rounding of it. The notional and shortfall figures at a grid point are sums of each
 * account's linear terms, which differ from the engine's per-position rounding by a few wei per
 * position.
 *
 * Alongside, the thresholds the cascade needs: each account's continuous liquidation and bankruptcy
 * move per direction, sorted, with prefix sums per market.
 */
import { WAD } from "../lib/math/fixedPoint.js";
import type { MarketSnapshot } from "../lib/math/engine.js";
import {
  type Exposure,
  type MonitorState,
  bankruptcyK,
  exposureOf,
  linearMargin,
  liquidationK,
  marketMap,
  mirrorLiquidatable,
  movedMarkets,
  roundingSlack,
} from "./exposure.js";

export type Direction = "down" | "up";
export const DIRECTIONS: readonly Direction[] = ["down", "up"];
export type Side = "long" | "short";

export type LadderPoint = {
  moveBps: number;
  /** notional liquidatable at the moved prices, WAD */
  notional: bigint;
  /** negative equity of the accounts bankrupt at the move, WAD */
  shortfall: bigint;
  accounts: number;
};

export type LadderRow = { marketId: number; symbol: string; side: Side; points: LadderPoint[] };

export type DirectionLadder = {
  /** per market and side */
  rows: LadderRow[];
  /** every market and side together (accounts counted once) */
  total: LadderPoint[];
};

export type Ladder = {
  stepBps: number;
  maxBps: number;
  movesBps: number[];
  down: DirectionLadder;
  up: DirectionLadder;
  /** grid index at which each account first becomes liquidatable, per direction */
  firstIndex: Map<bigint, { down?: number; up?: number }>;
  /** accounts whose grid index was settled by the mirror (near the boundary) */
  mirrorChecks: number;
};

/** One direction's accounts sorted by the continuous move (WAD) that liquidates them. */
export type ThresholdTable = {
  direction: Direction;
  /** ascending liquidation move, WAD (0: liquidatable now) */
  moves: bigint[];
  /** per market id: prefix sums of signed size of the accounts liquidated by moves[i] (length n + 1) */
  sizePrefix: Map<number, bigint[]>;
  /** per market id: prefix sums of notional at current prices (length n + 1) */
  notionalPrefix: Map<number, bigint[]>;
  /** accounts sorted by the move that bankrupts them, with prefix sums of a and b (WAD^2) */
  bankruptMoves: bigint[];
  aPrefix: bigint[];
  bPrefix: bigint[];
};

export type LadderOptions = { stepBps?: number; maxBps?: number };

const BPS = 10_000n;

/** k (WAD) of a move of `bps` in a direction. */
export function kOf(direction: Direction, bps: number): bigint {
  const x = (BigInt(bps) * WAD) / BPS;
  return direction === "down" ? WAD - x : WAD + x;
}

/** k (WAD) of a move (WAD) in a direction. */
export function kOfMove(direction: Direction, moveWad: bigint): bigint {
  return direction === "down" ? WAD - moveWad : WAD + moveWad;
}

/** The move (WAD) at which the linear form crosses, in a direction; undefined when it never does (or only at k <= 0). */
function thresholdMove(direction: Direction, a: bigint, slope: bigint, kCross: bigint | undefined): bigint | undefined {
  const now = a + slope; // the form at k = WAD, times WAD / WAD
  if (now < 0n) return 0n;
  if (kCross === undefined) return undefined;
  // along "down" k falls: the form falls only when slope > 0; along "up" only when slope < 0
  if (direction === "down") {
    if (slope <= 0n || kCross <= 0n) return undefined;
    return WAD - kCross;
  }
  if (slope >= 0n) return undefined;
  return kCross - WAD;
}

type Acc = { n: bigint[]; a: bigint[]; b: bigint[]; count: number[] };

export function buildLadder(
  state: MonitorState,
  opts: LadderOptions = {},
): { ladder: Ladder; tables: Record<Direction, ThresholdTable>; exposures: Exposure[] } {
  const stepBps = opts.stepBps ?? 50;
  const maxBps = opts.maxBps ?? 5_000;
  if (!(stepBps > 0 && maxBps >= stepBps && maxBps < 10_000))
    throw new RangeError("ladder grid must be 0 < step <= max < 100%");
  const moves: number[] = [];
  for (let x = 0; x <= maxBps; x += stepBps) moves.push(x);
  const g = moves.length;
  const markets = marketMap(state);
  const symbols = new Map(state.markets.map((m) => [m.id, m.symbol]));
  const exposures = state.accounts
    .filter((a) => a.positions.size > 0)
    .map((a) => exposureOf(a, markets, state.liquidationMargin));

  const moved: Record<Direction, (Map<number, MarketSnapshot> | undefined)[]> = { down: [], up: [] };
  const movedAt = (d: Direction, j: number) => (moved[d][j] ??= movedMarkets(markets, kOf(d, moves[j])));
  const ks: Record<Direction, bigint[]> = {
    down: moves.map((x) => kOf("down", x)),
    up: moves.map((x) => kOf("up", x)),
  };

  const firstIndex = new Map<bigint, { down?: number; up?: number }>();
  let mirrorChecks = 0;
  const rows: Record<Direction, Map<string, Acc>> = { down: new Map(), up: new Map() };
  const totals: Record<Direction, Acc> = { down: newAcc(g), up: newAcc(g) };

  for (const e of exposures) {
    const slack = roundingSlack(e);
    const entry: { down?: number; up?: number } = {};
    for (const d of DIRECTIONS) {
      const liq = (j: number): boolean => {
        const lm = linearMargin(e, ks[d][j]);
        if (lm > slack) return false;
        if (lm < -slack) return true;
        mirrorChecks++;
        return mirrorLiquidatable(e.account, movedAt(d, j), state.timestamp, state.liquidationMargin);
      };
      const j = firstTrue(g, liq);
      if (j === undefined) continue;
      entry[d] = j;
      const jb = firstTrue(g, (i) => e.a + (ks[d][i] * e.b) / WAD < 0n);
      addAccount(rows[d], totals[d], e, j, jb, g);
    }
    firstIndex.set(e.account.id, entry);
  }

  const ladderOf = (d: Direction): DirectionLadder => ({
    rows: [...rows[d]].map(([key, acc]) => {
      const [id, side] = key.split(":");
      const marketId = Number(id);
      return {
        marketId,
        symbol: symbols.get(marketId) ?? String(marketId),
        side: side as Side,
        points: points(acc, ks[d], moves),
      };
    }),
    total: points(totals[d], ks[d], moves),
  });
  const ladder: Ladder = {
    stepBps,
    maxBps,
    movesBps: moves,
    down: ladderOf("down"),
    up: ladderOf("up"),
    firstIndex,
    mirrorChecks,
  };
  ladder.down.rows.sort(rowOrder);
  ladder.up.rows.sort(rowOrder);
  return {
    ladder,
    tables: { down: table("down", exposures, markets), up: table("up", exposures, markets) },
    exposures,
  };
}

/**
 * Only the threshold tables of a state (what the cascade reads), without the ladder's grid: for the
 * scenario lab and the depeg rows, which ask the cascade many questions of a book but never draw it.
 */
export function thresholdTables(state: MonitorState): Record<Direction, ThresholdTable> {
  const markets = marketMap(state);
  const exposures = state.accounts
    .filter((a) => a.positions.size > 0)
    .map((a) => exposureOf(a, markets, state.liquidationMargin));
  return tablesOf(exposures, markets);
}

/** The threshold tables of exposures already computed (a depeg changes only their margin term). */
export function tablesOf(
  exposures: Exposure[],
  markets: ReadonlyMap<number, MarketSnapshot>,
): Record<Direction, ThresholdTable> {
  return { down: table("down", exposures, markets), up: table("up", exposures, markets) };
}

function rowOrder(x: LadderRow, y: LadderRow): number {
  return x.marketId - y.marketId || x.side.localeCompare(y.side);
}

function newAcc(g: number): Acc {
  return { n: new Array(g).fill(0n), a: new Array(g).fill(0n), b: new Array(g).fill(0n), count: new Array(g).fill(0) };
}

/**
 * First index in [0, g) where the predicate holds, for a predicate that either holds at 0 (an account
 * liquidatable now counts at once in both directions) or, along the grid, is false then true.
 */
function firstTrue(g: number, p: (j: number) => boolean): number | undefined {
  if (p(0)) return 0;
  if (!p(g - 1)) return undefined;
  let lo = 0;
  let hi = g - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (p(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function addAccount(
  rows: Map<string, Acc>,
  total: Acc,
  e: Exposure,
  j: number,
  jb: number | undefined,
  g: number,
): void {
  total.count[j] += 1;
  for (const [id, n] of e.notionals) {
    const size = e.account.positions.get(id)!.size;
    const key = `${id}:${size > 0n ? "long" : "short"}`;
    let acc = rows.get(key);
    if (!acc) rows.set(key, (acc = newAcc(g)));
    acc.n[j] += n;
    acc.count[j] += 1;
    total.n[j] += n;
    if (jb !== undefined && e.notional > 0n) {
      // the account's shortfall shared among its positions by notional
      const a = (e.a * n) / e.notional;
      const b = (e.b * n) / e.notional;
      acc.a[jb] += a;
      acc.b[jb] += b;
      total.a[jb] += a;
      total.b[jb] += b;
    }
  }
}

function points(acc: Acc, ks: bigint[], moves: number[]): LadderPoint[] {
  const out: LadderPoint[] = [];
  let n = 0n;
  let a = 0n;
  let b = 0n;
  let count = 0;
  for (let j = 0; j < moves.length; j++) {
    n += acc.n[j];
    a += acc.a[j];
    b += acc.b[j];
    count += acc.count[j];
    const eq = a + (ks[j] * b) / WAD;
    out.push({
      moveBps: moves[j],
      notional: (n * ks[j]) / WAD,
      shortfall: eq < 0n ? (-eq + WAD - 1n) / WAD : 0n,
      accounts: count,
    });
  }
  return out;
}

/**
 * The threshold tables for a move that is not joint: market i moves by beta_i times the move x (WAD
 * betas by market id; a market without one moves by x). Equity and maintenance stay linear in x, each
 * market's B and C scaled by its own factor (1 - beta_i x down, 1 + beta_i x up), so an account's
 * form is a' + k s' with k the reference market's factor:
 *
 *   liquidation  s' = sum beta_i (B_i - C_i),   a' = A + (B - C) - s'
 *   bankruptcy   s' = sum beta_i B_i,           a' = A + B - s'
 *
 * With every beta 1 these are the joint tables (`tablesOf`). The cascade moves market i's price by
 * its beta too (`CascadeMarket.beta`).
 */
export function betaTables(
  exposures: Exposure[],
  markets: ReadonlyMap<number, MarketSnapshot>,
  betas: ReadonlyMap<number, bigint>,
): Record<Direction, ThresholdTable> {
  return { down: table("down", exposures, markets, betas), up: table("up", exposures, markets, betas) };
}

/** An exposure's liquidation and bankruptcy forms (a, slope) under per-market betas (see `betaTables`). */
function betaForms(e: Exposure, betas: ReadonlyMap<number, bigint>) {
  let sl = 0n;
  let sb = 0n;
  for (const [id, x] of e.byMarket) {
    const beta = betas.get(id) ?? WAD;
    sl += (beta * (x.b - x.c)) / WAD;
    sb += (beta * x.b) / WAD;
  }
  return { al: e.a + e.b - e.c - sl, sl, ab: e.a + e.b - sb, sb };
}

/** k (WAD) where a + k * slope / WAD crosses zero. */
function crossingK(a: bigint, slope: bigint): bigint | undefined {
  return slope === 0n ? undefined : (-a * WAD) / slope;
}

function table(
  direction: Direction,
  exposures: Exposure[],
  markets: ReadonlyMap<number, MarketSnapshot>,
  betas?: ReadonlyMap<number, bigint>,
): ThresholdTable {
  const liq: { move: bigint; e: Exposure; a: bigint; b: bigint }[] = [];
  const bank: { move: bigint; e: Exposure; a: bigint; b: bigint }[] = [];
  for (const e of exposures) {
    if (betas) {
      const f = betaForms(e, betas);
      const m = thresholdMove(direction, f.al, f.sl, crossingK(f.al, f.sl));
      if (m !== undefined) liq.push({ move: m, e, a: f.al, b: f.sl });
      const mb = thresholdMove(direction, f.ab, f.sb, crossingK(f.ab, f.sb));
      if (mb !== undefined) bank.push({ move: mb, e, a: f.ab, b: f.sb });
      continue;
    }
    const m = thresholdMove(direction, e.a, e.b - e.c, liquidationK(e));
    if (m !== undefined) liq.push({ move: m, e, a: e.a, b: e.b });
    const mb = thresholdMove(direction, e.a, e.b, bankruptcyK(e));
    if (mb !== undefined) bank.push({ move: mb, e, a: e.a, b: e.b });
  }
  liq.sort((x, y) => (x.move < y.move ? -1 : x.move > y.move ? 1 : 0));
  bank.sort((x, y) => (x.move < y.move ? -1 : x.move > y.move ? 1 : 0));
  const sizePrefix = new Map<number, bigint[]>();
  const notionalPrefix = new Map<number, bigint[]>();
  for (const id of markets.keys()) {
    const s = new Array<bigint>(liq.length + 1);
    const n = new Array<bigint>(liq.length + 1);
    s[0] = 0n;
    n[0] = 0n;
    for (let i = 0; i < liq.length; i++) {
      const p = liq[i].e.account.positions.get(id);
      s[i + 1] = s[i] + (p?.size ?? 0n);
      n[i + 1] = n[i] + (liq[i].e.notionals.get(id) ?? 0n);
    }
    sizePrefix.set(id, s);
    notionalPrefix.set(id, n);
  }
  const aPrefix = [0n];
  const bPrefix = [0n];
  for (const x of bank) {
    aPrefix.push(aPrefix[aPrefix.length - 1] + x.a);
    bPrefix.push(bPrefix[bPrefix.length - 1] + x.b);
  }
  return {
    direction,
    moves: liq.map((x) => x.move),
    sizePrefix,
    notionalPrefix,
    bankruptMoves: bank.map((x) => x.move),
    aPrefix,
    bPrefix,
  };
}

/** How many entries of an ascending array are <= x. */
export function countAtMost(sorted: bigint[], x: bigint): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
