/**
 * Exact decimal text <-> WAD bigint for the replay's parameter files and output. A number from a
 * JSON file is taken by its shortest decimal text (0.005 -> "0.005"), never through float
 * arithmetic, so "0.005" and 0.005 give the same WAD.
 */
export const WAD = 10n ** 18n;

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i;

/** Parses a decimal (string or JSON number) to an integer scaled by 10^decimals; rejects anything inexact. */
export function parseDecimal(value: number | string, decimals = 18): bigint {
  const text = typeof value === "number" ? numberText(value) : value.trim();
  const m = DECIMAL.exec(text);
  if (m === null) throw new RangeError(`not a decimal number: ${JSON.stringify(value)}`);
  const [, sign, whole, fraction = "", exponent = "0"] = m;
  let digits = whole + fraction;
  let scale = decimals - fraction.length + Number(exponent);
  if (scale < 0) {
    const dropped = digits.slice(digits.length + scale);
    if (/[^0]/.test(dropped)) throw new RangeError(`${text} has more than ${decimals} decimals`);
    digits = digits.slice(0, digits.length + scale) || "0";
    scale = 0;
  }
  const out = BigInt(digits) * 10n ** BigInt(scale);
  return sign === "-" ? -out : out;
}

/** WAD from a decimal number or string. */
export function wad(value: number | string): bigint {
  return parseDecimal(value, 18);
}

function numberText(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite number: ${x}`);
  return String(x);
}

/** A WAD as decimal text with at most `dp` decimals (truncated toward zero), for tables and logs. */
export function formatWad(x: bigint, dp = 4): string {
  const neg = x < 0n;
  const a = neg ? -x : x;
  const whole = a / WAD;
  if (dp === 0) return `${neg ? "-" : ""}${whole}`;
  const frac = ((a % WAD) * 10n ** BigInt(dp)) / WAD;
  return `${neg ? "-" : ""}${whole}.${frac.toString().padStart(dp, "0")}`;
}

/** A WAD ratio as a percentage with `dp` decimals, e.g. 0.0512e18 -> "5.12%". */
export function formatPct(x: bigint, dp = 2): string {
  return `${formatWad(x * 100n, dp)}%`;
}

/** A WAD amount of dollars grouped by thousands, without decimals: 1234567.8e18 -> "1,234,567". */
export function formatUsd(x: bigint): string {
  const neg = x < 0n;
  const whole = (neg ? -x : x) / WAD;
  return `${neg ? "-" : ""}${whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")}`;
}
