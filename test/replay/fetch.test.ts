/**
 * data:fetch against a local archive server: a node:http server on 127.0.0.1 (port 0) serves zips
 * this test builds itself (deflateRawSync plus a small zip writer) in the data.binance.vision
 * layout, with their .CHECKSUM files. Every request the code makes goes through a fetch that
 * refuses anything but loopback, and the server logs what it served.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { crc32, deflateRawSync } from "node:zlib";

import { expect } from "chai";

import { readOhlcFile } from "../../scripts/replay/data/loaders.js";
import {
  ArchiveNotFoundError,
  BadChecksumFileError,
  BadZipError,
  ChecksumMismatchError,
  CrashDataError,
  HttpError,
  InvalidFetchOptionsError,
  OhlcOrderError,
} from "../../scripts/replay/data/errors.js";
import { readSingleFileZip } from "../../scripts/replay/data/zip.js";
import {
  type FetchKlinesOptions,
  fetchKlines,
  fetchedFileName,
  klineArchiveUrl,
  parseFetchKlinesOptions,
} from "../../scripts/replay/fetch.js";

const REPO = resolve(import.meta.dirname, "../..");

/** A zip with the given files, deflated (method 8) unless `stored`. */
function buildZip(files: { name: string; data: Buffer; stored?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data, stored = false } of files) {
    const nameBytes = Buffer.from(name, "utf8");
    const body = stored ? data : deflateRawSync(data);
    const method = stored ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

// Binance futures archives carry this header; spot archives have none.
const FUTURES_HEADER =
  "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore";
// Three made-up 1m bars in the 12-column layout, open times in milliseconds.
const FUTURES_CSV = [
  FUTURES_HEADER,
  "1584007200000,7358.51,7360.23,7351.00,7358.70,197.546,1584007259999,1453541.1,1000,98.1,722000.5,0",
  "1584007260000,7358.02,7363.16,7356.07,7356.51,107.141,1584007319999,788500.2,800,50.0,368000.0,0",
  "1584007320000,7356.50,7357.00,7300.00,7310.10,250.000,1584007379999,1830000.0,1500,120.0,878000.0,0",
].join("\n");
// Spot from 2025: no header, open times in microseconds, 8-decimal prices.
const SPOT_CSV = [
  "1760128080000000,117050.01000000,117103.10000000,116980.60000000,116986.40000000,2.48017000,1760128139999999,290000.1,300,1.2,140000.0,0",
  "1760128140000000,116986.50000000,117014.00000000,116952.30000000,117014.00000000,0.51767000,1760128199999999,60000.2,80,0.3,35000.0,0",
].join("\r\n");

const FUTURES_PATH = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-03-12.zip";
const SPOT_PATH = "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-10-10.zip";

describe("replay data: data:fetch against a local archive server", function () {
  let server: Server;
  let baseUrl: string;
  let outDir: string;
  const routes = new Map<string, { status: number; body: Buffer }>();
  const served: string[] = [];

  /** global fetch, refusing any host but 127.0.0.1 */
  const loopbackFetch: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== "127.0.0.1") throw new Error(`test tried to leave loopback: ${url.href}`);
    return fetch(input, init);
  };

  const options = (overrides: Partial<FetchKlinesOptions> = {}): FetchKlinesOptions => ({
    symbol: "BTCUSDT",
    interval: "1m",
    date: "2020-03-12",
    market: "futures",
    outDir,
    baseUrl,
    timeoutMs: 10_000,
    ...overrides,
  });

  function serve(path: string, body: Buffer | string, status = 200): void {
    routes.set(path, { status, body: Buffer.isBuffer(body) ? body : Buffer.from(body) });
  }

  function serveArchive(path: string, csvName: string, csv: string, checksum: "good" | "bad" | "none"): Buffer {
    const zip = buildZip([{ name: csvName, data: Buffer.from(csv) }]);
    serve(path, zip);
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (checksum !== "none") {
      const digest = checksum === "good" ? sha256(zip) : sha256(Buffer.from("something else"));
      serve(`${path}.CHECKSUM`, `${digest}  ${name}\n`);
    }
    return zip;
  }

  before(async function () {
    server = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
      served.push(path);
      const route = routes.get(path);
      response.statusCode = route?.status ?? 404;
      response.end(route?.body ?? "Not Found");
    });
    await new Promise<void>((resolveListen) => server.listen(0, "127.0.0.1", resolveListen));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    await new Promise((resolveClose) => server.close(resolveClose));
  });

  beforeEach(function () {
    routes.clear();
    served.length = 0;
    outDir = mkdtempSync(join(tmpdir(), "fetched-"));
  });

  afterEach(function () {
    rmSync(outDir, { recursive: true, force: true });
  });

  it("lays out archive URLs like data.binance.vision and names the output after the shared files", function () {
    const request = { symbol: "BTCUSDT", interval: "1m", date: "2020-03-12" } as const;
    expect(klineArchiveUrl({ ...request, market: "futures" })).to.equal(
      "https://data.binance.vision/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-03-12.zip",
    );
    expect(klineArchiveUrl({ ...request, market: "spot" }, "http://127.0.0.1:9/")).to.equal(
      "http://127.0.0.1:9/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-03-12.zip",
    );
    expect(fetchedFileName({ ...request, market: "futures" })).to.equal("btcusdt-perp-2020-03-12-1m.csv");
    expect(fetchedFileName({ ...request, market: "spot" })).to.equal("btcusdt-2020-03-12-1m.csv");
  });

  it("futures archive: verifies the checksum, converts ms to s, writes the 6-column CSV the loader reads", async function () {
    serveArchive(FUTURES_PATH, "BTCUSDT-1m-2020-03-12.csv", FUTURES_CSV, "good");
    const result = await fetchKlines(options(), { fetch: loopbackFetch });
    expect(result).to.deep.equal({
      url: `${baseUrl}${FUTURES_PATH}`,
      file: join(outDir, "btcusdt-perp-2020-03-12-1m.csv"),
      rows: 3,
      first: 1584007200,
      last: 1584007320,
      checksum: "verified",
    });
    expect(readFileSync(result.file, "utf8")).to.equal(
      [
        "timestamp,open,high,low,close,volume",
        "1584007200,7358.51,7360.23,7351,7358.7,197.546",
        "1584007260,7358.02,7363.16,7356.07,7356.51,107.141",
        "1584007320,7356.5,7357,7300,7310.1,250",
        "",
      ].join("\n"),
    );
    expect(readOhlcFile(result.file, { resolution: 60 }).bars[2].lowWad).to.equal(7300n * 10n ** 18n);
    expect(served).to.deep.equal([FUTURES_PATH, `${FUTURES_PATH}.CHECKSUM`]);
    expect(readdirSync(outDir)).to.deep.equal(["btcusdt-perp-2020-03-12-1m.csv"]);
  });

  it("spot archive from 2025: microsecond open times, no header, CRLF; no .CHECKSUM published -> unverified, said so", async function () {
    serveArchive(SPOT_PATH, "BTCUSDT-1m-2025-10-10.csv", SPOT_CSV, "none");
    const result = await fetchKlines(options({ market: "spot", date: "2025-10-10", symbol: "btcusdt" }), {
      fetch: loopbackFetch,
    });
    expect(result.checksum).to.equal("unavailable");
    expect(readFileSync(result.file, "utf8")).to.equal(
      [
        "timestamp,open,high,low,close,volume",
        "1760128080,117050.01,117103.1,116980.6,116986.4,2.48017",
        "1760128140,116986.5,117014,116952.3,117014,0.51767",
        "",
      ].join("\n"),
    );
  });

  it("HTTP 404 for the archive: a clear error with the URL and what to check, nothing written", async function () {
    const attempt = fetchKlines(options({ date: "2020-03-13" }), { fetch: loopbackFetch });
    const error = await attempt.then(
      () => expect.fail("fetch succeeded"),
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(ArchiveNotFoundError);
    expect((error as ArchiveNotFoundError).message).to.include(
      `no archive at ${baseUrl}/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2020-03-13.zip (HTTP 404)`,
    );
    expect((error as Error).message).to.match(/Check the symbol/);
    expect(readdirSync(outDir)).to.deep.equal([]);
  });

  it("checksum mismatch: refused with both hashes, nothing written", async function () {
    const zip = serveArchive(FUTURES_PATH, "BTCUSDT-1m-2020-03-12.csv", FUTURES_CSV, "bad");
    const error = await fetchKlines(options(), { fetch: loopbackFetch }).then(
      () => expect.fail("fetch succeeded"),
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(ChecksumMismatchError);
    const mismatch = error as ChecksumMismatchError;
    expect(mismatch.actual).to.equal(sha256(zip));
    expect(mismatch.expected).to.equal(sha256(Buffer.from("something else")));
    expect(mismatch.message).to.match(/checksum mismatch for .*BTCUSDT-1m-2020-03-12\.zip.*Nothing was written/);
    expect(readdirSync(outDir)).to.deep.equal([]);
  });

  it("a .CHECKSUM for another file, or unreadable, is refused", async function () {
    const zip = serveArchive(FUTURES_PATH, "BTCUSDT-1m-2020-03-12.csv", FUTURES_CSV, "none");
    serve(`${FUTURES_PATH}.CHECKSUM`, `${sha256(zip)}  BTCUSDT-1m-2020-03-11.zip\n`);
    await fetchKlines(options(), { fetch: loopbackFetch }).then(
      () => expect.fail("fetch succeeded"),
      (error: unknown) =>
        expect(error)
          .to.be.instanceOf(BadChecksumFileError)
          .and.match(/not BTCUSDT-1m-2020-03-12/),
    );
    serve(`${FUTURES_PATH}.CHECKSUM`, "<html>rate limited</html>");
    await fetchKlines(options(), { fetch: loopbackFetch }).then(
      () => expect.fail("fetch succeeded"),
      (error: unknown) =>
        expect(error)
          .to.be.instanceOf(BadChecksumFileError)
          .and.match(/not a sha256 line/),
    );
  });

  it("bad zips: not a zip, a corrupted body, two files", async function () {
    const cases: [Buffer, RegExp][] = [
      [Buffer.from("<html>this is not a zip</html>"), /no end-of-central-directory record/],
      [corrupt(buildZip([{ name: "a.csv", data: Buffer.from(FUTURES_CSV), stored: true }])), /CRC-32/],
      [
        buildZip([
          { name: "a.csv", data: Buffer.from(FUTURES_CSV) },
          { name: "b.csv", data: Buffer.from(FUTURES_CSV) },
        ]),
        /expected exactly one file, found 2: a\.csv, b\.csv/,
      ],
    ];
    for (const [zip, reason] of cases) {
      serve(FUTURES_PATH, zip);
      serve(`${FUTURES_PATH}.CHECKSUM`, `${sha256(zip)}  BTCUSDT-1m-2020-03-12.zip`);
      const error = await fetchKlines(options(), { fetch: loopbackFetch }).then(
        () => expect.fail("fetch succeeded"),
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(BadZipError);
      expect((error as Error).message).to.match(reason);
      expect((error as Error).message).to.match(/^BTCUSDT-1m-2020-03-12\.zip: bad zip archive/);
    }
    expect(readdirSync(outDir)).to.deep.equal([]);
  });

  it("the zip reader reads stored and deflated entries", function () {
    const data = Buffer.from(FUTURES_CSV);
    for (const stored of [true, false]) {
      const entry = readSingleFileZip(buildZip([{ name: "x.csv", data, stored }]), "x.zip");
      expect(entry.name).to.equal("x.csv");
      expect(entry.data.equals(data)).to.equal(true);
    }
  });

  it("a broken row inside the archive is refused naming archive, entry, line and column", async function () {
    const broken = FUTURES_CSV.replace("7356.50,7357.00,7300.00", "7356.50,7257.00,7300.00");
    serveArchive(FUTURES_PATH, "BTCUSDT-1m-2020-03-12.csv", broken, "good");
    const error = await fetchKlines(options(), { fetch: loopbackFetch }).then(
      () => expect.fail("fetch succeeded"),
      (caught: unknown) => caught,
    );
    expect(error).to.be.instanceOf(OhlcOrderError);
    expect((error as Error).message).to.match(
      /^BTCUSDT-1m-2020-03-12\.zip:BTCUSDT-1m-2020-03-12\.csv:4:3 \(column "high"\): OHLC order broken: high 7257\.00 is below low 7300\.00/,
    );
  });

  it("other HTTP errors are reported with their status", async function () {
    serve(FUTURES_PATH, "busy", 503);
    await fetchKlines(options(), { fetch: loopbackFetch }).then(
      () => expect.fail("fetch succeeded"),
      (error: unknown) => expect(error).to.be.instanceOf(HttpError).and.include({ status: 503 }),
    );
  });

  it("options are validated at the edge: symbol, interval, calendar date, market, URL", function () {
    expect(parseFetchKlinesOptions({ symbol: "ethusdt", interval: "15m", date: "2024-02-29" })).to.deep.equal({
      symbol: "ETHUSDT",
      interval: "15m",
      date: "2024-02-29",
      market: "futures",
      outDir: "data/fetched",
      baseUrl: "https://data.binance.vision",
      timeoutMs: 60_000,
    });
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ symbol: "BTC/USDT", interval: "1m", date: "2020-03-12" }, /symbol/],
      [{ symbol: "BTCUSDT", interval: "7m", date: "2020-03-12" }, /interval/],
      [{ symbol: "BTCUSDT", interval: "1m", date: "2023-02-29" }, /not a calendar date/],
      [{ symbol: "BTCUSDT", interval: "1m", date: "12/03/2020" }, /YYYY-MM-DD/],
      [{ symbol: "BTCUSDT", interval: "1m", date: "2020-03-12", market: "options" }, /market/],
      [{ symbol: "BTCUSDT", interval: "1m", date: "2020-03-12", baseUrl: "ftp://example" }, /baseUrl/],
    ];
    for (const [raw, reason] of bad) {
      expect(() => parseFetchKlinesOptions(raw), JSON.stringify(raw))
        .to.throw(InvalidFetchOptionsError, reason)
        .and.be.instanceOf(CrashDataError);
    }
  });

  it("npm run data:fetch writes the file, and exits 1 with the reason on a 404", async function () {
    this.timeout(60_000);
    serveArchive(FUTURES_PATH, "BTCUSDT-1m-2020-03-12.csv", FUTURES_CSV, "good");
    const run = promisify(execFile);
    const env = { ...process.env };
    delete env.NODE_USE_ENV_PROXY;
    const args = ["run", "--silent", "data:fetch", "--", "--symbol", "BTCUSDT", "--interval", "1m"];
    const common = ["--out", outDir, "--base-url", baseUrl];
    const ok = await run("npm", [...args, "--date", "2020-03-12", ...common], { cwd: REPO, env });
    expect(ok.stdout).to.include(`wrote ${join(outDir, "btcusdt-perp-2020-03-12-1m.csv")}: 3 bars`);
    expect(ok.stdout).to.include("sha256 matches");
    expect(existsSync(join(outDir, "btcusdt-perp-2020-03-12-1m.csv"))).to.equal(true);
    const failed = await run("npm", [...args, "--date", "2020-03-13", ...common], { cwd: REPO, env }).then(
      () => expect.fail("the CLI succeeded on a missing archive"),
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.include("data:fetch: no archive at");
    expect(failed.stderr).to.include("(HTTP 404)");
    expect(served.every((path) => path.startsWith("/data/futures/um/daily/klines/BTCUSDT/1m/"))).to.equal(true);
  });
});

/** Flips one byte in the middle of the first entry's data (stored, so inflate cannot catch it). */
function corrupt(zip: Buffer): Buffer {
  const copy = Buffer.from(zip);
  const nameLength = copy.readUInt16LE(26);
  copy[30 + nameLength + 10] ^= 0xff;
  return copy;
}
