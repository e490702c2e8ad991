/**
 * The reliability table of the forecast's probabilities (reliability.ts; docs/experiments.md, "Risk
 * monitor", "Is the probability calibrated?"): whether a path reached a shock within a horizon, the bins,
 * the distinct windows, and the table on paths whose law is known.
 */
import { expect } from "chai";

// Floats are compared as |a - b| <= eps, not with closeTo: in the whole suite the Hardhat chai matchers read
// closeTo's arguments as bigints and throw on a fraction.

import {
  type DirectionProbe,
  type ForecastProbe,
  distinctWindows,
  inputsUnderModel,
  inputsWithMinHorizons,
  outcomes,
  probeWithMinHorizons,
  reached,
  reliability,
  summary,
} from "../../scripts/monitor/reliability.js";
import type { RuleInputs } from "../../scripts/monitor/rules.js";
import { YEAR_SECONDS } from "../../scripts/monitor/stats.js";
import { moveProbability, standardisedShocks } from "../../scripts/monitor/stats.js";
import { normals } from "../../scripts/lib/random.js";
import { downProbeSides, ruleInputs } from "../helpers/monitor.js";

const side = (o: Partial<DirectionProbe> = {}): DirectionProbe => ({
  critical: null,
  p15m: 0,
  p1h: 0,
  historic1h: null,
  studentT1h: 0,
  wave: null,
  w15m: 0,
  w1h: 0,
  ...o,
});

const probe = (t: number, price: number, down: Partial<DirectionProbe> = {}, up: Partial<DirectionProbe> = {}) =>
  ({ t, price, sigma: 0.5, worst: "down", down: side(down), up: side(up) }) as ForecastProbe;

describe("Risk monitor: the reliability of the forecast's probabilities", function () {
  it("a path reached a shock within the horizon, not after it, and a window the path does not cover is left out", function () {
    const path = [
      { t: 0, price: 100 },
      { t: 600, price: 99 },
      { t: 1200, price: 97.9 },
      { t: 1800, price: 103 },
      { t: 4000, price: 100 },
    ];
    expect(reached(path, 0, 0.02, "down", 900)).to.equal(false); // 97.9 comes at 1,200 s
    expect(reached(path, 0, 0.02, "down", 1200)).to.equal(true);
    expect(reached(path, 0, 0.02, "up", 3600)).to.equal(true); // 103 at 1,800 s
    expect(reached(path, 0, 0.05, "up", 3600)).to.equal(false);
    expect(reached(path, 3, 0.01, "down", 3600)).to.equal(undefined); // the path ends at 4,000 < 5,400
    expect(reached(path, 1, 0.01, "down", 600)).to.equal(true); // from 99: 98.01, and 97.9 is below
  });

  it("outcomes read each direction's own shock and horizon, and skip a direction with nothing critical", function () {
    const probes = [
      probe(0, 100, { critical: 0.02, p15m: 0.01, p1h: 0.1 }, { critical: 0.05, p15m: 0.001, p1h: 0.02 }),
      probe(600, 97, {}, {}),
      probe(1200, 101, {}, {}),
      probe(3600, 100, {}, {}),
      probe(7200, 100, {}, {}),
    ];
    const h1 = outcomes(probes, "critical", 3600);
    expect(h1).to.deep.equal([
      { t: 0, predicted: 0.1, hit: true },
      { t: 0, predicted: 0.02, hit: false },
    ]);
    expect(outcomes(probes, "critical", 900)).to.deep.equal([
      { t: 0, predicted: 0.01, hit: true },
      { t: 0, predicted: 0.001, hit: false },
    ]);
    expect(outcomes(probes, "critical", 3600, { worstOnly: true })).to.have.length(1);
    expect(outcomes(probes, "wave", 3600)).to.have.length(0);
    expect(outcomes(probes, "critical", 3600, { to: 0 })).to.have.length(0);
  });

  it("bins by predicted probability and counts overlapping windows once", function () {
    const xs = [
      { t: 0, predicted: 0.15, hit: true },
      { t: 60, predicted: 0.15, hit: true },
      { t: 120, predicted: 0.12, hit: false },
      { t: 4000, predicted: 0.18, hit: false },
      { t: 0, predicted: 0.0001, hit: false },
    ];
    const bins = reliability(xs, 3600);
    const b = bins.find((x) => x.lo === 0.1)!;
    expect(b.forecasts).to.equal(4);
    expect(Math.abs(b.meanPredicted - 0.15)).to.be.at.most(1e-12);
    expect(b.observed).to.equal(0.5);
    expect(b.episodes).to.equal(2); // 0-120 overlap; 4,000 is a window of its own
    expect(b.episodeHits).to.equal(1);
    expect(bins[0].forecasts).to.equal(1);
    const s = summary(xs);
    expect(s.n).to.equal(5);
    expect(s.observed).to.equal(0.4);
  });

  it("the non-overlapping windows at a prediction of at least 5%, and the chance a calibrated forecast shows none come true", function () {
    const xs = [
      { t: 7200, predicted: 0.3, hit: false },
      { t: 0, predicted: 0.01, hit: true }, // below 5%: not a window
      { t: 600, predicted: 0.1, hit: false },
      { t: 1200, predicted: 0.5, hit: true }, // inside the window from 600
      { t: 4300, predicted: 0.2, hit: false },
    ];
    const d = distinctWindows(xs, 3600, 0.05);
    expect(d.windows.map((w) => w.t)).to.deep.equal([600, 4300]); // 7,200 is within the hour from 4,300
    expect(d.hits).to.equal(0);
    expect(Math.abs(d.noHitIfCalibrated - 0.9 * 0.8)).to.be.at.most(1e-12);
    expect(distinctWindows(xs, 3600, 0.6).windows).to.deep.equal([]);
  });

  it("on a Gaussian walk the end-of-horizon probability matches the end, and the path crosses more often", function () {
    // a walk of one step a minute at 80% a year; the forecast's model with the true volatility and a
    // history of the walk's own shocks
    const g = normals(7);
    const step = 60;
    const sigma = 0.8;
    const s1 = sigma * Math.sqrt(step / (365 * 24 * 3600));
    const path: { t: number; price: number }[] = [{ t: 0, price: 100 }];
    for (let i = 1; i < 6000; i++) path.push({ t: i * step, price: path[i - 1].price * Math.exp(s1 * g()) });
    const sample = standardisedShocks(path.slice(0, 2000));
    const move = 0.01;
    const p = moveProbability(move, "down", 3600, sigma, sample);
    let ends = 0;
    let crossed = 0;
    let n = 0;
    for (let i = 2000; i + 60 < path.length; i += 5) {
      n++;
      if (path[i + 60].price <= path[i].price * (1 - move)) ends++;
      if (reached(path, i, move, "down", 3600)) crossed++;
    }
    // the normal endpoint probability is what the walk's ends bear out (a loose band: windows overlap)
    expect(Math.abs(ends / n - p.normal)).to.be.at.most(0.06);
    // reaching the level at any step within the hour is more frequent than being beyond it at the end
    expect(crossed / n).to.be.greaterThan((1.4 * ends) / n);
  });

  it("the candidate drops a historic part with too few non-overlapping windows, and the worst direction follows", function () {
    // 300 shocks a minute apart: 20 windows of 15 min, 5 of 1 h
    const p: ForecastProbe = {
      t: 0,
      price: 100,
      sigma: 0.6,
      worst: "down",
      shocks: 300,
      stepSeconds: 60,
      down: side({
        critical: 0.008,
        p15m: 0.03,
        p1h: 0.25,
        wave: 0.008,
        w15m: 0.03,
        w1h: 0.25,
        parts: [
          [0.03, 0.01],
          [0.25, 0.08],
          [0.03, 0.01],
          [0.25, 0.08],
        ],
      }),
      up: side({
        critical: 0.01,
        p15m: 0.02,
        p1h: 0.12,
        parts: [
          [null, 0.02],
          [null, 0.12],
          [null, 0],
          [null, 0],
        ],
      }),
    };
    const same = probeWithMinHorizons(p, 0);
    expect(same.down.p1h).to.equal(0.25);
    expect(same.worst).to.equal("down");
    const strict = probeWithMinHorizons(p, 30);
    expect(strict.down.p15m).to.equal(0.01);
    expect(strict.down.p1h).to.equal(0.08);
    expect(strict.down.w1h).to.equal(0.08);
    expect(strict.down.historic1h).to.equal(null);
    expect(strict.up.p1h).to.equal(0.12);
    expect(strict.worst).to.equal("up");
    // 20 windows of 15 min count at 20, 5 of an hour do not
    const mid = probeWithMinHorizons(p, 20);
    expect(mid.down.p15m).to.equal(0.03);
    expect(mid.down.p1h).to.equal(0.08);

    const recorded: RuleInputs = {
      t: 0,
      criticalNow: false,
      p15m: 0.03,
      p1h: 0.25,
      p24h: 0.4,
      distance1h: Math.log(1 / (1 - 0.008)) / (0.6 * Math.sqrt(3_600 / YEAR_SECONDS)),
      wave15m: 0.03,
      wave1h: 0.25,
      feedingWave15m: 0.03,
      feedingWave1h: 0.25,
      waveDistance1h: 1.3,
      feedingWaveDistance1h: 1.3,
      price: 100,
      fresh: true,
    };
    const [kept] = inputsWithMinHorizons([recorded], [p], 0);
    expect(kept.p1h).to.equal(recorded.p1h);
    expect(Math.abs(kept.distance1h - recorded.distance1h)).to.be.at.most(1e-12);
    const [x] = inputsWithMinHorizons([recorded], [p], 30);
    expect(x.p1h).to.equal(0.12);
    expect(x.p15m).to.equal(0.02);
    expect(Math.abs(x.distance1h - Math.log(1.01) / (0.6 * Math.sqrt(3_600 / YEAR_SECONDS)))).to.be.at.most(1e-12);
    expect(x.wave1h).to.equal(0.08);
    expect(x.p24h).to.equal(0.4);
    expect(() => inputsWithMinHorizons([recorded], [], 30)).to.throw("one probe per input");
  });

  it("moveProbability leaves out the historic part below minHorizons non-overlapping windows", function () {
    const g = normals(3);
    const path: { t: number; price: number }[] = [{ t: 0, price: 100 }];
    for (let i = 1; i < 400; i++) path.push({ t: i * 60, price: path[i - 1].price * Math.exp(0.002 * g()) });
    const sample = standardisedShocks(path);
    const loose = moveProbability(0.01, "down", 3600, 0.6, sample);
    const strict = moveProbability(0.01, "down", 3600, 0.6, sample, 30, 30);
    expect(loose.historic).to.not.equal(undefined);
    expect(strict.historic).to.equal(undefined);
    expect(strict.probability).to.equal(strict.studentT);
    expect(moveProbability(0.01, "down", 900, 0.6, sample, 30, 26).historic).to.not.equal(undefined); // 399 / 15 = 26
  });
});

describe("Risk monitor: a run's probabilities recomputed on the reference market's history", function () {
  it("inputsUnderModel follows each probe's reference among every feed's rounds, and gives the recorded figures back", function () {
    // two feeds with a round a minute, the second's 30 s later and three times as volatile; the reference
    // (the most open interest) is the first market for 80 forecasts, then the second
    const g = normals(21);
    const feeds = new Map<number, { t: number; price: number }[]>([
      [1, [{ t: 0, price: 20_000 }]],
      [2, [{ t: 30, price: 1_500 }]],
    ]);
    for (let i = 1; i < 160; i++) {
      const a = feeds.get(1)!;
      const b = feeds.get(2)!;
      a.push({ t: 60 * i, price: a[i - 1].price * Math.exp(0.0005 * g()) });
      b.push({ t: 60 * i + 30, price: b[i - 1].price * Math.exp(0.0015 * g()) });
    }
    const sigma = 0.001 * Math.sqrt(365 * 24 * 60);
    const seen = new Map<number, { t: number; price: number }[]>([
      [1, []],
      [2, []],
    ]);
    const probes: ForecastProbe[] = [];
    const inputs: RuleInputs[] = [];
    for (let i = 0; i < 160; i++) {
      const t = 60 * i + 45;
      const rounds: Record<number, { t: number; price: number }> = {};
      for (const [id, points] of feeds) {
        rounds[id] = points[i];
        seen.get(id)!.push(points[i]);
      }
      const reference = i < 80 ? 1 : 2;
      const { down: dp, up: none, p15, p1h, p24 } = downProbeSides(seen.get(reference)!, 0.01, sigma);
      const price = feeds.get(1)![i].price;
      const round = rounds[reference];
      probes.push({ t, price, sigma, worst: "down", round, reference, rounds, down: dp, up: none });
      inputs.push(
        ruleInputs(t, {
          p15m: p15.probability,
          p1h: p1h.probability,
          p24h: p24.probability,
          distance1h: p1h.distance,
          price,
          fresh: true,
        }),
      );
    }
    const same = inputsUnderModel(inputs, probes, "end");
    expect(same.check, "the recorded figures come back").to.be.at.most(1e-12);
    // read as an older report (one history, each probe's `round` appended), the switch splices the first feed's
    // rounds into the second's: the recomputed figures differ once the historic part counts
    const legacy = probes.map(({ reference: _r, rounds: _x, ...p }) => p);
    const spliced = inputsUnderModel(inputs, legacy, "end");
    expect(spliced.check, "one history through the switch is not the reference's").to.be.greaterThan(1e-6);
    expect(
      Math.max(...spliced.inputs.slice(0, 80).map((x, i) => Math.abs(x.p1h - inputs[i].p1h))),
      "before the switch the two readings agree",
    ).to.be.at.most(1e-12);
  });
});
