/**
 * The replay's command line as a user meets it (`npm run replay -- ...`, `bash scripts/main.sh ...`):
 * bad input refused with exit status 2 and a message that says what to do (an unknown --mode, no
 * crash data, a malformed --path file with its file, line and column); --list describing every event
 * and preset; and a user's own price path replayed end to end, from the CLI and from the main job's
 * script, with the same presets, report and --check. The paths here are written by the test (not
 * historic data).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { parseUserPath, symbolFromFileName } from "../../scripts/replay/data/index.js";
import { presetNames, loadPreset } from "../../scripts/replay/presets.js";
import type { ReplayReport } from "../../scripts/replay/result.js";
import { targetsMet } from "../../scripts/replay/metrics.js";
import { listEvents } from "../../scripts/replay/sources.js";

const TSX = join("node_modules", ".bin", "tsx");
const env = { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", CI: "1" };

function replay(args: string[], extraEnv: Record<string, string | undefined> = {}) {
  const r = spawnSync(TSX, ["scripts/replay/cli.ts", ...args], {
    encoding: "utf8",
    env: { ...env, ...extraEnv },
    timeout: 280_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

/** A crash of `steps` minutes: flat, then down by `drop`, then flat (a user's own path). */
function crashCsv(steps: number, drop: number, start = 1_700_000_000): string {
  const rows = ["timestamp,price"];
  for (let k = 0; k < steps; k++) {
    const x = Math.min(1, Math.max(0, (k - steps / 4) / (steps / 2)));
    rows.push(`${start + 60 * k},${(30000 * (1 - drop * x)).toFixed(2)}`);
  }
  return rows.join("\n") + "\n";
}

describe("Crash replay command line", function () {
  this.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), "replay-cli-"));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("refuses an unknown --mode with exit status 2, naming the allowed ones", function () {
    const r = replay(["--mode", "bogus", "--event", "synthetic"]);
    expect(r.status).to.equal(2);
    expect(r.err).to.match(/--mode.*bogus/);
    expect(r.err).to.match(/close, low-inclusive/);
  });

  it("without crash data, says to pass --data-dir or --stylised (exit 2)", function () {
    const r = replay(["--event", "black-thursday-2020", "--no-compile"], { CRASH_DATA_DIR: "" });
    expect(r.status).to.equal(2);
    expect(r.err).to.match(/CRASH_DATA_DIR is not set/);
    expect(r.err).to.match(/--data-dir <dir>/);
    expect(r.err).to.match(/--stylised/);
  });

  it("--list describes every event and every preset, not only their names", function () {
    const r = replay(["--list"]);
    expect(r.status).to.equal(0);
    for (const id of listEvents()) expect(r.out).to.include(`${id}: `);
    expect(r.out).to.include("Black Thursday");
    expect(r.out).to.include("synthetic: a synthetic crash");
    for (const name of presetNames()) {
      const description = loadPreset(name).description;
      expect(description.length, `preset ${name} has a description`).to.be.greaterThan(0);
      expect(r.out).to.include(`${name}: ${description}`);
    }
  });

  it("a user path: the symbol from the file name, the header required, a malformed row named by file, line and column", function () {
    expect(symbolFromFileName("/x/btc-my-crash.csv")).to.equal("BTC");
    expect(symbolFromFileName("eth.csv")).to.equal("ETH");
    expect(() => symbolFromFileName("my crash.csv")).to.throw(/--symbol/);
    const path = parseUserPath("timestamp,price\n100,2000.5\n160,1900\n", "p.csv", "BTC");
    expect(path.points).to.deep.equal([
      { t: 100, priceWad: 20005n * 10n ** 17n },
      { t: 160, priceWad: 1900n * 10n ** 18n },
    ]);
    expect(path.sampling).to.equal("as-given");
    expect(() => parseUserPath("100,2000\n160,1900\n", "p.csv", "BTC")).to.throw(/p\.csv:1:1 .*"timestamp,price"/);
    expect(() => parseUserPath("timestamp,price\n100,2000\n160,abc\n", "p.csv", "BTC")).to.throw(
      /p\.csv:3:2 \(column "price"\)/,
    );
    expect(() => parseUserPath("timestamp,price\n100,2000\n90,1900\n", "p.csv", "BTC")).to.throw(
      /p\.csv:3:1 \(column "timestamp"\)/,
    );
    expect(() => parseUserPath("timestamp,price\n100,2000\n160,-5\n", "p.csv", "BTC")).to.throw(/p\.csv:3:2/);
  });

  it("--path refuses a malformed file with exit status 2, naming file, line and column", function () {
    const bad = file("btc-bad.csv", "timestamp,price\n1700000000,30000\n1700000060,30,000\n");
    const r = replay(["--path", bad, "--no-compile"]);
    expect(r.status).to.equal(2);
    expect(r.err).to.include(`${bad}:3:3`);
    const headless = file("btc-headless.csv", "1700000000,30000\n1700000060,29000\n");
    const h = replay(["--path", headless, "--no-compile"]);
    expect(h.status).to.equal(2);
    expect(h.err).to.include(`${headless}:1:1`);
    expect(h.err).to.match(/timestamp,price/);
    expect(replay(["--path", headless, "--event", "synthetic", "--no-compile"]).status).to.equal(2);
  });

  it("--path replays a user's own path with both presets, the report and --check", function () {
    const btc = file("btc-my-crash.csv", crashCsv(80, 0.3));
    const out = join(dir, "report-cli");
    const r = replay(["--path", btc, "--accounts", "30", "--out", out, "--jobs", "1", "--check", "--no-progress"]);
    expect([0, 2], r.err).to.include(r.status);
    const report = JSON.parse(readFileSync(join(out, "replay-report.json"), "utf8")) as ReplayReport;
    expect(report.runs.map((x) => x.preset)).to.deep.equal(["baseline", "protected"]);
    for (const run of report.runs) {
      expect(run.event).to.equal("user-path");
      expect(run.paths).to.deep.equal([{ symbol: "BTC", source: btc, stylised: false, points: 80 }]);
      expect(run.steps[0].pathPrice).to.equal((30000n * 10n ** 18n).toString());
      expect(run.metrics.positionsOpened).to.be.greaterThan(0);
    }
    // --check: exit 2 exactly when a target is not met
    const c = report.comparisons[0];
    expect(r.status).to.equal(targetsMet(c) ? 0 : 2);
    expect(c.vaultLossWithinBudget, "protected runs with the vault: its loss target is judged").to.be.a("boolean");
    expect(existsSync(join(out, "index.html"))).to.equal(true);
    expect(r.out).to.match(/user-path: Your price path: btc-my-crash\.csv/);
    expect(r.out).to.match(/wall time \(s\)/);
  });

  it("bash scripts/main.sh --path runs the same from the main job's script, files relative to the caller", function () {
    file("eth-main.csv", crashCsv(60, 0.25));
    const out = join(dir, "report-main");
    const r = spawnSync(
      "bash",
      [join(process.cwd(), "scripts", "main.sh"), "--path", "eth-main.csv", "--accounts", "20", "--out", out],
      { cwd: dir, encoding: "utf8", env: { ...env, CRASH_DATA_DIR: "" }, timeout: 280_000 },
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include("[main] replaying your price path(s)");
    const report = JSON.parse(readFileSync(join(out, "replay-report.json"), "utf8")) as ReplayReport;
    expect(report.runs.map((x) => `${x.event}/${x.preset}/${x.paths[0].symbol}`)).to.deep.equal([
      "user-path/baseline/ETH",
      "user-path/protected/ETH",
    ]);
  });
});
