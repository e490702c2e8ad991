/**
 * Crash replays on a fork: the catalogue of fork targets, reading a real feed's rounds over a window,
 * the replay on the forked chain, and the local stand-in for mainnet used when there is no FORK_URL.
 */
export { FORK_TARGETS, forkTarget, proxyRoundId, type ForkTarget } from "./targets.js";
export { readRounds, walkRounds, answerToWad, AGGREGATOR_V3_ABI, type FeedRound, type RoundWalk } from "./rounds.js";
export { replayOnFork, type ForkReplayOptions, type ForkReplayResult, type ForkReplayStep } from "./replay.js";
export {
  crashDataDir,
  loadRecordedRounds,
  parseRecordedRounds,
  recordedRoundsFile,
  type RecordedRound,
} from "./recorded.js";
export { freePort, plantRecordedFeed, startLocalNode, type LocalNode, type PlantedFeed } from "./local.js";
