/**
 * The monitor as a service: on each tick it reads the book and markets, forecasts when the block has
 * moved, turns the forecast into a level by the rules (rules.ts), acts through the breaker's
 * risk-oracle role when it holds one, alerts, writes a JSON snapshot per oracle round, and keeps a
 * bounded history for the dashboard. `tick()` has no timers of its own: the CLI paces it, tests call it.
 */
import { EventEmitter } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

import type { CircuitBreaker } from "../../types/ethers-contracts/contracts/breaker/CircuitBreaker.js";
import type { Logger } from "../keeper/logger.js";
import { type AlertSink, guardianAlert, levelAlert } from "./alerts.js";
import type { Round } from "./chain.js";
import { type MonitorState, marketMap } from "./exposure.js";
import {
  type Forecast,
  type ForecastSettings,
  DEFAULT_FORECAST_SETTINGS,
  cascadeMarkets,
  forecast,
} from "./forecast.js";
import type { Direction, ThresholdTable } from "./ladder.js";
import {
  type BreakerMarket,
  type ChangeGateSettings,
  type EscalationSettings,
  type LevelDecision,
  type OracleAction,
  type Persistence,
  type Rules,
  ChangeGate,
  DEFAULT_ESCALATION,
  DEFAULT_GATE,
  Escalation,
  DEFAULT_PERSISTENCE,
  DEFAULT_RULES,
  LevelTracker,
  actions,
  levelFromInputs,
  ruleInputs,
} from "./rules.js";
import type { PricePoint } from "./stats.js";
import { type Scenario, type ScenarioResult, runScenarios } from "./scenarios.js";
import { type AccountWarning, accountWarning } from "./warnings.js";

/** Where the state comes from: the chain (chain.ts) or a fixed book (tests, demo). */
export interface StateSource {
  read(): Promise<MonitorState>;
  newRounds(): Promise<Round[]>;
  referenceHistory(state: MonitorState): PricePoint[];
  readonly scale: bigint;
}

export type HistoryPoint = {
  t: number;
  block: number;
  level: number;
  criticalDown: number | null;
  criticalUp: number | null;
  distance1h: number;
  p15m: number;
  p1h: number;
  p24h: number;
};

export type ServiceOptions = {
  source: StateSource;
  logger: Logger;
  /** the breaker bound to a signer holding RISK_ORACLE; undefined: alert only */
  breaker?: CircuitBreaker;
  dryRun?: boolean;
  settings?: ForecastSettings;
  rules?: Rules;
  /** persistence of levels (rules.ts LevelTracker; default DEFAULT_PERSISTENCE); null: every forecast's level at once */
  persistence?: Persistence | null;
  /** the change gate (rules.ts ChangeGate; default DEFAULT_GATE); null: none */
  gate?: ChangeGateSettings | null;
  /** escalation (rules.ts Escalation; default DEFAULT_ESCALATION): confirmed by fresh forecasts, one level per round; null: none */
  escalation?: EscalationSettings | null;
  raiseDuration?: number;
  renewWithin?: number;
  alerts?: AlertSink;
  snapshotDir?: string;
  historyLimit?: number;
  /** link put in alerts (the dashboard) */
  generatorURL?: string;
  /** the joint move (bps) an account's "restore" margin protects against, by default */
  restoreBps?: number;
  /** the scenario lab's scenarios (scenarios.ts `catalogueScenarios`), run on the latest book on request */
  scenarios?: readonly Scenario[];
  /** where the scenarios' numbers came from ("real", "stylised") */
  scenarioSource?: string;
};

/** The scenario lab on one block's book. */
export type LabRun = { block: number; source: string; results: ScenarioResult[]; computeMs: number };

export class MonitorMetrics {
  readonly registry = new Registry();
  readonly level = this.gauge("monitor_stress_level", "stress level the forecast wants (0..4)");
  readonly critical = this.gauge(
    "monitor_critical_shock_ratio",
    "smallest critical joint shock (fraction; absent when none up to the grid's end)",
    "direction",
  );
  readonly distance = this.gauge(
    "monitor_distance_to_cascade",
    "critical shock over the oracle volatility of the horizon (worst direction)",
    "horizon",
  );
  readonly probability = this.gauge(
    "monitor_cascade_probability",
    "probability of the critical shock within the horizon that the rules read (worst direction): past it at the horizon's end, or reaching it under --probability-model reach",
    "horizon",
  );
  readonly reachProbability = this.gauge(
    "monitor_cascade_reach_probability",
    "probability of reaching the critical shock at some time within the horizon (first passage, worst direction)",
    "horizon",
  );
  readonly liquidatable = this.gauge(
    "monitor_liquidatable_notional",
    "notional liquidatable at a joint move, collateral units",
    "move",
  );
  readonly coverage = this.gauge(
    "monitor_insurance_coverage_at_10pct",
    "insurance fund over the bad debt of a 10% joint fall with cascade; -1 when that fall leaves no bad debt",
  );
  readonly accounts = this.gauge("monitor_accounts_with_positions", "accounts holding a position");
  readonly forecastSeconds = new Histogram({
    name: "monitor_forecast_seconds",
    help: "time of one forecast",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2],
    registers: [this.registry],
  });
  readonly raises = new Counter({
    name: "monitor_risk_oracle_raises_total",
    help: "risk-oracle raises by outcome",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly alertsSent = this.counter("monitor_alerts_total", "alerts handed to the webhooks");
  readonly unpriced = this.gauge(
    "monitor_unpriced_markets",
    "markets whose oracle read failed at the last forecast (they and their accounts are out of it)",
  );
  readonly unpricedAccounts = this.gauge(
    "monitor_unpriced_accounts",
    "accounts left out of the last forecast because they hold a market whose oracle read failed",
  );
  readonly scenarioBadDebt = this.gauge(
    "monitor_scenario_bad_debt",
    "bad debt of each scenario of the lab on the latest book, collateral units",
    "scenario",
  );

  constructor(processMetrics = false) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** a gauge in this registry, with one label when `label` is given */
  private gauge<L extends string = never>(name: string, help: string, label?: L) {
    return new Gauge<L>({ name, help, labelNames: label === undefined ? [] : [label], registers: [this.registry] });
  }

  private counter(name: string, help: string) {
    return new Counter({ name, help, registers: [this.registry] });
  }
}

export class MonitorService extends EventEmitter {
  readonly metrics: MonitorMetrics;
  latest: Forecast | undefined;
  decision: LevelDecision | undefined;
  lastActions: OracleAction[] = [];
  readonly history: HistoryPoint[] = [];
  private state: MonitorState | undefined;
  private tables: Record<Direction, ThresholdTable> | undefined;
  /** an oracle round arrived since the last raise (or none was made yet): the forecast is fresh */
  private freshSinceRaise = true;
  private lastBlock = -1;
  private labRun: LabRun | undefined;
  private tracker: LevelTracker | undefined;
  private gate: ChangeGate | null | undefined;
  private escalation: Escalation | null | undefined;
  lastTickAt = 0;

  constructor(
    private readonly o: ServiceOptions,
    metrics = new MonitorMetrics(),
  ) {
    super();
    this.metrics = metrics;
  }

  get settings(): ForecastSettings {
    return this.o.settings ?? DEFAULT_FORECAST_SETTINGS;
  }

  /** One round of work; returns the forecast when one was made. */
  async tick(now = Date.now()): Promise<Forecast | undefined> {
    const rounds = await this.o.source.newRounds();
    if (rounds.length) this.freshSinceRaise = true;
    const state = await this.o.source.read();
    this.lastTickAt = now;
    if (state.blockNumber === this.lastBlock && !rounds.length) return undefined;
    this.lastBlock = state.blockNumber;
    const history = this.o.source.referenceHistory(state);
    const { forecast: f, tables } = forecast(state, history, this.settings);
    this.state = state;
    this.tables = tables;
    this.latest = f;
    this.metrics.forecastSeconds.observe(f.computeMs / 1000);
    const previous = this.decision?.level ?? 0;
    if (this.gate === undefined) {
      const g = this.o.gate === undefined ? DEFAULT_GATE : this.o.gate;
      this.gate = g === null ? null : new ChangeGate(g);
    }
    const inputs = ruleInputs(f);
    const wanted = levelFromInputs(this.gate ? this.gate.filter(inputs) : inputs, this.o.rules ?? DEFAULT_RULES);
    if (this.tracker === undefined && this.o.persistence !== null) {
      this.tracker = new LevelTracker(this.o.persistence ?? DEFAULT_PERSISTENCE);
    }
    const persisted = this.tracker ? this.tracker.update(Number(state.timestamp), wanted) : wanted;
    if (this.escalation === undefined) {
      const e = this.o.escalation === undefined ? DEFAULT_ESCALATION : this.o.escalation;
      this.escalation = e === null ? null : new Escalation(e);
    }
    // a forecast is fresh when an oracle round arrived since the last one: only such a forecast confirms or climbs
    const decision = this.escalation
      ? this.escalation.update(persisted, rounds.length > 0, Number(state.timestamp), history.at(-1)?.price)
      : persisted;
    this.decision = decision;
    this.record(f, decision, Number(state.timestamp));
    if (decision.level !== previous) {
      this.emit("level", {
        level: decision.level,
        previous,
        reason: decision.reason,
        block: f.blockNumber,
        reference: f.inputsHash,
      });
      await this.alert([
        levelAlert({
          level: decision.level,
          previous,
          reason: decision.reason,
          block: f.blockNumber,
          reference: f.inputsHash,
          now: new Date(now),
          generatorURL: this.o.generatorURL,
        }),
      ]);
    }
    this.emit("forecast", f);
    if (rounds.length && this.o.snapshotDir) this.snapshot(f, decision, rounds);
    await this.act(f, decision, state);
    this.o.logger.info(
      {
        block: f.blockNumber,
        stressLevel: decision.level,
        reason: decision.reason,
        criticalDown: pct(f.down.criticalShock),
        criticalUp: pct(f.up.criticalShock),
        ms: Math.round(f.computeMs),
      },
      "forecast",
    );
    return f;
  }

  /** The scenario lab on the latest forecast's book (computed once per block). */
  lab(): LabRun | undefined {
    if (!this.state || !this.o.scenarios?.length) return undefined;
    if (this.labRun?.block === this.state.blockNumber) return this.labRun;
    const started = performance.now();
    const results = runScenarios(this.state, this.o.scenarios, {
      maxImpactWad: this.settings.maxImpactWad,
      runaway: this.settings.runaway,
    });
    this.labRun = {
      block: this.state.blockNumber,
      source: this.o.scenarioSource ?? "given",
      results,
      computeMs: performance.now() - started,
    };
    for (const r of results) {
      this.metrics.scenarioBadDebt.set({ scenario: r.scenario.id }, Number(r.badDebt) / 1e18);
    }
    return this.labRun;
  }

  /** The early warnings of one account, on the latest forecast's book. */
  warning(accountId: bigint, restoreBps = this.o.restoreBps ?? 1_000): AccountWarning | undefined {
    if (!this.state || !this.tables) return undefined;
    const account = this.state.accounts.find((a) => a.id === accountId);
    if (!account || account.positions.size === 0) return undefined;
    return accountWarning(
      account,
      {
        markets: marketMap(this.state),
        timestamp: this.state.timestamp,
        tables: this.tables,
        cascadeMarkets: cascadeMarkets(this.state, this.settings.depthBps),
        cascadeOptions: {
          maxImpactWad: this.settings.maxImpactWad,
          insuranceWad: this.state.insuranceWad,
          runaway: this.settings.runaway,
        },
        scale: this.o.source.scale,
        liquidationMargin: this.state.liquidationMargin,
      },
      (BigInt(restoreBps) * 10n ** 18n) / 10_000n,
    );
  }

  private record(f: Forecast, d: LevelDecision, t: number): void {
    const m = this.metrics;
    m.level.set(d.level);
    for (const dir of ["down", "up"] as const) {
      const c = f[dir].criticalShock;
      if (c === undefined) m.critical.remove(dir);
      else m.critical.set({ direction: dir }, Number(c) / 1e18);
    }
    const worst = f[f.worst.direction];
    for (const h of worst.horizons) {
      const label =
        h.horizonSeconds === 900
          ? "15m"
          : h.horizonSeconds === 3_600
            ? "1h"
            : h.horizonSeconds === 86_400
              ? "24h"
              : `${h.horizonSeconds}s`;
      m.distance.set({ horizon: label }, Number.isFinite(h.distance) ? h.distance : -1);
      m.probability.set({ horizon: label }, worst.criticalShock === undefined ? 0 : h.probability);
      const reach = worst.reachHorizons.find((r) => r.horizonSeconds === h.horizonSeconds);
      m.reachProbability.set({ horizon: label }, worst.criticalShock === undefined ? 0 : (reach?.probability ?? 0));
    }
    const i = f.indicators;
    for (const [move, v] of [
      ["now", i.liquidatableNow],
      ["down5", i.down5],
      ["down10", i.down10],
      ["up5", i.up5],
      ["up10", i.up10],
    ] as const) {
      m.liquidatable.set({ move }, Number(v) / 1e18);
    }
    m.coverage.set(f.insurance.coverageAt10pct ?? -1);
    m.unpriced.set(f.unpriced.length);
    m.unpricedAccounts.set(f.unpriced.reduce((n, u) => n + u.accountsLeftOut, 0));
    m.accounts.set(f.accountsWithPositions);
    this.history.push({
      t,
      block: f.blockNumber,
      level: d.level,
      criticalDown: f.down.criticalShock === undefined ? null : Number(f.down.criticalShock) / 1e18,
      criticalUp: f.up.criticalShock === undefined ? null : Number(f.up.criticalShock) / 1e18,
      distance1h: f.worst.distance1h,
      p15m: d.p15m,
      p1h: d.p1h,
      p24h: d.p24h,
    });
    const limit = this.o.historyLimit ?? 2_000;
    if (this.history.length > limit) this.history.splice(0, this.history.length - limit);
  }

  private snapshot(f: Forecast, d: LevelDecision, rounds: Round[]): void {
    mkdirSync(this.o.snapshotDir!, { recursive: true });
    const name = `${f.blockNumber}-${rounds.map((r) => `${r.marketId}r${r.roundId}`).join("-")}.json`;
    writeFileSync(join(this.o.snapshotDir!, name), toJson({ forecast: f, decision: d, rounds }) + "\n");
  }

  private async alert(alerts: Parameters<AlertSink["send"]>[0]): Promise<void> {
    if (!this.o.alerts || !alerts.length) return;
    await this.o.alerts.send(alerts);
    this.metrics.alertsSent.inc(alerts.length);
  }

  /** Reads the breaker and does what the rules say, through the risk-oracle role. */
  private async act(f: Forecast, d: LevelDecision, state: MonitorState): Promise<void> {
    const breaker = this.o.breaker;
    if (!breaker) {
      this.lastActions = [];
      if (d.level > 2) {
        await this.alert(
          state.markets.map((m) =>
            guardianAlert({
              marketId: m.id,
              symbol: m.symbol,
              wanted: d.level,
              reason: `${d.reason} (the monitor holds no risk-oracle role)`,
              reference: f.inputsHash,
              now: new Date(),
              generatorURL: this.o.generatorURL,
            }),
          ),
        );
      }
      return;
    }
    const at = { blockTag: state.blockNumber };
    const withInterest = state.markets.filter(
      (m) => m.snapshot.state.longOpenInterest + m.snapshot.state.shortOpenInterest > 0n,
    );
    const [maxLevel, maxDuration, minDelay, maxRenewals] = await Promise.all([
      breaker.riskOracleMaxLevel(at),
      breaker.riskOracleMaxDuration(at),
      breaker.riskOracleMinDelay(at),
      breaker.riskOracleMaxRenewals(at),
    ]);
    const markets: BreakerMarket[] = await Promise.all(
      withInterest.map(async (m) => {
        const l = await breaker.marketLevel(m.id, at);
        return {
          marketId: m.id,
          level: Number(l.level),
          riskOracleLevel: Number(l.riskOracleLevel),
          riskOracleExpiry: Number(l.riskOracleExpiry),
          riskOracleLastRaise: Number(l.riskOracleLastRaise),
          riskOracleRenewals: Number(l.riskOracleRenewals),
        };
      }),
    );
    const fresh = this.freshSinceRaise;
    const planned = actions(
      d,
      f.inputsHash,
      fresh,
      markets,
      {
        maxLevel: Number(maxLevel),
        maxDuration: Number(maxDuration),
        minDelay: Number(minDelay),
        maxRenewals: Number(maxRenewals),
      },
      Number(state.timestamp),
      { raiseDuration: this.o.raiseDuration ?? 2 * 3_600, renewWithin: this.o.renewWithin ?? 3_600 },
    );
    this.lastActions = planned;
    const symbols = new Map(state.markets.map((m) => [m.id, m.symbol]));
    const alerts = planned
      .filter((a) => a.kind === "alert")
      .map((a) =>
        guardianAlert({
          marketId: a.marketId,
          symbol: symbols.get(a.marketId) ?? String(a.marketId),
          wanted: a.kind === "alert" ? a.wanted : 0,
          reason: a.kind === "alert" ? a.reason : "",
          reference: f.inputsHash,
          now: new Date(),
          generatorURL: this.o.generatorURL,
        }),
      );
    await this.alert(alerts);
    for (const a of planned) {
      if (a.kind !== "raise") continue;
      if (this.o.dryRun) {
        this.o.logger.info(
          { market: a.marketId, stressLevel: a.level, duration: a.duration, reference: a.reference },
          "dry run: would raise",
        );
        this.metrics.raises.inc({ outcome: "dry-run" });
        continue;
      }
      try {
        const tx = await breaker.riskOracleRaise(a.marketId, a.level, a.duration, a.reference);
        await tx.wait();
        this.freshSinceRaise = false;
        this.metrics.raises.inc({ outcome: a.renewal ? "renewed" : "raised" });
        this.emit("raise", a);
        this.o.logger.info(
          { market: a.marketId, stressLevel: a.level, duration: a.duration, reference: a.reference, tx: tx.hash },
          "risk oracle raised",
        );
      } catch (e) {
        this.metrics.raises.inc({ outcome: "failed" });
        this.o.logger.warn({ market: a.marketId, err: (e as Error).message }, "risk-oracle raise failed");
      }
    }
  }
}

function pct(x: bigint | undefined): string | null {
  return x === undefined ? null : `${(Number(x) / 1e16).toFixed(2)}%`;
}

/** JSON with bigints as decimal strings and Maps as objects. */
export function toJson(v: unknown, space?: number): string {
  return JSON.stringify(
    v,
    (_k, x) => {
      if (typeof x === "bigint") return x.toString();
      if (x instanceof Map) return Object.fromEntries([...x].map(([k, y]) => [String(k), y]));
      if (typeof x === "number" && !Number.isFinite(x)) return null;
      return x;
    },
    space,
  );
}
