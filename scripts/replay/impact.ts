/**
 * The impact model: the protocol's own forced sales move the price its oracle reports.
 *
 * Per market, a signed displacement I (WAD, a fraction of the path price). Every liquidation leg adds
 * its signed notional over the market's depth (a long closed is a sell: I falls; a short closed is a
 * buy: I rises), and I decays toward zero with a half-life. The oracle is fed
 * `path * (1 + I)`, with |I| capped. See docs/architecture.md ("Crash replays") for what this model is
 * and is not: one linear depth per market, no order book, no other venues, no arbitrageur beyond the
 * decay.
 *
 * State and arithmetic are bigint. The decay factor 2^(-dt/halfLife) is computed with Math.pow once per
 * distinct dt and rounded to WAD (deterministic in V8, and it is a model parameter, not money).
 */
import { WAD } from "./decimal.js";

export type ImpactMarket = {
  /** quote notional (WAD) whose forced sale moves the price by 100% in this linear model */
  depthWad: bigint;
};

export class ImpactModel {
  /** signed displacement per market, WAD */
  readonly impact: bigint[];
  private readonly decayCache = new Map<number, bigint>();

  constructor(
    readonly markets: readonly ImpactMarket[],
    /** seconds for the displacement to halve */
    readonly halfLifeSeconds: number,
    /** cap of |I|, WAD (below 1: the oracle price stays positive) */
    readonly maxImpactWad: bigint,
  ) {
    if (!(halfLifeSeconds > 0)) throw new RangeError("impact half-life must be positive");
    if (maxImpactWad <= 0n || maxImpactWad >= WAD) throw new RangeError("impact cap must be in (0, 1)");
    for (const m of markets) if (m.depthWad <= 0n) throw new RangeError("impact depth must be positive");
    this.impact = markets.map(() => 0n);
  }

  /** 2^(-dt / halfLife) in WAD. */
  decayFactor(dtSeconds: number): bigint {
    if (dtSeconds <= 0) return WAD;
    let f = this.decayCache.get(dtSeconds);
    if (f === undefined) {
      f = BigInt(Math.round(Math.pow(2, -dtSeconds / this.halfLifeSeconds) * 1e18));
      this.decayCache.set(dtSeconds, f);
    }
    return f;
  }

  /** Lets `dtSeconds` pass: every displacement decays toward zero (rounded toward zero). */
  decay(dtSeconds: number): void {
    const f = this.decayFactor(dtSeconds);
    for (let i = 0; i < this.impact.length; i++) {
      const x = this.impact[i];
      this.impact[i] = x >= 0n ? (x * f) / WAD : -((-x * f) / WAD);
    }
  }

  /**
   * A forced trade of `sizeDelta` (base WAD, negative = sell) at `priceWad`: adds
   * sizeDelta * price / depth to the market's displacement, within the cap.
   */
  addTrade(market: number, sizeDelta: bigint, priceWad: bigint): void {
    const signedNotional = (sizeDelta * priceWad) / WAD;
    const next = this.impact[market] + (signedNotional * WAD) / this.markets[market].depthWad;
    this.impact[market] =
      next > this.maxImpactWad ? this.maxImpactWad : next < -this.maxImpactWad ? -this.maxImpactWad : next;
  }

  /** The price the oracle is fed: path * (1 + I), rounded down. */
  apply(market: number, pathPriceWad: bigint): bigint {
    return (pathPriceWad * (WAD + this.impact[market])) / WAD;
  }
}
