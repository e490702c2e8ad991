/**
 * The LP side of the vault against an adversary: the entry/exit lockup (shares a deposit minted stay
 * with the depositor for `lpLockup`), a deposit into a book at or below zero, and the ERC-4626 max*
 * views, which never revert.
 */
import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, passLpLockup, setPrice, units } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const DAY = 86_400;

async function world() {
  return deployWorld(ethers);
}

describe("Vault LP: entry/exit lockup", function () {
  it("a deposit's shares are locked for lpLockup (1 day): no redeem, withdraw or transfer of them; free after", async function () {
    const w = await loadFixture(world);
    const v = w.vault.connect(w.bob);
    const t = (await time.latest()) + 1;
    await time.setNextBlockTimestamp(t);
    const shares = await v.deposit.staticCall(10_000n * USDC, w.bob.address);
    await expect(v.deposit(10_000n * USDC, w.bob.address))
      .to.emit(w.vault, "LpSharesLockedUntil")
      .withArgs(w.bob.address, shares, shares, t + DAY);
    expect(await w.vault.lockedLpShares(w.bob.address)).to.equal(shares);
    expect(await w.vault.lpUnlockAt(w.bob.address)).to.equal(BigInt(t + DAY));
    expect(await w.vault.maxRedeem(w.bob.address)).to.equal(0n);
    expect(await w.vault.maxWithdraw(w.bob.address)).to.equal(0n);
    await expect(v.transfer(w.carol.address, 1n))
      .to.be.revertedWithCustomError(w.vault, "LpSharesLocked")
      .withArgs(w.bob.address, 1n, 0n, t + DAY);
    await expect(v.redeem(1n, w.bob.address, w.bob.address)).to.be.revertedWithCustomError(
      w.vault,
      "ERC4626ExceededMaxRedeem",
    );
    await expect(v.withdraw(1n, w.bob.address, w.bob.address)).to.be.revertedWithCustomError(
      w.vault,
      "ERC4626ExceededMaxWithdraw",
    );

    await time.setNextBlockTimestamp(t + DAY);
    await setPrice(w, ETH, 2000n); // a block at the unlock time, feed fresh
    expect(await w.vault.lockedLpShares(w.bob.address)).to.equal(0n);
    expect(await w.vault.maxRedeem(w.bob.address)).to.equal(shares);
    await v.transfer(w.carol.address, shares / 2n);
    await v.redeem(shares / 2n, w.bob.address, w.bob.address);
    expect(await w.vault.balanceOf(w.bob.address)).to.equal(0n);
  });

  it("a deposit to someone else cannot lock shares already free, only delay ones still locked", async function () {
    const w = await loadFixture(world);
    await w.vault.connect(w.bob).deposit(10_000n * USDC, w.bob.address);
    await passLpLockup(w, time);
    const free = await w.vault.balanceOf(w.bob.address);
    // griefing: carol deposits 1 USDC to bob
    const gift = await w.vault.connect(w.carol).deposit.staticCall(1n * USDC, w.bob.address);
    await w.vault.connect(w.carol).deposit(1n * USDC, w.bob.address);
    expect(await w.vault.lockedLpShares(w.bob.address)).to.equal(gift);
    expect(await w.vault.maxRedeem(w.bob.address)).to.equal(free);
    await w.vault.connect(w.bob).redeem(free, w.bob.address, w.bob.address);
    await expect(w.vault.connect(w.bob).redeem(1n, w.bob.address, w.bob.address)).to.be.revertedWithCustomError(
      w.vault,
      "ERC4626ExceededMaxRedeem",
    );
  });

  it("setLpLockup: governor only, bounded [10 min, 14 days], emits", async function () {
    const w = await loadFixture(world);
    await expect(w.vault.connect(w.stranger).setLpLockup(3600)).to.be.revertedWithCustomError(
      w.vault,
      "AccessControlUnauthorizedAccount",
    );
    const g = w.vault.connect(w.governor);
    const name = encodeBytes32String("lpLockup");
    await expect(g.setLpLockup(599))
      .to.be.revertedWithCustomError(w.vault, "ParameterOutOfBounds")
      .withArgs(name, 599, 600, 14 * DAY);
    await expect(g.setLpLockup(14 * DAY + 1))
      .to.be.revertedWithCustomError(w.vault, "ParameterOutOfBounds")
      .withArgs(name, 14 * DAY + 1, 600, 14 * DAY);
    expect(await w.vault.lpLockup()).to.equal(BigInt(DAY));
    await expect(g.setLpLockup(600)).to.emit(w.vault, "LpLockupSet").withArgs(600);
    await expect(g.setLpLockup(14 * DAY))
      .to.emit(w.vault, "LpLockupSet")
      .withArgs(14 * DAY);
    expect(await w.vault.lpLockup()).to.equal(BigInt(14 * DAY));
  });
});

describe("Vault LP: a book at or below zero", function () {
  it("refuses a deposit that would buy the pool's deficit (LpBookValueNotPositive), with no state change", async function () {
    const w = await loadFixture(world);
    await passLpLockup(w, time);
    // the pool keeps ~$5k; alice's long then wins more than that
    await w.vault.connect(w.lp).withdraw(995_000n * USDC, w.lp.address, w.lp.address);
    const a = await openAccount(w, w.alice, 20_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(a, ETH, units(10), MAX_PRICE);
    await setPrice(w, ETH, 3000n); // +$10k for alice, more than the pool
    const [traderNet] = await w.engine.lpExposure();
    const book = (await w.vault.lpPoolWad()) - traderNet;
    expect(book).to.be.lessThan(0n);
    expect(await w.vault.totalAssets()).to.equal(0n);
    expect(await w.vault.maxDeposit(w.bob.address)).to.equal(0n);
    expect(await w.vault.maxMint(w.bob.address)).to.equal(0n);
    const supply = await w.vault.totalSupply();
    await expect(w.vault.connect(w.bob).deposit(100_000n * USDC, w.bob.address))
      .to.be.revertedWithCustomError(w.vault, "LpBookValueNotPositive")
      // the deposit's block is a second later: a second more of funding on alice's long
      .withArgs((v: bigint) => v < 0n && v >= book - 10n ** 12n && v <= book + 10n ** 12n);
    expect(await w.vault.totalSupply()).to.equal(supply);
    expect(await w.vault.balanceOf(w.bob.address)).to.equal(0n);
  });
});

describe("Vault LP: the ERC-4626 views never revert", function () {
  it("while a market with open interest has a stale price max* report 0 and totalAssets the lax book", async function () {
    const w = await loadFixture(world);
    const a = await openAccount(w, w.alice, 20_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(a, ETH, units(10), MAX_PRICE);
    await time.increase(2 * DAY); // past the heartbeat and the LP's lockup
    await expect(w.engine.lpExposure()).to.be.revertedWithCustomError(w.oracle, "StaleAnswer");
    for (const who of [w.lp.address, w.bob.address]) {
      expect(await w.vault.maxDeposit(who)).to.equal(0n);
      expect(await w.vault.maxMint(who)).to.equal(0n);
      expect(await w.vault.maxWithdraw(who)).to.equal(0n);
      expect(await w.vault.maxRedeem(who)).to.equal(0n);
    }
    // totalAssets answers from the lax book (last answer; the stale market's trader loss not counted)
    const [laxNet] = await w.engine.lpExposureLax();
    expect(laxNet).to.be.greaterThanOrEqual(0n);
    const scale = await w.vault.SCALE();
    expect(await w.vault.totalAssets()).to.equal(((await w.vault.lpPoolWad()) - laxNet) / scale);
    await setPrice(w, ETH, 2000n);
    await setPrice(w, 1, 30_000n);
    expect(await w.vault.maxDeposit(w.bob.address)).to.equal(await w.vault.MAX_DEPOSIT());
    expect(await w.vault.maxRedeem(w.lp.address)).to.be.greaterThan(0n);
    expect(await w.vault.convertToAssets(WAD)).to.be.greaterThan(0n);
  });
});
