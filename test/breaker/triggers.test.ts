/**
 * Each of the five triggers on its own, against the real oracle adapter, engine, liquidation engine
 * and insurance fund of the default deployment: it fires at its threshold exactly and not one unit
 * below, its measurement is the documented one, and a breaker holding only that trigger applies it.
 * Views that depend on the block time are read through TriggerProbe in a transaction mined at a
 * time the test sets.
 */
import { expect } from "chai";
import { network } from "hardhat";

import type {
  InsuranceCoverageTrigger,
  LiquidationPressureTrigger,
  MockAggregator,
  OracleHealthTrigger,
  PriceMoveTrigger,
  VolatilityTrigger,
} from "../../types/ethers-contracts/index.js";
import { WAD, feedId } from "../../deploy/params.js";
import { ETH, MAX_PRICE, USDC, openAccount, units } from "../helpers/fixture.js";
import { SOURCE, deployBreakerWorld, deployProbe, deploySoloBreaker, levelOf } from "../helpers/breaker.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const ETH_FEED = feedId("ETH");
const E8 = 10n ** 8n;
const HOUR = 3600n;
const MAX_UINT = 2n ** 256n - 1n;

async function world() {
  const w = await deployBreakerWorld(ethers);
  const t = w.triggers;
  return {
    w,
    feed: w.feeds.get(ETH) as MockAggregator,
    probe: await deployProbe(ethers),
    priceMove: (await ethers.getContractAt("PriceMoveTrigger", t["price-move"])) as unknown as PriceMoveTrigger,
    volatility: (await ethers.getContractAt("VolatilityTrigger", t["volatility"])) as unknown as VolatilityTrigger,
    oracleHealth: (await ethers.getContractAt(
      "OracleHealthTrigger",
      t["oracle-health"],
    )) as unknown as OracleHealthTrigger,
    pressure: (await ethers.getContractAt(
      "LiquidationPressureTrigger",
      t["liquidation-pressure"],
    )) as unknown as LiquidationPressureTrigger,
    coverage: (await ethers.getContractAt(
      "InsuranceCoverageTrigger",
      t["insurance-coverage"],
    )) as unknown as InsuranceCoverageTrigger,
  };
}

type Ctx = Awaited<ReturnType<typeof world>>;

/** Pushes rounds (8-decimal answers) stamped with the current block time. */
async function push(feed: MockAggregator, ...answers: bigint[]) {
  for (const a of answers) await feed.updateAnswer(a);
}

/** Proposal and measurement of `trigger` in a transaction mined exactly at `at`. */
async function probeAt(c: Ctx, trigger: { getAddress(): Promise<string> }, at: bigint) {
  await time.setNextBlockTimestamp(at);
  await c.probe.probe(await trigger.getAddress(), ETH);
  return { level: Number(await c.probe.level()), measured: await c.probe.measured() };
}

describe("Breaker triggers, one by one", function () {
  describe("PriceMoveTrigger", function () {
    const cases: [string, bigint, bigint, number][] = [
      // [what, from, to, level]
      ["up exactly 5%", 2000n * E8, 2100n * E8, 1],
      ["up one unit short of 5%", 2000n * E8, 2100n * E8 - 1n, 0],
      ["up 4.99%", 2000n * E8, 20998n * (E8 / 10n), 0],
      ["down exactly 5%", 2000n * E8, 1900n * E8, 1],
      ["down one unit short of 5%", 2000n * E8, 1900n * E8 + 1n, 0],
      ["up exactly 10%", 2000n * E8, 2200n * E8, 2],
      ["up one unit short of 10%", 2000n * E8, 2200n * E8 - 1n, 1],
      ["down exactly 20%", 2000n * E8, 1600n * E8, 3],
      ["down exactly 30%", 2000n * E8, 1400n * E8, 4],
      ["down one unit short of 30%", 2000n * E8, 1400n * E8 + 1n, 3],
    ];
    for (const [what, from, to, level] of cases) {
      it(`${what} within the window proposes ${level}`, async function () {
        const c = await loadFixture(world);
        await push(c.feed, from, to);
        const move = ((to > from ? to - from : from - to) * WAD) / from;
        expect(await c.priceMove.measure(ETH)).to.equal(move);
        expect(await c.priceMove.proposeLevel(ETH)).to.equal(level);
      });
    }

    it("counts the round in force at the window's start, not the rounds before it", async function () {
      const c = await loadFixture(world);
      await time.increase(3n * HOUR);
      const probeTime = BigInt(await time.latest()) + 100n;
      const since = probeTime - HOUR;
      // A: 1800 (11.1% below the latest: level 2) then B: 1900 (5.26%: level 1), then the latest: 2000.
      await c.feed.pushRound(1800n * E8, since - 400n);
      await c.feed.pushRound(1900n * E8, since - 1n); // B was in force at the window's start
      await c.feed.pushRound(2000n * E8, probeTime - 50n);
      const r = await probeAt(c, c.priceMove, probeTime);
      expect(r.measured).to.equal((100n * WAD) / 1900n);
      expect(r.level).to.equal(1);
    });

    it("counts the round before when the first round in the window came after its start", async function () {
      const c = await loadFixture(world);
      await time.increase(3n * HOUR);
      const probeTime = BigInt(await time.latest()) + 100n;
      const since = probeTime - HOUR;
      await c.feed.pushRound(1800n * E8, since - 400n); // A was in force at the window's start
      await c.feed.pushRound(1900n * E8, since + 1n);
      await c.feed.pushRound(2000n * E8, probeTime - 50n);
      const r = await probeAt(c, c.priceMove, probeTime);
      expect(r.measured).to.equal((200n * WAD) / 1800n);
      expect(r.level).to.equal(2);
    });

    it("walks back at most maxRounds rounds (default 48; setWindow to 3 and 4)", async function () {
      const c = await loadFixture(world);
      const now = BigInt(await time.latest());
      // 2000, then 48 rounds at 2100: the 2000 is the 48th round back from the latest.
      await c.feed.pushRounds([2000n * E8, ...Array(48).fill(2100n * E8)], Array(49).fill(now));
      expect(await c.priceMove.maxRounds()).to.equal(48n);
      expect(await c.priceMove.proposeLevel(ETH)).to.equal(1);
      await c.feed.updateAnswer(2100n * E8); // now it is the 49th
      expect(await c.priceMove.measure(ETH)).to.equal(0n);
      expect(await c.priceMove.proposeLevel(ETH)).to.equal(0);

      await c.feed.pushRounds([2000n * E8, 2100n * E8, 2100n * E8, 2100n * E8, 2100n * E8], Array(5).fill(now));
      await c.priceMove.connect(c.w.governor).setWindow(Number(HOUR), 3);
      expect(await c.priceMove.proposeLevel(ETH)).to.equal(0);
      await c.priceMove.connect(c.w.governor).setWindow(Number(HOUR), 4);
      expect(await c.priceMove.proposeLevel(ETH)).to.equal(1);
    });

    it("ends the walk at a phase change or a missing round", async function () {
      const c = await loadFixture(world);
      await push(c.feed, 2000n * E8);
      await c.feed.startPhase(2);
      await push(c.feed, 2200n * E8);
      expect(await c.priceMove.measure(ETH)).to.equal(0n);
      await c.feed.setRevertOnMissingRound(false);
      expect(await c.priceMove.measure(ETH)).to.equal(0n);
      await push(c.feed, 2000n * E8);
      expect(await c.priceMove.measure(ETH)).to.equal((200n * WAD) / 2200n);
    });

    it("a breaker holding only this trigger escalates to its proposal, naming it", async function () {
      const c = await loadFixture(world);
      const breaker = await deploySoloBreaker(ethers, c.w, [c.priceMove]);
      await push(c.feed, 2000n * E8, 2200n * E8);
      await expect(breaker.poke(ETH))
        .to.emit(breaker, "LevelChanged")
        .withArgs(ETH, 0, 2, SOURCE.Trigger, await c.priceMove.getAddress());
      expect(await levelOf(breaker, ETH)).to.equal(2);
    });
  });

  describe("VolatilityTrigger", function () {
    const cases: [bigint, number][] = [
      [(12n * WAD) / 10n - 1n, 0],
      [(12n * WAD) / 10n, 1],
      [2n * WAD - 1n, 1],
      [2n * WAD, 2],
      [3n * WAD - 1n, 2],
      [3n * WAD, 3],
      [5n * WAD, 3], // maxLevel 3
      [50n * WAD, 3],
    ];
    for (const [sigma, level] of cases) {
      it(`sigma ${sigma} proposes ${level}`, async function () {
        const c = await loadFixture(world);
        await c.w.oracle.connect(c.w.governor).resetVolatility(ETH_FEED, sigma);
        expect(await c.volatility.measure(ETH)).to.equal(sigma);
        expect(await c.volatility.proposeLevel(ETH)).to.equal(level);
      });
    }

    it("proposes 4 at 5 (and 3 one unit below) once the governor raises maxLevel to 4", async function () {
      const c = await loadFixture(world);
      await c.volatility.connect(c.w.governor).setMaxLevel(4);
      await c.w.oracle.connect(c.w.governor).resetVolatility(ETH_FEED, 5n * WAD);
      expect(await c.volatility.proposeLevel(ETH)).to.equal(4);
      await c.w.oracle.connect(c.w.governor).resetVolatility(ETH_FEED, 5n * WAD - 1n);
      expect(await c.volatility.proposeLevel(ETH)).to.equal(3);
    });

    it("follows the oracle's own estimate as rounds move it", async function () {
      const c = await loadFixture(world);
      for (let i = 0; i < 12; i++) {
        await time.increase(300);
        await push(c.feed, (i % 2 === 0 ? 1880n : 2000n) * E8); // 6% swings every 5 minutes
      }
      await c.w.oracle.updateVolatility(ETH_FEED, 64);
      const sigma = await c.w.oracle.volatility(ETH_FEED);
      expect(sigma).to.be.greaterThan((12n * WAD) / 10n);
      expect(await c.volatility.measure(ETH)).to.equal(sigma);
      expect(await c.volatility.proposeLevel(ETH)).to.equal(await c.volatility.levelFor(ETH, sigma));
    });

    it("a breaker holding only this trigger escalates to its proposal", async function () {
      const c = await loadFixture(world);
      const breaker = await deploySoloBreaker(ethers, c.w, [c.volatility]);
      await c.w.oracle.connect(c.w.governor).resetVolatility(ETH_FEED, 2n * WAD);
      await expect(breaker.poke(ETH))
        .to.emit(breaker, "LevelChanged")
        .withArgs(ETH, 0, 2, SOURCE.Trigger, await c.volatility.getAddress());
    });
  });

  describe("OracleHealthTrigger", function () {
    const cases: [string, bigint, number][] = [
      ["a 3% jump", 2060n * E8, 1],
      ["one unit short of 3%", 2060n * E8 - 1n, 0],
      ["a 3% drop", 1940n * E8, 1],
      ["a 6% jump", 2120n * E8, 2],
      ["one unit short of 6%", 2120n * E8 - 1n, 1],
      ["a 10% drop", 1800n * E8, 3],
      ["a 15% jump", 2300n * E8, 4],
      ["one unit short of 15%", 2300n * E8 - 1n, 3],
    ];
    for (const [what, to, level] of cases) {
      it(`${what} from the previous round proposes ${level}`, async function () {
        const c = await loadFixture(world);
        await push(c.feed, 2000n * E8, to);
        expect(await c.oracleHealth.proposeLevel(ETH)).to.equal(level);
      });
    }

    it("measures only the latest two rounds, unlike the price-move window", async function () {
      const c = await loadFixture(world);
      await push(c.feed, 2000n * E8, 2200n * E8, 2210n * E8);
      expect(await c.oracleHealth.measure(ETH)).to.equal((10n * WAD) / 2200n);
      expect(await c.oracleHealth.proposeLevel(ETH)).to.equal(0);
      expect(await c.priceMove.proposeLevel(ETH)).to.equal(2);
    });

    it("a feed older than its heartbeat proposes staleLevel (3), not one second earlier", async function () {
      const c = await loadFixture(world);
      await push(c.feed, 2000n * E8, 2000n * E8);
      const updatedAt = (await c.feed.latestRoundData())[3];
      let r = await probeAt(c, c.oracleHealth, updatedAt + HOUR);
      expect(r.measured).to.equal(0n);
      expect(r.level).to.equal(0);
      r = await probeAt(c, c.oracleHealth, updatedAt + HOUR + 1n);
      expect(r.measured).to.equal(MAX_UINT);
      expect(r.level).to.equal(3);
    });

    it("staleLevel is the governor's (1..4), and a non-positive answer reads as stale", async function () {
      const c = await loadFixture(world);
      await c.oracleHealth.connect(c.w.governor).setStaleLevel(4);
      await push(c.feed, 0n);
      expect(await c.oracleHealth.proposeLevel(ETH)).to.equal(4);
      await push(c.feed, -5n);
      await c.oracleHealth.connect(c.w.governor).setStaleLevel(1);
      expect(await c.oracleHealth.proposeLevel(ETH)).to.equal(1);
    });

    it("the first round of a phase, with nothing before it, measures no jump", async function () {
      const c = await loadFixture(world);
      await c.feed.startPhase(3);
      await push(c.feed, 2600n * E8);
      expect(await c.oracleHealth.measure(ETH)).to.equal(0n);
    });

    it("a breaker holding only this trigger goes to 3 on a stale feed", async function () {
      const c = await loadFixture(world);
      const breaker = await deploySoloBreaker(ethers, c.w, [c.oracleHealth]);
      await time.increase(HOUR + 1n);
      await expect(breaker.poke(ETH))
        .to.emit(breaker, "LevelChanged")
        .withArgs(ETH, 0, 3, SOURCE.Trigger, await c.oracleHealth.getAddress());
    });
  });

  describe("LiquidationPressureTrigger", function () {
    /**
     * Open interest of `bulk` ETH a side from two well-margined accounts, and `thin` accounts long 10
     * ETH each on 1,000 USDC (about 20x), which a fall to 1,930 puts below maintenance but above the
     * backstop, so each liquidation is a tranche.
     */
    async function market(bulk: bigint, thin: number) {
      const c = await loadFixture(world);
      const w = c.w;
      if (bulk > 0n) {
        const longs = await openAccount(w, w.carol, 1_000_000n * USDC);
        const shorts = await openAccount(w, w.bob, 1_000_000n * USDC);
        await w.engine.connect(w.carol).modifyPosition(longs, ETH, units(bulk), MAX_PRICE);
        await w.engine.connect(w.bob).modifyPosition(shorts, ETH, -units(bulk), 0n);
      }
      const ids: bigint[] = [];
      for (let i = 0; i < thin; i++) {
        const id = await openAccount(w, w.alice, 1_000n * USDC);
        await w.engine.connect(w.alice).modifyPosition(id, ETH, units(10), MAX_PRICE);
        ids.push(id);
      }
      await push(c.feed, 1930n * E8);
      return { ...c, ids };
    }
    const withBulk = () => market(400n, 3);
    const withoutBulk = () => market(0n, 3);

    /**
     * used / max(open interest * price, floor), from the liquidation engine's and the engine's own
     * state and the trigger's floor.
     */
    async function expectedPressure(c: Ctx) {
      const [, used] = await c.w.liquidationEngine.capacityWindow(ETH);
      const st = await c.w.engine.marketState(ETH);
      const [price] = await c.w.oracle.latestPrice(ETH_FEED);
      const oiNotional = ((st.longOpenInterest + st.shortOpenInterest) * price + WAD - 1n) / WAD;
      const floor = await c.pressure.minOpenInterestNotional();
      return { used, ratio: (used * WAD) / (oiNotional > floor ? oiNotional : floor) };
    }

    it("is zero before any liquidation", async function () {
      const c = await withBulk();
      expect(await c.pressure.measure(ETH)).to.equal(0n);
      expect(await c.pressure.proposeLevel(ETH)).to.equal(0);
    });

    it("measures the window's liquidated notional over open interest, summed over tranches", async function () {
      const c = await withBulk();
      let sum = 0n;
      let previous = 0n;
      for (const id of c.ids) {
        const receipt = await (await c.w.liquidationEngine.liquidate(id)).wait();
        const settled = receipt!.logs
          .map((l) => c.w.liquidationEngine.interface.parseLog(l))
          .find((e) => e?.name === "LiquidationSettled");
        sum += settled!.args.trancheNotional as bigint;
        const e = await expectedPressure(c);
        expect(e.used).to.equal(sum);
        const measured = await c.pressure.measure(ETH);
        expect(measured).to.equal(e.ratio);
        expect(measured).to.be.greaterThan(previous);
        previous = measured;
        expect(await c.pressure.proposeLevel(ETH)).to.equal(await c.pressure.levelFor(ETH, measured));
      }
      expect(previous).to.be.greaterThan(0n);
    });

    it("fires at its threshold exactly, not one unit below (thresholds set at the measured value)", async function () {
      const c = await withBulk();
      await c.w.liquidationEngine.liquidate(c.ids[0]);
      const m = await c.pressure.measure(ETH);
      const gov = c.pressure.connect(c.w.governor);
      await gov.setMarketThresholds(ETH, [m, m + 1n, m + 2n, m + 3n]);
      expect(await c.pressure.proposeLevel(ETH)).to.equal(1);
      await gov.setMarketThresholds(ETH, [m - 2n, m - 1n, m, m + 1n]);
      expect(await c.pressure.proposeLevel(ETH)).to.equal(3);
      await gov.setMarketThresholds(ETH, [m + 1n, m + 2n, m + 3n, m + 4n]);
      expect(await c.pressure.proposeLevel(ETH)).to.equal(0);
    });

    it("the same liquidations weigh more against less open interest", async function () {
      const thick = await withBulk();
      for (const id of thick.ids) await thick.w.liquidationEngine.liquidate(id);
      const thickRatio = await thick.pressure.measure(ETH);
      const thickLevel = Number(await thick.pressure.proposeLevel(ETH));
      const thin = await withoutBulk();
      for (const id of thin.ids) await thin.w.liquidationEngine.liquidate(id);
      const thinRatio = await thin.pressure.measure(ETH);
      expect((await thin.w.liquidationEngine.capacityWindow(ETH))[1]).to.equal(
        (await thick.w.liquidationEngine.capacityWindow(ETH))[1],
      );
      expect(thinRatio).to.be.greaterThan(thickRatio * 10n);
      // the thin market (about $58k) is under the $100k floor: measured against the floor, still >4%
      expect(thinRatio).to.equal((await expectedPressure(thin)).ratio);
      expect(await thin.pressure.proposeLevel(ETH)).to.equal(3);
      expect(thickLevel).to.be.lessThan(3);
    });

    it("reads nothing once the capacity window has ended (ends at start + 60 s exactly)", async function () {
      const c = await withBulk();
      await c.w.liquidationEngine.liquidate(c.ids[0]);
      const [start] = await c.w.liquidationEngine.capacityWindow(ETH);
      const length = (await c.w.liquidationEngine.config()).capacityWindow;
      let r = await probeAt(c, c.pressure, start + length - 1n);
      expect(r.measured).to.be.greaterThan(0n);
      r = await probeAt(c, c.pressure, start + length);
      expect(r.measured).to.equal(0n);
      expect(r.level).to.equal(0);
    });

    it("a liquidation that empties the market is measured against the open-interest floor", async function () {
      const c = await withoutBulk();
      // the only open interest is the thin longs; a deep fall sends each to the backstop (full close)
      await push(c.feed, 1850n * E8);
      await c.w.liquidationEngine.liquidateBatch(c.ids);
      const st = await c.w.engine.marketState(ETH);
      expect(st.longOpenInterest + st.shortOpenInterest).to.equal(0n);
      const [, used] = await c.w.liquidationEngine.capacityWindow(ETH);
      expect(await c.pressure.minOpenInterestNotional()).to.equal(100_000n * WAD);
      const measured = await c.pressure.measure(ETH);
      expect(measured).to.equal((used * WAD) / (100_000n * WAD));
      expect(measured).to.not.equal(MAX_UINT);
      // about $55k liquidated against the $100k floor: still a crisis for a market that size
      expect(await c.pressure.proposeLevel(ETH)).to.equal(3);
    });

    it("a tiny market emptied by one liquidation proposes nothing (zero open interest is not maximum pressure)", async function () {
      const c = await loadFixture(world);
      const w = c.w;
      // 0.2 ETH on 20 USDC (20x): the market's whole open interest, about $400
      const id = await openAccount(w, w.alice, 20n * USDC);
      await w.engine.connect(w.alice).modifyPosition(id, ETH, units(2) / 10n, MAX_PRICE);
      await push(c.feed, 1850n * E8);
      await w.liquidationEngine.liquidate(id);
      const st = await w.engine.marketState(ETH);
      expect(st.longOpenInterest + st.shortOpenInterest).to.equal(0n);
      const [, used] = await w.liquidationEngine.capacityWindow(ETH);
      expect(used).to.be.greaterThan(0n);
      // before the floor this read type(uint256).max and proposed level 3 (reduce-only)
      expect(await c.pressure.measure(ETH)).to.equal((used * WAD) / (100_000n * WAD));
      expect(await c.pressure.proposeLevel(ETH)).to.equal(0);
      const breaker = await deploySoloBreaker(ethers, w, [c.pressure]);
      await breaker.poke(ETH);
      expect(await levelOf(breaker, ETH)).to.equal(0);
    });

    it("the open-interest floor is the governor's, bounded, with an event", async function () {
      const c = await loadFixture(world);
      const gov = c.pressure.connect(c.w.governor);
      await expect(c.pressure.connect(c.w.alice).setMinOpenInterestNotional(WAD)).to.be.revertedWithCustomError(
        c.pressure,
        "AccessControlUnauthorizedAccount",
      );
      const min = await c.pressure.MIN_OPEN_INTEREST_FLOOR();
      const max = await c.pressure.MAX_OPEN_INTEREST_FLOOR();
      await expect(gov.setMinOpenInterestNotional(min - 1n))
        .to.be.revertedWithCustomError(c.pressure, "ParameterOutOfBounds")
        .withArgs(ethers.encodeBytes32String("minOpenInterestNotional"), min - 1n, min, max);
      await expect(gov.setMinOpenInterestNotional(max + 1n)).to.be.revertedWithCustomError(
        c.pressure,
        "ParameterOutOfBounds",
      );
      expect(await c.pressure.minOpenInterestNotional()).to.equal(100_000n * WAD);
      await expect(gov.setMinOpenInterestNotional(min)).to.emit(c.pressure, "MinOpenInterestNotionalSet").withArgs(min);
      expect(await c.pressure.minOpenInterestNotional()).to.equal(min);
    });

    it("a breaker holding only this trigger escalates after real liquidations", async function () {
      const c = await withBulk();
      const breaker = await deploySoloBreaker(ethers, c.w, [c.pressure]);
      await c.w.liquidationEngine.liquidateBatch(c.ids);
      const expected = Number(await c.pressure.levelFor(ETH, (await expectedPressure(c)).ratio));
      expect(expected).to.be.greaterThan(0);
      await expect(breaker.poke(ETH))
        .to.emit(breaker, "LevelChanged")
        .withArgs(ETH, 0, expected, SOURCE.Trigger, await c.pressure.getAddress());
    });
  });

  describe("InsuranceCoverageTrigger", function () {
    /** 120 ETH long and 120 ETH short: 480,000 of open notional at 2,000, against the 100k fund. */
    async function covered() {
      const c = await loadFixture(world);
      const w = c.w;
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      const b = await openAccount(w, w.bob, 100_000n * USDC);
      await w.engine.connect(w.alice).modifyPosition(a, ETH, units(120), MAX_PRICE);
      await w.engine.connect(w.bob).modifyPosition(b, ETH, -units(120), 0n);
      return c;
    }

    async function expectedCoverage(c: Ctx) {
      const SCALE = 10n ** 12n;
      const worst = ((await c.w.engine.openNotional()) * (await c.w.insuranceFund.stressLossRatio()) + WAD - 1n) / WAD;
      return ((await c.w.insuranceFund.coverable()) * SCALE * WAD) / worst;
    }

    it("reads no open interest as unlimited coverage", async function () {
      const c = await loadFixture(world);
      expect(await c.coverage.measure(ETH)).to.equal(MAX_UINT);
      expect(await c.coverage.proposeLevel(ETH)).to.equal(0);
    });

    it("lower coverage proposes a higher level, capped at 2 by default and at 4 when raised", async function () {
      const c = await covered();
      const fund = c.w.insuranceFund.connect(c.w.governor);
      const path: [bigint, number, number][] = [
        // [stressLossRatio, level at maxLevel 2, level at maxLevel 4]; coverage ~ 0.208 / ratio
        [WAD / 20n, 0, 0], // ~4.2
        [WAD / 8n, 1, 1], // ~1.67
        [WAD / 4n, 2, 2], // ~0.83
        [WAD / 2n, 2, 3], // ~0.42
        [WAD, 2, 4], // ~0.21
      ];
      let previous = MAX_UINT;
      for (const [ratio, capped, uncapped] of path) {
        await fund.setStressLossRatio(ratio);
        const m = await c.coverage.measure(ETH);
        expect(m).to.equal(await expectedCoverage(c));
        expect(m).to.be.lessThan(previous);
        previous = m;
        await c.coverage.connect(c.w.governor).setMaxLevel(2);
        expect(await c.coverage.proposeLevel(ETH), `ratio ${ratio}`).to.equal(capped);
        await c.coverage.connect(c.w.governor).setMaxLevel(4);
        expect(await c.coverage.proposeLevel(ETH), `ratio ${ratio}, maxLevel 4`).to.equal(uncapped);
      }
    });

    it("fires at its threshold exactly, not one unit above (lower is worse)", async function () {
      const c = await covered();
      const m = await c.coverage.measure(ETH);
      const gov = c.coverage.connect(c.w.governor);
      await gov.setMarketThresholds(ETH, [m, m - 1n, m - 2n, m - 3n]);
      expect(await c.coverage.proposeLevel(ETH)).to.equal(1);
      await gov.setMarketThresholds(ETH, [m - 1n, m - 2n, m - 3n, m - 4n]);
      expect(await c.coverage.proposeLevel(ETH)).to.equal(0);
      await gov.setMarketThresholds(ETH, [m + 1n, m, m - 1n, m - 2n]);
      expect(await c.coverage.proposeLevel(ETH)).to.equal(2);
    });

    it("a breaker holding only this trigger restricts (2) on an empty-looking fund, never halts", async function () {
      const c = await covered();
      const breaker = await deploySoloBreaker(ethers, c.w, [c.coverage]);
      await c.w.insuranceFund.connect(c.w.governor).setStressLossRatio(WAD);
      await expect(breaker.poke(ETH))
        .to.emit(breaker, "LevelChanged")
        .withArgs(ETH, 0, 2, SOURCE.Trigger, await c.coverage.getAddress());
      await time.increase(HOUR);
      await breaker.poke(ETH);
      expect(await levelOf(breaker, ETH)).to.equal(2);
    });
  });
});
