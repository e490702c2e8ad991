/**
 * The cascade forecast: an exogenous joint shock s, then liquidations, then their price impact, then
 * more liquidations, to the fixed point X = s + L(X) / depth.
 *
 * L(X) is the book's forced flow at the move X: every account liquidatable at X closes in full
 * (an upper bound: tranches and the capacity cap spread it in time, and the decay of impact between
 * windows is ignored). Its impact is the crash replay's own model (scripts/replay/impact.ts): each
 * market's displacement is its signed forced notional over its depth, capped. Markets move jointly,
 * so the endogenous part of X is the depth-weighted mean of the markets' displacements, i.e. the
 * net forced notional over the total depth; with one market it is exactly L(X) / depth.
 *
 * The iteration is monotone (a larger X liquidates a superset), so it climbs to the least fixed
 * point; each step is a binary search in the sorted thresholds (ladder.ts), so a whole curve of
 * shocks costs little more than sorting the book once.
 */
import { WAD } from "../lib/math/fixedPoint.js";
import { ImpactModel } from "../replay/impact.js";
import { type Direction, type ThresholdTable, countAtMost, kOfMove } from "./ladder.js";

/** A market as the cascade needs it: current price and the depth its impact is measured against. */
export type CascadeMarket = {
  id: number;
  price: bigint;
  depthWad: bigint;
  /** this market's move per unit of the joint move, WAD (default 1: every market moves alike); see ladder.ts `betaTables` */
  beta?: bigint;
};

export type CascadeOptions = {
  /** cap of one market's displacement, WAD (the replay's default: 0.9) */
  maxImpactWad?: bigint;
  /** insurance fund's coverable assets, WAD: bad debt beyond it is critical */
  insuranceWad: bigint;
  /** the least extra move (WAD) that counts as a runaway when it also matches the shock (default 1%) */
  runawayMinExtraWad?: bigint;
  /** what counts as a runaway (`RunawayTest`); absent: "divergence" */
  runaway?: RunawayTest;
};

/**
 * What the cascade calls a runaway. "divergence" (the default): only the loop reaching the impact cap (or
 * the move's ceiling), the fixed point's own failure; a cluster whose sales double the shock is a
 * liquidation wave, reported by `waves`, `extra` and `maxBranching` (and by the forecast's wave and
 * `waveAmplifies`), not a runaway. "amplification" (the default before the eighteenth round,
 * docs/experiments.md): also the book's own sales adding at least the shock again, by `runawayMinExtraWad`,
 * and feeding themselves, which a local cluster can satisfy for shocks in a window below its extra only.
 * Under "divergence" criticality grows with the shock (the cap and the bad debt grow with the fixed point),
 * so the grid and bisection of `criticalShock` find the smallest critical shock to 1 bp; under
 * "amplification" a runaway window narrower than the grid's step can be stepped over
 * (test/monitor/runaway.test.ts shows both).
 */
export type RunawayTest = "amplification" | "divergence";
export const RUNAWAY_TESTS: readonly RunawayTest[] = ["amplification", "divergence"];

export type CascadeResult = {
  direction: Direction;
  /** exogenous shock, WAD */
  shock: bigint;
  /** total move at the fixed point, WAD */
  total: bigint;
  /** total - shock: the move the book's own forced sales add */
  extra: bigint;
  /** total / shock (1 when nothing is liquidated); undefined for a zero shock */
  multiplier: number | undefined;
  /** notional liquidated in each wave at that wave's prices, WAD (wave 0: by the shock alone) */
  waves: bigint[];
  /** largest wave over the one before it */
  maxBranching: number;
  liquidatedNotional: bigint;
  accounts: number;
  /** negative equity of the accounts bankrupt at the final prices, WAD */
  badDebt: bigint;
  /**
   * a market's displacement hit the impact cap (or the move its ceiling); under the "amplification" test
   * also: the book's own sales at least doubled the shock (extra >= shock) by at least
   * `runawayMinExtraWad`, with the liquidations the sales set off at least as large as those the shock set off
   */
  runaway: boolean;
  /** runaway, or bad debt beyond the insurance fund */
  critical: boolean;
};

const DEFAULT_MAX_IMPACT = (9n * WAD) / 10n;

/** The fixed point of X = s + L(X) / depth for one shock and direction. */
export function cascade(
  table: ThresholdTable,
  markets: readonly CascadeMarket[],
  shock: bigint,
  opts: CascadeOptions,
): CascadeResult {
  const maxImpact = opts.maxImpactWad ?? DEFAULT_MAX_IMPACT;
  const down = table.direction === "down";
  // each market's weight in the joint move: its depth, times its beta where markets do not move alike (a
  // market that does not follow the reference does not dilute the reference's displacement)
  const weights = markets.map((m) =>
    m.beta === undefined ? m.depthWad : m.beta > 0n ? (m.depthWad * m.beta) / WAD : 0n,
  );
  const totalDepth = weights.reduce((s, w) => s + w, 0n);
  // a down move past 100% has no price; the impact cap keeps the endogenous part below it
  const ceiling = down ? WAD - 1n : 10n * WAD;
  let x = shock;
  let n = countAtMost(table.moves, x);
  const waves: bigint[] = [];
  let liquidated = 0n;
  let capped = false;
  for (let guard = 0; guard <= table.moves.length + 1; guard++) {
    const k = kOfMove(table.direction, x);
    const model = new ImpactModel(
      markets.map((m) => ({ depthWad: m.depthWad })),
      1,
      maxImpact,
    );
    let notional = 0n;
    markets.forEach((m, i) => {
      const size = table.sizePrefix.get(m.id)?.[n] ?? 0n;
      const km = m.beta === undefined ? k : WAD + (m.beta * (k - WAD)) / WAD;
      const price = (m.price * km) / WAD;
      // closing the liquidated positions: a long closed is a sale
      if (size !== 0n) model.addTrade(i, -size, price);
      notional += ((table.notionalPrefix.get(m.id)?.[n] ?? 0n) * km) / WAD;
    });
    let weighted = 0n;
    markets.forEach((m, i) => {
      const imp = model.impact[i];
      if (imp === maxImpact || imp === -maxImpact) capped = true;
      weighted += imp * weights[i];
    });
    const displacement = totalDepth === 0n ? 0n : weighted / totalDepth;
    const endogenous = down ? -displacement : displacement;
    waves.push(notional - liquidated);
    liquidated = notional;
    let next = shock + (endogenous > 0n ? endogenous : 0n);
    if (next > ceiling) {
      next = ceiling;
      capped = true;
    }
    const nextCount = countAtMost(table.moves, next);
    x = next;
    if (nextCount === n) break;
    n = nextCount;
  }
  let maxBranching = 0;
  for (let i = 1; i < waves.length; i++) {
    if (waves[i - 1] <= 0n || waves[i] <= 0n) continue;
    const r = Number((waves[i] * 1_000_000n) / waves[i - 1]) / 1_000_000;
    if (r > maxBranching) maxBranching = r;
  }
  const badDebt = badDebtAt(table, x);
  const extra = x - shock;
  // A wave larger than the one before is common early on (liquidation prices cluster) and need not
  // run away. By default a runaway is the loop that does not stop short of the impact cap. The
  // "amplification" test also counts the book's own sales adding at least the shock again, by a visible
  // amount, when most of what is sold was set off by earlier sales rather than by the shock (a mean of
  // at least one offspring per parent, a self-exciting process's criticality). One wave the shock sets
  // off, however large its impact, is a liquidation wave under both.
  const runaway =
    capped ||
    (opts.runaway === "amplification" &&
      extra >= shock &&
      extra >= (opts.runawayMinExtraWad ?? WAD / 100n) &&
      selfExciting(waves, liquidated));
  return {
    direction: table.direction,
    shock,
    total: x,
    extra,
    multiplier: shock === 0n ? undefined : Number((x * 1_000_000n) / shock) / 1_000_000,
    waves,
    maxBranching,
    liquidatedNotional: liquidated,
    accounts: n,
    badDebt,
    runaway,
    critical: runaway || badDebt > opts.insuranceWad,
  };
}

/**
 * The cascade feeds itself: the liquidations its own sales set off (every wave after the first) are at
 * least those the shock set off (the first), a mean of at least one offspring per parent.
 */
export function selfExciting(waves: readonly bigint[], liquidated: bigint): boolean {
  const direct = waves[0] ?? 0n;
  const induced = liquidated - direct;
  return induced > 0n && induced >= direct;
}

/** Negative equity (WAD) of the accounts bankrupt at the move x, valued at the moved prices. */
export function badDebtAt(table: ThresholdTable, x: bigint): bigint {
  const nb = countAtMost(table.bankruptMoves, x);
  const k = kOfMove(table.direction, x);
  const v = table.aPrefix[nb] + (k * table.bPrefix[nb]) / WAD;
  return v < 0n ? (-v + WAD - 1n) / WAD : 0n;
}

export type CurveOptions = CascadeOptions & { maxShockBps?: number; stepBps?: number };

/** The cascade for every shock on a grid. */
export function cascadeCurve(
  table: ThresholdTable,
  markets: readonly CascadeMarket[],
  opts: CurveOptions,
): CascadeResult[] {
  const maxBps = opts.maxShockBps ?? 5_000;
  const step = opts.stepBps ?? 100;
  const out: CascadeResult[] = [];
  for (let bps = 0; bps <= maxBps; bps += step) out.push(cascade(table, markets, (BigInt(bps) * WAD) / 10_000n, opts));
  return out;
}

/**
 * The smallest shock (WAD) whose cascade satisfies `hit`, refined between the grid points of `curve`
 * by bisection to 1 bp; undefined when no shock up to the grid's end does.
 */
export function firstShock(
  table: ThresholdTable,
  markets: readonly CascadeMarket[],
  curve: readonly CascadeResult[],
  opts: CascadeOptions,
  hit: (r: CascadeResult) => boolean,
): bigint | undefined {
  const i = curve.findIndex(hit);
  if (i < 0) return undefined;
  if (i === 0) return 0n;
  let lo = curve[i - 1].shock;
  let hi = curve[i].shock;
  const bp = WAD / 10_000n;
  while (hi - lo > bp) {
    const mid = (lo + hi) / 2n;
    if (hit(cascade(table, markets, mid, opts))) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The smallest shock (WAD) whose cascade is critical (runaway, or bad debt beyond the fund). */
export function criticalShock(
  table: ThresholdTable,
  markets: readonly CascadeMarket[],
  curve: readonly CascadeResult[],
  opts: CascadeOptions,
): bigint | undefined {
  return firstShock(table, markets, curve, opts, (r) => r.critical);
}

/** The smallest shock (WAD) whose cascade reaches the move `target` (WAD), to 1 bp; at most `target`. */
export function shockReaching(
  table: ThresholdTable,
  markets: readonly CascadeMarket[],
  target: bigint,
  opts: CascadeOptions,
): bigint {
  let lo = 0n;
  let hi = target;
  if (cascade(table, markets, 0n, opts).total >= target) return 0n;
  const bp = WAD / 10_000n;
  while (hi - lo > bp) {
    const mid = (lo + hi) / 2n;
    if (cascade(table, markets, mid, opts).total >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}
