/**
 * Follows the protocol's events into the account book: one eth_getLogs per bounded block range
 * (three contracts, twelve event kinds, one request), from the block after the last one processed up
 * to the head. A node that refuses a range as too large gets it halved until it answers. The same
 * request fetches the settler's order events for it (`also`).
 */
import type { Log, LogDescription, Provider } from "ethers";

import { IAutoDeleveraging__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IAutoDeleveraging__factory.js";
import { IBackstop__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstop__factory.js";
import { ILiquidationEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidationEngine__factory.js";
import { PerpEngine__factory } from "../../types/ethers-contracts/factories/contracts/market/PerpEngine__factory.js";
import { Vault__factory } from "../../types/ethers-contracts/factories/contracts/vault/Vault__factory.js";
import type { AccountBook } from "./book.js";
import type { Logger } from "./logger.js";
import { isTransportError } from "./rpc.js";

const engineEvents = PerpEngine__factory.createInterface();
const vaultEvents = Vault__factory.createInterface();
const liquidationEvents = ILiquidationEngine__factory.createInterface();
const backstopEvents = IBackstop__factory.createInterface();
const adlEvents = IAutoDeleveraging__factory.createInterface();

/** The events that change what the book holds, and the liquidation outcome (cooldown restarts). */
export const FOLLOWED_TOPICS: string[] = [
  engineEvents.getEvent("AccountCreated").topicHash,
  engineEvents.getEvent("PositionModified").topicHash,
  vaultEvents.getEvent("MarginDeposited").topicHash,
  vaultEvents.getEvent("MarginWithdrawn").topicHash,
  vaultEvents.getEvent("ProfitShortfall").topicHash,
  vaultEvents.getEvent("PenaltyCharged").topicHash,
  // a liquidation leg's position change, realised PnL and penalty share (no PositionModified, no PenaltyCharged)
  liquidationEvents.getEvent("TrancheLiquidated").topicHash,
  liquidationEvents.getEvent("LiquidationSettled").topicHash,
  // a takeover moves margin (the backstop fee, the keeper's reward, covered bad debt) between the
  // trader's and the backstop vault's accounts, and an unwind or a vault loss settles the vault's
  // account, with no margin event: every account a position event of that transaction touched is re-read
  backstopEvents.getEvent("AccountTakenOver").topicHash,
  backstopEvents.getEvent("BackstopUnwound").topicHash,
  backstopEvents.getEvent("BackstopLoss").topicHash,
  adlEvents.getEvent("AutoDeleveraged").topicHash,
];

const FOLLOWED = new Set(FOLLOWED_TOPICS);

export type FollowerAddresses = { engine: string; vault: string; liquidationEngine: string };

export type FollowReport = { fromBlock: number; toBlock: number; logs: number; requests: number };

export type FollowerOptions = {
  provider: Pick<Provider, "getLogs">;
  addresses: FollowerAddresses;
  book: AccountBook;
  /** first block that can hold the protocol's events (the deployment's startBlock) */
  startBlock: number;
  rangeBlocks: number;
  logger: Logger;
  /** an account's tranche was liquidated (by anyone): its cooldown restarted */
  onSettled?: (accountId: bigint, blockNumber: number) => void;
  /**
   * positions were moved by force without a tranche (a takeover, an unwind, a backstop loss, an
   * auto-deleveraging) in `blockNumber`, by anyone: what the breaker's triggers read (open interest,
   * the insurance fund, liquidation pressure) may have moved with them
   */
  onForced?: (blockNumber: number) => void;
  /**
   * a forced trade of the protocol in `blockNumber`: a liquidation leg (`TrancheLiquidated`, the trader's
   * `sizeDelta` at its fill price) or a sale of the backstop vault's unwind (`BackstopUnwound`, the vault's
   * `sizeDelta` at the oracle price); a negative `sizeDelta` is a sale. What the replay's impact model counts
   * (the keeper's experimental own-impact mark reads it: ownImpactMark.ts)
   */
  onForcedTrade?: (marketId: number, sizeDelta: bigint, price: bigint, blockNumber: number) => void;
  /**
   * Another reader's events, fetched in the same request (one eth_getLogs where there were two): the
   * logs of `address` whose first topic is one of `topics` go to `take` with the range they cover, the
   * follower applying only its own. The settler's order events (settler.ts) come this way.
   */
  also?: { address: string; topics: string[]; take: (logs: Log[], fromBlock: number, toBlock: number) => void };
};

export class EventFollower {
  /** last block whose events are in the book */
  lastBlock: number;
  /** the accounts the position events of the latest transaction touched (for the backstop's events) */
  private touched: { tx: string; ids: Set<bigint> } = { tx: "", ids: new Set() };
  private range: number;
  /** The interfaces to parse a contract's logs with: the engine's address serves the liquidation
   *  engine too (its modules emit there), so it has both. */
  private readonly byAddress = new Map<
    string,
    (typeof engineEvents | typeof vaultEvents | typeof liquidationEvents | typeof backstopEvents | typeof adlEvents)[]
  >();

  /** the request's addresses and topics, the other reader's included */
  private readonly addresses: string[];
  private readonly topics: string[];
  private readonly alsoTopics: Set<string>;

  constructor(private readonly o: FollowerOptions) {
    this.lastBlock = o.startBlock - 1;
    this.range = o.rangeBlocks;
    const own = [o.addresses.engine, o.addresses.vault, o.addresses.liquidationEngine];
    const also = o.also;
    this.alsoTopics = new Set(also?.topics ?? []);
    this.addresses =
      also && !own.some((a) => a.toLowerCase() === also.address.toLowerCase()) ? [...own, also.address] : own;
    this.topics = [...FOLLOWED_TOPICS, ...(also?.topics ?? []).filter((t) => !FOLLOWED_TOPICS.includes(t))];
    for (const [address, iface] of [
      [o.addresses.engine, engineEvents],
      [o.addresses.vault, vaultEvents],
      [o.addresses.liquidationEngine, liquidationEvents],
      [o.addresses.liquidationEngine, backstopEvents],
      [o.addresses.liquidationEngine, adlEvents],
    ] as const) {
      const key = address.toLowerCase();
      this.byAddress.set(key, [...(this.byAddress.get(key) ?? []), iface]);
    }
  }

  /** Applies every followed event in (lastBlock, head] to the book. */
  async advance(head: number): Promise<FollowReport | undefined> {
    if (head <= this.lastBlock) return undefined;
    const report: FollowReport = { fromBlock: this.lastBlock + 1, toBlock: head, logs: 0, requests: 0 };
    while (this.lastBlock < head) {
      const from = this.lastBlock + 1;
      const to = Math.min(head, from + this.range - 1);
      let logs: Log[];
      try {
        report.requests += 1;
        logs = await this.o.provider.getLogs({
          address: this.addresses,
          topics: [this.topics],
          fromBlock: from,
          toBlock: to,
        });
      } catch (e) {
        if (isTransportError(e) || this.range === 1) throw e;
        this.range = Math.max(1, Math.floor(this.range / 2));
        this.o.logger.warn({ from, to, range: this.range, err: (e as Error).message }, "log range refused; halving");
        continue;
      }
      const also = this.o.also;
      const theirs: Log[] = [];
      for (const log of logs) {
        if (also && this.alsoTopics.has(log.topics[0]) && log.address.toLowerCase() === also.address.toLowerCase()) {
          theirs.push(log);
          if (!FOLLOWED.has(log.topics[0])) continue;
        }
        this.apply(log);
        report.logs += 1;
      }
      also?.take(theirs, from, to);
      this.lastBlock = to;
    }
    return report;
  }

  private apply(log: Log): void {
    let ev: LogDescription | null = null;
    for (const iface of this.byAddress.get(log.address.toLowerCase()) ?? []) {
      try {
        ev = iface.parseLog({ topics: [...log.topics], data: log.data });
      } catch {
        ev = null;
      }
      if (ev) break;
    }
    if (!ev) return;
    const a = ev.args;
    const book = this.o.book;
    switch (ev.name) {
      case "AccountCreated":
        book.accountCreated(a.accountId as bigint, a.owner as string);
        break;
      case "PositionModified":
        if (this.touched.tx !== log.transactionHash) this.touched = { tx: log.transactionHash, ids: new Set() };
        this.touched.ids.add(a.accountId as bigint);
        book.positionModified({
          accountId: a.accountId,
          marketId: Number(a.marketId),
          sizeDelta: a.sizeDelta,
          newSize: a.newSize,
          fillPrice: a.fillPrice,
          fee: a.fee,
          realisedPnl: a.realisedPnl,
          fundingIndex: a.fundingIndex,
        });
        break;
      case "TrancheLiquidated":
        if (this.touched.tx !== log.transactionHash) this.touched = { tx: log.transactionHash, ids: new Set() };
        this.touched.ids.add(a.accountId as bigint);
        book.trancheLeg({
          accountId: a.accountId,
          marketId: Number(a.marketId),
          sizeDelta: a.sizeDelta,
          newSize: a.newSize,
          fillPrice: a.fillPrice,
          realisedPnl: a.realisedPnl,
          penalty: a.penalty,
        });
        this.o.onForcedTrade?.(Number(a.marketId), a.sizeDelta as bigint, a.fillPrice as bigint, log.blockNumber);
        break;
      case "MarginDeposited":
        book.marginDeposited(a.accountId, a.amount);
        break;
      case "MarginWithdrawn":
        book.marginWithdrawn(a.accountId, a.amount);
        break;
      case "ProfitShortfall":
        book.profitShortfall(a.accountId, a.owedWad, a.paidWad);
        break;
      case "PenaltyCharged":
        book.penaltyCharged(a.accountId, a.keeperWad, a.insuranceWad);
        break;
      case "LiquidationSettled":
        book.settled(a.accountId as bigint);
        this.o.onSettled?.(a.accountId as bigint, log.blockNumber);
        break;
      case "AccountTakenOver":
        book.markStale(a.accountId as bigint);
        this.markTouchedStale(log.transactionHash);
        this.o.onForced?.(log.blockNumber);
        break;
      case "BackstopUnwound":
        this.o.onForcedTrade?.(Number(a.marketId), a.sizeDelta as bigint, a.price as bigint, log.blockNumber);
        this.markTouchedStale(log.transactionHash);
        this.o.onForced?.(log.blockNumber);
        break;
      case "BackstopLoss":
        this.markTouchedStale(log.transactionHash);
        this.o.onForced?.(log.blockNumber);
        break;
      case "AutoDeleveraged":
        // the position event before it moved the account in the book; nothing more to apply
        this.o.onForced?.(log.blockNumber);
        break;
    }
  }

  /** The backstop's events follow the position events of their transaction (the takeover's two legs,
   *  the unwind's reduction): those accounts' margins moved with no event of their own. */
  private markTouchedStale(tx: string): void {
    if (this.touched.tx !== tx) return;
    for (const id of this.touched.ids) this.o.book.markStale(id);
  }
}
