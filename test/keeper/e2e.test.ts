/**
 * The keeper against a real `hardhat node` on 127.0.0.1, as an operator runs it: the CLI as a child
 * process, a key of its own, the deployment record in a temporary directory. One node serves every
 * scenario here; each scenario deploys its own protocol on it.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createServer } from "node:net";
import type { AddressInfo } from "node:net";

import { expect } from "chai";
import { JsonRpcProvider, Wallet, parseEther } from "ethers";
import { network } from "hardhat";

import { readDeployment, writeDeployment } from "../../deploy/deployment.js";
import { keeperSettings } from "../../scripts/keeper/config.js";
import { TcpProxy } from "../../scripts/keeper/devnet/proxy.js";
import { ExitCode } from "../../scripts/keeper/exitCodes.js";
import { Keeper } from "../../scripts/keeper/keeper.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { startStatusServer } from "../../scripts/keeper/server.js";
import { type LocalNode, freePort, startHardhatNode } from "../../scripts/keeper/devnet/node.js";
import { type KeeperProcess, type SpawnOptions, spawnKeeper } from "../../scripts/keeper/devnet/process.js";
import {
  type LocalWorld,
  WAD,
  advanceTime,
  deployWorld,
  liquidatableIds,
  mixedAccounts,
  openAccounts,
  setPrice,
} from "../../scripts/keeper/devnet/world.js";

const ETH = 0;
const BTC = 1;
const PRICES = new Map([
  [ETH, 2_000n * WAD],
  [BTC, 30_000n * WAD],
]);
/** The crash: prices fall 0.5% every 31 s (one cooldown) to 5% down, so accounts cross
 * maintenance margin a few at a time, as in a real sell-off, rather than all past the backstop. */
const CRASH_STEPS = 10;
const STEP_BP = 50n;

let node: LocalNode;
let rpc: JsonRpcProvider;
const dirs: string[] = [];
const children: KeeperProcess[] = [];
/** run after the last test, whatever happened: anything left open keeps mocha from exiting */
const cleanups: (() => unknown)[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "keeper-test-"));
  dirs.push(d);
  return d;
}

async function fundedKey(): Promise<Wallet> {
  const w = Wallet.createRandom();
  await rpc.send("hardhat_setBalance", [w.address, "0x" + parseEther("100").toString(16)]);
  return new Wallet(w.privateKey);
}

function keeper(args: string[], key?: string, o: SpawnOptions = {}): KeeperProcess {
  const k = spawnKeeper(args, { KEEPER_PRIVATE_KEY: key, HARDHAT_DISABLE_TELEMETRY: "true" }, o);
  children.push(k);
  return k;
}

async function newWorld(accounts: number, seed: number): Promise<{ w: LocalWorld; dir: string; ids: bigint[] }> {
  const dir = tempDir();
  const connection = await network.create({ network: "localhost", override: { url: node.url } });
  const w = await deployWorld(connection.ethers, { url: node.url, network: "localhost", deploymentsDir: dir });
  cleanups.push(
    () => w.rpc.destroy(),
    () => connection.close(),
  );
  const [, , trader] = (await rpc.send("eth_accounts", [])) as string[];
  const ids = await openAccounts(w, trader, mixedAccounts(accounts, { seed, prices: PRICES }));
  return { w, dir, ids };
}

/** Moves every market `bp` basis points down from its starting price. */
async function priceDown(w: LocalWorld, bp: bigint): Promise<void> {
  for (const [m, p] of PRICES) await setPrice(w, m, (p * (10_000n - bp)) / 10_000n);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

/**
 * One step of the crash: a cooldown passes and the price moves down another STEP_BP; then the
 * keepers get a moment to act. Returns the accounts that were liquidatable right after the move.
 */
async function crashStep(w: LocalWorld, ids: bigint[], step: number): Promise<bigint[]> {
  await advanceTime(w.rpc, 31);
  await priceDown(w, STEP_BP * BigInt(step));
  const hit = await liquidatableIds(w, ids);
  await waitUntil(async () => (await liquidatableIds(w, ids)).length === 0, 2_000);
  return hit;
}

/** Steps `from`..`to` of the crash; every account that was liquidatable at some step. */
async function crash(w: LocalWorld, ids: bigint[], from = 1, to = CRASH_STEPS): Promise<Set<bigint>> {
  const seen = new Set<bigint>();
  for (let step = from; step <= to; step++) for (const id of await crashStep(w, ids, step)) seen.add(id);
  return seen;
}

/** Every LiquidationSettled of a deployment: account, keeper, block, timestamp, backstop. */
async function settlements(w: LocalWorld) {
  const le = w.protocol.liquidationEngine.connect(w.rpc);
  const logs = await le.queryFilter(le.filters.LiquidationSettled(), w.deployment.startBlock);
  const times = new Map<number, number>();
  for (const l of logs) if (!times.has(l.blockNumber)) times.set(l.blockNumber, (await l.getBlock()).timestamp);
  return logs.map((l) => ({
    accountId: l.args.accountId,
    keeper: l.args.keeper,
    backstop: l.args.backstop,
    block: l.blockNumber,
    time: times.get(l.blockNumber)!,
  }));
}

/** After the crash: a cooldown at a time until no account is liquidatable (or gives up). */
async function driveUntilHealthy(w: LocalWorld, ids: bigint[], rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (await waitUntil(async () => (await liquidatableIds(w, ids)).length === 0, 3_000)) return;
    await advanceTime(w.rpc, 31);
  }
  const left = await liquidatableIds(w, ids);
  expect(left, `accounts still liquidatable after ${rounds} cooldowns`).to.deep.equal([]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(" ").pop()) : NaN;
}

describe("keeper, end to end on a hardhat node", function () {
  this.timeout(180_000);

  before(async () => {
    node = await startHardhatNode();
    rpc = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  });

  after(async () => {
    for (const c of children) await c.stop("SIGKILL").catch(() => undefined);
    for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
    rpc?.destroy();
    await node?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("liquidates every liquidatable account, tranche by tranche, and is paid for it", async () => {
    const { w, dir, ids } = await newWorld(60, 7);
    const key = await fundedKey();
    const k = keeper(
      ["--rpc", node.url, "--network", "localhost", "--deployments-dir", dir, "--metrics-port", "0"].concat([
        "--poll-interval-ms",
        "200",
        "--claim-threshold",
        "1000000",
      ]),
      key.privateKey,
    );
    const listening = await k.waitForLog((l) => l.msg === "status server listening");
    const configured = await k.waitForLog((l) => l.msg === "keeper configured");
    await k.waitForLog((l) => l.msg === "keeper ready");
    // a second keeper with the same key is refused, naming the first
    const twin = keeper(
      ["--rpc", node.url, "--network", "localhost", "--deployments-dir", dir, "--metrics-port", "0"],
      key.privateKey,
    );
    expect(await twin.exit, twin.stderr()).to.equal(ExitCode.AlreadyRunning);
    expect(twin.stderr()).to.include(`another keeper (pid ${configured.pid as number}) runs with this key`);
    const before = [...(await crash(w, ids))];
    expect(before.length, "the crash leaves accounts to liquidate").to.be.greaterThan(10);
    await driveUntilHealthy(w, ids);

    const settled = await settlements(w);
    const ours = settled.filter((s) => s.keeper === key.address);
    for (const id of before)
      expect(
        ours.some((s) => s.accountId === id),
        `account ${id} liquidated`,
      ).to.equal(true);
    const tranches = new Map<bigint, number>();
    for (const s of ours) tranches.set(s.accountId, (tranches.get(s.accountId) ?? 0) + 1);
    expect(
      [...tranches.values()].some((n) => n >= 2),
      "some account needed more than one tranche",
    ).to.equal(true);
    expect(await w.protocol.vault.keeperRewardsOf(key.address)).to.be.greaterThan(0n);

    // the pokes: every new round folded into the volatility estimate, the breaker raised
    for (const m of w.deployment.markets) {
      const feed = w.protocol.feeds.get(m.id)!;
      const [round] = await feed.latestRoundData();
      expect((await w.protocol.oracle.volatilityState(m.feedId)).lastRoundId, `${m.symbol} rounds folded`).to.equal(
        round,
      );
      expect((await w.protocol.breaker!.marketLevel(m.id)).level, `${m.symbol} breaker raised`).to.be.greaterThan(0n);
    }

    const port = listening.port as number;
    // the keeper counts a tranche when it collects the receipt, a tick after the block
    await waitUntil(async () => (await metric(port, "keeper_tranches_mined_total")) === ours.length, 5_000);
    expect(await metric(port, "keeper_tranches_mined_total")).to.equal(ours.length);
    expect(await metric(port, "keeper_accounts_tracked")).to.equal(ids.length);
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Record<string, unknown>;
    expect(health.ok, JSON.stringify(health)).to.equal(true);
    expect(health.blockAgeSeconds).to.be.a("number");
    expect(Number(health.balanceEth)).to.be.greaterThan(99).and.lessThan(100);
    expect(await metric(port, "keeper_balance_eth")).to.equal(Number(health.balanceEth));
    expect(await metric(port, "keeper_balance_low")).to.equal(0);
    expect(await k.stop()).to.equal(ExitCode.Ok);
    expect(k.stdout()).not.to.include(key.privateKey.slice(2));
    const lockFile = join(dir, "keeper", `31337-${key.address.toLowerCase()}.lock`);
    expect(existsSync(lockFile), "the lock is released at stop").to.equal(false);
  });

  it("refuses bad configuration with a clear message and its exit code, sending nothing", async () => {
    const { w, dir } = await newWorld(0, 1);
    const key = await fundedKey();
    const base = ["--network", "localhost", "--deployments-dir", dir, "--metrics-port", "0"];
    const down = `http://127.0.0.1:${await freePort()}`;
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => taken.close());
    const takenPort = String((taken.address() as AddressInfo).port);
    const unfunded = Wallet.createRandom();
    const cases: { name: string; args: string[]; key?: string; code: number; says: RegExp }[] = [
      {
        name: "missing key",
        args: ["--rpc", node.url, ...base],
        code: ExitCode.BadConfig,
        says: /privateKey \(--private-key or KEEPER_PRIVATE_KEY\): is required/,
      },
      {
        name: "bad key",
        args: ["--rpc", node.url, ...base],
        key: "0x1234",
        code: ExitCode.BadConfig,
        says: /must be 32 bytes of hex/,
      },
      {
        name: "bad URL",
        args: ["--rpc", "127.0.0.1:8545", ...base],
        key: key.privateKey,
        code: ExitCode.BadConfig,
        says: /rpcUrl \(--rpc or KEEPER_RPC_URL, from --rpc\): must be an http/,
      },
      {
        name: "bad number",
        args: ["--rpc", node.url, ...base, "--max-batch", "500"],
        key: key.privateKey,
        code: ExitCode.BadConfig,
        says: /maxBatch .*must be at most 100/,
      },
      {
        name: "wrong chain id",
        args: ["--rpc", node.url, ...base, "--chain-id", "1"],
        key: key.privateKey,
        code: ExitCode.WrongChain,
        says: /is chain 31337, but chain 1 was expected/,
      },
      {
        name: "unknown deployment",
        args: ["--rpc", node.url, ...base.slice(2), "--network", "sepolia"],
        key: key.privateKey,
        code: ExitCode.UnknownDeployment,
        says: /no deployment of network "sepolia" on chain 31337/,
      },
      {
        name: "key without ether",
        args: ["--rpc", node.url, ...base],
        key: unfunded.privateKey,
        code: ExitCode.Unfunded,
        says: new RegExp(`key ${unfunded.address} holds no ether on chain 31337: every transaction would be refused`),
      },
      {
        name: "metrics port in use",
        args: ["--rpc", node.url, ...base, "--metrics-port", takenPort],
        key: key.privateKey,
        code: ExitCode.BadConfig,
        says: new RegExp(`port ${takenPort} on 127.0.0.1 is already in use .*--metrics-port`),
      },
      {
        name: "RPC unreachable",
        args: ["--rpc", down, ...base, "--startup-retries", "0"],
        key: key.privateKey,
        code: ExitCode.RpcUnreachable,
        says: /did not answer eth_chainId.*Is the node running/,
      },
    ];
    const runs = cases.map((c) => keeper(c.args, c.key ?? ""));
    const codes = await Promise.all(runs.map((r) => r.exit));
    cases.forEach((c, i) => {
      expect(codes[i], `${c.name}: exit code (stderr: ${runs[i].stderr()})`).to.equal(c.code);
      expect(runs[i].stderr(), c.name).to.match(c.says);
      expect(runs[i].stderr() + runs[i].stdout(), `${c.name} never prints the key`).not.to.include(
        key.privateKey.slice(2),
      );
    });
    expect(await rpc.getTransactionCount(key.address, "pending")).to.equal(0);
    expect(await rpc.getTransactionCount(unfunded.address, "pending")).to.equal(0);
    expect(w.deployment.chainId).to.equal(31337);
  });

  it("--once with a key that cannot pay for gas exits 6 and logs the node's reason as an error", async () => {
    const { w, dir, ids } = await newWorld(30, 13);
    await advanceTime(w.rpc, 31);
    await priceDown(w, 500n);
    expect((await liquidatableIds(w, ids)).length).to.be.greaterThan(0);
    const poor = Wallet.createRandom();
    await rpc.send("hardhat_setBalance", [poor.address, "0x3e8"]); // 1000 wei: not one transaction's gas
    const args = ["--rpc", node.url, "--network", "localhost", "--deployments-dir", dir, "--once"];
    const k = keeper(args, poor.privateKey);
    expect(await k.exit, k.stderr()).to.equal(ExitCode.Unfunded);
    const refused = k.logs.find((l) => l.msg.startsWith("transaction refused: the keeper's key has not enough ether"));
    expect(refused, "the refusal is an error line").to.not.equal(undefined);
    expect(refused!.level).to.equal(50);
    expect(refused!.err).to.match(/doesn't have enough funds/);
    expect(k.logs.some((l) => l.msg === "the keeper's key is low on ether for gas: fund it")).to.equal(true);
    expect(await rpc.getTransactionCount(poor.address, "pending")).to.equal(0);
  });

  it("runs in-process: tick() finds and simulates in dry-run, then liquidates", async () => {
    const { w, ids } = await newWorld(30, 11);
    await advanceTime(w.rpc, 31);
    await priceDown(w, 500n);
    const liquidatable = await liquidatableIds(w, ids);
    expect(liquidatable.length).to.be.greaterThan(0);
    const key = await fundedKey();
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
    cleanups.push(() => provider.destroy());
    const signer = key.connect(provider);
    // pokes off: the ticks below must send liquidations only
    const settings = { pokeVolatility: false, pokeBreaker: false, claimRewards: false };
    const make = (dryRun: boolean) =>
      new Keeper({
        provider,
        signer,
        deployment: w.deployment,
        config: keeperSettings({ ...settings, dryRun }),
        logger: silentLogger(),
      });

    const dry = await make(true).tick();
    expect(dry.dryRun).to.equal(true);
    expect(dry.accountsTracked).to.equal(ids.length);
    expect(dry.liquidatable).to.equal(liquidatable.length);
    const simulated = dry.liquidation!.batches.reduce((n, b) => n + (b.simulated ?? 0), 0);
    expect(simulated).to.be.greaterThan(0);
    expect(dry.liquidation!.batches.every((b) => !b.sent)).to.equal(true);
    expect(await provider.getTransactionCount(key.address, "pending")).to.equal(0);

    const live = make(false);
    const first = await live.tick();
    expect(first.liquidation!.batches.some((b) => b.sent)).to.equal(true);
    const again = await live.tick(); // automine: the batch is in the next block already
    const mined = again.mined.flatMap((m) => m.liquidated);
    expect(mined.length).to.be.greaterThan(0);
    const idle = await live.tick();
    expect(idle.fresh, "no new block, nothing to scan").to.equal(false);

    // /health turns unhealthy once the newest block is older than the bound, by the keeper's clock
    const head = (await provider.getBlock("latest"))!;
    let nowMs = (head.timestamp + 10) * 1000;
    const watched = new Keeper({
      provider,
      signer,
      deployment: w.deployment,
      config: keeperSettings({ ...settings, dryRun: true, maxBlockAgeSeconds: 60 }),
      logger: silentLogger(),
      clock: () => nowMs,
    });
    await watched.tick();
    expect(watched.health().ok, JSON.stringify(watched.health().problems)).to.equal(true);
    expect(watched.health().blockAgeSeconds).to.equal(10);
    nowMs += 51_000;
    const stalled = watched.health();
    expect(stalled.ok).to.equal(false);
    expect(stalled.blockAgeSeconds).to.equal(61);
    // (by that clock no tick has succeeded for 51 s either)
    expect(stalled.problems).to.deep.equal([
      "no successful tick for 30 s",
      "the newest block is 61 s old (bound 60 s): the chain does not move",
    ]);
    const server = await startStatusServer({ port: 0, metrics: watched.metrics, health: () => watched.health() });
    cleanups.push(() => server.close());
    expect((await fetch(`http://127.0.0.1:${server.port}/health`)).status).to.equal(503);
    expect(await metric(server.port, "keeper_block_age_seconds")).to.equal(61);

    // the risk table: the mirror's health to the wei, and a liquidation price the engine agrees with
    const table = await watched.risks(10);
    expect(table.accounts).to.have.length(10);
    const engine = w.protocol.engine.connect(w.rpc);
    for (const a of table.accounts) {
      expect(a.health, `account ${a.accountId}`).to.equal(await engine.health(a.accountId, { blockTag: table.block }));
    }
    const healthy = table.accounts.find((a) => !a.liquidatable && a.liquidationPrice !== null && a.market.id === ETH)!;
    expect(healthy, "a healthy ETH account in the table").to.not.equal(undefined);
    const p = healthy.liquidationPrice!;
    const long = healthy.market.size > 0n;
    // 1% on the safe side the account stands, 1% on the other it is liquidatable
    await setPrice(w, ETH, long ? (p * 101n) / 100n : (p * 99n) / 100n);
    expect(await engine.isLiquidatable(healthy.accountId), "1% on the safe side").to.equal(false);
    await setPrice(w, ETH, long ? (p * 99n) / 100n : (p * 101n) / 100n);
    expect(await engine.isLiquidatable(healthy.accountId), "1% past the liquidation price").to.equal(true);
  });

  it("stops cleanly on SIGTERM or SIGINT to npm alone, on Ctrl-C, run directly, and when npm is killed: no orphan, port freed", async () => {
    const { dir } = await newWorld(0, 3);
    const key = await fundedKey();
    const args = ["--rpc", node.url, "--network", "localhost", "--deployments-dir", dir, "--metrics-port", "0"];
    const runs = [
      { name: "SIGTERM to npm", via: "npm" as const, signal: "SIGTERM" as const, group: false },
      { name: "SIGINT to npm", via: "npm" as const, signal: "SIGINT" as const, group: false },
      { name: "Ctrl-C (SIGINT to the group)", via: "npm" as const, signal: "SIGINT" as const, group: true },
      { name: "SIGTERM to the node command", via: "node" as const, signal: "SIGTERM" as const, group: false },
      // npm killed outright: the keeper, now an orphan, notices its parent is gone and stops itself
      { name: "SIGKILL to npm", via: "npm" as const, signal: "SIGKILL" as const, group: false },
    ].map((r) => ({ ...r, k: keeper([...args, "--dry-run"], key.privateKey, { via: r.via, detached: true }) }));
    await Promise.all(
      runs.map(async (r) => {
        const pid = (await r.k.waitForLog((l) => l.msg === "keeper configured", 60_000)).pid as number;
        const port = (await r.k.waitForLog((l) => l.msg === "status server listening", 60_000)).port as number;
        await r.k.waitForLog((l) => l.msg === "keeper ready", 60_000);
        expect(
          pid === r.k.child.pid,
          `${r.name}: the keeper is ${r.via === "node" ? "" : "not "}the main process`,
        ).to.equal(r.via === "node");
        process.kill(r.group ? -r.k.child.pid! : r.k.child.pid!, r.signal);
        const killed = r.signal === "SIGKILL";
        expect(await r.k.exit, `${r.name}: exit code (stderr ${r.k.stderr()})`).to.equal(killed ? null : ExitCode.Ok);
        if (killed) {
          await waitUntil(async () => !alive(pid), 15_000);
          await waitUntil(async () => r.k.logs.some((l) => l.msg === "stopped"), 5_000); // the pipe may lag
        }
        const reason = killed ? "parent process exited" : r.signal;
        expect(
          r.k.logs.some((l) => l.msg === "stopping" && l.signal === reason),
          `${r.name}: stopping`,
        ).to.equal(true);
        expect(
          r.k.logs.some((l) => l.msg === "stopped"),
          `${r.name}: stopped`,
        ).to.equal(true);
        expect(alive(pid), `${r.name}: no orphan keeper`).to.equal(false);
        const refused = await fetch(`http://127.0.0.1:${port}/health`).then(
          () => false,
          () => true,
        );
        expect(refused, `${r.name}: port ${port} freed`).to.equal(true);
      }),
    );
  });

  it("two keepers on the same accounts: no crash, no stuck nonce, one tranche per account per cooldown", async () => {
    const { w, dir, ids } = await newWorld(60, 23);
    const keys = [await fundedKey(), await fundedKey()];
    const args = ["--rpc", node.url, "--network", "localhost", "--deployments-dir", dir, "--metrics-port", "0"];
    // the first claims its rewards as soon as it has one token's worth
    const ks = keys.map((k, i) =>
      keeper([...args, "--poll-interval-ms", "150", "--claim-threshold", i === 0 ? "1" : "1000000"], k.privateKey),
    );
    await Promise.all(ks.map((k) => k.waitForLog((l) => l.msg === "keeper ready")));
    const hit = await crash(w, ids);
    await driveUntilHealthy(w, ids);
    expect(hit.size).to.be.greaterThan(10);

    const settled = await settlements(w);
    const byAccount = new Map<bigint, typeof settled>();
    for (const s of settled) byAccount.set(s.accountId, [...(byAccount.get(s.accountId) ?? []), s]);
    for (const [id, list] of byAccount) {
      for (let i = 1; i < list.length; i++) {
        const gap = list[i].time - list[i - 1].time;
        expect(list[i].backstop || gap >= 30, `account ${id}: tranches ${gap} s apart`).to.equal(true);
      }
    }
    const byKeeper = keys.map((k) => settled.filter((s) => s.keeper === k.address).length);
    expect(byKeeper[0] + byKeeper[1]).to.equal(settled.length);
    const vault = w.protocol.vault.connect(w.rpc);
    const claims = () =>
      vault.queryFilter(vault.filters.KeeperRewardsClaimed(keys[0].address), w.deployment.startBlock);
    if (byKeeper[0] > 0) {
      // the claim is the keeper's next tick after its reward accrued: on a loaded machine that tick can
      // come after the crash's last step, so wait for it (bounded) rather than read it at once
      await waitUntil(async () => (await claims()).length > 0, 20_000);
      expect((await claims()).length, "the first keeper claimed its rewards").to.be.greaterThan(0);
    }
    for (const k of keys) {
      // the keepers are still running: a transaction sent a moment ago is in flight, not stuck, so the
      // nonces must meet within a bound (a stuck nonce never does)
      const gap = async () =>
        (await rpc.getTransactionCount(k.address, "pending")) - (await rpc.getTransactionCount(k.address, "latest"));
      expect(await waitUntil(async () => (await gap()) === 0, 15_000), "no transaction left pending").to.equal(true);
    }
    for (const k of ks) {
      expect(
        k.logs.filter((l) => l.level >= 50),
        "no error lines",
      ).to.deep.equal([]);
      expect(await k.stop()).to.equal(ExitCode.Ok);
    }
  });

  it("survives an RPC outage and a restart, resuming from its checkpoint", async () => {
    const { w, dir, ids } = await newWorld(60, 41);
    const proxy = new TcpProxy({ host: "127.0.0.1", port: node.port });
    await proxy.start();
    cleanups.push(() => proxy.close());
    const key = await fundedKey();
    const checkpoint = join(dir, "keeper.checkpoint.json");
    const args = ["--rpc", proxy.url, "--network", "localhost", "--deployments-dir", dir, "--metrics-port", "0"].concat(
      ["--checkpoint-file", checkpoint, "--checkpoint-interval-ms", "0", "--poll-interval-ms", "200"],
      ["--backoff-min-ms", "200", "--backoff-max-ms", "1000", "--rpc-timeout-ms", "2000"],
    );
    const first = keeper(args, key.privateKey);
    await first.waitForLog((l) => l.msg === "keeper ready");
    const hit = await crash(w, ids, 1, 4);
    // on a loaded machine the first tick (a scan from startBlock) can outlast the crash steps
    await waitUntil(async () => existsSync(checkpoint), 30_000);
    expect(existsSync(checkpoint)).to.equal(true);
    await first.stop("SIGKILL");

    // while the keeper is down the crash goes on
    for (const id of await crash(w, ids, 5, 6)) hit.add(id);
    const second = keeper(args, key.privateKey);
    const resumed = await second.waitForLog((l) => l.msg === "resuming from checkpoint");
    expect(resumed.fromBlock as number).to.be.greaterThan(w.deployment.startBlock);
    expect(second.logs.some((l) => l.msg === "scanning events from the deployment's startBlock")).to.equal(false);
    const port = (await second.waitForLog((l) => l.msg === "status server listening")).port as number;
    expect(await metric(port, "keeper_resumed_from_block")).to.equal(resumed.fromBlock);

    // the RPC goes away for a while, and the crash does not wait for it
    await crashStep(w, ids, 7);
    await proxy.cut();
    await second.waitForLog((l) => l.msg === "RPC unavailable; retrying", 10_000);
    for (const id of await crash(w, ids, 8, 9)) hit.add(id);
    await proxy.restore();
    for (const id of await crash(w, ids, 10, 10)) hit.add(id);
    await driveUntilHealthy(w, ids);

    expect(hit.size).to.be.greaterThan(10);
    const settled = await settlements(w);
    for (const id of hit)
      expect(
        settled.some((s) => s.accountId === id),
        `account ${id} liquidated`,
      ).to.equal(true);
    expect(await metric(port, "keeper_rpc_errors_total")).to.be.greaterThan(0);
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/health`)).status === 200, 5_000);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);
    expect(await second.stop()).to.equal(ExitCode.Ok);
  });

  // Last: it restarts the node under every world of this file.
  it("after a node reset and a redeployment elsewhere, starts over and follows the re-read record", async () => {
    const { w } = await newWorld(10, 5);
    const provider = new JsonRpcProvider(node.url, undefined, { staticNetwork: true, cacheTimeout: -1 });
    cleanups.push(() => provider.destroy());
    const k = new Keeper({
      provider,
      signer: (await fundedKey()).connect(provider),
      deployment: w.deployment,
      config: keeperSettings({ dryRun: true }),
      logger: silentLogger(),
      reloadDeployment: () => readDeployment(w.recordPath),
    });
    expect((await k.tick()).accountsTracked).to.equal(10);

    // the node restarts on the same port: a new chain from block 0
    await node.stop();
    node = await startHardhatNode({ port: node.port });
    // a transaction first, so that the same deployer's contracts land at other addresses
    const [deployer] = (await rpc.send("eth_accounts", [])) as string[];
    await rpc.send("eth_sendTransaction", [{ from: deployer, to: deployer, value: "0x0" }]);
    const again = await newWorld(4, 6);
    expect(again.w.deployment.contracts.engine).to.not.equal(w.deployment.contracts.engine);
    writeDeployment(w.recordPath, again.w.deployment); // the operator redeployed to the record the keeper reads

    let error: unknown;
    await k.tick().catch((e: unknown) => (error = e));
    // head behind the book (the file's many blocks), or ahead of it on a new genesis (this test alone)
    expect(String(error)).to.match(/the node was reset( or reorganised)?; the keeper starts over/);
    const after = await k.tick();
    expect(after.accountsTracked, "the new deployment's accounts").to.equal(4);
    expect(k.contracts.engine.target).to.equal(again.w.deployment.contracts.engine);
  });
});
