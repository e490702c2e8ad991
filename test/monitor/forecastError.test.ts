/**
 * The backtest's forecast error (backtest.ts `forecastSamples`; docs/experiments.md, "Risk monitor",
 * "The forecast error"): each market moved by its own path (ladder.ts `betaTables`, the cascade's
 * `beta`), and only the forced closes of the accounts the forecast saw counted against it. Pure: a
 * seeded synthetic book (ETH and BTC, a third of the accounts cross-margined), no chain.
 */
import { expect } from "chai";

import { WAD } from "../../scripts/lib/math/fixedPoint.js";
import { type ForecastStep, forecastSamples, pathMoves, stepExposures } from "../../scripts/monitor/backtest.js";
import { cascade } from "../../scripts/monitor/cascade.js";
import { type MonitorState, exposureOf, marketMap } from "../../scripts/monitor/exposure.js";
import { cascadeMarkets } from "../../scripts/monitor/forecast.js";
import { betaTables, tablesOf } from "../../scripts/monitor/ladder.js";
import { syntheticState } from "../../scripts/monitor/syntheticBook.js";

const state = syntheticState(400, 7);
const snapshots = marketMap(state);
const exposures = state.accounts
  .filter((a) => a.positions.size > 0)
  .map((a) => exposureOf(a, snapshots, state.liquidationMargin));
const [eth, btc] = state.markets.map((m) => m.id);
const pct = (x: number) => (BigInt(Math.round(x * 100)) * WAD) / 10_000n;

/** The state with market i's price moved down by beta_i * x (floored, as the oracle would report it). */
function movedBy(_s: MonitorState, betas: Map<number, bigint>, x: bigint) {
  const out = new Map(snapshots);
  for (const [id, m] of snapshots) {
    const move = ((betas.get(id) ?? WAD) * x) / WAD;
    out.set(id, { ...m, price: (m.price * (WAD - move)) / WAD });
  }
  return out;
}

function step(t: number, pathPrice: bigint, pathPrices?: Map<number, bigint>, seen?: Set<bigint>): ForecastStep {
  const tables = tablesOf(exposures, snapshots);
  return {
    t,
    pathPrice,
    table: tables.down,
    markets: cascadeMarkets(state, 10_000),
    insuranceWad: state.insuranceWad,
    pathPrices,
    exposures,
    snapshots,
    seen,
  };
}

describe("Risk monitor: the forecast error", function () {
  it("betaTables: every beta 1 is the joint table; each threshold is the account's boundary with markets moved by their own beta", function () {
    const ones = new Map([
      [eth, WAD],
      [btc, WAD],
    ]);
    expect(betaTables(exposures, snapshots, ones)).to.deep.equal(tablesOf(exposures, snapshots));
    // BTC falls 0.4x of ETH's move
    const betas = new Map([
      [eth, WAD],
      [btc, (4n * WAD) / 10n],
    ]);
    const table = betaTables(exposures, snapshots, betas).down;
    const joint = tablesOf(exposures, snapshots).down;
    expect(table.moves).to.not.deep.equal(joint.moves);
    // the accounts the table says are liquidatable by x are those whose linear form, recomputed at the prices
    // moved by each market's own beta, is below zero (the liquidation margin held at today's notional, as
    // in the joint form; the joint form's own distance to the mirror is the ladder's test)
    let checked = 0;
    for (const x of [pct(1), pct(3), pct(6), pct(12), pct(25)]) {
      const moved = movedBy(state, betas, x);
      const byTable = table.moves.filter((m) => m <= x).length;
      let byForm = 0;
      for (const e of exposures) {
        const at = exposureOf(e.account, moved, state.liquidationMargin);
        // linear in the move: liquidatable somewhere in [0, x] is liquidatable now or at x
        if (e.a + e.b - e.c < 0n || e.a + at.b - at.c < 0n) byForm++;
      }
      expect(byTable, `x=${x}`).to.equal(byForm);
      if (byTable > 3) checked++;
    }
    expect(checked, "some accounts liquidatable on the grid").to.be.greaterThan(2);
  });

  it("a market whose path does not fall liquidates nothing: the forecast moves each market by its own path", function () {
    // the reference (ETH) falls 8% over the hour; BTC's path stays where it was
    const price = (id: number) => snapshots.get(id)!.price;
    const flat = (f: bigint) =>
      new Map([
        [eth, (price(eth) * f) / WAD],
        [btc, price(btc)],
      ]);
    const steps = [step(0, WAD, flat(WAD)), step(1_800, (WAD * 92n) / 100n, flat((WAD * 92n) / 100n))];
    const [s] = forecastSamples(steps, [{ t: 600, notional: 1n }]);
    expect(s.shock).to.equal(pct(8));
    expect(s.betas[eth]).to.equal(WAD);
    expect(s.betas[btc]).to.equal(0n);
    // the joint move (the old forecast) liquidates BTC longs that the path never reached
    expect(s.predictedJoint).to.be.greaterThan(s.predicted);
    const onlyEth = betaTables(
      exposures,
      snapshots,
      new Map([
        [eth, WAD],
        [btc, 0n],
      ]),
    ).down;
    const markets = cascadeMarkets(state, 10_000).map((m) => ({ ...m, beta: m.id === btc ? 0n : WAD }));
    expect(s.predicted).to.equal(
      cascade(onlyEth, markets, pct(8), { insuranceWad: state.insuranceWad }).liquidatedNotional,
    );
    // without per-market paths every market moves with the reference, as before
    const [j] = forecastSamples([step(0, WAD), step(1_800, (WAD * 92n) / 100n)], [{ t: 600, notional: 1n }]);
    expect(j.predicted).to.equal(s.predictedJoint);
  });

  it("a market that does not move with the reference does not dilute the reference's own displacement", function () {
    const betas = new Map([
      [eth, WAD],
      [btc, 0n],
    ]);
    const table = betaTables(exposures, snapshots, betas).down;
    const all = cascadeMarkets(state, 10_000).map((m) => ({ ...m, beta: betas.get(m.id)! }));
    const ethOnly = all.filter((m) => m.id === eth);
    const opts = { insuranceWad: state.insuranceWad };
    for (const s of [pct(2), pct(5), pct(8), pct(15)]) {
      const both = cascade(table, all, s, opts);
      // BTC stays where it is: the joint move is ETH's alone, whatever BTC's depth or what is closed there
      expect(both.total, `s=${s}`).to.equal(cascade(table, ethOnly, s, opts).total);
    }
    // and the cascade adds something on this book (the comparison is not between two zeros)
    expect(cascade(table, all, pct(15), opts).extra).to.be.greaterThan(0n);
  });

  it("only the accounts the forecast saw count against it: a position opened after the step is not its error", function () {
    const seen = new Set(state.accounts.map((a) => a.id));
    const newcomer = 10_000n;
    const steps = [step(0, WAD, undefined, seen), step(1_800, (WAD * 97n) / 100n, undefined, seen)];
    const closes = [
      {
        t: 900,
        notional: 5n * WAD,
        takeovers: 5n * WAD,
        byAccount: [
          { id: state.accounts[0].id, notional: 2n * WAD },
          { id: newcomer, notional: 3n * WAD },
        ],
      },
      // after the hour: not counted
      { t: 3_700, notional: 7n * WAD, byAccount: [{ id: state.accounts[1].id, notional: 7n * WAD }] },
    ];
    const [s] = forecastSamples(steps, closes);
    expect(s.realised).to.equal(2n * WAD);
    expect(s.realisedAll).to.equal(5n * WAD);
    expect(s.realisedTakeovers).to.equal(5n * WAD);
    expect(s.ratio).to.equal(Number((s.predicted * 1_000_000n) / s.realised) / 1_000_000);
    // without the step's book every close counts (the measurement as it was)
    const [all] = forecastSamples([step(0, WAD), step(1_800, (WAD * 97n) / 100n)], closes);
    expect(all.realised).to.equal(5n * WAD);
  });

  it("a market that moves while the reference is flat (the collateral's own price) is a move, and so is a rise", function () {
    const price = (id: number) => snapshots.get(id)!.price;
    // the reference (ETH, the first market) stays flat; BTC (a stand-in for the replay's USDC market, driven
    // by the collateral's price) falls 8% over the hour, then the next hour rises 6% from there
    const at = (ethF: bigint, btcF: bigint) =>
      new Map([
        [eth, (price(eth) * ethF) / WAD],
        [btc, (price(btc) * btcF) / WAD],
      ]);
    const fall = [step(0, WAD, at(WAD, WAD)), step(1_800, WAD, at(WAD, (WAD * 92n) / 100n))];
    const [s] = forecastSamples(fall, [{ t: 600, notional: 1n }]);
    expect(s.reference).to.equal(btc);
    expect(s.direction).to.equal("down");
    expect(s.shock).to.equal(pct(8));
    expect(s.betas[eth]).to.equal(0n);
    expect(s.betas[btc]).to.equal(WAD);
    const betas = new Map([
      [eth, 0n],
      [btc, WAD],
    ]);
    const markets = cascadeMarkets(state, 10_000).map((m) => ({ ...m, beta: betas.get(m.id)! }));
    const opts = { insuranceWad: state.insuranceWad };
    const expected = cascade(betaTables(exposures, snapshots, betas).down, markets, pct(8), opts).liquidatedNotional;
    expect(expected, "BTC longs are liquidatable at an 8% fall of BTC").to.be.greaterThan(0n);
    expect(s.predicted).to.equal(expected);
    // the reference's own fall is 0: the measurement before fed the forecast nothing (ratio 0)
    expect(s.predictedJoint).to.equal(
      cascade(tablesOf(exposures, snapshots).down, cascadeMarkets(state, 10_000), 0n, opts).liquidatedNotional,
    );
    expect(s.predicted).to.be.greaterThan(s.predictedJoint);

    // a rise of BTC alone: its shorts, through the up table
    const rise = [step(0, WAD, at(WAD, WAD)), step(1_800, WAD, at(WAD, (WAD * 106n) / 100n))];
    const [r] = forecastSamples(rise, [{ t: 600, notional: 1n }]);
    expect(r.reference).to.equal(btc);
    expect(r.direction).to.equal("up");
    expect(r.shock).to.equal(pct(6));
    const up = cascade(betaTables(exposures, snapshots, betas).up, markets, pct(6), opts).liquidatedNotional;
    expect(up, "BTC shorts are liquidatable at a 6% rise").to.be.greaterThan(0n);
    expect(r.predicted).to.equal(up);

    // the moments of each market's largest fall and rise are the candidates, the market that moved most
    // there the reference (betas within [-1, 1]); the sample keeps the one whose forecast liquidates the most
    const both = [
      step(0, WAD, at(WAD, WAD)),
      step(900, WAD, at((WAD * 97n) / 100n, (WAD * 99n) / 100n)),
      step(1_800, WAD, at((WAD * 101n) / 100n, (WAD * 92n) / 100n)),
    ];
    const moves = pathMoves(both, 0);
    expect(moves.map((m) => `${m.reference}:${m.direction}`)).to.deep.equal([`${eth}:down`, `${btc}:down`]);
    // at ETH's low BTC had fallen 1%: a third of ETH's move
    expect(moves[0].shock).to.equal(pct(3));
    expect(moves[0].betas.get(btc)).to.equal((pct(1) * WAD) / pct(3));
    // at ETH's high (BTC's low) BTC moved most: ETH's 1% rise is -1/8 of BTC's fall
    expect(moves[1].shock).to.equal(pct(8));
    expect(moves[1].betas.get(eth)).to.equal(-((pct(1) * WAD) / pct(8)));
    const [b] = forecastSamples(both, [{ t: 600, notional: 1n }]);
    const each = moves.map(
      (m) =>
        cascade(
          betaTables(exposures, snapshots, m.betas)[m.direction],
          cascadeMarkets(state, 10_000).map((x) => ({ ...x, beta: m.betas.get(x.id)! })),
          m.shock,
          opts,
        ).liquidatedNotional,
    );
    expect(b.predicted).to.equal(each.reduce((x, y) => (y > x ? y : x), 0n));
  });

  it("the step's book is a copy: positions closed after the step still count in what the forecast sells", function () {
    // a book of its own (the synthetic state is shared by the other tests)
    const own = syntheticState(400, 7);
    const snaps = marketMap(own);
    const price = (id: number) => snaps.get(id)!.price;
    const paths = (f: bigint) =>
      new Map([
        [eth, (price(eth) * f) / WAD],
        [btc, (price(btc) * (WAD + (WAD - f) / 2n)) / WAD],
      ]);
    const stepOf = (t: number, f: bigint, ex: ReturnType<typeof stepExposures>): ForecastStep => ({
      t,
      pathPrice: f,
      table: tablesOf(ex, snaps).down,
      markets: cascadeMarkets(own, 10_000),
      insuranceWad: own.insuranceWad,
      pathPrices: paths(f),
      exposures: ex,
      snapshots: snaps,
    });
    const copied = stepExposures(own, snaps);
    const live = own.accounts
      .filter((a) => a.positions.size > 0)
      .map((a) => exposureOf(a, snaps, own.liquidationMargin));
    const run = (ex: ReturnType<typeof stepExposures>) =>
      forecastSamples([stepOf(0, WAD, ex), stepOf(1_800, (WAD * 90n) / 100n, ex)], [{ t: 600, notional: 1n }])[0];
    const before = run(copied);
    expect(run(live).predicted).to.equal(before.predicted);
    // ETH falls while BTC rises: not a joint move, so the sizes sold come from the positions
    expect(before.betas[btc]).to.be.lessThan(0n);
    // the replay then takes over every account: the chain source's maps empty (as they do after the step)
    for (const a of own.accounts) (a.positions as Map<number, unknown>).clear();
    const after = run(copied);
    expect(after.predicted).to.equal(before.predicted);
    // read through the live maps, the same forecast sells nothing and its cascade adds nothing (the bug)
    expect(run(live).predicted).to.be.lessThan(before.predicted);
  });
});
