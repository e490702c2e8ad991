/**
 * Crash replay with the default deployment (breaker, five triggers, real liquidation engine): ETH
 * falls from 2,000 to 1,400 over two and a half hours in rounds every five minutes, holds, recovers
 * to 1,600 and then stays there. A keeper runs every round: oracle volatility update, poke,
 * liquidate every liquidatable account in one batch, poke again. The level must climb as the crash
 * deepens, liquidations must go on at every level (at least one tranche while the market is
 * reduce-only or halted), new risk must be refused at level 3 and up, and after the recovery the
 * level must come back to 0 one step per cooldown.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { feedId } from "../../deploy/params.js";
import { ETH, MAX_PRICE, USDC, openAccount, units } from "../helpers/fixture.js";
import {
  COOLDOWN,
  SOURCE,
  TRIGGER_NAMES,
  type BreakerWorld,
  deployBreakerWorld,
  levelChanges,
  levelOf,
} from "../helpers/breaker.js";

const { ethers, networkHelpers } = await network.create();
const { time } = networkHelpers;

const ETH_FEED = feedId("ETH");
const E8 = 10n ** 8n;

/** [size in ETH, leverage] of each account; longs and shorts alike. */
const BOOK: [number, number][] = [
  [50, 3],
  [40, 5],
  [35, 6],
  [30, 8],
  [25, 4],
  [20, 10],
  [15, 12],
  [10, 15],
  [8, 20],
  [5, 18],
];

type Round = { minute: number; price: bigint };

/** Whole-dollar prices, linear from `from` to `to` over `n` rounds `spacing` minutes apart. */
function leg(start: number, from: bigint, to: bigint, n: number, spacing: number): Round[] {
  const out: Round[] = [];
  for (let i = 1; i <= n; i++) {
    out.push({ minute: start + i * spacing, price: from + ((to - from) * BigInt(i)) / BigInt(n) });
  }
  return out;
}

function pricePath(): Round[] {
  const path: Round[] = [];
  const add = (r: Round[]) => path.push(...r);
  add(leg(0, 2000n, 1900n, 12, 5)); // 0:00-1:00  -5%
  add(leg(60, 1900n, 1700n, 12, 5)); // 1:00-2:00  -10.5%
  add(leg(120, 1700n, 1400n, 6, 5)); // 2:00-2:30  -17.6% (about -22% on the hour)
  add(leg(150, 1400n, 1400n, 6, 5)); // 2:30-3:00  holds
  add(leg(180, 1400n, 1600n, 12, 5)); // 3:00-4:00  +14%
  add(leg(240, 1600n, 1600n, 80, 15)); // 4:00-24:00 flat, a round every 15 minutes
  return path;
}

async function population(w: BreakerWorld) {
  const longs: bigint[] = [];
  const shorts: bigint[] = [];
  for (const [size, lev] of BOOK) {
    const margin = (BigInt(size) * 2000n * USDC) / BigInt(lev);
    const l = await openAccount(w, w.alice, margin);
    await w.engine.connect(w.alice).modifyPosition(l, ETH, units(size), MAX_PRICE);
    longs.push(l);
    const s = await openAccount(w, w.bob, margin);
    await w.engine.connect(w.bob).modifyPosition(s, ETH, -units(size), 0n);
    shorts.push(s);
  }
  const probe = await openAccount(w, w.carol, 10_000n * USDC);
  return { longs, shorts, probe };
}

describe("Breaker scenario: crash and recovery with real liquidations", function () {
  it("climbs with the crash, liquidates throughout, and steps back to 0 after the recovery", async function () {
    const w = await deployBreakerWorld(ethers);
    const book = await population(w);
    const feed = w.feeds.get(ETH)!;
    const start = BigInt(await time.latest()) + 60n;

    type Row = { minute: number; price: bigint; level: number; after: number; tranches: number };
    const rows: Row[] = [];
    type Move = { minute: number; from: number; to: number; source: number; by: string; at: bigint; votes: string };
    const moves: Move[] = [];
    const names = new Map(Object.entries(w.triggers).map(([name, address]) => [address, name]));
    const triggers = await Promise.all(
      TRIGGER_NAMES.map((n) => ethers.getContractAt("PriceMoveTrigger", w.triggers[n])),
    );
    /** Every trigger's proposal now, as "price-move 2, volatility 1, ..." (zeros left out). */
    const votes = async () => {
      const out: string[] = [];
      for (let i = 0; i < triggers.length; i++) {
        const lv = await triggers[i].proposeLevel(ETH);
        if (lv > 0n) out.push(`${TRIGGER_NAMES[i]} ${lv}`);
      }
      return out.join(", ");
    };
    let refusedAtThree = false;
    let trancheAtThreeOrMore = 0;
    let cursor = start;
    const next = async (at: bigint) => {
      cursor = at > cursor ? at : cursor + 1n;
      await time.setNextBlockTimestamp(cursor);
    };
    const poke = async (minute: number) => {
      await next(cursor + 1n);
      const receipt = await (await w.breaker.poke(ETH)).wait();
      for (const m of levelChanges(w.breaker, receipt)) moves.push({ minute, ...m, at: cursor, votes: await votes() });
    };

    for (const r of pricePath()) {
      await next(start + BigInt(r.minute) * 60n);
      await feed.updateAnswer(r.price * E8);
      await next(cursor + 1n);
      await w.oracle.updateVolatility(ETH_FEED, 64);
      await poke(r.minute);
      const level = await levelOf(w.breaker, ETH);

      const ids = await w.liquidationEngine.liquidatableAccounts(1, 100);
      let tranches = 0;
      if (ids.length > 0) {
        await next(cursor + 1n);
        const receipt = await (await w.liquidationEngine.liquidateBatch([...ids])).wait();
        tranches = receipt!.logs
          .map((l) => w.liquidationEngine.interface.parseLog(l))
          .filter((e) => e?.name === "LiquidationSettled").length;
        expect(tranches, `tranches at minute ${r.minute}`).to.equal(ids.length);
        if (level >= 3) trancheAtThreeOrMore += tranches;
      }
      await poke(r.minute);
      const after = await levelOf(w.breaker, ETH);

      if (after >= 3 && !refusedAtThree) {
        await expect(w.engine.connect(w.carol).modifyPosition(book.probe, ETH, units(1), MAX_PRICE))
          .to.be.revertedWithCustomError(w.engine, after === 3 ? "MarketReduceOnly" : "TradingHalted")
          .withArgs(ETH);
        refusedAtThree = true;
      }
      rows.push({ minute: r.minute, price: r.price, level, after, tranches });
    }

    // ---- the path, for the record
    const hhmm = (m: number) => `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}`;
    console.log(`\n      level after each round (crash, hold, recovery, flat):`);
    console.log(`      ${rows.map((r) => r.after).join("")}`);
    console.log(`      level changes:`);
    for (const m of moves) {
      const src = Object.keys(SOURCE)[m.source];
      const row = rows.find((r) => r.minute === m.minute)!;
      const who = m.source === SOURCE.Trigger ? ` ${names.get(m.by)}` : "";
      console.log(
        `        ${hhmm(m.minute).padStart(5)}  ${row.price}  ${m.from} -> ${m.to}  ${src}${who}  [${m.votes}]`,
      );
    }
    const total = rows.reduce((a, r) => a + r.tranches, 0);
    console.log(`      tranches liquidated: ${total}, of which at level >= 3: ${trancheAtThreeOrMore}`);

    // ---- the level climbs as the crash deepens
    const crash = rows.filter((r) => r.minute <= 150);
    const firstAt = (lv: number) => crash.findIndex((r) => r.after >= lv);
    expect(firstAt(1), "reaches 1 in the crash").to.be.greaterThan(-1);
    expect(firstAt(2), "reaches 2 after 1").to.be.greaterThan(firstAt(1) - 1);
    expect(firstAt(3), "reaches 3 after 2").to.be.greaterThanOrEqual(firstAt(2));
    expect(crash[firstAt(3)].price, "level 3 comes at a lower price than level 1").to.be.lessThan(
      crash[firstAt(1)].price,
    );
    expect(Math.max(...crash.map((r) => r.after))).to.be.greaterThanOrEqual(3);

    // ---- liquidations go on throughout, including while reduce-only or halted
    expect(total).to.be.greaterThan(0);
    expect(trancheAtThreeOrMore, "tranches while the level is >= 3").to.be.greaterThan(0);
    expect(refusedAtThree).to.equal(true);
    expect(await w.liquidationEngine.liquidatableAccounts(1, 100)).to.deep.equal([]);

    // ---- after the recovery the level comes down to 0, one level per cooldown
    expect(rows[rows.length - 1].after).to.equal(0);
    const down = moves.filter((m) => m.minute > 180 && m.to < m.from);
    expect(down.length).to.be.greaterThan(0);
    for (const m of down) {
      expect(m.from - m.to, `step at ${hhmm(m.minute)}`).to.equal(1);
      expect(m.source).to.equal(SOURCE.Cooldown);
    }
    for (let i = 1; i < down.length; i++) {
      expect(down[i].at - down[i - 1].at, "steps a cooldown apart").to.be.greaterThanOrEqual(COOLDOWN);
    }
    expect(down[down.length - 1].to).to.equal(0);
  });
});
