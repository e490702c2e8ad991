/**
 * Thin, fast access to the in-process Hardhat network for the replay: raw JSON-RPC, deterministic
 * block times, no gas estimation.
 *
 * - Every transaction is mined at the replay's current time: `evm_setNextBlockTimestamp(t)` before
 *   each one, on a network created with `allowBlocksWithSameTimestamp`, so a tick's many blocks all
 *   carry the tick's timestamp (wall-clock time never leaks into the chain, and runs are
 *   reproducible to the wei).
 * - Automine stays on for the replay's ticks: each phase of a tick (rounds and pokes, then the views
 *   the keeper reads, then its liquidations) needs the previous one mined, and an automined
 *   transaction costs about 0.6 ms of overhead. The population's setup (thousands of independent
 *   transactions) goes through `sendBatch`: automine off, explicit nonces and fees, one block per
 *   150M gas (about 0.2 ms a transaction). Without explicit nonces and fees, automine off is worse,
 *   not better: the node re-executes the growing pending block for every new transaction (measured:
 *   35 s for 200 queued transactions).
 * - Gas limits are given, never estimated (estimation executes the transaction a second time).
 * - Views (eth_call on "latest") run with the latest block's timestamp; `mine()` starts a tick with an
 *   empty block so that views see the tick's time even before its first transaction.
 */
import { writeFileSync } from "node:fs";

import { type ContractTransaction, Transaction } from "ethers";
import type { EthereumProvider } from "hardhat/types/providers";

/** EIP-7825 per-transaction gas cap (Osaka). */
export const TX_GAS_CAP = 16_777_216;

/** Requests that may mine a block: the head is unknown after them. */
const MINES = new Set([
  "eth_sendTransaction",
  "eth_sendRawTransaction",
  "evm_mine",
  "evm_setAutomine",
  "evm_revert",
  "hardhat_mine",
]);
/** Requests whose last parameter is the block they read at. */
const PINNED_READS = new Set(["eth_call", "eth_getBalance", "eth_getTransactionCount", "eth_getCode"]);
/**
 * Requests that change nothing on the node: any other one (a transaction, an evm_ or hardhat_ method)
 * may change what a read answers, and empties the read cache (see `Chain.rpc`).
 */
const READS_ONLY = new Set([
  "eth_call",
  "eth_estimateGas",
  "eth_blockNumber",
  "eth_chainId",
  "net_version",
  "eth_getBlockByNumber",
  "eth_getBlockByHash",
  "eth_getLogs",
  "eth_getTransactionReceipt",
  "eth_getTransactionByHash",
  "eth_getTransactionCount",
  "eth_getBalance",
  "eth_getCode",
  "eth_getStorageAt",
  "eth_gasPrice",
  "eth_maxPriorityFeePerGas",
  "eth_feeHistory",
]);
/** Reads answered again from the cache while nothing changed on the node. */
const CACHED_READS = new Set(["eth_call", "eth_getBlockByNumber"]);

/**
 * REPLAY_RPC_PROFILE=<file>: every request that reaches the node counted by method (an eth_call and a
 * transaction by target and selector), with the wall milliseconds it held the node, written at exit.
 * Requests in flight together share the time between them equally (the node answers one at a time,
 * so a request's own latency would count its queue too).
 */
const PROFILE = process.env.REPLAY_RPC_PROFILE;
const profiled = new Map<string, { n: number; ms: number }>();
const inFlight = new Map<number, string>();
let nextRequest = 0;
let lastEvent = 0;

/** Shares the time since the last start or end among the requests in flight. */
function shareTime(): void {
  const now = performance.now();
  if (inFlight.size > 0) {
    const each = (now - lastEvent) / inFlight.size;
    for (const key of inFlight.values()) profiled.get(key)!.ms += each;
  }
  lastEvent = now;
}

function profileKey(method: string, params: unknown[]): string {
  let key = method;
  if (method === "eth_call" || method === "eth_sendTransaction") {
    const tx = params[0] as { to?: string; data?: string };
    key += ` ${tx.to ?? ""} ${(tx.data ?? "").slice(0, 10)}`;
  } else if (method === "eth_sendRawTransaction") {
    const tx = Transaction.from(params[0] as string);
    key += ` ${tx.to ?? ""} ${tx.data.slice(0, 10)}`;
  }
  return key;
}

/** Starts timing a request; returns the function that ends it. */
function profile(method: string, params: unknown[]): () => void {
  const key = profileKey(method, params);
  if (profiled.size === 0) {
    process.on("exit", () => {
      const rows = [...profiled].sort((a, b) => b[1].ms - a[1].ms);
      const out = Object.fromEntries(rows.map(([k, v]) => [k, { n: v.n, ms: Math.round(v.ms) }]));
      writeFileSync(PROFILE!, JSON.stringify(out, null, 1));
    });
  }
  const row = profiled.get(key) ?? { n: 0, ms: 0 };
  profiled.set(key, row);
  row.n++;
  shareTime();
  const id = nextRequest++;
  inFlight.set(id, key);
  return () => {
    shareTime();
    inFlight.delete(id);
  };
}

/** Receipts `Chain` keeps to answer again (see `Chain.receipts`). */
const RECEIPTS_KEPT = 1024;
/** Mined blocks `Chain` keeps to answer again (see `Chain.blocks`). */
const BLOCKS_KEPT = 64;

/**
 * The cache key of an `eth_getBlockByNumber` at a block number (a hex quantity, not "latest", "pending"
 * or another tag), or undefined: only a block named by its number is the same block at every asking.
 */
export function minedBlockKey(params: unknown[]): string | undefined {
  const tag = params[0];
  if (typeof tag !== "string" || !/^0x[0-9a-f]+$/i.test(tag)) return undefined;
  return `${BigInt(tag)}:${params[1] === true}`;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

export type Log = { address: string; topics: string[]; data: string; blockNumber: string; logIndex: string };

export type TxResult = { hash: string; ok: boolean; gasUsed: bigint; logs: Log[]; blockNumber: number };

type RpcReceipt = {
  status: string;
  gasUsed: string;
  logs: Log[];
  blockNumber: string;
  contractAddress: string | null;
};

export class Chain {
  /** unix seconds every transaction and empty block is mined at */
  time = 0;
  txs = 0;
  failedTxs = 0;
  calls = 0;
  gasUsed = 0n;
  /**
   * wall milliseconds spent in transactions, and during which at least one of `call`'s reads was in
   * flight (reads awaited together count once: summing each one's latency counted every other read it
   * waited behind, tens of seconds more than the run took)
   */
  sendMs = 0;
  callMs = 0;
  private callsInFlight = 0;
  private callsSince = 0;

  constructor(readonly provider: EthereumProvider) {}

  /**
   * Every request to the node goes through here, the keeper service's included. A read pinned to the
   * head block (the keeper pins its reads to the block it scanned) is sent as a read at "latest": the
   * same block, state and block context (checked by test/replay/engine.test.ts), but the node serves
   * "latest" from its current state where a block number costs a lookup of that block's state
   * (measured: about twice the time of a simple view). The head is known from the last eth_blockNumber
   * or eth_getBlockByNumber("latest") answer, and forgotten as soon as anything may mine a block; while
   * it is known, an eth_blockNumber is answered with it (the node's own answer, as it gave it).
   */
  async rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    if (!READS_ONLY.has(method)) {
      this.reads.clear();
      this.changes++;
    }
    if (MINES.has(method)) {
      this.head = undefined;
      this.mined++;
      if (method === "evm_revert") {
        this.receipts.clear();
        this.blocks.clear();
      }
    } else if (method === "hardhat_reset") {
      this.receipts.clear();
      this.blocks.clear();
    } else if (method === "eth_blockNumber" && this.head !== undefined) {
      this.headHits++;
      return this.head as T;
    } else if (this.head !== undefined && PINNED_READS.has(method) && params.at(-1) === this.head) {
      params = [...params.slice(0, -1), "latest"];
    }
    if (method === "eth_getTransactionReceipt") {
      const known = this.receipts.get(params[0] as string);
      if (known !== undefined) return known as T;
    }
    const blockKey = method === "eth_getBlockByNumber" ? minedBlockKey(params) : undefined;
    if (blockKey !== undefined) {
      const known = this.blocks.get(blockKey);
      if (known !== undefined) {
        this.blockHits++;
        return known as T;
      }
    }
    const readKey = CACHED_READS.has(method) ? method + JSON.stringify(params) : undefined;
    if (readKey !== undefined) {
      const known = this.reads.get(readKey);
      if (known !== undefined) {
        this.readHits++;
        return known as T;
      }
    }
    const done = PROFILE ? profile(method, params) : undefined;
    const before = this.mined;
    const changes = this.changes;
    let result: T;
    try {
      result = (await this.provider.request({ method, params })) as T;
    } finally {
      done?.();
    }
    if (method === "eth_getTransactionReceipt" && result !== null) this.remember(params[0] as string, result);
    if (blockKey !== undefined && result != null) this.keepBlock(blockKey, result);
    // an answer to a read that overlapped a change is not kept (it may be from before or after it)
    if (readKey !== undefined && result != null && before === this.mined && this.changes === changes) {
      this.reads.set(readKey, deepFreeze(result));
    }
    if (before === this.mined) {
      if (method === "eth_blockNumber") this.head = result as string;
      else if (method === "eth_getBlockByNumber" && params[0] === "latest" && result !== null) {
        this.head = (result as { number: string }).number;
      }
    }
    return result;
  }

  /**
   * Receipts already answered, by hash: the replay reads each keeper transaction's receipt at the end
   * of its tick and the keeper's TxManager reads it again at its next poll. A mined transaction's
   * receipt never changes on this chain (nothing reorganises it; an `evm_revert` forgets them all), so
   * the node's answer is handed out again, frozen, and the node asked once. The newest
   * `RECEIPTS_KEPT` only: the poll comes within the tick.
   */
  private receipts = new Map<string, unknown>();

  private remember(hash: string, receipt: unknown): void {
    if (this.receipts.size >= RECEIPTS_KEPT) this.receipts.delete(this.receipts.keys().next().value!);
    this.receipts.set(hash, deepFreeze(receipt));
  }

  /**
   * Mined blocks already answered by number (`eth_getBlockByNumber` at a hex number, not a tag), by
   * their parameters: a mined block never changes on this chain (nothing reorganises it; an
   * `evm_revert` or `hardhat_reset` forgets them all), so the node's answer is handed out again, frozen.
   * The keeper reads the genesis block at almost every pass (its check that the node was not reset, made
   * whenever blocks were mined since its last pass). A block not mined yet answers null and is not kept.
   * The newest `BLOCKS_KEPT` only.
   */
  private blocks = new Map<string, unknown>();
  /** reads answered from `blocks`, and `eth_blockNumber`s answered from the known head */
  blockHits = 0;
  headHits = 0;

  private keepBlock(key: string, block: unknown): void {
    if (this.blocks.size >= BLOCKS_KEPT) this.blocks.delete(this.blocks.keys().next().value!);
    this.blocks.set(key, deepFreeze(block));
  }

  /**
   * Answers to reads (eth_call, eth_getBlockByNumber) by method and parameters, kept while no request
   * that may change the node's state was sent: the node would answer the same bytes (same state, same
   * block), so handing them out again is exact. A keeper pass reads some views twice at one block
   * (its jobs each read what they need), and the replay's step reads what the keeper just read.
   */
  private reads = new Map<string, unknown>();
  /** requests sent so far that may have changed what a read answers */
  private changes = 0;
  /** reads answered from `reads` */
  readHits = 0;

  /** hex number of the head block, while no request since may have mined another */
  private head: string | undefined;
  /** requests sent so far that may have mined a block */
  private mined = 0;

  /** Moves the clock forward (never back). */
  setTime(t: number): void {
    if (t < this.time) throw new Error(`replay time cannot go back: ${t} < ${this.time}`);
    this.time = t;
  }

  /** Mines an empty block at the current time, so views run at it. */
  async mine(): Promise<void> {
    await this.rpc("evm_mine", [this.time]);
  }

  async blockNumber(): Promise<number> {
    return Number(await this.rpc<string>("eth_blockNumber"));
  }

  /** Sends and mines one transaction at the current time; a revert is reported, not thrown. */
  async send(from: string, to: string, data: string, gas: number): Promise<TxResult> {
    const { r, hash } = await this.transact({ from, to, data, gas: "0x" + gas.toString(16) });
    return {
      hash,
      ok: r.status === "0x1",
      gasUsed: BigInt(r.gasUsed),
      logs: r.logs,
      blockNumber: Number(r.blockNumber),
    };
  }

  /** Sends a transaction a typed contract built (`contract.fn.populateTransaction(...)`); see `send`. */
  async exec(from: string, tx: Promise<ContractTransaction>, gas: number): Promise<TxResult> {
    const { to, data } = await tx;
    return this.send(from, to, data, gas);
  }

  /**
   * Sends many transactions into one block each `blockGas` of declared gas, with automine off and
   * explicit nonces and fees (without them the node re-executes the pending block to price and
   * number every new transaction: quadratic). About three times cheaper per transaction than
   * `send` for small ones; used for the population's setup. Results in order.
   */
  async sendBatch(
    txs: { from: string; to: string; data: string; gas: number }[],
    blockGas = 150_000_000,
  ): Promise<TxResult[]> {
    const started = performance.now();
    const nonces = new Map<string, number>();
    for (const tx of txs) {
      if (!nonces.has(tx.from)) {
        nonces.set(tx.from, Number(await this.rpc<string>("eth_getTransactionCount", [tx.from, "latest"])));
      }
    }
    const hashes: string[] = [];
    await this.rpc("evm_setAutomine", [false]);
    try {
      let pendingGas = 0;
      for (const tx of txs) {
        if (pendingGas + tx.gas > blockGas) {
          await this.rpc("evm_mine", [this.time]);
          pendingGas = 0;
        }
        const nonce = nonces.get(tx.from)!;
        nonces.set(tx.from, nonce + 1);
        hashes.push(
          await this.rpc<string>("eth_sendTransaction", [
            {
              ...tx,
              gas: "0x" + tx.gas.toString(16),
              nonce: "0x" + nonce.toString(16),
              maxFeePerGas: "0x1",
              maxPriorityFeePerGas: "0x0",
            },
          ]),
        );
        pendingGas += tx.gas;
      }
      if (pendingGas > 0) await this.rpc("evm_mine", [this.time]);
    } finally {
      await this.rpc("evm_setAutomine", [true]);
    }
    const out: TxResult[] = [];
    for (const hash of hashes) {
      const r = await this.rpc<RpcReceipt | null>("eth_getTransactionReceipt", [hash]);
      if (r === null) throw new Error(`replay: a batched transaction was not mined (${hash})`);
      const ok = this.tally(r);
      out.push({ hash, ok, gasUsed: BigInt(r.gasUsed), logs: r.logs, blockNumber: Number(r.blockNumber) });
    }
    this.sendMs += performance.now() - started;
    return out;
  }

  /** Deploys `initCode` (bytecode with constructor arguments) at the current time; returns the address. */
  async deploy(from: string, initCode: string, gas: number): Promise<string> {
    const { r } = await this.transact({ from, data: initCode, gas: "0x" + gas.toString(16) });
    if (r.status !== "0x1" || r.contractAddress === null) throw new Error("replay: contract deployment reverted");
    return r.contractAddress;
  }

  private async transact(tx: Record<string, string>): Promise<{ r: RpcReceipt; hash: string }> {
    const started = performance.now();
    await this.rpc("evm_setNextBlockTimestamp", [this.time]);
    const hash = await this.rpc<string>("eth_sendTransaction", [tx]);
    const r = await this.rpc<RpcReceipt>("eth_getTransactionReceipt", [hash]);
    this.tally(r);
    this.sendMs += performance.now() - started;
    return { r, hash };
  }

  /**
   * The receipt of a transaction sent by another client of this chain (the keeper service sends
   * through ethers), counted in the run's totals like the engine's own. Throws when it was not mined:
   * with automine, a transaction the node accepted is mined at once.
   */
  async receipt(hash: string): Promise<TxResult> {
    const r = await this.rpc<RpcReceipt | null>("eth_getTransactionReceipt", [hash]);
    if (r === null) throw new Error(`replay: transaction ${hash} was accepted but not mined`);
    const ok = this.tally(r);
    return { hash, ok, gasUsed: BigInt(r.gasUsed), logs: r.logs, blockNumber: Number(r.blockNumber) };
  }

  /** Counts a mined transaction in the totals; true when it succeeded. */
  private tally(r: Pick<RpcReceipt, "status" | "gasUsed">): boolean {
    const ok = r.status === "0x1";
    this.txs++;
    this.gasUsed += BigInt(r.gasUsed);
    if (!ok) this.failedTxs++;
    return ok;
  }

  /** eth_call on the latest block. Reverts throw. */
  async call(to: string, data: string, gas = TX_GAS_CAP): Promise<string> {
    this.calls++;
    if (this.callsInFlight++ === 0) this.callsSince = performance.now();
    try {
      return await this.rpc<string>("eth_call", [{ to, data, gas: "0x" + gas.toString(16) }, "latest"]);
    } finally {
      if (--this.callsInFlight === 0) this.callMs += performance.now() - this.callsSince;
    }
  }

  /** Logs of `addresses` in blocks [fromBlock, latest]. */
  async logs(fromBlock: number, addresses: string[]): Promise<Log[]> {
    return this.rpc<Log[]>("eth_getLogs", [
      { fromBlock: "0x" + fromBlock.toString(16), toBlock: "latest", address: addresses },
    ]);
  }
}
