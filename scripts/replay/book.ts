/**
 * The replay's off-chain copy of every account (margin and positions), refreshed from the chain after
 * each transaction that touches it, and evaluated with the project's bigint mirror of PerpEngine's
 * views (scripts/lib/math/engine.ts, equal to the engine to the wei). It answers, without one eth_call
 * per account per tick: which accounts are below maintenance margin (the keeper's hint and the
 * step's `liquidatable` count), each account's equity and notional (ADL ranking), and the initial
 * margin a new position would need (so the population's wanted leverage is clamped to what the
 * protocol accepts instead of reverting).
 */
import {
  type AccountSnapshot,
  type AccountSummary,
  type EnginePosition,
  type EngineSnapshot,
  type LiquidationMarginConfig,
  type MarketConfigSnapshot,
  type MarketSnapshot,
  abs,
  accountSummary,
  liquidationMargin,
  maintenanceMarginRatio,
  marginRequirement,
  notional,
  pendingAccrual,
  positionValue,
} from "../lib/math/index.js";
import { WAD } from "../lib/math/index.js";
import type { ReplayContracts } from "./contracts.js";

export type BookAccount = { margin: bigint; positions: Map<number, EnginePosition> };

export type BookContext = {
  c: Pick<ReplayContracts, "engine" | "vault" | "oracle" | "breaker" | "liquidationEngine">;
  markets: { id: number; feedId: string }[];
};

export class Book {
  readonly accounts = new Map<bigint, BookAccount>();
  private readonly configs = new Map<number, MarketConfigSnapshot>();
  /** The keeper-reward fields every account's liquidation margin is computed from (read once). */
  private lm: LiquidationMarginConfig = { flat: 0n, min: 0n, shareOfNotional: 0n, max: 0n };

  constructor(private readonly ctx: BookContext) {}

  /** Reads the static part of every market (once). */
  async init(): Promise<void> {
    const r = await this.ctx.c.liquidationEngine.rewardConfig();
    // a Result's `flat` is Array.prototype.flat: the flat part is read by position
    this.lm = { flat: r[0], min: r.min, shareOfNotional: r.shareOfNotional, max: r.max };
    for (const m of this.ctx.markets) {
      const c = await this.ctx.c.engine.marketConfig(m.id);
      this.configs.set(m.id, {
        skewScale: c.skewScale,
        maxFundingRatePerSecond: c.maxFundingRatePerSecond,
        risk: {
          mmrBase: c.risk.mmrBase,
          mmrMin: c.risk.mmrMin,
          mmrMax: c.risk.mmrMax,
          kMm: c.risk.kMm,
          imMultiplier: c.risk.imMultiplier,
          sizePremium: c.risk.sizePremium,
          mmrRampPerSecond: c.risk.mmrRampPerSecond,
          baseFee: c.risk.baseFee,
          kFee: c.risk.kFee,
        },
      });
    }
  }

  config(marketId: number): MarketConfigSnapshot {
    return this.configs.get(marketId)!;
  }

  /** Re-reads margin and every position of the given accounts. */
  async refresh(ids: Iterable<bigint>): Promise<void> {
    const { engine, vault } = this.ctx.c;
    for (const id of new Set(ids)) {
      const margin = await vault.marginOf(id);
      const positions = new Map<number, EnginePosition>();
      for (const m of this.ctx.markets) {
        const p = await engine.position(id, m.id);
        if (p.size !== 0n) positions.set(m.id, { size: p.size, basis: p.basis });
      }
      this.accounts.set(id, { margin, positions });
    }
  }

  /**
   * A liquidation or ADL leg closed `sizeDelta` of a position: a reduction keeps the basis (zero once
   * flat), so the new position follows from the event; the margin is re-read (refreshMargins).
   */
  applyReduction(id: bigint, marketId: number, sizeDelta: bigint): void {
    const acct = this.accounts.get(id)!;
    const p = acct.positions.get(marketId);
    if (p === undefined) throw new Error(`book: account ${id} has no position in market ${marketId}`);
    const size = p.size + sizeDelta;
    if (size === 0n) acct.positions.delete(marketId);
    else acct.positions.set(marketId, { size, basis: p.basis });
  }

  /** Re-reads the margin of the given accounts. */
  async refreshMargins(ids: Iterable<bigint>): Promise<void> {
    for (const id of new Set(ids)) {
      this.accounts.get(id)!.margin = await this.ctx.c.vault.marginOf(id);
    }
  }

  /** Market state, price, volatility and level multiplier of every market now (the tick's time). */
  async snapshot(timestamp: number): Promise<EngineSnapshot> {
    const { engine, oracle, breaker } = this.ctx.c;
    const markets = new Map<number, MarketSnapshot>();
    for (const m of this.ctx.markets) {
      const st = await engine.marketState(m.id);
      const [price, sigma] = await oracle.getPriceAndVolatility(m.feedId);
      const levelImMultiplier = breaker ? (await breaker.tradePolicy(m.id)).imMultiplier : WAD;
      markets.set(m.id, {
        config: this.configs.get(m.id)!,
        state: {
          longOpenInterest: st.longOpenInterest,
          shortOpenInterest: st.shortOpenInterest,
          fundingIndex: st.fundingIndex,
          lastAccrualTime: st.lastAccrualTime,
          maintenanceTerm: st.maintenanceTerm,
        },
        price,
        sigma,
        levelImMultiplier,
      });
    }
    return { timestamp: BigInt(timestamp), markets, liquidationMargin: this.lm };
  }

  summary(snapshot: EngineSnapshot, id: bigint): AccountSummary {
    return accountSummary(snapshot, this.accounts.get(id) as AccountSnapshot);
  }

  /**
   * Ids with positions whose equity is below maintenance margin (the engine's `isLiquidatable`),
   * worst first: by health (equity / maintenance) ascending, then by id. The same mirror functions in the same order as `accountSummary`, with each market's
   * accrual computed once per snapshot instead of once per position, and without the initial margin:
   * this runs over every account twice a tick. test/replay.engine.test.ts checks it against
   * `accountSummary` account by account.
   */
  belowMaintenance(snapshot: EngineSnapshot): bigint[] {
    const prepared = new Map<number, { m: MarketSnapshot; fundingIndex: bigint; term: bigint }>();
    for (const [id, m] of snapshot.markets) prepared.set(id, { m, ...pendingAccrual(m, snapshot.timestamp) });
    const out: { id: bigint; health: bigint }[] = [];
    for (const [id, acct] of this.accounts) {
      if (acct.positions.size === 0) continue;
      let equity = acct.margin;
      let mm = 0n;
      let total = 0n;
      for (const [marketId, p] of acct.positions) {
        const { m, fundingIndex, term } = prepared.get(marketId)!;
        equity += positionValue(p.size, p.basis, m.price, fundingIndex);
        const mmr = maintenanceMarginRatio(m.config.risk, term, abs(p.size), m.config.skewScale);
        const n = notional(p.size, m.price);
        mm += marginRequirement(n, mmr);
        total += n;
      }
      mm += liquidationMargin(snapshot.liquidationMargin, total);
      if (mm !== 0n && equity < mm) out.push({ id, health: equity <= 0n ? 0n : (equity * WAD) / mm });
    }
    out.sort((x, y) => (x.health < y.health ? -1 : x.health > y.health ? 1 : x.id < y.id ? -1 : 1));
    return out.map((x) => x.id);
  }

  /** The funding index of a market accrued to the snapshot's time. */
  fundingIndex(snapshot: EngineSnapshot, marketId: number): bigint {
    return pendingAccrual(snapshot.markets.get(marketId)!, snapshot.timestamp).fundingIndex;
  }
}
