/**
 * Each level's policy as a trader meets it through the engine, with the real breaker of the default
 * deployment set to a level by the guardian: the fee multiplier on the risk-adding part only, the
 * initial-margin multiplier, the leverage cap, reduce-only and halted; and, at every level 0..4,
 * reducing, closing, adding margin and liquidations all go through. Then setPolicies: monotonic
 * levels field by field, bounds at and beyond each edge, and what it emits.
 */
import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { network } from "hardhat";

import { DEFAULT_RISK, WAD, feedId } from "../../deploy/params.js";
import { liquidationMargin } from "../../scripts/lib/math/liquidation.js";
import { BTC, ETH, MAX_PRICE, USDC, openAccount, setPrice, units } from "../helpers/fixture.js";
import {
  type BreakerWorld,
  DEFAULT_POLICIES,
  LEVELS,
  type Policies,
  type Policy,
  asPolicy,
  defaultPolicies,
  deployBreakerWorld,
  initialMarginRatio,
  notionalUp,
  tradeFee,
} from "../helpers/breaker.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const ETH_FEED = feedId("ETH");
const field = encodeBytes32String;
/** A WAD multiplier as "1.25x", for test names. */
const x = (m: bigint) => `${Number(m) / 1e18}x`;

/**
 * alice long 10 ETH and bob short 10 ETH on 10k each; carol long 10 ETH on 1k (about 20x), which a
 * fall to 1,930 puts below maintenance margin; dave holds 1k and no position yet.
 */
async function traders() {
  const w = await deployBreakerWorld(ethers);
  const alice = await openAccount(w, w.alice, 10_000n * USDC);
  const bob = await openAccount(w, w.bob, 10_000n * USDC);
  const carol = await openAccount(w, w.carol, 1_000n * USDC);
  const dave = await openAccount(w, w.stranger, 1_000n * USDC);
  await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
  await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(10), 0n);
  await w.engine.connect(w.carol).modifyPosition(carol, ETH, units(10), MAX_PRICE);
  return { w, alice, bob, carol, dave };
}

async function atLevel(level: number) {
  const t = await loadFixture(traders);
  if (level > 0) await t.w.breaker.connect(t.w.guardian).raiseLevel(ETH, level);
  expect(asPolicy(await t.w.breaker.tradePolicy(ETH))).to.deep.equal(DEFAULT_POLICIES[level]);
  return t;
}

/** The fee of the PositionModified event a trade emitted. */
async function feeOf(w: BreakerWorld, tx: Promise<{ wait(): Promise<unknown> }>): Promise<bigint> {
  const receipt = (await (await tx).wait()) as { logs: { topics: readonly string[]; data: string }[] };
  for (const log of receipt.logs) {
    const parsed = w.engine.interface.parseLog(log);
    if (parsed?.name === "PositionModified") return parsed.args.fee as bigint;
  }
  throw new Error("no PositionModified");
}

/** The engine's initial margin of a one-market ETH account at a level, from the mirror. */
async function expectedInitialMargin(w: BreakerWorld, accountId: bigint, levelIm: bigint) {
  const size = (await w.engine.position(accountId, ETH)).size;
  const sigma = await w.oracle.volatility(ETH_FEED);
  const [price] = await w.oracle.latestPrice(ETH_FEED);
  const term = (await w.engine.marketState(ETH)).maintenanceTerm;
  const skewScale = (await w.engine.marketConfig(ETH)).skewScale;
  const abs = size < 0n ? -size : size;
  const ratio = initialMarginRatio(DEFAULT_RISK, sigma, term, abs, skewScale, levelIm);
  // plus the account's liquidation margin (its keeper's fee, not scaled by the level)
  const r = await w.liquidationEngine.rewardConfig();
  const lm = liquidationMargin(
    { flat: r[0], min: r.min, shareOfNotional: r.shareOfNotional, max: r.max },
    notionalUp(size, price),
  );
  return (notionalUp(size, price) * ratio + WAD - 1n) / WAD + lm;
}

describe("Breaker levels as a trader meets them", function () {
  describe("fee multiplier", function () {
    for (const level of LEVELS) {
      it(`level ${level}: quoteTrade charges ${x(DEFAULT_POLICIES[level].feeMultiplier)} on adding, base fee on reducing`, async function () {
        const { w } = await atLevel(level);
        const mult = DEFAULT_POLICIES[level].feeMultiplier;
        const sigma = await w.oracle.volatility(ETH_FEED);
        const [fillAdd, feeAdd] = await w.engine.quoteTrade(ETH, units(1), units(10));
        expect(feeAdd).to.equal(tradeFee(DEFAULT_RISK, units(10), units(1), fillAdd, sigma, mult));
        const [fillReduce, feeReduce] = await w.engine.quoteTrade(ETH, -units(1), units(10));
        expect(feeReduce).to.equal(tradeFee(DEFAULT_RISK, units(10), -units(1), fillReduce, sigma, WAD));
      });
    }

    for (const level of [0, 1, 2]) {
      it(`level ${level}: an add pays the quoted fee; a flip pays base on the closed part, the multiple on the rest`, async function () {
        const { w, alice, bob } = await atLevel(level);
        const mult = DEFAULT_POLICIES[level].feeMultiplier;
        const sigma = await w.oracle.volatility(ETH_FEED);
        const [fill, quoted] = await w.engine.quoteTrade(ETH, units(1), units(10));
        const paid = await feeOf(w, w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE));
        expect(paid).to.equal(quoted);
        expect(paid).to.equal(tradeFee(DEFAULT_RISK, units(10), units(1), fill, sigma, mult));
        // bob: short 10, buys 12 -> closes 10 at the base fee and opens 2 long at the level's rate
        const [flipFill, flipQuoted] = await w.engine.quoteTrade(ETH, units(12), -units(10));
        const flipPaid = await feeOf(w, w.engine.connect(w.bob).modifyPosition(bob, ETH, units(12), MAX_PRICE));
        expect(flipPaid).to.equal(flipQuoted);
        expect(flipPaid).to.equal(tradeFee(DEFAULT_RISK, -units(10), units(12), flipFill, sigma, mult));
        if (level > 0) {
          expect(flipPaid).to.be.greaterThan(tradeFee(DEFAULT_RISK, -units(10), units(12), flipFill, sigma, WAD));
        }
      });
    }
  });

  describe("initial-margin multiplier", function () {
    for (const level of LEVELS) {
      it(`level ${level}: accountSummary's initial margin uses ${x(DEFAULT_POLICIES[level].imMultiplier)}`, async function () {
        const { w, alice } = await atLevel(level);
        const im = (await w.engine.accountSummary(alice)).initialMargin;
        expect(im).to.equal(await expectedInitialMargin(w, alice, DEFAULT_POLICIES[level].imMultiplier));
        const neutral = await expectedInitialMargin(w, alice, WAD);
        if (level > 0) expect(im).to.be.greaterThan(neutral);
        const view = await w.engine.positionView(alice, ETH);
        expect(view.initialMarginRatio).to.be.greaterThan(view.maintenanceMarginRatio);
      });
    }

    for (const level of [1, 2]) {
      it(`level ${level}: a trade that passes at level 0 is refused with MarginBelowInitial`, async function () {
        const { w, dave } = await atLevel(level);
        // 14 ETH (~28k) on 1k: about 3.2% initial margin at level 0, 4% at level 1, 6.4% at level 2
        const trade = w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(14), MAX_PRICE);
        await expect(trade).to.be.revertedWithCustomError(w.engine, "MarginBelowInitial");
        await w.breaker.connect(w.governor).overrideLevel(ETH, 0, 0);
        await w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(14), MAX_PRICE);
        const s = await w.engine.accountSummary(dave);
        expect(s.equity).to.be.greaterThanOrEqual(BigInt(s.initialMargin));
      });
    }

    it("the multiplier is per market: ETH's level scales the ETH leg, not the BTC leg", async function () {
      const { w, alice } = await atLevel(0);
      await w.engine.connect(w.alice).modifyPosition(alice, BTC, units(1) / 10n, MAX_PRICE);
      const before = (await w.engine.accountSummary(alice)).initialMargin;
      const ethBefore = await expectedInitialMargin(w, alice, WAD);
      const btcRatioBefore = (await w.engine.positionView(alice, BTC)).initialMarginRatio;
      await w.breaker.connect(w.guardian).raiseLevel(ETH, 2);
      const after = (await w.engine.accountSummary(alice)).initialMargin;
      const ethAfter = await expectedInitialMargin(w, alice, 2n * WAD);
      expect(after - before).to.equal(ethAfter - ethBefore);
      expect((await w.engine.positionView(alice, BTC)).initialMarginRatio).to.equal(btcRatioBefore);
      await w.breaker.connect(w.guardian).raiseLevel(BTC, 2);
      expect((await w.engine.accountSummary(alice)).initialMargin).to.be.greaterThan(after);
    });
  });

  describe("leverage cap", function () {
    it("level 2 (20x) refuses a 22x trade with LeverageAboveCap that level 0 and level 1 (50x) accept", async function () {
      const { w, dave } = await atLevel(0);
      // At sigma 0, once the maintenance term has ramped down to mmrBase (1%), initial margin is 2%
      // (x2 = 4% at level 2, 25x): the 20x cap binds before margin does.
      await w.oracle.connect(w.governor).resetVolatility(ETH_FEED, 0n);
      await networkHelpers.time.increase(3600);
      await setPrice(w, ETH, 2000n);
      await w.engine.accrue(ETH);
      expect((await w.engine.marketState(ETH)).maintenanceTerm).to.equal(DEFAULT_RISK.mmrBase);
      const snapshot = await networkHelpers.takeSnapshot();
      for (const level of [0, 1]) {
        if (level > 0) await w.breaker.connect(w.guardian).raiseLevel(ETH, level);
        await w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(11), MAX_PRICE);
        await snapshot.restore();
      }
      await w.breaker.connect(w.guardian).raiseLevel(ETH, 2);
      await expect(w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(11), MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "LeverageAboveCap")
        .withArgs(dave, (lev: bigint) => lev > 20n * WAD && lev < 23n * WAD, 20n * WAD);
      await w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(9), MAX_PRICE); // ~18x
    });

    it("a tighter governed cap at level 1 (5x) refuses what level 0 accepts", async function () {
      const { w, dave } = await atLevel(0);
      const p = defaultPolicies();
      p[1].maxLeverage = 5n * WAD;
      for (const lv of [2, 3, 4]) p[lv].maxLeverage = 5n * WAD;
      await w.breaker.connect(w.governor).setPolicies(p);
      await w.breaker.connect(w.guardian).raiseLevel(ETH, 1);
      await expect(w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(3), MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "LeverageAboveCap")
        .withArgs(dave, (lev: bigint) => lev > 5n * WAD, 5n * WAD);
      await w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(2), MAX_PRICE); // ~4x
    });
  });

  describe("reduce-only and halted", function () {
    it("level 3 refuses opening, adding and flipping with MarketReduceOnly", async function () {
      const { w, alice, dave } = await atLevel(3);
      await expect(w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(1), MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "MarketReduceOnly")
        .withArgs(ETH);
      await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "MarketReduceOnly")
        .withArgs(ETH);
      await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(11), 0n))
        .to.be.revertedWithCustomError(w.engine, "MarketReduceOnly")
        .withArgs(ETH);
    });

    it("level 4 refuses opening, adding and flipping with TradingHalted", async function () {
      const { w, alice, dave } = await atLevel(4);
      await expect(w.engine.connect(w.stranger).modifyPosition(dave, ETH, units(1), MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "TradingHalted")
        .withArgs(ETH);
      await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "TradingHalted")
        .withArgs(ETH);
      await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(11), 0n))
        .to.be.revertedWithCustomError(w.engine, "TradingHalted")
        .withArgs(ETH);
    });

    it("a level on ETH does not restrict BTC", async function () {
      const { w, dave } = await atLevel(4);
      await w.engine.connect(w.stranger).modifyPosition(dave, BTC, units(1) / 10n, MAX_PRICE);
    });
  });

  describe("what stays open at every level", function () {
    for (const level of LEVELS) {
      it(`level ${level}: reduce (base fee), close, deposit and a liquidation all go through`, async function () {
        const { w, alice, bob, carol } = await atLevel(level);
        const sigma = await w.oracle.volatility(ETH_FEED);
        const [fill] = await w.engine.quoteTrade(ETH, -units(4), units(10));
        const fee = await feeOf(w, w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(4), 0n));
        expect(fee).to.equal(tradeFee(DEFAULT_RISK, units(10), -units(4), fill, sigma, WAD));
        expect((await w.engine.position(alice, ETH)).size).to.equal(units(6));
        await w.engine.connect(w.bob).closePosition(bob, ETH, MAX_PRICE);
        expect((await w.engine.position(bob, ETH)).size).to.equal(0n);
        const margin = await w.vault.marginOf(alice);
        await w.engine.connect(w.alice).deposit(alice, 500n * USDC);
        expect(await w.vault.marginOf(alice)).to.equal(margin + 500n * 10n ** 18n);

        await setPrice(w, ETH, 1930n);
        expect(await w.engine.isLiquidatable(carol)).to.equal(true);
        await expect(w.liquidationEngine.liquidate(carol)).to.emit(w.liquidationEngine, "TrancheLiquidated");
        expect((await w.engine.position(carol, ETH)).size).to.be.lessThan(units(10));
        // the level in force did not move under any of it
        expect((await w.breaker.marketLevel(ETH)).level).to.equal(BigInt(level));
      });
    }
  });
});

describe("CircuitBreaker.setPolicies", function () {
  async function breakerOnly() {
    return deployBreakerWorld(ethers);
  }

  it("starts with the documented defaults, and policy() refuses level 5", async function () {
    const w = await loadFixture(breakerOnly);
    for (const level of LEVELS) expect(asPolicy(await w.breaker.policy(level))).to.deep.equal(DEFAULT_POLICIES[level]);
    await expect(w.breaker.policy(5)).to.be.revertedWithCustomError(w.breaker, "UnknownLevel").withArgs(5);
  });

  it("sets five policies and emits PolicySet for each", async function () {
    const w = await loadFixture(breakerOnly);
    const p = defaultPolicies();
    p[0].feeMultiplier = (11n * WAD) / 10n;
    p[2].maxLeverage = 15n * WAD;
    const tx = w.breaker.connect(w.governor).setPolicies(p);
    for (const level of LEVELS) {
      const q = p[level];
      await expect(tx)
        .to.emit(w.breaker, "PolicySet")
        .withArgs(level, [q.feeMultiplier, q.imMultiplier, q.maxLeverage, q.newRiskAllowed, q.tradingOpen]);
    }
    for (const level of LEVELS) expect(asPolicy(await w.breaker.policy(level))).to.deep.equal(p[level]);
  });

  const notMonotonic: [string, (p: Policies) => void, number, string][] = [
    ["a lower fee multiplier above", (p) => (p[2].feeMultiplier = p[1].feeMultiplier - 1n), 2, "feeMultiplier"],
    ["a lower IM multiplier above", (p) => (p[3].imMultiplier = p[2].imMultiplier - 1n), 3, "imMultiplier"],
    ["a higher leverage cap above", (p) => (p[2].maxLeverage = p[1].maxLeverage + 1n), 2, "maxLeverage"],
    ["no cap (0) above a capped level", (p) => (p[3].maxLeverage = 0n), 3, "maxLeverage"],
    ["new risk allowed above reduce-only", (p) => (p[4].newRiskAllowed = true), 4, "newRiskAllowed"],
    [
      "trading open above a halted level",
      (p) => {
        p[3].tradingOpen = false;
        p[4].tradingOpen = true;
      },
      4,
      "tradingOpen",
    ],
    [
      "a halt that still allows new risk (level 4)",
      (p) => {
        for (const q of p) q.newRiskAllowed = true;
      },
      4,
      "tradingOpen",
    ],
    [
      "a halt that still allows new risk (level 0)",
      (p) => {
        for (const q of p) {
          q.newRiskAllowed = true;
          q.tradingOpen = false;
        }
      },
      0,
      "tradingOpen",
    ],
  ];
  for (const [what, edit, level, name] of notMonotonic) {
    it(`refuses ${what}: LevelsNotMonotonic(${level}, "${name}")`, async function () {
      const w = await loadFixture(breakerOnly);
      const p = defaultPolicies();
      edit(p);
      await expect(w.breaker.connect(w.governor).setPolicies(p))
        .to.be.revertedWithCustomError(w.breaker, "LevelsNotMonotonic")
        .withArgs(level, field(name));
      for (const lv of LEVELS) expect(asPolicy(await w.breaker.policy(lv))).to.deep.equal(DEFAULT_POLICIES[lv]);
    });
  }

  it("accepts equal neighbours, no cap on the lower levels, and a cap from any level up", async function () {
    const w = await loadFixture(breakerOnly);
    const p = defaultPolicies();
    p[1].maxLeverage = 0n;
    p[1].feeMultiplier = p[0].feeMultiplier;
    p[3].tradingOpen = false; // halted at 3 and 4
    await w.breaker.connect(w.governor).setPolicies(p);
    expect(asPolicy(await w.breaker.policy(1))).to.deep.equal(p[1]);
  });

  const bounds: [string, number, keyof Policy, bigint, bigint, bigint][] = [
    // [field, level edited, key, refused, accepted, ...]; the bounds are [1, 10] x and [1, 200]x
    ["feeMultiplier", 0, "feeMultiplier", WAD - 1n, WAD, 10n * WAD],
    ["feeMultiplier", 4, "feeMultiplier", 10n * WAD + 1n, 10n * WAD, 10n * WAD],
    ["imMultiplier", 0, "imMultiplier", WAD - 1n, WAD, 10n * WAD],
    ["imMultiplier", 4, "imMultiplier", 10n * WAD + 1n, 10n * WAD, 10n * WAD],
    ["maxLeverage", 4, "maxLeverage", WAD - 1n, WAD, 200n * WAD],
    ["maxLeverage", 0, "maxLeverage", 200n * WAD + 1n, 200n * WAD, 200n * WAD],
  ];
  for (const [name, level, key, refused, accepted] of bounds) {
    it(`${name} at level ${level}: ${refused} refused with ParameterOutOfBounds, ${accepted} accepted`, async function () {
      const w = await loadFixture(breakerOnly);
      const p = defaultPolicies();
      (p[level] as Record<string, unknown>)[key] = refused;
      const [lo, hi] = name === "maxLeverage" ? [WAD, 200n * WAD] : [WAD, 10n * WAD];
      await expect(w.breaker.connect(w.governor).setPolicies(p))
        .to.be.revertedWithCustomError(w.breaker, "ParameterOutOfBounds")
        .withArgs(field(name), refused, lo, hi);
      (p[level] as Record<string, unknown>)[key] = accepted;
      await w.breaker.connect(w.governor).setPolicies(p);
      expect((await w.breaker.policy(level))[key]).to.equal(accepted);
    });
  }
});
