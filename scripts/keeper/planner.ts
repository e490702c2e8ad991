/**
 * From confirmed tranches to transactions: what the contract's preview said about each candidate,
 * which tranches the markets' liquidation capacity lets through now (worst first), and how they pack
 * into liquidateBatch transactions under the per-transaction gas cap. Pure functions.
 */
import type { ILiquidationEngine } from "../../types/ethers-contracts/contracts/interfaces/ILiquidationEngine.js";
import { type LiquidationConfig, bypassesCapacity } from "../lib/math/liquidation.js";
import { decodeRevert } from "./contracts.js";

export type TranchePlan = {
  accountId: bigint;
  backstop: boolean;
  /** near bankruptcy (equity below maintenance * capBypassRatio): the capacity cap does not apply */
  bypassesCapacity: boolean;
  /** quote WAD */
  trancheNotional: bigint;
  /** quote WAD, what this keeper would be paid */
  keeperReward: bigint;
  /** the tranche calls the insurance fund (bad debt to cover, or a reward the penalty cannot pay) */
  touchesFund: boolean;
  legs: { marketId: number; notional: bigint }[];
  /** offered to the backstop vault: gas budgeted as a takeover, no capacity counted */
  takeover?: boolean;
  /** no preview confirmed it (an account held back, offered to the vault): its batch is simulated first */
  unconfirmed?: boolean;
};

/**
 * An account held back (cooldown, capacity), sent for the backstop vault to take over: no plan (the
 * preview refused it), no leg counted against capacity (a takeover sells nothing), its gas budgeted
 * as a takeover.
 */
export function takeoverPlan(accountId: bigint): TranchePlan {
  return {
    accountId,
    backstop: false,
    bypassesCapacity: true,
    trancheNotional: 0n,
    keeperReward: 0n,
    touchesFund: true,
    legs: [],
    takeover: true,
    unconfirmed: true,
  };
}

/** Gas budget of a takeover in a batch (measured: about 318k alone, test/backstop.test.ts). */
export const GAS_PER_TAKEOVER = 360_000;

/** What previewLiquidation said about an account. */
export type Preview =
  | { kind: "ready"; plan: TranchePlan }
  | { kind: "healthy" }
  | { kind: "no-positions" }
  | { kind: "cooling-down"; readyAt: bigint }
  | { kind: "no-capacity"; marketId: number; windowEndsAt: bigint }
  | { kind: "failed"; reason: string };

type PlanStruct = Awaited<ReturnType<ILiquidationEngine["previewLiquidation"]>>;

export function planFromPreview(p: PlanStruct, capBypassRatio: bigint): TranchePlan {
  return {
    accountId: p.accountId,
    backstop: p.backstop,
    bypassesCapacity: bypassesCapacity({ capBypassRatio } as LiquidationConfig, p.equity, p.maintenanceMargin),
    trancheNotional: p.trancheNotional,
    keeperReward: p.keeperReward,
    touchesFund: p.badDebt > 0n || p.keeperFromFund > 0n,
    legs: p.legs.map((l) => ({ marketId: Number(l.marketId), notional: l.notional })),
  };
}

/** A reverted preview: the normal answers (healthy, cooling down, no capacity) and real failures. */
export function previewFromRevert(e: unknown): Preview {
  const err = decodeRevert(e);
  if (!err) return { kind: "failed", reason: (e as { shortMessage?: string }).shortMessage ?? String(e) };
  switch (err.name) {
    case "AccountHealthy":
    case "AccountNotFound":
      return { kind: "healthy" };
    case "NoPositions":
      return { kind: "no-positions" };
    case "TrancheCoolingDown":
      return { kind: "cooling-down", readyAt: err.args.readyAt as bigint };
    case "LiquidationCapacityExhausted":
      return {
        kind: "no-capacity",
        marketId: Number(err.args.marketId),
        windowEndsAt: err.args.windowEndsAt as bigint,
      };
    default:
      return { kind: "failed", reason: err.name };
  }
}

/**
 * Walks the tranches worst first and keeps those the markets' remaining capacity allows, counting
 * each one's notional against every market it closes in. A tranche near bankruptcy (below the
 * capBypassRatio threshold) bypasses the cap (the contract still counts it); a backstop above it
 * waits for room like any tranche. A tranche whose market has some room but less than its notional
 * still goes: the contract scales it down to the room; a leg whose market has none waits while the
 * tranche's other legs go. Returns the room left in each market, for the next tranches.
 */
export function fitCapacity(
  plans: readonly TranchePlan[],
  rooms: ReadonlyMap<number, bigint>,
): { selected: TranchePlan[]; heldBack: TranchePlan[]; rooms: Map<number, bigint> } {
  const room = new Map(rooms);
  const selected: TranchePlan[] = [];
  const heldBack: TranchePlan[] = [];
  for (const p of plans) {
    // The contract fits each leg in its own market: a tranche waits only when no leg's market has room.
    if (!p.bypassesCapacity && p.legs.every((l) => (room.get(l.marketId) ?? 0n) === 0n)) {
      heldBack.push(p);
      continue;
    }
    for (const l of p.legs) {
      const r = room.get(l.marketId) ?? 0n;
      room.set(l.marketId, r > l.notional ? r - l.notional : 0n);
    }
    selected.push(p);
  }
  return { selected, heldBack, rooms: room };
}

export type BatchLimits = {
  maxBatch: number;
  gasPerTranche: number;
  gasPerExtraLeg: number;
  gasPerFundCall: number;
  batchGasOverhead: number;
  txGasCap: number;
};

/** Gas budget of one tranche inside a batch: its first leg, its other legs, its calls to the fund. */
export function trancheGas(p: TranchePlan, l: BatchLimits): number {
  if (p.takeover) return GAS_PER_TAKEOVER;
  return l.gasPerTranche + Math.max(0, p.legs.length - 1) * l.gasPerExtraLeg + (p.touchesFund ? l.gasPerFundCall : 0);
}

/**
 * The gas limit a batch is simulated and sent with: a fixed overhead (the transaction and the first,
 * cold touch of every contract) plus each tranche's budget. The simulation (eth_call with exactly
 * this limit) proves it is enough: one execution, where an eth_estimateGas search runs the batch
 * dozens of times (seconds for a batch of 100 tranches on a local node).
 */
export function batchGasLimit(plans: readonly TranchePlan[], l: BatchLimits): bigint {
  const limit = plans.reduce((g, p) => g + trancheGas(p, l), l.batchGasOverhead);
  return BigInt(Math.min(limit, l.txGasCap));
}

/** Packs tranches, in order, into batches of at most maxBatch accounts whose gas limit fits the cap. */
export function packBatches(plans: readonly TranchePlan[], l: BatchLimits): TranchePlan[][] {
  const batches: TranchePlan[][] = [];
  let current: TranchePlan[] = [];
  let gas = l.batchGasOverhead;
  for (const p of plans) {
    const cost = trancheGas(p, l);
    if (current.length > 0 && (current.length >= l.maxBatch || gas + cost > l.txGasCap)) {
      batches.push(current);
      current = [];
      gas = l.batchGasOverhead;
    }
    current.push(p);
    gas += cost;
  }
  if (current.length) batches.push(current);
  return batches;
}
