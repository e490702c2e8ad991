/**
 * The six crash events the replay runs, and the real series each one reads from the crash-data
 * directory (CRASH_DATA_DIR, laid out like ../shared/data/crashes; SOURCES.md there gives every
 * file's origin and caveats). The project does not ship these files: without the directory, use
 * the stylised scenarios in ./stylised.ts.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

import type { PricePath } from "../types.js";
import { CrashDataDirError, CrashDataFileMissingError, UnknownEventError } from "./errors.js";
import { type OhlcMode, isoUtc, ohlcEnd, ohlcPath, oraclePath, readOhlcFile, readOracleFile } from "./loaders.js";
import { type PathPart, clipPath, joinPaths } from "./paths.js";

export const CRASH_EVENT_IDS = [
  "black-thursday-2020",
  "may-2021",
  "june-2022",
  "ftx-2022",
  "usdc-depeg-2023",
  "october-2025",
] as const;

export type CrashEventId = (typeof CRASH_EVENT_IDS)[number];

export type SeriesFormat = "ohlc" | "oracle";

/** One file of the crash-data directory. */
export type SeriesFile = {
  /** file name inside CRASH_DATA_DIR */
  file: string;
  format: SeriesFormat;
  /** bar length in seconds (checked against the file), or "irregular" for oracle rounds */
  resolution: number | "irregular";
  /** the window the file covers, as SOURCES.md states it */
  covers: string;
};

/**
 * "market": drives a perpetual market's oracle in the replay. "collateral": the USD price of the
 * collateral token itself (the protocol margins in USDC).
 */
export type MarketRole = "market" | "collateral";

/** One price path of an event, read from one file or from several joined in time order. */
export type MarketSeries = {
  symbol: string;
  quote: string;
  role: MarketRole;
  /** in time order; a stretch between two segments is held and listed in the path's `gaps` */
  segments: readonly SeriesFile[];
  /** why two segments do not meet, written into each joining gap */
  joinReason?: string;
  notes: string;
};

export type CrashEvent = {
  id: CrashEventId;
  title: string;
  /** the calendar days (UTC) the event is known by */
  dates: { first: string; last: string };
  /** unix seconds: the span the real paths are clipped to (see loadEvent) */
  window: { start: number; end: number };
  /** the first entry is the event's main path */
  series: readonly MarketSeries[];
  quoteNotes: string;
};

const utc = (iso: string): number => Date.parse(iso) / 1000;

const BTC_PERP = "Binance USDⓈ-M BTCUSDT perpetual, 1m bars";

export const CRASH_EVENTS: readonly CrashEvent[] = [
  {
    id: "black-thursday-2020",
    title: "Black Thursday",
    dates: { first: "2020-03-12", last: "2020-03-13" },
    window: { start: utc("2020-03-12T10:00:00Z"), end: utc("2020-03-13T05:00:00Z") },
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        segments: [
          {
            file: "btc-usdt-perp-2020-03-12-1m-leg1.csv",
            format: "ohlc",
            resolution: 60,
            covers: "2020-03-12 10:00 – 16:58 UTC",
          },
          {
            file: "btc-usdt-perp-2020-03-13-1m-leg2.csv",
            format: "ohlc",
            resolution: 60,
            covers: "2020-03-12 20:00 – 03-13 04:59 UTC",
          },
        ],
        joinReason:
          "no data between the two source files (SOURCES.md: leg 1 stops at 16:58, leg 2 starts at 20:00); " +
          "the last leg-1 price is held, not observed",
        notes:
          `${BTC_PERP}. Two legs joined with a marked three-hour hold. Low 3621.81 at 2020-03-13 02:16 ` +
          "(leg 2), visible in low-inclusive mode only.",
      },
    ],
    quoteNotes:
      "Quoted in USDT, not USD. At the bottom the perp traded up to 2.6% below Binance spot (spot low 3782.13).",
  },
  {
    id: "may-2021",
    title: "The 19 May 2021 crash",
    dates: { first: "2021-05-19", last: "2021-05-19" },
    window: { start: utc("2021-05-19T12:02:00Z"), end: utc("2021-05-19T14:16:00Z") },
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        segments: [
          {
            file: "btc-usdt-perp-2021-05-19-1m.csv",
            format: "ohlc",
            resolution: 60,
            covers: "2021-05-19 12:02 – 14:15 UTC",
          },
        ],
        notes:
          `${BTC_PERP}; only 2h13m around the low (28688.00 at 13:10). The wide wicks are in the source, ` +
          "as is a real 1.3% open/close gap at 13:13 -> 13:14.",
      },
    ],
    quoteNotes: "Quoted in USDT, not USD.",
  },
  {
    id: "june-2022",
    title: "June 2022: the Celsius crash and the stETH/ETH discount",
    dates: { first: "2022-06-13", last: "2022-06-13" },
    window: { start: utc("2022-06-13T00:00:00Z"), end: utc("2022-06-14T00:00:00Z") },
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        segments: [
          {
            file: "btc-usdt-perp-2022-06-13-1m.csv",
            format: "ohlc",
            resolution: 60,
            covers: "2022-06-13 00:00 – 23:59 UTC",
          },
        ],
        notes: `${BTC_PERP}. Opens 26564.70, low 21900.00 at 23:33, closes 22471.50.`,
      },
      {
        symbol: "stETH",
        quote: "ETH",
        role: "market",
        segments: [
          {
            file: "steth-eth-2022-06-chainlink.csv",
            format: "oracle",
            resolution: "irregular",
            covers: "2022-05-01 21:20 – 07-14 09:10 UTC",
          },
        ],
        notes:
          "Chainlink stETH/ETH rounds (24h heartbeat, 0.5% deviation): not an intraday market series. Clipped " +
          "to the window it holds the 06-12 round until 0.94098 at 08:42 and 0.96227 at 21:01. The feed's low " +
          "(0.93502 on 06-18) is outside the window; load with clip: false for all of it. Prices went through " +
          "float64 in the source repository (exact to about 16 significant digits).",
      },
    ],
    quoteNotes: "BTC in USDT, not USD. stETH is priced in ETH: a ratio, not a dollar price.",
  },
  {
    id: "ftx-2022",
    title: "The FTX collapse",
    dates: { first: "2022-11-08", last: "2022-11-10" },
    window: { start: utc("2022-11-08T12:00:00Z"), end: utc("2022-11-10T00:00:00Z") },
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        segments: [
          {
            file: "btc-usdt-perp-2022-11-09-1m.csv",
            format: "ohlc",
            resolution: 60,
            covers: "2022-11-08 12:00 – 11-09 23:59 UTC",
          },
        ],
        notes:
          `${BTC_PERP}. A 16830.00 wick at 2022-11-08 19:32-19:33, then the low 15462.60 at 2022-11-09 ` +
          "22:08. The window ends before 11-10.",
      },
    ],
    quoteNotes:
      "Quoted in USDT, which itself slipped to 0.9869 USD on 2022-11-10 (Chainlink USDT/USD, " +
      "usdt-usd-2022-11-09-chainlink.csv, not applied here).",
  },
  {
    id: "usdc-depeg-2023",
    title: "The USDC depeg after SVB",
    dates: { first: "2023-03-10", last: "2023-03-13" },
    window: { start: utc("2023-03-10T00:00:00Z"), end: utc("2023-03-12T09:00:00Z") },
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        segments: [
          {
            file: "btc-usdt-perp-2023-03-10-1m.csv",
            format: "ohlc",
            resolution: 60,
            covers: "2023-03-10 00:00 – 23:59 UTC",
          },
        ],
        notes:
          `${BTC_PERP}, 2023-03-10 only (low 19521.60 at 10:48). From 03-11 00:00 to the window end the ` +
          "last close is held, and the path's gaps say so.",
      },
      {
        symbol: "USDC",
        quote: "USD",
        role: "collateral",
        segments: [
          {
            file: "usdc-usd-2023-03-11-chainlink.csv",
            format: "oracle",
            resolution: "irregular",
            covers: "2023-03-09 06:00 – 03-12 08:49 UTC",
          },
        ],
        notes:
          "Chainlink USDC/USD rounds: low 0.88 at 2023-03-11 07:51. The file stops at 03-12 08:49 with USDC " +
          "near 0.954, before the re-peg of 03-13 (SOURCES.md: the Kraken file covers the recovery).",
      },
    ],
    quoteNotes: "BTC in USDT; USDC in USD. USDC is the protocol's collateral: its path is the dollar value of margin.",
  },
  {
    id: "october-2025",
    title: "The 10 October 2025 crash",
    dates: { first: "2025-10-10", last: "2025-10-11" },
    window: { start: utc("2025-10-10T20:28:00Z"), end: utc("2025-10-10T22:38:00Z") },
    series: [
      {
        symbol: "BTC",
        quote: "USDT",
        role: "market",
        segments: [
          {
            file: "btc-usdt-perp-2025-10-10-1m.csv",
            format: "ohlc",
            resolution: 60,
            covers: "2025-10-10 20:28 – 22:37 UTC",
          },
        ],
        notes: `${BTC_PERP}; low 101516.5 at 21:20 (spot bottomed at 102000).`,
      },
    ],
    quoteNotes: "Quoted in USDT, not USD.",
  },
];

export function isCrashEventId(id: string): id is CrashEventId {
  return (CRASH_EVENT_IDS as readonly string[]).includes(id);
}

export function crashEvent(id: string): CrashEvent {
  const event = CRASH_EVENTS.find((candidate) => candidate.id === id);
  if (event === undefined) throw new UnknownEventError(id, CRASH_EVENT_IDS);
  return event;
}

/** Every file an event reads, in load order. */
export function eventFiles(id: string): string[] {
  return crashEvent(id).series.flatMap((series) => series.segments.map((segment) => segment.file));
}

/** The crash-data directory: `dataDir` if given, else CRASH_DATA_DIR; it must exist. */
export function resolveCrashDataDir(dataDir?: string): string {
  const dir = dataDir ?? process.env.CRASH_DATA_DIR;
  if (dir === undefined || dir === "") throw new CrashDataDirError(undefined, "CRASH_DATA_DIR is not set");
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new CrashDataDirError(dir, `the crash-data directory ${dir} does not exist`);
  }
  return dir;
}

export type LoadEventOptions = {
  /** directory of the crash data; default CRASH_DATA_DIR */
  dataDir?: string;
  /** how OHLC bars become points; default "close" (see loaders.ts) */
  mode?: OhlcMode;
  /**
   * Clip every path to the event window (default true): oracle series then start with the round
   * in force at the window start instead of weeks of earlier rounds.
   */
  clip?: boolean;
};

/**
 * The real price paths of an event, in the order of its `series` (the main path first). Throws
 * CrashDataDirError / CrashDataFileMissingError when the data are not there, and a
 * MalformedDataError naming file, line and column when a file is broken.
 */
export function loadEvent(id: string, options: LoadEventOptions = {}): PricePath[] {
  const event = crashEvent(id);
  const dataDir = resolveCrashDataDir(options.dataDir);
  const mode = options.mode ?? "close";
  for (const file of eventFiles(id)) {
    if (!existsSync(join(dataDir, file))) throw new CrashDataFileMissingError(dataDir, file, event.id);
  }
  return event.series.map((series) => {
    const parts = series.segments.map((segment) => loadSegment(dataDir, event, series, segment, mode));
    const joined = joinPaths(parts, () => series.joinReason ?? "no data between segments; last price held");
    return options.clip === false ? joined.path : clipPath(joined, event.window.start, event.window.end);
  });
}

function loadSegment(
  dataDir: string,
  event: CrashEvent,
  series: MarketSeries,
  segment: SeriesFile,
  mode: OhlcMode,
): PathPart {
  const path = join(dataDir, segment.file);
  const label = { event: event.id, symbol: series.symbol, quote: series.quote, source: segment.file };
  if (segment.format === "oracle") {
    const rounds = readOracleFile(path);
    return { path: oraclePath(rounds, label), end: rounds.rounds[rounds.rounds.length - 1].t };
  }
  const resolution = segment.resolution === "irregular" ? undefined : segment.resolution;
  const bars = readOhlcFile(path, { resolution });
  return { path: ohlcPath(bars, label, mode), end: ohlcEnd(bars) };
}

/** One line per event and file, for logs and reports. */
export function describeEvent(id: string): string {
  const event = crashEvent(id);
  const lines = [`${event.id}: ${event.title} (${event.dates.first} .. ${event.dates.last})`];
  lines.push(`  window ${isoUtc(event.window.start)} .. ${isoUtc(event.window.end)}; ${event.quoteNotes}`);
  for (const series of event.series) {
    const files = series.segments.map((segment) => segment.file).join(" + ");
    lines.push(`  ${series.symbol}/${series.quote} (${series.role}): ${files}`);
  }
  return lines.join("\n");
}
