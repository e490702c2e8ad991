/**
 * The monitor backtested inside a crash replay: at every step the replay records (scripts/replay's
 * `onStep` hook), the monitor reads the replayed chain as it then is (no look-ahead: the book, the
 * markets and the insurance fund at that block, and only the oracle prices seen so far as history),
 * forecasts, and derives the level its rules want. By default it observes only: it raises nothing, so
 * the replay's outcome is the one without the monitor. With `raise`, it also acts as the risk-oracle
 * service does (rules.ts `actions`: the role's bounds read from the breaker, renewals only on a fresh
 * oracle round): a key granted RISK_ORACLE at the first step raises the breaker through
 * `riskOracleRaise`, every transaction mined at the step's own time, so the replay's outcome is then
 * the one with the monitor (protected-with-monitor against protected-without).
 *
 * Measured per run:
 * - the first liquidation wave: the first 5-minute window whose forced notional (tranches liquidated and
 *   accounts the backstop vault took over) reaches 1% of the open interest (its largest over the run);
 * - lead time of level >= 1 and level >= 2 before that wave, against two naive rules: a 3% drop of
 *   the oracle price within 15 minutes, and an open-interest/funding rule (the skew reaches half the
 *   skew scale, where funding is at half its maximum, in any market);
 * - false alarms on the calm stretch (every step more than an hour before the wave): the share of calm
 *   time at level >= 1, and the level-2 raises there scaled to 30 days;
 * - forecast error: at each step, the cascade forecast for the moves the paths then made over the next
 *   hour (every market's own path, the collateral's included: `pathMoves`) against the notional the
 *   replay force-closed in that hour of the accounts held at the step; the median ratio and the share
 *   within a factor 1.5.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { id } from "ethers";

import type { Protocol } from "../../deploy/protocol.js";
import { deploymentRecord } from "../keeper/devnet/world.js";
import type { ReplayMetrics, ReplayStep } from "../replay/result.js";
import { type CascadeMarket, cascade } from "./cascade.js";
import { ChainSource, referenceMarket } from "./chain.js";
import { type ForecastSettings, DEFAULT_FORECAST_SETTINGS, cascadeMarkets, forecast } from "./forecast.js";
import { type Direction, type ThresholdTable, betaTables } from "./ladder.js";
import {
  type BreakerMarket,
  type ChangeGateSettings,
  type EscalationSettings,
  type LevelDecision,
  type Persistence,
  type RuleInputs,
  type Rules,
  ChangeGate,
  DEFAULT_ESCALATION,
  DEFAULT_GATE,
  Escalation,
  DEFAULT_PERSISTENCE,
  DEFAULT_RULES,
  LevelTracker,
  RULE_VARIANTS,
  actions,
  levelFromInputs,
  levelSeries,
  ruleInputs,
} from "./rules.js";
import { RISK_ORACLE_ROLE } from "../../deploy/protocol.js";
import { type PricePoint, standardisedShocks } from "./stats.js";
import { type ForecastProbe, probeOf } from "./reliability.js";
import { type Exposure, type MonitorAccount, type MonitorState, exposureOf, marketMap } from "./exposure.js";
import type { MarketSnapshot } from "../lib/math/engine.js";
import { WAD } from "../lib/math/fixedPoint.js";
import { ILiquidator__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidator__factory.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";

/** A feed's new round (Chainlink's AggregatorInterface event, the mock feeds' too). */
const ANSWER_UPDATED = id("AnswerUpdated(int256,uint256,uint256)");

type Observation = {
  t: number;
  level: number;
  /** what the rules read from this step's forecast: every variant's level is derived from these */
  inputs: RuleInputs;
  /** the rule that set the level */
  reason: string;
  /**
   * the reference market (the largest sigma, then the most open interest: chain.ts `referenceMarket`): whose
   * rounds the history is
   */
  reference: number | undefined;
  /** critical shock down (fraction; null: none up to 50%), P(1 h) of the worst direction */
  critical: number | null;
  p1h: number;
  /** both directions' predictions, for the reliability table (reliability.ts) */
  probe: ForecastProbe;
  oraclePrice: number;
  pathPrice: bigint;
  /** for the forecast error: the down table and markets at this step */
  table: ThresholdTable;
  markets: CascadeMarket[];
  insuranceWad: bigint;
  /** largest |skew| / skewScale over the markets */
  skewRatio: number;
  /** the chain as the monitor read it at this step (kept for `dump`) */
  state: MonitorState;
  /** every market's path price at the step, by market id (the replay's per-market paths) */
  pathPrices: Map<number, bigint>;
  /** the book's exposures and the markets, for the forecast of a move that is not joint */
  exposures: Exposure[];
  snapshots: Map<number, MarketSnapshot>;
  /** accounts holding a position at the step: the book the forecast saw */
  seen: Set<bigint>;
};

export type BacktestResult = {
  steps: number;
  openInterest: bigint;
  /** forced notional over the run (tranches sold and accounts the backstop took over), WAD */
  forcedNotional: bigint;
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
  /** the same forecasts under each variant of the rules (RULE_VARIANTS), for the tables */
  variants: VariantResult[];
  forecastError: { samples: number; medianRatio: number | undefined; withinFactor1_5: number | undefined };
  /** level the rules wanted at each step, for the report's series */
  series: {
    t: number;
    level: number;
    reason: string;
    critical: number | null;
    p1h: number;
    price: number;
    /** the reference market's symbol (chain.ts `referenceMarket`): whose rounds the forecast's history was */
    reference: string | null;
  }[];
  /** the rules' inputs at every step (to derive any other variant later from the same run) */
  inputs: RuleInputs[];
  /** the forecast error's steps, with their parts */
  forecastSamples: ForecastSample[];
  /** every forecast's predictions in both directions, for the reliability table (reliability.ts) */
  probes: ForecastProbe[];
};

export type VariantResult = {
  name: string;
  lead: { level1: number | undefined; level2: number | undefined };
  calm: { shareAtLevel1: number | undefined; level2RaisesPer30Days: number | undefined };
};

export class ReplayBacktest {
  private source: ChainSource | undefined;
  private readonly observations: Observation[] = [];
  private readonly liquidations: ForcedCloses[] = [];
  /** every feed's oracle rounds seen so far, by market id: the service's `ChainSource.history` */
  private readonly histories = new Map<number, PricePoint[]>();
  private openInterest: bigint | undefined;
  private lastBlock: number | undefined;
  /** an oracle round was mined since the last forecast (the next forecast is fresh) */
  private roundSinceForecast = false;
  /** every market's feed (the deployment record's), whose rounds make the return histories */
  private feeds: { marketId: number; feedId: string }[] = [];

  /** raises sent, renewals among them, and raises the breaker refused */
  readonly raises = { sent: 0, renewals: 0, refused: 0, alerts: 0 };
  private raiser: { address: string; fresh: boolean } | undefined;

  constructor(
    private readonly o: {
      rules?: Rules;
      settings?: ForecastSettings;
      /** act through the risk-oracle role (see the file comment) */
      raise?: boolean;
      /** seconds a raise lasts (default 7200, as the service) */
      raiseDuration?: number;
      /** renew a live floor only this close to its expiry (default 3600, as the service) */
      renewWithin?: number;
      /** persistence of levels (rules.ts LevelTracker); null: each forecast's level as the rules give it */
      persistence?: Persistence | null;
      /** the change gate (rules.ts ChangeGate); null: none; default DEFAULT_GATE */
      gate?: ChangeGateSettings | null;
      /** escalation (rules.ts Escalation); null: none; default DEFAULT_ESCALATION (fresh: a step after a new oracle round) */
      escalation?: EscalationSettings | null;
    } = {},
  ) {
    this.tracker = o.persistence === null ? undefined : new LevelTracker(o.persistence ?? DEFAULT_PERSISTENCE);
    const gate = o.gate === undefined ? DEFAULT_GATE : o.gate;
    this.gate = gate === null ? undefined : new ChangeGate(gate);
    const escalation = o.escalation === undefined ? DEFAULT_ESCALATION : o.escalation;
    this.escalation = escalation === null ? undefined : new Escalation(escalation);
  }

  private readonly escalation: Escalation | undefined;

  private readonly tracker: LevelTracker | undefined;
  private readonly gate: ChangeGate | undefined;

  /** The service's actions for one decision, sent at the chain's current time. */
  private async act(
    decision: LevelDecision,
    reference: string,
    state: { blockNumber: number; timestamp: bigint; markets: { id: number; oi: bigint }[] },
    chain: { ethers: HardhatEthers; protocol: Protocol },
  ): Promise<void> {
    const breaker0 = chain.protocol.breaker;
    if (!breaker0) return;
    const { ethers } = chain;
    const pin = async () => {
      const head = await ethers.provider.getBlock("latest");
      await ethers.provider.send("evm_setNextBlockTimestamp", [head!.timestamp]);
    };
    if (!this.raiser) {
      // a key of its own for the role, granted by the breaker's admin (the deployer among the signers)
      const address = "0x000000000000000000000000000000000000d0d0";
      await ethers.provider.send("hardhat_setBalance", [address, "0x56bc75e2d63100000"]);
      const admin = await breaker0.DEFAULT_ADMIN_ROLE();
      let granted = false;
      for (const signer of (await ethers.getSigners()).slice(0, 20)) {
        if (!(await breaker0.hasRole(admin, signer.address))) continue;
        await pin();
        await (await breaker0.connect(signer).grantRole(RISK_ORACLE_ROLE, address)).wait();
        granted = true;
        break;
      }
      if (!granted) throw new Error("backtest: no signer holds the breaker's admin role to grant RISK_ORACLE");
      this.raiser = { address, fresh: true };
    }
    const signer = await ethers.getImpersonatedSigner(this.raiser.address);
    const breaker = breaker0.connect(signer);
    const at = { blockTag: state.blockNumber };
    const [maxLevel, maxDuration, minDelay, maxRenewals] = await Promise.all([
      breaker.riskOracleMaxLevel(at),
      breaker.riskOracleMaxDuration(at),
      breaker.riskOracleMinDelay(at),
      breaker.riskOracleMaxRenewals(at),
    ]);
    const markets: BreakerMarket[] = [];
    for (const m of state.markets) {
      if (m.oi === 0n) continue;
      const l = await breaker.marketLevel(m.id, at);
      markets.push({
        marketId: m.id,
        level: Number(l.level),
        riskOracleLevel: Number(l.riskOracleLevel),
        riskOracleExpiry: Number(l.riskOracleExpiry),
        riskOracleLastRaise: Number(l.riskOracleLastRaise),
        riskOracleRenewals: Number(l.riskOracleRenewals),
      });
    }
    const planned = actions(
      decision,
      reference,
      this.raiser.fresh,
      markets,
      {
        maxLevel: Number(maxLevel),
        maxDuration: Number(maxDuration),
        minDelay: Number(minDelay),
        maxRenewals: Number(maxRenewals),
      },
      Number(state.timestamp),
      { raiseDuration: this.o.raiseDuration ?? 7_200, renewWithin: this.o.renewWithin ?? 3_600 },
    );
    for (const a of planned) {
      if (a.kind === "alert") this.raises.alerts++;
      if (a.kind !== "raise") continue;
      await pin();
      try {
        await (await breaker.riskOracleRaise(a.marketId, a.level, a.duration, a.reference)).wait();
        this.raises.sent++;
        if (a.renewal) this.raises.renewals++;
        this.raiser.fresh = false;
      } catch {
        this.raises.refused++;
      }
    }
  }

  /** The replay's hook (EngineOptions.onStep). */
  readonly onStep = async (step: ReplayStep, chain: { ethers: HardhatEthers; protocol: Protocol }): Promise<void> => {
    // forced closes of the step: the tranches the replay counts (sold into the market) and the accounts the
    // backstop vault took over (AccountTakenOver, no sale: the vault-first design), read from the step's blocks
    const head = await chain.ethers.provider.getBlockNumber();
    const tranches = BigInt(step.liquidatedNotional);
    let takeovers = 0n;
    // the forced closes by account (the forecast error counts only accounts the forecast saw)
    const byAccount: { id: bigint; notional: bigint }[] = [];
    // the first step reads the first rounds; later, any feed's round mined since the step before (the
    // replay's own feeds: it re-points the oracle to them, so they are read from the logs, not the record)
    if (this.lastBlock === undefined) this.roundSinceForecast = true;
    else if (head > this.lastBlock) {
      const rounds = await chain.ethers.provider.getLogs({
        fromBlock: this.lastBlock + 1,
        toBlock: head,
        topics: [ANSWER_UPDATED],
      });
      if (rounds.length > 0) this.roundSinceForecast = true;
    }
    if (this.lastBlock !== undefined && head > this.lastBlock) {
      const engine = await chain.protocol.engine.getAddress();
      const backstop = IBackstopEngine__factory.connect(engine, chain.ethers.provider);
      for (const e of await backstop.queryFilter(backstop.filters.AccountTakenOver(), this.lastBlock + 1, head)) {
        takeovers += e.args.notional;
        byAccount.push({ id: e.args.accountId, notional: e.args.notional });
      }
      const liquidator = ILiquidator__factory.connect(engine, chain.ethers.provider);
      for (const e of await liquidator.queryFilter(liquidator.filters.TrancheLiquidated(), this.lastBlock + 1, head)) {
        const size = e.args.sizeDelta < 0n ? -e.args.sizeDelta : e.args.sizeDelta;
        byAccount.push({ id: e.args.accountId, notional: (size * e.args.fillPrice) / WAD });
      }
    }
    this.lastBlock = head;
    const notional = tranches + takeovers;
    if (notional > 0n) this.liquidations.push({ t: step.t, notional, tranches, takeovers, byAccount });
    if (step.feedback) return;
    if (!this.source) {
      const chainId = Number((await chain.ethers.provider.getNetwork()).chainId);
      const deployment = await deploymentRecord(chain.protocol, "replay", chainId, 0);
      this.source = new ChainSource({ provider: chain.ethers.provider, deployment, historyRounds: 0 });
      this.feeds = deployment.markets.map((m) => ({ marketId: m.id, feedId: m.feedId }));
    }
    // fresh as the service counts it: an oracle round arrived since the last forecast. The replay posts a
    // round only when a feed's answer changes or half its heartbeat passed, so a step on a held path price
    // (a stylised path's 15-minute step read by 5-minute ticks) re-reads the round before and is not fresh
    const fresh = this.roundSinceForecast;
    this.roundSinceForecast = false;
    const state = await this.source.read();
    const oraclePrice = Number(BigInt(step.oraclePrice)) / 1e18;
    // the return histories are every feed's own oracle rounds, as the service keeps them (chain.ts `newRounds`:
    // a new round's answer at its own updatedAt), not one point per step: a step made by another feed's round
    // (the USDC depeg's irregular Chainlink rounds between BTC's minutes) would split one round's return into a
    // held 0 and the whole move over the seconds left (`referenceRound`)
    const rounds: Record<number, PricePoint> = {};
    for (const { marketId, feedId } of this.feeds) {
      const read = await chain.protocol.oracle
        .latestPrice(feedId, { blockTag: state.blockNumber })
        .catch(() => undefined);
      if (!read) continue;
      const h = this.histories.get(marketId) ?? [];
      const round = referenceRound(h, Number(read[1]), Number(read[0]) / 1e18);
      if (round) {
        h.push(round);
        rounds[marketId] = round;
      }
      this.histories.set(marketId, h);
    }
    // the forecast reads the reference market's history (the largest sigma, then the most open interest), by the
    // service's own rule (chain.ts `referenceMarket`; `ChainSource.referenceHistory`)
    const reference = referenceMarket(state);
    const history = reference === undefined ? [] : (this.histories.get(reference) ?? []);
    const round = reference === undefined ? undefined : rounds[reference];
    const settings = this.o.settings ?? DEFAULT_FORECAST_SETTINGS;
    const { forecast: f, tables } = forecast(state, history, settings);
    // the reference price escalation reads (`minMove`) is the history's last, as in the service
    const referencePrice = history.at(-1)?.price;
    const inputs = { ...ruleInputs(f), price: referencePrice, fresh };
    const wanted = levelFromInputs(this.gate ? this.gate.filter(inputs) : inputs, this.o.rules ?? DEFAULT_RULES);
    const persisted = this.tracker ? this.tracker.update(step.t, wanted) : wanted;
    const decision = this.escalation ? this.escalation.update(persisted, fresh, step.t, referencePrice) : persisted;
    if (this.o.raise) {
      // a renewal waits for a forecast after a round the last raise had not seen, as in the service
      if (this.raiser && fresh) this.raiser.fresh = true;
      await this.act(
        decision,
        f.inputsHash,
        {
          blockNumber: state.blockNumber,
          timestamp: state.timestamp,
          markets: state.markets.map((m) => ({
            id: m.id,
            oi: m.snapshot.state.longOpenInterest + m.snapshot.state.shortOpenInterest,
          })),
        },
        chain,
      );
    }
    // the wave's yardstick: the book's open interest at its largest (the replay's traders open over the
    // first part of the run, so the first step's can be 0)
    const openInterest = state.markets.reduce(
      (s, m) => s + ((m.snapshot.state.longOpenInterest + m.snapshot.state.shortOpenInterest) * m.snapshot.price) / WAD,
      0n,
    );
    if (this.openInterest === undefined || openInterest > this.openInterest) this.openInterest = openInterest;
    let skewRatio = 0;
    for (const m of state.markets) {
      const skew = m.snapshot.state.longOpenInterest - m.snapshot.state.shortOpenInterest;
      const r = Number(((skew < 0n ? -skew : skew) * 1_000_000n) / m.snapshot.config.skewScale) / 1_000_000;
      if (r > skewRatio) skewRatio = r;
    }
    const snapshots = marketMap(state);
    // each market's own path (a run over several paths records them by symbol; one path: the step's)
    const pathPrices = new Map<number, bigint>();
    for (const m of state.markets) {
      const own = step.markets?.find((x) => x.symbol === m.symbol);
      pathPrices.set(m.id, BigInt(own?.pathPrice ?? step.pathPrice));
    }
    this.observations.push({
      t: step.t,
      level: decision.level,
      reference,
      inputs,
      reason: decision.reason,
      critical: f.down.criticalShock === undefined ? null : Number(f.down.criticalShock) / 1e18,
      p1h: decision.p1h,
      probe: {
        ...probeOf(f, step.t, oraclePrice, standardisedShocks(history)),
        round: round ?? null,
        reference: reference ?? null,
        rounds,
      },
      oraclePrice,
      pathPrice: BigInt(step.pathPrice),
      table: tables.down,
      markets: cascadeMarkets(state, settings.depthBps),
      insuranceWad: state.insuranceWad,
      skewRatio,
      pathPrices,
      // each account with a copy of its positions as they are at the step: the book's maps are live (the
      // chain source follows the later steps), and the forecast error reads them after the run
      exposures: stepExposures(state, snapshots),
      snapshots,
      seen: new Set(state.accounts.filter((a) => a.positions.size > 0).map((a) => a.id)),
      // a copy: the book's position maps are live and change with the later steps
      state: process.env.BACKTEST_DUMP ? structuredClone(state) : state,
    });
  };

  /**
   * Everything the forecast error is computed from, for a per-step diagnosis offline (BACKTEST_DUMP):
   * each step's down table, markets, fund and prices, and every step's forced closes split into the
   * tranches sold and the accounts the backstop took over.
   */
  dump(): unknown {
    return {
      observations: this.observations.map((o) => ({
        t: o.t,
        reference: o.reference,
        pathPrice: o.pathPrice,
        oraclePrice: o.oraclePrice,
        table: o.table,
        markets: o.markets,
        insuranceWad: o.insuranceWad,
        pathPrices: o.pathPrices,
        exposures: o.exposures,
        snapshots: o.snapshots,
        seen: o.seen,
        state: o.state,
      })),
      liquidations: this.liquidations,
      // every feed's rounds by market id; each observation's `reference` says whose the forecast read
      histories: this.histories,
    };
  }

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
    const calmOf = (level: (o: Observation) => number) => {
      let seconds = 0;
      let alert = 0;
      let raises = 0;
      for (let i = 0; i < obs.length - 1; i++) {
        if (obs[i].t >= calmEnd) break;
        const dt = Math.min(obs[i + 1].t, calmEnd) - obs[i].t;
        seconds += dt;
        if (level(obs[i]) >= 1) alert += dt;
        if (level(obs[i]) >= 2 && (i === 0 || level(obs[i - 1]) < 2)) raises++;
      }
      return {
        seconds,
        shareAtLevel1: seconds > 0 ? alert / seconds : undefined,
        level2RaisesPer30Days: seconds > 0 ? (raises * 30 * 86_400) / seconds : undefined,
      };
    };
    const calm = calmOf((o) => o.level);
    const variants = RULE_VARIANTS.map((v): VariantResult => {
      const levels = levelSeries(
        obs.map((o) => o.inputs),
        v.rules,
        v,
      ).map((d) => d.level);
      const at = new Map(obs.map((o, i) => [o, levels[i]]));
      const c = calmOf((o) => at.get(o)!);
      return {
        name: v.name,
        lead: { level1: lead(first((o) => at.get(o)! >= 1)), level2: lead(first((o) => at.get(o)! >= 2)) },
        calm: { shareAtLevel1: c.shareAtLevel1, level2RaisesPer30Days: c.level2RaisesPer30Days },
      };
    });
    // forecast error: the path's largest fall over the next hour, through the cascade, against the replay
    const samples = forecastSamples(obs, this.liquidations);
    const ratios = samples.filter((x) => x.ratio !== undefined).map((x) => x.ratio!);
    ratios.sort((a, b) => a - b);
    return {
      steps: obs.length,
      openInterest: oi,
      forcedNotional: this.liquidations.reduce((sum, l) => sum + l.notional, 0n),
      waveStart,
      lead: {
        level1: lead(first((o) => o.level >= 1)),
        level2: lead(first((o) => o.level >= 2)),
        drop3pct15m: lead(drop),
        oiFunding: lead(first((o) => o.skewRatio >= 0.5)),
      },
      calm,
      variants,
      forecastError: {
        samples: ratios.length,
        medianRatio: ratios.length ? ratios[ratios.length >> 1] : undefined,
        withinFactor1_5: ratios.length
          ? ratios.filter((r) => r >= 1 / 1.5 && r <= 1.5).length / ratios.length
          : undefined,
      },
      series: obs.map((o) => ({
        t: o.t,
        level: o.level,
        reason: o.reason,
        critical: o.critical,
        p1h: o.p1h,
        price: o.oraclePrice,
        reference: o.state.markets.find((m) => m.id === o.reference)?.symbol ?? null,
      })),
      inputs: obs.map((o) => o.inputs),
      forecastSamples: samples,
      probes: obs.map((o) => o.probe),
    };
  }
}

/**
 * The book's exposures at a step, each account with its own copy of its positions: the chain source's
 * position maps are live (they follow the later steps, and a takeover empties them), and the forecast
 * error reads the exposures after the run (the beta tables' sizes sold come from the positions).
 */
export function stepExposures(state: MonitorState, snapshots: ReadonlyMap<number, MarketSnapshot>): Exposure[] {
  return state.accounts
    .filter((a) => a.positions.size > 0)
    .map((a) => exposureOf(atStep(a), snapshots, state.liquidationMargin));
}

function atStep(a: MonitorAccount): MonitorAccount {
  return { ...a, positions: new Map([...a.positions].map(([id, p]) => [id, { ...p }])) };
}

/** What one step's forecast is compared with (the fields of an observation the error reads). */
export type ForecastStep = {
  t: number;
  /** the reference path's price at the step, WAD (the first market's) */
  pathPrice: bigint;
  /** the joint-move table of the step's book */
  table: ThresholdTable;
  markets: CascadeMarket[];
  insuranceWad: bigint;
  /** every market's own path price, by id; absent: every market moves with the reference */
  pathPrices?: ReadonlyMap<number, bigint>;
  /** the book's exposures and markets, for a move that is not joint (with `pathPrices`) */
  exposures?: Exposure[];
  snapshots?: ReadonlyMap<number, MarketSnapshot>;
  /** accounts holding a position at the step; absent: every forced close counts */
  seen?: ReadonlySet<bigint>;
};

/** The replay's forced closes of one step, WAD: tranches sold and accounts the backstop vault took over. */
export type ForcedCloses = {
  t: number;
  notional: bigint;
  tranches?: bigint;
  takeovers?: bigint;
  /** the same closes by account (takeovers and tranche legs) */
  byAccount?: { id: bigint; notional: bigint }[];
};

/** One step of the forecast error, with its parts (the per-step dump of the report). */
export type ForecastSample = {
  t: number;
  /** the chosen move's size (see `pathMoves`): its reference market's fall or rise from the step, WAD */
  shock: bigint;
  /** the market whose largest move in the hour that is (undefined: the reference path, every market alike) */
  reference: number | undefined;
  direction: Direction;
  /** each market's move at that low per unit of the reference's (WAD, by market id; 1: moved alike) */
  betas: Record<number, bigint>;
  /** the cascade's liquidated notional for that move, WAD */
  predicted: bigint;
  /** the reference path's fall with every market moved alike (the joint move of the ladder) */
  predictedJoint: bigint;
  /** of it, the accounts liquidatable at the step's prices already (a shock of 0), WAD */
  predictedNow: bigint;
  /** forced closes the replay made in the hour after the step of accounts held at the step, WAD */
  realised: bigint;
  /** every forced close of the hour, accounts opened after the step included */
  realisedAll: bigint;
  realisedTranches: bigint;
  realisedTakeovers: bigint;
  /** predicted / realised; undefined when both are 0 (not a sample), Infinity when only realised is */
  ratio: number | undefined;
};

const HOUR = 3_600;

/**
 * The forecast error per step: the cascade forecast for the move the paths then made against the forced
 * closes the replay made in that hour (after the step, up to an hour later).
 *
 * - The move: every market's largest fall and largest rise over the next hour from its own path price
 *   at the step, each with every other market's own path move to that same moment, as a multiple
 *   (beta) of it (`pathMoves`): the replay drives each market by its own path, and a market that does
 *   not move with the others (a ratio such as stETH/ETH, a stablecoin, the collateral's own price)
 *   liquidates nothing there, or is the one that moves. The cascade moves each market by its beta
 *   (ladder.ts `betaTables`), and the sample keeps the move whose forecast liquidates the most: the
 *   hour's worst moment for the book as it stood. Only the paths' prices enter, never the replay's
 *   oracle (which carries the impact of what the replay then sold). Without per-market paths: the
 *   reference path's fall, every market alike.
 * - What it did: the forced closes (tranche legs and takeovers) of the accounts that held a position
 *   at the step. The forecast is of the book as it stands; the replay's traders open over the first
 *   part of the run, and a position opened after the step is no error of that forecast.
 */
export function forecastSamples(
  steps: readonly ForecastStep[],
  liquidations: readonly ForcedCloses[],
): ForecastSample[] {
  const out: ForecastSample[] = [];
  for (let i = 0; i < steps.length; i++) {
    const o = steps[i];
    let low = o.pathPrice;
    for (let j = i + 1; j < steps.length && steps[j].t <= o.t + HOUR; j++)
      if (steps[j].pathPrice < low) low = steps[j].pathPrice;
    const refShock = o.pathPrice > 0n ? ((o.pathPrice - low) * WAD) / o.pathPrice : 0n;
    const opts = { insuranceWad: o.insuranceWad };
    // the moves the paths made in the hour: each market's largest fall and largest rise, each with every
    // other market's own move to that moment (the reference's fall alone without per-market paths)
    const moves: PathMove[] = o.pathPrices
      ? pathMoves(steps, i)
      : refShock > 0n
        ? [{ reference: undefined, direction: "down", shock: refShock, betas: new Map() }]
        : [];
    let best: { move: PathMove; predicted: bigint } | undefined;
    for (const m of moves) {
      const joint = [...m.betas.values()].every((b) => b === WAD);
      let table = o.table;
      let markets = o.markets;
      if (m.direction === "up" || (!joint && o.exposures && o.snapshots)) {
        if (!o.exposures || !o.snapshots) continue;
        table = betaTables(o.exposures, o.snapshots, m.betas)[m.direction];
        markets = o.markets.map((x) => ({ ...x, beta: m.betas.get(x.id) ?? WAD }));
      }
      const predicted = cascade(table, markets, m.shock, opts).liquidatedNotional;
      if (best === undefined || predicted > best.predicted) best = { move: m, predicted };
    }
    const predicted = best?.predicted ?? 0n;
    const shock = best?.move.shock ?? 0n;
    const betas = best?.move.betas ?? new Map<number, bigint>();
    // the joint move of the ladder at the reference's fall (the forecast as the rules read it)
    const predictedJoint = cascade(o.table, o.markets, refShock, opts).liquidatedNotional;
    const predictedNow = cascade(o.table, o.markets, 0n, opts).liquidatedNotional;
    let realised = 0n;
    let realisedAll = 0n;
    let realisedTranches = 0n;
    let realisedTakeovers = 0n;
    for (const l of liquidations) {
      if (l.t <= o.t || l.t > o.t + HOUR) continue;
      realisedAll += l.notional;
      realisedTranches += l.tranches ?? 0n;
      realisedTakeovers += l.takeovers ?? 0n;
      if (!o.seen || !l.byAccount) realised += l.notional;
      else for (const c of l.byAccount) if (o.seen.has(c.id)) realised += c.notional;
    }
    const ratio =
      predicted === 0n && realised === 0n
        ? undefined
        : realised === 0n
          ? Infinity
          : predicted === 0n
            ? 0
            : Number((predicted * 1_000_000n) / realised) / 1_000_000;
    out.push({
      t: o.t,
      shock,
      reference: best?.move.reference,
      direction: best?.move.direction ?? "down",
      betas: Object.fromEntries(betas),
      predicted,
      predictedJoint,
      predictedNow,
      realised,
      realisedAll,
      realisedTranches,
      realisedTakeovers,
      ratio,
    });
  }
  return out;
}

/**
 * One move the paths made in the hour after a step: `reference`'s fall ("down") or rise ("up") from its
 * price at the step to one moment, `shock` its size (WAD), and every market's own move to that same
 * moment in the same sense, per unit of the reference's (`betas`, WAD by market id; negative: it moved the other
 * way). `reference` undefined: the reference path's fall with every market moved alike (no per-market
 * paths).
 */
export type PathMove = {
  reference: number | undefined;
  direction: Direction;
  shock: bigint;
  betas: Map<number, bigint>;
};

/**
 * The moves the paths made over the hour after step `i`: at the moment of every market's largest fall
 * and largest rise (its own path, from its price at the step), every market's move to that moment, the
 * market that moved most as the reference (betas within [-1, 1]): the candidate moves the forecast error
 * evaluates (`forecastSamples` keeps the one whose forecast liquidates the most, the
 * hour's worst moment for the book as it stood). A market whose path is the collateral's price (the
 * replay's USDC market in the USDC depeg) moves by its own path like any other: a fall of the
 * collateral while the perp is flat is a move, and so is the rebound after it (shorts).
 */
export function pathMoves(steps: readonly ForecastStep[], i: number): PathMove[] {
  const o = steps[i];
  const start = o.pathPrices;
  if (!start) return [];
  // the moments: each market's lowest and highest path price in the hour (the first of equal ones)
  const moments = new Set<number>();
  for (const [id, p0] of start) {
    if (p0 <= 0n) continue;
    let low = p0;
    let high = p0;
    let lowAt = i;
    let highAt = i;
    for (let j = i + 1; j < steps.length && steps[j].t <= o.t + HOUR; j++) {
      const p = steps[j].pathPrices?.get(id);
      if (p === undefined) continue;
      if (p < low) {
        low = p;
        lowAt = j;
      }
      if (p > high) {
        high = p;
        highAt = j;
      }
    }
    if (lowAt !== i) moments.add(lowAt);
    if (highAt !== i) moments.add(highAt);
  }
  const out: PathMove[] = [];
  for (const j of [...moments].sort((x, y) => x - y)) {
    // every market's signed move to the moment (positive: up); the reference is the one that moved most,
    // so every beta is within [-1, 1] (a reference that barely moved would scale the cascade's own
    // displacement of the others by its inverse)
    const moves = new Map<number, bigint>();
    let reference: number | undefined;
    let largest = 0n;
    for (const [id, p0] of start) {
      const p = steps[j].pathPrices?.get(id);
      if (p === undefined || p0 <= 0n) continue;
      const move = ((p - p0) * WAD) / p0;
      moves.set(id, move);
      const size = move < 0n ? -move : move;
      if (size > largest) {
        largest = size;
        reference = id;
      }
    }
    if (reference === undefined) continue;
    const direction: Direction = moves.get(reference)! < 0n ? "down" : "up";
    const betas = new Map<number, bigint>();
    for (const [id, move] of moves) betas.set(id, ((direction === "down" ? -move : move) * WAD) / largest);
    out.push({ reference, direction, shock: largest, betas });
  }
  return out;
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

/**
 * One run's outcome figures for the with/without table (`backtest:monitor -- --compare`): extra drop /
 * wiped out / bad debt incurred / the backstop vault's worst loss ("-" without the vault) / liquidated
 * notional / positions opened. Dollars are whole (rounded down), the drop to 0.01%.
 */
export function outcomeCell(m: ReplayMetrics, vaultLoss: string | undefined): string {
  const usd = (w: string) => `$${(BigInt(w) / WAD).toLocaleString("en-US")}`;
  const drop = `${(Number(BigInt(m.maxExtraDrop) / 10n ** 12n) / 1e4).toFixed(2)}%`;
  const vault = vaultLoss === undefined ? "-" : usd(vaultLoss);
  return `${drop} / ${m.accountsWipedOut} / ${usd(m.badDebtIncurred)} / ${vault} / ${usd(m.liquidatedNotional ?? "0")} / ${m.positionsOpened ?? "-"}`;
}

/**
 * The history point a forecast adds to one feed's history (undefined: none): the feed's latest round when it is
 * newer than the history's last point, at the round's own time (`updatedAt`) and answer. One point per feed and
 * forecast at most, as the service's `newRounds` (each feed's latest round per poll); a forecast after rounds of
 * other feeds only adds nothing to this one, so a return always spans the feed's own round interval.
 */
export function referenceRound(
  history: readonly PricePoint[],
  updatedAt: number,
  price: number,
): PricePoint | undefined {
  const last = history.at(-1);
  if (!(price > 0) || (last !== undefined && updatedAt <= last.t)) return undefined;
  return { t: updatedAt, price };
}
