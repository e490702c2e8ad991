/**
 * Bad input: every refused call reverts with the exact custom error and its numbers, and leaves
 * balances, margins, positions and markets exactly as they were (snapshotState before == after).
 */
import { expect } from "chai";
import { encodeBytes32String } from "ethers";
import { network } from "hardhat";

import { DEFAULT_MARKETS, WAD, feedId, marketConfig, type MarketSpec } from "../../deploy/params.js";
import type { MockAggregator, MockUSDC } from "../../types/ethers-contracts/index.js";
import { deployProtocol } from "../../deploy/protocol.js";
import {
  BTC,
  ETH,
  MAX_PRICE,
  USDC,
  deployWorld,
  openAccount,
  snapshotState,
  units,
  type Books,
  type World,
} from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const SCALE = 10n ** 12n;
const ETH_SPEC = DEFAULT_MARKETS[0];
const ETH_FEED = feedId("ETH");
const ETH_ANSWER = 2000n * 10n ** 8n;
const HEARTBEAT = BigInt(ETH_SPEC.heartbeat);
const INT256_MAX = 2n ** 255n - 1n;

/** Awaits a call expected to revert and checks that it changed nothing the snapshot covers. */
async function unchanged(w: Books, accountIds: bigint[], refused: () => Promise<void>): Promise<void> {
  const before = await snapshotState(w, accountIds);
  await refused();
  expect(await snapshotState(w, accountIds)).to.equal(before);
}

async function world() {
  const w = await deployWorld(ethers);
  const alice = await openAccount(w, w.alice, 10_000n * USDC);
  const bob = await openAccount(w, w.bob, 10_000n * USDC);
  return { w, alice, bob, ids: [alice, bob] };
}

describe("Bad input: sizes and market ids", function () {
  it("refuses a zero size delta", async function () {
    const { w, alice, ids } = await loadFixture(world);
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, 0n, MAX_PRICE)).to.be.revertedWithCustomError(
        w.engine,
        "ZeroSizeDelta",
      ),
    );
  });

  it("refuses a trade above maxTradeSize on either side and accepts maxTradeSize itself", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const max = ETH_SPEC.maxTradeSize;
    for (const delta of [max + 1n, -(max + 1n)]) {
      await unchanged(w, ids, () =>
        expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, delta, delta > 0n ? MAX_PRICE : 0n))
          .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
          .withArgs(ETH, max + 1n, max),
      );
    }
    // 10,000 ETH is ~20M notional: enough margin for it shows the bound itself is a valid size.
    await w.engine.connect(w.alice).deposit(alice, 2_000_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, max, MAX_PRICE);
    expect((await w.engine.position(alice, ETH)).size).to.equal(max);
  });

  it("refuses giant int256 sizes with TradeSizeTooLarge, not a panic", async function () {
    const { w, alice, bob, ids } = await loadFixture(world);
    const max = ETH_SPEC.maxTradeSize;
    const giant = 2n ** 200n;
    for (const delta of [giant, -giant, INT256_MAX]) {
      await unchanged(w, ids, () =>
        expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, delta, delta > 0n ? MAX_PRICE : 0n))
          .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
          .withArgs(ETH, delta > 0n ? delta : -delta, max),
      );
    }
    // With a position open, a giant delta the other way would flip it: still a clean refusal.
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(10), 0n);
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, -giant, 0n))
        .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
        .withArgs(ETH, giant, max),
    );
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.bob).modifyPosition(bob, ETH, INT256_MAX, MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
        .withArgs(ETH, INT256_MAX, max),
    );
  });

  it("refuses markets that are not listed with MarketNotFound", async function () {
    const { w, alice, ids } = await loadFixture(world);
    for (const marketId of [2n, 95n, 96n, 2n ** 255n]) {
      await unchanged(w, ids, () =>
        expect(w.engine.connect(w.alice).modifyPosition(alice, marketId, units(1), MAX_PRICE))
          .to.be.revertedWithCustomError(w.engine, "MarketNotFound")
          .withArgs(marketId),
      );
    }
    await unchanged(w, ids, () =>
      expect(w.engine.accrue(7n)).to.be.revertedWithCustomError(w.engine, "MarketNotFound").withArgs(7n),
    );
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.governor).setMarketConfig(7n, marketConfig(ETH_SPEC)))
        .to.be.revertedWithCustomError(w.engine, "MarketNotFound")
        .withArgs(7n),
    );
  });

  it("refuses to list a market id >= 96, a listed id again, or a feed the oracle does not know", async function () {
    const { w, ids } = await loadFixture(world);
    const gov = w.engine.connect(w.governor);
    const listedBefore = await w.engine.listedMarkets();
    for (const marketId of [96n, 2n ** 256n - 1n]) {
      await unchanged(w, ids, () =>
        expect(gov.listMarket(marketId, marketConfig(ETH_SPEC)))
          .to.be.revertedWithCustomError(w.engine, "ParameterOutOfBounds")
          .withArgs(encodeBytes32String("marketId"), marketId, 0n, 95n),
      );
    }
    await unchanged(w, ids, () =>
      expect(gov.listMarket(ETH, marketConfig(ETH_SPEC)))
        .to.be.revertedWithCustomError(w.engine, "MarketAlreadyListed")
        .withArgs(ETH),
    );
    const unknownFeed = feedId("DOGE");
    await unchanged(w, ids, () =>
      expect(gov.listMarket(2n, { ...marketConfig(ETH_SPEC), feedId: unknownFeed }))
        .to.be.revertedWithCustomError(w.oracle, "FeedNotFound")
        .withArgs(unknownFeed),
    );
    expect(await w.engine.listedMarkets()).to.equal(listedBefore);
    // The highest id is listable: the bound is 95, not lower.
    await expect(gov.listMarket(95n, marketConfig(ETH_SPEC)))
      .to.emit(w.engine, "MarketListed")
      .withArgs(95n, ETH_FEED);
    expect(await w.engine.listedMarkets()).to.equal(listedBefore | (1n << 95n));
  });
});

describe("Bad input: oracle answers seen through the engine", function () {
  const buyOne = (w: World, account: bigint) =>
    w.engine.connect(w.alice).modifyPosition(account, ETH, units(1), MAX_PRICE);

  it("refuses a stale answer one second past the heartbeat, not at the heartbeat", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const [, , , updatedAt] = await w.feeds.get(ETH)!.latestRoundData();
    await time.setNextBlockTimestamp(updatedAt + HEARTBEAT);
    await buyOne(w, alice);
    await time.setNextBlockTimestamp(updatedAt + HEARTBEAT + 1n);
    await unchanged(w, ids, () =>
      expect(buyOne(w, alice))
        .to.be.revertedWithCustomError(w.oracle, "StaleAnswer")
        .withArgs(ETH_FEED, updatedAt, HEARTBEAT, updatedAt + HEARTBEAT + 1n),
    );
  });

  it("refuses zero and negative answers", async function () {
    const { w, alice, ids } = await loadFixture(world);
    for (const answer of [0n, -1n, -ETH_ANSWER]) {
      await w.feeds.get(ETH)!.updateAnswer(answer);
      await unchanged(w, ids, () =>
        expect(buyOne(w, alice))
          .to.be.revertedWithCustomError(w.oracle, "NonPositiveAnswer")
          .withArgs(ETH_FEED, answer),
      );
    }
  });

  it("refuses an incomplete round: answeredInRound < roundId, or updatedAt == 0", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const feed = w.feeds.get(ETH)!;
    const latest = await feed.latestRound();
    const now = BigInt(await time.latest());
    await feed.setRoundData(latest + 1n, ETH_ANSWER, now, now, latest);
    await unchanged(w, ids, () =>
      expect(buyOne(w, alice))
        .to.be.revertedWithCustomError(w.oracle, "IncompleteRound")
        .withArgs(ETH_FEED, latest + 1n, latest, now),
    );
    await feed.setRoundData(latest + 2n, ETH_ANSWER, 0n, 0n, latest + 2n);
    await unchanged(w, ids, () =>
      expect(buyOne(w, alice))
        .to.be.revertedWithCustomError(w.oracle, "IncompleteRound")
        .withArgs(ETH_FEED, latest + 2n, latest + 2n, 0n),
    );
  });

  it("refuses an answer stamped in the future", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const feed = w.feeds.get(ETH)!;
    const now = BigInt(await time.latest());
    await feed.pushRound(ETH_ANSWER, now + 600n);
    const tradeTime = now + 10n;
    await time.setNextBlockTimestamp(tradeTime);
    await unchanged(w, ids, () =>
      expect(buyOne(w, alice))
        .to.be.revertedWithCustomError(w.oracle, "AnswerFromTheFuture")
        .withArgs(ETH_FEED, now + 600n, tradeTime),
    );
  });

  it("refuses while the L2 sequencer is down, unknown, or inside its grace period", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const grace = 3600n;
    // Chainlink's sequencer-uptime feed: 0 decimals, answer 1 = down, startedAt = last status change.
    const sequencer = await ethers.deployContract("MockAggregator", [0, 1, "L2 Sequencer Uptime Status Feed"]);
    await expect(w.oracle.connect(w.governor).setSequencerFeed(sequencer, grace))
      .to.emit(w.oracle, "SequencerFeedSet")
      .withArgs(await sequencer.getAddress(), grace);

    await unchanged(w, ids, () =>
      expect(buyOne(w, alice)).to.be.revertedWithCustomError(w.oracle, "SequencerDown").withArgs(sequencer),
    );

    // startedAt == 0: a round that was never initialised reads as down.
    const round = (await sequencer.latestRound()) + 1n;
    await sequencer.setRoundData(round, 0n, 0n, BigInt(await time.latest()), round);
    await unchanged(w, ids, () =>
      expect(buyOne(w, alice)).to.be.revertedWithCustomError(w.oracle, "SequencerDown").withArgs(sequencer),
    );

    await sequencer.updateAnswer(0n);
    const upSince = BigInt(await time.latest());
    await time.setNextBlockTimestamp(upSince + grace - 1n);
    await unchanged(w, ids, () =>
      expect(buyOne(w, alice))
        .to.be.revertedWithCustomError(w.oracle, "SequencerGracePeriodNotOver")
        .withArgs(upSince, grace, upSince + grace - 1n),
    );

    // Once the grace period is over (and the price feed fresh again) trading resumes.
    await time.setNextBlockTimestamp(upSince + grace);
    await w.feeds.get(ETH)!.updateAnswer(ETH_ANSWER);
    await buyOne(w, alice);
    expect((await w.engine.position(alice, ETH)).size).to.equal(units(1));
  });
});

describe("Bad input: prices, caps, margin and ownership", function () {
  it("refuses a buy filled above its limit price and accepts the exact fill", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const [fill] = await w.engine.quoteTrade(ETH, units(10), 0n);
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), fill - 1n))
        .to.be.revertedWithCustomError(w.engine, "LimitPriceMissed")
        .withArgs(fill, fill - 1n, true),
    );
    await expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), fill))
      .to.emit(w.engine, "PositionModified")
      .withArgs(alice, ETH, units(10), units(10), fill, (fee: bigint) => fee > 0n, 0n, 0n);
  });

  it("refuses a sell filled below its limit price and accepts the exact fill", async function () {
    const { w, bob, ids } = await loadFixture(world);
    const [fill] = await w.engine.quoteTrade(ETH, -units(10), 0n);
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(10), fill + 1n))
        .to.be.revertedWithCustomError(w.engine, "LimitPriceMissed")
        .withArgs(fill, fill + 1n, false),
    );
    await expect(w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(10), fill))
      .to.emit(w.engine, "PositionModified")
      .withArgs(bob, ETH, -units(10), -units(10), fill, (fee: bigint) => fee > 0n, 0n, 0n);
  });

  it("refuses to grow open interest past a cap the governor lowered", async function () {
    const { w, alice, bob, ids } = await loadFixture(world);
    const cap = units(50);
    await w.engine.connect(w.governor).setMarketConfig(ETH, {
      ...marketConfig(ETH_SPEC),
      maxOpenInterest: cap,
      maxTradeSize: cap,
    });
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(40), MAX_PRICE);
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.bob).modifyPosition(bob, ETH, units(20), MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "OpenInterestCapExceeded")
        .withArgs(ETH, units(60), cap),
    );
    // Up to the cap itself is fine; the short side has its own cap.
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, units(10), MAX_PRICE);
    expect((await w.engine.marketState(ETH)).longOpenInterest).to.equal(cap);
  });

  it("refuses to grow open interest past a cap the guardian lowered (and the trade size with it)", async function () {
    const { w, alice, bob, ids } = await loadFixture(world);
    const cap = units(30);
    await w.engine.connect(w.guardian).lowerOpenInterestCap(ETH, cap);
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.alice).modifyPosition(alice, ETH, -(cap + 1n), 0n))
        .to.be.revertedWithCustomError(w.engine, "TradeSizeTooLarge")
        .withArgs(ETH, cap + 1n, cap),
    );
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(20), 0n);
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(11), 0n))
        .to.be.revertedWithCustomError(w.engine, "OpenInterestCapExceeded")
        .withArgs(ETH, units(31), cap),
    );
  });

  it("refuses to withdraw more than the free margin of an account with positions", async function () {
    const { w, alice, bob, ids } = await loadFixture(world);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(40), MAX_PRICE);
    // Bob takes the other side: zero skew, zero funding rate, so free margin no longer moves with time.
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(40), 0n);
    const s = await w.engine.accountSummary(alice);
    const free = s.equity - s.initialMargin;
    expect(free).to.be.greaterThan(0n);
    expect(free).to.be.lessThan(s.margin);
    const tooMuch = free / SCALE + 1n;
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.alice).withdraw(alice, tooMuch, w.alice.address))
        .to.be.revertedWithCustomError(w.engine, "InsufficientFreeMargin")
        .withArgs(alice, tooMuch * SCALE, free),
    );
    await expect(w.engine.connect(w.alice).withdraw(alice, free / SCALE, w.alice.address))
      .to.emit(w.vault, "MarginWithdrawn")
      .withArgs(alice, w.alice.address, free / SCALE);
  });

  it("refuses to withdraw more than the balance of an account without positions", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const balance = 10_000n * USDC;
    await unchanged(w, ids, () =>
      expect(w.engine.connect(w.alice).withdraw(alice, balance + 1n, w.alice.address))
        .to.be.revertedWithCustomError(w.engine, "InsufficientFreeMargin")
        .withArgs(alice, (balance + 1n) * SCALE, balance * SCALE),
    );
    await expect(w.engine.connect(w.alice).withdraw(alice, balance, w.alice.address)).to.changeTokenBalances(
      ethers,
      w.usdc,
      [w.alice, w.vault],
      [balance, -balance],
    );
    expect(await w.vault.marginOf(alice)).to.equal(0n);
  });

  it("refuses zero amounts, withdrawing to address(0) and depositing to an account that does not exist", async function () {
    const { w, alice, ids } = await loadFixture(world);
    const e = w.engine.connect(w.alice);
    await unchanged(w, ids, () => expect(e.deposit(alice, 0n)).to.be.revertedWithCustomError(w.vault, "ZeroAmount"));
    await unchanged(w, ids, () =>
      expect(e.withdraw(alice, 0n, w.alice.address)).to.be.revertedWithCustomError(w.engine, "ZeroAmount"),
    );
    await unchanged(w, ids, () =>
      expect(e.withdraw(alice, USDC, ethers.ZeroAddress)).to.be.revertedWithCustomError(w.engine, "ZeroAddress"),
    );
    const next = await w.engine.nextAccountId();
    for (const missing of [0n, next, 2n ** 256n - 1n]) {
      await unchanged(w, ids, () =>
        expect(e.deposit(missing, USDC)).to.be.revertedWithCustomError(w.engine, "AccountNotFound").withArgs(missing),
      );
      await unchanged(w, ids, () =>
        expect(e.modifyPosition(missing, ETH, units(1), MAX_PRICE))
          .to.be.revertedWithCustomError(w.engine, "AccountNotFound")
          .withArgs(missing),
      );
    }
  });

  it("refuses trading, closing and withdrawing from someone else's account", async function () {
    const { w, alice, ids } = await loadFixture(world);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE);
    const bobOnAlice = w.engine.connect(w.bob);
    await unchanged(w, ids, () =>
      expect(bobOnAlice.modifyPosition(alice, ETH, -units(1), 0n))
        .to.be.revertedWithCustomError(w.engine, "NotAccountOwner")
        .withArgs(alice, w.bob.address),
    );
    await unchanged(w, ids, () =>
      expect(bobOnAlice.closePosition(alice, ETH, 0n))
        .to.be.revertedWithCustomError(w.engine, "NotAccountOwner")
        .withArgs(alice, w.bob.address),
    );
    await unchanged(w, ids, () =>
      expect(bobOnAlice.withdraw(alice, USDC, w.bob.address))
        .to.be.revertedWithCustomError(w.engine, "NotAccountOwner")
        .withArgs(alice, w.bob.address),
    );
  });

  it("refuses to close a position that does not exist", async function () {
    const { w, alice, ids } = await loadFixture(world);
    for (const marketId of [ETH, BTC, 50]) {
      await unchanged(w, ids, () =>
        expect(w.engine.connect(w.alice).closePosition(alice, marketId, 0n))
          .to.be.revertedWithCustomError(w.engine, "NoPosition")
          .withArgs(alice, marketId),
      );
    }
  });

  it("refuses a trade the margin cannot carry with MarginBelowInitial(equity, requirement)", async function () {
    const { w, ids } = await loadFixture(world);
    const small = 100n * USDC;
    const carol = await openAccount(w, w.carol, small);
    const size = units(10); // ~20k notional on 100 USDC
    // Probe: the same trade with more margin succeeds. Fill, fee and requirement do not depend on
    // the margin (the fee is well below it), so the refused trade's equity is the probe's less the
    // extra margin, and its requirement is the probe's.
    const extra = 10_000n * USDC;
    const probe = await networkHelpers.takeSnapshot();
    await w.engine.connect(w.carol).deposit(carol, extra);
    await w.engine.connect(w.carol).modifyPosition(carol, ETH, size, MAX_PRICE);
    const s = await w.engine.accountSummary(carol);
    await probe.restore();
    const equity = s.equity - extra * SCALE;
    expect(equity).to.be.greaterThan(0n);
    expect(equity).to.be.lessThan(s.initialMargin);
    await unchanged(w, [...ids, carol], () =>
      expect(w.engine.connect(w.carol).modifyPosition(carol, ETH, size, MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "MarginBelowInitial")
        .withArgs(carol, equity, s.initialMargin),
    );
  });
});

describe("Bad input: a ninth position", function () {
  // Seven more markets, ids 2..8, priced like ETH: nine listed markets, one more than an account may hold.
  const EXTRA: MarketSpec[] = [2, 3, 4, 5, 6, 7, 8].map((id) => ({ ...ETH_SPEC, id, symbol: `M${id}` }));

  async function nineMarkets() {
    const base = await world();
    const { w } = base;
    for (const m of EXTRA) {
      const feed = await ethers.deployContract("MockAggregator", [m.feedDecimals, ETH_ANSWER, `${m.symbol} / USD`]);
      w.feeds.set(m.id, feed as MockAggregator);
      await w.oracle.connect(w.governor).setFeed(feedId(m.symbol), feed, m.heartbeat, m.volWindow, m.initialSigma);
      await w.engine.connect(w.governor).listMarket(m.id, marketConfig(m));
    }
    return { ...base, w: { ...w, markets: [...w.markets, ...EXTRA] } };
  }

  it("refuses a position in a ninth market with TooManyPositions, and allows it once one is closed", async function () {
    const { w, alice, ids } = await loadFixture(nineMarkets);
    const e = w.engine.connect(w.alice);
    for (let m = 0; m < 8; m++) await e.modifyPosition(alice, m, WAD / 10n, MAX_PRICE);
    expect(await w.engine.accountMarkets(alice)).to.have.length(8);
    await unchanged(w, ids, () =>
      expect(e.modifyPosition(alice, 8, WAD / 10n, MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "TooManyPositions")
        .withArgs(alice, 8n),
    );
    // Growing one of the eight is not a new position.
    await e.modifyPosition(alice, 7, WAD / 10n, MAX_PRICE);
    await e.closePosition(alice, 3, 0n);
    await e.modifyPosition(alice, 8, WAD / 10n, MAX_PRICE);
    expect(await w.engine.accountMarkets(alice)).to.deep.equal([0n, 1n, 2n, 4n, 5n, 6n, 7n, 8n]);
  });
});

describe("Bad input: a reduce-only market", function () {
  it("refuses opening, growing and flipping, but lets positions shrink and close and margin come in", async function () {
    const { w, alice, bob } = await loadFixture(world);
    const carol = await openAccount(w, w.carol, 10_000n * USDC);
    const ids = [alice, bob, carol];
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(5), 0n);
    await expect(w.engine.connect(w.guardian).restrictMarket(ETH))
      .to.emit(w.engine, "MarketReduceOnlySet")
      .withArgs(ETH, true, w.guardian.address);

    const refused: [string, bigint, bigint][] = [
      ["carol opens", carol, units(1)],
      ["alice grows her long", alice, units(1)],
      ["alice flips to short", alice, -units(20)],
      ["bob grows his short", bob, -units(1)],
    ];
    const signer = new Map([
      [alice, w.alice],
      [bob, w.bob],
      [carol, w.carol],
    ]);
    for (const [, account, delta] of refused) {
      await unchanged(w, ids, () =>
        expect(w.engine.connect(signer.get(account)!).modifyPosition(account, ETH, delta, delta > 0n ? MAX_PRICE : 0n))
          .to.be.revertedWithCustomError(w.engine, "MarketReduceOnly")
          .withArgs(ETH),
      );
    }

    await w.engine.connect(w.alice).modifyPosition(alice, ETH, -units(4), 0n);
    expect((await w.engine.position(alice, ETH)).size).to.equal(units(6));
    await expect(w.engine.connect(w.alice).deposit(alice, 100n * USDC))
      .to.emit(w.vault, "MarginDeposited")
      .withArgs(alice, w.alice.address, 100n * USDC);
    await w.engine.connect(w.alice).closePosition(alice, ETH, 0n);
    await w.engine.connect(w.bob).closePosition(bob, ETH, MAX_PRICE);
    const st = await w.engine.marketState(ETH);
    expect([st.longOpenInterest, st.shortOpenInterest]).to.deep.equal([0n, 0n]);
    // Other markets are not affected.
    await w.engine.connect(w.carol).modifyPosition(carol, BTC, units(1), MAX_PRICE);
    expect((await w.engine.position(carol, BTC)).size).to.equal(units(1));
  });
});

describe("Bad input: fee-on-transfer collateral", function () {
  async function feeToken() {
    const [admin, governor, guardian, lp, alice, bob, carol, stranger] = await ethers.getSigners();
    const token = await ethers.deployContract("FeeOnTransferToken");
    for (const s of [lp, alice]) await token.mint(s.address, 1_000_000n * USDC);
    return { token, signers: { admin, governor, guardian, lp, alice, bob, carol, stranger } };
  }

  it("a lone Vault refuses LP deposits and mints with BalanceChangingToken", async function () {
    const { token, signers } = await loadFixture(feeToken);
    const { admin, governor, lp } = signers;
    const vault = await ethers.deployContract("Vault", [token, admin.address, governor.address]);
    await token.connect(lp).approve(vault, 2n ** 256n - 1n);
    const amount = 1_000n * USDC;
    const received = amount - amount / 100n;
    const state = async () => [
      await token.balanceOf(vault),
      await token.balanceOf(lp),
      await vault.totalSupply(),
      await vault.lpPoolWad(),
    ];
    const before = await state();
    await expect(vault.connect(lp).deposit(amount, lp.address))
      .to.be.revertedWithCustomError(vault, "BalanceChangingToken")
      .withArgs(amount, received);
    const shares = await vault.previewDeposit(amount);
    await expect(vault.connect(lp).mint(shares, lp.address))
      .to.be.revertedWithCustomError(vault, "BalanceChangingToken")
      .withArgs(amount, received);
    expect(await state()).to.deep.equal(before);
  });

  it("the engine refuses margin deposits in it with BalanceChangingToken; nothing moves", async function () {
    const { token, signers } = await loadFixture(feeToken);
    const { admin, governor, guardian, alice } = signers;
    const { vault, engine } = await deployProtocol(ethers, {
      admin: admin.address,
      governor: governor.address,
      guardian: guardian.address,
      collateral: await token.getAddress(),
    });
    await token.connect(alice).approve(vault, 2n ** 256n - 1n);
    await engine.connect(alice).createAccount();
    const account = 1n;

    // snapshotState only calls balanceOf on the collateral, which every ERC-20 has.
    const usdc = token as unknown as MockUSDC;
    const w: Books = { usdc, vault, engine, markets: DEFAULT_MARKETS };
    const amount = 500n * USDC;
    const aliceBefore = await token.balanceOf(alice);
    await unchanged(w, [account], () =>
      expect(engine.connect(alice).deposit(account, amount))
        .to.be.revertedWithCustomError(vault, "BalanceChangingToken")
        .withArgs(amount, amount - amount / 100n),
    );
    expect(await token.balanceOf(alice)).to.equal(aliceBefore);
    expect(await vault.marginOf(account)).to.equal(0n);
  });
});

// Absurd inputs that once reverted with an arithmetic panic (0x11), found by the bad-input review and
// fixed by bounding sizes and amounts first: each is now refused with a custom error.
const INT256_MIN = -(2n ** 255n);
const UINT256_MAX = 2n ** 256n - 1n;
const PANIC_SELECTOR = "0x4e487b71"; // Panic(uint256)
const MAX_TRADE = DEFAULT_MARKETS[0].maxTradeSize;

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

describe("Bad input: custom errors, not panics, on absurd inputs", function () {
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
