/**
 * The synthetic crash the replay tests share (not historic data): prices are drawn as decimals and
 * rounded to cents before they become WAD bigints, so no float reaches the chain.
 */
import { WAD } from "../../deploy/params.js";
import type { PricePath } from "../../scripts/replay/types.js";

/** Synthetic, not historic: calm 40 steps, -40% over 100 steps (S-curve), 10 at the trough, half back. */
export function syntheticCrashFixture(steps = 200, start = 1_900_000_000): PricePath {
  const p0 = 8000;
  const low = p0 * 0.6;
  const points = [];
  for (let i = 0; i < steps; i++) {
    let price: number;
    if (i < 40) price = p0 * (1 + 0.002 * Math.sin(i / 2));
    else if (i < 140) price = p0 + (low - p0) * ((1 - Math.cos((Math.PI * (i - 39)) / 100)) / 2);
    else if (i < 150) price = low;
    else price = low + ((p0 - low) / 2) * ((i - 149) / (steps - 150));
    points.push({ t: start + 60 * i, priceWad: BigInt(Math.round(price * 100)) * (WAD / 100n) });
  }
  return {
    event: "synthetic-test-crash",
    symbol: "BTC",
    source: "test fixture: synthetic crash (not historic data)",
    stylised: true,
    quote: "USD",
    resolution: 60,
    points,
  };
}
