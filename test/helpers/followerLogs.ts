/**
 * Logs for the keeper's event follower in unit tests (no chain): the protocol's addresses as the tests name
 * them, an account owner, a log encoded with a contract's interface, and a follower over a fixed list of logs.
 */
import type { Interface, Log } from "ethers";

import { AccountBook } from "../../scripts/keeper/book.js";
import { EventFollower, type FollowerOptions } from "../../scripts/keeper/follower.js";
import { silentLogger } from "../../scripts/keeper/logger.js";

export const FOLLOWER_ADDR = {
  engine: "0x00000000000000000000000000000000000000e1",
  vault: "0x00000000000000000000000000000000000000e2",
  liquidationEngine: "0x00000000000000000000000000000000000000e3",
  breaker: "0x00000000000000000000000000000000000000e4",
};

export const FOLLOWER_OWNER = "0x00000000000000000000000000000000000000a1";

/** The log of event `name` with `args`, emitted by `address` in `blockNumber` (in `transactionHash`, if given). */
export function encodeLog(
  address: string,
  iface: Interface,
  name: string,
  args: unknown[],
  blockNumber: number,
  transactionHash?: string,
): Log {
  const fragment = iface.getEvent(name);
  if (!fragment) throw new Error(`no event ${name} in the interface`);
  const { data, topics } = iface.encodeEventLog(fragment, args);
  return { address, data, topics, blockNumber, ...(transactionHash ? { transactionHash } : {}) } as unknown as Log;
}

/** A follower from block 1 over `logs` (every request answers the whole list), with `hooks` (e.g. onForced). */
export function followerOver(logs: Log[], hooks: Partial<FollowerOptions> = {}): EventFollower {
  return new EventFollower({
    provider: { getLogs: async () => logs },
    addresses: FOLLOWER_ADDR,
    book: new AccountBook(10n ** 12n),
    startBlock: 1,
    rangeBlocks: 100,
    logger: silentLogger(),
    ...hooks,
  });
}
