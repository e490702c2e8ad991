/**
 * The deployment record: where deploy scripts write the addresses they deployed and where the keeper,
 * the local scripts and the replay read them. One JSON file per network and chain id under
 * deployments/ (git-ignored for local chains).
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";

export type Deployment = {
  /** format version of this file */
  version: 1;
  network: string;
  chainId: number;
  /** block of the first deployment transaction: where event scans start */
  startBlock: number;
  contracts: {
    usdc: string;
    oracle: string;
    vault: string;
    engine: string;
    insuranceFund: string;
    liquidationEngine: string;
    breaker?: string;
    timelock?: string;
    triggers: Record<string, string>;
    /** Chainlink-compatible feed per market symbol */
    feeds: Record<string, string>;
  };
  markets: { id: number; symbol: string; feedId: string }[];
  /** steps done, for resumable deployments */
  steps?: Record<string, string>;
};

export const DEPLOYMENTS_DIR = "deployments";

export function deploymentPath(network: string, chainId: number | bigint, root = DEPLOYMENTS_DIR): string {
  return join(root, `${network}-${chainId}.json`);
}

export class DeploymentNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`no deployment record at ${path}: deploy first (see README, "A local node"), or pass the right --network`);
  }
}

export function readDeployment(path: string): Deployment {
  if (!existsSync(path)) throw new DeploymentNotFoundError(path);
  const d = JSON.parse(readFileSync(path, "utf8")) as Deployment;
  if (d.version !== 1 || typeof d.chainId !== "number" || typeof d.contracts?.engine !== "string") {
    throw new Error(`${path} is not a deployment record of this project (version 1)`);
  }
  return d;
}

export function writeDeployment(path: string, d: Deployment): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(d, null, 2) + "\n");
}
