/**
 * Downloads one day of Binance klines from the public archive (data.binance.vision) and writes
 * it in the 6-column format of the shared crash data, so the loaders read it like any other file:
 *
 *   <base>/data/futures/um/daily/klines/<SYMBOL>/<INTERVAL>/<SYMBOL>-<INTERVAL>-<DATE>.zip   (USDⓈ-M perps)
 *   <base>/data/spot/daily/klines/<SYMBOL>/<INTERVAL>/<SYMBOL>-<INTERVAL>-<DATE>.zip         (spot)
 *
 * Each archive holds one 12-column CSV (open time, OHLC, volume, close time, quote volume, trade
 * count, taker volumes, ignore); futures files carry a header row, spot files none. Open times
 * are milliseconds, or microseconds in spot files from 2025 on: both become unix seconds. The
 * archive's sha256 is checked against `<archive>.CHECKSUM` when the server publishes one. Prices
 * are rewritten as their shortest exact decimal (trailing zeros dropped, nothing else changes),
 * and the result is validated by the same loader as the shared files before it is written.
 */
import { createHash } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { z } from "zod";

import {
  ArchiveNotFoundError,
  BadChecksumFileError,
  ChecksumMismatchError,
  DownloadError,
  HttpError,
  InvalidFetchOptionsError,
  NotANumberError,
  type DataLocation,
} from "./data/errors.js";
import { type CsvRow, type OhlcSeries, formatOhlcCsv, ohlcSeriesFromRows, splitCsv } from "./data/loaders.js";
import { readSingleFileZip } from "./data/zip.js";

export const BINANCE_ARCHIVE_URL = "https://data.binance.vision";
export const DEFAULT_FETCH_DIR = "data/fetched";

/** The intervals Binance publishes as daily archives, in seconds. */
export const KLINE_INTERVAL_SECONDS = {
  "1s": 1,
  "1m": 60,
  "3m": 180,
  "5m": 300,
  "15m": 900,
  "30m": 1800,
  "1h": 3600,
  "2h": 7200,
  "4h": 14400,
  "6h": 21600,
  "8h": 28800,
  "12h": 43200,
  "1d": 86400,
} as const;

export type KlineInterval = keyof typeof KLINE_INTERVAL_SECONDS;
export type KlineMarket = "futures" | "spot";

export const BINANCE_KLINE_COLUMNS = [
  "open_time",
  "open",
  "high",
  "low",
  "close",
  "volume",
  "close_time",
  "quote_volume",
  "count",
  "taker_buy_volume",
  "taker_buy_quote_volume",
  "ignore",
] as const;

function isCalendarDate(date: string): boolean {
  const time = Date.parse(`${date}T00:00:00Z`);
  return Number.isFinite(time) && new Date(time).toISOString().startsWith(date);
}

export const fetchKlinesOptionsSchema = z.object({
  symbol: z
    .string()
    .transform((symbol) => symbol.trim().toUpperCase())
    .pipe(z.string().regex(/^[A-Z0-9]{2,30}$/, "a Binance symbol such as BTCUSDT (letters and digits)")),
  interval: z.enum(Object.keys(KLINE_INTERVAL_SECONDS) as [KlineInterval, ...KlineInterval[]]),
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, "a UTC day as YYYY-MM-DD")
    .refine(isCalendarDate, "not a calendar date"),
  market: z.enum(["futures", "spot"]).default("futures"),
  outDir: z.string().min(1).default(DEFAULT_FETCH_DIR),
  baseUrl: z.url({ protocol: /^https?$/ }).default(BINANCE_ARCHIVE_URL),
  timeoutMs: z.number().int().positive().default(60_000),
});

/** What a caller passes: symbol, interval and date, the rest defaulted. */
export type FetchKlinesOptions = z.input<typeof fetchKlinesOptionsSchema>;
/** The options after validation and defaults. */
export type FetchKlinesConfig = z.output<typeof fetchKlinesOptionsSchema>;

export function parseFetchKlinesOptions(raw: unknown): FetchKlinesConfig {
  const parsed = fetchKlinesOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidFetchOptionsError(z.prettifyError(parsed.error));
  return parsed.data;
}

type ArchiveRequest = Pick<FetchKlinesConfig, "symbol" | "interval" | "date" | "market">;

/** The archive's path under the base URL. */
export function klineArchivePath(request: ArchiveRequest): string {
  const market = request.market === "futures" ? "futures/um" : "spot";
  const { symbol, interval, date } = request;
  return `data/${market}/daily/klines/${symbol}/${interval}/${symbol}-${interval}-${date}.zip`;
}

export function klineArchiveUrl(request: ArchiveRequest, baseUrl: string = BINANCE_ARCHIVE_URL): string {
  return `${baseUrl.replace(/\/+$/, "")}/${klineArchivePath(request)}`;
}

/** Name of the written file, after the shared data's: btcusdt-perp-2020-03-12-1m.csv. */
export function fetchedFileName(request: ArchiveRequest): string {
  const perp = request.market === "futures" ? "-perp" : "";
  return `${request.symbol.toLowerCase()}${perp}-${request.date}-${request.interval}.csv`;
}

const MICROSECONDS_FROM = 10n ** 14n; // 1973 in microseconds, year 5138 in milliseconds
const MILLISECONDS_FROM = 10n ** 12n; // 2001 in milliseconds

/** Open time in ms or µs -> unix seconds, refusing anything that is not a whole second. */
function toUnixSeconds(text: string, at: DataLocation): string {
  if (!/^[0-9]+$/.test(text)) throw new NotANumberError(at, text, "open time must be a whole number");
  const value = BigInt(text);
  if (value < MILLISECONDS_FROM) {
    throw new NotANumberError(at, text, "open time is neither milliseconds nor microseconds since 1970");
  }
  const unit = value >= MICROSECONDS_FROM ? 1_000_000n : 1000n;
  if (value % unit !== 0n) throw new NotANumberError(at, text, "open time is not on a whole second");
  return (value / unit).toString();
}

/** Parses a Binance 12-column kline CSV into a validated OHLC series in unix seconds. */
export function binanceKlinesToSeries(text: string, source: string, interval: KlineInterval): OhlcSeries {
  const rows = splitCsv(text, source, BINANCE_KLINE_COLUMNS, {
    isHeader: (fields) => fields[0].toLowerCase() === "open_time",
  });
  const converted = rows.map((row): CsvRow => ({
    line: row.line,
    fields: [
      toUnixSeconds(row.fields[0], { file: source, line: row.line, column: 1, columnName: "open_time" }),
      ...row.fields.slice(1, 6),
    ],
  }));
  return ohlcSeriesFromRows(converted, source, { resolution: KLINE_INTERVAL_SECONDS[interval] });
}

export type FetchKlinesResult = {
  url: string;
  /** the CSV written */
  file: string;
  rows: number;
  /** open time of the first and last bar, unix seconds */
  first: number;
  last: number;
  /** "unavailable": the server publishes no .CHECKSUM for this archive, so it was not verified */
  checksum: "verified" | "unavailable";
};

export type FetchDependencies = {
  /** the HTTP client; global fetch by default (tests pass one that only allows loopback) */
  fetch?: typeof fetch;
};

/** Downloads, verifies, converts and writes one day of klines. */
export async function fetchKlines(
  options: FetchKlinesOptions,
  dependencies: FetchDependencies = {},
): Promise<FetchKlinesResult> {
  const config = parseFetchKlinesOptions(options);
  const get = dependencies.fetch ?? fetch;
  const url = klineArchiveUrl(config, config.baseUrl);
  const archiveName = url.slice(url.lastIndexOf("/") + 1);
  const zip = await download(get, url, config.timeoutMs);
  if (zip === null) throw new ArchiveNotFoundError(url);
  const checksum = await verifyChecksum(get, url, archiveName, zip, config.timeoutMs);
  const entry = readSingleFileZip(zip, archiveName);
  const series = binanceKlinesToSeries(entry.data.toString("utf8"), `${archiveName}:${entry.name}`, config.interval);
  const file = join(config.outDir, fetchedFileName(config));
  mkdirSync(config.outDir, { recursive: true });
  const partial = `${file}.partial-${process.pid}`;
  writeFileSync(partial, formatOhlcCsv(series));
  renameSync(partial, file);
  const { bars } = series;
  return { url, file, rows: bars.length, first: bars[0].t, last: bars[bars.length - 1].t, checksum };
}

/** The body, or null on 404. */
async function download(get: typeof fetch, url: string, timeoutMs: number): Promise<Buffer | null> {
  try {
    const response = await get(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new HttpError(url, response.status, response.statusText);
    }
    return Buffer.from(await response.arrayBuffer());
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new DownloadError(url, error);
  }
}

async function verifyChecksum(
  get: typeof fetch,
  url: string,
  archiveName: string,
  zip: Buffer,
  timeoutMs: number,
): Promise<FetchKlinesResult["checksum"]> {
  const checksumUrl = `${url}.CHECKSUM`;
  const body = await download(get, checksumUrl, timeoutMs);
  if (body === null) return "unavailable";
  const match = /^([0-9a-fA-F]{64})(?:\s+\*?(\S+))?$/.exec(body.toString("utf8").trim());
  if (match === null) throw new BadChecksumFileError(checksumUrl, "not a sha256 line");
  const [, expectedHex, name] = match;
  if (name !== undefined && name !== archiveName) {
    throw new BadChecksumFileError(checksumUrl, `it is for ${name}, not ${archiveName}`);
  }
  const expected = expectedHex.toLowerCase();
  const actual = createHash("sha256").update(zip).digest("hex");
  if (actual !== expected) throw new ChecksumMismatchError(url, expected, actual);
  return "verified";
}
