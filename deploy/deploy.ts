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
 * Exit codes: 0 done, 1 failed (the record says how far it got), 2 bad parameters, 3 stopped as asked.
 */
import hre from "hardhat";
import { configVariable } from "hardhat/config";
import { formatEther, formatUnits } from "ethers";

import { DEPLOYMENTS_DIR, deploymentPath } from "./deployment.js";
import { deployNetwork, PreflightError } from "./network.js";
import { ParamsError, loadParams, paramsPath } from "./networkParams.js";
import { DeployInterrupted, StepFailed } from "./steps.js";

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

async function main(): Promise<void> {
  const { ethers, networkName } = await hre.network.create();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const source = paramsPath(networkName);
  const stopAfter = process.env.DEPLOY_STOP_AFTER;
  const r = await deployNetwork(ethers, networkName, {
    params: loadParams(source),
    source,
    recordPath: deploymentPath(networkName, chainId, process.env.DEPLOYMENTS_DIR ?? DEPLOYMENTS_DIR),
    lookup: lookupConfigVariable,
    fresh: process.env.DEPLOY_FRESH === "1",
    stopAfter: stopAfter === undefined ? undefined : Number.parseInt(stopAfter, 10),
    stopInFlight: process.env.DEPLOY_STOP_INFLIGHT === "1",
    log: (line) => console.log(line),
  });

  const { record, plan } = r;
  const c = record.contracts;
  console.log(
    r.executed === 0
      ? `\nnothing to do: all ${r.skipped} steps were already done`
      : `\n${r.executed} steps done in ${r.seconds.toFixed(1)} s (${r.skipped} already done before)`,
  );
  console.log(`\ndeployment record: ${r.recordPath} (start block ${record.startBlock})`);
  const rows: Record<string, string> = {
    collateral: `${c.usdc}${plan.collateral ? "" : " (MockUSDC)"}`,
    oracle: c.oracle,
    vault: c.vault,
    engine: c.engine,
    insuranceFund: c.insuranceFund,
    liquidationEngine: `${c.liquidationEngine} (the engine: its liquidation modules)`,
    automation: c.automation ?? "",
  };
  if (c.breaker) rows.breaker = c.breaker;
  if (c.lens) rows.lens = `${c.lens} (read-only: the keeper's scan in one call)`;
  for (const [k, v] of Object.entries(c.triggers)) rows[`trigger ${k}`] = v;
  for (const m of plan.markets) rows[`feed ${m.symbol}`] = `${c.feeds[m.symbol]}${m.feed ? "" : " (mock)"}`;
  if (c.timelock) rows.timelock = `${c.timelock} (proposer and executor: ${r.roles.proposer})`;
  rows.governor = record.roles!.governor;
  rows.admin = record.roles!.admin;
  rows.guardian = record.roles!.guardian;
  if (record.roles!.riskOracle) rows["risk oracle"] = record.roles!.riskOracle;
  if (record.roles!.adlKeeper) rows["ADL keeper"] = record.roles!.adlKeeper;
  for (const [k, v] of Object.entries(rows)) console.log(`  ${k.padEnd(30)} ${v}`);
  if (plan.seed) {
    const s = plan.seed;
    console.log(
      `  seeded: ${formatUnits(s.lpLiquidity, r.collateralDecimals)} LP liquidity, ` +
        `${formatUnits(s.insuranceStake, r.collateralDecimals)} insurance stake` +
        (s.accounts
          ? `, ${s.accounts.addresses.length} accounts with ${formatEther(s.accounts.weiEach)} ETH each`
          : ""),
    );
  }
  console.log(`  the deployer ${record.deployer} holds no role`);
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
