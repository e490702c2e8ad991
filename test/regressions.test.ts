/**
 * Regressions: absurd inputs that once reverted with an arithmetic panic (0x11) and are now refused
 * with custom errors (found by the bad-input review; fixed by bounding sizes and amounts first).
 */
import { expect } from "chai";
import { network } from "hardhat";

import { DEFAULT_MARKETS } from "../deploy/params.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, snapshotState, units } from "./helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();

const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;
const UINT256_MAX = 2n ** 256n - 1n;
const PANIC_SELECTOR = "0x4e487b71"; // Panic(uint256)
const MAX_TRADE = DEFAULT_MARKETS[0].maxTradeSize;

async function world() {
  const w = await deployWorld(ethers);
  const alice = await openAccount(w, w.alice, 10_000n * USDC);
  const bob = await openAccount(w, w.bob, 10_000n * USDC);
  return { w, alice, bob, ids: [alice, bob] };
}

/** Selector of the error a call reverts with; fails the test if the call succeeds. */
async function revertSelector(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (e) {
    const data = (e as { data?: unknown }).data;
    expect(data, "revert data").to.be.a("string");
    return (data as string).slice(0, 10);
  }
  expect.fail("the call did not revert");
}

describe("Regressions: custom errors, not panics, on absurd inputs", function () {
  // PerpEngine._checkRiskAllowed: FixedPoint.abs(type(int256).min) negates int256.min.
  it("modifyPosition(type(int256).min) is refused with TradeSizeTooLarge, not panic 0x11", async function () {
    const { w, alice, ids } = await networkHelpers.loadFixture(world);
    const before = await snapshotState(w, ids);
    await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, INT256_MIN, 0n))
      .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
      .withArgs(ETH, 2n ** 255n, MAX_TRADE);
    expect(await snapshotState(w, ids)).to.equal(before);
  });

  // PerpEngine._trade: `t.newSize = t.oldSize + sizeDelta` overflows before the size is checked.
  it("a giant delta on top of a position in the same direction is refused with TradeSizeTooLarge", async function () {
    const { w, alice, bob, ids } = await networkHelpers.loadFixture(world);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(10), 0n);
    const before = await snapshotState(w, ids);
    await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, INT256_MAX, MAX_PRICE))
      .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
      .withArgs(ETH, INT256_MAX, MAX_TRADE);
    await expect(w.engine.connect(w.bob).modifyPosition(bob, ETH, -INT256_MAX, 0n))
      .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
      .withArgs(ETH, INT256_MAX, MAX_TRADE);
    expect(await snapshotState(w, ids)).to.equal(before);
  });

  // PerpEngine.withdraw: `amount * SCALE` overflows for amount > 2^256 / 1e12.
  it("withdrawing more than 2^256 / SCALE token units is refused with InsufficientFreeMargin", async function () {
    const { w, alice, ids } = await networkHelpers.loadFixture(world);
    const margin = await w.vault.marginOf(alice);
    const before = await snapshotState(w, ids);
    for (const amount of [2n ** 245n, UINT256_MAX]) {
      // The requested amount does not fit in WAD, so the test does not pin that argument.
      await expect(w.engine.connect(w.alice).withdraw(alice, amount, w.alice.address))
        .to.be.revertedWithCustomError(w.engine, "InsufficientFreeMargin")
        .withArgs(alice, (_requested: bigint) => true, margin);
    }
    expect(await snapshotState(w, ids)).to.equal(before);
  });

  // Vault.depositMargin: `_margin[accountId] += amount * SCALE` overflows before the transfer is tried.
  it("depositing more than 2^256 / SCALE token units reverts with a custom error, not panic 0x11", async function () {
    const { w, alice, ids } = await networkHelpers.loadFixture(world);
    const before = await snapshotState(w, ids);
    for (const amount of [2n ** 245n, UINT256_MAX]) {
      const selector = await revertSelector(w.engine.connect(w.alice).deposit(alice, amount));
      expect(selector, `deposit(${amount})`).to.not.equal(PANIC_SELECTOR);
    }
    expect(await snapshotState(w, ids)).to.equal(before);
  });
});
