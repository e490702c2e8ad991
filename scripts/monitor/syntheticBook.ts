/**
 * A seeded synthetic book for the monitor's benchmark and dashboard demo: `accounts` accounts over the
 * default markets (deploy/params.ts), leverage 2x to 25x, long or short, a third of them
 * cross-margined in two markets, entry prices spread around the current price. Deterministic for a
 * seed (a 32-bit xorshift), so a figure measured on it can be reproduced.
 */
import { DEFAULT_MARKETS, WAD } from "../../deploy/params.js";
import { type MarketSnapshot, marketSnapshot } from "../lib/math/engine.js";
import { volatilityTerm } from "../lib/math/riskModel.js";
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

export function syntheticState(accounts: number, seed = 1, timestamp = 1_800_000_000n): MonitorState {
  const rand = rng(seed);
  const markets = DEFAULT_MARKETS.map((m) => {
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
  return { blockNumber: 1, timestamp, markets, accounts: book, insuranceWad: 100_000n * WAD };
}
