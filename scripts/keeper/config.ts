/**
 * The keeper's configuration: one zod schema, fed from four layers with a fixed precedence,
 * flags > environment > config file > defaults. Every field is declared once, with its flag, its
 * environment variable and its schema, so the CLI's options, the env mapping and the error
 * messages cannot drift apart.
 *
 * `keeperSettingsSchema` is what the Keeper class itself needs (pace, batches, fees, pokes) and can
 * be parsed on its own by in-process callers (`keeperSettings({...})`); `cliConfigSchema` extends it
 * with what only a process needs (RPC URL, key, network, ports, logging).
 */
import { readFileSync } from "node:fs";

import { isAddress, parseUnits } from "ethers";
import { z } from "zod";

/**
 * What the experimental own-impact mark may delay (ownImpactMark.ts): `all` (bs13) or `sales` (bs14: only a
 * liquidation that sells, never an account the backstop vault would take over).
 */
export const MARK_SCOPES = ["all", "sales"] as const;
export type MarkScope = (typeof MARK_SCOPES)[number];

const KEY_REQUIRED = "is required: the keeper's key (set KEEPER_PRIVATE_KEY rather than a flag)";

/** Invalid configuration; `problems` holds one operator-readable line per field. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid keeper configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** "true"/"1"/"yes"/"on" and their opposites, as flags and environment variables spell them. */
export const booleanLike = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    const s = v.trim().toLowerCase();
    return TRUE.has(s) ? true : FALSE.has(s) ? false : v;
  },
  z.boolean({ error: "must be true or false" }),
);

/** A whole number within [min, max], coerced from a flag's or variable's text. */
export const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: "must be a whole number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

/** A decimal amount ("100", "0.5") converted exactly to an integer of `decimals` places. */
const decimalAmount = (decimals: number, what: string) =>
  z
    .union([z.string(), z.number()], { error: `must be a decimal number of ${what}` })
    .transform((v) => String(v).trim())
    .refine((s) => /^\d+(\.\d+)?$/.test(s) && (s.split(".")[1]?.length ?? 0) <= decimals, {
      error: `must be a non-negative decimal number of ${what} with at most ${decimals} decimals`,
    })
    .transform((s) => parseUnits(s, decimals));

const address = z.string().refine((s) => isAddress(s), { error: "must be a 20-byte hex address (0x...)" });

/** Behaviour of the keeper: valid for the CLI and for in-process use alike. */
export const keeperSettingsSchema = z.object({
  dryRun: booleanLike.default(false),
  pollIntervalMs: integer(10, 600_000).default(1_000),
  logRangeBlocks: integer(1, 1_000_000).default(2_000),
  checkpointFile: z.string().min(1).optional(),
  checkpointIntervalMs: integer(0, 3_600_000).default(5_000),
  maxBatch: integer(1, 100).default(100),
  maxPendingTxs: integer(1, 64).default(8),
  previewLimit: integer(1, 10_000).default(1_000),
  gasPerTranche: integer(21_000, 5_000_000).default(110_000),
  gasPerExtraLeg: integer(0, 5_000_000).default(60_000),
  gasPerFundCall: integer(0, 5_000_000).default(70_000),
  batchGasOverhead: integer(0, 5_000_000).default(400_000),
  txGasCap: integer(100_000, 100_000_000).default(16_777_216),
  gasLimitMarginPercent: integer(0, 200).default(25),
  /**
   * Simulate every liquidation batch before sending it. Off: a batch whose accounts the contract's
   * preview confirmed at the scanned block is sent at once, and only an account whose unsimulated
   * batch reverted goes through the simulation (and its split in halves) afterwards.
   */
  simulateBatches: booleanLike.default(false),
  stuckBlocks: integer(1, 10_000).default(3),
  feeBumpPercent: integer(10, 500).default(20),
  maxFeeGwei: decimalAmount(9, "gwei").default(parseUnits("500", 9)),
  maxPriorityFeeGwei: decimalAmount(9, "gwei").default(parseUnits("5", 9)),
  failedBackoffBlocks: integer(1, 100_000).default(20),
  pokeVolatility: booleanLike.default(true),
  volatilityMaxRounds: integer(1, 64).default(64),
  pokeBreaker: booleanLike.default(true),
  breakerPokeIntervalBlocks: integer(0, 1_000_000).default(300),
  breakerPokeGasBound: booleanLike.default(false),
  breakerPokeWhenDue: booleanLike.default(false),
  settleGasBudget: booleanLike.default(false),
  /**
   * EXPERIMENTAL (issue 12, bs13): send an account for liquidation only if it is below maintenance at the
   * oracle and at the own-impact mark too (the oracle with the protocol's own decaying forced flow over its
   * depth taken out: ownImpactMark.ts). Off by default.
   */
  ownImpactMark: booleanLike.default(false),
  /** WAD fraction: the mark's cap on |estimated own impact|; unset: impactBudget x lateMultiplier (the backstop's) */
  ownImpactMarkCap: decimalAmount(18, "a fraction of the price").optional(),
  /**
   * EXPERIMENTAL (bs14): what the mark may delay: `all` (bs13) or `sales`, only a tranche or backstop close of
   * an account the backstop vault declines; an account the vault would take over is sent whatever the mark says
   */
  ownImpactMarkScope: z.enum(MARK_SCOPES, { error: `must be one of ${MARK_SCOPES.join(", ")}` }).default("all"),
  claimRewards: booleanLike.default(true),
  /** WAD (collateral tokens scaled to 18 decimals, as the vault books rewards) */
  claimThreshold: decimalAmount(18, "collateral tokens").default(parseUnits("100", 18)),
  claimTo: address.optional(),
  backoffMinMs: integer(10, 600_000).default(500),
  backoffMaxMs: integer(10, 3_600_000).default(30_000),
  /** /health turns unhealthy when the head block is older than this (seconds, by the wall clock); 0: never */
  maxBlockAgeSeconds: integer(0, 86_400).default(300),
  /** wei: below this the keeper warns and keeper_balance_low is 1 */
  minBalanceEth: decimalAmount(18, "ether").default(parseUnits("0.05", 18)),
});

export type KeeperSettings = z.output<typeof keeperSettingsSchema>;
export type KeeperSettingsInput = z.input<typeof keeperSettingsSchema>;

/** Validated settings with defaults, for in-process callers; throws ConfigError. */
export function keeperSettings(input: KeeperSettingsInput = {}): KeeperSettings {
  const r = keeperSettingsSchema.safeParse(input);
  if (!r.success) throw new ConfigError(r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`));
  return r.data;
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;

/** An http:// or https:// URL (the node, a webhook). */
export const httpUrl = z.string().refine((s) => /^https?:\/\/[^\s/]+/.test(s) && URL.canParse(s), {
  error: "must be an http:// or https:// URL, e.g. http://127.0.0.1:8545",
});

/**
 * The settings of a process that works against a deployment (the keeper, the risk monitor): the node,
 * the key (never shown back), the network and its deployment record. `keyRequired` is the message
 * for a key the process cannot run without (the schema still leaves it optional: a read-only run
 * needs none, and `resolveConfig` asks for it when it is needed).
 */
export function connectionFields(keyRequired?: string) {
  return {
    rpcUrl: z.string({ error: "is required: the node's JSON-RPC URL, e.g. http://127.0.0.1:8545" }).pipe(httpUrl),
    privateKey: z
      .string(keyRequired === undefined ? undefined : { error: keyRequired })
      .refine((s) => /^(0x)?[0-9a-fA-F]{64}$/.test(s.trim()), {
        error: "must be 32 bytes of hex (64 hex digits, optional 0x); the value is not shown",
      })
      .transform((s) => (s.trim().startsWith("0x") ? s.trim() : `0x${s.trim()}`))
      .optional(),
    network: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, { error: "must be a network name like localhost or sepolia" })
      .default("localhost"),
    chainId: integer(1, Number.MAX_SAFE_INTEGER).optional(),
    deployment: z.string().min(1).optional(),
    deploymentsDir: z.string().min(1).default("deployments"),
  };
}

/** Everything the CLI process needs: the settings plus connection, identity and observability. */
export const cliConfigSchema = keeperSettingsSchema
  .extend({
    ...connectionFields(KEY_REQUIRED),
    metrics: booleanLike.default(true),
    metricsPort: integer(0, 65_535).default(9464),
    logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    logFormat: z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(", ")}` }).default("auto"),
    rpcTimeoutMs: integer(100, 600_000).default(10_000),
    startupRetries: integer(0, 100).default(3),
    once: booleanLike.default(false),
  })
  .strict();

export type CliConfig = z.output<typeof cliConfigSchema>;
export type ConfigKey = keyof CliConfig;

/** One field: its flag (with a value placeholder or none for a boolean), env variable, help text. */
export type FieldMeta = { flag: string; env: string; help: string; secret?: boolean; negatable?: boolean };

const env = (key: string) => `KEEPER_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
const kebab = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
const valued = (key: string, placeholder: string, help: string): FieldMeta => ({
  flag: `--${kebab(key)} <${placeholder}>`,
  env: env(key),
  help,
});
const toggle = (key: string, help: string, negatable = false): FieldMeta => ({
  flag: negatable ? `--no-${kebab(key)}` : `--${kebab(key)}`,
  env: env(key),
  help,
  negatable,
});

/** Flag, env variable and help of every field, in the order `--help` lists them. */
export const FIELDS: Record<ConfigKey, FieldMeta> = {
  rpcUrl: { flag: "--rpc <url>", env: "KEEPER_RPC_URL", help: "JSON-RPC URL of the node (http or https)" },
  privateKey: {
    flag: "--private-key <hex>",
    env: "KEEPER_PRIVATE_KEY",
    help: "keeper key; prefer the env variable (flags show in ps)",
    secret: true,
  },
  network: valued("network", "name", "network name of the deployment record (default localhost)"),
  chainId: valued("chainId", "id", "expected chain id; the keeper refuses another"),
  deployment: valued("deployment", "file", "deployment record (default <deployments-dir>/<network>-<chainId>.json)"),
  deploymentsDir: valued("deploymentsDir", "dir", "where deployment records live (default deployments)"),
  checkpointFile: valued(
    "checkpointFile",
    "file",
    "checkpoint (default <deployments-dir>/keeper/<network>-<chainId>-<address>.json)",
  ),
  checkpointIntervalMs: valued("checkpointIntervalMs", "ms", "write the checkpoint at most this often (default 5000)"),
  dryRun: toggle("dryRun", "find and simulate, send nothing"),
  once: toggle("once", "run one tick and exit"),
  pollIntervalMs: valued("pollIntervalMs", "ms", "pause between ticks (default 1000)"),
  logRangeBlocks: valued("logRangeBlocks", "n", "blocks per eth_getLogs request (default 2000; halved on refusal)"),
  maxBatch: valued("maxBatch", "n", "accounts per liquidateBatch transaction, at most 100 (default 100)"),
  maxPendingTxs: valued("maxPendingTxs", "n", "transactions in flight at once (default 8)"),
  previewLimit: valued("previewLimit", "n", "accounts confirmed with previewLiquidation per tick (default 1000)"),
  gasPerTranche: valued("gasPerTranche", "gas", "gas budget of a one-position tranche in a batch (default 110000)"),
  gasPerExtraLeg: valued("gasPerExtraLeg", "gas", "gas budget of each further position of a tranche (default 60000)"),
  gasPerFundCall: valued(
    "gasPerFundCall",
    "gas",
    "extra gas of a tranche that calls the insurance fund (default 70000)",
  ),
  batchGasOverhead: valued(
    "batchGasOverhead",
    "gas",
    "fixed gas of a batch transaction, cold contracts included (default 400000)",
  ),
  txGasCap: valued("txGasCap", "gas", "largest gas limit of one transaction (default 16777216)"),
  gasLimitMarginPercent: valued(
    "gasLimitMarginPercent",
    "pct",
    "gas limit of a node-estimated transaction: estimate plus this (default 25)",
  ),
  simulateBatches: toggle(
    "simulateBatches",
    "simulate every liquidation batch before sending it (default: only after a batch of its accounts reverted)",
  ),
  stuckBlocks: valued("stuckBlocks", "n", "replace a transaction unmined after this many blocks (default 3)"),
  feeBumpPercent: valued("feeBumpPercent", "pct", "fee increase of a replacement, at least 10 (default 20)"),
  maxFeeGwei: valued("maxFeeGwei", "gwei", "cap on maxFeePerGas (default 500)"),
  maxPriorityFeeGwei: valued("maxPriorityFeeGwei", "gwei", "cap on maxPriorityFeePerGas (default 5)"),
  failedBackoffBlocks: valued(
    "failedBackoffBlocks",
    "n",
    "leave an account whose simulation failed for this many blocks (default 20)",
  ),
  pokeVolatility: toggle("pokeVolatility", "do not call oracle.updateVolatility on new rounds", true),
  volatilityMaxRounds: valued("volatilityMaxRounds", "n", "rounds folded per updateVolatility, 1..64 (default 64)"),
  pokeBreaker: toggle("pokeBreaker", "do not poke the circuit breaker", true),
  breakerPokeIntervalBlocks: valued(
    "breakerPokeIntervalBlocks",
    "n",
    "also poke every n blocks; 0: only on a level change (default 300)",
  ),
  breakerPokeGasBound: toggle(
    "breakerPokeGasBound",
    "send breaker pokes unsimulated, with a gas limit no poke can exceed (every trigger at its cap: more ether held)",
  ),
  breakerPokeWhenDue: toggle(
    "breakerPokeWhenDue",
    "send a periodic breaker poke only when breaker.pokeDue says it would change something (one read instead of a transaction)",
  ),
  settleGasBudget: toggle(
    "settleGasBudget",
    "simulate a settleOrders batch with one eth_call at a per-order gas budget instead of eth_estimateGas (more ether held)",
  ),
  ownImpactMark: toggle(
    "ownImpactMark",
    "experimental: liquidate only accounts below maintenance at the oracle and at the mark with the protocol's own estimated impact taken out",
  ),
  ownImpactMarkCap: valued(
    "ownImpactMarkCap",
    "fraction",
    "experimental: cap of the own-impact mark's estimate, e.g. 0.006 (default impactBudget x lateMultiplier)",
  ),
  ownImpactMarkScope: valued(
    "ownImpactMarkScope",
    "scope",
    "experimental: what the own-impact mark may delay: all (default) or sales (never an account the backstop vault would take over)",
  ),
  claimRewards: toggle("claimRewards", "do not claim keeper rewards", true),
  claimThreshold: valued(
    "claimThreshold",
    "tokens",
    "claim rewards once at least this many collateral tokens (default 100)",
  ),
  claimTo: valued("claimTo", "address", "where claimed rewards go (default the keeper)"),
  backoffMinMs: valued("backoffMinMs", "ms", "first retry delay after a failed tick (default 500)"),
  backoffMaxMs: valued("backoffMaxMs", "ms", "longest retry delay (default 30000)"),
  metrics: toggle("metrics", "do not serve /metrics and /health", true),
  metricsPort: valued(
    "metricsPort",
    "port",
    "port of /metrics and /health on 127.0.0.1; 0 picks a free one (default 9464)",
  ),
  logLevel: valued("logLevel", "level", `${LOG_LEVELS.join("|")} (default info)`),
  logFormat: valued(
    "logFormat",
    "format",
    "json: one JSON line per event; pretty: one readable line with units; auto (default): pretty on a terminal",
  ),
  maxBlockAgeSeconds: valued(
    "maxBlockAgeSeconds",
    "s",
    "/health turns unhealthy when the newest block is older than this by the clock; 0: never (default 300)",
  ),
  minBalanceEth: valued(
    "minBalanceEth",
    "ether",
    "warn and set keeper_balance_low when the key holds less ether for gas (default 0.05)",
  ),
  rpcTimeoutMs: valued("rpcTimeoutMs", "ms", "timeout of one RPC request (default 10000)"),
  startupRetries: valued(
    "startupRetries",
    "n",
    "retries after a failed first attempt to reach the node at start-up (default 3: at most 4 attempts)",
  ),
};

export type ConfigSources = {
  /** values given on the command line (only those actually given) */
  flags?: Partial<Record<string, unknown>>;
  /** the process environment */
  env?: Record<string, string | undefined>;
  /** the parsed config file, and its path for messages */
  file?: { path: string; values: Record<string, unknown> };
};

/** Reads a JSON config file; a missing or malformed file is a configuration error. */
export function readConfigFile(path: string): { path: string; values: Record<string, unknown> } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([`config file ${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`]);
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`config file ${path}: not valid JSON (${(e as Error).message})`]);
  }
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new ConfigError([`config file ${path}: must hold a JSON object of settings`]);
  }
  return { path, values: values as Record<string, unknown> };
}

/**
 * Merges the layers (flags > env > file > schema defaults) and validates the result. Throws
 * ConfigError naming, for each bad field, its flag, its env variable and where the bad value came
 * from; a secret's value is never echoed.
 */
export function resolveConfig(sources: ConfigSources, opts: { keyRequired?: boolean } = {}): CliConfig {
  const { merged, origin, problems } = mergeSources(FIELDS, sources);
  problems.unshift(...unknownEnvironment(sources.env ?? {}));
  const r = cliConfigSchema.safeParse(merged);
  const keyMissing = (opts.keyRequired ?? true) && merged.privateKey === undefined;
  if (r.success && !keyMissing && problems.length === 0) return r.data;
  const issues = r.success ? [] : [...r.error.issues];
  if (keyMissing) issues.unshift({ path: ["privateKey"], message: KEY_REQUIRED } as (typeof issues)[number]);
  problems.push(...describeIssues(FIELDS, issues, origin));
  throw new ConfigError(problems);
}

/**
 * Merges a service's settings, flags > env > file, over its table of fields (the keeper's and the
 * risk monitor's): `origin` says where each value came from, `problems` lists unknown file keys.
 */
export function mergeSources(
  fields: Record<string, { flag: string; env: string }>,
  sources: ConfigSources,
): { merged: Record<string, unknown>; origin: Record<string, string>; problems: string[] } {
  const merged: Record<string, unknown> = {};
  const origin: Record<string, string> = {};
  const problems: string[] = [];
  const keys = Object.keys(fields);
  if (sources.file) {
    for (const [k, v] of Object.entries(sources.file.values)) {
      if (!(k in fields)) {
        problems.push(`config file ${sources.file.path}: unknown setting "${k}" (known: ${keys.join(", ")})`);
        continue;
      }
      if (v === null || v === undefined) continue;
      merged[k] = v;
      origin[k] = `config file ${sources.file.path}`;
    }
  }
  for (const k of keys) {
    const raw = sources.env?.[fields[k].env];
    if (raw === undefined || raw.trim() === "") continue;
    merged[k] = raw;
    origin[k] = fields[k].env;
  }
  for (const [k, v] of Object.entries(sources.flags ?? {})) {
    if (v === undefined || !(k in fields)) continue;
    merged[k] = v;
    origin[k] = fields[k].flag.split(" ")[0];
  }
  return { merged, origin, problems };
}

/** One line per schema issue, naming the setting's flag, its env variable and where the value came from. */
export function describeIssues(
  fields: Record<string, { flag: string; env: string }>,
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  origin: Record<string, string>,
): string[] {
  return issues.map((issue) => {
    const key = String(issue.path[0] ?? "");
    const meta = fields[key];
    if (!meta) return issue.message;
    const from = origin[key] ? `, from ${origin[key]}` : "";
    return `${key} (${meta.flag.split(" ")[0]} or ${meta.env}${from}): ${issue.message}`;
  });
}

/** Variables of the environment the keeper reads besides one per setting. */
const OTHER_ENV = new Set(["KEEPER_CONFIG"]);

/**
 * A `KEEPER_*` variable that names no setting is a mistake (`KEEPER_DRYRUN=1` would otherwise run
 * live): one problem per such variable, with the closest known name.
 */
export function unknownEnvironment(env: Record<string, string | undefined>): string[] {
  const known = [...Object.values(FIELDS).map((f) => f.env), ...OTHER_ENV];
  const problems: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith("KEEPER_") || known.includes(name)) continue;
    const hint = closest(name, known);
    problems.push(
      `unknown setting ${name} in the environment${hint ? ` (did you mean ${hint}?)` : ""}; ` +
        `every KEEPER_* variable must name a setting`,
    );
  }
  return problems;
}

/** The known name nearest to `name`: the same letters without underscores, else within 3 edits. */
function closest(name: string, known: string[]): string | undefined {
  const squash = (s: string) => s.replace(/_/g, "");
  const same = known.find((k) => squash(k) === squash(name));
  if (same) return same;
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d <= 3 && (!best || d < best.d)) best = { name: k, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The configuration as it may be logged: the key replaced, amounts as strings. */
export function printableConfig(c: Partial<CliConfig> & Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (FIELDS[k as ConfigKey]?.secret) out[k] = "[redacted]";
    else out[k] = typeof v === "bigint" ? v.toString() : v;
  }
  return out;
}
