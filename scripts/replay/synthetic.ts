/**
 * A synthetic crash path: NOT historic data. A calm stretch with a small oscillation, a crash of
 * `drop` along a smooth S-curve, a short trough, then a partial recovery. Used by the benchmark when
 * the real series are not reachable and by `--event synthetic` on the CLI; every path it makes says
 * "synthetic" in its event, source and title. Prices are whole cents, converted to WAD exactly.
 */
import { WAD } from "./decimal.js";
import type { PricePath } from "./types.js";

export type SyntheticCrash = {
  steps: number;
  stepSeconds: number;
  /** unix seconds of the first point */
  start: number;
  /** first price, in dollars */
  startPrice: number;
  /** fraction lost from the start to the trough, e.g. 0.4 */
  drop: number;
  /** fraction of the drop won back by the end, e.g. 0.5 */
  recovery: number;
  /** shares of the steps: calm before the crash, then the crash itself (the rest: trough and recovery) */
  calmShare: number;
  crashShare: number;
  symbol: string;
};

export const SYNTHETIC_DEFAULTS: SyntheticCrash = {
  steps: 200,
  stepSeconds: 60,
  start: Date.UTC(2030, 0, 1) / 1000,
  startPrice: 8000,
  drop: 0.4,
  recovery: 0.5,
  calmShare: 0.3,
  crashShare: 0.2,
  symbol: "BTC",
};

export function syntheticCrash(o: Partial<SyntheticCrash> = {}): PricePath {
  const s = { ...SYNTHETIC_DEFAULTS, ...o };
  const calm = Math.round(s.steps * s.calmShare);
  const crash = Math.max(1, Math.round(s.steps * s.crashShare));
  const trough = Math.max(1, Math.round(s.steps * 0.05));
  const low = s.startPrice * (1 - s.drop);
  const end = low + (s.startPrice - low) * s.recovery;
  const points = [];
  for (let i = 0; i < s.steps; i++) {
    let price: number;
    if (i < calm) {
      price = s.startPrice * (1 + 0.003 * Math.sin(i / 3));
    } else if (i < calm + crash) {
      const x = (i - calm + 1) / crash; // (0, 1]
      const ease = (1 - Math.cos(Math.PI * x)) / 2; // slow, fast, slow
      price = s.startPrice + (low - s.startPrice) * ease;
    } else if (i < calm + crash + trough) {
      price = low * (1 + 0.002 * Math.sin(i));
    } else {
      const rest = s.steps - (calm + crash + trough);
      const x = (i - (calm + crash + trough) + 1) / Math.max(1, rest);
      price = low + (end - low) * Math.sqrt(x) + low * 0.004 * Math.sin(i / 2);
    }
    points.push({ t: s.start + i * s.stepSeconds, priceWad: BigInt(Math.round(price * 100)) * (WAD / 100n) });
  }
  return {
    event: "synthetic",
    symbol: s.symbol,
    source: `synthetic crash (not historic data): -${Math.round(s.drop * 100)}% then ${Math.round(s.recovery * 100)}% of it back, ${s.steps} x ${s.stepSeconds}s`,
    stylised: true,
    quote: "USD",
    resolution: s.stepSeconds,
    points,
  };
}
