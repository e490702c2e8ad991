/**
 * The risk monitor's core against the chain: the monitor reads the book through the keeper's event
 * follower and the markets through its chain view; per-account liquidation prices are the
 * contract's health boundary (the mock feed moved to the last representable price on each side and
 * `isLiquidatable` asked); the ladder's grid index of every account equals a brute-force mirror scan
 * and, at the grid prices, the engine's answer; the cascade is a fixed point of X = s + L(X)/depth;
 * the probability maths against known values.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { deploymentRecord } from "../../scripts/keeper/devnet/world.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";
import { accountSummary } from "../../scripts/lib/math/engine.js";
import { cascade, cascadeCurve, criticalShock } from "../../scripts/monitor/cascade.js";
import { ChainSource } from "../../scripts/monitor/chain.js";
import {
  type MonitorState,
  exposureOf,
  linearMargin,
  marketMap,
  mirrorLiquidatable,
  movedMarkets,
} from "../../scripts/monitor/exposure.js";
import { DEFAULT_FORECAST_SETTINGS, cascadeMarkets, forecast } from "../../scripts/monitor/forecast.js";
import { DIRECTIONS, buildLadder, countAtMost, kOf } from "../../scripts/monitor/ladder.js";
import { moveProbability, normalCdf, standardisedShocks, studentTCdf } from "../../scripts/monitor/stats.js";
import { accountWarning, liquidationPrice } from "../../scripts/monitor/warnings.js";
import { type BreakerMarket, DEFAULT_RULES, LevelTracker, actions, levelFor } from "../../scripts/monitor/rules.js";
import { firstWave } from "../../scripts/monitor/backtest.js";
import { BTC, ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPriceWad, type World } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const FEED_UNIT = 10n ** 10n; // 8-decimal feeds: one unit of the last digit, in WAD

async function book() {
  const w = await deployWorld(ethers);
  const [, , , , , , , , dave] = await ethers.getSigners();
  await w.usdc.mint(dave.address, 10_000_000n * USDC);
  await w.usdc.connect(dave).approve(await w.vault.getAddress(), MAX_PRICE);
  const open = async (who: typeof dave, usdc: bigint, legs: [number, bigint][]) => {
    const id = await openAccount(w, who, usdc * USDC);
    for (const [m, size] of legs) await w.engine.connect(who).modifyPosition(id, m, size, size > 0n ? MAX_PRICE : 0n);
    return id;
  };
  // ETH: 10 long against 5 + 5 short, so ETH's skew (and its funding) is zero
  const alice = await open(w.alice, 2_000n, [[ETH, 10n * WAD]]);
  const bob = await open(w.bob, 1_500n, [[ETH, -5n * WAD]]);
  const carol = await open(w.carol, 6_000n, [
    [BTC, WAD],
    [ETH, -5n * WAD],
  ]);
  const safe = await open(dave, 5_000n, [[BTC, -WAD / 10n]]);
  const deployment = await deploymentRecord(w, "hardhat", Number((await ethers.provider.getNetwork()).chainId), 0);
  return { w, deployment, ids: { alice, bob, carol, safe } };
}

async function readState(ctx: Awaited<ReturnType<typeof book>>): Promise<{ src: ChainSource; state: MonitorState }> {
  const src = new ChainSource({ provider: ethers.provider, deployment: ctx.deployment, historyRounds: 20 });
  return { src, state: await src.read() };
}

const accountOf = (state: MonitorState, id: bigint) => state.accounts.find((a) => a.id === id)!;

/** Sets every market's feed to price * k / WAD (floored to the feed's resolution). */
async function moveAll(w: World, state: MonitorState, k: bigint) {
  for (const m of state.markets) await setPriceWad(w, m.id, (m.snapshot.price * k) / WAD);
}

describe("Risk monitor: the book as the monitor reads it", function () {
  it("follows every account and position through the keeper's follower, equal to the engine's views", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    expect(state.accounts.filter((a) => a.positions.size > 0).map((a) => a.id)).to.have.members(Object.values(ctx.ids));
    const markets = marketMap(state);
    for (const a of state.accounts) {
      const mine = accountSummary(
        { timestamp: state.timestamp, markets, liquidationMargin: state.liquidationMargin },
        a,
      );
      const chain = await ctx.w.engine.accountSummary(a.id, { blockTag: state.blockNumber });
      expect([mine.equity, mine.maintenanceMargin, mine.notional]).to.deep.equal([
        chain.equity,
        chain.maintenanceMargin,
        chain.notional,
      ]);
    }
    // the seeded 100k plus the fees' insurance share
    expect(state.insuranceWad >= 100_000n * WAD && state.insuranceWad < 100_100n * WAD).to.equal(true);
  });
});

describe("Risk monitor: liquidation price is the contract's health boundary", function () {
  it("a long: liquidatable at its liquidation price (the mirror, to the wei), not one wei above; on chain at the feed's resolution", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    const markets = marketMap(state);
    const alice = accountOf(state, ctx.ids.alice);
    const lp = liquidationPrice(alice, markets, state.timestamp, ETH, state.liquidationMargin);
    expect(lp.side).to.equal("long");
    const p = lp.liquidationPrice!;
    expect(p < lp.price && p > 0n).to.equal(true);
    const at = (price: bigint) => {
      const m = new Map(markets);
      m.set(ETH, { ...markets.get(ETH)!, price });
      return mirrorLiquidatable(alice, m, state.timestamp, state.liquidationMargin);
    };
    expect([at(p), at(p + 1n)]).to.deep.equal([true, false]);
    // on chain: the last feed price at or below the boundary, and the first above it
    const below = (p / FEED_UNIT) * FEED_UNIT;
    await setPriceWad(ctx.w, ETH, below);
    expect(await ctx.w.engine.isLiquidatable(ctx.ids.alice)).to.equal(true);
    await setPriceWad(ctx.w, ETH, below + FEED_UNIT);
    expect(await ctx.w.engine.isLiquidatable(ctx.ids.alice)).to.equal(false);
  });

  it("a short: liquidatable from its liquidation price up, not one wei below; on chain likewise", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    const markets = marketMap(state);
    const bob = accountOf(state, ctx.ids.bob);
    const lp = liquidationPrice(bob, markets, state.timestamp, ETH, state.liquidationMargin);
    expect(lp.side).to.equal("short");
    const p = lp.liquidationPrice!;
    expect(p > lp.price).to.equal(true);
    const at = (price: bigint) => {
      const m = new Map(markets);
      m.set(ETH, { ...markets.get(ETH)!, price });
      return mirrorLiquidatable(bob, m, state.timestamp, state.liquidationMargin);
    };
    expect([at(p - 1n), at(p)]).to.deep.equal([false, true]);
    const above = ((p + FEED_UNIT - 1n) / FEED_UNIT) * FEED_UNIT;
    await setPriceWad(ctx.w, ETH, above);
    expect(await ctx.w.engine.isLiquidatable(ctx.ids.bob)).to.equal(true);
    await setPriceWad(ctx.w, ETH, above - FEED_UNIT);
    expect(await ctx.w.engine.isLiquidatable(ctx.ids.bob)).to.equal(false);
  });
});

describe("Risk monitor: the liquidation ladder", function () {
  it("each account's first liquidatable grid point equals a brute-force scan of the mirror at every grid point", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    const markets = marketMap(state);
    const { ladder } = buildLadder(state, { stepBps: 50, maxBps: 5_000 });
    let found = 0;
    for (const a of state.accounts.filter((x) => x.positions.size > 0)) {
      for (const d of DIRECTIONS) {
        let first: number | undefined;
        for (let j = 0; j < ladder.movesBps.length && first === undefined; j++) {
          if (
            mirrorLiquidatable(
              a,
              movedMarkets(markets, kOf(d, ladder.movesBps[j])),
              state.timestamp,
              state.liquidationMargin,
            )
          )
            first = j;
        }
        expect(ladder.firstIndex.get(a.id)?.[d], `account ${a.id} ${d}`).to.equal(first);
        if (first !== undefined) found++;
      }
    }
    expect(found).to.be.greaterThanOrEqual(3);
    // the total at each grid point: the notional of the accounts liquidatable there, within rounding
    for (const d of DIRECTIONS) {
      ladder[d].total.forEach((pt, j) => {
        const moved = movedMarkets(markets, kOf(d, pt.moveBps));
        let notional = 0n;
        let positions = 0n;
        for (const a of state.accounts) {
          const idx = ladder.firstIndex.get(a.id)?.[d];
          if (idx === undefined || idx > j) continue;
          notional += accountSummary(
            { timestamp: state.timestamp, markets: moved, liquidationMargin: state.liquidationMargin },
            a,
          ).notional;
          positions += BigInt(a.positions.size);
        }
        const diff = pt.notional > notional ? pt.notional - notional : notional - pt.notional;
        expect(diff <= 2n * positions, `${d} ${pt.moveBps} bps: ${pt.notional} vs ${notional}`).to.equal(true);
      });
    }
  });

  it("an account within rounding of a grid point is settled by the mirror, and still matches the brute-force scan", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    const markets = marketMap(state);
    const alice = accountOf(state, ctx.ids.alice);
    // move alice's margin so that her linear liquidation form is zero exactly at the 10% grid point
    const k = kOf("down", 1_000);
    const lm = linearMargin(exposureOf(alice, markets, state.liquidationMargin), k);
    const onEdge = { ...alice, margin: alice.margin - lm / WAD };
    const edgy = { ...state, accounts: state.accounts.map((a) => (a.id === alice.id ? onEdge : a)) };
    const { ladder } = buildLadder(edgy, { stepBps: 50, maxBps: 5_000 });
    expect(ladder.mirrorChecks).to.be.greaterThan(0);
    let first: number | undefined;
    for (let j = 0; j < ladder.movesBps.length && first === undefined; j++) {
      if (
        mirrorLiquidatable(
          onEdge,
          movedMarkets(markets, kOf("down", ladder.movesBps[j])),
          state.timestamp,
          state.liquidationMargin,
        )
      )
        first = j;
    }
    expect(ladder.firstIndex.get(alice.id)?.down).to.equal(first);
    expect(first === 20 || first === 21, `first liquidatable at index ${first}`).to.equal(true);
  });

  it("at the grid prices the engine agrees: liquidatable at the account's grid point, not at the one before", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    const { ladder } = buildLadder(state, { stepBps: 50, maxBps: 5_000 });
    const j = ladder.firstIndex.get(ctx.ids.alice)!.down!;
    expect(j).to.be.greaterThan(0);
    await moveAll(ctx.w, state, kOf("down", ladder.movesBps[j - 1]));
    expect(await ctx.w.engine.isLiquidatable(ctx.ids.alice)).to.equal(false);
    await moveAll(ctx.w, state, kOf("down", ladder.movesBps[j]));
    expect(await ctx.w.engine.isLiquidatable(ctx.ids.alice)).to.equal(true);
    // the safe short is never liquidated by a joint fall
    expect(ladder.firstIndex.get(ctx.ids.safe)?.down).to.equal(undefined);
  });
});

describe("Risk monitor: the cascade", function () {
  it("reaches a fixed point of X = s + L(X)/depth, climbs with the shock, and a shallower book is critical sooner", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    const { tables } = buildLadder(state);
    const opts = { insuranceWad: state.insuranceWad };
    // a depth below the book's own notional (the protocol assumes far more): its own sales move the price, to the cap
    const thin = state.markets.map((m) => ({ id: m.id, price: m.snapshot.price, depthWad: 5_000n * WAD }));
    let previous = 0n;
    for (const r of cascadeCurve(tables.down, thin, { ...opts, stepBps: 100 })) {
      expect(r.total >= r.shock && r.total >= previous).to.equal(true);
      previous = r.total;
      if (r.runaway) continue;
      // fixed point: the move X liquidates exactly the accounts whose sales produced it
      expect(countAtMost(tables.down.moves, r.total)).to.equal(r.accounts);
      expect(r.extra === 0n).to.equal(r.liquidatedNotional === 0n);
      expect(r.waves.reduce((a, b) => a + b, 0n)).to.equal(r.liquidatedNotional);
    }
    const withCascade = cascade(tables.down, thin, WAD / 10n, opts);
    const alone = cascade(tables.down, cascadeMarkets(state, 10_000), WAD / 10n, opts);
    expect(withCascade.total > alone.total || withCascade.accounts === 0).to.equal(true);
    const deep = cascadeMarkets(state, 10_000);
    const cDeep = criticalShock(tables.down, deep, cascadeCurve(tables.down, deep, opts), opts);
    const cThin = criticalShock(tables.down, thin, cascadeCurve(tables.down, thin, opts), opts);
    expect(cThin === undefined, "a book this thin is critical somewhere").to.equal(false);
    // critical by the loop itself: its sales run the displacement to the impact cap (a runaway by divergence)
    expect(cascade(tables.down, thin, cThin!, opts).runaway).to.equal(true);
    expect(cDeep === undefined || cThin! <= cDeep).to.equal(true);
    // with no insurance, the first shock that leaves bad debt is critical
    const noFund = { insuranceWad: 0n };
    const c0 = criticalShock(tables.down, deep, cascadeCurve(tables.down, deep, noFund), noFund);
    const r = cascade(tables.down, deep, c0!, noFund);
    expect(r.critical).to.equal(true);
  });

  it("the whole forecast: curve, critical shock per direction, depth sensitivity, probabilities in [0, 1]", async function () {
    const ctx = await loadFixture(book);
    const { src, state } = await readState(ctx);
    const { forecast: f } = forecast(state, src.referenceHistory(state), DEFAULT_FORECAST_SETTINGS);
    expect(f.down.curve.length).to.equal(51);
    expect(f.depthSensitivity.map((s) => s.depthBps)).to.deep.equal([2_500, 5_000, 10_000, 20_000, 40_000]);
    for (const d of DIRECTIONS) {
      for (const h of f[d].horizons) expect(h.probability >= 0 && h.probability <= 1).to.equal(true);
      // a longer horizon is never less likely
      const ps = f[d].horizons.map((h) => h.studentT);
      expect(ps[0] <= ps[1] && ps[1] <= ps[2]).to.equal(true);
    }
    expect(f.inputsHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(forecast(state, []).forecast.inputsHash).to.equal(f.inputsHash);
  });

  it("early warnings: the cascade-adjusted shock is at most the move, and the restoring margin works on the mirror", async function () {
    const ctx = await loadFixture(book);
    const { src, state } = await readState(ctx);
    const { tables } = forecast(state, []);
    const markets = marketMap(state);
    const inputs = {
      markets,
      timestamp: state.timestamp,
      tables,
      cascadeMarkets: cascadeMarkets(state, 100),
      cascadeOptions: { insuranceWad: state.insuranceWad },
      scale: src.scale,
      liquidationMargin: state.liquidationMargin,
    };
    const alice = accountOf(state, ctx.ids.alice);
    const w = accountWarning(alice, inputs, (WAD * 30n) / 100n);
    expect(w.joint!.direction).to.equal("down");
    expect(w.joint!.cascadeShock <= w.joint!.move).to.equal(true);
    expect(w.prices[0].liquidationPrice).to.equal(
      liquidationPrice(alice, markets, state.timestamp, ETH, state.liquidationMargin).liquidationPrice,
    );
    const moved = movedMarkets(markets, kOf("down", 3_000));
    expect(mirrorLiquidatable(alice, moved, state.timestamp, state.liquidationMargin)).to.equal(true);
    expect(
      mirrorLiquidatable(
        { ...alice, margin: alice.margin + w.restore!.marginWad },
        moved,
        state.timestamp,
        state.liquidationMargin,
      ),
    ).to.equal(false);
    expect(w.restore!.tokens * src.scale >= w.restore!.marginWad).to.equal(true);
  });
});

describe("Risk monitor: probabilities", function () {
  it("Student-t and normal CDFs match tabulated values", function () {
    expect(Math.abs(studentTCdf(2, 4) - 0.94194)).to.be.lessThan(1e-5);
    expect(Math.abs(studentTCdf(-2.776, 4) - 0.025)).to.be.lessThan(1e-4);
    expect(Math.abs(studentTCdf(0, 3) - 0.5)).to.be.lessThan(1e-12);
    expect(Math.abs(normalCdf(-1.959964) - 0.025)).to.be.lessThan(1e-6);
    expect(Math.abs(normalCdf(1) - 0.841345)).to.be.lessThan(1e-6);
  });

  it("historic windows rescaled by the current volatility: a calmer market makes the same move less likely", function () {
    // a deterministic zig-zag with rare large drops, one point a minute
    const history = [];
    let p = 100;
    for (let i = 0; i < 1_200; i++) {
      p *= i % 97 === 0 ? 0.97 : i % 2 === 0 ? 1.002 : 0.9985;
      history.push({ t: i * 60, price: p });
    }
    const sample = standardisedShocks(history);
    expect(sample.stepSeconds).to.equal(60);
    const wild = moveProbability(0.05, "down", 3_600, 1.5, sample);
    const calm = moveProbability(0.05, "down", 3_600, 0.3, sample);
    expect(wild.historic).to.not.equal(undefined);
    expect(wild.probability).to.be.greaterThan(calm.probability);
    expect(wild.nu).to.be.lessThan(100);
    // 24 h of one-minute steps needs 1,440-step windows: too few here, so no historic figure
    expect(moveProbability(0.05, "down", 86_400, 1.5, sample).historic).to.equal(undefined);
  });
});

describe("Risk monitor: rules and the risk-oracle plan", function () {
  const bounds = { maxLevel: 2, maxDuration: 21_600, minDelay: 1_800, maxRenewals: 3 };
  const market = (o: Partial<BreakerMarket> = {}): BreakerMarket => ({
    marketId: 0,
    level: 0,
    riskOracleLevel: 0,
    riskOracleExpiry: 0,
    riskOracleLastRaise: 0,
    riskOracleRenewals: 0,
    ...o,
  });
  const decision = (level: number) => ({ level, reason: "test", p15m: 0, p1h: 0, p24h: 0, wave15m: 0, wave1h: 0 });
  const opts = { raiseDuration: 7_200, renewWithin: 3_600 };
  const REF = "0x" + "ab".repeat(32);

  it("a wanted level above the role's maximum: an alert for the guardian and a raise to the maximum", function () {
    const a = actions(decision(3), REF, true, [market()], bounds, 10_000, opts);
    expect(a.map((x) => x.kind)).to.deep.equal(["alert", "raise"]);
    expect(a[1]).to.deep.include({ level: 2, duration: 7_200, reference: REF, renewal: false });
  });

  it("holds a live floor far from expiry, renews near it only when fresh, waits out the minimum delay, alerts when renewals run out", function () {
    const live = market({ riskOracleLevel: 2, riskOracleExpiry: 20_000, riskOracleLastRaise: 12_800 });
    expect(actions(decision(2), REF, true, [live], bounds, 14_000, opts)[0].kind).to.equal("none");
    // within an hour of expiry: renewed if fresh, left alone if not
    const near = actions(decision(2), REF, true, [live], bounds, 17_000, opts)[0];
    expect(near).to.deep.include({ kind: "raise", renewal: true });
    expect(actions(decision(2), REF, false, [live], bounds, 17_000, opts)[0].kind).to.equal("none");
    // a higher level wanted, but the last raise was 20 min ago
    const recent = market({ riskOracleLevel: 1, riskOracleExpiry: 20_000, riskOracleLastRaise: 16_000 });
    expect(actions(decision(2), REF, true, [recent], bounds, 17_200, opts)[0]).to.deep.include({
      kind: "wait",
      until: 17_800,
    });
    const exhausted = { ...live, riskOracleRenewals: 3 };
    expect(actions(decision(2), REF, true, [exhausted], bounds, 17_000, opts)[0].kind).to.equal("alert");
    // level 0: nothing, whatever the floor
    expect(actions(decision(0), REF, true, [live], bounds, 17_000, opts)[0].kind).to.equal("none");
  });

  it("levelFor: with waveMustFeedItself, only a self-feeding liquidation wave sets a level; by default any wave does", function () {
    const wave = (amplifies: boolean) =>
      ({
        worst: { direction: "down" },
        down: {
          criticalShock: undefined,
          horizons: [],
          waveShock: WAD / 100n,
          waveAmplifies: amplifies,
          waveHorizons: [
            { horizonSeconds: 900, probability: 0.5 },
            { horizonSeconds: 3_600, probability: 0.5 },
          ],
        },
        up: { criticalShock: undefined, horizons: [], waveShock: undefined, waveAmplifies: false, waveHorizons: [] },
      }) as unknown as Parameters<typeof levelFor>[0];
    const feeding = { ...DEFAULT_RULES, waveMustFeedItself: true };
    expect(levelFor(wave(false), feeding).level).to.equal(0);
    expect(levelFor(wave(true), feeding).level).to.equal(2);
    expect(levelFor(wave(true), feeding).reason).to.match(/liquidation wave within 15 min/);
    expect(levelFor(wave(false)).level, "the default: any wave, as before").to.equal(2);
  });

  it("LevelTracker: a level takes effect once wanted for confirmSeconds on enough forecasts, falls at once; critical now at once", function () {
    const at = (level: number, immediate = false) => ({ ...decision(level), immediate });
    const tr = new LevelTracker({ confirmSeconds: 300, confirmForecasts: 2 });
    expect(tr.update(0, at(2)).level).to.equal(0);
    expect(tr.update(120, at(2)).level).to.equal(0);
    expect(tr.update(300, at(2)).level).to.equal(2);
    // level 3 wanted now: level 2 (held since 0) stays, 3 is not yet confirmed
    const partial = tr.update(360, at(3));
    expect(partial.level).to.equal(2);
    expect(partial.reason).to.match(/level 3 not yet confirmed/);
    expect(tr.update(720, at(3)).level).to.equal(3);
    // falls at once, and the run starts over
    expect(tr.update(780, at(0)).level).to.equal(0);
    expect(tr.update(840, at(1)).level).to.equal(0);
    // one forecast 300 s later is not two: a single round spanning the time is not enough
    const sparse = new LevelTracker({ confirmSeconds: 300, confirmForecasts: 3 });
    sparse.update(0, at(1));
    expect(sparse.update(600, at(1)).level).to.equal(0);
    expect(sparse.update(900, at(1)).level).to.equal(1);
    // the book past its critical shock is an observation: at once
    expect(new LevelTracker({ confirmSeconds: 300, confirmForecasts: 2 }).update(0, at(3, true)).level).to.equal(3);
    // the default: no wait, every forecast's level at once
    expect(new LevelTracker().update(0, at(2)).level).to.equal(2);
  });

  it("levelFor: each threshold moves the level; a first liquidation wave is a window reaching 1% of open interest", async function () {
    const ctx = await loadFixture(book);
    const { state } = await readState(ctx);
    const { forecast: f } = forecast(state, []);
    const never = {
      level1P1h: 1,
      level1P24h: 1,
      level2P15m: 1,
      level2P1h: 1,
      level3P15m: 1,
      level1WaveP1h: 1,
      level2WaveP15m: 1,
      // any wave, self-feeding or not, so that each wave threshold alone moves the level
      waveMustFeedItself: false,
    };
    expect(levelFor(f, never).level).to.equal(0);
    expect(levelFor(f, { ...never, level1WaveP1h: 0 }).level).to.equal(1);
    expect(levelFor(f, { ...never, level2WaveP15m: 0 }).level).to.equal(2);
    expect(levelFor(f, { ...never, level3P15m: 0 }).level).to.equal(3);
    expect(
      firstWave(
        [
          { t: 1_000, notional: 5n },
          { t: 1_400, notional: 6n },
          { t: 1_500, notional: 5n },
        ],
        1_000n,
        1_000,
      ),
    ).to.equal(1_300);
    expect(firstWave([{ t: 1_000, notional: 9n }], 1_000n, 1_000)).to.equal(undefined);
  });
});
