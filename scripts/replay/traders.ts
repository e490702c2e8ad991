/**
 * The population's positions, added through two-step orders as every deployment has them (commit ->
 * the keeper's settle job fills the order at the first round at least `minDelay` after the commit,
 * which the replay pushes at the next step). A trader acts as one who knows the fill comes a step
 * later:
 *  - it commits at the first tick at or after its `openAt` (when the one-step trader of the same spec
 *    opened), and is filled a step later;
 *  - it sizes for the price it will tolerate, not the price now: the wanted size is shrunk (by 5%
 *    steps) until the engine's own initial-margin check passes with 0.5% to spare at the worst price
 *    of its tolerance (`ORDER_SLIPPAGE_BPS` above the price in force: a rise raises the notional, so
 *    the initial margin, of a long and a short alike) with the settlement reward already paid (it
 *    leaves the margin before the fill), computed with the bigint mirror from the state the commit's
 *    block will execute on; its limit price is the same tolerance away from the fill quoted now (the
 *    price with the market's skew premium, the pending orders' included);
 *  - an order refused at settlement (the price ran past its limit, the stress level, a margin check) is
 *    committed again, re-sized at the price then in force, at the next tick, at most
 *    `MAX_ORDER_ATTEMPTS` commits per trader.
 * A trader the protocol refuses at commit (breaker reduce-only, halted, no size fits) stays out, as
 * on the one-step path. `positionsOpened` counts the settled orders, `positionsRefused` the traders
 * left out.
 */
import {
  type LiquidationMarginConfig,
  type MarketSnapshot,
  WAD,
  applyTrade,
  fillPrice,
  initialMarginRatio,
  liquidationMargin,
  marginRequirement,
  mulDivDown,
  mulDivUp,
  notional as notionalOf,
  pendingAccrual,
  positionValue,
  tradeFee,
} from "../lib/math/index.js";
import type { TraderSpec } from "./population.js";
import { type MarketRun, type RunState, accountOf } from "./state.js";

const SCALE = 10n ** 12n; // collateral (6 decimals) -> WAD
const BPS = 10_000n;

/** A trader's price tolerance, in basis points of the price at commit: its limit price and its sizing's worst price. */
export const ORDER_SLIPPAGE_BPS = 100n;
/** Commits per trader at most (the first and the retries after a refusal at settlement). */
export const MAX_ORDER_ATTEMPTS = 5;

/** The traders' orders while the run goes: those in flight, and where the order logs were read up to. */
export type TraderOrders = {
  /** the settlement reward (WAD) the settler takes from the margin before the fill */
  reward: bigint;
  /** account id -> its trader and the commits made so far */
  inFlight: Map<bigint, { trader: TraderSpec; attempts: number }>;
  /** the next block whose order events are unread */
  fromBlock: number;
  /** commits made again after a refusal */
  retries: number;
};

/** Commits the orders of the traders due by `t` and of those whose order the last settlement refused. */
export async function openDuePositions(run: RunState, t: number): Promise<void> {
  const counters = run.record.counters;
  const due: { trader: TraderSpec; attempts: number }[] = await refusedOrders(run);
  while (run.nextOpen < run.toOpen.length && run.toOpen[run.nextOpen].openAt <= t)
    due.push({ trader: run.toOpen[run.nextOpen++], attempts: 0 });
  if (due.length === 0) return;
  const snap = await run.book.snapshot(run.chain.time);
  const rooms = new Map<number, MarketRoom>();
  for (const m of run.markets) rooms.set(m.id, await marketRoom(run, m, snap.markets.get(m.id)!));
  const orders = run.orders;
  for (const { trader, attempts } of due) {
    const m = run.markets[trader.market];
    const room = rooms.get(m.id)!;
    const size = room.newRisk
      ? sizeFor(trader, room, m, snap.timestamp, snap.liquidationMargin, orders.reward)
      : undefined;
    if (size === undefined) {
      counters.positionsRefused++;
      continue;
    }
    if (size.clamped && attempts === 0) counters.leverageClamped++;
    const id = accountOf(run, trader);
    const delta = trader.long ? size.size : -size.size;
    // the quote: the fill at the price now, with the market's skew premium (pending orders' included)
    const quote = fillPrice(room.snap.price, room.skew, delta, room.snap.config.skewScale);
    const tx = run.c.orders.commitOrder.populateTransaction(id, m.id, delta, limitPrice(quote, trader.long));
    if (!(await run.chain.exec(run.roles.trader, tx, 1_000_000)).ok) {
      counters.positionsRefused++;
      continue;
    }
    if (attempts > 0) orders.retries++;
    orders.inFlight.set(id, { trader, attempts: attempts + 1 });
    // the order fills before any later commit's: count it in the market's skew and open interest
    room.skew += delta;
    if (trader.long) room.long += size.size;
    else room.short += size.size;
  }
}

/** The trader's limit price: its tolerance away from the fill quoted at commit, against it. */
export function limitPrice(quote: bigint, long: boolean): bigint {
  return long ? mulDivUp(quote, BPS + ORDER_SLIPPAGE_BPS, BPS) : mulDivDown(quote, BPS - ORDER_SLIPPAGE_BPS, BPS);
}

/**
 * Reads the settlements since the last read: a settled order opens the trader's position; a refused
 * one is returned to be committed again (or, after `MAX_ORDER_ATTEMPTS`, leaves the trader out).
 */
async function refusedOrders(run: RunState): Promise<{ trader: TraderSpec; attempts: number }[]> {
  const orders = run.orders;
  const out: { trader: TraderSpec; attempts: number }[] = [];
  if (orders.inFlight.size === 0) return out;
  const iface = run.c.orders.interface;
  const topics = [iface.getEvent("OrderSettled").topicHash, iface.getEvent("OrderRefused").topicHash];
  const logs = await run.chain.rpc<{ topics: string[]; data: string }[]>("eth_getLogs", [
    {
      fromBlock: "0x" + orders.fromBlock.toString(16),
      toBlock: "latest",
      address: [await run.c.orders.getAddress()],
      topics: [topics],
    },
  ]);
  orders.fromBlock = (await run.chain.blockNumber()) + 1;
  for (const log of logs) {
    const id = BigInt(log.topics[1]);
    const o = orders.inFlight.get(id);
    if (!o) continue;
    orders.inFlight.delete(id);
    if (log.topics[0] === topics[0]) run.record.counters.positionsOpened++;
    else if (o.attempts < MAX_ORDER_ATTEMPTS) out.push(o);
    else run.record.counters.positionsRefused++;
  }
  return out.sort((a, b) => a.trader.index - b.trader.index);
}

/** What a market accepts now: its skew and open interest, and the breaker's trade policy. */
type MarketRoom = {
  snap: MarketSnapshot;
  skew: bigint;
  long: bigint;
  short: bigint;
  newRisk: boolean;
  feeMul: bigint;
  /** 0: no cap */
  maxLev: bigint;
};

async function marketRoom(run: RunState, m: MarketRun, snap: MarketSnapshot): Promise<MarketRoom> {
  const st = snap.state;
  const room = {
    snap,
    skew: st.longOpenInterest - st.shortOpenInterest,
    long: st.longOpenInterest,
    short: st.shortOpenInterest,
  };
  if (!run.c.breaker) return { ...room, newRisk: true, feeMul: WAD, maxLev: 0n };
  const pol = await run.c.breaker.tradePolicy(m.id);
  return {
    ...room,
    newRisk: pol.newRiskAllowed && pol.tradingOpen,
    feeMul: pol.feeMultiplier,
    maxLev: pol.maxLeverage,
  };
}

/**
 * The largest size (from the wanted leverage down, by 5% steps) the protocol accepts at the worst
 * price of the trader's tolerance, after the settlement reward, or undefined.
 */
function sizeFor(
  trader: TraderSpec,
  room: MarketRoom,
  m: MarketRun,
  now: bigint,
  lm: LiquidationMarginConfig,
  reward: bigint,
): { size: bigint; clamped: boolean } | undefined {
  // the settlement reward leaves the margin before the fill
  const margin = trader.margin * SCALE - reward;
  const ms = room.snap;
  // the worst price of the trader's tolerance for its initial margin: a higher one
  const worst = mulDivUp(ms.price, BPS + ORDER_SLIPPAGE_BPS, BPS);
  const { fundingIndex, term } = pendingAccrual(ms, now);
  const fits = (size: bigint): boolean => {
    const delta = trader.long ? size : -size;
    const fill = fillPrice(worst, room.skew, delta, ms.config.skewScale);
    const fee = tradeFee(ms.config.risk, 0n, delta, fill, ms.sigma, room.feeMul);
    const { newBasis } = applyTrade(0n, 0n, delta, fill, fundingIndex);
    const equity = margin - fee + positionValue(delta, newBasis, worst, fundingIndex);
    const n = notionalOf(delta, worst);
    const imr = initialMarginRatio(ms.config.risk, ms.sigma, term, size, ms.config.skewScale, ms.levelImMultiplier);
    // a fresh account's one position: its initial margin plus the account's liquidation margin
    const im = marginRequirement(n, imr) + liquidationMargin(lm, n);
    if (equity <= 0n || equity < im + im / 200n) return false;
    if (room.maxLev !== 0n && n * WAD > ((equity * room.maxLev) / 1000n) * 995n) return false;
    return (trader.long ? room.long : room.short) + size <= m.spec.maxOpenInterest;
  };
  let size = mulDivDown(mulDivDown(trader.margin * SCALE, trader.leverageWad, WAD), WAD, ms.price);
  let clamped = false;
  for (let tries = 0; size > 0n && !fits(size) && tries < 80; tries++) {
    size = (size * 95n) / 100n;
    clamped = true;
  }
  if (size === 0n || !fits(size)) return undefined;
  return { size, clamped };
}
