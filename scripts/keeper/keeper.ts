/**
 * The liquidation keeper. `tick()` is one pass: follow the protocol's events into the account book,
 * collect the outcomes of sent transactions, read the markets once, evaluate every account off chain,
 * confirm the liquidatable ones with the contract, send liquidation batches worst first, flag the
 * ones it must leave waiting (cooldown, capacity: flagger.ts), then the pokes that are due. It never sleeps or sets a timer, so a simulation (the crash replay) can call it
 * once per simulated step. `start()` runs ticks until `stop()`, pausing between them and backing off
 * after failures (an RPC outage, a node restart); state survives in memory and in the checkpoint.
 */
import { performance } from "node:perf_hooks";

import { type Block, type Provider, type Signer, formatEther } from "ethers";

import type { Deployment } from "../../deploy/deployment.js";
import { AccountBook } from "./book.js";
import { type ChainView, readChainView } from "./chainView.js";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import type { KeeperSettings } from "./config.js";
import { type ProtocolContracts, bindContracts, rereadAccounts } from "./contracts.js";
import { type AccountRisk, accountRisks } from "./riskView.js";
import { type Fees, initialFees } from "./fees.js";
import { Deleverager } from "./deleverager.js";
import { Flagger } from "./flagger.js";
import { ORDER_TOPICS, Settler } from "./settler.js";
import { EventFollower, type FollowReport } from "./follower.js";
import { type LiquidationReport, Liquidator, type MinedLiquidation } from "./liquidator.js";
import type { Logger } from "./logger.js";
import type { MarketStateSnapshot } from "../lib/math/engine.js";
import { KeeperMetrics } from "./metrics.js";
import { type PokeReport, Pokers } from "./pokers.js";
import { type RpcStats, isTransportError } from "./rpc.js";
import {
  OwnImpactMark,
  type MarkSettings,
  chainMarkCap,
  heldAtChainMark,
  keptAtMark,
  keptAtMarkForSales,
  markedByChainFlows,
  vaultWouldTake,
} from "./ownImpactMark.js";
import { type ScanResult, scanAccounts } from "./scanner.js";
import type { HealthReport } from "./server.js";
import { type Refusal, TxManager } from "./txManager.js";

export type KeeperOptions = {
  provider: Provider;
  /** the keeper's account: an ethers Wallet (signs locally) or any Signer of the provider's node */
  signer: Signer;
  deployment: Deployment;
  config: KeeperSettings;
  logger: Logger;
  /** defaults to a fresh registry */
  metrics?: KeeperMetrics;
  /** request and error counts of the provider (CountingJsonRpcProvider.stats), for the metrics */
  rpcStats?: RpcStats;
  /** read the key's ether balance at every new block (metrics, /health, a warning when low) */
  watchBalance?: boolean;
  /**
   * Reads the deployment record again. Called when the keeper starts over after the node forgot
   * blocks (a restarted dev node): a redeployment there may have put the contracts elsewhere.
   */
  reloadDeployment?: () => Deployment;
  /** wall clock in ms (Date.now by default): block age and the idle-chain notice read it */
  clock?: () => number;
};

export type TickReport = {
  block: number;
  timestamp: number;
  /** false when no block was mined since the last scan: nothing was scanned or sent */
  fresh: boolean;
  follow?: FollowReport;
  accountsTracked: number;
  accountsWithPositions: number;
  liquidatable: number;
  /** with the experimental own-impact mark (`ownImpactMark`): accounts below maintenance at the oracle but
   * not at the mark, left out of this pass's liquidations (counted in `liquidatable`) */
  markSkipped?: number;
  /** with the mark's scope `sales`: accounts below maintenance at the oracle but not at the mark that were sent
   * all the same because the backstop vault would take them over (a takeover sells nothing) */
  markTakeovers?: bigint[];
  /** with the chain's own-impact mark switched on (OwnImpactModule): accounts below maintenance at the oracle that
   * the chain would hold (the vault declines them and they are not below maintenance at the marks), left out of
   * this pass's liquidations (counted in `liquidatable`) */
  heldAtMark?: number;
  /** the five worst accounts (health WAD) */
  worst: { accountId: bigint; health: bigint; backstop: boolean }[];
  liquidation?: LiquidationReport;
  /** outcomes of this keeper's liquidation batches mined since the last tick */
  mined: MinedLiquidation[];
  pokes: PokeReport[];
  /** accounts re-read from the chain because an event or a preview contradicted the book */
  resynced: number;
  pendingTxs: number;
  /** milliseconds: market reads, off-chain health of every account, pokes, the whole tick */
  readMs: number;
  scanMs: number;
  pokeMs: number;
  tickMs: number;
  /** JSON-RPC calls made by this tick (when the provider counts them) */
  rpcCalls?: number;
  /** transactions the node refused outright in this tick (not sent: nothing holds their nonce) */
  refused: Refusal[];
  dryRun: boolean;
};

/** The accounts nearest to liquidation, for an operator (the `--worst` command). */
export type RiskTable = { block: number; timestamp: bigint; withPositions: number; accounts: AccountRisk[] };

const RESYNC_PER_TICK = 200;

export class Keeper {
  readonly metrics: KeeperMetrics;
  contracts: ProtocolContracts;
  private readonly log: Logger;
  private feedIds: Map<number, string>;
  private deployment: Deployment;

  private book: AccountBook | undefined;
  private follower: EventFollower | undefined;
  private tx: TxManager | undefined;
  private liquidator: Liquidator | undefined;
  private pokers: Pokers | undefined;
  private flagger: Flagger | undefined;
  private deleverager: Deleverager | undefined;
  private settler: Settler | undefined;
  /** the experimental own-impact mark's flow book (`ownImpactMark`; rebuilt with the book) */
  private mark: OwnImpactMark | undefined;

  private ticking = false;
  private lastScannedBlock = -1;
  private lastCheckpointAt = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastOkAt = 0;
  private failures = 0;
  private lastError: string | undefined;
  private lastBlock = -1;
  /** hash of the last block whose events are in the book (stored with the checkpoint) */
  private lastHash = "";
  /** the newest block seen, and when (wall clock, ms) it was first seen */
  private head: { number: number; timestamp: number; seenAt: number } | undefined;
  /** the key's balance at the last new block (watchBalance) */
  private balance: bigint | undefined;
  /** the head block for which the keeper last said that cooldowns wait for a new block */
  private idleNoticeBlock = -1;
  /** a tick failed since the last good one (an outage, a restart): check it is still the same chain */
  private suspectReset = false;

  constructor(private readonly o: KeeperOptions) {
    this.metrics = o.metrics ?? new KeeperMetrics();
    this.log = o.logger.child({ module: "keeper" });
    this.deployment = o.deployment;
    this.contracts = bindContracts(o.deployment, o.provider);
    this.feedIds = new Map(o.deployment.markets.map((m) => [m.id, m.feedId]));
    this.metrics.blockAge(() => this.blockAgeSeconds());
  }

  /** One scan and its actions. Throws on an RPC failure; the next call carries on from where it was. */
  async tick(): Promise<TickReport> {
    if (this.ticking) throw new Error("Keeper.tick() called while a tick is still running");
    this.ticking = true;
    const started = performance.now();
    const rpcBefore = this.o.rpcStats ? { ...this.o.rpcStats } : undefined;
    try {
      if (!this.book) await this.init();
      const report = await this.pass(started);
      if (rpcBefore && this.o.rpcStats) {
        report.rpcCalls = this.o.rpcStats.requests - rpcBefore.requests;
        this.metrics.rpcCallsLastTick.set(report.rpcCalls);
      }
      this.metrics.tickSeconds.observe(report.tickMs / 1000);
      this.lastOkAt = this.now();
      this.failures = 0;
      this.lastError = undefined;
      return report;
    } catch (e) {
      this.failures++;
      this.suspectReset = true;
      this.lastError = (e as Error).message;
      this.metrics.tickFailures.inc();
      if (!this.o.rpcStats && isTransportError(e)) this.metrics.rpcErrors.inc();
      throw e;
    } finally {
      if (rpcBefore && this.o.rpcStats) {
        this.metrics.rpcRequests.inc(this.o.rpcStats.requests - rpcBefore.requests);
        this.metrics.rpcErrors.inc(this.o.rpcStats.errors - rpcBefore.errors);
      }
      this.ticking = false;
    }
  }

  /** Runs ticks until stop(); resolves when the loop has ended and the checkpoint is written. */
  start(): Promise<void> {
    if (!this.loop) {
      this.running = true;
      this.loop = this.run();
    }
    return this.loop;
  }

  /** Asks the loop to end after the current tick and waits for it. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /**
   * For /health: fine while ticks succeed and are recent and the chain's newest block is not older
   * than `maxBlockAgeSeconds` by the wall clock (a node that stopped following its chain, or a dev
   * node that mines only on transactions). `problems` says what is wrong when it is not fine.
   */
  health(): HealthReport {
    const staleAfter = Math.max(30_000, 10 * this.o.config.pollIntervalMs);
    const recent = this.lastOkAt > 0 && this.now() - this.lastOkAt < staleAfter;
    const age = this.blockAgeSeconds();
    const maxAge = this.o.config.maxBlockAgeSeconds;
    const problems: string[] = [];
    if (!recent)
      problems.push(this.lastOkAt ? `no successful tick for ${staleAfter / 1000} s` : "no successful tick yet");
    if (this.failures >= 5) problems.push(`${this.failures} ticks failed in a row`);
    if (maxAge > 0 && age !== undefined && age > maxAge) {
      problems.push(`the newest block is ${Math.round(age)} s old (bound ${maxAge} s): the chain does not move`);
    }
    if (this.balance === 0n && !this.o.config.dryRun) problems.push("the key holds no ether to pay for gas");
    return {
      ok: problems.length === 0,
      problems,
      lastBlock: this.lastBlock,
      headBlock: this.head?.number ?? null,
      blockAgeSeconds: age === undefined ? null : Math.round(age),
      maxBlockAgeSeconds: maxAge,
      balanceEth: this.balance === undefined ? null : formatEther(this.balance),
      lastTickOkAt: this.lastOkAt ? new Date(this.lastOkAt).toISOString() : null,
      consecutiveFailures: this.failures,
      lastError: this.lastError ?? null,
      accountsTracked: this.book?.size ?? 0,
      pendingTxs: this.tx?.count() ?? 0,
      dryRun: this.o.config.dryRun,
    };
  }

  /**
   * Seconds between the newest block's timestamp and the wall clock now (undefined before the first
   * tick). Negative when the chain's clock runs ahead (a dev node whose time was moved forward).
   */
  blockAgeSeconds(): number | undefined {
    return this.head === undefined ? undefined : this.now() / 1000 - this.head.timestamp;
  }

  /**
   * The `top` accounts nearest to liquidation at the newest block, with their health and
   * liquidation price: follows events first (from the checkpoint when there is one). Sends nothing.
   */
  async risks(top: number): Promise<RiskTable> {
    if (!this.book) await this.init();
    const head = await this.o.provider.getBlock("latest");
    if (!head) throw new Error("the node returned no latest block");
    await this.follower!.advance(head.number);
    await this.learnMarkets();
    const view = await readChainView(this.contracts, this.feedIds, {
      number: head.number,
      timestamp: head.timestamp,
      baseFeePerGas: head.baseFeePerGas,
    });
    const symbols = new Map(this.deployment.markets.map((m) => [m.id, m.symbol]));
    const { withPositions, accounts } = accountRisks(this.book!, view, top, symbols);
    return { block: head.number, timestamp: view.timestamp, withPositions, accounts };
  }

  /**
   * Writes the checkpoint now (when one is configured and something is known). A dry run never
   * writes it: it may run beside the live keeper of the same key, which owns the file.
   */
  writeCheckpoint(blockHash?: string): void {
    const file = this.o.config.checkpointFile;
    if (this.o.config.dryRun) return;
    if (!file || !this.book || !this.follower || this.follower.lastBlock < this.deployment.startBlock) return;
    saveCheckpoint(file, {
      version: 1,
      chainId: this.deployment.chainId,
      engine: this.deployment.contracts.engine,
      lastBlock: this.follower.lastBlock,
      lastBlockHash: blockHash ?? this.lastHash,
      savedAt: new Date().toISOString(),
      accounts: this.book.serialize(),
    });
    this.lastCheckpointAt = Date.now();
  }

  private async init(): Promise<void> {
    if (this.o.reloadDeployment) this.adopt(this.o.reloadDeployment());
    const d = this.deployment;
    if ((await this.o.provider.getCode(d.contracts.engine)) === "0x") {
      throw new Error(
        `the deployment record names engine ${d.contracts.engine}, which has no code on this chain ` +
          `(a restarted local node forgets its contracts): deploy again; the keeper re-reads the record`,
      );
    }
    const [scale, address, genesis] = await Promise.all([
      this.contracts.vault.SCALE(),
      this.o.signer.getAddress(),
      this.o.provider.getBlock(0),
    ]);
    // a new book: nothing of the old one's blocks is trusted (the checkpoint is checked below)
    this.lastHash = "";
    this.suspectReset = false;
    this.genesisHash = genesis?.hash;
    let book = new AccountBook(scale);
    let lastBlock = d.startBlock - 1;
    const file = this.o.config.checkpointFile;
    if (file) {
      const loaded = loadCheckpoint(file, { chainId: d.chainId, engine: d.contracts.engine });
      if (loaded.ok) {
        const cp = loaded.checkpoint;
        const block = await this.o.provider.getBlock(cp.lastBlock);
        if (block?.hash === cp.lastBlockHash) {
          book = AccountBook.deserialize(scale, cp.accounts);
          lastBlock = cp.lastBlock;
          this.lastHash = cp.lastBlockHash;
          this.log.info(
            { checkpoint: file, fromBlock: lastBlock + 1, startBlock: d.startBlock, accounts: book.size },
            "resuming from checkpoint",
          );
        } else {
          this.log.warn(
            { checkpoint: file, lastBlock: cp.lastBlock, startBlock: d.startBlock },
            "checkpoint does not match the chain (node reset or reorg); rescanning from startBlock",
          );
        }
      } else if (loaded.reason !== "missing") {
        this.log.warn({ checkpoint: file, reason: loaded.reason, detail: loaded.detail }, "checkpoint ignored");
      }
    }
    if (lastBlock < d.startBlock) {
      this.log.info({ startBlock: d.startBlock }, "scanning events from the deployment's startBlock");
    }
    this.metrics.resumedFromBlock.set(lastBlock + 1);
    const metrics = this.metrics;
    const logger = this.o.logger;
    const settings = this.o.config;
    const tx = new TxManager({
      provider: this.o.provider,
      signer: this.o.signer,
      address,
      chainId: BigInt(d.chainId),
      policy: {
        maxFee: settings.maxFeeGwei,
        maxPriorityFee: settings.maxPriorityFeeGwei,
        feeBumpPercent: settings.feeBumpPercent,
        stuckBlocks: settings.stuckBlocks,
      },
      logger: logger.child({ module: "tx" }),
    });
    await tx.sync();
    this.liquidator = new Liquidator({
      contracts: this.contracts,
      tx,
      settings,
      address,
      liquidatedBefore: (id) => book.get(id)?.liquidatedBefore ?? true,
      logger: logger.child({ module: "liquidator" }),
      metrics,
    });
    this.pokers = new Pokers({
      contracts: this.contracts,
      tx,
      settings,
      address,
      scale,
      logger: logger.child({ module: "pokers" }),
      metrics,
    });
    this.flagger = new Flagger({
      contracts: this.contracts,
      tx,
      settings,
      logger: logger.child({ module: "flagger" }),
      metrics,
    });
    this.deleverager = new Deleverager({
      contracts: this.contracts,
      tx,
      settings,
      address,
      scale,
      logger: logger.child({ module: "adl" }),
      metrics,
    });
    this.settler = new Settler({
      contracts: this.contracts,
      provider: this.o.provider,
      tx,
      settings,
      logger: logger.child({ module: "settler" }),
      metrics,
      // from the deployment on: a checkpoint holds no orders, and an order lives at most a day
      startBlock: d.startBlock,
    });
    const mark = settings.ownImpactMark ? new OwnImpactMark() : undefined;
    this.mark = mark;
    this.follower = new EventFollower({
      provider: this.o.provider,
      addresses: {
        engine: d.contracts.engine,
        vault: d.contracts.vault,
        liquidationEngine: d.contracts.liquidationEngine,
      },
      book,
      startBlock: d.startBlock,
      rangeBlocks: settings.logRangeBlocks,
      logger: logger.child({ module: "follower" }),
      onSettled: (id, blockNumber) => {
        this.liquidator?.settled(id);
        this.flagger?.settled(id);
        this.pokers?.settled(blockNumber);
      },
      onForced: (blockNumber) => this.pokers?.settled(blockNumber),
      ...(mark ? { onForcedTrade: mark.trade.bind(mark) } : {}),
      // the settler's order events in the same request
      also: {
        address: this.settler.address,
        topics: ORDER_TOPICS,
        take: (logs, from, to) => this.settler?.offer(logs, from, to),
      },
    });
    this.follower.lastBlock = lastBlock;
    this.tx = tx;
    this.book = book;
    this.log.info(
      { address, chainId: d.chainId, dryRun: settings.dryRun, markets: [...this.feedIds.keys()] },
      "keeper ready",
    );
  }

  /** Follows another deployment record (after a node reset and a redeployment). */
  private adopt(d: Deployment): void {
    const o = this.deployment;
    if (d.contracts.engine.toLowerCase() !== o.contracts.engine.toLowerCase() || d.startBlock !== o.startBlock) {
      this.log.warn(
        {
          engine: d.contracts.engine,
          startBlock: d.startBlock,
          was: { engine: o.contracts.engine, startBlock: o.startBlock },
        },
        "the deployment record changed; following the new deployment",
      );
    }
    this.deployment = d;
    this.contracts = bindContracts(d, this.o.provider);
    this.feedIds = new Map(d.markets.map((m) => [m.id, m.feedId]));
  }

  private now(): number {
    return this.o.clock ? this.o.clock() : Date.now();
  }

  /**
   * A restarted dev node may have grown past the block the book reached before the keeper notices
   * (a redeployment mines hundreds of blocks), so a head ahead of the book proves nothing. The next
   * block's parent hash proves continuity for free; otherwise (blocks skipped, a failed tick since)
   * the genesis block's hash tells a new chain from the same one. A reorg keeps the genesis and is
   * left to the checkpoint's hash check at the next start, as before.
   */
  private async checkSameChain(head: Block): Promise<void> {
    const reached = this.follower!.lastBlock;
    const consecutive = head.number === reached + 1 && head.parentHash === this.lastHash;
    const suspect = this.suspectReset;
    this.suspectReset = false;
    if (!this.lastHash || consecutive || (head.number === reached && !suspect)) return;
    const genesis = (await this.o.provider.getBlock(0))?.hash;
    if (genesis !== this.genesisHash) {
      this.startOver(`the node's genesis block changed (${genesis}): the node was reset`);
    }
  }

  /** hash of block 0 when the book was started: another one means another chain */
  private genesisHash: string | null | undefined;

  /** Forgets the book and everything built on it: the next tick starts over (init). */
  private startOver(reason: string): never {
    this.book = undefined;
    this.lastScannedBlock = -1;
    throw new Error(`${reason}; the keeper starts over`);
  }

  private async pass(started: number): Promise<TickReport> {
    const book = this.book!;
    const tx = this.tx!;
    const head = await this.o.provider.getBlock("latest");
    if (!head) throw new Error("the node returned no latest block");
    if (!this.head || this.head.number !== head.number) {
      this.head = { number: head.number, timestamp: head.timestamp, seenAt: this.now() };
    }
    if (head.number < this.follower!.lastBlock) {
      // A node that forgot blocks (a restarted dev node, a deep reorg): start over, from the
      // checkpoint if its block is still there, else from the deployment's startBlock.
      this.startOver(
        `the node's head ${head.number} is behind block ${this.follower!.lastBlock}, already processed: the node was ` +
          `reset or reorganised`,
      );
    }
    await this.checkSameChain(head);
    const follow = await this.follower!.advance(head.number);
    if (follow) {
      this.metrics.logBlocksScanned.inc(follow.toBlock - follow.fromBlock + 1);
      this.lastHash = head.hash ?? this.lastHash;
    }
    this.lastBlock = this.follower!.lastBlock;
    this.metrics.lastBlock.set(this.lastBlock);

    const fees = this.feeSource(head);
    const mined: MinedLiquidation[] = [];
    for (const outcome of await tx.poll(head.number, fees)) {
      if (outcome.tx.kind === "liquidation") {
        const m = this.liquidator!.outcome(outcome);
        if (m) mined.push(m);
      } else {
        this.pokers!.outcome(outcome);
      }
    }

    const report: TickReport = {
      block: head.number,
      timestamp: head.timestamp,
      fresh: false,
      follow,
      accountsTracked: book.size,
      accountsWithPositions: 0,
      liquidatable: 0,
      worst: [],
      mined,
      pokes: [],
      resynced: 0,
      pendingTxs: tx.count(),
      refused: [],
      readMs: 0,
      scanMs: 0,
      pokeMs: 0,
      tickMs: 0,
      dryRun: this.o.config.dryRun,
    };
    if (head.number === this.lastScannedBlock && book.stale().length === 0) {
      this.noticeIdleChain(head);
      report.tickMs = performance.now() - started;
      return report;
    }
    report.fresh = true;
    if (this.o.watchBalance) await this.readBalance(head.number);
    report.resynced = await this.resync(head.number);
    await this.learnMarkets();

    const readStarted = performance.now();
    const view = await readChainView(this.contracts, this.feedIds, {
      number: head.number,
      timestamp: head.timestamp,
      baseFeePerGas: head.baseFeePerGas,
    });
    const scanStarted = performance.now();
    const scan = scanAccounts(book, view);
    const held = await this.applyChainMark(scan, view, report);
    if (held !== undefined) report.heldAtMark = held;
    if (this.mark) report.markSkipped = await this.applyMark(this.mark, scan, view, head, report);
    report.readMs = scanStarted - readStarted;
    report.scanMs = performance.now() - scanStarted;
    this.metrics.scanSeconds.observe(report.scanMs / 1000);
    report.accountsWithPositions = scan.withPositions;
    report.liquidatable = scan.liquidatable.length + (report.markSkipped ?? 0) + (report.heldAtMark ?? 0);
    report.worst = scan.liquidatable
      .slice(0, 5)
      .map((a) => ({ accountId: a.accountId, health: a.health, backstop: a.backstop }));
    this.metrics.accountsTracked.set(book.size);
    this.metrics.accountsWithPositions.set(scan.withPositions);
    this.metrics.accountsLiquidatable.set(scan.liquidatable.length);
    this.metrics.accountsUnpriced.set(scan.unpriced);
    if (view.unpriced.size)
      this.log.warn({ markets: Object.fromEntries(view.unpriced) }, "markets without a usable price");

    const { report: liquidation, contradicted } = await this.liquidator!.act(scan, view, fees);
    for (const id of contradicted) book.markStale(id);
    report.liquidation = liquidation;
    const pokeStarted = performance.now();
    const liquidatable = new Set(scan.liquidatable.map((a) => a.accountId));
    const flags = await this.flagger!.run(liquidation.waiting, liquidatable, view, fees);
    const liquidated = liquidation.batches.some((b) => b.sent);
    const pokes = await this.pokers!.run(view, fees, liquidated);
    const adl = await this.deleverager!.run(() => this.refreshForAdl(view), fees);
    const settles = await this.settler!.run(view, fees);
    report.pokes = [...flags, ...pokes, ...adl, ...settles];
    report.pokeMs = performance.now() - pokeStarted;
    report.pendingTxs = tx.count();
    report.refused = tx.drainRefusals();
    this.metrics.pendingTransactions.set(tx.count());
    this.lastScannedBlock = head.number;
    this.nextReadyAt = liquidation.nextReadyAt;

    if (scan.liquidatable.length || liquidation.batches.length) {
      this.log.info(
        {
          block: head.number,
          liquidatable: scan.liquidatable.length,
          previewed: liquidation.previewed,
          ready: liquidation.ready,
          coolingDown: liquidation.coolingDown,
          inFlight: liquidation.inFlight,
          heldBackByCapacity: liquidation.heldBackByCapacity,
          batches: liquidation.batches.length,
          scanMs: Math.round(report.scanMs * 10) / 10,
        },
        "scan",
      );
    }
    const every = this.o.config.checkpointIntervalMs;
    if (follow && Date.now() - this.lastCheckpointAt >= every) this.writeCheckpoint(head.hash ?? undefined);
    report.tickMs = performance.now() - started;
    return report;
  }

  /**
   * The experimental own-impact mark (`ownImpactMark`): folds the followed forced trades in at their blocks'
   * timestamps and leaves out of `scan.liquidatable` every account that is not below maintenance at the mark
   * too. Returns how many it left out. Without a readable backstop config (no module, a zero half-life) it
   * leaves out nothing.
   */
  private async applyMark(
    mark: OwnImpactMark,
    scan: ScanResult,
    view: ChainView,
    head: Block,
    report: TickReport,
  ): Promise<number> {
    const s = await this.markSettings(head.number);
    if (!s) return 0;
    await mark.settle(s.halfLife, async (n) => {
      if (n === head.number) return BigInt(head.timestamp);
      const b = await this.o.provider.getBlock(n);
      if (!b) throw new Error(`the node returned no block ${n}`);
      return BigInt(b.timestamp);
    });
    if (scan.liquidatable.length === 0) return 0;
    const marked = mark.markedSnapshot(view.engine, s);
    const book = this.book!;
    const snapshotOf = (id: bigint) => {
      const account = book.get(id);
      return account && book.snapshotOf(account);
    };
    let kept: typeof scan.liquidatable;
    if (this.o.config.ownImpactMarkScope === "sales") {
      const keeper = await this.o.signer.getAddress();
      const r = await keptAtMarkForSales(scan.liquidatable, marked, snapshotOf, (id) =>
        vaultWouldTake(this.contracts.backstop, id, keeper, view.blockNumber),
      );
      kept = r.kept;
      report.markTakeovers = r.taken;
    } else kept = keptAtMark(scan.liquidatable, marked, snapshotOf);
    const skipped = scan.liquidatable.length - kept.length;
    if (skipped) {
      mark.skipped += skipped;
      this.log.info({ block: head.number, skipped, kept: kept.length }, "own-impact mark: accounts left for now");
    }
    scan.liquidatable = kept;
    return skipped;
  }

  /**
   * The chain's own-impact mark (OwnImpactModule), when its switch is on at the scanned block: leaves out of
   * `scan.liquidatable` every account the chain would hold, so that the scanner does not count as liquidatable
   * what the chain refuses. An account not below maintenance at the marks (the chain's measure read from its view
   * at the block, the mark and the health mirror as the chain computes them) is asked of the vault first (the
   * engine's own takeover as an eth_call, `vaultWouldTake`): one the vault would take is sent, the others are
   * held. Undefined when the switch is off or unreadable (a deployment without the module).
   */
  private async applyChainMark(scan: ScanResult, view: ChainView, report: TickReport): Promise<number | undefined> {
    const mark = this.contracts.ownImpact;
    const backstop = this.contracts.backstop;
    if (!mark || !backstop || scan.liquidatable.length === 0) return undefined;
    const blockTag = view.blockNumber;
    let cap: bigint;
    try {
      if (!(await mark.ownImpactMarkOn({ blockTag }))) return undefined;
      const c = await backstop.backstopConfig({ blockTag });
      cap = chainMarkCap(c.impactBudget, c.lateMultiplier);
    } catch (e) {
      if (isTransportError(e)) throw e;
      return undefined;
    }
    const ids = [...view.engine.markets.keys()];
    const read = await Promise.all(ids.map((m) => mark.ownFlow(m, { blockTag })));
    const flows = new Map(ids.map((m, i) => [m, read[i]] as const));
    const stored = new Map<number, MarketStateSnapshot>();
    const moved = ids.filter((_, i) => read[i] !== 0n);
    const states = await Promise.all(moved.map((m) => this.contracts.engine.marketState(m, { blockTag })));
    moved.forEach((m, i) => stored.set(m, states[i]));
    const marked = markedByChainFlows(view.engine, flows, cap, stored);
    const book = this.book!;
    const keeper = await this.o.signer.getAddress();
    const verdicts = await Promise.all(
      scan.liquidatable.map(async (a) => {
        const entry = book.get(a.accountId);
        const account = entry && book.snapshotOf(entry);
        if (!account || !heldAtChainMark(view.engine, marked, account)) return "send";
        return (await vaultWouldTake(backstop, a.accountId, keeper, blockTag)) ? "taken" : "held";
      }),
    );
    const taken = scan.liquidatable.filter((_, i) => verdicts[i] === "taken").map((a) => a.accountId);
    if (taken.length) report.markTakeovers = [...(report.markTakeovers ?? []), ...taken];
    const kept = scan.liquidatable.filter((_, i) => verdicts[i] !== "held");
    const held = scan.liquidatable.length - kept.length;
    if (held) this.log.info({ block: blockTag, held, kept: kept.length }, "own-impact mark (chain): accounts held");
    scan.liquidatable = kept;
    return held;
  }

  /** The mark's half-life and cap, from the backstop's config (read each pass: governance may change it). */
  private async markSettings(blockTag: number): Promise<MarkSettings | undefined> {
    const backstop = this.contracts.backstop;
    if (!backstop) return undefined;
    try {
      const c = await backstop.backstopConfig({ blockTag });
      const halfLife = BigInt(c.flowHalfLife);
      if (halfLife === 0n) return undefined;
      const cap = this.o.config.ownImpactMarkCap ?? (c.impactBudget * c.lateMultiplier) / 10n ** 18n;
      return { halfLife, cap };
    } catch (e) {
      if (isTransportError(e)) throw e;
      return undefined;
    }
  }

  /**
   * The book and chain view at the newest block, for auto-deleveraging: on a chain that mined this
   * pass's own liquidations already (a dev node, the replay), the deficit they booked and the positions
   * they closed are in that block, not in the pass's view.
   */
  private async refreshForAdl(view: ChainView): Promise<{ book: AccountBook; view: ChainView }> {
    const head = await this.o.provider.getBlock("latest");
    if (!head || head.number <= this.follower!.lastBlock) return { book: this.book!, view };
    await this.follower!.advance(head.number);
    this.lastHash = head.hash ?? this.lastHash;
    this.lastBlock = this.follower!.lastBlock;
    const fresh = await readChainView(this.contracts, this.feedIds, {
      number: head.number,
      timestamp: head.timestamp,
      baseFeePerGas: head.baseFeePerGas,
    });
    return { book: this.book!, view: fresh };
  }

  /** chain time at which the first account now cooling down may take its next tranche */
  private nextReadyAt: bigint | undefined;

  /**
   * On a chain whose head does not move (a dev node mines only on transactions), cooldowns end by
   * the clock but not on chain: the next tranche waits for a block. Said once per head block.
   */
  private noticeIdleChain(head: Block): void {
    if (this.nextReadyAt === undefined || this.idleNoticeBlock === head.number || !this.head) return;
    const chainNow = BigInt(head.timestamp) + BigInt(Math.floor((this.now() - this.head.seenAt) / 1000));
    if (chainNow < this.nextReadyAt) return;
    this.idleNoticeBlock = head.number;
    this.log.warn(
      {
        block: head.number,
        blockAgeSeconds: Math.round(this.blockAgeSeconds() ?? 0),
        cooldownEndedAt: this.nextReadyAt,
      },
      "a cooldown has ended by the clock, but no block was mined since: the next tranche waits for a block " +
        "(a dev node mines only on transactions; enable interval mining, see the README)",
    );
  }

  /** The key's ether balance at `blockTag`: metrics, /health, a warning each time it drops below the minimum. */
  private async readBalance(blockTag: number): Promise<void> {
    const address = await this.o.signer.getAddress();
    const balance = await this.o.provider.getBalance(address, blockTag);
    const min = this.o.config.minBalanceEth;
    const wasLow = this.balance !== undefined && this.balance < min;
    this.balance = balance;
    this.metrics.balance.set(Number(formatEther(balance)));
    this.metrics.balanceLow.set(balance < min ? 1 : 0);
    if (balance < min && !wasLow && !this.o.config.dryRun) {
      this.log.warn(
        { address, balanceEth: formatEther(balance), minBalanceEth: formatEther(min) },
        "the keeper's key is low on ether for gas: fund it",
      );
    }
  }

  /** Fees for a new transaction at this head, read from the node at most once per tick. */
  private feeSource(head: Block): () => Promise<Fees | undefined> {
    let memo: Promise<Fees | undefined> | undefined;
    const s = this.o.config;
    return () =>
      (memo ??= this.o.provider.getFeeData().then((fd) =>
        initialFees(head.baseFeePerGas, fd.maxPriorityFeePerGas, {
          maxFee: s.maxFeeGwei,
          maxPriorityFee: s.maxPriorityFeeGwei,
          feeBumpPercent: s.feeBumpPercent,
        }),
      ));
  }

  /** Re-reads accounts the book cannot vouch for, at the block the book has reached. */
  private async resync(blockTag: number): Promise<number> {
    const stale = this.book!.stale().slice(0, RESYNC_PER_TICK);
    if (!stale.length) return 0;
    await rereadAccounts(
      this.book!,
      this.contracts,
      stale.map((a) => a.id),
      blockTag,
    );
    this.log.info({ accounts: stale.length, block: blockTag }, "re-read accounts from the chain");
    return stale.length;
  }

  /** A market the deployment record does not list but an account trades: learn its feed once. */
  private async learnMarkets(): Promise<void> {
    const unknown = new Set<number>();
    for (const a of this.book!.withPositions())
      for (const m of a.positions.keys()) if (!this.feedIds.has(m)) unknown.add(m);
    for (const m of unknown) {
      const config = await this.contracts.engine.marketConfig(m);
      this.feedIds.set(m, config.feedId);
      this.log.info({ marketId: m, feedId: config.feedId }, "market not in the deployment record; following it");
    }
  }

  private async run(): Promise<void> {
    const s = this.o.config;
    while (this.running) {
      let delay = s.pollIntervalMs;
      try {
        await this.tick();
      } catch (e) {
        delay = Math.min(s.backoffMaxMs, s.backoffMinMs * 2 ** Math.min(this.failures - 1, 16));
        const transport = isTransportError(e);
        this.log[transport ? "warn" : "error"](
          { err: (e as Error).message, failures: this.failures, retryInMs: delay },
          transport ? "RPC unavailable; retrying" : "tick failed; retrying",
        );
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    try {
      this.writeCheckpoint();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, "could not write the checkpoint at stop");
    }
  }
}
