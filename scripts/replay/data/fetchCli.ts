/**
 * `npm run data:fetch -- --symbol BTCUSDT --interval 1m --date 2020-03-12 [--market futures|spot]
 *  [--out data/fetched] [--base-url URL]`
 *
 * Downloads one day of Binance klines into the git-ignored data/fetched/ folder (see ../fetch.ts).
 * Point CRASH_DATA_DIR-style tools at that folder or load the file with readOhlcFile.
 */
import { Command } from "commander";

import { BINANCE_ARCHIVE_URL, DEFAULT_FETCH_DIR, fetchKlines, parseFetchKlinesOptions } from "../fetch.js";
import { CrashDataError } from "./errors.js";
import { isoUtc } from "./loaders.js";

const program = new Command()
  .name("data:fetch")
  .description("Download one UTC day of Binance klines and write it as timestamp,open,high,low,close,volume")
  .requiredOption("--symbol <symbol>", "Binance symbol, e.g. BTCUSDT")
  .requiredOption("--date <YYYY-MM-DD>", "UTC day")
  .option("--interval <interval>", "kline interval (1s, 1m, 3m, 5m, 15m, 30m, 1h, ..., 1d)", "1m")
  .option("--market <market>", "futures (USDⓈ-M perpetual) or spot", "futures")
  .option("--out <dir>", "output directory", DEFAULT_FETCH_DIR)
  .option("--base-url <url>", "archive server", BINANCE_ARCHIVE_URL)
  .option("--timeout <ms>", "timeout of each request in milliseconds", "60000")
  .parse();

const options = program.opts<{
  symbol: string;
  date: string;
  interval: string;
  market: string;
  out: string;
  baseUrl: string;
  timeout: string;
}>();

try {
  const config = parseFetchKlinesOptions({
    symbol: options.symbol,
    date: options.date,
    interval: options.interval,
    market: options.market,
    outDir: options.out,
    baseUrl: options.baseUrl,
    timeoutMs: Number(options.timeout),
  });
  const result = await fetchKlines(config);
  console.log(
    `wrote ${result.file}: ${result.rows} bars, ${isoUtc(result.first)} .. ${isoUtc(result.last)} (from ${result.url})`,
  );
  if (result.checksum === "verified") console.log("sha256 matches the published .CHECKSUM");
  else console.warn("warning: the server publishes no .CHECKSUM for this archive; it was not verified");
} catch (error) {
  if (!(error instanceof CrashDataError)) throw error;
  console.error(`data:fetch: ${error.message}`);
  process.exitCode = 1;
}
