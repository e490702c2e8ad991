/**
 * One tick of a run, at the tick's block time, in order:
 *   1. the impact model decays; each market's oracle is fed path * (1 + impact) with
 *      MockAggregator.pushRound (a round when the answer changes, or half a heartbeat passed);
 *   2. traders due to open commit their orders, and those refused at the last settlement commit
 *      again (traders.ts); the keeper settles them at the next round;
 *   3. the keeper service ticks (serviceKeeper.ts): follow events, scan, liquidate worst first, pokes,
 *      and auto-deleverage pending deficits (its ADL job, scripts/keeper/deleverager.ts);
 *   4. what happened is read from the logs (digest.ts): every liquidated leg adds its signed
 *      notional / depth to the market's impact, so the next oracle round carries the protocol's own
 *      forced sales;
 *   5. the step is recorded (record.ts); after a tick with liquidations, a feedback tick
 *      `feedbackSeconds` later (at most `maxFeedbackTicks` between two scheduled ticks) lets the
 *      cascade play out in between.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import type { Protocol } from "../../deploy/protocol.js";
import { digest } from "./digest.js";
import { recordStep } from "./record.js";
import type { ReplayStep } from "./result.js";
import type { RunState } from "./state.js";
import { openDuePositions } from "./traders.js";

/** What a step hook sees: the step just recorded and the chain as it then is (the risk monitor's backtest). */
export type StepHook = (step: ReplayStep, chain: { ethers: HardhatEthers; protocol: Protocol }) => Promise<void>;

/**
 * Plays the whole schedule; `onTick` after every scheduled tick (feedback ticks are not counted),
 * `onStep` awaited after every recorded step (feedback steps included).
 */
export async function playSchedule(
  run: RunState,
  onTick?: (done: number, total: number) => void,
  onStep?: StepHook,
): Promise<void> {
  const { clock } = run;
  for (let k = 0; k < clock.times.length; k++) {
    const t = clock.times[k];
    const tranches = await tick(run, t, k === 0);
    if (onStep)
      await onStep(run.record.steps[run.record.steps.length - 1], { ethers: run.ethers, protocol: run.protocol });
    scheduleFeedback(run, k, tranches);
    if (!clock.feedback.has(t)) onTick?.(++clock.done, clock.scheduled);
  }
}

/** One tick at time `t`; returns the tranches liquidated in it. */
async function tick(run: RunState, t: number, first: boolean): Promise<number> {
  const { chain } = run;
  chain.setTime(t);
  await chain.mine();
  const fromBlock = await chain.blockNumber();
  run.impact.decay(t - run.clock.prevT);
  run.clock.prevT = t;

  const pathNow = await pushRounds(run, t, first);
  await openDuePositions(run, t);

  run.touchedSinceHint = 0;
  const byKeeper = await run.keeper.tick();
  const liquidations = await digest(run, fromBlock);
  if (byKeeper.tranches !== liquidations.tranches) {
    // only the keeper liquidates here: its count and the chain's logs must agree
    throw new Error(
      `replay: at t=${t} the keeper reports ${byKeeper.tranches} tranches, the chain's logs ${liquidations.tranches}`,
    );
  }
  // auto-deleveraging is the keeper's job (scripts/keeper/deleverager.ts): its calls are in these logs
  run.record.counters.adlRuns += byKeeper.adlRuns;
  run.record.counters.adlFailures += byKeeper.adlFailures;
  await recordStep(run, t, pathNow, liquidations.notional);
  return liquidations.tranches;
}

/**
 * Feeds each market's oracle the path's price in force at `t`, moved by the impact model. Returns
 * the path prices. The feed's own operator writes the round (the admin account), not the keeper.
 */
async function pushRounds(run: RunState, t: number, first: boolean): Promise<bigint[]> {
  const pathNow: bigint[] = [];
  for (const m of run.markets) {
    const points = m.path.points;
    while (m.cursor + 1 < points.length && points[m.cursor + 1].t <= t) m.cursor++;
    const pathPrice = points[m.cursor].priceWad;
    pathNow.push(pathPrice);
    const answer = run.impact.apply(m.id, pathPrice);
    if (answer === m.lastAnswer && t - m.lastPushAt < m.heartbeat / 2 && !first) continue;
    const feed = run.c.feed(m.feed);
    const r = await run.chain.exec(run.roles.admin, feed.pushRound.populateTransaction(answer, t), 200_000);
    if (!r.ok) throw new Error(`replay: pushRound reverted at t=${t}`);
    const topic = feed.getEvent("AnswerUpdated").fragment.topicHash;
    const log = r.logs.find((l) => l.topics[0] === topic)!;
    run.record.pushedRounds.push({ market: m.id, roundId: BigInt(log.topics[2]), answer, t });
    m.lastAnswer = answer;
    m.lastPushAt = t;
  }
  return pathNow;
}

/** After a tick with liquidations, another `feedbackSeconds` later, unless the next tick comes first. */
function scheduleFeedback(run: RunState, k: number, tranches: number): void {
  const { clock, params } = run;
  const t = clock.times[k];
  const next = k + 1 < clock.times.length ? clock.times[k + 1] : Infinity;
  if (!clock.feedback.has(t)) clock.feedbackRun = 0;
  const fb = params.impact.feedbackSeconds;
  if (tranches > 0 && fb > 0 && clock.feedbackRun < params.impact.maxFeedbackTicks && t + fb < next) {
    clock.times.splice(k + 1, 0, t + fb);
    clock.feedback.add(t + fb);
    clock.feedbackRun++;
  }
}
