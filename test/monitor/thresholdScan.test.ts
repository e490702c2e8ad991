/**
 * The thresholds scaled together (scripts/monitor/thresholdScan.ts; docs/experiments.md, "The thresholds scaled
 * together"): every probability threshold of the default rules times k, capped at 1, read by the same
 * `variantFigures` the candidate tables use.
 */
import { expect } from "chai";

import {
  DEFAULT_ESCALATION,
  DEFAULT_RULES,
  PROBABILITY_THRESHOLDS,
  REACH_RULES,
  rulesSchema,
  scaledRules,
} from "../../scripts/monitor/rules.js";
import { variantFigures } from "../../scripts/monitor/variantTable.js";
import { ruleInputs } from "../helpers/monitor.js";

describe("Risk monitor: the thresholds scaled together (rules.ts scaledRules)", function () {
  it("x1 is the default rules; x2 doubles every probability threshold; none passes 1; the rules stay valid", function () {
    expect(scaledRules(1)).to.deep.equal(DEFAULT_RULES);
    const two = scaledRules(2);
    for (const key of PROBABILITY_THRESHOLDS) expect(two[key]).to.equal(2 * DEFAULT_RULES[key]);
    // the reach model's rules are the default thresholds doubled (the thirteenth round), the options as the defaults'
    for (const key of PROBABILITY_THRESHOLDS) expect(REACH_RULES[key]).to.equal(2 * DEFAULT_RULES[key]);
    expect(REACH_RULES.waveMustFeedItself).to.equal(DEFAULT_RULES.waveMustFeedItself);
    // the options that are not thresholds are left alone
    expect(two.waveMustFeedItself).to.equal(DEFAULT_RULES.waveMustFeedItself);
    const big = scaledRules(1_000);
    for (const key of PROBABILITY_THRESHOLDS) expect(big[key]).to.equal(1);
    // the schema's orderings (level2P1h >= level1P1h, level3P15m >= level2P15m) survive any common scale
    for (const k of [0.5, 1, 1.5, 3, 50, 1_000]) expect(() => rulesSchema.parse(scaledRules(k))).not.to.throw();
    expect(() => scaledRules(0)).to.throw(/positive/);
    expect(() => scaledRules(Number.NaN)).to.throw(/positive/);
  });

  it("an alarm at P(wave within 1 h) 15% holds level 1 at x1 and is gone at x2, calm and lead together", function () {
    // four calm hours, a minute a forecast; from minute 60 to 120 the wave's P(1 h) is 15% at a distance
    // that keeps falling (so the change gate and the fast path let it through); the wave at minute 240
    const t0 = 1_700_000_000;
    const xs = Array.from({ length: 240 }, (_, i) =>
      i >= 60 && i < 120
        ? ruleInputs(t0 + i * 60, { wave1h: 0.15, waveDistance1h: 1.5 - (i - 60) * 0.001 })
        : ruleInputs(t0 + i * 60),
    );
    const waveStart = t0 + 240 * 60;
    const at1 = variantFigures(xs, waveStart, scaledRules(1), DEFAULT_ESCALATION);
    const at2 = variantFigures(xs, waveStart, scaledRules(2), DEFAULT_ESCALATION);
    expect(at1.calmSeconds).to.equal(180 * 60);
    expect(at1.calmShare!).to.be.above(0.3);
    expect(at1.lead1).to.equal((240 - 61) * 60);
    // 15% is below 2 x 10%: no level at all, so no calm alarm and no lead
    expect(at2.calmShare).to.equal(0);
    expect(at2.lead1).to.equal(undefined);
  });
});
