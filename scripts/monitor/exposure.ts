/**
 * One account's margin as a linear function of a joint price move, and the exact check of that
 * function against the engine's own math.
 *
 * Every market moves by the same factor k (WAD; k = 1 - x for an adverse move x down, 1 + x up):
 * crypto markets in a crash move together, and a cross-margined account is judged on its whole
 * portfolio, never position by position. With every market accrued to the snapshot's timestamp
 * (funding index and maintenance term fixed), the engine's equity and maintenance margin are linear
 * in k apart from per-position rounding:
 *
 *   equity(k) * WAD = A + k * B / WAD        A = margin * WAD - sum size * (fundingIndex + basis)
 *                                            B = sum size * price
 *   maintenance(k) * WAD = k * C / WAD       C = sum |size| * price * mmr / WAD (rounded up)
 *
 * so the account is liquidatable when A + k * (B - C) / WAD < 0 and bankrupt when A + k * B / WAD < 0.
 * The thresholds below come from that form; `mirrorLiquidatable` answers the same question with the
 * keeper's wei-exact mirror (scripts/lib/math/engine.ts) at a given price, and the ladder uses it
 * wherever the linear form is within rounding of the boundary.
 */
import { WAD, abs } from "../lib/math/fixedPoint.js";
import {
  type AccountSnapshot,
  type EnginePosition,
  type EngineSnapshot,
  type MarketSnapshot,
  accountSummary,
  isLiquidatable,
} from "../lib/math/engine.js";
import { type LiquidationMarginConfig, liquidationMargin } from "../lib/math/liquidation.js";
import { maintenanceMarginRatio } from "../lib/math/riskModel.js";

/** A market as the monitor reads it: accrued to the snapshot's timestamp (chainView.ts `accrued`). */
export type MonitorMarket = { id: number; symbol: string; snapshot: MarketSnapshot };

export type MonitorAccount = {
  id: bigint;
  owner: string;
  /** vault margin, WAD */
  margin: bigint;
  /** by market id, non-zero sizes only */
  positions: ReadonlyMap<number, EnginePosition>;
};

/** Everything a forecast reads: one block's markets, the book, the insurance fund. */
export type MonitorState = {
  blockNumber: number;
  /** block timestamp, seconds; every market is accrued to it */
  timestamp: bigint;
  markets: MonitorMarket[];
  accounts: MonitorAccount[];
  /** insurance fund's coverable assets, WAD */
  insuranceWad: bigint;
  /** the engine's keeper-reward fields: every account's maintenance holds its liquidation margin */
  liquidationMargin: LiquidationMarginConfig;
  /**
   * Markets whose oracle read failed at this block, with the accounts that hold them: neither can be
   * valued (nor liquidated) now, so they are out of the forecast, and the forecast says so.
   */
  unpriced?: UnpricedMarket[];
};

/** A market the forecast had to leave out: its oracle read failed. */
export type UnpricedMarket = {
  id: number;
  symbol: string;
  /** the read's error, as the oracle adapter reported it */
  reason: string;
  /** accounts holding a position in it (left out of the forecast whole) */
  accountsLeftOut: number;
  /** their summed |size| in this market, WAD (no price to value it at) */
  sizeLeftOut: bigint;
};

export type Exposure = {
  account: MonitorAccount;
  /** WAD^2 */
  a: bigint;
  /** WAD^2 */
  b: bigint;
  /** WAD^2 */
  c: bigint;
  /** current notional per position, WAD, by market id */
  notionals: Map<number, bigint>;
  /** sum of the notionals, WAD */
  notional: bigint;
  /** sum of |size|, WAD: a price floored by one wei moves equity by at most this (WAD^2 units) */
  absSizeSum: bigint;
  /** B and C by market id (their sums are `b` and `c`): for moves that are not joint (`betaTables`) */
  byMarket: Map<number, { b: bigint; c: bigint }>;
};

/** The linear form of an account (see the file comment). Markets must be accrued to one timestamp. */
export function exposureOf(
  account: MonitorAccount,
  markets: ReadonlyMap<number, MarketSnapshot>,
  lm: LiquidationMarginConfig,
): Exposure {
  let a = account.margin * WAD;
  let b = 0n;
  let c = 0n;
  const notionals = new Map<number, bigint>();
  let notional = 0n;
  let absSizeSum = 0n;
  const byMarket = new Map<number, { b: bigint; c: bigint }>();
  for (const [id, p] of account.positions) {
    if (p.size === 0n) continue;
    const m = markets.get(id);
    if (!m) throw new Error(`account ${account.id} holds market ${id}, which the snapshot lacks`);
    const absSize = abs(p.size);
    const mmr = maintenanceMarginRatio(m.config.risk, m.state.maintenanceTerm, absSize, m.config.skewScale);
    a -= p.size * (m.state.fundingIndex + p.basis);
    b += p.size * m.price;
    const cm = absSize * m.price * mmr;
    c += (cm + WAD - 1n) / WAD;
    byMarket.set(id, { b: p.size * m.price, c: (cm + WAD - 1n) / WAD });
    const n = (absSize * m.price + WAD - 1n) / WAD;
    notionals.set(id, n);
    notional += n;
    absSizeSum += absSize;
  }
  // The liquidation margin, held at its value at today's notional (constant in k where its clamp binds,
  // else off by share * notional * |k - 1|: the ladder checks the boundary with the exact mirror).
  a -= liquidationMargin(lm, notional) * WAD;
  return { account, a, b, c, notionals, notional, absSizeSum, byMarket };
}

/** A * WAD / -(slope), floored: the k at which `a + k * slope / WAD` crosses zero. */
function crossing(a: bigint, slope: bigint): bigint | undefined {
  if (slope === 0n) return undefined;
  return (-a * WAD) / slope;
}

/** k (WAD) where the linear form of liquidatability crosses zero, or undefined when it never does. */
export function liquidationK(e: Exposure): bigint | undefined {
  return crossing(e.a, e.b - e.c);
}

/** k (WAD) where equity crosses zero. */
export function bankruptcyK(e: Exposure): bigint | undefined {
  return crossing(e.a, e.b);
}

/** The linear liquidation margin A + k(B - C)/WAD at k (WAD^2; negative: liquidatable). */
export function linearMargin(e: Exposure, k: bigint): bigint {
  return e.a + (k * (e.b - e.c)) / WAD;
}

/** The linear equity at k, WAD (negative: bankrupt; -equity is the shortfall the fund must cover). */
export function linearEquity(e: Exposure, k: bigint): bigint {
  const v = e.a + (k * e.b) / WAD;
  return v >= 0n ? v / WAD : -((-v + WAD - 1n) / WAD);
}

/** Every market's snapshot with its price moved to price * k / WAD (floored), as the oracle would report it. */
export function movedMarkets(markets: ReadonlyMap<number, MarketSnapshot>, k: bigint): Map<number, MarketSnapshot> {
  const out = new Map<number, MarketSnapshot>();
  for (const [id, m] of markets) out.set(id, { ...m, price: (m.price * k) / WAD });
  return out;
}

/** The engine's own answer (through the mirror) for an account at the given markets. */
export function mirrorLiquidatable(
  account: MonitorAccount,
  markets: ReadonlyMap<number, MarketSnapshot>,
  timestamp: bigint,
  lm: LiquidationMarginConfig,
): boolean {
  const snap: EngineSnapshot = { timestamp, markets, liquidationMargin: lm };
  const a: AccountSnapshot = { margin: account.margin, positions: account.positions };
  return isLiquidatable(accountSummary(snap, a));
}

/**
 * Rounding slack of the linear form against the mirror, WAD^2: each position's value floors (one wei),
 * its notional and margin round up (two), and the moved price floors (one wei of price per unit of
 * size). Outside this band the linear form and the mirror cannot disagree.
 */
export function roundingSlack(e: Exposure): bigint {
  return 2n * e.absSizeSum + BigInt(e.account.positions.size + 1) * 8n * WAD;
}

/** The snapshot's markets by id. */
export function marketMap(state: MonitorState): Map<number, MarketSnapshot> {
  return new Map(state.markets.map((m) => [m.id, m.snapshot]));
}

/**
 * The state as it stands in the markets' quote currency (USD) when the collateral is worth
 * (1 - depeg) of par: every account's margin and the insurance fund's assets are scaled down
 * (floored: the forecast errs toward less margin). The engine itself counts the collateral at par,
 * so these accounts are not liquidatable on chain at the depeg alone; what this measures is the
 * dollar exposure a depeg creates: the accounts whose dollar equity no longer covers maintenance,
 * and the shortfall the LPs and the fund then carry in dollars (the crash catalogue models the USDC
 * depeg the same way: its path is the dollar value of margin).
 */
export function depegged(state: MonitorState, depegWad: bigint): MonitorState {
  if (depegWad < 0n || depegWad >= WAD) throw new RangeError("a depeg must be in [0, 100%)");
  if (depegWad === 0n) return state;
  const keep = WAD - depegWad;
  return {
    ...state,
    accounts: state.accounts.map((a) => ({ ...a, margin: (a.margin * keep) / WAD })),
    insuranceWad: (state.insuranceWad * keep) / WAD,
  };
}

/**
 * An exposure at a collateral depeg, from the exposure at par: only the margin term of A moves, by
 * the margin the depeg takes (the same floored margin `depegged` gives the account).
 */
export function depeggedExposure(e: Exposure, depegWad: bigint): Exposure {
  const margin = (e.account.margin * (WAD - depegWad)) / WAD;
  return { ...e, account: { ...e.account, margin }, a: e.a - (e.account.margin - margin) * WAD };
}
