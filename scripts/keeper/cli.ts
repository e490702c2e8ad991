/**
 * The keeper as a process:
 *
 *   npm run keeper -- --rpc http://127.0.0.1:8545 --network localhost [--dry-run] [...]
 *
 * with the key in KEEPER_PRIVATE_KEY. Settings come from flags, then KEEPER_* environment variables,
 * then a JSON file (--config / KEEPER_CONFIG), then defaults; `--help` lists them all. Start-up
 * failures end with their own exit code (exitCodes.ts) and a message that says what to fix. Runs
 * without the Hardhat runtime: plain ethers over JSON-RPC.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Command, CommanderError, Option } from "commander";
import { Wallet } from "ethers";

import { DeploymentNotFoundError, type Deployment, deploymentPath, readDeployment } from "../../deploy/deployment.js";
import { type CliConfig, ConfigError, FIELDS, printableConfig, readConfigFile, resolveConfig } from "./config.js";
import { ExitCode, KeeperExit } from "./exitCodes.js";
import { Keeper } from "./keeper.js";
import { createLogger, type Logger } from "./logger.js";
import { KeeperMetrics } from "./metrics.js";
import { RpcUnreachableError, createProvider, probeChainId, redactUrl } from "./rpc.js";
import { type StatusServer, startStatusServer } from "./server.js";

/** Parses argv (without node and script) into flags actually given, plus the config file path. */
export function parseArgs(argv: string[]): { flags: Record<string, unknown>; configPath?: string } {
  const program = new Command("keeper")
    .description(
      "Liquidation keeper: follows accounts, liquidates the worst first in tranches, pokes oracles and breakers",
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .option("--config <file>", "JSON file of settings (env KEEPER_CONFIG)");
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
  return { flags, configPath: opts.config as string | undefined };
}

/** Settings from every layer; ConfigError when they do not validate. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): CliConfig {
  const { flags, configPath } = parseArgs(argv);
  const path = configPath ?? env.KEEPER_CONFIG;
  const file = path ? readConfigFile(path) : undefined;
  return resolveConfig({ flags, env, file });
}

type Running = { keeper: Keeper; server?: StatusServer; deployment: Deployment; logger: Logger };

/** Connects, checks the chain and the deployment, and builds the keeper (nothing sent yet). */
export async function connect(config: CliConfig, logger: Logger): Promise<Running> {
  const url = redactUrl(config.rpcUrl);
  let chainId: number | undefined;
  let lastError: RpcUnreachableError | undefined;
  for (let attempt = 0; attempt <= config.startupRetries && chainId === undefined; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(5_000, 500 * 2 ** (attempt - 1))));
    try {
      chainId = await probeChainId(config.rpcUrl, config.rpcTimeoutMs);
    } catch (e) {
      if (!(e instanceof RpcUnreachableError)) throw e;
      lastError = e;
      logger.warn({ url, attempt: attempt + 1, err: e.reason }, "RPC endpoint not answering");
    }
  }
  if (chainId === undefined) {
    throw new KeeperExit(
      ExitCode.RpcUnreachable,
      `${lastError?.message ?? `RPC endpoint ${url} unreachable`}. Is the node running? Check --rpc / KEEPER_RPC_URL.`,
    );
  }
  if (config.chainId !== undefined && config.chainId !== chainId) {
    throw new KeeperExit(
      ExitCode.WrongChain,
      `the node at ${url} is chain ${chainId}, but chain ${config.chainId} was expected (--chain-id / KEEPER_CHAIN_ID).`,
    );
  }
  const recordPath = config.deployment ?? deploymentPath(config.network, chainId, config.deploymentsDir);
  let deployment: Deployment;
  try {
    deployment = readDeployment(recordPath);
  } catch (e) {
    if (e instanceof DeploymentNotFoundError) {
      throw new KeeperExit(
        ExitCode.UnknownDeployment,
        `no deployment of network "${config.network}" on chain ${chainId}: ${recordPath} does not exist. ` +
          `Deploy first, or pass --network / --deployment for the record of this chain.`,
      );
    }
    throw new KeeperExit(ExitCode.UnknownDeployment, `${(e as Error).message}.`);
  }
  if (deployment.chainId !== chainId) {
    throw new KeeperExit(
      ExitCode.WrongChain,
      `the deployment record ${recordPath} is for chain ${deployment.chainId}, but the node at ${url} is chain ${chainId}.`,
    );
  }
  const provider = createProvider(config.rpcUrl, chainId, config.rpcTimeoutMs);
  const code = await provider.getCode(deployment.contracts.engine);
  if (code === "0x") {
    throw new KeeperExit(
      ExitCode.UnknownDeployment,
      `the deployment record ${recordPath} names engine ${deployment.contracts.engine}, which has no code on chain ${chainId} ` +
        `(a restarted local node forgets its contracts): deploy again.`,
    );
  }
  const wallet = new Wallet(config.privateKey, provider);
  const checkpointFile =
    config.checkpointFile ??
    join(config.deploymentsDir, "keeper", `${config.network}-${chainId}-${wallet.address.toLowerCase()}.json`);
  const metrics = new KeeperMetrics({ processMetrics: true });
  const keeper = new Keeper({
    provider,
    signer: wallet,
    deployment,
    config: { ...config, checkpointFile },
    logger,
    metrics,
    rpcStats: provider.stats,
  });
  logger.info(
    {
      address: wallet.address,
      chainId,
      deployment: recordPath,
      checkpoint: checkpointFile,
      rpc: url,
      dryRun: config.dryRun,
    },
    "keeper configured",
  );
  return { keeper, deployment, logger };
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: CliConfig;
  try {
    config = loadConfig(argv, env);
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return ExitCode.Ok;
      process.stderr.write(`keeper: ${e.message}\n`);
      return ExitCode.BadConfig;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`keeper: ${e.message}\nSee --help for every setting.\n`);
      return ExitCode.BadConfig;
    }
    throw e;
  }
  const logger = createLogger(config.logLevel);
  logger.debug({ config: printableConfig(config) }, "configuration");
  let running: Running;
  try {
    running = await connect(config, logger);
  } catch (e) {
    if (e instanceof KeeperExit) {
      logger.error({ exitCode: e.code }, e.message);
      process.stderr.write(`keeper: ${e.message}\n`);
      return e.code;
    }
    logger.fatal({ err: (e as Error).message }, "start-up failed");
    process.stderr.write(`keeper: start-up failed: ${(e as Error).message}\n`);
    return ExitCode.Fatal;
  }
  const { keeper } = running;

  if (config.once) {
    try {
      const r = await keeper.tick();
      logger.info({ report: r }, "tick");
      keeper.writeCheckpoint();
      return ExitCode.Ok;
    } catch (e) {
      logger.error({ err: (e as Error).message }, "tick failed");
      return ExitCode.Fatal;
    }
  }

  if (config.metrics) {
    running.server = await startStatusServer({
      port: config.metricsPort,
      metrics: keeper.metrics,
      health: () => keeper.health(),
    });
    logger.info(
      { port: running.server.port, metrics: `http://127.0.0.1:${running.server.port}/metrics` },
      "status server listening",
    );
  }
  const stopped = keeper.start();
  let signals = 0;
  const onSignal = (signal: string) => {
    signals++;
    if (signals > 1) process.exit(ExitCode.Fatal);
    logger.info({ signal }, "stopping");
    void keeper.stop();
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  await stopped;
  await running.server?.close();
  logger.info("stopped");
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
      process.stderr.write(`keeper: ${(e as Error).stack ?? e}\n`);
      process.exit(ExitCode.Fatal);
    },
  );
}
