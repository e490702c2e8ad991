/**
 * Early warnings for one account: where it is liquidated, how small a shock gets it there once the
 * cascade is counted, and what margin would keep it safe.
 *
 * - Liquidation price per market held, the others fixed: the contract's own health boundary,
 *   found by bisection on the price with the wei-exact mirror (scripts/lib/math/engine.ts). For a
 *   long it is the highest price at which `isLiquidatable` holds (one wei above, it does not); for a
 *   short the lowest.
 * - Joint move: the move of every market together (the ladder's) that liquidates it, and the
 *   exogenous shock whose cascade reaches that move (never larger).
 * - Margin to restore a distance: the deposit that keeps it out of liquidation at a chosen joint
 *   move, proven with the mirror at the moved prices.
 */
import type { LiquidationMarginConfig } from "../lib/math/liquidation.js";
import { WAD } from "../lib/math/fixedPoint.js";
import type { MarketSnapshot } from "../lib/math/engine.js";
import { type CascadeMarket, type CascadeOptions, shockReaching } from "./cascade.js";
import {
  type MonitorAccount,
  exposureOf,
  linearMargin,
  liquidationK,
  mirrorLiquidatable,
  movedMarkets,
  roundingSlack,
} from "./exposure.js";
import { type Direction, type ThresholdTable, kOfMove } from "./ladder.js";

export type LiquidationPrice = {
  marketId: number;
  side: "long" | "short";
  price: bigint;
  /** liquidation price: the boundary, or undefined when no price liquidates it (the others fixed) */
  liquidationPrice: bigint | undefined;
  /** (liquidationPrice - price) / price, WAD, signed */
  moveWad: bigint | undefined;
};

/** The account's liquidation price in one market, the other markets fixed (exact, by the mirror). */
export function liquidationPrice(
  account: MonitorAccount,
  markets: ReadonlyMap<number, MarketSnapshot>,
  timestamp: bigint,
  marketId: number,
  lm: LiquidationMarginConfig,
): LiquidationPrice {
  const position = account.positions.get(marketId);
  const market = markets.get(marketId);
  if (!position || position.size === 0n || !market)
    throw new Error(`account ${account.id} holds nothing in market ${marketId}`);
  const at = (p: bigint) => {
    const m = new Map(markets);
    m.set(marketId, { ...market, price: p });
    return mirrorLiquidatable(account, m, timestamp, lm);
  };
  const long = position.size > 0n;
  const price = market.price;
  const side = long ? "long" : "short";
  let boundary: bigint | undefined;
  if (long) {
    // liquidatable on [0, boundary]: the highest liquidatable price
    if (at(price)) {
      let hi = price * 2n + 1n;
      for (let i = 0; i < 64 && at(hi); i++) hi = hi * 2n + 1n;
      if (!at(hi)) boundary = highestTrue(at, price, hi);
    } else if (at(1n)) boundary = highestTrue(at, 1n, price); // at 0 nothing is owed: never liquidatable
  } else {
    // liquidatable on [boundary, inf): the lowest liquidatable price
    let hi = price;
    for (let i = 0; i < 64 && !at(hi); i++) hi = hi * 2n + 1n;
    if (at(hi)) boundary = lowestTrue(at, 1n, hi);
  }
  const moveWad = boundary === undefined || price === 0n ? undefined : ((boundary - price) * WAD) / price;
  return { marketId, side, price, liquidationPrice: boundary, moveWad };
}

/** Highest p in [lo, hi] where f holds, given f(lo) holds and f is true then false. */
function highestTrue(f: (p: bigint) => boolean, lo: bigint, hi: bigint): bigint {
  if (f(hi)) return hi;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (f(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Lowest p in [lo, hi] where f holds, given f(hi) holds and f is false then true. */
function lowestTrue(f: (p: bigint) => boolean, lo: bigint, hi: bigint): bigint {
  if (f(lo)) return lo;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (f(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

export type AccountWarning = {
  accountId: bigint;
  owner: string;
  liquidatableNow: boolean;
  prices: LiquidationPrice[];
  /** joint move that liquidates it (WAD), its direction, and the exogenous shock that gets there with the cascade */
  joint:
    | { direction: Direction; move: bigint; cascadeShock: bigint; pricesAtMove: { marketId: number; price: bigint }[] }
    | undefined;
  /** margin (WAD and collateral token units, rounded up) that keeps it safe at `restoreMoveWad` */
  restore: { moveWad: bigint; direction: Direction; marginWad: bigint; tokens: bigint } | undefined;
};

export type WarningInputs = {
  markets: ReadonlyMap<number, MarketSnapshot>;
  timestamp: bigint;
  tables: Record<Direction, ThresholdTable>;
  cascadeMarkets: readonly CascadeMarket[];
  cascadeOptions: CascadeOptions;
  /** vault.SCALE(): collateral token units to WAD */
  scale: bigint;
  /** the engine's keeper-reward fields (MonitorState.liquidationMargin) */
  liquidationMargin: LiquidationMarginConfig;
};

/** The warnings of one account; `restoreMoveWad` is the joint move it should survive. */
export function accountWarning(account: MonitorAccount, w: WarningInputs, restoreMoveWad: bigint): AccountWarning {
  const e = exposureOf(account, w.markets, w.liquidationMargin);
  const liquidatableNow = mirrorLiquidatable(account, w.markets, w.timestamp, w.liquidationMargin);
  const prices = [...account.positions.keys()]
    .sort((a, b) => a - b)
    .map((id) => liquidationPrice(account, w.markets, w.timestamp, id, w.liquidationMargin));
  // the joint direction that hurts: the one whose liquidation form falls
  const slope = e.b - e.c;
  const direction: Direction = slope >= 0n ? "down" : "up";
  let joint: AccountWarning["joint"];
  const kCross = liquidationK(e);
  if (liquidatableNow) {
    joint = {
      direction,
      move: 0n,
      cascadeShock: 0n,
      pricesAtMove: [...w.markets].map(([id, m]) => ({ marketId: id, price: m.price })),
    };
  } else if (kCross !== undefined && slope !== 0n && (direction === "up" || kCross > 0n)) {
    const move = direction === "down" ? WAD - kCross : kCross - WAD;
    const k = kOfMove(direction, move);
    joint = {
      direction,
      move,
      cascadeShock: shockReaching(w.tables[direction], w.cascadeMarkets, move, w.cascadeOptions),
      pricesAtMove: [...account.positions.keys()].map((id) => ({
        marketId: id,
        price: (w.markets.get(id)!.price * k) / WAD,
      })),
    };
  }
  let restore: AccountWarning["restore"];
  {
    const k = kOfMove(direction, restoreMoveWad);
    const moved = movedMarkets(w.markets, k);
    const lm = linearMargin(e, k);
    const slack = roundingSlack(e);
    let need = lm >= slack ? 0n : (slack - lm + WAD - 1n) / WAD;
    // the linear form is within rounding of the engine's; the mirror has the last word
    for (
      let i = 0;
      i < 8 &&
      mirrorLiquidatable({ ...account, margin: account.margin + need }, moved, w.timestamp, w.liquidationMargin);
      i++
    ) {
      need = need * 2n + WAD;
    }
    const tokens = (need + w.scale - 1n) / w.scale;
    restore = { moveWad: restoreMoveWad, direction, marginWad: need, tokens };
  }
  return { accountId: account.id, owner: account.owner, liquidatableNow, prices, joint, restore };
}
