/**
 * From the scan's worst-first list to liquidateBatch transactions:
 *
 * 1. leave out accounts already in a pending batch, accounts whose simulation failed recently, and
 *    accounts still in their cooldown (from the liquidation engine's accountState, read once per
 *    tranche and remembered until the next LiquidationSettled of that account); a backstop account
 *    ignores the cooldown, as the contract does;
 * 2. confirm each with previewLiquidation at the scanned block: the contract's own plan;
 * 3. keep what the markets' liquidation capacity allows now, worst first; when the engine has a
 *    backstop vault, every account below maintenance is sent, held back or not: the engine offers it
 *    to the vault first (a takeover at the oracle price, no sale), and what the vault declines goes
 *    as a tranche or waits;
 * 4. pack into batches under the gas cap and send them, up to the number of transactions allowed in
 *    flight. The previews of step 2 are the contract's own simulation of each tranche at the scanned
 *    block, so a batch of previewed accounts is sent at once with its gas budget (no second
 *    execution of the whole batch on the node: in a cascade that halves the node's work before the
 *    first transaction leaves). A batch whose accounts include one of an unsimulated batch that
 *    reverted (or every batch, with `simulateBatches`, and in a dry run) is simulated first (eth_call
 *    for the count it would liquidate, eth_estimateGas for its gas; a batch that would revert is
 *    split to find the account at fault).
 *
 * An account another keeper got to first is normal: the preview says healthy or cooling down, or
 * the mined batch skips it (LiquidationSkipped). Neither is an error.
 */
import { performance } from "node:perf_hooks";

import { type Log, ZeroAddress } from "ethers";

import type { ChainView } from "./chainView.js";
import { decodeRevert, type ProtocolContracts } from "./contracts.js";
import type { Fees } from "./fees.js";
import type { AddressedJobContext } from "./job.js";
import {
  type Preview,
  type TranchePlan,
  batchGasLimit,
  fitCapacity,
  packBatches,
  planFromPreview,
  previewFromRevert,
  takeoverPlan,
} from "./planner.js";
import { isTransportError } from "./rpc.js";
import type { AccountHealth, ScanResult } from "./scanner.js";
import type { TxOutcome } from "./txManager.js";

export type BatchReport = {
  accounts: bigint[];
  /** liquidations the simulation (eth_call) said the batch would make; undefined: sent unsimulated */
  simulated?: number;
  gasLimit: bigint;
  hash?: string;
  nonce?: number;
  sent: boolean;
};

export type LiquidationReport = {
  candidates: number;
  inFlight: number;
  coolingDown: number;
  backedOff: number;
  previewed: number;
  ready: number;
  /** the contract found these healthy or flat at the scanned block (someone else acted, or drift) */
  notLiquidatable: number;
  heldBackByCapacity: number;
  /** accounts sent for the backstop vault to take over (every one below maintenance, when it is set) */
  takeoverCandidates: number;
  /** the accounts below maintenance held back by their cooldown or the capacity cap (the keeper flags them) */
  waiting: bigint[];
  previewFailed: number;
  /** chain time at which the first account now cooling down may take its next tranche */
  nextReadyAt?: bigint;
  batches: BatchReport[];
  /** milliseconds spent confirming (cooldown reads and previews) and simulating batches */
  confirmMs: number;
  simulateMs: number;
  sendMs: number;
};

export type MinedLiquidation = { hash: string; liquidated: bigint[]; skipped: bigint[]; rewardWad: bigint };

const STATUS = ["Ok", "NoPositions", "Healthy", "CoolingDown", "NoCapacity", "SnapshotFailed", "HeldAtMark"];

export class Liquidator {
  /** accountId -> timestamp from which its next tranche may go (0: no tranche yet) */
  private readonly readyAt = new Map<bigint, bigint>();
  /** accountId -> block before which it is not retried (its simulation failed) */
  private readonly backoffUntil = new Map<bigint, number>();
  /** the engine's backstop vault is set (it cannot be unset) */
  private vaultSet = false;
  /** accounts of an unsimulated batch that reverted: their batches are simulated (and split) from now on */
  private readonly mustSimulate = new Set<bigint>();

  constructor(
    private readonly o: AddressedJobContext & {
      /** the book's word on whether a tranche of the account was ever settled */
      liquidatedBefore: (accountId: bigint) => boolean;
    },
  ) {}

  /** A tranche of the account was settled (by anyone): its cooldown restarted. */
  settled(accountId: bigint): void {
    this.readyAt.delete(accountId);
  }

  /**
   * Confirms, selects, simulates and (unless dry-run) sends. Returns the report and the accounts
   * whose preview contradicted the book (to re-read from the chain).
   */
  async act(
    scan: ScanResult,
    view: ChainView,
    fees: () => Promise<Fees | undefined>,
  ): Promise<{ report: LiquidationReport; contradicted: bigint[] }> {
    const s = this.o.settings;
    const report: LiquidationReport = {
      candidates: scan.liquidatable.length,
      inFlight: 0,
      coolingDown: 0,
      backedOff: 0,
      previewed: 0,
      ready: 0,
      notLiquidatable: 0,
      heldBackByCapacity: 0,
      takeoverCandidates: 0,
      waiting: [],
      previewFailed: 0,
      batches: [],
      confirmMs: 0,
      simulateMs: 0,
      sendMs: 0,
    };
    const contradicted: bigint[] = [];
    if (scan.liquidatable.length === 0) return { report, contradicted };

    const inFlight = this.o.tx.accountsInFlight();
    const open: AccountHealth[] = [];
    for (const c of scan.liquidatable) {
      const until = this.backoffUntil.get(c.accountId);
      if (inFlight.has(c.accountId)) report.inFlight++;
      else if (until !== undefined && view.blockNumber < until) report.backedOff++;
      else open.push(c);
    }
    const confirmStarted = performance.now();
    await this.learnCooldowns(open, view);
    const due: AccountHealth[] = [];
    const cooling = (readyAt: bigint) => {
      report.coolingDown++;
      if (report.nextReadyAt === undefined || readyAt < report.nextReadyAt) report.nextReadyAt = readyAt;
    };
    const held: bigint[] = [];
    for (const c of open) {
      const readyAt = this.readyAt.get(c.accountId) ?? 0n;
      if (c.backstop || readyAt <= view.timestamp) due.push(c);
      else {
        cooling(readyAt);
        held.push(c.accountId);
      }
    }

    const slots = s.maxPendingTxs - this.o.tx.count();
    if (slots <= 0) {
      report.waiting.push(...held);
      return { report, contradicted };
    }
    const toPreview = due.slice(0, Math.min(s.previewLimit, slots * s.maxBatch));
    report.previewed = toPreview.length;
    report.confirmMs = performance.now() - confirmStarted;

    // The previews go out a batch's worth at a time, worst first, and each batch is sent as soon as it
    // is complete, while the node still answers the next previews: the worst accounts' transaction
    // leaves after one round of previews rather than all of them. The batches are exactly those of
    // packing every previewed account at once (packing is greedy, in order: a batch closes when the
    // next tranche does not fit), and capacity is spent in the same order.
    const ready: TranchePlan[] = [];
    const heldBack: TranchePlan[] = [];
    const rooms = new Map([...view.capacity].map(([m, c]) => [m, c.room]));
    let vault: boolean | undefined;
    let growing: TranchePlan[] = [];
    let packed = 0;
    let feesNow: Promise<Fees | undefined> | undefined;
    const dispatch = async (batches: TranchePlan[][]) => {
      for (const batch of batches) {
        if (packed >= slots) return;
        packed++;
        if (!feesNow) {
          feesNow = s.dryRun ? Promise.resolve(undefined) : fees();
          feesNow.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
        }
        const simulateStarted = performance.now();
        const simulated = this.needsSimulation(batch)
          ? await this.simulate(batch, view.blockNumber)
          : [{ accounts: batch.map((p) => p.accountId), gasLimit: batchGasLimit(batch, s) }];
        report.simulateMs += performance.now() - simulateStarted;
        const sendStarted = performance.now();
        for (const b of simulated) {
          const r: BatchReport = { ...b, sent: false };
          report.batches.push(r);
          if (s.dryRun) continue;
          const f = await feesNow;
          if (!f) {
            this.o.logger.warn({ baseFee: view.baseFeePerGas }, "fees above the configured cap; not sending");
            continue;
          }
          await this.send(r, f, view.blockNumber);
        }
        report.sendMs += performance.now() - sendStarted;
      }
    };
    /** Adds tranches in order; sends every batch that can no longer grow (the next tranche or a full count closes it). */
    const add = async (plans: TranchePlan[]) => {
      const batches = packBatches([...growing, ...plans], s);
      growing = batches.pop() ?? [];
      if (growing.length >= s.maxBatch) batches.push(growing.splice(0));
      await dispatch(batches);
    };
    // With a backstop vault the engine offers every account below maintenance to the vault first (a
    // takeover at the oracle price: no sale, no capacity used); what the vault declines (its caps, its
    // drawdown breaker) goes as the tranche or backstop close it would have been, or waits (skipped).
    // Asked once there is something to send.
    const vaultDecided = async () => {
      if (vault === undefined && ready.length + held.length > 0) vault = await this.vaultTakesOver(view.blockNumber);
      return vault;
    };

    for (let i = 0; i < toPreview.length; i += s.maxBatch) {
      const part = toPreview.slice(i, i + s.maxBatch);
      const previewStarted = performance.now();
      const previews = await Promise.all(
        part.map((c) => this.preview(c.accountId, view.blockNumber, view.liquidation.capBypassRatio)),
      );
      report.confirmMs += performance.now() - previewStarted;
      const partReady: TranchePlan[] = [];
      previews.forEach((p, j) => {
        const id = part[j].accountId;
        switch (p.kind) {
          case "ready":
            partReady.push(p.plan);
            break;
          case "healthy":
          case "no-positions":
            report.notLiquidatable++;
            contradicted.push(id);
            break;
          case "cooling-down":
            cooling(p.readyAt);
            held.push(id);
            this.readyAt.set(id, p.readyAt);
            break;
          case "no-capacity":
            report.heldBackByCapacity++;
            held.push(id);
            break;
          case "failed":
            report.previewFailed++;
            this.backoffUntil.set(id, view.blockNumber + s.failedBackoffBlocks);
            this.o.logger.warn({ accountId: id, reason: p.reason }, "preview failed; leaving the account for a while");
            break;
        }
      });
      ready.push(...partReady);
      if (await vaultDecided()) {
        await add(partReady.map((p) => ({ ...p, bypassesCapacity: true, takeover: true })));
      } else {
        const fit = fitCapacity(partReady, rooms);
        for (const [m, r] of fit.rooms) rooms.set(m, r);
        heldBack.push(...fit.heldBack);
        await add(fit.selected);
      }
    }
    report.ready = ready.length;
    if (await vaultDecided()) {
      await add(held.map(takeoverPlan));
      report.takeoverCandidates = ready.length + held.length;
    } else {
      report.heldBackByCapacity += heldBack.length;
      report.waiting.push(...held, ...heldBack.map((p) => p.accountId));
    }
    await dispatch(growing.length ? [growing] : []);
    return { report, contradicted };
  }

  /**
   * Whether a batch is simulated before it is sent: always in a dry run and with `simulateBatches`;
   * otherwise when one of its accounts no preview confirmed (held back and offered to the vault,
   * which may decline: the simulation's count of 0 then spares the transaction) or was in an
   * unsimulated batch that reverted.
   */
  private needsSimulation(batch: readonly TranchePlan[]): boolean {
    const s = this.o.settings;
    return s.dryRun || s.simulateBatches || batch.some((p) => p.unconfirmed || this.mustSimulate.has(p.accountId));
  }

  private async send(r: BatchReport, fees: Fees, blockNumber: number): Promise<void> {
    const engine = this.o.contracts.liquidationEngine;
    const tx = await this.o.tx.submit(
      {
        kind: "liquidation",
        key: `liquidation:${blockNumber}:${r.accounts[0]}`,
        to: engine.target as string,
        data: engine.interface.encodeFunctionData("liquidateBatch", [r.accounts]),
        gasLimit: r.gasLimit,
        accounts: r.accounts,
      },
      fees,
      blockNumber,
    );
    if (!tx) {
      this.o.metrics.transactions.inc({ kind: "liquidation", outcome: "refused" });
      return;
    }
    r.sent = true;
    r.hash = tx.hashes[0];
    r.nonce = tx.nonce;
    this.o.metrics.tranchesSent.inc(r.accounts.length);
    this.o.metrics.transactions.inc({ kind: "liquidation", outcome: "sent" });
    this.o.logger.info(
      { nonce: tx.nonce, hash: r.hash, accounts: r.accounts.length, simulated: r.simulated, gasLimit: r.gasLimit },
      "liquidation batch sent",
    );
  }

  /**
   * Reads the last tranche time of candidates whose cooldown is not known yet (one call each,
   * batched). An account the book has never seen liquidated has none: no call.
   */
  private async learnCooldowns(candidates: AccountHealth[], view: ChainView): Promise<void> {
    const unknown: AccountHealth[] = [];
    for (const c of candidates) {
      if (c.backstop || this.readyAt.has(c.accountId)) continue;
      if (!this.o.liquidatedBefore(c.accountId)) this.readyAt.set(c.accountId, 0n);
      else unknown.push(c);
    }
    const states = await Promise.all(
      unknown.map((c) => this.o.contracts.liquidationEngine.accountState(c.accountId, { blockTag: view.blockNumber })),
    );
    unknown.forEach((c, i) => {
      const last = states[i].lastTrancheAt;
      this.readyAt.set(c.accountId, last === 0n ? 0n : last + view.liquidation.cooldown);
    });
  }

  /** Whether the engine has a backstop vault (set once by governance, so a yes is remembered). */
  private async vaultTakesOver(blockTag: number): Promise<boolean> {
    if (this.vaultSet) return true;
    const backstop = this.o.contracts.backstop;
    if (!backstop) return false;
    try {
      const state = await backstop.backstopState({ blockTag });
      this.vaultSet = state.vault !== ZeroAddress;
    } catch (e) {
      if (isTransportError(e)) throw e;
      return false; // a deployment without the backstop module
    }
    return this.vaultSet;
  }

  private async preview(accountId: bigint, blockTag: number, capBypassRatio: bigint): Promise<Preview> {
    try {
      const plan = await this.o.contracts.liquidationEngine.previewLiquidation(accountId, { blockTag });
      return { kind: "ready", plan: planFromPreview(plan, capBypassRatio) };
    } catch (e) {
      if (isTransportError(e)) throw e;
      return previewFromRevert(e);
    }
  }

  /**
   * Simulates one batch at the latest block: eth_call with the gas limit it will be sent with,
   * which returns how many tranches it would liquidate and proves the limit is enough. A batch that
   * would fail is split in halves until the account at fault is alone; for that one the node's
   * eth_estimateGas decides between "needs more gas" (sent with the estimate) and a real revert (the
   * account is left for `failedBackoffBlocks`). A batch that would liquidate nothing is dropped.
   */
  private async simulate(
    batch: TranchePlan[],
    blockNumber: number,
  ): Promise<Omit<BatchReport, "sent" | "hash" | "nonce">[]> {
    const s = this.o.settings;
    const ids = batch.map((p) => p.accountId);
    const engine = this.o.contracts.liquidationEngine;
    const from = this.o.address;
    const gasLimit = batchGasLimit(batch, s);
    try {
      const count = await engine.liquidateBatch.staticCall(ids, { from, gasLimit });
      return count === 0n ? [] : [{ accounts: ids, simulated: Number(count), gasLimit }];
    } catch (e) {
      if (isTransportError(e)) throw e;
      if (ids.length > 1) return this.split(batch, blockNumber);
    }
    try {
      const [count, gas] = await Promise.all([
        engine.liquidateBatch.staticCall(ids, { from }),
        this.o.tx.estimate(engine.target as string, engine.interface.encodeFunctionData("liquidateBatch", [ids])),
      ]);
      const margin = (gas * BigInt(100 + s.gasLimitMarginPercent)) / 100n;
      const limit = margin > BigInt(s.txGasCap) ? BigInt(s.txGasCap) : margin;
      return count === 0n ? [] : [{ accounts: ids, simulated: Number(count), gasLimit: limit }];
    } catch (e) {
      if (isTransportError(e)) throw e;
      const reason = decodeRevert(e)?.name ?? (e as { shortMessage?: string }).shortMessage ?? String(e);
      this.backoffUntil.set(ids[0], blockNumber + s.failedBackoffBlocks);
      this.o.metrics.tranchesFailed.inc();
      this.o.logger.warn(
        { accountId: ids[0], reason },
        "liquidation simulation reverted; leaving the account for a while",
      );
      return [];
    }
  }

  private async split(batch: TranchePlan[], blockNumber: number) {
    const half = Math.ceil(batch.length / 2);
    const parts = await Promise.all([
      this.simulate(batch.slice(0, half), blockNumber),
      this.simulate(batch.slice(half), blockNumber),
    ]);
    return parts.flat();
  }

  /** Accounts what a mined (or reverted, or dropped) liquidation batch did. */
  outcome(o: TxOutcome): MinedLiquidation | undefined {
    const m = this.o.metrics;
    m.transactions.inc({ kind: "liquidation", outcome: o.status });
    if (o.tx.replacements) m.transactions.inc({ kind: "liquidation", outcome: "replaced" }, o.tx.replacements);
    const hash = o.receipt?.hash ?? o.tx.hashes[o.tx.hashes.length - 1];
    if (o.status === "dropped") {
      this.o.logger.warn({ nonce: o.tx.nonce }, "liquidation batch dropped: its nonce was used by another transaction");
      return undefined;
    }
    if (o.status === "reverted") {
      m.tranchesFailed.inc(o.tx.accounts?.length ?? 0);
      // Sent unsimulated or not, its accounts are simulated from now on: the split in halves then
      // finds the one at fault.
      for (const a of o.tx.accounts ?? []) this.mustSimulate.add(a);
      this.o.logger.warn({ hash, nonce: o.tx.nonce, accounts: o.tx.accounts?.length }, "liquidation batch reverted");
      return { hash, liquidated: [], skipped: [], rewardWad: 0n };
    }
    const result: MinedLiquidation = { hash, liquidated: [], skipped: [], rewardWad: 0n };
    const iface = this.o.contracts.liquidationEngine.interface;
    const self = this.o.address.toLowerCase();
    for (const log of o.receipt?.logs ?? []) {
      const ev = parse(iface, log);
      if (!ev) continue;
      if (ev.name === "LiquidationSettled" && (ev.args.keeper as string).toLowerCase() === self) {
        result.liquidated.push(ev.args.accountId as bigint);
      } else if (ev.name === "TrancheLiquidated" && (ev.args.keeper as string).toLowerCase() === self) {
        result.rewardWad += ev.args.keeperReward as bigint;
      } else if (ev.name === "LiquidationSkipped") {
        result.skipped.push(ev.args.accountId as bigint);
        m.tranchesSkipped.inc({ status: STATUS[Number(ev.args.status)] ?? String(ev.args.status) });
      }
    }
    m.tranchesMined.inc(result.liquidated.length);
    m.rewardEarned.inc(Number(result.rewardWad) / 1e18);
    this.o.logger.info(
      {
        hash,
        nonce: o.tx.nonce,
        liquidated: result.liquidated.length,
        skipped: result.skipped.length,
        rewardWad: result.rewardWad,
      },
      result.skipped.length ? "liquidation batch mined; some accounts were already handled" : "liquidation batch mined",
    );
    return result;
  }
}

function parse(iface: ProtocolContracts["liquidationEngine"]["interface"], log: Log) {
  try {
    return iface.parseLog({ topics: [...log.topics], data: log.data });
  } catch {
    return null;
  }
}
