/**
 * The probability of reaching a shock within the horizon (stats.ts `ProbabilityModel` `reach`;
 * docs/experiments.md, "Risk monitor", "The probability of reaching"): the running extreme of each
 * historic window, the reflection principle on the fitted laws, a recorded run recomputed from its probes.
 */
import { expect } from "chai";

// Floats are compared as |a - b| <= eps, not with closeTo: in the whole suite the Hardhat chai matchers read
// closeTo's arguments as bigints and throw on a fraction.

import { type ForecastProbe, inputsUnderModel, reached } from "../../scripts/monitor/reliability.js";
import type { RuleInputs } from "../../scripts/monitor/rules.js";
import {
  type ShockSample,
  YEAR_SECONDS,
  moveProbability,
  normalCdf,
  standardisedShocks,
  windowExtremes,
} from "../../scripts/monitor/stats.js";
import { normals } from "../../scripts/lib/random.js";

describe("Risk monitor: the probability of reaching a shock within the horizon", function () {
  it("a window's running extreme is the lowest (highest) of its partial sums, as a brute-force scan finds it", function () {
    const g = normals(3);
    const z = Array.from({ length: 257 }, () => g());
    for (const n of [1, 2, 7, 60, 257]) {
      for (const d of ["down", "up"] as const) {
        const fast = windowExtremes(z, n, d);
        expect(fast).to.have.length(z.length - n + 1);
        for (let i = 0; i + n <= z.length; i += 1) {
          let s = 0;
          let ext = d === "down" ? Infinity : -Infinity;
          for (let k = 0; k < n; k++) {
            s += z[i + k];
            ext = d === "down" ? Math.min(ext, s) : Math.max(ext, s);
          }
          expect(Math.abs(fast[i] - ext)).to.be.at.most(1e-9);
        }
      }
    }
    expect(windowExtremes(z, 300, "down")).to.deep.equal([]);
  });

  it("on a hand-built series: a choppy path reaches what it never ends beyond, a one-way path the same as its end", function () {
    // 15-minute horizon at 60 s steps: n = 15 shocks a window, the draw is a partial sum over sqrt(15)
    const choppy: ShockSample = { z: Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? -2 : 2)), stepSeconds: 60 };
    // distance 1 / sqrt(15) in horizon sigmas: a move whose log return is that many horizon sigmas
    const sigma = 0.5;
    const sigmaH = sigma * Math.sqrt(900 / YEAR_SECONDS);
    const move = 1 - Math.exp(-(1.5 / Math.sqrt(15)) * sigmaH); // 1.5 of the partial sum's units
    const end = moveProbability(move, "down", 900, sigma, choppy, 30, 0, "end");
    const reach = moveProbability(move, "down", 900, sigma, choppy, 30, 0, "reach");
    // windows (106) starting on a -2 (53 of them) go to -2 at once and end at -2 or 0 (n odd: -2); those
    // starting on +2 end at +2 and never go below 0
    expect(end.historicWindows).to.equal(106);
    expect(end.historic).to.equal(53 / 106);
    expect(reach.historic).to.equal(53 / 106);
    const deeper = 1 - Math.exp(-(2.5 / Math.sqrt(15)) * sigmaH); // beyond -2: never
    expect(moveProbability(deeper, "down", 900, sigma, choppy, 30, 0, "reach").historic).to.equal(0);
    // even n (an hour is 60 shocks at 60 s): every window ends at 0, half of them touch -2
    const hourMove = 1 - Math.exp(-(1.5 / Math.sqrt(60)) * sigma * Math.sqrt(3_600 / YEAR_SECONDS));
    expect(moveProbability(hourMove, "down", 3_600, sigma, choppy, 30, 0, "end").historic).to.equal(0);
    expect(moveProbability(hourMove, "down", 3_600, sigma, choppy, 30, 0, "reach").historic).to.equal(31 / 61);
    // a one-way fall: the running low is the end
    const fall: ShockSample = { z: Array.from({ length: 120 }, () => -0.5), stepSeconds: 60 };
    for (const m of [0.0005, 0.001, 0.002]) {
      const e = moveProbability(m, "down", 900, sigma, fall, 30, 0, "end");
      const r = moveProbability(m, "down", 900, sigma, fall, 30, 0, "reach");
      expect(r.historic).to.equal(e.historic);
      // nothing upward in a one-way fall
      expect(moveProbability(m, "up", 900, sigma, fall, 30, 0, "reach").historic).to.equal(0);
    }
  });

  it("the fitted laws take the reflection principle: the normal's first passage is 2 (1 - Phi(x / (sigma sqrt T)))", function () {
    const sample: ShockSample = { z: [], stepSeconds: 0 };
    for (const [move, sigma, h] of [
      [0.01, 0.8, 3_600],
      [0.05, 0.6, 900],
      [0.002, 1.2, 86_400],
    ] as const) {
      const r = moveProbability(move, "down", h, sigma, sample, 30, 0, "reach");
      const e = moveProbability(move, "down", h, sigma, sample, 30, 0, "end");
      const x = Math.abs(Math.log(1 - move)) / (sigma * Math.sqrt(h / YEAR_SECONDS));
      expect(Math.abs(r.normal - Math.min(1, 2 * (1 - normalCdf(x))))).to.be.at.most(1e-12);
      expect(Math.abs(r.studentT - Math.min(1, 2 * e.studentT))).to.be.at.most(1e-15);
      expect(r.model).to.equal("reach");
      expect(e.model).to.equal("end");
      expect(r.historic).to.equal(undefined);
      expect(r.probability).to.equal(r.studentT);
    }
    // a known value: a 1% fall within the hour at 80% a year is |ln 0.99| / (0.8 sqrt(1 / 8,760)) = 1.1759
    // horizon sigmas; 1 - Phi(1.1759) = 0.1198 (tables), reached within the hour 2 x 0.1198 = 23.97% of the time
    const known = moveProbability(0.01, "down", 3_600, 0.8, sample, 30, 0, "reach");
    expect(Math.abs(known.normal - 0.2397)).to.be.at.most(0.0005);
    // capped at 1 at the current price
    expect(moveProbability(0, "down", 3_600, 0.8, sample, 30, 0, "reach").studentT).to.equal(1);
  });

  it("on a Gaussian walk the historic reach matches the reflection principle with the discrete-step correction", function () {
    const g = normals(11);
    const z = Array.from({ length: 120_000 }, () => g());
    const sample: ShockSample = { z, stepSeconds: 60 };
    const sigma = 0.8;
    const sigmaH = sigma * Math.sqrt(3_600 / YEAR_SECONDS);
    for (const x of [0.5, 1, 1.5, 2]) {
      const move = 1 - Math.exp(-x * sigmaH);
      const r = moveProbability(move, "down", 3_600, sigma, sample, 30, 0, "reach");
      const e = moveProbability(move, "down", 3_600, sigma, sample, 30, 0, "end");
      // watched at 60 steps, not continuously: the barrier is effectively 0.5826 step-sigmas further
      // (Broadie-Glasserman-Kou), so the walk reaches it less often than the continuous 2 (1 - Phi(x))
      const discrete = 2 * (1 - normalCdf(x + 0.5826 / Math.sqrt(60)));
      expect(Math.abs(r.historic! - discrete)).to.be.at.most(0.02);
      expect(r.historic!).to.be.at.most(r.normal + 0.01);
      expect(Math.abs(e.historic! - (1 - normalCdf(x)))).to.be.at.most(0.015);
      expect(r.historic!).to.be.greaterThan(1.5 * e.historic!);
    }
  });

  it("the reach model predicts what a Gaussian walk's path then does (the reliability outcome), the end model less", function () {
    const g = normals(7);
    const step = 60;
    const sigma = 0.8;
    const s1 = sigma * Math.sqrt(step / YEAR_SECONDS);
    const path: { t: number; price: number }[] = [{ t: 0, price: 100 }];
    for (let i = 1; i < 60_000; i++) path.push({ t: i * step, price: path[i - 1].price * Math.exp(s1 * g()) });
    const sample = standardisedShocks(path.slice(0, 30_000));
    const move = 0.01;
    const reach = moveProbability(move, "down", 3_600, sigma, sample, 30, 0, "reach");
    const end = moveProbability(move, "down", 3_600, sigma, sample, 30, 0, "end");
    let hit = 0;
    let n = 0;
    for (let i = 30_000; i + 60 < path.length; i += 7) {
      n++;
      if (reached(path, i, move, "down", 3_600)) hit++;
    }
    const observed = hit / n;
    // 500 hours of history, 500 hours of outcomes (overlapping windows: a loose band)
    expect(Math.abs(reach.historic! - observed)).to.be.at.most(0.05);
    expect(Math.abs(reach.probability - observed)).to.be.lessThan(Math.abs(end.probability - observed));
  });

  it("a recorded run recomputed from its probes gives its inputs back under its own model, and the reach model's are larger", function () {
    const g = normals(5);
    const sigma = 0.7;
    const s1 = sigma * Math.sqrt(60 / YEAR_SECONDS);
    const probes: ForecastProbe[] = [];
    const inputs: RuleInputs[] = [];
    let price = 2_000;
    const blank = { critical: null, p15m: 0, p1h: 0, historic1h: null, studentT1h: 0, wave: null, w15m: 0, w1h: 0 };
    for (let i = 0; i < 200; i++) {
      price *= Math.exp(s1 * g());
      const t = 1_000 + i * 60;
      const history = probes.map((p) => ({ t: p.t, price: p.price })).concat([{ t, price }]);
      const sample = standardisedShocks(history);
      const critical = 0.004 + (i % 5) * 0.001;
      const wave = i % 3 === 0 ? null : 0.003;
      const at = (m: number, d: "down" | "up", h: number) => moveProbability(m, d, h, sigma, sample, 30, 0, "end");
      const c = [900, 3_600, 86_400].map((h) => at(critical, "down", h));
      const w = wave === null ? undefined : [900, 3_600].map((h) => at(wave, "up", h));
      probes.push({
        t,
        price,
        sigma,
        worst: "down",
        down: { ...blank, critical, p15m: c[0].probability, p1h: c[1].probability },
        up: { ...blank, wave, w15m: w?.[0].probability ?? 0, w1h: w?.[1].probability ?? 0 },
      });
      inputs.push({
        t,
        criticalNow: false,
        p15m: c[0].probability,
        p1h: c[1].probability,
        p24h: c[2].probability,
        distance1h: c[1].distance,
        wave15m: w?.[0].probability ?? 0,
        wave1h: w?.[1].probability ?? 0,
        feedingWave15m: 0,
        feedingWave1h: 0,
        waveDistance1h: w?.[1].distance ?? Infinity,
        feedingWaveDistance1h: Infinity,
      });
    }
    const same = inputsUnderModel(inputs, probes, "end");
    expect(same.check).to.equal(0);
    const reach = inputsUnderModel(inputs, probes, "reach");
    // a wrong history (a price moved) is caught
    const moved = probes.map((p, i) => (i === 100 ? { ...p, price: p.price * 1.001 } : p));
    expect(inputsUnderModel(inputs, moved, "end").check).to.be.greaterThan(0);
    let larger = 0;
    for (let i = 0; i < inputs.length; i++) {
      const a = inputs[i];
      const b = reach.inputs[i];
      expect(b.p1h).to.be.at.least(a.p1h);
      expect(b.p15m).to.be.at.least(a.p15m);
      expect(b.wave1h).to.be.at.least(a.wave1h);
      expect(b.distance1h).to.equal(a.distance1h);
      if (b.p1h > a.p1h) larger++;
    }
    expect(larger).to.be.greaterThan(150);
  });
});
