/**
 * EIP-1559 fees: what to offer for a new transaction, and how to outbid one's own stuck
 * transaction (same nonce). Nodes accept a replacement only if both the fee cap and the tip rise by
 * at least 10%; the bump percentage is bounded below by that.
 */
export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };

export type FeePolicy = {
  /** cap on maxFeePerGas, wei */
  maxFee: bigint;
  /** cap on the tip of a new transaction, wei (a replacement may exceed it, never maxFee) */
  maxPriorityFee: bigint;
  /** replacement increase, percent (>= 10) */
  feeBumpPercent: number;
};

export const DEFAULT_PRIORITY_FEE = 1_000_000_000n;
const MIN_REPLACEMENT_PERCENT = 10n;

const ceilPercent = (x: bigint, pct: bigint) => (x * (100n + pct) + 99n) / 100n;
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/**
 * Fees for a new transaction: the node's suggested tip (capped), and a fee cap of twice the base fee
 * plus the tip, which survives six full blocks of base-fee rises. Undefined when the cap cannot even
 * cover the current base fee: better to wait than to send something that cannot be mined.
 */
export function initialFees(baseFee: bigint | null, suggestedTip: bigint | null, p: FeePolicy): Fees | undefined {
  const base = baseFee ?? 0n;
  const tip = min(suggestedTip ?? DEFAULT_PRIORITY_FEE, p.maxPriorityFee);
  const feeCap = min(2n * base + tip, p.maxFee);
  if (feeCap <= base && base > 0n) return undefined;
  return { maxFeePerGas: feeCap, maxPriorityFeePerGas: min(tip, feeCap) };
}

/**
 * Fees for replacing a transaction sent with `old`: each raised by the bump percentage, and never
 * below what a new transaction would offer now. Undefined when the cap leaves no room for a valid
 * replacement (both fields must rise by at least 10%).
 */
export function bumpFees(old: Fees, current: Fees | undefined, p: FeePolicy): Fees | undefined {
  const pct = BigInt(Math.max(p.feeBumpPercent, Number(MIN_REPLACEMENT_PERCENT)));
  let feeCap = max(ceilPercent(old.maxFeePerGas, pct), current?.maxFeePerGas ?? 0n);
  let tip = max(ceilPercent(old.maxPriorityFeePerGas, pct), current?.maxPriorityFeePerGas ?? 0n);
  feeCap = min(feeCap, p.maxFee);
  tip = min(tip, feeCap);
  if (feeCap < ceilPercent(old.maxFeePerGas, MIN_REPLACEMENT_PERCENT)) return undefined;
  if (tip < ceilPercent(old.maxPriorityFeePerGas, MIN_REPLACEMENT_PERCENT)) return undefined;
  return { maxFeePerGas: feeCap, maxPriorityFeePerGas: tip };
}
