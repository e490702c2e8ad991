/**
 * Off-chain health of every tracked account, with the engine mirror (scripts/lib/math/engine.ts),
 * and the order in which to liquidate: worst first.
 */
import { mulWadDown } from "../lib/math/fixedPoint.js";
import { accountSummary, health, isLiquidatable } from "../lib/math/engine.js";
import type { AccountBook } from "./book.js";
import type { ChainView } from "./chainView.js";

export type AccountHealth = {
  accountId: bigint;
  equity: bigint;
  maintenanceMargin: bigint;
  notional: bigint;
  /** equity / maintenance margin, WAD, as engine.health rounds it */
  health: bigint;
  /** equity below backstopRatio * maintenance: closed in full, cooldown ignored (the capacity cap only
   * below capBypassRatio, which the planner checks on the preview) */
  backstop: boolean;
  markets: number[];
};

export type ScanResult = {
  /** liquidatable accounts, worst first */
  liquidatable: AccountHealth[];
  withPositions: number;
  /** accounts with a position in a market whose price could not be read */
  unpriced: number;
  /** accounts the mirror could not evaluate (a stale book entry, an arithmetic revert) */
  unevaluated: number;
};

/**
 * Worst first: lowest health; among equal health (every account at or below zero equity has
 * health 0) the largest shortfall below maintenance (the most bad debt at stake), then the lowest id
 * so that the order is total and two keepers agree on it.
 */
export function worstFirst(a: AccountHealth, b: AccountHealth): number {
  if (a.health !== b.health) return a.health < b.health ? -1 : 1;
  const gapA = a.maintenanceMargin - a.equity;
  const gapB = b.maintenanceMargin - b.equity;
  if (gapA !== gapB) return gapA > gapB ? -1 : 1;
  return a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0;
}

export function scanAccounts(book: AccountBook, view: ChainView): ScanResult {
  const out: ScanResult = { liquidatable: [], withPositions: 0, unpriced: 0, unevaluated: 0 };
  const backstopRatio = view.liquidation.backstopRatio;
  for (const account of book.withPositions()) {
    out.withPositions++;
    if (account.stale) {
      out.unevaluated++;
      continue;
    }
    const markets = [...account.positions.keys()];
    if (markets.some((m) => !view.engine.markets.has(m))) {
      out.unpriced++;
      continue;
    }
    let summary;
    try {
      summary = accountSummary(view.engine, book.snapshotOf(account));
    } catch {
      out.unevaluated++;
      continue;
    }
    if (!isLiquidatable(summary)) continue;
    out.liquidatable.push({
      accountId: account.id,
      equity: summary.equity,
      maintenanceMargin: summary.maintenanceMargin,
      notional: summary.notional,
      health: health(summary),
      backstop: summary.equity < mulWadDown(summary.maintenanceMargin, backstopRatio),
      markets,
    });
  }
  out.liquidatable.sort(worstFirst);
  return out;
}
