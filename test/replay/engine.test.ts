/**
 * The crash-replay engine on a SYNTHETIC crash written here (not historic data): 200 one-minute
 * steps, calm, then -40% over 100 minutes, then half of it back; 60 traders. Checks that a run
 * completes, that its metrics agree with each other and with the chain, that the oracle saw exactly
 * the rounds the engine pushed, that a seed reproduces a run, that the impact model pushes the price
 * the way liquidations go and decays, and that presets and parameter files reach the contracts.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { ADL_KEEPER_ROLE } from "../../deploy/protocol.js";
import { accountSummary, isLiquidatable } from "../../scripts/lib/math/index.js";
import { Chain } from "../../scripts/replay/chain.js";
import { type EngineResult, runReplay, tickSchedule } from "../../scripts/replay/engine.js";
import { ImpactModel } from "../../scripts/replay/impact.js";
import { generatePopulation } from "../../scripts/replay/population.js";
import { loadParamsFile, loadPreset, withOverrides } from "../../scripts/replay/presets.js";
import { median } from "../../scripts/replay/record.js";
import type { ReplayRun } from "../../scripts/replay/result.js";
import { pathsFor } from "../../scripts/replay/sources.js";
import { syntheticCrash } from "../../scripts/replay/synthetic.js";
import { syntheticCrashFixture } from "../helpers/syntheticCrash.js";

const PATH = syntheticCrashFixture();
const ACCOUNTS = 60;
const params = (name: string, extra = {}) =>
  withOverrides(loadPreset(name), { population: { accounts: ACCOUNTS }, ...extra });
const replay = (name: string, opts: { keepOpen?: boolean; extra?: object } = {}) =>
  runReplay({ network, event: "synthetic", paths: [PATH], params: params(name, opts.extra), keepOpen: opts.keepOpen });
const sum = (xs: bigint[]) => xs.reduce((a, b) => a + b, 0n);
/** A run without its wall-clock and CPU time, to compare two runs. */
const comparable = (r: ReplayRun) =>
  JSON.stringify({ ...r, seconds: 0, cpuSeconds: 0, stats: { ...r.stats, sendMs: 0, callMs: 0, keeperMs: 0 } });

describe("Crash replay engine (synthetic path)", function () {
  this.timeout(300_000);
  let prot: EngineResult;
  let base: ReplayRun;

  before(async function () {
    // today's protection without the backstop vault: the vault's runs are in test/replay/outcomes.test.ts
    // (the keeper's event-followed book does not yet follow the takeover's fee transfer)
    prot = await replay("protected-no-vault", { keepOpen: true });
    base = (await replay("baseline")).run;
  });
  after(async function () {
    await prot?.handle?.close();
  });

  it("completes, with steps in time order over the whole path", function () {
    const { run } = prot;
    expect(run.steps.length).to.be.greaterThanOrEqual(PATH.points.length);
    for (let i = 1; i < run.steps.length; i++) expect(run.steps[i].t).to.be.greaterThan(run.steps[i - 1].t);
    expect(run.steps[0].t).to.equal(PATH.points[0].t);
    expect(run.steps.at(-1)!.t).to.equal(PATH.points.at(-1)!.t);
    const base = run.steps.filter((s) => !s.feedback).map((s) => s.t);
    expect(base).to.deep.equal(tickSchedule([PATH], 300));
    expect(run.metrics.positionsOpened).to.equal(ACCOUNTS);
    expect(run.metrics.accountsLiquidated, "the crash liquidates someone").to.be.greaterThan(0);
    expect(run.stats?.failedTxs).to.equal(0);
  });

  it("keeps its metrics consistent with each other and with the chain", async function () {
    const { run, handle } = prot;
    const m = run.metrics;
    expect(BigInt(m.badDebtIncurred)).to.equal(
      BigInt(m.badDebtCoveredByInsurance) +
        BigInt(m.badDebtPaidByBackstopVault) +
        BigInt(m.badDebtSocialised) +
        BigInt(m.badDebtUncovered),
    );
    const perStep = sum(run.steps.map((s) => BigInt(s.liquidatedNotional)));
    expect(sum(m.liquidatedPerWindow.map((w) => BigInt(w.notional)))).to.equal(perStep);
    expect(BigInt(m.liquidatedNotional!)).to.equal(perStep);
    for (const w of m.liquidatedPerWindow) expect((w.t - run.steps[0].t) % m.windowSeconds).to.equal(0);
    expect(m.tranches).to.be.greaterThanOrEqual(m.accountsLiquidated);
    expect(m.accountsLiquidated).to.be.greaterThanOrEqual(m.accountsWipedOut);
    expect(m.secondsAtLevel.reduce((a, b) => a + b, 0)).to.equal(run.steps.at(-1)!.t - run.steps[0].t);
    expect(m.maxLevel).to.equal(Math.max(...run.steps.map((s) => s.level)));
    let peak = BigInt(m.insuranceStart!);
    let drawdown = 0n;
    for (const s of run.steps) {
      const x = BigInt(s.insuranceAssets);
      if (x > peak) peak = x;
      if (peak - x > drawdown) drawdown = peak - x;
    }
    expect(BigInt(m.insuranceDrawdown)).to.equal(drawdown);

    const le = handle!.protocol.liquidationEngine;
    expect(await le.badDebtIncurred()).to.equal(BigInt(m.badDebtIncurred));
    // the engine's covered ledger holds the fund's cover and what the vault paid at its takeovers
    expect(await le.badDebtCovered()).to.equal(
      BigInt(m.badDebtCoveredByInsurance) + BigInt(m.badDebtPaidByBackstopVault),
    );
    expect(await le.badDebtSocialised()).to.equal(BigInt(m.badDebtSocialised));
    expect(await le.badDebtPending()).to.equal(BigInt(m.badDebtUncovered));
    const settled = await le.queryFilter(le.filters.LiquidationSettled());
    expect(settled.length).to.equal(m.tranches);
    expect(new Set(settled.map((e) => e.args.accountId)).size).to.equal(m.accountsLiquidated);
    const legs = await le.queryFilter(le.filters.TrancheLiquidated());
    expect(sum(legs.map((e) => e.args.keeperReward))).to.equal(BigInt(m.keeperRewardsPaid));
    const fund = handle!.protocol.insuranceFund;
    expect((await fund.coverable()) * 10n ** 12n).to.equal(BigInt(run.steps.at(-1)!.insuranceAssets));
  });

  it("the oracle saw exactly the rounds the engine pushed", async function () {
    const { run, handle } = prot;
    const rounds = handle!.pushedRounds;
    expect(rounds.length).to.be.greaterThan(PATH.points.length / 2);
    const feed = await handle!.ethers.getContractAt("MockAggregator", handle!.feeds[0]);
    // the setup round, then every pushed round, consecutive, and nothing after them
    expect(await feed.latestRound()).to.equal(rounds.at(-1)!.roundId);
    for (let i = 0; i < rounds.length; i++) {
      if (i > 0) expect(rounds[i].roundId).to.equal(rounds[i - 1].roundId + 1n);
      const [, answer, , updatedAt] = await feed.getRoundData(rounds[i].roundId);
      expect(answer).to.equal(rounds[i].answer);
      expect(updatedAt).to.equal(BigInt(rounds[i].t));
    }
    // each step reports the answer in force after it
    let k = 0;
    for (const s of run.steps) {
      while (k + 1 < rounds.length && rounds[k + 1].t <= s.t) k++;
      expect(BigInt(s.oraclePrice), `step ${s.t}`).to.equal(rounds[k].answer);
    }
    const feedId = (await handle!.protocol.engine.marketConfig(0)).feedId;
    expect((await handle!.protocol.oracle.latestPrice(feedId))[0]).to.equal(rounds.at(-1)!.answer);
  });

  it("keeps an off-chain book equal to the chain, and the keeper's own scan agreed with it every tick", async function () {
    const { run, handle } = prot;
    // the keeper service's book (followed from events) and scan, against the engine's mirror
    expect(run.stats?.scanMismatches).to.equal(0);
    expect(run.stats?.contradicted, "candidates the contract found healthy").to.equal(0);
    const { book, protocol } = handle!;
    const snap = await book.snapshot(handle!.chain.time);
    const fast = new Set(book.belowMaintenance(snap));
    for (const [id, acct] of book.accounts) {
      expect(await protocol.vault.marginOf(id), `margin of ${id}`).to.equal(acct.margin);
      const p = await protocol.engine.position(id, 0);
      expect(p.size, `size of ${id}`).to.equal(acct.positions.get(0)?.size ?? 0n);
      expect(p.basis, `basis of ${id}`).to.equal(acct.positions.get(0)?.basis ?? 0n);
      if (acct.positions.size === 0) continue;
      const s = accountSummary(snap, acct);
      expect(isLiquidatable(s), `account ${id}`).to.equal(fast.has(id));
      expect(await protocol.engine.isLiquidatable(id)).to.equal(fast.has(id));
    }
  });

  it("traders add risk only through two-step orders, which the keeper's settle job fills at the next round", async function () {
    const { run, handle } = prot;
    const { protocol, ethers } = handle!;
    const orders = await ethers.getContractAt("IOrders", await protocol.engine.getAddress());
    const config = await orders.orderConfig();
    expect(config.enabled, "the replay deploys with orders on").to.equal(true);
    // a one-step increase is refused: the two-step path is the only way to add risk
    const first = (await orders.queryFilter(orders.filters.OrderSettled()))[0];
    const { accountId, marketId, sizeDelta } = first.args;
    const trader = await ethers.getSigner(await protocol.engine.accountOwner(accountId));
    const limit = sizeDelta > 0n ? 2n ** 255n : 0n;
    await expect(
      protocol.engine.connect(trader).modifyPosition.staticCall(accountId, marketId, sizeDelta, limit),
    ).to.be.revertedWithCustomError(protocol.engine, "RiskNeedsOrder");
    const s = run.stats!;
    // every trader's position came from a settled order; every order is accounted for
    expect(s.ordersSettled).to.equal(run.metrics.positionsOpened);
    expect(s.ordersSettled).to.equal(ACCOUNTS);
    expect(s.ordersCommitted).to.equal(
      Number(s.ordersSettled) + Number(s.ordersRefused) + Number(s.ordersExpired) + Number(s.ordersPending),
    );
    expect(s.orderRetries).to.be.at.most(Number(s.ordersRefused));
    const settled = await orders.queryFilter(orders.filters.OrderSettled());
    expect(settled.length).to.equal(ACCOUNTS);
    const keeper = (await ethers.getSigners())[3].address; // the replay's keeper role (setup.ts)
    const delays = settled.map((e) => Number(e.args.delay)).sort((a, b) => a - b);
    for (const e of settled) {
      expect(e.args.settler, "settled by the keeper service").to.equal(keeper);
      expect(Number(e.args.delay)).to.be.within(Number(config.minDelay), Number(config.maxDelay));
    }
    expect(s.orderDelayMaxSeconds).to.equal(delays.at(-1));
    expect(s.orderDelayMedianSeconds).to.equal(median(delays));
  });

  it("is deterministic for a seed: a second run is equal to the wei, the keeper's counters included", async function () {
    const again = await replay("protected-no-vault");
    expect(again.run.population).to.deep.equal({ accounts: ACCOUNTS, seed: prot.run.population.seed });
    expect(again.run.stats?.keeper).to.match(/Keeper service/);
    // everything but wall-clock time: steps, metrics, parameters, chain totals, keeper counters
    expect(comparable(again.run)).to.equal(comparable(prot.run));
  });

  it("chain: a read pinned to the head block goes as a read at latest, with the same block context; never after a send", async function () {
    const connection = await network.create({ override: { allowBlocksWithSameTimestamp: true } });
    try {
      const sent: unknown[][] = [];
      const provider = {
        request: (a: { method: string; params?: unknown[] }) => {
          if (a.method === "eth_call") sent.push(a.params ?? []);
          return connection.provider.request(a);
        },
      } as unknown as ConstructorParameters<typeof Chain>[0];
      const chain = new Chain(provider);
      // init code that returns block.number, block.timestamp, block.basefee, block.coinbase, block.gaslimit
      const code = "0x43600052426020524860405241606052456080" + "5260a06000f3";
      chain.setTime(2_000_000_000);
      await chain.mine();
      const head = "0x" + (await chain.blockNumber()).toString(16);
      const pinned = await chain.rpc<string>("eth_call", [{ data: code }, head]);
      expect(sent.at(-1)![1], "rewritten").to.equal("latest");
      expect(pinned).to.equal(
        await connection.provider.request({ method: "eth_call", params: [{ data: code }, head] }),
      );
      expect(BigInt("0x" + pinned.slice(2, 66))).to.equal(BigInt(head));
      expect(BigInt("0x" + pinned.slice(66, 130))).to.equal(2_000_000_000n);
      // after anything that may mine, the old head is history: the read keeps its block number
      chain.setTime(2_000_000_100);
      await chain.mine();
      const old = await chain.rpc<string>("eth_call", [{ data: code }, head]);
      expect(sent.at(-1)![1]).to.equal(head);
      expect(BigInt("0x" + old.slice(66, 130))).to.equal(2_000_000_000n);
    } finally {
      await connection.close();
    }
  });

  it("impact model: liquidated longs push the price down, shorts up, and it decays by half per half-life", function () {
    const depth = 1_000_000n * WAD;
    const model = new ImpactModel([{ depthWad: depth }, { depthWad: depth }], 600, (9n * WAD) / 10n);
    const path = 2000n * WAD;
    model.addTrade(0, -10n * WAD, 2000n * WAD); // a long closed: 20,000 sold into 1,000,000 of depth
    model.addTrade(1, 5n * WAD, 2000n * WAD); // a short closed: bought
    expect(model.impact[0]).to.equal(-(2n * WAD) / 100n);
    expect(model.apply(0, path)).to.equal((path * 98n) / 100n);
    expect(model.apply(1, path)).to.equal((path * 101n) / 100n);
    model.decay(600);
    expect(model.impact[0]).to.equal(-(1n * WAD) / 100n);
    model.decay(6000);
    expect(model.impact[0] > -(WAD / 10_000n) && model.impact[0] <= 0n).to.equal(true);
    model.addTrade(0, -1_000_000n * WAD, 2000n * WAD); // far beyond the depth: capped
    expect(model.impact[0]).to.equal(-(9n * WAD) / 10n);
  });

  it("impact in a run: the oracle follows the liquidations down, then returns to the path", function () {
    const steps = prot.run.steps;
    const first = steps.findIndex((s) => BigInt(s.liquidatedNotional) > 0n);
    expect(first).to.be.greaterThanOrEqual(0);
    // the population is mostly long: the first liquidations are sales
    const next = steps[first + 1];
    expect(BigInt(next.oraclePrice)).to.be.lessThan(BigInt(next.pathPrice));
    const before = steps.slice(0, first + 1);
    for (const s of before) expect(s.oraclePrice).to.equal(s.pathPrice);
    // long after the last liquidation (more than five half-lives of 600 s), the displacement has
    // decayed below 1/32 of its peak
    const lastLiq = steps.findLastIndex((s) => BigInt(s.liquidatedNotional) > 0n);
    const end = steps.at(-1)!;
    expect(end.t - steps[lastLiq].t).to.be.greaterThan(5 * 600);
    const gap = BigInt(end.pathPrice) - BigInt(end.oraclePrice);
    const peak = BigInt(prot.run.metrics.maxExtraDrop);
    expect(((gap < 0n ? -gap : gap) * WAD) / BigInt(end.pathPrice) < peak / 32n).to.equal(true);
  });

  it("runs baseline and protected on the same path and population, with their own mechanisms", async function () {
    expect(base.paths).to.deep.equal(prot.run.paths);
    expect(base.population).to.deep.equal(prot.run.population);
    expect((base.params as { population: unknown }).population).to.deep.equal(
      (prot.run.params as { population: unknown }).population,
    );
    expect(base.markets).to.deep.equal(prot.run.markets);
    // the same traders (the population does not depend on the preset)
    const traders = (r: ReplayRun) =>
      generatePopulation(
        (r.params as { population: never }).population,
        ["BTC"],
        PATH.points[0].t,
        PATH.points.at(-1)!.t,
      );
    expect(traders(base)).to.deep.equal(traders(prot.run));

    type OnChain = { breaker: boolean; liquidation: Record<string, string> };
    const b = (base.params as { onChain: OnChain }).onChain;
    const p = (prot.run.params as { onChain: OnChain }).onChain;
    expect(b.breaker).to.equal(false);
    expect(b.liquidation.trancheFraction).to.equal(WAD.toString());
    expect(b.liquidation.backstopRatio).to.equal(WAD.toString());
    expect(b.liquidation.cooldown).to.equal("0");
    expect(b.liquidation.capacityDepthFactor).to.equal((18n * WAD).toString()); // MAX_CAPACITY_DEPTH_FACTOR
    expect(p.breaker).to.equal(true);
    expect(p.liquidation.trancheFraction).to.equal((WAD / 4n).toString());
    expect(p.liquidation.cooldown).to.equal("30");
    // protected ran the breaker: it reports levels; baseline has none
    expect(base.metrics.maxLevel).to.equal(0);
    expect(base.metrics.tranches).to.equal(base.metrics.accountsLiquidated); // full liquidation: one tranche each
    const { protocol } = prot.handle!;
    expect((await protocol.engine.marketConfig(0)).risk.kMm).to.equal(WAD / 100n);
  });

  it("applies a parameter file's overrides to the contracts, the impact model and the population", async function () {
    const dir = mkdtempSync(join(tmpdir(), "replay-params-"));
    const file = join(dir, "custom.json");
    writeFileSync(
      file,
      JSON.stringify({
        extends: "protected",
        description: "test overrides",
        breaker: false,
        market: { risk: { kMm: "0.02", baseFee: 0.001 }, heartbeat: 7200 },
        liquidation: { trancheFraction: 0.5, cooldown: 10, capacityDepthFactor: "0.01" },
        reward: { flat: 3 },
        impact: { halfLifeSeconds: 300, depthToMarket: 2 },
        funds: { insuranceToNotional: 0.1 },
        population: { accounts: 20, seed: 7, leverage: { max: 20 } },
      }),
    );
    const p = loadParamsFile(file);
    expect(p.name).to.equal("custom");
    expect(p.files).to.deep.equal(["presets/protected.json", file]);
    const { run, handle } = await runReplay({ network, event: "synthetic", paths: [PATH], params: p, keepOpen: true });
    try {
      const { protocol } = handle!;
      const cfg = await protocol.liquidationEngine.config();
      expect(cfg.trancheFraction).to.equal(WAD / 2n);
      expect(cfg.cooldown).to.equal(10n);
      expect(cfg.capacityDepthFactor).to.equal(WAD / 100n);
      expect(cfg.backstopRatio).to.equal(6667n * 10n ** 14n); // not overridden: the deployed default
      expect((await protocol.liquidationEngine.rewardConfig())[0]).to.equal(3n * WAD); // flat (Result.flat is Array.prototype.flat)
      const market = await protocol.engine.marketConfig(0);
      expect(market.risk.kMm).to.equal(2n * 10n ** 16n);
      expect(market.risk.baseFee).to.equal(10n ** 15n);
      expect((await protocol.oracle.feedConfig(market.feedId)).heartbeat).to.equal(7200n);
      expect(await protocol.engine.circuitBreaker()).to.equal("0x0000000000000000000000000000000000000000");
      expect(run.population).to.deep.equal({ accounts: 20, seed: 7 });
      const m = run.markets![0];
      expect(BigInt(m.impactDepthUsd)).to.equal(2n * BigInt(m.depthUsd));
      expect(BigInt(run.metrics.insuranceStart!)).to.equal(
        (BigInt(m.wantedNotional) / 10n / 10n ** 12n / 10n ** 6n) * 10n ** 6n * 10n ** 12n,
      );
      expect(
        (run.params as { preset: { impact: { halfLifeSeconds: number } } }).preset.impact.halfLifeSeconds,
      ).to.equal(300);
    } finally {
      await handle!.close();
    }
    // a bad file is refused with the field named
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ liquidation: { tranchFraction: 0.5 } }));
    expect(() => loadParamsFile(bad)).to.throw(/tranchFraction/);
  });

  it("socialises what the insurance fund cannot pay through ADL, candidates ranked off-chain", async function () {
    // An empty fund and no penalty income: bad debt has nowhere to go but the other side's profits.
    // A faster synthetic crash (-40% in 40 minutes: scripts/replay/synthetic.ts) so that the baseline
    // has bad debt with 60 traders.
    const { run, handle } = await runReplay({
      network,
      event: "synthetic",
      paths: [syntheticCrash({ steps: 200, drop: 0.4, crashShare: 0.2 })],
      params: params("baseline", { funds: { insuranceToNotional: 0 }, liquidation: { penaltyRate: 0 } }),
      keepOpen: true,
    });
    try {
      const m = run.metrics;
      expect(m.adlRuns).to.be.greaterThan(0);
      expect(m.adlFailures, "every ranked candidate list was accepted").to.equal(0);
      expect(BigInt(m.badDebtSocialised)).to.be.greaterThan(0n);
      expect(BigInt(m.badDebtIncurred)).to.equal(
        BigInt(m.badDebtCoveredByInsurance) +
          BigInt(m.badDebtPaidByBackstopVault) +
          BigInt(m.badDebtSocialised) +
          BigInt(m.badDebtUncovered),
      );
      const le = handle!.protocol.liquidationEngine;
      const adl = await le.queryFilter(le.filters.AutoDeleveraged());
      expect(adl.length).to.be.greaterThan(0);
      expect(sum(adl.map((e) => e.args.recovered))).to.equal(BigInt(m.badDebtSocialised));
      for (const e of adl)
        expect(e.args.sizeDelta > 0n, "a short reduced (buys back) against bankrupt longs").to.equal(true);
      // sent by the keeper service's ADL job (scripts/keeper/deleverager.ts), from its own key, which
      // holds ADL_KEEPER: the replay has no ranking of its own
      const keeperAddress = (await handle!.ethers.getSigners())[3].address;
      for (const e of adl) expect((await e.getTransaction()).from).to.equal(keeperAddress);
      expect(await le.hasRole(ADL_KEEPER_ROLE, keeperAddress)).to.equal(true);
    } finally {
      await handle!.close();
    }
  });

  it("sources: the synthetic crash is always there; without crash data the error names --data-dir and --stylised", function () {
    const synthetic = pathsFor("synthetic");
    expect(synthetic.paths[0].source).to.match(/synthetic/);
    const stylised = pathsFor("black-thursday-2020", { stylised: true });
    expect(stylised.paths.length).to.be.greaterThan(0);
    expect(stylised.paths.every((p) => p.stylised)).to.equal(true);
    const missing = join(mkdtempSync(join(tmpdir(), "replay-no-data-")), "nothing-here");
    expect(() => pathsFor("black-thursday-2020", { dataDir: missing })).to.throw(/--data-dir <dir>.*--stylised/s);
  });
});
