/**
 * The keeper's parts on their own, without a node: configuration layers and messages, the account
 * book and the event follower's checkpointing, worst-first ordering, capacity and batch packing,
 * and the nonce and fee logic against a fake provider.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { Interface, type Log, Transaction, type TransactionRequest, Wallet } from "ethers";

import { DEFAULT_RISK } from "../../deploy/params.js";
import { accountSummary } from "../../scripts/lib/math/engine.js";
import type { MarketSnapshot } from "../../scripts/lib/math/engine.js";
import { positionValue } from "../../scripts/lib/math/perpMath.js";
import { AccountBook } from "../../scripts/keeper/book.js";
import { type ChainView, accrued, capacityRoom } from "../../scripts/keeper/chainView.js";
import { loadCheckpoint, saveCheckpoint } from "../../scripts/keeper/checkpoint.js";
import { parseArgs } from "../../scripts/keeper/cli.js";
import { ConfigError, type KeeperSettingsInput, keeperSettings, resolveConfig } from "../../scripts/keeper/config.js";
import { bumpFees, initialFees } from "../../scripts/keeper/fees.js";
import { EventFollower } from "../../scripts/keeper/follower.js";
import { ORDERS_ABI, ORDER_TOPICS, Settler } from "../../scripts/keeper/settler.js";
import type { ProtocolContracts } from "../../scripts/keeper/contracts.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { FOLLOWER_ADDR, FOLLOWER_OWNER, encodeLog, followerOver } from "../helpers/followerLogs.js";
import { Flagger, RENEW_AFTER_SECONDS } from "../../scripts/keeper/flagger.js";
import { Liquidator } from "../../scripts/keeper/liquidator.js";
import { KeeperMetrics } from "../../scripts/keeper/metrics.js";
import { Pokers } from "../../scripts/keeper/pokers.js";
import {
  type TranchePlan,
  batchGasLimit,
  fitCapacity,
  packBatches,
  previewFromRevert,
  GAS_PER_TAKEOVER,
  takeoverPlan,
  trancheGas,
} from "../../scripts/keeper/planner.js";
import {
  AccrualMemo,
  type ScanResult,
  maintenanceSummary,
  scanAccounts,
  worstFirst,
} from "../../scripts/keeper/scanner.js";
import { TxManager, type TxOutcome, type TxProvider, classifyBroadcastError } from "../../scripts/keeper/txManager.js";
import { CircuitBreaker__factory } from "../../types/ethers-contracts/factories/contracts/breaker/CircuitBreaker__factory.js";
import { ILiquidationEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidationEngine__factory.js";
import { IAutoDeleveraging__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IAutoDeleveraging__factory.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { PerpEngine__factory } from "../../types/ethers-contracts/factories/contracts/market/PerpEngine__factory.js";
import { Vault__factory } from "../../types/ethers-contracts/factories/contracts/vault/Vault__factory.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";

const GWEI = 10n ** 9n;
const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const BASE_ENV = { KEEPER_RPC_URL: "http://127.0.0.1:8545", KEEPER_PRIVATE_KEY: KEY };

function configProblems(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("keeper configuration", () => {
  it("layers flags over env over file over defaults", () => {
    const c = resolveConfig({
      flags: { maxBatch: "10" },
      env: { ...BASE_ENV, KEEPER_MAX_BATCH: "20", KEEPER_POLL_INTERVAL_MS: "300" },
      file: { path: "keeper.json", values: { maxBatch: 30, pollIntervalMs: 400, stuckBlocks: 7 } },
    });
    expect(c.maxBatch).to.equal(10);
    expect(c.pollIntervalMs).to.equal(300);
    expect(c.stuckBlocks).to.equal(7);
    expect(c.feeBumpPercent).to.equal(20);
    expect(c.network).to.equal("localhost");
    expect(c.privateKey).to.equal(KEY);
  });

  it("names the field, its flag and env variable, and where the bad value came from", () => {
    const problems = configProblems(() =>
      resolveConfig({ env: { KEEPER_MAX_BATCH: "500", KEEPER_PRIVATE_KEY: "0xdeadbeef", KEEPER_DRY_RUN: "maybe" } }),
    );
    expect(problems).to.include(
      "rpcUrl (--rpc or KEEPER_RPC_URL): is required: the node's JSON-RPC URL, e.g. http://127.0.0.1:8545",
    );
    expect(problems).to.include(
      "maxBatch (--max-batch or KEEPER_MAX_BATCH, from KEEPER_MAX_BATCH): must be at most 100",
    );
    expect(problems).to.include("dryRun (--dry-run or KEEPER_DRY_RUN, from KEEPER_DRY_RUN): must be true or false");
    const keyProblem = problems.find((p) => p.startsWith("privateKey"))!;
    expect(keyProblem).to.include("must be 32 bytes of hex");
    expect(problems.join("\n")).not.to.include("deadbeef");
  });

  it("rejects unknown settings in the file and bad URLs, and parses amounts exactly", () => {
    expect(
      configProblems(() => resolveConfig({ env: BASE_ENV, file: { path: "k.json", values: { maxBatchSize: 3 } } }))[0],
    ).to.match(/^config file k.json: unknown setting "maxBatchSize"/);
    expect(configProblems(() => resolveConfig({ env: { ...BASE_ENV, KEEPER_RPC_URL: "localhost:8545" } }))[0]).to.match(
      /^rpcUrl .*: must be an http:\/\/ or https:\/\/ URL/,
    );
    const c = resolveConfig({ env: { ...BASE_ENV, KEEPER_CLAIM_THRESHOLD: "1.5", KEEPER_MAX_FEE_GWEI: "0.25" } });
    expect(c.claimThreshold).to.equal((3n * WAD) / 2n);
    expect(c.maxFeeGwei).to.equal(GWEI / 4n);
    expect(configProblems(() => resolveConfig({ env: { ...BASE_ENV, KEEPER_CLAIM_THRESHOLD: "1.2.3" } }))[0]).to.match(
      /claimThreshold .*must be a non-negative decimal number/,
    );
    expect(resolveConfig({ env: { ...BASE_ENV, KEEPER_POKE_BREAKER: "no" } }).pokeBreaker).to.equal(false);
  });

  it("takes from the command line only the flags actually given", () => {
    const { flags, configPath } = parseArgs([
      "--max-batch",
      "5",
      "--no-poke-breaker",
      "--dry-run",
      "--config",
      "k.json",
    ]);
    expect(flags).to.deep.equal({ maxBatch: "5", pokeBreaker: false, dryRun: true });
    expect(configPath).to.equal("k.json");
  });

  it("validates in-process settings with the same schema", () => {
    expect(keeperSettings({ maxBatch: 7 }).maxBatch).to.equal(7);
    expect(configProblems(() => keeperSettings({ feeBumpPercent: 5 }))[0]).to.equal(
      "feeBumpPercent: must be at least 10",
    );
  });
});

// ---------------------------------------------------------------- the book and the follower

const engineIface = PerpEngine__factory.createInterface();
const vaultIface = Vault__factory.createInterface();
const liquidationIface = ILiquidationEngine__factory.createInterface();
const ADDR = FOLLOWER_ADDR;
const OWNER = FOLLOWER_OWNER;
const log = (address: string, iface: Interface, name: string, args: unknown[], blockNumber: number): Log =>
  encodeLog(address, iface, name, args, blockNumber);

const fee1 = WAD;
const fee2 = WAD / 2n;
const realised = positionValue(2n * WAD, 2000n * WAD, 2100n * WAD, 0n);
const realised2 = positionValue(-WAD / 2n, 30_000n * WAD, 30_400n * WAD, 0n); // -200 WAD
const EVENTS: Log[] = [
  log(ADDR.engine, engineIface, "AccountCreated", [1n, OWNER], 10),
  log(ADDR.vault, vaultIface, "MarginDeposited", [1n, OWNER, 1_000n * 10n ** 6n], 11),
  log(ADDR.engine, engineIface, "PositionModified", [1n, 0n, 5n * WAD, 5n * WAD, 2000n * WAD, fee1, 0n, 0n], 12),
  log(ADDR.engine, engineIface, "AccountCreated", [2n, OWNER], 60),
  log(ADDR.vault, vaultIface, "MarginDeposited", [2n, OWNER, 500n * 10n ** 6n], 61),
  log(ADDR.engine, engineIface, "PositionModified", [2n, 1n, -WAD, -WAD, 30_000n * WAD, 0n, 0n, 0n], 62),
  log(
    ADDR.engine,
    engineIface,
    "PositionModified",
    [1n, 0n, -2n * WAD, 3n * WAD, 2100n * WAD, fee2, realised, 0n],
    120,
  ),
  log(ADDR.vault, vaultIface, "PenaltyCharged", [1n, OWNER, WAD, WAD], 130),
  log(ADDR.liquidationEngine, liquidationIface, "LiquidationSettled", [1n, OWNER, false, WAD / 4n, 0n, WAD, 0n], 130),
  // a liquidation leg: no PositionModified, no PenaltyCharged; TrancheLiquidated carries the move, the
  // realised PnL and the penalty share
  log(
    ADDR.liquidationEngine,
    liquidationIface,
    "TrancheLiquidated",
    [2n, 1n, OWNER, WAD / 2n, -WAD / 2n, 30_400n * WAD, realised2, 6n * WAD, 4n * WAD, 0n, 0n],
    140,
  ),
  log(ADDR.liquidationEngine, liquidationIface, "LiquidationSettled", [2n, OWNER, false, WAD / 2n, 0n, WAD, 0n], 140),
];

/** getLogs over EVENTS, refusing ranges over 50 blocks as some nodes do. */
/** Account 1 opens one unit long in `marketId` at 2,000, with no fee. */
function openOneAt2000(book: AccountBook, marketId: number): void {
  book.positionModified({
    accountId: 1n,
    marketId,
    sizeDelta: WAD,
    newSize: WAD,
    fillPrice: 2000n * WAD,
    fee: 0n,
    realisedPnl: 0n,
    fundingIndex: 0n,
  });
}

function fakeLogs() {
  const calls: { fromBlock: number; toBlock: number }[] = [];
  return {
    calls,
    provider: {
      async getLogs(filter: { fromBlock: number; toBlock: number }) {
        calls.push({ fromBlock: filter.fromBlock, toBlock: filter.toBlock });
        if (filter.toBlock - filter.fromBlock + 1 > 50) throw new Error("query exceeds max block range 50");
        return EVENTS.filter((l) => l.blockNumber >= filter.fromBlock && l.blockNumber <= filter.toBlock);
      },
    },
  };
}

describe("keeper account book and event follower", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "keeper-unit-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("rebuilds margin and positions from events as the vault and engine change them", () => {
    const book = new AccountBook(10n ** 12n);
    book.accountCreated(1n, OWNER);
    book.marginDeposited(1n, 100n * 10n ** 6n);
    book.positionModified({
      accountId: 1n,
      marketId: 0,
      sizeDelta: WAD,
      newSize: WAD,
      fillPrice: 2000n * WAD,
      fee: WAD,
      realisedPnl: 0n,
      fundingIndex: 0n,
    });
    expect(book.get(1n)!.margin).to.equal(99n * WAD);
    expect(book.get(1n)!.positions.get(0)).to.deep.equal({ size: WAD, basis: 2000n * WAD });
    // a profit the pool could only partly pay
    book.profitShortfall(1n, 50n * WAD, 30n * WAD);
    book.positionModified({
      accountId: 1n,
      marketId: 0,
      sizeDelta: -WAD / 2n,
      newSize: WAD / 2n,
      fillPrice: 2100n * WAD,
      fee: 0n,
      realisedPnl: 50n * WAD,
      fundingIndex: 0n,
    });
    expect(book.get(1n)!.margin).to.equal(129n * WAD);
    // a loss beyond the margin leaves zero (the rest is bad debt)
    book.positionModified({
      accountId: 1n,
      marketId: 0,
      sizeDelta: -WAD / 2n,
      newSize: 0n,
      fillPrice: 1000n * WAD,
      fee: 0n,
      realisedPnl: -500n * WAD,
      fundingIndex: 0n,
    });
    expect(book.get(1n)!.margin).to.equal(0n);
    expect(book.get(1n)!.positions.size).to.equal(0);
    expect(book.get(1n)!.stale).to.equal(false);
    // sizes that do not add up: the account is re-read from the chain
    book.positionModified({
      accountId: 1n,
      marketId: 1,
      sizeDelta: WAD,
      newSize: 2n * WAD,
      fillPrice: WAD,
      fee: 0n,
      realisedPnl: 0n,
      fundingIndex: 0n,
    });
    expect(book.get(1n)!.stale).to.equal(true);
  });

  it("applies a liquidation leg's TrancheLiquidated: the reduction, its PnL, then its penalty share, to the wei", () => {
    const book = new AccountBook(10n ** 12n);
    book.accountCreated(1n, OWNER);
    book.marginDeposited(1n, 10n * 10n ** 6n); // 10 WAD
    for (const marketId of [0, 1]) openOneAt2000(book, marketId);
    // gains first: a 40 WAD profit the pool cut by 5, then a loss of 20; the penalty (9) split 4 + 5
    book.profitShortfall(1n, 40n * WAD, 35n * WAD);
    const leg = { accountId: 1n, sizeDelta: -WAD / 2n, newSize: WAD / 2n };
    book.trancheLeg({ ...leg, marketId: 0, fillPrice: 2080n * WAD, realisedPnl: 40n * WAD, penalty: 4n * WAD });
    book.trancheLeg({ ...leg, marketId: 1, fillPrice: 1960n * WAD, realisedPnl: -20n * WAD, penalty: 5n * WAD });
    book.settled(1n);
    expect(book.get(1n)!.margin).to.equal(10n * WAD + 35n * WAD - 20n * WAD - 9n * WAD);
    expect(book.get(1n)!.positions.get(0)).to.deep.equal({ size: WAD / 2n, basis: 2000n * WAD });
    expect(book.get(1n)!.positions.get(1)).to.deep.equal({ size: WAD / 2n, basis: 2000n * WAD });
    expect(book.get(1n)!.stale).to.equal(false);
    // a close: the position goes; a penalty the margin cannot pay did not fit: stale, at zero
    book.trancheLeg({ ...leg, marketId: 0, newSize: 0n, fillPrice: 2000n * WAD, realisedPnl: 0n, penalty: 17n * WAD });
    expect(book.get(1n)!.positions.has(0)).to.equal(false);
    expect(book.get(1n)!.margin).to.equal(0n);
    expect(book.get(1n)!.stale).to.equal(true);
  });

  it("applies a PenaltyCharged that precedes the PositionModified whose profit pays it, to the wei", () => {
    // Liquidation legs carry their penalty in TrancheLiquidated (test above); PenaltyCharged is still emitted
    // by chargePenalty (takeovers, order settlement). The book must end the same whichever of the two events
    // comes first: a profitable position event pays a penalty larger than the margin held before it.
    const book = new AccountBook(10n ** 12n);
    book.accountCreated(1n, OWNER);
    book.marginDeposited(1n, 10n * 10n ** 6n); // 10 WAD
    openOneAt2000(book, 0);
    book.penaltyCharged(1n, 12n * WAD, 3n * WAD); // 15 WAD, paid out of the leg's 40 WAD profit
    book.positionModified({
      accountId: 1n,
      marketId: 0,
      sizeDelta: -WAD,
      newSize: 0n,
      fillPrice: 2040n * WAD,
      fee: 0n,
      realisedPnl: 40n * WAD,
      fundingIndex: 0n,
    });
    book.settled(1n);
    expect(book.get(1n)!.margin).to.equal(35n * WAD);
    expect(book.get(1n)!.stale).to.equal(false);
    // a losing last leg: the loss takes what the penalty left, as the vault does (settle, then penalty)
    book.positionModified({
      accountId: 1n,
      marketId: 1,
      sizeDelta: WAD,
      newSize: WAD,
      fillPrice: 100n * WAD,
      fee: 0n,
      realisedPnl: 0n,
      fundingIndex: 0n,
    });
    book.penaltyCharged(1n, 4n * WAD, WAD);
    book.positionModified({
      accountId: 1n,
      marketId: 1,
      sizeDelta: -WAD,
      newSize: 0n,
      fillPrice: 80n * WAD,
      fee: 0n,
      realisedPnl: -20n * WAD,
      fundingIndex: 0n,
    });
    book.settled(1n);
    expect(book.get(1n)!.margin).to.equal(10n * WAD);
    expect(book.get(1n)!.stale).to.equal(false);
    // a penalty no event pays for leaves the account stale, at zero
    book.penaltyCharged(1n, 11n * WAD, 0n);
    book.settled(1n);
    expect(book.get(1n)!.margin).to.equal(0n);
    expect(book.get(1n)!.stale).to.equal(true);
  });

  it("reports positions moved by force (takeover, unwind, backstop loss, auto-deleveraging) to the breaker pokes, with their block", async () => {
    const backstopIface = IBackstopEngine__factory.createInterface();
    const adlIface = IAutoDeleveraging__factory.createInterface();
    const encode = (iface: Interface, name: string, args: unknown[], blockNumber: number) =>
      encodeLog(ADDR.liquidationEngine, iface, name, args, blockNumber, `0x${blockNumber}`);
    const logs = [
      encode(backstopIface, "BackstopUnwound", [0n, OWNER, -WAD, 2000n * WAD, 2000n * WAD, -WAD, false], 20),
      encode(adlIface, "AutoDeleveraged", [0n, 1n, -WAD, 2000n * WAD, WAD, WAD], 21),
      encode(backstopIface, "BackstopLoss", [0n, WAD, 0n], 22),
    ];
    const forced: number[] = [];
    const follower = followerOver(logs, { onForced: (blockNumber) => forced.push(blockNumber) });
    await follower.advance(30);
    expect(forced).to.deep.equal([20, 21, 22]);
  });

  it("fetches the settler's order events in its own request: the settler's pending orders as when it reads alone, and it reads what was not offered", async () => {
    const orders = new Interface(ORDERS_ABI);
    const at = (address: string, blockNumber: number, name: string, args: unknown[]) => {
      const { data, topics } = orders.encodeEventLog(orders.getEvent(name)!, args);
      return { address, data, topics, blockNumber, transactionHash: `0x${blockNumber}` } as unknown as Log;
    };
    const committed = (id: bigint, settleFrom: bigint) => [id, 0n, WAD, 0n, 0n, settleFrom, settleFrom + 100n];
    const settled = (id: bigint) => [id, 0n, WAD, 1n, 2000n * WAD, OWNER, 0n, 60n];
    // the follower's own events (EVENTS) and order events of the engine, one of them from another address
    const all = [
      ...EVENTS,
      at(ADDR.engine, 8, "OrderCommitted", committed(1n, 10n)),
      at(ADDR.engine, 12, "OrderCommitted", committed(2n, 20n)),
      at(ADDR.engine, 33, "OrderSettled", settled(1n)),
      at(ADDR.vault, 34, "OrderCommitted", committed(9n, 40n)),
      at(ADDR.engine, 40, "OrderCommitted", committed(3n, 50n)),
      at(ADDR.engine, 61, "OrderSettled", settled(2n)),
      at(ADDR.engine, 75, "OrderCommitted", committed(4n, 80n)),
    ].sort((x, y) => x.blockNumber - y.blockNumber);
    const calls: { address: string[]; fromBlock: number; toBlock: number }[] = [];
    const provider = {
      async getLogs(f: { address: string | string[]; topics: string[][]; fromBlock: number; toBlock: number }) {
        const address = ([] as string[]).concat(f.address).map((a) => a.toLowerCase());
        calls.push({ address, fromBlock: f.fromBlock, toBlock: f.toBlock });
        if (f.toBlock - f.fromBlock + 1 > 20) throw new Error("query exceeds max block range 20");
        return all.filter(
          (l) =>
            address.includes(l.address.toLowerCase()) &&
            f.topics[0].includes(l.topics[0]) &&
            l.blockNumber >= f.fromBlock &&
            l.blockNumber <= f.toBlock,
        );
      },
    };
    const settler = (startBlock: number) =>
      new Settler({
        contracts: { engine: { target: ADDR.engine } } as unknown as ProtocolContracts,
        tx: undefined as unknown as TxManager,
        settings: keeperSettings({ logRangeBlocks: 20 }),
        logger: silentLogger(),
        metrics: new KeeperMetrics(),
        provider,
        startBlock,
      });
    const pending = (s: Settler) => [...s.pending.entries()];
    const alone = settler(5);
    const shared = settler(5);
    const book = new AccountBook(10n ** 12n);
    const follower = new EventFollower({
      provider,
      addresses: ADDR,
      book,
      startBlock: 5,
      rangeBlocks: 100,
      logger: silentLogger(),
      also: { address: ADDR.engine, topics: ORDER_TOPICS, take: (logs, from, to) => shared.offer(logs, from, to) },
    });
    const reference = new AccountBook(10n ** 12n);
    await new EventFollower({
      provider,
      addresses: ADDR,
      book: reference,
      startBlock: 5,
      rangeBlocks: 100,
      logger: silentLogger(),
    }).advance(150);
    // the follower halves its refused range with the order topics in it, and offers what it fetched
    await follower.advance(30);
    expect(calls.at(-1)!.toBlock - calls.at(-1)!.fromBlock + 1).to.be.at.most(20);
    let before = calls.length;
    for (const to of [20, 30]) {
      await alone.follow(to);
      await shared.follow(to);
      expect(pending(shared), `at ${to}`).to.deep.equal(pending(alone));
    }
    // the shared settler asked nothing: every request since was the lone one's (one address)
    expect(calls.slice(before).every((c) => c.address.length === 1)).to.equal(true);
    expect(pending(shared).map(([id]) => id)).to.deep.equal([1n, 2n]);
    // offered past where it follows: kept for later, applied in order
    await follower.advance(70);
    before = calls.length;
    await alone.follow(40);
    await shared.follow(40);
    expect(pending(shared)).to.deep.equal(pending(alone));
    expect(calls.length - before).to.equal(1); // the lone settler's only
    // beyond what was offered, the settler reads the rest itself (blocks 71 to 90)
    before = calls.length;
    await shared.follow(90);
    expect(calls.slice(before).map((c) => [c.fromBlock, c.toBlock])).to.deep.equal([[71, 90]]);
    await alone.follow(90);
    expect(pending(shared)).to.deep.equal(pending(alone));
    expect(pending(shared).map(([id]) => id)).to.deep.equal([3n, 4n]);
    // an offer after a gap (a follower resumed from a checkpoint ahead of the settler) is not used
    const late = settler(5);
    late.offer([all.find((l) => l.blockNumber === 75)!], 71, 90);
    await late.follow(90);
    expect(pending(late)).to.deep.equal(pending(alone));
    // the follower's own book is what it builds alone: the order events are not its own
    await follower.advance(150);
    expect(book.serialize()).to.deep.equal(reference.serialize());
  });

  it("follows in bounded ranges, halves a refused range, and resumes from the checkpoint", async () => {
    const full = fakeLogs();
    const settled: bigint[] = [];
    const bookWhole = new AccountBook(10n ** 12n);
    const whole = new EventFollower({
      provider: full.provider,
      addresses: ADDR,
      book: bookWhole,
      startBlock: 5,
      rangeBlocks: 100,
      logger: silentLogger(),
      onSettled: (id) => settled.push(id),
    });
    await whole.advance(150);
    expect(full.calls[0]).to.deep.equal({ fromBlock: 5, toBlock: 104 });
    expect(full.calls.slice(1).every((c) => c.toBlock - c.fromBlock + 1 <= 50)).to.equal(true);
    expect(whole.lastBlock).to.equal(150);
    expect(settled).to.deep.equal([1n, 2n]);
    const a1 = bookWhole.get(1n)!;
    expect(a1.margin).to.equal(1000n * WAD - fee1 + realised - fee2 - 2n * WAD);
    expect(a1.positions.get(0)).to.deep.equal({ size: 3n * WAD, basis: 2000n * WAD });
    // the liquidation leg: position reduced (basis kept), its loss then its penalty share taken
    const a2 = bookWhole.get(2n)!;
    expect(realised2).to.equal(-200n * WAD);
    expect(a2.margin).to.equal(500n * WAD + realised2 - 6n * WAD);
    expect(a2.positions.get(1)).to.deep.equal({ size: -WAD / 2n, basis: 30_000n * WAD });
    expect(a2.stale).to.equal(false);

    // first run stops at block 70 and writes its checkpoint
    const part = fakeLogs();
    const bookA = new AccountBook(10n ** 12n);
    const a = new EventFollower({
      provider: part.provider,
      addresses: ADDR,
      book: bookA,
      startBlock: 5,
      rangeBlocks: 40,
      logger: silentLogger(),
    });
    await a.advance(70);
    const file = join(dir, "cp.json");
    const expect_ = { chainId: 31337, engine: ADDR.engine };
    saveCheckpoint(file, {
      version: 1,
      ...expect_,
      lastBlock: a.lastBlock,
      lastBlockHash: "0xaa",
      savedAt: "now",
      accounts: bookA.serialize(),
    });
    expect(loadCheckpoint(file, { chainId: 1, engine: ADDR.engine })).to.include({
      ok: false,
      reason: "other-deployment",
    });
    const loaded = loadCheckpoint(file, expect_);
    if (!loaded.ok) throw new Error("checkpoint not loaded");

    // the restart resumes at block 71, not at startBlock, and ends with the same book
    const resumed = fakeLogs();
    const bookB = AccountBook.deserialize(10n ** 12n, loaded.checkpoint.accounts);
    const b = new EventFollower({
      provider: resumed.provider,
      addresses: ADDR,
      book: bookB,
      startBlock: 5,
      rangeBlocks: 40,
      logger: silentLogger(),
    });
    b.lastBlock = loaded.checkpoint.lastBlock;
    await b.advance(150);
    expect(resumed.calls[0].fromBlock).to.equal(71);
    expect(bookB.serialize()).to.deep.equal(bookWhole.serialize());
  });
});

// ---------------------------------------------------------------- scan order, capacity, batches

const NOW = 1_000_000n;
const ETH_MARKET: MarketSnapshot = {
  config: { skewScale: 1_000_000n * WAD, maxFundingRatePerSecond: WAD / 1000n / 3600n, risk: DEFAULT_RISK },
  state: {
    longOpenInterest: 120n * WAD,
    shortOpenInterest: 20n * WAD,
    fundingIndex: 3n * WAD,
    lastAccrualTime: NOW - 1_000n,
    maintenanceTerm: (16n * WAD) / 1000n,
  },
  price: 1_800n * WAD,
  sigma: (6n * WAD) / 10n,
  levelImMultiplier: WAD,
};

/** The default deployment's keeper-reward fields the liquidation margin reads. */
const LIQUIDATION_MARGIN = { flat: 2n * WAD, min: 2n * WAD, shareOfNotional: 5n * 10n ** 14n, max: 500n * WAD };

function view(markets: Map<number, MarketSnapshot>): ChainView {
  return {
    blockNumber: 1,
    timestamp: NOW,
    baseFeePerGas: GWEI,
    engine: {
      timestamp: NOW,
      markets: new Map([...markets].map(([id, m]) => [id, accrued(m, NOW)])),
      liquidationMargin: LIQUIDATION_MARGIN,
    },
    capacity: new Map(),
    unpriced: new Map(),
    stale: new Map(),
    liquidation: {
      trancheFraction: WAD / 4n,
      healthBuffer: WAD / 10n,
      backstopRatio: 6667n * 10n ** 14n,
      penaltyRate: WAD / 200n,
      cooldown: 30n,
      capacityWindow: 60n,
      capacityDepthFactor: WAD / 200n,
      dustNotional: 100n * WAD,
      capBypassRatio: 6667n * 10n ** 14n,
    },
  };
}

describe("keeper scan and plans", () => {
  /** The batch limits of the packing tests: 100 accounts, a 16.7M gas cap, 400k overhead, 110k a tranche. */
  const limits = {
    maxBatch: 100,
    gasPerTranche: 110_000,
    gasPerExtraLeg: 60_000,
    gasPerFundCall: 70_000,
    batchGasOverhead: 400_000,
    txGasCap: 16_777_216,
  };

  it("evaluates with market accruals computed once, exactly as the mirror does per position", () => {
    const account = { margin: 2_000n * WAD, positions: new Map([[0, { size: 10n * WAD, basis: 1_990n * WAD }]]) };
    const lm = LIQUIDATION_MARGIN;
    const direct = accountSummary(
      { timestamp: NOW, markets: new Map([[0, ETH_MARKET]]), liquidationMargin: lm },
      account,
    );
    const once = accountSummary(
      { timestamp: NOW, markets: new Map([[0, accrued(ETH_MARKET, NOW)]]), liquidationMargin: lm },
      account,
    );
    expect(once).to.deep.equal(direct);
  });

  it("scans with maintenanceSummary: accountSummary's equity, maintenance margin and notional to the wei, and its errors", () => {
    // three markets not yet accrued (funding and the term ramp computed per scan), sizes of both signs
    const markets = new Map<number, MarketSnapshot>([
      [0, ETH_MARKET],
      [3, { ...ETH_MARKET, price: 31n * WAD, sigma: WAD, state: { ...ETH_MARKET.state, lastAccrualTime: NOW - 7n } }],
      [
        9,
        {
          ...ETH_MARKET,
          price: 65_000n * WAD,
          state: { ...ETH_MARKET.state, longOpenInterest: 0n, shortOpenInterest: 40n * WAD },
        },
      ],
    ]);
    const snapshot = { timestamp: NOW, markets, liquidationMargin: LIQUIDATION_MARGIN };
    let seed = 20261206n;
    const next = (n: bigint) => {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
      return seed % n;
    };
    const memo = new AccrualMemo(snapshot);
    let compared = 0;
    for (let k = 0; k < 300; k++) {
      const positions = new Map<number, { size: bigint; basis: bigint }>();
      for (const m of [9, 0, 3]) {
        if (next(3n) === 0n) continue;
        const size = (next(2n) === 0n ? -1n : 1n) * (next(50n * WAD) + (k % 7 === 0 ? 0n : 1n));
        positions.set(m, { size, basis: size * (next(2_000n) + 1n) });
      }
      const account = { margin: next(100_000n * WAD), positions };
      const full = accountSummary(snapshot, account);
      const lean = maintenanceSummary(snapshot, account, memo);
      expect(lean).to.deep.equal({ ...full, initialMargin: 0n });
      expect(maintenanceSummary(snapshot, account)).to.deep.equal(lean);
      compared++;
    }
    expect(compared).to.equal(300);
    // a market accrued at a time after the snapshot's, a size out of int128: both refuse
    const behind = {
      ...snapshot,
      markets: new Map([[0, { ...ETH_MARKET, state: { ...ETH_MARKET.state, lastAccrualTime: NOW + 1n } }]]),
    };
    const one = { margin: WAD, positions: new Map([[0, { size: WAD, basis: WAD }]]) };
    expect(() => accountSummary(behind, one)).to.throw();
    expect(() => maintenanceSummary(behind, one)).to.throw();
    const memoBehind = new AccrualMemo(behind);
    expect(() => maintenanceSummary(behind, one, memoBehind)).to.throw();
    expect(() => maintenanceSummary(behind, one, memoBehind)).to.throw();
    const huge = { margin: WAD, positions: new Map([[0, { size: 2n ** 127n, basis: 0n }]]) };
    expect(() => accountSummary(snapshot, huge)).to.throw();
    expect(() => maintenanceSummary(snapshot, huge)).to.throw();
  });

  it("orders liquidatable accounts worst first and flags the backstop", () => {
    const book = new AccountBook(10n ** 12n);
    // a long of 10 ETH from 2000 at 1800 loses ~2000 (plus funding): equity = margin - ~2000
    const margins = [3_000n, 2_280n, 2_250n, 2_100n, 1_900n, 1_950n];
    margins.forEach((m, i) => {
      const id = BigInt(i + 1);
      book.accountCreated(id, OWNER);
      book.replace(id, OWNER, m * WAD, new Map([[0, { size: 10n * WAD, basis: 2_000n * WAD - 3n * WAD }]]));
    });
    const scan = scanAccounts(book, view(new Map([[0, ETH_MARKET]])));
    expect(scan.withPositions).to.equal(6);
    expect(scan.liquidatable.map((a) => a.accountId)).to.deep.equal([5n, 6n, 4n, 3n, 2n]);
    expect(scan.liquidatable.map((a) => a.backstop)).to.deep.equal([true, true, true, false, false]);
    const healths = scan.liquidatable.map((a) => a.health);
    expect([...healths].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).to.deep.equal(healths);
    // equal health: larger shortfall first, then the lower id
    const h = { health: 0n, notional: 0n, backstop: true, markets: [] };
    expect(
      worstFirst(
        { ...h, accountId: 9n, equity: -5n, maintenanceMargin: 10n },
        { ...h, accountId: 1n, equity: -1n, maintenanceMargin: 10n },
      ),
    ).to.equal(-1);
    expect(
      worstFirst(
        { ...h, accountId: 2n, equity: -1n, maintenanceMargin: 10n },
        { ...h, accountId: 1n, equity: -1n, maintenanceMargin: 10n },
      ),
    ).to.equal(1);
  });

  it("leaves out accounts in markets without a price", () => {
    const book = new AccountBook(10n ** 12n);
    book.replace(1n, OWNER, WAD, new Map([[7, { size: WAD, basis: WAD }]]));
    const scan = scanAccounts(book, view(new Map([[0, ETH_MARKET]])));
    expect(scan).to.deep.include({ unpriced: 1, liquidatable: [] });
  });

  it("values a stale leg at its band's edge only with a fresh leg beside it and a feed that is only stale", () => {
    const stale = {
      lastPrice: ETH_MARKET.price,
      updatedAt: NOW - 4_000n,
      long: accrued({ ...ETH_MARKET, price: (ETH_MARKET.price * 105n) / 100n }, NOW),
      short: accrued({ ...ETH_MARKET, price: (ETH_MARKET.price * 95n) / 100n }, NOW),
    };
    const book = new AccountBook(10n ** 12n);
    const leg = { size: 10n * WAD, basis: 2_000n * WAD };
    // 1: a fresh ETH leg (market 0) far under water and a leg in market 7, whose feed is only stale
    book.replace(
      1n,
      OWNER,
      1_000n * WAD,
      new Map([
        [0, leg],
        [7, { size: WAD / 100n, basis: 1_800n * WAD }],
      ]),
    );
    // 2: only the stale leg: the contract refuses with StaleAnswer, nothing to liquidate
    book.replace(2n, OWNER, 1_000n * WAD, new Map([[7, leg]]));
    // 3: a fresh leg and a leg in market 8, whose feed fails otherwise (not StaleAnswer)
    book.replace(
      3n,
      OWNER,
      1_000n * WAD,
      new Map([
        [0, leg],
        [8, leg],
      ]),
    );
    const v = view(new Map([[0, ETH_MARKET]]));
    v.unpriced.set(7, "StaleAnswer").set(8, "InvalidAnswer");
    v.stale.set(7, stale);
    const scan = scanAccounts(book, v);
    expect(scan).to.deep.include({ withPositions: 3, staleValued: 1, unpriced: 2, unevaluated: 0 });
    expect(scan.liquidatable.map((a) => a.accountId)).to.deep.equal([1n]);
    // the long stale leg at the band's upper edge: equity and notional as the mirror has them there
    const atEdge = accountSummary(
      {
        timestamp: NOW,
        markets: new Map([
          [0, v.engine.markets.get(0)!],
          [7, stale.long],
        ]),
        liquidationMargin: LIQUIDATION_MARGIN,
      },
      book.snapshotOf(book.get(1n)!),
    );
    expect(scan.liquidatable[0]).to.deep.include({ equity: atEdge.equity, notional: atEdge.notional });
  });

  /** `backstop`: a full close; `bypassesCapacity`: near bankruptcy (below capBypassRatio), defaults to backstop */
  const plan = (
    id: bigint,
    legs: [number, bigint][],
    backstop = false,
    touchesFund = false,
    bypassesCapacity = backstop,
  ): TranchePlan => ({
    accountId: id,
    backstop,
    bypassesCapacity,
    touchesFund,
    trancheNotional: legs.reduce((s, [, n]) => s + n, 0n),
    keeperReward: 0n,
    legs: legs.map(([marketId, notional]) => ({ marketId, notional })),
  });

  it("lets through what the capacity allows, worst first; a tranche near bankruptcy always goes", () => {
    const rooms = new Map([
      [0, 100n],
      [1, 50n],
      [2, 30n],
    ]);
    const { selected, heldBack } = fitCapacity(
      [
        plan(1n, [[0, 60n]]),
        plan(2n, [[0, 60n]]),
        plan(3n, [[0, 10n]]),
        plan(4n, [[1, 80n]], true),
        plan(5n, [[1, 1n]]),
        plan(6n, [[1, 1n]], true, false, false),
        plan(7n, [[0, 5n]], true, false, false),
        plan(8n, [
          [1, 1n],
          [2, 10n],
        ]),
      ],
      rooms,
    );
    // 1 takes 60 of 100; 2 takes the remaining 40 (the contract scales it down); 3 finds none left;
    // 4 is near bankruptcy and goes whatever the room; 6 and 7 are backstops above the bypass threshold:
    // they wait for capacity like any tranche; 8's BTC leg waits but its leg in market 2 has room: it goes
    expect(selected.map((p) => p.accountId)).to.deep.equal([1n, 2n, 4n, 8n]);
    expect(heldBack.map((p) => p.accountId)).to.deep.equal([3n, 5n, 6n, 7n]);
    const room = capacityRoom(
      { capacityDepthFactor: WAD / 200n, capacityWindow: 60n },
      1_000n * WAD,
      2_000n * WAD,
      { start: 100n, used: 5n * WAD },
      130n,
    );
    expect(room).to.deep.equal({ capacity: 10_000n * WAD, used: 5n * WAD, room: 9_995n * WAD });
    expect(
      capacityRoom(
        { capacityDepthFactor: WAD / 200n, capacityWindow: 60n },
        1_000n * WAD,
        2_000n * WAD,
        { start: 100n, used: 5n * WAD },
        160n,
      ).used,
    ).to.equal(0n);
  });

  it("packs batches under the account limit and the gas cap", () => {
    const single = Array.from({ length: 250 }, (_, i) => plan(BigInt(i + 1), [[0, 1n]]));
    // 16.7M less 400k at 110k a tranche: 148 fit, so the 100-account limit binds
    expect(packBatches(single, limits).map((b) => b.length)).to.deep.equal([100, 100, 50]);
    // two positions and bad debt for the fund to cover: 110k + 60k + 70k each, 68 fit
    const cross = Array.from({ length: 120 }, (_, i) =>
      plan(
        BigInt(i + 1),
        [
          [0, 1n],
          [1, 1n],
        ],
        true,
        true,
      ),
    );
    const batches = packBatches(cross, limits);
    expect(batches.map((b) => b.length)).to.deep.equal([68, 52]);
    expect(batchGasLimit(batches[0], limits)).to.equal(400_000n + 68n * 240_000n);
    expect(batches.flat().map((p) => p.accountId)).to.deep.equal(cross.map((p) => p.accountId));
  });

  it("sends a held-back account for the backstop vault's takeover: no capacity used, gas budgeted as a takeover", () => {
    const t = takeoverPlan(7n);
    expect(trancheGas(t, limits)).to.equal(GAS_PER_TAKEOVER);
    expect(GAS_PER_TAKEOVER).to.be.greaterThan(trancheGas(plan(1n, [[0, 1n]], true, true), limits));
    // a takeover sells nothing: it takes no room from the tranches behind it
    const rooms = new Map([[0, 10n]]);
    const { selected, heldBack } = fitCapacity([t, plan(2n, [[0, 10n]])], rooms);
    expect(selected.map((p) => p.accountId)).to.deep.equal([7n, 2n]);
    expect(heldBack).to.deep.equal([]);
  });

  it("reads the contract's refusals as normal answers", () => {
    const le = ILiquidationEngine__factory.createInterface();
    const revert = (name: string, args: unknown[]) => ({ data: le.encodeErrorResult(name as never, args as never) });
    expect(previewFromRevert(revert("AccountHealthy", [1n, 5n, 3n]))).to.deep.equal({ kind: "healthy" });
    expect(previewFromRevert(revert("NoPositions", [1n]))).to.deep.equal({ kind: "no-positions" });
    expect(previewFromRevert(revert("TrancheCoolingDown", [1n, 1234n]))).to.deep.equal({
      kind: "cooling-down",
      readyAt: 1234n,
    });
    expect(previewFromRevert(revert("LiquidationCapacityExhausted", [1n, 1n, 99n]))).to.deep.equal({
      kind: "no-capacity",
      marketId: 1,
      windowEndsAt: 99n,
    });
    expect(previewFromRevert(new Error("boom")).kind).to.equal("failed");
  });
});

// ---------------------------------------------------------------- nonces and fees

/** A chain that mines what the test tells it to; records every broadcast. */
class FakeChain {
  mined = 0;
  sent: Transaction[] = [];
  receipts = new Map<string, { hash: string; status: number; logs: [] }>();
  fail: Error | undefined;
  /** eth_calls made, and what the next one throws */
  calls: TransactionRequest[] = [];
  callFails: Error | undefined;

  provider(): TxProvider {
    return {
      getTransactionCount: async (_a: unknown, tag?: unknown) =>
        tag === "latest" ? this.mined : Math.max(this.mined, ...this.sent.map((t) => t.nonce + 1)),
      broadcastTransaction: async (raw: string) => {
        if (this.fail) {
          const e = this.fail;
          this.fail = undefined;
          throw e;
        }
        const tx = Transaction.from(raw);
        this.sent.push(tx);
        return { hash: tx.hash } as never;
      },
      getTransactionReceipt: async (hash: string) => (this.receipts.get(hash) ?? null) as never,
      getTransaction: async (hash: string) => (this.sent.some((t) => t.hash === hash) ? ({ hash } as never) : null),
      estimateGas: async () => 21_000n,
      call: async (req: TransactionRequest) => {
        this.calls.push(req);
        if (this.callFails) throw this.callFails;
        return "0x";
      },
    } as unknown as TxProvider;
  }

  mine(tx: Transaction, status = 1): void {
    this.receipts.set(tx.hash!, { hash: tx.hash!, status, logs: [] });
    this.mined = tx.nonce + 1;
  }
}

describe("keeper nonces and fees", () => {
  const policy = { maxFee: 100n * GWEI, maxPriorityFee: 2n * GWEI, feeBumpPercent: 20, stuckBlocks: 3 };
  const fees = { maxFeePerGas: 3n * GWEI, maxPriorityFeePerGas: GWEI };
  const req = (key: string) => ({
    kind: "liquidation" as const,
    key,
    to: ADDR.liquidationEngine,
    data: "0x",
    gasLimit: 100_000n,
  });

  it("prices new transactions from the base fee and bumps replacements by at least 10%", () => {
    expect(initialFees(10n * GWEI, 3n * GWEI, policy)).to.deep.equal({
      maxFeePerGas: 22n * GWEI,
      maxPriorityFeePerGas: 2n * GWEI,
    });
    expect(initialFees(60n * GWEI, GWEI, policy)).to.deep.equal({
      maxFeePerGas: 100n * GWEI,
      maxPriorityFeePerGas: GWEI,
    });
    expect(initialFees(150n * GWEI, GWEI, policy), "cap below the base fee: wait").to.equal(undefined);
    expect(bumpFees(fees, undefined, policy)).to.deep.equal({
      maxFeePerGas: (36n * GWEI) / 10n,
      maxPriorityFeePerGas: (12n * GWEI) / 10n,
    });
    expect(bumpFees(fees, { maxFeePerGas: 9n * GWEI, maxPriorityFeePerGas: GWEI }, policy)!.maxFeePerGas).to.equal(
      9n * GWEI,
    );
    expect(
      bumpFees({ maxFeePerGas: 95n * GWEI, maxPriorityFeePerGas: GWEI }, undefined, policy),
      "no room under the cap",
    ).to.equal(undefined);
  });

  /** A TxManager over the fake chain, signing locally with the test key (the production path). */
  const managerOn = (chain: FakeChain) => {
    const wallet = new Wallet(KEY);
    const tx = new TxManager({
      provider: chain.provider(),
      signer: wallet,
      address: wallet.address,
      chainId: 31337n,
      policy,
      logger: silentLogger(),
    });
    return { wallet, tx };
  };

  it("assigns nonces itself, follows receipts, and replaces a stuck transaction at the same nonce", async () => {
    const chain = new FakeChain();
    chain.mined = 5;
    const { tx } = managerOn(chain);
    await tx.sync();
    const sent = [
      await tx.submit(req("a"), fees, 100),
      await tx.submit(req("b"), fees, 100),
      await tx.submit(req("c"), fees, 100),
    ];
    expect(sent.map((t) => t!.nonce)).to.deep.equal([5, 6, 7]);
    expect(chain.sent.map((t) => t.nonce)).to.deep.equal([5, 6, 7]);

    chain.mine(chain.sent[0]);
    const out = await tx.poll(101, async () => fees);
    expect(out.map((o) => [o.tx.nonce, o.status])).to.deep.equal([[5, "mined"]]);
    expect(tx.count()).to.equal(2);

    // three blocks without nonce 6: both 6 and 7 are re-signed with higher fees
    const replaced = await tx.poll(103, async () => fees);
    expect(replaced).to.deep.equal([]);
    const bumps = chain.sent.slice(3);
    expect(bumps.map((t) => t.nonce)).to.deep.equal([6, 7]);
    expect(bumps[0].maxFeePerGas).to.equal((36n * GWEI) / 10n);
    expect(tx.pending.get(6)!.hashes.length).to.equal(2);

    // the replacement is the one mined: found by its hash
    chain.mine(bumps[0], 0);
    const out2 = await tx.poll(104, async () => fees);
    expect(out2.map((o) => [o.tx.nonce, o.status, o.receipt?.hash])).to.deep.equal([[6, "reverted", bumps[0].hash]]);
  });

  it("re-sends what was lost in transit, frees the nonce of a refusal, and drops what another sender mined", async () => {
    const chain = new FakeChain();
    const { tx } = managerOn(chain);
    await tx.sync();
    chain.fail = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "NETWORK_ERROR" });
    const lost = await tx.submit(req("a"), fees, 10);
    expect(lost!.nonce).to.equal(0);
    expect(lost!.resend).to.equal(true);
    expect(chain.sent).to.have.length(0);
    await tx.poll(11, async () => fees);
    expect(chain.sent.map((t) => [t.nonce, t.hash])).to.deep.equal([[0, lost!.hashes[0]]]);

    chain.fail = new Error("insufficient funds for gas * price + value");
    expect(await tx.submit(req("b"), fees, 11)).to.equal(undefined);
    expect(tx.drainRefusals(), "a refusal is reported once, with its reason").to.deep.equal([
      { kind: "liquidation", failure: "insufficient-funds", message: "insufficient funds for gas * price + value" },
    ]);
    expect(tx.drainRefusals()).to.deep.equal([]);
    const next = await tx.submit(req("c"), fees, 11);
    expect(next!.nonce, "the refused nonce is used again").to.equal(1);

    // the key was used elsewhere: nonces 0 and 1 mined, none of our hashes among them
    chain.mined = 2;
    chain.receipts.clear();
    const out = await tx.poll(12, async () => fees);
    expect(out.map((o) => o.status)).to.deep.equal(["dropped", "dropped"]);
    expect((await tx.submit(req("d"), fees, 12))!.nonce).to.equal(2);
  });

  it("proves a gas limit with one call from its address: a revert is false, a transport failure thrown", async () => {
    const chain = new FakeChain();
    const { wallet, tx } = managerOn(chain);
    expect(await tx.fits(ADDR.breaker, "0x18178358", 300_000n)).to.equal(true);
    expect(chain.calls[0]).to.deep.include({ from: wallet.address, to: ADDR.breaker, gasLimit: 300_000n });
    expect(chain.calls[0].blockTag).to.equal("latest");
    chain.callFails = Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" });
    expect(await tx.fits(ADDR.breaker, "0x18178358", 300_000n)).to.equal(false);
    chain.callFails = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "NETWORK_ERROR" });
    let thrown: unknown;
    await tx.fits(ADDR.breaker, "0x18178358", 300_000n).catch((e: unknown) => (thrown = e));
    expect(thrown).to.equal(chain.callFails);
  });

  it("tells node refusals apart", () => {
    expect(classifyBroadcastError(new Error("nonce too low"))).to.equal("nonce-used");
    expect(classifyBroadcastError(new Error("replacement transaction underpriced"))).to.equal("underpriced");
    expect(classifyBroadcastError(new Error("already known"))).to.equal("known");
    expect(classifyBroadcastError(Object.assign(new Error("x"), { code: "TIMEOUT" }))).to.equal("transport");
    expect(classifyBroadcastError(new Error("execution reverted"))).to.equal("rejected");
    // a key without ether: geth's words, Hardhat's (inside ethers' "could not coalesce error"), ethers' code
    expect(classifyBroadcastError(new Error("insufficient funds"))).to.equal("insufficient-funds");
    const hardhat = Object.assign(new Error("could not coalesce error"), {
      code: "UNKNOWN_ERROR",
      error: { code: -32003, message: "Sender doesn't have enough funds to send tx. The max upfront cost is: 7" },
    });
    expect(classifyBroadcastError(hardhat)).to.equal("insufficient-funds");
    expect(classifyBroadcastError(Object.assign(new Error("x"), { code: "INSUFFICIENT_FUNDS" }))).to.equal(
      "insufficient-funds",
    );
  });
});

// ---------------------------------------------------------------- pokes

describe("keeper pokes", () => {
  /** A breaker whose triggers propose `level.proposed`, its level in force `level.inForce`; counts reads. */
  function world(interval: number, extra: KeeperSettingsInput = {}) {
    const reads = { proposed: 0, pokeDue: 0, head: 0 };
    const level = { proposed: 0n, inForce: { level: 0n, lastChange: 0n, lastHeld: 0n }, due: true };
    const breakerIface = CircuitBreaker__factory.createInterface();
    const breaker = {
      target: ADDR.breaker,
      interface: breakerIface,
      deescalationCooldown: async () => 1800n,
      proposedLevel: async () => {
        reads.proposed++;
        return { level: level.proposed, source: ADDR.breaker };
      },
      marketLevel: async () => level.inForce,
      TRIGGER_GAS: async () => 1_000_000n,
      triggers: async () => ["0x01", "0x02", "0x03", "0x04", "0x05"],
      pokeDue: async () => {
        reads.pokeDue++;
        return level.due;
      },
      runner: { provider: { getBlockNumber: async () => reads.head } },
    };
    const gas = { estimate: 100_000n, estimates: 0, fits: [] as bigint[], fitsOk: true };
    const submitted: { key: string; gasLimit: bigint }[] = [];
    const tx = {
      hasKey: () => false,
      count: () => 0,
      estimate: async () => {
        gas.estimates++;
        return gas.estimate;
      },
      fits: async (_to: string, _data: string, limit: bigint) => {
        gas.fits.push(limit);
        return gas.fitsOk;
      },
      submit: async (req: { key: string; gasLimit: bigint }) => {
        submitted.push({ key: req.key, gasLimit: req.gasLimit });
        return { hashes: ["0x01"], nonce: submitted.length - 1 };
      },
    };
    const pokers = new Pokers({
      contracts: { breaker, feeds: [] } as unknown as ProtocolContracts,
      tx: tx as unknown as TxManager,
      settings: keeperSettings({
        breakerPokeIntervalBlocks: interval,
        pokeVolatility: false,
        claimRewards: false,
        ...extra,
      }),
      address: OWNER,
      scale: 10n ** 12n,
      logger: silentLogger(),
      metrics: new KeeperMetrics(),
    });
    /** a view at a block, 12 s a block unless the time is given */
    const at = (blockNumber: number, timestamp = 1_000n + 12n * BigInt(blockNumber)) =>
      ({
        blockNumber,
        timestamp,
        engine: { timestamp, markets: new Map([[0, {}]]) },
        unpriced: new Map(),
        stale: new Map(),
      }) as unknown as ChainView;
    const fees = async () => ({ maxFeePerGas: GWEI, maxPriorityFeePerGas: GWEI });
    return { pokers, at, fees, reads, gas, submitted, level };
  }

  it("pokes the breaker every interval without first reading the proposal, and reads it in between", async () => {
    const { pokers, at, fees, reads, submitted } = world(2);
    expect(await pokers.run(at(10), fees)).to.deep.equal([]); // first sight: the interval starts here
    expect(reads.proposed).to.equal(1);
    expect(await pokers.run(at(11), fees)).to.deep.equal([]);
    expect(reads.proposed).to.equal(2);
    const due = await pokers.run(at(12), fees);
    expect(due.map((p) => [p.kind, p.reason, p.sent])).to.deep.equal([["breaker", "every 2 blocks", true]]);
    expect(reads.proposed, "a periodic poke does not read the proposal").to.equal(2);
    expect(submitted.map((t) => t.key)).to.deep.equal(["breaker:0"]);
    // two blocks later but at the same block time: no periodic poke, the proposal is read instead
    expect(await pokers.run(at(14, at(12).timestamp), fees)).to.deep.equal([]);
    expect(reads.proposed).to.equal(3);
    expect((await pokers.run(at(15), fees)).map((p) => p.reason)).to.deep.equal(["every 2 blocks"]);
  });

  it("de-escalates once the breaker's cooldown has passed since the later of the last change and the last hold", async () => {
    const { pokers, at, fees, level } = world(0);
    const t = at(100).timestamp;
    level.proposed = 1n;
    level.inForce = { level: 3n, lastChange: t - 4_000n, lastHeld: t - 600n }; // held 10 minutes ago
    expect(await pokers.run(at(100), fees), "the breaker would not step down yet").to.deep.equal([]);
    level.inForce.lastHeld = t - 1_800n; // a whole cooldown (30 min) since
    const due = await pokers.run(at(100), fees);
    expect(due.map((p) => p.reason)).to.deep.equal(["de-escalate from 3 (proposed 1)"]);
    level.proposed = 4n;
    expect((await pokers.run(at(101), fees)).map((p) => p.reason)).to.deep.equal(["escalate 3 -> 4"]);
  });

  it("estimates a poke's gas once, then proves the limit it was sent with by one call; re-estimates when that fails", async () => {
    const { pokers, at, fees, gas, submitted } = world(1);
    await pokers.run(at(10), fees);
    await pokers.run(at(11), fees);
    expect(gas.estimates).to.equal(1);
    expect(submitted.map((t) => t.gasLimit)).to.deep.equal([125_000n]); // estimate + 25%
    await pokers.run(at(12), fees);
    expect(gas.estimates, "the known limit is proven, not searched again").to.equal(1);
    expect(gas.fits).to.deep.equal([125_000n]);
    expect(submitted.map((t) => t.gasLimit)).to.deep.equal([125_000n, 125_000n]);
    gas.fitsOk = false;
    gas.estimate = 200_000n;
    await pokers.run(at(13), fees);
    expect(gas.estimates).to.equal(2);
    expect(submitted.at(-1)!.gasLimit).to.equal(250_000n);
  });

  /** What TxManager.poll reports for a breaker poke of market 0 mined in `blockNumber`. */
  const minedPoke = (blockNumber: number) =>
    ({
      tx: { kind: "breaker", key: "breaker:0", nonce: 0 },
      status: "mined",
      receipt: { blockNumber, logs: [] },
    }) as unknown as TxOutcome;

  it("does not read the proposal again at the block time of its own mined poke, until a liquidation is settled or sent", async () => {
    const { pokers, at, fees, reads, submitted } = world(1);
    await pokers.run(at(10), fees); // first sight: the proposal is read
    expect(reads.proposed).to.equal(1);
    expect((await pokers.run(at(11), fees)).map((p) => p.reason)).to.deep.equal(["every 1 blocks"]);
    const t = at(11).timestamp;
    // not yet known to be mined: the proposal is read as before
    expect(await pokers.run(at(12, t), fees)).to.deep.equal([]);
    expect(reads.proposed).to.equal(2);
    pokers.outcome(minedPoke(12));
    // mined at this block time, nothing settled since: the level it applied stands, nothing to read
    expect(await pokers.run(at(13, t), fees)).to.deep.equal([]);
    expect(reads.proposed, "no second evaluation of the triggers at the same time").to.equal(2);
    pokers.settled(12); // a liquidation in the poke's own block (before or after it): read again
    await pokers.run(at(13, t), fees);
    expect(reads.proposed).to.equal(3);
    pokers.outcome(minedPoke(14));
    pokers.settled(13); // older than the poke
    await pokers.run(at(15, t), fees);
    expect(reads.proposed).to.equal(3);
    await pokers.run(at(15, t), fees, true); // this keeper sent liquidations in the pass
    expect(reads.proposed).to.equal(4);
    // the block time moved on: periodic poke again
    expect((await pokers.run(at(16), fees)).map((p) => p.reason)).to.deep.equal(["every 1 blocks"]);
    expect(submitted).to.have.length(2);
  });

  it("with breakerPokeWhenDue, sends a periodic poke only when pokeDue says it changes something", async () => {
    const { pokers, at, fees, reads, submitted, level } = world(1, { breakerPokeWhenDue: true });
    await pokers.run(at(10), fees); // first sight: the proposal is read
    expect(reads.proposed).to.equal(1);
    level.due = false;
    reads.head = 11;
    expect(await pokers.run(at(11), fees), "not due: nothing sent").to.deep.equal([]);
    expect(reads.pokeDue).to.equal(1);
    expect(submitted).to.deep.equal([]);
    const t = at(11).timestamp;
    // the check stands for a poke at this block time: no second read of the proposal, no second check
    expect(await pokers.run(at(12, t), fees)).to.deep.equal([]);
    expect([reads.proposed, reads.pokeDue]).to.deep.equal([1, 1]);
    // a liquidation settled after the checked head: the proposal is read again
    pokers.settled(12);
    await pokers.run(at(13, t), fees);
    expect(reads.proposed).to.equal(2);
    // the block time moved on: checked again, and sent when due
    level.due = true;
    expect((await pokers.run(at(14), fees)).map((p) => [p.reason, p.sent])).to.deep.equal([["every 1 blocks", true]]);
    expect(reads.pokeDue).to.equal(2);
    expect(submitted.map((x) => x.key)).to.deep.equal(["breaker:0"]);
    // without the setting, the periodic poke is sent unasked
    const plain = world(1);
    await plain.pokers.run(plain.at(10), plain.fees);
    plain.level.due = false;
    expect((await plain.pokers.run(plain.at(11), plain.fees)).map((p) => p.sent)).to.deep.equal([true]);
    expect(plain.reads.pokeDue).to.equal(0);
  });

  it("with breakerPokeWhenDue, sends the periodic poke unasked while its last poke left the level above 0", async () => {
    const { pokers, at, fees, reads, submitted, level } = world(1, { breakerPokeWhenDue: true });
    const iface = CircuitBreaker__factory.createInterface();
    const changed = (blockNumber: number, from: number, to: number) => {
      const { topics, data } = iface.encodeEventLog("LevelChanged", [0, from, to, 0, ADDR.breaker]);
      return {
        tx: { kind: "breaker", key: "breaker:0", nonce: 0 },
        status: "mined",
        receipt: { blockNumber, logs: [{ topics, data }] },
      } as unknown as TxOutcome;
    };
    await pokers.run(at(10), fees);
    await pokers.run(at(11), fees); // asked, due: sent
    expect([reads.pokeDue, submitted.length]).to.deep.equal([1, 1]);
    pokers.outcome(changed(12, 0, 2));
    level.due = false; // not consulted above level 0
    await pokers.run(at(13), fees);
    expect([reads.pokeDue, submitted.length], "sent unasked at level 2").to.deep.equal([1, 2]);
    pokers.outcome(changed(14, 1, 0));
    await pokers.run(at(15), fees);
    expect([reads.pokeDue, submitted.length], "asked again at level 0, not due").to.deep.equal([2, 2]);
  });

  it("with breakerPokeWhenDue, pokes as before when the breaker has no pokeDue view", async () => {
    const { pokers, at, fees, submitted, level } = world(1, { breakerPokeWhenDue: true });
    await pokers.run(at(10), fees);
    level.due = false;
    const breaker = (pokers as unknown as { o: { contracts: { breaker: Record<string, unknown> } } }).o.contracts
      .breaker;
    breaker.pokeDue = async () => {
      throw Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" });
    };
    expect((await pokers.run(at(11), fees)).map((p) => p.sent)).to.deep.equal([true]);
    expect(submitted).to.have.length(1);
  });

  it("with breakerPokeGasBound, sends a breaker poke unsimulated with a limit no poke can exceed", async () => {
    const { pokers, at, fees, gas, submitted } = world(1, { breakerPokeGasBound: true });
    await pokers.run(at(10), fees);
    await pokers.run(at(11), fees);
    await pokers.run(at(12), fees);
    expect(gas.estimates, "no estimate").to.equal(0);
    expect(gas.fits, "no simulation").to.deep.equal([]);
    // five triggers, each needing its cap (1,000,000) + 1/63 of it + 10,000 at hand, + margins
    const bound = 5n * (1_000_000n + 1_000_000n / 63n + 20_000n) + 300_000n;
    expect(submitted.map((s) => s.gasLimit)).to.deep.equal([bound, bound]);
  });
});

describe("keeper unwind poke (backstop vault)", () => {
  function world(room: { sellable: bigint } | "reverts") {
    const backstop = {
      target: ADDR.breaker,
      interface: IBackstopEngine__factory.createInterface(),
      unwindRoom: async (m: number) => {
        if (room === "reverts") throw Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" });
        return { sellable: room.sellable, usedWad: 0n, budgetWad: 10n ** 24n, late: false, marketId: m };
      },
    };
    const submitted: { key: string; data: string }[] = [];
    const tx = {
      hasKey: () => false,
      count: () => 0,
      estimate: async () => 100_000n,
      fits: async () => true,
      submit: async (req: { key: string; data: string }) => {
        submitted.push({ key: req.key, data: req.data });
        return { hashes: ["0x01"], nonce: submitted.length - 1 };
      },
    };
    const pokers = new Pokers({
      contracts: { backstop, feeds: [] } as unknown as ProtocolContracts,
      tx: tx as unknown as TxManager,
      settings: keeperSettings({ pokeVolatility: false, claimRewards: false, pokeBreaker: false }),
      address: OWNER,
      scale: 10n ** 12n,
      logger: silentLogger(),
      metrics: new KeeperMetrics(),
    });
    const view = {
      blockNumber: 1,
      timestamp: 1_000n,
      engine: { timestamp: 1_000n, markets: new Map([[3, {}]]) },
      unpriced: new Map(),
      stale: new Map(),
    } as unknown as ChainView;
    const fees = async () => ({ maxFeePerGas: GWEI, maxPriorityFeePerGas: GWEI });
    return { pokers, view, fees, submitted, backstop };
  }

  it("sends unwind(market) where the vault's inventory has room in the impact budget", async () => {
    const w = world({ sellable: 5n * 10n ** 22n });
    const reports = await w.pokers.run(w.view, w.fees);
    expect(reports.map((r) => [r.kind, r.key, r.sent])).to.deep.equal([["unwind", "unwind:3", true]]);
    expect(w.submitted[0].data).to.equal(w.backstop.interface.encodeFunctionData("unwind", [3]));
  });

  it("sends nothing when there is no room, or on a deployment without the backstop module", async () => {
    for (const room of [{ sellable: 0n }, "reverts" as const]) {
      const w = world(room);
      expect(await w.pokers.run(w.view, w.fees)).to.deep.equal([]);
      expect(w.submitted).to.deep.equal([]);
    }
  });
});

describe("keeper flags: start a clock, renew it while the account stays held back", () => {
  /** One held-back account (id 7) whose on-chain state is `state`; the flags sent are in `submitted`. */
  function world(state: { lastTrancheAt: bigint; liquidatableSince: bigint }) {
    const le = {
      target: ADDR.breaker,
      interface: ILiquidationEngine__factory.createInterface(),
      accountState: async () => ({ ...state, marginAtFlag: 0n }),
    };
    const submitted: string[] = [];
    const tx = {
      hasKey: () => false,
      count: () => 0,
      estimate: async () => 60_000n,
      fits: async () => true,
      submit: async (req: { key: string }) => {
        submitted.push(req.key);
        return { hashes: ["0x01"], nonce: submitted.length - 1 };
      },
    };
    const flagger = new Flagger({
      contracts: { liquidationEngine: le } as unknown as ProtocolContracts,
      tx: tx as unknown as TxManager,
      settings: keeperSettings({}),
      logger: silentLogger(),
      metrics: new KeeperMetrics(),
    });
    const view = (timestamp: bigint) => ({ blockNumber: 1, timestamp }) as unknown as ChainView;
    const fees = async () => ({ maxFeePerGas: GWEI, maxPriorityFeePerGas: GWEI });
    const run = (t: bigint) => flagger.run([7n], new Set([7n]), view(t), fees);
    return { flagger, submitted, run, state };
  }

  it("starts a clock, then renews it every RENEW_AFTER_SECONDS while held back, never sooner", async () => {
    const w = world({ lastTrancheAt: 0n, liquidatableSince: 0n });
    const first = await w.run(1_000n);
    expect(first.map((r) => [r.key, r.sent, r.reason])).to.deep.equal([
      ["flag:7", true, "held back by cooldown or capacity"],
    ]);
    expect(await w.run(1_000n + RENEW_AFTER_SECONDS - 1n)).to.deep.equal([]);
    const renewed = await w.run(1_000n + RENEW_AFTER_SECONDS);
    expect(renewed.map((r) => [r.key, r.sent, r.reason])).to.deep.equal([
      ["flag:7", true, "still held back: clock renewed"],
    ]);
    // the contract ends a clock nobody saw for 600 s: the renewals come well inside that
    expect(RENEW_AFTER_SECONDS * 2n).to.be.lessThanOrEqual(600n);
    expect(w.submitted).to.deep.equal(["flag:7", "flag:7"]);
  });

  it("a clock someone else started counts from its start or last tranche; a new episode starts over", async () => {
    const w = world({ lastTrancheAt: 900n, liquidatableSince: 800n });
    expect(await w.run(900n + RENEW_AFTER_SECONDS - 1n)).to.deep.equal([]);
    expect((await w.run(900n + RENEW_AFTER_SECONDS)).map((r) => r.sent)).to.deep.equal([true]);
    // a tranche settled: the state is read again, and the tranche's time counts as seen
    w.flagger.settled(7n);
    w.state.lastTrancheAt = 2_000n;
    expect(await w.run(2_000n + RENEW_AFTER_SECONDS - 1n)).to.deep.equal([]);
    expect((await w.run(2_000n + RENEW_AFTER_SECONDS)).map((r) => r.reason)).to.deep.equal([
      "still held back: clock renewed",
    ]);
  });
});

describe("keeper liquidation batches: sent at once, simulated after a revert", () => {
  const ENGINE = "0x00000000000000000000000000000000000000e1";
  const KEEPER = "0x00000000000000000000000000000000000000c1";
  const iface = ILiquidationEngine__factory.createInterface();

  /** A liquidator over a fake engine where the accounts in `bad` make any batch holding them revert. */
  function world(extra: KeeperSettingsInput = {}, opts: { vault?: boolean } = {}) {
    const bad = new Set<bigint>();
    /** previews refuse these (cooldown); with a vault they are offered to it, which declines them */
    const cooling = new Set<bigint>();
    const simulatedBatches: bigint[][] = [];
    const submitted: { accounts: bigint[]; gasLimit: bigint }[] = [];
    const reverting = (ids: bigint[]) => {
      if (ids.some((id) => bad.has(id))) throw Object.assign(new Error("execution reverted"), { data: "0x" });
    };
    /** what the node was asked, in order: "p<id>" a preview, "s<first id>" a batch sent */
    const calls: string[] = [];
    const staticCall = async (ids: bigint[]) => {
      simulatedBatches.push([...ids]);
      reverting(ids);
      return BigInt(ids.filter((id) => !cooling.has(id)).length);
    };
    const engine = {
      target: ENGINE,
      interface: iface,
      previewLiquidation: async (accountId: bigint) => {
        calls.push(`p${accountId}`);
        if (cooling.has(accountId)) {
          throw Object.assign(new Error("execution reverted"), {
            data: iface.encodeErrorResult("TrancheCoolingDown", [accountId, 2_000n]),
          });
        }
        return {
          accountId,
          backstop: false,
          equity: 10n * WAD,
          maintenanceMargin: 20n * WAD,
          trancheNotional: 100n * WAD,
          keeperReward: WAD,
          badDebt: 0n,
          keeperFromFund: 0n,
          legs: [{ marketId: 0n, notional: 100n * WAD }],
        };
      },
      liquidateBatch: { staticCall },
      accountState: async () => ({ lastTrancheAt: 0n }),
    };
    const tx = {
      accountsInFlight: () => new Set<bigint>(),
      count: () => 0,
      estimate: async (_to: string, data: string) => {
        const [ids] = iface.decodeFunctionData("liquidateBatch", data) as unknown as [bigint[]];
        reverting([...ids]);
        return 300_000n;
      },
      submit: async (req: { accounts: bigint[]; gasLimit: bigint }) => {
        submitted.push({ accounts: req.accounts, gasLimit: req.gasLimit });
        calls.push(`s${req.accounts[0]}`);
        return { hashes: [`0x${submitted.length}`], nonce: submitted.length - 1 };
      },
    };
    const liquidator = new Liquidator({
      contracts: {
        liquidationEngine: engine,
        backstop: opts.vault
          ? { backstopState: async () => ({ vault: "0x00000000000000000000000000000000000000b1" }) }
          : undefined,
      } as unknown as ProtocolContracts,
      tx: tx as unknown as TxManager,
      settings: keeperSettings({ maxBatch: 4, ...extra }),
      address: KEEPER,
      logger: silentLogger(),
      metrics: new KeeperMetrics(),
      liquidatedBefore: () => false,
    });
    const view = (blockNumber: number) =>
      ({
        blockNumber,
        timestamp: 1_000n + BigInt(blockNumber),
        liquidation: { capBypassRatio: 0n, cooldown: 60n },
        capacity: new Map([[0, { capacity: 10n ** 30n, used: 0n, room: 10n ** 30n }]]),
      }) as unknown as ChainView;
    const scan = (ids: bigint[]) =>
      ({
        liquidatable: ids.map((accountId) => ({
          accountId,
          equity: 10n * WAD,
          maintenanceMargin: 20n * WAD,
          notional: 100n * WAD,
          health: WAD / 2n,
          backstop: false,
          markets: [0],
        })),
        withPositions: ids.length,
        unpriced: 0,
        unevaluated: 0,
      }) as ScanResult;
    const fees = async () => ({ maxFeePerGas: GWEI, maxPriorityFeePerGas: GWEI });
    const reverted = (accounts: bigint[]) =>
      liquidator.outcome({
        tx: { accounts, nonce: 0, hashes: ["0x1"] },
        status: "reverted",
        receipt: { hash: "0x1", logs: [] },
      } as unknown as TxOutcome);
    return { liquidator, view, scan, fees, bad, cooling, simulatedBatches, submitted, reverted, calls };
  }

  it("sends previewed batches without simulating them, worst first, each with its gas budget", async () => {
    const { liquidator, view, scan, fees, simulatedBatches, submitted } = world();
    const { report } = await liquidator.act(scan([1n, 2n, 3n, 4n, 5n, 6n]), view(10), fees);
    expect(simulatedBatches, "no eth_call of liquidateBatch").to.deep.equal([]);
    expect(submitted.map((t) => t.accounts)).to.deep.equal([
      [1n, 2n, 3n, 4n],
      [5n, 6n],
    ]);
    const s = keeperSettings();
    expect(submitted.map((t) => t.gasLimit)).to.deep.equal([
      BigInt(s.batchGasOverhead + 4 * s.gasPerTranche),
      BigInt(s.batchGasOverhead + 2 * s.gasPerTranche),
    ]);
    expect(report.batches.map((b) => [b.sent, b.simulated])).to.deep.equal([
      [true, undefined],
      [true, undefined],
    ]);
  });

  it("sends each full batch before previewing the next accounts, in the batches packing them all at once gives", async () => {
    const { liquidator, view, scan, fees, calls, submitted } = world();
    const ids = [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n];
    await liquidator.act(scan(ids), view(10), fees);
    expect(calls).to.deep.equal([
      ...["p1", "p2", "p3", "p4", "s1"],
      ...["p5", "p6", "p7", "p8", "s5"],
      ...["p9", "p10", "s9"],
    ]);
    const plans = ids.map((accountId) => ({ accountId, legs: [{ marketId: 0, notional: 100n * WAD }] }) as TranchePlan);
    expect(submitted.map((t) => t.accounts)).to.deep.equal(
      packBatches(plans, keeperSettings({ maxBatch: 4 })).map((b) => b.map((p) => p.accountId)),
    );
  });

  it("after an unsimulated batch reverted, simulates its accounts' batches and splits them to leave the one at fault", async () => {
    const { liquidator, view, scan, fees, bad, simulatedBatches, submitted, reverted } = world();
    bad.add(3n);
    await liquidator.act(scan([1n, 2n, 3n, 4n]), view(10), fees);
    expect(submitted.map((t) => t.accounts)).to.deep.equal([[1n, 2n, 3n, 4n]]);
    reverted([1n, 2n, 3n, 4n]);
    submitted.length = 0;
    const { report } = await liquidator.act(scan([1n, 2n, 3n, 4n]), view(11), fees);
    expect(simulatedBatches[0]).to.deep.equal([1n, 2n, 3n, 4n]);
    expect(submitted.map((t) => t.accounts).sort((a, b) => Number(a[0] - b[0]))).to.deep.equal([[1n, 2n], [4n]]);
    expect(report.batches.every((b) => b.simulated !== undefined)).to.equal(true);
    // the account at fault is left for failedBackoffBlocks
    submitted.length = 0;
    simulatedBatches.length = 0;
    const later = await liquidator.act(scan([3n]), view(12), fees);
    expect(later.report.backedOff).to.equal(1);
    expect(submitted).to.deep.equal([]);
  });

  it("with a backstop vault, simulates the batch of held-back accounts no preview confirmed, and drops it when the vault declines them all", async () => {
    const { liquidator, view, scan, fees, cooling, simulatedBatches, submitted } = world(
      { maxBatch: 2 },
      { vault: true },
    );
    cooling.add(3n);
    const { report } = await liquidator.act(scan([1n, 2n, 3n]), view(10), fees);
    expect(report.takeoverCandidates).to.equal(3);
    expect(simulatedBatches, "only the unconfirmed takeover's batch").to.deep.equal([[3n]]);
    expect(submitted.map((t) => t.accounts)).to.deep.equal([[1n, 2n]]);
  });

  it("simulates every batch with simulateBatches, and in a dry run", async () => {
    for (const extra of [{ simulateBatches: true }, { dryRun: true }]) {
      const { liquidator, view, scan, fees, simulatedBatches, submitted } = world(extra);
      const { report } = await liquidator.act(scan([1n, 2n]), view(10), fees);
      expect(simulatedBatches, JSON.stringify(extra)).to.deep.equal([[1n, 2n]]);
      expect(report.batches.map((b) => b.simulated)).to.deep.equal([2]);
      expect(submitted.length).to.equal(extra.dryRun ? 0 : 1);
    }
  });
});
