/**
 * A user's own price paths: `npm run replay -- --path btc-my-crash.csv [eth-my-crash.csv ...]`.
 * Each file is a `timestamp,price` CSV with exactly that header, unix seconds, one market per file:
 * each price is in force from its timestamp until the next. The market's symbol is the file name's
 * first dash-separated word (upper-cased: `btc-my-crash.csv` drives "BTC") unless the caller names
 * it. The rows are checked as strictly as the crash data's (loaders.ts): a malformed file is refused
 * whole, with its file, line and column.
 */
import { readFileSync } from "node:fs";
import { basename, extname } from "node:path";

import type { PricePath } from "../types.js";
import { BadHeaderError, UserPathError } from "./errors.js";
import { ORACLE_COLUMNS, parseOracleCsv } from "./loaders.js";

/** The event id a run of user paths is reported under. */
export const USER_PATH_EVENT = "user-path";

/** `btc-my-crash.csv` -> "BTC". */
export function symbolFromFileName(file: string): string {
  const word = basename(file, extname(file)).split("-")[0].trim();
  if (!/^[A-Za-z0-9]+$/.test(word)) {
    throw new UserPathError(
      `${file}: the file name's first dash-separated word ("${word}") is not a market symbol; ` +
        `rename the file (e.g. btc-my-crash.csv) or pass --symbol`,
    );
  }
  return word.toUpperCase();
}

/** One file's path; the header must be `timestamp,price`. */
export function parseUserPath(text: string, file: string, symbol: string): PricePath {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== "");
  if (first >= 0) {
    const fields = lines[first].split(",").map((f) => f.trim().toLowerCase());
    if (fields.join(",") !== ORACLE_COLUMNS.join(",")) {
      const at = { file, line: first + 1, column: 1, columnName: ORACLE_COLUMNS[0] };
      throw new BadHeaderError(at, lines[first].trim(), ORACLE_COLUMNS, "required");
    }
  }
  const series = parseOracleCsv(text, file);
  return {
    event: USER_PATH_EVENT,
    symbol,
    source: file,
    stylised: false,
    quote: "as given",
    resolution: "irregular",
    points: series.rounds,
    gaps: [],
    sampling: "as-given",
  };
}

/** The paths of the given files, one market each; `symbols` (one per file) overrides the file names'. */
export function loadUserPaths(files: readonly string[], symbols?: readonly string[]): PricePath[] {
  if (files.length === 0) throw new UserPathError("--path needs at least one file");
  if (symbols !== undefined && symbols.length !== files.length) {
    throw new UserPathError(
      `--symbol names ${symbols.length} symbol(s) for ${files.length} file(s); give one per file, comma-separated`,
    );
  }
  return files.map((file, k) => {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UserPathError(`cannot read ${file}: ${(e as Error).message}`);
    }
    return parseUserPath(text, file, symbols?.[k] ?? symbolFromFileName(file));
  });
}
