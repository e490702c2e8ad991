/**
 * One comparable shape for "what a call did", on chain or in the mirror: a value, or the revert.
 * Reverts are rendered as `Panic(0x11)`, `FullMulDivFailed()`, `SafeCastOverflowedUintToInt(2)` or
 * `NonPositiveFillPrice(-5)`, so a mismatch reads well.
 */
import { Interface } from "ethers";

import {
  FullMulDivFailedError,
  MathError,
  NonPositiveFillPriceError,
  SafeCastOverflowedUintToIntError,
  SolidityPanicError,
} from "../../scripts/lib/math/index.js";

export type Outcome = { readonly value: unknown } | { readonly revert: string };

const PANIC_SELECTOR = "0x4e487b71";

/**
 * Errors the libraries raise from code the caller's ABI may not describe: solady reverts
 * FullMulDivFailed() from assembly, so it is in no contract's ABI, and SafeCast's error is only
 * in the ABI of contracts whose own code can reach it. Decoded from their signatures here, so the
 * rendering never depends on the contract the call went to.
 */
const LIBRARY_ERRORS = new Interface(["error FullMulDivFailed()", "error SafeCastOverflowedUintToInt(uint256 value)"]);

function render(name: string, args: readonly unknown[]): string {
  return `${name}(${args.map(String).join(",")})`;
}

/** Ethers returns tuples as array-like Results; turn them into plain arrays of bigint. */
function plain(x: unknown): unknown {
  return Array.isArray(x) ? Array.from(x, plain) : x;
}

function revertData(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("data" in error)) return undefined;
  const data = (error as { data: unknown }).data;
  return typeof data === "string" && data.startsWith("0x") ? data : undefined;
}

/** Runs an eth_call; a revert becomes an Outcome, anything else (a broken node) is rethrown. */
export async function chainOutcome(iface: Interface, call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { value: plain(await call()) };
  } catch (error) {
    const data = revertData(error);
    if (data === undefined) throw error;
    if (data.startsWith(PANIC_SELECTOR)) return { revert: `Panic(0x${BigInt("0x" + data.slice(10)).toString(16)})` };
    const parsed = LIBRARY_ERRORS.parseError(data) ?? iface.parseError(data);
    if (parsed === null) throw error;
    return { revert: render(parsed.name, parsed.args) };
  }
}

/** Runs the mirror; its typed errors become an Outcome, anything else is a bug and is rethrown. */
export function mirrorOutcome(call: () => unknown): Outcome {
  try {
    const value = call();
    // applyTrade returns named fields; the harness returns them as a tuple, in the same order.
    return { value: typeof value === "object" && value !== null ? Object.values(value) : value };
  } catch (error) {
    if (error instanceof SolidityPanicError) return { revert: `Panic(0x${error.code.toString(16)})` };
    if (error instanceof FullMulDivFailedError) return { revert: render("FullMulDivFailed", []) };
    if (error instanceof SafeCastOverflowedUintToIntError) {
      return { revert: render("SafeCastOverflowedUintToInt", [error.value]) };
    }
    if (error instanceof NonPositiveFillPriceError)
      return { revert: render("NonPositiveFillPrice", [error.fillPrice]) };
    if (error instanceof MathError) return { revert: `${error.name}: ${error.message}` };
    throw error;
  }
}

export function describeOutcome(outcome: Outcome): string {
  if ("revert" in outcome) return `revert ${outcome.revert}`;
  return `value ${JSON.stringify(outcome.value, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))}`;
}
