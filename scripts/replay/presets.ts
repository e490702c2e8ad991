/**
 * Replay parameter sets. A parameter file is a JSON object of overrides (validated with zod): market
 * risk parameters, liquidation / reward / ADL configuration, breaker on or off, impact model, fund
 * sizes, keeper and replay settings, population. It may `extends` a named preset; the chain of
 * overrides is applied on top of the protocol's own defaults (deploy/params.ts for markets, the
 * LiquidationEngine constructor for liquidation, reward and ADL: those are read back from the chain,
 * so "protected" is literally what deploys by default).
 *
 * Named presets live in scripts/replay/presets/<name>.json: `baseline` (naive mechanisms) and
 * `protected` (everything on, the defaults), and examples of what lies in between.
 */
import { readFileSync, readdirSync } from "node:fs";
import { basename } from "node:path";

import { z } from "zod";

import { DEFAULT_MAX_FUNDING_RATE, DEFAULT_RISK, type RiskParams } from "../../deploy/params.js";
import { WAD, parseDecimal } from "./decimal.js";
import { type PopulationOverrides, PopulationOverridesSchema } from "./population.js";

const PRESET_DIR = new URL("./presets/", import.meta.url);

/** A decimal as a JSON number or a string ("0.25", "1e-4"); parsed exactly. */
const Dec = z.union([z.number(), z.string()]).refine((v) => {
  try {
    parseDecimal(v);
    return true;
  } catch {
    return false;
  }
}, "a decimal number with at most 18 decimals");
type Dec = z.infer<typeof Dec>;
const Int = z.number().int().nonnegative();

const RiskSchema = z
  .object({
    mmrBase: Dec,
    mmrMin: Dec,
    mmrMax: Dec,
    kMm: Dec,
    imMultiplier: Dec,
    sizePremium: Dec,
    mmrRampPerSecond: Dec,
    baseFee: Dec,
    kFee: Dec,
  })
  .partial()
  .strict();

const MarketSchema = z
  .object({
    risk: RiskSchema,
    /** oracle heartbeat (s) */
    heartbeat: Int,
    /** EWMA time constant of the oracle's volatility (s) */
    volWindow: Int,
    /** annualised volatility the oracle starts from */
    initialSigma: Dec,
    maxFundingRatePerSecond: Dec,
    /** market depth (skewScale * price, USD) as a multiple of the population's wanted notional in it */
    depthToNotional: z.number().positive(),
    /** market depth in USD; wins over depthToNotional */
    depthUsd: Dec,
  })
  .partial()
  .strict();

const LiquidationSchema = z
  .object({
    trancheFraction: Dec,
    healthBuffer: Dec,
    backstopRatio: Dec,
    penaltyRate: Dec,
    cooldown: Int,
    capacityWindow: Int,
    capacityDepthFactor: Dec,
    dustNotional: Dec,
    capBypassRatio: Dec,
  })
  .partial()
  .strict();

const RewardSchema = z
  .object({
    flat: Dec,
    min: Dec,
    shareOfNotional: Dec,
    max: Dec,
    escalationPerSecond: Dec,
    maxMultiplier: Dec,
  })
  .partial()
  .strict();

const AdlSchema = z.object({ window: Int, maxNotionalPerWindow: Dec }).partial().strict();

const ImpactSchema = z
  .object({
    /** impact depth as a multiple of the market depth (default 1: the depth the protocol assumes) */
    depthToMarket: z.number().positive(),
    /** impact depth in USD per market symbol; wins over depthToMarket */
    depthUsd: z.record(z.string(), Dec),
    halfLifeSeconds: z.number().positive(),
    /** cap of the displacement, a fraction in (0, 1) */
    maxImpact: Dec,
    /** after a tick with liquidations, another tick this many seconds later (0: none) */
    feedbackSeconds: Int,
    /** at most this many such ticks between two ticks of the schedule */
    maxFeedbackTicks: Int,
  })
  .partial()
  .strict();

const FundsSchema = z
  .object({
    /** insurance fund seeded with this multiple of the population's wanted notional */
    insuranceToNotional: z.number().nonnegative(),
    /** LP pool seeded with this multiple of the population's wanted notional */
    lpToNotional: z.number().positive(),
  })
  .partial()
  .strict();

const BackstopSchema = z
  .object({
    /** deploy the backstop vault (takeover at the backstop, paced unwind) */
    enabled: z.boolean(),
    /** the vault capitalised with this multiple of the population's wanted notional */
    capitalToNotional: z.number().nonnegative(),
    feeRate: Dec,
    accountShare: Dec,
    marketShare: Dec,
    refSigma: Dec,
    depthShare: Dec,
    totalShare: Dec,
    maxDrawdown: Dec,
    drawdownWindow: Int,
    impactBudget: Dec,
    flowHalfLife: Int,
    maxHold: Int,
    lateMultiplier: Dec,
    adlDrawdown: Dec,
    badDebtDrawdown: Dec,
    /** the chain's own-impact mark (OwnImpactModule, mk17): a declined account above maintenance at the marks is
     * held; off unless set */
    ownImpactMark: z.boolean(),
  })
  .partial()
  .strict();

const KeeperSchema = z
  .object({
    /** accounts per liquidateBatch of the keeper service (the contract takes at most 100) */
    batchSize: z.number().int().min(1).max(100),
    /** EXPERIMENTAL (bs13): the keeper's own-impact mark (scripts/keeper/ownImpactMark.ts); off by default */
    ownImpactMark: z.boolean(),
    /** its cap on |estimated own impact| (a fraction); unset: the backstop's impactBudget x lateMultiplier */
    ownImpactMarkCap: Dec,
    /** EXPERIMENTAL (bs14): what the mark may delay: all (bs13) or sales (never a takeover); unset: all */
    ownImpactMarkScope: z.enum(["all", "sales"]),
  })
  .partial()
  .strict();

const ReplaySchema = z
  .object({
    /** longest stretch without a tick (s); the last price is held over it */
    maxTickSeconds: z.number().int().min(1),
    /** width of the liquidated-notional windows in the metrics (s) */
    windowSeconds: z.number().int().min(1),
  })
  .partial()
  .strict();

export const ParamsFileSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]+$/),
    description: z.string(),
    /** a named preset (scripts/replay/presets/<name>.json) these overrides apply on top of */
    extends: z.string(),
    /** deploy the circuit breaker and its triggers */
    breaker: z.boolean(),
    /** every market */
    market: MarketSchema,
    /** per market symbol, on top of `market` */
    markets: z.record(z.string(), MarketSchema),
    liquidation: LiquidationSchema,
    reward: RewardSchema,
    adl: AdlSchema,
    impact: ImpactSchema,
    funds: FundsSchema,
    backstop: BackstopSchema,
    keeper: KeeperSchema,
    replay: ReplaySchema,
    population: PopulationOverridesSchema,
  })
  .partial()
  .strict();

export type ParamsFile = z.infer<typeof ParamsFileSchema>;
type MarketOverrides = z.infer<typeof MarketSchema>;

/** Everything a run needs, defaults filled in. WAD quantities are bigint. */
export type ResolvedParams = {
  name: string;
  description: string;
  /** the files applied, base first */
  files: string[];
  breaker: boolean;
  market: MarketOverrides;
  markets: Record<string, MarketOverrides>;
  /** overrides of the deployed LiquidationEngine configuration (absent fields keep the default) */
  liquidation: z.infer<typeof LiquidationSchema>;
  reward: z.infer<typeof RewardSchema>;
  adl: z.infer<typeof AdlSchema>;
  impact: {
    depthToMarket: number;
    depthUsd: Record<string, Dec>;
    halfLifeSeconds: number;
    maxImpact: bigint;
    feedbackSeconds: number;
    maxFeedbackTicks: number;
  };
  funds: { insuranceToNotional: number; lpToNotional: number };
  /** the backstop vault: off unless a preset enables it; `config` overrides its defaults (backstop.ts) */
  backstop: {
    enabled: boolean;
    capitalToNotional: number;
    /** the chain's own-impact mark switched on (OwnImpactModule.setOwnImpactMark) */
    ownImpactMark: boolean;
    config: Record<string, Dec | number>;
  };
  keeper: { batchSize: number; ownImpactMark?: boolean; ownImpactMarkCap?: Dec; ownImpactMarkScope?: "all" | "sales" };
  replay: { maxTickSeconds: number; windowSeconds: number };
  population: PopulationOverrides;
};

/** The protocol's defaults plus the replay's own: the "protected" preset with no overrides. */
function defaults(): ResolvedParams {
  return {
    name: "protected",
    description: "",
    files: [],
    breaker: true,
    market: {},
    markets: {},
    liquidation: {},
    reward: {},
    adl: {},
    impact: {
      depthToMarket: 1,
      depthUsd: {},
      halfLifeSeconds: 600,
      maxImpact: (9n * WAD) / 10n,
      feedbackSeconds: 20,
      maxFeedbackTicks: 2,
    },
    funds: { insuranceToNotional: 0.05, lpToNotional: 1 },
    backstop: { enabled: false, capitalToNotional: 0.2, ownImpactMark: false, config: {} },
    keeper: { batchSize: 100 },
    replay: { maxTickSeconds: 300, windowSeconds: 300 },
    population: {},
  };
}

/** Market-level defaults of the replay (deploy/params.ts gives the risk parameters). */
export const MARKET_DEFAULTS = {
  heartbeat: 3600,
  volWindow: 6 * 3600,
  initialSigma: "0.5",
  depthToNotional: 10,
} as const;

/** Names of the presets shipped in scripts/replay/presets/. */
export function presetNames(): string[] {
  return readdirSync(PRESET_DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

function readParamsFile(file: string | URL): ParamsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`cannot read parameter file ${String(file)}: ${(e as Error).message}`);
  }
  const parsed = ParamsFileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`parameter file ${String(file)}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

function presetFile(name: string): URL {
  if (!presetNames().includes(name)) {
    throw new Error(`unknown preset "${name}" (known: ${presetNames().join(", ")})`);
  }
  return new URL(`${name}.json`, PRESET_DIR);
}

/** A named preset from scripts/replay/presets/. */
export function loadPreset(name: string): ResolvedParams {
  const p = resolve(presetFile(name), name);
  return name === "protected" ? withChainMarkFromEnv(withFlowHalfLifeFromEnv(withOwnImpactMarkFromEnv(p))) : p;
}

/** Environment variable turning the chain's own-impact mark (OwnImpactModule) on (1) or off (0) for `protected`. */
export const CHAIN_MARK_ENV = "REPLAY_CHAIN_MARK";

/**
 * `protected` with the chain's own-impact mark switched on (REPLAY_CHAIN_MARK=1) or off (=0) whatever the preset
 * says: how the sweep and the outcome test measure with and without it (docs/experiments.md, mk17). Unset or
 * empty, the preset's setting.
 */
export function withChainMarkFromEnv(p: ResolvedParams, env: NodeJS.ProcessEnv = process.env): ResolvedParams {
  const v = env[CHAIN_MARK_ENV];
  if (v === undefined || v === "") return p;
  if (v !== "1" && v !== "0") throw new Error(`${CHAIN_MARK_ENV} must be 1 or 0 (got "${v}")`);
  return withOverrides(p, { backstop: { ownImpactMark: v === "1" } });
}

/** Environment variable setting the backstop's `flowHalfLife` (seconds) of the `protected` preset (bs15's rule A). */
export const FLOW_HALF_LIFE_ENV = "REPLAY_FLOW_HALF_LIFE";

/**
 * `protected` with the backstop's `flowHalfLife` from REPLAY_FLOW_HALF_LIFE (whole seconds, e.g. 1200): how the
 * sweep and the outcome test measure a slower forced-flow measure beside the own-impact mark (docs/experiments.md,
 * bs15). Unset or empty, nothing changes.
 */
export function withFlowHalfLifeFromEnv(p: ResolvedParams, env: NodeJS.ProcessEnv = process.env): ResolvedParams {
  const v = env[FLOW_HALF_LIFE_ENV];
  if (v === undefined || v === "") return p;
  if (!/^[1-9][0-9]*$/.test(v)) throw new Error(`${FLOW_HALF_LIFE_ENV} must be a whole number of seconds (got "${v}")`);
  return withOverrides(p, { backstop: { flowHalfLife: Number(v) } });
}

/** Environment variable that turns the keeper's experimental own-impact mark on for the `protected` preset. */
export const OWN_IMPACT_MARK_ENV = "REPLAY_OWN_IMPACT_MARK";
/** Environment variable giving that mark's cap (a fraction, e.g. 0.003), only with OWN_IMPACT_MARK_ENV. */
export const OWN_IMPACT_MARK_CAP_ENV = "REPLAY_OWN_IMPACT_MARK_CAP";
/** Environment variable giving that mark's scope (all or sales: bs14), only with OWN_IMPACT_MARK_ENV. */
export const OWN_IMPACT_MARK_SCOPE_ENV = "REPLAY_OWN_IMPACT_MARK_SCOPE";

/**
 * `protected` with the keeper's own-impact mark on when REPLAY_OWN_IMPACT_MARK=1 (and its cap from
 * REPLAY_OWN_IMPACT_MARK_CAP, its scope from REPLAY_OWN_IMPACT_MARK_SCOPE): how the sweep and the outcome test
 * measure it (docs/experiments.md, bs13 and bs14).
 * Unset, nothing changes.
 */
export function withOwnImpactMarkFromEnv(p: ResolvedParams, env: NodeJS.ProcessEnv = process.env): ResolvedParams {
  const on = env[OWN_IMPACT_MARK_ENV];
  if (on === undefined || on === "" || on === "0") return p;
  if (on !== "1") throw new Error(`${OWN_IMPACT_MARK_ENV} must be 1 or 0 (got "${on}")`);
  const cap = env[OWN_IMPACT_MARK_CAP_ENV];
  const scope = env[OWN_IMPACT_MARK_SCOPE_ENV] as "all" | "sales" | "" | undefined;
  if (scope && scope !== "all" && scope !== "sales") {
    throw new Error(`${OWN_IMPACT_MARK_SCOPE_ENV} must be all or sales (got "${scope}")`);
  }
  return withOverrides(p, {
    keeper: {
      ownImpactMark: true,
      ...(cap ? { ownImpactMarkCap: cap } : {}),
      ...(scope ? { ownImpactMarkScope: scope } : {}),
    },
  });
}

/** A parameter file anywhere (its `extends` names a preset; without it, it applies to the defaults). */
export function loadParamsFile(path: string): ResolvedParams {
  return resolve(path, basename(path).replace(/\.json$/, ""));
}

/** Applies inline overrides (tests, CLI flags) on top of resolved params. */
export function withOverrides(base: ResolvedParams, o: ParamsFile): ResolvedParams {
  const parsed = ParamsFileSchema.safeParse(o);
  if (!parsed.success) throw new Error(`parameter overrides:\n${z.prettifyError(parsed.error)}`);
  return apply(structuredClone(base), parsed.data, "(inline)");
}

function resolve(file: string | URL, fallbackName: string, seen: string[] = []): ResolvedParams {
  const key = String(file);
  if (seen.includes(key))
    throw new Error(`parameter files extend each other in a loop: ${[...seen, key].join(" -> ")}`);
  const p = readParamsFile(file);
  const base = p.extends === undefined ? defaults() : resolve(presetFile(p.extends), p.extends, [...seen, key]);
  const out = apply(base, p, file instanceof URL ? `presets/${basename(file.pathname)}` : key);
  out.name = p.name ?? fallbackName;
  return out;
}

function apply(base: ResolvedParams, p: ParamsFile, label: string): ResolvedParams {
  const out = base;
  out.files = [...base.files, label];
  if (p.name !== undefined) out.name = p.name;
  if (p.description !== undefined) out.description = p.description;
  if (p.breaker !== undefined) out.breaker = p.breaker;
  if (p.market) out.market = mergeMarket(out.market, p.market);
  for (const [sym, m] of Object.entries(p.markets ?? {})) out.markets[sym] = mergeMarket(out.markets[sym] ?? {}, m);
  out.liquidation = { ...out.liquidation, ...p.liquidation };
  out.reward = { ...out.reward, ...p.reward };
  out.adl = { ...out.adl, ...p.adl };
  if (p.impact) {
    const { depthUsd, maxImpact, ...rest } = p.impact;
    out.impact = { ...out.impact, ...rest, depthUsd: { ...out.impact.depthUsd, ...depthUsd } };
    if (maxImpact !== undefined) out.impact.maxImpact = parseDecimal(maxImpact);
  }
  out.funds = { ...out.funds, ...p.funds };
  if (p.backstop) {
    const { enabled, capitalToNotional, ownImpactMark, ...config } = p.backstop;
    out.backstop = {
      enabled: enabled ?? out.backstop.enabled,
      capitalToNotional: capitalToNotional ?? out.backstop.capitalToNotional,
      ownImpactMark: ownImpactMark ?? out.backstop.ownImpactMark,
      config: { ...out.backstop.config, ...config },
    };
  }
  out.keeper = { ...out.keeper, ...p.keeper };
  out.replay = { ...out.replay, ...p.replay };
  if (p.population) {
    const { leverage, marginUsd, ...rest } = p.population;
    out.population = {
      ...out.population,
      ...rest,
      ...(leverage ? { leverage: { ...out.population.leverage, ...leverage } } : {}),
      ...(marginUsd ? { marginUsd: { ...out.population.marginUsd, ...marginUsd } } : {}),
    };
  }
  return out;
}

function mergeMarket(a: MarketOverrides, b: MarketOverrides): MarketOverrides {
  return { ...a, ...b, risk: { ...a.risk, ...b.risk } };
}

/** The market settings of one symbol, defaults filled in. */
export function marketSettings(p: ResolvedParams, symbol: string) {
  const m = mergeMarket(p.market, p.markets[symbol] ?? {});
  const risk: RiskParams = { ...DEFAULT_RISK };
  for (const [k, v] of Object.entries(m.risk ?? {})) risk[k as keyof RiskParams] = parseDecimal(v as Dec);
  return {
    risk,
    heartbeat: m.heartbeat ?? MARKET_DEFAULTS.heartbeat,
    volWindow: m.volWindow ?? MARKET_DEFAULTS.volWindow,
    initialSigma: parseDecimal(m.initialSigma ?? MARKET_DEFAULTS.initialSigma),
    maxFundingRatePerSecond:
      m.maxFundingRatePerSecond === undefined ? DEFAULT_MAX_FUNDING_RATE : parseDecimal(m.maxFundingRatePerSecond),
    depthToNotional: m.depthToNotional ?? MARKET_DEFAULTS.depthToNotional,
    depthUsd: m.depthUsd === undefined ? undefined : parseDecimal(m.depthUsd),
  };
}

/** Converts the overrides of one contract struct to its bigint fields (integers stay numbers' bigints). */
export function structOverrides(o: Record<string, Dec | number | undefined>, integerFields: readonly string[]) {
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    out[k] = integerFields.includes(k) ? BigInt(v as number) : parseDecimal(v);
  }
  return out;
}

/** A JSON view of resolved params (bigints as decimal strings), for the report. */
export function paramsJson(p: ResolvedParams): unknown {
  return JSON.parse(JSON.stringify(p, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
}
