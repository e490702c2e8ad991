/**
 * EXPERIMENTAL (off by default; docs/experiments.md, "The own-impact liquidation mark, emulated in the
 * keeper"): a liquidation mark that the protocol's own transient impact moves less, emulated in the keeper.
 *
 * Per market the keeper keeps a signed, decaying sum of the protocol's own forced trades, learned from the
 * events it follows: every liquidation leg (`TrancheLiquidated`: tranches and backstop closes) and every sale
 * of the backstop vault's unwind (`BackstopUnwound`), each as signed notional (sizeDelta x price; a sell is
 * negative), decaying with the backstop's `flowHalfLife` from its block's timestamp. The estimated own impact
 * is that sum over the depth the protocol assumes (`skewScale` x the oracle price), its magnitude capped (by
 * default at `impactBudget` x `lateMultiplier`, the largest standing impact the paced unwind may build). The
 * mark is `oracle / (1 + estimate)`. With the option on, an account below maintenance at the oracle is sent
 * for liquidation only if it is below maintenance at the mark too: the mark only ever delays a liquidation.
 * With the scope `sales` (bs14) it delays only a liquidation that sells: an account the backstop vault would
 * take over is sent whatever the mark says (the keeper asks the engine first: `keptAtMarkForSales`).
 *
 * Rounding makes the correction the smaller one: the decay factor and the estimate toward zero, the mark
 * toward the oracle. Everything is bigint WAD.
 *
 * The rule is now also the chain's (mk17, OwnImpactModule: the sales-only scope decided at the account's turn,
 * binding every liquidator). The keeper follows the chain whenever its switch is on (`markedByChainFlows`,
 * `heldAtChainMark`: the chain's measure read from its `ownFlow` view, no decay or event follower mirrored); this
 * emulation stays an experimental option for measuring other scopes and caps.
 */
import { WAD, abs, mulWadDown } from "../lib/math/fixedPoint.js";
import {
  type AccountSnapshot,
  type EngineSnapshot,
  type MarketSnapshot,
  type MarketStateSnapshot,
  isLiquidatable,
} from "../lib/math/engine.js";
import { accrued } from "./chainView.js";
import type { IBackstopEngine } from "../../types/ethers-contracts/contracts/interfaces/IBackstop.sol/IBackstopEngine.js";
import { isTransportError } from "./rpc.js";
import { maintenanceSummary } from "./scanner.js";

/** Working precision of the decay's series: 36 decimals. */
const HI = 10n ** 36n;
const LN2_HI = 693_147_180_559_945_309_417_232_121_458_176_568n; // ln 2 x 1e36, rounded down

/**
 * 2^(-dt / halfLife) in WAD, rounded down (never above the exact value): the integer halvings exactly, the
 * fraction by the alternating series of e^(-x), x = frac x ln2 < ln2, summed at 36 decimals (its error is far
 * below a wei of the result) and then rounded down.
 */
export function decayFactorWad(dtSeconds: bigint, halfLifeSeconds: bigint): bigint {
  if (halfLifeSeconds <= 0n) throw new RangeError("half-life must be positive");
  if (dtSeconds <= 0n) return WAD;
  const halvings = dtSeconds / halfLifeSeconds;
  if (halvings >= 64n) return 0n;
  const rest = dtSeconds % halfLifeSeconds;
  if (rest === 0n) return WAD >> halvings;
  // x = rest / halfLife x ln2, at 1e36 (rounded up, so e^(-x) is not overstated)
  const x = (rest * LN2_HI + halfLifeSeconds - 1n) / halfLifeSeconds;
  let sum = HI;
  let term = HI;
  for (let n = 1n; n < 60n && term !== 0n; n++) {
    term = (term * x) / (HI * n);
    sum = n % 2n === 1n ? sum - term : sum + term;
  }
  // the truncated terms make the partial sum off by at most ~60 units of 1e-36; take 100 off to stay below
  const fraction = sum > 100n ? sum - 100n : 0n;
  return (fraction / (HI / WAD)) >> halvings;
}

/** One market's signed own flow (WAD quote notional, a sell negative) as of `at` (seconds). */
export type OwnFlow = { amount: bigint; at: bigint };

/** The flow decayed from `flow.at` to `now`, rounded toward zero. */
export function decayedFlow(flow: OwnFlow, now: bigint, halfLife: bigint): bigint {
  if (flow.amount === 0n || now <= flow.at) return flow.amount;
  const f = decayFactorWad(now - flow.at, halfLife);
  const m = (abs(flow.amount) * f) / WAD;
  return flow.amount < 0n ? -m : m;
}

/** Adds a trade of `signedNotional` at `t` (seconds) to a market's flow; returns the new flow. */
export function addFlow(flow: OwnFlow | undefined, signedNotional: bigint, t: bigint, halfLife: bigint): OwnFlow {
  if (!flow) return { amount: signedNotional, at: t };
  const at = t > flow.at ? t : flow.at;
  return { amount: decayedFlow(flow, at, halfLife) + signedNotional, at };
}

/**
 * The estimated own impact, WAD (a fraction of the price; negative after sales): the decayed flow over the
 * protocol's depth `skewScale` x price, rounded toward zero, its magnitude at most `cap`.
 */
export function ownImpact(flowNow: bigint, skewScale: bigint, price: bigint, cap: bigint): bigint {
  const depth = mulWadDown(skewScale, price);
  if (depth === 0n || flowNow === 0n) return 0n;
  const m = (abs(flowNow) * WAD) / depth;
  const capped = m > cap ? cap : m;
  return flowNow < 0n ? -capped : capped;
}

/** The oracle price with the estimate taken out, `price / (1 + impact)`, rounded toward the oracle price. */
export function markPrice(price: bigint, impact: bigint): bigint {
  if (impact === 0n) return price;
  const den = WAD + impact;
  if (den <= 0n) throw new RangeError("own impact must be above -100%");
  // impact < 0: the mark is above the price, rounded down; impact > 0: below it, rounded up
  return impact < 0n ? (price * WAD) / den : (price * WAD + den - 1n) / den;
}

export type MarkSettings = {
  /** seconds: the backstop's flowHalfLife */
  halfLife: bigint;
  /** WAD: the largest |estimate| */
  cap: bigint;
};

/** A followed forced trade, before its block's timestamp is known. */
type PendingTrade = { marketId: number; signedNotional: bigint; blockNumber: number };

/**
 * The keeper's own-flow book: trades come from the event follower in block order (`trade`), their blocks'
 * timestamps are resolved before the scan (`settle`), and `marks` gives each market's mark at the view.
 */
export class OwnImpactMark {
  private readonly flows = new Map<number, OwnFlow>();
  private pending: PendingTrade[] = [];
  /** accounts skipped so far (liquidatable at the oracle, not at the mark) */
  skipped = 0;

  /** A forced trade followed in `blockNumber`: `sizeDelta` (negative: a sell) at `price`. */
  trade(marketId: number, sizeDelta: bigint, price: bigint, blockNumber: number): void {
    const signedNotional = (sizeDelta * price) / WAD;
    if (signedNotional !== 0n) this.pending.push({ marketId, signedNotional, blockNumber });
  }

  /** Folds the pending trades in, in block order, each at its block's timestamp. */
  async settle(halfLife: bigint, timestampOf: (blockNumber: number) => Promise<bigint>): Promise<void> {
    const trades = this.pending;
    this.pending = [];
    const times = new Map<number, bigint>();
    for (const t of trades) {
      let at = times.get(t.blockNumber);
      if (at === undefined) times.set(t.blockNumber, (at = await timestampOf(t.blockNumber)));
      this.flows.set(t.marketId, addFlow(this.flows.get(t.marketId), t.signedNotional, at, halfLife));
    }
  }

  /** The market's decayed flow at `now` (0 when none). */
  flowAt(marketId: number, now: bigint, halfLife: bigint): bigint {
    const f = this.flows.get(marketId);
    return f ? decayedFlow(f, now, halfLife) : 0n;
  }

  /** The engine snapshot with every market's price replaced by its mark. */
  markedSnapshot(engine: EngineSnapshot, s: MarkSettings): EngineSnapshot {
    const markets = new Map<number, MarketSnapshot>();
    for (const [id, m] of engine.markets) {
      const impact = ownImpact(this.flowAt(id, engine.timestamp, s.halfLife), m.config.skewScale, m.price, s.cap);
      markets.set(id, impact === 0n ? m : { ...m, price: markPrice(m.price, impact) });
    }
    return { ...engine, markets };
  }
}

/**
 * Whether an account is below maintenance at the marks (`marked`: `markedSnapshot`). An account with a
 * market the snapshot has no price for, or that the mirror cannot evaluate, counts as liquidatable: the
 * mark never holds back what it cannot value.
 */
export function liquidatableAtMark(marked: EngineSnapshot, account: AccountSnapshot): boolean {
  for (const [id, p] of account.positions) if (p.size !== 0n && !marked.markets.has(id)) return true;
  try {
    return isLiquidatable(maintenanceSummary(marked, account));
  } catch {
    return true;
  }
}

/**
 * The accounts of a scan's liquidatable list (worst first, kept in order) that are below maintenance at the
 * marks too; `snapshotOf` gives an account's snapshot (undefined: not in the book, kept).
 */
export function keptAtMark<T extends { accountId: bigint }>(
  liquidatable: readonly T[],
  marked: EngineSnapshot,
  snapshotOf: (accountId: bigint) => AccountSnapshot | undefined,
): T[] {
  return liquidatable.filter((a) => {
    const account = snapshotOf(a.accountId);
    return !account || liquidatableAtMark(marked, account);
  });
}

/** Whether the backstop vault would take the account over (in part or whole) if it were liquidated now. */
export type TakeoverProbe = (accountId: bigint) => Promise<boolean>;

/**
 * `keptAtMark` for the `sales` scope: an account below maintenance at the marks too is kept, as is one the
 * mark cannot value; of the others (below at the oracle only) each is asked of `vaultTakes`, and kept when the
 * vault would take it over. `taken`: the accounts kept for that reason. The list's order is kept.
 */
export async function keptAtMarkForSales<T extends { accountId: bigint }>(
  liquidatable: readonly T[],
  marked: EngineSnapshot,
  snapshotOf: (accountId: bigint) => AccountSnapshot | undefined,
  vaultTakes: TakeoverProbe,
): Promise<{ kept: T[]; taken: bigint[] }> {
  const verdicts = await Promise.all(
    liquidatable.map(async (a) => {
      const account = snapshotOf(a.accountId);
      if (!account || liquidatableAtMark(marked, account)) return "below";
      return (await vaultTakes(a.accountId)) ? "taken" : "left";
    }),
  );
  return {
    kept: liquidatable.filter((_, i) => verdicts[i] !== "left"),
    taken: liquidatable.filter((_, i) => verdicts[i] === "taken").map((a) => a.accountId),
  };
}

/**
 * Whether the backstop vault would take the account over if it were liquidated at `blockTag` (the mark's scope
 * `sales`): the engine's own takeover, `backstopTakeover(accountId, keeper)`, run as an eth_call from the
 * engine's address: the self-call `liquidate` and `liquidateBatch` make before any tranche, with the same checks
 * (the vault set, the account below maintenance, the drawdown breaker, the part or whole that fits the unwind
 * cap, the account, market, total, health and margin caps). A notional above zero is a takeover; zero or a
 * revert is a decline (the account would be tranched or closed). Without the backstop module: a decline. A
 * transport error is thrown. It sees the chain before the pass's batch: an earlier account of the same batch
 * that the vault takes may use the room this one was judged to fit (docs/experiments.md, bs14).
 */
export async function vaultWouldTake(
  backstop: IBackstopEngine | undefined,
  accountId: bigint,
  keeper: string,
  blockTag: number,
): Promise<boolean> {
  if (!backstop) return false;
  try {
    const from = backstop.target as string;
    return (await backstop.backstopTakeover.staticCall(accountId, keeper, { from, blockTag })) > 0n;
  } catch (e) {
    if (isTransportError(e)) throw e;
    return false;
  }
}

// ================================================================== the chain's rule (OwnImpactModule, mk17)

/** OwnImpactModule.MAX_MARK_SHIFT: the largest |estimate| whatever the backstop's parameters (WAD). */
export const MAX_MARK_SHIFT = WAD / 2n;

/** The chain's cap on |estimate|: impactBudget x lateMultiplier (WAD, rounded down), at most MAX_MARK_SHIFT. */
export function chainMarkCap(impactBudget: bigint, lateMultiplier: bigint): bigint {
  const cap = (impactBudget * lateMultiplier) / WAD;
  return cap > MAX_MARK_SHIFT ? MAX_MARK_SHIFT : cap;
}

/**
 * The engine snapshot with every market's price replaced by the chain's mark: `flows` is the chain's measure per
 * market (the `ownFlow` view at the snapshot's block: decayed by the chain, so no decay is mirrored here), the
 * estimate and the mark as OwnImpactModule._mark computes them (ownImpact, markPrice: the same rounding).
 * `stored`: each market's stored state (`engine.marketState` at the block), from which a marked market's pending
 * accrual is computed at its mark, as the chain does (without it, at the oracle: off by the funding of the
 * seconds since the market's last accrual on the difference of the prices).
 */
export function markedByChainFlows(
  engine: EngineSnapshot,
  flows: ReadonlyMap<number, bigint>,
  cap: bigint,
  stored?: ReadonlyMap<number, MarketStateSnapshot>,
): EngineSnapshot {
  const markets = new Map<number, MarketSnapshot>();
  for (const [id, m] of engine.markets) {
    const impact = ownImpact(flows.get(id) ?? 0n, m.config.skewScale, m.price, cap);
    if (impact === 0n) {
      markets.set(id, m);
      continue;
    }
    const price = markPrice(m.price, impact);
    // The chain values the account with the market's pending accrual at the mark (its price cache holds the
    // marks), from the stored state: the chain view's snapshot has it accrued at the oracle price already.
    const state = stored?.get(id);
    markets.set(id, state ? accrued({ ...m, price, state }, engine.timestamp) : { ...m, price });
  }
  return { ...engine, markets };
}

/**
 * Whether the chain's mark holds an account below maintenance at the oracle (the engine's `_atMark` after the
 * vault declined): its equity at the oracle above zero (the explicit guard), every market priced, and not below
 * maintenance at the marks. An account the mirror cannot value is not held (as liquidatableAtMark).
 */
export function heldAtChainMark(engine: EngineSnapshot, marked: EngineSnapshot, account: AccountSnapshot): boolean {
  try {
    if (maintenanceSummary(engine, account).equity <= 0n) return false;
  } catch {
    return false;
  }
  return !liquidatableAtMark(marked, account);
}
