/**
 * The replay's reading of the accounts and markets. The accounts are the keeper's event-followed
 * account book (scripts/keeper/book.ts, the same class the keeper service and the risk monitor
 * keep), followed here by its own EventFollower over the replay's chain and brought to the head with
 * `sync()` after every step that may change an account (positions opened, a keeper tick, an
 * auto-deleveraging); an account an event did not fit is re-read from the contracts then. Evaluated
 * with the project's bigint mirror of PerpEngine's views (scripts/lib/math/engine.ts, equal to the
 * engine to the wei), it answers without one eth_call per account per tick: which accounts are below
 * maintenance margin (the keeper's cross-check and the step's `liquidatable` count), each account's
 * equity and notional, and each market's state for the initial margin a new position
 * would need (so the population's wanted leverage is clamped to what the protocol accepts instead of
 * reverting).
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import { AccountBook } from "../keeper/book.js";
import { rereadAccounts } from "../keeper/contracts.js";
import { EventFollower } from "../keeper/follower.js";
import { silentLogger } from "../keeper/logger.js";
import {
  type AccountSummary,
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
import type { Chain } from "./chain.js";
import type { ReplayContracts } from "./contracts.js";

export type BookContext = {
  c: Pick<ReplayContracts, "engine" | "vault" | "oracle" | "breaker" | "liquidationEngine">;
  chain: Chain;
  /** the connection's ethers provider: the follower's eth_getLogs */
  provider: HardhatEthers["provider"];
  markets: { id: number; feedId: string }[];
  /** first block that can hold the traders' events (the deployment record's startBlock) */
  startBlock: number;
  /** vault.SCALE(): collateral token units to WAD */
  scale: bigint;
};

/** Blocks per eth_getLogs: the in-process node answers any range, so one request per sync. */
const LOG_RANGE_BLOCKS = 1_000_000;

export class Book {
  /** every account created since the start block, as its events left it */
  readonly accounts: AccountBook;
  private readonly follower: EventFollower;
  private readonly configs = new Map<number, MarketConfigSnapshot>();
  /** The keeper-reward fields every account's liquidation margin is computed from (read once). */
  private lm: LiquidationMarginConfig = { flat: 0n, min: 0n, shareOfNotional: 0n, max: 0n };

  constructor(private readonly ctx: BookContext) {
    this.accounts = new AccountBook(ctx.scale);
    this.follower = new EventFollower({
      provider: ctx.provider,
      addresses: {
        engine: ctx.c.engine.target as string,
        vault: ctx.c.vault.target as string,
        liquidationEngine: ctx.c.liquidationEngine.target as string,
      },
      book: this.accounts,
      startBlock: ctx.startBlock,
      rangeBlocks: LOG_RANGE_BLOCKS,
      logger: silentLogger(),
    });
  }

  /** Reads the static part of every market (once) and follows the events so far. */
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
    await this.sync();
  }

  config(marketId: number): MarketConfigSnapshot {
    return this.configs.get(marketId)!;
  }

  /**
   * Applies every event mined since the last sync, then re-reads from the contracts the accounts an
   * event did not fit (the book marks them stale). Returns how many were re-read.
   */
  async sync(): Promise<number> {
    const head = await this.ctx.chain.blockNumber();
    await this.follower.advance(head);
    const stale = this.accounts.stale().map((a) => a.id);
    if (stale.length) await rereadAccounts(this.accounts, this.ctx.c, stale, head);
    return stale.length;
  }

  /**
   * Market state, price, volatility and level multiplier of every market now (the tick's time), with
   * the accounts brought to the head first (`sync`), so what is evaluated on it is the chain's state.
   */
  async snapshot(timestamp: number): Promise<EngineSnapshot> {
    await this.sync();
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
    return accountSummary(snapshot, this.accounts.get(id)!);
  }

  /**
   * Ids with positions whose equity is below maintenance margin (the engine's `isLiquidatable`),
   * worst first: by health (equity / maintenance) ascending, then by id. The same mirror functions in the same order as `accountSummary`, with each market's
   * accrual computed once per snapshot instead of once per position, and without the initial margin:
   * this runs over every account twice a tick. test/replay/engine.test.ts checks it against
   * `accountSummary` account by account.
   */
  belowMaintenance(snapshot: EngineSnapshot): bigint[] {
    const prepared = new Map<number, { m: MarketSnapshot; fundingIndex: bigint; term: bigint }>();
    for (const [id, m] of snapshot.markets) prepared.set(id, { m, ...pendingAccrual(m, snapshot.timestamp) });
    const out: { id: bigint; health: bigint }[] = [];
    for (const acct of this.accounts.withPositions()) {
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
      if (mm !== 0n && equity < mm) out.push({ id: acct.id, health: equity <= 0n ? 0n : (equity * WAD) / mm });
    }
    out.sort((x, y) => (x.health < y.health ? -1 : x.health > y.health ? 1 : x.id < y.id ? -1 : 1));
    return out.map((x) => x.id);
  }

  /** The funding index of a market accrued to the snapshot's time. */
  fundingIndex(snapshot: EngineSnapshot, marketId: number): bigint {
    return pendingAccrual(snapshot.markets.get(marketId)!, snapshot.timestamp).fundingIndex;
  }
}
