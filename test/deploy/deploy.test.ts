/**
 * The deploy command against a real `hardhat node` started here on a free loopback port: a fresh
 * deployment and its record (code at every address, roles with their holders, nothing left with
 * the deployer), a re-run that sends nothing, an interrupted deployment resumed (including a
 * transaction left in flight), the local scripts' effects, and bad parameter files refused with the
 * field named. Then, in-process, the timelock path: the timelock governs, a scheduled call executes
 * after the delay, a direct call is refused.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

import { expect } from "chai";
import { ZeroHash, id as keccakText } from "ethers";
import { network } from "hardhat";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import { type Deployment, DeploymentIncompleteError, readDeployment } from "../../deploy/deployment.js";
import { PreflightError, deployNetwork } from "../../deploy/network.js";
import { ParamsError, parseParams } from "../../deploy/networkParams.js";
import {
  ADL_KEEPER_ROLE,
  GOVERNOR_ROLE,
  GUARDIAN_ROLE,
  LIQUIDATOR_ROLE,
  RISK_ORACLE_ROLE,
} from "../../deploy/protocol.js";
import type {
  InsuranceFund,
  MockAggregator,
  MockUSDC,
  OracleAdapter,
  PerpEngine,
  ProtocolLens,
  Timelock,
  Vault,
} from "../../types/ethers-contracts/index.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";

const ROOT = process.cwd();
const BIN = join(ROOT, "node_modules", ".bin");
const LOCALHOST_PARAMS = join(ROOT, "deploy", "params", "localhost.json");
const SEPOLIA_PARAMS = join(ROOT, "deploy", "params", "sepolia.json");
const ADMIN_ROLE = ZeroHash;
const USDC = 10n ** 6n;
// The hardhat node's default accounts, as named in deploy/params/localhost.json.
const DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const GOVERNOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const GUARDIAN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const RISK_ORACLE = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
/** the node's account #9, the README's keeper key */
const ADL_KEEPER = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720";

/** Environment of every child: node_modules/.bin first (Node 22), none of the knobs of the shell. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" };
  for (const k of ["PARAMS", "DEPLOYMENTS_DIR", "DEPLOY_FRESH", "DEPLOY_STOP_AFTER", "DEPLOY_STOP_INFLIGHT"]) {
    delete env[k];
  }
  for (const k of ["N", "MARKET", "PRICE"]) delete env[k];
  env.PATH = `${BIN}${delimiter}${process.env.PATH ?? ""}`;
  return { ...env, ...extra };
}

type Run = { code: number; out: string; err: string };

function hardhat(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(join(BIN, "hardhat"), args, { cwd: ROOT, env: childEnv(env) });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? -1, out, err }));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

function startNode(port: number): Promise<ChildProcess> {
  const node = spawn(join(BIN, "hardhat"), ["node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: ROOT,
    env: childEnv({}),
  });
  return new Promise((ok, fail) => {
    let seen = "";
    let started = false;
    const timer = setTimeout(() => fail(new Error(`hardhat node did not start in 60 s:\n${seen}`)), 60_000);
    // Keep reading after the start: the node logs every request and would block on a full pipe.
    node.stdout!.on("data", (d: Buffer) => {
      if (started) return;
      seen += d.toString();
      if (seen.includes("Started HTTP")) {
        started = true;
        clearTimeout(timer);
        ok(node);
      }
    });
    node.stderr!.on("data", (d: Buffer) => {
      if (!started) seen += d.toString();
    });
    node.on("exit", (code) => {
      clearTimeout(timer);
      if (!started) fail(new Error(`hardhat node exited with ${code}:\n${seen}`));
    });
  });
}

async function stopNode(node: ChildProcess): Promise<void> {
  if (node.exitCode !== null) return;
  const exited = new Promise<void>((ok) => node.once("exit", () => ok()));
  node.kill("SIGTERM");
  const timeout = new Promise<"timeout">((ok) => setTimeout(() => ok("timeout"), 5_000).unref());
  if ((await Promise.race([exited, timeout])) === "timeout") {
    node.kill("SIGKILL");
    await exited;
  }
}

const deploy = (env: Record<string, string>) =>
  hardhat(["run", "--no-compile", "deploy/deploy.ts", "--network", "localTest"], env);

/** The addresses of a record, every one of them. */
function allAddresses(d: Deployment): [string, string][] {
  const c = d.contracts;
  const out: [string, string][] = [
    ["usdc", c.usdc],
    ["oracle", c.oracle],
    ["vault", c.vault],
    ["engine", c.engine],
    ["insuranceFund", c.insuranceFund],
    ["liquidationEngine", c.liquidationEngine],
    ["breaker", c.breaker ?? ""],
  ];
  for (const [k, v] of Object.entries(c.triggers)) out.push([`trigger ${k}`, v]);
  for (const [k, v] of Object.entries(c.feeds)) out.push([`feed ${k}`, v]);
  return out;
}

describe("Deploying to a hardhat node (deploy/deploy.ts, scripts/local)", function () {
  let node: ChildProcess | undefined;
  let url: string;
  let ethers: HardhatEthers;
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), "cascade-deploy-"));
    dirs.push(d);
    return d;
  };
  let mainDir: string;
  let record: Deployment;
  const recordIn = (dir: string) => join(dir, "localTest-31337.json");
  const at = async <T>(name: string, address: string) => (await ethers.getContractAt(name, address)) as unknown as T;

  before(async function () {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    node = await startNode(port);
    process.env.LOCAL_TEST_URL = url;
    ({ ethers } = await network.create("localTest"));
    mainDir = tempDir();
  });

  after(async function () {
    if (node) await stopNode(node);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("deploys everything from deploy/params/localhost.json and records it", async function () {
    const r = await deploy({ LOCAL_TEST_URL: url, PARAMS: LOCALHOST_PARAMS, DEPLOYMENTS_DIR: mainDir });
    expect(r.code, r.out + r.err).to.equal(0);
    record = readDeployment(recordIn(mainDir));
    expect(record.status).to.equal("complete");
    expect(record.chainId).to.equal(31337);
    expect(record.network).to.equal("localTest");
    expect(record.deployer).to.equal(DEPLOYER);
    expect(record.markets.map((m) => m.symbol)).to.deep.equal(["ETH", "BTC", "SOL"]);
    expect(Object.keys(record.contracts.triggers)).to.have.length(5);
    expect(record.contracts.timelock).to.equal(undefined);
    expect(record.seedAccounts!.addresses).to.have.length(40);

    for (const [name, address] of allAddresses(record)) {
      expect(await ethers.provider.getCode(address), `${name} at ${address}`).to.not.equal("0x");
    }
    // startBlock is the block of the first deployment transaction: code there, none before.
    expect(await ethers.provider.getCode(record.contracts.usdc, record.startBlock)).to.not.equal("0x");
    expect(await ethers.provider.getCode(record.contracts.usdc, record.startBlock - 1)).to.equal("0x");

    const engine = await at<PerpEngine>("PerpEngine", record.contracts.engine);
    for (const m of record.markets) {
      const cfg = await engine.marketConfig(m.id);
      expect(cfg.listed, m.symbol).to.equal(true);
      expect(cfg.feedId).to.equal(m.feedId);
    }
    expect(await engine.circuitBreaker()).to.equal(record.contracts.breaker);
    expect(await engine.hasRole(LIQUIDATOR_ROLE, record.contracts.liquidationEngine)).to.equal(true);
    // the keeper's lens, deployed last, reads this engine and oracle: every market, priced
    const lens = await at<ProtocolLens>("ProtocolLens", record.contracts.lens!);
    expect([await lens.engine(), await lens.oracle()]).to.deep.equal([
      record.contracts.engine,
      record.contracts.oracle,
    ]);
    const seen = await lens.keeperView(record.markets.map((m) => m.id));
    expect(seen.markets.map((m) => [m.config.feedId, m.priced])).to.deep.equal(
      record.markets.map((m) => [m.feedId, true]),
    );

    // Roles: every contract governed and administered by the governor, guardian and risk oracle where
    // they act, and nothing left with the deployer.
    const holders: [string, string][] = [
      ["oracle", record.contracts.oracle],
      ["vault", record.contracts.vault],
      ["engine", record.contracts.engine],
      ["insuranceFund", record.contracts.insuranceFund],
      ["liquidationEngine", record.contracts.liquidationEngine],
      ["breaker", record.contracts.breaker!],
      ...Object.entries(record.contracts.triggers),
    ];
    for (const [name, address] of holders) {
      const c = await at<PerpEngine>("PerpEngine", address); // hasRole is AccessControl's, the same everywhere
      expect(await c.hasRole(GOVERNOR_ROLE, GOVERNOR), `${name} governor`).to.equal(true);
      expect(await c.hasRole(ADMIN_ROLE, GOVERNOR), `${name} admin`).to.equal(true);
      for (const role of [ADMIN_ROLE, GOVERNOR_ROLE, GUARDIAN_ROLE, LIQUIDATOR_ROLE, RISK_ORACLE_ROLE]) {
        expect(await c.hasRole(role, DEPLOYER), `${name}: deployer holds ${role}`).to.equal(false);
      }
    }
    const breaker = await at<PerpEngine>("PerpEngine", record.contracts.breaker!);
    expect(await engine.hasRole(GUARDIAN_ROLE, GUARDIAN)).to.equal(true);
    expect(await breaker.hasRole(GUARDIAN_ROLE, GUARDIAN)).to.equal(true);
    expect(await breaker.hasRole(RISK_ORACLE_ROLE, RISK_ORACLE)).to.equal(true);
    // auto-deleveraging runs only from the keeper's key (the node's account #9), on the engine
    expect(await engine.hasRole(ADL_KEEPER_ROLE, ADL_KEEPER)).to.equal(true);
    expect(await engine.hasRole(ADL_KEEPER_ROLE, DEPLOYER)).to.equal(false);
    expect(record.roles).to.deep.equal({
      admin: GOVERNOR,
      governor: GOVERNOR,
      guardian: GUARDIAN,
      riskOracle: RISK_ORACLE,
      adlKeeper: ADL_KEEPER,
    });

    // Seeds: LP liquidity, insurance stake, funded accounts.
    const vault = await at<Vault>("Vault", record.contracts.vault);
    const fund = await at<InsuranceFund>("InsuranceFund", record.contracts.insuranceFund);
    const usdc = await at<MockUSDC>("MockUSDC", record.contracts.usdc);
    expect(await vault.totalAssets()).to.equal(5_000_000n * USDC);
    expect(await fund.totalAssets()).to.equal(500_000n * USDC);
    for (const a of [record.seedAccounts!.addresses[0], record.seedAccounts!.addresses[39]]) {
      expect(await usdc.balanceOf(a)).to.equal(100_000n * USDC);
      expect(await ethers.provider.getBalance(a)).to.equal(10n * WAD);
    }
    // One transaction per recorded step, none other.
    expect(await ethers.provider.getTransactionCount(DEPLOYER)).to.equal(Object.keys(record.steps!).length);
  });

  it("sends nothing when run again: same record, no new transaction", async function () {
    const block = await ethers.provider.getBlockNumber();
    const nonce = await ethers.provider.getTransactionCount(DEPLOYER);
    const r = await deploy({ LOCAL_TEST_URL: url, PARAMS: LOCALHOST_PARAMS, DEPLOYMENTS_DIR: mainDir });
    expect(r.code, r.out + r.err).to.equal(0);
    expect(r.out).to.include("nothing to do");
    const again = readDeployment(recordIn(mainDir));
    expect(again.contracts).to.deep.equal(record.contracts);
    expect(again.steps).to.deep.equal(record.steps);
    expect(again.startBlock).to.equal(record.startBlock);
    expect(await ethers.provider.getBlockNumber()).to.equal(block);
    expect(await ethers.provider.getTransactionCount(DEPLOYER)).to.equal(nonce);
  });

  it("resumes an interrupted deployment, adopting a transaction left in flight", async function () {
    // A smaller seed keeps this quick; the steps up to the interruption are the same.
    const small = JSON.parse(readFileSync(LOCALHOST_PARAMS, "utf8"));
    small.seed.accounts.count = 2;
    const dir = tempDir();
    const paramsFile = join(dir, "small.json");
    writeFileSync(paramsFile, JSON.stringify(small));
    const env = { LOCAL_TEST_URL: url, PARAMS: paramsFile, DEPLOYMENTS_DIR: dir };
    const nonce0 = await ethers.provider.getTransactionCount(DEPLOYER);

    const first = await deploy({ ...env, DEPLOY_STOP_AFTER: "5" });
    expect(first.code, first.out + first.err).to.equal(3);
    const partial = readDeployment(recordIn(dir), { allowPartial: true });
    expect(partial.status).to.equal("partial");
    expect(Object.keys(partial.steps!)).to.have.length(5);
    expect(() => readDeployment(recordIn(dir))).to.throw(DeploymentIncompleteError);

    // Stop again one step later, this time with the next transaction broadcast but not recorded.
    const second = await deploy({ ...env, DEPLOY_STOP_AFTER: "1", DEPLOY_STOP_INFLIGHT: "1" });
    expect(second.code, second.out + second.err).to.equal(3);
    const stopped = readDeployment(recordIn(dir), { allowPartial: true });
    expect(Object.keys(stopped.steps!)).to.have.length(6);
    const inFlight = stopped.inFlight!;
    expect(inFlight.step).to.match(/^deploy:/);

    const third = await deploy(env);
    expect(third.code, third.out + third.err).to.equal(0);
    expect(third.out).to.include(`adopted transaction ${inFlight.hash}`);
    const done = readDeployment(recordIn(dir));
    expect(done.status).to.equal("complete");
    expect(done.inFlight).to.equal(undefined);
    for (const [key, value] of Object.entries(stopped.steps!)) expect(done.steps![key], key).to.equal(value);
    const adopted = await ethers.provider.getTransactionReceipt(inFlight.hash);
    expect(done.steps![inFlight.step]).to.equal(adopted!.contractAddress);
    for (const [name, address] of allAddresses(done)) {
      expect(await ethers.provider.getCode(address), name).to.not.equal("0x");
    }
    // Exactly one transaction per step over the three runs: nothing was sent twice.
    const sent = (await ethers.provider.getTransactionCount(DEPLOYER)) - nonce0;
    expect(sent).to.equal(Object.keys(done.steps!).length);
    // A different, complete deployment: the first one's addresses are untouched.
    expect(done.contracts.engine).to.not.equal(record.contracts.engine);
  });

  it("opens positions for the seeded accounts, both sides, leverage from 2x to 15x", async function () {
    const engine = await at<PerpEngine>("PerpEngine", record.contracts.engine);
    const firstId = await engine.nextAccountId();
    const r = await hardhat(["run", "--no-compile", "scripts/local/open-positions.ts", "--network", "localTest"], {
      LOCAL_TEST_URL: url,
      DEPLOYMENTS_DIR: mainDir,
    });
    expect(r.code, r.out + r.err).to.equal(0);
    expect(await engine.nextAccountId()).to.equal(firstId + 20n); // N defaults to 20
    const sides = new Set<string>();
    const markets = new Set<bigint>();
    const leverages: number[] = [];
    for (let id = firstId; id < firstId + 20n; id++) {
      const owner = await engine.accountOwner(id);
      expect(record.seedAccounts!.addresses).to.include(owner);
      const [m] = await engine.accountMarkets(id);
      markets.add(m);
      const { size } = await engine.position(id, m);
      sides.add(size > 0n ? "long" : "short");
      const s = await engine.accountSummary(id);
      leverages.push(Number((s.notional * 100n) / BigInt(s.equity)) / 100);
    }
    expect([...sides].sort()).to.deep.equal(["long", "short"]);
    expect(markets.size).to.equal(3);
    expect(Math.min(...leverages)).to.be.within(1.9, 2.2);
    expect(Math.max(...leverages)).to.be.within(14.5, 15.5);
  });

  it("moves a mock feed's price and the oracle follows", async function () {
    const oracle = await at<OracleAdapter>("OracleAdapter", record.contracts.oracle);
    const feed = await at<MockAggregator>("MockAggregator", record.contracts.feeds.ETH);
    const eth = record.markets.find((m) => m.symbol === "ETH")!;
    const sigmaBefore = await oracle.volatility(eth.feedId);
    const run = (env: Record<string, string>) =>
      hardhat(["run", "--no-compile", "scripts/local/move-price.ts", "--network", "localTest"], {
        LOCAL_TEST_URL: url,
        DEPLOYMENTS_DIR: mainDir,
        ...env,
      });
    const r = await run({ MARKET: "ETH", PRICE: "1500" });
    expect(r.code, r.out + r.err).to.equal(0);
    expect(r.out).to.match(/ETH: 2000\.00 -> 1500\.00 USD.*accounts liquidatable/);
    const [, answer] = await feed.latestRoundData();
    expect(answer).to.equal(1500n * 10n ** 8n);
    const [price] = await oracle.getPrice(eth.feedId);
    expect(price).to.equal(1500n * WAD);
    expect(await oracle.volatility(eth.feedId)).to.be.greaterThan(sigmaBefore);

    const bad = await run({ MARKET: "DOGE", PRICE: "1" });
    expect(bad.code).to.not.equal(0);
    expect(bad.err).to.include("no market DOGE");
  });

  it("refuses a bad parameter file before sending anything, naming each bad field", async function () {
    const json = JSON.parse(readFileSync(LOCALHOST_PARAMS, "utf8"));
    json.roles.guardian = "0x1234";
    json.markets[1].skewScale = 5e22; // a number, not a decimal string
    json.markets[2].heartbeat = 10;
    json.seed.lpLiquidty = "1"; // misspelt
    const dir = tempDir();
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify(json));
    const block = await ethers.provider.getBlockNumber();
    const r = await deploy({ LOCAL_TEST_URL: url, PARAMS: file, DEPLOYMENTS_DIR: dir });
    expect(r.code).to.equal(2);
    expect(r.err).to.include(`${file}: invalid deployment parameters`);
    expect(r.err).to.include("roles.guardian: not an address");
    expect(r.err).to.include("markets[1].skewScale: expected a decimal integer in a string");
    expect(r.err).to.include("markets[2].heartbeat: Too small");
    expect(r.err).to.include("seed.lpLiquidty: unknown field");
    expect(await ethers.provider.getBlockNumber()).to.equal(block);
  });
});

describe("Deployment parameter files (deploy/networkParams.ts)", function () {
  const localhost = () => JSON.parse(readFileSync(LOCALHOST_PARAMS, "utf8"));
  const problems = (json: unknown): string[] => {
    try {
      parseParams(json, "test.json");
    } catch (e) {
      if (e instanceof ParamsError) return e.problems;
      throw e;
    }
    return [];
  };

  it("accepts the committed files: mock feeds locally, Chainlink's Sepolia proxies with a timelock", function () {
    const local = parseParams(localhost());
    expect(local.markets.map((m) => m.feed.type)).to.deep.equal(["mock", "mock", "mock"]);
    expect(local.markets[0].skewScale).to.equal(10n ** 24n);
    const sepolia = parseParams(JSON.parse(readFileSync(SEPOLIA_PARAMS, "utf8")));
    expect(sepolia.chainId).to.equal(11155111);
    expect(sepolia.timelock?.minDelay).to.be.greaterThan(0);
    expect(sepolia.collateral).to.equal(undefined); // a mock USDC unless configured
    const feeds = sepolia.markets.map((m) => (m.feed.type === "chainlink" ? [m.symbol, m.feed.address] : []));
    expect(feeds).to.deep.equal([
      ["ETH", "0x694AA1769357215DE4FAC081bf1f309aDC325306"],
      ["BTC", "0x1b44F3514812d835EB1BDB0acB33d3fA3351Ee43"],
    ]);
    for (const m of sepolia.markets) {
      expect(m.feed.decimals).to.equal(8);
      expect(m.heartbeat).to.be.greaterThan(3600); // Chainlink's 3600 s plus room for a late round
    }
  });

  it("names every problem of a file in one pass: bad fields and broken cross-field rules together", function () {
    const json = localhost();
    json.roles.guardian = "0x1234";
    json.markets[1].skewScale = 5e22; // a number, not a decimal string
    json.markets[2].heartbeat = 10;
    json.seed.lpLiquidty = "1"; // misspelt
    json.markets[2].id = 0; // a duplicate id
    json.markets[0].maxOpenInterest = json.markets[0].skewScale; // above skewScale / 4
    const found = problems(json);
    expect(found).to.have.length(6);
    for (const field of [
      "roles.guardian",
      "markets[1].skewScale",
      "markets[2].heartbeat",
      "seed.lpLiquidty",
      "markets[2].id",
      "markets[0].maxOpenInterest",
    ]) {
      expect(
        found.some((p) => p.startsWith(`${field}: `)),
        field,
      ).to.equal(true);
    }
  });

  it("names the field of each cross-field rule it breaks", function () {
    const dup = localhost();
    dup.markets[2].id = 0;
    dup.markets[2].symbol = "ETH";
    expect(problems(dup)).to.deep.equal([
      "markets[2].id: duplicate id 0 (also markets[0])",
      'markets[2].symbol: duplicate symbol "ETH" (also markets[0])',
    ]);
    const oi = localhost();
    oi.markets[0].maxOpenInterest = oi.markets[0].skewScale;
    expect(problems(oi)[0]).to.match(/^markets\[0\]\.maxOpenInterest: must be at most skewScale \/ 4/);
    const timelockAdmin = localhost();
    timelockAdmin.timelock = { minDelay: 60 };
    timelockAdmin.roles.admin = GOVERNOR;
    expect(problems(timelockAdmin)).to.deep.equal([
      "roles.admin: with a timelock, the timelock is the admin: remove roles.admin",
    ]);
    const noBreaker = localhost();
    noBreaker.breaker = false;
    expect(problems(noBreaker)[0]).to.match(/^roles\.riskOracle: the risk-oracle role lives on the circuit breaker/);
    const realCollateral = localhost();
    realCollateral.collateral = GOVERNOR;
    expect(problems(realCollateral)[0]).to.match(/^seed\.accounts: seeded accounts are minted mock collateral/);
    const feed = localhost();
    feed.markets[0].feed = { type: "chainlink", address: { configVariable: "lower-case" }, decimals: 8 };
    expect(problems(feed)[0]).to.match(/^markets\[0\]\.feed\.address/);
  });
});

describe("Deploying deploy/params/sepolia.json in-process (Chainlink proxies stood in for by mock code)", function () {
  it("the timelock governs: a scheduled call executes after the delay, a direct call is refused", async function () {
    const { ethers, networkHelpers } = await network.create();
    const [deployer, governor, guardian, riskOracle, stranger, adlKeeper] = await ethers.getSigners();
    const json = JSON.parse(readFileSync(SEPOLIA_PARAMS, "utf8"));
    delete json.chainId; // this is chain 31337
    json.confirmations = 1; // automine: a second confirmation would never come
    // The Sepolia proxies, stood in for by MockAggregator code at their addresses, one fresh round each.
    const stand = (await ethers.deployContract("MockAggregator", [8, 1n, "stand-in"])) as unknown as MockAggregator;
    const code = await ethers.provider.getCode(await stand.getAddress());
    for (const [m, usd] of [
      [json.markets[0], 2000n],
      [json.markets[1], 30_000n],
    ] as const) {
      await networkHelpers.setCode(m.feed.address, code);
      const proxy = (await ethers.getContractAt("MockAggregator", m.feed.address)) as unknown as MockAggregator;
      await proxy.startPhase(1);
      await proxy.updateAnswer(usd * 10n ** 8n);
    }
    const variables: Record<string, string> = {
      SEPOLIA_GOVERNOR: governor.address,
      SEPOLIA_GUARDIAN: guardian.address,
      SEPOLIA_RISK_ORACLE: riskOracle.address,
      SEPOLIA_ADL_KEEPER: adlKeeper.address,
    };
    const dir = mkdtempSync(join(tmpdir(), "cascade-timelock-"));
    try {
      const r = await deployNetwork(ethers, "hardhat", {
        params: parseParams(json, "sepolia.json"),
        source: "sepolia.json",
        recordPath: join(dir, "hardhat-31337.json"),
        lookup: async (name) => {
          const value = variables[name];
          if (value === undefined) throw new Error(`unexpected configuration variable ${name}`);
          return value;
        },
      });
      const c = r.record.contracts;
      expect(c.timelock).to.be.a("string");
      expect(r.record.roles).to.deep.equal({
        admin: c.timelock,
        governor: c.timelock,
        guardian: guardian.address,
        riskOracle: riskOracle.address,
        adlKeeper: adlKeeper.address,
      });
      expect(c.feeds).to.deep.equal({ ETH: json.markets[0].feed.address, BTC: json.markets[1].feed.address });
      expect(r.record.mocks).to.deep.equal({ collateral: true, feeds: [] });
      const oracle = (await ethers.getContractAt("OracleAdapter", c.oracle)) as unknown as OracleAdapter;
      expect((await oracle.getPrice(r.record.markets[1].feedId))[0]).to.equal(30_000n * WAD);

      const timelock = (await ethers.getContractAt("Timelock", c.timelock!)) as unknown as Timelock;
      const vault = (await ethers.getContractAt("Vault", c.vault)) as unknown as Vault;
      const engine = (await ethers.getContractAt("PerpEngine", c.engine)) as unknown as PerpEngine;
      for (const address of [c.oracle, c.vault, c.engine, c.insuranceFund, c.liquidationEngine, c.breaker!]) {
        const x = (await ethers.getContractAt("PerpEngine", address)) as unknown as PerpEngine;
        expect(await x.hasRole(GOVERNOR_ROLE, c.timelock!)).to.equal(true);
        expect(await x.hasRole(ADMIN_ROLE, c.timelock!)).to.equal(true);
        expect(await x.hasRole(GOVERNOR_ROLE, governor.address)).to.equal(false);
        expect(await x.hasRole(GOVERNOR_ROLE, deployer.address)).to.equal(false);
        expect(await x.hasRole(ADMIN_ROLE, deployer.address)).to.equal(false);
      }
      expect(await engine.hasRole(GUARDIAN_ROLE, guardian.address)).to.equal(true);
      // somebody can run auto-deleveraging on the test network: the keeper named by SEPOLIA_ADL_KEEPER
      expect(await engine.hasRole(ADL_KEEPER_ROLE, adlKeeper.address)).to.equal(true);
      // The timelock administers itself: neither the deployer nor the governor is its admin.
      expect(await timelock.getMinDelay()).to.equal(3600n);
      expect(await timelock.hasRole(ADMIN_ROLE, deployer.address)).to.equal(false);
      expect(await timelock.hasRole(ADMIN_ROLE, governor.address)).to.equal(false);
      expect(await timelock.hasRole(await timelock.PROPOSER_ROLE(), governor.address)).to.equal(true);

      // A direct governance call is refused, for the governor too.
      await expect(vault.connect(governor).setLpLockRatio(WAD / 2n))
        .to.be.revertedWithCustomError(vault, "AccessControlUnauthorizedAccount")
        .withArgs(governor.address, GOVERNOR_ROLE);

      // Through the timelock: schedule, wait out the delay, execute.
      const data = vault.interface.encodeFunctionData("setLpLockRatio", [WAD / 2n]);
      const salt = keccakText("lp lock 50%");
      const target = await vault.getAddress();
      await expect(timelock.connect(stranger).schedule(target, 0, data, ZeroHash, salt, 3600))
        .to.be.revertedWithCustomError(timelock, "AccessControlUnauthorizedAccount")
        .withArgs(stranger.address, await timelock.PROPOSER_ROLE());
      await timelock.connect(governor).schedule(target, 0, data, ZeroHash, salt, 3600);
      await expect(timelock.connect(governor).execute(target, 0, data, ZeroHash, salt)).to.be.revertedWithCustomError(
        timelock,
        "TimelockUnexpectedOperationState",
      );
      await networkHelpers.time.increase(3600);
      await expect(timelock.connect(governor).execute(target, 0, data, ZeroHash, salt))
        .to.emit(vault, "LpLockRatioSet")
        .withArgs(WAD / 2n);
      expect(await vault.lpLockRatio()).to.equal(WAD / 2n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses before any transaction: a stale Chainlink feed, the deployer named as a role holder", async function () {
    const { ethers, networkHelpers } = await network.create();
    const [deployer, , guardian] = await ethers.getSigners();
    const json = JSON.parse(readFileSync(SEPOLIA_PARAMS, "utf8"));
    delete json.chainId;
    json.confirmations = 1;
    const stand = (await ethers.deployContract("MockAggregator", [8, 1n, "stand-in"])) as unknown as MockAggregator;
    const code = await ethers.provider.getCode(await stand.getAddress());
    const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    for (const m of json.markets) {
      await networkHelpers.setCode(m.feed.address, code);
      const proxy = (await ethers.getContractAt("MockAggregator", m.feed.address)) as unknown as MockAggregator;
      await proxy.startPhase(1);
      await proxy.pushRound(2000n * 10n ** 8n, now - 5000n); // older than the 4500 s heartbeat
    }
    const variables: Record<string, string> = {
      SEPOLIA_GOVERNOR: deployer.address,
      SEPOLIA_GUARDIAN: guardian.address,
      SEPOLIA_RISK_ORACLE: guardian.address,
      SEPOLIA_ADL_KEEPER: guardian.address,
    };
    const dir = mkdtempSync(join(tmpdir(), "cascade-preflight-"));
    const nonce = await ethers.provider.getTransactionCount(deployer.address);
    try {
      const error = await deployNetwork(ethers, "hardhat", {
        params: parseParams(json, "sepolia.json"),
        source: "sepolia.json",
        recordPath: join(dir, "hardhat-31337.json"),
        lookup: async (name) => variables[name],
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(PreflightError);
      const message = (error as Error).message;
      expect(message).to.include("roles.governor is the deployer");
      expect(message).to.match(/market ETH: feed 0x694A\S* was last updated \d+ s ago, more than its heartbeat 4500 s/);
      expect(message).to.match(/market BTC: feed 0x1b44\S* was last updated/);
      expect(await ethers.provider.getTransactionCount(deployer.address)).to.equal(nonce);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
