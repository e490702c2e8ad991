/**
 * The keeper as a process:
 *
 *   npm run keeper -- --rpc http://127.0.0.1:8545 --network localhost [--dry-run] [...]
 *   node_modules/.bin/node --import tsx scripts/keeper/cli.ts ...      (no npm in the signal path)
 *
 * with the key in KEEPER_PRIVATE_KEY. Settings come from flags, then KEEPER_* environment variables,
 * then a JSON file (--config / KEEPER_CONFIG), then defaults; `--help` lists them all. Start-up
 * failures end with their own exit code (exitCodes.ts) and a message that says what to fix. Runs
 * without the Hardhat runtime: plain ethers over JSON-RPC. The keeper itself (and with it the
 * TypeChain factories a compile generates) is imported only once the arguments are understood, so
 * `--help` and configuration errors work before a compile.
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { Command, CommanderError, Option } from "commander";
import { type JsonRpcProvider, Wallet } from "ethers";

import { type Deployment, readDeployment } from "../../deploy/deployment.js";
import { type CliConfig, ConfigError, FIELDS, printableConfig, readConfigFile, resolveConfig } from "./config.js";
import { EXIT_CODE_HELP, ExitCode, KeeperExit } from "./exitCodes.js";
import type { Keeper, RiskTable } from "./keeper.js";
import { type Lock, LockHeldError, acquireLock } from "./lock.js";
import { createLogger, type Logger } from "./logger.js";
import { KeeperMetrics } from "./metrics.js";
import { formatWad } from "./riskView.js";
import { redactUrl } from "./rpc.js";
import { reachDeployment } from "./reach.js";
import { type StatusServer, startStatusServer } from "./server.js";

const HELP_AFTER = `
Commands besides the service:
  --worst <n>       print the n accounts nearest to liquidation (health, liquidation price) and exit;
                    needs no key (KEEPER_PRIVATE_KEY, when set, lets it resume from that keeper's checkpoint)

Exit codes:
${EXIT_CODE_HELP.map(([code, what]) => `  ${code}  ${what}`).join("\n")}

Run it with no npm between the supervisor and the keeper (signals reach the keeper itself):
  node_modules/.bin/node --import tsx scripts/keeper/cli.ts --rpc <url> --network <name>
(ops/systemd/cascade-keeper.service does that; \`npm run keeper\` execs the same command.)
`;

type Parsed = { flags: Record<string, unknown>; configPath?: string; worst?: number };

/** Parses argv (without node and script) into flags actually given, plus the config file path. */
export function parseArgs(argv: string[]): Parsed {
  const program = new Command("keeper")
    .description(
      "Liquidation keeper: follows accounts, liquidates the worst first in tranches, pokes oracles and breakers",
    )
    .exitOverride()
    // commander's own error line is dropped: main() prints the error once, with its exit code
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => undefined })
    .option("--config <file>", "JSON file of settings (env KEEPER_CONFIG)")
    .option("--worst <n>", "print the n accounts nearest to liquidation and exit (no key needed)")
    .addHelpText("after", HELP_AFTER);
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
  let worst: number | undefined;
  if (opts.worst !== undefined) {
    worst = Number(opts.worst);
    if (!Number.isInteger(worst) || worst < 1 || worst > 10_000) {
      throw new ConfigError([`--worst: must be a whole number from 1 to 10000 (got ${opts.worst})`]);
    }
  }
  return { flags, configPath: opts.config as string | undefined, worst };
}

/** Settings from every layer; ConfigError when they do not validate. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): CliConfig {
  return load(argv, env).config;
}

function load(argv: string[], env: NodeJS.ProcessEnv): { config: CliConfig; worst?: number } {
  const { flags, configPath, worst } = parseArgs(argv);
  const path = configPath ?? env.KEEPER_CONFIG;
  const file = path ? readConfigFile(path) : undefined;
  return { config: resolveConfig({ flags, env, file }, { keyRequired: worst === undefined }), worst };
}

/** The module `import("./keeper.js")` failed to load because nothing was compiled yet. */
export function isMissingTypes(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown };
  return err?.code === "ERR_MODULE_NOT_FOUND" && /types[\\/]ethers-contracts/.test(String(err.message));
}

async function loadKeeperModule(): Promise<typeof import("./keeper.js")> {
  try {
    return await import("./keeper.js");
  } catch (e) {
    if (isMissingTypes(e)) {
      throw new KeeperExit(
        ExitCode.Fatal,
        "the keeper needs the TypeChain types that a compile generates (types/ethers-contracts is missing): " +
          "run `npx hardhat compile` once, then start the keeper again",
      );
    }
    throw e;
  }
}

type Running = {
  keeper: Keeper;
  deployment: Deployment;
  recordPath: string;
  provider: JsonRpcProvider;
  wallet: Wallet;
  checkpointFile: string;
  chainId: number;
};

/** Connects, checks the chain and the deployment, and builds the keeper (nothing sent yet). */
export async function connect(
  config: CliConfig,
  logger: Logger,
  o: { stopping?: () => boolean; readOnly?: boolean } = {},
): Promise<Running> {
  const { Keeper } = await loadKeeperModule();
  const { chainId, provider, deployment, recordPath } = await reachDeployment(config, logger, {
    envPrefix: "KEEPER",
    deployHint: "",
    fail: (code, message) => new KeeperExit(code, message),
    stopping: o.stopping,
  });
  const key = config.privateKey ?? Wallet.createRandom().privateKey;
  const wallet = new Wallet(key, provider);
  const checkpointFile =
    config.checkpointFile ??
    join(config.deploymentsDir, "keeper", `${config.network}-${chainId}-${wallet.address.toLowerCase()}.json`);
  const metrics = new KeeperMetrics({ processMetrics: true });
  const keeper = new Keeper({
    provider,
    signer: wallet,
    deployment,
    config: { ...config, checkpointFile, dryRun: config.dryRun || o.readOnly === true },
    logger,
    metrics,
    rpcStats: provider.stats,
    watchBalance: !o.readOnly,
    reloadDeployment: () => readDeployment(recordPath),
  });
  if (!o.readOnly) {
    logger.info(
      {
        address: wallet.address,
        chainId,
        deployment: recordPath,
        checkpoint: checkpointFile,
        rpc: redactUrl(config.rpcUrl),
        dryRun: config.dryRun,
        pid: process.pid,
      },
      "keeper configured",
    );
  }
  return { keeper, deployment, recordPath, provider, wallet, checkpointFile, chainId };
}

/**
 * The start-up balance check: a live keeper whose key holds no ether would have every transaction
 * refused. (Below `minBalanceEth` the keeper itself warns, at its first block and whenever it drops.)
 */
async function checkBalance(r: Running, config: CliConfig): Promise<void> {
  if (config.dryRun) return;
  if ((await r.provider.getBalance(r.wallet.address)) > 0n) return;
  const fund =
    r.chainId === 31337
      ? "on a local node, use one of the node's funded accounts as the key (README, Keeper) or send it ether from one"
      : "send it ether for gas from a funded wallet";
  throw new KeeperExit(
    ExitCode.Unfunded,
    `the keeper's key ${r.wallet.address} holds no ether on chain ${r.chainId}: every transaction would be refused. ` +
      `Fund it: ${fund}. Or run with --dry-run.`,
  );
}

/** One keeper per key (on a chain) and per checkpoint file; a dry run sends nothing and writes no checkpoint. */
function takeLocks(r: Running, config: CliConfig): Lock[] {
  const keyLock = join(config.deploymentsDir, "keeper", `${r.chainId}-${r.wallet.address.toLowerCase()}.lock`);
  const paths = [...new Set([keyLock, `${r.checkpointFile}.lock`])];
  const locks: Lock[] = [];
  try {
    for (const path of paths) locks.push(acquireLock(path, { address: r.wallet.address, chainId: r.chainId }));
  } catch (e) {
    for (const l of locks) l.release();
    if (e instanceof LockHeldError) {
      throw new KeeperExit(
        ExitCode.AlreadyRunning,
        `another keeper (pid ${e.pid}) runs with this key or checkpoint: it holds ${e.path}. Two keepers with one ` +
          `key fight over nonces; stop that one, or give this one its own key.`,
      );
    }
    throw e;
  }
  return locks;
}

async function serve(keeper: Keeper, port: number, logger: Logger): Promise<StatusServer> {
  try {
    const server = await startStatusServer({ port, metrics: keeper.metrics, health: () => keeper.health() });
    logger.info({ port: server.port, metrics: `http://127.0.0.1:${server.port}/metrics` }, "status server listening");
    return server;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new KeeperExit(
        ExitCode.BadConfig,
        `port ${port} on 127.0.0.1 is already in use (another keeper, or another service): choose another with ` +
          `--metrics-port / KEEPER_METRICS_PORT (0 picks a free one), or turn the server off with --no-metrics.`,
      );
    }
    throw e;
  }
}

/** The risk table as text, for `--worst`. */
export function formatRiskTable(t: RiskTable): string {
  const head = ["account", "owner", "market", "size", "price", "liq. price", "move", "health", "equity", "maint."];
  const rows = t.accounts.map((a) => {
    const p = a.liquidationPrice;
    const move = p === null ? "-" : `${formatWad(((p - a.market.price) * 10n ** 20n) / a.market.price, 1)}%`;
    return [
      String(a.accountId),
      `${a.owner.slice(0, 8)}…`,
      a.market.symbol,
      formatWad(a.market.size, 4),
      formatWad(a.market.price),
      p === null ? "none" : formatWad(p),
      move,
      `${formatWad(a.health, 3)}${a.liquidatable ? " LIQ" : ""}`,
      formatWad(a.equity),
      formatWad(a.maintenanceMargin),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join("  ");
  return [
    `block ${t.block}: the ${t.accounts.length} accounts nearest to liquidation of ${t.withPositions} with positions`,
    line(head),
    ...rows.map(line),
    "health = equity / maintenance margin (below 1.000 the account is liquidatable, LIQ); liq. price = the index " +
      "price of its largest position's market at which it becomes liquidatable, other prices unchanged; move = how " +
      "far that is from the price now. Amounts in collateral tokens (USD), sizes in base units.",
  ].join("\n");
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: CliConfig;
  let worst: number | undefined;
  try {
    ({ config, worst } = load(argv, env));
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return ExitCode.Ok;
      process.stderr.write(`keeper: ${e.message.replace(/^error: /, "")}\nSee --help for every setting.\n`);
      return ExitCode.BadConfig;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`keeper: ${e.message}\nSee --help for every setting.\n`);
      return ExitCode.BadConfig;
    }
    throw e;
  }
  // --worst prints its table on stdout: its log lines go to stderr
  const logger =
    worst === undefined
      ? createLogger(config.logLevel, undefined, config.logFormat)
      : createLogger(
          config.logLevel,
          { write: (line: string) => process.stderr.write(line) },
          config.logFormat === "auto" ? (process.stderr.isTTY ? "pretty" : "json") : config.logFormat,
        );
  logger.debug({ config: printableConfig(config) }, "configuration");

  const stop = stopOnSignals(logger);
  const locks: Lock[] = [];
  let server: StatusServer | undefined;
  try {
    const running = await connect(config, logger, { stopping: () => stop.requested, readOnly: worst !== undefined });
    if (worst !== undefined) {
      process.stdout.write(`${formatRiskTable(await running.keeper.risks(worst))}\n`);
      return ExitCode.Ok;
    }
    await checkBalance(running, config);
    if (!config.dryRun) locks.push(...takeLocks(running, config));
    const { keeper } = running;
    if (stop.requested) return ExitCode.Ok;

    if (config.once) {
      const r = await keeper.tick();
      logger.info({ report: r }, "tick");
      keeper.writeCheckpoint();
      if (r.refused.some((x) => x.failure === "insufficient-funds")) return ExitCode.Unfunded;
      if (r.refused.length) return ExitCode.Refused;
      return ExitCode.Ok;
    }

    if (config.metrics) server = await serve(keeper, config.metricsPort, logger);
    stop.onStop = () => void keeper.stop();
    const stopped = keeper.start();
    if (stop.requested) void keeper.stop();
    await stopped;
    logger.info("stopped");
    return ExitCode.Ok;
  } catch (e) {
    if (e instanceof KeeperExit) {
      logger.error({ exitCode: e.code }, e.message);
      process.stderr.write(`keeper: ${e.message}\n`);
      return e.code;
    }
    logger.fatal({ err: (e as Error).message }, config.once ? "tick failed" : "start-up failed");
    process.stderr.write(`keeper: ${config.once ? "tick" : "start-up"} failed: ${(e as Error).message}\n`);
    return ExitCode.Fatal;
  } finally {
    stop.dispose();
    await server?.close();
    for (const l of locks) l.release();
  }
}

/**
 * SIGINT and SIGTERM ask the keeper to stop after its current tick, and so does the parent going
 * away (the keeper was left an orphan: whoever started it can no longer stop it). Ctrl-C under npm
 * delivers SIGINT twice (the terminal's, and npm forwarding its own): a repeat within two seconds
 * is the same request; a later one ends the process at once.
 */
function stopOnSignals(logger: Logger) {
  const state = {
    requested: false,
    firstAt: 0,
    onStop: undefined as (() => void) | undefined,
    dispose: () => undefined as void,
  };
  const request = (reason: string) => {
    if (state.requested) {
      if (Date.now() - state.firstAt < 2_000) return;
      logger.warn({ signal: reason }, "stopping at once");
      process.exit(ExitCode.Fatal);
    }
    state.requested = true;
    state.firstAt = Date.now();
    logger.info({ signal: reason }, "stopping");
    state.onStop?.();
  };
  process.on("SIGINT", () => request("SIGINT"));
  process.on("SIGTERM", () => request("SIGTERM"));
  const parent = process.ppid;
  const watch =
    parent > 1
      ? setInterval(() => {
          if (process.ppid !== parent) request("parent process exited");
        }, 1_000)
      : undefined;
  watch?.unref();
  // The handlers stay until the process exits: a repeat that arrives after the keeper stopped (npm's
  // forward of a Ctrl-C) must not kill it with the signal, which npm would report as exit code 130.
  state.dispose = () => {
    if (watch) clearInterval(watch);
  };
  return state;
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
