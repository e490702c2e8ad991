/**
 * The risk-oracle service on a chain: with rules that want level 3, it raises every market with open
 * interest to the role's maximum (2) carrying the forecast's inputs hash, alerts the guardian in
 * Alertmanager's format, does not renew without a new oracle round, renews after one (the breaker
 * counting the renewal), and writes a snapshot per round. Then the CLI's exit codes.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { network } from "hardhat";

import { RISK_ORACLE_ROLE } from "../../deploy/protocol.js";
import { deploymentRecord } from "../../scripts/keeper/devnet/world.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";
import { type Alert, webhookSink } from "../../scripts/monitor/alerts.js";
import { ChainSource } from "../../scripts/monitor/chain.js";
import { startMonitorServer } from "../../scripts/monitor/server.js";
import { MonitorService } from "../../scripts/monitor/service.js";
import { SyntheticSource } from "../../scripts/monitor/syntheticBook.js";
import { BTC, ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPrice } from "../helpers/fixture.js";
import { NO_TYPES_NODE_ARGS } from "../helpers/noTypes.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

/** A webhook receiver on 127.0.0.1 that keeps what it is sent. */
async function receiver(): Promise<{ url: string; got: Alert[][]; server: Server }> {
  const got: Alert[][] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      got.push(JSON.parse(body) as Alert[]);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/alerts`, got, server };
}

async function world() {
  const w = await deployWorld(ethers);
  const oracleSigner = (await ethers.getSigners())[9];
  await w.breaker!.connect(w.admin).grantRole(RISK_ORACLE_ROLE, oracleSigner.address);
  const a = await openAccount(w, w.alice, 2_000n * USDC);
  await w.engine.connect(w.alice).modifyPosition(a, ETH, 10n * WAD, MAX_PRICE);
  const b = await openAccount(w, w.bob, 20_000n * USDC);
  await w.engine.connect(w.bob).modifyPosition(b, BTC, -WAD, 0n);
  const deployment = await deploymentRecord(w, "hardhat", Number((await ethers.provider.getNetwork()).chainId), 0);
  return { w, oracleSigner, deployment };
}

describe("Risk monitor service: raises through the risk-oracle role", function () {
  let hook: Awaited<ReturnType<typeof receiver>>;
  let snapshots: string;
  before(async function () {
    hook = await receiver();
    snapshots = mkdtempSync(join(tmpdir(), "monitor-snapshots-"));
  });
  after(async function () {
    hook.server.close();
    rmSync(snapshots, { recursive: true, force: true });
  });

  it("raises to the role's maximum with the forecast's reference, alerts the guardian, renews only on a new round", async function () {
    const { w, oracleSigner, deployment } = await loadFixture(world);
    const breaker = w.breaker!.connect(oracleSigner);
    const service = new MonitorService({
      source: new ChainSource({ provider: ethers.provider, deployment, historyRounds: 10 }),
      logger: silentLogger(),
      breaker,
      // every threshold at 0: the rules want level 3 whatever the forecast
      rules: {
        level1P1h: 0,
        level1P24h: 0,
        level2P15m: 0,
        level2P1h: 0,
        level3P15m: 0,
        level1WaveP1h: 0,
        level2WaveP15m: 0,
        waveMustFeedItself: false,
      },
      // this test is about the raises, not about persistence or escalation (rules.ts): every level at once
      persistence: null,
      escalation: null,
      raiseDuration: 7_200,
      renewWithin: 5_000,
      alerts: webhookSink([hook.url], silentLogger()),
      snapshotDir: snapshots,
    });
    const f = (await service.tick())!;
    expect(service.decision!.level).to.equal(3);
    for (const m of [ETH, BTC]) {
      const l = await w.breaker!.marketLevel(m);
      expect([l.level, l.riskOracleLevel, l.riskOracleRenewals], `market ${m}`).to.deep.equal([2n, 2n, 0n]);
    }
    const raised = await w.breaker!.queryFilter(w.breaker!.filters.RiskOracleRaise());
    expect(
      raised.map((e) => [Number(e.args.marketId), e.args.forecastRef, Number(e.args.renewal)]),
    ).to.have.deep.members([
      [ETH, f.inputsHash, 0],
      [BTC, f.inputsHash, 0],
    ]);
    const alerts = hook.got.flat();
    const names = alerts.map((a) => a.labels.alertname);
    expect(names).to.include("CascadeRiskLevel");
    expect(names.filter((n) => n === "GuardianActionNeeded").length).to.equal(2);
    for (const a of alerts) {
      expect(a.labels.service).to.equal("risk-monitor");
      expect(Number.isNaN(Date.parse(a.startsAt))).to.equal(false);
      expect(a.annotations.description).to.include(f.inputsHash);
    }

    // 2,500 s later, inside the renewal window (less than 5,000 s left), but no new oracle round (and
    // within the feeds' one-hour heartbeat): no renewal
    await time.increase(2_500);
    const stale = await service.tick();
    expect(stale).to.not.equal(undefined);
    expect(service.lastActions.filter((a) => a.kind === "raise")).to.deep.equal([]);
    expect(service.lastActions.some((a) => a.kind === "none" && a.reason.includes("no oracle round"))).to.equal(true);

    // a new round on each feed: renewed, and the breaker counts it as renewal 1
    await setPrice(w, ETH, 2_000n);
    await setPrice(w, BTC, 30_000n);
    const renewedForecast = (await service.tick())!;
    const renewals = (await w.breaker!.queryFilter(w.breaker!.filters.RiskOracleRaise())).slice(2);
    expect(renewals.map((e) => [Number(e.args.renewal), e.args.forecastRef])).to.deep.equal([
      [1, renewedForecast.inputsHash],
      [1, renewedForecast.inputsHash],
    ]);
    expect(readdirSync(snapshots).length).to.be.at.least(1);
  });
});

describe("Risk monitor CLI: exit codes", function () {
  this.timeout(60_000);
  const cli = (args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) =>
    spawnSync(process.execPath, ["--import", "tsx", ...nodeArgs, "scripts/monitor/cli.ts", ...args], {
      encoding: "utf8",
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    });

  it("before a compile: --help works, bad settings exit 2, a run says to compile (1) without a trace", function () {
    const help = cli(["--help"], {}, NO_TYPES_NODE_ARGS);
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout).to.include("--rpc <url>");
    expect(cli(["--port", "70000"], {}, NO_TYPES_NODE_ARGS).status).to.equal(2);
    const run = cli(["--rpc", "http://127.0.0.1:9", "--startup-retries", "0"], {}, NO_TYPES_NODE_ARGS);
    expect(run.status, run.stderr).to.equal(1);
    expect(run.stderr).to.include("run `npx hardhat compile` once");
    expect(run.stderr, "no module-not-found trace").not.to.include("    at ");
  });

  it("2 for bad settings, naming the flag and the env variable", function () {
    const r = cli(["--rpc", "http://127.0.0.1:8545", "--port", "70000"]);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr).to.include("port (--port or MONITOR_PORT");
    const missing = cli([]);
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.include("rpcUrl (--rpc or MONITOR_RPC_URL)");
    const confirm = cli(["--rpc", "http://127.0.0.1:9"], { MONITOR_CONFIRM_SECONDS: "7200" });
    expect(confirm.status, confirm.stderr).to.equal(2);
    expect(confirm.stderr).to.include("confirmSeconds (--confirm-seconds or MONITOR_CONFIRM_SECONDS");
  });

  it("2 for a malformed --exact id, and for --scenarios when the crash catalogue cannot be read", function () {
    const bad = cli(["--rpc", "http://127.0.0.1:9", "--exact", "NOT AN ID"]);
    expect(bad.status, bad.stderr).to.equal(2);
    expect(bad.stderr).to.include("exact (--exact or MONITOR_EXACT");
    const dir = mkdtempSync(join(tmpdir(), "monitor-no-crash-data-"));
    try {
      // an empty crash-data directory: every event's files are missing, so the lab has nothing to run
      const empty = cli(["--rpc", "http://127.0.0.1:9", "--scenarios", "--data-dir", dir, "--startup-retries", "0"]);
      expect(empty.status, empty.stderr).to.equal(2);
      expect(empty.stderr).to.include("the scenario lab could not read the crash catalogue");
      expect(empty.stderr).to.include("--stylised");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("5 for an RPC endpoint that does not answer, 3 for the wrong chain, 4 for no deployment record", async function () {
    const down = cli(["--rpc", "http://127.0.0.1:9", "--startup-retries", "0", "--rpc-timeout-ms", "1000"]);
    expect(down.status, down.stderr).to.equal(5);
    expect(down.stderr).to.include("did not answer");
    // a node that answers eth_chainId with 5
    const node = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        const { id } = JSON.parse(body) as { id: number };
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ jsonrpc: "2.0", id, result: "0x5" }));
      });
    });
    await new Promise<void>((r) => node.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(node.address() as AddressInfo).port}`;
    const dir = mkdtempSync(join(tmpdir(), "monitor-deployments-"));
    try {
      const wrong = await cliAsync(["--rpc", url, "--chain-id", "31337"]);
      expect(wrong.status, wrong.stderr).to.equal(3);
      expect(wrong.stderr).to.include("is chain 5, but chain 31337 was expected");
      const none = await cliAsync(["--rpc", url, "--deployments-dir", dir]);
      expect(none.status, none.stderr).to.equal(4);
      expect(none.stderr).to.include("does not exist");
    } finally {
      node.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** The CLI in a child process without blocking this one (the fake node above lives in it). */
  async function cliAsync(args: string[]): Promise<{ status: number | null; stderr: string }> {
    const { spawn } = await import("node:child_process");
    return new Promise((resolve) => {
      const p = spawn(process.execPath, ["--import", "tsx", "scripts/monitor/cli.ts", ...args], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      });
      let stderr = "";
      p.stderr.on("data", (c) => (stderr += c));
      p.on("close", (status) => resolve({ status, stderr }));
    });
  }
});

describe("Risk monitor server: metrics, health, the event stream", function () {
  it("serves Prometheus metrics and health, and streams a level change as a server-sent event", async function () {
    // every forecast's level at once (no persistence): this test is about the stream, not the rules
    const service = new MonitorService({
      source: new SyntheticSource(500, 5),
      logger: silentLogger(),
      persistence: null,
      escalation: null,
    });
    const server = await startMonitorServer({ port: 0, service });
    const controller = new AbortController();
    try {
      expect((await fetch(`${server.url}/health`)).status).to.equal(503); // no forecast yet
      const events = await fetch(`${server.url}/api/events`, { signal: controller.signal });
      expect(events.headers.get("content-type")).to.equal("text/event-stream");
      const reader = events.body!.getReader();
      const seen: string[] = [];
      const levels: number[] = [];
      for (let i = 0; i < 12 && !seen.includes("level"); i++) {
        await service.tick();
        const { value } = await reader.read();
        const text = new TextDecoder().decode(value);
        for (const m of text.matchAll(/event: (\w+)\ndata: (.*)\n/g)) {
          seen.push(m[1]);
          if (m[1] === "level") levels.push((JSON.parse(m[2]) as { level: number }).level);
        }
      }
      expect(seen).to.include("hello");
      expect(seen, seen.join(",")).to.include("level");
      expect(levels[0]).to.not.equal(0);
      const health = await fetch(`${server.url}/health`);
      expect(health.status).to.equal(200);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).to.match(/^monitor_stress_level \d/m);
      expect(metrics).to.match(/^monitor_liquidatable_notional\{move="down10"\} [\d.e+]+/m);
      expect(metrics).to.match(/^monitor_forecast_seconds_count \d+/m);
      expect(metrics).to.include(`monitor_stress_level ${service.decision!.level}`);
    } finally {
      controller.abort();
      await server.close();
    }
  });
});
