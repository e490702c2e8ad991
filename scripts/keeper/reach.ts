/**
 * Start-up of a process that works against a deployment (the keeper, the risk monitor): reach the
 * node (with retries), check its chain, read the deployment record and check that the engine it
 * names has code. Each failure is an operator-facing error with its exit code (exitCodes.ts), made
 * by the caller's `fail` so that each CLI keeps its own error class and names its own flags.
 */
import { DeploymentNotFoundError, type Deployment, deploymentPath, readDeployment } from "../../deploy/deployment.js";
import { ExitCode } from "./exitCodes.js";
import type { Logger } from "./logger.js";
import { type CountingJsonRpcProvider, RpcUnreachableError, createProvider, probeChainId, redactUrl } from "./rpc.js";

/** The settings start-up reads (both CLIs' configurations have them). */
export type ReachSettings = {
  rpcUrl: string;
  rpcTimeoutMs: number;
  startupRetries: number;
  chainId?: number;
  network: string;
  deployment?: string;
  deploymentsDir: string;
};

export type ReachOptions = {
  /** the prefix of the CLI's environment variables, named in the hints (KEEPER, MONITOR) */
  envPrefix: string;
  /** what to tell an operator whose record is missing, after "Deploy first" */
  deployHint: string;
  /** builds the CLI's own exit error */
  fail: (code: ExitCode, message: string) => Error;
  /** stop retrying when this says so (a signal arrived) */
  stopping?: () => boolean;
};

export type Reached = {
  chainId: number;
  provider: CountingJsonRpcProvider;
  deployment: Deployment;
  recordPath: string;
};

/** Waits between start-up attempts: 0.5 s, 1 s, 2 s, ... at most 5 s. */
function backoffMs(attempt: number): number {
  return Math.min(5_000, 500 * 2 ** (attempt - 1));
}

/** Reaches the node, checks its chain and the deployment record; throws `o.fail(...)` on each failure. */
export async function reachDeployment(config: ReachSettings, logger: Logger, o: ReachOptions): Promise<Reached> {
  const url = redactUrl(config.rpcUrl);
  let chainId: number | undefined;
  let lastError: RpcUnreachableError | undefined;
  // one first attempt, then `startupRetries` retries
  for (let attempt = 0; attempt <= config.startupRetries && chainId === undefined && !o.stopping?.(); attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs(attempt)));
    try {
      chainId = await probeChainId(config.rpcUrl, config.rpcTimeoutMs);
    } catch (e) {
      if (!(e instanceof RpcUnreachableError)) throw e;
      lastError = e;
      logger.warn({ url, attempt: attempt + 1, err: e.reason }, "RPC endpoint not answering");
    }
  }
  if (chainId === undefined) {
    throw o.fail(
      ExitCode.RpcUnreachable,
      `${lastError?.message ?? `RPC endpoint ${url} unreachable`}. Is the node running? Check --rpc / ${o.envPrefix}_RPC_URL.`,
    );
  }
  if (config.chainId !== undefined && config.chainId !== chainId) {
    throw o.fail(
      ExitCode.WrongChain,
      `the node at ${url} is chain ${chainId}, but chain ${config.chainId} was expected (--chain-id / ${o.envPrefix}_CHAIN_ID).`,
    );
  }
  const recordPath = config.deployment ?? deploymentPath(config.network, chainId, config.deploymentsDir);
  let deployment: Deployment;
  try {
    deployment = readDeployment(recordPath);
  } catch (e) {
    if (e instanceof DeploymentNotFoundError) {
      throw o.fail(
        ExitCode.UnknownDeployment,
        `no deployment of network "${config.network}" on chain ${chainId}: ${recordPath} does not exist. ` +
          `Deploy first${o.deployHint}, or pass --network / --deployment for the record of this chain.`,
      );
    }
    throw o.fail(ExitCode.UnknownDeployment, `${(e as Error).message}.`);
  }
  if (deployment.chainId !== chainId) {
    throw o.fail(
      ExitCode.WrongChain,
      `the deployment record ${recordPath} is for chain ${deployment.chainId}, but the node at ${url} is chain ${chainId}.`,
    );
  }
  const provider = createProvider(config.rpcUrl, chainId, config.rpcTimeoutMs);
  if ((await provider.getCode(deployment.contracts.engine)) === "0x") {
    throw o.fail(
      ExitCode.UnknownDeployment,
      `the deployment record ${recordPath} names engine ${deployment.contracts.engine}, which has no code on chain ${chainId} ` +
        `(a restarted local node forgets its contracts): deploy again.`,
    );
  }
  return { chainId, provider, deployment, recordPath };
}
