/**
 * The backtest command's arguments (scripts/monitor/backtestCli.ts): `--help` prints its usage, and a
 * misspelt or incomplete option exits 2 naming it, before any replay starts (a typo used to run the
 * whole default backtest in its place).
 */
import { spawnSync } from "node:child_process";
import { expect } from "chai";

function backtest(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "scripts/monitor/backtestCli.ts", ...args], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, CRASH_DATA_DIR: "" },
  });
}

describe("monitor: the backtest command's arguments", function () {
  this.timeout(120_000);

  it("--help prints the usage and exits 0 without replaying", function () {
    const r = backtest("--help");
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^Usage: npm run backtest:monitor/);
    expect(r.stdout).to.include("--compare");
    expect(r.stdout).to.not.include("lead of level");
  });

  it("an unknown option exits 2 and names it", function () {
    const r = backtest("--evnet", "may-2021");
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('unknown option "--evnet"');
  });

  it("an option without its value exits 2", function () {
    const r = backtest("--compare", "--accounts");
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('option "--accounts" needs a value');
  });

  it("a stray word exits 2", function () {
    const r = backtest("may-2021");
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('unexpected argument "may-2021"');
  });
});
