/**
 * A run's setup, in named steps over its state: a fresh in-process chain; the protocol deployed with
 * the same code as deploy/ (one market per path); each market's oracle re-pointed to a replay feed
 * holding the path's first price; the preset's liquidation, reward and ADL configuration set by the
 * governor; the LP pool and insurance fund seeded; one account per trader created and funded; the
 * keeper service and the impact model. Everything after `deployProtocol` is mined at the setup
 * block's time, so nothing depends on the wall clock.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { type ContractTransaction, HDNodeWallet, Wallet } from "ethers";
import type { NetworkConnection, NetworkManager } from "hardhat/types/network";

import type { Deployment } from "../../deploy/deployment.js";
import { type Protocol, deployProtocol } from "../../deploy/protocol.js";
import { Book } from "./book.js";
import { Chain } from "./chain.js";
import { bindContracts, type ReplayContracts } from "./contracts.js";
import { ImpactModel } from "./impact.js";
import { FEED_DECIMALS, type RunPlan } from "./plan.js";
import { USDC_UNIT } from "./population.js";
import { setUpBackstop } from "./backstop.js";
import { type ResolvedParams, marketSettings, structOverrides } from "./presets.js";
import { ServiceKeeper } from "./serviceKeeper.js";
import type { MarketRun, Roles, RunState } from "./state.js";

const SCALE = 10n ** 12n; // collateral (6 decimals) -> WAD
const MAX_UINT = 2n ** 256n - 1n;

/** The two-step order parameters of every run: the deployments' (deploy/params/localhost.json). */
export const REPLAY_ORDERS = { minDelay: 2, maxDelay: 3900, settlementReward: 10n ** 18n };

/** The network account (by index) that deploys the keeper's lens and sends nothing else. */
const LENS_DEPLOYER = 7;

/** A fresh run: chain, protocol, feeds, configuration, funds, accounts, keeper. */
export async function setUpRun(network: NetworkManager, params: ResolvedParams, plan: RunPlan): Promise<RunState> {
  const connection = await network.create({
    override: {
      allowBlocksWithSameTimestamp: true,
      initialDate: new Date((plan.tSetup - 3600) * 1000),
      blockGasLimit: 200_000_000n,
      initialBaseFeePerGas: 0n,
      throwOnTransactionFailures: false,
      loggingEnabled: false,
    },
  });
  try {
    const ethers = (connection as unknown as { ethers: HardhatEthers }).ethers;
    const chain = new Chain(connection.provider);
    const signers = await ethers.getSigners();
    const [admin, governor, guardian, keeper, trader, lp, operator] = signers.map((s) => s.address);
    const roles: Roles = { admin, governor, guardian, keeper, trader, lp, operator };
    // deployProtocol waits on each transaction (automine at wall-clock time). Nothing it leaves behind
    // depends on those times once the setup block re-anchors the feeds and accrues each market.
    const protocol = await deployProtocol(ethers, {
      admin,
      governor,
      guardian,
      adlKeeper: keeper, // the keeper service runs auto-deleveraging
      markets: plan.markets.map((m) => m.spec),
      breaker: params.breaker,
      // as deployed (deploy/params): traders add risk only through commit -> settle
      orders: REPLAY_ORDERS,
    });
    // The keeper's lens, from an account nothing else sends from: the deployer's nonces, so the addresses
    // of what it deploys next, stay as they were without a lens.
    const lens = await ethers.deployContract(
      "ProtocolLens",
      [await protocol.engine.getAddress(), await protocol.oracle.getAddress()],
      signers[LENS_DEPLOYER],
    );
    await lens.waitForDeployment();
    const c = bindContracts(protocol, chain);
    chain.setTime(plan.tSetup);
    const markets = await deployFeeds(ethers, chain, c, roles, params, plan);
    const configs = await configureLiquidations(chain, c, roles, params);
    await seedFunds(chain, c, roles, params, plan);
    const backstop = await setUpBackstop(ethers, chain, c, roles, params, plan, (from, tx, what) =>
      must(chain, from, tx as Promise<ContractTransaction>, what),
    );
    const { firstId, startBlock } = await openAccounts(chain, c, roles, plan);
    const book = new Book({
      c,
      chain,
      provider: ethers.provider,
      markets: markets.map((m) => ({ id: m.id, feedId: m.feedId })),
      startBlock,
      scale: SCALE,
    });
    await book.init();
    const deployment = await deploymentRecord(chain, protocol, roles, markets, startBlock, await lens.getAddress());
    const hints: RunState["hints"] = {};
    const state: RunState = {
      params,
      plan,
      connection,
      ethers,
      chain,
      protocol,
      c,
      roles,
      markets,
      configs,
      toOpen: [...plan.traders].sort((a, b) => a.openAt - b.openAt || a.index - b.index),
      nextOpen: 0,
      firstId,
      book,
      keeper: await startKeeper(connection, chain, c, roles.keeper, deployment, params, book, hints),
      hints,
      impact: new ImpactModel(
        markets.map((m) => ({ depthWad: m.impactDepthUsd })),
        params.impact.halfLifeSeconds,
        params.impact.maxImpact,
      ),
      clock: startClock(plan),
      record: emptyRecord((await c.insuranceFund.coverable()) * SCALE),
      touchedSinceHint: 0,
      backstop,
      orders: {
        reward: (await c.orders.orderConfig()).settlementReward,
        inFlight: new Map(),
        fromBlock: startBlock,
        retries: 0,
      },
    };
    return state;
  } catch (e) {
    await connection.close();
    throw e;
  }
}

/**
 * The keeper service, with the engine's mirror as its cross-check: the accounts below maintenance
 * now, remembered in `hints` (the step's count reuses them while nothing changed).
 */
async function startKeeper(
  connection: NetworkConnection,
  chain: Chain,
  c: ReplayContracts,
  keeper: string,
  deployment: Deployment,
  params: ResolvedParams,
  book: Book,
  hints: RunState["hints"],
): Promise<ServiceKeeper> {
  return new ServiceKeeper({
    chain,
    keeper,
    keeperKey: await devAccountKey(connection, keeper),
    deployment,
    markets: deployment.markets.map((m) => ({ id: m.id })),
    c,
    hint: async () => {
      const ids = book.belowMaintenance(await book.snapshot(chain.time));
      hints.last = { t: chain.time, ids };
      return ids;
    },
    batchSize: params.keeper.batchSize,
    ...(params.keeper.ownImpactMark
      ? {
          ownImpactMark: {
            ...(params.keeper.ownImpactMarkCap !== undefined ? { cap: String(params.keeper.ownImpactMarkCap) } : {}),
            ...(params.keeper.ownImpactMarkScope !== undefined ? { scope: params.keeper.ownImpactMarkScope } : {}),
          },
        }
      : {}),
  });
}

/** The schedule, before the first tick. */
function startClock(plan: RunPlan): RunState["clock"] {
  return {
    times: [...plan.schedule],
    scheduled: plan.schedule.length,
    done: 0,
    feedback: new Set(),
    feedbackRun: 0,
    prevT: plan.tSetup,
  };
}

/** Nothing recorded yet; the insurance fund's assets (WAD) before the first tick. */
function emptyRecord(insuranceStart: bigint): RunState["record"] {
  return {
    steps: [],
    stepPrices: [],
    pushedRounds: [],
    counters: {
      badDebtIncurred: 0n,
      badDebtCovered: 0n,
      badDebtSocialised: 0n,
      badDebtPending: 0n,
      badDebtPaidByVault: 0n,
      vaultBackedByInsurance: 0n,
      accountsLiquidated: 0,
      accountsWipedOut: 0,
      tranches: 0,
      keeperRewards: 0n,
      insuranceStart,
      adlRuns: 0,
      adlFailures: 0,
      positionsOpened: 0,
      positionsRefused: 0,
      leverageClamped: 0,
    },
    liquidated: new Set(),
    wipedOut: new Set(),
    backstops: 0,
    backstopNotional: 0n,
  };
}

/** Sends a setup transaction; a revert stops the run. */
async function must(chain: Chain, from: string, tx: Promise<ContractTransaction>, what: string, gas = 1_000_000) {
  const r = await chain.exec(from, tx, gas);
  if (!r.ok) throw new Error(`replay setup: ${what} reverted`);
  return r;
}

/** One replay feed per market at the path's first price, read by the oracle from the setup block. */
async function deployFeeds(
  ethers: HardhatEthers,
  chain: Chain,
  c: ReplayContracts,
  roles: Roles,
  params: ResolvedParams,
  plan: RunPlan,
): Promise<MarketRun[]> {
  const factory = await ethers.getContractFactory("MockAggregator");
  const markets: MarketRun[] = [];
  for (const m of plan.markets) {
    const answer = m.path.points[0].priceWad;
    const tx = await factory.getDeployTransaction(FEED_DECIMALS, answer, `${m.symbol} / USD (replay)`);
    const feed = await chain.deploy(roles.admin, tx.data, 2_000_000);
    await must(chain, roles.admin, c.feed(feed).pushRound.populateTransaction(answer, plan.tSetup), "pushRound");
    const s = marketSettings(params, m.symbol);
    await must(
      chain,
      roles.governor,
      c.oracle.setFeed.populateTransaction(m.feedId, feed, s.heartbeat, s.volWindow, s.initialSigma),
      "setFeed",
    );
    await must(chain, roles.operator, c.engine.accrue.populateTransaction(m.id), "accrue");
    markets.push({ ...m, feed, cursor: 0, lastAnswer: answer, lastPushAt: plan.tSetup });
  }
  return markets;
}

/** Liquidation, reward and ADL configuration: the deployed defaults with the preset's overrides. */
async function configureLiquidations(chain: Chain, c: ReplayContracts, roles: Roles, params: ResolvedParams) {
  const le = c.liquidationEngine;
  const apply = async (
    getter: "config" | "rewardConfig" | "adlConfig",
    overrides: object,
    ints: string[],
    write: (struct: Record<string, bigint>) => Promise<ContractTransaction>,
  ) => {
    const fields = le.interface.getFunction(getter).outputs.map((o) => o.name);
    const read = async () => {
      const values = await le[getter]();
      return Object.fromEntries(fields.map((f, k) => [f, values[k] as bigint]));
    };
    const struct = await read();
    const o = structOverrides(overrides as Record<string, string | number>, ints);
    for (const k of Object.keys(o)) if (!(k in struct)) throw new Error(`replay: ${getter} has no field ${k}`);
    if (Object.keys(o).length) await must(chain, roles.governor, write({ ...struct, ...o }), `set ${getter}`);
    return Object.fromEntries(Object.entries(await read()).map(([k, v]) => [k, v.toString()]));
  };
  type Arg<F extends (...a: never[]) => unknown> = Parameters<F>[0];
  return {
    liquidation: await apply("config", params.liquidation, ["cooldown", "capacityWindow"], (s) =>
      le.setConfig.populateTransaction(s as unknown as Arg<typeof le.setConfig.populateTransaction>),
    ),
    reward: await apply("rewardConfig", params.reward, [], (s) =>
      le.setRewardConfig.populateTransaction(s as unknown as Arg<typeof le.setRewardConfig.populateTransaction>),
    ),
    adl: await apply("adlConfig", params.adl, ["window"], (s) =>
      le.setAdlConfig.populateTransaction(s as unknown as Arg<typeof le.setAdlConfig.populateTransaction>),
    ),
  };
}

/** LP pool and insurance fund, sized from the population's wanted notional. */
async function seedFunds(chain: Chain, c: ReplayContracts, roles: Roles, params: ResolvedParams, plan: RunPlan) {
  const wantedTotal = plan.markets.reduce((a, m) => a + m.wanted, 0n);
  const tokens = (x: number) =>
    ((wantedTotal * BigInt(Math.round(x * 1e6))) / 1_000_000n / SCALE / USDC_UNIT) * USDC_UNIT;
  const lpAmount = tokens(params.funds.lpToNotional);
  const insuranceAmount = tokens(params.funds.insuranceToNotional);
  const [vault, fund] = [await c.vault.getAddress(), await c.insuranceFund.getAddress()];
  const { admin, lp } = roles;
  await must(chain, admin, c.usdc.mint.populateTransaction(lp, lpAmount + insuranceAmount), "mint");
  await must(chain, lp, c.usdc.approve.populateTransaction(vault, MAX_UINT), "approve");
  await must(chain, lp, c.usdc.approve.populateTransaction(fund, MAX_UINT), "approve");
  if (lpAmount > 0n) await must(chain, lp, c.vault.deposit.populateTransaction(lpAmount, lp), "LP deposit");
  if (insuranceAmount > 0n) {
    await must(chain, lp, c.insuranceFund.deposit.populateTransaction(insuranceAmount, lp), "insurance deposit");
  }
}

/**
 * One account per trader (accounts are isolated; one owner holds them all), funded with its margin,
 * in one batch of blocks. Returns the first account id and the block the keeper follows events from.
 */
async function openAccounts(chain: Chain, c: ReplayContracts, roles: Roles, plan: RunPlan) {
  const { admin, trader } = roles;
  const marginTotal = plan.traders.reduce((a, t) => a + t.margin, 0n);
  await must(chain, admin, c.usdc.mint.populateTransaction(trader, marginTotal), "mint");
  await must(chain, trader, c.usdc.approve.populateTransaction(await c.vault.getAddress(), MAX_UINT), "approve");
  const firstId = await c.engine.nextAccountId();
  // the keeper follows the protocol's events from here: the traders' accounts do not exist yet
  const startBlock = (await chain.blockNumber()) + 1;
  const engine = await c.engine.getAddress();
  const txs = [];
  for (const t of plan.traders) {
    const id = firstId + BigInt(t.index);
    txs.push({
      from: trader,
      to: engine,
      data: (await c.engine.createAccount.populateTransaction()).data,
      gas: 200_000,
    });
    txs.push({
      from: trader,
      to: engine,
      data: (await c.engine.deposit.populateTransaction(id, t.margin)).data,
      gas: 300_000,
    });
  }
  const results = await chain.sendBatch(txs);
  if (results.some((r) => !r.ok)) throw new Error("replay setup: an account creation or deposit reverted");
  if ((await c.engine.nextAccountId()) !== firstId + BigInt(plan.traders.length)) {
    throw new Error("replay: account ids are not the expected ones");
  }
  return { firstId, startBlock };
}

/** The in-process deployment as a deployment record (deploy/deployment.ts), for the keeper service. */
async function deploymentRecord(
  chain: Chain,
  p: Protocol,
  roles: Roles,
  markets: MarketRun[],
  startBlock: number,
  lens: string,
): Promise<Deployment> {
  return {
    version: 1,
    network: "replay",
    chainId: Number(await chain.rpc<string>("eth_chainId")),
    startBlock,
    contracts: {
      usdc: await p.usdc.getAddress(),
      oracle: await p.oracle.getAddress(),
      vault: await p.vault.getAddress(),
      engine: await p.engine.getAddress(),
      insuranceFund: await p.insuranceFund.getAddress(),
      liquidationEngine: await p.liquidationEngine.getAddress(),
      breaker: p.breaker ? await p.breaker.getAddress() : undefined,
      lens,
      triggers: p.triggers,
      // the feeds the oracle reads now: the replay's
      feeds: Object.fromEntries(markets.map((m) => [m.symbol, m.feed])),
    },
    markets: markets.map((m) => ({ id: m.id, symbol: m.symbol, feedId: m.feedId })),
    status: "complete",
    roles: { admin: roles.admin, governor: roles.governor, guardian: roles.guardian },
    mocks: { collateral: true, feeds: markets.map((m) => m.symbol) },
  };
}

/** The private key of one of the network's development accounts (from its configured keys or mnemonic). */
async function devAccountKey(connection: NetworkConnection, address: string): Promise<string> {
  const config = connection.networkConfig;
  if (config.type !== "edr-simulated") throw new Error("replay: the network is not an in-process one");
  const accounts = config.accounts;
  const want = address.toLowerCase();
  if (Array.isArray(accounts)) {
    for (const a of accounts) {
      const key = await a.privateKey.get();
      if (new Wallet(key).address.toLowerCase() === want) return key;
    }
  } else {
    const root = HDNodeWallet.fromPhrase(await accounts.mnemonic.get(), await accounts.passphrase.get(), accounts.path);
    for (let k = 0; k < accounts.count; k++) {
      const w = root.deriveChild(accounts.initialIndex + k);
      if (w.address.toLowerCase() === want) return w.privateKey;
    }
  }
  throw new Error(`replay: no development key for ${address} in the network's accounts`);
}
