/**
 * Reading what happened: the liquidation engine's logs since a block, folded into the run. Each
 * liquidated leg moves the market's impact; each settled tranche counts (backstops apart); the book
 * follows the same blocks' events (book.ts); an account fully closed with nothing left is counted
 * wiped out.
 */
import { WAD } from "../lib/math/index.js";
import type { EventOf } from "./contracts.js";
import type { ILiquidationEngine } from "../../types/ethers-contracts/index.js";
import type { RunState } from "./state.js";
import { backstopLog } from "./backstop.js";
import { traceDeclines } from "./traceDeclines.js";

type Ev<N extends keyof ILiquidationEngine["filters"]> = EventOf<ILiquidationEngine, N>;

/** What the logs since `from` did: the notional liquidated and the tranches settled. */
export async function digest(
  run: RunState,
  from: number,
): Promise<{ notional: bigint; tranches: number; unwound: bigint }> {
  const le = run.c.liquidationEngine;
  const logs = await run.chain.logs(from, [await le.getAddress()]);
  await traceDeclines(run, logs);
  const out = { notional: 0n, tranches: 0, unwound: 0n };
  const touched = new Set<bigint>();
  const closed = new Set<bigint>();
  const bankrupt = new Set<bigint>();
  for (const log of logs) {
    const parsed = le.interface.parseLog(log);
    if (!parsed) out.unwound += backstopLog(run, log, touched);
    else if (parsed.name === "TrancheLiquidated") {
      const e = parsed.args as unknown as Ev<"TrancheLiquidated">;
      out.notional += legLiquidated(run, e);
      if (e.badDebtCovered + e.badDebtSocialised > 0n) bankrupt.add(e.accountId);
      touched.add(e.accountId);
    } else if (parsed?.name === "LiquidationSettled") {
      const e = parsed.args as unknown as Ev<"LiquidationSettled">;
      trancheSettled(run, e);
      out.tranches++;
      if (e.fraction === WAD) closed.add(e.accountId);
    } else if (parsed?.name === "AutoDeleveraged") {
      touched.add((parsed.args as unknown as Ev<"AutoDeleveraged">).accountId);
    } else if (parsed?.name === "BackstopDeleveraged") {
      // the vault's inventory closed against a trader's opposite position at the oracle: no sale, no impact
      const e = parsed.args as unknown as Ev<"BackstopDeleveraged">;
      touched.add(e.accountId);
      if (run.backstop) {
        run.backstop.deleveraged++;
        run.backstop.deleveragedNotional += ((e.sizeDelta < 0n ? -e.sizeDelta : e.sizeDelta) * e.price) / WAD;
      }
    }
  }
  await run.book.sync();
  run.touchedSinceHint += touched.size;
  for (const id of closed) {
    const acct = run.book.accounts.get(id)!;
    if (acct.positions.size === 0 && (acct.margin === 0n || bankrupt.has(id))) run.record.wipedOut.add(id);
  }
  return out;
}

/** One liquidated leg: impact, keeper reward; returns its notional. */
function legLiquidated(run: RunState, e: Ev<"TrancheLiquidated">): bigint {
  run.impact.addTrade(Number(e.marketId), e.sizeDelta, e.fillPrice);
  run.record.counters.keeperRewards += e.keeperReward;
  const size = e.sizeDelta < 0n ? -e.sizeDelta : e.sizeDelta;
  return (size * e.fillPrice) / WAD;
}

function trancheSettled(run: RunState, e: Ev<"LiquidationSettled">): void {
  const r = run.record;
  r.counters.tranches++;
  if (e.backstop) {
    r.backstops++;
    r.backstopNotional += e.trancheNotional;
  }
  r.liquidated.add(e.accountId);
}
