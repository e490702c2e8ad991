/**
 * Reentrancy: the protocol on a collateral token that calls back into it during transfers (as a
 * malicious token or an ERC-777 hook would). Every re-entry into a guarded path is refused with
 * OpenZeppelin's ReentrancyGuardReentrantCall, bubbled up by the token, and the outer call reverts
 * as a whole: nothing moves.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { DEFAULT_MARKETS } from "../../deploy/params.js";
import type { MockUSDC } from "../../types/ethers-contracts/index.js";
import { deployProtocol } from "../../deploy/protocol.js";
import { ETH, MAX_PRICE, USDC, passLpLockup, snapshotState, units } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

/** The protocol on ReentrantToken, deployed by the same code as every other test world. */
async function reentrantWorld() {
  const [admin, governor, guardian, lp, alice, bob, carol, stranger] = await ethers.getSigners();
  const token = await ethers.deployContract("ReentrantToken");
  const { oracle, vault, engine, feeds } = await deployProtocol(ethers, {
    admin: admin.address,
    governor: governor.address,
    guardian: guardian.address,
    collateral: await token.getAddress(),
  });
  for (const s of [lp, alice, bob]) {
    await token.mint(s.address, 10_000_000n * USDC);
    await token.connect(s).approve(vault, 2n ** 256n - 1n);
  }
  await vault.connect(lp).deposit(1_000_000n * USDC, lp.address);

  const alicesAccount = await engine.nextAccountId();
  await engine.connect(alice).createAccount();
  await engine.connect(alice).deposit(alicesAccount, 10_000n * USDC);
  await engine.connect(alice).modifyPosition(alicesAccount, ETH, units(10), MAX_PRICE);

  // An account owned by the token itself, so that its calls pass the ownership check and reach
  // the vault: armed with createAccount, the token opens it during a plain transfer.
  const tokensAccount = await engine.nextAccountId();
  await token.arm(engine, engine.interface.encodeFunctionData("createAccount"));
  await token.connect(bob).transfer(bob.address, 0n);
  expect(await engine.accountOwner(tokensAccount)).to.equal(await token.getAddress());
  await engine.connect(bob).deposit(tokensAccount, 1_000n * USDC);

  // snapshotState only calls balanceOf on the collateral, which every ERC-20 has.
  const usdc = token as unknown as MockUSDC;
  const w = {
    usdc,
    oracle,
    vault,
    engine,
    feeds,
    markets: DEFAULT_MARKETS,
    admin,
    governor,
    guardian,
    lp,
    alice,
    bob,
    carol,
    stranger,
  };
  return { w, token, alicesAccount, tokensAccount };
}

type Fixture = Awaited<ReturnType<typeof reentrantWorld>>;

/** Balances of the people involved, the vault's books and every position, as one string. */
async function state(f: Fixture): Promise<string> {
  const holders = [f.w.lp, f.w.alice, f.w.bob, f.token];
  const balances = await Promise.all(holders.map((h) => f.token.balanceOf(h)));
  const lpShares = await f.w.vault.balanceOf(f.w.lp);
  const books = await snapshotState(f.w, [f.alicesAccount, f.tokensAccount]);
  return JSON.stringify([balances.map(String), String(lpShares), books]);
}

/**
 * Arms the token with `data` for `target`, runs `outer`, expects the re-entry to be refused and
 * nothing to move. Both guards revert with the same selector, so `guard` (the contract whose lock is
 * held at that point) names the ABI to decode with; which lock fires follows from the call path.
 */
async function expectReentryRefused(
  f: Fixture,
  target: "engine" | "vault",
  data: string,
  guard: "engine" | "vault",
  outer: () => Promise<unknown>,
): Promise<void> {
  await f.token.arm(f.w[target], data);
  const before = await state(f);
  await expect(outer()).to.be.revertedWithCustomError(f.w[guard], "ReentrancyGuardReentrantCall");
  expect(await state(f)).to.equal(before);
}

describe("Reentrancy through the collateral token", function () {
  it("a harmless hook runs and the deposit goes through (the token really calls back)", async function () {
    const f = await loadFixture(reentrantWorld);
    const { w, token, alicesAccount } = f;
    await token.arm(w.engine, w.engine.interface.encodeFunctionData("nextAccountId"));
    const margin = await w.vault.marginOf(alicesAccount);
    await w.engine.connect(w.alice).deposit(alicesAccount, USDC);
    expect(await w.vault.marginOf(alicesAccount)).to.equal(margin + USDC * 10n ** 12n);
    // One shot: the hook disarmed itself when it fired.
    expect(await token.hookTarget()).to.equal(ethers.ZeroAddress);
  });

  describe("during engine.deposit's transferFrom", function () {
    it("engine.withdraw is refused by the engine's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w, alicesAccount } = f;
      const data = w.engine.interface.encodeFunctionData("withdraw", [alicesAccount, USDC, w.alice.address]);
      await expectReentryRefused(f, "engine", data, "engine", () =>
        w.engine.connect(w.alice).deposit(alicesAccount, 100n * USDC),
      );
    });

    it("engine.modifyPosition is refused by the engine's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w, alicesAccount } = f;
      const data = w.engine.interface.encodeFunctionData("modifyPosition", [alicesAccount, ETH, units(1), MAX_PRICE]);
      await expectReentryRefused(f, "engine", data, "engine", () =>
        w.engine.connect(w.alice).deposit(alicesAccount, 100n * USDC),
      );
    });

    it("an LP vault.deposit is refused by the vault's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w, alicesAccount } = f;
      const data = w.vault.interface.encodeFunctionData("deposit", [USDC, w.alice.address]);
      await expectReentryRefused(f, "vault", data, "vault", () =>
        w.engine.connect(w.alice).deposit(alicesAccount, 100n * USDC),
      );
    });
  });

  describe("during an LP vault.deposit's transferFrom", function () {
    it("vault.withdraw is refused by the vault's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w } = f;
      const data = w.vault.interface.encodeFunctionData("withdraw", [USDC, w.lp.address, w.lp.address]);
      await expectReentryRefused(f, "vault", data, "vault", () =>
        w.vault.connect(w.lp).deposit(1_000n * USDC, w.lp.address),
      );
    });

    it("engine.deposit gets past the engine but is refused by the vault's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w, tokensAccount } = f;
      const data = w.engine.interface.encodeFunctionData("deposit", [tokensAccount, USDC]);
      await expectReentryRefused(f, "engine", data, "vault", () =>
        w.vault.connect(w.lp).deposit(1_000n * USDC, w.lp.address),
      );
    });
  });

  describe("during a transfer out of the vault", function () {
    it("engine.withdraw inside engine.withdraw is refused by the engine's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w, alicesAccount } = f;
      const data = w.engine.interface.encodeFunctionData("withdraw", [alicesAccount, USDC, w.alice.address]);
      await expectReentryRefused(f, "engine", data, "engine", () =>
        w.engine.connect(w.alice).withdraw(alicesAccount, 100n * USDC, w.alice.address),
      );
    });

    it("the owner's engine.withdraw inside an LP vault.withdraw or redeem is refused by the vault's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w, tokensAccount } = f;
      const token = await f.token.getAddress();
      await passLpLockup(w, networkHelpers.time);
      const data = w.engine.interface.encodeFunctionData("withdraw", [tokensAccount, USDC, token]);
      await expectReentryRefused(f, "engine", data, "vault", () =>
        w.vault.connect(w.lp).withdraw(1_000n * USDC, w.lp.address, w.lp.address),
      );
      await expectReentryRefused(f, "engine", data, "vault", () =>
        w.vault.connect(w.lp).redeem(10n ** 15n, w.lp.address, w.lp.address),
      );
      // Unarmed, the token's own withdrawal is an ordinary one.
      await f.token.arm(ethers.ZeroAddress, "0x");
      const tokenAsOwner = await ethers.getImpersonatedSigner(token);
      await networkHelpers.setBalance(token, 10n ** 18n);
      await expect(w.engine.connect(tokenAsOwner).withdraw(tokensAccount, USDC, token))
        .to.emit(w.vault, "MarginWithdrawn")
        .withArgs(tokensAccount, token, USDC);
    });

    it("vault.withdraw inside claimProtocolFees is refused by the vault's guard", async function () {
      const f = await loadFixture(reentrantWorld);
      const { w } = f;
      expect(await w.vault.protocolFeesWad()).to.be.greaterThan(10n ** 12n);
      const data = w.vault.interface.encodeFunctionData("withdraw", [USDC, w.lp.address, w.lp.address]);
      await expectReentryRefused(f, "vault", data, "vault", () =>
        w.vault.connect(w.governor).claimProtocolFees(w.governor.address),
      );
    });
  });
});
