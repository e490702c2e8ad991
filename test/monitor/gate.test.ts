/**
 * The change gate (rules.ts ChangeGate; docs/experiments.md, "False alarms: the change gate"): a
 * probability rule sets a level only when its distance-to-cascade is at a new low against the
 * monitor's own forecasts of 24 h to 1 h ago. Unit behaviour on hand-made inputs, then measured on a
 * path of our own (synthetic: a seeded random walk, a deterioration, a fall) with the replay's stress
 * book, and the block bootstrap the level-2 raise count uses.
 */
import { expect } from "chai";

import { silentLogger } from "../../scripts/keeper/logger.js";
import { mulberry32 } from "../../scripts/lib/random.js";
import { MonitorService } from "../../scripts/monitor/service.js";
import { syntheticState } from "../../scripts/monitor/syntheticBook.js";

import { bootstrapPath, calmFigures, calmThenFallPath } from "../../scripts/monitor/calmHistory.js";
import {
  type RuleInputs,
  ChangeGate,
  DEFAULT_CHANGE_GATE,
  DEFAULT_RULES,
  levelFromInputs,
  levelSeries,
} from "../../scripts/monitor/rules.js";
import { ownPath, ruleInputs, ruleVariant } from "../helpers/monitor.js";

/** Inputs whose only finite distance is the critical one, with a probability that sets level 2. */
const risky = (t: number, distance1h: number, criticalNow = false): RuleInputs =>
  ruleInputs(t, { criticalNow, p15m: 0.02, p1h: 0.2, p24h: 0.9, distance1h });

describe("Risk monitor: the change gate", function () {
  it("a standing risk is gated once there is history; a new low of the distance opens it; critical now is never gated", function () {
    const gate = new ChangeGate(DEFAULT_CHANGE_GATE);
    const level = (x: RuleInputs) => levelFromInputs(gate.filter(x), DEFAULT_RULES).level;
    // forecasts six to the lag (15 minutes by default: every 150 s)
    const lag = DEFAULT_CHANGE_GATE.lagSeconds;
    const step = lag / 6;
    // the first lag: no forecast older than it, nothing gated (no history is no evidence of calm)
    for (let t = 0; t < lag; t += step) expect(level(risky(t, 1.5)), `t=${t}`).to.equal(2);
    // the same distance for hours: the book's standing level, gated
    const T = 6 * 3_600;
    for (let t = lag; t <= T; t += step) expect(level(risky(t, 1.5)), `t=${t}`).to.equal(0);
    // equal to the reference's low is not below it
    expect(level(risky(T + step, 1.5))).to.equal(0);
    // the distance falls: open, and it stays open while the distance stays below the window's low
    expect(level(risky(T + 2 * step, 1.2))).to.equal(2);
    expect(level(risky(T + 3 * step, 1.3))).to.equal(2);
    expect(level(risky(T + 4 * step, 1.3))).to.equal(2);
    // once the lower distance has stood for the lag it is the standing level again
    expect(level(risky(T + 2 * step + lag, 1.3))).to.equal(0);
    // the book past its critical shock now: at once, whatever the history
    const now = levelFromInputs(gate.filter(risky(8 * 3_600, 1.5, true)), DEFAULT_RULES);
    expect(now.level).to.equal(3);
    expect(now.immediate).to.equal(true);
    // a critical shock where there was none (distance Infinity before) is news
    const fresh = new ChangeGate(DEFAULT_CHANGE_GATE);
    for (let t = 0; t <= 7_200; t += 600) fresh.filter(risky(t, Infinity));
    expect(levelFromInputs(fresh.filter(risky(7_800, 3)), DEFAULT_RULES).level).to.equal(2);
    // history older than the window is forgotten: a distance last lower 25 h ago does not gate
    const old = new ChangeGate(DEFAULT_CHANGE_GATE);
    old.filter(risky(0, 0.5));
    for (let t = 60_000; t <= 90_000; t += 3_600) old.filter(risky(t, 2));
    expect(levelFromInputs(old.filter(risky(90_000 + 3_600, 1.9)), DEFAULT_RULES).level).to.equal(2);
  });

  it("waves are gated on the wave's own distance, self-feeding waves on theirs", function () {
    const wave = (t: number, d: number, feedingD: number): RuleInputs => ({
      ...risky(t, Infinity),
      p15m: 0,
      p1h: 0,
      p24h: 0,
      wave15m: 0.5,
      wave1h: 0.5,
      feedingWave15m: 0.5,
      feedingWave1h: 0.5,
      waveDistance1h: d,
      feedingWaveDistance1h: feedingD,
    });
    const feeding = { ...DEFAULT_RULES, waveMustFeedItself: true };
    const series = [wave(0, 2, 2), wave(3_600, 2, 2), wave(7_200, 1, 2)];
    const any = levelSeries(series, DEFAULT_RULES, { gate: DEFAULT_CHANGE_GATE, persistence: null });
    const self = levelSeries(series, feeding, { gate: DEFAULT_CHANGE_GATE, persistence: null });
    expect(any.map((d) => d.level)).to.deep.equal([2, 0, 2]);
    expect(self.map((d) => d.level)).to.deep.equal([2, 0, 0]);
  });

  it("on a path of our own with the stress book: fewer calm alarms than the plain rules, never a higher level, a warning before the fall", function () {
    this.timeout(300_000);
    const { fallStart, inputs, calm, firstAt: firstIn } = ownPath();
    const plainV = ruleVariant("plain");
    const gateV = ruleVariant("gate");
    const plain = calmFigures("own", calm, plainV.rules, plainV);
    const gated = calmFigures("own", calm, gateV.rules, gateV);
    console.log(
      `      own path: calm at L>=1 plain ${(plain.shareAtLevel1 * 100).toFixed(1)}% -> gate ${(gated.shareAtLevel1 * 100).toFixed(1)}%; L2 entries /30 d ${plain.level2RaisesPer30Days.toFixed(0)} -> ${gated.level2RaisesPer30Days.toFixed(0)}`,
    );
    expect(plain.shareAtLevel1, "the stress book alarms on the plain rules (the problem)").to.be.greaterThan(0.5);
    expect(gated.shareAtLevel1).to.be.lessThan(plain.shareAtLevel1 / 4);
    const p = levelSeries(inputs, plainV.rules, plainV).map((d) => d.level);
    const g = levelSeries(inputs, gateV.rules, gateV).map((d) => d.level);
    g.forEach((l, i) => expect(l, `bar ${i}`).to.be.at.most(p[i]));
    // the first lag is not gated
    inputs.forEach((x, i) => {
      if (x.t - inputs[0].t < DEFAULT_CHANGE_GATE.lagSeconds) expect(g[i]).to.equal(p[i]);
    });
    // the deterioration: level >= 1 and level 2 before the fall's first bar
    const firstAt = (level: number) => firstIn(g, level);
    expect(firstAt(1), "level >= 1 during the deterioration").to.not.equal(undefined);
    expect(firstAt(2), "level 2 during the deterioration").to.not.equal(undefined);
    expect(firstAt(2)!).to.be.lessThan(fallStart);
  });

  it("the block bootstrap: hourly, of the asked length, only returns the calm bars hold, reproducible from its seed", function () {
    const { path } = calmThenFallPath({ seed: 7, calmDays: 1, precursorDrift: 0, fall: 0 });
    const calm = { ...path, points: path.points.slice(0, 97) };
    const a = bootstrapPath([calm], 3, 6, mulberry32(42));
    const b = bootstrapPath([calm], 3, 6, mulberry32(42));
    expect(a.points.map((p) => p.priceWad)).to.deep.equal(b.points.map((p) => p.priceWad));
    expect(a.points).to.have.length(3 * 24 + 1);
    a.points.forEach((p, i) => expect(p.t - a.points[0].t).to.equal(i * 3_600));
    // every hourly return is one of the source's hourly returns (to the cent's rounding)
    const hourly = calm.points.filter((_, i) => i % 4 === 0).map((p) => Number(p.priceWad) / 1e18);
    const returns = hourly.slice(1).map((p, i) => Math.log(p / hourly[i]));
    const out = a.points.map((p) => Number(p.priceWad) / 1e18);
    for (let i = 1; i < out.length; i++) {
      const r = Math.log(out[i] / out[i - 1]);
      expect(Math.min(...returns.map((x) => Math.abs(x - r))), `hour ${i}`).to.be.below(1e-5);
    }
    const c = bootstrapPath([calm], 3, 6, mulberry32(43));
    expect(c.points.map((p) => p.priceWad)).to.not.deep.equal(a.points.map((p) => p.priceWad));
  });
});

describe("Risk monitor service: the change gate by default", function () {
  /** The same synthetic book read every 10 minutes, one oracle round each: a standing risk. */
  class StandingSource {
    readonly scale = 10n ** 12n;
    private step = 0;
    private readonly base = syntheticState(60, 3);
    async read() {
      return { ...this.base, blockNumber: this.step + 1, timestamp: this.base.timestamp + BigInt(this.step * 600) };
    }
    async newRounds() {
      this.step += 1;
      return [];
    }
    referenceHistory() {
      const p0 = Number(this.base.markets[0].snapshot.price) / 1e18;
      return Array.from({ length: 200 }, (_, i) => ({
        t: Number(this.base.timestamp) - (200 - i) * 600,
        price: p0 * (1 + 0.01 * Math.sin(i / 3)),
      }));
    }
  }
  // thresholds any probability above 0 meets: the plain rules want a level whenever a wave or a critical shock exists
  const eager = { ...DEFAULT_RULES, level1P1h: 1e-12, level1P24h: 1e-12, level1WaveP1h: 1e-12 };

  it("a standing risk keeps its level without the gate and is gated after the gate's lag with it (the default)", async function () {
    const run = async (gate: null | undefined) => {
      const service = new MonitorService({
        source: new StandingSource(),
        logger: silentLogger(),
        dryRun: true,
        rules: eager,
        persistence: null,
        // this test is about the gate alone: every forecast's level at once (escalation is its own test)
        escalation: null,
        ...(gate === null ? { gate: null } : {}),
      });
      const levels: number[] = [];
      for (let i = 0; i < 12; i++) {
        await service.tick(i);
        levels.push(service.decision!.level);
      }
      return levels;
    };
    const plain = await run(null);
    const gated = await run(undefined);
    expect(
      plain.every((l) => l >= 1),
      `plain: ${plain}`,
    ).to.equal(true);
    // the forecasts before one of them is the lag old (15 minutes: those at 0 and 10 min) are not gated; from
    // then on the same distance is not a new low
    const open = Math.ceil(DEFAULT_CHANGE_GATE.lagSeconds / 600);
    expect(open).to.equal(2);
    expect(gated.slice(0, open)).to.deep.equal(plain.slice(0, open));
    expect(
      gated.slice(open).every((l) => l === 0),
      `gated: ${gated}`,
    ).to.equal(true);
  });
});
