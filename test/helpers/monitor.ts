/**
 * The risk-monitor tests' shared set-up (test/monitor): hand-made rule inputs, the backtests' rule
 * variants by name, and the path of our own (a seeded calm walk, a deterioration, a fall) read by the
 * replay's stress book.
 */
import { calmInputs, calmThenFallPath } from "../../scripts/monitor/calmHistory.js";
import type { ForecastProbe } from "../../scripts/monitor/reliability.js";
import { type LevelDecision, type RuleInputs, RULE_VARIANTS } from "../../scripts/monitor/rules.js";
import { moveProbability, standardisedShocks } from "../../scripts/monitor/stats.js";

/**
 * Rule inputs at time `t` with no probability, no wave and no finite distance (level 0, nothing for the
 * gate to compare), with `set` in place of any of them.
 */
export function ruleInputs(t: number, set: Partial<Omit<RuleInputs, "t">> = {}): RuleInputs {
  return {
    t,
    criticalNow: false,
    p15m: 0,
    p1h: 0,
    p24h: 0,
    distance1h: Infinity,
    wave15m: 0,
    wave1h: 0,
    feedingWave15m: 0,
    feedingWave1h: 0,
    waveDistance1h: Infinity,
    feedingWaveDistance1h: Infinity,
    ...set,
  };
}

/** A decision of the rules wanting `level`, with no probability and no wave, and `set` in place of any field. */
export function decision(level: number, set: Partial<Omit<LevelDecision, "level">> = {}): LevelDecision {
  return { level, reason: `wanted ${level}`, p15m: 0, p1h: 0, p24h: 0, wave15m: 0, wave1h: 0, ...set };
}

/** The backtests' rule variant named `name` (rules.ts RULE_VARIANTS); throws if there is none. */
export function ruleVariant(name: string): (typeof RULE_VARIANTS)[number] {
  const v = RULE_VARIANTS.find((x) => x.name === name);
  if (v === undefined) throw new Error(`no rule variant ${name}`);
  return v;
}

/**
 * The path of our own (calmThenFallPath, seed 1,234: not designed on any event, not used by the
 * calibration), its inputs as the replay's stress book reads them, and those of its calm part (before
 * the deterioration); `moveBarSeconds`: the deterioration and the fall in bars of that length.
 */
export function ownPath(moveBarSeconds?: number) {
  const { path, fallStart, precursorStart } = calmThenFallPath({ seed: 1_234, moveBarSeconds });
  const inputs = calmInputs(path, "replay");
  const calm = inputs.filter((x) => x.t < precursorStart);
  /** The time of the first bar from the deterioration to the fall whose level in `levels` is at least `level`. */
  const firstAt = (levels: number[], level: number) =>
    inputs.find((x, i) => x.t >= precursorStart && x.t <= fallStart && levels[i] >= level)?.t;
  return { path, fallStart, precursorStart, inputs, calm, firstAt };
}

/**
 * A probe's two sides for a critical shock `critical` down, on the price history `history` at `sigma` (the
 * historic and Student-t parts as the forecast computes them; the up side empty), and the three horizons'
 * probabilities (15 min, 1 h, 24 h) they come from.
 */
export function downProbeSides(history: readonly { t: number; price: number }[], critical: number, sigma: number) {
  const shocks = standardisedShocks([...history]);
  const at = (h: number) => moveProbability(critical, "down", h, sigma, shocks);
  const [p15, p1h, p24] = [at(900), at(3_600), at(86_400)];
  const down: ForecastProbe["down"] = {
    critical,
    p15m: p15.probability,
    p1h: p1h.probability,
    historic1h: p1h.historic ?? null,
    studentT1h: p1h.studentT,
    wave: null,
    w15m: 0,
    w1h: 0,
  };
  const up: ForecastProbe["up"] = { ...down, critical: null, p15m: 0, p1h: 0, historic1h: null, studentT1h: 0 };
  return { down, up, p15, p1h, p24 };
}
