/**
 * One scenario of the lab run exactly, on a copy of the chain: an in-process fork of the monitored
 * node at the forecast's block (Hardhat's `forking`), so nothing reaches the real chain. There the
 * scenario's joint move is walked in steps: at each step every market's feed gets a round at its
 * price times the path's factor, displaced by the replay's own impact model (scripts/replay/impact.ts,
 * the same depth as the fast lab and the replay's 600 s half-life) of the liquidations so far; the
 * accounts the mirror finds liquidatable are sent to the contract's own `liquidateBatch`, and what
 * the contract did (its `TrancheLiquidated` events) is sold into the impact model. The contract
 * decides every tranche, backstop, cooldown and capacity window; the fork's feeds must be writable
 * (the mock aggregators of a local deployment).
 *
 * What it does not run: the replay's trader population and its keeper service's pokes (breaker and
 * volatility), so the breaker stays where it was; the result is set beside the fast lab's answer for
 * the same scenario, whose cascade sells everything liquidatable at once.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Contract, Interface } from "ethers";

import type { Deployment } from "../../deploy/deployment.js";
import { WAD } from "../lib/math/fixedPoint.js";
import { ImpactModel } from "../replay/impact.js";
import { ChainSource } from "./chain.js";
import { marketMap, mirrorLiquidatable } from "./exposure.js";
import { cascadeMarkets } from "./forecast.js";
import { kOfMove } from "./ladder.js";
import { type Scenario, type ScenarioResult, runScenarios } from "./scenarios.js";

const FEED_ABI = [
  "function pushRound(int256 answer, uint256 updatedAt) returns (uint80)",
  "function decimals() view returns (uint8)",
];
const EVENTS = new Interface([
  "event TrancheLiquidated(uint256 indexed accountId, uint256 indexed marketId, address indexed keeper, int256 sizeDelta, uint256 fillPrice, uint256 penalty, uint256 keeperReward, uint256 badDebtCovered, uint256 badDebtSocialised)",
  "event BadDebtIncurred(uint256 indexed accountId, uint256 indexed marketId, uint256 amountWad)",
]);
const KEEPER = "0x000000000000000000000000000000000000bEEF";

export type ExactStep = {
  t: number;
  /** the path's exogenous move so far, WAD */
  move: bigint;
  /** the oracle's move from the start of the reference market (first market), WAD */
  oracleMove: bigint;
  tranches: number;
  liquidatedNotional: bigint;
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
  /** the fast lab's answer for the same scenario on the same book */
  fast: ScenarioResult;
  seconds: number;
};

export type ExactOptions = {
  /** ethers of the forked network (a copy of the chain: nothing is sent to the real one) */
  ethers: HardhatEthers;
  deployment: Deployment;
  scenario: Scenario;
  /** steps the move is walked in (default 30) and seconds between them (default 60) */
  steps?: number;
  stepSeconds?: number;
  /** impact half-life, seconds (default 600, the replay's) */
  halfLifeSeconds?: number;
  maxImpactWad?: bigint;
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
  const fast = runScenarios(state0, [sc], { maxImpactWad: o.maxImpactWad })[0];
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
  await ethers.provider.send("hardhat_setBalance", [KEEPER, "0x56bc75e2d63100000"]);
  const keeper = await ethers.getImpersonatedSigner(KEEPER);
  const pusher = (await ethers.getSigners())[0];
  const liq = source.contracts.liquidationEngine.connect(keeper);
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
  // the move walked linearly, then held for as many steps again so the cascade can play out
  for (let s = 1; s <= 2 * nSteps; s++) {
    const move = (sc.shock * BigInt(Math.min(s, nSteps))) / BigInt(nSteps);
    await ethers.provider.send("evm_increaseTime", [dt]);
    await ethers.provider.send("evm_mine", []);
    impact.decay(dt);
    const t = (await ethers.provider.getBlock("latest"))!.timestamp;
    const prices = new Map<number, bigint>();
    for (const f of feeds) {
      const i = index.get(f.marketId)!;
      const base = (state0.markets[i].snapshot.price * kOfMove(sc.direction, move)) / WAD;
      const price = (base * (WAD + impact.impact[i])) / WAD;
      prices.set(f.marketId, price);
      await (await (f.feed.connect(pusher) as Contract).getFunction("pushRound")(price / f.unit, BigInt(t))).wait();
    }
    const refPrice = prices.get(ref.id) ?? ref.snapshot.price;
    const oracleMove = down
      ? ((ref.snapshot.price - refPrice) * WAD) / ref.snapshot.price
      : ((refPrice - ref.snapshot.price) * WAD) / ref.snapshot.price;
    if (oracleMove > maxOracleMove) maxOracleMove = oracleMove;
    const state = await source.read();
    const markets = marketMap(state);
    const due = state.accounts
      .filter((a) => a.positions.size > 0 && mirrorLiquidatable(a, markets, state.timestamp, state.liquidationMargin))
      .map((a) => a.id);
    let stepTranches = 0;
    let stepNotional = 0n;
    for (let i = 0; i < due.length; i += 50) {
      const receipt = await (await liq.liquidateBatch(due.slice(i, i + 50), { gasLimit: 15_000_000 })).wait();
      for (const log of receipt!.logs) {
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
    }
    // count each tranche once (a multi-market tranche emits one event per position)
    tranches += stepTranches;
    notionalTotal += stepNotional;
    steps.push({ t, move, oracleMove, tranches: stepTranches, liquidatedNotional: stepNotional });
    o.log?.(
      `step ${s}: move ${fmt(move)}, oracle ${fmt(oracleMove)}, ${stepTranches} position closes, $${(stepNotional / WAD).toLocaleString("en-US")}`,
    );
  }
  return {
    scenario: sc,
    block: state0.blockNumber,
    steps,
    tranches,
    accountsLiquidated: liquidated.size,
    liquidatedNotional: notionalTotal,
    badDebt,
    maxOracleMove,
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
  ].join("\n");
}
