/**
 * The monitor's view of the chain, built from the keeper's own parts: the event-followed account book
 * (scripts/keeper/book.ts, follower.ts), the one-batch market read with every market accrued to the
 * block (chainView.ts), plus the insurance fund's coverable assets and each feed's recent rounds.
 */
import { Contract, type Provider } from "ethers";

import type { Deployment } from "../../deploy/deployment.js";
import { InsuranceFund__factory } from "../../types/ethers-contracts/factories/contracts/insurance/InsuranceFund__factory.js";
import { AccountBook } from "../keeper/book.js";
import { readChainView } from "../keeper/chainView.js";
import { type ProtocolContracts, bindContracts, rereadAccounts } from "../keeper/contracts.js";
import { EventFollower } from "../keeper/follower.js";
import { type Logger, silentLogger } from "../keeper/logger.js";
import type { MonitorState, UnpricedMarket } from "./exposure.js";
import type { PricePoint } from "./stats.js";

const ROUND_ABI_READ = [
  "function latestRoundData() view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)",
  "function getRoundData(uint80 id) view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)",
  "function decimals() view returns (uint8)",
];

export type ChainSourceOptions = {
  provider: Provider;
  deployment: Deployment;
  logger?: Logger;
  logRangeBlocks?: number;
  /** oracle rounds read back per market at start-up for the return history */
  historyRounds?: number;
};

/** A feed's round, for the history and to tell a new oracle round. */
export type Round = { marketId: number; roundId: bigint; updatedAt: number; price: number };

export class ChainSource {
  readonly contracts: ProtocolContracts;
  private book: AccountBook | undefined;
  private follower: EventFollower | undefined;
  private readonly feedIds: Map<number, string>;
  readonly history = new Map<number, PricePoint[]>();
  private readonly lastRound = new Map<number, bigint>();
  private readonly feeds: { marketId: number; feed: Contract; decimals: number }[] = [];
  scale = 0n;

  constructor(private readonly o: ChainSourceOptions) {
    this.contracts = bindContracts(o.deployment, o.provider);
    this.feedIds = new Map(o.deployment.markets.map((m) => [m.id, m.feedId]));
  }

  private async init(): Promise<void> {
    if (this.book) return;
    this.scale = await this.contracts.vault.SCALE();
    this.book = new AccountBook(this.scale);
    for (const f of this.contracts.feeds) {
      const feed = new Contract(await f.aggregator.getAddress(), ROUND_ABI_READ, this.o.provider);
      this.feeds.push({ marketId: f.marketId, feed, decimals: Number(await feed.decimals()) });
    }
    const d = this.o.deployment;
    this.follower = new EventFollower({
      provider: this.o.provider,
      addresses: {
        engine: d.contracts.engine,
        vault: d.contracts.vault,
        liquidationEngine: d.contracts.liquidationEngine,
      },
      book: this.book,
      startBlock: d.startBlock,
      rangeBlocks: this.o.logRangeBlocks ?? 2_000,
      logger: this.o.logger ?? silentLogger(),
    });
    await this.readHistory(this.o.historyRounds ?? 500);
  }

  /** The book and markets at the head (or at `blockNumber`). */
  async read(blockNumber?: number): Promise<MonitorState> {
    await this.init();
    const block = await this.o.provider.getBlock(blockNumber ?? "latest");
    if (!block) throw new Error("the node returned no block");
    await this.follower!.advance(block.number);
    await this.resync(block.number);
    const view = await readChainView(this.contracts, this.feedIds, {
      number: block.number,
      timestamp: block.timestamp,
      baseFeePerGas: block.baseFeePerGas ?? null,
    });
    const fund = InsuranceFund__factory.connect(this.o.deployment.contracts.insuranceFund, this.o.provider);
    const coverable = await fund.coverable({ blockTag: block.number });
    const symbols = new Map(this.o.deployment.markets.map((m) => [m.id, m.symbol]));
    const markets = [...view.engine.markets].map(([id, snapshot]) => ({
      id,
      symbol: symbols.get(id) ?? String(id),
      snapshot,
    }));
    const priced = new Set(markets.map((m) => m.id));
    const accounts = [];
    const unpriced = new Map<number, UnpricedMarket>(
      [...view.unpriced].map(([id, reason]) => [
        id,
        { id, symbol: symbols.get(id) ?? String(id), reason, accountsLeftOut: 0, sizeLeftOut: 0n },
      ]),
    );
    for (const a of this.book!.all()) {
      // an account in an unpriced market cannot be valued (nor liquidated) now: left out, and shown
      const missing = [...a.positions.keys()].filter((id) => !priced.has(id));
      if (missing.length) {
        for (const id of missing) {
          const u = unpriced.get(id);
          if (!u) continue;
          const size = a.positions.get(id)!.size;
          u.accountsLeftOut++;
          u.sizeLeftOut += size < 0n ? -size : size;
        }
        continue;
      }
      accounts.push({ id: a.id, owner: a.owner, margin: a.margin, positions: a.positions });
    }
    if (unpriced.size) {
      this.o.logger?.warn(
        { markets: Object.fromEntries(view.unpriced) },
        "oracle read failed: these markets and their accounts are out of the forecast",
      );
    }
    return {
      blockNumber: block.number,
      timestamp: view.timestamp,
      markets,
      accounts,
      insuranceWad: coverable * this.scale,
      liquidationMargin: view.engine.liquidationMargin,
      unpriced: [...unpriced.values()],
    };
  }

  /** New oracle rounds since the last call (appended to the history). */
  async newRounds(): Promise<Round[]> {
    await this.init();
    const out: Round[] = [];
    for (const f of this.feeds) {
      const [roundId, answer, , updatedAt] = (await f.feed.latestRoundData()) as [bigint, bigint, bigint, bigint];
      if (this.lastRound.get(f.marketId) === roundId) continue;
      this.lastRound.set(f.marketId, roundId);
      const r = {
        marketId: f.marketId,
        roundId,
        updatedAt: Number(updatedAt),
        price: Number(answer) / 10 ** f.decimals,
      };
      const h = this.history.get(f.marketId) ?? [];
      if (!h.length || h[h.length - 1].t < r.updatedAt) h.push({ t: r.updatedAt, price: r.price });
      this.history.set(f.marketId, h);
      out.push(r);
    }
    return out;
  }

  /** Reads back up to `n` past rounds per feed (Chainlink round ids of one phase are consecutive). */
  private async readHistory(n: number): Promise<void> {
    for (const { marketId, feed, decimals } of this.feeds) {
      const f = { marketId };
      const points: PricePoint[] = [];
      try {
        const [latest] = (await feed.latestRoundData()) as [bigint];
        const first = latest > BigInt(n) ? latest - BigInt(n) + 1n : 1n;
        const ids: bigint[] = [];
        for (let id = first; id <= latest; id++) ids.push(id);
        const rounds = await Promise.all(ids.map((id) => feed.getRoundData(id).catch(() => undefined)));
        for (const r of rounds) {
          if (!r) continue;
          const t = Number(r[3]);
          const p = Number(r[1]) / 10 ** decimals;
          if (t > 0 && p > 0 && (!points.length || points[points.length - 1].t < t)) points.push({ t, price: p });
        }
        this.lastRound.set(f.marketId, latest);
      } catch (e) {
        this.o.logger?.warn({ market: f.marketId, err: (e as Error).message }, "could not read the feed's history");
      }
      this.history.set(f.marketId, points);
    }
  }

  /** Re-reads the accounts the book cannot vouch for. */
  private async resync(blockTag: number): Promise<void> {
    const stale = this.book!.stale();
    if (!stale.length) return;
    await rereadAccounts(
      this.book!,
      this.contracts,
      stale.map((a) => a.id),
      blockTag,
    );
  }

  /** The reference market's history (`referenceMarket`: the largest sigma, then the most open interest). */
  referenceHistory(state: MonitorState): PricePoint[] {
    return referenceHistory(this.history, state);
  }
}

/**
 * The reference market: the one whose volatility scales the forecast, the largest oracle sigma (forecast.ts
 * `sigmaMax`), so that the historic part's standardised shocks and the scale they are drawn at are the same
 * market's; of equal sigmas the one with the most open interest, long and short, valued at its price; of equal
 * ones the first (undefined with no market). Its oracle rounds are the forecast's return history, in the service
 * (`ChainSource.referenceHistory`) and in the backtest inside the replays alike. (The most open interest alone
 * chose a stablecoin's or a ratio's market on the two-market replays, whose rounds come every 30 minutes: too few
 * for the historic part, while the scale was BTC's; experiments.md, "The backtest's reference market".)
 */
export function referenceMarket(state: Pick<MonitorState, "markets">): number | undefined {
  let best: MonitorState["markets"][number] | undefined;
  let bestSigma = 0n;
  let bestOi = 0n;
  for (const m of state.markets) {
    const oi =
      ((m.snapshot.state.longOpenInterest + m.snapshot.state.shortOpenInterest) * m.snapshot.price) / 10n ** 18n;
    const sigma = m.snapshot.sigma;
    if (best === undefined || sigma > bestSigma || (sigma === bestSigma && oi > bestOi)) {
      best = m;
      bestSigma = sigma;
      bestOi = oi;
    }
  }
  return best?.id;
}

/** The reference market's rounds among every feed's (`histories`, by market id): the forecast's history. */
export function referenceHistory(
  histories: ReadonlyMap<number, PricePoint[]>,
  state: Pick<MonitorState, "markets">,
): PricePoint[] {
  const id = referenceMarket(state);
  return id === undefined ? [] : (histories.get(id) ?? []);
}
