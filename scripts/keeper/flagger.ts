/**
 * Flags the accounts below maintenance margin that the keeper cannot liquidate yet: their cooldown
 * still runs, or the market's liquidation capacity for the window is used up. LiquidationEngine.flag
 * records when the account became liquidatable, and the keeper reward of its next tranche escalates
 * from then (the contract's intent: a liquidation that has waited pays more, so it stays worth doing
 * when gas is dear). Without the flag, the clock would only start at that next tranche.
 *
 * The contract counts only time during which the account was seen liquidatable, with gaps of at most
 * `ESCALATION_GAP` (600 s): a clock nobody renews for longer ends, since a recovery by price may have
 * happened unseen. So an account that stays held back is flagged again every `RENEW_AFTER_SECONDS`
 * (half the gap) while its clock runs; a tranche of it renews the clock as well. The keeper reads the
 * account's state once per episode (a clock started by someone else, or its last tranche), and starts
 * a new episode when the account leaves the liquidatable list or a tranche of it settles.
 * Each flag is simulated before it is sent (eth_call at the gas limit it was last sent with, else an
 * estimate), as the pokes are.
 */
import type { ChainView } from "./chainView.js";
import type { Fees } from "./fees.js";
import type { JobContext } from "./job.js";
import type { PokeReport } from "./pokers.js";
import { isTransportError } from "./rpc.js";

/** How long after the account was last seen liquidatable on chain the keeper flags it again. */
export const RENEW_AFTER_SECONDS = 300n;

export class Flagger {
  /** accounts whose clock is known to run in this episode -> when the chain last saw them liquidatable */
  private readonly seen = new Map<bigint, bigint>();
  private gasLimit: bigint | undefined;

  constructor(private readonly o: JobContext) {}

  /** A tranche of the account settled: the contract may have cleared its flag. */
  settled(accountId: bigint): void {
    this.seen.delete(accountId);
  }

  /**
   * Flags the `waiting` accounts not yet flagged on chain. `liquidatable` is the scan's whole list:
   * an account no longer in it starts a new episode.
   */
  async run(
    waiting: readonly bigint[],
    liquidatable: ReadonlySet<bigint>,
    view: ChainView,
    fees: () => Promise<Fees | undefined>,
  ): Promise<PokeReport[]> {
    for (const id of this.seen.keys()) if (!liquidatable.has(id)) this.seen.delete(id);
    const le = this.o.contracts.liquidationEngine;
    const now = view.timestamp;
    const candidates = waiting.filter((id) => !this.o.tx.hasKey(`flag:${id}`));
    const unknown = candidates.filter((id) => !this.seen.has(id));
    const states = await Promise.all(unknown.map((id) => le.accountState(id, { blockTag: view.blockNumber })));
    // a clock someone else started: seen at its start or at the last tranche, whichever is later
    for (const [i, id] of unknown.entries()) {
      const { lastTrancheAt, liquidatableSince } = states[i];
      if (liquidatableSince !== 0n)
        this.seen.set(id, lastTrancheAt > liquidatableSince ? lastTrancheAt : liquidatableSince);
    }
    const reports: PokeReport[] = [];
    for (const id of candidates) {
      const last = this.seen.get(id);
      if (last !== undefined && now - last < RENEW_AFTER_SECONDS) continue;
      const report = await this.flag(id, view, fees, last === undefined ? "start" : "renew");
      // sent: the chain saw it now; not sent (it would revert, a dry run): the next try after the same wait
      this.seen.set(id, now);
      if (report) reports.push(report);
      if (this.o.tx.count() >= this.o.settings.maxPendingTxs) break;
    }
    return reports;
  }

  private async flag(
    id: bigint,
    view: ChainView,
    fees: () => Promise<Fees | undefined>,
    why: "start" | "renew",
  ): Promise<PokeReport | undefined> {
    const le = this.o.contracts.liquidationEngine;
    const to = le.target as string;
    const data = le.interface.encodeFunctionData("flag", [id]);
    const key = `flag:${id}`;
    let gasLimit = this.gasLimit;
    if (gasLimit === undefined || !(await this.o.tx.fits(to, data, gasLimit))) {
      try {
        const gas = await this.o.tx.estimate(to, data);
        gasLimit = (gas * BigInt(100 + this.o.settings.gasLimitMarginPercent)) / 100n;
      } catch (e) {
        if (isTransportError(e)) throw e;
        this.o.logger.debug({ accountId: id }, "flag would revert; not sent");
        return undefined;
      }
    }
    const reason = why === "start" ? "held back by cooldown or capacity" : "still held back: clock renewed";
    const report: PokeReport = { kind: "flag", key, reason, sent: false };
    if (this.o.settings.dryRun) return report;
    const f = await fees();
    if (!f) return report;
    const tx = await this.o.tx.submit({ kind: "flag", key, to, data, gasLimit }, f, view.blockNumber);
    if (!tx) return report;
    this.gasLimit = gasLimit;
    report.sent = true;
    report.hash = tx.hashes[0];
    this.o.metrics.pokes.inc({ kind: "flag" });
    this.o.metrics.transactions.inc({ kind: "flag", outcome: "sent" });
    this.o.logger.info({ accountId: id, hash: report.hash, nonce: tx.nonce, why }, "account flagged");
    return report;
  }
}
