/**
 * A network deployment from validated parameters, resumable through the deployment record.
 * deploy/deploy.ts is its command line; tests call it in-process.
 */
import { existsSync, renameSync } from "node:fs";

import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, formatEther, parseEther, ZeroHash } from "ethers";

import { type Deployment, readDeployment, writeDeployment } from "./deployment.js";
import { type NetworkParams, marketSpec, paramsHash, resolveAddress, seedWallets } from "./networkParams.js";
import { feedId } from "./params.js";
import {
  GOVERNOR_ROLE,
  GUARDIAN_ROLE,
  type MarketPlan,
  RISK_ORACLE_ROLE,
  ADL_KEEPER_ROLE,
  type SystemAddresses,
  type SystemPlan,
  addressesFromSteps,
  deploySystem,
} from "./protocol.js";
import { type Journal, StepFailed, Steps } from "./steps.js";

/** Reads a configuration variable by name (Hardhat's: the environment, then the keystore). */
export type ConfigLookup = (name: string) => Promise<string>;

export type NetworkDeployOptions = {
  params: NetworkParams;
  /** where the params came from, for messages */
  source: string;
  recordPath: string;
  lookup: ConfigLookup;
  /** start over even if a record exists (it is kept as a .bak) */
  fresh?: boolean;
  /** test hooks, see Steps */
  stopAfter?: number;
  stopInFlight?: boolean;
  log?: (line: string) => void;
};

export type NetworkDeployResult = {
  record: Deployment;
  recordPath: string;
  plan: SystemPlan;
  roles: Roles;
  collateralDecimals: number;
  executed: number;
  skipped: number;
  seconds: number;
};

/** Chains where anyone may mint the mock collateral and seeded accounts make sense. */
export const LOCAL_CHAIN_IDS = new Set([31337, 1337]);

export class PreflightError extends Error {}

export type Roles = {
  admin: string;
  governor: string;
  guardian: string;
  riskOracle?: string;
  adlKeeper?: string;
  proposer: string;
};

/** Resolves the parameters' addresses (configuration variables included) into a plan for deploySystem. */
export async function buildPlan(
  params: NetworkParams,
  ethers: HardhatEthers,
  lookup: ConfigLookup,
): Promise<{ plan: SystemPlan; roles: Roles; collateralDecimals: number }> {
  const governor = await resolveAddress(params.roles.governor, "roles.governor", lookup);
  const guardian = await resolveAddress(params.roles.guardian, "roles.guardian", lookup);
  const riskOracle = params.roles.riskOracle
    ? await resolveAddress(params.roles.riskOracle, "roles.riskOracle", lookup)
    : undefined;
  const adlKeeper = params.roles.adlKeeper
    ? await resolveAddress(params.roles.adlKeeper, "roles.adlKeeper", lookup)
    : undefined;
  const admin = params.roles.admin ? await resolveAddress(params.roles.admin, "roles.admin", lookup) : governor;
  const collateral = params.collateral ? await resolveAddress(params.collateral, "collateral", lookup) : undefined;

  const markets: MarketPlan[] = [];
  for (const [i, m] of params.markets.entries()) {
    const feed =
      m.feed.type === "chainlink"
        ? await resolveAddress(m.feed.address, `markets[${i}].feed.address`, lookup)
        : undefined;
    markets.push({ ...marketSpec(m), feed });
  }

  let collateralDecimals = 6; // MockUSDC
  if (collateral) {
    if ((await ethers.provider.getCode(collateral)) === "0x") {
      throw new PreflightError(`collateral ${collateral} has no code on this chain`);
    }
    const token = new Contract(collateral, ["function decimals() view returns (uint8)"], ethers.provider);
    collateralDecimals = Number(await token.decimals());
  }

  const plan: SystemPlan = {
    governance: params.timelock
      ? {
          timelock: {
            minDelay: BigInt(params.timelock.minDelay),
            proposers: [governor],
            executors: params.timelock.executors
              ? await Promise.all(
                  params.timelock.executors.map((e, i) => resolveAddress(e, `timelock.executors[${i}]`, lookup)),
                )
              : [governor],
          },
        }
      : { admin, governor },
    guardian,
    riskOracle,
    adlKeeper,
    collateral,
    markets,
    breaker: params.breaker,
    orders: params.orders,
    lens: true,
  };
  if (params.seed) {
    const unit = 10n ** BigInt(collateralDecimals);
    const a = params.seed.accounts;
    plan.seed = {
      lpLiquidity: params.seed.lpLiquidity * unit,
      insuranceStake: params.seed.insuranceStake * unit,
      accounts: a && {
        addresses: seedWallets(a.mnemonic, a.firstIndex, a.count).map((w) => w.address),
        collateralEach: a.usdcEach * unit,
        weiEach: parseEther(a.ethEach.toString()),
      },
    };
  }
  return { plan, roles: { admin, governor, guardian, riskOracle, adlKeeper, proposer: governor }, collateralDecimals };
}

/**
 * A hardhat node forgets everything when restarted, and its addresses repeat: a record whose first
 * contract has no code is stale. Only ever asked on local chains.
 */
async function localChainWasReset(ethers: HardhatEthers, recordPath: string): Promise<boolean> {
  const old = readDeployment(recordPath, { allowPartial: true });
  const first = Object.entries(old.steps ?? {}).find(([key]) => key.startsWith("deploy:"));
  return first !== undefined && (await ethers.provider.getCode(first[1])) === "0x";
}

/** Checks that fail before any transaction rather than halfway through. */
export async function preflight(
  ethers: HardhatEthers,
  chainId: number,
  me: string,
  params: NetworkParams,
  plan: SystemPlan,
  roles: Roles,
): Promise<void> {
  const problems: string[] = [];
  const named: [string, string | undefined][] = [
    ["roles.governor", roles.governor],
    ["roles.guardian", roles.guardian],
    ["roles.riskOracle", roles.riskOracle],
    ["roles.adlKeeper", roles.adlKeeper],
  ];
  if (params.roles.admin) named.push(["roles.admin", roles.admin]);
  for (const [field, address] of named) {
    if (address !== undefined && address.toLowerCase() === me.toLowerCase()) {
      problems.push(
        `${field} is the deployer ${me}: the deployer renounces every role at the end, name another account`,
      );
    }
  }
  if (plan.seed?.accounts && !LOCAL_CHAIN_IDS.has(chainId)) {
    problems.push(`seed.accounts is for local chains only (this is chain ${chainId})`);
  }
  const now = (await ethers.provider.getBlock("latest"))!.timestamp;
  for (const m of plan.markets) {
    if (!m.feed) continue;
    const where = `market ${m.symbol}: feed ${m.feed}`;
    if ((await ethers.provider.getCode(m.feed)) === "0x") {
      problems.push(`${where} has no code on chain ${chainId}`);
      continue;
    }
    const agg = new Contract(
      m.feed,
      [
        "function decimals() view returns (uint8)",
        "function latestRoundData() view returns (uint80, int256, uint256, uint256, uint80)",
      ],
      ethers.provider,
    );
    const decimals = Number(await agg.decimals());
    if (decimals !== m.feedDecimals)
      problems.push(`${where} has ${decimals} decimals, the params say ${m.feedDecimals}`);
    const [, answer, , updatedAt] = (await agg.latestRoundData()) as [bigint, bigint, bigint, bigint, bigint];
    if (answer <= 0n) problems.push(`${where} answers ${answer}`);
    const age = now - Number(updatedAt);
    if (age > m.heartbeat) {
      problems.push(
        `${where} was last updated ${age} s ago, more than its heartbeat ${m.heartbeat} s: listing would revert`,
      );
    }
  }
  const balance = await ethers.provider.getBalance(me);
  const handedOut = plan.seed?.accounts ? plan.seed.accounts.weiEach * BigInt(plan.seed.accounts.addresses.length) : 0n;
  if (balance <= handedOut) {
    problems.push(
      `the deployer ${me} holds ${formatEther(balance)} ETH: not enough for gas` +
        (handedOut > 0n ? ` and the ${formatEther(handedOut)} ETH of seed.accounts` : ""),
    );
  }
  if (plan.collateral && plan.seed) {
    const need = plan.seed.lpLiquidity + plan.seed.insuranceStake;
    const token = new Contract(
      plan.collateral,
      ["function balanceOf(address) view returns (uint256)"],
      ethers.provider,
    );
    const have = (await token.balanceOf(me)) as bigint;
    if (have < need) problems.push(`seeding needs ${need} collateral units from the deployer, which holds ${have}`);
  }
  if (problems.length > 0) {
    throw new PreflightError(`preflight failed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** After hand-over: every role where it should be and none left with the deployer. */
export async function verifyRoles(
  ethers: HardhatEthers,
  me: string,
  a: SystemAddresses,
  admin: string,
  governor: string,
  roles: Roles,
): Promise<string[]> {
  const problems: string[] = [];
  const holders: [string, string][] = [
    ["oracle", a.oracle],
    ["vault", a.vault],
    ["engine", a.engine],
    ["insuranceFund", a.insuranceFund],
    ["automation", a.automation ?? ""],
    ...Object.entries(a.triggers).map(([k, v]): [string, string] => [`trigger:${k}`, v]),
  ];
  if (a.breaker) holders.push(["breaker", a.breaker]);
  const abi = ["function hasRole(bytes32, address) view returns (bool)"];
  for (const [name, address] of holders) {
    const c = new Contract(address, abi, ethers.provider);
    const expect = async (role: string, roleName: string, who: string, held: boolean) => {
      if (((await c.hasRole(role, who)) as boolean) !== held) {
        problems.push(`${name}: ${who} ${held ? "lacks" : "still holds"} ${roleName}`);
      }
    };
    await expect(GOVERNOR_ROLE, "GOVERNOR", governor, true);
    await expect(ZeroHash, "DEFAULT_ADMIN_ROLE", admin, true);
    await expect(GOVERNOR_ROLE, "GOVERNOR", me, false);
    await expect(ZeroHash, "DEFAULT_ADMIN_ROLE", me, false);
    if (name === "engine" || name === "breaker") await expect(GUARDIAN_ROLE, "GUARDIAN", roles.guardian, true);
    if (name === "breaker" && roles.riskOracle) await expect(RISK_ORACLE_ROLE, "RISK_ORACLE", roles.riskOracle, true);
    if (name === "engine" && roles.adlKeeper) await expect(ADL_KEEPER_ROLE, "ADL_KEEPER", roles.adlKeeper, true);
  }
  return problems;
}

/** Deploys (or resumes, or confirms) the protocol on the connected network and writes its record. */
export async function deployNetwork(
  ethers: HardhatEthers,
  networkName: string,
  opts: NetworkDeployOptions,
): Promise<NetworkDeployResult> {
  const { params, source, recordPath } = opts;
  const log = opts.log ?? (() => {});
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  if (params.chainId !== undefined && params.chainId !== chainId) {
    throw new PreflightError(
      `${source} is for chain ${params.chainId}, but network ${networkName} is chain ${chainId}`,
    );
  }
  const [deployer] = await ethers.getSigners();
  const me = await deployer.getAddress();
  const hash = paramsHash(params);

  let previous: Deployment | undefined;
  if (existsSync(recordPath)) {
    const fresh = opts.fresh
      ? "DEPLOY_FRESH=1"
      : LOCAL_CHAIN_IDS.has(chainId) && (await localChainWasReset(ethers, recordPath))
        ? "the local chain was reset since it was written"
        : undefined;
    if (fresh !== undefined) {
      const backup = `${recordPath}.${new Date().toISOString().replace(/[:.]/g, "-")}.bak`;
      renameSync(recordPath, backup);
      log(`${fresh}: moved the old record to ${backup} and starting over`);
    } else {
      previous = readDeployment(recordPath, { allowPartial: true });
      if (previous.paramsHash !== undefined && previous.paramsHash !== hash) {
        throw new PreflightError(
          `${source} changed since the deployment recorded in ${recordPath} started. Finish or redo it with ` +
            `the parameters it was started with, or start over with DEPLOY_FRESH=1; on a finished deployment, ` +
            `parameter changes go through governance.`,
        );
      }
      if (previous.deployer !== undefined && previous.deployer.toLowerCase() !== me.toLowerCase()) {
        throw new PreflightError(
          `${recordPath} was deployed by ${previous.deployer}, not by this account (${me}): resume with that key`,
        );
      }
    }
  }

  log(`network ${networkName} (chain ${chainId}), parameters ${source}, deployer ${me}`);
  const done = Object.keys(previous?.steps ?? {}).length;
  const state =
    previous?.status === "complete" ? ` (complete: ${done} steps)` : previous ? ` (resuming: ${done} steps done)` : "";
  log(`record ${recordPath}${state}`);

  const { plan, roles, collateralDecimals } = await buildPlan(params, ethers, opts.lookup);
  if (previous?.status !== "complete") await preflight(ethers, chainId, me, params, plan, roles);

  const provisionalStart = previous?.startBlock ?? (await ethers.provider.getBlockNumber()) + 1;
  const journal: Journal = {
    steps: { ...(previous?.steps ?? {}) },
    inFlight: previous?.inFlight,
    startBlock: previous?.startBlock,
  };
  const seedAccounts = params.seed?.accounts;
  const record = (j: Journal, status: "partial" | "complete"): Deployment => {
    const a = addressesFromSteps(j.steps, plan);
    const timelock = a.timelock ?? "";
    return {
      version: 1,
      network: networkName,
      chainId,
      startBlock: j.startBlock ?? provisionalStart,
      contracts: {
        usdc: a.usdc,
        oracle: a.oracle,
        vault: a.vault,
        engine: a.engine,
        insuranceFund: a.insuranceFund,
        liquidationEngine: a.liquidationEngine,
        automation: a.automation,
        modules: a.modules,
        breaker: a.breaker,
        timelock: a.timelock,
        lens: a.lens,
        triggers: a.triggers,
        feeds: a.feeds,
      },
      markets: plan.markets.map((m) => ({ id: m.id, symbol: m.symbol, feedId: feedId(m.symbol) })),
      steps: j.steps,
      status,
      inFlight: j.inFlight,
      deployer: me,
      roles: {
        admin: params.timelock ? timelock : roles.admin,
        governor: params.timelock ? timelock : roles.governor,
        guardian: roles.guardian,
        riskOracle: roles.riskOracle,
        ...(roles.adlKeeper ? { adlKeeper: roles.adlKeeper } : {}),
      },
      mocks: {
        collateral: plan.collateral === undefined,
        feeds: plan.markets.filter((m) => m.feed === undefined).map((m) => m.symbol),
      },
      paramsHash: hash,
      seedAccounts: seedAccounts && {
        mnemonic: seedAccounts.mnemonic,
        firstIndex: seedAccounts.firstIndex,
        addresses: plan.seed!.accounts!.addresses,
      },
    };
  };

  const steps = new Steps(ethers, journal, {
    persist: (j) => writeDeployment(recordPath, record(j, "partial")),
    confirmations: params.confirmations,
    stopAfter: opts.stopAfter,
    stopInFlight: opts.stopInFlight,
    log,
  });
  await steps.settleInFlight();
  const started = performance.now();
  const addresses = await deploySystem(ethers, plan, steps);
  const governor = "timelock" in plan.governance ? addresses.timelock! : roles.governor;
  const admin = "timelock" in plan.governance ? addresses.timelock! : roles.admin;
  const problems = await verifyRoles(ethers, me, addresses, admin, governor, roles);
  if (problems.length > 0) throw new StepFailed(`roles are not as planned:\n  - ${problems.join("\n  - ")}`);
  const final = record(journal, "complete");
  writeDeployment(recordPath, final);
  return {
    record: final,
    recordPath,
    plan,
    roles,
    collateralDecimals,
    executed: steps.executed,
    skipped: steps.skipped,
    seconds: (performance.now() - started) / 1000,
  };
}
