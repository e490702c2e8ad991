/**
 * Maintenance the protocol leaves to anyone, done when due:
 * - oracle.updateVolatility(feed) when the feed has rounds the estimate has not folded in;
 * - breaker.poke(market) when the level the triggers propose differs from the level in force (a
 *   de-escalation only once its cooldown has passed, counted as the breaker counts it: from the
 *   later of the last change and the last poke that still proposed the level; poke would do nothing
 *   before), or every `breakerPokeIntervalBlocks` blocks once the block time has moved on since its
 *   last poke (then without reading the proposal first; with `breakerPokeWhenDue`, only when the
 *   breaker's `pokeDue` view, asked at the head just before sending, says the poke would change
 *   something: a level, the hold clock above level 0, a failing trigger's report. A poke not due
 *   would write nothing, so skipping it leaves the breaker exactly as sending it would);
 * - vault.claimKeeperRewards once the rewards reach `claimThreshold` tokens;
 * - backstop.unwind(market) when the backstop vault holds inventory there and the market's impact
 *   budget has room (unwindRoom): the vault's paced sale, permissionless, one of the keeper's jobs.
 * Each is simulated before it is sent: the first time with eth_estimateGas (sent with the estimate
 * plus `gasLimitMarginPercent`), then with one eth_call at the gas limit that poke was last sent with,
 * which proves that limit still suffices in one execution where an estimate searches with many (a
 * breaker poke evaluates every trigger each time); only when that call fails is it estimated again.
 * With `breakerPokeGasBound`, a breaker poke is sent unsimulated with a gas limit no poke can exceed
 * (`breakerGasBound`: every trigger given its whole cap), since it cannot revert otherwise: one
 * evaluation of the triggers per poke instead of two, for more ether held against the limit.
 * At most one of each is in flight.
 *
 * The breaker's proposal is not read again at the block time of this keeper's last mined poke of a
 * market while no liquidation has been settled since and no position moved by force (a takeover, an
 * unwind, a backstop loss, an auto-deleveraging: by anyone, from the followed events) nor a
 * liquidation sent by this keeper in the pass: the poke applied that proposal at that very time, so reading it again
 * could not make another poke due. Another party's transaction at the same block time (an oracle
 * round, a trade) is seen once the block time moves on.
 */
import type { ContractRunner } from "ethers";

import type { ChainView } from "./chainView.js";
import { decodeRevert } from "./contracts.js";
import type { Fees } from "./fees.js";
import type { AddressedJobContext } from "./job.js";
import { isTransportError } from "./rpc.js";
import type { TxKind, TxOutcome } from "./txManager.js";

export type PokeReport = { kind: TxKind; key: string; reason: string; hash?: string; sent: boolean };

type Due = {
  kind: TxKind;
  key: string;
  reason: string;
  to: string;
  data: string;
  /** a periodic breaker poke under `breakerPokeWhenDue`: sent only if `pokeDue` says it changes something */
  ifDue?: number;
};

export class Pokers {
  /** marketId -> block and block time of the last poke this keeper sent */
  private readonly lastBreakerPoke = new Map<number, number>();
  private readonly lastBreakerPokeAt = new Map<number, bigint>();
  /** poke key -> the gas limit it was last sent with */
  private readonly gasLimits = new Map<string, bigint>();
  /** marketId -> block time this keeper's last mined poke was decided at (= mined at, when the chain is
   *  still at that time) and the block it was mined in */
  private readonly applied = new Map<number, { at: bigint; block: number }>();
  /** newest block with a LiquidationSettled event (by anyone) */
  private lastSettledBlock = -1;
  /** marketId -> the level this keeper's last mined poke left (its LevelChanged), to choose whether to ask
   *  `pokeDue` first: only a guide, both ways are exact */
  private readonly levelSeen = new Map<number, number>();
  /** CircuitBreaker.TRIGGER_GAS */
  private triggerGas: bigint | undefined;

  constructor(
    private readonly o: AddressedJobContext & {
      /** collateral token units to WAD */
      scale: bigint;
    },
  ) {}

  /**
   * The pokes due at `view`, simulated and sent. `liquidated`: this keeper sent liquidations in the
   * pass (after the view's events were followed), so the breaker's proposals are read again.
   */
  async run(view: ChainView, fees: () => Promise<Fees | undefined>, liquidated = false): Promise<PokeReport[]> {
    const [vol, breaker, claim, unwind] = await Promise.all([
      this.volatilityDue(view),
      this.breakerDue(view, liquidated),
      this.claimDue(view),
      this.unwindDue(view),
    ]);
    const due = [...vol, ...breaker, ...claim, ...unwind].filter((d) => !this.o.tx.hasKey(d.key));
    const reports: PokeReport[] = [];
    let bound: bigint | undefined;
    for (const d of due) {
      // asked when its turn comes, after the volatility updates before it: the state the poke would meet
      if (d.ifDue !== undefined && !(await this.pokeDue(d.ifDue, view))) continue;
      // a breaker poke under the bound needs no simulation: it cannot run out of gas, nor revert otherwise
      if (d.kind === "breaker" && this.o.settings.breakerPokeGasBound) bound ??= await this.breakerGasBound(view);
      let gasLimit = d.kind === "breaker" ? bound : undefined;
      if (gasLimit === undefined) {
        gasLimit = this.gasLimits.get(d.key);
        if (gasLimit === undefined || !(await this.o.tx.fits(d.to, d.data, gasLimit))) {
          try {
            const gas = await this.o.tx.estimate(d.to, d.data);
            gasLimit = (gas * BigInt(100 + this.o.settings.gasLimitMarginPercent)) / 100n;
          } catch (e) {
            if (isTransportError(e)) throw e;
            const reason = decodeRevert(e)?.name ?? (e as { shortMessage?: string }).shortMessage ?? String(e);
            this.o.logger.debug({ key: d.key, reason }, "poke would revert; not sent");
            continue;
          }
        }
      }
      const report: PokeReport = { kind: d.kind, key: d.key, reason: d.reason, sent: false };
      reports.push(report);
      if (this.o.settings.dryRun) continue;
      if (this.o.tx.count() >= this.o.settings.maxPendingTxs) break;
      const f = await fees();
      if (!f) break;
      const tx = await this.o.tx.submit(
        { kind: d.kind, key: d.key, to: d.to, data: d.data, gasLimit },
        f,
        view.blockNumber,
      );
      if (!tx) continue;
      this.gasLimits.set(d.key, gasLimit);
      report.sent = true;
      report.hash = tx.hashes[0];
      if (d.kind === "breaker") {
        const m = Number(d.key.split(":")[1]);
        this.lastBreakerPoke.set(m, view.blockNumber);
        this.lastBreakerPokeAt.set(m, view.timestamp);
      }
      this.o.metrics.pokes.inc({ kind: d.kind });
      this.o.metrics.transactions.inc({ kind: d.kind, outcome: "sent" });
      this.o.logger.info({ key: d.key, reason: d.reason, hash: report.hash, nonce: tx.nonce }, `${d.kind} sent`);
    }
    return reports;
  }

  /** A liquidation was settled (LiquidationSettled), or positions were moved by force (a takeover, an
   *  unwind, a backstop loss, an auto-deleveraging), by anyone, in `blockNumber`. */
  settled(blockNumber: number): void {
    if (blockNumber > this.lastSettledBlock) this.lastSettledBlock = blockNumber;
  }

  outcome(o: TxOutcome): void {
    this.o.metrics.transactions.inc({ kind: o.tx.kind, outcome: o.status });
    if (o.status !== "mined") {
      this.o.logger.warn({ key: o.tx.key, status: o.status, nonce: o.tx.nonce }, `${o.tx.kind} not applied`);
      return;
    }
    if (o.tx.kind === "breaker" && o.receipt) {
      const m = Number(o.tx.key.split(":")[1]);
      const at = this.lastBreakerPokeAt.get(m);
      if (at !== undefined) this.applied.set(m, { at, block: o.receipt.blockNumber });
      const iface = this.o.contracts.breaker!.interface;
      for (const log of o.receipt.logs) {
        const ev = (() => {
          try {
            return iface.parseLog({ topics: [...log.topics], data: log.data });
          } catch {
            return null;
          }
        })();
        if (ev?.name === "LevelChanged" && Number(ev.args.marketId) === m) this.levelSeen.set(m, Number(ev.args.to));
      }
    }
    if (o.tx.kind === "claim") {
      const iface = this.o.contracts.vault.interface;
      for (const log of o.receipt?.logs ?? []) {
        const ev = (() => {
          try {
            return iface.parseLog({ topics: [...log.topics], data: log.data });
          } catch {
            return null;
          }
        })();
        if (ev?.name === "KeeperRewardsClaimed") {
          const tokens = Number(ev.args.amount as bigint) / Number(10n ** 18n / this.o.scale);
          this.o.metrics.rewardsClaimed.inc(tokens);
          this.o.logger.info({ amount: ev.args.amount as bigint, to: ev.args.to }, "keeper rewards claimed");
        }
      }
    }
  }

  private async volatilityDue(view: ChainView): Promise<Due[]> {
    if (!this.o.settings.pokeVolatility) return [];
    const at = { blockTag: view.blockNumber };
    const { oracle, feeds } = this.o.contracts;
    const reads = await Promise.all(
      feeds.map((f) =>
        Promise.all([
          f.aggregator.latestRoundData(at) as Promise<{ roundId: bigint }>,
          oracle.volatilityState(f.feedId, at),
        ]).catch((e: unknown) => {
          if (isTransportError(e)) throw e;
          return undefined;
        }),
      ),
    );
    const due: Due[] = [];
    feeds.forEach((f, i) => {
      const r = reads[i];
      if (!r || r[0].roundId <= r[1].lastRoundId) return;
      due.push({
        kind: "volatility",
        key: `volatility:${f.symbol}`,
        reason: `round ${r[0].roundId} > folded ${r[1].lastRoundId}`,
        to: oracle.target as string,
        data: oracle.interface.encodeFunctionData("updateVolatility", [f.feedId, this.o.settings.volatilityMaxRounds]),
      });
    });
    return due;
  }

  /**
   * Gas no breaker poke can exceed: before asking each trigger, `poke` needs its cap plus 1/63 of it
   * plus 10,000 at hand, and a trigger uses at most its cap; the rest (reading the market, the level
   * change, the events) is far below the fixed 300,000 added.
   */
  private async breakerGasBound(view: ChainView): Promise<bigint> {
    const breaker = this.o.contracts.breaker!;
    const at = { blockTag: view.blockNumber };
    // the cap is a constant of the breaker's code, read once; the triggers may change with governance
    this.triggerGas ??= await breaker.TRIGGER_GAS();
    const triggers = await breaker.triggers(at);
    const cap = this.triggerGas;
    return BigInt(triggers.length) * (cap + cap / 63n + 20_000n) + 300_000n;
  }

  /**
   * `breaker.pokeDue(m)` at the head (the state a poke sent now would meet). When it is not due, the
   * breaker already is what that poke would leave: it counts as this keeper's poke of `m` at this block
   * time (the interval restarts, and the proposal is not read again at this time until a liquidation,
   * as after a mined poke). A breaker without the view (an older deployment) is poked as before.
   */
  private async pokeDue(m: number, view: ChainView): Promise<boolean> {
    const breaker = this.o.contracts.breaker!;
    let due: boolean;
    try {
      due = await breaker.pokeDue(m, { blockTag: "latest" });
    } catch (e) {
      if (isTransportError(e)) throw e;
      return true;
    }
    if (due) return true;
    const head = await (breaker.runner as ContractRunner).provider!.getBlockNumber();
    this.lastBreakerPoke.set(m, view.blockNumber);
    this.lastBreakerPokeAt.set(m, view.timestamp);
    // settled in the head block or before: already seen by the view; only later ones are news
    this.applied.set(m, { at: view.timestamp, block: head + 1 });
    this.o.logger.debug({ market: m, head }, "breaker poke not due; not sent");
    return false;
  }

  /** The level this keeper's last mined poke of `m` applied still stands at `view` (see the header). */
  private standing(m: number, view: ChainView, liquidated: boolean): boolean {
    const a = this.applied.get(m);
    return !liquidated && a !== undefined && a.at === view.timestamp && this.lastSettledBlock < a.block;
  }

  private async breakerDue(view: ChainView, liquidated: boolean): Promise<Due[]> {
    const breaker = this.o.contracts.breaker;
    if (!this.o.settings.pokeBreaker || !breaker) return [];
    const at = { blockTag: view.blockNumber };
    const markets = [...view.engine.markets.keys(), ...view.unpriced.keys()];
    const interval = this.o.settings.breakerPokeIntervalBlocks;
    for (const m of markets) if (!this.lastBreakerPoke.has(m)) this.lastBreakerPoke.set(m, view.blockNumber);
    // A periodic poke keeps the breaker's hysteresis clock (the last poke that still proposed the
    // level, a timestamp) current: it is due after `interval` blocks, and not again at the same block
    // time (some chains mine several blocks a second). It goes without first reading what the
    // triggers propose: the poke applies that either way (and is simulated before it is sent), and
    // the proposal costs as much to read as the poke (every trigger is evaluated).
    const periodic = new Set(
      markets.filter(
        (m) =>
          interval > 0 &&
          view.blockNumber - this.lastBreakerPoke.get(m)! >= interval &&
          view.timestamp > (this.lastBreakerPokeAt.get(m) ?? -1n),
      ),
    );
    const toRead = markets.filter((m) => !periodic.has(m) && !this.standing(m, view, liquidated));
    const [cooldown, reads] = toRead.length
      ? await Promise.all([
          breaker.deescalationCooldown(at),
          Promise.all(toRead.map((m) => Promise.all([breaker.proposedLevel(m, at), breaker.marketLevel(m, at)]))),
        ])
      : [0n, []];
    const due: Due[] = [];
    const poke = (m: number, reason: string) =>
      due.push({
        kind: "breaker",
        key: `breaker:${m}`,
        reason,
        to: breaker.target as string,
        data: breaker.interface.encodeFunctionData("poke", [m]),
      });
    for (const m of periodic) {
      poke(m, `every ${interval} blocks`);
      // Above level 0 a poke is nearly always due (the hold clock moves unless a step down waits out
      // its cooldown), and asking first would evaluate the triggers twice: it is sent unasked there.
      if (this.o.settings.breakerPokeWhenDue && !this.levelSeen.get(m)) due[due.length - 1].ifDue = m;
    }
    toRead.forEach((m, i) => {
      const [proposed, inForce] = reads[i];
      if (proposed.level > inForce.level) poke(m, `escalate ${inForce.level} -> ${proposed.level}`);
      else if (proposed.level < inForce.level && view.timestamp >= Pokers.quietSince(inForce) + cooldown) {
        poke(m, `de-escalate from ${inForce.level} (proposed ${proposed.level})`);
      }
    });
    return due;
  }

  /** CircuitBreaker.poke's hysteresis: a level may step down a cooldown after this. */
  private static quietSince(m: { lastChange: bigint; lastHeld: bigint }): bigint {
    return m.lastHeld > m.lastChange ? m.lastHeld : m.lastChange;
  }

  private async claimDue(view: ChainView): Promise<Due[]> {
    if (!this.o.settings.claimRewards) return [];
    const { vault } = this.o.contracts;
    const rewards = await vault.keeperRewardsOf(this.o.address, { blockTag: view.blockNumber });
    // the vault pays whole token units: below one there is nothing to claim
    if (rewards < this.o.scale || rewards < this.o.settings.claimThreshold) return [];
    return [
      {
        kind: "claim",
        key: "claim",
        reason: `rewards ${rewards} >= threshold ${this.o.settings.claimThreshold} (WAD)`,
        to: vault.target as string,
        data: vault.interface.encodeFunctionData("claimKeeperRewards", [this.o.settings.claimTo ?? this.o.address]),
      },
    ];
  }

  /** An unwind per market where the backstop vault's inventory has room in the impact budget. */
  private async unwindDue(view: ChainView): Promise<Due[]> {
    const backstop = this.o.contracts.backstop;
    if (!backstop) return [];
    const at = { blockTag: view.blockNumber };
    const markets = [...view.engine.markets.keys()];
    const rooms = await Promise.all(
      markets.map((m) =>
        backstop.unwindRoom(m, at).catch((e: unknown) => {
          // a deployment without the backstop module has nothing to unwind
          if (isTransportError(e)) throw e;
          return undefined;
        }),
      ),
    );
    const due: Due[] = [];
    markets.forEach((m, i) => {
      const r = rooms[i];
      if (!r || r.sellable === 0n) return;
      due.push({
        kind: "unwind",
        key: `unwind:${m}`,
        reason: `sellable ${r.sellable} (budget ${r.budgetWad}, used ${r.usedWad}${r.late ? ", late" : ""})`,
        to: backstop.target as string,
        data: backstop.interface.encodeFunctionData("unwind", [m]),
      });
    });
    return due;
  }
}
