/**
 * The risk monitor's scenario lab, collateral depeg and unpriced markets: scenarios on today's book
 * through the cascade, the depeg's book against the mirror, the catalogue's numbers drawn from the
 * replay's paths, and a market whose oracle read fails shown in the forecast (not only logged).
 */
import { expect } from "chai";
import { network } from "hardhat";

import { deploymentRecord } from "../../scripts/keeper/devnet/world.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";
import { badDebtAt, cascade, selfExciting } from "../../scripts/monitor/cascade.js";
import { ChainSource } from "../../scripts/monitor/chain.js";
import { depegged, depeggedExposure, marketMap, mirrorLiquidatable } from "../../scripts/monitor/exposure.js";
import { DEFAULT_FORECAST_SETTINGS, cascadeMarkets, forecast } from "../../scripts/monitor/forecast.js";
import {
  type ThresholdTable,
  buildLadder,
  countAtMost,
  tablesOf,
  thresholdTables,
} from "../../scripts/monitor/ladder.js";
import { loadCatalogue } from "../../scripts/monitor/scenarioData.js";
import {
  type Scenario,
  catalogueScenarios,
  customScenario,
  extremes,
  labTable,
  runScenarios,
  worstFallWithin,
} from "../../scripts/monitor/scenarios.js";
import {
  REALISTIC_LEVERAGE_BUCKETS,
  calmFalseAlarms,
  calmPath,
  calmStates,
  realisticLeverage,
} from "../../scripts/monitor/calmHistory.js";
import { exactTable, runExact } from "../../scripts/monitor/exact.js";
import { syntheticState } from "../../scripts/monitor/syntheticBook.js";
import type { PricePath } from "../../scripts/replay/types.js";
import { BTC, ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPriceWad } from "../helpers/fixture.js";

const pct = (x: number) => (BigInt(Math.round(x * 100)) * WAD) / 10_000n;

function path(points: [number, number][], symbol = "BTC"): PricePath {
  return {
    event: "test",
    symbol,
    source: "test",
    stylised: true,
    quote: "USD",
    resolution: 60,
    points: points.map(([t, p]) => ({ t, priceWad: BigInt(p) * WAD })),
  };
}

describe("Risk monitor: collateral depeg", function () {
  const state = syntheticState(400, 7);

  it("scales every margin and the fund by (1 - depeg), floored; no depeg is the same state", function () {
    const d = depegged(state, pct(12));
    expect(depegged(state, 0n)).to.equal(state);
    expect(d.insuranceWad).to.equal((state.insuranceWad * 88n) / 100n);
    state.accounts.forEach((a, i) => expect(d.accounts[i].margin).to.equal((a.margin * 88n) / 100n));
    expect(() => depegged(state, WAD)).to.throw(RangeError);
  });

  it("the accounts the depeg's tables call liquidatable now are exactly those the mirror calls liquidatable with the depegged margin", function () {
    const markets = marketMap(state);
    for (const depeg of [0, 5, 12, 30]) {
      const d = depegged(state, pct(depeg));
      const tables = thresholdTables(d);
      const byTable = countAtMost(tables.down.moves, 0n);
      const byMirror = d.accounts.filter(
        (a) => a.positions.size > 0 && mirrorLiquidatable(a, markets, d.timestamp, d.liquidationMargin),
      ).length;
      expect(byTable, `depeg ${depeg}%`).to.equal(byMirror);
    }
    const at = (depeg: number) => countAtMost(thresholdTables(depegged(state, pct(depeg))).down.moves, 0n);
    expect(at(0)).to.be.lessThan(at(30));
  });

  it("an exposure moved to a depeg gives the same tables as the depegged book computed afresh", function () {
    const markets = marketMap(state);
    const { exposures } = buildLadder(state);
    for (const depeg of [5, 12]) {
      const moved = tablesOf(
        exposures.map((e) => depeggedExposure(e, pct(depeg))),
        markets,
      );
      const fresh = thresholdTables(depegged(state, pct(depeg)));
      for (const d of ["down", "up"] as const) {
        expect(moved[d].moves).to.deep.equal(fresh[d].moves);
        expect(moved[d].bankruptMoves).to.deep.equal(fresh[d].bankruptMoves);
        expect(moved[d].aPrefix).to.deep.equal(fresh[d].aPrefix);
      }
    }
  });

  it("the forecast carries a row per depeg of its settings, worse with a deeper depeg", function () {
    const { forecast: f } = forecast(state, [], { ...DEFAULT_FORECAST_SETTINGS, depegBps: [500, 3_000] });
    expect(f.collateral.map((c) => c.depegBps)).to.deep.equal([500, 3_000]);
    const [shallow, deep] = f.collateral;
    expect(deep.liquidatableNow > shallow.liquidatableNow).to.equal(true);
    expect(deep.coverableWad).to.equal((state.insuranceWad * 7n) / 10n);
    // with less margin the book is critical after a smaller joint fall (or already)
    expect((deep.criticalDown ?? WAD) <= (shallow.criticalDown ?? WAD)).to.equal(true);
    expect(f.unpriced).to.deep.equal([]);
  });
});

describe("Risk monitor: scenario lab", function () {
  const state = syntheticState(600, 11);

  it("a crash row is the cascade of its shock; depth, lag and depeg each make it worse", function () {
    const base = customScenario({ direction: "down", shockBps: 800 });
    const thin = customScenario({ direction: "down", shockBps: 800, depthBps: 2_500 });
    const slow = customScenario({ direction: "down", shockBps: 800, lagBps: 300 });
    const depeg = customScenario({ direction: "down", shockBps: 800, depegBps: 1_200 });
    const [r, t, s, d] = runScenarios(state, [base, thin, slow, depeg]);
    const tables = thresholdTables(state);
    const direct = cascade(tables.down, cascadeMarkets(state, 10_000), base.shock, {
      insuranceWad: state.insuranceWad,
    });
    expect([r.total, r.liquidatedNotional, r.accounts, r.badDebt]).to.deep.equal([
      direct.total,
      direct.liquidatedNotional,
      direct.accounts,
      direct.badDebt,
    ]);
    expect(t.total > r.total, "a quarter of the depth moves the price further").to.equal(true);
    expect(s.total).to.equal(r.total);
    expect(s.badDebt).to.equal(badDebtAt(tables.down, r.total + slow.lag));
    expect(s.badDebt > r.badDebt, "closes 3% later leave more bad debt").to.equal(true);
    expect(d.accounts > r.accounts).to.equal(true);
    expect(d.insurance).to.equal((state.insuranceWad * 88n) / 100n);
    for (const x of [r, t, s, d]) {
      expect(x.uncovered).to.equal(x.badDebt > x.insurance ? x.badDebt - x.insurance : 0n);
      expect(x.critical).to.equal(x.runaway || x.uncovered > 0n);
    }
  });

  it("a path's largest fall and rise, and its worst fall within a window", function () {
    const p = path([
      [0, 100],
      [60, 110],
      [120, 99],
      [180, 120],
      [240, 90],
      [300, 95],
    ]);
    const { fall, rise } = extremes(p);
    expect(fall).to.equal((30n * WAD) / 120n); // 120 -> 90
    expect(rise).to.equal((21n * WAD) / 99n); // 99 -> 120
    expect(worstFallWithin(p, 60)).to.equal((30n * WAD) / 120n);
    expect(worstFallWithin(p, 30)).to.equal(0n); // no two points within 30 s
    const q = path([
      [0, 100],
      [60, 95],
      [120, 90],
      [180, 85],
    ]);
    expect(worstFallWithin(q, 60)).to.equal((5n * WAD) / 90n); // 90 -> 85, the largest one-step fall in share
    expect(worstFallWithin(q, 180)).to.equal((15n * WAD) / 100n);
  });

  it("the catalogue's scenarios come from the replay's paths: a row per crash and direction, and the stress cases", function () {
    const cat = loadCatalogue({ stylised: true });
    expect(cat.source).to.equal("stylised");
    expect(cat.events.map((e) => e.id)).to.have.length(6);
    const scenarios = catalogueScenarios(cat.events, { source: cat.source });
    const ids = scenarios.map((s) => s.id);
    for (const e of cat.events) expect(ids).to.include.members([`crash:${e.id}:down`, `crash:${e.id}:up`]);
    expect(ids).to.include.members(["depth:5000", "depth:2500", "slow-keeper", "stale-oracle", "depeg", "depeg+fall"]);
    const byId = new Map<string, Scenario>(scenarios.map((s) => [s.id, s]));
    // the stylised USDC path bottoms at 0.88
    expect(byId.get("depeg")!.depeg).to.equal(pct(12));
    expect(byId.get("crash:usdc-depeg-2023:down")!.depeg).to.equal(pct(12));
    expect(byId.get("crash:ftx-2022:down")!.depeg).to.equal(0n);
    const usdc = cat.events.find((e) => e.id === "usdc-depeg-2023")!;
    expect(byId.get("crash:usdc-depeg-2023:down")!.shock).to.equal(extremes(usdc.market).fall);
    // a longer window can only find a larger fall
    expect(byId.get("stale-oracle")!.shock >= byId.get("slow-keeper")!.lag).to.equal(true);
    expect(byId.get("slow-keeper")!.lag > 0n).to.equal(true);
    const results = runScenarios(syntheticState(300, 3), scenarios);
    expect(results).to.have.length(scenarios.length);
    const table = labTable(results);
    expect(table.split("\n")).to.have.length(scenarios.length + 2);
    expect(table).to.contain("| stale-oracle |");
  });
});

describe("Risk monitor: a market whose oracle read fails", function () {
  it("is shown in the state and the forecast with the accounts it leaves out", async function () {
    const { ethers, networkHelpers } = await network.create();
    const w = await deployWorld(ethers);
    const [, , , , , , , , dave] = await ethers.getSigners();
    await w.usdc.mint(dave.address, 10_000_000n * USDC);
    await w.usdc.connect(dave).approve(await w.vault.getAddress(), MAX_PRICE);
    const ethOnly = await openAccount(w, w.alice, 2_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(ethOnly, ETH, WAD, MAX_PRICE);
    const both = await openAccount(w, w.bob, 6_000n * USDC);
    await w.engine.connect(w.bob).modifyPosition(both, BTC, WAD / 10n, MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(both, ETH, -2n * WAD, 0n);
    const btcOnly = await openAccount(w, dave, 5_000n * USDC);
    await w.engine.connect(dave).modifyPosition(btcOnly, BTC, -WAD / 5n, 0n);
    const chainId = Number((await ethers.provider.getNetwork()).chainId);
    const src = new ChainSource({
      provider: ethers.provider,
      deployment: await deploymentRecord(w, "hardhat", chainId, 0),
      historyRounds: 5,
    });
    const fresh = await src.read();
    expect(fresh.unpriced).to.deep.equal([]);
    // BTC's feed goes stale (past its heartbeat); ETH's gets a new round
    const eth = fresh.markets.find((m) => m.id === ETH)!.snapshot.price;
    await networkHelpers.time.increase(2 * 86_400);
    await setPriceWad(w, ETH, eth);
    const state = await src.read();
    expect(state.markets.map((m) => m.id)).to.deep.equal([ETH]);
    expect(state.accounts.map((a) => a.id)).to.deep.equal([ethOnly]);
    expect(state.unpriced).to.have.length(1);
    const u = state.unpriced![0];
    expect([u.id, u.accountsLeftOut, u.sizeLeftOut]).to.deep.equal([BTC, 2, (3n * WAD) / 10n]);
    expect(u.reason.length).to.be.greaterThan(0);
    const { forecast: f } = forecast(state, []);
    expect(f.unpriced).to.deep.equal(state.unpriced);
  });
});

describe("Risk monitor: what counts as a runaway, and as a wave", function () {
  // one market at $100 with $1M of depth; accounts liquidated at the given falls, 1,000 units long each
  const market = [{ id: 0, price: 100n * WAD, depthWad: 1_000_000n * WAD }];
  function table(falls: number[]): ThresholdTable {
    const size = 1_000n * WAD;
    return {
      direction: "down",
      moves: falls.map((f) => pct(f)),
      sizePrefix: new Map([[0, [0n, ...falls.map((_, i) => BigInt(i + 1) * size)]]]),
      notionalPrefix: new Map([[0, [0n, ...falls.map((_, i) => BigInt(i + 1) * 100_000n * WAD)]]]),
      bankruptMoves: [],
      aPrefix: [0n],
      bPrefix: [0n],
    };
  }

  it("one wave the shock sets off is not a runaway, however far its impact moves the price", function () {
    // the shock of 1% liquidates one account; its $100k sale moves the price 10% and liquidates no one else
    const r = cascade(table([0.5]), market, pct(1), { insuranceWad: WAD * 10n ** 9n });
    expect(r.extra >= r.shock && r.extra >= pct(1)).to.equal(true);
    expect(r.waves.filter((w) => w > 0n)).to.have.length(1);
    expect(r.runaway).to.equal(false);
    expect(r.critical).to.equal(false);
  });

  it("sales that set off at least as many liquidations as the shock did are a runaway by amplification only", function () {
    // the shock liquidates the first account; its sale (10%) liquidates the second, whose sale the third
    const amp = { insuranceWad: WAD * 10n ** 9n, runaway: "amplification" as const };
    const r = cascade(table([0.5, 8, 15]), market, pct(1), amp);
    expect(r.accounts).to.equal(3);
    expect(r.runaway).to.equal(true);
    expect(r.critical).to.equal(true);
    // by the default test (divergence) the same fixed point is a wave: the loop stopped short of the cap
    const d = cascade(table([0.5, 8, 15]), market, pct(1), { insuranceWad: WAD * 10n ** 9n });
    expect([d.total, d.accounts]).to.deep.equal([r.total, r.accounts]);
    expect([d.runaway, d.critical]).to.deep.equal([false, false]);
  });

  it("selfExciting: a wave the shock alone sets off does not feed itself; one whose sales set off as much again does", function () {
    const one = cascade(table([0.5]), market, pct(1), { insuranceWad: WAD * 10n ** 9n });
    expect(selfExciting(one.waves, one.liquidatedNotional)).to.equal(false);
    // two accounts at 0.5% (the shock's wave), then one at 8% that only their sales reach: induced < direct
    const half = cascade(table([0.5, 0.6, 8]), market, pct(1), { insuranceWad: WAD * 10n ** 9n });
    expect(half.accounts).to.equal(3);
    expect(selfExciting(half.waves, half.liquidatedNotional)).to.equal(false);
    const loop = cascade(table([0.5, 8, 15]), market, pct(1), { insuranceWad: WAD * 10n ** 9n });
    expect(selfExciting(loop.waves, loop.liquidatedNotional)).to.equal(true);
  });

  it("a liquidation wave needs several accounts: one account's close is not one", function () {
    const state = syntheticState(40, 5);
    const few = forecast(state, [], { ...DEFAULT_FORECAST_SETTINGS, waveMinAccounts: 1 }).forecast;
    const many = forecast(state, [], { ...DEFAULT_FORECAST_SETTINGS, waveMinAccounts: 6 }).forecast;
    const shocks = (f: typeof few) => [f.down.waveShock ?? WAD, f.up.waveShock ?? WAD];
    const [fewDown, fewUp] = shocks(few);
    const [manyDown, manyUp] = shocks(many);
    expect(manyDown >= fewDown && manyUp >= fewUp).to.equal(true);
    expect(manyDown > fewDown || manyUp > fewUp, "requiring more accounts moves a wave further out").to.equal(true);
    const tables = thresholdTables(state);
    const ms = cascadeMarkets(state, 10_000);
    if (many.down.waveShock !== undefined) {
      expect(
        cascade(tables.down, ms, many.down.waveShock, { insuranceWad: state.insuranceWad }).accounts,
      ).to.be.at.least(6);
    }
  });
});

describe("Risk monitor: one scenario run exactly on the contracts", function () {
  it("walks the joint move into the feeds, liquidates through the replay's keeper service, pokes the breaker, and feeds the closes back as impact", async function () {
    // The set-up's transactions are mined at the wall clock's second, and Hardhat estimates their gas on the
    // pending block first: when a second ends between the two, a trade mined in the next second accrues what
    // the estimate's did not (one such "ran out of gas" seen on a loaded machine). A wallet's margin on the
    // estimate, as any live client keeps; the exact run itself dates and gas-limits its own transactions.
    const { ethers, provider } = await network.create({
      override: { allowBlocksWithSameTimestamp: true, initialBaseFeePerGas: 0n, gasMultiplier: 1.5 },
    });
    const w = await deployWorld(ethers);
    const [, , , , , , , , dave] = await ethers.getSigners();
    await w.usdc.mint(dave.address, 10_000_000n * USDC);
    await w.usdc.connect(dave).approve(await w.vault.getAddress(), MAX_PRICE);
    const risky = await openAccount(w, w.alice, 2_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(risky, ETH, 10n * WAD, MAX_PRICE);
    const cross = await openAccount(w, w.bob, 3_000n * USDC);
    await w.engine.connect(w.bob).modifyPosition(cross, BTC, WAD / 4n, MAX_PRICE);
    await w.engine.connect(w.bob).modifyPosition(cross, ETH, 3n * WAD, MAX_PRICE);
    const safe = await openAccount(w, dave, 5_000n * USDC);
    await w.engine.connect(dave).modifyPosition(safe, BTC, -WAD / 10n, 0n);
    const chainId = Number((await ethers.provider.getNetwork()).chainId);
    const deployment = await deploymentRecord(w, "hardhat", chainId, 0);
    const scenario = customScenario({ direction: "down", shockBps: 1_200 });
    const r = await runExact({ ethers, provider, deployment, scenario, steps: 4, stepSeconds: 60 });
    expect(r.steps).to.have.length(8);
    expect(r.fast.accounts).to.be.at.least(1);
    expect(r.accountsLiquidated).to.be.at.least(1);
    expect(r.tranches).to.be.at.least(r.accountsLiquidated);
    expect(r.liquidatedNotional > 0n).to.equal(true);
    // the closes were sold into the impact model: the oracle fell further than the path
    expect(r.maxOracleMove > scenario.shock).to.equal(true);
    expect((await w.engine.positionView(risky, ETH)).size < 10n * WAD).to.equal(true);
    expect((await w.engine.positionView(safe, BTC)).size).to.equal(-WAD / 10n);
    expect(r.steps.reduce((n, s) => n + s.liquidatedNotional, 0n)).to.equal(r.liquidatedNotional);
    expect(exactTable(r)).to.contain("| liquidated notional |");
    // the keeper service ran as in the replay: it folded the new rounds into the volatility, and its
    // breaker pokes moved the breaker's level as the fall's triggers proposed
    expect(r.pokes.volatility).to.be.greaterThan(0);
    expect(r.pokes.breaker).to.be.greaterThan(0);
    expect(r.maxLevel).to.be.greaterThan(0);
    const levelsNow = [
      Number((await w.breaker!.marketLevel(ETH)).level),
      Number((await w.breaker!.marketLevel(BTC)).level),
    ];
    expect(r.steps[r.steps.length - 1].level).to.equal(Math.max(...levelsNow));
    let refused: Error | undefined;
    try {
      await runExact({
        ethers,
        provider,
        deployment,
        scenario: customScenario({ direction: "down", shockBps: 500, depegBps: 100 }),
      });
    } catch (e) {
      refused = e as Error;
    }
    expect(refused?.message).to.match(/joint price move only/);
  });
});

describe("Risk monitor: false alarms on the longer calm history", function () {
  const dir = process.env.CRASH_DATA_DIR;
  before(function () {
    if (!dir) {
      console.log("    (skipped: reads the real bars; CI sets CRASH_DATA_DIR, as the replay's real-data tests)");
      this.skip();
    }
  });

  it("takes only bars at least 12 h before the replay window, and a book with no liquidatable account", function () {
    const path = calmPath(dir!, "ftx-2022");
    expect(path.points.length).to.be.greaterThan(48);
    expect(path.points[path.points.length - 1].t).to.be.at.most(Date.parse("2022-11-08T00:00:00Z") / 1000);
    const states = calmStates(path);
    expect(states).to.have.length(path.points.length);
    for (const s of states.filter((_, i) => i % 8 === 0)) {
      const markets = marketMap(s.state);
      expect(
        s.state.accounts.some((a) => mirrorLiquidatable(a, markets, s.state.timestamp, s.state.liquidationMargin)),
      ).to.equal(false);
      expect(s.state.accounts.length).to.be.greaterThan(0);
    }
    const r = calmFalseAlarms("ftx-2022", path);
    expect(r.atLevel.reduce((a, b) => a + b, 0)).to.equal(r.bars - 1);
    expect(r.calmHours).to.equal((path.points[path.points.length - 1].t - path.points[0].t) / 3_600);
    // with thresholds no probability reaches, only "critical now" can raise a level (to 3)
    const never = calmFalseAlarms("ftx-2022", path, {
      level1P1h: 1.1,
      level1P24h: 1.1,
      level2P15m: 1.1,
      level2P1h: 1.1,
      level3P15m: 1.1,
      level1WaveP1h: 1.1,
      level2WaveP15m: 1.1,
      waveMustFeedItself: true,
    });
    expect(never.atLevel[0] + never.atLevel[3]).to.equal(never.bars - 1);
  });

  it("the realistic book: the public leverage mix by notional, survivors only, beside the replay's stress book", function () {
    // the traders' buckets give back the source's notional shares (36% / 48% / 15% of $7.63 bn) within sampling
    const n = 4_000;
    const notional = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const lev = Number(realisticLeverage(i, 31)) / 1e18;
      expect(lev).to.be.within(1, 31);
      notional[lev < 3 ? 0 : lev < 7 ? 1 : 2] += lev;
    }
    const total = notional.reduce((a, b) => a + b, 0);
    REALISTIC_LEVERAGE_BUCKETS.forEach((b, k) => {
      const share = notional[k] / total;
      expect(Math.abs(share - b.notionalBn / 7.63), `bucket ${k}: ${share}`).to.be.below(0.03);
    });
    const path = calmPath(dir!, "ftx-2022");
    const stress = calmStates(path);
    const real = calmStates(path, "realistic");
    expect(real).to.have.length(stress.length);
    const lev = (s: (typeof real)[number]) => {
      let margin = 0n;
      let notionalWad = 0n;
      for (const a of s.state.accounts) {
        margin += a.margin;
        const p = a.positions.get(0)!;
        notionalWad += ((p.size < 0n ? -p.size : p.size) * p.basis) / WAD;
      }
      return Number((notionalWad * 100n) / margin) / 100;
    };
    expect(lev(real[0]), "the realistic book is less levered").to.be.lessThan(lev(stress[0]) / 2);
    // survivors only: an account in the book at a bar was liquidatable at no bar close since its entry
    const last = real.length - 1;
    const ageBars = Math.round(86_400 / (path.points[1].t - path.points[0].t));
    let checked = 0;
    for (const a of real[last].state.accounts.slice(0, 40)) {
      // trader index = account id - 1; its entry bar as calmStates places it
      const entryBar = Math.max(0, last - ((Number(a.id - 1n) * 7_919) % ageBars));
      expect(a.positions.get(0)!.basis).to.equal(path.points[entryBar].priceWad);
      for (let j = entryBar; j < last; j++) {
        checked++;
        const markets = marketMap(real[j].state);
        expect(mirrorLiquidatable(a, markets, real[j].state.timestamp, real[j].state.liquidationMargin)).to.equal(
          false,
        );
      }
    }
    expect(checked).to.be.greaterThan(100);
  });
});
