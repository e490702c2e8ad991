/**
 * The LP share price against an actor who is both LP and trader. Traders fill at
 * `index * (1 + (skewBefore + skewAfter) / 2 / skewScale)`; the LP book value marks the open skew at
 * what closing it would fill at, so a trade moves the book only by its fees and an actor cannot pump
 * (or deflate) the share price with its own skew and leave (or enter) at it.
 *
 * The property, fuzzed: LP deposit -> any trades (on top of any honest skew) -> redeem -> unwind never
 * leaves the LP-and-trader actor richer than it started, and the honest LP's shares never lose value.
 * The price stays put and funding is off, so nothing but the protocol's own marks can move value; the
 * LP lockup (shares stay locked for `lpLockup` after the deposit) is passed before redeeming.
 */
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import { DEFAULT_MARKETS, WAD, marketConfig } from "../../deploy/params.js";
import { ETH, MAX_PRICE, USDC, type World, deployWorld, openAccount, passLpLockup, units } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const RUNS = Number(process.env.LP_PROPERTY_RUNS ?? 100);
const HONEST_POOL = 20_000_000n * USDC;

async function honestPool() {
  const w = await deployWorld(ethers);
  // an honest $20M pool (the fixture seeds $1M) and no funding, so only marks move value
  await w.usdc.mint(w.lp.address, HONEST_POOL);
  await w.vault.connect(w.lp).deposit(HONEST_POOL - 1_000_000n * USDC, w.lp.address);
  const eth = DEFAULT_MARKETS.find((m) => m.id === ETH)!;
  await w.engine.connect(w.governor).setMarketConfig(ETH, marketConfig({ ...eth, maxFundingRatePerSecond: 0n }));
  await w.usdc.mint(w.alice.address, 100_000_000n * USDC);
  const attacker = await openAccount(w, w.alice, 20_000_000n * USDC);
  const honestTrader = await openAccount(w, w.bob, 5_000_000n * USDC);
  return { w, attacker, honestTrader };
}

/** A trade that may be refused (open-interest cap, margin): the property covers what is accepted. */
async function tryTrade(w: World, signer: World["alice"], account: bigint, size: bigint): Promise<boolean> {
  try {
    await w.engine.connect(signer).modifyPosition(account, ETH, size, size > 0n ? MAX_PRICE : 0n);
    return true;
  } catch {
    return false;
  }
}

async function wealth(w: World, who: World["alice"], account: bigint): Promise<bigint> {
  return (await w.usdc.balanceOf(who.address)) * 10n ** 12n + (await w.vault.marginOf(account));
}

describe("LP book value: skew is marked at its closing fill", function () {
  it("the reported attack: deposit, open 20k ETH of skew, redeem, close: the actor ends poorer, honest LPs do not lose", async function () {
    const { w, attacker } = await loadFixture(honestPool);
    const lpValueBefore = await w.vault.convertToAssets(await w.vault.balanceOf(w.lp.address));
    const before = await wealth(w, w.alice, attacker);

    const shares = await w.vault.connect(w.alice).deposit.staticCall(20_000_000n * USDC, w.alice.address);
    await w.vault.connect(w.alice).deposit(20_000_000n * USDC, w.alice.address);
    const priceBefore = await w.vault.convertToAssets(WAD);
    expect(await tryTrade(w, w.alice, attacker, units(10_000))).to.equal(true);
    expect(await tryTrade(w, w.alice, attacker, units(10_000))).to.equal(true);
    // the share price moved by the fees the pool earned, not by the traders' premium: at most up
    const priceAfter = await w.vault.convertToAssets(WAD);
    const feesToPool = (priceAfter - priceBefore) * ((await w.vault.totalSupply()) / WAD);
    expect(priceAfter).to.be.greaterThanOrEqual(priceBefore);
    expect(feesToPool).to.be.lessThan(100_000n * USDC); // the index mark showed ~$400k of trader loss

    // First line of defence: the shares a deposit minted stay locked for the LP lockup (maxRedeem 0).
    expect(await w.vault.lockedLpShares(w.alice.address)).to.equal(shares);
    expect(await w.vault.maxRedeem(w.alice.address)).to.equal(0n);
    await expect(w.vault.connect(w.alice).redeem(shares, w.alice.address, w.alice.address))
      .to.be.revertedWithCustomError(w.vault, "ERC4626ExceededMaxRedeem")
      .withArgs(w.alice.address, shares, 0n);
    await expect(w.vault.connect(w.alice).transfer(w.carol.address, shares)).to.be.revertedWithCustomError(
      w.vault,
      "LpSharesLocked",
    );
    // Second: even holding the skew through the lockup (price unchanged, no funding), the mark gives nothing.
    await passLpLockup(w, time);
    await w.vault.connect(w.alice).redeem(shares, w.alice.address, w.alice.address);
    await w.engine.connect(w.alice).closePosition(attacker, ETH, 0n);
    await w.engine
      .connect(w.alice)
      .withdraw(attacker, (await w.vault.marginOf(attacker)) / 10n ** 12n, w.alice.address);

    expect(await wealth(w, w.alice, attacker)).to.be.lessThanOrEqual(before);
    expect(await w.vault.convertToAssets(await w.vault.balanceOf(w.lp.address))).to.be.greaterThanOrEqual(
      lpValueBefore,
    );
  });

  it(`property (${RUNS} runs): LP deposit -> any trades -> redeem -> unwind never profits, at any honest skew`, async function () {
    this.timeout(600_000);
    const size = fc.integer({ min: -10_000, max: 10_000 }).filter((x) => x !== 0);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -30_000, max: 30_000 }), // honest skew, ETH
        fc.bigInt({ min: 1n, max: 40n }), // attacker deposit, $500k steps
        fc.array(size, { minLength: 1, maxLength: 4 }), // attacker trades, ETH
        fc.boolean(), // trade before depositing (deflate, then enter) or after
        async (honestSkew, depositSteps, trades, tradeFirst) => {
          const { w, attacker, honestTrader } = await loadFixture(honestPool);
          for (let left = BigInt(honestSkew); left !== 0n;) {
            const step = left > 10_000n ? 10_000n : left < -10_000n ? -10_000n : left;
            if (!(await tryTrade(w, w.bob, honestTrader, units(step)))) break;
            left -= step;
          }
          const lpValueBefore = await w.vault.convertToAssets(await w.vault.balanceOf(w.lp.address));
          const before = await wealth(w, w.alice, attacker);

          const deposit = depositSteps * 500_000n * USDC;
          if (!tradeFirst) await w.vault.connect(w.alice).deposit(deposit, w.alice.address);
          for (const t of trades) await tryTrade(w, w.alice, attacker, units(t));
          if (tradeFirst) await w.vault.connect(w.alice).deposit(deposit, w.alice.address);

          await passLpLockup(w, time);
          const shares = await w.vault.balanceOf(w.alice.address);
          const redeemable = await w.vault.maxRedeem(w.alice.address);
          if (redeemable > 0n) await w.vault.connect(w.alice).redeem(redeemable, w.alice.address, w.alice.address);
          const open = (await w.engine.position(attacker, ETH)).size;
          if (open !== 0n) await w.engine.connect(w.alice).closePosition(attacker, ETH, open > 0n ? 0n : MAX_PRICE);
          if (redeemable < shares) {
            const rest = await w.vault.maxRedeem(w.alice.address);
            if (rest > 0n) await w.vault.connect(w.alice).redeem(rest, w.alice.address, w.alice.address);
          }
          const margin = (await w.vault.marginOf(attacker)) / 10n ** 12n;
          if (margin > 0n) await w.engine.connect(w.alice).withdraw(attacker, margin, w.alice.address);
          // shares the pool could not pay out yet are valued at what they would redeem for
          const left = await w.vault.previewRedeem(await w.vault.balanceOf(w.alice.address));

          const after = (await wealth(w, w.alice, attacker)) + left * 10n ** 12n;
          expect(after, `actor gained ${after - before} wei`).to.be.lessThanOrEqual(before);
          expect(await w.vault.convertToAssets(await w.vault.balanceOf(w.lp.address))).to.be.greaterThanOrEqual(
            lpValueBefore,
          );
        },
      ),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20_200_312) },
    );
  });
});
