/**
 * The result of one replay run: what the engine writes as JSON and what the report renders.
 * Money and prices are decimal strings of WAD bigints (JSON has no bigint); times are unix seconds.
 */

import type { BackstopStep } from "./backstop.js";

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
  /** per market, when the run drives more than one path (the fields above then follow the first) */
  markets?: { symbol: string; pathPrice: WadString; oraclePrice: WadString; level: number }[];
  /** true for a tick the engine inserted after liquidations (impact feedback), not one of the path's */
  feedback?: boolean;
  /** the backstop vault's book after the step (runs with the vault) */
  backstop?: BackstopStep;
};

export type ReplayMetrics = {
  badDebtIncurred: WadString;
  badDebtCoveredByInsurance: WadString;
  /** bad debt the backstop vault paid at its takeovers where the insurance fund could not (not insurance:
   *  the target "all covered by the insurance fund" does not count it) */
  badDebtPaidByBackstopVault: WadString;
  badDebtSocialised: WadString;
  /** bad debt neither covered nor socialised: a loss the LP pool kept */
  badDebtUncovered: WadString;
  /** what the insurance fund paid the backstop vault past its loss budget (part of the insurance drawdown;
   *  absent in reports from before it existed) */
  vaultBackedByInsurance?: WadString;
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
  /** total quote notional liquidated (the sum of liquidatedPerWindow) */
  liquidatedNotional?: WadString;
  /** max over the run of (oraclePrice - pathPrice) / pathPrice, WAD: the extra rise when shorts were liquidated */
  maxExtraRise?: WadString;
  /** insurance fund assets before the first tick (token units as WAD) */
  insuranceStart?: WadString;
  /** autoDeleverage transactions sent, and those that reverted */
  adlRuns?: number;
  adlFailures?: number;
  /** traders whose position was opened, and those the protocol refused at any size (initial margin, breaker) */
  positionsOpened?: number;
  positionsRefused?: number;
  /** traders whose wanted leverage the protocol's initial margin (or the breaker's cap) clamped */
  leverageClamped?: number;
};

/** One market of a run: how it was sized. */
export type ReplayMarket = {
  symbol: string;
  marketId: number;
  /** first price of the path (WAD) */
  initialPrice: WadString;
  /** the population's wanted notional in it (USD, WAD) */
  wantedNotional: WadString;
  /** skewScale * initial price (USD, WAD): sets the skew premium and the liquidation capacity */
  depthUsd: WadString;
  /** the impact model's depth (USD, WAD) */
  impactDepthUsd: WadString;
  skewScale: WadString;
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
  /** CPU seconds its process spent on it (every thread: the node's EVM runs in the process) */
  cpuSeconds?: number;
  steps: ReplayStep[];
  metrics: ReplayMetrics;
  /** the parameters in force: the preset's files and overrides, and the configuration read back from the chain */
  params?: unknown;
  markets?: ReplayMarket[];
  /** transactions, calls and gas of the run, and the keeper's own counters */
  stats?: Record<string, number | string>;
  /** what went wrong on the chain during the run, in words (e.g. a liquidation that reverted, and why) */
  notes?: string[];
};

export type ReplayReport = {
  generatedAt: string;
  runs: ReplayRun[];
  /** per event, protected vs baseline: the outcome targets and whether each was met */
  comparisons: {
    event: string;
    noUncoveredBadDebt: boolean;
    extraDropAtMostHalf: boolean;
    /** protected's extra drop is at most a third of baseline's (issue 12's target; what --check requires) */
    extraDropAtMostThird: boolean;
    fewerWipeouts: boolean;
    /**
     * the backstop vault's worst loss over the run within its budget (`maxDrawdown` x capital); absent
     * when the candidate runs without the vault (nothing to bound)
     */
    vaultLossWithinBudget?: boolean;
    /** the runs compared (absent: "protected" against "baseline") */
    preset?: string;
    baseline?: string;
    /** the figures behind each target, candidate against baseline */
    figures?: Record<string, { baseline: WadString | number; candidate: WadString | number }>;
  }[];
};
