/**
 * What the local scripts share: the network connection, the deployment record of that network, and
 * typed contracts at the recorded addresses.
 */
import hre from "hardhat";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import {
  DEPLOYMENTS_DIR,
  type Deployment,
  DeploymentIncompleteError,
  DeploymentNotFoundError,
  deploymentPath,
  readDeployment,
} from "../../deploy/deployment.js";
import type { MockAggregator, MockUSDC, OracleAdapter, PerpEngine, Vault } from "../../types/ethers-contracts/index.js";

/** An error worth one line on stderr and a non-zero exit code, not a stack trace. */
export class UsageError extends Error {}

export type Local = {
  ethers: HardhatEthers;
  networkName: string;
  record: Deployment;
  recordPath: string;
  engine: PerpEngine;
  oracle: OracleAdapter;
  vault: Vault;
  usdc: MockUSDC;
  feed(symbol: string): Promise<MockAggregator>;
};

export async function connectLocal(): Promise<Local> {
  const { ethers, networkName } = await hre.network.create();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const recordPath = deploymentPath(networkName, chainId, process.env.DEPLOYMENTS_DIR ?? DEPLOYMENTS_DIR);
  const record = readDeployment(recordPath);
  if ((await ethers.provider.getCode(record.contracts.engine)) === "0x") {
    throw new UsageError(
      `${recordPath} names an engine at ${record.contracts.engine}, but there is no code there: the node was ` +
        `restarted since; deploy again (npm run deploy:local)`,
    );
  }
  const at = async <T>(name: string, address: string) => (await ethers.getContractAt(name, address)) as unknown as T;
  return {
    ethers,
    networkName,
    record,
    recordPath,
    engine: await at<PerpEngine>("PerpEngine", record.contracts.engine),
    oracle: await at<OracleAdapter>("OracleAdapter", record.contracts.oracle),
    vault: await at<Vault>("Vault", record.contracts.vault),
    usdc: await at<MockUSDC>("MockUSDC", record.contracts.usdc),
    feed: async (symbol: string) => {
      if (!(record.mocks?.feeds ?? []).includes(symbol)) {
        throw new UsageError(`the ${symbol} feed on ${networkName} is not a mock: only mock feeds can be moved`);
      }
      return at<MockAggregator>("MockAggregator", record.contracts.feeds[symbol]);
    },
  };
}

export function market(record: Deployment, symbol: string): Deployment["markets"][number] {
  const m = record.markets.find((x) => x.symbol === symbol.toUpperCase());
  if (!m) {
    throw new UsageError(
      `no market ${symbol} in the deployment: one of ${record.markets.map((x) => x.symbol).join(", ")}`,
    );
  }
  return m;
}

/** Runs a script's main, turning expected errors into one line and exit code 1. */
export async function run(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof UsageError || e instanceof DeploymentNotFoundError || e instanceof DeploymentIncompleteError) {
      console.error(`error: ${e.message}`);
      process.exitCode = 1;
    } else {
      throw e;
    }
  }
}

/** WAD -> "1234.56". */
export function fmt(x: bigint, dp = 2): string {
  const neg = x < 0n;
  const a = neg ? -x : x;
  const scale = 10n ** 18n;
  const frac = ((a % scale) * 10n ** BigInt(dp)) / scale;
  return `${neg ? "-" : ""}${a / scale}${dp > 0 ? "." + frac.toString().padStart(dp, "0") : ""}`;
}
