/**
 * The keeper's scan read through ProtocolLens.keeperView: one eth_call for what it read as one call
 * per value (the liquidation engine's two configs and, per market, its config, state, price and
 * capacity window), with the same view to the wei at the same block, a stale feed's revert included.
 * With keeperViewWith the same call also answers the pass's other reads (passReads.ts), each as its own
 * eth_call would; where the lens cannot (none, or one deployed before it), the jobs read one by one.
 */
import { expect } from "chai";
import {
  BrowserProvider,
  Contract,
  type Eip1193Provider,
  Interface,
  Network,
  type Result,
  ZeroAddress,
  ZeroHash,
} from "ethers";
import { network } from "hardhat";

import { type ChainView, readChainView } from "../../scripts/keeper/chainView.js";
import {
  AGGREGATOR_ABI,
  type ProtocolContracts,
  bindContracts,
  rereadAccounts,
} from "../../scripts/keeper/contracts.js";
import { keeperSettings } from "../../scripts/keeper/config.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { KeeperMetrics } from "../../scripts/keeper/metrics.js";
import { type PassRead, PassAnswers, lensReads, prefetched, readAll } from "../../scripts/keeper/passReads.js";
import { Pokers } from "../../scripts/keeper/pokers.js";
import { Settler } from "../../scripts/keeper/settler.js";
import type { TxManager } from "../../scripts/keeper/txManager.js";
import { deploymentRecord } from "../../scripts/keeper/devnet/world.js";
import type { ProtocolLens } from "../../types/ethers-contracts/index.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import {
  BTC,
  ETH,
  MAX_PRICE,
  USDC,
  type World,
  deployWorld,
  openAccount,
  setPriceWad,
  units,
} from "../helpers/fixture.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

/** A struct answer's values, nested structs included, by position. */
const plain = (r: unknown) => (r as Result).toArray(true);

/**
 * An ethers provider over the test network that counts the eth_calls it sends and their selectors. `old`:
 * a keeperViewWith, accountsView or readAll call is sent with a selector no lens has, so the lens reverts as one
 * deployed before them does.
 */
function countingProvider(
  chainId: number,
  old = false,
): { provider: BrowserProvider; calls: () => number; selectors: string[] } {
  let calls = 0;
  const selectors: string[] = [];
  const inner = connection.provider as unknown as Eip1193Provider;
  const newer = [LENS_WITH.slice(2), LENS_ACCOUNTS.slice(2), LENS_ALL.slice(2)];
  const counted: Eip1193Provider = {
    request: (r) => {
      if (r.method === "eth_call") {
        calls++;
        const tx = (r.params as { data?: string }[])[0];
        selectors.push((tx.data ?? "").slice(0, 10));
        if (old && newer.includes(tx.data?.slice(2, 10) ?? "")) {
          r = {
            ...r,
            params: [{ ...tx, data: "0xdeadbeef" + (tx.data ?? "").slice(10) }, ...(r.params as unknown[]).slice(1)],
          };
        }
      }
      return inner.request(r);
    },
  };
  const net = Network.from(chainId);
  const provider = new BrowserProvider(counted, net, { staticNetwork: net, cacheTimeout: -1, polling: false });
  return { provider, calls: () => calls, selectors };
}

/** keeperViewWith's and accountsView's selectors */
let LENS_WITH = "";
let LENS_ACCOUNTS = "";
let LENS_ALL = "";

/** Both markets traded, some capacity used (a liquidation), then BTC's feed left past its heartbeat. */
async function scene(): Promise<{ w: World; lens: ProtocolLens; eth: bigint; id: bigint }> {
  const w = await deployWorld(ethers);
  const lens = (await ethers.deployContract("ProtocolLens", [
    await w.engine.getAddress(),
    await w.oracle.getAddress(),
  ])) as unknown as ProtocolLens;
  LENS_WITH = lens.interface.getFunction("keeperViewWith").selector;
  LENS_ACCOUNTS = lens.interface.getFunction("accountsView").selector;
  LENS_ALL = lens.interface.getFunction("readAll").selector;
  const id = await openAccount(w, w.alice, 20_000n * USDC);
  await w.engine.connect(w.alice).modifyPosition(id, ETH, units(40), MAX_PRICE);
  await w.engine.connect(w.alice).modifyPosition(id, BTC, -units(1), 0n);
  let eth = (await w.oracle.getPriceAndVolatility((await w.engine.marketConfig(ETH)).feedId))[0];
  while (!(await w.engine.isLiquidatable(id))) {
    eth = (eth * 98n) / 100n;
    await setPriceWad(w, ETH, eth);
  }
  await w.liquidationEngine.connect(w.bob).liquidate(id);
  return { w, lens, eth, id };
}

async function views(w: World, lens: ProtocolLens): Promise<{ plain: ChainView; viaLens: ChainView; calls: number[] }> {
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const record = await deploymentRecord(w, "hardhat", chainId, 0);
  const block = (await ethers.provider.getBlock("latest"))!;
  const ref = { number: block.number, timestamp: block.timestamp, baseFeePerGas: block.baseFeePerGas };
  const feedIds = new Map(record.markets.map((m) => [m.id, m.feedId]));
  const without = countingProvider(chainId);
  const plain = await readChainView(bindContracts(record, without.provider), feedIds, ref);
  const withLens = countingProvider(chainId);
  const lensRecord = { ...record, contracts: { ...record.contracts, lens: await lens.getAddress() } };
  const viaLens = await readChainView(bindContracts(lensRecord, withLens.provider), feedIds, ref);
  without.provider.destroy();
  withLens.provider.destroy();
  return { plain, viaLens, calls: [without.calls(), withLens.calls()] };
}

describe("keeper: the scan read through ProtocolLens", function () {
  it("reads the same view to the wei in one eth_call instead of two plus four per market", async function () {
    const { w, lens } = await scene();
    const { plain, viaLens, calls } = await views(w, lens);
    expect(plain.capacity.get(ETH)!.used > 0n, "the liquidation used some of ETH's capacity").to.equal(true);
    expect(plain.engine.markets.size).to.equal(2);
    expect(viaLens).to.deep.equal(plain);
    expect(calls).to.deep.equal([2 + 4 * 2, 1]);
  });

  it("names a stale feed's revert as the one-by-one read does, and reads the stale market's edges alike", async function () {
    const { w, lens, eth } = await scene();
    await networkHelpers.time.increase(3_601);
    await setPriceWad(w, ETH, eth);
    await networkHelpers.mine();
    const { plain, viaLens, calls } = await views(w, lens);
    expect([...plain.unpriced]).to.deep.equal([[BTC, "StaleAnswer"]]);
    expect([...plain.stale.keys()]).to.deep.equal([BTC]);
    expect(viaLens).to.deep.equal(plain);
    // the stale market's last answer and sigma: two more calls either way
    expect(calls).to.deep.equal([2 + 4 * 2 + 2, 1 + 2]);
  });

  it("answers each field as the protocol's own views do", async function () {
    const { w, lens } = await scene();
    const v = await lens.keeperView([ETH, BTC]);
    expect(await lens.engine()).to.equal(await w.engine.getAddress());
    expect(await lens.oracle()).to.equal(await w.oracle.getAddress());
    expect(plain(v.liquidation)).to.deep.equal(plain(await w.liquidationEngine.config()));
    expect(plain(v.reward)).to.deep.equal(plain(await w.liquidationEngine.rewardConfig()));
    for (const [i, id] of [ETH, BTC].entries()) {
      const m = v.markets[i];
      const config = await w.engine.marketConfig(id);
      expect(m.marketId).to.equal(BigInt(id));
      expect(plain(m.config)).to.deep.equal(plain(config));
      expect(plain(m.state)).to.deep.equal(plain(await w.engine.marketState(id)));
      const [price, sigma] = await w.oracle.getPriceAndVolatility(config.feedId);
      expect([m.priced, m.priceWad, m.sigmaWad, m.priceError]).to.deep.equal([true, price, sigma, "0x"]);
      const [start, used] = await w.liquidationEngine.capacityWindow(id);
      expect([m.windowStart, m.windowUsed]).to.deep.equal([start, used]);
    }
  });
});

/** The record, a block reference and the feeds of `w`'s markets at the head, with `lens`. */
async function at(w: World, lens: ProtocolLens) {
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const record = await deploymentRecord(w, "hardhat", chainId, 0);
  const block = (await ethers.provider.getBlock("latest"))!;
  const ref = { number: block.number, timestamp: block.timestamp, baseFeePerGas: block.baseFeePerGas };
  const feedIds = new Map(record.markets.map((m) => [m.id, m.feedId]));
  const lensRecord = { ...record, contracts: { ...record.contracts, lens: await lens.getAddress() } };
  return { chainId, record, lensRecord, ref, feedIds };
}

/** The keeper's pokers and settler over `c`, as the keeper builds them, for their reads and decisions. */
function jobs(c: ProtocolContracts, address: string) {
  const tx = { hasKey: () => false, count: () => 0, estimate: async () => 100_000n, fits: async () => true };
  const common = {
    contracts: c,
    tx: tx as unknown as TxManager,
    settings: keeperSettings({ dryRun: true, claimThreshold: "0.000001" }),
    logger: silentLogger(),
    metrics: new KeeperMetrics(),
  };
  const pokers = new Pokers({ ...common, address, scale: 10n ** 12n });
  const settler = new Settler({ ...common, provider: c.engine.runner!.provider!, startBlock: 0 });
  return { pokers, settler };
}

/** A value as deep.equal compares it: a Result as its nested array. */
const valueOf = (v: unknown) =>
  v !== null && typeof v === "object" && "toArray" in v ? (v as Result).toArray(true) : v;

describe("keeper: the pass's other reads in the scan's lens call (keeperViewWith)", function () {
  it("answers each read as its own eth_call does, to the byte, and the scan as keeperView", async function () {
    const { w, lens } = await scene();
    const { record } = await at(w, lens);
    const c = bindContracts(record, ethers.provider);
    const bob = await w.bob.getAddress();
    const { pokers, settler } = jobs(c, bob);
    const nowhere = new Contract("0x000000000000000000000000000000000000dEaD", AGGREGATOR_ABI, ethers.provider);
    const reads: PassRead[] = [
      ...pokers.passReads([ETH, BTC]),
      ...settler.passReads(),
      // one that reverts (a feed the oracle does not know) and one of an address without code
      { key: "unknown feed", to: c.oracle, fn: "volatility", args: [ZeroHash] },
      { key: "no code", to: nowhere, fn: "latestRoundData", args: [] },
    ];
    const { asked, calls } = lensReads(reads);
    // the settler's rounds are the pokers' (one key each), asked once
    expect(asked.length).to.equal(2 * 2 + 1 + 2 + 2);
    expect(asked.map((r) => r.key)).to.include.members([`keeperRewardsOf:${bob}`, `unwindRoom:${ETH}`]);
    const [view, answers] = await lens.keeperViewWith([ETH, BTC], calls);
    expect(plain(view)).to.deep.equal(plain(await lens.keeperView([ETH, BTC])));
    expect((await c.vault.keeperRewardsOf(bob)) > 0n, "the liquidation earned bob a reward").to.equal(true);
    for (const [i, call] of calls.entries()) {
      const own = await ethers.provider.call({ to: call.target, data: call.data }).then(
        (data) => ({ ok: true, data }),
        () => ({ ok: false, data: "0x" }),
      );
      expect([answers[i].ok, answers[i].data], asked[i].key).to.deep.equal([own.ok, own.data]);
    }
    expect(answers[calls.length - 2].ok).to.equal(false);
    expect([answers[calls.length - 1].ok, answers[calls.length - 1].data]).to.deep.equal([true, "0x"]);
    // each value as the contract's own call answers it; where none (a revert, bytes that do not decode) the
    // job's own read fails as it always did
    const decoded = new PassAnswers(asked, answers);
    for (const r of asked) {
      const own = await (r.to as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)
        [r.fn](...r.args)
        .then(
          (v) => ({ v: valueOf(v) }),
          () => ({ failed: true }),
        );
      const v = decoded.value(r.key);
      expect(v === undefined ? { failed: true } : { v: valueOf(v) }, r.key).to.deep.equal(own);
    }
    expect(decoded.value("unknown feed")).to.equal(undefined);
    expect(decoded.value("no code")).to.equal(undefined);
  });

  it("the pokers and the settler decide the same from the lens's answers as from their own reads, and make none of them", async function () {
    const { w, lens, eth } = await scene();
    // a round the oracle's volatility has not folded in: a volatility update is due
    await setPriceWad(w, ETH, (eth * 99n) / 100n);
    const { chainId, lensRecord, ref, feedIds } = await at(w, lens);
    const bob = await w.bob.getAddress();
    const settleFrom = (await w.feeds.get(ETH)!.latestRoundData())[3];
    const decided: unknown[] = [];
    const selectors: string[][] = [];
    for (const withAnswers of [false, true]) {
      const counted = countingProvider(chainId);
      const c = bindContracts(lensRecord, counted.provider);
      const { pokers, settler } = jobs(c, bob);
      // two orders whose round has come: the feed's latest, pushed after they were committed
      for (const id of [7n, 8n]) {
        settler.pending.set(id, { accountId: id, marketId: ETH, settleFrom, expiresAt: 1n << 60n });
      }
      const reads = withAnswers ? [...pokers.passReads([...feedIds.keys()]), ...settler.passReads()] : [];
      const view = await readChainView(c, feedIds, ref, reads);
      expect(view.answers !== undefined).to.equal(withAnswers);
      const before = counted.selectors.length;
      const pokes = await pokers.run(view, async () => undefined);
      const due = await settler.due(view);
      decided.push({ pokes: pokes.map((p) => [p.kind, p.key, p.reason]), due });
      selectors.push(counted.selectors.slice(before));
      counted.provider.destroy();
    }
    expect(decided[1]).to.deep.equal(decided[0]);
    const kinds = (decided[0] as { pokes: string[][] }).pokes.map((p) => p[0]);
    expect(kinds, "a volatility update and a reward claim are due").to.include.members(["volatility", "claim"]);
    expect((decided[0] as { due: { ids: bigint[] } }).due.ids).to.deep.equal([7n, 8n]);
    const sel = {
      latestRoundData: new Interface(AGGREGATOR_ABI).getFunction("latestRoundData")!.selector,
      volatilityState: w.oracle.interface.getFunction("volatilityState")!.selector,
      keeperRewardsOf: w.vault.interface.getFunction("keeperRewardsOf")!.selector,
      unwindRoom: IBackstopEngine__factory.createInterface().getFunction("unwindRoom").selector,
    };
    for (const s of Object.values(sel)) {
      expect(selectors[0], "read one by one without answers").to.include(s);
      expect(selectors[1], "none of them read again with answers").to.not.include(s);
    }
  });

  it("reads one by one where the lens cannot answer the reads: no lens, or a lens deployed before keeperViewWith (asked once)", async function () {
    const { w, lens } = await scene();
    const { chainId, record, lensRecord, ref, feedIds } = await at(w, lens);
    const bob = await w.bob.getAddress();
    const plainView = await readChainView(bindContracts(record, ethers.provider), feedIds, ref);

    const none = countingProvider(chainId);
    const c0 = bindContracts(record, none.provider);
    const reads0 = jobs(c0, bob).pokers.passReads([...feedIds.keys()]);
    const v0 = await readChainView(c0, feedIds, ref, reads0);
    expect(v0.answers).to.equal(undefined);
    expect(v0).to.deep.equal(plainView);
    none.provider.destroy();

    const old = countingProvider(chainId, true);
    const c1 = bindContracts(lensRecord, old.provider);
    const reads1 = jobs(c1, bob).pokers.passReads([...feedIds.keys()]);
    const v1 = await readChainView(c1, feedIds, ref, reads1);
    expect(v1.answers).to.equal(undefined);
    expect(v1).to.deep.equal(plainView);
    const keeperView = lens.interface.getFunction("keeperView")!.selector;
    // asked once, failed, then keeperView; the next scan asks keeperView alone
    expect(old.selectors).to.deep.equal([LENS_WITH, keeperView]);
    const v2 = await readChainView(c1, feedIds, ref, reads1);
    expect(v2).to.deep.equal(plainView);
    expect(old.selectors).to.deep.equal([LENS_WITH, keeperView, keeperView]);
    old.provider.destroy();

    // the lens that answers: the same view, with the answers, in one call
    const ok = countingProvider(chainId);
    const c2 = bindContracts(lensRecord, ok.provider);
    const reads2 = jobs(c2, bob).pokers.passReads([...feedIds.keys()]);
    const { answers, ...v3 } = await readChainView(c2, feedIds, ref, reads2);
    expect(v3).to.deep.equal(plainView);
    expect(answers!.size).to.equal(reads2.length);
    expect(ok.selectors).to.deep.equal([LENS_WITH]);
    ok.provider.destroy();
  });
});

describe("keeper: the resync read through ProtocolLens.accountsView", function () {
  /** What rereadAccounts puts into a book, by account. */
  function recorder() {
    const seen = new Map<bigint, unknown>();
    return {
      seen,
      book: {
        replace: (id: bigint, owner: string, margin: bigint, positions: Map<number, unknown>) =>
          seen.set(id, { owner, margin, positions: [...positions] }),
      },
    };
  }

  it("re-reads the accounts as one call per view does, to the wei, in one call; one by one where the lens cannot", async function () {
    const { w, lens, id } = await scene();
    // a second account with two positions, and an id no account has
    const other = await openAccount(w, w.bob, 50_000n * USDC);
    await w.engine.connect(w.bob).modifyPosition(other, ETH, -units(3), 0n);
    await w.engine.connect(w.bob).modifyPosition(other, BTC, units(1) / 10n, MAX_PRICE);
    const ids = [id, other, other + 100n];
    const { chainId, record, lensRecord, ref } = await at(w, lens);
    const oneByOne = countingProvider(chainId);
    const plainRead = recorder();
    await rereadAccounts(plainRead.book, bindContracts(record, oneByOne.provider), ids, ref.number);
    oneByOne.provider.destroy();
    expect([...plainRead.seen.keys()].sort()).to.deep.equal([...ids].sort());
    expect((plainRead.seen.get(other) as { positions: unknown[] }).positions.length).to.equal(2);
    expect((plainRead.seen.get(other + 100n) as { owner: string }).owner).to.equal(ZeroAddress);
    // three views per account and one per position
    const positions = [...plainRead.seen.values()].reduce(
      (n: number, a) => n + (a as { positions: unknown[] }).positions.length,
      0,
    );
    expect(oneByOne.calls()).to.equal(3 * ids.length + positions);

    const viaLens = countingProvider(chainId);
    const c = bindContracts(lensRecord, viaLens.provider);
    const lensRead = recorder();
    await rereadAccounts(lensRead.book, c, ids, ref.number, c.lens);
    expect(lensRead.seen).to.deep.equal(plainRead.seen);
    expect(viaLens.selectors).to.deep.equal([LENS_ACCOUNTS]);
    viaLens.provider.destroy();

    // a lens deployed before accountsView: asked once, then one by one
    const old = countingProvider(chainId, true);
    const c1 = bindContracts(lensRecord, old.provider);
    for (let i = 0; i < 2; i++) {
      const r = recorder();
      await rereadAccounts(r.book, c1, ids, ref.number, c1.lens);
      expect(r.seen).to.deep.equal(plainRead.seen);
    }
    expect(old.calls()).to.equal(1 + 2 * (3 * ids.length + positions));
    expect(old.selectors.filter((x) => x === LENS_ACCOUNTS).length).to.equal(1);
    old.provider.destroy();

    // a lens reading another contract as the engine (its views revert): one by one, the same book
    const wrong = (await ethers.deployContract("ProtocolLens", [
      await w.vault.getAddress(),
      await w.oracle.getAddress(),
    ])) as unknown as ProtocolLens;
    const r = recorder();
    await rereadAccounts(r.book, bindContracts(record, ethers.provider), ids, ref.number, wrong);
    expect(r.seen).to.deep.equal(plainRead.seen);
  });
});

describe("the replay book's snapshot reads through ProtocolLens.readAll", function () {
  it("answers each read as its own call does, in one call; none where the lens has no readAll", async function () {
    const { w, lens } = await scene();
    const { chainId, lensRecord } = await at(w, lens);
    const feeds = new Map<number, string>();
    for (const m of [ETH, BTC]) feeds.set(m, (await w.engine.marketConfig(m)).feedId);
    const reads = (c: ProtocolContracts): PassRead[] =>
      [ETH, BTC].flatMap((m) => [
        { key: `marketState:${m}`, to: c.engine, fn: "marketState", args: [m] },
        { key: `price:${m}`, to: c.oracle, fn: "getPriceAndVolatility", args: [feeds.get(m)!] },
      ]);
    const own = async () =>
      Promise.all(
        [ETH, BTC].map(async (m) => [
          plain(await w.engine.marketState(m)),
          plain(await w.oracle.getPriceAndVolatility(feeds.get(m)!)),
        ]),
      );
    const counted = countingProvider(chainId);
    const c = bindContracts(lensRecord, counted.provider);
    const answers = await readAll(c.lens, reads(c));
    expect(answers!.size).to.equal(4);
    const viaLens = await Promise.all(
      [ETH, BTC].map(async (m) => [
        plain(await prefetched(answers, `marketState:${m}`, () => c.engine.marketState(m))),
        plain(await prefetched(answers, `price:${m}`, () => c.oracle.getPriceAndVolatility(feeds.get(m)!))),
      ]),
    );
    expect(viaLens).to.deep.equal(await own());
    expect(counted.selectors).to.deep.equal([LENS_ALL]);
    // a stale feed's price reverts: no answer, so the caller's own read fails as it always did
    const stale = await readAll(c.lens, [
      { key: "unknown", to: c.oracle, fn: "getPriceAndVolatility", args: [ZeroHash] },
    ]);
    expect(stale!.size).to.equal(0);
    expect(stale!.value("unknown")).to.equal(undefined);
    counted.provider.destroy();

    const old = countingProvider(chainId, true);
    const c1 = bindContracts(lensRecord, old.provider);
    expect(await readAll(c1.lens, reads(c1))).to.equal(undefined);
    expect(await readAll(undefined, reads(c1))).to.equal(undefined);
    expect(old.selectors).to.deep.equal([LENS_ALL]);
    old.provider.destroy();
  });
});
