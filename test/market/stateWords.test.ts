/**
 * The market's state and a position are written one whole slot at a time (PerpEngineBase: the open
 * interest word, the accrual word, the basis sum, the position's size and basis). These tests read every
 * field back through the getters with negative values in the signed fields (a funding index below zero,
 * a short's size, a basis sum below zero), where a wrong mask or sign extension would show. The market's
 * liquidation capacity window shares the basis sum's slot (its upper half): a trade must keep the window
 * and a liquidation the basis sum.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPrice, units } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();

/** floor(a * b / WAD) for signed a and b (FixedPoint.mulWadFloorSigned). */
function mulWadFloorSigned(a: bigint, b: bigint): bigint {
  const p = a * b;
  return p >= 0n ? p / WAD : -((-p + WAD - 1n) / WAD);
}

describe("PerpEngine: the market's state and positions written as whole slots", function () {
  async function world() {
    const w = await deployWorld(ethers, { breaker: false });
    const alice = await openAccount(w, w.alice, 50_000n * USDC);
    const bob = await openAccount(w, w.bob, 50_000n * USDC);
    return { w, alice, bob };
  }

  /** Bob short 30 ETH, a thin account (carol, $1,050) long 15, the price lowered in $5 steps until the thin one is liquidatable. */
  async function thinLiquidatable() {
    const { w, bob } = await networkHelpers.loadFixture(world);
    const keeper = (await ethers.getSigners())[8];
    const thin = await openAccount(w, w.carol, 1_050n * USDC);
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(30), 0n);
    await w.engine.connect(w.carol).modifyPosition(thin, ETH, units(15), MAX_PRICE);
    let price = 2_000n;
    while (!(await w.engine.isLiquidatable(thin))) await setPrice(w, ETH, (price -= 5n));
    return { w, bob, keeper, thin, price };
  }

  it("keeps every field of the state and of a short position, with a negative funding index", async function () {
    const { w, alice, bob } = await networkHelpers.loadFixture(world);
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(30), 0n);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
    // Shorts outweigh longs: the funding rate is negative and the index falls below zero as time passes.
    await networkHelpers.time.increase(1_800); // within the feed's heartbeat (3,600 s)
    const rateBefore = await w.engine.fundingRate(ETH);
    expect(rateBefore < 0n).to.equal(true);
    const before = await w.engine.marketState(ETH);

    const tx = await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(1), MAX_PRICE);
    const rc = await tx.wait();
    const block = await ethers.provider.getBlock(rc!.blockNumber);
    const st = await w.engine.marketState(ETH);
    expect(st.longOpenInterest).to.equal(units(11));
    expect(st.shortOpenInterest).to.equal(units(30));
    expect(st.fundingIndex < 0n).to.equal(true);
    expect(st.fundingIndex < before.fundingIndex).to.equal(true);
    expect(st.lastAccrualTime).to.equal(BigInt(block!.timestamp));
    expect(st.maintenanceTerm > 0n).to.equal(true);
    // The accrual's event carries the rate it accrued at: the one before the trade moved the skew.
    await expect(tx).to.emit(w.engine, "MarketAccrued").withArgs(ETH, st.fundingIndex, rateBefore, st.maintenanceTerm);

    const a = await w.engine.position(alice, ETH);
    const b = await w.engine.position(bob, ETH);
    expect(a.size).to.equal(units(11));
    expect(b.size).to.equal(-units(30));
    expect(b.basis > 0n).to.equal(true);
    expect(st.basisSum < 0n).to.equal(true);
    expect(st.basisSum).to.equal(mulWadFloorSigned(a.size, a.basis) + mulWadFloorSigned(b.size, b.basis));

    // Accruing again in a later block, with nothing traded: the index and term move, open interest stays.
    await networkHelpers.time.increase(600);
    await w.engine.accrue(ETH);
    const st2 = await w.engine.marketState(ETH);
    expect(st2.longOpenInterest).to.equal(units(11));
    expect(st2.shortOpenInterest).to.equal(units(30));
    expect(st2.basisSum).to.equal(st.basisSum);
    expect(st2.fundingIndex < st.fundingIndex).to.equal(true);
  });

  it("closes a short to zero: the position's slot and the short side's open interest are cleared", async function () {
    const { w, alice, bob } = await networkHelpers.loadFixture(world);
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(30), 0n);
    await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
    await networkHelpers.time.increase(1_800); // within the feed's heartbeat (3,600 s)
    await w.engine.connect(w.bob).closePosition(bob, ETH, MAX_PRICE);
    const b = await w.engine.position(bob, ETH);
    expect(b.size).to.equal(0n);
    expect(b.basis).to.equal(0n);
    const st = await w.engine.marketState(ETH);
    expect(st.shortOpenInterest).to.equal(0n);
    expect(st.longOpenInterest).to.equal(units(10));
    const a = await w.engine.position(alice, ETH);
    expect(st.basisSum).to.equal(mulWadFloorSigned(a.size, a.basis));
  });
  it("keeps the capacity window and the basis sum in one slot: a liquidation and a trade each keep the other", async function () {
    const { w, bob, keeper, thin, price: atLiquidatable } = await thinLiquidatable();
    let price = atLiquidatable;
    const basisSum = async () => {
      const [t, b] = [await w.engine.position(thin, ETH), await w.engine.position(bob, ETH)];
      return mulWadFloorSigned(t.size, t.basis) + mulWadFloorSigned(b.size, b.basis);
    };
    const tranche = async () => {
      const rc = await (await w.liquidationEngine.connect(keeper).liquidate(thin)).wait();
      const settled = rc!.logs
        .map((l) => w.liquidationEngine.interface.parseLog(l))
        .find((e) => e?.name === "LiquidationSettled");
      const block = await ethers.provider.getBlock(rc!.blockNumber);
      return { notional: settled!.args.trancheNotional as bigint, at: BigInt(block!.timestamp) };
    };

    // A tranche opens the window and rewrites the basis sum beside it (bob's short keeps it below zero).
    const first = await tranche();
    expect(first.notional > 0n).to.equal(true);
    let window = await w.liquidationEngine.capacityWindow(ETH);
    expect(window.start).to.equal(first.at);
    expect(window.used).to.equal(first.notional);
    const st = await w.engine.marketState(ETH);
    expect(st.basisSum < 0n).to.equal(true);
    expect(st.basisSum).to.equal(await basisSum());

    // A trade rewrites the basis sum and leaves the window as it was.
    await w.engine.connect(w.bob).modifyPosition(bob, ETH, units(7), MAX_PRICE);
    expect((await w.engine.marketState(ETH)).basisSum).to.equal(await basisSum());
    window = await w.liquidationEngine.capacityWindow(ETH);
    expect(window.start).to.equal(first.at);
    expect(window.used).to.equal(first.notional);

    // The next tranche counts in the same window while it is open, in a new one after; the basis sum follows.
    const [, , , , cooldown, windowLength] = await w.liquidationEngine.config();
    await networkHelpers.time.increase(cooldown);
    while (!(await w.engine.isLiquidatable(thin))) await setPrice(w, ETH, (price -= 5n));
    const second = await tranche();
    window = await w.liquidationEngine.capacityWindow(ETH);
    const sameWindow = second.at < first.at + windowLength;
    expect(window.start).to.equal(sameWindow ? first.at : second.at);
    expect(window.used).to.equal(sameWindow ? first.notional + second.notional : second.notional);
    expect((await w.engine.marketState(ETH)).basisSum).to.equal(await basisSum());
    const [, used] = await w.liquidationEngine.liquidationCapacity(ETH);
    expect(used).to.equal(window.used);
  });

  it("a liquidation leg writes and emits the accrual its plan computed, as accrue would in the same block", async function () {
    const { w, keeper, thin } = await thinLiquidatable();
    await networkHelpers.time.increase(600); // funding and the maintenance ramp both move
    const at = BigInt(await networkHelpers.time.latest()) + 10n;
    const accrued = async (tx: Promise<{ wait: () => Promise<unknown> }>) => {
      const rc = (await (await tx).wait()) as { logs: { topics: readonly string[]; data: string }[] };
      const logs = rc.logs.map((l) => w.engine.interface.parseLog(l)).filter((e) => e?.name === "MarketAccrued");
      expect(logs.length).to.equal(1);
      const st = await w.engine.marketState(ETH);
      return { args: logs[0]!.args.toArray(), st: [st.fundingIndex, st.lastAccrualTime, st.maintenanceTerm] };
    };
    const before = await networkHelpers.takeSnapshot();
    await networkHelpers.time.setNextBlockTimestamp(at);
    const poke = await accrued(w.engine.accrue(ETH));
    await before.restore();
    await networkHelpers.time.setNextBlockTimestamp(at);
    const leg = await accrued(w.liquidationEngine.connect(keeper).liquidate(thin));
    expect(poke.st[1]).to.equal(at);
    expect(poke.args[2]).to.not.equal(0n); // a rate: bob's short outweighs the long
    expect(leg.args).to.deep.equal(poke.args);
    expect(leg.st).to.deep.equal(poke.st);
  });
});
