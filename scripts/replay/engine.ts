/**
 * The crash-replay engine: one run = one event's price path(s) driven through a freshly deployed
 * protocol on an in-process Hardhat network, with a seeded population of leveraged traders and the
 * keeper, under one parameter set.
 *
 *  setup   deployProtocol (same code as deploy/) with one market per path, sized from the population;
 *          each market's feed re-pointed to a MockAggregator holding the path's first price; the
 *          preset's liquidation / reward / ADL configuration set by the governor; LP pool and
 *          insurance fund seeded; one account per trader created and funded.
 *  ticks   the path's points (and, over long gaps, a tick every `maxTickSeconds`, holding the last
 *          price). At each tick, at that block time:
 *            1. the impact model decays; each market's oracle is fed path * (1 + impact) with
 *               MockAggregator.pushRound (a round when the answer changes, or half a heartbeat passed);
 *            2. traders due to open do so (their wanted leverage clamped to what initial margin and the
 *               breaker accept, computed exactly with the bigint mirror);
 *            3. the keeper ticks: by default the keeper service itself (serviceKeeper.ts wraps
 *               scripts/keeper/keeper.ts: follow events, scan off chain, confirm, liquidate worst
 *               first, then volatility updates, breaker pokes, reward claims), `--keeper scan` the
 *               replay's reference loop (keeperAdapter.ts);
 *            4. pending deficits are auto-deleveraged, candidates ranked off-chain (pnl * leverage);
 *            5. every liquidated leg adds its signed notional / depth to the market's impact: the next
 *               oracle round carries the protocol's own forced sales;
 *            6. after a tick with liquidations, a feedback tick `feedbackSeconds` later (at most
 *               `maxFeedbackTicks` between two scheduled ticks) lets the cascade play out in between.
 *  output  a ReplayRun (result.ts): the steps, the metrics, the parameters read back from the chain.
 *
 * Every transaction is mined at the tick's timestamp (chain.ts; the keeper service's through a
 * provider that does the same), so a run is reproducible to the wei for a seed; only `seconds` and
 * the keeper's wall-time counters differ between two runs.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { HDNodeWallet, type Interface, Wallet } from "ethers";
import type { NetworkConnection, NetworkManager } from "hardhat/types/network";

import type { Deployment } from "../../deploy/deployment.js";
import { type Protocol, deployProtocol } from "../../deploy/protocol.js";
import { type MarketSpec, feedId } from "../../deploy/params.js";
import {
  applyTrade,
  fillPrice,
  initialMarginRatio,
  marginRequirement,
  notional as notionalOf,
  pendingAccrual,
  positionValue,
  tradeFee,
  unrealisedPnl,
  mulDivDown,
} from "../lib/math/index.js";
import { Book } from "./book.js";
import { Chain, TX_GAS_CAP } from "./chain.js";
import { WAD, parseDecimal } from "./decimal.js";
import { ImpactModel } from "./impact.js";
import type { KeeperContext, KeeperFactory } from "./keeperAdapter.js";
import { type RunCounters, type StepPrices, computeMetrics } from "./metrics.js";
import {
  type PopulationSpec,
  type TraderSpec,
  USDC_UNIT,
  defaultPopulation,
  generatePopulation,
  wantedNotional,
  withPopulationOverrides,
} from "./population.js";
import { type ResolvedParams, marketSettings, paramsJson, structOverrides } from "./presets.js";
import type { ReplayMarket, ReplayRun, ReplayStep } from "./result.js";
import { serviceKeeper } from "./serviceKeeper.js";
import type { PricePath } from "./types.js";

/** Decimals of the replay's feeds: 18, so the oracle reports exactly the WAD price the engine computed. */
const FEED_DECIMALS = 18;
const SCALE = 10n ** 12n; // collateral (6 decimals) -> WAD
const MAX_UINT = 2n ** 256n - 1n;
/** seconds between the (deterministic) setup block and the first tick */
const SETUP_LEAD = 600;

export type EngineOptions = {
  /** `network` from "hardhat" (the HRE's network manager): each run creates its own in-process chain */
  network: NetworkManager;
  event: string;
  title?: string;
  paths: PricePath[];
  params: ResolvedParams;
  /** default: scripts/replay/population.json; the params' `population` overrides apply on top */
  population?: PopulationSpec;
  /** default: the keeper service (serviceKeeper.ts); `scanKeeper` (keeperAdapter.ts) to compare */
  keeper?: KeeperFactory;
  /** called after every scheduled tick (feedback ticks are not counted) */
  onTick?: (done: number, total: number) => void;
  /** leave the network open and return a handle to it (tests inspect the chain after the run) */
  keepOpen?: boolean;
  /** awaited after every step is recorded, with the chain as it then is (the risk monitor's backtest) */
  onStep?: (step: ReplayStep, chain: { ethers: HardhatEthers; protocol: Protocol }) => Promise<void>;
};

export type PushedRound = { market: number; roundId: bigint; answer: bigint; t: number };

export type ReplayHandle = {
  connection: NetworkConnection;
  ethers: HardhatEthers;
  chain: Chain;
  protocol: Protocol;
  /** the rounds the engine pushed, per market, in order */
  pushedRounds: PushedRound[];
  /** the feed each market's oracle reads (after re-pointing) */
  feeds: string[];
  /** the engine's off-chain copy of the accounts, as at the end of the run */
  book: Book;
  close(): Promise<void>;
};

export type EngineResult = { run: ReplayRun; handle?: ReplayHandle };

type Market = {
  id: number;
  symbol: string;
  feedId: string;
  path: PricePath;
  cursor: number;
  heartbeat: number;
  lastAnswer: bigint;
  lastPushAt: number;
  feed: string;
  wanted: bigint;
  depthUsd: bigint;
  impactDepthUsd: bigint;
  skewScale: bigint;
};

/** The scheduled tick times: every point of every path, and a tick at least every `maxTick` seconds. */
export function tickSchedule(paths: readonly PricePath[], maxTick: number): number[] {
  const times = [...new Set(paths.flatMap((p) => p.points.map((pt) => pt.t)))].sort((a, b) => a - b);
  const out: number[] = [];
  for (let k = 0; k < times.length; k++) {
    out.push(times[k]);
    if (k + 1 < times.length) for (let t = times[k] + maxTick; t < times[k + 1]; t += maxTick) out.push(t);
  }
  return out;
}

function checkPaths(paths: readonly PricePath[]): void {
  if (paths.length === 0) throw new Error("replay: no price path");
  // One market per path; each trader holds one market, so the engine's 8-positions-per-account limit
  // does not bind, only its 96 markets.
  if (paths.length > 96) throw new Error("replay: at most 96 paths (the engine lists at most 96 markets)");
  for (const p of paths) {
    if (p.points.length === 0) throw new Error(`replay: path ${p.event}/${p.symbol} has no points`);
    for (let k = 0; k < p.points.length; k++) {
      if (p.points[k].priceWad <= 0n) throw new Error(`replay: ${p.symbol} price at ${p.points[k].t} is not positive`);
      if (k > 0 && p.points[k].t <= p.points[k - 1].t) {
        throw new Error(`replay: ${p.symbol} points are not in strictly increasing time at ${p.points[k].t}`);
      }
    }
  }
}

const ifaceOf = (c: { interface: Interface }) => c.interface;

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

export async function runReplay(opts: EngineOptions): Promise<EngineResult> {
  const started = Date.now();
  const { paths, params } = opts;
  checkPaths(paths);
  const population = withPopulationOverrides(opts.population ?? defaultPopulation(), params.population);

  // Symbols must give distinct feed ids: a second path of the same symbol gets a suffix.
  const symbols: string[] = [];
  for (const p of paths) {
    let s = p.symbol;
    for (let k = 2; symbols.includes(s); k++) s = `${p.symbol}-${k}`;
    symbols.push(s);
  }
  // A tick at least every half heartbeat too: the engine refreshes each feed then, so that a held
  // price never goes stale (a stale oracle stops liquidations).
  const minHeartbeat = Math.min(...symbols.map((sym) => marketSettings(params, sym).heartbeat));
  const maxTick = Math.max(1, Math.min(params.replay.maxTickSeconds, Math.floor(minHeartbeat / 2)));
  const schedule = tickSchedule(paths, maxTick);
  const t0 = schedule[0];
  const tEnd = schedule[schedule.length - 1];
  const traders = generatePopulation(population, symbols, t0, tEnd);

  // ---------------------------------------------------------------- markets sized from the population
  const markets: Market[] = paths.map((path, k) => {
    const settings = marketSettings(params, symbols[k]);
    const p0 = path.points[0].priceWad;
    const wanted = wantedNotional(traders, k);
    const minDepth = 1_000_000n * WAD;
    let depthUsd = settings.depthUsd ?? (wanted * BigInt(Math.round(settings.depthToNotional * 1e6))) / 1_000_000n;
    if (depthUsd < minDepth) depthUsd = minDepth;
    let skewScale = (depthUsd * WAD) / p0;
    if (skewScale < WAD) skewScale = WAD;
    if (skewScale > 10n ** 30n) skewScale = 10n ** 30n;
    depthUsd = (skewScale * p0) / WAD;
    const impactUsd = params.impact.depthUsd[symbols[k]];
    const impactDepthUsd =
      impactUsd !== undefined
        ? parseDecimal(impactUsd)
        : (depthUsd * BigInt(Math.round(params.impact.depthToMarket * 1e6))) / 1_000_000n;
    return {
      id: k,
      symbol: symbols[k],
      feedId: feedId(symbols[k]),
      path,
      cursor: 0,
      heartbeat: settings.heartbeat,
      lastAnswer: 0n,
      lastPushAt: 0,
      feed: "",
      wanted,
      depthUsd,
      impactDepthUsd,
      skewScale,
    };
  });
  const specs: MarketSpec[] = markets.map((m) => {
    const s = marketSettings(params, m.symbol);
    const maxOi = m.skewScale / 4n;
    const p0 = m.path.points[0].priceWad;
    return {
      id: m.id,
      symbol: m.symbol,
      initialPriceUsd: p0 / WAD > 0n ? p0 / WAD : 1n,
      feedDecimals: FEED_DECIMALS,
      heartbeat: s.heartbeat,
      volWindow: s.volWindow,
      initialSigma: s.initialSigma,
      skewScale: m.skewScale,
      maxOpenInterest: maxOi,
      maxTradeSize: maxOi,
      maxFundingRatePerSecond: s.maxFundingRatePerSecond,
      risk: s.risk,
    };
  });

  // ---------------------------------------------------------------- the chain
  const tSetup = t0 - SETUP_LEAD;
  const connection = await opts.network.create({
    override: {
      allowBlocksWithSameTimestamp: true,
      initialDate: new Date((tSetup - 3600) * 1000),
      blockGasLimit: 200_000_000n,
      initialBaseFeePerGas: 0n,
      throwOnTransactionFailures: false,
      loggingEnabled: false,
    },
  });
  const ethers = (connection as unknown as { ethers: HardhatEthers }).ethers;
  const chain = new Chain(connection.provider);
  const close = () => connection.close();
  try {
    const signers = await ethers.getSigners();
    // The keeper address is the keeper's alone (its TxManager numbers its transactions); the engine's
    // own auto-deleveraging and setup calls go from `operator`.
    const [admin, governor, guardian, keeper, trader, lp, operator] = signers.map((s) => s.address);
    // deployProtocol waits on each transaction (automine at wall-clock time). Nothing it leaves behind
    // depends on those times once the setup block below re-anchors the feeds and accrues each market.
    const protocol = await deployProtocol(ethers, {
      admin,
      governor,
      guardian,
      markets: specs,
      breaker: params.breaker,
    });
    const p = protocol;
    const addr = {
      engine: await p.engine.getAddress(),
      vault: await p.vault.getAddress(),
      oracle: await p.oracle.getAddress(),
      usdc: await p.usdc.getAddress(),
      fund: await p.insuranceFund.getAddress(),
      liquidationEngine: await p.liquidationEngine.getAddress(),
      breaker: p.breaker ? await p.breaker.getAddress() : undefined,
    };
    const I = {
      engine: ifaceOf(p.engine),
      vault: ifaceOf(p.vault),
      oracle: ifaceOf(p.oracle),
      usdc: ifaceOf(p.usdc),
      fund: ifaceOf(p.insuranceFund),
      liquidationEngine: ifaceOf(p.liquidationEngine),
      breaker: p.breaker ? ifaceOf(p.breaker) : undefined,
      feed: ifaceOf(p.feeds.get(0)!),
    };
    const call = async (to: string, iface: Interface, fn: string, args: unknown[] = []) =>
      iface.decodeFunctionResult(fn, await chain.call(to, iface.encodeFunctionData(fn, args)));
    const send = async (from: string, to: string, iface: Interface, fn: string, args: unknown[], gas = 1_000_000) => {
      const r = await chain.send(from, to, iface.encodeFunctionData(fn, args), gas);
      if (!r.ok) throw new Error(`replay setup: ${fn} reverted`);
      return r;
    };

    // ---------------------------------------------------------------- deterministic setup block time
    chain.setTime(tSetup);
    const feedFactory = await ethers.getContractFactory("MockAggregator");
    for (const m of markets) {
      const answer = m.path.points[0].priceWad;
      const tx = await feedFactory.getDeployTransaction(FEED_DECIMALS, answer, `${m.symbol} / USD (replay)`);
      m.feed = await chain.deploy(admin, tx.data, 2_000_000);
      await send(admin, m.feed, I.feed, "pushRound", [answer, tSetup]);
      const s = marketSettings(params, m.symbol);
      await send(governor, addr.oracle, I.oracle, "setFeed", [
        m.feedId,
        m.feed,
        s.heartbeat,
        s.volWindow,
        s.initialSigma,
      ]);
      await send(operator, addr.engine, I.engine, "accrue", [m.id]);
      m.lastAnswer = answer;
      m.lastPushAt = tSetup;
    }

    // Liquidation, reward and ADL configuration: the deployed defaults, with the preset's overrides.
    const configs = {
      liquidation: await applyStruct("config", "setConfig", params.liquidation, ["cooldown", "capacityWindow"]),
      reward: await applyStruct("rewardConfig", "setRewardConfig", params.reward, []),
      adl: await applyStruct("adlConfig", "setAdlConfig", params.adl, ["window"]),
    };
    async function applyStruct(getter: string, setter: string, overrides: object, ints: string[]) {
      const current = await call(addr.liquidationEngine, I.liquidationEngine, getter);
      const fields = I.liquidationEngine.getFunction(getter)!.outputs.map((o) => o.name);
      const struct: Record<string, bigint> = {};
      fields.forEach((f, k) => (struct[f] = current[k] as bigint));
      const o = structOverrides(overrides as Record<string, string | number>, ints);
      for (const k of Object.keys(o)) {
        if (!(k in struct)) throw new Error(`replay: ${getter} has no field ${k}`);
      }
      if (Object.keys(o).length) {
        await send(governor, addr.liquidationEngine, I.liquidationEngine, setter, [{ ...struct, ...o }]);
      }
      const after = await call(addr.liquidationEngine, I.liquidationEngine, getter);
      const out: Record<string, string> = {};
      fields.forEach((f, k) => (out[f] = (after[k] as bigint).toString()));
      return out;
    }

    // Funds: LP pool and insurance fund sized from the population's wanted notional.
    const wantedTotal = markets.reduce((a, m) => a + m.wanted, 0n);
    const tokens = (x: number) =>
      ((wantedTotal * BigInt(Math.round(x * 1e6))) / 1_000_000n / SCALE / USDC_UNIT) * USDC_UNIT;
    const lpAmount = tokens(params.funds.lpToNotional);
    const insuranceAmount = tokens(params.funds.insuranceToNotional);
    await send(admin, addr.usdc, I.usdc, "mint", [lp, lpAmount + insuranceAmount]);
    await send(lp, addr.usdc, I.usdc, "approve", [addr.vault, MAX_UINT]);
    await send(lp, addr.usdc, I.usdc, "approve", [addr.fund, MAX_UINT]);
    if (lpAmount > 0n) await send(lp, addr.vault, I.vault, "deposit", [lpAmount, lp]);
    if (insuranceAmount > 0n) await send(lp, addr.fund, I.fund, "deposit", [insuranceAmount, lp]);

    // Traders: one account each, owned by one address (accounts are isolated; an owner may hold many).
    const book = new Book({
      chain,
      addresses: { engine: addr.engine, vault: addr.vault, oracle: addr.oracle, breaker: addr.breaker },
      interfaces: { engine: I.engine, vault: I.vault, oracle: I.oracle, breaker: I.breaker },
      markets: markets.map((m) => ({ id: m.id, feedId: m.feedId })),
    });
    await book.init();
    const marginTotal = traders.reduce((a, t) => a + t.margin, 0n);
    await send(admin, addr.usdc, I.usdc, "mint", [trader, marginTotal]);
    await send(trader, addr.usdc, I.usdc, "approve", [addr.vault, MAX_UINT]);
    const firstId = (await call(addr.engine, I.engine, "nextAccountId"))[0] as bigint;
    // the keeper follows the protocol's events from here: the traders' accounts do not exist yet
    const startBlock = (await chain.blockNumber()) + 1;
    const accountOf = (t: TraderSpec) => firstId + BigInt(t.index);
    const setupTxs = traders.flatMap((t) => [
      { from: trader, to: addr.engine, data: I.engine.encodeFunctionData("createAccount"), gas: 200_000 },
      {
        from: trader,
        to: addr.engine,
        data: I.engine.encodeFunctionData("deposit", [accountOf(t), t.margin]),
        gas: 300_000,
      },
    ]);
    const setupResults = await chain.sendBatch(setupTxs);
    if (setupResults.some((r) => !r.ok)) throw new Error("replay setup: an account creation or deposit reverted");
    for (const t of traders) book.accounts.set(accountOf(t), { margin: t.margin * SCALE, positions: new Map() });
    const nextId = (await call(addr.engine, I.engine, "nextAccountId"))[0] as bigint;
    if (nextId !== firstId + BigInt(traders.length)) throw new Error("replay: account ids are not the expected ones");

    // ---------------------------------------------------------------- keeper and impact
    /** the keeper's last hint, reused for the step's count while nothing changed since */
    let lastHint: { t: number; ids: bigint[] } | undefined;
    const deployment: Deployment = {
      version: 1,
      network: "replay",
      chainId: Number(await chain.rpc<string>("eth_chainId")),
      startBlock,
      contracts: {
        usdc: addr.usdc,
        oracle: addr.oracle,
        vault: addr.vault,
        engine: addr.engine,
        insuranceFund: addr.fund,
        liquidationEngine: addr.liquidationEngine,
        breaker: addr.breaker,
        triggers: p.triggers,
        // the feeds the oracle reads now: the replay's
        feeds: Object.fromEntries(markets.map((m) => [m.symbol, m.feed])),
      },
      markets: markets.map((m) => ({ id: m.id, symbol: m.symbol, feedId: m.feedId })),
      status: "complete",
      roles: { admin, governor, guardian },
      mocks: { collateral: true, feeds: markets.map((m) => m.symbol) },
    };
    const keeperCtx: KeeperContext = {
      chain,
      keeper,
      keeperKey: await devAccountKey(connection, keeper),
      deployment,
      markets: markets.map((m) => ({ id: m.id, feedId: m.feedId })),
      addresses: {
        oracle: addr.oracle,
        liquidationEngine: addr.liquidationEngine,
        engine: addr.engine,
        breaker: addr.breaker,
      },
      interfaces: { oracle: I.oracle, liquidationEngine: I.liquidationEngine, engine: I.engine, breaker: I.breaker },
      hint: async () => {
        const ids = book.belowMaintenance(await book.snapshot(chain.time));
        lastHint = { t: chain.time, ids };
        return ids;
      },
      options: params.keeper,
    };
    const keeperImpl = (opts.keeper ?? serviceKeeper)(keeperCtx);
    const impact = new ImpactModel(
      markets.map((m) => ({ depthWad: m.impactDepthUsd })),
      params.impact.halfLifeSeconds,
      params.impact.maxImpact,
    );

    // ---------------------------------------------------------------- the run
    const ev = {
      tranche: I.liquidationEngine.getEvent("TrancheLiquidated")!,
      settled: I.liquidationEngine.getEvent("LiquidationSettled")!,
      adl: I.liquidationEngine.getEvent("AutoDeleveraged")!,
      answer: I.feed.getEvent("AnswerUpdated")!,
    };
    const pushedRounds: PushedRound[] = [];
    const steps: ReplayStep[] = [];
    const stepPrices: StepPrices[] = [];
    const liquidated = new Set<bigint>();
    const wipedOut = new Set<bigint>();
    const c: RunCounters = {
      badDebtIncurred: 0n,
      badDebtCovered: 0n,
      badDebtSocialised: 0n,
      badDebtPending: 0n,
      accountsLiquidated: 0,
      accountsWipedOut: 0,
      tranches: 0,
      keeperRewards: 0n,
      insuranceStart: ((await call(addr.fund, I.fund, "coverable"))[0] as bigint) * SCALE,
      adlRuns: 0,
      adlFailures: 0,
      positionsOpened: 0,
      positionsRefused: 0,
      leverageClamped: 0,
    };
    const toOpen = [...traders].sort((a, b) => a.openAt - b.openAt || a.index - b.index);
    let nextOpen = 0;
    const times = [...schedule];
    const isFeedback = new Set<number>();
    let feedbackRun = 0;
    let baseDone = 0;
    let prevT = tSetup;
    let backstops = 0;
    let backstopNotional = 0n;
    let touchedSinceHint = 0;

    for (let k = 0; k < times.length; k++) {
      const t = times[k];
      chain.setTime(t);
      await chain.mine();
      const fromBlock = await chain.blockNumber();
      impact.decay(t - prevT);
      prevT = t;

      // 1. oracle rounds
      const pathNow: bigint[] = [];
      for (const m of markets) {
        while (m.cursor + 1 < m.path.points.length && m.path.points[m.cursor + 1].t <= t) m.cursor++;
        const pathPrice = m.path.points[m.cursor].priceWad;
        pathNow.push(pathPrice);
        const answer = impact.apply(m.id, pathPrice);
        if (answer !== m.lastAnswer || t - m.lastPushAt >= m.heartbeat / 2 || k === 0) {
          // the feed's own operator writes the round (the admin account here), not the keeper
          const r = await chain.send(admin, m.feed, I.feed.encodeFunctionData("pushRound", [answer, t]), 200_000);
          if (!r.ok) throw new Error(`replay: pushRound reverted at t=${t}`);
          const log = r.logs.find((l) => l.topics[0] === ev.answer.topicHash)!;
          pushedRounds.push({ market: m.id, roundId: BigInt(log.topics[2]), answer, t });
          m.lastAnswer = answer;
          m.lastPushAt = t;
        }
      }

      // 2. traders due to open
      const due: TraderSpec[] = [];
      while (nextOpen < toOpen.length && toOpen[nextOpen].openAt <= t) due.push(toOpen[nextOpen++]);
      if (due.length) await openPositions(due);

      // 3. keeper, 4. auto-deleveraging
      touchedSinceHint = 0;
      const byKeeper = await keeperImpl.tick();
      const tickLiquidations = await digest(fromBlock);
      if (byKeeper.tranches !== tickLiquidations.tranches) {
        // only the keeper liquidates here: its count and the chain's logs must agree
        throw new Error(
          `replay: at t=${t} the keeper reports ${byKeeper.tranches} tranches, the chain's logs ${tickLiquidations.tranches}`,
        );
      }
      const fromLogs = (await chain.blockNumber()) + 1;
      const pending = (await call(addr.liquidationEngine, I.liquidationEngine, "badDebtPending"))[0] as bigint;
      if (pending > 0n) {
        await autoDeleverage();
        await digest(fromLogs);
      }

      // step record
      const unchanged = lastHint !== undefined && lastHint.t === t && touchedSinceHint === 0;
      const liquidatable = unchanged ? lastHint!.ids.length : book.belowMaintenance(await book.snapshot(t)).length;
      const levels: number[] = [];
      for (const m of markets) {
        if (!addr.breaker || !I.breaker) levels.push(0);
        else
          levels.push(
            Number(((await call(addr.breaker, I.breaker, "marketLevel", [m.id]))[0] as { level: bigint }).level),
          );
      }
      const insurance = ((await call(addr.fund, I.fund, "coverable"))[0] as bigint) * SCALE;
      const step: ReplayStep = {
        t,
        pathPrice: pathNow[0].toString(),
        oraclePrice: markets[0].lastAnswer.toString(),
        liquidatedNotional: tickLiquidations.notional.toString(),
        level: Math.max(...levels),
        insuranceAssets: insurance.toString(),
        liquidatable,
      };
      if (markets.length > 1) {
        step.markets = markets.map((m, j) => ({
          symbol: m.symbol,
          pathPrice: pathNow[j].toString(),
          oraclePrice: m.lastAnswer.toString(),
          level: levels[j],
        }));
      }
      if (isFeedback.has(t)) step.feedback = true;
      steps.push(step);
      await opts.onStep?.(step, { ethers, protocol });
      stepPrices.push(markets.map((m, j) => ({ path: pathNow[j], oracle: m.lastAnswer })));

      // 6. feedback tick
      const next = k + 1 < times.length ? times[k + 1] : Infinity;
      if (!isFeedback.has(t)) feedbackRun = 0;
      const fb = params.impact.feedbackSeconds;
      if (tickLiquidations.tranches > 0 && fb > 0 && feedbackRun < params.impact.maxFeedbackTicks && t + fb < next) {
        times.splice(k + 1, 0, t + fb);
        isFeedback.add(t + fb);
        feedbackRun++;
      }
      if (!isFeedback.has(t)) opts.onTick?.(++baseDone, schedule.length);
    }

    // ---------------------------------------------------------------- totals
    const ledger = async (fn: string) => (await call(addr.liquidationEngine, I.liquidationEngine, fn))[0] as bigint;
    c.badDebtIncurred = await ledger("badDebtIncurred");
    c.badDebtCovered = await ledger("badDebtCovered");
    c.badDebtSocialised = await ledger("badDebtSocialised");
    c.badDebtPending = await ledger("badDebtPending");
    c.accountsLiquidated = liquidated.size;
    c.accountsWipedOut = wipedOut.size;
    const metrics = computeMetrics(steps, stepPrices, c, params.replay.windowSeconds);
    const keeperStats = await keeperImpl.stats();
    const run: ReplayRun = {
      event: opts.event,
      title: opts.title ?? opts.event,
      preset: params.name,
      paths: paths.map((pth, k) => ({
        symbol: symbols[k],
        source: pth.source,
        stylised: pth.stylised,
        points: pth.points.length,
      })),
      population: { accounts: population.accounts, seed: population.seed },
      seconds: (Date.now() - started) / 1000,
      steps,
      metrics,
      params: {
        preset: paramsJson(params),
        population,
        onChain: { breaker: params.breaker, ...configs },
      },
      markets: markets.map((m): ReplayMarket => ({
        symbol: m.symbol,
        marketId: m.id,
        initialPrice: m.path.points[0].priceWad.toString(),
        wantedNotional: m.wanted.toString(),
        depthUsd: m.depthUsd.toString(),
        impactDepthUsd: m.impactDepthUsd.toString(),
        skewScale: m.skewScale.toString(),
      })),
      stats: {
        ticks: steps.length,
        feedbackTicks: isFeedback.size,
        backstopTranches: backstops,
        backstopNotional: backstopNotional.toString(),
        txs: chain.txs,
        failedTxs: chain.failedTxs,
        calls: chain.calls,
        gasUsed: chain.gasUsed.toString(),
        sendMs: Math.round(chain.sendMs),
        callMs: Math.round(chain.callMs),
        keeper: keeperImpl.name,
        ...keeperStats,
      },
    };
    const keeperNotes = keeperImpl.notes();
    if (keeperNotes.length) run.notes = keeperNotes;
    if (c.adlFailures) run.notes = [...(run.notes ?? []), `${c.adlFailures} autoDeleverage transaction(s) reverted`];
    if (!opts.keepOpen) {
      await close();
      return { run };
    }
    return {
      run,
      handle: { connection, ethers, chain, protocol, pushedRounds, feeds: markets.map((m) => m.feed), book, close },
    };

    // ================================================================ tick helpers (closures)

    /** Parses the liquidation engine's logs since `from`: counters, impact, touched accounts. */
    async function digest(from: number): Promise<{ notional: bigint; tranches: number }> {
      const logs = await chain.logs(from, [addr.liquidationEngine]);
      let notional = 0n;
      let tranches = 0;
      const touched = new Set<bigint>();
      const closed = new Set<bigint>();
      const bankrupt = new Set<bigint>();
      for (const l of logs) {
        const topic = l.topics[0];
        if (topic === ev.tranche.topicHash) {
          const e = I.liquidationEngine.decodeEventLog(ev.tranche, l.data, l.topics);
          const sizeDelta = e.sizeDelta as bigint;
          const price = e.fillPrice as bigint;
          impact.addTrade(Number(e.marketId), sizeDelta, price);
          book.applyReduction(e.accountId as bigint, Number(e.marketId), sizeDelta);
          notional += ((sizeDelta < 0n ? -sizeDelta : sizeDelta) * price) / WAD;
          c.keeperRewards += e.keeperReward as bigint;
          if ((e.badDebtCovered as bigint) + (e.badDebtSocialised as bigint) > 0n) bankrupt.add(e.accountId as bigint);
          touched.add(e.accountId as bigint);
        } else if (topic === ev.settled.topicHash) {
          const e = I.liquidationEngine.decodeEventLog(ev.settled, l.data, l.topics);
          tranches++;
          c.tranches++;
          if (e.backstop as boolean) {
            backstops++;
            backstopNotional += e.trancheNotional as bigint;
          }
          liquidated.add(e.accountId as bigint);
          if ((e.fraction as bigint) === WAD) closed.add(e.accountId as bigint);
        } else if (topic === ev.adl.topicHash) {
          const e = I.liquidationEngine.decodeEventLog(ev.adl, l.data, l.topics);
          book.applyReduction(e.accountId as bigint, Number(e.marketId), e.sizeDelta as bigint);
          touched.add(e.accountId as bigint);
        }
      }
      await book.refreshMargins(touched);
      touchedSinceHint += touched.size;
      for (const id of closed) {
        const acct = book.accounts.get(id)!;
        if (acct.positions.size === 0 && (acct.margin === 0n || bankrupt.has(id))) wipedOut.add(id);
      }
      return { notional, tranches };
    }

    /**
     * Opens the due traders' positions at the current oracle price. Each wanted size is shrunk (by 5%
     * steps) until the engine's own initial-margin check passes with 0.5% to spare, computed with the
     * bigint mirror from the state this block will execute on; a trader the protocol refuses at any size
     * (breaker reduce-only, halted) stays out.
     */
    async function openPositions(due: TraderSpec[]): Promise<void> {
      const snap = await book.snapshot(chain.time);
      const skew = new Map<number, bigint>();
      const oi = new Map<number, { long: bigint; short: bigint }>();
      const policy = new Map<number, { newRisk: boolean; feeMul: bigint; maxLev: bigint }>();
      for (const m of markets) {
        const st = snap.markets.get(m.id)!.state;
        skew.set(m.id, st.longOpenInterest - st.shortOpenInterest);
        oi.set(m.id, { long: st.longOpenInterest, short: st.shortOpenInterest });
        if (addr.breaker && I.breaker) {
          const [pol] = await call(addr.breaker, I.breaker, "tradePolicy", [m.id]);
          policy.set(m.id, {
            newRisk: pol.newRiskAllowed && pol.tradingOpen,
            feeMul: pol.feeMultiplier,
            maxLev: pol.maxLeverage,
          });
        } else policy.set(m.id, { newRisk: true, feeMul: WAD, maxLev: 0n });
      }
      const opened: bigint[] = [];
      for (const t of due) {
        const m = markets[t.market];
        const ms = snap.markets.get(m.id)!;
        const pol = policy.get(m.id)!;
        if (!pol.newRisk) {
          c.positionsRefused++;
          continue;
        }
        const margin = t.margin * SCALE;
        const { fundingIndex, term } = pendingAccrual(ms, snap.timestamp);
        const maxOi = specs[m.id].maxOpenInterest;
        const fits = (size: bigint): boolean => {
          const delta = t.long ? size : -size;
          const fill = fillPrice(ms.price, skew.get(m.id)!, delta, ms.config.skewScale);
          const fee = tradeFee(ms.config.risk, 0n, delta, fill, ms.sigma, pol.feeMul);
          const { newBasis } = applyTrade(0n, 0n, delta, fill, fundingIndex);
          const equity = margin - fee + positionValue(delta, newBasis, ms.price, fundingIndex);
          const n = notionalOf(delta, ms.price);
          const imr = initialMarginRatio(
            ms.config.risk,
            ms.sigma,
            term,
            size,
            ms.config.skewScale,
            ms.levelImMultiplier,
          );
          const im = marginRequirement(n, imr);
          if (equity <= 0n || equity < im + im / 200n) return false;
          if (pol.maxLev !== 0n && n * WAD > ((equity * pol.maxLev) / 1000n) * 995n) return false;
          const side = oi.get(m.id)!;
          return (t.long ? side.long : side.short) + size <= maxOi;
        };
        let size = mulDivDown(mulDivDown(margin, t.leverageWad, WAD), WAD, ms.price);
        let clamped = false;
        for (let tries = 0; size > 0n && !fits(size) && tries < 80; tries++) {
          size = (size * 95n) / 100n;
          clamped = true;
        }
        if (size === 0n || !fits(size)) {
          c.positionsRefused++;
          continue;
        }
        if (clamped) c.leverageClamped++;
        const id = accountOf(t);
        const delta = t.long ? size : -size;
        const r = await chain.send(
          trader,
          addr.engine,
          I.engine.encodeFunctionData("modifyPosition", [id, m.id, delta, t.long ? MAX_UINT : 0n]),
          1_000_000,
        );
        if (!r.ok) {
          c.positionsRefused++;
          continue;
        }
        c.positionsOpened++;
        skew.set(m.id, skew.get(m.id)! + delta);
        const side = oi.get(m.id)!;
        if (t.long) side.long += size;
        else side.short += size;
        opened.push(id);
      }
      await book.refresh(opened);
    }

    /**
     * Auto-deleverages every pending deficit: the other side's positions in profit, ranked by
     * pnl * leverage (value * account notional / account equity, the contract's own score, computed
     * with the mirror), at most a batch per market and side per tick.
     */
    async function autoDeleverage(): Promise<void> {
      const snap = await book.snapshot(chain.time);
      for (const m of markets) {
        for (const bankruptLong of [true, false]) {
          const [deficit] = await call(addr.liquidationEngine, I.liquidationEngine, "pendingDeficit", [
            m.id,
            bankruptLong,
          ]);
          if ((deficit as bigint) === 0n) continue;
          const ranked: { id: bigint; score: bigint }[] = [];
          for (const [id, acct] of book.accounts) {
            const pos = acct.positions.get(m.id);
            if (pos === undefined || pos.size > 0n === bankruptLong) continue;
            const value = unrealisedPnl(snap.markets.get(m.id)!, pos, snap.timestamp);
            if (value <= 0n) continue;
            const s = book.summary(snap, id);
            if (s.equity <= 0n) continue;
            ranked.push({ id, score: mulDivDown(value, s.notional, s.equity) });
          }
          if (ranked.length === 0) continue;
          ranked.sort((x, y) => (x.score > y.score ? -1 : x.score < y.score ? 1 : x.id < y.id ? -1 : 1));
          const ids = ranked.slice(0, 100).map((r) => r.id);
          c.adlRuns++;
          const data = I.liquidationEngine.encodeFunctionData("autoDeleverage", [m.id, bankruptLong, ids]);
          const r = await chain.send(operator, addr.liquidationEngine, data, TX_GAS_CAP);
          if (!r.ok) c.adlFailures++;
        }
      }
    }
  } catch (e) {
    await close();
    throw e;
  }
}
