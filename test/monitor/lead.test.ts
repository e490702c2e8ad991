/**
 * Escalation's fast path (rules.ts Escalation `fastRun`; docs/experiments.md, "False alarms: the fast
 * path"): level 1 is confirmed at once, without the count, when the book's distance to trouble fell on
 * each of the last `fastRun` fresh forecasts; level 2 and above still need the count. And its
 * calibration (calibration.ts `calibrateFastPath`): the least strict run of a fixed grid that keeps the
 * calm figures within the false-alarm targets, after the count has been chosen.
 */
import { expect } from "chai";

import {
  FAST_RUN_GRID,
  calibrateEscalation,
  calibrateFastPath,
  leadOf,
  leaveOneEventOut,
  pooledCalm,
  variantLevels,
} from "../../scripts/monitor/calibration.js";
import { resolveMonitorConfig } from "../../scripts/monitor/config.js";
import {
  type EscalationSettings,
  type RuleInputs,
  COUNT_ONLY_ESCALATION,
  DEFAULT_CHANGE_GATE,
  DEFAULT_ESCALATION,
  DEFAULT_RULES,
  Escalation,
  RULE_VARIANTS,
  levelFromInputs,
  levelSeries,
} from "../../scripts/monitor/rules.js";
import { decision, ruleInputs } from "../helpers/monitor.js";

/** A decision wanting `level` with the book's distance to trouble `distance` (sigma-hours). */
const want = (level: number, distance?: number) => decision(level, distance === undefined ? {} : { distance });

/** Inputs whose wave is `waveDistance` away, with P(wave within 15 min / 1 h) setting level `level` (0..2). */
const waveInputs = (t: number, level: number, waveDistance: number): RuleInputs =>
  ruleInputs(t, { wave15m: level >= 2 ? 0.2 : 0, wave1h: level >= 1 ? 0.2 : 0, waveDistance1h: waveDistance });

const fast2: EscalationSettings = { ...COUNT_ONLY_ESCALATION, fastRun: 2 };

describe("Risk monitor: escalation's fast path", function () {
  it("level 1 at once after the distance fell on each of the last fastRun fresh forecasts; level 2 still needs the count", function () {
    const wanted = [0, 0, 2, 2, 2, 2];
    const distances = [3, 2.5, 2, 1.8, 1.7, 1.6];
    const run = (s: typeof fast2) => {
      const e = new Escalation(s);
      return wanted.map((l, i) => e.update(want(l, distances[i])));
    };
    // the count alone (the fourth round): the third hit of the window is the fifth forecast, level 2 the sixth
    expect(run(COUNT_ONLY_ESCALATION).map((d) => d.level)).to.deep.equal([0, 0, 0, 0, 1, 2]);
    const got = run(fast2);
    // the fast path: level 1 on the first forecast that wants anything (two falls in a row before it); level 2
    // exactly as the count alone gives it (the fast path only adds level 1)
    expect(got.map((d) => d.level)).to.deep.equal([0, 0, 1, 1, 1, 2]);
    expect(got[2].reason).to.match(/level 1 at once: the distance fell on 2 fresh forecasts in a row/);
  });

  it("a distance that stands still, rises or is unknown does not take the fast path", function () {
    const levels = (distances: (number | undefined)[]) => {
      const e = new Escalation(fast2);
      return distances.map((d, i) => e.update(want(i === distances.length - 1 ? 1 : 0, d)).level);
    };
    expect(levels([3, 2.5, 2])).to.deep.equal([0, 0, 1]);
    expect(levels([3, 3, 2])).to.deep.equal([0, 0, 0]); // one fall, not two
    expect(levels([2, 2.5, 2])).to.deep.equal([0, 0, 0]); // rose, then fell
    expect(levels([3, undefined, 2])).to.deep.equal([0, 0, 0]); // unknown in the run
    expect(levels([Infinity, Infinity, Infinity])).to.deep.equal([0, 0, 0]); // nothing in reach
    expect(levels([Infinity, 5, 2])).to.deep.equal([0, 0, 1]); // came into reach, then fell
    // off: fastRun 0 or absent
    const off = new Escalation({ ...fast2, fastRun: 0 });
    expect([3, 2.5, 2].map((d, i) => off.update(want(i === 2 ? 1 : 0, d)).level)).to.deep.equal([0, 0, 0]);
  });

  it("the run is counted in fresh forecasts: a forecast without a new round neither extends it nor raises", function () {
    const e = new Escalation(fast2);
    expect(e.update(want(0, 3)).level).to.equal(0);
    expect(e.update(want(0, 2.5)).level).to.equal(0);
    // the same rounds read again on a new block: not a fall of the trend, and no climb without a fresh round
    expect(e.update(want(1, 2.4), false).level).to.equal(0);
    expect(e.update(want(1, 2)).level).to.equal(1);
    // held on the same rounds read again while the rules still want it
    expect(e.update(want(1, 2), false).level).to.equal(1);
    // the level falls at once when the rules want less
    expect(e.update(want(0, 1.5)).level).to.equal(0);
    expect(e.update(want(1, 1.4), false).level).to.equal(0);
  });

  it("reads the nearer of the critical shock's and the wave's distance, before the change gate", function () {
    const x = waveInputs(0, 1, 1.5);
    expect(levelFromInputs(x).distance).to.equal(1.5);
    expect(levelFromInputs({ ...x, distance1h: 0.9 }).distance).to.equal(0.9);
    // self-feeding waves only: the feeding wave's distance
    const feeding = { ...DEFAULT_RULES, waveMustFeedItself: true };
    expect(levelFromInputs({ ...x, feedingWaveDistance1h: 2.5 }, feeding).distance).to.equal(2.5);
    // a crash-like series of one-minute rounds: the wave's distance falls for a while before the rules want
    // anything, then the gate opens (new lows against the hours before) and the rules want level 1, then 2
    const t0 = 10 * 3_600;
    const calm = Array.from({ length: 20 }, (_, i) => waveInputs(i * 1_800, 0, 4 + (i % 3) * 0.1));
    const crash = [3.5, 3.2, 2.9, 2.5, 2.2, 1.9, 1.6, 1.4, 1.2, 1.0].map((d, i) =>
      waveInputs(t0 + i * 60, i < 6 ? 0 : i < 8 ? 1 : 2, d),
    );
    const inputs = [...calm, ...crash];
    const wave = t0 + 10 * 60;
    const lead = (e: typeof fast2, level: number) => {
      const levels = levelSeries(inputs, DEFAULT_RULES, {
        gate: DEFAULT_CHANGE_GATE,
        persistence: null,
        escalation: e,
      });
      return leadOf(
        inputs,
        levels.map((d) => d.level),
        wave,
        level,
      );
    };
    // the count alone: level 1 on the third wanting forecast (2 minutes before the wave), level 2 one after it
    expect(lead(COUNT_ONLY_ESCALATION, 1)).to.equal(2 * 60);
    expect(lead(COUNT_ONLY_ESCALATION, 2)).to.equal(60);
    // the fast path: level 1 on the first (4 minutes before); level 2 as the count alone gives it
    expect(lead(fast2, 1)).to.equal(4 * 60);
    expect(lead(fast2, 2)).to.equal(60);
  });

  it("refuses a negative or fractional run, and is a setting of the monitor and a variant of the backtests", function () {
    expect(() => new Escalation({ ...fast2, fastRun: -1 })).to.throw(/fastRun/);
    expect(() => new Escalation({ ...fast2, fastRun: 1.5 })).to.throw(/fastRun/);
    const rpcUrl = "http://127.0.0.1:9251";
    expect(resolveMonitorConfig({ flags: { rpcUrl }, env: {} }).escalateFastRun).to.equal(DEFAULT_ESCALATION.fastRun);
    expect(resolveMonitorConfig({ flags: { rpcUrl, escalateFastRun: "0" }, env: {} }).escalateFastRun).to.equal(0);
    expect(
      resolveMonitorConfig({ flags: { rpcUrl }, env: { MONITOR_ESCALATE_FAST_RUN: "4" } }).escalateFastRun,
    ).to.equal(4);
    expect(() => resolveMonitorConfig({ flags: { rpcUrl, escalateFastRun: "-1" }, env: {} })).to.throw();
    expect(DEFAULT_ESCALATION.fastRun).to.be.greaterThan(0);
    const before = RULE_VARIANTS.find((v) => v.name === "gate+escalation, count only")!;
    expect(before.escalation).to.deep.equal(COUNT_ONLY_ESCALATION);
    expect(before.escalation!.fastRun ?? 0).to.equal(0);
  });
});

describe("Risk monitor: the fast path's calibration", function () {
  /**
   * Calm hours in blocks of `period`: the distance stands at 5, falls on three bars in a row (4.5, 4, 3.5),
   * and on the third of them the rules want level 1 (an isolated want: the count never confirms it).
   */
  const calmSeries = (period: number, blocks: number) =>
    Array.from({ length: period * blocks }, (_, i) => {
      const k = i % period;
      const d = k === period - 3 ? 4.5 : k === period - 2 ? 4 : k === period - 1 ? 3.5 : 5;
      return waveInputs(i * 3_600, k === period - 1 ? 1 : 0, d);
    });

  it("chooses the least strict run of the grid that keeps the calm figures within the targets", function () {
    // one isolated alarm hour in 50: a fast path of any length up to 3 alarms on it, 2% of the time
    const rare = calmSeries(50, 4);
    const c = calibrateFastPath([rare], COUNT_ONLY_ESCALATION, { gate: null });
    expect([c.met, c.fastRun]).to.deep.equal([true, FAST_RUN_GRID[0]]);
    // one in 10: 10% of the time under runs 1 to 3; a run of 4 needs a fall the calm book never makes
    const often = calmSeries(10, 20);
    const strict = calibrateFastPath([often], COUNT_ONLY_ESCALATION, { gate: null });
    expect([strict.met, strict.fastRun]).to.deep.equal([true, 4]);
    for (const k of FAST_RUN_GRID.slice(0, FAST_RUN_GRID.indexOf(strict.fastRun))) {
      const p = pooledCalm([often], {
        rules: DEFAULT_RULES,
        gate: null,
        escalation: { ...COUNT_ONLY_ESCALATION, fastRun: k },
      });
      expect(p.shareAtLevel1, `run ${k}`).to.be.greaterThan(0.05);
    }
    // level 2 wanted on every calm forecast: the count fails already, and no fast path is chosen
    const bad = calmSeries(10, 20).map((x) => ({ ...x, wave15m: 0.2, wave1h: 0.2 }));
    const none = calibrateFastPath([bad], COUNT_ONLY_ESCALATION, { gate: null });
    expect([none.met, none.fastRun]).to.deep.equal([false, 0]);
  });

  it("leave-one-event-out chooses the run on the other events, and none when asked for the count alone", function () {
    const calm = calmSeries(10, 20);
    // a book whose wave comes nearer on every round for eight rounds; the rules want level 1 on the last
    const crash = [4, 3.75, 3.5, 3.25, 3, 2.75, 2.5, 2.25].map((d, i) =>
      waveInputs(1_000_000 + i * 60, i === 7 ? 1 : 0, d),
    );
    const events = [
      { event: "a", calm, bootstrap: [calm], replay: { inputs: crash, waveStart: 1_000_000 + 8 * 60 } },
      { event: "b", calm, bootstrap: [calm] },
    ];
    const rows = leaveOneEventOut(events, { gate: null });
    const base = calibrateEscalation([calm], { gate: null });
    expect(rows[0].escalation).to.deep.equal(base.escalation);
    expect(rows[0].fastRun).to.equal(calibrateFastPath([calm], base.escalation, { gate: null }).fastRun);
    expect(rows[0].fastRun).to.equal(4);
    const countOnly = leaveOneEventOut(events, { gate: null, fastGrid: [] });
    expect(countOnly[0].fastRun).to.equal(0);
    // the count alone never confirms the single want; the fast path warns a minute before the wave
    expect(countOnly[0].lead!.level1).to.equal(undefined);
    expect(rows[0].lead!.level1).to.equal(60);
    const v = { rules: DEFAULT_RULES, gate: null, escalation: { ...rows[0].escalation, fastRun: rows[0].fastRun } };
    expect(variantLevels(crash, v)[7]).to.equal(1);
  });
});
