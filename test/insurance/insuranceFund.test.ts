/**
 * InsuranceFund: the withdrawal request, cooldown and window (stakers cannot leave just before a loss
 * they can see coming), the liquidation-engine-only entry points, the governor's bounded setters,
 * income counted before it is flushed, and the coverage ratio.
 */
import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { GOVERNOR_ROLE } from "../../deploy/protocol.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, units } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const SCALE = 10n ** 12n;
const DAY = 86_400;
const n = encodeBytes32String;

async function staked() {
  const w = await deployWorld(ethers, { insurance: 0n }); // written for an empty fund
  const staker = w.carol;
  await w.usdc.connect(staker).approve(await w.insuranceFund.getAddress(), 2n ** 256n - 1n);
  await w.insuranceFund.connect(staker).deposit(1_000n * USDC, staker.address);
  const shares = await w.insuranceFund.balanceOf(staker.address);
  return { w, staker, shares };
}

describe("InsuranceFund: withdrawals", function () {
  it("refuses withdraw and redeem without a request (WithdrawalNotRequested); maxWithdraw and maxRedeem are 0", async function () {
    const { w, staker, shares } = await loadFixture(staked);
    const f = w.insuranceFund.connect(staker);
    expect(shares).to.equal(1_000n * USDC * 10n ** 6n); // decimals offset 6
    await expect(f.redeem(shares, staker.address, staker.address))
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalNotRequested")
      .withArgs(staker.address);
    await expect(f.withdraw(1n * USDC, staker.address, staker.address))
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalNotRequested")
      .withArgs(staker.address);
    expect(await w.insuranceFund.maxWithdraw(staker.address)).to.equal(0n);
    expect(await w.insuranceFund.maxRedeem(staker.address)).to.equal(0n);
    await expect(f.cancelWithdrawal())
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalNotRequested")
      .withArgs(staker.address);
  });

  it("requests: ZeroAmount, above the balance (WithdrawalAboveRequest), readyAt = now + 7 d, expiresAt = readyAt + 2 d", async function () {
    const { w, staker, shares } = await loadFixture(staked);
    const f = w.insuranceFund.connect(staker);
    await expect(f.requestWithdrawal(0n)).to.be.revertedWithCustomError(w.insuranceFund, "ZeroAmount");
    await expect(f.requestWithdrawal(shares + 1n))
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalAboveRequest")
      .withArgs(staker.address, shares + 1n, shares);
    const t = (await time.latest()) + 1;
    await time.setNextBlockTimestamp(t);
    await expect(f.requestWithdrawal(shares / 2n))
      .to.emit(w.insuranceFund, "WithdrawalRequested")
      .withArgs(staker.address, shares / 2n, t + 7 * DAY, t + 9 * DAY);
    const r = await w.insuranceFund.withdrawalRequest(staker.address);
    expect([r.shares, r.readyAt, r.expiresAt]).to.deep.equal([shares / 2n, BigInt(t + 7 * DAY), BigInt(t + 9 * DAY)]);
    await expect(f.cancelWithdrawal()).to.emit(w.insuranceFund, "WithdrawalCancelled").withArgs(staker.address);
    expect((await w.insuranceFund.withdrawalRequest(staker.address)).shares).to.equal(0n);
  });

  it("refuses before the cooldown (WithdrawalCoolingDown), above the request (WithdrawalAboveRequest) and after the window (WithdrawalWindowExpired)", async function () {
    const { w, staker, shares } = await loadFixture(staked);
    const f = w.insuranceFund.connect(staker);
    const half = shares / 2n;
    const t = (await time.latest()) + 1;
    await time.setNextBlockTimestamp(t);
    await f.requestWithdrawal(half);
    const readyAt = t + 7 * DAY;
    const expiresAt = readyAt + 2 * DAY;

    await time.setNextBlockTimestamp(readyAt - 1);
    await expect(f.redeem(1n, staker.address, staker.address))
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalCoolingDown")
      .withArgs(staker.address, readyAt);
    await time.increaseTo(readyAt - 1);
    expect(await w.insuranceFund.maxWithdraw(staker.address)).to.equal(0n);
    expect(await w.insuranceFund.maxRedeem(staker.address)).to.equal(0n);

    await time.increaseTo(readyAt);
    expect(await w.insuranceFund.maxRedeem(staker.address)).to.equal(half);
    expect(await w.insuranceFund.maxWithdraw(staker.address)).to.equal(await w.insuranceFund.previewRedeem(half));
    await expect(f.redeem(half + 1n, staker.address, staker.address))
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalAboveRequest")
      .withArgs(staker.address, half + 1n, half);
    const assets = await w.insuranceFund.previewWithdraw(600n * USDC);
    await expect(f.withdraw(600n * USDC, staker.address, staker.address))
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalAboveRequest")
      .withArgs(staker.address, assets, half);

    // a part now, the rest of the request later in the window
    const part = half / 5n;
    await expect(f.redeem(part, staker.address, staker.address)).to.changeTokenBalance(
      ethers,
      w.usdc,
      staker,
      await w.insuranceFund.previewRedeem(part),
    );
    expect((await w.insuranceFund.withdrawalRequest(staker.address)).shares).to.equal(half - part);
    await expect(f.withdraw(100n * USDC, staker.address, staker.address)).to.changeTokenBalance(
      ethers,
      w.usdc,
      staker,
      100n * USDC,
    );

    await time.setNextBlockTimestamp(expiresAt);
    await expect(f.redeem(1n, staker.address, staker.address))
      .to.be.revertedWithCustomError(w.insuranceFund, "WithdrawalWindowExpired")
      .withArgs(staker.address, expiresAt);
    await time.increaseTo(expiresAt);
    expect(await w.insuranceFund.maxWithdraw(staker.address)).to.equal(0n);
    expect(await w.insuranceFund.maxRedeem(staker.address)).to.equal(0n);
  });

  it("shares under a live request cannot move (SharesLockedByRequest): staggered helper addresses give a staker no ripe request", async function () {
    const { w, staker, shares } = await loadFixture(staked);
    const helper = w.stranger;
    const f = w.insuranceFund;
    // The attack: a helper holds shares long enough to ripen a request, hands them back, and the
    // staker later moves fresh shares to the helper to leave at once, with no cooldown of its own.
    await f.connect(staker).transfer(helper.address, shares / 4n);
    await f.connect(helper).requestWithdrawal(shares / 4n);
    await expect(f.connect(helper).transfer(staker.address, 1n))
      .to.be.revertedWithCustomError(f, "SharesLockedByRequest")
      .withArgs(helper.address, 1n, 0n);
    expect(await f.lockedShares(helper.address)).to.equal(shares / 4n);
    // transferFrom is the same path
    await f.connect(helper).approve(staker.address, shares);
    await expect(f.connect(staker).transferFrom(helper.address, staker.address, 1n))
      .to.be.revertedWithCustomError(f, "SharesLockedByRequest")
      .withArgs(helper.address, 1n, 0n);

    // At the ripe time, shares the staker moves over cannot be taken beyond the helper's own request.
    await time.increase(7 * DAY);
    const extra = shares / 4n;
    await f.connect(staker).transfer(helper.address, extra);
    expect(await f.maxRedeem(helper.address)).to.equal(shares / 4n);
    await expect(f.connect(helper).redeem(shares / 4n + extra, helper.address, helper.address))
      .to.be.revertedWithCustomError(f, "WithdrawalAboveRequest")
      .withArgs(helper.address, shares / 4n + extra, shares / 4n);
    // the unrequested part moves freely, the requested part leaves by redeem
    await f.connect(helper).transfer(staker.address, extra);
    await f.connect(helper).redeem(shares / 4n, helper.address, helper.address);
    expect(await f.balanceOf(helper.address)).to.equal(0n);

    // a staker's own request locks its shares too, until cancelled or expired
    await f.connect(staker).requestWithdrawal(shares / 2n);
    const free = (await f.balanceOf(staker.address)) - shares / 2n;
    await expect(f.connect(staker).transfer(helper.address, free + 1n))
      .to.be.revertedWithCustomError(f, "SharesLockedByRequest")
      .withArgs(staker.address, free + 1n, free);
    await f.connect(staker).transfer(helper.address, free);
    await f.connect(staker).cancelWithdrawal();
    expect(await f.lockedShares(staker.address)).to.equal(0n);
    await f.connect(staker).transfer(helper.address, 1n);
    await f.connect(staker).requestWithdrawal(shares / 4n);
    await time.increase(9 * DAY); // past the window: the request no longer locks anything
    expect(await f.lockedShares(staker.address)).to.equal(0n);
    await f.connect(staker).transfer(helper.address, shares / 4n);
  });

  it("withdraw(0) and redeem(0) are no-ops for anyone, request or not", async function () {
    const { w, staker } = await loadFixture(staked);
    const f = w.insuranceFund;
    expect(await f.connect(w.stranger).redeem.staticCall(0n, w.stranger.address, w.stranger.address)).to.equal(0n);
    expect(await f.connect(staker).withdraw.staticCall(0n, staker.address, staker.address)).to.equal(0n);
    await expect(f.connect(staker).redeem(0n, staker.address, staker.address)).to.not.emit(f, "Withdraw");
    await expect(f.connect(staker).withdraw(0n, staker.address, staker.address)).to.not.emit(f, "Withdraw");
  });

  it("counts the income the vault holds for it, and flushes it when a withdrawal needs the tokens", async function () {
    const { w, staker, shares } = await loadFixture(staked);
    const alice = await openAccount(w, w.alice, 10_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(20), MAX_PRICE); // fees
    const owed = await w.vault.insurancePendingWad();
    expect(owed).to.be.greaterThan(SCALE);
    expect(await w.insuranceFund.totalAssets()).to.equal(1_000n * USDC + owed / SCALE);
    expect(await w.insuranceFund.coverable()).to.equal(1_000n * USDC + owed / SCALE);

    await w.insuranceFund.connect(staker).requestWithdrawal(shares);
    await time.increase(7 * DAY);
    const assets = await w.insuranceFund.previewRedeem(shares);
    expect(assets).to.be.greaterThan(1_000n * USDC); // more than the tokens the fund holds
    await expect(w.insuranceFund.connect(staker).redeem(shares, staker.address, staker.address))
      .to.emit(w.vault, "InsuranceFlushed")
      .and.to.emit(w.insuranceFund, "Withdraw");
    expect(await w.insuranceFund.balanceOf(staker.address)).to.equal(0n);
  });
});

describe("InsuranceFund: access and bounds", function () {
  it("cover and payKeeper are for the liquidation engine only (NotLiquidationEngine), and the vault's cover and penalty entry points too", async function () {
    const { w } = await loadFixture(staked);
    for (const s of [w.stranger, w.governor, w.admin]) {
      await expect(w.insuranceFund.connect(s).cover(WAD))
        .to.be.revertedWithCustomError(w.insuranceFund, "NotLiquidationEngine")
        .withArgs(s.address);
      await expect(w.insuranceFund.connect(s).payKeeper(s.address, WAD))
        .to.be.revertedWithCustomError(w.insuranceFund, "NotLiquidationEngine")
        .withArgs(s.address);
      await expect(w.insuranceFund.connect(s).backVault(WAD))
        .to.be.revertedWithCustomError(w.insuranceFund, "NotLiquidationEngine")
        .withArgs(s.address);
    }
    await expect(w.vault.connect(w.stranger).receiveCover(1n))
      .to.be.revertedWithCustomError(w.vault, "NotInsuranceFund")
      .withArgs(w.stranger.address);
    await expect(w.vault.connect(w.stranger).chargePenalty(1, w.stranger.address, 1n, 1n))
      .to.be.revertedWithCustomError(w.vault, "NotLiquidationEngine")
      .withArgs(w.stranger.address);
    // wired once
    await expect(
      w.insuranceFund.connect(w.admin).setLiquidationEngine(w.stranger.address),
    ).to.be.revertedWithCustomError(w.insuranceFund, "AlreadySet");
    await expect(w.insuranceFund.connect(w.stranger).setLiquidationEngine(w.stranger.address))
      .to.be.revertedWithCustomError(w.insuranceFund, "AccessControlUnauthorizedAccount")
      .withArgs(w.stranger.address, ethers.ZeroHash);
    await expect(
      w.vault.connect(w.admin).wireLiquidation(w.stranger.address, w.stranger.address),
    ).to.be.revertedWithCustomError(w.vault, "AlreadySet");
  });

  it("refuses the governor setters to others, bounds them (ParameterOutOfBounds one past each bound) and accepts the bounds", async function () {
    const { w } = await loadFixture(staked);
    const f = w.insuranceFund.connect(w.governor);
    await expect(w.insuranceFund.connect(w.stranger).setWithdrawalWindow(DAY, DAY))
      .to.be.revertedWithCustomError(w.insuranceFund, "AccessControlUnauthorizedAccount")
      .withArgs(w.stranger.address, GOVERNOR_ROLE);
    await expect(w.insuranceFund.connect(w.stranger).setStressLossRatio(WAD / 10n))
      .to.be.revertedWithCustomError(w.insuranceFund, "AccessControlUnauthorizedAccount")
      .withArgs(w.stranger.address, GOVERNOR_ROLE);

    const [cLo, cHi, wLo, wHi] = [3_600, 30 * DAY, 3_600, 14 * DAY];
    for (const [c, win, name, v, lo, hi] of [
      [cLo - 1, wLo, "cooldown", cLo - 1, cLo, cHi],
      [cHi + 1, wLo, "cooldown", cHi + 1, cLo, cHi],
      [cLo, wLo - 1, "window", wLo - 1, wLo, wHi],
      [cLo, wHi + 1, "window", wHi + 1, wLo, wHi],
    ] as const) {
      await expect(f.setWithdrawalWindow(c, win))
        .to.be.revertedWithCustomError(w.insuranceFund, "ParameterOutOfBounds")
        .withArgs(n(name), v, lo, hi);
    }
    for (const [c, win] of [
      [cLo, wLo],
      [cHi, wHi],
    ]) {
      await expect(f.setWithdrawalWindow(c, win)).to.emit(w.insuranceFund, "WithdrawalWindowSet").withArgs(c, win);
      expect([await w.insuranceFund.cooldown(), await w.insuranceFund.window()]).to.deep.equal([
        BigInt(c),
        BigInt(win),
      ]);
    }
    const [rLo, rHi] = [WAD / 1000n, WAD];
    await expect(f.setStressLossRatio(rLo - 1n))
      .to.be.revertedWithCustomError(w.insuranceFund, "ParameterOutOfBounds")
      .withArgs(n("stressLossRatio"), rLo - 1n, rLo, rHi);
    await expect(f.setStressLossRatio(rHi + 1n))
      .to.be.revertedWithCustomError(w.insuranceFund, "ParameterOutOfBounds")
      .withArgs(n("stressLossRatio"), rHi + 1n, rLo, rHi);
    for (const r of [rLo, rHi]) {
      await expect(f.setStressLossRatio(r)).to.emit(w.insuranceFund, "StressLossRatioSet").withArgs(r);
      expect(await w.insuranceFund.stressLossRatio()).to.equal(r);
    }
  });

  it("bounds vaultShare (at most half the fund; 0 turns backVault off), governor only, with its event", async function () {
    const { w } = await loadFixture(staked);
    expect(await w.insuranceFund.vaultShare()).to.equal(WAD / 4n);
    await expect(w.insuranceFund.connect(w.stranger).setVaultShare(0n))
      .to.be.revertedWithCustomError(w.insuranceFund, "AccessControlUnauthorizedAccount")
      .withArgs(w.stranger.address, GOVERNOR_ROLE);
    const f = w.insuranceFund.connect(w.governor);
    await expect(f.setVaultShare(WAD / 2n + 1n))
      .to.be.revertedWithCustomError(w.insuranceFund, "ParameterOutOfBounds")
      .withArgs(n("vaultShare"), WAD / 2n + 1n, 0n, WAD / 2n);
    expect(await w.insuranceFund.vaultShare()).to.equal(WAD / 4n);
    for (const r of [0n, WAD / 2n]) {
      await expect(f.setVaultShare(r)).to.emit(w.insuranceFund, "VaultShareSet").withArgs(r);
      expect(await w.insuranceFund.vaultShare()).to.equal(r);
    }
  });

  it("backVault pays the vault's LP pool at most vaultShare of what the fund held before it began paying, per withdrawal cooldown", async function () {
    const { w } = await loadFixture(staked); // 1,000 USDC staked
    const engine = await w.insuranceFund.liquidationEngine();
    await networkHelpers.impersonateAccount(engine);
    await networkHelpers.setBalance(engine, 10n ** 18n);
    const asEngine = w.insuranceFund.connect(await ethers.getSigner(engine));
    const held0 = await w.insuranceFund.coverable();
    expect(held0).to.equal(1_000n * USDC);
    // 100.4 USDC asked (rounded up to 100.400001 whole units of the token's 6 decimals): paid in full
    const ask = 100_400_000_500_000_000_000n;
    const pool0 = await w.vault.lpPoolWad();
    await expect(asEngine.backVault(ask))
      .to.emit(w.insuranceFund, "VaultBacked")
      .withArgs(ask, 100_400_001n, 100_400_001n);
    expect(await w.insuranceFund.coverable()).to.equal(held0 - 100_400_001n);
    expect(await w.vault.lpPoolWad()).to.equal(pool0 + 100_400_001n * SCALE); // the pool credits the vault's account
    // the rest of the period's 250 USDC (a quarter of the 1,000 held before the first payment), no more
    await expect(asEngine.backVault(500n * WAD))
      .to.emit(w.insuranceFund, "VaultBacked")
      .withArgs(500n * WAD, 250n * USDC - 100_400_001n, 250n * USDC);
    const [backed] = await w.insuranceFund.vaultBacking();
    expect(backed).to.equal(250n * USDC);
    expect(await w.insuranceFund.coverable()).to.equal(750n * USDC);
    await expect(asEngine.backVault(WAD)).not.to.emit(w.insuranceFund, "VaultBacked");
    expect(await w.insuranceFund.coverable()).to.equal(750n * USDC);
    // one cooldown after the first payment a new period starts, on what the fund holds then
    await time.increase(BigInt(await w.insuranceFund.cooldown()));
    await expect(asEngine.backVault(500n * WAD))
      .to.emit(w.insuranceFund, "VaultBacked")
      .withArgs(500n * WAD, (750n * USDC) / 4n, (750n * USDC) / 4n);
    // off at 0
    await w.insuranceFund.connect(w.governor).setVaultShare(0n);
    await time.increase(BigInt(await w.insuranceFund.cooldown()));
    await expect(asEngine.backVault(WAD)).not.to.emit(w.insuranceFund, "VaultBacked");
    await networkHelpers.stopImpersonatingAccount(engine);
  });

  it("reports coverage: unbounded without open interest, else assets over open notional * stressLossRatio", async function () {
    const { w } = await loadFixture(staked);
    expect(await w.insuranceFund.coverageRatio()).to.equal(2n ** 256n - 1n);
    const alice = await openAccount(w, w.alice, 10_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(20), MAX_PRICE);
    const worst = ((await w.engine.openNotional()) * (await w.insuranceFund.stressLossRatio()) + WAD - 1n) / WAD;
    expect(await w.insuranceFund.coverageRatio()).to.equal(((await w.insuranceFund.coverable()) * SCALE * WAD) / worst);
  });
});
