/**
 * Two-step orders (IOrders, the OrderModule at the engine's address): the oracle front-running attack
 * on the one-step path and its failure on the two-step path, the proof that the settlement round is the
 * first one after commit time + minDelay, expiry, cancel and the escrow, settlement by a stranger, a
 * pending order through a crash, reductions while pending, the stress level at settlement, batches,
 * and the parameters' bounds and access.
 */
import { expect } from "chai";
import { Contract, Interface } from "ethers";
import { network } from "hardhat";

import { DEFAULT_MARKETS, WAD, feedId, marketConfig, type MarketSpec } from "../../deploy/params.js";
import type { OrderParams } from "../../deploy/protocol.js";
import { keeperSettings } from "../../scripts/keeper/config.js";
import type { ChainView } from "../../scripts/keeper/chainView.js";
import { AGGREGATOR_ABI, type ProtocolContracts } from "../../scripts/keeper/contracts.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { KeeperMetrics } from "../../scripts/keeper/metrics.js";
import { SETTLE_GAS_OVERHEAD, SETTLE_GAS_PER_ORDER, Settler, settleGasLimit } from "../../scripts/keeper/settler.js";
import type { TxManager } from "../../scripts/keeper/txManager.js";
import type { IOrders, MockAggregator } from "../../types/ethers-contracts/index.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPrice, type World } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const ORDERS: OrderParams = { minDelay: 2, maxDelay: 120, settlementReward: WAD };
const errors = new Interface([
  "error MarketReduceOnly(uint256 marketId)",
  "error LimitPriceMissed(uint256 fillPrice, uint256 limitPrice, bool isBuy)",
  "error MarginBelowInitial(uint256 accountId, int256 equity, uint256 initialMargin)",
  "error AccountUnderwater(uint256 accountId, uint256 shortfall)",
]);
const selector = (name: string) => errors.getError(name)!.selector;

type OrderWorld = World & { orders: IOrders };

async function withOrders(w: World): Promise<OrderWorld> {
  const orders = (await ethers.getContractAt("IOrders", await w.engine.getAddress())) as unknown as IOrders;
  return { ...w, orders };
}

async function ordersOnFixture(): Promise<OrderWorld> {
  return withOrders(await deployWorld(ethers, { orders: ORDERS }));
}

async function ordersOffFixture(): Promise<OrderWorld> {
  return withOrders(await deployWorld(ethers));
}

/** Market ids 2..7 listed like ETH: with ETH and BTC, eight markets, the most an account may hold. */
const EXTRA_MARKETS: MarketSpec[] = [2, 3, 4, 5, 6, 7].map((id) => ({ ...DEFAULT_MARKETS[0], id, symbol: `M${id}` }));
const LAST_LEG = 7;

/**
 * Orders on, eight markets, and Alice's account `eightLegs` holding a position in seven of them (each
 * opened through an order), so that an order in the eighth makes the fill's margin check walk eight legs.
 */
async function eightLegsFixture(): Promise<OrderWorld & { eightLegs: bigint }> {
  const w = await ordersOnFixture();
  for (const m of EXTRA_MARKETS) {
    const feed = await ethers.deployContract("MockAggregator", [
      m.feedDecimals,
      2000n * 10n ** 8n,
      `${m.symbol} / USD`,
    ]);
    w.feeds.set(m.id, feed as unknown as MockAggregator);
    await w.oracle.connect(w.governor).setFeed(feedId(m.symbol), feed, m.heartbeat, m.volWindow, m.initialSigma);
    await w.engine.connect(w.governor).listMarket(m.id, marketConfig(m));
  }
  const a = await openAccount(w, w.alice, 100_000n * USDC);
  for (let m = 0; m < LAST_LEG; m++) {
    await w.orders.connect(w.alice).commitOrder(a, m, WAD / 10n, MAX_PRICE);
    await time.increase(ORDERS.minDelay);
    const feed = w.feeds.get(m)!;
    await feed.updateAnswer((await feed.latestRoundData())[1]);
    await w.orders.connect(w.bob).settleOrder(a, (await feed.latestRoundData())[0]);
  }
  return { ...w, markets: [...w.markets, ...EXTRA_MARKETS], eightLegs: a };
}

async function latestRound(w: World, marketId = ETH): Promise<bigint> {
  return (await w.feeds.get(marketId)!.latestRoundData())[0];
}

/** Pushes a round at least minDelay after the last block and returns its id. */
async function roundAfterDelay(w: World, priceUsd: bigint): Promise<bigint> {
  await time.increase(ORDERS.minDelay);
  await setPrice(w, ETH, priceUsd);
  return latestRound(w);
}

describe("Two-step orders", function () {
  describe("the oracle front-running attack", function () {
    it("one step (orders off): a trader who knows the next round takes the move from the pool", async function () {
      const w = await loadFixture(ordersOffFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      const before = await w.vault.marginOf(a);
      await w.engine.connect(w.alice).modifyPosition(a, ETH, 10n * WAD, MAX_PRICE);
      await setPrice(w, ETH, 2100n); // the round the attacker saw coming
      await w.engine.connect(w.alice).closePosition(a, ETH, 0);
      const profit = (await w.vault.marginOf(a)) - before;
      // 10 ETH * $100 less two fees and the skew premium: risk-free, paid by the LPs.
      expect(profit).to.be.gt(900n * WAD);
    });

    it("two steps: the fill is at a round after the commit, so the known round is worth nothing", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      const before = await w.vault.marginOf(a);
      await expect(w.engine.connect(w.alice).modifyPosition(a, ETH, 10n * WAD, MAX_PRICE))
        .to.be.revertedWithCustomError(w.engine, "RiskNeedsOrder")
        .withArgs(a, ETH);
      await w.orders.connect(w.alice).commitOrder(a, ETH, 10n * WAD, MAX_PRICE);
      // The round lands in the next block: before commit time + minDelay, it cannot fill the order.
      await setPrice(w, ETH, 2100n);
      const early = await latestRound(w);
      await expect(w.orders.connect(w.bob).settleOrder(a, early)).to.be.revertedWithCustomError(
        w.orders,
        "RoundTooEarly",
      );
      const round = await roundAfterDelay(w, 2100n);
      await expect(w.orders.connect(w.bob).settleOrder(a, round)).to.emit(w.orders, "OrderSettled");
      const p = await w.engine.position(a, ETH);
      expect(p.size).to.equal(10n * WAD);
      await w.engine.connect(w.alice).closePosition(a, ETH, 0);
      // Filled at 2100 and closed at 2100: the fees and the reward are lost, the move is not won.
      expect(await w.vault.marginOf(a)).to.be.lt(before - ORDERS.settlementReward);
    });
  });

  describe("the settlement round", function () {
    it("refuses a round from before the commit", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      const old = await latestRound(w);
      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE);
      await time.increase(10);
      await expect(w.orders.connect(w.bob).settleOrder(a, old)).to.be.revertedWithCustomError(
        w.orders,
        "RoundBeforeCommit",
      );
      expect((await w.orders.pendingOrder(a)).committedAt).to.not.equal(0n);
    });

    it("refuses a later round than the first one after commit + minDelay, and takes the first", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE);
      const first = await roundAfterDelay(w, 1990n);
      const second = await roundAfterDelay(w, 2050n);
      await expect(w.orders.connect(w.bob).settleOrder(a, second)).to.be.revertedWithCustomError(
        w.orders,
        "NotFirstRound",
      );
      const tx = w.orders.connect(w.bob).settleOrder(a, first);
      await expect(tx)
        .to.emit(w.orders, "OrderSettled")
        .withArgs(a, ETH, WAD, first, 1990n * WAD, w.bob.address, ORDERS.settlementReward, (d: bigint) => d > 0n);
      // Filled around the first round's price (1990 plus the skew premium), not the latest (2050).
      const basis = (await w.engine.position(a, ETH)).basis;
      expect(basis).to.be.gte(1990n * WAD);
      expect(basis).to.be.lt(1991n * WAD);
    });

    it("a stranger settles and is paid the reward from the trader's margin", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE);
      const round = await roundAfterDelay(w, 2000n);
      const margin = await w.vault.marginOf(a);
      expect(await w.vault.keeperRewardsOf(w.stranger.address)).to.equal(0n);
      await w.orders.connect(w.stranger).settleOrder(a, round);
      expect(await w.vault.keeperRewardsOf(w.stranger.address)).to.equal(ORDERS.settlementReward);
      // The reward and the trade's fee left the margin.
      expect(await w.vault.marginOf(a)).to.be.lt(margin - ORDERS.settlementReward);
      expect((await w.orders.pendingOrder(a)).committedAt).to.equal(0n);
      await expect(w.orders.connect(w.stranger).settleOrder(a, round))
        .to.be.revertedWithCustomError(w.orders, "NoPendingOrder")
        .withArgs(a);
    });

    it("no gas limit makes a settlement pay the settler without filling: a starved fill reverts it all", async function () {
      // The fill walks every leg of an account holding eight positions (the most an account may hold), so
      // it costs far more than 64 times what the settlement does after it: at some gas limits the fill runs
      // out of gas while the outer call keeps its 1/64, enough to pay the settler and mark the order done.
      // Only the out-of-gas guard (an empty revert reason reverts the settlement) stops that.
      const w = await loadFixture(eightLegsFixture);
      const a = w.eightLegs;
      expect(await w.engine.accountMarkets(a)).to.have.length(7);
      await w.orders.connect(w.alice).commitOrder(a, LAST_LEG, WAD, MAX_PRICE);
      await time.increase(ORDERS.minDelay);
      await w.feeds.get(LAST_LEG)!.updateAnswer(2000n * 10n ** 8n);
      const round = await latestRound(w, LAST_LEG);
      const needed = await w.orders.connect(w.stranger).settleOrder.estimateGas(a, round);
      // The fixture's premise: 1/64 of what the fill needs covers the settlement's own tail (~5k gas).
      expect(needed, "the fill must cost well over 320k gas").to.be.gt(450_000n);
      const tryAt = async (gasLimit: bigint): Promise<"filled" | "reverted"> => {
        const snap = await networkHelpers.takeSnapshot();
        const ok = await w.orders
          .connect(w.stranger)
          .settleOrder(a, round, { gasLimit })
          .then((tx) => tx.wait())
          .then(
            () => true,
            () => false,
          );
        try {
          if (ok) {
            expect(
              (await w.engine.position(a, LAST_LEG)).size,
              `paid without filling at gas limit ${gasLimit}`,
            ).to.equal(WAD);
            expect(await w.vault.keeperRewardsOf(w.stranger.address)).to.equal(ORDERS.settlementReward);
            return "filled";
          }
          expect(
            (await w.orders.pendingOrder(a)).committedAt,
            `not pending after a revert at ${gasLimit}`,
          ).to.not.equal(0n);
          expect(await w.vault.keeperRewardsOf(w.stranger.address)).to.equal(0n);
          return "reverted";
        } finally {
          await snap.restore();
        }
      };
      // Coarsely over the whole range (a fill starved anywhere in it leaves the outer call between 2k and
      // the settlement's whole tail), then in 1k steps just below the first limit that fills.
      let lowestFill = needed;
      let starved = 0;
      for (let gasLimit = 200_000n; gasLimit < needed; gasLimit += 10_000n) {
        if ((await tryAt(gasLimit)) === "filled") {
          lowestFill = gasLimit;
          break;
        }
        starved++;
      }
      for (let gasLimit = lowestFill - 10_000n; gasLimit < lowestFill; gasLimit += 1_000n) {
        if ((await tryAt(gasLimit)) === "reverted") starved++;
      }
      expect(await tryAt(needed)).to.equal("filled");
      expect(starved).to.be.gt(10);
    });

    it("the limit price bounds the fill: a miss at the round refuses the order", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, 2010n * WAD);
      const round = await roundAfterDelay(w, 2100n);
      await expect(w.orders.connect(w.bob).settleOrder(a, round))
        .to.emit(w.orders, "OrderRefused")
        .withArgs(a, ETH, round, w.bob.address, ORDERS.settlementReward, selector("LimitPriceMissed"));
      expect((await w.engine.position(a, ETH)).size).to.equal(0n);
    });
  });

  describe("expiry, cancel and the escrow", function () {
    it("an order not settled in its window expires; anyone cancels it and the escrow stays in the margin", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 10_000n * USDC);
      const margin = await w.vault.marginOf(a);
      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE);
      const escrow = (await w.orders.pendingOrder(a)).escrow;
      expect(escrow).to.be.gt(ORDERS.settlementReward);
      // The escrow cannot be withdrawn while the order is pending.
      await expect(w.engine.connect(w.alice).withdraw(a, 10_000n * USDC, w.alice.address))
        .to.be.revertedWithCustomError(w.engine, "InsufficientFreeMargin")
        .withArgs(a, margin, margin - escrow);
      await expect(w.orders.connect(w.stranger).cancelOrder(a)).to.be.revertedWithCustomError(
        w.orders,
        "OrderNotExpired",
      );
      await expect(w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE)).to.be.revertedWithCustomError(
        w.orders,
        "OrderPending",
      );
      await time.increase(ORDERS.maxDelay + 1);
      const round = await roundAfterDelay(w, 2000n);
      await expect(w.orders.connect(w.bob).settleOrder(a, round)).to.be.revertedWithCustomError(
        w.orders,
        "OrderExpired",
      );
      await expect(w.orders.connect(w.stranger).cancelOrder(a))
        .to.emit(w.orders, "OrderCancelled")
        .withArgs(a, ETH, w.stranger.address);
      expect(await w.vault.marginOf(a)).to.equal(margin);
      await w.engine.connect(w.alice).withdraw(a, 10_000n * USDC, w.alice.address);
      expect(await w.vault.marginOf(a)).to.equal(0n);
    });

    it("a commit replaces its own expired order", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 10_000n * USDC);
      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE);
      await time.increase(ORDERS.maxDelay + 1);
      await expect(w.orders.connect(w.alice).commitOrder(a, ETH, 2n * WAD, MAX_PRICE))
        .to.emit(w.orders, "OrderCancelled")
        .and.to.emit(w.orders, "OrderCommitted");
      expect((await w.orders.pendingOrder(a)).sizeDelta).to.equal(2n * WAD);
    });

    it("refuses a commit that cannot pay its escrow, one that does not add risk, and a stranger's", async function () {
      const w = await loadFixture(ordersOnFixture);
      const poor = await openAccount(w, w.alice, 0n);
      await expect(w.orders.connect(w.alice).commitOrder(poor, ETH, WAD, MAX_PRICE)).to.be.revertedWithCustomError(
        w.orders,
        "InsufficientMarginForEscrow",
      );
      const b = await openAccount(w, w.bob, 10_000n * USDC);
      await expect(w.orders.connect(w.alice).commitOrder(b, ETH, WAD, MAX_PRICE)).to.be.revertedWithCustomError(
        w.engine,
        "NotAccountOwner",
      );
      await w.orders.connect(w.bob).commitOrder(b, ETH, WAD, MAX_PRICE);
      await w.orders.connect(w.stranger).settleOrder(b, await roundAfterDelay(w, 2000n));
      await expect(w.orders.connect(w.bob).commitOrder(b, ETH, -WAD / 2n, 0)).to.be.revertedWithCustomError(
        w.orders,
        "OrderNotRiskAdding",
      );
      await expect(w.orders.connect(w.bob).commitOrder(b, ETH, 0, 0)).to.be.revertedWithCustomError(
        w.engine,
        "ZeroSizeDelta",
      );
    });
  });

  describe("while an order is pending", function () {
    it("reductions and closes stay one step, at any stress level; the stress level applies at settlement", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      await w.orders.connect(w.alice).commitOrder(a, ETH, 10n * WAD, MAX_PRICE);
      await w.orders.connect(w.bob).settleOrder(a, await roundAfterDelay(w, 2000n));
      await w.orders.connect(w.alice).commitOrder(a, ETH, 5n * WAD, MAX_PRICE);
      await w.breaker!.connect(w.guardian).raiseLevel(ETH, 3); // reduce-only
      await w.engine.connect(w.alice).modifyPosition(a, ETH, -4n * WAD, 0);
      expect((await w.engine.position(a, ETH)).size).to.equal(6n * WAD);
      const round = await roundAfterDelay(w, 2000n);
      await expect(w.orders.connect(w.bob).settleOrder(a, round))
        .to.emit(w.orders, "OrderRefused")
        .withArgs(a, ETH, round, w.bob.address, ORDERS.settlementReward, selector("MarketReduceOnly"));
      expect((await w.engine.position(a, ETH)).size).to.equal(6n * WAD);
      await w.engine.connect(w.alice).closePosition(a, ETH, 0);
      expect((await w.engine.position(a, ETH)).size).to.equal(0n);
    });

    it("a crash: the account is liquidated with the order pending, then the order is refused by the margin check", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 10_000n * USDC);
      await w.orders.connect(w.alice).commitOrder(a, ETH, 40n * WAD, MAX_PRICE);
      await w.orders.connect(w.bob).settleOrder(a, await roundAfterDelay(w, 2000n));
      await w.orders.connect(w.alice).commitOrder(a, ETH, 5n * WAD, MAX_PRICE);
      const round = await roundAfterDelay(w, 1780n); // -11%: 40 ETH lose $8,800 of $10,000
      expect(await w.engine.isLiquidatable(a)).to.equal(true);
      await w.liquidationEngine.connect(w.stranger).liquidate(a);
      expect((await w.engine.position(a, ETH)).size).to.be.lt(40n * WAD);
      const tx = w.orders.connect(w.bob).settleOrder(a, round);
      await expect(tx).to.emit(w.orders, "OrderRefused");
      await expect(tx).to.not.emit(w.orders, "OrderSettled");
      expect((await w.orders.pendingOrder(a)).committedAt).to.equal(0n);
    });
  });

  describe("batches", function () {
    it("settleOrders settles many and skips what cannot be settled", async function () {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      const b = await openAccount(w, w.bob, 100_000n * USDC);
      const c = await openAccount(w, w.carol, 100_000n * USDC); // nothing pending
      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE);
      await w.orders.connect(w.bob).commitOrder(b, ETH, -WAD, 0);
      const round = await roundAfterDelay(w, 2000n);
      const done = await w.orders.connect(w.stranger).settleOrders.staticCall([a, b, c], [round, round, round]);
      expect(done).to.equal(2n);
      await w.orders.connect(w.stranger).settleOrders([a, b, c], [round, round, round]);
      expect((await w.engine.position(a, ETH)).size).to.equal(WAD);
      expect((await w.engine.position(b, ETH)).size).to.equal(-WAD);
      expect(await w.vault.keeperRewardsOf(w.stranger.address)).to.equal(2n * ORDERS.settlementReward);
      await expect(w.orders.settleOrders([a], [])).to.be.revertedWithCustomError(w.orders, "LengthMismatch");
    });
  });

  describe("the keeper's settle job", function () {
    /** Three orders settled by the job: the batch it sent, its gas limit and the requests it made. */
    async function settleThree(settings: Parameters<typeof keeperSettings>[0]) {
      const w = await loadFixture(ordersOnFixture);
      const a = await openAccount(w, w.alice, 100_000n * USDC);
      const b = await openAccount(w, w.bob, 100_000n * USDC);
      const c = await openAccount(w, w.carol, 100_000n * USDC);
      const sent: { to: string; data: string; gasLimit: bigint }[] = [];
      const asked = { estimates: 0, fits: [] as bigint[] };
      const tx = {
        estimate: (to: string, data: string) => {
          asked.estimates++;
          return ethers.provider.estimateGas({ from: w.stranger.address, to, data });
        },
        fits: async (to: string, data: string, gasLimit: bigint) => {
          asked.fits.push(gasLimit);
          return ethers.provider.call({ from: w.stranger.address, to, data, gasLimit }).then(
            () => true,
            () => false,
          );
        },
        submit: async (req: { to: string; data: string; gasLimit: bigint }) => {
          sent.push(req);
          const r = await w.stranger.sendTransaction({ to: req.to, data: req.data, gasLimit: req.gasLimit });
          return { hashes: [r.hash], nonce: r.nonce };
        },
        hasKey: () => false,
        count: () => 0,
      } as unknown as TxManager;
      const metrics = new KeeperMetrics();
      const contracts = {
        engine: w.engine,
        // the keeper's own binding of the feed (AGGREGATOR_ABI), not the mock's full ABI
        feeds: [
          {
            marketId: ETH,
            symbol: "ETH",
            feedId: "",
            aggregator: new Contract(await w.feeds.get(ETH)!.getAddress(), AGGREGATOR_ABI, ethers.provider),
          },
        ],
      } as unknown as ProtocolContracts;
      const settler = new Settler({
        contracts,
        provider: ethers.provider,
        tx,
        settings: keeperSettings(settings),
        logger: silentLogger(),
        metrics,
        startBlock: 0,
      });
      const view = async () => {
        const block = (await ethers.provider.getBlock("latest"))!;
        return { blockNumber: block.number, timestamp: BigInt(block.timestamp) } as unknown as ChainView;
      };
      const fees = async () => ({ maxFeePerGas: 10n ** 9n, maxPriorityFeePerGas: 1n }) as never;

      await w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE);
      await w.orders.connect(w.bob).commitOrder(b, ETH, -WAD, 0);
      // Nothing is due before a round at or after commit time + minDelay.
      expect(await settler.run(await view(), fees)).to.deep.equal([]);
      expect(settler.pending.size).to.equal(2);
      const first = await roundAfterDelay(w, 1995n);
      await w.orders.connect(w.carol).commitOrder(c, ETH, WAD, MAX_PRICE); // after `first`: waits for the next
      await roundAfterDelay(w, 2030n);
      const latest = await latestRound(w);
      await time.increase(1); // c's window has its round now, the later one
      const reports = await settler.run(await view(), fees);
      expect(reports.map((r) => r.sent)).to.deep.equal([true]);
      const [ids, rounds] = w.orders.interface.decodeFunctionData("settleOrders", sent[0].data);
      expect([...ids]).to.deep.equal([a, b, c]);
      // a and b were committed before `first`: it is theirs, not the latest; c's is the latest.
      expect([...rounds]).to.deep.equal([first, first, latest]);
      expect((await w.engine.position(a, ETH)).size).to.equal(WAD);
      expect((await w.engine.position(b, ETH)).size).to.equal(-WAD);
      expect((await w.engine.position(c, ETH)).size).to.equal(WAD);
      await settler.follow((await view()).blockNumber);
      expect(settler.pending.size).to.equal(0);
      expect((await metrics.orders.get()).values.find((v) => v.labels.outcome === "settled")?.value).to.equal(3);
      return { sent, asked };
    }

    it("follows the order events, finds each order's first round and settles the due ones in one simulated batch", async function () {
      const { sent, asked } = await settleThree({});
      // the default: the node's estimate plus the margin
      expect(asked.estimates).to.equal(1);
      expect(asked.fits).to.deep.equal([]);
      expect(sent[0].gasLimit).to.be.gt(0n);
    });

    it("with settleGasBudget, simulates the batch with one eth_call at its per-order budget and sends it with that limit, above the estimate plus the margin", async function () {
      const { sent, asked } = await settleThree({ settleGasBudget: true });
      const budget = settleGasLimit(3, keeperSettings({}).txGasCap);
      expect(budget).to.equal(BigInt(SETTLE_GAS_OVERHEAD + 3 * SETTLE_GAS_PER_ORDER));
      expect(asked.estimates).to.equal(0);
      expect(asked.fits).to.deep.equal([budget]);
      expect(sent[0].gasLimit).to.equal(budget);
      // the batch of three as the default job would have sent it, estimated from the state before it
      const { sent: estimated } = await settleThree({});
      expect(estimated[0].gasLimit).to.be.lte(budget);
      // the cap bounds a large batch
      expect(settleGasLimit(1000, 16_777_216)).to.equal(16_777_216n);
    });
  });

  describe("parameters", function () {
    it("are the governor's, bounded, and the switch is one-way", async function () {
      const w = await loadFixture(ordersOffFixture);
      await expect(w.orders.connect(w.stranger).setOrderConfig(2, 120, WAD)).to.be.revertedWithCustomError(
        w.engine,
        "AccessControlUnauthorizedAccount",
      );
      await expect(w.orders.connect(w.governor).enableOrders()).to.be.revertedWithCustomError(
        w.orders,
        "OrderConfigUnset",
      );
      for (const [min, max, reward] of [
        [0, 120, WAD],
        [301, 1000, WAD],
        [10, 19, WAD],
        [10, 86_401, WAD],
        [10, 120, 101n * WAD],
      ] as const) {
        await expect(w.orders.connect(w.governor).setOrderConfig(min, max, reward)).to.be.revertedWithCustomError(
          w.orders,
          "ParameterOutOfBounds",
        );
      }
      await expect(w.orders.connect(w.governor).setOrderConfig(5, 60, WAD))
        .to.emit(w.orders, "OrderConfigSet")
        .withArgs(5, 60, WAD);
      const a = await openAccount(w, w.alice, 10_000n * USDC);
      await expect(w.orders.connect(w.alice).commitOrder(a, ETH, WAD, MAX_PRICE)).to.be.revertedWithCustomError(
        w.orders,
        "OrdersNotEnabled",
      );
      await expect(w.orders.connect(w.stranger).enableOrders()).to.be.revertedWithCustomError(
        w.engine,
        "AccessControlUnauthorizedAccount",
      );
      await expect(w.orders.connect(w.governor).enableOrders()).to.emit(w.orders, "OrdersEnabled");
      await expect(w.orders.connect(w.governor).enableOrders()).to.be.revertedWithCustomError(
        w.orders,
        "OrdersAlreadyEnabled",
      );
      expect((await w.orders.orderConfig()).enabled).to.equal(true);
      await expect(w.engine.connect(w.alice).modifyPosition(a, ETH, WAD, MAX_PRICE)).to.be.revertedWithCustomError(
        w.engine,
        "RiskNeedsOrder",
      );
    });

    it("fillOrder is the engine's own: nobody else can fill at a price of their choosing", async function () {
      const w = await loadFixture(ordersOffFixture);
      const a = await openAccount(w, w.alice, 10_000n * USDC);
      await expect(w.engine.connect(w.alice).fillOrder(a, ETH, WAD, MAX_PRICE, 1n * WAD)).to.be.revertedWithCustomError(
        w.engine,
        "NotAccountOwner",
      );
    });
  });
});
