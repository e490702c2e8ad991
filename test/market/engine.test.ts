import { expect } from "chai";
import { network } from "hardhat";

import { DEFAULT_RISK, WAD } from "../../deploy/params.js";
import {
  BTC,
  ETH,
  MAX_PRICE,
  USDC,
  deployWorld,
  openAccount,
  passLpLockup,
  setPrice,
  units,
} from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();

const SCALE = 10n ** 12n;
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
const ETH_SKEW_SCALE = 1_000_000n * WAD;
const SIGMA = (6n * WAD) / 10n; // the ETH feed's initial volatility estimate

/** fill = index * (1 + (2 * skew + delta) / (2 * skewScale)), buys rounded up, sells down. */
function expectedFill(index: bigint, skew: bigint, delta: bigint, skewScale: bigint): bigint {
  const num = (2n * skew + delta) * index;
  const den = 2n * skewScale;
  const floor = num >= 0n ? num / den : -ceilDiv(-num, den);
  const ceil = num >= 0n ? ceilDiv(num, den) : -(-num / den);
  return index + (delta > 0n ? ceil : floor);
}
const riskFeeRate = ceilDiv(DEFAULT_RISK.baseFee * (WAD + (DEFAULT_RISK.kFee * SIGMA) / WAD), WAD);

describe("PerpEngine: trading flows", function () {
  async function world() {
    const w = await deployWorld(ethers);
    const alice = await openAccount(w, w.alice, 10_000n * USDC);
    const bob = await openAccount(w, w.bob, 10_000n * USDC);
    return { w, alice, bob };
  }

  it("deposits margin into the vault and emits MarginDeposited", async function () {
    const { w, alice } = await networkHelpers.loadFixture(world);
    await expect(w.engine.connect(w.stranger).deposit(alice, 5n * USDC))
      .to.emit(w.vault, "MarginDeposited")
      .withArgs(alice, w.stranger.address, 5n * USDC);
    expect(await w.vault.marginOf(alice)).to.equal(10_005n * USDC * SCALE);
  });

  it("opens, adds to, reduces, flips and closes a position with exact fills, fees and PnL", async function () {
    const { w, alice } = await networkHelpers.loadFixture(world);
    const e = w.engine.connect(w.alice);
    const index = 2000n * WAD;

    // open 10 long
    const fill1 = expectedFill(index, 0n, units(10), ETH_SKEW_SCALE);
    expect(fill1).to.equal(2000n * WAD + WAD / 100n);
    const fee1 = ceilDiv(ceilDiv(units(10) * fill1, WAD) * riskFeeRate, WAD);
    await expect(e.modifyPosition(alice, ETH, units(10), MAX_PRICE))
      .to.emit(w.engine, "PositionModified")
      .withArgs(alice, ETH, units(10), units(10), fill1, fee1, 0n, (i: bigint) => i >= 0n);
    let pos = await w.engine.position(alice, ETH);
    let index1 = (await w.engine.marketState(ETH)).fundingIndex;
    expect(pos.size).to.equal(units(10));
    // basis = fill - funding index at entry
    expect(pos.basis).to.equal(fill1 - index1);
    expect(await w.vault.marginOf(alice)).to.equal(10_000n * USDC * SCALE - fee1);

    // add 5: size-weighted basis, rounded up for a long
    const fill2 = expectedFill(index, units(10), units(5), ETH_SKEW_SCALE);
    await e.modifyPosition(alice, ETH, units(5), MAX_PRICE);
    pos = await w.engine.position(alice, ETH);
    const index2 = (await w.engine.marketState(ETH)).fundingIndex;
    expect(index2).to.be.greaterThan(index1); // a second of funding on a long skew
    const basis2 = ceilDiv(10n * (fill1 - index1) + 5n * (fill2 - index2), 15n);
    expect(pos.basis).to.equal(basis2);
    expect((await w.engine.marketState(ETH)).longOpenInterest).to.equal(units(15));

    // reduce 5: realises 5 * (fill - index - basis) (PnL net of funding), pays the base fee only
    const fill3 = expectedFill(index, units(15), -units(5), ETH_SKEW_SCALE);
    const fee3 = ceilDiv(ceilDiv(units(5) * fill3, WAD) * DEFAULT_RISK.baseFee, WAD);
    const marginBefore = await w.vault.marginOf(alice);
    const tx = await e.modifyPosition(alice, ETH, -units(5), 0n);
    const index3 = (await w.engine.marketState(ETH)).fundingIndex;
    const num = units(5) * (fill3 - index3 - basis2);
    const realised3 = num >= 0n ? num / WAD : -ceilDiv(-num, WAD);
    await expect(tx)
      .to.emit(w.engine, "PositionModified")
      .withArgs(alice, ETH, -units(5), units(10), fill3, fee3, realised3, index3);
    expect(await w.vault.marginOf(alice)).to.equal(marginBefore + realised3 - fee3);
    expect((await w.engine.position(alice, ETH)).basis).to.equal(basis2);

    // flip: sell 15 from +10 -> -5; the old side is realised in full, the new side enters at the fill
    const fill4 = expectedFill(index, units(10), -units(15), ETH_SKEW_SCALE);
    await e.modifyPosition(alice, ETH, -units(15), 0n);
    pos = await w.engine.position(alice, ETH);
    expect(pos.size).to.equal(-units(5));
    expect(pos.basis).to.equal(fill4 - (await w.engine.marketState(ETH)).fundingIndex);
    const st = await w.engine.marketState(ETH);
    expect(st.longOpenInterest).to.equal(0n);
    expect(st.shortOpenInterest).to.equal(units(5));

    // close
    await e.closePosition(alice, ETH, MAX_PRICE);
    pos = await w.engine.position(alice, ETH);
    expect(pos.size).to.equal(0n);
    expect(await w.engine.accountMarkets(alice)).to.deep.equal([]);
    const st2 = await w.engine.marketState(ETH);
    expect(st2.shortOpenInterest).to.equal(0n);
    expect(st2.basisSum).to.equal(0n);
  });

  it("settles PnL against the LP pool: LPs are the counterparty of the net skew", async function () {
    const { w, alice } = await networkHelpers.loadFixture(world);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(20), MAX_PRICE);
    const poolBefore = await w.vault.lpPoolWad();
    const navBefore = await w.vault.totalAssets();
    await setPrice(w, ETH, 2200n);

    // Unrealised: the LP book value already carries the traders' gain, marked at what closing the
    // skew would fill at (the index less the premium a close gets back), which the close below realises.
    const pv = await w.engine.positionView(alice, ETH);
    const [traderNet] = await w.engine.lpExposure();
    expect(traderNet).to.be.greaterThan(pv.unrealisedPnl); // a long's close sells into its own skew premium
    expect(await w.vault.totalAssets()).to.equal((poolBefore - traderNet) / SCALE);
    expect(await w.vault.totalAssets()).to.be.lessThan(navBefore);

    const marginBefore = await w.vault.marginOf(alice);
    const tx = await w.engine.connect(w.alice).closePosition(alice, ETH, 0n);
    const ev = (await tx.wait())!.logs
      .map((l) => w.engine.interface.parseLog(l))
      .find((l) => l?.name === "PositionModified")!;
    const [, , , , , fee, realised] = ev.args;
    expect(realised).to.be.greaterThan(units(3900)); // ~ 20 * (2200 - 2000), less skew premium and funding
    // the book's mark is the closing fill: equal but for the one second of funding between the
    // view's block and the close's (20 ETH * $2,200 * a 2e-5 skew share of 0.1%/h: ~2.4e11 wei)
    expect(realised).to.be.closeTo(traderNet, 10n ** 12n);
    const marginAfter = await w.vault.marginOf(alice);
    expect(marginAfter).to.equal(marginBefore + realised - fee);
    // The pool paid the PnL (net of funding) and earned its share of the fee.
    const lpShare = (fee * (await w.vault.lpFeeShare())) / WAD;
    expect(await w.vault.lpPoolWad()).to.equal(poolBefore - realised + lpShare);
  });

  it("accrues funding per second on the skew; longs pay shorts and the LP pool earns the net", async function () {
    const { w, alice, bob } = await networkHelpers.loadFixture(world);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(100), MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(20), 0n);
    const rate = await w.engine.fundingRate(ETH);
    const maxRate = (await w.engine.marketConfig(ETH)).maxFundingRatePerSecond;
    expect(rate).to.equal((((units(80) * WAD) / ETH_SKEW_SCALE) * maxRate) / WAD);
    const startIndex = (await w.engine.marketState(ETH)).fundingIndex;

    await networkHelpers.time.increase(3600);
    await setPrice(w, ETH, 2000n); // keep the feed fresh
    await w.engine.accrue(ETH);
    const st = await w.engine.marketState(ETH);
    const delta = st.fundingIndex - startIndex;
    expect(delta).to.be.greaterThan(0n);

    // Net value = size * (index price - funding index - basis): funding moved both values by
    // exactly size * delta, longs down, shorts up.
    const a = await w.engine.positionView(alice, ETH);
    const b = await w.engine.positionView(bob, ETH);
    const pa = await w.engine.position(alice, ETH);
    const pb = await w.engine.position(bob, ETH);
    const value = (size: bigint, basis: bigint, price: bigint, idx: bigint) => {
      const n = size * (price - idx - basis);
      return n >= 0n ? n / WAD : -ceilDiv(-n, WAD);
    };
    const price = 2000n * WAD;
    expect(a.fundingIndex).to.equal(st.fundingIndex);
    expect(a.unrealisedPnl).to.equal(value(pa.size, pa.basis, price, st.fundingIndex));
    expect(b.unrealisedPnl).to.equal(value(pb.size, pb.basis, price, st.fundingIndex));
    const aliceFunding = value(pa.size, pa.basis, price, startIndex) - a.unrealisedPnl;
    const bobFunding = value(pb.size, pb.basis, price, startIndex) - b.unrealisedPnl;
    expect(aliceFunding).to.be.closeTo((units(100) * delta) / WAD, 1n);
    expect(bobFunding).to.be.closeTo(-(units(20) * delta) / WAD, 1n);

    // Settled lazily when the position is realised.
    const marginBefore = await w.vault.marginOf(bob);
    await w.engine.connect(w.bob).closePosition(bob, ETH, MAX_PRICE);
    const ev = await w.engine.queryFilter(w.engine.filters.PositionModified(bob, ETH));
    const last = ev[ev.length - 1].args;
    expect(await w.vault.marginOf(bob)).to.equal(marginBefore + last.realisedPnl - last.fee);
    const closeIndex = last.fundingIndex;
    expect(last.realisedPnl).to.equal(value(pb.size, pb.basis, last.fillPrice, closeIndex));
  });

  it("withdraws free margin and refuses to go below initial margin", async function () {
    const { w, alice } = await networkHelpers.loadFixture(world);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(40), MAX_PRICE); // ~80k notional
    const s = await w.engine.accountSummary(alice);
    const free = s.equity - s.initialMargin;
    expect(free).to.be.greaterThan(0n);
    const tooMuch = free / SCALE + 1n;
    await expect(w.engine.connect(w.alice).withdraw(alice, tooMuch, w.alice.address))
      .to.be.revertedWithCustomError(w.engine, "InsufficientFreeMargin")
      // a second of funding passes before the withdrawal's block: free margin shrinks by a hair
      .withArgs(alice, tooMuch * SCALE, (v: bigint) => v <= free && free - v < 10n ** 12n);
    const ok = free / SCALE - 1n;
    await expect(w.engine.connect(w.alice).withdraw(alice, ok, w.alice.address)).to.changeTokenBalances(
      ethers,
      w.usdc,
      [w.alice, w.vault],
      [ok, -ok],
    );
    const after = await w.engine.accountSummary(alice);
    expect(after.equity).to.be.greaterThanOrEqual(after.initialMargin);
  });

  it("cross-margins positions in several markets of one account and isolates separate accounts", async function () {
    const { w, alice } = await networkHelpers.loadFixture(world);
    const second = await openAccount(w, w.alice, 1_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
    await w.engine.connect(w.alice).modifyPosition(alice, BTC, -units(1), 0n);
    expect(await w.engine.accountMarkets(alice)).to.deep.equal([0n, 1n]);
    const s = await w.engine.accountSummary(alice);
    const e = await w.engine.positionView(alice, ETH);
    const b = await w.engine.positionView(alice, BTC);
    expect(s.notional).to.equal(e.notional + b.notional);
    expect(s.equity).to.equal((await w.vault.marginOf(alice)) + e.unrealisedPnl + b.unrealisedPnl);
    // the second account is untouched by the first one's positions
    const s2 = await w.engine.accountSummary(second);
    expect(s2.maintenanceMargin).to.equal(0n);
    expect(s2.equity).to.equal(1_000n * USDC * SCALE);
    expect(await w.engine.health(second)).to.equal(2n ** 256n - 1n);
  });

  it("LP withdrawals cannot take liquidity that open positions need", async function () {
    const { w, alice, bob } = await networkHelpers.loadFixture(world);
    await passLpLockup(w, networkHelpers.time);
    // A large skew locks part of the pool.
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(50), MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(bob, BTC, units(3), MAX_PRICE);
    const locked = await w.vault.lockedLiquidity();
    expect(locked).to.be.greaterThan(0n);
    const available = await w.vault.availableLiquidity();
    expect(await w.vault.maxWithdraw(w.lp.address)).to.equal(available);
    await expect(w.vault.connect(w.lp).withdraw(available + 1n, w.lp.address, w.lp.address))
      .to.be.revertedWithCustomError(w.vault, "LiquidityLocked")
      .withArgs(available + 1n, available);
    await w.vault.connect(w.lp).withdraw(available, w.lp.address, w.lp.address);
    expect(await w.vault.availableLiquidity()).to.be.lessThanOrEqual(1n);
  });
});
