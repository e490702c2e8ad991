/**
 * Loaders for the two formats of the crash data (see ../shared/data/crashes/SOURCES.md):
 *
 *   OHLC bars      `timestamp,open,high,low,close,volume`  (timestamp = open time of the bar)
 *   oracle rounds  `timestamp,price`                        (timestamp = Chainlink `updatedAt`)
 *
 * Timestamps are unix seconds (UTC); a header row is optional. Every price is parsed exactly to
 * WAD. A file that breaks its format is refused whole, with an error naming the file, line and
 * column: a replay on half-read data would report numbers nobody can trust.
 *
 * Turning bars into a price path ({@link ohlcPath}) takes one of two modes:
 *
 * - "close" (default): the first bar's open at its open time, then each bar's close at the bar's
 *   end (`t + resolution`), so the replay never sees a close before the bar is over. After a run
 *   of missing bars the next bar's open is emitted too, so the held price is never stale by more
 *   than the gap itself. Wicks are lost.
 * - "low-inclusive": four points per bar, open at `t`, then the two extremes at `t + r/4` and
 *   `t + r/2`, then the close at `t + 3r/4` (r = resolution, times floored to whole seconds).
 *   The extremes come in the order of the shortest path through the bar: a down or flat bar
 *   (close <= open) goes open -> high -> low -> close, an up bar (close > open) goes
 *   open -> low -> high -> close. Every wick reaches the replay (e.g. the 3621.81 Black Thursday
 *   print), without inventing the extra round trip the opposite order would add to every bar,
 *   which would inflate the realised volatility the margin model sees.
 *
 * Oracle rounds are used as they landed: each price is in force until the next round.
 */
import { readFileSync } from "node:fs";

import type { PathGap, PricePath, PricePoint } from "../types.js";
import { exactWad as formatWad, parseDecimalWad } from "../decimal.js";
import {
  BadHeaderError,
  DuplicateTimestampError,
  EmptyDataFileError,
  ExtraColumnError,
  InvalidDecimalError,
  MissingColumnError,
  NonPositivePriceError,
  NotANumberError,
  OffGridTimestampError,
  OhlcOrderError,
  ResolutionError,
  UnsortedTimestampError,
  type DataLocation,
} from "./errors.js";

export const OHLC_COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"] as const;
export const ORACLE_COLUMNS = ["timestamp", "price"] as const;

/**
 * Largest timestamp accepted as unix seconds (year 5138). Anything above is almost surely
 * milliseconds or microseconds pasted from an exchange export, which would otherwise load as a
 * date thousands of years away.
 */
export const MAX_UNIX_SECONDS = 99_999_999_999;

export type OhlcMode = "close" | "low-inclusive";

/** One bar of an OHLC file, prices and volume in WAD. */
export type OhlcBar = {
  /** open time of the bar, unix seconds */
  t: number;
  openWad: bigint;
  highWad: bigint;
  lowWad: bigint;
  closeWad: bigint;
  /** volume as printed (base asset unless SOURCES.md says otherwise), in WAD */
  volumeWad: bigint;
};

export type OhlcSeries = {
  /** the file as named to the loader (a path, or an archive entry) */
  file: string;
  /** bar length in seconds, declared or inferred as the smallest step between bars */
  resolution: number;
  bars: OhlcBar[];
};

export type OracleSeries = {
  file: string;
  /** one point per round: the price in force from `t` until the next round */
  rounds: PricePoint[];
};

/** A data row as split from the text: its 1-based line number and trimmed fields. */
export type CsvRow = { line: number; fields: string[] };

export type SplitCsvOptions = {
  /** decides whether a first line that does not start with a number is an acceptable header */
  isHeader?: (fields: readonly string[]) => boolean;
};

/**
 * Splits CSV text into rows of exactly `columns.length` fields. Blank lines are skipped; a first
 * line whose first field is not a number must be the header (by default: the column names).
 */
export function splitCsv(
  text: string,
  file: string,
  columns: readonly string[],
  options: SplitCsvOptions = {},
): CsvRow[] {
  const isHeader = options.isHeader ?? ((fields) => sameNames(fields, columns));
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const rows: CsvRow[] = [];
  let seenFirst = false;
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index].trim();
    if (raw === "") continue;
    const line = index + 1;
    const fields = raw.split(",").map((field) => field.trim());
    if (!seenFirst) {
      seenFirst = true;
      if (!/^[0-9]/.test(fields[0])) {
        if (!isHeader(fields)) {
          throw new BadHeaderError({ file, line, column: 1, columnName: columns[0] }, raw, columns);
        }
        continue;
      }
    }
    if (fields.length < columns.length) {
      const at = { file, line, column: fields.length + 1, columnName: columns[fields.length] };
      throw new MissingColumnError(at, columns.length, fields.length);
    }
    if (fields.length > columns.length) {
      const at = { file, line, column: columns.length + 1, columnName: "" };
      throw new ExtraColumnError(at, columns.length, fields.length);
    }
    rows.push({ line, fields });
  }
  if (rows.length === 0) throw new EmptyDataFileError(file, lines.length);
  return rows;
}

function sameNames(fields: readonly string[], columns: readonly string[]): boolean {
  return fields.length === columns.length && fields.every((field, i) => field.toLowerCase() === columns[i]);
}

function location(file: string, row: CsvRow, columns: readonly string[], index: number): DataLocation {
  return { file, line: row.line, column: index + 1, columnName: columns[index] };
}

function parseTimestamp(text: string, at: DataLocation): number {
  if (!/^[0-9]+$/.test(text)) throw new NotANumberError(at, text, "unix seconds must be a whole number");
  const t = Number(text);
  if (t > MAX_UNIX_SECONDS) {
    throw new NotANumberError(at, text, "too large for unix seconds; milliseconds or microseconds must be converted");
  }
  return t;
}

function parseWad(text: string, at: DataLocation): bigint {
  try {
    return parseDecimalWad(text);
  } catch (error) {
    if (error instanceof InvalidDecimalError) throw new NotANumberError(at, text, error.reason);
    throw error;
  }
}

function parsePrice(text: string, at: DataLocation): bigint {
  // A minus sign on an otherwise good number is a negative price, not garbage: say so.
  if (/^-[0-9]+(\.[0-9]+)?$/.test(text)) throw new NonPositivePriceError(at, text);
  const wad = parseWad(text, at);
  if (wad === 0n) throw new NonPositivePriceError(at, text);
  return wad;
}

/** Checks that timestamps strictly increase, pointing at the offending row. */
function checkOrder(file: string, rows: readonly CsvRow[], times: readonly number[]): void {
  for (let i = 1; i < rows.length; i++) {
    const at = { file, line: rows[i].line, column: 1, columnName: "timestamp" };
    if (times[i] === times[i - 1]) throw new DuplicateTimestampError(at, times[i], rows[i - 1].line);
    if (times[i] < times[i - 1]) throw new UnsortedTimestampError(at, times[i], times[i - 1], rows[i - 1].line);
  }
}

export type OhlcOptions = {
  /** bar length in seconds; when absent, the smallest step between bars */
  resolution?: number;
};

/** Validates split rows as OHLC bars (see {@link parseOhlcCsv}). */
export function ohlcSeriesFromRows(rows: readonly CsvRow[], file: string, options: OhlcOptions = {}): OhlcSeries {
  const bars = rows.map((row): OhlcBar => {
    const at = (index: number) => location(file, row, OHLC_COLUMNS, index);
    const [t, open, high, low, close, volume] = row.fields;
    const bar = {
      t: parseTimestamp(t, at(0)),
      openWad: parsePrice(open, at(1)),
      highWad: parsePrice(high, at(2)),
      lowWad: parsePrice(low, at(3)),
      closeWad: parsePrice(close, at(4)),
      volumeWad: parseWad(volume, at(5)),
    };
    checkBar(bar, row.fields, at);
    return bar;
  });
  const times = bars.map((bar) => bar.t);
  checkOrder(file, rows, times);
  const resolution = options.resolution ?? inferResolution(bars, file);
  if (!Number.isSafeInteger(resolution) || resolution <= 0) {
    throw new ResolutionError(file, `resolution ${resolution} is not a positive whole number of seconds`);
  }
  for (let i = 1; i < bars.length; i++) {
    const step = times[i] - times[i - 1];
    if (step % resolution !== 0) {
      throw new OffGridTimestampError(
        { file, line: rows[i].line, column: 1, columnName: "timestamp" },
        step,
        resolution,
      );
    }
  }
  return { file, resolution, bars };
}

function checkBar(bar: OhlcBar, fields: readonly string[], at: (index: number) => DataLocation): void {
  const [, open, high, low, close] = fields;
  if (bar.highWad < bar.lowWad) throw new OhlcOrderError(at(2), `high ${high} is below low ${low}`);
  if (bar.openWad < bar.lowWad) throw new OhlcOrderError(at(1), `open ${open} is below low ${low}`);
  if (bar.openWad > bar.highWad) throw new OhlcOrderError(at(1), `open ${open} is above high ${high}`);
  if (bar.closeWad < bar.lowWad) throw new OhlcOrderError(at(4), `close ${close} is below low ${low}`);
  if (bar.closeWad > bar.highWad) throw new OhlcOrderError(at(4), `close ${close} is above high ${high}`);
}

function inferResolution(bars: readonly OhlcBar[], file: string): number {
  if (bars.length < 2) throw new ResolutionError(file, "one bar only: pass the resolution, it cannot be inferred");
  let smallest = Infinity;
  for (let i = 1; i < bars.length; i++) smallest = Math.min(smallest, bars[i].t - bars[i - 1].t);
  return smallest;
}

/** Parses an OHLC CSV (`timestamp,open,high,low,close,volume`, header optional). */
export function parseOhlcCsv(text: string, file: string, options: OhlcOptions = {}): OhlcSeries {
  return ohlcSeriesFromRows(splitCsv(text, file, OHLC_COLUMNS), file, options);
}

/** Parses an oracle CSV (`timestamp,price`, header optional): Chainlink rounds, irregular spacing. */
export function parseOracleCsv(text: string, file: string): OracleSeries {
  const rows = splitCsv(text, file, ORACLE_COLUMNS);
  const rounds = rows.map((row): PricePoint => ({
    t: parseTimestamp(row.fields[0], location(file, row, ORACLE_COLUMNS, 0)),
    priceWad: parsePrice(row.fields[1], location(file, row, ORACLE_COLUMNS, 1)),
  }));
  const times = rounds.map((round) => round.t);
  checkOrder(file, rows, times);
  return { file, rounds };
}

export function readOhlcFile(path: string, options: OhlcOptions = {}): OhlcSeries {
  return parseOhlcCsv(readFileSync(path, "utf8"), path, options);
}

export function readOracleFile(path: string): OracleSeries {
  return parseOracleCsv(readFileSync(path, "utf8"), path);
}

/** The series back in the shared 6-column text (shortest exact decimals), header included. */
export function formatOhlcCsv(series: OhlcSeries): string {
  const lines = series.bars.map((bar) => {
    const values = [bar.openWad, bar.highWad, bar.lowWad, bar.closeWad, bar.volumeWad].map(formatWad);
    return [String(bar.t), ...values].join(",");
  });
  return `${OHLC_COLUMNS.join(",")}\n${lines.join("\n")}\n`;
}

/** End of the time a series observes: the last bar's close time. */
export function ohlcEnd(series: OhlcSeries): number {
  return series.bars[series.bars.length - 1].t + series.resolution;
}

/** The points of a bar series in the given mode (see the module comment for the timing). */
export function ohlcPoints(series: OhlcSeries, mode: OhlcMode = "close"): PricePoint[] {
  const r = series.resolution;
  if (mode === "low-inclusive" && r < 4) {
    throw new ResolutionError(series.file, `low-inclusive mode needs bars of at least 4 s, not ${r} s`);
  }
  const points: PricePoint[] = [];
  series.bars.forEach((bar, i) => {
    const contiguous = i > 0 && bar.t - series.bars[i - 1].t === r;
    if (mode === "close") {
      if (!contiguous) points.push({ t: bar.t, priceWad: bar.openWad });
      points.push({ t: bar.t + r, priceWad: bar.closeWad });
      return;
    }
    const up = bar.closeWad > bar.openWad;
    points.push(
      { t: bar.t, priceWad: bar.openWad },
      { t: bar.t + Math.floor(r / 4), priceWad: up ? bar.lowWad : bar.highWad },
      { t: bar.t + Math.floor(r / 2), priceWad: up ? bar.highWad : bar.lowWad },
      { t: bar.t + Math.floor((3 * r) / 4), priceWad: bar.closeWad },
    );
  });
  return points;
}

/** Runs of missing bars inside a series, as gaps from the end of one bar to the next bar's open. */
export function ohlcGaps(series: OhlcSeries): PathGap[] {
  const gaps: PathGap[] = [];
  for (let i = 1; i < series.bars.length; i++) {
    const from = series.bars[i - 1].t + series.resolution;
    const to = series.bars[i].t;
    if (to > from) gaps.push({ from, to, reason: `no bars from ${isoUtc(from)} to ${isoUtc(to)} in ${series.file}` });
  }
  return gaps;
}

/** What a path needs besides its points. */
export type PathLabel = Pick<PricePath, "event" | "symbol" | "source" | "quote">;

export function ohlcPath(series: OhlcSeries, label: PathLabel, mode: OhlcMode = "close"): PricePath {
  return {
    ...label,
    stylised: false,
    resolution: series.resolution,
    points: ohlcPoints(series, mode),
    gaps: ohlcGaps(series),
    sampling: mode,
  };
}

export function oraclePath(series: OracleSeries, label: PathLabel): PricePath {
  return {
    ...label,
    stylised: false,
    resolution: "irregular",
    points: series.rounds.map((round) => ({ ...round })),
    gaps: [],
    sampling: "oracle-rounds",
  };
}

/** "2020-03-13T02:16:00Z" */
export function isoUtc(t: number): string {
  return new Date(t * 1000).toISOString().replace(".000Z", "Z");
}
