/**
 * A protocol on a local node with a population of leveraged accounts, for the keeper's end-to-end
 * tests and benchmark. Deploys with deploy/protocol.ts, writes the shared deployment record, and
 * opens accounts fast: with automine off, every transaction goes out in JSON-RPC batches with
 * explicit nonces and gas from unlocked node accounts, and blocks are mined until all are in.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { JsonRpcProvider, MaxUint256, type TransactionReceipt } from "ethers";

import { type Deployment, deploymentPath, writeDeployment } from "../../../deploy/deployment.js";
import { feedId } from "../../../deploy/params.js";
import { type Protocol, deployProtocol } from "../../../deploy/protocol.js";
import { WAD } from "../../lib/math/fixedPoint.js";
import { mulberry32 } from "../../lib/random.js";

export const USDC = 10n ** 6n;
export { WAD };

export type LocalWorld = {
  protocol: Protocol;
  deployment: Deployment;
  recordPath: string;
  /** node account that deployed, governs and seeded the pools */
  deployer: string;
  /** a plain provider on the node (batches requests), for fast setup and checks */
  rpc: JsonRpcProvider;
};

/** The deployment record of a protocol deployed by deployProtocol. */
export async function deploymentRecord(
  p: Protocol,
  network: string,
  chainId: number,
  startBlock: number,
): Promise<Deployment> {
  const feeds: Record<string, string> = {};
  for (const m of p.markets) feeds[m.symbol] = await p.feeds.get(m.id)!.getAddress();
  return {
    version: 1,
    network,
    chainId,
    startBlock,
    contracts: {
      usdc: await p.usdc.getAddress(),
      oracle: await p.oracle.getAddress(),
      vault: await p.vault.getAddress(),
      engine: await p.engine.getAddress(),
      insuranceFund: await p.insuranceFund.getAddress(),
      liquidationEngine: await p.liquidationEngine.getAddress(),
      breaker: p.breaker ? await p.breaker.getAddress() : undefined,
      lens: p.lens ? await p.lens.getAddress() : undefined,
      triggers: p.triggers,
      feeds,
    },
    markets: p.markets.map((m) => ({ id: m.id, symbol: m.symbol, feedId: feedId(m.symbol) })),
  };
}

/**
 * Deploys the protocol (default ETH and BTC markets, breaker on), seeds 1M USDC of LP liquidity and
 * 100k USDC of insurance, and writes the record to `<deploymentsDir>/<network>-<chainId>.json`.
 */
export async function deployWorld(
  ethers: HardhatEthers,
  o: { url: string; network: string; deploymentsDir: string; lpUsdc?: bigint; insuranceUsdc?: bigint },
): Promise<LocalWorld> {
  const rpc = new JsonRpcProvider(o.url, undefined, { batchMaxCount: 100, staticNetwork: true, cacheTimeout: -1 });
  const startBlock = (await rpc.getBlockNumber()) + 1;
  const [deployer, guardian] = await ethers.getSigners();
  const p = await deployProtocol(ethers, {
    admin: deployer.address,
    governor: deployer.address,
    guardian: guardian.address,
    lens: true, // the keeper reads its scan through it, as on a network deployment (deploy/network.ts)
  });
  const lp = o.lpUsdc ?? 1_000_000n * USDC;
  const insurance = o.insuranceUsdc ?? 100_000n * USDC;
  await (await p.usdc.mint(deployer.address, lp + insurance)).wait();
  await (await p.usdc.approve(await p.vault.getAddress(), MaxUint256)).wait();
  await (await p.vault.deposit(lp, deployer.address)).wait();
  await (await p.usdc.approve(await p.insuranceFund.getAddress(), MaxUint256)).wait();
  await (await p.insuranceFund.deposit(insurance, deployer.address)).wait();
  const chainId = Number((await rpc.getNetwork()).chainId);
  const deployment = await deploymentRecord(p, o.network, chainId, startBlock);
  const recordPath = deploymentPath(o.network, chainId, o.deploymentsDir);
  writeDeployment(recordPath, deployment);
  return { protocol: p, deployment, recordPath, deployer: deployer.address, rpc };
}

export type AccountSpec = { marginUsdc: bigint; positions: { marketId: number; size: bigint }[] };

type RawTx = { from: string; to: string; data: string; gas: bigint };

const GAS = { mint: 120_000n, approve: 80_000n, create: 120_000n, deposit: 150_000n, trade: 400_000n };

/**
 * Sends every transaction with explicit nonces and generous fees while automine is off, mines until
 * the sender's nonce has caught up, turns automine back on, and checks that every one succeeded.
 */
export async function sendAll(rpc: JsonRpcProvider, txs: RawTx[]): Promise<TransactionReceipt[]> {
  if (txs.length === 0) return [];
  const from = txs[0].from;
  const first = await rpc.getTransactionCount(from, "pending");
  await rpc.send("evm_setAutomine", [false]);
  const hashes: string[] = [];
  try {
    for (let i = 0; i < txs.length; i += 500) {
      const chunk = txs.slice(i, i + 500);
      const sent = await Promise.all(
        chunk.map((t, j) =>
          rpc.send("eth_sendTransaction", [
            {
              from: t.from,
              to: t.to,
              data: t.data,
              gas: `0x${t.gas.toString(16)}`,
              nonce: `0x${(first + i + j).toString(16)}`,
              maxFeePerGas: "0x174876e800", // 100 gwei: survives base-fee rises over many full blocks
              maxPriorityFeePerGas: "0x3b9aca00",
            },
          ]),
        ),
      );
      hashes.push(...(sent as string[]));
    }
    const target = first + txs.length;
    for (let guard = 0; (await rpc.getTransactionCount(from, "latest")) < target; guard++) {
      if (guard > 10_000) throw new Error("transactions are not being mined");
      await rpc.send("evm_mine", []);
    }
  } finally {
    await rpc.send("evm_setAutomine", [true]);
  }
  const receipts: TransactionReceipt[] = [];
  for (let i = 0; i < hashes.length; i += 500) {
    const got = await Promise.all(hashes.slice(i, i + 500).map((h) => rpc.getTransactionReceipt(h)));
    receipts.push(...(got as TransactionReceipt[]));
  }
  const failed = receipts.findIndex((r) => r === null || r.status !== 1);
  if (failed >= 0) throw new Error(`setup transaction ${failed} failed (${hashes[failed]})`);
  return receipts;
}

/**
 * Opens one account per spec, owned by `owner` (an unlocked node account): mints and approves the
 * collateral, creates the accounts, deposits, trades. Returns the account ids, in spec order.
 */
export async function openAccounts(w: LocalWorld, owner: string, specs: AccountSpec[]): Promise<bigint[]> {
  const { usdc, vault, engine } = w.protocol;
  const [usdcAt, vaultAt, engineAt] = await Promise.all([usdc.getAddress(), vault.getAddress(), engine.getAddress()]);
  const total = specs.reduce((s, a) => s + a.marginUsdc, 0n);
  const firstId = await engine.nextAccountId();
  const txs: RawTx[] = [
    { from: owner, to: usdcAt, data: usdc.interface.encodeFunctionData("mint", [owner, total]), gas: GAS.mint },
    {
      from: owner,
      to: usdcAt,
      data: usdc.interface.encodeFunctionData("approve", [vaultAt, MaxUint256]),
      gas: GAS.approve,
    },
  ];
  for (const _ of specs)
    txs.push({
      from: owner,
      to: engineAt,
      data: engine.interface.encodeFunctionData("createAccount"),
      gas: GAS.create,
    });
  specs.forEach((s, i) => {
    const id = firstId + BigInt(i);
    txs.push({
      from: owner,
      to: engineAt,
      data: engine.interface.encodeFunctionData("deposit", [id, s.marginUsdc]),
      gas: GAS.deposit,
    });
  });
  specs.forEach((s, i) => {
    const id = firstId + BigInt(i);
    for (const p of s.positions) {
      const limit = p.size > 0n ? MaxUint256 : 0n;
      txs.push({
        from: owner,
        to: engineAt,
        data: engine.interface.encodeFunctionData("modifyPosition", [id, p.marketId, p.size, limit]),
        gas: GAS.trade,
      });
    }
  });
  await sendAll(w.rpc, txs);
  return specs.map((_, i) => firstId + BigInt(i));
}

/**
 * `n` accounts of mixed leverage (uniform in [minLeverage, maxLeverage]), mostly long, some
 * cross-margined over two markets. Leverage is notional over margin at the given prices.
 */
export function mixedAccounts(
  n: number,
  o: {
    seed: number;
    prices: ReadonlyMap<number, bigint>;
    longShare?: number;
    crossShare?: number;
    minLeverage?: number;
    maxLeverage?: number;
    minMarginUsdc?: number;
    maxMarginUsdc?: number;
  },
): AccountSpec[] {
  const rand = mulberry32(o.seed);
  const markets = [...o.prices.keys()];
  const specs: AccountSpec[] = [];
  for (let i = 0; i < n; i++) {
    const minM = o.minMarginUsdc ?? 1_000;
    const maxM = o.maxMarginUsdc ?? 5_000;
    const marginUsdc = BigInt(Math.floor(minM + rand() * (maxM - minM))) * USDC;
    const leverageBp = BigInt(
      Math.floor(((o.minLeverage ?? 2) + rand() * ((o.maxLeverage ?? 20) - (o.minLeverage ?? 2))) * 10_000),
    );
    const long = rand() < (o.longShare ?? 0.85);
    const cross = markets.length > 1 && rand() < (o.crossShare ?? 0.2);
    const chosen = cross ? markets.slice(0, 2) : [markets[Math.floor(rand() * markets.length)]];
    const notional = (marginUsdc * 10n ** 12n * leverageBp) / 10_000n / BigInt(chosen.length);
    specs.push({
      marginUsdc,
      positions: chosen.map((m) => {
        const size = (notional * WAD) / o.prices.get(m)!;
        return { marketId: m, size: long ? size : -size };
      }),
    });
  }
  return specs;
}

/** Pushes a new round with a WAD price to a market's 8-decimal mock feed (mined at once). */
export async function setPrice(w: LocalWorld, marketId: number, priceWad: bigint): Promise<void> {
  const feed = w.protocol.feeds.get(marketId)!;
  await (await feed.updateAnswer(priceWad / 10n ** 10n)).wait();
}

/** Moves the node's clock and mines a block at the new time. */
export async function advanceTime(rpc: JsonRpcProvider, seconds: number): Promise<void> {
  await rpc.send("evm_increaseTime", [seconds]);
  await rpc.send("evm_mine", []);
}

/** The ids among `ids` that the engine says are liquidatable now (one batched call each). */
export async function liquidatableIds(w: LocalWorld, ids: bigint[]): Promise<bigint[]> {
  const engine = w.protocol.engine.connect(w.rpc);
  const flags = await Promise.all(ids.map((id) => engine.isLiquidatable(id)));
  return ids.filter((_, i) => flags[i]);
}
