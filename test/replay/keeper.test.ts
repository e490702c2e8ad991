/**
 * The crash replay runs the project's keeper service (scripts/keeper/keeper.ts, through
 * scripts/replay/serviceKeeper.ts) on a SYNTHETIC crash (not historic data): the run names it and
 * reports its counters; every liquidation and poke of the run went out from the keeper's address
 * through its TxManager, at the tick's time. Determinism with the service is tested in
 * replay.engine.test.ts, and the engine's mirror against the contract's own view of every account.
 */
import { expect } from "chai";
import { id } from "ethers";
import { network } from "hardhat";

import { RENEW_AFTER_SECONDS } from "../../scripts/keeper/flagger.js";
import { TX_GAS_CAP } from "../../scripts/replay/chain.js";
import { type EngineResult, runReplay } from "../../scripts/replay/engine.js";
import { loadPreset, withOverrides } from "../../scripts/replay/presets.js";
import { ServiceKeeper } from "../../scripts/replay/serviceKeeper.js";
import { syntheticCrashFixture } from "../helpers/syntheticCrash.js";

const PATH = syntheticCrashFixture();
const ACCOUNTS = 60;
const params = (name: string, extra = {}) =>
  withOverrides(loadPreset(name), { population: { accounts: ACCOUNTS }, ...extra });

type RpcTx = { hash: string; from: string; to: string | null; input: string; gas: string; type: string };
type RpcBlock = { number: string; timestamp: string; transactions: RpcTx[] };

describe("Crash replay keeper: the keeper service (synthetic path)", function () {
  this.timeout(300_000);
  let service: ServiceKeeper | undefined;
  let res: EngineResult;
  let keeperAddress: string;
  let blocks: RpcBlock[];
  let rpc: (method: string, p: unknown[]) => Promise<unknown>;

  before(async function () {
    res = await runReplay({
      network,
      event: "synthetic",
      paths: [PATH],
      params: params("protected-no-vault"),
      keepOpen: true,
    });
    service = res.handle!.keeper;
    const { connection } = res.handle!;
    keeperAddress = (await res.handle!.ethers.getSigners())[3].address;
    rpc = (method: string, p: unknown[]) => connection.provider.request({ method, params: p });
    const head = Number(await rpc("eth_blockNumber", []));
    blocks = [];
    for (let n = 0; n <= head; n++)
      blocks.push((await rpc("eth_getBlockByNumber", ["0x" + n.toString(16), true])) as RpcBlock);
  });
  after(async function () {
    await res?.handle?.close();
  });

  it("names the keeper service in the run and reports its counters", async function () {
    const s = res.run.stats!;
    const m = res.run.metrics;
    expect(s.keeper).to.equal("Keeper service (scripts/keeper/keeper.ts)");
    expect(m.tranches, "the crash liquidates").to.be.greaterThan(0);
    expect(s.tranches, "the keeper's own count of the tranches its batches settled").to.equal(m.tranches);
    expect(s.batches).to.be.greaterThan(0);
    expect(s.tranchesSent).to.be.greaterThanOrEqual(s.tranches as number);
    expect(s.volatilityPokes).to.be.greaterThan(0);
    expect(s.breakerPokes).to.be.greaterThan(0);
    // every tick ran at least one pass, and every pass saw a new block and scanned
    expect(s.passes).to.be.greaterThanOrEqual(res.run.steps.length);
    expect(s.scans).to.equal(s.passes);
    expect(s.passLimitHits).to.equal(0);
    expect(s.revertedTxs).to.equal(0);
    expect(s.failedTxs).to.equal(0);
    // the counters are the service's own, as its Prometheus metrics have them
    const metrics = service!.keeper.metrics;
    expect((await metrics.tranchesSent.get()).values[0].value).to.equal(s.tranchesSent);
    const sent = (await metrics.transactions.get()).values.filter((v) => v.labels.outcome === "sent");
    const byKind = (kind: string) => sent.find((v) => v.labels.kind === kind)?.value ?? 0;
    expect(byKind("liquidation")).to.equal(s.batches);
    expect(byKind("volatility")).to.equal(s.volatilityPokes);
    expect(byKind("breaker")).to.equal(s.breakerPokes);
    // it followed every trader's account from the deployment record's startBlock
    expect(service!.keeper.health().accountsTracked).to.equal(ACCOUNTS);
    expect(service!.keeper.contracts.engine.target).to.equal(await res.handle!.protocol.engine.getAddress());
  });

  it("flags the accounts cooldown or capacity hold back, from its own address: their reward escalation starts, and a flag renews a running clock no sooner than RENEW_AFTER_SECONDS", async function () {
    const s = res.run.stats!;
    const le = res.handle!.protocol.liquidationEngine;
    const seenTopic = id("AccountSeenLiquidatable(uint256,uint256)");
    const flagged = (await le.queryFilter(le.filters.AccountFlagged())).filter((e) => e.args.since > 0n);
    expect(s.flags, "the protected preset's 30 s cooldown holds accounts back").to.be.greaterThan(0);
    expect(flagged.length, "at least one flag started a clock").to.be.greaterThan(0);
    const selector = le.interface.getFunction("flag").selector;
    for (const e of flagged) {
      const tx = await e.getTransaction();
      expect(tx.from).to.equal(keeperAddress);
      expect(tx.data.startsWith(selector), "a flag() of its own, not a tranche's").to.equal(true);
    }
    // every flag() the keeper sent was one: none that did nothing (the contract reverts one that would
    // neither start nor renew a clock), each saw the account liquidatable
    const leAddress = (await le.getAddress()).toLowerCase();
    const flagTxs = blocks
      .flatMap((b) => b.transactions.map((tx) => ({ tx, t: BigInt(b.timestamp) })))
      .filter(({ tx }) => tx.to?.toLowerCase() === leAddress && tx.input.startsWith(selector));
    expect(flagTxs.length).to.equal(s.flags);
    const lastByAccount = new Map<bigint, bigint>();
    for (const { tx, t } of flagTxs) {
      const receipt = (await rpc("eth_getTransactionReceipt", [tx.hash])) as { logs: { topics: string[] }[] };
      const seen = receipt.logs.filter((l) => l.topics[0] === seenTopic);
      expect(seen.length, `flag ${tx.hash} saw its account liquidatable`).to.equal(1);
      const id = BigInt(seen[0].topics[1]);
      const started = flagged.some((e) => e.transactionHash === tx.hash);
      const last = lastByAccount.get(id);
      // a renewal (no new clock) comes at least RENEW_AFTER_SECONDS after the keeper last flagged it
      if (!started && last !== undefined) expect(t - last).to.be.greaterThanOrEqual(RENEW_AFTER_SECONDS);
      lastByAccount.set(id, t);
    }
  });

  it("sent every liquidation and poke from its own address, through its TxManager, at the tick's time", async function () {
    const s = res.run.stats!;
    const le = res.handle!.protocol.liquidationEngine;
    const leAddress = (await le.getAddress()).toLowerCase();
    const batchSelector = le.interface.getFunction("liquidateBatch").selector;
    const txs = blocks.flatMap((b) => b.transactions.map((tx) => ({ tx, t: Number(b.timestamp) })));
    const fromKeeper = txs.filter(({ tx }) => tx.from.toLowerCase() === keeperAddress.toLowerCase());
    // nothing else sends from the keeper's address: its nonces are the TxManager's, one per transaction
    expect(fromKeeper.length).to.equal((s.batches as number) + (s.pokes as number));
    const count = await res.handle!.connection.provider.request({
      method: "eth_getTransactionCount",
      params: [keeperAddress, "latest"],
    });
    expect(Number(count)).to.equal(fromKeeper.length);

    const batches = txs.filter(({ tx }) => tx.to?.toLowerCase() === leAddress && tx.input.startsWith(batchSelector));
    expect(batches.length).to.equal(s.batches);
    for (const { tx } of batches) {
      expect(tx.from.toLowerCase(), "a batch from someone else").to.equal(keeperAddress.toLowerCase());
      expect(Number(tx.type), "EIP-1559, priced by the keeper's fee policy").to.equal(2);
      // the planner's per-tranche gas budget, proven by eth_call (never the transaction cap)
      expect(Number(tx.gas)).to.be.lessThan(TX_GAS_CAP);
    }
    const settled = await le.queryFilter(le.filters.LiquidationSettled());
    expect(settled.length).to.equal(res.run.metrics.tranches);
    for (const e of settled) expect(e.args.keeper).to.equal(keeperAddress);

    // mined at the replay's time: every keeper transaction's block carries a tick's timestamp
    const tickTimes = new Set(res.run.steps.map((st) => st.t));
    for (const { tx, t } of fromKeeper) expect(tickTimes.has(t), `${tx.hash} mined at ${t}`).to.equal(true);
  });
});
