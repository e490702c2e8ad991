/**
 * The monitor inside a crash replay, acting: with `raise` the backtest grants a key RISK_ORACLE and
 * raises the breaker as the service would, every raise mined at the replay step's own time; without
 * it, the monitor only observes and the chain sees no raise (protected-with-monitor against
 * protected-without, as `npm run backtest:monitor -- --compare` measures it).
 */
import { expect } from "chai";
import { network } from "hardhat";

import { RISK_ORACLE_ROLE } from "../../deploy/protocol.js";
import { ReplayBacktest, outcomeCell, referenceRound } from "../../scripts/monitor/backtest.js";
import { referenceHistory, referenceMarket } from "../../scripts/monitor/chain.js";
import type { MonitorState } from "../../scripts/monitor/exposure.js";
import { standardisedShocks } from "../../scripts/monitor/stats.js";
import type { ReplayMetrics } from "../../scripts/replay/result.js";
import { runReplay } from "../../scripts/replay/engine.js";
import { loadPreset, withOverrides } from "../../scripts/replay/presets.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { syntheticCrashFixture } from "../helpers/syntheticCrash.js";

const PATH = syntheticCrashFixture(120);
const params = () => withOverrides(loadPreset("protected"), { population: { accounts: 24 } });

/** The two-feed tests' start and their feeds' number of one-minute rounds. */
const START = 1_900_000_000;
const ROUNDS = 40;

/**
 * A feed of ROUNDS one-minute rounds from START, `offset` seconds past each minute, at `base` x (1 + move(i)),
 * as a replay path of `symbol` (the rest of the synthetic crash's fields).
 */
function minuteFeed(event: string, symbol: string, base: number, offset: number, move: (i: number) => number) {
  return {
    ...PATH,
    event,
    symbol,
    points: Array.from({ length: ROUNDS }, (_, i) => ({
      t: START + 60 * i + offset,
      priceWad: BigInt(Math.round(base * (1 + move(i)) * 100)) * 10n ** 16n,
    })),
  };
}

describe("Risk monitor backtest: acting through the risk-oracle role inside a replay", function () {
  this.timeout(600_000);

  it("observing sends nothing; acting raises the breaker with the forecast's reference, at the steps' own times", async function () {
    const watch = new ReplayBacktest();
    const quiet = await runReplay({
      network,
      event: "synthetic",
      paths: [PATH],
      params: params(),
      onStep: watch.onStep,
      keepOpen: true,
    });
    try {
      const breaker = quiet.handle!.protocol.breaker!;
      expect(await breaker.queryFilter(breaker.filters.RiskOracleRaise())).to.have.length(0);
      expect(watch.raises.sent).to.equal(0);
      // the first wave counts the backstop vault's takeovers as forced closes (the vault-first design
      // sells nothing into the market, so the replay's own liquidated notional can stay 0)
      const { protocol } = quiet.handle!;
      const backstop = IBackstopEngine__factory.connect(
        await protocol.engine.getAddress(),
        quiet.handle!.ethers.provider,
      );
      const takeovers = await backstop.queryFilter(backstop.filters.AccountTakenOver());
      const taken = takeovers.reduce((s, e) => s + e.args.notional, 0n);
      const sold = quiet.run.steps.reduce((s, x) => s + BigInt(x.liquidatedNotional), 0n);
      const result = watch.result();
      console.log(
        `      forced closes: taken over ${taken / 10n ** 18n}, sold ${sold / 10n ** 18n} (WAD units of quote)`,
      );
      expect(takeovers.length, "the vault takes accounts over in the protected preset").to.be.greaterThan(0);
      expect(taken + sold, "the synthetic crash forces closes").to.be.greaterThan(0n);
      expect(result.forcedNotional, "the wave's notional: tranches and takeovers").to.equal(taken + sold);
      expect(result.waveStart, "a wave from the forced closes, takeovers included").to.not.equal(undefined);
      // every rules variant is derived from the same forecasts' inputs
      expect(result.inputs).to.have.length(result.steps);
      expect(result.variants.map((v) => v.name)).to.include.members(["plain", "wait", "feeding", "gate"]);
    } finally {
      await quiet.handle!.close();
    }
    const acting = new ReplayBacktest({ raise: true });
    const loud = await runReplay({
      network,
      event: "synthetic",
      paths: [PATH],
      params: params(),
      onStep: acting.onStep,
      keepOpen: true,
    });
    try {
      const { protocol, ethers } = loud.handle!;
      const breaker = protocol.breaker!;
      const raises = await breaker.queryFilter(breaker.filters.RiskOracleRaise());
      expect(acting.raises.sent, "the synthetic crash makes the monitor want a level").to.be.greaterThan(0);
      expect(raises).to.have.length(acting.raises.sent);
      expect(await breaker.hasRole(RISK_ORACLE_ROLE, "0x000000000000000000000000000000000000d0d0")).to.equal(true);
      const stepTimes = new Set(loud.run.steps.map((s) => s.t));
      for (const e of raises) {
        expect(e.args.forecastRef).to.match(/^0x[0-9a-f]{64}$/);
        expect(e.args.forecastRef).to.not.equal(`0x${"0".repeat(64)}`);
        expect(Number(e.args.level)).to.be.within(1, 2);
        const block = await ethers.provider.getBlock(e.blockNumber);
        expect(stepTimes.has(block!.timestamp), `raise at ${block!.timestamp} is a step's time`).to.equal(true);
      }
    } finally {
      await loud.handle!.close();
    }
  });
});

describe("Risk monitor backtest: a forecast is fresh only after a new oracle round, as in the service", function () {
  this.timeout(600_000);

  it("a step on a held path price re-reads the round before: not fresh, so escalation does not count it", async function () {
    // a calm staircase: the price steps up 0.01% every third minute and is held in between (a stylised
    // path's 15-minute step read by 5-minute ticks, in miniature); the replay posts a round only on a change
    const start = 1_900_000_000;
    const points = Array.from({ length: 45 }, (_, i) => ({
      t: start + 60 * i,
      priceWad: BigInt(Math.round(8_000 * (1 + 0.0001 * Math.floor(i / 3)) * 100)) * 10n ** 16n,
    }));
    const path = { ...PATH, event: "synthetic-staircase", resolution: 60, points };
    const watch = new ReplayBacktest();
    await runReplay({ network, event: "staircase", paths: [path], params: params(), onStep: watch.onStep });
    const inputs = watch.result().inputs;
    expect(inputs.length).to.be.greaterThan(30);
    expect(inputs[0].fresh, "the first forecast reads the first rounds").to.equal(true);
    const held = inputs.filter((x, i) => i > 0 && x.price === inputs[i - 1].price);
    const moved = inputs.filter((x, i) => i > 0 && x.price !== inputs[i - 1].price);
    expect(held.length, "two of every three steps hold the price").to.be.greaterThan(moved.length);
    expect(held.map((x) => x.fresh)).to.deep.equal(held.map(() => false));
    expect(moved.map((x) => x.fresh)).to.deep.equal(moved.map(() => true));
  });
});

describe("Risk monitor backtest: the return history is the reference market's own rounds, as in the service", function () {
  this.timeout(600_000);

  it("a point per round of the reference market at its own time: another feed's rounds between its minutes add none", async function () {
    // the USDC depeg's shape in miniature: the first market (BTC) has a round every minute, a second market's
    // feed moves 15 s after each of BTC's minutes, so the replay steps at both; one point per step would
    // record BTC's held price at :15 and then its whole minute's return over the 45 s left
    const [start, n] = [START, ROUNDS];
    const btc = minuteFeed("synthetic-two-feeds", PATH.symbol, 8_000, 0, (i) => 0.001 * Math.sin(i));
    const other = minuteFeed("synthetic-two-feeds", "ETH", 2_000, 15, (i) => 0.0005 * ((i % 2) - 0.5));
    const watch = new ReplayBacktest();
    // every trader is in BTC, which also moves more (the larger sigma), so BTC's rounds are the forecast's history
    const weighted = withOverrides(loadPreset("protected"), {
      population: { accounts: 24, marketWeights: { BTC: 1, ETH: 0 } },
    });
    await runReplay({ network, event: "two-feeds", paths: [btc, other], params: weighted, onStep: watch.onStep });
    const dump = watch.dump() as {
      histories: Map<number, { t: number; price: number }[]>;
      observations: { t: number; reference: number | undefined; state: MonitorState }[];
    };
    const { observations } = dump;
    const btcId = observations[0].state.markets.find((m) => m.symbol === "BTC")!.id;
    expect(observations.at(-1)!.reference, "BTC is the reference").to.equal(btcId);
    const history = dump.histories.get(btcId)!;
    expect(observations.length, "the replay stepped at both feeds' times").to.be.greaterThan(n + n / 2);
    expect(observations.some((o) => (o.t - start) % 60 === 15)).to.equal(true);
    const btcAt = new Map(btc.points.map((p) => [p.t, Number(p.priceWad) / 1e18]));
    // every point is one of BTC's own rounds, at its time and answer, each once
    expect(history.length).to.be.greaterThan(n - 3);
    for (const h of history) {
      expect(btcAt.has(h.t), `point at +${h.t - start} s`).to.equal(true);
      expect(Math.abs(h.price - btcAt.get(h.t)!)).to.be.at.most(1e-9);
    }
    const gaps = history.slice(1).map((h, i) => h.t - history[i].t);
    expect(gaps.every((g) => g > 0 && g % 60 === 0)).to.equal(true);
  });

  it("referenceRound: a newer round adds its own time and answer; the same round, an older one or no price adds nothing", function () {
    const h = [{ t: 100, price: 10 }];
    expect(referenceRound([], 50, 9)).to.deep.equal({ t: 50, price: 9 });
    expect(referenceRound(h, 160, 11)).to.deep.equal({ t: 160, price: 11 });
    expect(referenceRound(h, 100, 10)).to.equal(undefined);
    expect(referenceRound(h, 90, 10)).to.equal(undefined);
    expect(referenceRound(h, 160, 0)).to.equal(undefined);
  });
});

describe("Risk monitor backtest: the reference market is the service's, the one with the largest sigma", function () {
  this.timeout(600_000);

  it("a two-market replay whose second market has the larger sigma forecasts on the second feed's rounds", async function () {
    // BTC is the replay's first market and gets seven traders of eight, so the most open interest; ETH, the second,
    // moves more, so the larger sigma: the reference is ETH (the most open interest alone would read BTC's).
    // Each feed has a round a minute, ETH's 30 s after BTC's, and ETH moves more: the two histories differ in
    // every point's time and in their shocks
    const [start, n] = [START, ROUNDS];
    const btc = minuteFeed("synthetic-two-markets", PATH.symbol, 8_000, 0, (i) => 0.0005 * Math.sin(i));
    const eth = minuteFeed("synthetic-two-markets", "ETH", 2_000, 30, (i) => 0.003 * Math.cos(1.7 * i));
    const weighted = withOverrides(loadPreset("protected"), {
      population: { accounts: 24, marketWeights: { BTC: 7, ETH: 1 } },
    });
    const watch = new ReplayBacktest();
    await runReplay({ network, event: "two-markets", paths: [btc, eth], params: weighted, onStep: watch.onStep });
    const dump = watch.dump() as {
      histories: Map<number, { t: number; price: number }[]>;
      observations: { t: number; reference: number | undefined; state: MonitorState }[];
    };
    const result = watch.result();
    const markets = dump.observations[0].state.markets;
    const btcId = markets.find((m) => m.symbol === "BTC")!.id;
    const ethId = markets.find((m) => m.symbol === "ETH")!.id;
    expect(markets[0].id, "BTC is the replay's first market").to.equal(btcId);
    const last = dump.observations.at(-1)!;
    const oi = (id: number) => {
      const m = last.state.markets.find((x) => x.id === id)!;
      return ((m.snapshot.state.longOpenInterest + m.snapshot.state.shortOpenInterest) * m.snapshot.price) / 10n ** 18n;
    };
    expect(oi(btcId), "the first market has the larger open interest").to.be.greaterThan(oi(ethId));
    const sigma = (id: number) => last.state.markets.find((x) => x.id === id)!.snapshot.sigma;
    expect(sigma(ethId), "the second market has the larger sigma").to.be.greaterThan(sigma(btcId));
    // every step whose book has ETH's sigma ahead reads ETH's history, and the report says so
    const ahead = dump.observations.filter((o) => referenceMarket(o.state) === ethId);
    expect(ahead.length, "most steps have ETH ahead").to.be.greaterThan(dump.observations.length / 2);
    for (const o of ahead) expect(o.reference).to.equal(ethId);
    const series = new Map(result.series.map((x) => [x.t, x.reference]));
    for (const o of ahead) expect(series.get(o.t)).to.equal("ETH");
    // that history is ETH's own rounds, at their times (30 s past the minute) and answers, after the feed's first
    // round, which the replay's set-up posts at the run's start with the path's first price
    const ethAt = new Map(eth.points.map((p) => [p.t, Number(p.priceWad) / 1e18]));
    const history = dump.histories.get(ethId)!;
    expect(history.length).to.be.greaterThan(n - 3);
    expect(history[0].t).to.equal(start);
    expect(Math.abs(history[0].price - Number(eth.points[0].priceWad) / 1e18)).to.be.at.most(1e-9);
    for (const h of history.slice(1)) {
      expect(ethAt.has(h.t), `point at +${h.t - start} s`).to.equal(true);
      expect(Math.abs(h.price - ethAt.get(h.t)!)).to.be.at.most(1e-9);
    }
    // and the forecast read it: each probe's count of shocks is that of ETH's rounds up to the step, not BTC's
    const btcHistory = dump.histories.get(btcId)!;
    let differs = 0;
    for (const [i, o] of dump.observations.entries()) {
      if (o.reference !== ethId) continue;
      const own = standardisedShocks(history.filter((h) => h.t <= o.t));
      const first = standardisedShocks(btcHistory.filter((h) => h.t <= o.t));
      expect(result.probes[i].shocks, `shocks at +${o.t - start} s`).to.equal(own.z.length);
      expect(result.probes[i].stepSeconds).to.equal(own.stepSeconds);
      if (own.z.length !== first.z.length || own.z.some((z, j) => z !== first.z[j])) differs++;
    }
    expect(differs, "the two feeds' histories give different shocks").to.be.greaterThan(0);
  });

  it("referenceMarket: the largest sigma; of equal sigmas the most open interest valued at the price; then the first", function () {
    const market = (id: number, price: bigint, long: bigint, short: bigint, sigma = 5n * 10n ** 17n) =>
      ({
        id,
        symbol: String(id),
        snapshot: { price, sigma, state: { longOpenInterest: long, shortOpenInterest: short } },
      }) as unknown as MonitorState["markets"][number];
    const e18 = 10n ** 18n;
    // equal sigmas. market 1: 10 units at 100 ($1,000); market 2: 2 units at 1,000 ($2,000): market 2 despite the
    // smaller size
    const state = { markets: [market(1, 100n * e18, 6n * e18, 4n * e18), market(2, 1_000n * e18, e18, e18)] };
    expect(referenceMarket(state)).to.equal(2);
    // a larger sigma wins over a larger open interest, whichever comes first
    const calmBig = market(1, 1_000n * e18, 50n * e18, 50n * e18, 4n * 10n ** 17n);
    const wildSmall = market(2, 100n * e18, e18, 0n, 9n * 10n ** 17n);
    expect(referenceMarket({ markets: [calmBig, wildSmall] })).to.equal(2);
    expect(referenceMarket({ markets: [wildSmall, calmBig] })).to.equal(2);
    expect(referenceMarket({ markets: [market(1, 100n * e18, 0n, 0n), market(2, 1_000n * e18, 0n, 0n)] })).to.equal(1);
    expect(referenceMarket({ markets: [] })).to.equal(undefined);
    const histories = new Map([
      [1, [{ t: 1, price: 100 }]],
      [2, [{ t: 2, price: 1_000 }]],
    ]);
    expect(referenceHistory(histories, state)).to.deep.equal([{ t: 2, price: 1_000 }]);
    expect(referenceHistory(histories, { markets: [] })).to.deep.equal([]);
  });
});

describe("Risk monitor backtest: the with/without table's outcome figures", function () {
  it("carries the extra drop, wipe-outs, bad debt, the vault's worst loss, the liquidated notional and the positions opened", function () {
    const e18 = 10n ** 18n;
    const m = {
      maxExtraDrop: ((388n * e18) / 10_000n).toString(), // 3.88%
      accountsWipedOut: 8,
      badDebtIncurred: (13_729n * e18 + 5n).toString(),
      liquidatedNotional: (14_599_787n * e18).toString(),
      positionsOpened: 177,
    } as ReplayMetrics;
    expect(outcomeCell(m, (250_123n * e18 + e18 - 1n).toString())).to.equal(
      "3.88% / 8 / $13,729 / $250,123 / $14,599,787 / 177",
    );
    // a run without the vault has no loss to show, and an older report no positions count
    expect(outcomeCell({ ...m, positionsOpened: undefined }, undefined)).to.equal(
      "3.88% / 8 / $13,729 / - / $14,599,787 / -",
    );
  });
});
