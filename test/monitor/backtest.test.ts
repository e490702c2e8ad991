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
import type { ReplayMetrics } from "../../scripts/replay/result.js";
import { runReplay } from "../../scripts/replay/engine.js";
import { loadPreset, withOverrides } from "../../scripts/replay/presets.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { syntheticCrashFixture } from "../helpers/syntheticCrash.js";

const PATH = syntheticCrashFixture(120);
const params = () => withOverrides(loadPreset("protected"), { population: { accounts: 24 } });

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

  it("a point per round of the first market at its own time: another feed's rounds between its minutes add none", async function () {
    // the USDC depeg's shape in miniature: the first market (BTC) has a round every minute, a second market's
    // feed moves 15 s after each of BTC's minutes, so the replay steps at both; one point per step would
    // record BTC's held price at :15 and then its whole minute's return over the 45 s left
    const start = 1_900_000_000;
    const n = 40;
    const btc = {
      ...PATH,
      event: "synthetic-two-feeds",
      points: Array.from({ length: n }, (_, i) => ({
        t: start + 60 * i,
        priceWad: BigInt(Math.round(8_000 * (1 + 0.001 * Math.sin(i)) * 100)) * 10n ** 16n,
      })),
    };
    const other = {
      ...btc,
      symbol: "ETH",
      points: Array.from({ length: n }, (_, i) => ({
        t: start + 60 * i + 15,
        priceWad: BigInt(Math.round(2_000 * (1 + 0.0005 * ((i % 2) - 0.5)) * 100)) * 10n ** 16n,
      })),
    };
    const watch = new ReplayBacktest();
    await runReplay({ network, event: "two-feeds", paths: [btc, other], params: params(), onStep: watch.onStep });
    const { history, observations } = watch.dump() as {
      history: { t: number; price: number }[];
      observations: { t: number }[];
    };
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
