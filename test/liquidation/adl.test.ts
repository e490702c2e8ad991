/**
 * Issue 11's auto-deleveraging findings, each as the review reproduced it (failing on the code before
 * the fix) and the rule that replaces it:
 * - Medium 2: anyone chose whose profit ADL takes -> only ADL_KEEPER calls, with a strict ranking;
 * - Medium 3: ADL took principal from a cross-margined account -> never below maintenance;
 * - Medium 4: a deposit around ADL captured the recovery -> no LP entry while bad debt is pending;
 * - Low: forceReduce accepted any price -> within MAX_FORCE_REDUCE_DEVIATION of the index.
 */
import { liquidationMargin } from "../../scripts/lib/math/liquidation.js";
import { expect } from "chai";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { WAD } from "../../deploy/params.js";
import { ADL_KEEPER_ROLE, LIQUIDATOR_ROLE } from "../../deploy/protocol.js";
import { ADL_KEEPER_ROLE as KEEPER_SIDE_ROLE, rankAdlCandidates } from "../../scripts/keeper/deleverager.js";
import { BTC, ETH, USDC, type World, deployWorld, setPriceWad, snapshotState, units } from "../helpers/fixture.js";
import {
  PENDING,
  adlScore,
  keeperContracts,
  openPosition,
  readKeeperBook,
  snapshotLeg,
} from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.connect();
const { loadFixture, time } = networkHelpers;

const MAX_UINT = 2n ** 256n - 1n;

type AdlWorld = World & { keeper: HardhatEthersSigner; dave: HardhatEthersSigner };

async function world(): Promise<AdlWorld> {
  // no insurance stake: a bankruptcy's shortfall goes straight to the ADL queue
  const w = await deployWorld(ethers, { insurance: 0n });
  await w.vault.connect(w.governor).setInsuranceFeeShare(0n);
  const signers = await ethers.getSigners();
  const [keeper, dave] = [signers[8], signers[9]];
  for (const s of [w.alice, w.bob, w.carol, dave, w.stranger]) {
    await w.usdc.mint(s.address, 100_000_000n * USDC);
    await w.usdc.connect(s).approve(await w.vault.getAddress(), MAX_UINT);
  }
  return { ...w, keeper, dave };
}

async function pinNext(): Promise<number> {
  const t = (await time.latest()) + 1;
  await time.setNextBlockTimestamp(t);
  return t;
}

/** The engine's own ADL score of an account's position in `market`, at the next block. */
async function score(w: AdlWorld, id: bigint, market: number): Promise<bigint> {
  return adlScore(await snapshotLeg(w, id, market, PENDING));
}

/**
 * A long of 30 ETH on 2,000 USDC goes bankrupt when ETH falls 2000 -> 1900 and is liquidated: about
 * 1,000 USDC of bad debt, none of it covered, waits for ADL. Opposite-side winners: `top` (short 4 ETH
 * on 300 USDC, high leverage) and `low` (short 10 ETH on 20,000 USDC, low leverage);
 * together they can recover it all.
 */
async function bankrupt(w: AdlWorld, extra?: () => Promise<void>, beforeLiquidation?: () => Promise<void>) {
  const a = await openPosition(w, w.alice, 2_000n, [[ETH, units(30)]]);
  const top = await openPosition(w, w.carol, 300n, [[ETH, -units(4)]]);
  const low = await openPosition(w, w.bob, 20_000n, [[ETH, -units(10)]]);
  await extra?.();
  await setPriceWad(w, ETH, 1_900n * WAD);
  await beforeLiquidation?.();
  await w.liquidationEngine.connect(w.keeper).liquidate(a);
  const deficit = await w.liquidationEngine.pendingDeficit(ETH, true);
  expect(deficit).to.be.greaterThan(units(500));
  return { a, top, low, deficit };
}

describe("Auto-deleveraging: who may run it and whom it takes from (issue 11, Medium 2)", function () {
  it("refuses every caller without ADL_KEEPER, whatever the list: the one-element attack changes nothing", async function () {
    const w = await loadFixture(world);
    const { top, low, deficit } = await bankrupt(w);
    expect(await score(w, top, ETH)).to.be.greaterThan(await score(w, low, ETH));
    const before = await snapshotState(w, [top, low]);
    // the review's attack: a one-element list naming the low-ranked account, sent by anyone
    for (const who of [w.stranger, w.dave, w.keeper]) {
      await expect(w.liquidationEngine.connect(who).autoDeleverage(ETH, true, [low]))
        .to.be.revertedWithCustomError(w.liquidationEngine, "AccessControlUnauthorizedAccount")
        .withArgs(who.address, ADL_KEEPER_ROLE);
    }
    expect(await snapshotState(w, [top, low])).to.equal(before);
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(deficit);
    // the deployment grants the role to its ADL keeper only (here the default signer)
    expect(await w.liquidationEngine.hasRole(ADL_KEEPER_ROLE, w.admin.address)).to.equal(true);
    expect(await w.liquidationEngine.hasRole(ADL_KEEPER_ROLE, w.stranger.address)).to.equal(false);
  });

  it("the keeper's list must be strictly ranked by the engine's score: out of order reverts with no change", async function () {
    const w = await loadFixture(world);
    const { top, low, deficit } = await bankrupt(w);
    const before = await snapshotState(w, [top, low]);
    await pinNext();
    const [sTop, sLow] = [await score(w, top, ETH), await score(w, low, ETH)];
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [low, top]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "AdlCandidatesNotRanked")
      .withArgs(top, sTop, sLow);
    expect(await snapshotState(w, [top, low])).to.equal(before);
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(deficit);
    // ranked, it runs and says whom it took from at what score, so the ranking can be audited
    await pinNext();
    const expected = await score(w, top, ETH);
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [top, low]))
      .to.emit(w.liquidationEngine, "AutoDeleveraged")
      .withArgs(
        ETH,
        top,
        units(4),
        (v: bigint) => v > 0n,
        (v: bigint) => v > 0n,
        expected,
      );
  });
});

describe("Auto-deleveraging never takes an account below maintenance (issue 11, Medium 3)", function () {
  /**
   * The review's account: a winning ETH short (+$500 at 1900) and a losing BTC long on one margin,
   * +$320 equity. Taking the whole ETH profit left it at about -$180, new bad debt.
   */
  async function crossMargined(w: AdlWorld, targetEquity: bigint) {
    let dave = 0n;
    const r = await bankrupt(w, async () => {
      dave = await openPosition(w, w.dave, 1_500n, [
        [ETH, -units(5)],
        [BTC, WAD / 10n],
      ]);
    });
    // BTC falls until the account's equity is `targetEquity`
    const s = await w.engine.accountSummary(dave);
    const [btcPrice] = await w.oracle.getPriceAndVolatility((await w.engine.marketConfig(BTC)).feedId);
    const drop = ((s.equity - targetEquity) * WAD) / (WAD / 10n);
    await setPriceWad(w, BTC, btcPrice - drop);
    return { ...r, dave };
  }

  it("caps the cut so the account stays at or above maintenance (the review's +$320 account)", async function () {
    const w = await loadFixture(world);
    const { dave, deficit } = await crossMargined(w, units(320));
    const before = await w.engine.accountSummary(dave);
    expect(before.equity).to.be.closeTo(units(320), units(1));
    expect(before.equity).to.be.greaterThan(before.maintenanceMargin);
    const ethValue = (await w.engine.liquidationSnapshot(dave))[1].find((p) => p.marketId === BigInt(ETH))!.value;
    expect(ethValue).to.be.greaterThan(units(450)); // about $500 of ETH profit...
    expect(ethValue).to.be.lessThan(deficit); // ...all of it wanted by the deficit
    expect(ethValue).to.be.greaterThan(before.equity); // taking it all would leave negative equity

    const rc = await (await w.liquidationEngine.autoDeleverage(ETH, true, [dave])).wait();
    console.log(`      autoDeleverage, one cross-margined candidate capped at maintenance: ${rc!.gasUsed} gas`);
    const ev = rc!.logs
      .map((l) => w.liquidationEngine.interface.parseLog(l))
      .find((e) => e?.name === "AutoDeleveraged")!;
    const recovered = ev.args.recovered as bigint;
    const after = await w.engine.accountSummary(dave);
    expect(after.equity).to.be.greaterThanOrEqual(BigInt(after.maintenanceMargin));
    // the cap, not less: within $1, plus what the account's liquidation margin (its keeper's fee, in its
    // maintenance) fell by as the cut shrank its notional
    const r = await w.liquidationEngine.rewardConfig();
    const lmConfig = { flat: r[0], min: r.min, shareOfNotional: r.shareOfNotional, max: r.max };
    const lmFell = liquidationMargin(lmConfig, before.notional) - liquidationMargin(lmConfig, after.notional);
    expect(after.equity).to.be.lessThan(BigInt(after.maintenanceMargin) + units(1) + lmFell);
    expect(recovered).to.be.greaterThan(0n);
    expect(recovered).to.be.lessThan(ethValue);
    expect(await w.liquidationEngine.pendingDeficit(ETH, true)).to.equal(deficit - recovered);
    expect(await w.liquidationEngine.badDebtSocialised()).to.equal(recovered);
    // the margin is untouched: the cut was unrealised profit only
    expect(await w.vault.marginOf(dave)).to.equal(before.margin);
  });

  it("skips an account at or below maintenance (AdlCandidateSkipped); with nobody else it reverts, changing nothing", async function () {
    const w = await loadFixture(world);
    const { dave, top } = await crossMargined(w, units(100));
    const s = await w.engine.accountSummary(dave);
    expect(s.equity).to.be.greaterThan(0n);
    expect(s.equity).to.be.lessThanOrEqual(BigInt(s.maintenanceMargin));
    const before = await snapshotState(w, [dave, top]);
    await expect(w.liquidationEngine.autoDeleverage(ETH, true, [dave]))
      .to.be.revertedWithCustomError(w.liquidationEngine, "NoAdlCandidateAboveMaintenance")
      .withArgs(ETH, true);
    expect(await snapshotState(w, [dave, top])).to.equal(before);
    // ranked with the others, it is passed over and the next one pays
    await pinNext();
    const ranked = [dave, top].map(async (id) => ({ id, s: await score(w, id, ETH) }));
    const order = (await Promise.all(ranked)).sort((x, y) => (x.s > y.s ? -1 : x.s < y.s ? 1 : 0)).map((r) => r.id);
    const tx = w.liquidationEngine.autoDeleverage(ETH, true, order);
    await expect(tx).to.emit(w.liquidationEngine, "AdlCandidateSkipped");
    await expect(tx).to.emit(w.liquidationEngine, "AutoDeleveraged");
    const p = await w.engine.position(dave, ETH);
    expect(p.size).to.equal(-units(5));
  });
});

describe("LP entry while bad debt is pending recovery (issue 11, Medium 4)", function () {
  it("refuses deposit and mint (any receiver) while a deficit is pending, max* read 0, and reopens once it is recovered", async function () {
    const w = await loadFixture(world);
    const { top, low, deficit } = await bankrupt(w);
    const before = await snapshotState(w, [top, low]);
    const balance = await w.usdc.balanceOf(w.stranger.address);
    const v = w.vault.connect(w.stranger);
    await expect(v.deposit(100_000n * USDC, w.stranger.address))
      .to.be.revertedWithCustomError(w.vault, "LpEntryClosedWhileDeficitPending")
      .withArgs(deficit);
    await expect(v.deposit(100_000n * USDC, w.lp.address)).to.be.revertedWithCustomError(
      w.vault,
      "LpEntryClosedWhileDeficitPending",
    );
    await expect(v.mint(10n ** 20n, w.stranger.address)).to.be.revertedWithCustomError(
      w.vault,
      "LpEntryClosedWhileDeficitPending",
    );
    expect(await w.vault.maxDeposit(w.stranger.address)).to.equal(0n);
    expect(await w.vault.maxMint(w.stranger.address)).to.equal(0n);
    expect(await snapshotState(w, [top, low])).to.equal(before);
    expect(await w.usdc.balanceOf(w.stranger.address)).to.equal(balance);

    // recovered in full (ranked), entry reopens
    await pinNext();
    const order = [top, low];
    expect(await score(w, top, ETH)).to.be.greaterThan(await score(w, low, ETH));
    const rc = await (await w.liquidationEngine.autoDeleverage(ETH, true, order)).wait();
    console.log(`      autoDeleverage, two candidates recovering the whole deficit: ${rc!.gasUsed} gas`);
    expect(await w.liquidationEngine.badDebtPending()).to.equal(0n);
    expect(await w.vault.maxDeposit(w.stranger.address)).to.be.greaterThan(0n);
    await expect(v.deposit(100_000n * USDC, w.stranger.address)).to.emit(w.vault, "Deposit");
  });

  it("the review's flash deposit around ADL cannot enter; a deposit made before the loss shares it and gains nothing", async function () {
    const w = await loadFixture(world);
    const early = 200_000n * USDC;
    let shares = 0n;
    let beforeLoss = 0n;
    const { top, low } = await bankrupt(
      w,
      async () => {
        // an LP that joined before the loss was booked, with the positions already open
        shares = await w.vault.connect(w.dave).deposit.staticCall(early, w.dave.address);
        await w.vault.connect(w.dave).deposit(early, w.dave.address);
      },
      async () => {
        // the price has moved (LPs are the net short's counterparty: the move itself pays them), the
        // bankrupt account is not liquidated yet: what the early LP's shares are worth just before the loss
        beforeLoss = await w.vault.convertToAssets(shares);
      },
    );
    const afterLoss = await w.vault.convertToAssets(shares);
    expect(afterLoss).to.be.lessThan(beforeLoss); // it bore its share of the loss
    // the flash deposit: join just before a recovery
    await expect(
      w.vault.connect(w.stranger).deposit(1_000_000n * USDC, w.stranger.address),
    ).to.be.revertedWithCustomError(w.vault, "LpEntryClosedWhileDeficitPending");
    // a gift of tokens to the vault mints no shares and does not move the book
    const assets = await w.vault.totalAssets();
    const supply = await w.vault.totalSupply();
    await w.usdc.connect(w.stranger).transfer(await w.vault.getAddress(), 50_000n * USDC);
    expect(await w.vault.totalAssets()).to.be.closeTo(assets, USDC); // funding of one block, not the 50,000
    expect(await w.vault.totalSupply()).to.equal(supply);
    await pinNext();
    await w.liquidationEngine.autoDeleverage(ETH, true, [top, low]);
    expect(await w.liquidationEngine.badDebtPending()).to.equal(0n);
    // the early LP bore its share of the loss and got its share of the recovery back: no profit on it
    const recovered = await w.vault.convertToAssets(shares);
    expect(recovered).to.be.greaterThan(afterLoss);
    // back to what it was before the loss, up to the funding accrued over these blocks and the change of
    // the skew's closing premium (the book marks skew at its closing fill): under 0.1% of its loss
    expect(recovered).to.be.lessThanOrEqual(beforeLoss + (beforeLoss - afterLoss) / 1000n);
  });
});

describe("The keeper's ADL ranking (scripts/keeper/deleverager.ts)", function () {
  it("ranks with the mirror exactly as the engine scores, leaves out what the engine would refuse or skip, and the engine accepts the list", async function () {
    const w = await loadFixture(world);
    let below = 0n;
    const { top, low, a } = await bankrupt(w, async () => {
      // a winning short on an account a BTC long has taken to maintenance: the engine would skip it
      below = await openPosition(w, w.dave, 1_000n, [
        [ETH, -units(5)],
        [BTC, WAD / 10n],
      ]);
    });
    const s = await w.engine.accountSummary(below);
    const [btc] = await w.oracle.getPriceAndVolatility((await w.engine.marketConfig(BTC)).feedId);
    await setPriceWad(w, BTC, btc - ((s.equity - units(100)) * WAD) / (WAD / 10n));
    const sb = await w.engine.accountSummary(below);
    expect(sb.equity > 0n && sb.equity <= BigInt(sb.maintenanceMargin), "an account at maintenance").to.equal(true);
    const loser = await openPosition(w, w.stranger, 5_000n, [[ETH, units(1)]]); // the bankrupt side
    const { block, view, book } = await readKeeperBook(ethers, w, keeperContracts(w), [a, top, low, below, loser]);
    const ranked = rankAdlCandidates(book, view.engine, ETH, true);
    expect(ranked.map((r) => r.accountId)).to.deep.equal([top, low]);
    for (const r of ranked) {
      expect(r.score).to.equal(adlScore(await snapshotLeg(w, r.accountId, ETH, { blockTag: block.number }))); // to the wei
    }
    expect(KEEPER_SIDE_ROLE).to.equal(ADL_KEEPER_ROLE);
    await expect(
      w.liquidationEngine.autoDeleverage(
        ETH,
        true,
        ranked.map((r) => r.accountId),
      ),
    ).to.emit(w.liquidationEngine, "AutoDeleveraged");
  });
});

describe("forceReduce's price (issue 11, Low)", function () {
  it("refuses a price more than MAX_FORCE_REDUCE_DEVIATION from the index, with no change; accepts one within it", async function () {
    const w = await loadFixture(world);
    const a = await openPosition(w, w.alice, 10_000n, [[ETH, units(5)]]);
    await w.engine.connect(w.admin).grantRole(LIQUIDATOR_ROLE, w.stranger.address);
    const e = w.engine.connect(w.stranger);
    // the band as documented (1%); the constant is checked after the refusals, so that the code before
    // the fix, which had neither, fails on the refusal itself
    const band = WAD / 100n;
    const index = 2_000n * WAD;
    const before = await snapshotState(w, [a]);
    for (const price of [1n, 10n ** 30n, index + (index * band) / WAD + 1n, index - (index * band) / WAD - 1n]) {
      await expect(e.forceReduce(a, ETH, -units(1), price))
        .to.be.revertedWithCustomError(w.liquidationEngine, "ForceReducePriceOutOfBand")
        .withArgs(price, index, band);
    }
    expect(await snapshotState(w, [a])).to.equal(before);
    expect(await w.liquidationEngine.MAX_FORCE_REDUCE_DEVIATION()).to.equal(band);
    const margin = await w.vault.marginOf(a);
    await expect(e.forceReduce(a, ETH, -units(1), index + (index * band) / WAD)).to.emit(w.engine, "PositionModified");
    await expect(e.forceReduce(a, ETH, -units(1), index - (index * band) / WAD)).to.emit(w.engine, "PositionModified");
    await expect(e.forceReduce(a, ETH, -units(1), 0n)).to.emit(w.engine, "PositionModified");
    expect((await w.engine.position(a, ETH)).size).to.equal(units(2));
    // the two fills at the band's edges cost at most 2 * 1% of 1 ETH against the index
    expect(await w.vault.marginOf(a)).to.be.greaterThan(margin - (2n * 2n * index) / 100n - units(100));
  });
});
