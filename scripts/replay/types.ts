/**
 * Shared types of the crash replays. Prices are WAD bigints parsed exactly from the decimal text of
 * the data files: no floating point touches a price that reaches the chain.
 */

/** One observation of a price path: the price in force from `t` until the next point. */
export type PricePoint = {
  /** unix seconds (UTC) */
  t: number;
  /** price in WAD (1e18 = 1.0 quote unit) */
  priceWad: bigint;
};

export type PricePath = {
  /** event id, e.g. "black-thursday-2020" */
  event: string;
  /** market symbol the path drives, e.g. "BTC" */
  symbol: string;
  /** where it came from: a file under CRASH_DATA_DIR, a fetched archive, or "stylised" */
  source: string;
  /** true for the project's own small paths written from public key figures */
  stylised: boolean;
  /** quote currency of the source (USDT pairs are not USD) */
  quote: string;
  /** seconds between points as sampled (bars) or "irregular" (oracle rounds) */
  resolution: number | "irregular";
  points: PricePoint[];
  /**
   * Stretches with no observation, where the price in force at `from` is held until `to` (a gap
   * between two source files, missing bars, or a path that ends before its event's window). Absent
   * or empty: the path is observed throughout.
   */
  gaps?: PathGap[];
  /** how the points were drawn from the source (see scripts/replay/data/loaders.ts) */
  sampling?: PathSampling;
};

/** A stretch of a price path with no observation: the price in force at `from` is held to `to`. */
export type PathGap = {
  /** unix seconds: first second without an observation */
  from: number;
  /** unix seconds: the next observation (or the end of the event window) */
  to: number;
  /** why there is no data, in words a report can print */
  reason: string;
};

/**
 * "close": one point per bar close; "low-inclusive": open, both wicks and close of every bar;
 * "oracle-rounds": Chainlink rounds as they landed; "stylised": interpolated from anchors; "as-given":
 * a user's own path (--path), each point as in the file.
 */
export type PathSampling = "close" | "low-inclusive" | "oracle-rounds" | "stylised" | "as-given";
