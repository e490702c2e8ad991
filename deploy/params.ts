/**
 * Default protocol parameters. Every value is a bigint in the contracts' units (WAD unless named),
 * and each one is checked on-chain against the MIN_/MAX_ bounds of its setter.
 */
import { encodeBytes32String } from "ethers";

import { WAD } from "../scripts/lib/math/fixedPoint.js";

/** 1.0 in 18-decimal fixed point, defined once in scripts/lib/math/fixedPoint.ts. */
export { WAD };
const PER_HOUR = 3600n;

export type RiskParams = {
  mmrBase: bigint;
  mmrMin: bigint;
  mmrMax: bigint;
  kMm: bigint;
  imMultiplier: bigint;
  sizePremium: bigint;
  mmrRampPerSecond: bigint;
  baseFee: bigint;
  kFee: bigint;
};

export type MarketSpec = {
  /** market id in the engine, 0..95 */
  id: number;
  symbol: string;
  /** oracle feed price in whole dollars (the mock feed's starting answer) */
  initialPriceUsd: bigint;
  feedDecimals: number;
  heartbeat: number;
  /** EWMA time constant of the volatility estimate (seconds) */
  volWindow: number;
  initialSigma: bigint;
  skewScale: bigint;
  maxOpenInterest: bigint;
  maxTradeSize: bigint;
  maxFundingRatePerSecond: bigint;
  risk: RiskParams;
};

export const DEFAULT_RISK: RiskParams = {
  mmrBase: WAD / 100n, // 1%
  mmrMin: WAD / 200n, // 0.5%
  mmrMax: WAD / 5n, // 20%
  kMm: WAD / 100n, // +1% maintenance margin per 100% annualised volatility
  imMultiplier: 2n * WAD, // initial margin = 2x the volatility term
  sizePremium: WAD / 10n, // +0.1% margin per 1% of skewScale held
  mmrRampPerSecond: WAD / 100n / PER_HOUR, // maintenance moves at most 1 point per hour
  baseFee: (5n * WAD) / 10_000n, // 5 bps
  kFee: WAD / 2n, // +50% fee per 100% annualised volatility, risk-adding trades only
};

/** 0.1% per hour at |skew| >= skewScale. */
export const DEFAULT_MAX_FUNDING_RATE = WAD / 1000n / PER_HOUR;

export function feedId(symbol: string): string {
  return encodeBytes32String(`${symbol}/USD`);
}

export const DEFAULT_MARKETS: MarketSpec[] = [
  {
    id: 0,
    symbol: "ETH",
    initialPriceUsd: 2000n,
    feedDecimals: 8,
    heartbeat: 3600,
    volWindow: 6 * 3600,
    initialSigma: (6n * WAD) / 10n,
    skewScale: 1_000_000n * WAD,
    maxOpenInterest: 100_000n * WAD,
    maxTradeSize: 10_000n * WAD,
    maxFundingRatePerSecond: DEFAULT_MAX_FUNDING_RATE,
    risk: DEFAULT_RISK,
  },
  {
    id: 1,
    symbol: "BTC",
    initialPriceUsd: 30_000n,
    feedDecimals: 8,
    heartbeat: 3600,
    volWindow: 6 * 3600,
    initialSigma: WAD / 2n,
    skewScale: 50_000n * WAD,
    maxOpenInterest: 5_000n * WAD,
    maxTradeSize: 1_000n * WAD,
    maxFundingRatePerSecond: DEFAULT_MAX_FUNDING_RATE,
    risk: DEFAULT_RISK,
  },
];

/** The engine's MarketConfig tuple for a spec. */
export function marketConfig(m: MarketSpec) {
  return {
    feedId: feedId(m.symbol),
    skewScale: m.skewScale,
    maxOpenInterest: m.maxOpenInterest,
    maxTradeSize: m.maxTradeSize,
    maxFundingRatePerSecond: m.maxFundingRatePerSecond,
    listed: true,
    reduceOnly: false,
    risk: m.risk,
  };
}
