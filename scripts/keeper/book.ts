/**
 * The keeper's memory of every account: owner, margin in the vault and each position's
 * (size, basis), rebuilt from the protocol's events exactly as the contracts change them.
 *
 * - margin: MarginDeposited / MarginWithdrawn (token units * SCALE); each trade's settlement (the
 *   realised PnL of PositionModified, a loss taking at most the margin, a profit cut short by a
 *   ProfitShortfall event of the same settlement, then the fee actually charged); PenaltyCharged (a
 *   backstop takeover's reward, an order's settlement reward). A liquidation leg emits neither
 *   PositionModified nor PenaltyCharged: its TrancheLiquidated carries the new size, the realised PnL
 *   (settled as a trade's, with no fee) and the leg's share of the tranche's penalty, debited after the
 *   PnL. The vault takes the whole penalty after the last leg settles; debiting each share after its
 *   own leg ends at the same margin (a leg's loss that the margin could not pay leaves no penalty to
 *   share). A margin below zero after a leg or at LiquidationSettled did not fit: the account is stale.
 * - position: PositionModified (or TrancheLiquidated) gives the new size; the new basis is the engine's
 *   own `applyTrade(oldSize, oldBasis, sizeDelta, fillPrice, fundingIndex)`, run through the mirror (a
 *   liquidation leg only reduces, which keeps the basis whatever the funding index, or closes).
 *
 * When an event does not fit what the book holds (sizes that do not add up, a withdrawal larger than
 * the margin, an unknown account), the account is marked `stale` and re-read from the contracts.
 */
import { applyTrade } from "../lib/math/perpMath.js";
import type { AccountSnapshot, EnginePosition } from "../lib/math/engine.js";

export type TrackedAccount = {
  readonly id: bigint;
  owner: string;
  /** vault.marginOf, WAD */
  margin: bigint;
  /** by market id; only non-zero sizes are kept */
  positions: Map<number, EnginePosition>;
  /** set when an event did not fit: re-read from the chain before trusting it */
  stale: boolean;
  /** a tranche of it was ever settled (its cooldown must be read); false: it never was */
  liquidatedBefore: boolean;
};

/**
 * One account as the checkpoint stores it:
 * [id, owner, margin, [[market, size, basis], ...], stale, liquidatedBefore].
 */
export type SerializedAccount = [string, string, string, [number, string, string][], boolean?, boolean?];

export class AccountBook {
  private readonly accounts = new Map<bigint, TrackedAccount>();
  /** ProfitShortfall(owed - paid) waiting for the PositionModified of the same settlement */
  private readonly profitCut = new Map<bigint, bigint>();

  /** @param scale vault.SCALE(): token units to WAD */
  constructor(readonly scale: bigint) {}

  get size(): number {
    return this.accounts.size;
  }

  get(id: bigint): TrackedAccount | undefined {
    return this.accounts.get(id);
  }

  all(): IterableIterator<TrackedAccount> {
    return this.accounts.values();
  }

  /** [id, account] of every account, as a Map's entries. */
  [Symbol.iterator](): IterableIterator<[bigint, TrackedAccount]> {
    return this.accounts.entries();
  }

  /**
   * Accounts holding at least one position. An array, not a generator: every scan walks the whole book
   * (a replay's keeper thousands of times), and resuming a generator per account cost more than the walk.
   */
  withPositions(): TrackedAccount[] {
    const out: TrackedAccount[] = [];
    for (const a of this.accounts.values()) if (a.positions.size > 0) out.push(a);
    return out;
  }

  stale(): TrackedAccount[] {
    return [...this.accounts.values()].filter((a) => a.stale);
  }

  /** The mirror's view of an account (engine.ts `AccountSnapshot`). */
  snapshotOf(a: TrackedAccount): AccountSnapshot {
    return { margin: a.margin, positions: a.positions };
  }

  accountCreated(id: bigint, owner: string): void {
    const known = this.accounts.get(id);
    if (known) {
      known.owner = owner;
      return;
    }
    this.accounts.set(id, { id, owner, margin: 0n, positions: new Map(), stale: false, liquidatedBefore: false });
  }

  marginDeposited(id: bigint, amountTokens: bigint): void {
    this.touch(id).margin += amountTokens * this.scale;
  }

  marginWithdrawn(id: bigint, amountTokens: bigint): void {
    this.debit(this.touch(id), amountTokens * this.scale);
  }

  /** The vault paid `paid` of a profit `owed`: the next PositionModified of the account credits less. */
  profitShortfall(id: bigint, owed: bigint, paid: bigint): void {
    this.profitCut.set(id, (this.profitCut.get(id) ?? 0n) + (owed - paid));
  }

  positionModified(e: {
    accountId: bigint;
    marketId: number;
    sizeDelta: bigint;
    newSize: bigint;
    fillPrice: bigint;
    fee: bigint;
    realisedPnl: bigint;
    fundingIndex: bigint;
  }): void {
    const a = this.touch(e.accountId);
    const old = a.positions.get(e.marketId) ?? { size: 0n, basis: 0n };
    if (old.size + e.sizeDelta !== e.newSize) {
      a.stale = true;
    } else {
      try {
        const { newBasis } = applyTrade(old.size, old.basis, e.sizeDelta, e.fillPrice, e.fundingIndex);
        if (e.newSize === 0n) a.positions.delete(e.marketId);
        else a.positions.set(e.marketId, { size: e.newSize, basis: newBasis });
      } catch {
        a.stale = true;
      }
    }
    // Vault.settle: a profit is paid up to the pool (ProfitShortfall says how much was not), a loss
    // takes at most the margin (the rest is bad debt, not the account's), then the fee charged.
    const cut = this.profitCut.get(e.accountId) ?? 0n;
    this.profitCut.delete(e.accountId);
    if (e.realisedPnl > 0n) a.margin += e.realisedPnl - cut;
    else if (e.realisedPnl < 0n) a.margin = a.margin + e.realisedPnl < 0n ? 0n : a.margin + e.realisedPnl;
    this.debit(a, e.fee);
    this.settleBelowZero(a);
  }

  /** Debited at once, even below zero; positionModified and settled() catch a margin that stays below zero. */
  penaltyCharged(id: bigint, keeperWad: bigint, insuranceWad: bigint): void {
    this.touch(id).margin -= keeperWad + insuranceWad;
  }

  /** A liquidation leg (TrancheLiquidated): a reduction at the fill with no fee, then its penalty share. */
  trancheLeg(e: {
    accountId: bigint;
    marketId: number;
    sizeDelta: bigint;
    newSize: bigint;
    fillPrice: bigint;
    realisedPnl: bigint;
    penalty: bigint;
  }): void {
    // A reduction keeps the basis (or closes), so the funding index, which only moves the realised
    // PnL the event carries, is not needed: 0 stands for it.
    this.positionModified({ ...e, fee: 0n, fundingIndex: 0n });
    this.debit(this.touch(e.accountId), e.penalty);
  }

  /** Overwrites an account with what the contracts hold (after it was marked stale). */
  replace(id: bigint, owner: string, margin: bigint, positions: Map<number, EnginePosition>): void {
    const a = this.touch(id);
    a.owner = owner;
    a.margin = margin;
    a.positions = new Map([...positions].filter(([, p]) => p.size !== 0n));
    a.stale = false;
  }

  /** A tranche of the account was settled (LiquidationSettled). */
  settled(id: bigint): void {
    const a = this.touch(id);
    a.liquidatedBefore = true;
    this.settleBelowZero(a);
  }

  markStale(id: bigint): void {
    this.touch(id).stale = true;
  }

  serialize(): SerializedAccount[] {
    return [...this.accounts.values()].map((a) => [
      a.id.toString(),
      a.owner,
      a.margin.toString(),
      [...a.positions].map(([m, p]) => [m, p.size.toString(), p.basis.toString()] as [number, string, string]),
      a.stale,
      a.liquidatedBefore,
    ]);
  }

  static deserialize(scale: bigint, rows: SerializedAccount[]): AccountBook {
    const book = new AccountBook(scale);
    for (const [id, owner, margin, positions, stale, liquidatedBefore] of rows) {
      const pos = new Map<number, EnginePosition>();
      for (const [m, size, basis] of positions) pos.set(m, { size: BigInt(size), basis: BigInt(basis) });
      book.accounts.set(BigInt(id), {
        id: BigInt(id),
        owner,
        margin: BigInt(margin),
        positions: pos,
        stale: !!stale,
        // unknown in a checkpoint without the field: read the cooldown rather than assume none
        liquidatedBefore: liquidatedBefore ?? true,
      });
    }
    return book;
  }

  /** An account an event names; one never seen created is kept, and re-read from the chain. */
  private touch(id: bigint): TrackedAccount {
    let a = this.accounts.get(id);
    if (!a) {
      a = { id, owner: "", margin: 0n, positions: new Map(), stale: true, liquidatedBefore: true };
      this.accounts.set(id, a);
    }
    return a;
  }

  /** A margin below zero once its settlement's events are applied did not fit what the vault did. */
  private settleBelowZero(a: TrackedAccount): void {
    if (a.margin < 0n) {
      a.margin = 0n;
      a.stale = true;
    }
  }

  private debit(a: TrackedAccount, amount: bigint): void {
    if (amount > a.margin) {
      a.margin = 0n;
      a.stale = true;
    } else {
      a.margin -= amount;
    }
  }
}
