/**
 * The deployment record: where deploy scripts write the addresses they deployed and where the keeper,
 * the local scripts and the replay read them. One JSON file per network and chain id under
 * deployments/ (git-ignored for local chains).
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";

import type { SystemAddresses } from "./protocol.js";

export type Deployment = {
  /** format version of this file */
  version: 1;
  network: string;
  chainId: number;
  /** block of the first deployment transaction: where event scans start */
  startBlock: number;
  /** the deployed contracts (feeds: the Chainlink-compatible feed per market symbol) */
  contracts: SystemAddresses;
  markets: { id: number; symbol: string; feedId: string }[];
  /** steps done, for resumable deployments: step key -> deployed address or transaction hash */
  steps?: Record<string, string>;

  // Optional fields written by deploy/deploy.ts (records written by other code may omit them).

  /** "partial" while a deployment is under way or was interrupted; readers refuse it by default */
  status?: "partial" | "complete";
  /** a transaction sent but not yet recorded as a step: a resumed deployment adopts it */
  inFlight?: { step: string; hash: string };
  /** sender of every deployment transaction; holds no role once status is "complete" */
  deployer?: string;
  /** who holds what (governor and admin are the timelock when there is one) */
  roles?: { admin: string; governor: string; guardian: string; riskOracle?: string; adlKeeper?: string };
  /** contracts that are local mocks anyone can drive: the collateral and these market feeds */
  mocks?: { collateral: boolean; feeds: string[] };
  /** sha256 of the validated parameters: a resumed deployment refuses different ones */
  paramsHash?: string;
  /** local chains only: funded trader accounts, derived from a public test mnemonic */
  seedAccounts?: { mnemonic: string; firstIndex: number; addresses: string[] };
};

export const DEPLOYMENTS_DIR = "deployments";

export function deploymentPath(network: string, chainId: number | bigint, root = DEPLOYMENTS_DIR): string {
  return join(root, `${network}-${chainId}.json`);
}

export class DeploymentNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`no deployment record at ${path}: deploy first (see README, "Deploying"), or pass the right --network`);
  }
}

export class DeploymentIncompleteError extends Error {
  constructor(
    readonly path: string,
    readonly steps: number,
  ) {
    super(`the deployment at ${path} is incomplete (${steps} steps done): re-run the deploy command to finish it`);
  }
}

/**
 * Reads a record. A deployment that is still under way or was interrupted (status "partial") is
 * refused unless `allowPartial`: its addresses may be missing (empty strings) and roles not handed over.
 */
export function readDeployment(path: string, opts: { allowPartial?: boolean } = {}): Deployment {
  if (!existsSync(path)) throw new DeploymentNotFoundError(path);
  const d = JSON.parse(readFileSync(path, "utf8")) as Deployment;
  if (d.version !== 1 || typeof d.chainId !== "number" || typeof d.contracts?.engine !== "string") {
    throw new Error(`${path} is not a deployment record of this project (version 1)`);
  }
  if (d.status === "partial" && !opts.allowPartial) {
    throw new DeploymentIncompleteError(path, Object.keys(d.steps ?? {}).length);
  }
  return d;
}

export function writeDeployment(path: string, d: Deployment): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(d, null, 2) + "\n");
}
