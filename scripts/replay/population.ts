/**
 * The seeded population of leveraged traders opened before the crash. Pure: no chain here. The same
 * seed and spec give the same traders (side, leverage, margin, market, time of opening), whatever
 * the preset, so baseline and protected replays start from the same intentions; the size of each
 * position is fixed at its opening from the price then in force (see engine.ts).
 *
 * Money is bigint: margins are whole collateral units (6-decimal USDC), leverage a WAD rounded to
 * 0.01x. The PRNG (mulberry32) is only used to draw those numbers, never for money arithmetic.
 */
import { readFileSync } from "node:fs";

import { z } from "zod";

import { WAD } from "./decimal.js";
import { mulberry32 } from "../lib/random.js";

export const USDC_UNIT = 10n ** 6n;

export const PopulationSchema = z
  .object({
    /** PRNG seed, written into the output */
    seed: z.number().int().nonnegative().max(0xffffffff),
    accounts: z.number().int().min(1).max(5000),
    /** probability that a trader is long */
    longShare: z.number().min(0).max(1),
    /** wanted leverage, drawn log-uniform in [min, max]; the protocol's initial margin may clamp it */
    leverage: z
      .object({ min: z.number().min(1), max: z.number().max(200) })
      .strict()
      .refine((l) => l.min <= l.max, "leverage.min must not exceed leverage.max"),
    /** margin each trader deposits, in USD (whole collateral units), drawn log-uniform in [min, max] */
    marginUsd: z
      .object({ min: z.number().int().min(1), max: z.number().int().min(1) })
      .strict()
      .refine((m) => m.min <= m.max, "marginUsd.min must not exceed marginUsd.max"),
    /** share of the replay's duration, from its start, during which the traders open (uniformly) */
    openWindow: z.number().gt(0).max(1),
    /** relative weight of each market by symbol; markets not named get weight 0 (absent: equal weights) */
    marketWeights: z.record(z.string(), z.number().nonnegative()).optional(),
  })
  .strict();

export type PopulationSpec = z.infer<typeof PopulationSchema>;

export const PopulationOverridesSchema = z
  .object({
    seed: PopulationSchema.shape.seed,
    accounts: PopulationSchema.shape.accounts,
    longShare: PopulationSchema.shape.longShare,
    leverage: z
      .object({ min: z.number().min(1), max: z.number().max(200) })
      .partial()
      .strict(),
    marginUsd: z
      .object({ min: z.number().int().min(1), max: z.number().int().min(1) })
      .partial()
      .strict(),
    openWindow: PopulationSchema.shape.openWindow,
    marketWeights: z.record(z.string(), z.number().nonnegative()),
  })
  .partial()
  .strict();

export type PopulationOverrides = z.infer<typeof PopulationOverridesSchema>;

const DEFAULT_FILE = new URL("./population.json", import.meta.url);

/** scripts/replay/population.json, validated. */
export function defaultPopulation(): PopulationSpec {
  return loadPopulation(DEFAULT_FILE);
}

export function loadPopulation(file: string | URL): PopulationSpec {
  const raw: unknown = JSON.parse(readFileSync(file, "utf8"));
  const parsed = PopulationSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`population file ${String(file)}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** A spec with overrides applied (nested leverage/margin merged field by field), validated again. */
export function withPopulationOverrides(spec: PopulationSpec, o: PopulationOverrides | undefined): PopulationSpec {
  if (o === undefined) return spec;
  const merged = {
    ...spec,
    ...o,
    leverage: { ...spec.leverage, ...o.leverage },
    marginUsd: { ...spec.marginUsd, ...o.marginUsd },
  };
  const parsed = PopulationSchema.safeParse(merged);
  if (!parsed.success) throw new Error(`population overrides:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** One trader: what they want; the engine opens it at `openAt` from the price then in force. */
export type TraderSpec = {
  /** 0-based, also the order of account creation */
  index: number;
  /** index into the replay's markets (one per price path) */
  market: number;
  long: boolean;
  /** wanted leverage (notional / margin), WAD, 0.01x steps */
  leverageWad: bigint;
  /** margin deposited, collateral units (6 decimals) */
  margin: bigint;
  /** unix seconds: the trader opens at the first tick at or after it */
  openAt: number;
};

function logUniform(u: number, lo: number, hi: number): number {
  if (lo === hi) return lo;
  return Math.exp(Math.log(lo) + u * (Math.log(hi) - Math.log(lo)));
}

/**
 * Draws the population. `symbols` are the replay's markets in order; the traders open uniformly over
 * [start, start + openWindow * (end - start)].
 */
export function generatePopulation(
  spec: PopulationSpec,
  symbols: readonly string[],
  start: number,
  end: number,
): TraderSpec[] {
  const rand = mulberry32(spec.seed);
  const weights = symbols.map((s) => (spec.marketWeights === undefined ? 1 : (spec.marketWeights[s] ?? 0)));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  if (totalWeight <= 0) throw new Error(`population.marketWeights gives no weight to any of ${symbols.join(", ")}`);
  const openSpan = Math.floor(spec.openWindow * (end - start));
  const traders: TraderSpec[] = [];
  for (let i = 0; i < spec.accounts; i++) {
    // Always draw the same five numbers per trader, so a change to one spec field does not reshuffle the rest.
    const [uSide, uLev, uMargin, uMarket, uTime] = [rand(), rand(), rand(), rand(), rand()];
    let market = 0;
    for (let acc = uMarket * totalWeight; market < weights.length - 1; market++) {
      acc -= weights[market];
      if (acc < 0) break;
    }
    const leverage = logUniform(uLev, spec.leverage.min, spec.leverage.max);
    const margin = Math.round(logUniform(uMargin, spec.marginUsd.min, spec.marginUsd.max));
    traders.push({
      index: i,
      market,
      long: uSide < spec.longShare,
      leverageWad: (BigInt(Math.round(leverage * 100)) * WAD) / 100n,
      margin: BigInt(margin) * USDC_UNIT,
      openAt: start + Math.floor(uTime * openSpan),
    });
  }
  return traders;
}

/** Wanted notional of the traders of one market (USD, WAD): what the market's depth is sized from. */
export function wantedNotional(traders: readonly TraderSpec[], market: number): bigint {
  let total = 0n;
  for (const t of traders) if (t.market === market) total += (t.margin * 10n ** 12n * t.leverageWad) / WAD;
  return total;
}
