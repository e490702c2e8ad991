import { expect } from "chai";
import { network } from "hardhat";
import { anyUint } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";

import type { MockAggregator, OracleAdapter } from "../../types/ethers-contracts/index.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";

const { ethers, networkHelpers } = await network.create();

const ETH = ethers.encodeBytes32String("ETH/USD");
const GOVERNOR = ethers.keccak256(ethers.toUtf8Bytes("cascade.role.governor"));
const HEARTBEAT = 3600n;
const WINDOW = 86_400n;
const SIGMA0 = WAD / 2n;
const PRICE0 = 2000n * 10n ** 8n;
const PHASE1 = 1n << 64n;

/** Gas a transaction pays before executing: 21000 plus calldata (EIP-2028 pricing). */
function intrinsicGas(data: string): bigint {
  const bytes = ethers.getBytes(data);
  return 21_000n + bytes.reduce((sum, b) => sum + (b === 0 ? 4n : 16n), 0n);
}

describe("OracleAdapter (ethers, TypeChain)", function () {
  async function deployOracle() {
    const [admin, governor, stranger] = await ethers.getSigners();
    const feed: MockAggregator = await ethers.deployContract("MockAggregator", [8, PRICE0, "ETH / USD"]);
    const adapter: OracleAdapter = await ethers.deployContract("OracleAdapter", [admin.address, governor.address]);
    await adapter.connect(governor).setFeed(ETH, await feed.getAddress(), HEARTBEAT, WINDOW, SIGMA0);
    const t0 = BigInt(await networkHelpers.time.latest());
    return { adapter, feed, admin, governor, stranger, t0 };
  }

  it("registers a feed, anchors the volatility state and reads the price in WAD", async function () {
    const { adapter, feed } = await networkHelpers.loadFixture(deployOracle);
    const config = await adapter.feedConfig(ETH);
    expect(config.aggregator).to.equal(await feed.getAddress());
    expect(config.heartbeat).to.equal(HEARTBEAT);
    expect(config.decimals).to.equal(8n);
    expect(config.volWindow).to.equal(WINDOW);
    const state = await adapter.volatilityState(ETH);
    expect(state.lastRoundId).to.equal(PHASE1 + 1n);
    expect(state.sigmaWad).to.equal(SIGMA0);
    expect(state.varianceWad).to.equal(WAD / 4n);
    const [priceWad, sigmaWad] = await adapter.getPriceAndVolatility(ETH);
    expect(priceWad).to.equal(2000n * WAD);
    expect(sigmaWad).to.equal(SIGMA0);
  });

  it("emits FeedSet and VolatilityAnchored", async function () {
    const { adapter, governor } = await networkHelpers.loadFixture(deployOracle);
    const usdc: MockAggregator = await ethers.deployContract("MockAggregator", [6, 1_000_000n, "USDC / USD"]);
    const id = ethers.encodeBytes32String("USDC/USD");
    await expect(adapter.connect(governor).setFeed(id, await usdc.getAddress(), 86_400n, 7n * 86_400n, WAD / 20n))
      .to.emit(adapter, "FeedSet")
      .withArgs(id, await usdc.getAddress(), 86_400n, 6n, 7n * 86_400n)
      .and.to.emit(adapter, "VolatilityAnchored")
      .withArgs(id, PHASE1 + 1n, WAD, WAD / 20n);
  });

  describe("bad answers", function () {
    it("NonPositiveAnswer for zero and negative answers", async function () {
      const { adapter, feed } = await networkHelpers.loadFixture(deployOracle);
      await feed.updateAnswer(0n);
      await expect(adapter.getPrice(ETH)).to.be.revertedWithCustomError(adapter, "NonPositiveAnswer").withArgs(ETH, 0n);
      await feed.updateAnswer(-7n);
      await expect(adapter.latestPrice(ETH))
        .to.be.revertedWithCustomError(adapter, "NonPositiveAnswer")
        .withArgs(ETH, -7n);
    });

    it("IncompleteRound when answeredInRound < roundId or updatedAt == 0", async function () {
      const { adapter, feed, t0 } = await networkHelpers.loadFixture(deployOracle);
      const id = (await feed.latestRound()) + 1n;
      await feed.setRoundData(id, PRICE0, t0, t0, id - 1n);
      await expect(adapter.getPriceAndVolatility(ETH))
        .to.be.revertedWithCustomError(adapter, "IncompleteRound")
        .withArgs(ETH, id, id - 1n, t0);
      await feed.setRoundData(id + 1n, PRICE0, t0, 0n, id + 1n);
      await expect(adapter.getPrice(ETH))
        .to.be.revertedWithCustomError(adapter, "IncompleteRound")
        .withArgs(ETH, id + 1n, id + 1n, 0n);
    });

    it("AnswerFromTheFuture", async function () {
      const { adapter, feed } = await networkHelpers.loadFixture(deployOracle);
      const future = BigInt(await networkHelpers.time.latest()) + 1000n;
      await feed.pushRound(PRICE0, future);
      await expect(adapter.latestPrice(ETH))
        .to.be.revertedWithCustomError(adapter, "AnswerFromTheFuture")
        .withArgs(ETH, future, (now: bigint) => now < future);
    });

    it("StaleAnswer past the heartbeat; latestPrice ignores staleness", async function () {
      const { adapter, feed } = await networkHelpers.loadFixture(deployOracle);
      const [, , , updatedAt] = await feed.latestRoundData();
      // Calls run in a pending block a second or so after the latest one, so the exact boundary is
      // left to the Solidity tests (vm.warp); here: comfortably inside, then just past.
      await networkHelpers.time.increaseTo(updatedAt + HEARTBEAT - 5n);
      const [freshPrice] = await adapter.getPrice(ETH);
      expect(freshPrice).to.equal(2000n * WAD);
      await networkHelpers.time.increaseTo(updatedAt + HEARTBEAT + 1n);
      await expect(adapter.getPrice(ETH))
        .to.be.revertedWithCustomError(adapter, "StaleAnswer")
        .withArgs(ETH, updatedAt, HEARTBEAT, (now: bigint) => now > updatedAt + HEARTBEAT);
      const [priceWad, latestUpdatedAt] = await adapter.latestPrice(ETH);
      expect(priceWad).to.equal(2000n * WAD);
      expect(latestUpdatedAt).to.equal(updatedAt);
    });

    it("FeedNotFound for an unknown feed", async function () {
      const { adapter } = await networkHelpers.loadFixture(deployOracle);
      const btc = ethers.encodeBytes32String("BTC/USD");
      await expect(adapter.getPrice(btc)).to.be.revertedWithCustomError(adapter, "FeedNotFound").withArgs(btc);
      await expect(adapter.updateVolatility(btc, 64n))
        .to.be.revertedWithCustomError(adapter, "FeedNotFound")
        .withArgs(btc);
    });
  });

  describe("L2 sequencer", function () {
    it("SequencerGracePeriodNotOver, then SequencerDown, and latestPrice unaffected", async function () {
      const { adapter, feed, governor } = await networkHelpers.loadFixture(deployOracle);
      const sequencer: MockAggregator = await ethers.deployContract("MockAggregator", [0, 0n, "sequencer"]);
      const upSince = BigInt(await networkHelpers.time.latest());
      await adapter.connect(governor).setSequencerFeed(await sequencer.getAddress(), 600n);
      await expect(adapter.getPrice(ETH))
        .to.be.revertedWithCustomError(adapter, "SequencerGracePeriodNotOver")
        .withArgs(upSince, 600n, (now: bigint) => now >= upSince && now < upSince + 600n);

      await networkHelpers.time.increaseTo(upSince + 600n);
      await feed.updateAnswer(PRICE0);
      const [priceWad] = await adapter.getPrice(ETH);
      expect(priceWad).to.equal(2000n * WAD);

      await sequencer.updateAnswer(1n);
      await expect(adapter.getPriceAndVolatility(ETH))
        .to.be.revertedWithCustomError(adapter, "SequencerDown")
        .withArgs(await sequencer.getAddress());
      const [latest] = await adapter.latestPrice(ETH);
      expect(latest).to.equal(2000n * WAD);
    });
  });

  describe("governance", function () {
    it("AccessControlUnauthorizedAccount for a caller without GOVERNOR", async function () {
      const { adapter, feed, stranger } = await networkHelpers.loadFixture(deployOracle);
      await expect(adapter.connect(stranger).setFeed(ETH, await feed.getAddress(), HEARTBEAT, WINDOW, SIGMA0))
        .to.be.revertedWithCustomError(adapter, "AccessControlUnauthorizedAccount")
        .withArgs(stranger.address, GOVERNOR);
      await expect(adapter.connect(stranger).resetVolatility(ETH, WAD))
        .to.be.revertedWithCustomError(adapter, "AccessControlUnauthorizedAccount")
        .withArgs(stranger.address, GOVERNOR);
      await expect(adapter.connect(stranger).setSequencerFeed(ethers.ZeroAddress, 0n))
        .to.be.revertedWithCustomError(adapter, "AccessControlUnauthorizedAccount")
        .withArgs(stranger.address, GOVERNOR);
    });

    it("ParameterOutOfBounds just outside each bound, accepted at it", async function () {
      const { adapter, feed, governor } = await networkHelpers.loadFixture(deployOracle);
      const g = adapter.connect(governor);
      const agg = await feed.getAddress();
      const name = (s: string) => ethers.encodeBytes32String(s);
      await expect(g.setFeed(ETH, agg, 59n, WINDOW, SIGMA0))
        .to.be.revertedWithCustomError(adapter, "ParameterOutOfBounds")
        .withArgs(name("heartbeat"), 59n, 60n, 3n * 86_400n);
      await expect(g.setFeed(ETH, agg, HEARTBEAT, 30n * 86_400n + 1n, SIGMA0))
        .to.be.revertedWithCustomError(adapter, "ParameterOutOfBounds")
        .withArgs(name("volWindow"), 30n * 86_400n + 1n, 300n, 30n * 86_400n);
      await expect(g.resetVolatility(ETH, 50n * WAD + 1n))
        .to.be.revertedWithCustomError(adapter, "ParameterOutOfBounds")
        .withArgs(name("sigma"), 50n * WAD + 1n, 0n, 50n * WAD);
      await expect(g.setSequencerFeed(ethers.ZeroAddress, 86_401n))
        .to.be.revertedWithCustomError(adapter, "ParameterOutOfBounds")
        .withArgs(name("sequencerGrace"), 86_401n, 0n, 86_400n);
      expect((await adapter.feedConfig(ETH)).heartbeat).to.equal(HEARTBEAT);

      await g.setFeed(ETH, agg, 60n, 300n, 50n * WAD);
      expect((await adapter.feedConfig(ETH)).heartbeat).to.equal(60n);
      await expect(g.resetVolatility(ETH, 50n * WAD))
        .to.emit(adapter, "VolatilityReset")
        .withArgs(ETH, 50n * WAD);
    });

    it("InvalidAggregator for an address without code", async function () {
      const { adapter, governor, stranger } = await networkHelpers.loadFixture(deployOracle);
      await expect(adapter.connect(governor).setFeed(ETH, stranger.address, HEARTBEAT, WINDOW, SIGMA0))
        .to.be.revertedWithCustomError(adapter, "InvalidAggregator")
        .withArgs(stranger.address);
    });
  });

  describe("volatility updates and gas", function () {
    it("folds one new round and emits VolatilityUpdated", async function () {
      const { adapter, feed } = await networkHelpers.loadFixture(deployOracle);
      expect(await adapter.updateVolatility.staticCall(ETH, 64n)).to.equal(0n);
      await feed.updateAnswer(2100n * 10n ** 8n);
      const roundId = await feed.latestRound();
      await expect(adapter.updateVolatility(ETH, 64n))
        .to.emit(adapter, "VolatilityUpdated")
        .withArgs(ETH, roundId, 2100n * WAD, anyUint, 1n);
      const state = await adapter.volatilityState(ETH);
      expect(state.lastRoundId).to.equal(roundId);
      // A 5% move within seconds is a large per-second variance: sigma must rise.
      expect(state.sigmaWad > SIGMA0).to.equal(true);
    });

    it("measures gas: reads, updateVolatility for 1 and 64 rounds", async function () {
      const { adapter, feed, governor } = await networkHelpers.loadFixture(deployOracle);
      const priceData = adapter.interface.encodeFunctionData("getPrice", [ETH]);
      const bothData = adapter.interface.encodeFunctionData("getPriceAndVolatility", [ETH]);

      const readPrice = await (await adapter.getPrice.send(ETH)).wait();
      const readBoth = await (await adapter.getPriceAndVolatility.send(ETH)).wait();
      const priceGas = readPrice!.gasUsed - intrinsicGas(priceData);
      const bothGas = readBoth!.gasUsed - intrinsicGas(bothData);

      // Same read on an L2 with a sequencer-uptime feed (grace 0, so it passes).
      const sequencer: MockAggregator = await ethers.deployContract("MockAggregator", [0, 0n, "sequencer"]);
      await adapter.connect(governor).setSequencerFeed(await sequencer.getAddress(), 0n);
      const readL2 = await (await adapter.getPriceAndVolatility.send(ETH)).wait();
      const l2Gas = readL2!.gasUsed - intrinsicGas(bothData);
      await adapter.connect(governor).setSequencerFeed(ethers.ZeroAddress, 0n);

      const push = await (await feed.updateAnswer(2010n * 10n ** 8n)).wait();
      const one = await (await adapter.updateVolatility(ETH, 64n)).wait();

      // Rounds must be newer than the anchor and not from the future: step the clock past them.
      const now = BigInt(await networkHelpers.time.latest());
      await networkHelpers.time.increaseTo(now + 100n);
      const answers = Array.from({ length: 64 }, (_, i) => PRICE0 + BigInt((i * 37) % 41) * 10n ** 8n);
      const times = Array.from({ length: 64 }, (_, i) => now + 1n + BigInt(i));
      const base = await feed.latestRound();
      const bulk = await (await feed.pushRounds(answers, times)).wait();
      expect(await adapter.updateVolatility.staticCall(ETH, 64n)).to.equal(64n);
      const many = await (await adapter.updateVolatility(ETH, 64n)).wait();
      expect((await adapter.volatilityState(ETH)).lastRoundId).to.equal(base + 64n);

      console.log(
        `      gas: getPrice ${priceGas} (tx ${readPrice!.gasUsed}), getPriceAndVolatility ${bothGas} ` +
          `(tx ${readBoth!.gasUsed}), with sequencer ${l2Gas}, updateVolatility 1 round ${one!.gasUsed}, 64 rounds ${many!.gasUsed}; ` +
          `MockAggregator.updateAnswer ${push!.gasUsed}, pushRounds(64) ${bulk!.gasUsed}`,
      );
      // Ceilings with headroom, so a regression in the hot path or the loop shows up here.
      expect(bothGas < 25_000n).to.equal(true);
      expect(one!.gasUsed < 80_000n).to.equal(true);
      expect(many!.gasUsed < 1_000_000n).to.equal(true);
    });
  });

  describe("an aggregator clamped at its min/max answer (the LUNA failure mode)", function () {
    const MIN = 100n * 10n ** 8n; // $100
    const MAX = 100_000n * 10n ** 8n;

    it("setAnswerBounds: governor only, min < max and min >= 0 (InvalidAnswerBounds), emits, clears with (0, 0)", async function () {
      const { adapter, governor, stranger } = await networkHelpers.loadFixture(deployOracle);
      await expect(adapter.connect(stranger).setAnswerBounds(ETH, MIN, MAX)).to.be.revertedWithCustomError(
        adapter,
        "AccessControlUnauthorizedAccount",
      );
      for (const [lo, hi] of [
        [MAX, MIN],
        [MIN, MIN],
        [-1n, MAX],
        [MIN, 2n ** 127n],
      ])
        await expect(adapter.connect(governor).setAnswerBounds(ETH, lo, hi))
          .to.be.revertedWithCustomError(adapter, "InvalidAnswerBounds")
          .withArgs(lo, hi);
      await expect(
        adapter.connect(governor).setAnswerBounds(ethers.encodeBytes32String("NOPE"), MIN, MAX),
      ).to.be.revertedWithCustomError(adapter, "FeedNotFound");
      await expect(adapter.connect(governor).setAnswerBounds(ETH, MIN, MAX))
        .to.emit(adapter, "AnswerBoundsSet")
        .withArgs(ETH, MIN, MAX);
      expect((await adapter.feedConfig(ETH)).bounded).to.equal(true);
      const b = await adapter.answerBounds(ETH);
      expect([b.minAnswer, b.maxAnswer]).to.deep.equal([MIN, MAX]);
      await expect(adapter.connect(governor).setAnswerBounds(ETH, 0n, 0n))
        .to.emit(adapter, "AnswerBoundsSet")
        .withArgs(ETH, 0n, 0n);
      expect((await adapter.feedConfig(ETH)).bounded).to.equal(false);
    });

    it("refuses an answer at or beyond a bound in every read (AnswerAtAggregatorBound); inside, reads as before", async function () {
      const { adapter, feed, governor } = await networkHelpers.loadFixture(deployOracle);
      await adapter.connect(governor).setAnswerBounds(ETH, MIN, MAX);
      expect((await adapter.getPriceAndVolatility(ETH))[0]).to.equal(2000n * WAD);
      for (const clamped of [MIN, MAX]) {
        await feed.updateAnswer(clamped);
        await expect(adapter.getPriceAndVolatility(ETH))
          .to.be.revertedWithCustomError(adapter, "AnswerAtAggregatorBound")
          .withArgs(ETH, clamped, MIN, MAX);
        await expect(adapter.latestPrice(ETH)).to.be.revertedWithCustomError(adapter, "AnswerAtAggregatorBound");
        await expect(adapter.updateVolatility(ETH, 8)).to.be.revertedWithCustomError(
          adapter,
          "AnswerAtAggregatorBound",
        );
      }
      await feed.updateAnswer(MIN + 1n);
      expect((await adapter.getPriceAndVolatility(ETH))[0]).to.equal(((MIN + 1n) * WAD) / 10n ** 8n);
      // without bounds the same clamped answer is read as a price (what happened to LUNA's feeds)
      await feed.updateAnswer(MIN);
      await adapter.connect(governor).setAnswerBounds(ETH, 0n, 0n);
      expect((await adapter.getPriceAndVolatility(ETH))[0]).to.equal(100n * WAD);
    });

    it("re-pointing the feed to another aggregator clears its bounds (they belong to the aggregator)", async function () {
      const { adapter, governor } = await networkHelpers.loadFixture(deployOracle);
      await adapter.connect(governor).setAnswerBounds(ETH, MIN, MAX);
      const other: MockAggregator = await ethers.deployContract("MockAggregator", [8, PRICE0, "ETH / USD"]);
      await expect(adapter.connect(governor).setFeed(ETH, await other.getAddress(), HEARTBEAT, WINDOW, SIGMA0))
        .to.emit(adapter, "AnswerBoundsSet")
        .withArgs(ETH, 0n, 0n);
      expect((await adapter.feedConfig(ETH)).bounded).to.equal(false);
      expect((await adapter.answerBounds(ETH)).maxAnswer).to.equal(0n);
    });
  });
});
