/**
 * Fork targets: the crash events whose oracle history is a real Chainlink feed on Ethereum mainnet,
 * with the block to fork at and the window to replay. Used as they are only with a real FORK_URL;
 * without one, the fork test plants the recorded rounds of the same feed, at the same address and
 * with the same round ids, on a local node (see local.ts).
 *
 * How the pinned blocks were chosen (no node was reachable to look them up, so they are estimates):
 * each is the block a little after the window's last recorded round, interpolated between blocks
 * whose times are well known.
 * - USDC/USD: from the Euler exploit block 16817996 (2023-03-13 08:50:23 UTC), counting 12-second
 *   slots back and the ~0.7% of slots that were missed between the Merge (block 15537394,
 *   2022-09-15 06:42:59 UTC, slot 4700013) and that block. The window ends 2023-03-12 08:49:47 UTC,
 *   ~7154 blocks earlier (block ~16810842); pinned ~30 minutes (~150 blocks) later.
 * - stETH/ETH: proof of work, so interpolated at the mean block time (13.4 s) between Gray Glacier
 *   (block 15050000, 2022-06-30 10:54:04 UTC) and the Nomad exploit block 15259101
 *   (2022-08-01 21:32 UTC). The window ends 2022-07-14 09:10:51 UTC, block ~15139770; pinned ~6
 *   hours later (~1600 blocks), since the block time drifted by a few percent and this feed writes
 *   about one round a day.
 * A pin that falls late only makes readRounds walk a few more rounds (it keeps [from, to] only); a
 * pin that fell before the window end would miss its last rounds, which the FORK_URL test would show
 * as a mismatch with the recorded file.
 */

export type ForkTarget = {
  /** event id, as the replay engine names it */
  event: string;
  title: string;
  /** market symbol the feed drives */
  symbol: string;
  /** the feed's quote (the stETH feed is priced in ETH, not USD) */
  quote: string;
  /** EACAggregatorProxy on Ethereum mainnet */
  feed: string;
  /** the feed's answer decimals */
  decimals: number;
  chainId: 1;
  /** mainnet block to fork at with FORK_URL (just after the window, see above) */
  pinnedBlock: number;
  /** replay window, unix seconds (UTC), both ends included */
  window: { from: number; to: number };
  /** the rounds recorded for this window under CRASH_DATA_DIR, and where they sit on the proxy */
  recorded: { file: string; phaseId: number; firstAggregatorRound: number; rounds: number };
};

export const FORK_TARGETS: ForkTarget[] = [
  {
    event: "usdc-depeg-2023-03",
    title: "USDC depeg, March 2023 (Chainlink USDC/USD)",
    symbol: "USDC",
    quote: "USD",
    feed: "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6",
    decimals: 8,
    chainId: 1,
    pinnedBlock: 16_811_000,
    // 2023-03-09 06:00:35 .. 2023-03-12 08:49:47 UTC
    window: { from: 1_678_341_635, to: 1_678_610_987 },
    // proxy round ids 36893488147419104087 .. 36893488147419104377: phase 2, rounds 855..1145
    recorded: { file: "usdc-usd-2023-03-11-chainlink.csv", phaseId: 2, firstAggregatorRound: 855, rounds: 291 },
  },
  {
    event: "steth-depeg-2022-06",
    title: "stETH/ETH discount, May-July 2022 (Chainlink stETH/ETH)",
    symbol: "STETH",
    quote: "ETH",
    feed: "0x86392dC19c0b719886221c78AB11eb8Cf5c52812",
    decimals: 18,
    chainId: 1,
    pinnedBlock: 15_141_400,
    // 2022-05-01 21:20:48 .. 2022-07-14 09:10:51 UTC
    window: { from: 1_651_440_048, to: 1_657_789_851 },
    // proxy round ids 18446744073709551869 .. 18446744073709551946: phase 1, rounds 253..330
    recorded: { file: "steth-eth-2022-06-chainlink.csv", phaseId: 1, firstAggregatorRound: 253, rounds: 78 },
  },
];

export function forkTarget(event: string): ForkTarget {
  const t = FORK_TARGETS.find((x) => x.event === event);
  if (!t) throw new Error(`no fork target "${event}"; known: ${FORK_TARGETS.map((x) => x.event).join(", ")}`);
  return t;
}

/** Proxy round id: (phaseId << 64) | aggregatorRoundId, as Chainlink's EACAggregatorProxy builds it. */
export function proxyRoundId(phaseId: number | bigint, aggregatorRound: number | bigint): bigint {
  return (BigInt(phaseId) << 64n) | BigInt(aggregatorRound);
}
