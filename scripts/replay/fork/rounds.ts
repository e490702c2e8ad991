/**
 * Reading a Chainlink feed's history over a time window, from any provider (a fork, a node, mainnet).
 *
 * A proxy's round id is (phaseId << 64) | aggregatorRound. Within a phase the aggregator's rounds are
 * numbered 1, 2, 3, ... without gaps, so the walk steps back one id at a time from latestRoundData.
 * Below round 1 it moves to the previous phase, whose last round the proxy does not tell: it is found
 * by doubling then bisecting over "does getRoundData answer for this id", since a phase's rounds are
 * a prefix 1..last. A round that does not exist either reverts (proxies, OCR aggregators) or reads as
 * all zeros (some older aggregators); both count as missing. Every other error propagates.
 *
 * The walk is bounded: it stops at the first round older than the window, and throws past maxRounds.
 */
import { WAD_DECIMALS } from "../decimal.js";
import { Contract, isError, type ContractRunner } from "ethers";

import type { PricePoint } from "../types.js";

export const AGGREGATOR_V3_ABI = [
  "function decimals() view returns (uint8)",
  "function description() view returns (string)",
  "function latestRoundData() view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)",
  "function getRoundData(uint80 roundId) view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)",
];

const PHASE_SHIFT = 64n;
const AGGREGATOR_ROUND_MASK = (1n << PHASE_SHIFT) - 1n;

export type FeedRound = {
  roundId: bigint;
  /** the raw answer, in the feed's decimals */
  answer: bigint;
  /** unix seconds */
  updatedAt: number;
  /** the answer in WAD (exact for decimals <= 18; truncated beyond, as OracleAdapter does) */
  priceWad: bigint;
};

export type RoundWalk = {
  feed: string;
  decimals: number;
  description: string;
  latestRoundId: bigint;
  /** rounds with from <= updatedAt <= to, oldest first */
  rounds: FeedRound[];
  /** rounds with a non-positive answer inside the window, left out of `rounds` */
  skipped: FeedRound[];
  /** getRoundData/latestRoundData calls made */
  calls: number;
  /** phases stepped back into */
  phasesCrossed: number;
  /** false when the feed's history ran out before a round older than the window was seen */
  reachedWindowStart: boolean;
};

export type ReadRoundsOptions = {
  /** rounds visited at most before giving up (default 20000) */
  maxRounds?: number;
};

export function answerToWad(answer: bigint, decimals: number): bigint {
  if (decimals <= WAD_DECIMALS) return answer * 10n ** BigInt(WAD_DECIMALS - decimals);
  return answer / 10n ** BigInt(decimals - WAD_DECIMALS);
}

/** The feed's rounds in [fromTime, toTime] (unix seconds), as WAD price points, oldest first. */
export async function readRounds(
  provider: ContractRunner,
  feedAddress: string,
  fromTime: number,
  toTime: number,
  opts: ReadRoundsOptions = {},
): Promise<PricePoint[]> {
  const walk = await walkRounds(provider, feedAddress, fromTime, toTime, opts);
  return walk.rounds.map((r) => ({ t: r.updatedAt, priceWad: r.priceWad }));
}

/** readRounds with everything the walk saw: round ids, raw answers, calls made. */
export async function walkRounds(
  provider: ContractRunner,
  feedAddress: string,
  fromTime: number,
  toTime: number,
  opts: ReadRoundsOptions = {},
): Promise<RoundWalk> {
  if (!(fromTime <= toTime)) throw new Error(`empty window: from ${fromTime} > to ${toTime}`);
  const maxRounds = opts.maxRounds ?? 20_000;
  const feed = new Contract(feedAddress, AGGREGATOR_V3_ABI, provider);
  const decimals = Number(await feed.decimals());
  const description = await readDescription(feed);
  let calls = 0;

  const toRound = (r: { roundId: bigint; answer: bigint; updatedAt: bigint }): FeedRound => ({
    roundId: r.roundId,
    answer: r.answer,
    updatedAt: Number(r.updatedAt),
    priceWad: r.answer > 0n ? answerToWad(r.answer, decimals) : 0n,
  });
  const tryRound = async (roundId: bigint): Promise<FeedRound | undefined> => {
    calls++;
    try {
      const r = await feed.getRoundData(roundId);
      if (r.updatedAt === 0n) return undefined;
      return toRound(r);
    } catch (e) {
      if (isRevert(e)) return undefined;
      throw e;
    }
  };

  calls++;
  const latest = toRound(await feed.latestRoundData());
  const rounds: FeedRound[] = [];
  const skipped: FeedRound[] = [];
  let phasesCrossed = 0;
  let reachedWindowStart = false;
  let visited = 0;
  let current: FeedRound | undefined = latest;
  while (current) {
    if (++visited > maxRounds) {
      throw new Error(
        `walked ${maxRounds} rounds of ${feedAddress} back from round ${latest.roundId} without reaching ` +
          `${new Date(fromTime * 1000).toISOString()}: fork at a block closer to the window's end, or raise maxRounds`,
      );
    }
    if (current.updatedAt < fromTime) {
      reachedWindowStart = true;
      break;
    }
    if (current.updatedAt <= toTime) (current.answer > 0n ? rounds : skipped).push(current);

    const phase: bigint = current.roundId >> PHASE_SHIFT;
    const aggregatorRound: bigint = current.roundId & AGGREGATOR_ROUND_MASK;
    let previous: FeedRound | undefined =
      aggregatorRound > 1n ? await tryRound((phase << PHASE_SHIFT) | (aggregatorRound - 1n)) : undefined;
    // Round 1 of a phase, or a hole (which a proxy never has): continue in the phases below.
    for (let p = phase - 1n; previous === undefined && p >= 1n; p--) {
      phasesCrossed++;
      const last = await lastRoundOfPhase(p, tryRound);
      if (last !== undefined) previous = last;
    }
    current = previous;
  }

  rounds.reverse();
  skipped.reverse();
  return {
    feed: feedAddress,
    decimals,
    description,
    latestRoundId: latest.roundId,
    rounds,
    skipped,
    calls,
    phasesCrossed,
    reachedWindowStart,
  };
}

/** The last round of a phase (its rounds are 1..last), or undefined for an empty phase. ~2*log2(last) calls. */
async function lastRoundOfPhase(
  phase: bigint,
  tryRound: (id: bigint) => Promise<FeedRound | undefined>,
): Promise<FeedRound | undefined> {
  const id = (n: bigint) => (phase << PHASE_SHIFT) | n;
  let found = await tryRound(id(1n));
  if (!found) return undefined;
  let lo = 1n; // exists
  let hi = 2n; // to test
  while (hi <= AGGREGATOR_ROUND_MASK) {
    const r = await tryRound(id(hi));
    if (!r) break;
    found = r;
    lo = hi;
    hi *= 2n;
  }
  // lo exists, hi does not (or is past the id space): bisect.
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    const r = await tryRound(id(mid));
    if (r) {
      lo = mid;
      found = r;
    } else {
      hi = mid;
    }
  }
  return found; // the round at lo: found moves with lo
}

async function readDescription(feed: Contract): Promise<string> {
  try {
    return String(await feed.description());
  } catch (e) {
    if (isRevert(e)) return "";
    throw e;
  }
}

/** A call that reached the contract and reverted (as opposed to a transport or RPC failure). */
function isRevert(e: unknown): boolean {
  if (isError(e, "CALL_EXCEPTION")) return true;
  const message = e instanceof Error ? e.message : String(e);
  return /revert/i.test(message);
}
