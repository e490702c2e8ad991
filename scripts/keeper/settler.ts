/**
 * Settles two-step orders (IOrders at the engine's address). The settler follows the order events
 * (OrderCommitted adds a pending order; OrderSettled, OrderRefused and OrderCancelled remove it), and
 * each tick finds, for every pending order whose window is open, the round that may fill it: the first
 * round of its market's feed with updatedAt >= committedAt + minDelay (the latest round, walked back
 * while its predecessor also qualifies). The orders with a round go out in settleOrders batches of at
 * most maxBatch, each simulated first (eth_estimateGas: a batch that would revert is not sent); the
 * contract skips an order another keeper settled first, so a race costs gas, never a revert. The
 * settlement reward goes to the keeper's claimable rewards (claimed by the claim poke).
 *
 * With `settleGasBudget` (off by default; the replay sets it) a batch is simulated with one eth_call at
 * a gas limit of `SETTLE_GAS_PER_ORDER` per order plus `SETTLE_GAS_OVERHEAD` (at most `txGasCap`), and
 * sent with that limit when the call succeeds: an estimate searches with a dozen executions of the
 * batch (about nine times the call's cost, measured in the replay). The budget is above what an order
 * costs in a batch (95,292 gas per order in a batch of 10, 194,509 for one alone: gas-snapshot.txt) and
 * above the estimate plus `gasLimitMarginPercent`, so each fill (called with 63/64 of what is left)
 * executes as it would under the estimated limit; what it costs is ether held against the limit. A
 * batch whose call fails (a revert, or a budget too small) gets the estimate as before.
 *
 * An order whose round has not come yet waits; an expired one is left (its owner's next commit replaces
 * it, or anyone may cancel it for nothing).
 */
import { Interface, type Provider } from "ethers";

import type { ChainView } from "./chainView.js";
import type { Fees } from "./fees.js";
import type { JobContext } from "./job.js";
import type { PokeReport } from "./pokers.js";
import { isTransportError } from "./rpc.js";

/** The order events and the two calls the settler makes. */
export const ORDERS_ABI = [
  "event OrderCommitted(uint256 indexed accountId, uint256 indexed marketId, int256 sizeDelta, uint256 limitPrice, uint256 escrow, uint256 settleFrom, uint256 expiresAt)",
  "event OrderSettled(uint256 indexed accountId, uint256 indexed marketId, int256 sizeDelta, uint80 roundId, uint256 roundPrice, address indexed settler, uint256 rewardPaid, uint256 delay)",
  "event OrderRefused(uint256 indexed accountId, uint256 indexed marketId, uint80 roundId, address indexed settler, uint256 rewardPaid, bytes4 reason)",
  "event OrderCancelled(uint256 indexed accountId, uint256 indexed marketId, address by)",
  "function settleOrders(uint256[] accountIds, uint80[] roundIds) returns (uint256)",
  "function orderConfig() view returns ((uint32 minDelay, uint32 maxDelay, uint128 settlementReward, bool enabled))",
];
const ordersIface = new Interface(ORDERS_ABI);
export const ORDER_TOPICS = ["OrderCommitted", "OrderSettled", "OrderRefused", "OrderCancelled"].map(
  (n) => ordersIface.getEvent(n)!.topicHash,
);
/** Gas budget of one order in a settleOrders batch under `settleGasBudget`, and of the batch itself. */
export const SETTLE_GAS_PER_ORDER = 250_000;
export const SETTLE_GAS_OVERHEAD = 100_000;

/** The gas limit a batch of `orders` is simulated and sent with under `settleGasBudget`. */
export function settleGasLimit(orders: number, txGasCap: number): bigint {
  return BigInt(Math.min(SETTLE_GAS_OVERHEAD + orders * SETTLE_GAS_PER_ORDER, txGasCap));
}

/** Rounds walked back from the latest to find the first one of a window (one or two in practice). */
const MAX_WALK_BACK = 32;

/** A pending order as the events tell it: settleFrom = committedAt + minDelay, expiresAt = + maxDelay. */
export type PendingOrder = { accountId: bigint; marketId: number; settleFrom: bigint; expiresAt: bigint };

type RoundReader = {
  getRoundData(roundId: bigint, overrides?: { blockTag?: number }): Promise<unknown[]>;
};

/**
 * The first round with updatedAt >= `from` (undefined: none yet, or not provable within MAX_WALK_BACK
 * rounds). `latest` is the feed's latest round id and updatedAt.
 */
export async function firstRoundFrom(
  feed: RoundReader,
  from: bigint,
  latest: { roundId: bigint; updatedAt: bigint },
  blockTag?: number,
): Promise<bigint | undefined> {
  if (latest.updatedAt < from) return undefined;
  let id = latest.roundId;
  for (let i = 0; i < MAX_WALK_BACK; ++i) {
    let prevAt: bigint;
    try {
      const prev = (await feed.getRoundData(id - 1n, { blockTag })) as bigint[];
      prevAt = BigInt(prev[1]) > 0n ? BigInt(prev[3]) : 0n;
    } catch (e) {
      if (isTransportError(e)) throw e;
      prevAt = 0n;
    }
    if (prevAt === 0n) return undefined; // the contract cannot prove it either
    if (prevAt < from) return id;
    id -= 1n;
  }
  return undefined;
}

export class Settler {
  readonly pending = new Map<bigint, PendingOrder>();
  lastBlock: number;

  constructor(
    private readonly o: JobContext & {
      provider: Pick<Provider, "getLogs">;
      startBlock: number;
    },
  ) {
    this.lastBlock = o.startBlock - 1;
  }

  /** order events offered by the event follower for blocks (lastBlock, offeredTo], in order, not applied yet */
  private offered: { blockNumber: number; topics: readonly string[]; data: string }[] = [];
  private offeredTo = -1;

  /**
   * Order events the event follower fetched in its own request (follower.ts, `also`) for blocks
   * [fromBlock, toBlock]: kept until `follow` reaches them, and used only where they continue what the
   * settler has read or been offered (a range after a gap is ignored: `follow` reads that part itself).
   */
  offer(
    logs: readonly { blockNumber: number; topics: readonly string[]; data: string }[],
    fromBlock: number,
    toBlock: number,
  ): void {
    const covered = Math.max(this.lastBlock, this.offeredTo);
    if (fromBlock > covered + 1 || toBlock <= covered) return;
    for (const log of logs) if (log.blockNumber > covered) this.offered.push(log);
    this.offeredTo = toBlock;
  }

  /** The address the order events come from (the engine's), for the event follower's request. */
  get address(): string {
    return this.o.contracts.engine.target as string;
  }

  /** Reads the order events up to `toBlock` into the pending set: first what was offered, then the rest. */
  async follow(toBlock: number): Promise<void> {
    if (this.offeredTo > this.lastBlock && toBlock > this.lastBlock) {
      const upTo = Math.min(toBlock, this.offeredTo);
      let k = 0;
      for (; k < this.offered.length && this.offered[k].blockNumber <= upTo; k++) this.apply(this.offered[k]);
      this.offered.splice(0, k);
      this.lastBlock = upTo;
    }
    const address = this.o.contracts.engine.target as string;
    const range = this.o.settings.logRangeBlocks;
    for (let from = this.lastBlock + 1; from <= toBlock; from += range) {
      const to = Math.min(toBlock, from + range - 1);
      const logs = await this.o.provider.getLogs({ address, topics: [ORDER_TOPICS], fromBlock: from, toBlock: to });
      for (const log of logs) this.apply(log);
      this.lastBlock = to;
    }
    this.o.metrics.pendingOrders.set(this.pending.size);
  }

  /** One order event. */
  apply(log: { topics: readonly string[]; data: string }): void {
    const ev = ordersIface.parseLog({ topics: [...log.topics], data: log.data });
    if (!ev) return;
    const accountId = BigInt(ev.args[0]);
    if (ev.name === "OrderCommitted") {
      this.pending.set(accountId, {
        accountId,
        marketId: Number(ev.args[1]),
        settleFrom: BigInt(ev.args[5]),
        expiresAt: BigInt(ev.args[6]),
      });
    } else {
      this.pending.delete(accountId);
      if (ev.name !== "OrderCancelled")
        this.o.metrics.orders.inc({ outcome: ev.name === "OrderSettled" ? "settled" : "refused" });
    }
  }

  /** The orders whose round has come at `view`, with it. */
  async due(view: ChainView): Promise<{ ids: bigint[]; rounds: bigint[] }> {
    const ids: bigint[] = [];
    const rounds: bigint[] = [];
    const latest = new Map<number, { roundId: bigint; updatedAt: bigint }>();
    for (const o of this.pending.values()) {
      if (view.timestamp > o.expiresAt || this.o.tx.hasKey(`settle:${o.accountId}`)) continue;
      const feed = this.o.contracts.feeds.find((f) => f.marketId === o.marketId);
      if (!feed) continue;
      let l = latest.get(o.marketId);
      if (!l) {
        const r = await feed.aggregator.latestRoundData({ blockTag: view.blockNumber });
        l = { roundId: BigInt(r[0]), updatedAt: BigInt(r[3]) };
        latest.set(o.marketId, l);
      }
      const round = await firstRoundFrom(feed.aggregator as unknown as RoundReader, o.settleFrom, l, view.blockNumber);
      if (round === undefined) continue;
      ids.push(o.accountId);
      rounds.push(round);
    }
    return { ids, rounds };
  }

  /** Settles what is due, in simulated batches. */
  async run(view: ChainView, fees: () => Promise<Fees | undefined>): Promise<PokeReport[]> {
    await this.follow(view.blockNumber);
    const { ids, rounds } = await this.due(view);
    const reports: PokeReport[] = [];
    const to = this.o.contracts.engine.target as string;
    for (let i = 0; i < ids.length; i += this.o.settings.maxBatch) {
      const batch = ids.slice(i, i + this.o.settings.maxBatch);
      const data = ordersIface.encodeFunctionData("settleOrders", [batch, rounds.slice(i, i + batch.length)]);
      const key = `settle:${batch[0]}`;
      const gasLimit = await this.gasLimit(to, data, batch.length);
      if (gasLimit === undefined) {
        this.o.logger.debug({ accounts: batch.map(String) }, "settleOrders would revert; not sent");
        continue;
      }
      const report: PokeReport = { kind: "settle", key, reason: `${batch.length} orders due`, sent: false };
      reports.push(report);
      if (this.o.settings.dryRun) continue;
      const f = await fees();
      if (!f) continue;
      const tx = await this.o.tx.submit(
        { kind: "settle", key, to, data, gasLimit, accounts: batch },
        f,
        view.blockNumber,
      );
      if (!tx) continue;
      report.sent = true;
      report.hash = tx.hashes[0];
      this.o.metrics.transactions.inc({ kind: "settle", outcome: "sent" });
      this.o.logger.info({ orders: batch.length, hash: report.hash, nonce: tx.nonce }, "orders settled");
      if (this.o.tx.count() >= this.o.settings.maxPendingTxs) break;
    }
    return reports;
  }

  /**
   * The limit a batch is sent with: the budget when `settleGasBudget` and one eth_call at it succeeds,
   * else the estimate plus the margin; undefined when the batch would revert.
   */
  private async gasLimit(to: string, data: string, orders: number): Promise<bigint | undefined> {
    const s = this.o.settings;
    if (s.settleGasBudget) {
      const budget = settleGasLimit(orders, s.txGasCap);
      if (await this.o.tx.fits(to, data, budget)) return budget;
    }
    try {
      const gas = await this.o.tx.estimate(to, data);
      return (gas * BigInt(100 + s.gasLimitMarginPercent)) / 100n;
    } catch (e) {
      if (isTransportError(e)) throw e;
      return undefined;
    }
  }
}
