/**
 * A crash replay on a forked chain. The history comes from the real feed on the fork (readRounds at
 * the feed's mainnet address); the protocol is deployed on the fork with deployProtocol; the rounds
 * are then replayed into the MockAggregator that deployProtocol gave the market, because the fork's
 * real feed cannot be written. The oracle adapter is also pointed at the real feed (under a feed id
 * of its own, not the market's), which shows the protocol's validated read accepts that aggregator
 * and returns the last round read.
 *
 * The loop is deliberately minimal (no impact model, no population generator: that is the replay
 * engine's job): a few long accounts at rising leverage, then for every round: set the block time,
 * push the round, update the volatility estimate, poke the breaker, and liquidate whatever
 * liquidatableAccounts lists, one liquidateBatch per round.
 *
 * Times: the rounds are years old while the fork's clock is at the pinned block or later, and a
 * chain's time only moves forward, so each round is replayed at its own time plus one shift (the
 * same for all rounds: gaps between rounds are kept).
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { encodeBytes32String } from "ethers";

import { DEFAULT_MAX_FUNDING_RATE, DEFAULT_RISK, WAD, type MarketSpec } from "../../../deploy/params.js";
import { deployProtocol } from "../../../deploy/protocol.js";
import type { PricePoint } from "../types.js";
import { walkRounds, type FeedRound } from "./rounds.js";
import type { ForkTarget } from "./targets.js";

const USDC_UNIT = 10n ** 6n;
const MAX_UINT = 2n ** 256n - 1n;
const MARKET_ID = 0;

export type ForkReplayOptions = {
  /** ethers of the forked network connection */
  ethers: HardhatEthers;
  target: ForkTarget;
  /** leverage of each trader's long position at the first round (default 3, 5, 8, 12, 20, 30) */
  leverages?: number[];
  /** margin per trader, whole USDC (default 10,000) */
  marginUsdc?: bigint;
  /** replay only the first N rounds read (default: all) */
  maxRounds?: number;
  /** progress lines */
  log?: (line: string) => void;
};

export type ForkReplayStep = {
  /** the round's own time (unix seconds, before the shift) */
  t: number;
  priceWad: bigint;
  level: number;
  /** accounts liquidatableAccounts listed before the batch */
  liquidatable: number;
  /** tranches liquidateBatch executed */
  tranches: number;
  trancheNotionalWad: bigint;
};

export type ForkReplayResult = {
  feed: { address: string; decimals: number; description: string; latestRoundId: bigint; calls: number };
  /** what readRounds read from the real feed over the window, oldest first */
  rounds: PricePoint[];
  roundIds: bigint[];
  /** seconds added to every round's time on the fork */
  timeShift: number;
  forkBlock: number;
  protocol: { engine: string; oracle: string; liquidationEngine: string; marketFeed: string };
  /** the adapter's read of the real feed under its own feed id */
  sourceFeed: { feedId: string; latestPriceWad: bigint; matchesLastRoundRead: boolean };
  accounts: { id: bigint; leverage: number; sizeWad: bigint; tranches: number; finalSizeWad: bigint }[];
  steps: ForkReplayStep[];
  tranches: number;
  liquidatedNotionalWad: bigint;
  accountsLiquidated: number;
  keeperRewardsWad: bigint;
  minPriceWad: bigint;
  maxLevel: number;
};

/** A market for a feed priced near 1 (both fork targets are pegged assets). */
function forkMarket(target: ForkTarget): MarketSpec {
  return {
    id: MARKET_ID,
    symbol: target.symbol,
    initialPriceUsd: 1n,
    feedDecimals: target.decimals,
    // rounds are pushed at their own (shifted) times, and daily-heartbeat feeds are ~24h apart
    heartbeat: 25 * 3600,
    volWindow: 6 * 3600,
    initialSigma: WAD / 10n,
    skewScale: 100_000_000n * WAD,
    maxOpenInterest: 10_000_000n * WAD,
    maxTradeSize: 1_000_000n * WAD,
    maxFundingRatePerSecond: DEFAULT_MAX_FUNDING_RATE,
    risk: DEFAULT_RISK,
  };
}

export async function replayOnFork(opts: ForkReplayOptions): Promise<ForkReplayResult> {
  const { ethers, target } = opts;
  const log = opts.log ?? (() => {});
  const provider = ethers.provider;
  const forkBlock = await provider.getBlockNumber();

  // 1. History, from the real feed's address on the fork.
  const walk = await walkRounds(provider, target.feed, target.window.from, target.window.to);
  if (walk.rounds.length === 0) throw new Error(`${target.feed} has no round in the window of ${target.event}`);
  if (walk.decimals !== target.decimals) {
    throw new Error(`${target.feed} answers with ${walk.decimals} decimals, the catalogue says ${target.decimals}`);
  }
  log(`read ${walk.rounds.length} rounds of ${walk.description || target.feed} in ${walk.calls} calls`);
  const replayed = walk.rounds.slice(0, opts.maxRounds ?? walk.rounds.length);

  // 2. The protocol, with a mock feed for the market.
  const signers = await ethers.getSigners();
  const [admin, lp, keeper] = signers;
  const traders = signers.slice(3);
  const leverages = opts.leverages ?? [3, 5, 8, 12, 20, 30];
  if (traders.length < leverages.length) throw new Error(`${leverages.length} traders need more signers`);
  const spec = forkMarket(target);
  const p = await deployProtocol(ethers, {
    admin: admin.address,
    governor: admin.address,
    guardian: admin.address,
    markets: [spec],
  });
  const marketFeed = p.feeds.get(MARKET_ID);
  if (!marketFeed) throw new Error("deployProtocol gave the market no feed");
  const marketFeedId = (await p.engine.marketConfig(MARKET_ID)).feedId;

  // The real feed, read by the adapter itself (validated: positive, complete, not from the future).
  const sourceFeedId = encodeBytes32String(`${target.symbol}/${target.quote}:fork`);
  await (await p.oracle.setFeed(sourceFeedId, target.feed, 3 * 86_400, spec.volWindow, spec.initialSigma)).wait();
  const [sourcePrice] = await p.oracle.latestPrice(sourceFeedId);
  const lastRead = walk.rounds[walk.rounds.length - 1];

  // 3. Liquidity, insurance and traders.
  const vaultAddress = await p.vault.getAddress();
  await (await p.usdc.mint(lp.address, 20_000_000n * USDC_UNIT)).wait();
  await (await p.usdc.connect(lp).approve(vaultAddress, MAX_UINT)).wait();
  await (await p.usdc.connect(lp).approve(await p.insuranceFund.getAddress(), MAX_UINT)).wait();
  await (await p.vault.connect(lp).deposit(5_000_000n * USDC_UNIT, lp.address)).wait();
  await (await p.insuranceFund.connect(lp).deposit(500_000n * USDC_UNIT, lp.address)).wait();

  const head = await provider.getBlock("latest");
  if (!head) throw new Error("fork has no latest block");
  const timeShift = Math.max(0, head.timestamp + 600 - replayed[0].updatedAt);
  // Every transaction mines a block, so the next block's time is read from the chain each time.
  const nextBlockAt = async (t: number) => {
    const latest = await provider.getBlock("latest");
    await provider.send("evm_setNextBlockTimestamp", [Math.max(t, (latest?.timestamp ?? 0) + 1)]);
  };

  const pushRound = async (round: FeedRound) => {
    const at = round.updatedAt + timeShift;
    await nextBlockAt(at);
    await (await marketFeed.pushRound(round.answer, at)).wait();
  };

  await pushRound(replayed[0]);
  const margin = (opts.marginUsdc ?? 10_000n) * USDC_UNIT;
  const priceWad0 = replayed[0].priceWad;
  const accounts: ForkReplayResult["accounts"] = [];
  for (const [i, leverage] of leverages.entries()) {
    const trader = traders[i];
    await (await p.usdc.mint(trader.address, margin)).wait();
    await (await p.usdc.connect(trader).approve(vaultAddress, MAX_UINT)).wait();
    const id = await p.engine.nextAccountId();
    await (await p.engine.connect(trader).createAccount()).wait();
    await (await p.engine.connect(trader).deposit(id, margin)).wait();
    // notional = margin * leverage; margin in WAD is the token amount scaled to 18 decimals
    const notionalWad = (margin * 10n ** 12n * BigInt(Math.round(leverage * 100))) / 100n;
    const sizeWad = (notionalWad * WAD) / priceWad0;
    await (await p.engine.connect(trader).modifyPosition(id, MARKET_ID, sizeWad, MAX_UINT)).wait();
    accounts.push({ id, leverage, sizeWad, tranches: 0, finalSizeWad: sizeWad });
  }
  log(`opened ${accounts.length} long accounts at ${leverages.join(", ")}x`);

  // 4. Replay.
  const steps: ForkReplayStep[] = [];
  const tranchesOf = new Map<bigint, number>();
  const liquidationEngine = p.liquidationEngine;
  for (const [i, round] of replayed.entries()) {
    if (i > 0) await pushRound(round);
    await nextBlockAt(0);
    await (await p.oracle.updateVolatility(marketFeedId, 64)).wait();
    let level = 0;
    if (p.breaker) {
      await nextBlockAt(0);
      await (await p.breaker.poke(MARKET_ID)).wait();
      level = Number((await p.breaker.marketLevel(MARKET_ID)).level);
    }
    const next = await p.engine.nextAccountId();
    const ids = await liquidationEngine.liquidatableAccounts(1n, next);
    let tranches = 0;
    let notional = 0n;
    if (ids.length > 0) {
      await nextBlockAt(0);
      const receipt = await (await liquidationEngine.connect(keeper).liquidateBatch([...ids])).wait();
      for (const entry of receipt?.logs ?? []) {
        const parsed = liquidationEngine.interface.parseLog(entry);
        if (parsed?.name !== "LiquidationSettled") continue;
        tranches++;
        notional += parsed.args.trancheNotional as bigint;
        const id = parsed.args.accountId as bigint;
        tranchesOf.set(id, (tranchesOf.get(id) ?? 0) + 1);
      }
    }
    steps.push({
      t: round.updatedAt,
      priceWad: round.priceWad,
      level,
      liquidatable: ids.length,
      tranches,
      trancheNotionalWad: notional,
    });
  }

  for (const a of accounts) {
    a.tranches = tranchesOf.get(a.id) ?? 0;
    a.finalSizeWad = (await p.engine.position(a.id, MARKET_ID)).size;
  }
  const result: ForkReplayResult = {
    feed: {
      address: target.feed,
      decimals: walk.decimals,
      description: walk.description,
      latestRoundId: walk.latestRoundId,
      calls: walk.calls,
    },
    rounds: walk.rounds.map((r) => ({ t: r.updatedAt, priceWad: r.priceWad })),
    roundIds: walk.rounds.map((r) => r.roundId),
    timeShift,
    forkBlock,
    protocol: {
      engine: await p.engine.getAddress(),
      oracle: await p.oracle.getAddress(),
      liquidationEngine: await liquidationEngine.getAddress(),
      marketFeed: await marketFeed.getAddress(),
    },
    sourceFeed: { feedId: sourceFeedId, latestPriceWad: sourcePrice, matchesLastRoundRead: false },
    accounts,
    steps,
    tranches: steps.reduce((n, s) => n + s.tranches, 0),
    liquidatedNotionalWad: steps.reduce((n, s) => n + s.trancheNotionalWad, 0n),
    accountsLiquidated: accounts.filter((a) => a.tranches > 0).length,
    keeperRewardsWad: await p.vault.keeperRewardsOf(keeper.address),
    minPriceWad: replayed.reduce((m, r) => (r.priceWad < m ? r.priceWad : m), replayed[0].priceWad),
    maxLevel: steps.reduce((m, s) => Math.max(m, s.level), 0),
  };
  // The real feed's latest round is the last one read unless the pin is past the window's end.
  result.sourceFeed.matchesLastRoundRead = sourcePrice === lastRead.priceWad;
  log(
    `replayed ${replayed.length} rounds: ${result.tranches} tranches on ${result.accountsLiquidated} accounts, ` +
      `max level ${result.maxLevel}`,
  );
  return result;
}
