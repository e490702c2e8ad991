/**
 * The project's own stylised crash scenarios, one per event, so the replay runs on a fresh clone
 * with no crash-data directory. They are NOT market data: each is a short table of anchors
 * (minute offset, price) written from the event's public key figures (start, trough and recovery
 * levels and their times, as summarised in ../shared/data/crashes/SOURCES.md), mostly rounded,
 * with the trough kept at its known print. Every path says so: `stylised: true`,
 * `source: "stylised"`.
 *
 * Between anchors the price is sampled every `stepMinutes` (plus at every anchor) and interpolated
 * in bigint WAD arithmetic, so the points are the same on every machine:
 *   linear: p = p0 + (p1 - p0) * (m - m0) / (m1 - m0), the division truncating toward zero, i.e.
 *           rounding toward the earlier anchor's price;
 *   hold:   p = p0 (an oracle-like path: the last round stays in force).
 */
import type { PricePath, PricePoint } from "../types.js";
import { type CrashEventId, type MarketRole, crashEvent } from "./catalogue.js";
import { parseDecimalWad } from "../decimal.js";

/** [minutes after the scenario start, price as exact decimal text] */
export type Anchor = readonly [minute: number, price: string];

export type StylisedShape = "linear" | "hold";

export type StylisedSeries = {
  symbol: string;
  quote: string;
  role: MarketRole;
  shape: StylisedShape;
  anchors: readonly Anchor[];
};

export type StylisedScenario = {
  /** ISO time (UTC) of minute 0 */
  start: string;
  stepMinutes: number;
  /** same symbols, quotes and order as the event's real series in the catalogue */
  series: readonly StylisedSeries[];
  /** which public figures the anchors come from */
  basis: string;
};

export const STYLISED_SCENARIOS: Readonly<Record<CrashEventId, StylisedScenario>> = {
  "black-thursday-2020": {
    start: "2020-03-12T10:00:00Z",
    stepMinutes: 10,
    basis:
      "Perp near 7,350 at 10:00 on 03-12, about 6,000 within the hour and through the afternoon; a second " +
      "leg from 23:00; low 3,621.81 at 02:16 on 03-13; back near 4,700 by 05:00.",
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        shape: "linear",
        anchors: [
          [0, "7350"],
          [60, "6000"],
          [420, "6050"],
          [780, "5800"],
          [840, "4750"],
          [960, "4050"],
          [976, "3621.81"],
          [1020, "4700"],
          [1080, "5150"],
          [1140, "4700"],
        ],
      },
    ],
  },
  "may-2021": {
    start: "2021-05-19T12:00:00Z",
    stepMinutes: 1,
    basis: "Perp near 38,500 at 12:00; low 28,688 at 13:10; rebound to about 35,900 by 13:45, 34,500 at 14:15.",
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        shape: "linear",
        anchors: [
          [0, "38500"],
          [30, "38300"],
          [45, "36400"],
          [60, "35000"],
          [70, "28688"],
          [75, "32100"],
          [90, "33300"],
          [105, "35900"],
          [120, "35650"],
          [135, "34500"],
        ],
      },
    ],
  },
  "june-2022": {
    start: "2022-06-13T00:00:00Z",
    stepMinutes: 10,
    basis:
      "BTC perp opens 06-13 near 26,560 and slides all day to the low 21,900 at 23:33, closing near 22,470. " +
      "stETH/ETH oracle near 0.961 going in, 0.941 from 08:42 and 0.962 from 21:01.",
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        shape: "linear",
        anchors: [
          [0, "26560"],
          [120, "25750"],
          [240, "25500"],
          [480, "24800"],
          [720, "23700"],
          [891, "22600"],
          [960, "23250"],
          [1080, "23500"],
          [1320, "23050"],
          [1413, "21900"],
          [1440, "22470"],
        ],
      },
      {
        symbol: "stETH",
        quote: "ETH",
        role: "market",
        shape: "hold",
        anchors: [
          [0, "0.961"],
          [522, "0.941"],
          [1261, "0.962"],
          [1440, "0.962"],
        ],
      },
    ],
  },
  "ftx-2022": {
    start: "2022-11-08T12:00:00Z",
    stepMinutes: 15,
    basis:
      "Perp near 19,690 at noon on 11-08; a wick to 16,830 at 19:32; about 18,500 overnight; down through " +
      "11-09 to the low 15,462.6 at 22:08, ending the day near 15,900.",
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        shape: "linear",
        anchors: [
          [0, "19690"],
          [180, "19400"],
          [360, "19330"],
          [420, "18600"],
          [452, "16830"],
          [465, "17900"],
          [540, "18135"],
          [720, "18530"],
          [1080, "18390"],
          [1340, "17230"],
          [1440, "17800"],
          [1620, "17630"],
          [1800, "16940"],
          [1980, "16220"],
          [2048, "15462.6"],
          [2160, "15900"],
        ],
      },
    ],
  },
  "usdc-depeg-2023": {
    start: "2023-03-10T00:00:00Z",
    stepMinutes: 30,
    basis:
      "BTC perp 20,350 at 00:00 on 03-10, low 19,521.6 at 10:48, about 20,150 at the day's end, near 22,000 " +
      "after the backstop announced late on 03-12. USDC at par until the evening of 03-10, Chainlink low " +
      "0.88 at 07:51 on 03-11, about 0.954 at 08:49 on 03-12, back above 0.99 on 03-13.",
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        shape: "linear",
        anchors: [
          [0, "20350"],
          [648, "19521.6"],
          [780, "20150"],
          [1440, "20150"],
          [1920, "19800"],
          [2880, "20450"],
          [3960, "20780"],
          [4230, "21900"],
          [4320, "22000"],
          [5040, "22100"],
        ],
      },
      {
        symbol: "USDC",
        quote: "USD",
        role: "collateral",
        shape: "linear",
        anchors: [
          [0, "1"],
          [1260, "0.999"],
          [1320, "0.99"],
          [1620, "0.91"],
          [1911, "0.88"],
          [2160, "0.91"],
          [2520, "0.95"],
          [2880, "0.967"],
          [3240, "0.975"],
          [3409, "0.954"],
          [3960, "0.968"],
          [4320, "0.991"],
          [5040, "0.998"],
        ],
      },
    ],
  },
  "october-2025": {
    start: "2025-10-10T20:30:00Z",
    stepMinutes: 1,
    basis: "Perp near 117,000 at 20:30 on 10-10; low 101,516.5 at 21:20; about 113,000 by 22:00.",
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        shape: "linear",
        anchors: [
          [0, "117000"],
          [15, "116950"],
          [30, "114200"],
          [45, "112100"],
          [50, "101516.5"],
          [60, "109200"],
          [75, "111250"],
          [90, "113250"],
          [105, "113650"],
          [130, "112900"],
        ],
      },
    ],
  },
};

/**
 * Samples an anchor table at every `stepMinutes` from minute 0 to the last anchor, and at every
 * anchor. Anchors must start at minute 0 and strictly increase.
 */
export function interpolateAnchors(
  anchors: readonly Anchor[],
  start: number,
  stepMinutes: number,
  shape: StylisedShape,
): PricePoint[] {
  if (!Number.isSafeInteger(stepMinutes) || stepMinutes <= 0) {
    throw new RangeError(`stepMinutes must be a positive whole number, not ${stepMinutes}`);
  }
  if (anchors.length < 2 || anchors[0][0] !== 0) {
    throw new RangeError("a stylised path needs at least two anchors, the first at minute 0");
  }
  const minutes = anchors.map(([minute]) => minute);
  const prices = anchors.map(([, price]) => parseDecimalWad(price));
  for (let i = 1; i < minutes.length; i++) {
    if (!Number.isSafeInteger(minutes[i]) || minutes[i] <= minutes[i - 1]) {
      throw new RangeError(`anchor minutes must strictly increase: ${minutes[i - 1]} then ${minutes[i]}`);
    }
  }
  const last = minutes[minutes.length - 1];
  const samples = new Set(minutes);
  for (let minute = 0; minute <= last; minute += stepMinutes) samples.add(minute);
  let segment = 0;
  return [...samples]
    .sort((a, b) => a - b)
    .map((minute) => {
      while (segment < minutes.length - 2 && minute >= minutes[segment + 1]) segment++;
      const [m0, m1] = [minutes[segment], minutes[segment + 1]];
      const [p0, p1] = [prices[segment], prices[segment + 1]];
      let priceWad: bigint;
      if (minute === m1) priceWad = p1;
      else if (shape === "hold") priceWad = p0;
      else priceWad = p0 + ((p1 - p0) * BigInt(minute - m0)) / BigInt(m1 - m0);
      return { t: start + minute * 60, priceWad };
    });
}

/** The stylised paths of an event, in the same order and with the same symbols as loadEvent. */
export function stylisedPaths(id: string): PricePath[] {
  const event = crashEvent(id);
  const scenario = STYLISED_SCENARIOS[event.id];
  const start = Date.parse(scenario.start) / 1000;
  return scenario.series.map((series) => ({
    event: event.id,
    symbol: series.symbol,
    source: "stylised",
    stylised: true,
    quote: series.quote,
    resolution: scenario.stepMinutes * 60,
    points: interpolateAnchors(series.anchors, start, scenario.stepMinutes, series.shape),
    gaps: [],
    sampling: "stylised",
  }));
}
