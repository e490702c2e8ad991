/**
 * Off-chain health of every tracked account, with the engine mirror (scripts/lib/math/engine.ts),
 * and the order in which to liquidate: worst first. An account with a leg in a market whose feed is
 * only stale is valued as LiquidationEngine values it (LiquidationConfigurator.staleValuation): that
 * leg at the edge of its stale band most favourable to the account, so that its fresh legs are
 * liquidated when it is below maintenance even there.
 */
import { mulWadDown } from "../lib/math/fixedPoint.js";
import {
  type AccountSnapshot,
  type AccountSummary,
  type EnginePosition,
  type EngineSnapshot,
  type MarketSnapshot,
  accountSummary,
  health,
  isLiquidatable,
} from "../lib/math/engine.js";
import { type Accrual, heldMarkets, pendingAccrual } from "../lib/math/engine.js";
import { liquidationMargin } from "../lib/math/liquidation.js";
import { notional, positionValue } from "../lib/math/perpMath.js";
import { maintenanceMarginRatio, marginRequirement } from "../lib/math/riskModel.js";
import { abs } from "../lib/math/fixedPoint.js";
import { addInt, addUint, assertUint256, uint256ToInt256 } from "../lib/math/solidityIntegers.js";
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
  /** accounts with a position in a market whose price could not be read, and not valued at a stale
   * leg's band (another oracle error, no fresh leg, no readable last answer) */
  unpriced: number;
  /** accounts valued with a stale leg at its band's edge (liquidatable or not) */
  staleValued: number;
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
  const out: ScanResult = { liquidatable: [], withPositions: 0, unpriced: 0, staleValued: 0, unevaluated: 0 };
  const backstopRatio = view.liquidation.backstopRatio;
  const accruals = new AccrualMemo(view.engine);
  for (const account of book.withPositions()) {
    out.withPositions++;
    if (account.stale) {
      out.unevaluated++;
      continue;
    }
    const markets = [...account.positions.keys()];
    const snapshot = book.snapshotOf(account);
    let summary: AccountSummary | undefined;
    if (markets.some((m) => !view.engine.markets.has(m))) {
      const valued = staleValuation(view, snapshot);
      if (valued === "unpriced") {
        out.unpriced++;
        continue;
      }
      out.staleValued++;
      if (valued === "unevaluated") {
        out.unevaluated++;
        continue;
      }
      if (valued === "waits") continue;
      summary = valued;
    } else {
      try {
        summary = maintenanceSummary(view.engine, snapshot, accruals);
      } catch {
        out.unevaluated++;
        continue;
      }
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

/** Each market's accrual to the snapshot's time, computed at its first use in a scan (or its error). */
export class AccrualMemo {
  private readonly known = new Map<number, Accrual | Error>();

  constructor(private readonly snapshot: EngineSnapshot) {}

  get(marketId: number): Accrual {
    let a = this.known.get(marketId);
    if (a === undefined) {
      try {
        a = pendingAccrual(this.snapshot.markets.get(marketId)!, this.snapshot.timestamp);
      } catch (e) {
        a = e as Error;
      }
      this.known.set(marketId, a);
    }
    if (a instanceof Error) throw a;
    return a;
  }
}

/**
 * `accountSummary` without the initial margin, which no scan reads, and with each market's accrual
 * computed once per scan (`accruals`) instead of once per position: the same equity, maintenance
 * margin and notional, to the wei, with the same checks (a scan evaluates every account with a
 * position, twice a tick in a protected replay). Every market the account holds must be in the
 * snapshot (the scan sends the others to `staleValuation`). `initialMargin` is 0: not computed.
 * test/keeper/unit.test.ts compares it with `accountSummary`.
 */
export function maintenanceSummary(
  snapshot: EngineSnapshot,
  account: AccountSnapshot,
  accruals = new AccrualMemo(snapshot),
): AccountSummary {
  assertUint256("now", snapshot.timestamp);
  const margin = assertUint256("margin", account.margin);
  let equity = uint256ToInt256(margin);
  let maintenanceMargin = 0n;
  let totalNotional = 0n;
  for (const id of heldMarkets(account)) {
    const { size, basis } = account.positions.get(id)!;
    const market = snapshot.markets.get(id)!;
    const { fundingIndex, term } = accruals.get(id);
    const { risk, skewScale } = market.config;
    equity = addInt(equity, positionValue(size, basis, market.price, fundingIndex), "accountSummary");
    const positionNotional = notional(size, market.price);
    const mmr = maintenanceMarginRatio(risk, term, abs(size), skewScale);
    maintenanceMargin = addUint(maintenanceMargin, marginRequirement(positionNotional, mmr), "accountSummary");
    totalNotional = addUint(totalNotional, positionNotional, "accountSummary");
  }
  const lm = liquidationMargin(snapshot.liquidationMargin, totalNotional);
  maintenanceMargin = addUint(maintenanceMargin, lm, "accountSummary");
  return { margin, equity, maintenanceMargin, initialMargin: 0n, notional: totalNotional };
}

/**
 * Mirrors LiquidationEngine._tryPositions for an account with a leg in a market without a price:
 * - "unpriced" when a leg's market is not merely stale (another oracle error, or its last answer does
 *   not read) or when the account has no fresh leg: the contract refuses with the oracle's error;
 * - "waits" when the account is bankrupt on its fresh legs while its stale legs, at the edge of their
 *   band, could meet the loss (the contract's StaleLegMayCoverLoss);
 * - otherwise the account's summary with each stale leg at its band's edge (long up, short down), as
 *   staleValuation writes it: equity and notional over every leg, maintenance over every leg plus one
 *   liquidation margin on the whole notional (at least a wei of it for the stale legs).
 */
export function staleValuation(
  view: ChainView,
  account: AccountSnapshot,
): AccountSummary | "unpriced" | "waits" | "unevaluated" {
  const fresh = new Map<number, EnginePosition>();
  const markets = new Map<number, MarketSnapshot>();
  let staleLegs = 0;
  for (const [id, position] of account.positions) {
    if (position.size === 0n) continue;
    const priced = view.engine.markets.get(id);
    if (priced) {
      fresh.set(id, position);
      markets.set(id, priced);
      continue;
    }
    const stale = view.stale.get(id);
    if (!stale) return "unpriced";
    markets.set(id, position.size > 0n ? stale.long : stale.short);
    staleLegs++;
  }
  if (fresh.size === 0) return "unpriced";
  const engine: EngineSnapshot = { ...view.engine, markets };
  try {
    const all = accountSummary(engine, account);
    if (staleLegs === 0) return all;
    const freshOnly = accountSummary(engine, { margin: account.margin, positions: fresh });
    if (freshOnly.equity < 0n && all.equity >= 0n) return "waits";
    // staleValuation counts the stale legs' maintenance as at least one wei
    const lm = (notional: bigint) => liquidationMargin(engine.liquidationMargin, notional);
    const staleMaintenance =
      all.maintenanceMargin - lm(all.notional) - (freshOnly.maintenanceMargin - lm(freshOnly.notional));
    if (staleMaintenance === 0n) return { ...all, maintenanceMargin: all.maintenanceMargin + 1n };
    return all;
  } catch {
    return "unevaluated";
  }
}
