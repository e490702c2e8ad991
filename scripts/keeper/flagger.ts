/**
 * Flags the accounts below maintenance margin that the keeper cannot liquidate yet: their cooldown
 * still runs, or the market's liquidation capacity for the window is used up. LiquidationEngine.flag
 * records when the account became liquidatable, and the keeper reward of its next tranche escalates
 * from then (the contract's intent: a liquidation that has waited pays more, so it stays worth doing
 * when gas is dear). Without the flag, the clock would only start at that next tranche.
 *
 * An account already flagged on chain (`accountState.liquidatableSince` set, by an earlier flag or a
 * tranche that left it unhealthy) is not flagged again; the keeper reads that once per episode, and
 * starts a new episode when the account leaves the liquidatable list or a tranche of it settles.
 * Each flag is simulated before it is sent (eth_call at the gas limit it was last sent with, else an
 * estimate), as the pokes are.
 */
import type { ChainView } from "./chainView.js";
import type { Fees } from "./fees.js";
import type { JobContext } from "./job.js";
import type { PokeReport } from "./pokers.js";
import { isTransportError } from "./rpc.js";

export class Flagger {
  /** accounts whose on-chain flag is known to be set in this episode */
  private readonly flagged = new Set<bigint>();
  private gasLimit: bigint | undefined;

  constructor(private readonly o: JobContext) {}

  /** A tranche of the account settled: the contract may have cleared its flag. */
  settled(accountId: bigint): void {
    this.flagged.delete(accountId);
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
    for (const id of this.flagged) if (!liquidatable.has(id)) this.flagged.delete(id);
    const le = this.o.contracts.liquidationEngine;
    const unknown = waiting.filter((id) => !this.flagged.has(id) && !this.o.tx.hasKey(`flag:${id}`));
    const states = await Promise.all(unknown.map((id) => le.accountState(id, { blockTag: view.blockNumber })));
    const reports: PokeReport[] = [];
    for (const [i, id] of unknown.entries()) {
      this.flagged.add(id);
      if (states[i].liquidatableSince !== 0n) continue;
      const report = await this.flag(id, view, fees);
      if (report) reports.push(report);
      if (this.o.tx.count() >= this.o.settings.maxPendingTxs) break;
    }
    return reports;
  }

  private async flag(
    id: bigint,
    view: ChainView,
    fees: () => Promise<Fees | undefined>,
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
    const report: PokeReport = { kind: "flag", key, reason: "held back by cooldown or capacity", sent: false };
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
    this.o.logger.info({ accountId: id, hash: report.hash, nonce: tx.nonce }, "account flagged");
    return report;
  }
}
