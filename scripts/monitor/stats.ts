/**
 * How likely a move is within a horizon: filtered historical simulation cross-checked with a
 * fat-tailed fit. Floating point throughout: these are probabilities, not money.
 *
 * - History: the oracle's past prices. Each log return is divided by the square root of its time
 *   step (a per-sqrt-second return) and standardised by the EWMA volatility before it (lambda 0.94,
 *   as RiskMetrics), so calm and wild stretches become one sample of shocks z.
 * - Historic: the horizon spans n steps; every run of n consecutive z's, summed and divided by
 *   sqrt(n), is one draw of a standardised horizon return (volatility clustering inside a window is
 *   kept). Rescaled by the oracle's current volatility over the horizon, the share of draws beyond
 *   the move is the probability. Needs at least `minWindows` windows (and, when asked, `minHorizons`
 *   non-overlapping ones); otherwise it is not reported.
 * - Fat-tailed fit: a Student-t with unit variance whose degrees of freedom come from the sample's
 *   excess kurtosis (nu = 4 + 6 / kurtosis, within [2.5, 100]); with no history, nu = 4 is assumed.
 * - The probability the monitor acts on is the larger of the two (a risk monitor errs toward warning),
 *   and both are reported, with the normal for comparison.
 * - Two readings of "the probability of the move within the horizon" (`ProbabilityModel`): `end`, the price
 *   is past the move at the horizon's end; `reach`, the price touches the move at some time within the
 *   horizon (first passage, what the issue asks for). For `reach` the historic part takes each window's
 *   running extreme (the lowest, or highest, of its partial sums) instead of its sum, and the fitted laws
 *   take the reflection principle: P(reach) = min(1, 2 P(end)), exact for Brownian motion watched
 *   continuously and, by Levy's inequality, an upper bound for any walk with symmetric independent steps
 *   watched at its steps (docs/experiments.md, "Risk monitor", "The probability of reaching").
 */

export const YEAR_SECONDS = 365 * 24 * 3600;

export type PricePoint = { t: number; price: number };

export type ShockSample = { z: number[]; stepSeconds: number };

/** Standardised shocks from a price history (ascending time); empty when fewer than 3 prices. */
export function standardisedShocks(history: readonly PricePoint[], lambda = 0.94): ShockSample {
  const v: number[] = [];
  const dts: number[] = [];
  for (let i = 1; i < history.length; i++) {
    const dt = history[i].t - history[i - 1].t;
    if (!(dt > 0) || !(history[i].price > 0) || !(history[i - 1].price > 0)) continue;
    v.push(Math.log(history[i].price / history[i - 1].price) / Math.sqrt(dt));
    dts.push(dt);
  }
  if (v.length < 2) return { z: [], stepSeconds: 0 };
  const seed = Math.min(v.length, 20);
  let variance = v.slice(0, seed).reduce((s, x) => s + x * x, 0) / seed;
  const z: number[] = [];
  for (const x of v) {
    if (variance > 0) z.push(x / Math.sqrt(variance));
    variance = lambda * variance + (1 - lambda) * x * x;
  }
  dts.sort((a, b) => a - b);
  return { z, stepSeconds: dts[dts.length >> 1] };
}

/**
 * The sample with its mean shock removed (`ForecastSettings.historicDemean`): the historic part then resamples
 * the shocks' shape (tails, clustering inside a window) without replaying the history's average direction, a
 * drift that a few hours of history estimate no better than its own size (docs/experiments.md, "Risk monitor",
 * "Why the USDC depeg's calm alarms"). An empty sample is returned as it is.
 */
export function demeaned(sample: ShockSample): ShockSample {
  if (sample.z.length === 0) return sample;
  const mean = sample.z.reduce((s, x) => s + x, 0) / sample.z.length;
  return { z: sample.z.map((x) => x - mean), stepSeconds: sample.stepSeconds };
}

/** Student-t degrees of freedom from the excess kurtosis of a sample (method of moments). */
export function fitDegreesOfFreedom(z: readonly number[]): number {
  if (z.length < 8) return 4;
  const n = z.length;
  const mean = z.reduce((s, x) => s + x, 0) / n;
  let m2 = 0;
  let m4 = 0;
  for (const x of z) {
    const d = (x - mean) ** 2;
    m2 += d;
    m4 += d * d;
  }
  m2 /= n;
  m4 /= n;
  const excess = m4 / (m2 * m2) - 3;
  if (!(excess > 0.06)) return 100;
  return Math.min(100, Math.max(2.5, 4 + 6 / excess));
}

/** P(T <= t) for a Student-t with nu degrees of freedom. */
export function studentTCdf(t: number, nu: number): number {
  const x = nu / (nu + t * t);
  const tail = 0.5 * regularizedBeta(x, nu / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** P(Z <= z) for a standard normal. */
export function normalCdf(z: number): number {
  return 0.5 * (1 + erf(z / Math.SQRT2));
}

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse in the tails; use the complementary series via the
  // incomplete gamma function: erf(x) = sign(x) * P(1/2, x^2).
  const s = x < 0 ? -1 : 1;
  return s * regularizedGammaP(0.5, x * x);
}

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9)
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

function regularizedGammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
  }
  // continued fraction for Q, Lentz's method
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return 1 - Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** I_x(a, b), the regularized incomplete beta function (continued fraction, Lentz's method). */
export function regularizedBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - regularizedBeta(1 - x, b, a);
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < 1e-300) d = 1e-300;
  d = 1 / d;
  let f = d;
  for (let m = 1; m < 500; m++) {
    const m2 = 2 * m;
    let num = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = 1 + num / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    f *= d * c;
    num = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = 1 + num / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    f *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return (front * f) / a;
}

/** `end`: past the move at the horizon's end; `reach`: touching it at some time within the horizon */
export type ProbabilityModel = "end" | "reach";
export const PROBABILITY_MODELS: readonly ProbabilityModel[] = ["end", "reach"];

/**
 * Per window of n shocks, the running extreme of its path: the lowest (`down`) or highest partial sum
 * z_i + ... + z_(i+k-1), k = 1..n, of each window i = 0..N-n. Prefix sums and a monotone queue: O(N).
 */
export function windowExtremes(z: readonly number[], n: number, direction: "down" | "up"): number[] {
  const N = z.length;
  if (n < 1 || N < n) return [];
  const prefix = new Float64Array(N + 1);
  for (let k = 0; k < N; k++) prefix[k + 1] = prefix[k] + z[k];
  // a window i reads prefix[i+1..i+n] - prefix[i]; the queue holds candidate indices of the extreme
  const better = direction === "down" ? (a: number, b: number) => a <= b : (a: number, b: number) => a >= b;
  const queue = new Int32Array(N + 1);
  let head = 0;
  let tail = 0;
  const out: number[] = [];
  for (let j = 1; j <= N; j++) {
    while (tail > head && better(prefix[j], prefix[queue[tail - 1]])) tail--;
    queue[tail++] = j;
    const i = j - n;
    if (i < 0) continue;
    while (queue[head] <= i) head++;
    out.push(prefix[queue[head]] - prefix[i]);
  }
  return out;
}

export type MoveProbability = {
  horizonSeconds: number;
  /** what the probabilities below are of (`ProbabilityModel`) */
  model: ProbabilityModel;
  /** the move as a fraction of the price (positive), and its log return (signed) */
  move: number;
  logReturn: number;
  /** the oracle's volatility over the horizon (annualised sigma * sqrt(horizon / year)) */
  sigmaHorizon: number;
  /** |log return| / sigmaHorizon */
  distance: number;
  historic: number | undefined;
  historicWindows: number;
  studentT: number;
  nu: number;
  normal: number;
  /** max(historic, studentT) */
  probability: number;
};

/**
 * Probability that the price moves by at least `move` (a fraction, in `direction`) within the
 * horizon, at the oracle's current annualised volatility `sigmaAnnual`.
 */
export function moveProbability(
  move: number,
  direction: "down" | "up",
  horizonSeconds: number,
  sigmaAnnual: number,
  sample: ShockSample,
  minWindows = 30,
  /**
   * and at least this many non-overlapping windows (the history's shocks over the horizon's steps): the
   * overlapping windows of a few hours' history are a handful of independent draws (0: not asked, the
   * default; docs/experiments.md, "Is the probability calibrated?")
   */
  minHorizons = 0,
  model: ProbabilityModel = "end",
): MoveProbability {
  const logReturn = direction === "down" ? Math.log(Math.max(1e-12, 1 - move)) : Math.log(1 + move);
  const sigmaHorizon = sigmaAnnual * Math.sqrt(horizonSeconds / YEAR_SECONDS);
  const distance = sigmaHorizon > 0 ? Math.abs(logReturn) / sigmaHorizon : Infinity;
  const nu = fitDegreesOfFreedom(sample.z);
  // unit-variance Student-t: T * sqrt((nu - 2) / nu)
  const tScale = Math.sqrt((nu - 2) / nu);
  // reflection: a first passage is twice the end's tail (at most 1)
  const reflect = (p: number) => (model === "reach" ? Math.min(1, 2 * p) : p);
  const studentT = distance === Infinity ? 0 : reflect(studentTCdf(-distance / tScale, nu));
  const normal = distance === Infinity ? 0 : reflect(normalCdf(-distance));
  let historic: number | undefined;
  let windows = 0;
  if (sample.z.length > 0 && sample.stepSeconds > 0) {
    const n = Math.max(1, Math.round(horizonSeconds / sample.stepSeconds));
    windows = sample.z.length - n + 1;
    if (windows >= minWindows && Math.floor(sample.z.length / n) >= minHorizons && model === "reach") {
      const root = Math.sqrt(n);
      let beyond = 0;
      for (const extreme of windowExtremes(sample.z, n, direction)) {
        const draw = extreme / root;
        if (direction === "down" ? draw <= -distance : draw >= distance) beyond++;
      }
      historic = beyond / windows;
    } else if (windows >= minWindows && Math.floor(sample.z.length / n) >= minHorizons) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += sample.z[i];
      let beyond = 0;
      const root = Math.sqrt(n);
      for (let i = 0; ; i++) {
        const draw = sum / root;
        if (direction === "down" ? draw <= -distance : draw >= distance) beyond++;
        if (i + n >= sample.z.length) break;
        sum += sample.z[i + n] - sample.z[i];
      }
      historic = beyond / windows;
    } else {
      windows = Math.max(0, windows);
    }
  }
  return {
    horizonSeconds,
    model,
    move,
    logReturn,
    sigmaHorizon,
    distance,
    historic,
    historicWindows: windows,
    studentT,
    nu,
    normal,
    probability: Math.max(historic ?? 0, studentT),
  };
}
