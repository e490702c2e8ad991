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
      gasUsed: chain.gasUsed.toString(),
      sendMs: Math.round(chain.sendMs),
      callMs: Math.round(chain.callMs),
      keeper: run.keeper.name,
      ...(await run.keeper.stats()),
      ...backstopStats(run),
      ...(await orderStats(run)),
    },
  };
  const notes = run.keeper.notes();
  if (counters.adlFailures) notes.push(`${counters.adlFailures} autoDeleverage transaction(s) reverted`);
  if (notes.length) out.notes = notes;
  return out;
}

/**
 * The two-step orders of the run, from the engine's logs: how many were committed, settled and refused,
 * and the delay from commit to settlement (seconds; the replay pushes a round per step, so it is about
 * one step, longer where the path's price did not move and no round came).
 */
async function orderStats(run: RunState): Promise<Record<string, number>> {
  const orders = run.c.orders;
  const logs = await run.chain.logs(0, [await orders.getAddress()]);
  let committed = 0;
  let refused = 0;
  const delays: number[] = [];
  for (const log of logs) {
    const parsed = orders.interface.parseLog(log);
    if (parsed?.name === "OrderCommitted") committed++;
    else if (parsed?.name === "OrderRefused") refused++;
    else if (parsed?.name === "OrderSettled") delays.push(Number(parsed.args.delay));
  }
  const mean = delays.length === 0 ? 0 : delays.reduce((a, b) => a + b, 0) / delays.length;
  return {
    ordersCommitted: committed,
    ordersSettled: delays.length,
    ordersRefused: refused,
    orderDelayMeanSeconds: Math.round(mean * 10) / 10,
    orderDelayMaxSeconds: delays.length === 0 ? 0 : Math.max(...delays),
  };
}
