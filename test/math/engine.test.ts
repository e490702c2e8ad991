/**
 * The engine mirror (scripts/lib/math/engine.ts) against the deployed protocol. A seeded random
 * sequence of deposits, trades of both signs in both markets by several accounts (opening, adding,
 * reducing, flipping, closing), time jumps and price moves (with volatility updates, so sigma and
 * the maintenance ramp move) runs on the real contracts. After every step the test reads only what
 * a keeper can read through plain getters (marketConfig, marketState, position, vault.marginOf,
 * oracle.getPriceAndVolatility, the circuit breaker's tradePolicy when one is set, the block
 * timestamp), computes every account's summary, health and liquidatability with the mirror, and
 * requires the engine's views to return the same, to the wei.
 *
 * Every read of a check is pinned to one block (blockTag), and the mirror is given that block's
 * timestamp. Each check also asserts that the views really execute at that timestamp, by reading
 * the TIMESTAMP opcode through an eth_call pinned to the same block, so the comparison stays exact
 * rather than loosened by a second of funding. (In this Hardhat 3 / EDR setup, eth_call at
 * "latest" or at the latest block's number runs at that block's timestamp; "pending" runs one
 * second later.)
 *
 * Reproduce a failure with the seed printed at the start: FC_SEED=<seed> npx hardhat test mocha
 * test/math/engine.test.ts
 */
import { expect } from "chai";
import { ZeroAddress } from "ethers";
import fc from "fast-check";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import * as math from "../../scripts/lib/math/index.js";
import type { ICircuitBreaker } from "../../types/ethers-contracts/index.js";
import { MAX_PRICE, USDC, deployWorld, openAccount, setPriceWad, type World } from "../helpers/fixture.js";
import { fcSeed } from "../helpers/seed.js";

const { ethers, networkHelpers } = await network.create();

const STEPS = 150;
/** Init code that returns the executing block's TIMESTAMP as 32 bytes: TIMESTAMP PUSH0 MSTORE PUSH1 32 PUSH0 RETURN. */
const TIMESTAMP_PROBE = "0x425f5260205ff3";
/** The feeds have 8 decimals: a WAD price moves in steps of 1e10. */
const FEED_UNIT = 10n ** 10n;

/** One step of the sequence; sizes are derived from the account's equity when the step runs. */
type Step =
  | { readonly kind: "deposit"; readonly payer: number; readonly account: number; readonly usdc: bigint }
  | {
      readonly kind: "trade";
      readonly account: number;
      readonly market: number;
      readonly leverage: bigint;
      readonly long: boolean;
    }
  | { readonly kind: "reduce"; readonly account: number; readonly market: number; readonly fraction: bigint }
  | { readonly kind: "close"; readonly account: number; readonly market: number }
  | { readonly kind: "wait"; readonly seconds: number }
  | { readonly kind: "move"; readonly market: number; readonly change: bigint; readonly seconds: number };

/**
 * The accounts: two of alice's (an address may hold several), then bob, carol and stranger, which
 * the random steps use; and a witness of carol's, flat until the deterministic end of the test.
 */
const OWNERS = ["alice", "alice", "bob", "carol", "stranger", "carol"] as const;
const RANDOM_ACCOUNTS = 5;
const WITNESS = 5;
const N_MARKETS = 2;
const ETH = 0;

const stepArbitrary = (): fc.Arbitrary<Step> => {
  const account = fc.integer({ min: 0, max: RANDOM_ACCOUNTS - 1 });
  const market = fc.integer({ min: 0, max: N_MARKETS - 1 });
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("deposit" as const),
        payer: account,
        account,
        usdc: fc.bigInt({ min: 1n, max: 20_000n * USDC }),
      }),
    },
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant("trade" as const),
        account,
        market,
        // leverage of the trade alone, on equity: up to 40x, beyond the ~31x initial margin allows
        leverage: fc.oneof(
          { weight: 1, arbitrary: fc.bigInt({ min: 1n, max: WAD / 1000n }) }, // dust: rounding at the wei
          { weight: 9, arbitrary: fc.bigInt({ min: WAD / 100n, max: 40n * WAD }) },
        ),
        long: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("reduce" as const),
        account,
        market,
        fraction: fc.bigInt({ min: 1n, max: WAD }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("close" as const), account, market }) },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 3000 }) }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("move" as const),
        market,
        // rounds minutes apart, as on a real feed: a move one second after the last round would
        // annualise into an extreme sigma and push every margin to its cap
        seconds: fc.integer({ min: 60, max: 1800 }),
        // relative change, WAD: small (margin erodes slowly, through the band between maintenance
        // and zero equity), within 8%, and sometimes a crash or a squeeze of up to 30%
        change: fc.oneof(
          { weight: 3, arbitrary: fc.bigInt({ min: -(WAD * 2n) / 100n, max: (WAD * 2n) / 100n }) },
          { weight: 3, arbitrary: fc.bigInt({ min: -(WAD * 8n) / 100n, max: (WAD * 8n) / 100n }) },
          { weight: 1, arbitrary: fc.bigInt({ min: -(WAD * 30n) / 100n, max: (WAD * 30n) / 100n }) },
        ),
      }),
    },
  );
};

/** JSON for failure messages: bigints as decimal strings, Maps as objects keyed by market id. */
const show = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) =>
    typeof v === "bigint" ? `${v}` : v instanceof Map ? Object.fromEntries(v) : v,
  );

describe("engine mirror vs PerpEngine views (seeded random sequence)", function () {
  let w: World;
  let accountIds: bigint[];
  /** The price each feed was last pushed at (WAD). */
  const prices = new Map<number, bigint>();
  const stats = {
    checks: 0,
    accountChecks: 0,
    withPositions: 0,
    accruingMarkets: 0,
    liquidatable: 0,
    /** liquidatable with equity still positive: health strictly between 0 and 1 */
    liquidatableSolvent: 0,
    underwater: 0,
    tradesRejected: new Map<string, number>(),
  };

  before(async function () {
    w = await deployWorld(ethers);
    accountIds = [];
    for (const owner of OWNERS) accountIds.push(await openAccount(w, w[owner], 10_000n * USDC));
    for (const m of w.markets) prices.set(m.id, m.initialPriceUsd * WAD);
    expect(w.markets.map((m) => m.id)).to.deep.equal([0, 1]);
  });

  /** Reads, at one block, everything the mirror needs. */
  async function readSnapshot(): Promise<{
    blockTag: number;
    snapshot: math.EngineSnapshot;
    accounts: math.AccountSnapshot[];
  }> {
    const block = await ethers.provider.getBlock("latest");
    if (block === null) throw new Error("no latest block");
    const blockTag = block.number;
    const at = { blockTag };
    // The stress level's initial-margin multiplier, as the engine's _policy reads it: WAD without a
    // breaker (this world has none), else the breaker's policy for the market at this block.
    const breakerAddress = await w.engine.circuitBreaker(at);
    const breaker =
      breakerAddress === ZeroAddress
        ? undefined
        : ((await ethers.getContractAt("ICircuitBreaker", breakerAddress)) as unknown as ICircuitBreaker);
    const markets = new Map<number, math.MarketSnapshot>();
    for (const m of w.markets) {
      const levelImMultiplier = breaker === undefined ? WAD : (await breaker.tradePolicy(m.id, at)).imMultiplier;
      const config = await w.engine.marketConfig(m.id, at);
      const state = await w.engine.marketState(m.id, at);
      const [price, sigma] = await w.oracle.getPriceAndVolatility(config.feedId, at);
      markets.set(m.id, math.marketSnapshot(config, state, price, sigma, levelImMultiplier));
    }
    const accounts: math.AccountSnapshot[] = [];
    for (const id of accountIds) {
      const positions = new Map<number, math.EnginePosition>();
      for (const m of w.markets) {
        const p = await w.engine.position(id, m.id, at);
        positions.set(m.id, { size: p.size, basis: p.basis });
      }
      accounts.push({ margin: await w.vault.marginOf(id, at), positions });
    }
    // a Result's `flat` is Array.prototype.flat: the reward's flat part is read by position
    const r = await w.liquidationEngine.rewardConfig(at);
    const liquidationMargin = { flat: r[0], min: r.min, shareOfNotional: r.shareOfNotional, max: r.max };
    return { blockTag, snapshot: { timestamp: BigInt(block.timestamp), markets, liquidationMargin }, accounts };
  }

  /** The mirror's view of every account must be the engine's, at the same block. */
  async function check(label: string): Promise<void> {
    const { blockTag, snapshot, accounts } = await readSnapshot();
    const at = { blockTag };
    // The views run at the pinned block's timestamp, which is the one handed to the mirror.
    expect(BigInt(await ethers.provider.call({ data: TIMESTAMP_PROBE, blockTag })), "eth_call timestamp").to.equal(
      snapshot.timestamp,
    );
    stats.checks++;
    for (const market of snapshot.markets.values()) {
      if (snapshot.timestamp !== market.state.lastAccrualTime) stats.accruingMarkets++;
    }
    for (const [i, id] of accountIds.entries()) {
      const account = accounts[i];
      const where = `${label}, account ${id}, block ${blockTag}: snapshot ${show({ ...snapshot, account })}`;
      const mirror = math.accountSummary(snapshot, account);
      const s = await w.engine.accountSummary(id, at);
      const engine = {
        margin: s.margin,
        equity: s.equity,
        maintenanceMargin: s.maintenanceMargin,
        initialMargin: s.initialMargin,
        notional: s.notional,
      };
      expect(mirror, `accountSummary at ${where}`).to.deep.equal(engine);
      expect(math.health(mirror), `health at ${where}`).to.equal(await w.engine.health(id, at));
      expect(math.isLiquidatable(mirror), `isLiquidatable at ${where}`).to.equal(await w.engine.isLiquidatable(id, at));
      // The mirror reads held markets from non-zero sizes; the engine from its bitmap. They must agree.
      const held = [...account.positions].filter(([, p]) => p.size !== 0n).map(([m]) => BigInt(m));
      expect(await w.engine.accountMarkets(id, at), `accountMarkets at ${where}`).to.deep.equal(held);
      for (const [m, position] of account.positions) {
        const market = snapshot.markets.get(m)!;
        const accrual = math.pendingAccrual(market, snapshot.timestamp);
        const view = await w.engine.positionView(id, m, at);
        expect(accrual.fundingIndex, `positionView.fundingIndex, market ${m}, at ${where}`).to.equal(view.fundingIndex);
        const value = math.positionValue(position.size, position.basis, market.price, accrual.fundingIndex);
        expect(value, `positionView.unrealisedPnl, market ${m}, at ${where}`).to.equal(view.unrealisedPnl);
        expect(math.unrealisedPnl(market, position, snapshot.timestamp)).to.equal(value);
      }
      stats.accountChecks++;
      if (held.length > 0) stats.withPositions++;
      if (mirror.equity <= 0n) stats.underwater++;
      if (math.isLiquidatable(mirror)) stats.liquidatable++;
      if (math.isLiquidatable(mirror) && mirror.equity > 0n) stats.liquidatableSolvent++;
    }
  }

  /** Pushes a fresh round at the tracked price to every feed (after a time jump), then folds it into sigma. */
  async function refreshFeeds(): Promise<void> {
    for (const m of w.markets) await setPriceWad(w, m.id, prices.get(m.id)!);
    for (const m of w.markets) await w.oracle.updateVolatility((await w.engine.marketConfig(m.id)).feedId, 64);
  }

  /**
   * Sends a trade; a refusal the engine is meant to make (margin, caps, a stress level's restrictions
   * should a breaker be wired, an underwater account) is counted, anything else fails the test.
   */
  async function trade(owner: (typeof OWNERS)[number], id: bigint, market: number, sizeDelta: bigint): Promise<void> {
    if (sizeDelta === 0n) return;
    try {
      await w.engine.connect(w[owner]).modifyPosition(id, market, sizeDelta, sizeDelta > 0n ? MAX_PRICE : 0n);
    } catch (error) {
      const data = (error as { data?: unknown }).data;
      const parsed = typeof data === "string" ? w.engine.interface.parseError(data) : null;
      const expected = [
        "MarginBelowInitial",
        // a risk-adding trade leaving a position below the minimum notional (no dust)
        "PositionBelowMinimum",
        "OpenInterestCapExceeded",
        "TradeSizeTooLarge",
        "LeverageAboveCap",
        "MarketReduceOnly",
        "TradingHalted",
        // a voluntary trade may not leave bad debt: an underwater account is the liquidation engine's
        "AccountUnderwater",
      ];
      if (parsed === null || !expected.includes(parsed.name)) throw error;
      stats.tradesRejected.set(parsed.name, (stats.tradesRejected.get(parsed.name) ?? 0) + 1);
    }
  }

  async function run(step: Step): Promise<void> {
    switch (step.kind) {
      case "deposit": {
        const payer = w[OWNERS[step.payer]];
        await w.engine.connect(payer).deposit(accountIds[step.account], step.usdc);
        return;
      }
      case "trade": {
        const id = accountIds[step.account];
        const s = await w.engine.accountSummary(id);
        const base = s.equity > 0n ? s.equity : s.margin;
        const size = (base * step.leverage) / prices.get(step.market)!;
        await trade(OWNERS[step.account], id, step.market, step.long ? size : -size);
        return;
      }
      case "reduce": {
        const id = accountIds[step.account];
        const { size } = await w.engine.position(id, step.market);
        await trade(OWNERS[step.account], id, step.market, -((size * step.fraction) / WAD));
        return;
      }
      case "close": {
        const id = accountIds[step.account];
        const { size } = await w.engine.position(id, step.market);
        if (size === 0n) return;
        // closing is a trade of -size: the same refusals apply (an underwater account cannot close itself)
        await trade(OWNERS[step.account], id, step.market, -size);
        return;
      }
      case "wait":
        await networkHelpers.time.increase(step.seconds);
        await refreshFeeds();
        return;
      case "move": {
        const before = prices.get(step.market)!;
        const moved = (before * (WAD + step.change)) / WAD;
        prices.set(step.market, (moved / FEED_UNIT) * FEED_UNIT);
        await networkHelpers.time.increase(step.seconds);
        await refreshFeeds();
        return;
      }
    }
  }

  it(`matches accountSummary, health, isLiquidatable and positionView to the wei over ${STEPS} random steps`, async function () {
    const [steps] = fc.sample(fc.array(stepArbitrary(), { minLength: STEPS, maxLength: STEPS }), {
      seed: fcSeed,
      numRuns: 1,
    });
    console.log(`      engine sequence seed ${fcSeed} (reproduce with FC_SEED=${fcSeed}), ${STEPS} steps`);
    await check("start");
    for (const [i, step] of steps.entries()) {
      await run(step);
      await check(`step ${i} ${show(step)}`);
    }
    // Whatever the seed, end by walking the witness account through the liquidation band: open a
    // long at 90% of the leverage initial margin allows, move the price so that equity lands half
    // way between maintenance margin and zero (liquidatable, still solvent), then crash it under
    // water; then 50 minutes pass, so funding and the maintenance ramp accrue over a long gap.
    const witness = accountIds[WITNESS];
    const imr = (await w.engine.positionView(witness, ETH)).initialMarginRatio;
    const free = (await w.engine.accountSummary(witness)).equity;
    const notional = (free * 9n * WAD) / 10n / imr;
    await trade(OWNERS[WITNESS], witness, ETH, (notional * WAD) / prices.get(ETH)!);
    expect((await w.engine.position(witness, ETH)).size, "the witness's long was refused").to.not.equal(0n);
    await check(`witness ${witness} opens a long at 90% of the leverage allowed`);
    const opened = await w.engine.accountSummary(witness);
    const drop = ((opened.equity - opened.maintenanceMargin / 2n) * WAD) / opened.notional;
    await run({ kind: "move", market: ETH, change: -drop, seconds: 60 });
    await check(`the price falls ${drop} (WAD) under the witness`);
    const band = await w.engine.accountSummary(witness);
    expect(band.equity > 0n && (await w.engine.isLiquidatable(witness)), "witness not in the band").to.equal(true);
    for (const m of w.markets) {
      await run({ kind: "move", market: m.id, change: -(WAD * 25n) / 100n, seconds: 60 });
      await check(`crash of market ${m.id}`);
    }
    expect((await w.engine.accountSummary(witness)).equity <= 0n, "witness still solvent").to.equal(true);
    await run({ kind: "wait", seconds: 3000 });
    await check("50 minutes after the crash");

    const rejected = [...stats.tradesRejected].map(([name, n]) => `${name} ${n}`).join(", ") || "none";
    console.log(
      `      ${stats.checks} checks, ${stats.accountChecks} account summaries (${stats.withPositions} with positions, ` +
        `${stats.liquidatable} liquidatable, of which ${stats.liquidatableSolvent} with equity > 0, ` +
        `${stats.underwater} with equity <= 0), ` +
        `${stats.accruingMarkets} market reads with pending accrual; trades refused: ${rejected}`,
    );
    expect(stats.withPositions, "the sequence never held a position").to.be.greaterThan(0);
    expect(stats.accruingMarkets, "no check had funding pending").to.be.greaterThan(0);
  });
});
