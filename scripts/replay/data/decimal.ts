/**
 * Exact decimal text <-> WAD bigint. Prices go from the file's characters to an integer count of
 * 1e-18 units without ever passing through a float, so "0.1" is exactly 1e17 and a printed price
 * reaches the chain unchanged.
 */
import { InvalidDecimalError } from "./errors.js";

export const WAD = 10n ** 18n;
export const WAD_DECIMALS = 18;

const PLAIN_DECIMAL = /^([0-9]+)(?:\.([0-9]+))?$/;

/**
 * Parses a non-negative plain decimal ("7351", "7351.00", "0.93501933") into WAD.
 * Refuses signs, exponents, spaces, a bare or trailing dot, and more than 18 decimals (which WAD
 * cannot hold exactly), each with an {@link InvalidDecimalError} saying which.
 */
export function parseDecimalWad(text: string): bigint {
  const match = PLAIN_DECIMAL.exec(text);
  if (match === null) throw new InvalidDecimalError(text, whyNotDecimal(text));
  const [, whole, fraction = ""] = match;
  if (fraction.length > WAD_DECIMALS) {
    throw new InvalidDecimalError(text, `${fraction.length} decimals; WAD holds at most ${WAD_DECIMALS}`);
  }
  return BigInt(whole) * WAD + BigInt(fraction.padEnd(WAD_DECIMALS, "0"));
}

function whyNotDecimal(text: string): string {
  if (text === "") return "empty";
  if (/^[+-]/.test(text)) return "signs are not allowed";
  if (/[eE]/.test(text)) return "exponents are not allowed; write the digits out";
  if (/\s/.test(text)) return "contains whitespace";
  if (/^\.|\.$/.test(text)) return "needs digits on both sides of the decimal point";
  return "only digits and one decimal point are allowed";
}

/** Shortest exact decimal text of a WAD amount: no trailing zeros, no dot for whole numbers. */
export function formatWad(wad: bigint): string {
  const negative = wad < 0n;
  const magnitude = negative ? -wad : wad;
  const whole = magnitude / WAD;
  const fraction = (magnitude % WAD).toString().padStart(WAD_DECIMALS, "0").replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction === "" ? "" : `.${fraction}`}`;
}
