/**
 * Crash data layer: the loaders read every real file of the catalogue with the key levels of
 * SOURCES.md exactly, refuse each kind of malformed file with an error naming file, line and
 * column, and the stylised scenarios exist for all six events and say that they are stylised.
 *
 * Real files come from CRASH_DATA_DIR (CI sets it). Without it the real-data tests fall back to
 * ../shared/data/crashes next to the repository, saying so in their title, or are skipped with a
 * warning when that is absent too.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { expect } from "chai";

import {
  CRASH_EVENTS,
  CRASH_EVENT_IDS,
  crashEvent,
  describeEvent,
  eventFiles,
  loadEvent,
  resolveCrashDataDir,
} from "../../scripts/replay/data/catalogue.js";
import { exactWad as formatWad, parseDecimalWad } from "../../scripts/replay/decimal.js";
import {
  BadHeaderError,
  CrashDataDirError,
  CrashDataFileMissingError,
  DuplicateTimestampError,
  EmptyDataFileError,
  ExtraColumnError,
  InvalidDecimalError,
  MalformedDataError,
  MissingColumnError,
  NonPositivePriceError,
  NotANumberError,
  OffGridTimestampError,
  OhlcOrderError,
  PathJoinError,
  UnknownEventError,
  UnsortedTimestampError,
} from "../../scripts/replay/data/errors.js";
import {
  type OhlcSeries,
  isoUtc,
  ohlcPath,
  parseOhlcCsv,
  parseOracleCsv,
  readOhlcFile,
  readOracleFile,
} from "../../scripts/replay/data/loaders.js";
import { clipPath, joinPaths } from "../../scripts/replay/data/paths.js";
import { STYLISED_SCENARIOS, interpolateAnchors, stylisedPaths } from "../../scripts/replay/data/stylised.js";
import type { PricePath, PricePoint } from "../../scripts/replay/types.js";

const E18 = 10n ** 18n;
/** a price given in hundredths (362181n = 3621.81), as WAD, built without the parser under test */
const cents = (hundredths: bigint): bigint => (hundredths * E18) / 100n;
const at = (iso: string): number => Date.parse(iso) / 1000;

const ENV_DIR = process.env.CRASH_DATA_DIR;
const FALLBACK_DIR = resolve(import.meta.dirname, "../../../shared/data/crashes");
const DATA_DIR =
  ENV_DIR !== undefined && ENV_DIR !== "" ? ENV_DIR : existsSync(FALLBACK_DIR) ? FALLBACK_DIR : undefined;
const DATA_NOTE =
  ENV_DIR !== undefined && ENV_DIR !== ""
    ? `CRASH_DATA_DIR=${ENV_DIR}`
    : DATA_DIR !== undefined
      ? `CRASH_DATA_DIR IS NOT SET: falling back to ${FALLBACK_DIR}`
      : "CRASH_DATA_DIR IS NOT SET and ../shared/data/crashes is absent: SKIPPED";
if (ENV_DIR === undefined || ENV_DIR === "") console.warn(`replay.data.test: ${DATA_NOTE}`);

function lowest(points: readonly PricePoint[]): PricePoint {
  return points.reduce((low, point) => (point.priceWad < low.priceWad ? point : low));
}

function minLow(series: OhlcSeries) {
  return series.bars.reduce((low, bar) => (bar.lowWad < low.lowWad ? bar : low));
}

function expectStrictlyIncreasing(points: readonly PricePoint[]): void {
  for (let i = 1; i < points.length; i++) expect(points[i].t, `point ${i}`).to.be.greaterThan(points[i - 1].t);
}

describe(`replay data: real crash files (${DATA_NOTE})`, function () {
  let dir: string;
  const file = (name: string) => join(dir, name);

  before(function () {
    if (DATA_DIR === undefined) {
      // CI always has the data (.ci/run sets CRASH_DATA_DIR); the loaders' parsing and validation are
      // covered without it by the malformed-file and stylised tests below.
      console.warn(
        "replay.data.test: SKIPPED the real-file tests: no CRASH_DATA_DIR and no ../shared/data/crashes. " +
          "Set CRASH_DATA_DIR to the crash-data directory to run them (CI does).",
      );
      this.skip();
    }
    dir = DATA_DIR;
  });

  it("every file of the catalogue is in the directory, named in SOURCES.md, and loads with the row count it states", function () {
    const rows: Record<string, number> = {
      "btc-usdt-perp-2020-03-12-1m-leg1.csv": 419,
      "btc-usdt-perp-2020-03-13-1m-leg2.csv": 540,
      "btc-usdt-perp-2021-05-19-1m.csv": 134,
      "btc-usdt-perp-2022-06-13-1m.csv": 1440,
      "steth-eth-2022-06-chainlink.csv": 78,
      "btc-usdt-perp-2022-11-09-1m.csv": 2160,
      "btc-usdt-perp-2023-03-10-1m.csv": 1440,
      "usdc-usd-2023-03-11-chainlink.csv": 291,
      "btc-usdt-perp-2025-10-10-1m.csv": 130,
    };
    const sources = existsSync(file("SOURCES.md")) ? readFileSync(file("SOURCES.md"), "utf8") : undefined;
    const all = CRASH_EVENT_IDS.flatMap((id) => eventFiles(id));
    expect([...all].sort()).to.deep.equal(Object.keys(rows).sort());
    for (const event of CRASH_EVENTS) {
      for (const segment of event.series.flatMap((series) => series.segments)) {
        if (sources !== undefined) expect(sources, segment.file).to.include(segment.file);
        const count =
          segment.format === "oracle"
            ? readOracleFile(file(segment.file)).rounds.length
            : readOhlcFile(file(segment.file), { resolution: segment.resolution as number }).bars.length;
        expect(count, segment.file).to.equal(rows[segment.file]);
      }
    }
  });

  it("Black Thursday: leg 2 holds the perp low 3621.81 at 2020-03-13 02:16 UTC; the legs cover 10:00-16:58 and 20:00-04:59", function () {
    const leg1 = readOhlcFile(file("btc-usdt-perp-2020-03-12-1m-leg1.csv"));
    const leg2 = readOhlcFile(file("btc-usdt-perp-2020-03-13-1m-leg2.csv"));
    expect(leg1.resolution).to.equal(60);
    expect(leg1.bars[0].t).to.equal(at("2020-03-12T10:00:00Z"));
    expect(leg1.bars.at(-1)!.t).to.equal(at("2020-03-12T16:58:00Z"));
    expect(leg2.bars[0].t).to.equal(at("2020-03-12T20:00:00Z"));
    expect(leg2.bars.at(-1)!.t).to.equal(at("2020-03-13T04:59:00Z"));
    const low = minLow(leg2);
    expect(low.lowWad).to.equal(cents(362181n));
    expect(low.t).to.equal(at("2020-03-13T02:16:00Z"));
    expect(minLow(leg1).lowWad).to.be.greaterThan(low.lowWad);
  });

  it("Black Thursday: the event path joins the legs with one marked hold over 16:59-20:00 and no invented point in it", function () {
    for (const mode of ["close", "low-inclusive"] as const) {
      const [btc] = loadEvent("black-thursday-2020", { dataDir: dir, mode });
      expect(btc.source).to.equal("btc-usdt-perp-2020-03-12-1m-leg1.csv + btc-usdt-perp-2020-03-13-1m-leg2.csv");
      expect(btc.gaps).to.have.length(1);
      const [gap] = btc.gaps!;
      expect([gap.from, gap.to]).to.deep.equal([at("2020-03-12T16:59:00Z"), at("2020-03-12T20:00:00Z")]);
      expect(gap.reason).to.match(/held, not observed/);
      expect(btc.points.filter((point) => point.t > gap.from && point.t < gap.to)).to.deep.equal([]);
      expectStrictlyIncreasing(btc.points);
    }
  });

  it("low-inclusive mode sees the Black Thursday wick; close mode sees only the closes, each at its bar's end", function () {
    const [wicks] = loadEvent("black-thursday-2020", { dataDir: dir, mode: "low-inclusive" });
    const bottom = lowest(wicks.points);
    expect(bottom.priceWad).to.equal(cents(362181n));
    expect(bottom.t).to.be.within(at("2020-03-13T02:16:00Z"), at("2020-03-13T02:16:59Z"));
    const [closes] = loadEvent("black-thursday-2020", { dataDir: dir });
    expect(closes.sampling).to.equal("close");
    expect(lowest(closes.points).priceWad).to.be.greaterThan(cents(362181n));
    expect(closes.points[0]).to.deep.equal({ t: at("2020-03-12T10:00:00Z"), priceWad: cents(735851n) });
    expect(closes.points.at(-1)!.t).to.equal(at("2020-03-13T05:00:00Z"));
  });

  it("2021-05-19: perp low 28688.00 at 13:10", function () {
    const series = readOhlcFile(file("btc-usdt-perp-2021-05-19-1m.csv"));
    const low = minLow(series);
    expect(low.lowWad).to.equal(28688n * E18);
    expect(low.t).to.equal(at("2021-05-19T13:10:00Z"));
  });

  it("2022-06-13: perp opens 26564.70, low 21900.00 at 23:33, closes 22471.50", function () {
    const series = readOhlcFile(file("btc-usdt-perp-2022-06-13-1m.csv"));
    expect(series.bars[0].openWad).to.equal(cents(2656470n));
    expect(series.bars.at(-1)!.closeWad).to.equal(cents(2247150n));
    const low = minLow(series);
    expect(low.lowWad).to.equal(21900n * E18);
    expect(low.t).to.equal(at("2022-06-13T23:33:00Z"));
  });

  it("stETH/ETH: low 0.93502 on 06-18 09:09; on 06-13 the path holds the 06-12 round, then 0.94098 at 08:42 and 0.96227 at 21:01", function () {
    const rounds = readOracleFile(file("steth-eth-2022-06-chainlink.csv")).rounds;
    expect(lowest(rounds)).to.deep.equal({ t: at("2022-06-18T09:09:38Z"), priceWad: 935019330000000000n });
    const [, steth] = loadEvent("june-2022", { dataDir: dir });
    expect(steth).to.include({ symbol: "stETH", quote: "ETH", resolution: "irregular", sampling: "oracle-rounds" });
    expect(steth.points).to.deep.equal([
      { t: at("2022-06-13T00:00:00Z"), priceWad: 960718355320491500n },
      { t: at("2022-06-13T08:42:44Z"), priceWad: 940974924073828400n },
      { t: at("2022-06-13T21:01:45Z"), priceWad: 962272040061608300n },
    ]);
    const [, unclipped] = loadEvent("june-2022", { dataDir: dir, clip: false });
    expect(unclipped.points).to.have.length(78);
  });

  it("FTX: perp wick 16830.00 at 11-08 19:32 and 19:33, low 15462.60 at 11-09 22:08", function () {
    const series = readOhlcFile(file("btc-usdt-perp-2022-11-09-1m.csv"));
    const low = minLow(series);
    expect(low.lowWad).to.equal(cents(1546260n));
    expect(low.t).to.equal(at("2022-11-09T22:08:00Z"));
    const firstDay = series.bars.filter((bar) => bar.t < at("2022-11-09T00:00:00Z"));
    const dip = firstDay.filter((bar) => bar.lowWad === 16830n * E18).map((bar) => isoUtc(bar.t));
    expect(dip).to.deep.equal(["2022-11-08T19:32:00Z", "2022-11-08T19:33:00Z"]);
    expect(minLow({ ...series, bars: firstDay }).lowWad).to.equal(16830n * E18);
  });

  it("USDC depeg: Chainlink low 0.88 at 03-11 07:51, file stops at 03-12 08:49 near 0.954; BTC perp low 19521.60 at 03-10 10:48", function () {
    const usdc = readOracleFile(file("usdc-usd-2023-03-11-chainlink.csv")).rounds;
    const low = lowest(usdc);
    expect(low.priceWad).to.equal(88n * 10n ** 16n);
    expect(isoUtc(low.t).slice(0, 16)).to.equal("2023-03-11T07:51");
    expect(isoUtc(usdc.at(-1)!.t).slice(0, 16)).to.equal("2023-03-12T08:49");
    expect(usdc.at(-1)!.priceWad).to.equal(954340300000000000n);
    const btc = readOhlcFile(file("btc-usdt-perp-2023-03-10-1m.csv"));
    expect(btc.bars[0].openWad).to.equal(cents(2034840n));
    expect(btc.bars.at(-1)!.closeWad).to.equal(cents(2014030n));
    expect(minLow(btc)).to.include({ lowWad: cents(1952160n), t: at("2023-03-10T10:48:00Z") });
  });

  it("USDC depeg event: USDC is the collateral path; BTC's hold after its one day is marked to the window end", function () {
    const [btc, usdc] = loadEvent("usdc-depeg-2023", { dataDir: dir });
    expect(usdc).to.include({ symbol: "USDC", quote: "USD", stylised: false });
    expect(crashEvent("usdc-depeg-2023").series[1].role).to.equal("collateral");
    expect(btc.gaps).to.deep.equal([
      {
        from: at("2023-03-11T00:00:00Z"),
        to: at("2023-03-12T09:00:00Z"),
        reason:
          "btc-usdt-perp-2023-03-10-1m.csv ends at 2023-03-11T00:00:00Z; its last price is held to the end of " +
          "the event window (2023-03-12T09:00:00Z)",
      },
    ]);
    expect(usdc.points[0].t).to.equal(at("2023-03-10T00:00:00Z"));
  });

  it("2025-10-10: perp low 101516.5 at 21:20", function () {
    const series = readOhlcFile(file("btc-usdt-perp-2025-10-10-1m.csv"));
    expect(minLow(series)).to.include({ lowWad: 1015165n * 10n ** 17n, t: at("2025-10-10T21:20:00Z") });
  });

  it("every event loads in both modes: labelled, not stylised, in time order, inside its window", function () {
    for (const id of CRASH_EVENT_IDS) {
      const event = crashEvent(id);
      for (const mode of ["close", "low-inclusive"] as const) {
        const paths = loadEvent(id, { dataDir: dir, mode });
        expect(paths.map((path) => `${path.symbol}/${path.quote}`)).to.deep.equal(
          event.series.map((series) => `${series.symbol}/${series.quote}`),
        );
        for (const path of paths) {
          expect(path).to.include({ event: id, stylised: false });
          expect(path.points.length).to.be.greaterThan(0);
          expectStrictlyIncreasing(path.points);
          expect(path.points[0].t).to.be.at.least(event.window.start);
          expect(path.points.at(-1)!.t).to.be.at.most(event.window.end);
          for (const point of path.points) expect(point.priceWad > 0n).to.equal(true);
        }
      }
      expect(describeEvent(id)).to.include(event.series[0].segments[0].file);
    }
  });

  it("a broken file in a data directory is refused naming that file, line and column", function () {
    const scratch = mkdtempSync(join(tmpdir(), "crash-data-"));
    try {
      const name = "btc-usdt-perp-2021-05-19-1m.csv";
      const lines = readFileSync(file(name), "utf8").split("\n");
      lines[10] = lines[10].replace(/^(\d+),([^,]+),/, "$1,$2x,");
      writeFileSync(join(scratch, name), lines.join("\n"));
      expect(() => loadEvent("may-2021", { dataDir: scratch }))
        .to.throw(NotANumberError)
        .that.includes({ file: join(scratch, name), line: 11, column: 2, columnName: "open" });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe("replay data: decimal parsing to WAD", function () {
  it("parses plain decimals exactly, with up to 18 decimals", function () {
    expect(parseDecimalWad("7351.00")).to.equal(7351n * E18);
    expect(parseDecimalWad("0.93501933")).to.equal(935019330000000000n);
    expect(parseDecimalWad("0.000000000000000001")).to.equal(1n);
    expect(parseDecimalWad("00012.5")).to.equal(125n * 10n ** 17n);
    expect(parseDecimalWad("123456789012345678901234567890.123456789012345678")).to.equal(
      123456789012345678901234567890123456789012345678n,
    );
  });

  it("refuses what a float parser would take: signs, exponents, blanks, bare dots, 19 decimals", function () {
    const refused: Record<string, RegExp> = {
      "-1": /signs/,
      "+1": /signs/,
      "1e3": /exponents/,
      "1E-3": /exponents/,
      "": /empty/,
      " 1": /whitespace/,
      ".5": /both sides/,
      "5.": /both sides/,
      "1.0000000000000000001": /19 decimals/,
      "0x10": /only digits/,
      "1,5": /only digits/,
      NaN: /only digits/,
      Infinity: /only digits/,
    };
    for (const [text, reason] of Object.entries(refused)) {
      expect(() => parseDecimalWad(text), text).to.throw(InvalidDecimalError, reason);
    }
  });

  it("formats WAD back to the shortest exact decimal", function () {
    expect(formatWad(7351n * E18)).to.equal("7351");
    expect(formatWad(935019330000000000n)).to.equal("0.93501933");
    expect(formatWad(1n)).to.equal("0.000000000000000001");
    expect(formatWad(-15n * 10n ** 17n)).to.equal("-1.5");
    for (const text of ["3621.81", "101516.5", "0.9409749240738284", "1"]) {
      expect(formatWad(parseDecimalWad(text))).to.equal(text);
    }
  });
});

describe("replay data: malformed files are refused with file, line and column", function () {
  let scratch: string;
  const HEADER = "timestamp,open,high,low,close,volume";
  const GOOD = ["1584007200,100,110,90,105,1.5", "1584007260,105,108,101,102,2"];

  before(function () {
    scratch = mkdtempSync(join(tmpdir(), "crash-malformed-"));
  });
  after(function () {
    rmSync(scratch, { recursive: true, force: true });
  });

  function ohlcFile(name: string, rows: readonly string[], header = true): string {
    const path = join(scratch, name);
    writeFileSync(path, `${[...(header ? [HEADER] : []), ...rows].join("\n")}\n`);
    return path;
  }

  function refuse<E extends MalformedDataError>(
    read: () => unknown,
    type: abstract new (...args: never[]) => E,
    line: number,
    column: number,
    columnName: string,
    message: RegExp,
  ): E {
    let caught: unknown;
    try {
      read();
    } catch (error) {
      caught = error;
    }
    expect(caught, "no error thrown").to.be.instanceOf(type);
    const error = caught as E;
    expect({ line: error.line, column: error.column, columnName: error.columnName }).to.deep.equal({
      line,
      column,
      columnName,
    });
    expect(error.message).to.match(message);
    expect(error.message.startsWith(`${error.file}:${line}`)).to.equal(true);
    return error;
  }

  it("reads a good file with or without the header row, and with CRLF line ends", function () {
    const withHeader = readOhlcFile(ohlcFile("good.csv", GOOD));
    const without = readOhlcFile(ohlcFile("good-noheader.csv", GOOD, false));
    const crlf = parseOhlcCsv(`${HEADER}\r\n${GOOD.join("\r\n")}\r\n`, "crlf.csv");
    expect(without.bars).to.deep.equal(withHeader.bars);
    expect(crlf.bars).to.deep.equal(withHeader.bars);
    expect(withHeader.resolution).to.equal(60);
    expect(withHeader.bars[0]).to.deep.equal({
      t: 1584007200,
      openWad: 100n * E18,
      highWad: 110n * E18,
      lowWad: 90n * E18,
      closeWad: 105n * E18,
      volumeWad: 15n * 10n ** 17n,
    });
  });

  it("missing column", function () {
    const path = ohlcFile("missing.csv", [GOOD[0], "1584007260,105,108,101,102"]);
    const error = refuse(() => readOhlcFile(path), MissingColumnError, 3, 6, "volume", /missing column "volume"/);
    expect(error.file).to.equal(path);
  });

  it("extra column", function () {
    const path = ohlcFile("extra.csv", [GOOD[0], `${GOOD[1]},7`]);
    refuse(() => readOhlcFile(path), ExtraColumnError, 3, 7, "", /row has 7 fields, the format has 6/);
  });

  it("unsorted timestamps", function () {
    const path = ohlcFile("unsorted.csv", [GOOD[1], GOOD[0]]);
    refuse(() => readOhlcFile(path), UnsortedTimestampError, 3, 1, "timestamp", /before 1584007260 on line 2/);
  });

  it("duplicate timestamp", function () {
    const path = ohlcFile("duplicate.csv", [GOOD[0], GOOD[0].replace(",1.5", ",3")]);
    const error = refuse(() => readOhlcFile(path), DuplicateTimestampError, 3, 1, "timestamp", /repeats line 2/);
    expect(error.previousLine).to.equal(2);
  });

  it("zero price", function () {
    const path = ohlcFile("zero.csv", [GOOD[0], "1584007260,0,108,0,102,2"]);
    refuse(() => readOhlcFile(path), NonPositivePriceError, 3, 2, "open", /open 0 is not positive/);
  });

  it("negative price", function () {
    const path = ohlcFile("negative.csv", [GOOD[0], "1584007260,105,108,-101,102,2"]);
    refuse(() => readOhlcFile(path), NonPositivePriceError, 3, 4, "low", /low -101 is not positive/);
  });

  it("garbage number", function () {
    const path = ohlcFile("garbage.csv", [GOOD[0], "1584007260,105,108,101,1o2,2"]);
    refuse(() => readOhlcFile(path), NotANumberError, 3, 5, "close", /"1o2" is not a valid close: only digits/);
  });

  it("exponent, sign and 19 decimals are refused as numbers", function () {
    const exponent = ohlcFile("exponent.csv", ["1584007200,1e2,110,90,105,1"]);
    refuse(() => readOhlcFile(exponent, { resolution: 60 }), NotANumberError, 2, 2, "open", /exponents/);
    const plus = ohlcFile("plus.csv", ["1584007200,100,+110,90,105,1"]);
    refuse(() => readOhlcFile(plus, { resolution: 60 }), NotANumberError, 2, 3, "high", /signs/);
    const fine = ohlcFile("fine.csv", ["1584007200,100,110,90,105,0.0000000000000000001"]);
    refuse(() => readOhlcFile(fine, { resolution: 60 }), NotANumberError, 2, 6, "volume", /19 decimals/);
  });

  it("high below low, and open or close outside the range", function () {
    const inverted = ohlcFile("inverted.csv", [GOOD[0], "1584007260,105,100,110,102,2"]);
    refuse(() => readOhlcFile(inverted), OhlcOrderError, 3, 3, "high", /high 100 is below low 110/);
    const openAbove = ohlcFile("open-above.csv", [GOOD[0], "1584007260,109,108,101,102,2"]);
    refuse(() => readOhlcFile(openAbove), OhlcOrderError, 3, 2, "open", /open 109 is above high 108/);
    const closeBelow = ohlcFile("close-below.csv", [GOOD[0], "1584007260,105,108,101,100,2"]);
    refuse(() => readOhlcFile(closeBelow), OhlcOrderError, 3, 5, "close", /close 100 is below low 101/);
  });

  it("milliseconds, a foreign header, an empty file, and bars off the declared grid", function () {
    const millis = ohlcFile("millis.csv", ["1584007200000,100,110,90,105,1"]);
    refuse(() => readOhlcFile(millis, { resolution: 60 }), NotANumberError, 2, 1, "timestamp", /milliseconds/);
    const header = join(scratch, "header.csv");
    writeFileSync(header, `time,o,h,l,c,v\n${GOOD.join("\n")}\n`);
    refuse(() => readOhlcFile(header), BadHeaderError, 1, 1, "timestamp", /unexpected header/);
    const empty = ohlcFile("empty.csv", []);
    expect(() => readOhlcFile(empty)).to.throw(EmptyDataFileError, /no data rows/);
    const offGrid = ohlcFile("off-grid.csv", [GOOD[0], GOOD[1].replace("1584007260", "1584007290")]);
    refuse(() => readOhlcFile(offGrid, { resolution: 60 }), OffGridTimestampError, 3, 1, "timestamp", /90 s/);
  });

  it("oracle files: missing price, zero price, unsorted rounds", function () {
    const write = (name: string, body: string) => {
      const path = join(scratch, name);
      writeFileSync(path, body);
      return path;
    };
    const good = parseOracleCsv("1678341635,1\n1678428059,1.00019\n", "rounds.csv");
    expect(good.rounds).to.deep.equal([
      { t: 1678341635, priceWad: E18 },
      { t: 1678428059, priceWad: 1000190000000000000n },
    ]);
    const missing = write("oracle-missing.csv", "timestamp,price\n1678341635,1\n1678428059\n");
    refuse(() => readOracleFile(missing), MissingColumnError, 3, 2, "price", /missing column "price"/);
    const zero = write("oracle-zero.csv", "timestamp,price\n1678341635,0.000\n");
    refuse(() => readOracleFile(zero), NonPositivePriceError, 2, 2, "price", /not positive/);
    const unsorted = write("oracle-unsorted.csv", "1678428059,1\n1678341635,1\n");
    refuse(() => readOracleFile(unsorted), UnsortedTimestampError, 2, 1, "timestamp", /before 1678428059/);
  });
});

describe("replay data: bars to paths", function () {
  // a down bar, an up bar, then two missing minutes, then one more bar
  const series = parseOhlcCsv(
    ["0,100,104,95,97,1", "60,97,103,96,102,1", "240,102,102,99,100,1"].join("\n"),
    "bars.csv",
  );
  const label = { event: "test", symbol: "BTC", quote: "USDT", source: "bars.csv" };
  const p = (t: number, price: bigint): PricePoint => ({ t, priceWad: price * E18 });

  it("close mode: first open, then each close at its bar's end; after missing bars the next open too, and the gap is marked", function () {
    const path = ohlcPath(series, label);
    expect(path.points).to.deep.equal([p(0, 100n), p(60, 97n), p(120, 102n), p(240, 102n), p(300, 100n)]);
    expect(path.gaps).to.deep.equal([
      { from: 120, to: 240, reason: `no bars from ${isoUtc(120)} to ${isoUtc(240)} in bars.csv` },
    ]);
    expect(path).to.include({ resolution: 60, sampling: "close", stylised: false });
  });

  it("low-inclusive mode: down bars open -> high -> low -> close, up bars open -> low -> high -> close, at t, r/4, r/2, 3r/4", function () {
    const path = ohlcPath(series, label, "low-inclusive");
    expect(path.points).to.deep.equal([
      ...[p(0, 100n), p(15, 104n), p(30, 95n), p(45, 97n)],
      ...[p(60, 97n), p(75, 96n), p(90, 103n), p(105, 102n)],
      ...[p(240, 102n), p(255, 102n), p(270, 99n), p(285, 100n)],
    ]);
  });

  it("joins segments with a marked hold, refuses overlaps, and clips carrying the price in force", function () {
    const a: PricePath = { ...ohlcPath(series, label), points: [p(0, 1n), p(60, 2n)], gaps: [] };
    const b: PricePath = { ...a, source: "b.csv", points: [p(600, 3n), p(660, 4n)] };
    const joined = joinPaths(
      [
        { path: a, end: 60 },
        { path: b, end: 720 },
      ],
      () => "between files",
    );
    expect(joined.end).to.equal(720);
    expect(joined.path.gaps).to.deep.equal([{ from: 60, to: 600, reason: "between files" }]);
    expect(joined.path.source).to.equal("bars.csv + b.csv");
    expect(() =>
      joinPaths(
        [
          { path: b, end: 720 },
          { path: a, end: 60 },
        ],
        () => "",
      ),
    ).to.throw(PathJoinError, /before the previous segment ends/);
    const clipped = clipPath(joined, 30, 900);
    expect(clipped.points).to.deep.equal([p(30, 1n), p(60, 2n), p(600, 3n), p(660, 4n)]);
    expect(clipped.gaps!.map((gap) => [gap.from, gap.to])).to.deep.equal([
      [60, 600],
      [720, 900],
    ]);
  });
});

describe("replay data: catalogue errors say what to do", function () {
  it("no directory: names CRASH_DATA_DIR", function () {
    const saved = process.env.CRASH_DATA_DIR;
    delete process.env.CRASH_DATA_DIR;
    try {
      expect(() => loadEvent("may-2021")).to.throw(
        CrashDataDirError,
        /CRASH_DATA_DIR is not set\. Point CRASH_DATA_DIR \(or the replay's --data-dir <dir>\).*add --stylised/,
      );
      expect(() => resolveCrashDataDir("/nonexistent/crash-data")).to.throw(CrashDataDirError, /does not exist/);
    } finally {
      if (saved !== undefined) process.env.CRASH_DATA_DIR = saved;
    }
  });

  it("a directory without the file: names the file, the event and the layout CRASH_DATA_DIR must have", function () {
    const scratch = mkdtempSync(join(tmpdir(), "crash-empty-"));
    try {
      expect(() => loadEvent("black-thursday-2020", { dataDir: scratch }))
        .to.throw(CrashDataFileMissingError)
        .that.satisfies((error: CrashDataFileMissingError) => {
          expect(error.file).to.equal("btc-usdt-perp-2020-03-12-1m-leg1.csv");
          expect(error.message).to.include(`is not in ${scratch}`);
          expect(error.message).to.include('"black-thursday-2020"');
          expect(error.message).to.include("CRASH_DATA_DIR must point at a directory");
          return true;
        });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it("an unknown event lists the known ones", function () {
    expect(() => loadEvent("luna-2022")).to.throw(UnknownEventError, /known events: black-thursday-2020, may-2021/);
  });
});

describe("replay data: stylised scenarios", function () {
  it("exist for all six events, marked stylised, 50-200 points, with the catalogue's symbols and quotes", function () {
    expect(Object.keys(STYLISED_SCENARIOS).sort()).to.deep.equal([...CRASH_EVENT_IDS].sort());
    for (const id of CRASH_EVENT_IDS) {
      const paths = stylisedPaths(id);
      expect(paths.map((path) => `${path.symbol}/${path.quote}`)).to.deep.equal(
        crashEvent(id).series.map((series) => `${series.symbol}/${series.quote}`),
      );
      for (const path of paths) {
        expect(path).to.include({ event: id, source: "stylised", stylised: true, sampling: "stylised" });
        expect(path.points.length, `${id} ${path.symbol}`).to.be.within(50, 200);
        expectStrictlyIncreasing(path.points);
        for (const point of path.points) expect(point.priceWad > 0n).to.equal(true);
      }
    }
  });

  it("reach each event's trough figure at its time", function () {
    const troughs: Record<string, [string, bigint]> = {
      "black-thursday-2020": ["2020-03-13T02:16:00Z", cents(362181n)],
      "may-2021": ["2021-05-19T13:10:00Z", 28688n * E18],
      "june-2022": ["2022-06-13T23:33:00Z", 21900n * E18],
      "ftx-2022": ["2022-11-09T22:08:00Z", cents(1546260n)],
      "usdc-depeg-2023": ["2023-03-10T10:48:00Z", cents(1952160n)],
      "october-2025": ["2025-10-10T21:20:00Z", 1015165n * 10n ** 17n],
    };
    for (const [id, [time, price]] of Object.entries(troughs)) {
      expect(lowest(stylisedPaths(id)[0].points), id).to.deep.equal({ t: at(time), priceWad: price });
    }
    const usdc = stylisedPaths("usdc-depeg-2023")[1];
    expect(lowest(usdc.points)).to.deep.equal({ t: at("2023-03-11T07:51:00Z"), priceWad: 88n * 10n ** 16n });
  });

  it("interpolate in bigint, rounding toward the earlier anchor, deterministically", function () {
    const rising = interpolateAnchors(
      [
        [0, "1"],
        [3, "2"],
      ],
      1000,
      1,
      "linear",
    );
    expect(rising).to.deep.equal([
      { t: 1000, priceWad: E18 },
      { t: 1060, priceWad: 1333333333333333333n },
      { t: 1120, priceWad: 1666666666666666666n },
      { t: 1180, priceWad: 2n * E18 },
    ]);
    const falling = interpolateAnchors(
      [
        [0, "2"],
        [3, "1"],
      ],
      0,
      1,
      "linear",
    );
    expect(falling.map((point) => point.priceWad)).to.deep.equal([
      2n * E18,
      1666666666666666667n,
      1333333333333333334n,
      E18,
    ]);
    const held = interpolateAnchors(
      [
        [0, "0.97"],
        [5, "0.94"],
        [7, "0.94"],
      ],
      0,
      2,
      "hold",
    );
    expect(held.map((point) => [point.t / 60, formatWad(point.priceWad)])).to.deep.equal([
      [0, "0.97"],
      [2, "0.97"],
      [4, "0.97"],
      [5, "0.94"],
      [6, "0.94"],
      [7, "0.94"],
    ]);
    expect(stylisedPaths("ftx-2022")).to.deep.equal(stylisedPaths("ftx-2022"));
    expect(() =>
      interpolateAnchors(
        [
          [0, "1"],
          [0, "2"],
        ],
        0,
        1,
        "linear",
      ),
    ).to.throw(RangeError, /strictly increase/);
  });
});
