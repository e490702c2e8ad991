/**
 * The replay's default keeper: the project's keeper service itself (`Keeper`, scripts/keeper/keeper.ts),
 * the same class the keeper CLI runs, with its event-followed account book, off-chain health scan,
 * previewLiquidation confirmations, worst-first liquidateBatch transactions through its TxManager (own
 * nonces, EIP-1559 fees, locally signed), and its pokes (volatility updates, breaker pokes, reward
 * claims).
 *
 * How it is connected:
 *  - Provider: an ethers BrowserProvider over an EIP-1193 wrapper of the replay's in-process
 *    connection. The wrapper calls `evm_setNextBlockTimestamp(chain.time)` before every
 *    `eth_sendRawTransaction` / `eth_sendTransaction`, so the keeper's transactions are mined at the
 *    tick's time like the engine's own (chain.ts), and counts requests (the keeper's `rpcStats`).
 *    Nothing is cached between requests (`cacheTimeout: -1`, a static network: no chain-id polls),
 *    and nothing polls (the keeper subscribes to nothing; it reads the head once per tick).
 *  - Signer: an ethers Wallet holding the network's development key of the keeper address (the
 *    engine derives it from the network's test mnemonic). A local key is what an operator runs
 *    (scripts/keeper/cli.ts), so the TxManager takes its production path: it signs, knows the hash
 *    before sending, and broadcasts raw bytes; a node-account JsonRpcSigner would take the other path
 *    and cost a getTransaction poll after every send. Nothing else in the replay sends from this
 *    address, so the TxManager's nonces are never contradicted.
 *  - Settings (`replayKeeperSettings`): the keeper's schema with its defaults, except what a replay
 *    needs: the preset's batch size (at most 100, the contract's cap); every liquidatable account
 *    confirmed in one tick (a preview limit above any population); as many transactions in flight
 *    as the schema allows (with automine nothing stays in flight: a transaction is mined when sent,
 *    the TxManager only hears of it at its next poll, so the limit counts a tick's transactions);
 *    the breaker poked every block, which is once a tick since the keeper does not poke twice at one
 *    block time: the breaker's de-escalation counts from the last poke that still proposed the
 *    level, so a replay checks it every tick and pokes when the breaker's `pokeDue` says the poke
 *    would change something (a skipped poke would have written nothing); the volatility estimate updated on every new round, up
 *    to 64 rounds at a time; settleOrders batches simulated with one eth_call at a per-order gas budget
 *    rather than estimated (`settleGasBudget`: a fill executes as under the estimate, see settler.ts).
 *    Fees stay the schema's: with a base fee of 0 the keeper offers its default 1 gwei tip
 *    (eth_maxPriorityFeePerGas is not consulted when the base fee is 0), as fee cap and tip, which the
 *    node accepts; the tip goes to the coinbase, nothing in the protocol.
 *  - Logs: silent, unless REPLAY_KEEPER_LOG names a pino level (info, debug...): then on stderr.
 *
 * One replay tick is one instant of the path, at which the service would keep polling while blocks
 * come: its own transactions are mined in the next blocks, and its next tick sees them. So a replay
 * tick runs `Keeper.tick()` passes until a pass sends nothing that changes an account's health at
 * this instant, at most `MAX_PASSES`. The keeper liquidates first and pokes after, so the one such
 * transaction is its volatility update: a market not yet accrued at this instant accrues its
 * maintenance term toward the new sigma's target, so its accounts' maintenance margins move, when
 * the market's risk parameters weigh volatility at all (`kMm > 0`; read once). The usual protected
 * tick: a pass that liquidates with the sigma in force and folds the new round in, then a pass that
 * sees the new sigma. Nothing else the keeper sends changes another account's health at the same
 * instant: a liquidation changes its own account (then in cooldown, or closed) and the market's used
 * capacity; breaker levels bind new risk only (liquidation views never consult the breaker); claims
 * move rewards; a flag starts an account's reward clock.
 *
 * What the keeper did is read from the receipts of the transactions it reported sending, in the same
 * tick: the tranches its batches settled (LiquidationSettled naming this keeper), what the contract
 * skipped and what failed (LiquidationFailed, with the decoded reason in the run's notes). The
 * engine's own digest reads the same logs from the chain, so the two counts agree.
 */
import {
  BrowserProvider,
  type Eip1193Provider,
  FeeData,
  type Log as EthersLog,
  Network,
  type TransactionRequest,
  Wallet,
  formatEther,
  getAddress,
  getBigInt,
  hexlify,
  isHexString,
  keccak256,
  toQuantity,
  Transaction,
  TransactionResponse,
} from "ethers";
import { pino } from "pino";

import { keeperSettings, type KeeperSettings, LOG_LEVELS } from "../keeper/config.js";
import { decodeRevert } from "../keeper/contracts.js";
import { Keeper, type TickReport } from "../keeper/keeper.js";
import { createLogger, type Logger, silentLogger } from "../keeper/logger.js";
import type { RpcStats } from "../keeper/rpc.js";
import type { TxKind } from "../keeper/txManager.js";
import type { Deployment } from "../../deploy/deployment.js";
import type { Chain } from "./chain.js";
import type { ReplayContracts } from "./contracts.js";

/** What the replay gives its keeper. */
export type KeeperContext = {
  chain: Chain;
  /** the keeper's address (it receives the rewards); nothing else in the replay sends from it */
  keeper: string;
  /** its private key: the network's development key of that address */
  keeperKey: string;
  /** the in-process deployment, as a deployment record (deploy/deployment.ts) */
  deployment: Deployment;
  markets: { id: number }[];
  c: Pick<ReplayContracts, "engine" | "liquidationEngine">;
  /** ids below maintenance margin now, from the engine's mirror: a cross-check of the keeper's scan */
  hint?: () => Promise<bigint[]>;
  /** the preset's keeper.batchSize: accounts per liquidateBatch */
  batchSize: number;
  /** the preset's experimental own-impact mark (keeper.ownImpactMark, keeper.ownImpactMarkCap); off when absent */
  ownImpactMark?: { cap?: string; scope?: "all" | "sales" };
};

/** Keeper passes per replay tick at most (see the header); reaching it is counted (`passLimitHits`). */
export const MAX_PASSES = 4;

/** Environment variable naming the keeper's log level in a replay (unset: silent). */
export const LOG_ENV = "REPLAY_KEEPER_LOG";

/** The keeper's settings for a replay: the schema's defaults, and what is said in the header. */
export function replayKeeperSettings(
  batchSize: number,
  ownImpactMark?: { cap?: string; scope?: "all" | "sales" },
): KeeperSettings {
  return keeperSettings({
    ...(ownImpactMark
      ? {
          ownImpactMark: true,
          ...(ownImpactMark.cap !== undefined ? { ownImpactMarkCap: ownImpactMark.cap } : {}),
          ...(ownImpactMark.scope !== undefined ? { ownImpactMarkScope: ownImpactMark.scope } : {}),
        }
      : {}),
    maxBatch: batchSize,
    maxPendingTxs: 64,
    previewLimit: 10_000,
    pokeVolatility: true,
    volatilityMaxRounds: 64,
    pokeBreaker: true,
    breakerPokeIntervalBlocks: 1,
    breakerPokeGasBound: true,
    breakerPokeWhenDue: true,
    settleGasBudget: true,
  });
}

/** Whole bytes in lower-case hex: what `hexlify` returns, and returns unchanged. */
const LOWER_HEX = /^0x(?:[0-9a-f]{2})*$/;

/**
 * `hexlify(v)`, without its round trip through a byte array when `v` is already its answer (the
 * node's answers, the encoder's call data): a scan's answer is a few kilobytes, and the copy cost more
 * than the read. Anything else takes `hexlify` itself, its errors included.
 */
export function lowerHex(v: unknown): string {
  return typeof v === "string" && LOWER_HEX.test(v) ? v : hexlify(v as string);
}

/** Fields of a read `ImmediateProvider.call` sends itself. */
const FAST_CALL_KEYS = new Set(["to", "from", "data", "gasLimit", "blockTag"]);

/**
 * A BrowserProvider tuned for an in-process node, where the node answers in a fraction of a
 * millisecond and ethers' own work per request becomes what costs:
 *  - each request goes to the EIP-1193 provider at once. JsonRpcApiProvider queues requests and
 *    drains the queue from a timer (`setTimeout`, at least a millisecond in Node, even with
 *    batching off): a keeper pass makes a dozen requests one after the other, a replay thousands of
 *    passes, and the timer was most of the keeper's time. Errors are converted as the queue would
 *    (`getRpcError`);
 *  - a read (`call`) goes to the node as the eth_call ethers would build, without its request copy
 *    and its checksum of every address at every request;
 *  - `broadcastTransaction` returns a response built from the signed bytes with the sender it was made
 *    for (the keeper's key: the one signer of this provider) instead of recovering the sender from the
 *    signature in JavaScript (ethers does, for the response's `from`: a millisecond and a half a
 *    transaction, more than the node takes to mine it) or asking the node for its record of it (one
 *    more request per transaction; nothing the keeper does reads the response).
 */
class ImmediateProvider extends BrowserProvider {
  private nextId = 1;

  constructor(
    eip1193: Eip1193Provider,
    network: Network,
    options: ConstructorParameters<typeof BrowserProvider>[2],
    /** the address of the one key that signs what this provider broadcasts */
    private readonly sender: string,
  ) {
    super(eip1193, network, options);
  }

  override async send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    const payload = { method, params, id: this.nextId++, jsonrpc: "2.0" as const };
    const [reply] = await this._send(payload);
    if ("error" in reply) throw this.getRpcError(payload, reply);
    return reply.result;
  }

  /**
   * A read the keeper's contracts make (`to`, `data`, and perhaps `from`, a gas limit and a block
   * tag) goes to the node as the same eth_call the provider would build (`getRpcTransaction`,
   * `_getBlockTag`), without its request copies and its resolution of every address (a keccak for
   * the checksum of each): those cost more than the node's execution of a small view. Any other
   * request takes the provider's own path. Each address is checked once, as the provider would.
   */
  override async call(tx: TransactionRequest): Promise<string> {
    const { to, from, data, gasLimit, blockTag } = tx;
    const simple =
      Object.keys(tx).every((k) => FAST_CALL_KEYS.has(k) || tx[k as keyof TransactionRequest] == null) &&
      this.plainAddress(to) &&
      (from == null || this.plainAddress(from)) &&
      (data == null || typeof data === "string") &&
      (blockTag == null || blockTag === "latest" || (typeof blockTag === "number" && blockTag >= 0));
    if (!simple) return super.call(tx);
    const rpcTx: Record<string, string> = {};
    if (gasLimit != null) rpcTx.gas = toQuantity(getBigInt(gasLimit, "tx.gasLimit"));
    if (from != null) rpcTx.from = lowerHex(from);
    rpcTx.to = lowerHex(to);
    if (data != null) rpcTx.data = lowerHex(data);
    const tag = blockTag == null || blockTag === "latest" ? "latest" : toQuantity(blockTag as number);
    return lowerHex(await this.send("eth_call", [rpcTx, tag]));
  }

  /** addresses already checked (getAddress: a valid checksum, or none) */
  private readonly checked = new Set<string>();

  private plainAddress(a: unknown): boolean {
    if (typeof a !== "string" || !isHexString(a, 20)) return false;
    if (!this.checked.has(a)) {
      getAddress(a);
      this.checked.add(a);
    }
    return true;
  }

  /**
   * ethers' own fee heuristics (`AbstractProvider.getFeeData`: no fee plugin on this network) without
   * the request whose answer the keeper never reads, and without the one ethers then discards: the
   * keeper reads `maxPriorityFeePerGas` only (keeper.ts, `feeSource`), which ethers sets from
   * eth_maxPriorityFeePerGas (1 gwei when that fails) when the latest block has a base fee and leaves
   * null otherwise. So: the latest block, then eth_maxPriorityFeePerGas only when it has a base fee;
   * eth_gasPrice is never asked (`gasPrice` null). Every field the keeper reads is ethers' value.
   */
  override async getFeeData(): Promise<FeeData> {
    const block = await this.getBlock("latest");
    if (!block?.baseFeePerGas) return new FeeData(null, null, null);
    let tip: bigint | null = null;
    try {
      tip = getBigInt((await this.send("eth_maxPriorityFeePerGas", [])) as string, "%response");
    } catch {
      // as ethers: a node without the method gets the default tip
    }
    tip ??= 1_000_000_000n;
    return new FeeData(null, block.baseFeePerGas * 2n + tip, tip);
  }

  override async broadcastTransaction(signedTx: string): Promise<TransactionResponse> {
    const hash = (await this.send("eth_sendRawTransaction", [signedTx])) as string;
    if (hash !== keccak256(signedTx)) throw new Error(`the node returned hash ${hash} for another transaction`);
    // parsing reads the signature but does not recover its signer (that happens only when `from` is read)
    const tx = Transaction.from(signedTx);
    return new TransactionResponse(
      {
        blockNumber: null,
        blockHash: null,
        hash,
        index: 0,
        type: tx.type ?? 0,
        to: tx.to,
        from: this.sender,
        nonce: tx.nonce,
        gasLimit: tx.gasLimit,
        gasPrice: tx.gasPrice ?? tx.maxFeePerGas ?? 0n,
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
        maxFeePerGas: tx.maxFeePerGas,
        data: tx.data,
        value: tx.value,
        chainId: tx.chainId,
        signature: tx.signature!,
        accessList: tx.accessList,
        authorizationList: tx.authorizationList,
      },
      this,
    );
  }
}

/**
 * An ethers provider over the replay's connection: transactions mined at `chain.time`, requests
 * counted in `stats`, no caching, no polling, no timers.
 */
export function replayProvider(chain: Chain, chainId: number, stats: RpcStats, sender: string): BrowserProvider {
  const timed: Eip1193Provider = {
    async request({ method, params }) {
      stats.requests++;
      if (method === "eth_sendRawTransaction" || method === "eth_sendTransaction") {
        await chain.rpc("evm_setNextBlockTimestamp", [chain.time]);
      }
      return chain.rpc(method, (params ?? []) as unknown[]);
    },
  };
  const network = Network.from(chainId);
  return new ImmediateProvider(
    timed,
    network,
    { staticNetwork: network, cacheTimeout: -1, polling: false },
    getAddress(sender),
  );
}

function replayLogger(): Logger {
  const level = process.env[LOG_ENV];
  if (!level) return silentLogger();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`${LOG_ENV} must be one of ${LOG_LEVELS.join(", ")} (got "${level}")`);
  }
  return createLogger(level, pino.destination(2));
}

type Counts = {
  /** Keeper.tick() calls, and those that saw a new block and scanned */
  passes: number;
  scans: number;
  /** replay ticks whose passes stopped at MAX_PASSES with the last one still changing something */
  passLimitHits: number;
  /** liquidateBatch transactions sent, the accounts in them, the tranches they settled */
  batches: number;
  tranchesSent: number;
  tranches: number;
  /** accounts of those batches the contract skipped (LiquidationSkipped) or failed (LiquidationFailed) */
  skipped: number;
  failedLiquidations: number;
  /** candidates confirmed with previewLiquidation */
  previews: number;
  /** candidates the contract found healthy (the keeper's book was wrong about them), and accounts
   * re-read from the chain because an event or a preview contradicted the book */
  contradicted: number;
  resynced: number;
  /** ticks at which the keeper's own scan found a different number of accounts below maintenance
   * than the engine's mirror (book.ts) of the same state: a cross-check, not an input */
  scanMismatches: number;
  /** maintenance transactions sent */
  pokes: number;
  volatilityPokes: number;
  breakerPokes: number;
  claims: number;
  /** accounts flagged (held back by cooldown or capacity: their reward escalation starts) */
  flags: number;
  /** keeper transactions that reverted */
  revertedTxs: number;
  /** with the experimental own-impact mark: accounts below maintenance at the oracle left out at a pass
   * because they were not at the mark (an account left out at several passes counts at each) */
  markSkipped: number;
  /** with the mark's scope `sales`: accounts below maintenance at the oracle but not at the mark sent all the
   * same because the vault would take them over (counted at each pass) */
  markTakeovers: number;
  /** of those, accounts a mined batch then tranched or closed (LiquidationSettled): the vault declined them at
   * their turn in the batch, after an earlier account of it (the probe saw the chain before the batch) */
  markTakeoversDeclined: number;
  /** with the chain's own-impact mark on: accounts the keeper left at a pass because the chain would hold them
   * (below maintenance at the oracle, not at the marks, the vault declining; counted at each pass) */
  heldAtMark: number;
  /** accounts a mined batch skipped with Status.HeldAtMark: held by the chain at their turn (the accounts before
   * them in the batch moved the measure, or the vault declined what the keeper judged it would take) */
  heldInBatch: number;
};

/** The keeper service as the replay runs it: one `tick()` per replay tick; counters and notes for the run. */
export class ServiceKeeper {
  readonly name = "Keeper service (scripts/keeper/keeper.ts)";
  readonly keeper: Keeper;
  readonly settings: KeeperSettings;
  /** wall milliseconds spent in the keeper's ticks */
  private ms = 0;
  private readonly rpc: RpcStats = { requests: 0, errors: 0 };
  private readonly counts: Counts = {
    passes: 0,
    scans: 0,
    passLimitHits: 0,
    batches: 0,
    tranchesSent: 0,
    tranches: 0,
    skipped: 0,
    failedLiquidations: 0,
    previews: 0,
    contradicted: 0,
    resynced: 0,
    scanMismatches: 0,
    pokes: 0,
    volatilityPokes: 0,
    breakerPokes: 0,
    claims: 0,
    flags: 0,
    revertedTxs: 0,
    markSkipped: 0,
    markTakeovers: 0,
    markTakeoversDeclined: 0,
    heldAtMark: 0,
    heldInBatch: 0,
  };
  /** the accounts of the last pass sent only because the vault would take them over (the mark's scope sales) */
  private judgedTaken = new Set<bigint>();
  /** LiquidationFailed reasons: reason -> "account@time" */
  private readonly failures = new Map<string, string[]>();
  private readonly self: string;
  private readonly iface: ReplayContracts["liquidationEngine"]["interface"];
  private readonly topics: { settled: string; skipped: string; failed: string };

  /** some market's maintenance margin depends on sigma (risk.kMm > 0): read at the first tick */
  private volatilityMoves: boolean | undefined;

  constructor(private readonly ctx: KeeperContext) {
    const provider = replayProvider(ctx.chain, ctx.deployment.chainId, this.rpc, ctx.keeper);
    const signer = new Wallet(ctx.keeperKey, provider);
    if (signer.address.toLowerCase() !== ctx.keeper.toLowerCase()) {
      throw new Error(`replay keeper: the key is for ${signer.address}, not the keeper address ${ctx.keeper}`);
    }
    this.self = ctx.keeper.toLowerCase();
    this.settings = replayKeeperSettings(ctx.batchSize, ctx.ownImpactMark);
    this.keeper = new Keeper({
      provider,
      signer,
      deployment: ctx.deployment,
      config: this.settings,
      logger: replayLogger(),
      rpcStats: this.rpc,
    });
    this.iface = ctx.c.liquidationEngine.interface;
    this.topics = {
      settled: this.iface.getEvent("LiquidationSettled")!.topicHash,
      skipped: this.iface.getEvent("LiquidationSkipped")!.topicHash,
      failed: this.iface.getEvent("LiquidationFailed")!.topicHash,
    };
  }

  /**
   * One replay tick. `adlRuns`: autoDeleverage calls the keeper's ADL job made (sent, or refused by its
   * simulation); `adlFailures`: those refused or reverted.
   */
  async tick(): Promise<{ tranches: number; adlRuns: number; adlFailures: number }> {
    const started = performance.now();
    const adl = { runs: 0, failures: 0 };
    this.volatilityMoves ??= await this.readVolatilityMoves();
    const sent: { hash: string; kind: TxKind }[] = [];
    const mirrored = this.ctx.hint ? (await this.ctx.hint()).length : undefined;
    for (let pass = 1; ; pass++) {
      const report = await this.keeper.tick();
      if (pass === 1 && mirrored !== undefined && report.liquidatable !== mirrored) this.counts.scanMismatches++;
      for (const p of report.pokes) {
        if (p.kind !== "adl") continue;
        adl.runs++;
        if (!p.sent) adl.failures++;
      }
      const changed = this.record(report, sent) && this.volatilityMoves;
      if (!changed) break;
      if (pass === MAX_PASSES) {
        this.counts.passLimitHits++;
        break;
      }
    }
    let tranches = 0;
    for (const tx of sent) {
      const r = await this.ctx.chain.receipt(tx.hash);
      if (!r.ok) {
        this.counts.revertedTxs++;
        if (tx.kind === "adl") adl.failures++;
        continue;
      }
      if (tx.kind === "liquidation") tranches += this.outcome(r.logs);
    }
    this.counts.tranches += tranches;
    this.ms += performance.now() - started;
    return { tranches, adlRuns: adl.runs, adlFailures: adl.failures };
  }

  async stats(): Promise<Record<string, number>> {
    const failed = (await this.keeper.metrics.tranchesFailed.get()).values[0]?.value ?? 0;
    return {
      ...this.counts,
      /** JSON-RPC requests the keeper made */
      rpcCalls: this.rpc.requests,
      /** the keeper's own metric: tranches whose simulation reverted (the account is then left for
       * failedBackoffBlocks) or whose batch reverted */
      tranchesFailed: failed,
      keeperMs: Math.round(this.ms),
    };
  }

  notes(): string[] {
    const notes = [...this.failures].map(([reason, at]) => revertNote(reason, at));
    if (this.settings.ownImpactMark) {
      const cap = this.settings.ownImpactMarkCap;
      notes.push(
        `own-impact mark on (experimental; scope ${this.settings.ownImpactMarkScope}; cap ${cap === undefined ? "impactBudget x lateMultiplier" : formatEther(cap)}): ` +
          `${this.counts.markSkipped} accounts left at a pass, below maintenance at the oracle but not at the mark` +
          (this.settings.ownImpactMarkScope === "sales"
            ? `; ${this.counts.markTakeovers} sent though not below at the mark, the vault taking them over ` +
              `(${this.counts.markTakeoversDeclined} of them then tranched or closed in the batch)`
            : ""),
      );
    }
    const chainMark = this.counts.heldAtMark + this.counts.heldInBatch > 0;
    if (chainMark || (!this.settings.ownImpactMark && this.counts.markTakeovers > 0)) {
      notes.push(
        `own-impact mark on chain: ${this.counts.heldAtMark} accounts held at a pass (below maintenance at the ` +
          `oracle, not at the marks, the vault declining); ${this.counts.markTakeovers} not below at the marks sent ` +
          `as the vault's takeovers (${this.counts.markTakeoversDeclined} of them then tranched or closed in the batch); ` +
          `${this.counts.heldInBatch} held by the chain at their turn in a batch (HeldAtMark)`,
      );
    }
    return notes;
  }

  private async readVolatilityMoves(): Promise<boolean> {
    for (const m of this.ctx.markets) if ((await this.ctx.c.engine.marketConfig(m.id)).risk.kMm > 0n) return true;
    return false;
  }

  /** Counts one pass; true when it sent a volatility update. */
  private record(r: TickReport, sent: { hash: string; kind: TxKind }[]): boolean {
    const c = this.counts;
    c.passes++;
    if (r.fresh) c.scans++;
    c.markSkipped += r.markSkipped ?? 0;
    c.heldAtMark += r.heldAtMark ?? 0;
    c.markTakeovers += r.markTakeovers?.length ?? 0;
    this.judgedTaken = new Set(r.markTakeovers ?? []);
    let changed = false;
    c.previews += r.liquidation?.previewed ?? 0;
    c.contradicted += r.liquidation?.notLiquidatable ?? 0;
    c.resynced += r.resynced;
    for (const b of r.liquidation?.batches ?? []) {
      if (!b.sent || !b.hash) continue;
      sent.push({ hash: b.hash, kind: "liquidation" });
      c.batches++;
      c.tranchesSent += b.accounts.length;
    }
    for (const p of r.pokes) {
      if (!p.sent || !p.hash) continue;
      sent.push({ hash: p.hash, kind: p.kind });
      c.pokes++;
      if (p.kind === "volatility") {
        c.volatilityPokes++;
        changed = true;
      } else if (p.kind === "breaker") c.breakerPokes++;
      else if (p.kind === "claim") c.claims++;
      else if (p.kind === "flag") c.flags++;
    }
    return changed;
  }

  /** What one mined batch did; returns the tranches it settled for this keeper. */
  private outcome(logs: readonly { topics: string[]; data: string }[]): number {
    let settled = 0;
    for (const log of logs) {
      const topic = log.topics[0];
      if (topic !== this.topics.settled && topic !== this.topics.skipped && topic !== this.topics.failed) continue;
      const ev = this.iface.parseLog(log as unknown as EthersLog)!;
      if (topic === this.topics.settled) {
        if ((ev.args.keeper as string).toLowerCase() === this.self) settled++;
        if (this.judgedTaken.has(ev.args.accountId as bigint)) this.counts.markTakeoversDeclined++;
      } else if (topic === this.topics.skipped) {
        this.counts.skipped++;
        // ILiquidator.Status.HeldAtMark: the chain held it at its turn in the batch
        if (BigInt(ev.args.status as bigint) === 6n) this.counts.heldInBatch++;
      } else {
        this.counts.failedLiquidations++;
        const reason = ev.args.reason as string;
        const parsed = decodeRevert({ data: reason });
        const key = parsed
          ? `${parsed.name}(${parsed.args.map(String).join(", ")})`
          : reason.length > 2
            ? `unknown error ${reason.slice(0, 10)}`
            : "no revert data (out of gas?)";
        this.failures.set(key, [...(this.failures.get(key) ?? []), `${ev.args.accountId}@${this.ctx.chain.time}`]);
      }
    }
    return settled;
  }
}

/** A run note for liquidations that reverted with `reason` at `at` ("account@time" each). */
export function revertNote(reason: string, at: string[]): string {
  const shown = at.slice(0, 5).join(", ") + (at.length > 5 ? ", ..." : "");
  return `liquidation reverted ${at.length}x with ${reason} (account@time: ${shown})`;
}
