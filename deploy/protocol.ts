/**
 * Deploys the whole protocol with ethers: collateral (a mock USDC unless an address is given),
 * mock Chainlink feeds (unless given), the oracle adapter, the vault and the engine, then wires
 * roles and lists the markets. Used by tests, the demo and the crash replays, so that everything
 * runs the same deploy code.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { keccak256, toUtf8Bytes } from "ethers";

import type {
  CircuitBreaker,
  InsuranceFund,
  LiquidationEngine,
  MockAggregator,
  MockUSDC,
  OracleAdapter,
  PerpEngine,
  Vault,
} from "../types/ethers-contracts/index.js";
import { type MarketSpec, DEFAULT_MARKETS, feedId, marketConfig } from "./params.js";

export type Protocol = {
  usdc: MockUSDC;
  oracle: OracleAdapter;
  vault: Vault;
  engine: PerpEngine;
  insuranceFund: InsuranceFund;
  liquidationEngine: LiquidationEngine;
  /** undefined when deployed with `breaker: false` */
  breaker?: CircuitBreaker;
  triggers: Record<string, string>;
  feeds: Map<number, MockAggregator>;
  markets: MarketSpec[];
};

export type DeployOptions = {
  admin: string;
  governor: string;
  guardian: string;
  /** holder of the bounded risk-oracle role on the breaker (optional) */
  riskOracle?: string;
  markets?: MarketSpec[];
  /** deploy the circuit breaker and its five triggers and wire it into the engine (default true) */
  breaker?: boolean;
};

export async function deployProtocol(ethers: HardhatEthers, opts: DeployOptions): Promise<Protocol> {
  const markets = opts.markets ?? DEFAULT_MARKETS;
  const [deployer] = await ethers.getSigners();
  const deployerAddress = await deployer.getAddress();

  const usdc = (await ethers.deployContract("MockUSDC")) as unknown as MockUSDC;
  // The deployer governs while wiring, then hands its roles over.
  const oracle = (await ethers.deployContract("OracleAdapter", [
    deployerAddress,
    deployerAddress,
  ])) as unknown as OracleAdapter;
  const vault = (await ethers.deployContract("Vault", [
    await usdc.getAddress(),
    deployerAddress,
    deployerAddress,
  ])) as unknown as Vault;
  const engine = (await ethers.deployContract("PerpEngine", [
    await vault.getAddress(),
    await oracle.getAddress(),
    deployerAddress,
    deployerAddress,
    opts.guardian,
  ])) as unknown as PerpEngine;
  await (await vault.setEngine(await engine.getAddress())).wait();
  const insuranceFund = (await ethers.deployContract("InsuranceFund", [
    await usdc.getAddress(),
    await vault.getAddress(),
    await engine.getAddress(),
    deployerAddress,
    deployerAddress,
  ])) as unknown as InsuranceFund;
  const liquidationEngine = (await ethers.deployContract("LiquidationEngine", [
    await engine.getAddress(),
    await vault.getAddress(),
    await insuranceFund.getAddress(),
    deployerAddress,
    deployerAddress,
  ])) as unknown as LiquidationEngine;
  const liquidationAddress = await liquidationEngine.getAddress();
  await (await vault.wireLiquidation(liquidationAddress, await insuranceFund.getAddress())).wait();
  await (await insuranceFund.setLiquidationEngine(liquidationAddress)).wait();
  await (await engine.grantRole(LIQUIDATOR_ROLE, liquidationAddress)).wait();

  const feeds = new Map<number, MockAggregator>();
  for (const m of markets) {
    const answer = m.initialPriceUsd * 10n ** BigInt(m.feedDecimals);
    const feed = (await ethers.deployContract("MockAggregator", [
      m.feedDecimals,
      answer,
      `${m.symbol} / USD`,
    ])) as unknown as MockAggregator;
    feeds.set(m.id, feed);
    await (
      await oracle.setFeed(feedId(m.symbol), await feed.getAddress(), m.heartbeat, m.volWindow, m.initialSigma)
    ).wait();
    await (await engine.listMarket(m.id, marketConfig(m))).wait();
  }

  const roleHolders: RoleHolder[] = [oracle, vault, engine, insuranceFund, liquidationEngine];
  let breaker: CircuitBreaker | undefined;
  const triggers: Record<string, string> = {};
  if (opts.breaker ?? true) {
    breaker = (await ethers.deployContract("CircuitBreaker", [
      deployerAddress,
      deployerAddress,
      opts.guardian,
    ])) as unknown as CircuitBreaker;
    const engineAddress = await engine.getAddress();
    const oracleAddress = await oracle.getAddress();
    const specs: [string, string, unknown[]][] = [
      ["price-move", "PriceMoveTrigger", [engineAddress, oracleAddress]],
      ["volatility", "VolatilityTrigger", [engineAddress, oracleAddress]],
      ["oracle-health", "OracleHealthTrigger", [engineAddress, oracleAddress]],
      ["liquidation-pressure", "LiquidationPressureTrigger", [engineAddress, oracleAddress, liquidationAddress]],
      ["insurance-coverage", "InsuranceCoverageTrigger", [await insuranceFund.getAddress()]],
    ];
    for (const [name, contract, args] of specs) {
      const t = await ethers.deployContract(contract, [...args, deployerAddress, deployerAddress]);
      triggers[name] = await t.getAddress();
      await (await breaker.addTrigger(triggers[name])).wait();
      roleHolders.push(t as unknown as RoleHolder);
    }
    if (opts.riskOracle) await (await breaker.grantRole(RISK_ORACLE_ROLE, opts.riskOracle)).wait();
    await (await engine.setCircuitBreaker(await breaker.getAddress())).wait();
    roleHolders.push(breaker);
  }

  await handOverRoles(roleHolders, deployerAddress, opts);
  return { usdc, oracle, vault, engine, insuranceFund, liquidationEngine, breaker, triggers, feeds, markets };
}

type RoleHolder = {
  DEFAULT_ADMIN_ROLE(): Promise<string>;
  hasRole(role: string, account: string): Promise<boolean>;
  grantRole(role: string, account: string): Promise<{ wait(): Promise<unknown> }>;
  renounceRole(role: string, account: string): Promise<{ wait(): Promise<unknown> }>;
};

export const GOVERNOR_ROLE = roleId("cascade.role.governor");
export const GUARDIAN_ROLE = roleId("cascade.role.guardian");
export const LIQUIDATOR_ROLE = roleId("cascade.role.liquidator");
export const RISK_ORACLE_ROLE = roleId("cascade.role.risk-oracle");

/** keccak256 of the UTF-8 name, as Roles.sol computes it. */
function roleId(name: string): string {
  return keccak256(toUtf8Bytes(name));
}

async function handOverRoles(contracts: RoleHolder[], deployer: string, opts: DeployOptions): Promise<void> {
  for (const c of contracts) {
    const admin = await c.DEFAULT_ADMIN_ROLE();
    if (opts.governor.toLowerCase() !== deployer.toLowerCase()) {
      await (await c.grantRole(GOVERNOR_ROLE, opts.governor)).wait();
      await (await c.renounceRole(GOVERNOR_ROLE, deployer)).wait();
    }
    if (opts.admin.toLowerCase() !== deployer.toLowerCase()) {
      await (await c.grantRole(admin, opts.admin)).wait();
      await (await c.renounceRole(admin, deployer)).wait();
    }
  }
}
