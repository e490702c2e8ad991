/**
 * The result of one replay run: what the engine writes as JSON and what the report renders.
 * Money and prices are decimal strings of WAD bigints (JSON has no bigint); times are unix seconds.
 */

export type WadString = string;

export type ReplayStep = {
  t: number;
  /** price of the historic path at t */
  pathPrice: WadString;
  /** price the protocol's oracle saw at t: the path moved by the impact of its own liquidations */
  oraclePrice: WadString;
  /** quote notional liquidated during this step */
  liquidatedNotional: WadString;
  /** circuit-breaker level in force after the step (0 without a breaker) */
  level: number;
  /** insurance fund assets after the step (token units as WAD) */
  insuranceAssets: WadString;
  /** accounts below maintenance margin after the step */
  liquidatable: number;
};

export type ReplayMetrics = {
  badDebtIncurred: WadString;
  badDebtCoveredByInsurance: WadString;
  badDebtSocialised: WadString;
  /** bad debt neither covered nor socialised: a loss the LP pool kept */
  badDebtUncovered: WadString;
  insuranceDrawdown: WadString;
  accountsLiquidated: number;
  /** accounts closed with nothing left (equity <= 0 at their last liquidation) */
  accountsWipedOut: number;
  tranches: number;
  keeperRewardsPaid: WadString;
  /** max over the run of (pathPrice - oraclePrice) / pathPrice, WAD: the extra drop the protocol's own liquidations caused */
  maxExtraDrop: WadString;
  /** liquidated notional per window of `windowSeconds` */
  liquidatedPerWindow: { t: number; notional: WadString }[];
  windowSeconds: number;
  maxLevel: number;
  /** seconds spent at each level 0..4 */
  secondsAtLevel: number[];
};

export type ReplayRun = {
  event: string;
  title: string;
  preset: string;
  /** the path(s) driven, with their source and whether stylised */
  paths: { symbol: string; source: string; stylised: boolean; points: number }[];
  population: { accounts: number; seed: number };
  /** wall-clock seconds the run took */
  seconds: number;
  steps: ReplayStep[];
  metrics: ReplayMetrics;
};

export type ReplayReport = {
  generatedAt: string;
  runs: ReplayRun[];
  /** per event, protected vs baseline: the outcome targets and whether each was met */
  comparisons: {
    event: string;
    noUncoveredBadDebt: boolean;
    extraDropAtMostHalf: boolean;
    fewerWipeouts: boolean;
  }[];
};
