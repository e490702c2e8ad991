/**
 * One scenario of the lab run exactly, on a copy of the chain: an in-process fork of the monitored
 * node at the forecast's block (Hardhat's `forking`), so nothing reaches the real chain. There the
 * scenario's joint move is walked in steps with the crash replay's own parts: its `Chain` (every
 * transaction mined at the step's time, views at that time), its `ImpactModel` (the same depth as the
 * fast lab and the replay's 600 s half-life) and its keeper service (`ServiceKeeper`, the keeper of
 * scripts/keeper as the replay runs it: liquidations worst first in tranches through the contract,
 * the breaker pokes and the volatility pokes, auto-deleveraging when it holds the role). At each step
 * every market's feed gets a round at its price times the path's factor, displaced by the impact of
 * the liquidations so far; the keeper ticks; its `TrancheLiquidated` closes are read from the step's
 * logs and sold into the impact model. The contract decides every tranche, backstop, cooldown and
 * capacity window, and the breaker's own triggers move its level (recorded per step). The fork's
 * feeds must be writable (the mock aggregators of a local deployment).
 *
 * What it does not run: the replay's trader population (the book is the chain's own), and it is not
 * `runReplay` itself, whose setup deploys a fresh protocol and population (docs/architecture.md,
 * "One scenario exactly"). The result is set beside the fast lab's answer for the same scenario,
 * whose cascade sells everything liquidatable at once.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, Interface, Wallet, id } from "ethers";
import type { EthereumProvider } from "hardhat/types/providers";

import type { Deployment } from "../../deploy/deployment.js";
import { WAD } from "../lib/math/fixedPoint.js";
import { Chain } from "../replay/chain.js";
import { chainRunner } from "../replay/contracts.js";
import { ImpactModel } from "../replay/impact.js";
import { ServiceKeeper } from "../replay/serviceKeeper.js";
import { ILiquidationEngine__factory, PerpEngine__factory } from "../../types/ethers-contracts/index.js";
import { ChainSource } from "./chain.js";
import type { RunawayTest } from "./cascade.js";
import { cascadeMarkets } from "./forecast.js";
import { kOfMove } from "./ladder.js";
import { type Scenario, type ScenarioResult, runScenarios } from "./scenarios.js";

const FEED_ABI = [
  "function pushRound(int256 answer, uint256 updatedAt) returns (uint80)",
  "function decimals() view returns (uint8)",
];
const EVENTS = new Interface([
  "event TrancheLiquidated(uint256 indexed accountId, uint256 indexed marketId, address indexed keeper, int256 sizeDelta, int256 newSize, uint256 fillPrice, int256 realisedPnl, uint256 penalty, uint256 keeperReward, uint256 badDebtCovered, uint256 badDebtSocialised)",
  "event BadDebtIncurred(uint256 indexed accountId, uint256 indexed marketId, uint256 amountWad)",
]);
/** the exact run's keeper: a fixed key of its own, funded on the fork (liquidations and pokes are permissionless) */
const KEEPER_KEY = id("risk monitor exact run keeper");

export type ExactStep = {
  t: number;
  /** the path's exogenous move so far, WAD */
  move: bigint;
  /** the oracle's move from the start of the reference market (first market), WAD */
  oracleMove: bigint;
  tranches: number;
  liquidatedNotional: bigint;
  /** the breaker's highest market level after the step (0 without a breaker) */
  level: number;
};

export type ExactResult = {
  scenario: Scenario;
  block: number;
  steps: ExactStep[];
  tranches: number;
  accountsLiquidated: number;
  liquidatedNotional: bigint;
  badDebt: bigint;
  /** largest oracle move from the start over the run (in the scenario's direction), WAD */
  maxOracleMove: bigint;
  /** the breaker's highest level over the run, and the keeper service's breaker and volatility pokes */
  maxLevel: number;
  pokes: { breaker: number; volatility: number };
  /** the fast lab's answer for the same scenario on the same book */
  fast: ScenarioResult;
  seconds: number;
};

export type ExactOptions = {
  /** ethers and provider of the forked network (a copy of the chain: nothing is sent to the real one),
   * created with `allowBlocksWithSameTimestamp` (every transaction of a step is mined at its time) */
  ethers: HardhatEthers;
  provider: EthereumProvider;
  deployment: Deployment;
  scenario: Scenario;
  /** steps the move is walked in (default 30) and seconds between them (default 60) */
  steps?: number;
  stepSeconds?: number;
  /** impact half-life, seconds (default 600, the replay's) */
  halfLifeSeconds?: number;
  maxImpactWad?: bigint;
  /** what the fast lab beside it calls a runaway (cascade.ts RunawayTest; default divergence) */
  runaway?: RunawayTest;
  log?: (line: string) => void;
};

/** Runs `scenario` exactly on the fork (see the file comment). A depeg or lag is not walked: refused. */
export async function runExact(o: ExactOptions): Promise<ExactResult> {
  const started = performance.now();
  const sc = o.scenario;
  if (sc.depeg !== 0n || sc.lag !== 0n) {
    throw new Error(`scenario ${sc.id}: the exact run walks a joint price move only (no depeg, no lag)`);
  }
  const { ethers } = o;
  const nSteps = o.steps ?? 30;
  const dt = o.stepSeconds ?? 60;
  const source = new ChainSource({ provider: ethers.provider, deployment: o.deployment, historyRounds: 0 });
  const state0 = await source.read();
  const fast = runScenarios(state0, [sc], { maxImpactWad: o.maxImpactWad, runaway: o.runaway })[0];
  const depths = cascadeMarkets(state0, sc.depthBps);
  const impact = new ImpactModel(depths, o.halfLifeSeconds ?? 600, o.maxImpactWad ?? (9n * WAD) / 10n);
  const index = new Map(state0.markets.map((m, i) => [m.id, i]));
  const feeds = await Promise.all(
    source.contracts.feeds
      .filter((f) => index.has(f.marketId))
      .map(async (f) => {
        const feed = new Contract(await f.aggregator.getAddress(), FEED_ABI, ethers.provider);
        return { marketId: f.marketId, feed, unit: 10n ** (18n - BigInt(await feed.decimals())) };
      }),
  );
  const chain = new Chain(o.provider);
  chain.setTime(Number(state0.timestamp));
  const keeperWallet = new Wallet(KEEPER_KEY);
  await chain.rpc("hardhat_setBalance", [keeperWallet.address, "0x56bc75e2d63100000"]);
  const runner = chainRunner(chain);
  const c = {
    engine: PerpEngine__factory.connect(o.deployment.contracts.engine, runner),
    liquidationEngine: ILiquidationEngine__factory.connect(o.deployment.contracts.engine, runner),
  };
  const keeper = new ServiceKeeper({
    chain,
    keeper: keeperWallet.address,
    keeperKey: KEEPER_KEY,
    deployment: o.deployment,
    markets: state0.markets.map((m) => ({ id: m.id })),
    c,
    batchSize: 50,
  });
  const pusher = (await ethers.getSigners())[0];
  const breaker = source.contracts.breaker;
  const engineAddress = o.deployment.contracts.engine.toLowerCase();
  const liqAddress = o.deployment.contracts.liquidationEngine.toLowerCase();
  const down = sc.direction === "down";
  const ref = state0.markets[0];
  const steps: ExactStep[] = [];
  const liquidated = new Set<bigint>();
  let tranches = 0;
  let notionalTotal = 0n;
  let badDebt = 0n;
  let maxOracleMove = 0n;
  let maxLevel = 0;
  // the move walked linearly, then held for as many steps again so the cascade can play out
  for (let s = 1; s <= 2 * nSteps; s++) {
    const move = (sc.shock * BigInt(Math.min(s, nSteps))) / BigInt(nSteps);
    chain.setTime(chain.time + dt);
    await chain.mine();
    const fromBlock = await chain.blockNumber();
    impact.decay(dt);
    const t = chain.time;
    const prices = new Map<number, bigint>();
    for (const f of feeds) {
      const i = index.get(f.marketId)!;
      const base = (state0.markets[i].snapshot.price * kOfMove(sc.direction, move)) / WAD;
      const price = (base * (WAD + impact.impact[i])) / WAD;
      prices.set(f.marketId, price);
      const tx = (f.feed as Contract).getFunction("pushRound").populateTransaction(price / f.unit, BigInt(t));
      const r = await chain.exec(pusher.address, tx, 200_000);
      if (!r.ok) throw new Error(`exact run: pushRound on market ${f.marketId} reverted (is the feed writable?)`);
    }
    const refPrice = prices.get(ref.id) ?? ref.snapshot.price;
    const oracleMove = down
      ? ((ref.snapshot.price - refPrice) * WAD) / ref.snapshot.price
      : ((refPrice - ref.snapshot.price) * WAD) / ref.snapshot.price;
    if (oracleMove > maxOracleMove) maxOracleMove = oracleMove;
    // the keeper service's tick: follow, scan, liquidate worst first, breaker and volatility pokes
    await keeper.tick();
    let stepTranches = 0;
    let stepNotional = 0n;
    for (const log of await chain.logs(fromBlock, [engineAddress])) {
      const addr = log.address.toLowerCase();
      if (addr !== engineAddress && addr !== liqAddress) continue;
      const parsed = EVENTS.parseLog(log);
      if (!parsed) continue;
      if (parsed.name === "BadDebtIncurred") badDebt += parsed.args.amountWad as bigint;
      if (parsed.name !== "TrancheLiquidated") continue;
      const marketId = Number(parsed.args.marketId);
      const sizeDelta = parsed.args.sizeDelta as bigint;
      const fill = parsed.args.fillPrice as bigint;
      const j = index.get(marketId);
      if (j !== undefined) impact.addTrade(j, sizeDelta, fill);
      stepNotional += ((sizeDelta < 0n ? -sizeDelta : sizeDelta) * fill) / WAD;
      stepTranches++;
      liquidated.add(parsed.args.accountId as bigint);
    }
    let level = 0;
    if (breaker) {
      for (const m of state0.markets) {
        const l = Number((await breaker.marketLevel(m.id, { blockTag: "latest" })).level);
        if (l > level) level = l;
      }
    }
    if (level > maxLevel) maxLevel = level;
    tranches += stepTranches;
    notionalTotal += stepNotional;
    steps.push({ t, move, oracleMove, tranches: stepTranches, liquidatedNotional: stepNotional, level });
    o.log?.(
      `step ${s}: move ${fmt(move)}, oracle ${fmt(oracleMove)}, ${stepTranches} position closes, $${(stepNotional / WAD).toLocaleString("en-US")}, breaker level ${level}`,
    );
  }
  const stats = await keeper.stats();
  return {
    scenario: sc,
    block: state0.blockNumber,
    steps,
    tranches,
    accountsLiquidated: liquidated.size,
    liquidatedNotional: notionalTotal,
    badDebt,
    maxOracleMove,
    maxLevel,
    pokes: { breaker: stats.breakerPokes, volatility: stats.volatilityPokes },
    fast,
    seconds: (performance.now() - started) / 1000,
  };
}

const fmt = (w: bigint) => `${(Number((w * 10_000n) / WAD) / 100).toFixed(2)}%`;

/** The exact run beside the fast lab, as a markdown table. */
export function exactTable(r: ExactResult): string {
  const usd = (w: bigint) => `$${(w / WAD).toLocaleString("en-US")}`;
  return [
    `| ${r.scenario.id} on block ${r.block} | fast lab (all at once) | exact on a fork (${r.steps.length} steps) |`,
    "| --- | --- | --- |",
    `| largest move | ${fmt(r.fast.total)} | ${fmt(r.maxOracleMove)} |`,
    `| liquidated notional | ${usd(r.fast.liquidatedNotional)} | ${usd(r.liquidatedNotional)} |`,
    `| accounts | ${r.fast.accounts} | ${r.accountsLiquidated} |`,
    `| bad debt | ${usd(r.fast.badDebt)} | ${usd(r.badDebt)} |`,
    `| breaker level (highest) | - | ${r.maxLevel} (keeper pokes: ${r.pokes.breaker} breaker, ${r.pokes.volatility} volatility) |`,
  ].join("\n");
}
