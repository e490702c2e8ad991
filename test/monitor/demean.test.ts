/**
 * The historic part on demeaned shocks (stats.ts `demeaned`, forecast.ts `historicDemean`; docs/experiments.md,
 * "Risk monitor", "Why the USDC depeg's calm alarms"): the history's mean shock is removed before its windows
 * are summed, so a few hours' drift is not replayed into the next hour; the Student-t part does not move.
 */
import { expect } from "chai";

// Floats are compared as |a - b| <= eps, not with closeTo: in the whole suite the Hardhat chai matchers read
// closeTo's arguments as bigints and throw on a fraction.

import { normals } from "../../scripts/lib/random.js";
import { type ForecastProbe, inputsUnderModel } from "../../scripts/monitor/reliability.js";
import type { RuleInputs } from "../../scripts/monitor/rules.js";
import { demeaned, moveProbability, standardisedShocks } from "../../scripts/monitor/stats.js";
import { downProbeSides, ruleInputs } from "../helpers/monitor.js";

/** A one-minute price path with a drift of `drift` (log, per minute) and noise of `vol` per minute. */
function path(n: number, drift: number, vol: number, seed: number): { t: number; price: number }[] {
  const g = normals(seed);
  const out = [{ t: 0, price: 20_000 }];
  for (let i = 1; i < n; i++) out.push({ t: 60 * i, price: out[i - 1].price * Math.exp(drift + vol * g()) });
  return out;
}

describe("Risk monitor: the historic part on demeaned shocks", function () {
  it("demeaned: the same shocks less their mean (mean 0, same spread and step); an empty sample stays empty", function () {
    const s = standardisedShocks(path(300, -0.0001, 0.0008, 5));
    const d = demeaned(s);
    const mean = (z: number[]) => z.reduce((a, b) => a + b, 0) / z.length;
    expect(d.z).to.have.length(s.z.length);
    expect(d.stepSeconds).to.equal(s.stepSeconds);
    expect(Math.abs(mean(d.z))).to.be.at.most(1e-12);
    const m = mean(s.z);
    expect(Math.abs(m), "the drifting path's shocks have a mean").to.be.greaterThan(0.02);
    for (let i = 0; i < s.z.length; i++) expect(Math.abs(d.z[i] - (s.z[i] - m))).to.be.at.most(1e-12);
    expect(demeaned({ z: [], stepSeconds: 0 })).to.deep.equal({ z: [], stepSeconds: 0 });
  });

  it("on a falling history the demeaned historic part gives a smaller fall probability and a larger rise one; the Student-t does not move", function () {
    const s = standardisedShocks(path(300, -0.0001, 0.0008, 7));
    const d = demeaned(s);
    const sigma = 0.0008 * Math.sqrt(365 * 24 * 60);
    const at = (dir: "down" | "up", x: typeof s) => moveProbability(0.008, dir, 3_600, sigma, x);
    const [downRaw, downDm, upRaw, upDm] = [at("down", s), at("down", d), at("up", s), at("up", d)];
    expect(downRaw.historic).to.not.equal(undefined);
    expect(downDm.historic!).to.be.lessThan(downRaw.historic!);
    expect(upDm.historic!).to.be.greaterThan(upRaw.historic!);
    // the fitted law reads the shocks' centred moments only: removing the mean leaves it as it was
    expect(Math.abs(downDm.nu - downRaw.nu)).to.be.at.most(1e-9);
    expect(Math.abs(downDm.studentT - downRaw.studentT)).to.be.at.most(1e-12);
    // a history without drift is (nearly) unchanged
    const flat = standardisedShocks(path(300, 0, 0.0008, 7));
    const mean = flat.z.reduce((a, b) => a + b, 0) / flat.z.length;
    const gap = Math.abs(at("down", demeaned(flat)).historic! - at("down", flat).historic!);
    expect(gap).to.be.at.most(Math.abs(mean) * 2 + 0.05);
  });

  it("inputsUnderModel with demean recomputes a run from its probes on the demeaned history, and without it gives the recorded figures back", function () {
    const prices = path(200, -0.00012, 0.0008, 11);
    const sigma = 0.0008 * Math.sqrt(365 * 24 * 60);
    const probes: ForecastProbe[] = [];
    const inputs: RuleInputs[] = [];
    const history: { t: number; price: number }[] = [];
    for (const p of prices) {
      history.push(p);
      const { down: dp, up: none, p15, p1h, p24 } = downProbeSides(history, 0.008, sigma);
      probes.push({ t: p.t, price: p.price, sigma, worst: "down", round: p, down: dp, up: none });
      inputs.push({
        ...ruleInputs(p.t, { p15m: p15.probability, p1h: p1h.probability, p24h: p24.probability }),
        distance1h: p1h.distance,
        price: p.price,
        fresh: true,
      } as RuleInputs);
    }
    const same = inputsUnderModel(inputs, probes, "end");
    expect(same.check).to.be.at.most(1e-12);
    const dm = inputsUnderModel(inputs, probes, "end", true);
    const last = dm.inputs.length - 1;
    expect(dm.inputs[last].p1h).to.be.lessThan(inputs[last].p1h);
    const expected = moveProbability(0.008, "down", 3_600, sigma, demeaned(standardisedShocks(prices)));
    expect(Math.abs(dm.inputs[last].p1h - expected.probability)).to.be.at.most(1e-12);
  });
});
