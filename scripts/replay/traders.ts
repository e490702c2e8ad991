/**
 * The population's positions, opened when each trader is due, at the oracle price in force. Each
 * wanted size is shrunk (by 5% steps) until the engine's own initial-margin check passes with 0.5% to
 * spare, computed with the bigint mirror from the state the block will execute on; a trader the
 * protocol refuses at any size (breaker reduce-only, halted) stays out.
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
  notional as notionalOf,
  pendingAccrual,
  positionValue,
  tradeFee,
} from "../lib/math/index.js";
import type { TraderSpec } from "./population.js";
import { type MarketRun, type RunState, accountOf } from "./state.js";

const SCALE = 10n ** 12n; // collateral (6 decimals) -> WAD
const MAX_UINT = 2n ** 256n - 1n;

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

/** Opens the positions of the traders due by `t`. */
export async function openDuePositions(run: RunState, t: number): Promise<void> {
  const due: TraderSpec[] = [];
  while (run.nextOpen < run.toOpen.length && run.toOpen[run.nextOpen].openAt <= t) due.push(run.toOpen[run.nextOpen++]);
  if (due.length === 0) return;
  const snap = await run.book.snapshot(run.chain.time);
  const rooms = new Map<number, MarketRoom>();
  for (const m of run.markets) rooms.set(m.id, await marketRoom(run, m, snap.markets.get(m.id)!));
  const counters = run.record.counters;
  for (const trader of due) {
    const m = run.markets[trader.market];
    const room = rooms.get(m.id)!;
    const size = room.newRisk ? sizeFor(trader, room, m, snap.timestamp, snap.liquidationMargin) : undefined;
    if (size === undefined) {
      counters.positionsRefused++;
      continue;
    }
    if (size.clamped) counters.leverageClamped++;
    const id = accountOf(run, trader);
    const delta = trader.long ? size.size : -size.size;
    const tx = run.c.engine.modifyPosition.populateTransaction(id, m.id, delta, trader.long ? MAX_UINT : 0n);
    if (!(await run.chain.exec(run.roles.trader, tx, 1_000_000)).ok) {
      counters.positionsRefused++;
      continue;
    }
    counters.positionsOpened++;
    room.skew += delta;
    if (trader.long) room.long += size.size;
    else room.short += size.size;
  }
}

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

/** The largest size (from the wanted leverage down, by 5% steps) the protocol accepts, or undefined. */
function sizeFor(
  trader: TraderSpec,
  room: MarketRoom,
  m: MarketRun,
  now: bigint,
  lm: LiquidationMarginConfig,
): { size: bigint; clamped: boolean } | undefined {
  const margin = trader.margin * SCALE;
  const ms = room.snap;
  const { fundingIndex, term } = pendingAccrual(ms, now);
  const fits = (size: bigint): boolean => {
    const delta = trader.long ? size : -size;
    const fill = fillPrice(ms.price, room.skew, delta, ms.config.skewScale);
    const fee = tradeFee(ms.config.risk, 0n, delta, fill, ms.sigma, room.feeMul);
    const { newBasis } = applyTrade(0n, 0n, delta, fill, fundingIndex);
    const equity = margin - fee + positionValue(delta, newBasis, ms.price, fundingIndex);
    const n = notionalOf(delta, ms.price);
    const imr = initialMarginRatio(ms.config.risk, ms.sigma, term, size, ms.config.skewScale, ms.levelImMultiplier);
    // a fresh account's one position: its initial margin plus the account's liquidation margin
    const im = marginRequirement(n, imr) + liquidationMargin(lm, n);
    if (equity <= 0n || equity < im + im / 200n) return false;
    if (room.maxLev !== 0n && n * WAD > ((equity * room.maxLev) / 1000n) * 995n) return false;
    return (trader.long ? room.long : room.short) + size <= m.spec.maxOpenInterest;
  };
  let size = mulDivDown(mulDivDown(margin, trader.leverageWad, WAD), WAD, ms.price);
  let clamped = false;
  for (let tries = 0; size > 0n && !fits(size) && tries < 80; tries++) {
    size = (size * 95n) / 100n;
    clamped = true;
  }
  if (size === 0n || !fits(size)) return undefined;
  return { size, clamped };
}
