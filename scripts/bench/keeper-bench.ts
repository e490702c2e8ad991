/**
 * Keeper benchmark: 2,000 accounts on a local hardhat node, one price shock (8% down) that leaves
 * about a third of them below maintenance margin, and the keeper (in-process, over JSON-RPC) liquidating
 * them. Prints figures; asserts nothing about time.
 *
 *   npm run bench                         # defaults below
 *   BENCH_ACCOUNTS=500 BENCH_BLOCK_MS=1000 npm run bench
 *   BENCH_SIMULATE_BATCHES=1 npm run bench  # every batch simulated before it is sent
 *
 * Setup is fast because the node's automine is off while the accounts are opened: thousands of
 * transactions go out in JSON-RPC batches with explicit nonces, and blocks are mined until all are
 * in. For the measured part the node mines a block every BENCH_BLOCK_MS (interval mining), so
 * several keeper transactions can share a block, as on a live chain.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

import { Wallet, parseEther } from "ethers";
import { network } from "hardhat";

import { keeperSettings } from "../keeper/config.js";
import { startHardhatNode } from "../keeper/devnet/node.js";
import { WAD, deployWorld, mixedAccounts, openAccounts } from "../keeper/devnet/world.js";
import { Keeper, type TickReport } from "../keeper/keeper.js";
import { silentLogger } from "../keeper/logger.js";
import { createProvider } from "../keeper/rpc.js";

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 2_000);
const BLOCK_MS = Number(process.env.BENCH_BLOCK_MS ?? 2_000);
const SHOCK_BP = BigInt(process.env.BENCH_SHOCK_BP ?? 800);
const SEED = Number(process.env.BENCH_SEED ?? 2024);
// The node's port: the OS picks a free one unless BENCH_PORT names one (a shared machine's own range).
const PORT = process.env.BENCH_PORT ? Number(process.env.BENCH_PORT) : undefined;

const PRICES = new Map([
  [0, 2_000n * WAD],
  [1, 30_000n * WAD],
]);

const ms = (x: number) => `${x.toFixed(1)} ms`;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

async function main(): Promise<void> {
  const node = await startHardhatNode({ port: PORT });
  const dir = mkdtempSync(join(tmpdir(), "keeper-bench-"));
  const connection = await network.create({ network: "localhost", override: { url: node.url } });
  try {
    console.log(`keeper bench: ${ACCOUNTS} accounts, ${BLOCK_MS} ms blocks, shock -${Number(SHOCK_BP) / 100}%`);
    let t = performance.now();
    const w = await deployWorld(connection.ethers, {
      url: node.url,
      network: "localhost",
      deploymentsDir: dir,
      lpUsdc: 20_000_000n * 10n ** 6n,
      insuranceUsdc: 1_000_000n * 10n ** 6n,
    });
    console.log(`  deploy                       ${ms(performance.now() - t)}`);
    const [, , trader] = (await w.rpc.send("eth_accounts", [])) as string[];
    t = performance.now();
    const specs = mixedAccounts(ACCOUNTS, {
      seed: SEED,
      prices: PRICES,
      longShare: 0.7,
      minLeverage: 2,
      maxLeverage: 18,
      minMarginUsdc: 200,
      maxMarginUsdc: 1_000,
    });
    const ids = await openAccounts(w, trader, specs);
    const setupBlocks = await w.rpc.getBlockNumber();
    console.log(`  open ${ids.length} accounts          ${ms(performance.now() - t)} (chain at block ${setupBlocks})`);

    const key = Wallet.createRandom();
    await w.rpc.send("hardhat_setBalance", [key.address, "0x" + parseEther("1000").toString(16)]);
    const provider = createProvider(node.url, w.deployment.chainId, 30_000);
    const keeper = new Keeper({
      provider,
      signer: new Wallet(key.privateKey, provider),
      deployment: w.deployment,
      // BENCH_SIMULATE_BATCHES=1: every batch simulated before it is sent (the keeper's --simulate-batches)
      config: keeperSettings({
        maxPendingTxs: 16,
        previewLimit: 2_000,
        stuckBlocks: 3,
        simulateBatches: process.env.BENCH_SIMULATE_BATCHES === "1",
      }),
      logger: silentLogger(),
      rpcStats: provider.stats,
    });

    t = performance.now();
    const sync = await keeper.tick();
    console.log(
      `  keeper first sync            ${ms(performance.now() - t)}: ${sync.follow?.logs} events over ` +
        `${(sync.follow?.toBlock ?? 0) - (sync.follow?.fromBlock ?? 0) + 1} blocks, ${sync.rpcCalls} RPC calls`,
    );

    // steady state: blocks with nothing to do
    const idle: TickReport[] = [];
    for (let i = 0; i < 10; i++) {
      await w.rpc.send("evm_mine", []);
      idle.push(await keeper.tick());
    }
    const idleScan = idle.map((r) => r.scanMs);
    const idleRead = idle.map((r) => r.readMs);
    const idleCalls = idle.map((r) => r.rpcCalls ?? 0);

    // The shock: both feeds' rounds mined in one block, then interval mining and the keeper ticking as
    // fast as it can, starting at once (a live keeper is already polling when the shock lands). The
    // bench's own reads of who was liquidatable at the shock block come after the measured part, so
    // they do not hold the node while the keeper works.
    await w.rpc.send("evm_setAutomine", [false]);
    const shockTxs = [];
    for (const [m, p] of PRICES) {
      const feed = w.protocol.feeds.get(m)!;
      shockTxs.push(await feed.updateAnswer((p * (10_000n - SHOCK_BP)) / 10_000n / 10n ** 10n));
    }
    await w.rpc.send("evm_mine", []);
    await w.rpc.send("evm_setIntervalMining", [BLOCK_MS]);
    const shockSeenAt = performance.now();
    const cpuAtShock = process.cpuUsage();
    const shockReceipts = await Promise.all(shockTxs.map((tx) => w.rpc.getTransactionReceipt(tx.hash)));
    if (shockReceipts.some((r) => r?.status !== 1)) throw new Error("the shock's price updates were not mined");
    const shockBlock = shockReceipts[0]!.blockNumber;
    const liquidatableAtShock = async () => {
      const engine = w.protocol.engine.connect(w.rpc);
      const atShock = await Promise.all(ids.map((id) => engine.isLiquidatable(id, { blockTag: shockBlock })));
      return ids.filter((_, i) => atShock[i]);
    };

    const ticks: TickReport[] = [];
    const shockTick = () => ticks.find((r) => (r.liquidation?.batches.length ?? 0) > 0);
    const firstTranche = new Map<bigint, number>();
    const le = w.protocol.liquidationEngine.connect(w.rpc);
    let doneAt = 0;
    const deadline = performance.now() + 180_000;
    while (performance.now() < deadline) {
      const r = await keeper.tick();
      ticks.push(r);
      if (r.mined.length) {
        const logs = await le.queryFilter(le.filters.LiquidationSettled(), shockBlock);
        for (const l of logs)
          if (!firstTranche.has(l.args.accountId)) firstTranche.set(l.args.accountId, l.blockNumber);
        // done once every account the keeper found liquidatable at the shock has its first tranche
        // mined (checked against the chain's own answer below)
        const wanted = shockTick()?.liquidation?.candidates ?? Infinity;
        if (firstTranche.size >= wanted) {
          doneAt = performance.now();
          break;
        }
      }
      await sleep(20);
    }
    const cpu = process.cpuUsage(cpuAtShock);
    await w.rpc.send("evm_setIntervalMining", [0]);
    await w.rpc.send("evm_setAutomine", [true]);

    const hit = await liquidatableAtShock();
    const missed = hit.filter((id) => !firstTranche.has(id)).length;
    if (missed) console.log(`  NOT liquidated after the shock ${missed} of ${hit.length} liquidatable accounts`);
    const lastBlock = Math.max(...hit.map((id) => firstTranche.get(id) ?? Infinity));
    const perBlock = new Map<number, number>();
    for (const id of hit) {
      const b = firstTranche.get(id);
      if (b !== undefined) perBlock.set(b - shockBlock, (perBlock.get(b - shockBlock) ?? 0) + 1);
    }
    // every liquidation this keeper got mined since the shock, from the chain (the keeper may not
    // have collected the last receipts when the loop stopped)
    const ours = (await le.queryFilter(le.filters.LiquidationSettled(), shockBlock)).filter(
      (l) => l.args.keeper === key.address,
    );
    const byTx = new Map<string, number>();
    for (const l of ours) byTx.set(l.transactionHash, (byTx.get(l.transactionHash) ?? 0) + 1);
    let gas = 0n;
    let tranches = 0;
    const perTranche: number[] = [];
    for (const [hash, n] of byTx) {
      const receipt = await w.rpc.getTransactionReceipt(hash);
      gas += receipt?.gasUsed ?? 0n;
      tranches += n;
      perTranche.push(Number(receipt?.gasUsed ?? 0n) / n);
    }

    console.log(`  liquidatable at the shock    ${hit.length} of ${ids.length} (block ${shockBlock})`);
    const chainSeconds = Number.isFinite(lastBlock)
      ? (await w.rpc.getBlock(lastBlock))!.timestamp - (await w.rpc.getBlock(shockBlock))!.timestamp
      : NaN;
    console.log(
      `  every first tranche mined    ${Number.isFinite(lastBlock) ? lastBlock - shockBlock : "NOT within 180 s, ?"} blocks ` +
        `after the shock block (target: within 3), ${chainSeconds} s of chain time; ` +
        `the bench saw the last receipt ${doneAt ? ms(doneAt - shockSeenAt) : "?"} after the shock`,
    );
    console.log(
      `  first tranches per block     ${[...perBlock]
        .sort((a, b) => a[0] - b[0])
        .map(([d, n]) => `+${d}: ${n}`)
        .join(", ")}`,
    );
    if (Number.isFinite(lastBlock)) {
      const blocks = [];
      for (let b = shockBlock + 1; b <= lastBlock; b++) blocks.push(await w.rpc.getBlock(b));
      console.log(
        `  gas per block after the shock ${blocks
          .map((b) => `+${b!.number - shockBlock}: ${(Number(b!.gasUsed) / 1e6).toFixed(1)}M`)
          .join(", ")} (limit ${(Number(blocks[0]!.gasLimit) / 1e6).toFixed(0)}M)`,
      );
    }
    console.log(
      `  bench process CPU (keeper and bench) from the shock to the last first tranche: ` +
        `${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (user ${(cpu.user / 1000).toFixed(0)}, system ${(cpu.system / 1000).toFixed(0)})`,
    );
    console.log(
      `  scan (off-chain health of ${idle[0].accountsWithPositions} accounts): median ${ms(pct(idleScan, 0.5))}, max ${ms(Math.max(...idleScan))} (target < 100 ms)`,
    );
    console.log(`  market reads per scan        median ${ms(pct(idleRead, 0.5))}`);
    console.log(
      `  RPC calls per idle tick      ${Math.min(...idleCalls)}-${Math.max(...idleCalls)} (independent of accounts)`,
    );
    const shock = shockTick();
    if (shock) {
      const l = shock.liquidation!;
      console.log(
        `  shock tick                   ${ms(shock.tickMs)}, ${shock.rpcCalls} RPC calls: ${l.candidates} candidates, ` +
          `${l.previewed} previewed in ${ms(l.confirmMs)}, ${l.batches.length} batches ` +
          `(${l.batches.map((b) => b.accounts.length).join("+")}) prepared in ${ms(l.simulateMs)} (simulations, if any), ` +
          `sent in ${ms(l.sendMs)}; pokes ${ms(shock.pokeMs)}`,
      );
    }
    console.log(
      `  liquidation transactions     ${byTx.size}, ${tranches} tranches, ` +
        `${tranches ? (Number(gas) / tranches / 1000).toFixed(1) : "?"}k gas per tranche ` +
        `(per transaction ${(Math.min(...perTranche) / 1000).toFixed(1)}k-${(Math.max(...perTranche) / 1000).toFixed(1)}k)`,
    );
    provider.destroy();
  } finally {
    await connection.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
