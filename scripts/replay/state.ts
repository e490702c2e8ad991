/**
 * The state of one run, shared by its steps (setup.ts, tick.ts, digest.ts, traders.ts, adl.ts,
 * record.ts): what was deployed, where the run is in its schedule, and what it has recorded so far.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkConnection } from "hardhat/types/network";

import type { Protocol } from "../../deploy/protocol.js";
import type { Book } from "./book.js";
import type { Chain } from "./chain.js";
import type { ReplayContracts } from "./contracts.js";
import type { ImpactModel } from "./impact.js";
import type { BackstopRun } from "./backstop.js";
import type { RunCounters, StepPrices } from "./metrics.js";
import type { PlannedMarket, RunPlan } from "./plan.js";
import type { TraderSpec } from "./population.js";
import type { ResolvedParams } from "./presets.js";
import type { ReplayStep } from "./result.js";
import type { ServiceKeeper } from "./serviceKeeper.js";
import type { TraderOrders } from "./traders.js";

/** A market while the run goes: its plan, its feed, and the last round the engine pushed to it. */
export type MarketRun = PlannedMarket & {
  /** the replay's feed (a MockAggregator) the oracle reads */
  feed: string;
  /** index of the path point in force */
  cursor: number;
  lastAnswer: bigint;
  lastPushAt: number;
};

export type PushedRound = { market: number; roundId: bigint; answer: bigint; t: number };

/** The node accounts the run sends from. The keeper's address is the keeper's alone (its nonces). */
export type Roles = {
  admin: string;
  governor: string;
  guardian: string;
  keeper: string;
  trader: string;
  lp: string;
  /** setup calls and the engine's auto-deleveraging */
  operator: string;
};

/** Where the run is in its schedule. */
export type Clock = {
  /** tick times: the schedule, with feedback ticks inserted as they are decided */
  times: number[];
  /** the scheduled ticks (for progress) and how many are done */
  scheduled: number;
  done: number;
  feedback: Set<number>;
  /** feedback ticks inserted since the last scheduled tick */
  feedbackRun: number;
  /** time of the previous tick (the impact model decays over the difference) */
  prevT: number;
};

/** What the run has recorded so far. */
export type RunRecord = {
  steps: ReplayStep[];
  stepPrices: StepPrices[];
  pushedRounds: PushedRound[];
  counters: RunCounters;
  liquidated: Set<bigint>;
  wipedOut: Set<bigint>;
  backstops: number;
  backstopNotional: bigint;
};

export type RunState = {
  params: ResolvedParams;
  plan: RunPlan;
  connection: NetworkConnection;
  ethers: HardhatEthers;
  chain: Chain;
  protocol: Protocol;
  c: ReplayContracts;
  roles: Roles;
  markets: MarketRun[];
  /** the liquidation, reward and ADL configuration as read back from the chain after setup */
  configs: { liquidation: Record<string, string>; reward: Record<string, string>; adl: Record<string, string> };
  /** traders in the order they open; `nextOpen` is the first not yet due */
  toOpen: TraderSpec[];
  nextOpen: number;
  /** account id of trader 0 (trader k has firstId + k) */
  firstId: bigint;
  book: Book;
  keeper: ServiceKeeper;
  impact: ImpactModel;
  clock: Clock;
  record: RunRecord;
  /** the book's last list of accounts below maintenance (the keeper's cross-check takes it each tick) */
  hints: { last?: { t: number; ids: bigint[] } };
  /** accounts changed since it was taken */
  touchedSinceHint: number;
  /** the backstop vault, when the preset enables it */
  backstop?: BackstopRun;
  /** the traders' two-step orders in flight (traders.ts) */
  orders: TraderOrders;
};

export const accountOf = (run: RunState, t: TraderSpec): bigint => run.firstId + BigInt(t.index);
