/**
 * Gas of the circuit breaker, from receipts, for the report: a poke with the five default triggers
 * (no change, escalation, de-escalation), and what a trade pays at each level compared with the
 * same trade on the same state with no breaker set. Reducing and closing never consult the breaker,
 * so their gas must be identical at every level; a risk-adding trade must stay within the
 * consultation budget of test/gas.scenarios.test.ts.
 */
import { expect } from "chai";
import { ZeroAddress } from "ethers";
import { network } from "hardhat";

import { ETH, MAX_PRICE, USDC, openAccount, setPrice, units } from "../helpers/fixture.js";
import { COOLDOWN, TRIGGER_NAMES, deployBreakerWorld, deploySoloBreaker, levelOf } from "../helpers/breaker.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const BREAKER_CONSULT_BUDGET = 10_000n;
/** Not a protocol budget: a ceiling that catches a trigger walking far more than it should. */
const POKE_CEILING = 300_000n;

async function gasOf(tx: Promise<{ wait(): Promise<unknown> }>): Promise<bigint> {
  const receipt = (await (await tx).wait()) as { gasUsed: bigint };
  return receipt.gasUsed;
}

/** alice long 5 (the market has open interest), bob long 2, carol funded and flat. */
async function market() {
  const w = await deployBreakerWorld(ethers);
  const alice = await openAccount(w, w.alice, 10_000n * USDC);
  const bob = await openAccount(w, w.bob, 10_000n * USDC);
  const carol = await openAccount(w, w.carol, 10_000n * USDC);
  await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(5), MAX_PRICE);
  await w.engine.connect(w.bob).modifyPosition(bob, ETH, units(2), MAX_PRICE);
  return { w, alice, bob, carol };
}

describe("Breaker gas", function () {
  const figures: [string, bigint][] = [];
  after(function () {
    console.log("\n      gas used (receipts):");
    for (const [k, v] of figures) console.log(`        ${k.padEnd(52)} ${v}`);
  });

  it("poke with five triggers: no change, escalation, no change at a level, de-escalation", async function () {
    const { w } = await loadFixture(market);
    expect((await w.breaker.triggers()).length).to.equal(5);
    const quiet = await gasOf(w.breaker.poke(ETH));
    figures.push(["poke, 5 triggers, level 0, no change", quiet]);
    await time.increase(60);
    await setPrice(w, ETH, 2160n); // +8%: price move proposes 1, the round-to-round jump 2
    const up = await gasOf(w.breaker.poke(ETH));
    expect(await levelOf(w.breaker, ETH)).to.equal(2);
    figures.push(["poke, 5 triggers, escalation 0 -> 2", up]);
    const held = await gasOf(w.breaker.poke(ETH));
    figures.push(["poke, 5 triggers, level 2, no change", held]);
    await time.increase(COOLDOWN);
    await setPrice(w, ETH, 2160n); // the jump is gone; the 8% move is still in the window
    const down = await gasOf(w.breaker.poke(ETH));
    expect(await levelOf(w.breaker, ETH)).to.equal(1);
    figures.push(["poke, 5 triggers, de-escalation 2 -> 1", down]);
    for (const g of [quiet, up, held, down]) expect(g).to.be.lessThanOrEqual(POKE_CEILING);
  });

  it("poke with one trigger each, for the breakdown (quiet market, 8 rounds in the price-move window)", async function () {
    const { w } = await loadFixture(market);
    for (let i = 0; i < 8; i++) {
      await time.increase(300);
      await setPrice(w, ETH, 2000n + BigInt(i));
    }
    const empty = await deploySoloBreaker(ethers, w, []);
    const bare = await gasOf(empty.poke(ETH));
    figures.push(["poke, no trigger", bare]);
    for (const name of TRIGGER_NAMES) {
      const solo = await deploySoloBreaker(ethers, w, [w.triggers[name]]);
      figures.push([`poke, ${name} only (extra over no trigger)`, (await gasOf(solo.poke(ETH))) - bare]);
    }
    figures.push(["poke, all five, same state", await gasOf(w.breaker.poke(ETH))]);

    // a busy feed: more rounds in the window than maxRounds (48), so the walk runs to its bound
    const now = BigInt(await time.latest());
    await w.feeds.get(ETH)!.pushRounds(Array(60).fill(2000n * 10n ** 8n), Array(60).fill(now));
    const priceMove = await deploySoloBreaker(ethers, w, [w.triggers["price-move"]]);
    figures.push(["poke, price-move only, 48-round walk (extra)", (await gasOf(priceMove.poke(ETH))) - bare]);
    figures.push(["poke, all five, 48-round walk", await gasOf(w.breaker.poke(ETH))]);
  });

  it("a trade at each level against the same trade with no breaker", async function () {
    const base = await loadFixture(market);
    type Config = "none" | 0 | 1 | 2 | 3 | 4;
    const configs: Config[] = ["none", 0, 1, 2, 3, 4];
    const gas = new Map<Config, Record<string, bigint>>();
    for (const config of configs) {
      const { w, alice, bob, carol } = await loadFixture(market);
      if (config === "none") await w.engine.connect(w.governor).setCircuitBreaker(ZeroAddress);
      else if (config > 0) await w.breaker.connect(w.guardian).raiseLevel(ETH, config);
      const g: Record<string, bigint> = {};
      if (config === "none" || config <= 2) {
        g.open = await gasOf(w.engine.connect(w.carol).modifyPosition(carol, ETH, units(1), MAX_PRICE));
        g.add = await gasOf(w.engine.connect(w.bob).modifyPosition(bob, ETH, units(1), MAX_PRICE));
      }
      g.reduce = await gasOf(w.engine.connect(w.bob).modifyPosition(bob, ETH, -units(1), 0n));
      g.close = await gasOf(w.engine.connect(w.alice).closePosition(alice, ETH, 0n));
      gas.set(config, g);
    }
    expect(base.w.breaker).to.not.equal(undefined);
    const none = gas.get("none")!;
    for (const config of configs) {
      if (config === "none") continue;
      const g = gas.get(config)!;
      for (const [kind, used] of Object.entries(g)) {
        const delta = used - none[kind];
        figures.push([`${kind} at level ${config}: extra over no breaker`, delta]);
        if (kind === "reduce" || kind === "close") {
          expect(delta, `${kind} at level ${config} never reads the breaker`).to.equal(0n);
        } else {
          expect(delta, `${kind} at level ${config}`).to.be.greaterThan(0n);
          expect(delta, `${kind} at level ${config}`).to.be.lessThanOrEqual(BREAKER_CONSULT_BUDGET);
        }
      }
    }
    for (const [kind, used] of Object.entries(none)) figures.push([`${kind} with no breaker`, used]);
  });
});
