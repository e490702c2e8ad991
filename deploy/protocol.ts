/**
 * Deploys the whole protocol with ethers: collateral (a mock USDC unless an address is given),
 * mock Chainlink feeds (unless given), the oracle adapter, the vault, the engine's modules (market
 * administration; liquidations, their configuration and auto-deleveraging) and the engine, the
 * insurance fund, the Chainlink Automation adapter, the circuit breaker and its triggers, then wires
 * roles and lists the markets. The liquidation engine is reached at the engine's address: its modules
 * run on the engine's storage (docs/architecture.md, "Liquidations").
 *
 * One code path for every use: deployProtocol() runs the steps in memory for tests, the demo and
 * the crash replays; deploy/deploy.ts runs the very same steps through a journal written to the
 * deployment record, so a network deployment resumes where it stopped (deploy/steps.ts).
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, ZeroAddress, ZeroHash, keccak256, toUtf8Bytes, type TransactionResponse } from "ethers";

import type {
  CircuitBreaker,
  ILiquidationEngine,
  InsuranceFund,
  LiquidationAutomation,
  MockAggregator,
  MockUSDC,
  OracleAdapter,
  PerpEngine,
  ProtocolLens,
  Vault,
} from "../types/ethers-contracts/index.js";
import { type MarketSpec, DEFAULT_MARKETS, feedId, marketConfig } from "./params.js";
import { Steps } from "./steps.js";

export type Protocol = {
  usdc: MockUSDC;
  oracle: OracleAdapter;
  vault: Vault;
  engine: PerpEngine;
  insuranceFund: InsuranceFund;
  /** ILiquidationEngine at the engine's address (tranches, their parameters and ledgers, ADL) */
  liquidationEngine: ILiquidationEngine;
  /** Chainlink Automation adapter in front of the liquidation engine */
  automation: LiquidationAutomation;
  /** undefined when deployed with `breaker: false` */
  breaker?: CircuitBreaker;
  /** the read-only lens the keeper reads a scan through; undefined unless deployed with `lens: true` */
  lens?: ProtocolLens;
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
  /** holder of the ADL_KEEPER role on the engine, the only caller of autoDeleverage (optional) */
  adlKeeper?: string;
  markets?: MarketSpec[];
  /** deploy the circuit breaker and its five triggers and wire it into the engine (default true) */
  breaker?: boolean;
  /** an existing collateral token (tests use hostile ones); a MockUSDC is deployed when absent */
  collateral?: string;
  /**
   * two-step orders: set these parameters and turn the one-way switch on (every risk-adding trade is
   * then committed and settled). Absent: the order module is deployed but off, and modifyPosition
   * keeps adding risk in one step (unit-test fixtures of other features).
   */
  orders?: OrderParams;
  /**
   * deploy the ProtocolLens too, last (default false: the in-process fixtures keep the deployer's
   * nonces, so contracts they deploy afterwards keep their addresses)
   */
  lens?: boolean;
};

/** IOrders.setOrderConfig's arguments (seconds; the reward in WAD). */
export type OrderParams = { minDelay: number; maxDelay: number; settlementReward: bigint };

export async function deployProtocol(ethers: HardhatEthers, opts: DeployOptions): Promise<Protocol> {
  const markets = opts.markets ?? DEFAULT_MARKETS;
  const steps = new Steps(ethers, { steps: {} });
  const a = await deploySystem(
    ethers,
    {
      governance: { admin: opts.admin, governor: opts.governor },
      guardian: opts.guardian,
      riskOracle: opts.riskOracle,
      adlKeeper: opts.adlKeeper,
      markets,
      breaker: opts.breaker ?? true,
      collateral: opts.collateral,
      orders: opts.orders,
      lens: opts.lens,
    },
    steps,
  );
  const at = <T>(name: string, address: string) => steps.contract(name, address) as Promise<unknown> as Promise<T>;
  const feeds = new Map<number, MockAggregator>();
  for (const m of markets) feeds.set(m.id, await at<MockAggregator>("MockAggregator", a.feeds[m.symbol]));
  return {
    usdc: await at<MockUSDC>("MockUSDC", a.usdc),
    oracle: await at<OracleAdapter>("OracleAdapter", a.oracle),
    vault: await at<Vault>("Vault", a.vault),
    engine: await at<PerpEngine>("PerpEngine", a.engine),
    insuranceFund: await at<InsuranceFund>("InsuranceFund", a.insuranceFund),
    // the engine's address, seen through the liquidation interface (not the cached PerpEngine object)
    liquidationEngine: (await ethers.getContractAt(
      "ILiquidationEngine",
      a.liquidationEngine,
    )) as unknown as ILiquidationEngine,
    automation: await at<LiquidationAutomation>("LiquidationAutomation", a.automation!),
    breaker: a.breaker === undefined ? undefined : await at<CircuitBreaker>("CircuitBreaker", a.breaker),
    lens: a.lens === undefined ? undefined : await at<ProtocolLens>("ProtocolLens", a.lens),
    triggers: a.triggers,
    feeds,
    markets,
  };
}

// ---------------------------------------------------------------------------------------------
// The steps, shared with deploy/deploy.ts

/** A market to list; `feed` is an existing Chainlink-compatible aggregator (a mock is deployed when absent). */
export type MarketPlan = MarketSpec & { feed?: string };

export type Governance =
  /** GOVERNOR and DEFAULT_ADMIN_ROLE go to these addresses */
  | { admin: string; governor: string }
  /** a Timelock is deployed and holds both; proposers (and cancellers) and executors as given */
  | { timelock: { minDelay: bigint; proposers: string[]; executors: string[] } };

export type SystemPlan = {
  governance: Governance;
  guardian: string;
  riskOracle?: string;
  /** the keeper that runs auto-deleveraging (ADL_KEEPER on the engine); without one nobody can run ADL */
  adlKeeper?: string;
  /** existing collateral token; a MockUSDC is deployed when absent */
  collateral?: string;
  markets: MarketPlan[];
  breaker: boolean;
  /** two-step orders on, with these parameters (off when absent) */
  orders?: OrderParams;
  /** deploy the read-only ProtocolLens (the keeper's one-call scan), as the last step */
  lens?: boolean;
  /** funds moved by the deployer after wiring; amounts in token units / wei */
  seed?: {
    lpLiquidity: bigint;
    insuranceStake: bigint;
    accounts?: { addresses: string[]; collateralEach: bigint; weiEach: bigint };
  };
};

export type SystemAddresses = {
  usdc: string;
  oracle: string;
  vault: string;
  engine: string;
  insuranceFund: string;
  /** the engine's address: ILiquidationEngine is served there by the liquidation modules */
  liquidationEngine: string;
  /** absent in records written before the adapter existed */
  automation?: string;
  /** the engine's modules (code only: they run on the engine's storage) */
  modules?: {
    marketAdmin: string;
    liquidation: string;
    liquidationConfigurator: string;
    backstop: string;
    /** absent in records written before two-step orders existed */
    orders?: string;
    /** absent in records written before the own-impact mark existed */
    ownImpact?: string;
    autoDeleveraging: string;
  };
  breaker?: string;
  timelock?: string;
  /** the read-only ProtocolLens; absent in records written before it existed (the keeper then reads view by view) */
  lens?: string;
  triggers: Record<string, string>;
  /** aggregator per market symbol */
  feeds: Record<string, string>;
};

/** The circuit breaker's triggers, in the order they are deployed and added. */
export const TRIGGERS = [
  "price-move",
  "volatility",
  "oracle-health",
  "liquidation-pressure",
  "insurance-coverage",
] as const;

/** Journal keys of the deployment steps that create contracts. */
export const DEPLOY_STEP = {
  usdc: "deploy:usdc",
  oracle: "deploy:oracle",
  vault: "deploy:vault",
  engine: "deploy:engine",
  insuranceFund: "deploy:insuranceFund",
  autoDeleveraging: "deploy:module:autoDeleveraging",
  backstopModule: "deploy:module:backstop",
  orderModule: "deploy:module:orders",
  ownImpactModule: "deploy:module:ownImpact",
  liquidationConfigurator: "deploy:module:liquidationConfigurator",
  liquidationModule: "deploy:module:liquidationEngine",
  marketAdmin: "deploy:module:marketAdmin",
  automation: "deploy:automation",
  breaker: "deploy:breaker",
  timelock: "deploy:timelock",
  lens: "deploy:lens",
  feed: (symbol: string) => `deploy:feed:${symbol}`,
  trigger: (name: string) => `deploy:trigger:${name}`,
};

/** Addresses known so far from a journal (empty strings for contracts not deployed yet). */
export function addressesFromSteps(steps: Record<string, string>, plan: SystemPlan): SystemAddresses {
  const triggers: Record<string, string> = {};
  if (plan.breaker) {
    for (const t of TRIGGERS) {
      const addr = steps[DEPLOY_STEP.trigger(t)];
      if (addr) triggers[t] = addr;
    }
  }
  const feeds: Record<string, string> = {};
  for (const m of plan.markets) {
    const addr = m.feed ?? steps[DEPLOY_STEP.feed(m.symbol)];
    if (addr) feeds[m.symbol] = addr;
  }
  return {
    usdc: plan.collateral ?? steps[DEPLOY_STEP.usdc] ?? "",
    oracle: steps[DEPLOY_STEP.oracle] ?? "",
    vault: steps[DEPLOY_STEP.vault] ?? "",
    engine: steps[DEPLOY_STEP.engine] ?? "",
    insuranceFund: steps[DEPLOY_STEP.insuranceFund] ?? "",
    liquidationEngine: steps[DEPLOY_STEP.engine] ?? "",
    automation: steps[DEPLOY_STEP.automation] ?? "",
    modules: {
      marketAdmin: steps[DEPLOY_STEP.marketAdmin] ?? "",
      liquidation: steps[DEPLOY_STEP.liquidationModule] ?? "",
      liquidationConfigurator: steps[DEPLOY_STEP.liquidationConfigurator] ?? "",
      backstop: steps[DEPLOY_STEP.backstopModule] ?? "",
      orders: steps[DEPLOY_STEP.orderModule] ?? "",
      ownImpact: steps[DEPLOY_STEP.ownImpactModule] ?? "",
      autoDeleveraging: steps[DEPLOY_STEP.autoDeleveraging] ?? "",
    },
    breaker: steps[DEPLOY_STEP.breaker],
    timelock: steps[DEPLOY_STEP.timelock],
    lens: steps[DEPLOY_STEP.lens],
    triggers,
    feeds,
  };
}

/** The calls the steps make, typed loosely: each contract is used through a few functions only. */
type Callable = Record<string, (...args: unknown[]) => Promise<TransactionResponse>>;

/** OpenZeppelin AccessControl, which every role holder is; DEFAULT_ADMIN_ROLE is 0x00 there. */
const ACCESS_CONTROL_ABI = [
  "function grantRole(bytes32 role, address account)",
  "function renounceRole(bytes32 role, address callerConfirmation)",
];
const ERC20_ABI = ["function approve(address spender, uint256 value) returns (bool)"];

/**
 * Runs every step of a deployment through `steps` (each one skipped when the journal has it).
 * The order of transactions for a plan without collateral, feeds, timelock or seed is exactly the
 * order deployProtocol() always had, so in-process deployments keep their addresses.
 */
export async function deploySystem(ethers: HardhatEthers, plan: SystemPlan, steps: Steps): Promise<SystemAddresses> {
  const [deployer] = await ethers.getSigners();
  const me = await deployer.getAddress();
  const guardian = plan.guardian;
  const at = (name: string, address: string) => steps.contract(name, address);
  const call = (key: string, contract: unknown, fn: string, ...args: unknown[]) =>
    steps.send(key, () => (contract as Callable)[fn](...args));

  const usdc = plan.collateral ?? (await steps.deploy(DEPLOY_STEP.usdc, "MockUSDC", []));
  // The deployer governs while wiring, then hands its roles over.
  const oracle = await steps.deploy(DEPLOY_STEP.oracle, "OracleAdapter", [me, me]);
  const vault = await steps.deploy(DEPLOY_STEP.vault, "Vault", [usdc, me, me]);
  // The engine's modules first: the engine is built with their addresses. Liquidations fall through
  // LiquidationEngine -> LiquidationConfigurator -> BackstopModule -> OrderModule -> AutoDeleveraging ->
  // OwnImpactModule, so each is built with the next (orders after the backstop: a liquidation never pays their
  // hop; the own-impact mark last: with it off no call pays its hop).
  const ownImpactModule = await steps.deploy(DEPLOY_STEP.ownImpactModule, "OwnImpactModule", [vault, oracle]);
  const autoDeleveraging = await steps.deploy(DEPLOY_STEP.autoDeleveraging, "AutoDeleveraging", [
    vault,
    oracle,
    ownImpactModule,
  ]);
  const orderModule = await steps.deploy(DEPLOY_STEP.orderModule, "OrderModule", [vault, oracle, autoDeleveraging]);
  const backstopModule = await steps.deploy(DEPLOY_STEP.backstopModule, "BackstopModule", [vault, oracle, orderModule]);
  const liquidationConfigurator = await steps.deploy(DEPLOY_STEP.liquidationConfigurator, "LiquidationConfigurator", [
    vault,
    oracle,
    backstopModule,
  ]);
  const liquidationModule = await steps.deploy(DEPLOY_STEP.liquidationModule, "LiquidationEngine", [
    vault,
    oracle,
    liquidationConfigurator,
  ]);
  const marketAdmin = await steps.deploy(DEPLOY_STEP.marketAdmin, "MarketAdmin", [vault, oracle]);
  const engine = await steps.deploy(DEPLOY_STEP.engine, "PerpEngine", [
    vault,
    oracle,
    me,
    me,
    guardian,
    marketAdmin,
    liquidationModule,
  ]);
  const vaultC = await at("Vault", vault);
  const engineC = await at("PerpEngine", engine);
  const oracleC = await at("OracleAdapter", oracle);
  await call("call:vault.setEngine", vaultC, "setEngine", engine);
  const insuranceFund = await steps.deploy(DEPLOY_STEP.insuranceFund, "InsuranceFund", [usdc, vault, engine, me, me]);
  // ILiquidationEngine is served at the engine's address.
  const liquidationEngine = engine;
  const fundC = await at("InsuranceFund", insuranceFund);
  await call("call:vault.wireLiquidation", vaultC, "wireLiquidation", liquidationEngine, insuranceFund);
  await call("call:insuranceFund.setLiquidationEngine", fundC, "setLiquidationEngine", liquidationEngine);
  // forceReduce stays a LIQUIDATOR-only primitive; the liquidation modules act with the engine's own role.
  await call("call:engine.grantRole(LIQUIDATOR)", engineC, "grantRole", LIQUIDATOR_ROLE, liquidationEngine);
  const automation = await steps.deploy(DEPLOY_STEP.automation, "LiquidationAutomation", [
    liquidationEngine,
    vault,
    me,
  ]);

  const feeds: Record<string, string> = {};
  for (const m of plan.markets) {
    const answer = m.initialPriceUsd * 10n ** BigInt(m.feedDecimals);
    const feed =
      m.feed ??
      (await steps.deploy(DEPLOY_STEP.feed(m.symbol), "MockAggregator", [m.feedDecimals, answer, `${m.symbol} / USD`]));
    feeds[m.symbol] = feed;
    const id = feedId(m.symbol);
    await call(
      `call:oracle.setFeed:${m.symbol}`,
      oracleC,
      "setFeed",
      id,
      feed,
      m.heartbeat,
      m.volWindow,
      m.initialSigma,
    );
    await call(`call:engine.listMarket:${m.symbol}`, engineC, "listMarket", m.id, marketConfig(m));
  }
  if (plan.orders) {
    // IOrders is served at the engine's address by the order module.
    const ordersC = await ethers.getContractAt("IOrders", engine, deployer);
    const o = plan.orders;
    await call("call:orders.setOrderConfig", ordersC, "setOrderConfig", o.minDelay, o.maxDelay, o.settlementReward);
    await call("call:orders.enableOrders", ordersC, "enableOrders");
  }

  const roleHolders: [name: string, address: string][] = [
    ["oracle", oracle],
    ["vault", vault],
    ["engine", engine],
    ["insuranceFund", insuranceFund],
    ["automation", automation],
  ];
  let breaker: string | undefined;
  const triggers: Record<string, string> = {};
  if (plan.breaker) {
    breaker = await steps.deploy(DEPLOY_STEP.breaker, "CircuitBreaker", [me, me, guardian]);
    const breakerC = await at("CircuitBreaker", breaker);
    const args: Record<(typeof TRIGGERS)[number], [string, unknown[]]> = {
      "price-move": ["PriceMoveTrigger", [engine, oracle]],
      volatility: ["VolatilityTrigger", [engine, oracle]],
      "oracle-health": ["OracleHealthTrigger", [engine, oracle]],
      "liquidation-pressure": ["LiquidationPressureTrigger", [engine, oracle, liquidationEngine]],
      "insurance-coverage": ["InsuranceCoverageTrigger", [insuranceFund]],
    };
    for (const name of TRIGGERS) {
      const [contract, a] = args[name];
      triggers[name] = await steps.deploy(DEPLOY_STEP.trigger(name), contract, [...a, me, me]);
      await call(`call:breaker.addTrigger:${name}`, breakerC, "addTrigger", triggers[name]);
      roleHolders.push([`trigger:${name}`, triggers[name]]);
    }
    if (plan.riskOracle) {
      await call("call:breaker.grantRole(RISK_ORACLE)", breakerC, "grantRole", RISK_ORACLE_ROLE, plan.riskOracle);
    }
    await call("call:engine.setCircuitBreaker", engineC, "setCircuitBreaker", breaker);
    roleHolders.push(["breaker", breaker]);
  }

  let admin: string;
  let governor: string;
  let timelock: string | undefined;
  if ("timelock" in plan.governance) {
    const t = plan.governance.timelock;
    // admin = address(0): the timelock administers itself only.
    timelock = await steps.deploy(DEPLOY_STEP.timelock, "Timelock", [
      t.minDelay,
      t.proposers,
      t.executors,
      ZeroAddress,
    ]);
    admin = governor = timelock;
  } else {
    ({ admin, governor } = plan.governance);
  }

  if (plan.seed) {
    const mock = plan.collateral === undefined;
    await seed(ethers, plan.seed, { usdc, vault, insuranceFund, mock }, steps);
  }

  // Last, so the contracts keep the addresses they had before this role existed.
  // Auto-deleveraging takes from the accounts a ranked list names: only the ADL keeper sends one.
  if (plan.adlKeeper) {
    await call("call:engine.grantRole(ADL_KEEPER)", engineC, "grantRole", ADL_KEEPER_ROLE, plan.adlKeeper);
  }

  // Hand over: grant each role to its holder, then the deployer renounces its own copy.
  for (const [name, address] of roleHolders) {
    const c = new Contract(address, ACCESS_CONTROL_ABI, deployer) as unknown as Callable;
    if (!sameAddress(governor, me)) {
      await call(`roles:${name}:grant(GOVERNOR)`, c, "grantRole", GOVERNOR_ROLE, governor);
      await call(`roles:${name}:renounce(GOVERNOR)`, c, "renounceRole", GOVERNOR_ROLE, me);
    }
    if (!sameAddress(admin, me)) {
      await call(`roles:${name}:grant(ADMIN)`, c, "grantRole", DEFAULT_ADMIN_ROLE, admin);
      await call(`roles:${name}:renounce(ADMIN)`, c, "renounceRole", DEFAULT_ADMIN_ROLE, me);
    }
  }

  // Last of all: a view-only contract with no roles, so every other contract keeps its address.
  const lens = plan.lens ? await steps.deploy(DEPLOY_STEP.lens, "ProtocolLens", [engine, oracle]) : undefined;

  const modules = {
    marketAdmin,
    liquidation: liquidationModule,
    liquidationConfigurator,
    backstop: backstopModule,
    orders: orderModule,
    ownImpact: ownImpactModule,
    autoDeleveraging,
  };
  return {
    usdc,
    oracle,
    vault,
    engine,
    insuranceFund,
    liquidationEngine,
    automation,
    modules,
    breaker,
    timelock,
    lens,
    triggers,
    feeds,
  };
}

/** The deployer funds the LP pool and the insurance fund, and seeded accounts get gas and collateral. */
async function seed(
  ethers: HardhatEthers,
  s: NonNullable<SystemPlan["seed"]>,
  a: { usdc: string; vault: string; insuranceFund: string; mock: boolean },
  steps: Steps,
): Promise<void> {
  const [deployer] = await ethers.getSigners();
  const me = await deployer.getAddress();
  const token = (a.mock
    ? await steps.contract("MockUSDC", a.usdc)
    : new Contract(a.usdc, ERC20_ABI, deployer)) as unknown as Callable;
  const vault = (await steps.contract("Vault", a.vault)) as unknown as Callable;
  const fund = (await steps.contract("InsuranceFund", a.insuranceFund)) as unknown as Callable;
  const total = s.lpLiquidity + s.insuranceStake;
  if (a.mock && total > 0n) await steps.send("seed:mint", () => token.mint(me, total));
  if (s.lpLiquidity > 0n) {
    await steps.send("seed:approve(vault)", () => token.approve(a.vault, s.lpLiquidity));
    await steps.send("seed:vault.deposit", () => vault.deposit(s.lpLiquidity, me));
  }
  if (s.insuranceStake > 0n) {
    await steps.send("seed:approve(insuranceFund)", () => token.approve(a.insuranceFund, s.insuranceStake));
    await steps.send("seed:insuranceFund.deposit", () => fund.deposit(s.insuranceStake, me));
  }
  for (const account of s.accounts?.addresses ?? []) {
    if (s.accounts!.weiEach > 0n) {
      await steps.send(`seed:eth:${account}`, () =>
        deployer.sendTransaction({ to: account, value: s.accounts!.weiEach }),
      );
    }
    if (s.accounts!.collateralEach > 0n) {
      await steps.send(`seed:mint:${account}`, () => token.mint(account, s.accounts!.collateralEach));
    }
  }
}

const DEFAULT_ADMIN_ROLE = ZeroHash;

function sameAddress(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export const GOVERNOR_ROLE = roleId("cascade.role.governor");
export const GUARDIAN_ROLE = roleId("cascade.role.guardian");
export const LIQUIDATOR_ROLE = roleId("cascade.role.liquidator");
export const RISK_ORACLE_ROLE = roleId("cascade.role.risk-oracle");
export const ADL_KEEPER_ROLE = roleId("cascade.role.adl-keeper");

/** keccak256 of the UTF-8 name, as Roles.sol computes it. */
function roleId(name: string): string {
  return keccak256(toUtf8Bytes(name));
}
