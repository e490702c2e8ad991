/**
 * Errors of the crash-data layer. Every one extends {@link CrashDataError}, so the replay can tell
 * "the data is wrong or missing" (stop and say which file to fix) from a bug in its own code.
 *
 * A malformed file raises a {@link MalformedDataError} that names the file, the 1-based line (as
 * an editor shows it, header included) and the 1-based column with its name.
 */

/** Base class of everything the data layer throws. */
export abstract class CrashDataError extends Error {
  protected constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A decimal string the exact parser refuses (thrown by parseDecimalWad; the loaders add the place). */
export class InvalidDecimalError extends CrashDataError {
  readonly text: string;
  readonly reason: string;

  constructor(text: string, reason: string) {
    super(`${JSON.stringify(text)} is not a plain decimal: ${reason}`);
    this.text = text;
    this.reason = reason;
  }
}

/** Where in a file a problem sits. `line` and `column` are 1-based; `column` 0 means the whole line. */
export type DataLocation = {
  file: string;
  line: number;
  column: number;
  /** the column's name in the file format ("low", "price", ...), or "" for the whole line */
  columnName: string;
};

function place(at: DataLocation): string {
  const column = at.column > 0 ? `:${at.column} (column "${at.columnName}")` : "";
  return `${at.file}:${at.line}${column}`;
}

/** A data file that does not follow its format. */
export abstract class MalformedDataError extends CrashDataError implements DataLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly columnName: string;

  protected constructor(at: DataLocation, problem: string) {
    super(`${place(at)}: ${problem}`);
    this.file = at.file;
    this.line = at.line;
    this.column = at.column;
    this.columnName = at.columnName;
  }
}

/** The file has no data row. */
export class EmptyDataFileError extends MalformedDataError {
  constructor(file: string, line: number) {
    super({ file, line, column: 0, columnName: "" }, "no data rows");
  }
}

/** The first line is not a number and not the format's header either. */
export class BadHeaderError extends MalformedDataError {
  readonly expected: readonly string[];

  constructor(
    at: DataLocation,
    found: string,
    expected: readonly string[],
    header: "optional" | "required" = "optional",
  ) {
    const want = header === "optional" ? `"${expected.join(",")}" or no header` : `the header "${expected.join(",")}"`;
    super(
      at,
      `unexpected ${header === "optional" ? "header" : "first line"} ${JSON.stringify(found)}; expected ${want}`,
    );
    this.expected = expected;
  }
}

/** A row with fewer fields than the format has columns. */
export class MissingColumnError extends MalformedDataError {
  constructor(at: DataLocation, expectedCount: number, found: number) {
    super(at, `missing column "${at.columnName}": the row has ${found} field(s), the format has ${expectedCount}`);
  }
}

/** A row with more fields than the format has columns. */
export class ExtraColumnError extends MalformedDataError {
  constructor(at: DataLocation, expectedCount: number, found: number) {
    super(at, `unexpected extra field: the row has ${found} fields, the format has ${expectedCount}`);
  }
}

/** A field that is not a number the format allows (garbage, exponent, sign, too many decimals, ...). */
export class NotANumberError extends MalformedDataError {
  readonly text: string;

  constructor(at: DataLocation, text: string, reason: string) {
    super(at, `${JSON.stringify(text)} is not a valid ${at.columnName}: ${reason}`);
    this.text = text;
  }
}

/** A timestamp not after the one on the previous data row. */
export class UnsortedTimestampError extends MalformedDataError {
  readonly previousLine: number;

  constructor(at: DataLocation, t: number, previous: number, previousLine: number) {
    super(at, `timestamp ${t} is before ${previous} on line ${previousLine}; rows must be in time order`);
    this.previousLine = previousLine;
  }
}

/** A timestamp equal to the one on the previous data row. */
export class DuplicateTimestampError extends MalformedDataError {
  readonly previousLine: number;

  constructor(at: DataLocation, t: number, previousLine: number) {
    super(at, `timestamp ${t} repeats line ${previousLine}; each bar or round must appear once`);
    this.previousLine = previousLine;
  }
}

/** A bar whose timestamps are not on the bar grid (steps that are not multiples of the resolution). */
export class OffGridTimestampError extends MalformedDataError {
  constructor(at: DataLocation, step: number, resolution: number) {
    super(at, `${step} s after the previous bar, which is not a whole number of ${resolution} s bars`);
  }
}

/** A price of zero or below. */
export class NonPositivePriceError extends MalformedDataError {
  readonly text: string;

  constructor(at: DataLocation, text: string) {
    super(at, `${at.columnName} ${text} is not positive; every price must be above zero`);
    this.text = text;
  }
}

/** A bar that breaks low <= open, close <= high. */
export class OhlcOrderError extends MalformedDataError {
  constructor(at: DataLocation, problem: string) {
    super(at, `OHLC order broken: ${problem} (need low <= open, close <= high)`);
  }
}

/** The bars cannot be turned into a path with the options given (e.g. one bar and no resolution). */
export class ResolutionError extends CrashDataError {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.file = file;
  }
}

/** No crash-data directory, or one that does not exist. */
export class CrashDataDirError extends CrashDataError {
  readonly dataDir: string | undefined;

  constructor(dataDir: string | undefined, problem: string) {
    super(
      `${problem}. Point CRASH_DATA_DIR (or the replay's --data-dir <dir>) at a directory laid out like ` +
        `../shared/data/crashes (the files named in its SOURCES.md), or add --stylised to replay the project's ` +
        `stylised scenarios instead (or --path <file.csv> to replay a price path of your own).`,
    );
    this.dataDir = dataDir;
  }
}

/** A file the catalogue needs is not in the crash-data directory. */
export class CrashDataFileMissingError extends CrashDataError {
  readonly dataDir: string;
  readonly file: string;

  constructor(dataDir: string, file: string, event: string) {
    super(
      `${file} (needed by event "${event}") is not in ${dataDir}. CRASH_DATA_DIR must point at a directory ` +
        `of the ../shared/data/crashes layout, holding the files named in its SOURCES.md.`,
    );
    this.dataDir = dataDir;
    this.file = file;
  }
}

/** An event id the catalogue does not know. */
export class UnknownEventError extends CrashDataError {
  readonly id: string;

  constructor(id: string, known: readonly string[]) {
    super(`unknown crash event "${id}"; known events: ${known.join(", ")}`);
    this.id = id;
  }
}

/** Path segments that cannot be joined (different markets, or overlapping in time). */
export class PathJoinError extends CrashDataError {
  constructor(problem: string) {
    super(`cannot join path segments: ${problem}`);
  }
}

/** A user's price path that cannot be used as given (--path, --symbol). */
export class UserPathError extends CrashDataError {
  constructor(problem: string) {
    super(problem);
  }
}

/** A zip archive the reader cannot use: truncated, corrupt, encrypted, or not one CSV. */
export class BadZipError extends CrashDataError {
  readonly source: string;

  constructor(source: string, problem: string) {
    super(`${source}: bad zip archive: ${problem}. Delete it and fetch again; if it persists, the archive is broken`);
    this.source = source;
  }
}

/** The archive server answered 404: there is no file for that symbol, market, interval and date. */
export class ArchiveNotFoundError extends CrashDataError {
  readonly url: string;

  constructor(url: string) {
    super(
      `no archive at ${url} (HTTP 404). Check the symbol (e.g. BTCUSDT), the market (futures = USDⓈ-M ` +
        "perpetuals, spot), the interval and the date: daily files appear the day after, and none exist " +
        "before the symbol was listed",
    );
    this.url = url;
  }
}

/** Any other HTTP failure of the archive server. */
export class HttpError extends CrashDataError {
  readonly url: string;
  readonly status: number;

  constructor(url: string, status: number, statusText: string) {
    super(`GET ${url} failed with HTTP ${status} ${statusText}. Retry later, or check --base-url`);
    this.url = url;
    this.status = status;
  }
}

/** The request did not get an HTTP answer at all (DNS, connection, timeout). */
export class DownloadError extends CrashDataError {
  readonly url: string;

  constructor(url: string, cause: unknown) {
    super(
      `GET ${url} failed: ${cause instanceof Error ? cause.message : String(cause)}. Check the network or --base-url`,
    );
    this.url = url;
  }
}

/** The archive's sha256 differs from its published .CHECKSUM. */
export class ChecksumMismatchError extends CrashDataError {
  readonly url: string;
  readonly expected: string;
  readonly actual: string;

  constructor(url: string, expected: string, actual: string) {
    super(
      `checksum mismatch for ${url}: .CHECKSUM says sha256 ${expected}, the download hashes to ${actual}. ` +
        "Nothing was written; fetch again (a truncated or altered download)",
    );
    this.url = url;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A .CHECKSUM file that is not `<sha256 hex>  <file name>` for the archive fetched. */
export class BadChecksumFileError extends CrashDataError {
  readonly url: string;

  constructor(url: string, problem: string) {
    super(`${url}: ${problem}; expected "<64 hex digits>  <archive file name>"`);
    this.url = url;
  }
}

/** Fetch options that fail validation (bad symbol, interval, date, market or URL). */
export class InvalidFetchOptionsError extends CrashDataError {
  constructor(problems: string) {
    super(`invalid fetch options:\n${problems}`);
  }
}
