/**
 * The monitor backtested inside a crash replay: at every step the replay records (scripts/replay's
 * `onStep` hook), the monitor reads the replayed chain as it then is (no look-ahead: the book, the
 * markets and the insurance fund at that block, and only the oracle prices seen so far as history),
 * forecasts, and derives the level its rules want. It observes only: it raises nothing, so the
 * replay's outcome is the one without the monitor.
 *
 * Measured per run:
 * - the first liquidation wave: the first 5-minute window whose liquidated notional reaches 1% of the
 *   open interest (notional at the first step);
 * - lead time of level >= 1 and level >= 2 before that wave, against two naive rules: a 3% drop of
 *   the oracle price within 15 minutes, and an open-interest/funding rule (the skew reaches half the
 *   skew scale, where funding is at half its maximum, in any market);
 * - false alarms on the calm stretch (every step more than an hour before the wave): the share of calm
 *   time at level >= 1, and the level-2 raises there scaled to 30 days;
 * - forecast error: at each step, the cascade forecast for the exogenous move the path then made
 *   over the next hour (its largest fall from the step's path price) against the notional the
 *   replay liquidated in that hour; the median ratio and the share within a factor 1.5.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import type { Protocol } from "../../deploy/protocol.js";
import { deploymentRecord } from "../keeper/devnet/world.js";
import type { ReplayStep } from "../replay/result.js";
import { type CascadeMarket, cascade } from "./cascade.js";
import { ChainSource } from "./chain.js";
import { type ForecastSettings, DEFAULT_FORECAST_SETTINGS, cascadeMarkets, forecast } from "./forecast.js";
import type { ThresholdTable } from "./ladder.js";
import { type Rules, DEFAULT_RULES, levelFor } from "./rules.js";
import type { PricePoint } from "./stats.js";
import { WAD } from "../lib/math/fixedPoint.js";

type Observation = {
  t: number;
  level: number;
  /** critical shock down (fraction; null: none up to 50%), P(1 h) of the worst direction */
  critical: number | null;
  p1h: number;
  oraclePrice: number;
  pathPrice: bigint;
  /** for the forecast error: the down table and markets at this step */
  table: ThresholdTable;
  markets: CascadeMarket[];
  insuranceWad: bigint;
  /** largest |skew| / skewScale over the markets */
  skewRatio: number;
};

export type BacktestResult = {
  steps: number;
  openInterest: bigint;
  /** start of the first liquidation wave (unix s), undefined when none */
  waveStart: number | undefined;
  /** seconds before the wave the signal first held (negative: after its start); undefined: never */
  lead: {
    level1: number | undefined;
    level2: number | undefined;
    drop3pct15m: number | undefined;
    oiFunding: number | undefined;
  };
  calm: { seconds: number; shareAtLevel1: number | undefined; level2RaisesPer30Days: number | undefined };
  forecastError: { samples: number; medianRatio: number | undefined; withinFactor1_5: number | undefined };
  /** level the rules wanted at each step, for the report's series */
  series: { t: number; level: number; critical: number | null; p1h: number; price: number }[];
};

export class ReplayBacktest {
  private source: ChainSource | undefined;
  private readonly observations: Observation[] = [];
  private readonly liquidations: { t: number; notional: bigint }[] = [];
  private readonly history: PricePoint[] = [];
  private openInterest: bigint | undefined;

  constructor(private readonly o: { rules?: Rules; settings?: ForecastSettings } = {}) {}

  /** The replay's hook (EngineOptions.onStep). */
  readonly onStep = async (step: ReplayStep, chain: { ethers: HardhatEthers; protocol: Protocol }): Promise<void> => {
    const notional = BigInt(step.liquidatedNotional);
    if (notional > 0n) this.liquidations.push({ t: step.t, notional });
    if (step.feedback) return;
    if (!this.source) {
      const chainId = Number((await chain.ethers.provider.getNetwork()).chainId);
      const deployment = await deploymentRecord(chain.protocol, "replay", chainId, 0);
      this.source = new ChainSource({ provider: chain.ethers.provider, deployment, historyRounds: 0 });
    }
    const state = await this.source.read();
    const oraclePrice = Number(BigInt(step.oraclePrice)) / 1e18;
    this.history.push({ t: step.t, price: oraclePrice });
    const settings = this.o.settings ?? DEFAULT_FORECAST_SETTINGS;
    const { forecast: f, tables } = forecast(state, this.history, settings);
    const decision = levelFor(f, this.o.rules ?? DEFAULT_RULES);
    if (this.openInterest === undefined) {
      this.openInterest = state.markets.reduce(
        (s, m) =>
          s + ((m.snapshot.state.longOpenInterest + m.snapshot.state.shortOpenInterest) * m.snapshot.price) / WAD,
        0n,
      );
    }
    let skewRatio = 0;
    for (const m of state.markets) {
      const skew = m.snapshot.state.longOpenInterest - m.snapshot.state.shortOpenInterest;
      const r = Number(((skew < 0n ? -skew : skew) * 1_000_000n) / m.snapshot.config.skewScale) / 1_000_000;
      if (r > skewRatio) skewRatio = r;
    }
    this.observations.push({
      t: step.t,
      level: decision.level,
      critical: f.down.criticalShock === undefined ? null : Number(f.down.criticalShock) / 1e18,
      p1h: decision.p1h,
      oraclePrice,
      pathPrice: BigInt(step.pathPrice),
      table: tables.down,
      markets: cascadeMarkets(state, settings.depthBps),
      insuranceWad: state.insuranceWad,
      skewRatio,
    });
  };

  result(): BacktestResult {
    const obs = this.observations;
    const oi = this.openInterest ?? 0n;
    const waveStart = firstWave(this.liquidations, oi, obs[0]?.t ?? 0);
    const first = (p: (o: Observation, i: number) => boolean) => obs.find(p)?.t;
    const lead = (t: number | undefined) => (t === undefined || waveStart === undefined ? undefined : waveStart - t);
    const drop = first((o, i) => {
      let j = i;
      while (j > 0 && obs[j - 1].t >= o.t - 900) j--;
      const ref = Math.max(...obs.slice(j, i + 1).map((x) => x.oraclePrice));
      return o.oraclePrice <= ref * 0.97;
    });
    const calmEnd = waveStart === undefined ? Infinity : waveStart - 3_600;
    let calmSeconds = 0;
    let calmAlert = 0;
    let raises = 0;
    for (let i = 0; i < obs.length - 1; i++) {
      if (obs[i].t >= calmEnd) break;
      const dt = Math.min(obs[i + 1].t, calmEnd) - obs[i].t;
      calmSeconds += dt;
      if (obs[i].level >= 1) calmAlert += dt;
      if (obs[i].level >= 2 && (i === 0 || obs[i - 1].level < 2)) raises++;
    }
    // forecast error: the path's largest fall over the next hour, through the cascade, against the replay
    const ratios: number[] = [];
    for (let i = 0; i < obs.length; i++) {
      const o = obs[i];
      let low = o.pathPrice;
      for (let j = i + 1; j < obs.length && obs[j].t <= o.t + 3_600; j++)
        if (obs[j].pathPrice < low) low = obs[j].pathPrice;
      const shock = o.pathPrice > 0n ? ((o.pathPrice - low) * WAD) / o.pathPrice : 0n;
      const predicted = cascade(o.table, o.markets, shock, { insuranceWad: o.insuranceWad }).liquidatedNotional;
      let realised = 0n;
      for (const l of this.liquidations) if (l.t > o.t && l.t <= o.t + 3_600) realised += l.notional;
      if (predicted === 0n && realised === 0n) continue;
      ratios.push(
        realised === 0n ? Infinity : predicted === 0n ? 0 : Number((predicted * 1_000_000n) / realised) / 1_000_000,
      );
    }
    ratios.sort((a, b) => a - b);
    return {
      steps: obs.length,
      openInterest: oi,
      waveStart,
      lead: {
        level1: lead(first((o) => o.level >= 1)),
        level2: lead(first((o) => o.level >= 2)),
        drop3pct15m: lead(drop),
        oiFunding: lead(first((o) => o.skewRatio >= 0.5)),
      },
      calm: {
        seconds: calmSeconds,
        shareAtLevel1: calmSeconds > 0 ? calmAlert / calmSeconds : undefined,
        level2RaisesPer30Days: calmSeconds > 0 ? (raises * 30 * 86_400) / calmSeconds : undefined,
      },
      forecastError: {
        samples: ratios.length,
        medianRatio: ratios.length ? ratios[ratios.length >> 1] : undefined,
        withinFactor1_5: ratios.length
          ? ratios.filter((r) => r >= 1 / 1.5 && r <= 1.5).length / ratios.length
          : undefined,
      },
      series: obs.map((o) => ({ t: o.t, level: o.level, critical: o.critical, p1h: o.p1h, price: o.oraclePrice })),
    };
  }
}

/** Start of the first 5-minute window (aligned to the first step) whose liquidations reach 1% of `oi`. */
export function firstWave(
  liquidations: readonly { t: number; notional: bigint }[],
  oi: bigint,
  t0: number,
): number | undefined {
  const windows = new Map<number, bigint>();
  for (const l of liquidations) {
    const w = t0 + Math.floor((l.t - t0) / 300) * 300;
    windows.set(w, (windows.get(w) ?? 0n) + l.notional);
  }
  const threshold = oi / 100n;
  const hit = [...windows].filter(([, n]) => n >= threshold && n > 0n).map(([w]) => w);
  return hit.length ? Math.min(...hit) : undefined;
}
