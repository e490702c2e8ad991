/**
 * Recording: one step per tick (prices, liquidated notional, breaker level, insurance assets,
 * accounts below maintenance), and at the end the run itself (result.ts): the steps, the metrics,
 * the parameters read back from the chain, the chain's and the keeper's counters.
 */
import { computeMetrics } from "./metrics.js";
import { backstopStats, backstopStep } from "./backstop.js";
import { paramsJson } from "./presets.js";
import type { ReplayMarket, ReplayRun, ReplayStep } from "./result.js";
import type { RunState } from "./state.js";

const SCALE = 10n ** 12n; // collateral (6 decimals) -> WAD

/** The step of the tick at `t`, after everything in it happened. */
export async function recordStep(run: RunState, t: number, pathNow: bigint[], notional: bigint): Promise<void> {
  const { c, markets, record } = run;
  // the keeper's hint of this tick holds while no account changed since it was taken
  const hint = run.hints.last;
  const unchanged = hint !== undefined && hint.t === t && run.touchedSinceHint === 0;
  const liquidatable = unchanged ? hint.ids.length : run.book.belowMaintenance(await run.book.snapshot(t)).length;
  const levels: number[] = [];
  for (const m of markets) levels.push(c.breaker ? Number((await c.breaker.marketLevel(m.id)).level) : 0);
  const step: ReplayStep = {
    t,
    pathPrice: pathNow[0].toString(),
    oraclePrice: markets[0].lastAnswer.toString(),
    liquidatedNotional: notional.toString(),
    level: Math.max(...levels),
    insuranceAssets: ((await c.insuranceFund.coverable()) * SCALE).toString(),
    liquidatable,
  };
  if (markets.length > 1) {
    step.markets = markets.map((m, j) => ({
      symbol: m.symbol,
      pathPrice: pathNow[j].toString(),
      oraclePrice: m.lastAnswer.toString(),
      level: levels[j],
    }));
  }
  if (run.clock.feedback.has(t)) step.feedback = true;
  const backstop = await backstopStep(run);
  if (backstop) step.backstop = backstop;
  record.steps.push(step);
  record.stepPrices.push(markets.map((m, j) => ({ path: pathNow[j], oracle: m.lastAnswer })));
}

export type RunLabel = { event: string; title?: string };

/** The finished run: ledgers read back, metrics computed, counters gathered. */
export async function recordRun(
  run: RunState,
  label: RunLabel,
  time: { seconds: number; cpuSeconds: number },
): Promise<ReplayRun> {
  const { c, record, params, plan, chain } = run;
  const counters = record.counters;
  const le = c.liquidationEngine;
  counters.badDebtIncurred = await le.badDebtIncurred();
  counters.badDebtCovered = await le.badDebtCovered();
  counters.badDebtSocialised = await le.badDebtSocialised();
  counters.badDebtPending = await le.badDebtPending();
  counters.accountsLiquidated = record.liquidated.size;
  counters.accountsWipedOut = record.wipedOut.size;
  const orders = await orderStats(run);
  const out: ReplayRun = {
    event: label.event,
    title: label.title ?? label.event,
    preset: params.name,
    paths: run.markets.map((m) => ({
      symbol: m.symbol,
      source: m.path.source,
      stylised: m.path.stylised,
      points: m.path.points.length,
    })),
    population: { accounts: plan.population.accounts, seed: plan.population.seed },
    seconds: time.seconds,
    cpuSeconds: time.cpuSeconds,
    steps: record.steps,
    metrics: computeMetrics(record.steps, record.stepPrices, counters, params.replay.windowSeconds),
    params: {
      preset: paramsJson(params),
      population: plan.population,
      onChain: { breaker: params.breaker, ...run.configs },
    },
    markets: run.markets.map((m): ReplayMarket => ({
      symbol: m.symbol,
      marketId: m.id,
      initialPrice: m.path.points[0].priceWad.toString(),
      wantedNotional: m.wanted.toString(),
      depthUsd: m.depthUsd.toString(),
      impactDepthUsd: m.impactDepthUsd.toString(),
      skewScale: m.skewScale.toString(),
    })),
    stats: {
      ticks: record.steps.length,
      feedbackTicks: run.clock.feedback.size,
      backstopTranches: record.backstops,
      backstopNotional: record.backstopNotional.toString(),
      txs: chain.txs,
      failedTxs: chain.failedTxs,
      calls: chain.calls,
      /** reads the chain answered without the node (chain.ts: nothing changed since, a mined block, the known head) */
      cachedReads: chain.readHits + chain.blockHits + chain.headHits,
      gasUsed: chain.gasUsed.toString(),
      sendMs: Math.round(chain.sendMs),
      callMs: Math.round(chain.callMs),
      keeper: run.keeper.name,
      ...(await run.keeper.stats()),
      ...backstopStats(run),
      ...orders.stats,
    },
  };
  const notes = run.keeper.notes();
  if (orders.note) notes.push(orders.note);
  if (counters.adlFailures) notes.push(`${counters.adlFailures} autoDeleverage transaction(s) reverted`);
  if (notes.length) out.notes = notes;
  return out;
}

/**
 * The two-step orders of the run, from the engine's logs: how many were committed, settled, refused and
 * expired (not settled within the window: cancelled, replaced by a new commit, or past it at the end),
 * how many are still pending at the end (within their window), the traders' commits after a refusal,
 * and the delay from commit to settlement (seconds: median, mean and max; the replay pushes a round per
 * step, so it is about one step, longer where the path's price did not move and no round came).
 */
const ORDER_EVENTS = new Set(["OrderCommitted", "OrderCancelled", "OrderRefused", "OrderSettled"]);

async function orderStats(run: RunState): Promise<{ stats: Record<string, number>; note?: string }> {
  const orders = run.c.orders;
  const logs = await run.chain.logs(0, [await orders.getAddress()]);
  const { maxDelay } = await orders.orderConfig();
  let committed = 0;
  let refused = 0;
  let expired = 0;
  const delays: number[] = [];
  /** refusal reason (the error's name) -> count */
  const reasons = new Map<string, number>();
  /** account -> its pending order's commit time */
  const open = new Map<bigint, bigint>();
  for (const log of logs) {
    const parsed = orders.interface.parseLog(log);
    if (!parsed || !ORDER_EVENTS.has(parsed.name)) continue;
    const id = BigInt(parsed.args.accountId);
    if (parsed.name === "OrderCommitted") {
      committed++;
      open.set(id, BigInt(parsed.args.expiresAt) - maxDelay);
    } else if (parsed.name === "OrderCancelled") {
      expired++;
      open.delete(id);
    } else if (parsed.name === "OrderRefused") {
      refused++;
      const reason = errorName(run, parsed.args.reason as string);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      open.delete(id);
    } else if (parsed.name === "OrderSettled") {
      delays.push(Number(parsed.args.delay));
      open.delete(id);
    }
  }
  const end = BigInt(run.chain.time);
  let pending = 0;
  for (const at of open.values()) {
    if (end > at + maxDelay) expired++;
    else pending++;
  }
  const mean = delays.length === 0 ? 0 : delays.reduce((a, b) => a + b, 0) / delays.length;
  const stats = {
    ordersCommitted: committed,
    ordersSettled: delays.length,
    ordersRefused: refused,
    ordersExpired: expired,
    ordersPending: pending,
    orderRetries: run.orders.retries,
    orderDelayMedianSeconds: median(delays),
    orderDelayMeanSeconds: Math.round(mean * 10) / 10,
    orderDelayMaxSeconds: delays.length === 0 ? 0 : Math.max(...delays),
  };
  if (reasons.size === 0) return { stats };
  const why = [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return { stats, note: `orders refused at settlement: ${why.map(([r, n]) => `${r} ${n}`).join(", ")}` };
}

/** The name of the protocol error whose selector is `selector` (the selector itself when unknown). */
function errorName(run: RunState, selector: string): string {
  for (const iface of [run.c.orders.interface, run.c.engine.interface, run.c.liquidationEngine.interface]) {
    let e: ReturnType<typeof iface.getError> = null;
    try {
      e = iface.getError(selector);
    } catch {
      // not this interface's
    }
    if (e) return e.name;
  }
  return selector;
}

/** The median of `xs` (the mean of the two middle ones for an even count), 0 for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
