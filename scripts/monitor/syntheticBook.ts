/**
 * A seeded synthetic book for the monitor's benchmark and dashboard demo: `accounts` accounts over the
 * default markets (deploy/params.ts; another list of market specs may be given), leverage 2x to 25x, long or short, a third of them
 * cross-margined in two markets, entry prices spread around the current price. Deterministic for a
 * seed (a 32-bit xorshift), so a figure measured on it can be reproduced.
 */
import { DEFAULT_MARKETS, type MarketSpec, WAD } from "../../deploy/params.js";
import { type MarketSnapshot, marketSnapshot } from "../lib/math/engine.js";
import { volatilityTerm } from "../lib/math/riskModel.js";
import { referenceHistory } from "./chain.js";
import type { MonitorAccount, MonitorState } from "./exposure.js";

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

export function syntheticState(
  accounts: number,
  seed = 1,
  timestamp = 1_800_000_000n,
  specs: readonly MarketSpec[] = DEFAULT_MARKETS,
): MonitorState {
  const rand = rng(seed);
  const markets = specs.map((m) => {
    const price = m.initialPriceUsd * WAD;
    const term = volatilityTerm(m.risk, m.initialSigma);
    const snapshot: MarketSnapshot = marketSnapshot(
      { skewScale: m.skewScale, maxFundingRatePerSecond: m.maxFundingRatePerSecond, risk: m.risk },
      {
        longOpenInterest: 0n,
        shortOpenInterest: 0n,
        fundingIndex: 0n,
        lastAccrualTime: timestamp,
        maintenanceTerm: term,
      },
      price,
      m.initialSigma,
      WAD,
    );
    return { id: m.id, symbol: m.symbol, snapshot };
  });
  const oi = markets.map(() => ({ long: 0n, short: 0n }));
  const book: MonitorAccount[] = [];
  for (let i = 0; i < accounts; i++) {
    const legs = rand() < 1 / 3 ? 2 : 1;
    const first = Math.floor(rand() * markets.length);
    const positions = new Map<number, { size: bigint; basis: bigint }>();
    let notional = 0n;
    for (let l = 0; l < legs; l++) {
      const mi = (first + l) % markets.length;
      const m = markets[mi].snapshot;
      const usd = BigInt(Math.floor(1_000 + rand() * 99_000));
      const long = rand() < 0.55;
      const size = (usd * WAD * WAD) / m.price;
      const entry = (m.price * BigInt(Math.floor(9_700 + rand() * 600))) / 10_000n;
      positions.set(markets[mi].id, { size: long ? size : -size, basis: entry });
      notional += usd * WAD;
      if (long) oi[mi].long += size;
      else oi[mi].short += size;
    }
    const leverage = BigInt(Math.floor(2 + rand() * 23));
    book.push({
      id: BigInt(i + 1),
      owner: `0x${(i + 1).toString(16).padStart(40, "0")}`,
      margin: notional / leverage,
      positions,
    });
  }
  markets.forEach((m, i) => {
    m.snapshot = {
      ...m.snapshot,
      state: { ...m.snapshot.state, longOpenInterest: oi[i].long, shortOpenInterest: oi[i].short },
    };
  });
  return {
    blockNumber: 1,
    timestamp,
    markets,
    accounts: book,
    insuranceWad: 100_000n * WAD,
    liquidationMargin: DEFAULT_LIQUIDATION_MARGIN,
  };
}

/** The default deployment's keeper-reward fields that the liquidation margin reads (deploy/params.ts). */
export const DEFAULT_LIQUIDATION_MARGIN = {
  flat: 2n * WAD,
  min: 2n * WAD,
  shareOfNotional: 5n * 10n ** 14n,
  max: 500n * WAD,
};

/**
 * A source that serves the synthetic book as if the chain moved: each read is a new block one minute
 * later with every price stepped along a fixed path (a slow slide with a dip), one oracle round per
 * read. For the dashboard's browser test and a demo without a node.
 */
export class SyntheticSource {
  readonly scale = 10n ** 12n;
  private step = 0;
  private readonly base: MonitorState;
  private readonly histories = new Map<number, { t: number; price: number }[]>();

  constructor(accounts: number, seed = 1, specs: readonly MarketSpec[] = DEFAULT_MARKETS) {
    this.base = syntheticState(accounts, seed, undefined, specs);
    for (const m of this.base.markets) {
      const p0 = Number(m.snapshot.price) / 1e18;
      // a day of one-minute history before the first read
      const h = [];
      for (let i = 0; i < 1_440; i++)
        h.push({
          t: Number(this.base.timestamp) - (1_440 - i) * 60,
          price: p0 * (1 + 0.004 * Math.sin(i / 7) + (i % 131 === 0 ? -0.01 : 0)),
        });
      this.histories.set(m.id, h);
    }
  }

  /** price factor (bps) at a step: -0.2% a step, a 3% dip at steps 5..7, then a bounce */
  static factorBps(step: number): bigint {
    const dip = step >= 5 && step <= 7 ? 300 : 0;
    return BigInt(10_000 - 20 * step - dip);
  }

  async read(): Promise<MonitorState> {
    const f = SyntheticSource.factorBps(this.step);
    const t = this.base.timestamp + BigInt(this.step * 60);
    const markets = this.base.markets.map((m) => ({
      ...m,
      snapshot: {
        ...m.snapshot,
        price: (m.snapshot.price * f) / 10_000n,
        state: { ...m.snapshot.state, lastAccrualTime: t },
      },
    }));
    return { ...this.base, blockNumber: this.step + 1, timestamp: t, markets };
  }

  async newRounds(): Promise<{ marketId: number; roundId: bigint; updatedAt: number; price: number }[]> {
    this.step += 1;
    const f = Number(SyntheticSource.factorBps(this.step)) / 10_000;
    const t = Number(this.base.timestamp) + this.step * 60;
    return this.base.markets.map((m) => {
      const price = (Number(m.snapshot.price) / 1e18) * f;
      this.histories.get(m.id)!.push({ t, price });
      return { marketId: m.id, roundId: BigInt(this.step), updatedAt: t, price };
    });
  }

  /** The reference market's rounds, by the service's own rule (chain.ts `referenceMarket`: the largest sigma, then
   * the most open interest), not the first market's. */
  referenceHistory(state: MonitorState): { t: number; price: number }[] {
    return referenceHistory(this.histories, state);
  }
}
