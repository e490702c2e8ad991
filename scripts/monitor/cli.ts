/**
 * The risk monitor as a process, beside the keeper:
 *
 *   npm run monitor -- --rpc http://127.0.0.1:8545 --network localhost [--dry-run] [--webhook URL]
 *
 * with the risk-oracle key (if any) in MONITOR_PRIVATE_KEY. Serves the dashboard, the JSON API, the
 * event stream and /metrics on 127.0.0.1 (--port, default 9470). Start-up failures end with the
 * keeper's exit codes (scripts/keeper/exitCodes.ts): 2 bad configuration, 3 wrong chain, 4 no
 * deployment record (or no code at it), 5 RPC unreachable; 1 anything else.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Command, CommanderError, Option } from "commander";
import { Wallet } from "ethers";

import { isMissingTypes } from "../keeper/cli.js";
import { ConfigError, readConfigFile } from "../keeper/config.js";
import { ExitCode } from "../keeper/exitCodes.js";
import type { Logger } from "../keeper/logger.js";
import { RISK_ORACLE_ROLE } from "../../deploy/protocol.js";
import { reachDeployment } from "../keeper/reach.js";
import { redactUrl } from "../keeper/rpc.js";
import { pino } from "pino";
import { webhookSink } from "./alerts.js";
import { FIELDS, type MonitorConfig, resolveMonitorConfig } from "./config.js";
import { DEFAULT_FORECAST_SETTINGS } from "./forecast.js";
import { DEFAULT_CHANGE_GATE } from "./rules.js";
import { loadCatalogue } from "./scenarioData.js";
import { type Scenario, catalogueScenarios, labTable } from "./scenarios.js";
import { startMonitorServer } from "./server.js";
import { MonitorMetrics, MonitorService, toJson } from "./service.js";

/** One JSON line per event; bigints as decimal strings; the key never logged. */
function monitorLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "monitor" },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ["privateKey", "*.privateKey"], censor: "[redacted]" },
    formatters: { log: (o) => JSON.parse(toJson(o)) as Record<string, unknown> },
  });
}

/** A start-up failure with its exit code and a message for the operator. */
export class MonitorExit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "MonitorExit";
  }
}

export function loadMonitorConfig(argv: string[], env: NodeJS.ProcessEnv): MonitorConfig {
  const program = new Command("monitor")
    .description(
      "Risk monitor: liquidation ladder, cascade forecast, early warnings, bounded risk-oracle raises, dashboard",
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .option("--config <file>", "JSON file of settings (env MONITOR_CONFIG)");
  const attributeToKey = new Map<string, string>();
  for (const [key, meta] of Object.entries(FIELDS)) {
    const option = new Option(meta.flag, `${meta.help} [env ${meta.env}]`);
    attributeToKey.set(option.attributeName(), key);
    program.addOption(option);
  }
  program.parse(argv, { from: "user" });
  const opts = program.opts();
  const flags: Record<string, unknown> = {};
  for (const [attribute, key] of attributeToKey) {
    if (program.getOptionValueSource(attribute) === "cli") flags[key] = opts[attribute];
  }
  const path = (opts.config as string | undefined) ?? env.MONITOR_CONFIG;
  return resolveMonitorConfig({ flags, env, file: path ? readConfigFile(path) : undefined });
}

/**
 * The modules that read the chain through TypeChain's factories exist only after a compile: they are
 * loaded once the settings are valid, so `--help` and configuration errors work on a fresh clone.
 */
async function loadChainModules() {
  try {
    const [{ ChainSource }, { CircuitBreaker__factory }] = await Promise.all([
      import("./chain.js"),
      import("../../types/ethers-contracts/factories/contracts/breaker/CircuitBreaker__factory.js"),
    ]);
    return { ChainSource, CircuitBreaker__factory };
  } catch (e) {
    if (!isMissingTypes(e)) throw e;
    throw new MonitorExit(
      ExitCode.Fatal,
      "the monitor needs the TypeChain types that a compile generates (types/ethers-contracts is missing): " +
        "run `npx hardhat compile` once, then start the monitor again",
    );
  }
}

/** Reaches the node, checks its chain and the deployment record. */
function connect(config: MonitorConfig, logger: Logger) {
  return reachDeployment(config, logger, {
    envPrefix: "MONITOR",
    deployHint: " (npm run deploy:local)",
    fail: (code, message) => new MonitorExit(code, message),
  });
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: MonitorConfig;
  try {
    config = loadMonitorConfig(argv, env);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return ExitCode.Ok;
      process.stderr.write(`monitor: ${e.message}\n`);
      return ExitCode.BadConfig;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(
        `monitor: invalid configuration:\n${e.problems.map((p) => `  - ${p}`).join("\n")}\nSee --help for every setting.\n`,
      );
      return ExitCode.BadConfig;
    }
    throw e;
  }
  const logger = monitorLogger(config.logLevel);
  let lab: { scenarios: Scenario[]; source: string } | undefined;
  try {
    const catalogue = loadCatalogue({ dataDir: config.dataDir, stylised: config.stylised });
    for (const s of catalogue.skipped) logger.warn({ event: s }, "scenario lab: event skipped");
    if (!catalogue.events.length) {
      throw new Error(
        `no catalogued crash could be read (${catalogue.skipped[0] ?? "no events"}); pass --stylised for the project's stylised scenarios`,
      );
    }
    lab = {
      source: catalogue.source,
      scenarios: catalogueScenarios(catalogue.events, {
        source: catalogue.source,
        keeperDelaySeconds: config.keeperDelay,
        heartbeatSeconds: config.heartbeat,
      }),
    };
  } catch (e) {
    if (config.scenarios) {
      process.stderr.write(`monitor: the scenario lab could not read the crash catalogue: ${(e as Error).message}\n`);
      return ExitCode.BadConfig;
    }
    logger.warn({ err: (e as Error).message }, "scenario lab off: the crash catalogue could not be read");
  }
  let c: Awaited<ReturnType<typeof connect>>;
  let chain: Awaited<ReturnType<typeof loadChainModules>>;
  try {
    chain = await loadChainModules();
    c = await connect(config, logger);
  } catch (e) {
    if (e instanceof MonitorExit) {
      process.stderr.write(`monitor: ${e.message}\n`);
      return e.code;
    }
    process.stderr.write(`monitor: start-up failed: ${(e as Error).message}\n`);
    return ExitCode.Fatal;
  }
  const source = new chain.ChainSource({
    provider: c.provider,
    deployment: c.deployment,
    logger,
    logRangeBlocks: config.logRangeBlocks,
    historyRounds: config.historyRounds,
  });
  const signer = config.privateKey ? new Wallet(config.privateKey, c.provider) : undefined;
  const breakerAddress = c.deployment.contracts.breaker;
  const breaker = signer && breakerAddress ? chain.CircuitBreaker__factory.connect(breakerAddress, signer) : undefined;
  if (breaker && signer) {
    const holds = await breaker.hasRole(RISK_ORACLE_ROLE, await signer.getAddress());
    if (!holds)
      logger.warn(
        { address: await signer.getAddress() },
        "the key does not hold RISK_ORACLE: raises will fail; alerts still go out",
      );
  }
  const service = new MonitorService(
    {
      source,
      logger,
      breaker,
      dryRun: config.dryRun,
      settings: {
        ...DEFAULT_FORECAST_SETTINGS,
        depthBps: config.depthBps,
        probabilityModel: config.probabilityModel,
        runaway: config.runaway,
      },
      rules: {
        level1P1h: config.level1P1h,
        level1P24h: config.level1P24h,
        level2P15m: config.level2P15m,
        level2P1h: config.level2P1h,
        level3P15m: config.level3P15m,
        level1WaveP1h: config.level1WaveP1h,
        level2WaveP15m: config.level2WaveP15m,
        waveMustFeedItself: config.waveMustFeedItself,
      },
      persistence: { confirmSeconds: config.confirmSeconds, confirmForecasts: config.confirmForecasts },
      gate: config.changeGate ? DEFAULT_CHANGE_GATE : null,
      escalation: config.escalation
        ? {
            confirm: config.escalateConfirm,
            window: config.escalateWindow,
            stepPerForecast: 1,
            fastRun: config.escalateFastRun,
            evidenceSeconds: config.escalateEvidenceSeconds,
            minMove: config.escalateMinMoveBps / 10_000,
            dwellSeconds: config.escalateDwellSeconds,
            renewMargin: config.escalateRenewMarginBps / 10_000,
            trendSeconds: config.escalateTrendSeconds,
          }
        : null,
      raiseDuration: config.raiseDuration,
      renewWithin: config.renewWithin,
      restoreBps: config.restoreBps,
      scenarios: lab?.scenarios,
      scenarioSource: lab?.source,
      alerts: config.webhook.length ? webhookSink(config.webhook, logger) : undefined,
      snapshotDir: config.snapshotDir ?? join(config.deploymentsDir, "monitor", `${config.network}-${c.chainId}`),
    },
    new MonitorMetrics(true),
  );
  if (config.scenarios) {
    try {
      await service.tick();
      const run = service.lab();
      if (!run) throw new Error("no forecast or no scenarios");
      process.stdout.write(
        `Scenario lab on block ${run.block} (${run.results.length} scenarios from the ${run.source} catalogue, ${run.computeMs.toFixed(0)} ms)\n\n${labTable(run.results)}\n`,
      );
      return ExitCode.Ok;
    } catch (e) {
      process.stderr.write(`monitor: scenario lab failed: ${(e as Error).message}\n`);
      return ExitCode.Fatal;
    }
  }
  if (config.exact) {
    try {
      const f = await service.tick();
      const scenario = lab?.scenarios.find((x) => x.id === config.exact);
      if (!scenario) {
        process.stderr.write(
          `monitor: no lab scenario "${config.exact}"; the ids are: ${(lab?.scenarios ?? []).map((x) => x.id).join(", ")}\n`,
        );
        return ExitCode.BadConfig;
      }
      const [{ network }, { runExact, exactTable }] = await Promise.all([import("hardhat"), import("./exact.js")]);
      const fork = await network.create({
        override: {
          forking: { url: config.rpcUrl, blockNumber: f?.blockNumber },
          // the replay's Chain mines every transaction of a step at the step's time
          allowBlocksWithSameTimestamp: true,
          initialBaseFeePerGas: 0n,
        },
      });
      try {
        const r = await runExact({
          ethers: fork.ethers,
          provider: fork.provider,
          deployment: c.deployment,
          scenario,
          runaway: config.runaway,
          log: (line) => logger.info(line),
        });
        process.stdout.write(`${scenario.title}\n\n${exactTable(r)}\n\n(${r.seconds.toFixed(1)} s)\n`);
      } finally {
        await fork.close();
      }
      return ExitCode.Ok;
    } catch (e) {
      process.stderr.write(`monitor: exact run failed: ${(e as Error).message}\n`);
      return ExitCode.Fatal;
    }
  }
  if (config.once) {
    try {
      const f = await service.tick();
      process.stdout.write(
        toJson(
          {
            decision: service.decision,
            criticalDown: f?.down.criticalShock,
            criticalUp: f?.up.criticalShock,
            worst: f?.worst,
            indicators: f?.indicators,
            actions: service.lastActions,
          },
          2,
        ) + "\n",
      );
      return ExitCode.Ok;
    } catch (e) {
      process.stderr.write(`monitor: forecast failed: ${(e as Error).message}\n`);
      return ExitCode.Fatal;
    }
  }
  const server = await startMonitorServer({
    port: config.port,
    service,
    staleAfterMs: Math.max(60_000, config.pollIntervalMs * 10),
  });
  logger.info(
    {
      dashboard: server.url,
      deployment: c.recordPath,
      rpc: redactUrl(config.rpcUrl),
      riskOracle: !!breaker,
      dryRun: config.dryRun,
    },
    "monitor listening",
  );
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(ExitCode.Fatal);
    stopping = true;
    logger.info("stopping");
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  let backoff = 500;
  while (!stopping) {
    try {
      await service.tick();
      backoff = 500;
      await new Promise((r) => setTimeout(r, config.pollIntervalMs));
    } catch (e) {
      logger.warn({ err: (e as Error).message, retryMs: backoff }, "tick failed");
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(30_000, backoff * 2);
    }
  }
  await server.close();
  return ExitCode.Ok;
}

const invokedDirectly = (() => {
  try {
    return realpathSync(process.argv[1] ?? "") === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`monitor: ${(e as Error).stack ?? e}\n`);
      process.exit(ExitCode.Fatal);
    },
  );
}
