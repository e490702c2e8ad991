/**
 * The tenth round's candidates (rules.ts; docs/experiments.md, "False alarms: the alarm's duration"), measured
 * and not adopted: the alarm's dwell (Escalation `dwellSeconds`, `renewMargin`: an alarm that no materially
 * worse fresh forecast re-confirms expires) and level 2 by the critical probabilities only when the critical
 * shock lies beyond the first wave's (Rules `level2CriticalBeyondWave`).
 */
import { expect } from "chai";

import { resolveMonitorConfig } from "../../scripts/monitor/config.js";
import {
  DEFAULT_CHANGE_GATE,
  DEFAULT_ESCALATION,
  DEFAULT_RULES,
  DWELL_ESCALATION,
  DWELL_RENEW_MARGIN,
  EVIDENCE_SECONDS,
  Escalation,
  levelFromInputs,
  levelSeries,
} from "../../scripts/monitor/rules.js";
import { variantFigures } from "../../scripts/monitor/variantTable.js";
import { decision, ruleInputs, ruleVariant } from "../helpers/monitor.js";

/** Confirmed by one fresh forecast, one level per forecast, with the dwell: the dwell alone is under test. */
const settings = { confirm: 1, window: 1, stepPerForecast: 1, dwellSeconds: 900, renewMargin: 0.1 };

/** The levels in effect for forecasts a minute apart wanting `level` at the distances `d` (fresh). */
const run = (e: Escalation, d: number[], level = 1, t0 = 0) =>
  d.map((x, i) => e.update(decision(level, { distance: x }), true, t0 + i * 60).level);

describe("Risk monitor: the alarm's dwell (tenth round, measured)", function () {
  it("an alarm no materially worse forecast re-confirms expires after the dwell; without the dwell it holds", function () {
    // 17 forecasts a minute apart, the distance drifting 2.0 -> 1.92: never 10% closer than the alarm's start
    const drift = Array.from({ length: 17 }, (_, i) => 2 - i * 0.005);
    const e = new Escalation(settings);
    const got = run(e, drift);
    // in effect from the first forecast to 900 s after it, off on the forecast 960 s after it
    expect(got).to.deep.equal([...Array(16).fill(1), 0]);
    const held = new Escalation({ ...settings, dwellSeconds: 0 });
    expect(run(held, drift)).to.deep.equal(Array(17).fill(1));
  });

  it("a forecast 10% closer renews the alarm and restarts its clock", function () {
    const e = new Escalation(settings);
    expect(e.update(decision(1, { distance: 2 }), true, 0).level).to.equal(1);
    // at 600 s, 1.8 = 2 x 0.9: renewed; 1.79 at 1,200 s is not 10% closer than 1.8, but the clock restarted at 600
    expect(e.update(decision(1, { distance: 1.8 }), true, 600).level).to.equal(1);
    expect(e.update(decision(1, { distance: 1.79 }), true, 1_200).level).to.equal(1);
    expect(e.update(decision(1, { distance: 1.79 }), true, 1_500).level).to.equal(1);
    const expired = e.update(decision(1, { distance: 1.79 }), true, 1_560);
    expect(expired.level).to.equal(0);
    expect(expired.reason).to.match(/expired: not re-confirmed/);
    // a forecast without a new oracle round is no renewal, however close
    const f = new Escalation(settings);
    f.update(decision(1, { distance: 2 }), true, 0);
    expect(f.update(decision(1, { distance: 1 }), false, 600).level).to.equal(1);
    expect(f.update(decision(1, { distance: 1 }), false, 960).level).to.equal(0);
  });

  it("a spent alarm returns on a materially worse forecast, or after the rules wanted level 0; level 2 again needs level 1 first", function () {
    const e = new Escalation(settings);
    run(e, Array(17).fill(2), 2);
    // expired at 960 s (anchor 2): 1.85 is not 10% closer, 1.79 is, and the level climbs again from 1
    expect(e.update(decision(2, { distance: 1.85 }), true, 1_020).level).to.equal(0);
    expect(e.update(decision(2, { distance: 1.79 }), true, 1_080).level).to.equal(1);
    expect(e.update(decision(2, { distance: 1.79 }), true, 1_140).level).to.equal(2);
    // the episode ends when the rules want level 0: the next alarm starts afresh at any distance
    const g = new Escalation(settings);
    run(g, Array(17).fill(2));
    expect(g.update(decision(1, { distance: 2 }), true, 1_020).level).to.equal(0);
    expect(g.update(decision(0, { distance: 3 }), true, 1_080).level).to.equal(0);
    expect(g.update(decision(1, { distance: 2.5 }), true, 1_140).level).to.equal(1);
  });

  it("the book past its critical shock takes effect at once, spent or not", function () {
    const e = new Escalation(settings);
    run(e, Array(17).fill(2));
    expect(e.update(decision(3, { distance: 2, immediate: true }), true, 1_020).level).to.equal(3);
  });

  it("its settings are bounded, it needs the forecast's time, and it is a backtest variant, off by default", function () {
    expect(() => new Escalation({ ...settings, dwellSeconds: -1 })).to.throw(/dwellSeconds/);
    expect(() => new Escalation({ ...settings, renewMargin: 0 })).to.throw(/renewMargin/);
    expect(() => new Escalation({ ...settings, renewMargin: 1 })).to.throw(/renewMargin/);
    expect(() => new Escalation({ ...settings, evidenceSeconds: 0 }).update(decision(1))).to.throw(/time is needed/);
    expect(DEFAULT_ESCALATION.dwellSeconds ?? 0).to.equal(0);
    expect(DWELL_ESCALATION).to.deep.equal({
      ...DEFAULT_ESCALATION,
      dwellSeconds: EVIDENCE_SECONDS,
      renewMargin: DWELL_RENEW_MARGIN,
    });
    expect(ruleVariant("gate+escalation, dwell 15 min").escalation).to.deep.equal(DWELL_ESCALATION);
    // the service's settings (the same Escalation): off unless asked, bounded
    const rpcUrl = "http://127.0.0.1:9350";
    const off = resolveMonitorConfig({ flags: { rpcUrl }, env: {} });
    expect(off.escalateDwellSeconds).to.equal(0);
    expect(off.escalateRenewMarginBps).to.equal(1_000);
    const on = resolveMonitorConfig({ flags: { rpcUrl, escalateDwellSeconds: "900" }, env: {} });
    expect(on.escalateDwellSeconds).to.equal(900);
    expect(() => resolveMonitorConfig({ flags: { rpcUrl, escalateRenewMarginBps: "10000" }, env: {} })).to.throw();
  });

  it("on a series: the calm alarm that only drifts is cut, the first lead is kept", function () {
    const t0 = 1_000_000;
    // 3 h: an hour quiet, 60 minutes wanting level 1 at a drifting distance (calm), an hour quiet, then the wave
    const xs = Array.from({ length: 240 }, (_, i) => {
      const alarm = i >= 60 && i < 120;
      return ruleInputs(t0 + i * 60, alarm ? { wave1h: 0.2, waveDistance1h: 1.5 - (i - 60) * 0.001 } : {});
    });
    const waveStart = t0 + 240 * 60;
    const before = variantFigures(xs, waveStart, DEFAULT_RULES, DEFAULT_ESCALATION);
    const after = variantFigures(xs, waveStart, DEFAULT_RULES, DWELL_ESCALATION);
    // the default holds level 1 from the second forecast (the fast path: the distance fell twice) to the
    // alarm's end: 59 of the 180 calm minutes
    expect(before.calmSeconds).to.equal(180 * 60);
    // (not closeTo: the suite's chai matchers read closeTo's arguments as bigints)
    expect(Math.abs(before.calmShare! * 180 - 59)).to.be.below(1e-9);
    // the dwell: from the same forecast (the alarm's start and anchor) to 900 s after it, 16 minutes
    expect(Math.abs(after.calmShare! * 180 - 16)).to.be.below(1e-9);
    expect(after.lead1).to.equal(before.lead1);
    // the same through levelSeries with the gate (no distance before the alarm: the gate has no history to close it)
    const gated = levelSeries(xs, DEFAULT_RULES, {
      gate: DEFAULT_CHANGE_GATE,
      persistence: null,
      escalation: DWELL_ESCALATION,
    });
    expect(gated.filter((d) => d.level >= 1).length).to.equal(16);
  });
});

describe("Risk monitor: level 2 by the critical probabilities only beyond the first wave (tenth round, measured)", function () {
  const rules = { ...DEFAULT_RULES, level2CriticalBeyondWave: true };

  it("the critical shock the wave's own: P(1 h) 6% sets level 1; beyond the wave, or with the option off, level 2", function () {
    const same = ruleInputs(0, { p1h: 0.06, distance1h: 1.5, waveDistance1h: 1.5, wave1h: 0.2 });
    expect(levelFromInputs(same, rules).level).to.equal(1);
    expect(levelFromInputs(same, DEFAULT_RULES).level).to.equal(2);
    const beyond = { ...same, waveDistance1h: 1.2 };
    expect(levelFromInputs(beyond, rules).level).to.equal(2);
    // no wave in reach: the critical shock is all there is
    const alone = { ...same, waveDistance1h: Infinity, wave1h: 0 };
    expect(levelFromInputs(alone, rules).level).to.equal(2);
    // the wave's own level-2 rule and level 3 are untouched
    expect(levelFromInputs({ ...same, wave15m: 0.15 }, rules).level).to.equal(2);
    expect(levelFromInputs({ ...same, p15m: 0.2 }, rules).level).to.equal(3);
    expect(ruleVariant("gate+escalation, L2 critical beyond wave").rules.level2CriticalBeyondWave).to.equal(true);
  });
});
