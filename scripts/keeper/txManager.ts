/**
 * The keeper's transactions: nonces assigned here (never by the node), EIP-1559 fees, and each
 * transaction followed until its nonce is used. Nothing here waits or sleeps: `poll` is called once
 * per tick, looks at the account's mined nonce, collects the receipts of what was mined, re-sends
 * what a node may have lost, and replaces (same nonce, higher fees) what has waited `stuckBlocks`.
 *
 * With a local key (an ethers Wallet) transactions are signed here and their hash is known before
 * they are sent, so a send that failed in transit is simply re-sent. With a JSON-RPC signer (a node
 * account, as in Hardhat tests) the node signs, and a lost send is retried at the same nonce.
 */
import {
  BaseWallet,
  Transaction,
  type Provider,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
} from "ethers";

import { type FeePolicy, type Fees, bumpFees } from "./fees.js";
import type { Logger } from "./logger.js";
import { isTransportError } from "./rpc.js";

export type TxKind =
  "liquidation" | "volatility" | "breaker" | "claim" | "flag" | "adl" | "cancel" | "unwind" | "settle";

export type TxRequest = {
  kind: TxKind;
  /** at most one pending transaction per key (e.g. "volatility:ETH/USD") */
  key: string;
  to: string;
  data: string;
  gasLimit: bigint;
  /** accounts a liquidation batch covers */
  accounts?: bigint[];
};

export type PendingTx = TxRequest & {
  nonce: number;
  fees: Fees;
  /** every hash sent at this nonce (the original and its replacements) */
  hashes: string[];
  /** the latest signed bytes, for re-sending (local key only) */
  raw?: string;
  sentAtBlock: number;
  lastSentBlock: number;
  replacements: number;
  /** the last send failed in transit: send again */
  resend: boolean;
};

export type TxOutcome = {
  tx: PendingTx;
  /** dropped: the nonce was used by a transaction that is not one of ours (another process, same key) */
  status: "mined" | "reverted" | "dropped";
  receipt?: TransactionReceipt;
};

/** The part of a provider the manager uses (a fake in unit tests). */
export type TxProvider = Pick<
  Provider,
  "getTransactionCount" | "getTransactionReceipt" | "broadcastTransaction" | "getTransaction" | "estimateGas" | "call"
>;

export type TxManagerOptions = {
  provider: TxProvider;
  signer: Signer;
  address: string;
  chainId: bigint;
  policy: FeePolicy & { stuckBlocks: number };
  logger: Logger;
};

type SendResult = { ok: true; hash: string } | { ok: false; kind: BroadcastFailure; message: string };

export type BroadcastFailure = "known" | "nonce-used" | "underpriced" | "insufficient-funds" | "transport" | "rejected";

/** A transaction the node refused outright: its kind, why, and the node's words. */
export type Refusal = { kind: TxKind; failure: BroadcastFailure; message: string };

/**
 * How a node refused a transaction: already has it, nonce gone, fee too low, the key cannot pay for
 * its gas, unreachable, or no.
 */
export function classifyBroadcastError(e: unknown): BroadcastFailure {
  const err = e as { code?: string; message?: string; shortMessage?: string; error?: { message?: string } };
  const text = `${err?.shortMessage ?? ""} ${err?.message ?? ""} ${err?.error?.message ?? ""}`;
  if (/already known|known transaction|already imported/i.test(text)) return "known";
  if (err?.code === "NONCE_EXPIRED" || /nonce too low|nonce has already been used|nonce.*(lower|expired)/i.test(text)) {
    return "nonce-used";
  }
  if (err?.code === "REPLACEMENT_UNDERPRICED" || /underpriced|replacement fee too low/i.test(text)) {
    return "underpriced";
  }
  if (err?.code === "INSUFFICIENT_FUNDS" || /insufficient funds|(doesn't|does not) have enough funds/i.test(text)) {
    return "insufficient-funds";
  }
  if (isTransportError(e)) return "transport";
  return "rejected";
}

export class TxManager {
  /** by nonce */
  readonly pending = new Map<number, PendingTx>();
  private nextNonce: number | undefined;
  private readonly localKey: boolean;
  private refusals: Refusal[] = [];

  constructor(private readonly o: TxManagerOptions) {
    this.localKey = o.signer instanceof BaseWallet;
  }

  get synced(): boolean {
    return this.nextNonce !== undefined;
  }

  /** Takes the next nonce from the node (its pending count): at start and after the key was used elsewhere. */
  async sync(): Promise<void> {
    const pendingCount = await this.o.provider.getTransactionCount(this.o.address, "pending");
    const ours = this.pending.size ? Math.max(...this.pending.keys()) + 1 : 0;
    this.nextNonce = Math.max(pendingCount, ours);
  }

  /** The refusals since the last call. */
  drainRefusals(): Refusal[] {
    const r = this.refusals;
    this.refusals = [];
    return r;
  }

  count(kind?: TxKind): number {
    if (!kind) return this.pending.size;
    let n = 0;
    for (const t of this.pending.values()) if (t.kind === kind) n++;
    return n;
  }

  hasKey(key: string): boolean {
    for (const t of this.pending.values()) if (t.key === key) return true;
    return false;
  }

  /**
   * Simulates a call from the keeper's address on the latest block: its gas, or the revert it
   * would hit. ("pending", some nodes' default, would first execute everything in the mempool.)
   */
  estimate(to: string, data: string): Promise<bigint> {
    return this.o.provider.estimateGas({ from: this.o.address, to, data, blockTag: "latest" });
  }

  /**
   * Whether a call from the keeper's address succeeds on the latest block within `gasLimit`: one
   * execution, where `estimate` searches with many. False when it reverts, out of gas included.
   */
  async fits(to: string, data: string, gasLimit: bigint): Promise<boolean> {
    try {
      await this.o.provider.call({ from: this.o.address, to, data, gasLimit, blockTag: "latest" });
      return true;
    } catch (e) {
      if (isTransportError(e)) throw e;
      return false;
    }
  }

  /** Accounts covered by liquidation batches not yet mined. */
  accountsInFlight(): Set<bigint> {
    const s = new Set<bigint>();
    for (const t of this.pending.values()) for (const a of t.accounts ?? []) s.add(a);
    return s;
  }

  /**
   * Signs and sends at the next nonce. Returns the pending transaction, or undefined when the node
   * refused it outright (the nonce is then free again).
   */
  async submit(req: TxRequest, fees: Fees, blockNumber: number): Promise<PendingTx | undefined> {
    if (this.nextNonce === undefined) await this.sync();
    const nonce = this.nextNonce!;
    this.nextNonce = nonce + 1;
    const tx: PendingTx = {
      ...req,
      nonce,
      fees,
      hashes: [],
      sentAtBlock: blockNumber,
      lastSentBlock: blockNumber,
      replacements: 0,
      resend: false,
    };
    const sent = await this.send(tx, fees);
    if (sent.ok) {
      tx.hashes.push(sent.hash);
      this.pending.set(nonce, tx);
      return tx;
    }
    if (sent.kind === "transport" || sent.kind === "known") {
      // It may or may not have reached the node: keep it, its hash (local key) tells later.
      if (tx.raw) tx.hashes.push(Transaction.from(tx.raw).hash!);
      tx.resend = true;
      this.pending.set(nonce, tx);
      return tx;
    }
    // Refused: nothing holds this nonce. It is the last one assigned (sends are sequential).
    if (this.nextNonce === nonce + 1) this.nextNonce = nonce;
    if (sent.kind === "nonce-used") this.nextNonce = undefined;
    this.refusals.push({ kind: req.kind, failure: sent.kind, message: sent.message });
    if (sent.kind === "insufficient-funds") {
      this.o.logger.error(
        { kind: req.kind, nonce, address: this.o.address, err: sent.message },
        "transaction refused: the keeper's key has not enough ether to pay for gas; fund it",
      );
    } else {
      this.o.logger.warn({ kind: req.kind, nonce, failure: sent.kind, err: sent.message }, "transaction refused");
    }
    return undefined;
  }

  /**
   * Once per tick: outcomes of every pending transaction whose nonce the chain has used; re-sends and
   * replacements of the others. `currentFees` prices a replacement at no less than a new transaction.
   */
  async poll(head: number, currentFees: () => Promise<Fees | undefined>): Promise<TxOutcome[]> {
    if (this.pending.size === 0) return [];
    const mined = await this.o.provider.getTransactionCount(this.o.address, "latest");
    const outcomes: TxOutcome[] = [];
    const done = [...this.pending.values()].filter((t) => t.nonce < mined);
    const receipts = await Promise.all(
      done.map((t) => Promise.all(t.hashes.map((h) => this.o.provider.getTransactionReceipt(h)))),
    );
    done.forEach((t, i) => {
      const receipt = receipts[i].find((r) => r !== null) ?? undefined;
      this.pending.delete(t.nonce);
      if (!receipt) outcomes.push({ tx: t, status: "dropped" });
      else outcomes.push({ tx: t, status: receipt.status === 1 ? "mined" : "reverted", receipt });
    });
    if (this.nextNonce !== undefined && this.nextNonce < mined) this.nextNonce = mined;

    let fees: Fees | undefined | null = null;
    for (const t of [...this.pending.values()].sort((a, b) => a.nonce - b.nonce)) {
      if (head - t.lastSentBlock >= this.o.policy.stuckBlocks) {
        if (fees === null) fees = await currentFees();
        await this.replace(t, fees, head);
      } else if (t.resend) {
        const r = await this.send(t, t.fees, true);
        if (r.ok || r.kind === "known") t.resend = false;
      }
    }
    return outcomes;
  }

  /** Same nonce, higher fees: a transaction the chain has not taken for `stuckBlocks` blocks. */
  private async replace(t: PendingTx, current: Fees | undefined, head: number): Promise<void> {
    const fees = bumpFees(t.fees, current, this.o.policy);
    if (!fees) {
      this.o.logger.warn({ nonce: t.nonce, kind: t.kind, fees: t.fees }, "stuck transaction at the fee cap; waiting");
      t.lastSentBlock = head;
      return;
    }
    const r = await this.send(t, fees);
    t.lastSentBlock = head;
    if (r.ok) {
      t.fees = fees;
      t.hashes.push(r.hash);
      t.replacements++;
      t.resend = false;
      this.o.logger.info({ nonce: t.nonce, kind: t.kind, hash: r.hash, fees }, "replaced stuck transaction");
    } else if (r.kind === "transport") {
      t.fees = fees;
      if (t.raw) t.hashes.push(Transaction.from(t.raw).hash!);
      t.resend = true;
    } else {
      this.o.logger.warn({ nonce: t.nonce, failure: r.kind, err: r.message }, "replacement refused");
    }
  }

  private async send(t: PendingTx, fees: Fees, resendRaw = false): Promise<SendResult> {
    const request: TransactionRequest = {
      type: 2,
      chainId: this.o.chainId,
      nonce: t.nonce,
      to: t.to,
      data: t.data,
      value: 0n,
      gasLimit: t.gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    };
    let raw: string | undefined;
    try {
      if (this.localKey) {
        raw = resendRaw && t.raw ? t.raw : await this.o.signer.signTransaction(request);
        const hash = Transaction.from(raw).hash!;
        await this.o.provider.broadcastTransaction(raw);
        t.raw = raw;
        return { ok: true, hash };
      }
      const response = await this.o.signer.sendTransaction(request);
      return { ok: true, hash: response.hash };
    } catch (e) {
      const kind = classifyBroadcastError(e);
      if (raw && (kind === "transport" || kind === "known")) t.raw = raw;
      if (kind === "rejected" && raw) {
        // Some nodes report an error for a transaction they did mine (a revert under automine):
        // if the node knows the hash, it is ours to follow, not a refusal.
        const hash = Transaction.from(raw).hash!;
        const known = await this.o.provider.getTransaction(hash).catch(() => null);
        if (known) {
          t.raw = raw;
          return { ok: true, hash };
        }
      }
      return { ok: false, kind, message: nodeMessage(e) };
    }
  }
}

/** The node's own words for a refusal when ethers kept them ("could not coalesce error" says nothing). */
function nodeMessage(e: unknown): string {
  const err = e as { error?: { message?: unknown }; shortMessage?: string; message?: string };
  if (typeof err?.error?.message === "string") return err.error.message;
  return err?.shortMessage ?? err?.message ?? String(e);
}
