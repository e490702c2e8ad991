/**
 * Issue 12's adversarial case "a thin market pushed around the vault": an attacker in a thin market (a
 * listed market whose depth, skewScale * price, is small) pushes the price, by trading against the pool or
 * by moving the feed, to make the backstop vault take over at a manipulated price, or to drive the vault
 * past its trigger and force `deleverageBackstop` onto others. What bounds it, each asserted:
 * - the takeover is at the oracle index: a skew pushed through the pool does not move it;
 * - the market cap (depthShare of the market's depth) bounds the inventory the vault can take in a thin
 *   market, so its loss there is at most that cap times the move; what does not fit is liquidated as before;
 * - the drawdown breaker stops takeovers after a bounded loss;
 * - `deleverageBackstop` closes the vault against the others at the oracle: each keeps its equity, stays
 *   above maintenance, and the attacker gains no more than its own position's move at the oracle.
 */
import { expect } from "chai";
import type { ContractTransactionReceipt, Interface } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { network } from "hardhat";

import { DEFAULT_MARKETS, WAD, feedId, marketConfig, type MarketSpec } from "../../deploy/params.js";
import type { BackstopVault } from "../../types/ethers-contracts/contracts/backstop/BackstopVault.sol/BackstopVault.js";
import type { IBackstopEngine } from "../../types/ethers-contracts/contracts/interfaces/IBackstop.sol/IBackstopEngine.js";
import type { MockAggregator } from "../../types/ethers-contracts/index.js";
import { MAX_PRICE, USDC, deployWorld, openAccount, setPriceWad, type World } from "../helpers/fixture.js";
import { BACKSTOP_TEST_CONFIG, attachBackstopVault, calmRound } from "../helpers/backstop.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const THIN = 2;
/** $100 a unit, 200,000 units of depth: $20M, against $2B on the default ETH market. */
const THIN_SPEC: MarketSpec = {
  ...DEFAULT_MARKETS[0],
  id: THIN,
  symbol: "THIN",
  initialPriceUsd: 100n,
  skewScale: 200_000n * WAD,
  maxOpenInterest: 50_000n * WAD,
  maxTradeSize: 20_000n * WAD,
};
const VAULT_CAPITAL = 400_000n; // USDC
const CONFIG = {
  ...BACKSTOP_TEST_CONFIG,
  accountShare: WAD / 2n, // $200k of the vault's $400k
  depthShare: WAD / 100n, // 1% of $20M: $200k in THIN
  adlDrawdown: WAD / 20n, // 5%
  badDebtDrawdown: WAD / 20n, // the vault pays bad debt up to its trigger
  // 0.4% of $20M: the unwind cap (budget x (1 + ln2 x maxHold / flowHalfLife), $413k) above the depth cap,
  // which is the one these tests are about
  impactBudget: WAD / 250n,
};

type TWorld = World & {
  attacker: HardhatEthersSigner;
  victim: HardhatEthersSigner;
  bv: BackstopVault;
  bs: IBackstopEngine;
  vaultAccount: bigint;
  thinFeed: MockAggregator;
};

async function world(): Promise<TWorld> {
  const w = await deployWorld(ethers);
  const signers = await ethers.getSigners();
  const [attacker, victim] = [signers[8], signers[9]];
  for (const s of [attacker, victim, w.alice, w.bob, w.carol]) {
    await w.usdc.mint(s.address, 100_000_000n * USDC);
    await w.usdc.connect(s).approve(await w.vault.getAddress(), 2n ** 256n - 1n);
  }
  const thinFeed = (await ethers.deployContract("MockAggregator", [
    THIN_SPEC.feedDecimals,
    THIN_SPEC.initialPriceUsd * 10n ** 8n,
    "THIN / USD",
  ])) as unknown as MockAggregator;
  w.feeds.set(THIN, thinFeed);
  await w.oracle
    .connect(w.governor)
    .setFeed(feedId("THIN"), thinFeed, THIN_SPEC.heartbeat, THIN_SPEC.volWindow, THIN_SPEC.initialSigma);
  await w.engine.connect(w.governor).listMarket(THIN, marketConfig(THIN_SPEC));
  const { bv, bs, vaultAccount } = await attachBackstopVault(ethers, w, CONFIG, VAULT_CAPITAL);
  return { ...w, markets: [...w.markets, THIN_SPEC], attacker, victim, bv, bs, vaultAccount, thinFeed };
}

async function position(w: TWorld, owner: HardhatEthersSigner, marginUsdc: bigint, size: bigint): Promise<bigint> {
  const id = await openAccount(w, owner, marginUsdc * USDC);
  await w.engine.connect(owner).modifyPosition(id, THIN, size, size > 0n ? MAX_PRICE : 0n);
  return id;
}

const index = async (w: TWorld) => (await w.engine.positionView(w.vaultAccount, THIN)).indexPrice;
const equityOf = async (w: TWorld, id: bigint) => (await w.engine.liquidationSnapshot(id)).summary.equity;

/** The THIN price at which a one-position account's health is `h` (WAD), rounded to the feed's 8 decimals. */
async function priceForHealth(w: TWorld, id: bigint, h: bigint): Promise<bigint> {
  const v = await w.engine.positionView(id, THIN);
  const margin = await w.vault.marginOf(id);
  const num = (v.size * v.breakEvenPrice) / WAD - margin;
  const abs = v.size < 0n ? -v.size : v.size;
  const den = v.size - (((h * abs) / WAD) * v.maintenanceMarginRatio) / WAD;
  return ((num * WAD) / den / 10n ** 10n) * 10n ** 10n;
}

function parsed(iface: Interface, rc: ContractTransactionReceipt, name: string) {
  const out = [];
  for (const log of rc.logs) {
    try {
      const p = iface.parseLog(log);
      if (p?.name === name) out.push(p);
    } catch {
      /* another contract's event */
    }
  }
  return out;
}

/** What the attacker's accounts hold (margins) plus the rewards paid to its address, in WAD. */
async function holdings(w: TWorld, ids: bigint[]): Promise<bigint> {
  let sum = await w.vault.keeperRewardsOf(w.attacker.address);
  for (const id of ids) sum += await w.vault.marginOf(id);
  return sum;
}

describe("Backstop vault: a thin market pushed around the vault", function () {
  it("a skew pushed through the pool does not move the takeover price, and the depth cap keeps what does not fit out of the vault", async function () {
    const w = await loadFixture(world);
    // The attacker's account to hand to the vault: 1,500 THIN long ($150k) at about 13x.
    const target = await position(w, w.attacker, 12_000n, 1_500n * WAD);
    // A second long, $300k at 5x: above the vault's $200k depth cap in THIN.
    const tooBig = await position(w, w.victim, 60_000n, 3_000n * WAD);
    await setPriceWad(w, THIN, await priceForHealth(w, target, WAD / 2n));
    // The push: 20,000 THIN bought through the pool (10% of the depth), fill price far above the index.
    const pusher = await position(w, w.attacker, 400_000n, 20_000n * WAD);
    const pushed = await w.engine.positionView(pusher, THIN);
    const oracle = await index(w);
    expect(pushed.basis).to.be.greaterThan((oracle * 105n) / 100n); // paid 5%+ over the index
    const attackerIn = 412_000n * WAD; // the two accounts' deposits
    // its equity at the oracle, with the skew premium the push paid added back (a close gets most of it back)
    const attackerBefore = (await equityOf(w, target)) + (await equityOf(w, pusher));
    const rewardsBefore = await w.vault.keeperRewardsOf(w.attacker.address);

    // The attacker liquidates its own account into the vault.
    const rc = (await (await w.liquidationEngine.connect(w.attacker).liquidate(target)).wait())!;
    const [taken] = parsed(w.bs.interface, rc, "PositionTakenOver");
    expect(taken.args.accountId).to.equal(target);
    expect(taken.args.price).to.equal(oracle); // the index, not the pushed fill
    expect((await w.engine.position(w.vaultAccount, THIN)).size).to.equal(1_500n * WAD);

    // The push is unwound: the attacker's round trip, takeover included, ends below what it put in.
    await w.engine.connect(w.attacker).closePosition(pusher, THIN, 0n);
    const after = (await holdings(w, [target, pusher])) - rewardsBefore;
    expect(after).to.be.lessThan(attackerIn);
    expect(after).to.be.lessThan(attackerBefore + (pushed.size * (pushed.basis - oracle)) / WAD);

    // The $300k long past its backstop: the vault may hold at most $200k in THIN, so it is liquidated into
    // the market as before and the vault's THIN inventory stays within the cap.
    await setPriceWad(w, THIN, await priceForHealth(w, tooBig, WAD / 2n));
    const rc2 = (await (await w.liquidationEngine.connect(w.bob).liquidate(tooBig)).wait())!;
    expect(parsed(w.bs.interface, rc2, "AccountTakenOver")).to.have.length(0);
    expect(parsed(w.liquidationEngine.interface, rc2, "TrancheLiquidated").length).to.be.greaterThan(0);
    const v = await w.engine.positionView(w.vaultAccount, THIN);
    const cap = (THIN_SPEC.skewScale * v.indexPrice * CONFIG.depthShare) / WAD / WAD;
    expect(v.size).to.equal(1_500n * WAD);
    expect((v.size * v.indexPrice) / WAD).to.be.at.most(cap);
  });

  it("a feed pushed down past the vault's trigger only forces oracle-price closes: victims keep their equity and floors, the attacker gains only its own move", async function () {
    const w = await loadFixture(world);
    // The others: two shorts in THIN. The attacker: a short too, and a long it lets the vault take over.
    const victims = [await position(w, w.victim, 20_000n, -600n * WAD), await position(w, w.bob, 5_000n, -300n * WAD)];
    const attackerShort = await position(w, w.attacker, 10_000n, -400n * WAD);
    const target = await position(w, w.attacker, 12_000n, 1_500n * WAD);
    const attackerMarginIn = 22_000n * WAD;
    await setPriceWad(w, THIN, await priceForHealth(w, target, WAD / 2n));
    await w.liquidationEngine.connect(w.attacker).liquidate(target);
    const inventory = (await w.engine.position(w.vaultAccount, THIN)).size;
    expect(inventory).to.equal(1_500n * WAD);
    const sharePeak = (await w.bs.backstopState()).peakSharePrice;
    const trigger = (sharePeak * (WAD - CONFIG.adlDrawdown)) / WAD;
    const takeoverPrice = await index(w);
    expect(await w.bv.sharePrice()).to.be.greaterThan(trigger);
    await calmRound(w, THIN, time); // above the trigger and, the market calm, within the carry
    await expect(w.liquidationEngine.connect(w.admin).deleverageBackstop(THIN, victims)).to.be.revertedWithCustomError(
      w.liquidationEngine,
      "BackstopAboveTrigger",
    );

    // The attacker moves the feed down 25% (one round: the oracle takes it). The vault's loss is bounded by
    // its capped inventory times the move.
    const pushedPrice = ((takeoverPrice * 75n) / 100n / 10n ** 10n) * 10n ** 10n;
    const equityBefore = (await w.bv.book())[0];
    await setPriceWad(w, THIN, pushedPrice);
    const loss = equityBefore - (await w.bv.book())[0];
    const cap = (THIN_SPEC.skewScale * takeoverPrice * CONFIG.depthShare) / WAD / WAD;
    expect(loss).to.be.greaterThan(0n);
    expect(loss).to.be.at.most((cap * (takeoverPrice - pushedPrice)) / takeoverPrice + WAD);
    expect(await w.bv.sharePrice()).to.be.at.most(trigger);

    // Ranked as the engine requires (score = value * notional / equity descending), every short is closed
    // against the vault at the oracle.
    const all = [...victims, attackerShort];
    const scored = [];
    for (const id of all) {
      const [s, ps] = await w.engine.liquidationSnapshot(id);
      const p = ps.find((x) => x.marketId === BigInt(THIN))!;
      scored.push({ id, score: (p.value * s.notional) / s.equity, equity: s.equity });
    }
    scored.sort((a, b) => (a.score === b.score ? (a.id < b.id ? -1 : 1) : a.score > b.score ? -1 : 1));
    const rc = (await (
      await w.liquidationEngine.connect(w.admin).deleverageBackstop(
        THIN,
        scored.map((s) => s.id),
      )
    ).wait())!;
    const closes = parsed(w.liquidationEngine.interface, rc, "BackstopDeleveraged");
    expect(closes.map((e) => e.args.accountId)).to.deep.equal(scored.map((s) => s.id));
    for (const e of closes) expect(e.args.price).to.equal(pushedPrice); // the oracle, no discount
    // Nothing sold: the index is where the attacker put it, and open interest fell on both sides alike.
    expect(await index(w)).to.equal(pushedPrice);
    for (const s of scored) {
      const [sum] = await w.engine.liquidationSnapshot(s.id);
      expect((await w.engine.position(s.id, THIN)).size).to.equal(0n);
      // each keeps its equity (its profit realised at the oracle) and is above its floor
      // (a second's funding apart: the close is one block after the read)
      expect(sum.equity).to.be.within(s.equity - 10n ** 15n, s.equity + 10n ** 15n);
      expect(sum.equity).to.be.at.least(sum.maintenanceMargin);
    }
    expect((await w.engine.position(w.vaultAccount, THIN)).size).to.equal(inventory - 1_300n * WAD);

    // The attacker: what its short made at the oracle, less what it lost on the long it handed over; no more.
    const short = scored.find((s) => s.id === attackerShort)!;
    const attackerAfter = await holdings(w, [attackerShort, target]);
    const shortMoveAtOracle = 400n * (THIN_SPEC.initialPriceUsd * WAD - pushedPrice);
    expect(short.equity - 10_000n * WAD).to.be.at.most(shortMoveAtOracle);
    expect(attackerAfter).to.be.lessThan(attackerMarginIn + shortMoveAtOracle);

    // The drawdown breaker: the vault is down past maxDrawdown, so another long past its backstop is not
    // taken over: the attacker cannot hand the vault more inventory.
    const late = await position(w, w.carol, 8_000n, 1_000n * WAD);
    await setPriceWad(w, THIN, await priceForHealth(w, late, WAD / 2n));
    expect(await w.bv.sharePrice()).to.be.lessThan((sharePeak * (WAD - CONFIG.maxDrawdown)) / WAD);
    const rc2 = (await (await w.liquidationEngine.connect(w.bob).liquidate(late)).wait())!;
    expect(parsed(w.bs.interface, rc2, "AccountTakenOver")).to.have.length(0);
    expect(parsed(w.bs.interface, rc2, "BackstopHalted")).to.have.length(1);
    expect((await w.engine.position(w.vaultAccount, THIN)).size).to.equal(inventory - 1_300n * WAD);
  });
});
