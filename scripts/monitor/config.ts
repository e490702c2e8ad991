/**
 * The monitor's settings: one zod schema fed from flags > MONITOR_* environment > JSON file
 * (--config / MONITOR_CONFIG) > defaults, like the keeper's (scripts/keeper/config.ts, whose
 * ConfigError and file reader it shares). Every field is declared once with its flag, env variable
 * and help text.
 */
import { z } from "zod";

import {
  type ConfigSources,
  ConfigError,
  LOG_LEVELS,
  booleanLike,
  connectionFields,
  httpUrl,
  describeIssues,
  integer,
  mergeSources,
} from "../keeper/config.js";
import { DEFAULT_ESCALATION, DWELL_RENEW_MARGIN } from "./rules.js";

export { ConfigError };

const probability = z.coerce
  .number({ error: "must be a number" })
  .min(0, { error: "must be at least 0" })
  .max(1, { error: "must be at most 1 (a probability)" });
export const monitorConfigSchema = z
  .object({
    ...connectionFields(),
    port: integer(0, 65_535).default(9470),
    pollIntervalMs: integer(100, 600_000).default(2_000),
    dryRun: booleanLike.default(false),
    once: booleanLike.default(false),
    logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
    rpcTimeoutMs: integer(100, 600_000).default(10_000),
    startupRetries: integer(0, 100).default(3),
    logRangeBlocks: integer(1, 1_000_000).default(2_000),
    historyRounds: integer(0, 5_000).default(500),
    webhook: z
      .union([z.string(), z.array(z.string())])
      .transform((v) => (Array.isArray(v) ? v : v.split(",")).map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(httpUrl))
      .default([]),
    snapshotDir: z.string().min(1).optional(),
    depthBps: integer(1, 1_000_000).default(10_000),
    raiseDuration: integer(60, 86_400).default(7_200),
    renewWithin: integer(0, 86_400).default(3_600),
    restoreBps: integer(0, 9_999).default(1_000),
    scenarios: booleanLike.default(false),
    exact: z
      .string()
      .regex(/^[a-z0-9:+.-]+$/, { error: "must be a scenario id of the lab, e.g. crash:ftx-2022:down" })
      .optional(),
    dataDir: z.string().min(1).optional(),
    stylised: booleanLike.default(false),
    keeperDelay: integer(1, 86_400).default(300),
    heartbeat: integer(1, 86_400).default(3_600),
    /** what the rules' probabilities are of (stats.ts ProbabilityModel): past the shock at the horizon's end, or reaching it */
    probabilityModel: z.enum(["end", "reach"], { error: "must be end or reach" }).default("end"),
    /** what the cascade calls a runaway (cascade.ts RunawayTest) */
    runaway: z
      .enum(["divergence", "amplification"], { error: "must be divergence or amplification" })
      .default("divergence"),
    level1P1h: probability.default(0.01),
    level1P24h: probability.default(0.1),
    level2P15m: probability.default(0.01),
    level2P1h: probability.default(0.05),
    level3P15m: probability.default(0.1),
    level1WaveP1h: probability.default(0.1),
    level2WaveP15m: probability.default(0.1),
    confirmSeconds: integer(0, 3_600).default(0),
    confirmForecasts: integer(1, 100).default(1),
    waveMustFeedItself: booleanLike.default(false),
    /** the change gate (rules.ts ChangeGate): a probability rule sets a level only at a new low of its distance */
    changeGate: booleanLike.default(true),
    /** escalation (rules.ts Escalation): confirmed by `escalateConfirm` of the last `escalateWindow` fresh forecasts, one level per round */
    escalation: booleanLike.default(true),
    escalateConfirm: integer(1, 100).default(DEFAULT_ESCALATION.confirm),
    escalateWindow: integer(1, 100).default(DEFAULT_ESCALATION.window),
    /** escalation's fast path (rules.ts Escalation `fastRun`): level 1 at once after this many falls of the distance in a row; 0: off */
    escalateFastRun: integer(0, 100).default(DEFAULT_ESCALATION.fastRun ?? 0),
    /** escalation's evidence window (rules.ts Escalation `evidenceSeconds`): a fresh forecast confirms only this long; 0: no expiry */
    escalateEvidenceSeconds: integer(0, 86_400).default(DEFAULT_ESCALATION.evidenceSeconds ?? 0),
    /** escalation's rounds must move the price (rules.ts Escalation `minMove`), in bps; 0: every round counts */
    escalateMinMoveBps: integer(0, 5_000).default(Math.round((DEFAULT_ESCALATION.minMove ?? 0) * 10_000)),
    /** the alarm's dwell (rules.ts Escalation `dwellSeconds`): an alarm not re-confirmed this long expires; 0: off */
    escalateDwellSeconds: integer(0, 86_400).default(DEFAULT_ESCALATION.dwellSeconds ?? 0),
    /** ... re-confirmed by a fresh forecast whose distance to trouble is this much closer (`renewMargin`), in bps */
    escalateRenewMarginBps: integer(1, 9_999).default(
      Math.round((DEFAULT_ESCALATION.renewMargin ?? DWELL_RENEW_MARGIN) * 10_000),
    ),
    /** the alarm needs a falling distance (rules.ts Escalation `trendSeconds`): over this many seconds; 0: off */
    escalateTrendSeconds: integer(0, 86_400).default(DEFAULT_ESCALATION.trendSeconds ?? 0),
  })
  .strict()
  .refine((c) => c.escalateConfirm <= c.escalateWindow, {
    error: "escalateConfirm must be at most escalateWindow",
    path: ["escalateConfirm"],
  })
  .refine((c) => c.level2P1h >= c.level1P1h, { error: "level2P1h must be at least level1P1h", path: ["level2P1h"] })
  .refine((c) => c.level3P15m >= c.level2P15m, {
    error: "level3P15m must be at least level2P15m",
    path: ["level3P15m"],
  });

export type MonitorConfig = z.output<typeof monitorConfigSchema>;
type Key = keyof MonitorConfig;

export type FieldMeta = { flag: string; env: string; help: string; secret?: boolean };

const env = (key: string) => `MONITOR_${key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
const kebab = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
const valued = (key: string, placeholder: string, help: string): FieldMeta => ({
  flag: `--${kebab(key)} <${placeholder}>`,
  env: env(key),
  help,
});
const toggle = (key: string, help: string): FieldMeta => ({ flag: `--${kebab(key)}`, env: env(key), help });

export const FIELDS: Record<Key, FieldMeta> = {
  rpcUrl: { flag: "--rpc <url>", env: "MONITOR_RPC_URL", help: "JSON-RPC URL of the node (http or https)" },
  privateKey: {
    flag: "--private-key <hex>",
    env: "MONITOR_PRIVATE_KEY",
    help: "key holding the breaker's RISK_ORACLE role; without it the monitor only alerts (prefer the env variable)",
    secret: true,
  },
  network: valued("network", "name", "network name of the deployment record (default localhost)"),
  chainId: valued("chainId", "id", "expected chain id; the monitor refuses another"),
  deployment: valued("deployment", "file", "deployment record (default <deployments-dir>/<network>-<chainId>.json)"),
  deploymentsDir: valued("deploymentsDir", "dir", "where deployment records live (default deployments)"),
  port: valued(
    "port",
    "port",
    "port of the dashboard, API, events and metrics on 127.0.0.1; 0 picks one (default 9470)",
  ),
  pollIntervalMs: valued("pollIntervalMs", "ms", "pause between ticks (default 2000)"),
  dryRun: toggle("dryRun", "decide, alert and serve, but send no risk-oracle raise"),
  once: toggle("once", "one forecast, printed as JSON, then exit"),
  logLevel: valued("logLevel", "level", `${LOG_LEVELS.join("|")} (default info)`),
  rpcTimeoutMs: valued("rpcTimeoutMs", "ms", "timeout of one RPC request (default 10000)"),
  startupRetries: valued("startupRetries", "n", "attempts to reach the node at start-up (default 3)"),
  logRangeBlocks: valued("logRangeBlocks", "n", "blocks per eth_getLogs request (default 2000)"),
  historyRounds: valued("historyRounds", "n", "oracle rounds read back per feed for the return history (default 500)"),
  webhook: valued("webhook", "urls", "comma-separated Alertmanager-compatible webhook URLs (POST /api/v2/alerts)"),
  snapshotDir: valued(
    "snapshotDir",
    "dir",
    "JSON snapshot per oracle round (default <deployments-dir>/monitor/<network>-<chainId>)",
  ),
  depthBps: valued(
    "depthBps",
    "bps",
    "impact depth as bps of skewScale * price (default 10000: the depth the protocol assumes)",
  ),
  raiseDuration: valued(
    "raiseDuration",
    "s",
    "seconds a risk-oracle raise lasts, capped by the breaker (default 7200)",
  ),
  renewWithin: valued(
    "renewWithin",
    "s",
    "renew a live floor (on a fresh forecast) only this close to its expiry (default 3600)",
  ),
  restoreBps: valued(
    "restoreBps",
    "bps",
    "joint move an account lookup's restoring margin protects against (default 1000)",
  ),
  scenarios: toggle(
    "scenarios",
    "run the scenario lab on today's book (catalogued crashes, depth haircuts, slow keeper, stale oracle, collateral depeg), print its table, then exit",
  ),
  exact: valued(
    "exact",
    "id",
    "run one lab scenario exactly on an in-process fork of the node (a copy of the chain), print it beside the fast lab, then exit",
  ),
  dataDir: valued(
    "dataDir",
    "dir",
    "crash-data directory the lab's catalogued crashes are read from (default CRASH_DATA_DIR; none: the stylised scenarios)",
  ),
  stylised: toggle("stylised", "the lab uses the stylised crash scenarios even when real data is at hand"),
  keeperDelay: valued("keeperDelay", "s", "the lab's slow keeper: seconds its closes come late (default 300)"),
  heartbeat: valued("heartbeat", "s", "the lab's stale oracle: seconds the oracle holds its last round (default 3600)"),
  probabilityModel: valued(
    "probabilityModel",
    "end|reach",
    "what the rules' probabilities are of: the price past the shock at the horizon's end (default end), or reaching it at some time within the horizon (reach; measured, not adopted with these thresholds); the probability of reaching is reported either way",
  ),
  runaway: valued(
    "runaway",
    "divergence|amplification",
    "what the cascade calls a runaway, and so what the critical shock is: the loop running to the impact cap (default divergence), or also a cluster whose own sales add at least the shock again (amplification; the default before the eighteenth round, measured in docs/experiments.md)",
  ),
  level1P1h: valued("level1P1h", "p", "level 1 when P(critical within 1 h) >= p (default 0.01)"),
  level1P24h: valued("level1P24h", "p", "level 1 when P(critical within 24 h) >= p (default 0.1)"),
  level2P15m: valued("level2P15m", "p", "level 2 when P(critical within 15 min) >= p (default 0.01)"),
  level2P1h: valued("level2P1h", "p", "level 2 when P(critical within 1 h) >= p (default 0.05)"),
  level3P15m: valued("level3P15m", "p", "level 3 (guardian alert) when P(critical within 15 min) >= p (default 0.1)"),
  level1WaveP1h: valued(
    "level1WaveP1h",
    "p",
    "level 1 when P(a self-feeding liquidation wave within 1 h) >= p (default 0.1)",
  ),
  level2WaveP15m: valued(
    "level2WaveP15m",
    "p",
    "level 2 when P(a self-feeding liquidation wave within 15 min) >= p (default 0.1)",
  ),
  confirmSeconds: valued(
    "confirmSeconds",
    "s",
    "a level takes effect once the rules have wanted it for s seconds (default 0: at once; 300 was measured)",
  ),
  confirmForecasts: valued("confirmForecasts", "n", "... and on at least n consecutive forecasts (default 1)"),
  waveMustFeedItself: toggle("waveMustFeedItself", "a liquidation wave sets a level only when it feeds itself"),
  changeGate: {
    flag: "--no-change-gate",
    env: env("changeGate"),
    help: "turn off the change gate: every forecast's probability rules act on the level of risk, not on its change (on by default)",
  },
  escalation: {
    flag: "--no-escalation",
    env: env("escalation"),
    help: "turn off escalation: a level takes effect on the forecast that wants it, not once fresh forecasts confirm it (on by default)",
  },
  escalateConfirm: valued(
    "escalateConfirm",
    "n",
    `a level takes effect once n of the last --escalate-window fresh forecasts wanted level >= 1 (default ${DEFAULT_ESCALATION.confirm})`,
  ),
  escalateWindow: valued(
    "escalateWindow",
    "n",
    `... out of this many fresh forecasts (default ${DEFAULT_ESCALATION.window}); the level then climbs one step per fresh forecast`,
  ),
  escalateFastRun: valued(
    "escalateFastRun",
    "n",
    `escalation's fast path: level 1 (no raise) at once when the distance to trouble fell on each of the last n fresh forecasts (default ${DEFAULT_ESCALATION.fastRun ?? 0}; 0: off)`,
  ),
  escalateEvidenceSeconds: valued(
    "escalateEvidenceSeconds",
    "s",
    `a fresh forecast confirms a level (a hit of the count, a fall of the fast path) only while at most s seconds old (default ${DEFAULT_ESCALATION.evidenceSeconds ?? 0}; 0: no expiry)`,
  ),
  escalateMinMoveBps: valued(
    "escalateMinMoveBps",
    "bps",
    `a fresh forecast counts toward escalation only when the reference price moved at least bps from the last that counted (default ${Math.round((DEFAULT_ESCALATION.minMove ?? 0) * 10_000)}; 0: every round counts)`,
  ),
  escalateDwellSeconds: valued(
    "escalateDwellSeconds",
    "s",
    `the alarm's dwell: an alarm that no fresh forecast materially closer to trouble re-confirms within s seconds expires until one does or the rules want level 0 (default ${DEFAULT_ESCALATION.dwellSeconds ?? 0}; 0: off; measured, not adopted)`,
  ),
  escalateRenewMarginBps: valued(
    "escalateRenewMarginBps",
    "bps",
    `what re-confirms an alarm under the dwell: a fresh forecast whose distance to trouble is this much closer (default ${Math.round(DWELL_RENEW_MARGIN * 10_000)})`,
  ),
  escalateTrendSeconds: valued(
    "escalateTrendSeconds",
    "s",
    `an alarm (the level in effect above 0) holds only while the distance to trouble is below that of the fresh forecast s seconds before (default ${DEFAULT_ESCALATION.trendSeconds ?? 0}; 0: off; measured, not adopted)`,
  ),
};

export type { ConfigSources };

/** Merges flags > env > file > defaults and validates; ConfigError names each bad field's flag and env variable. */
export function resolveMonitorConfig(sources: ConfigSources): MonitorConfig {
  const { merged, origin, problems } = mergeSources(FIELDS, sources);
  if (problems.length) throw new ConfigError(problems);
  const r = monitorConfigSchema.safeParse(merged);
  if (r.success) return r.data;
  throw new ConfigError(describeIssues(FIELDS, r.error.issues, origin));
}
