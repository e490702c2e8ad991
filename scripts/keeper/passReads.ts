/**
 * The reads a keeper pass's jobs make at the scan's block besides the scan (a feed's latest round, the
 * oracle's volatility state, the keeper's rewards, the backstop's unwind room), asked in the scan's lens
 * call (`ProtocolLens.keeperViewWith`): one request where there were one per read.
 *
 * A job takes a value from the pass's answers only where the lens's static call succeeded and its return
 * data decodes as ethers' contract call would decode the same bytes (one output: that value, else the
 * Result); everywhere else (no lens, an older lens, a read that reverted or does not decode, a read not
 * asked) it makes the read itself, as before. A view at a fixed block answers the same bytes to the lens
 * as to an eth_call of its own (none of these reads looks at its caller), so the job sees the same values
 * and fails where it failed.
 */
import type { Addressable, FunctionFragment, Interface } from "ethers";

import type { ProtocolLens } from "../../types/ethers-contracts/contracts/lens/ProtocolLens.js";
import { isTransportError } from "./rpc.js";

/** A read a job would make at the scan's block: `fn(...args)` of the contract `to`. */
export type PassRead = {
  key: string;
  to: { target: string | Addressable; interface: Interface };
  fn: string;
  args: readonly unknown[];
};

/** The key of a Chainlink feed's `latestRoundData` at the scan's block (the pokers' and the settler's read). */
export function roundKey(aggregator: { target: string | Addressable }): string {
  return `latestRoundData:${String(aggregator.target).toLowerCase()}`;
}

type Slot = { fragment: FunctionFragment; iface: Interface; data: string; value?: unknown; failed?: boolean };

/** The lens's answers to a pass's reads, by key; each decoded once, when first asked. */
export class PassAnswers {
  private readonly slots = new Map<string, Slot>();

  /** `answers[i]` is the lens's outcome of `reads[i]`. */
  constructor(reads: readonly PassRead[], answers: readonly { ok: boolean; data: string }[]) {
    reads.forEach((r, i) => {
      const a = answers[i];
      if (!a?.ok) return;
      this.slots.set(r.key, { fragment: r.to.interface.getFunction(r.fn)!, iface: r.to.interface, data: a.data });
    });
  }

  /** How many reads were answered. */
  get size(): number {
    return this.slots.size;
  }

  /** The value ethers' contract call would return for these bytes, or undefined: read it yourself. */
  value<T>(key: string): T | undefined {
    const s = this.slots.get(key);
    if (!s || s.failed) return undefined;
    if (!("value" in s)) {
      try {
        const r = s.iface.decodeFunctionResult(s.fragment, s.data);
        s.value = r.length === 1 ? r[0] : r;
      } catch {
        s.failed = true;
        return undefined;
      }
    }
    return s.value as T;
  }
}

/** `key`'s value from the pass's answers, else `read()` (the read the job made before). */
export async function prefetched<T>(answers: PassAnswers | undefined, key: string, read: () => Promise<T>): Promise<T> {
  const v = answers?.value<T>(key);
  return v !== undefined ? v : read();
}

/**
 * The reads to ask the lens, without duplicate keys (the first kept) nor a contract bound to anything but an
 * address (left to its job), and their calldata.
 */
export function lensReads(reads: readonly PassRead[]): {
  asked: PassRead[];
  calls: { target: string; data: string }[];
} {
  const seen = new Set<string>();
  const asked = reads.filter((r) => typeof r.to.target === "string" && !seen.has(r.key) && seen.add(r.key));
  const calls = asked.map((r) => ({
    target: r.to.target as string,
    data: r.to.interface.encodeFunctionData(r.fn, [...r.args]),
  }));
  return { asked, calls };
}

/**
 * `reads` in one call of the lens (`ProtocolLens.readAll`, at the head), or undefined where the lens fails
 * (an older lens: each read then made by its caller, as without one).
 */
export async function readAll(
  lens: ProtocolLens | undefined,
  reads: readonly PassRead[],
): Promise<PassAnswers | undefined> {
  if (!lens || !reads.length) return undefined;
  const { asked, calls } = lensReads(reads);
  try {
    return new PassAnswers(asked, await lens.readAll(calls));
  } catch (e) {
    if (isTransportError(e)) throw e;
    return undefined;
  }
}
