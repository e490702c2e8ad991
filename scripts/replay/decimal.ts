/**
 * Exact decimal text <-> WAD bigint, the replay's one decimal parser: parameter files (a number from
 * a JSON file is taken by its shortest decimal text, 0.005 -> "0.005", never through float
 * arithmetic, so "0.005" and 0.005 give the same WAD) and the price files of the crash data (the
 * strict `parseDecimalWad`: plain digits only, each refusal saying why). Output: tables and logs
 * (`formatWad`, `formatPct`, `formatUsd`) and the shortest exact text (`exactWad`).
 */
import { WAD } from "../lib/math/fixedPoint.js";
import { InvalidDecimalError } from "./data/errors.js";

export { WAD };
export const WAD_DECIMALS = 18;

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

const PLAIN_DECIMAL = /^([0-9]+)(?:\.([0-9]+))?$/;

/**
 * Parses a non-negative plain decimal ("7351", "7351.00", "0.93501933") into WAD, as data files
 * print prices: refuses signs, exponents, spaces, a bare or trailing dot, and more than 18 decimals
 * (which WAD cannot hold exactly), each with an {@link InvalidDecimalError} saying which.
 */
export function parseDecimalWad(text: string): bigint {
  if (!PLAIN_DECIMAL.test(text)) throw new InvalidDecimalError(text, whyNotPlain(text));
  const fraction = text.split(".")[1] ?? "";
  if (fraction.length > WAD_DECIMALS) {
    throw new InvalidDecimalError(text, `${fraction.length} decimals; WAD holds at most ${WAD_DECIMALS}`);
  }
  return parseDecimal(text, WAD_DECIMALS);
}

function whyNotPlain(text: string): string {
  if (text === "") return "empty";
  if (/^[+-]/.test(text)) return "signs are not allowed";
  if (/[eE]/.test(text)) return "exponents are not allowed; write the digits out";
  if (/\s/.test(text)) return "contains whitespace";
  if (/^\.|\.$/.test(text)) return "needs digits on both sides of the decimal point";
  return "only digits and one decimal point are allowed";
}

/** Shortest exact decimal text of a WAD amount: no trailing zeros, no dot for whole numbers. */
export function exactWad(wad: bigint): string {
  const negative = wad < 0n;
  const magnitude = negative ? -wad : wad;
  const whole = magnitude / WAD;
  const fraction = (magnitude % WAD).toString().padStart(WAD_DECIMALS, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction === "" ? "" : `.${fraction}`}`;
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
