/**
 * One forecast from one block's state: the ladder, the cascade curve in both directions, the critical
 * shock and its sensitivity to depth, the distance to it and its probability over each horizon, the
 * insurance fund's coverage, and a reference (sha256 of the inputs) that a risk-oracle raise carries.
 */
import { createHash } from "node:crypto";

import { WAD } from "../lib/math/fixedPoint.js";
import {
  type CascadeMarket,
  type CascadeOptions,
  type CascadeResult,
  cascade,
  cascadeCurve,
  criticalShock,
  type RunawayTest,
  firstShock,
  selfExciting,
} from "./cascade.js";
import {
  type Exposure,
  type MonitorState,
  type UnpricedMarket,
  depegged,
  depeggedExposure,
  marketMap,
} from "./exposure.js";
import {
  type Direction,
  DIRECTIONS,
  type Ladder,
  type ThresholdTable,
  buildLadder,
  tablesOf,
  thresholdTables,
} from "./ladder.js";
import {
  type MoveProbability,
  type PricePoint,
  type ProbabilityModel,
  demeaned,
  moveProbability,
  standardisedShocks,
} from "./stats.js";

export type ForecastSettings = {
  ladderStepBps: number;
  ladderMaxBps: number;
  shockStepBps: number;
  maxShockBps: number;
  /** impact depth as a multiple of the market depth (skewScale * price), in bps: 10000 = the depth the protocol assumes */
  depthBps: number;
  /** the depths the sensitivity table tries, in bps of the market depth */
  depthSensitivityBps: number[];
  maxImpactWad: bigint;
  horizonsSeconds: number[];
  /** a liquidation wave: the cascade liquidates at least this share of the open interest, bps (100 = 1%) */
  waveBps: number;
  /** a wave is collective: at least this many accounts (one account's close is not a wave) */
  waveMinAccounts: number;
  /** the collateral depegs the forecast repeats itself at, bps (exposure.ts `depegged`) */
  depegBps: number[];
  /**
   * the historic simulation counts only when the history holds this many non-overlapping windows of the
   * horizon (stats.ts `moveProbability` `minHorizons`); 0 or absent: 30 overlapping windows suffice (the
   * default; the twelfth round measured 30 and did not adopt it)
   */
  historicMinHorizons?: number;
  /**
   * what each probability is of (stats.ts `ProbabilityModel`): `reach`, the price touches the shock at some
   * time within the horizon (first passage); `end`, it is past the shock at the horizon's end. Absent: `end`
   * (docs/architecture.md, "Risk monitor", "Probability"; docs/experiments.md, "The probability of reaching")
   */
  probabilityModel?: ProbabilityModel;
  /**
   * the historic part draws its windows from the history's shocks with their mean removed (stats.ts `demeaned`);
   * absent or false: as recorded (docs/experiments.md, "Why the USDC depeg's calm alarms")
   */
  historicDemean?: boolean;
  /** what the cascade calls a runaway (cascade.ts `RunawayTest`); absent: "divergence" */
  runaway?: RunawayTest;
};

export const DEFAULT_FORECAST_SETTINGS: ForecastSettings = {
  ladderStepBps: 50,
  ladderMaxBps: 5_000,
  shockStepBps: 100,
  maxShockBps: 5_000,
  depthBps: 10_000,
  depthSensitivityBps: [2_500, 5_000, 10_000, 20_000, 40_000],
  maxImpactWad: (9n * WAD) / 10n,
  horizonsSeconds: [900, 3_600, 86_400],
  waveBps: 100,
  waveMinAccounts: 3,
  depegBps: [500, 1_200],
  runaway: "divergence",
};

/** The book when the collateral is worth (1 - depeg) of par, in the markets' quote currency. */
export type DepegForecast = {
  depegBps: number;
  /** notional whose dollar equity no longer covers maintenance at today's prices, with the cascade its closes set off, WAD */
  liquidatableNow: bigint;
  /** negative dollar equity at the prices that cascade ends at, WAD */
  badDebtNow: bigint;
  /** the fund's coverable assets at the depeg, WAD */
  coverableWad: bigint;
  /** the critical joint shock at the depeg, WAD; undefined: none up to the grid's end */
  criticalDown: bigint | undefined;
  criticalUp: bigint | undefined;
};

export type MarketSummary = {
  id: number;
  symbol: string;
  price: bigint;
  /** annualised, as the oracle reports it */
  sigma: number;
  depthWad: bigint;
  longOpenInterest: bigint;
  shortOpenInterest: bigint;
};

export type DirectionForecast = {
  direction: Direction;
  curve: CascadeResult[];
  /** smallest critical shock (WAD), undefined when none up to the grid's end */
  criticalShock: bigint | undefined;
  /**
   * per horizon: distance and probability of the critical shock under the settings' model (`probabilityModel`:
   * past it at the horizon's end by default): what the rules read
   */
  horizons: MoveProbability[];
  /** per horizon: the probability of reaching the critical shock at some time within it (first passage) */
  reachHorizons: MoveProbability[];
  /** smallest shock (WAD) whose cascade liquidates `waveBps` of the open interest: a liquidation wave */
  waveShock: bigint | undefined;
  /** per horizon: probability of the wave shock, under the settings' model */
  waveHorizons: MoveProbability[];
  /**
   * the wave feeds itself (cascade.ts `selfExciting`: its sales set off at least the liquidations the
   * shock did); only such a wave sets a stress level (rules.ts), any wave is reported
   */
  waveAmplifies: boolean;
};

export type Forecast = {
  blockNumber: number;
  timestamp: bigint;
  /** sha256 of the inputs, 0x-prefixed: the reference of a risk-oracle raise */
  inputsHash: string;
  accounts: number;
  accountsWithPositions: number;
  markets: MarketSummary[];
  insuranceWad: bigint;
  ladder: Ladder;
  down: DirectionForecast;
  up: DirectionForecast;
  /** the direction and shock that matter most: the larger probability over one hour */
  worst: { direction: Direction; criticalShock: bigint | undefined; distance1h: number; probability1h: number };
  depthSensitivity: { depthBps: number; down: bigint | undefined; up: bigint | undefined }[];
  /** the insurance fund over the bad debt of a 10% (or the critical, if smaller) joint shock with cascade */
  insurance: { coverableWad: bigint; badDebtAt10pct: bigint; coverageAt10pct: number | undefined };
  /** notional liquidatable now and after 5% and 10% joint moves down and up (no cascade), WAD */
  indicators: { liquidatableNow: bigint; down5: bigint; down10: bigint; up5: bigint; up10: bigint; sigmaMax: number };
  /** the forecast repeated at each collateral depeg of the settings (markets moving jointly on top) */
  collateral: DepegForecast[];
  /** markets whose oracle read failed, with the accounts left out because they hold them */
  unpriced: UnpricedMarket[];
  /** time the forecast took, ms */
  computeMs: number;
};

/** The cascade's answers for the book at a collateral depeg (prices unmoved, then moved jointly). */
export function depegForecast(
  state: MonitorState,
  depegBps: number,
  markets: readonly CascadeMarket[],
  curveOpts: CascadeOptions & { maxShockBps?: number; stepBps?: number },
  /** the state's exposures at par, when already computed (buildLadder's): saves computing them again */
  exposures?: Exposure[],
): DepegForecast {
  const s = depegged(state, bpsWad(depegBps));
  const tables = exposures
    ? tablesOf(
        exposures.map((e) => depeggedExposure(e, bpsWad(depegBps))),
        marketMap(state),
      )
    : thresholdTables(s);
  // a coarser grid (5%) than the main curve: the critical shock is refined by bisection to 1 bp anyway
  const opts = { ...curveOpts, insuranceWad: s.insuranceWad, stepBps: Math.max(curveOpts.stepBps ?? 100, 500) };
  const critical = (d: Direction) => criticalShock(tables[d], markets, cascadeCurve(tables[d], markets, opts), opts);
  const now = cascade(tables.down, markets, 0n, opts);
  return {
    depegBps,
    liquidatableNow: now.liquidatedNotional,
    badDebtNow: now.badDebt,
    coverableWad: s.insuranceWad,
    criticalDown: critical("down"),
    criticalUp: critical("up"),
  };
}

/** Each market's impact depth at a multiple (bps) of its depth skewScale * price. */
export function cascadeMarkets(state: MonitorState, depthBps: number): CascadeMarket[] {
  return state.markets.map((m) => ({
    id: m.id,
    price: m.snapshot.price,
    depthWad: (((m.snapshot.config.skewScale * m.snapshot.price) / WAD) * BigInt(depthBps)) / 10_000n || 1n,
  }));
}

/** sha256 over the canonical inputs: block, markets, every account's margin and positions, the fund. */
export function inputsHash(state: MonitorState, settings: ForecastSettings): string {
  const h = createHash("sha256");
  h.update(`${state.blockNumber}|${state.timestamp}|${state.insuranceWad}|`);
  h.update(JSON.stringify(settings, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
  for (const m of state.markets) {
    const s = m.snapshot;
    h.update(
      `|m${m.id}:${s.price}:${s.sigma}:${s.state.fundingIndex}:${s.state.maintenanceTerm}:${s.config.skewScale}:${s.state.longOpenInterest}:${s.state.shortOpenInterest}`,
    );
  }
  const ids = state.accounts.map((a) => a.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const byId = new Map(state.accounts.map((a) => [a.id, a]));
  for (const id of ids) {
    const a = byId.get(id)!;
    h.update(`|a${id}:${a.margin}`);
    for (const [m, p] of [...a.positions].sort((x, y) => x[0] - y[0])) h.update(`:${m}:${p.size}:${p.basis}`);
  }
  return `0x${h.digest("hex")}`;
}

const bpsWad = (bps: number) => (BigInt(bps) * WAD) / 10_000n;

function pointAt(ladder: Ladder, d: Direction, bps: number): bigint {
  const j = ladder.movesBps.indexOf(bps);
  if (j < 0) return 0n;
  return ladder[d].total[j]?.notional ?? 0n;
}

/**
 * The forecast. `history` is the oracle's price history of the market that carries the most open
 * interest (the joint move's reference); empty is allowed (the fat-tailed fit then assumes nu = 4).
 */
export function forecast(
  state: MonitorState,
  history: readonly PricePoint[],
  settings: ForecastSettings = DEFAULT_FORECAST_SETTINGS,
): { forecast: Forecast; tables: Record<Direction, ThresholdTable> } {
  const started = performance.now();
  const { ladder, tables, exposures } = buildLadder(state, {
    stepBps: settings.ladderStepBps,
    maxBps: settings.ladderMaxBps,
  });
  const opts: CascadeOptions = {
    maxImpactWad: settings.maxImpactWad,
    insuranceWad: state.insuranceWad,
    runaway: settings.runaway,
  };
  const curveOpts = { ...opts, maxShockBps: settings.maxShockBps, stepBps: settings.shockStepBps };
  const markets = cascadeMarkets(state, settings.depthBps);
  const sigmaMax = Math.max(0, ...state.markets.map((m) => Number(m.snapshot.sigma) / 1e18));
  const shocks = standardisedShocks(history);
  const sample = settings.historicDemean ? demeaned(shocks) : shocks;
  const minHorizons = settings.historicMinHorizons ?? 0;
  const model = settings.probabilityModel ?? "end";

  const per = {} as Record<Direction, DirectionForecast>;
  for (const d of DIRECTIONS) {
    const curve = cascadeCurve(tables[d], markets, curveOpts);
    const critical = criticalShock(tables[d], markets, curve, opts);
    const shock = critical === undefined ? settings.maxShockBps / 10_000 : Number(critical) / 1e18;
    const reachHorizons = settings.horizonsSeconds.map((h) =>
      moveProbability(shock, d, h, sigmaMax, sample, 30, minHorizons, "reach"),
    );
    const horizons = settings.horizonsSeconds.map((h) =>
      critical === undefined
        ? moveProbability(settings.maxShockBps / 10_000, d, h, sigmaMax, sample, 30, minHorizons, model)
        : moveProbability(Number(critical) / 1e18, d, h, sigmaMax, sample, 30, minHorizons, model),
    );
    const oi = state.markets.reduce(
      (sum, m) =>
        sum + ((m.snapshot.state.longOpenInterest + m.snapshot.state.shortOpenInterest) * m.snapshot.price) / WAD,
      0n,
    );
    const waveNotional = (oi * BigInt(settings.waveBps)) / 10_000n;
    const wave =
      oi === 0n
        ? undefined
        : firstShock(
            tables[d],
            markets,
            curve,
            opts,
            (r) => r.liquidatedNotional >= waveNotional && r.accounts >= settings.waveMinAccounts,
          );
    const waveHorizons = settings.horizonsSeconds.map((h) =>
      moveProbability(
        Number(wave ?? bpsWad(settings.maxShockBps)) / 1e18,
        d,
        h,
        sigmaMax,
        sample,
        30,
        minHorizons,
        model,
      ),
    );
    const atWave = wave === undefined ? undefined : cascade(tables[d], markets, wave, opts);
    const waveAmplifies = atWave !== undefined && selfExciting(atWave.waves, atWave.liquidatedNotional);
    // beyond the grid nothing is critical: the probability reported is the grid's end, an upper bound
    per[d] = {
      direction: d,
      curve,
      criticalShock: critical,
      horizons,
      reachHorizons,
      waveShock: wave,
      waveHorizons,
      waveAmplifies,
    };
  }
  const hourIndex = Math.max(0, settings.horizonsSeconds.indexOf(3_600));
  const p1h = (d: Direction) => (per[d].criticalShock === undefined ? 0 : per[d].horizons[hourIndex].probability);
  const worstDir: Direction = p1h("up") > p1h("down") ? "up" : "down";
  const depthSensitivity = settings.depthSensitivityBps.map((depthBps) => {
    const ms = cascadeMarkets(state, depthBps);
    const out = { depthBps, down: undefined as bigint | undefined, up: undefined as bigint | undefined };
    for (const d of DIRECTIONS) out[d] = criticalShock(tables[d], ms, cascadeCurve(tables[d], ms, curveOpts), opts);
    return out;
  });
  const tenth = per.down.curve.find((r) => r.shock === bpsWad(1_000)) ?? per.down.curve[per.down.curve.length - 1];
  const badDebt10 = tenth?.badDebt ?? 0n;
  const f: Forecast = {
    blockNumber: state.blockNumber,
    timestamp: state.timestamp,
    inputsHash: inputsHash(state, settings),
    accounts: state.accounts.length,
    accountsWithPositions: state.accounts.filter((a) => a.positions.size > 0).length,
    markets: state.markets.map((m, i) => ({
      id: m.id,
      symbol: m.symbol,
      price: m.snapshot.price,
      sigma: Number(m.snapshot.sigma) / 1e18,
      depthWad: markets[i].depthWad,
      longOpenInterest: m.snapshot.state.longOpenInterest,
      shortOpenInterest: m.snapshot.state.shortOpenInterest,
    })),
    insuranceWad: state.insuranceWad,
    ladder,
    down: per.down,
    up: per.up,
    worst: {
      direction: worstDir,
      criticalShock: per[worstDir].criticalShock,
      distance1h: per[worstDir].horizons[hourIndex]?.distance ?? Infinity,
      probability1h: p1h(worstDir),
    },
    depthSensitivity,
    insurance: {
      coverableWad: state.insuranceWad,
      badDebtAt10pct: badDebt10,
      coverageAt10pct: badDebt10 === 0n ? undefined : Number((state.insuranceWad * 10_000n) / badDebt10) / 10_000,
    },
    indicators: {
      liquidatableNow: ladder.down.total[0]?.notional ?? 0n,
      down5: pointAt(ladder, "down", 500),
      down10: pointAt(ladder, "down", 1_000),
      up5: pointAt(ladder, "up", 500),
      up10: pointAt(ladder, "up", 1_000),
      sigmaMax,
    },
    collateral: settings.depegBps.map((depegBps) => depegForecast(state, depegBps, markets, curveOpts, exposures)),
    unpriced: state.unpriced ?? [],
    computeMs: 0,
  };
  f.computeMs = performance.now() - started;
  return { forecast: f, tables };
}
