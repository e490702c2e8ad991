/**
 * Human units from the WAD decimal strings of a replay result. Everything here is bigint: a figure a
 * reader compares across runs must not pick up float rounding. The one exception is chartNumber,
 * which only the charts use (a plotted pixel does not need 18 decimals).
 */
import type { WadString } from "../result.js";

import { WAD } from "../../lib/math/fixedPoint.js";

/** Parses a WAD decimal string (an optional minus, digits); throws on anything else. */
export function parseWad(value: WadString): bigint {
  if (!/^-?\d+$/.test(value)) throw new Error(`not a WAD decimal string: ${JSON.stringify(value)}`);
  return BigInt(value);
}

/** Divides and rounds half away from zero. */
function divRound(numerator: bigint, denominator: bigint): bigint {
  const negative = numerator < 0n !== denominator < 0n;
  const n = numerator < 0n ? -numerator : numerator;
  const d = denominator < 0n ? -denominator : denominator;
  const q = (n + d / 2n) / d;
  return negative ? -q : q;
}

/** 1234567 -> "1,234,567" */
export function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A fixed-point value `scaled` with `decimals` decimals, as text: grouped integer part, fixed decimals. */
function fixed(scaled: bigint, decimals: number, group: boolean): string {
  const negative = scaled < 0n;
  const abs = negative ? -scaled : scaled;
  const unit = 10n ** BigInt(decimals);
  const whole = (abs / unit).toString();
  const frac = decimals > 0 ? "." + (abs % unit).toString().padStart(decimals, "0") : "";
  return `${negative ? "-" : ""}${group ? groupThousands(whole) : whole}${frac}`;
}

/** "$1,234,567.89" from a WAD amount of quote (USD) units, rounded to the cent. */
export function formatUsd(value: WadString | bigint): string {
  const wad = typeof value === "bigint" ? value : parseWad(value);
  const cents = divRound(wad, WAD / 100n);
  const text = fixed(cents < 0n ? -cents : cents, 2, true);
  return `${cents < 0n ? "-" : ""}$${text}`;
}

/** "12.34%" from a WAD ratio (1e18 = 100%). */
export function formatPercent(value: WadString | bigint, decimals = 2): string {
  const wad = typeof value === "bigint" ? value : parseWad(value);
  const scaled = divRound(wad * 100n * 10n ** BigInt(decimals), WAD);
  return `${fixed(scaled, decimals, true)}%`;
}

/** A WAD price with `decimals` decimals, e.g. "0.8800". */
export function formatPrice(value: WadString | bigint, decimals = 4): string {
  const wad = typeof value === "bigint" ? value : parseWad(value);
  return fixed(divRound(wad * 10n ** BigInt(decimals), WAD), decimals, true);
}

/** "12.3 s", "4 min 05 s" */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "n/a";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, "0")} s`;
}

/** "2023-03-11 07:51 UTC" */
export function formatTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/**
 * A WAD string as a float, for plotting only. Splitting off the integer part keeps the relative error
 * at one float rounding even for amounts far above 2^53 wei.
 */
export function chartNumber(value: WadString): number {
  const wad = parseWad(value);
  const negative = wad < 0n;
  const abs = negative ? -wad : wad;
  const n = Number(abs / WAD) + Number(abs % WAD) / 1e18;
  return negative ? -n : n;
}
