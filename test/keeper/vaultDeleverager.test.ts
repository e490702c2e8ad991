/**
 * The keeper's vault-deleverage job (Deleverager.runBackstop, scripts/keeper/deleverager.ts) against the
 * deployed protocol: nothing is sent while the backstop vault's share price is above its trigger (the
 * drawdown breaker's peak less adlDrawdown); past it, one `deleverageBackstop` per market with inventory,
 * its candidates ranked exactly as the engine requires (opposite side, in profit, above maintenance; score
 * = value * notional / equity descending, ties by ascending id), which the engine accepts; a list the
 * engine refuses (the book raced by a close) is simulated, logged with its reason and not sent.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { keeperSettings } from "../../scripts/keeper/config.js";
import { Deleverager } from "../../scripts/keeper/deleverager.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { KeeperMetrics } from "../../scripts/keeper/metrics.js";
import type { TxManager } from "../../scripts/keeper/txManager.js";
import type { BackstopVault } from "../../types/ethers-contracts/contracts/backstop/BackstopVault.sol/BackstopVault.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import type { ProtocolContracts } from "../../scripts/keeper/contracts.js";
import type { ProtocolLens } from "../../types/ethers-contracts/contracts/lens/ProtocolLens.js";
import { ETH, MAX_PRICE, USDC, deployWorld, setPriceWad, type World } from "../helpers/fixture.js";
import { BACKSTOP_TEST_CONFIG, attachBackstopVault, calmRound } from "../helpers/backstop.js";
import {
  SCALE,
  adlScore,
  keeperContracts,
  moveLongToHalfHealth,
  openPosition,
  readKeeperBook,
  snapshotLeg,
} from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const GWEI = 10n ** 9n;
const ADL_DRAWDOWN = WAD / 20n; // 5%, below the breaker's 7.5%

const CONFIG = { ...BACKSTOP_TEST_CONFIG, adlDrawdown: ADL_DRAWDOWN, badDebtDrawdown: ADL_DRAWDOWN };

type VWorld = World & {
  bv: BackstopVault;
  vaultAccount: bigint;
  /** shorts against the vault's long inventory: `small` opened first (lower id), `big` ranks first */
  small: bigint;
  big: bigint;
  /** a long like the vault's inventory: never a candidate */
  sameSide: bigint;
};

/** Alice's 200 ETH long taken over by the backstop vault; two shorts and a long left in the market. */
async function world(): Promise<VWorld> {
  const w = await deployWorld(ethers); // the admin holds ADL_KEEPER: it is the keeper's key here
  for (const s of [w.alice, w.bob, w.carol, w.stranger]) await w.usdc.mint(s.address, 100_000_000n * USDC);
  const { bv, vaultAccount } = await attachBackstopVault(ethers, w, CONFIG, 1_000_000n);
  const small = await openPosition(w, w.stranger, 6_000n, [[ETH, -20n * WAD]]);
  const big = await openPosition(w, w.bob, 60_000n, [[ETH, -100n * WAD]]);
  const sameSide = await openPosition(w, w.carol, 20_000n, [[ETH, 10n * WAD]]);
  const alice = await openPosition(w, w.alice, 40_000n, [[ETH, 200n * WAD]]);
  // the price at which Alice's health is 1/2: past the 2/3 backstop, not bankrupt
  await moveLongToHalfHealth(w, alice, ETH);
  await w.liquidationEngine.connect(w.stranger).liquidate(alice);
  expect((await w.engine.position(vaultAccount, ETH)).size).to.equal(200n * WAD);
  return { ...w, bv, vaultAccount, small, big, sameSide };
}

/** ETH $400 lower: the vault's 200 ETH lose about $80k on $1M, past its 5% trigger. */
async function pastTrigger(w: VWorld) {
  const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
  await setPriceWad(w, ETH, price - 400n * WAD);
  const peak = (await IBackstopEngine__factory.connect(await w.engine.getAddress(), ethers.provider).backstopState())
    .peakSharePrice;
  expect(await w.bv.sharePrice()).to.be.at.most((peak * (WAD - ADL_DRAWDOWN)) / WAD);
}

/**
 * The job over the deployed contracts, the keeper's key being the admin's. Transactions are simulated and
 * sent by that key and mined at once; `raceAfterRefresh` runs between the job's read of the book and its
 * simulation (another transaction landing first).
 */
function job(w: VWorld, raceAfterRefresh?: () => Promise<void>, lens?: ProtocolContracts["lens"]) {
  const contracts = keeperContracts(w, {
    engine: w.engine.connect(w.admin),
    liquidationEngine: w.liquidationEngine.connect(w.admin),
    backstop: IBackstopEngine__factory.connect(w.engine.target as string, w.admin),
    lens,
  });
  const sent: { key: string; data: string; hash: string }[] = [];
  const estimated: string[] = [];
  const tx = {
    hasKey: () => false,
    count: () => 0,
    fits: async () => true,
    estimate: async (to: string, data: string) => {
      estimated.push(data);
      return ethers.provider.estimateGas({ from: w.admin.address, to, data });
    },
    submit: async (req: { key: string; to: string; data: string; gasLimit: bigint }) => {
      const r = await w.admin.sendTransaction({ to: req.to, data: req.data, gasLimit: req.gasLimit });
      await r.wait();
      sent.push({ key: req.key, data: req.data, hash: r.hash });
      return { hashes: [r.hash], nonce: r.nonce };
    },
  };
  const deleverager = new Deleverager({
    contracts,
    tx: tx as unknown as TxManager,
    settings: keeperSettings({}),
    address: w.admin.address,
    scale: SCALE,
    logger: silentLogger(),
    metrics: new KeeperMetrics(),
  });
  const refresh = async () => {
    const ids = [];
    for (let id = 1n; id < (await w.engine.nextAccountId()); id++) ids.push(id);
    const { book, view } = await readKeeperBook(ethers, w, contracts, ids);
    if (raceAfterRefresh) await raceAfterRefresh();
    return { book, view };
  };
  const fees = async () => ({ maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: GWEI });
  const iface = w.liquidationEngine.interface;
  const candidatesOf = (data: string) => {
    const [marketId, ids] = iface.decodeFunctionData("deleverageBackstop", data);
    return { marketId: Number(marketId), ids: [...(ids as bigint[])] };
  };
  return { run: () => deleverager.run(refresh, fees), sent, estimated, candidatesOf };
}

/** What the job's first reads answer one by one at the latest block, as `deleverageView` lays it out. */
async function readsOneByOne(w: VWorld) {
  const bs = IBackstopEngine__factory.connect(w.engine.target as string, ethers.provider);
  const state = await bs.backstopState();
  const config = await bs.backstopConfig();
  const excess = [];
  for (const id of await w.engine.accountMarkets(state.accountId)) {
    if ((await w.liquidationEngine.backstopExcess(id)) > 0n) excess.push(id);
  }
  return [await w.liquidationEngine.badDebtPending(), true, state.vault, state.accountId, config.adlDrawdown, excess];
}

async function deployLens(w: VWorld, engine = w.engine.target as string): Promise<ProtocolLens> {
  return (await ethers.deployContract("ProtocolLens", [
    engine,
    await w.oracle.getAddress(),
  ])) as unknown as ProtocolLens;
}

/** The job's reports and sent calls in one state (a fixture's), with and without `lens`. */
async function sameWithLens(state: () => Promise<VWorld>, lens: (w: VWorld) => Promise<ProtocolContracts["lens"]>) {
  const out = [];
  for (const withLens of [false, true]) {
    const w = await state();
    const j = job(w, undefined, withLens ? await lens(w) : undefined);
    const reports = await j.run();
    out.push({ reports: reports.map((r) => [r.kind, r.key, r.sent, r.reason]), sent: j.sent.map((x) => x.data) });
  }
  expect(out[1]).to.deep.equal(out[0]);
  return out[0];
}

describe("keeper: the backstop vault's deleverage job", function () {
  it("sends nothing while the vault's share price is above its trigger and its inventory within its carry (the engine would refuse)", async function () {
    const w = await loadFixture(world);
    await calmRound(w, ETH, time); // the takeover's own price move no longer counts
    expect(await w.liquidationEngine.backstopExcess(ETH)).to.equal(0n);
    const j = job(w);
    expect(await j.run()).to.deep.equal([]);
    expect(j.estimated).to.deep.equal([]);
    expect(j.sent).to.deep.equal([]);
    await expect(
      w.liquidationEngine.connect(w.admin).deleverageBackstop(ETH, [w.big, w.small]),
    ).to.be.revertedWithCustomError(w.liquidationEngine, "BackstopAboveTrigger");
  });

  it("above the trigger, after a sharp round, sends deleverageBackstop for what the engine says exceeds the carry, which the engine closes", async function () {
    const w = await loadFixture(world);
    await calmRound(w, ETH, time);
    const price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
    await time.increase(59);
    await setPriceWad(w, ETH, ((price * 97n) / 100n / 10n ** 10n) * 10n ** 10n); // -3% in a minute
    const peak = (await IBackstopEngine__factory.connect(await w.engine.getAddress(), ethers.provider).backstopState())
      .peakSharePrice;
    expect(await w.bv.sharePrice()).to.be.greaterThan((peak * (WAD - ADL_DRAWDOWN)) / WAD);
    const excess = await w.liquidationEngine.backstopExcess(ETH);
    expect(excess).to.be.greaterThan(0n);
    expect(excess).to.be.lessThan(100n * WAD); // what the big short alone can take
    const j = job(w);
    const reports = await j.run();
    expect(reports.map((r) => [r.kind, r.key, r.sent])).to.deep.equal([["adl", "adl-vault:0", true]]);
    expect(j.candidatesOf(j.sent[0].data).ids).to.deep.equal([w.big, w.small]);
    // the engine recomputes the excess at the same price: the vault keeps what it carries
    const size = (await w.engine.position(w.vaultAccount, ETH)).size;
    expect(size).to.be.closeTo(200n * WAD - excess, excess / 1_000_000n); // a second's funding later
    expect((await w.engine.position(w.small, ETH)).size).to.equal(-20n * WAD); // the big short sufficed
  });

  it("past the trigger sends deleverageBackstop with the engine's ranking, which the engine accepts", async function () {
    const w = await loadFixture(world);
    await pastTrigger(w);
    const j = job(w);
    const reports = await j.run();
    expect(reports.map((r) => [r.kind, r.key, r.sent])).to.deep.equal([["adl", "adl-vault:0", true]]);
    expect(j.sent).to.have.length(1);
    const { marketId, ids } = j.candidatesOf(j.sent[0].data);
    expect(marketId).to.equal(ETH);
    // the two shorts only (not the same-side long, not the vault, not the flat account), the bigger score
    // first although its id is higher: ranked by score, not by id
    expect(ids).to.deep.equal([w.big, w.small]);
    expect(w.big).to.be.greaterThan(w.small);
    const rc = (await ethers.provider.getTransactionReceipt(j.sent[0].hash))!;
    const block = rc.blockNumber - 1;
    const scores = [];
    for (const id of ids) {
      const snap = await snapshotLeg(w, id, ETH, { blockTag: block });
      expect(snap.leg.value).to.be.greaterThan(0n);
      expect(snap.summary.equity).to.be.greaterThan(snap.summary.maintenanceMargin);
      scores.push(adlScore(snap));
    }
    expect(scores[0]).to.be.greaterThan(scores[1]);
    // the engine took both: the shorts are closed and the vault's 200 ETH are down to 80
    const closed = rc.logs
      .map((l) => {
        try {
          return w.liquidationEngine.interface.parseLog(l);
        } catch {
          return null;
        }
      })
      .filter((e) => e?.name === "BackstopDeleveraged")
      .map((e) => e!.args.accountId as bigint);
    expect(closed).to.deep.equal([w.big, w.small]);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(80n * WAD);
    expect((await w.engine.position(w.big, ETH)).size).to.equal(0n);
    expect((await w.engine.position(w.small, ETH)).size).to.equal(0n);
    expect((await w.engine.position(w.sameSide, ETH)).size).to.equal(10n * WAD);
    // the rest of the inventory has nobody left to close against: nothing more is sent
    const again = job(w);
    expect(await again.run()).to.deep.equal([]);
    expect(again.sent).to.deep.equal([]);
  });

  it("a list the engine refuses (a candidate closed after the book was read) is simulated, reported and not sent", async function () {
    const w = await loadFixture(world);
    await pastTrigger(w);
    const j = job(w, async () => {
      await w.engine.connect(w.bob).closePosition(w.big, ETH, MAX_PRICE);
    });
    const reports = await j.run();
    expect(reports).to.have.length(1);
    expect(reports[0].sent).to.equal(false);
    expect(reports[0].reason).to.equal("would revert: NotAnAdlCandidate");
    expect(j.estimated).to.have.length(1);
    expect(j.sent).to.deep.equal([]);
    expect((await w.engine.position(w.vaultAccount, ETH)).size).to.equal(200n * WAD);
    expect((await w.engine.position(w.small, ETH)).size).to.equal(-20n * WAD);
  });

  it("the lens's deleverageView answers what the job's first reads answer one by one, and the job sends the same with it", async function () {
    const calm = async () => {
      const w = await loadFixture(world);
      await calmRound(w, ETH, time);
      return w;
    };
    const past = async () => {
      const w = await loadFixture(world);
      await pastTrigger(w);
      return w;
    };
    for (const [name, state] of [
      ["calm", calm],
      ["past the trigger", past],
    ] as const) {
      const w = await state();
      const lens = await deployLens(w);
      const v = await lens.deleverageView();
      const one = await readsOneByOne(w);
      expect(
        [v.badDebtPending, v.backstop, v.vault, v.accountId, v.adlDrawdown, [...v.excessMarkets]],
        name,
      ).to.deep.equal(one);
      expect(v.vault).to.equal(await w.bv.getAddress());
      expect((one[5] as bigint[]).length, name).to.equal(name === "calm" ? 0 : 1);
      const seen = await sameWithLens(state, deployLens);
      expect(seen.sent, name).to.have.length(name === "calm" ? 0 : 1);
    }
  });

  it("reads one by one where the lens cannot serve: a failing lens (asked once), and the vault's part after bad debt was pending", async function () {
    const past = async () => {
      const w = await loadFixture(world);
      await pastTrigger(w);
      return w;
    };
    // a lens whose deleverageView reverts (here one reading another contract; the scan's keeperView from a
    // right one): the job falls back, sends the same, and does not ask it again
    const wrong = async (w: VWorld) => {
      const bad = await deployLens(w, await w.vault.getAddress());
      await expect(bad.deleverageView()).to.be.revert(ethers);
      const good = await deployLens(w);
      return {
        keeperView: (...a: unknown[]) => good.keeperView(...(a as [never, never])),
        deleverageView: (...a: unknown[]) => bad.deleverageView(...(a as [never])),
      } as unknown as ProtocolLens;
    };
    expect((await sameWithLens(past, wrong)).sent).to.have.length(1);
    const w = await past();
    let asked = 0;
    const failing = await wrong(w);
    const counted = {
      keeperView: failing.keeperView,
      deleverageView: (o: unknown) => {
        asked++;
        return failing.deleverageView(o as never);
      },
    } as unknown as ProtocolLens;
    const j = job(w, undefined, counted);
    await j.run();
    await j.run();
    expect(asked).to.equal(1);
    // a lens answer with bad debt pending stands for the deficits' reads only: the deficits' part may send
    // and move the state, so the vault's part reads again (here the answer's vault fields are blanked: were
    // they used, nothing would be sent)
    const stale = async (x: VWorld) => {
      const good = await deployLens(x);
      const real = await good.deleverageView();
      expect(real.badDebtPending).to.equal(0n);
      return {
        keeperView: (...a: unknown[]) => good.keeperView(...(a as [never, never])),
        deleverageView: async () => ({
          badDebtPending: 1n,
          backstop: false,
          vault: real.vault,
          accountId: real.accountId,
          adlDrawdown: real.adlDrawdown,
          excessMarkets: [],
        }),
      } as unknown as ProtocolLens;
    };
    const x = await past();
    const sj = job(x, undefined, await stale(x));
    const reports = await sj.run();
    expect(reports.map((r) => [r.key, r.sent])).to.deep.equal([["adl-vault:0", true]]);
  });
});
