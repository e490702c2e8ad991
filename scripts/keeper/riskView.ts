/**
 * The accounts nearest to liquidation, as an operator wants to see them: health (equity over
 * maintenance margin; below 1 the account is liquidatable) and the liquidation price of its largest
 * position, the index price of that market at which the account would cross its maintenance margin
 * with every other price held where it is. Computed off chain with the engine mirror at one block;
 * the price is found by bisection, since maintenance margin and funding move with the price too.
 */
import { WAD } from "../lib/math/fixedPoint.js";
import {
  type AccountSummary,
  type EngineSnapshot,
  accountSummary,
  health,
  isLiquidatable,
} from "../lib/math/engine.js";
import { notional } from "../lib/math/perpMath.js";
import type { AccountBook, TrackedAccount } from "./book.js";
import type { ChainView } from "./chainView.js";

export type AccountRisk = {
  accountId: bigint;
  owner: string;
  /** equity / maintenance margin, WAD (the engine's `health`) */
  health: bigint;
  liquidatable: boolean;
  /** WAD */
  equity: bigint;
  maintenanceMargin: bigint;
  notional: bigint;
  /** the largest position (by notional) */
  market: { id: number; symbol: string; size: bigint; price: bigint };
  /**
   * index price of that market at which the account crosses maintenance margin (WAD), or null when
   * no price does: a long that stays solvent down to zero, or a short with no bound within 1000x
   */
  liquidationPrice: bigint | null;
};

/** Bisection steps: the bracket shrinks by 2^-96, below a wei of price for any realistic price. */
const STEPS = 96;

export function accountRisks(
  book: AccountBook,
  view: ChainView,
  top: number,
  symbols: ReadonlyMap<number, string>,
): { withPositions: number; accounts: AccountRisk[] } {
  const rows: { account: TrackedAccount; summary: AccountSummary; health: bigint }[] = [];
  let withPositions = 0;
  for (const account of book.withPositions()) {
    withPositions++;
    if (account.stale || [...account.positions.keys()].some((m) => !view.engine.markets.has(m))) continue;
    try {
      const summary = accountSummary(view.engine, book.snapshotOf(account));
      rows.push({ account, summary, health: health(summary) });
    } catch {
      continue; // the keeper's scan counts these as unevaluated
    }
  }
  rows.sort((a, b) => (a.health !== b.health ? (a.health < b.health ? -1 : 1) : a.account.id < b.account.id ? -1 : 1));
  const accounts = rows.slice(0, top).map(({ account, summary, health: h }) => {
    const [marketId, position] = [...account.positions].reduce((best, p) =>
      notional(p[1].size, view.engine.markets.get(p[0])!.price) >
      notional(best[1].size, view.engine.markets.get(best[0])!.price)
        ? p
        : best,
    );
    const price = view.engine.markets.get(marketId)!.price;
    return {
      accountId: account.id,
      owner: account.owner,
      health: h,
      liquidatable: isLiquidatable(summary),
      equity: summary.equity,
      maintenanceMargin: summary.maintenanceMargin,
      notional: summary.notional,
      market: { id: marketId, symbol: symbols.get(marketId) ?? `#${marketId}`, size: position.size, price },
      liquidationPrice: liquidationPrice(view.engine, book, account, marketId),
    };
  });
  return { withPositions, accounts };
}

/**
 * The index price of `marketId` at which the account turns liquidatable (the highest such price for
 * a long, the lowest for a short), other markets unchanged; null when there is none in (0, 1000x].
 */
export function liquidationPrice(
  engine: EngineSnapshot,
  book: AccountBook,
  account: TrackedAccount,
  marketId: number,
): bigint | null {
  const market = engine.markets.get(marketId)!;
  const long = account.positions.get(marketId)!.size > 0n;
  const snapshot = book.snapshotOf(account);
  const liquidatableAt = (price: bigint) => {
    const markets = new Map(engine.markets);
    markets.set(marketId, { ...market, price });
    return isLiquidatable(accountSummary({ ...engine, markets }, snapshot));
  };
  // The bracket [safe, unsafe]: the price moves from safe toward unsafe until the account crosses.
  let safe: bigint;
  let unsafe: bigint;
  if (long) {
    if (liquidatableAt(market.price)) {
      [safe, unsafe] = [market.price * 1000n, market.price];
      if (liquidatableAt(safe)) return null;
    } else {
      [safe, unsafe] = [market.price, 1n];
      if (!liquidatableAt(unsafe)) return null;
    }
  } else if (liquidatableAt(market.price)) {
    [safe, unsafe] = [1n, market.price];
    if (liquidatableAt(safe)) return null;
  } else {
    [safe, unsafe] = [market.price, market.price * 1000n];
    if (!liquidatableAt(unsafe)) return null;
  }
  for (let i = 0; i < STEPS && (safe > unsafe ? safe - unsafe : unsafe - safe) > 1n; i++) {
    const mid = (safe + unsafe) / 2n;
    if (liquidatableAt(mid)) unsafe = mid;
    else safe = mid;
  }
  return unsafe;
}

/** WAD -> "1234.56" (rounded down), for tables. */
export function formatWad(x: bigint, decimals = 2): string {
  const neg = x < 0n;
  const a = neg ? -x : x;
  const frac = ((a % WAD) * 10n ** BigInt(decimals)) / WAD;
  return `${neg ? "-" : ""}${a / WAD}${decimals > 0 ? "." + frac.toString().padStart(decimals, "0") : ""}`;
}
