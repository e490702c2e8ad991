/**
 * Auto-deleveraging of every pending deficit: the other side's positions in profit, ranked by
 * pnl * leverage (value * account notional / account equity, the contract's own score, computed with
 * the mirror), at most a batch of 100 per market and side per tick.
 */
import { mulDivDown, unrealisedPnl } from "../lib/math/index.js";
import { TX_GAS_CAP } from "./chain.js";
import type { RunState } from "./state.js";

const MAX_ADL_BATCH = 100;

export async function autoDeleverage(run: RunState): Promise<void> {
  const snap = await run.book.snapshot(run.chain.time);
  const le = run.c.liquidationEngine;
  const counters = run.record.counters;
  for (const m of run.markets) {
    for (const bankruptLong of [true, false]) {
      if ((await le.pendingDeficit(m.id, bankruptLong)) === 0n) continue;
      const ranked: { id: bigint; score: bigint }[] = [];
      for (const [id, acct] of run.book.accounts) {
        const pos = acct.positions.get(m.id);
        if (pos === undefined || pos.size > 0n === bankruptLong) continue;
        const value = unrealisedPnl(snap.markets.get(m.id)!, pos, snap.timestamp);
        if (value <= 0n) continue;
        const s = run.book.summary(snap, id);
        if (s.equity <= 0n) continue;
        ranked.push({ id, score: mulDivDown(value, s.notional, s.equity) });
      }
      if (ranked.length === 0) continue;
      ranked.sort((x, y) => (x.score > y.score ? -1 : x.score < y.score ? 1 : x.id < y.id ? -1 : 1));
      const ids = ranked.slice(0, MAX_ADL_BATCH).map((r) => r.id);
      counters.adlRuns++;
      const tx = le.autoDeleverage.populateTransaction(m.id, bankruptLong, ids);
      if (!(await run.chain.exec(run.roles.operator, tx, TX_GAS_CAP)).ok) counters.adlFailures++;
    }
  }
}
