/**
 * The keeper as an operator meets it, without a node: the CLI's answers to bad input (a misspelt
 * KEEPER_* variable, an unknown flag, no compile yet, a node that never answers), the
 * single-instance lock, readable log lines, and the ops/ files (alert rules, dashboard, service
 * environment) against the metrics and settings the keeper really has.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { ConfigError, FIELDS, resolveConfig, unknownEnvironment } from "../../scripts/keeper/config.js";
import { REPO_ROOT } from "../../scripts/keeper/devnet/node.js";
import { ExitCode } from "../../scripts/keeper/exitCodes.js";
import { LockHeldError, acquireLock } from "../../scripts/keeper/lock.js";
import { prettyLine } from "../../scripts/keeper/logger.js";
import { KeeperMetrics } from "../../scripts/keeper/metrics.js";
import { NO_TYPES_NODE_ARGS } from "../helpers/noTypes.js";

const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const BASE_ENV = { KEEPER_RPC_URL: "http://127.0.0.1:1", KEEPER_PRIVATE_KEY: KEY };

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "keeper-ops-"));
  dirs.push(d);
  return d;
}

/** Runs the CLI to its end with `env` added; no inherited KEEPER_* variable reaches it. */
async function runCli(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KEEPER_")));
  const child = spawn(process.execPath, ["--import", "tsx", ...nodeArgs, "scripts/keeper/cli.ts", ...args], {
    cwd: REPO_ROOT,
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr };
}

describe("keeper as a service: bad input and start-up, without a node", function () {
  this.timeout(60_000);

  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("refuses a misspelt KEEPER_* variable (exit 2) and names the setting it meant", async () => {
    const problems = unknownEnvironment({ ...BASE_ENV, KEEPER_DRYRUN: "1", KEEPER_MAX_BACH: "3", PATH: "/bin" });
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(/^unknown setting KEEPER_DRYRUN in the environment \(did you mean KEEPER_DRY_RUN\?\)/);
    expect(problems[1]).to.match(/KEEPER_MAX_BACH .*did you mean KEEPER_MAX_BATCH\?/);
    expect(() => resolveConfig({ env: { ...BASE_ENV, KEEPER_DRYRUN: "1" } })).to.throw(ConfigError);
    expect(resolveConfig({ env: { ...BASE_ENV, KEEPER_DRY_RUN: "1", KEEPER_CONFIG: "" } }).dryRun).to.equal(true);

    // the process: exit 2 before any connection (the RPC URL points nowhere)
    const r = await runCli([], { ...BASE_ENV, KEEPER_DRYRUN: "1" });
    expect(r.code, r.stderr).to.equal(ExitCode.BadConfig);
    expect(r.stderr).to.include("did you mean KEEPER_DRY_RUN?");
    expect(r.stdout, "nothing started").not.to.include("keeper configured");
  });

  it("prints an unknown flag's error once, with exit code 2", async () => {
    const r = await runCli(["--dryrun"], BASE_ENV);
    expect(r.code).to.equal(ExitCode.BadConfig);
    expect(r.stderr.match(/unknown option '--dryrun'/g), r.stderr).to.have.length(1);
  });

  it("lists the exit codes in --help, before a compile too; a run before a compile says to compile", async () => {
    const noTypes = NO_TYPES_NODE_ARGS; // as on a fresh clone

    const help = await runCli(["--help"], {}, noTypes);
    expect(help.code, help.stderr).to.equal(ExitCode.Ok);
    for (const [name, code] of Object.entries(ExitCode)) {
      expect(help.stdout, `exit code ${name}`).to.match(new RegExp(`^  ${code}  \\S`, "m"));
    }
    expect(help.stdout).to.include("--worst <n>");

    const run = await runCli(["--dry-run"], BASE_ENV, noTypes);
    expect(run.code, run.stderr).to.equal(ExitCode.Fatal);
    expect(run.stderr).to.include("run `npx hardhat compile` once");
    expect(run.stderr, "no module-not-found trace").not.to.include("    at ");
  });

  it("--startup-retries n tries the node once and then n more times", async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const r = await runCli(["--rpc", url, "--startup-retries", "2", "--deployments-dir", tempDir()], {
        KEEPER_PRIVATE_KEY: KEY,
      });
      expect(r.code, r.stderr).to.equal(ExitCode.RpcUnreachable);
      expect(requests).to.equal(3);
      expect(r.stderr).to.match(/HTTP 503\. Is the node running\?/);
    } finally {
      server.close();
    }
    expect(FIELDS.startupRetries.help).to.include("at most 4 attempts");
  });

  it("lets one process hold a lock: a second is refused with the holder's pid; a dead holder's lock is taken over", async () => {
    const path = join(tempDir(), "keeper", "31337-0xabc.lock");
    // a lock held by another running process
    const holder = spawn("sleep", ["30"], { stdio: "ignore" });
    const first = acquireLock(path);
    first.release();
    expect(existsSync(path), "released").to.equal(false);
    writeFileSync(path, JSON.stringify({ pid: holder.pid }));
    let err: unknown;
    try {
      acquireLock(path);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(LockHeldError);
    expect((err as LockHeldError).pid).to.equal(holder.pid);
    expect(JSON.parse(readFileSync(path, "utf8")).pid, "the holder's lock is untouched").to.equal(holder.pid);

    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    const taken = acquireLock(path, { address: "0xabc" });
    expect(JSON.parse(readFileSync(path, "utf8"))).to.include({ pid: process.pid, address: "0xabc" });
    taken.release();
    expect(existsSync(path)).to.equal(false);
  });

  it("prints readable log lines with units on a terminal", () => {
    const line = prettyLine({
      level: 40,
      time: "2026-12-04T18:51:46.262Z",
      service: "keeper",
      module: "tx",
      msg: "liquidation batch mined",
      rewardWad: "12345000000000000000",
      fees: { maxFeePerGas: "22000000000", maxPriorityFeePerGas: "1500000000" },
      balanceEth: "0.01",
      scanMs: 6.0773,
      blockAgeSeconds: 312.4,
      gasLimit: "760000",
      worst: [{ accountId: "19", health: "950000000000000000" }],
    });
    expect(line).to.equal(
      "18:51:46 WARN  [tx] liquidation batch mined  rewardWad=12.3450 tokens " +
        "fees={maxFeePerGas: 22.000 gwei, maxPriorityFeePerGas: 1.500 gwei} balanceEth=0.01 ETH scanMs=6.1 ms " +
        "blockAgeSeconds=312 s gasLimit=760000 gas worst=[{accountId: 19, health: 0.950 (equity/maintenance)}]",
    );
  });

  it("alerts and dashboard use only metrics the keeper exports; the service environment only known variables", async () => {
    const exported = new Set(
      (await new KeeperMetrics({ processMetrics: true }).registry.getMetricsAsJSON()).map((m) => m.name),
    );
    const known = (name: string) =>
      exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, "")) || name === "up";
    const rules = readFileSync(join(REPO_ROOT, "ops/prometheus/keeper-alerts.yml"), "utf8");
    const exprs = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => m[1]);
    expect(exprs.length).to.be.greaterThan(8);
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, "ops/grafana/keeper-dashboard.json"), "utf8")) as {
      panels: { targets: { expr: string }[] }[];
    };
    exprs.push(...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)));
    const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(keeper_[a-z_]+|up)\b/g)].map((m) => m[1])));
    for (const name of used) expect(known(name), `metric ${name}`).to.equal(true);
    // the list: tranches failing, RPC errors, gas balance low, block age, liquidatable but untouched
    for (const name of [
      "keeper_tranches_failed_total",
      "keeper_rpc_errors_total",
      "keeper_balance_low",
      "keeper_block_age_seconds",
      "keeper_accounts_liquidatable",
    ]) {
      expect(rules, `an alert on ${name}`).to.include(name);
    }

    const envFile = readFileSync(join(REPO_ROOT, "ops/systemd/keeper.env.example"), "utf8");
    const vars = Object.fromEntries([...envFile.matchAll(/^(KEEPER_[A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(Object.keys(vars).length).to.be.greaterThan(3);
    expect(unknownEnvironment(vars)).to.deep.equal([]);
    const unit = readFileSync(join(REPO_ROOT, "ops/systemd/cascade-keeper.service"), "utf8");
    expect(unit).to.match(/^ExecStart=\S+\/node_modules\/\.bin\/node --import tsx scripts\/keeper\/cli\.ts$/m);
  });
});
