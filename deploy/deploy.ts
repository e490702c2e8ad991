/**
 * Deploys the protocol to a network from its parameter file, resumably.
 *
 *   npx hardhat run deploy/deploy.ts --network localhost
 *   npx hardhat run deploy/deploy.ts --network sepolia
 *
 * Reads deploy/params/<network>.json (PARAMS=path overrides), runs every step of deploy/protocol.ts
 * through a journal kept in the deployment record deployments/<network>-<chainId>.json
 * (DEPLOYMENTS_DIR overrides the folder), and writes the record after every step. Re-running after
 * an interruption continues where it stopped; re-running a finished deployment sends nothing.
 *
 * Other environment variables: DEPLOY_FRESH=1 starts over (the old record is kept as a .bak);
 * DEPLOY_STOP_AFTER=k stops after k steps (exit code 3) and, with DEPLOY_STOP_INFLIGHT=1, leaves
 * step k+1 broadcast but unrecorded: both simulate an interruption for the tests.
 */
import { existsSync, renameSync } from "node:fs";

import hre from "hardhat";
import { configVariable } from "hardhat/config";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, formatEther, formatUnits, parseEther, ZeroHash } from "ethers";

import { DEPLOYMENTS_DIR, type Deployment, deploymentPath, readDeployment, writeDeployment } from "./deployment.js";
import {
  type NetworkParams,
  ParamsError,
  loadParams,
  marketSpec,
  paramsHash,
  paramsPath,
  resolveAddress,
  seedWallets,
} from "./networkParams.js";
import { feedId } from "./params.js";
import {
  GOVERNOR_ROLE,
  GUARDIAN_ROLE,
  type MarketPlan,
  RISK_ORACLE_ROLE,
  type SystemAddresses,
  type SystemPlan,
  addressesFromSteps,
  deploySystem,
} from "./protocol.js";
import { DeployInterrupted, type Journal, StepFailed, Steps } from "./steps.js";

/** Chains where anyone may mint the mock collateral and seeded accounts make sense. */
const LOCAL_CHAIN_IDS = new Set([31337, 1337]);

class PreflightError extends Error {}

/** A configuration variable, as Hardhat resolves one: the environment first, then plugins (keystore). */
async function lookupConfigVariable(name: string): Promise<string> {
  const fromEnv = process.env[name];
  if (fromEnv !== undefined) return fromEnv;
  return hre.hooks.runHandlerChain(
    "configurationVariables",
    "fetchValue",
    [configVariable(name)],
    async (_context, variable) => {
      const value = process.env[variable.name];
      if (value === undefined) throw new Error(`${variable.name} is neither in the environment nor in the keystore`);
      return value;
    },
  );
}

type Roles = { admin: string; governor: string; guardian: string; riskOracle?: string; proposer: string };

async function buildPlan(
  params: NetworkParams,
  ethers: HardhatEthers,
): Promise<{ plan: SystemPlan; roles: Roles; collateralDecimals: number }> {
  const lookup = lookupConfigVariable;
  const governor = await resolveAddress(params.roles.governor, "roles.governor", lookup);
  const guardian = await resolveAddress(params.roles.guardian, "roles.guardian", lookup);
  const riskOracle = params.roles.riskOracle
    ? await resolveAddress(params.roles.riskOracle, "roles.riskOracle", lookup)
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
    collateral,
    markets,
    breaker: params.breaker,
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
  return { plan, roles: { admin, governor, guardian, riskOracle, proposer: governor }, collateralDecimals };
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
async function preflight(
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
  if (balance === 0n) problems.push(`the deployer ${me} has no ether for gas`);
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
async function verifyRoles(
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
    ["liquidationEngine", a.liquidationEngine],
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
  }
  return problems;
}

async function main(): Promise<void> {
  const connection = await hre.network.create();
  const { ethers, networkName } = connection;
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const source = paramsPath(networkName);
  const params = loadParams(source);
  if (params.chainId !== undefined && params.chainId !== chainId) {
    throw new PreflightError(
      `${source} is for chain ${params.chainId}, but network ${networkName} is chain ${chainId}`,
    );
  }
  const [deployer] = await ethers.getSigners();
  const me = await deployer.getAddress();
  const hash = paramsHash(params);
  const recordPath = deploymentPath(networkName, chainId, process.env.DEPLOYMENTS_DIR ?? DEPLOYMENTS_DIR);

  let previous: Deployment | undefined;
  if (existsSync(recordPath)) {
    const fresh =
      process.env.DEPLOY_FRESH === "1"
        ? "DEPLOY_FRESH=1"
        : LOCAL_CHAIN_IDS.has(chainId) && (await localChainWasReset(ethers, recordPath))
          ? "the local chain was reset since it was written"
          : undefined;
    if (fresh !== undefined) {
      const backup = `${recordPath}.${new Date().toISOString().replace(/[:.]/g, "-")}.bak`;
      renameSync(recordPath, backup);
      console.log(`${fresh}: moved the old record to ${backup} and starting over`);
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

  console.log(`network ${networkName} (chain ${chainId}), parameters ${source}, deployer ${me}`);
  const done = Object.keys(previous?.steps ?? {}).length;
  const state =
    previous?.status === "complete" ? ` (complete: ${done} steps)` : previous ? ` (resuming: ${done} steps done)` : "";
  console.log(`record ${recordPath}${state}`);

  const { plan, roles, collateralDecimals } = await buildPlan(params, ethers);
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
        breaker: a.breaker,
        timelock: a.timelock,
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

  const stopAfter = process.env.DEPLOY_STOP_AFTER;
  const steps = new Steps(ethers, journal, {
    persist: (j) => writeDeployment(recordPath, record(j, "partial")),
    confirmations: params.confirmations,
    stopAfter: stopAfter === undefined ? undefined : Number.parseInt(stopAfter, 10),
    stopInFlight: process.env.DEPLOY_STOP_INFLIGHT === "1",
    log: (line) => console.log(line),
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

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    steps.executed === 0
      ? `\nnothing to do: all ${steps.skipped} steps were already done`
      : `\n${steps.executed} steps done in ${seconds} s (${steps.skipped} already done before)`,
  );
  console.log(`\ndeployment record: ${recordPath} (start block ${final.startBlock})`);
  const rows: Record<string, string> = {
    collateral: `${addresses.usdc}${plan.collateral ? "" : " (MockUSDC)"}`,
    oracle: addresses.oracle,
    vault: addresses.vault,
    engine: addresses.engine,
    insuranceFund: addresses.insuranceFund,
    liquidationEngine: addresses.liquidationEngine,
  };
  if (addresses.breaker) rows.breaker = addresses.breaker;
  for (const [k, v] of Object.entries(addresses.triggers)) rows[`trigger ${k}`] = v;
  for (const m of plan.markets) rows[`feed ${m.symbol}`] = `${addresses.feeds[m.symbol]}${m.feed ? "" : " (mock)"}`;
  if (addresses.timelock) rows.timelock = `${addresses.timelock} (min delay ${params.timelock!.minDelay} s)`;
  rows["governor"] = governor + (addresses.timelock ? ` (proposer: ${roles.proposer})` : "");
  rows["admin"] = admin;
  rows["guardian"] = roles.guardian;
  if (roles.riskOracle) rows["risk oracle"] = roles.riskOracle;
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(30)} ${v}`);
  if (plan.seed) {
    const s = plan.seed;
    console.log(
      `  seeded: ${formatUnits(s.lpLiquidity, collateralDecimals)} LP liquidity, ` +
        `${formatUnits(s.insuranceStake, collateralDecimals)} insurance stake` +
        (s.accounts
          ? `, ${s.accounts.addresses.length} accounts with ${formatEther(s.accounts.weiEach)} ETH each`
          : ""),
    );
  }
  console.log(`  the deployer ${me} holds no role`);
}

try {
  await main();
} catch (e) {
  if (e instanceof DeployInterrupted) {
    console.error(`\n${e.message}; the record is saved: run the same command again to resume`);
    process.exitCode = 3;
  } else if (e instanceof ParamsError || e instanceof PreflightError || e instanceof StepFailed) {
    console.error(`\n${e.message}`);
    process.exitCode = e instanceof ParamsError ? 2 : 1;
  } else {
    throw e;
  }
}
