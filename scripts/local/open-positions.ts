/**
 * Opens positions for N seeded accounts of a local deployment: longs and shorts in turn, across every
 * market, with leverage spread evenly from 2x to 15x, so that a price move leaves a spread of
 * health behind (some accounts liquidatable, some not).
 *
 *   N=20 npx hardhat run scripts/local/open-positions.ts --network localhost     (npm run local:positions)
 *
 * Each run opens a new account per seeded owner (an owner may hold several accounts). Reads the
 * deployment record of the network (DEPLOYMENTS_DIR overrides its folder).
 *
 * With two-step orders on (deploy/params/localhost.json), each position is committed, then, once every
 * commit is in, the node's clock is moved minDelay on, each mock feed gets a round at its own price,
 * and the orders are settled at that round (by their owners, who get the settlement reward back).
 */
import { type EventLog, MaxUint256 } from "ethers";

import type { IOrders } from "../../types/ethers-contracts/index.js";

import { seedWallets } from "../../deploy/networkParams.js";
import { WAD } from "../../deploy/params.js";
import { UsageError, connectLocal, fmt, run } from "./common.js";

const MARGIN_USDC = 5_000n;
const USDC = 10n ** 6n;
const MIN_LEVERAGE = 2n * WAD;
const MAX_LEVERAGE = 15n * WAD;

await run(async () => {
  const n = Number(process.env.N ?? "20");
  const local = await connectLocal();
  const { ethers, record, engine, oracle, usdc, vault } = local;
  const seeded = record.seedAccounts;
  if (!seeded) throw new UsageError(`${local.recordPath} has no seeded accounts (seed.accounts in the params file)`);
  if (!Number.isInteger(n) || n < 1 || n > seeded.addresses.length) {
    throw new UsageError(
      `N must be an integer from 1 to ${seeded.addresses.length} (the seeded accounts), got ${process.env.N}`,
    );
  }
  const owners = seedWallets(seeded.mnemonic, seeded.firstIndex, n).map((w) => w.connect(ethers.provider));

  // A mock feed older than half its heartbeat is refreshed at its own price, so trades are not refused
  // as stale on a node left running for a while.
  const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  for (const m of record.markets) {
    if (!(record.mocks?.feeds ?? []).includes(m.symbol)) continue;
    const [, updatedAt] = await oracle.latestPrice(m.feedId);
    const { heartbeat } = await oracle.feedConfig(m.feedId);
    if (now - updatedAt > heartbeat / 2n) {
      const feed = await local.feed(m.symbol);
      const [, answer] = await feed.latestRoundData();
      await (await feed.updateAnswer(answer)).wait();
      console.log(`${m.symbol} feed was ${now - updatedAt} s old: pushed its price again`);
    }
  }

  const vaultAddress = await vault.getAddress();
  const orders = (await ethers.getContractAt("IOrders", await engine.getAddress())) as unknown as IOrders;
  const twoStep = (await orders.orderConfig()).enabled;
  const committed: { id: bigint; market: (typeof record.markets)[number]; owner: (typeof owners)[number] }[] = [];
  const opened = [];
  for (const [i, owner] of owners.entries()) {
    const m = record.markets[Math.floor(i / 2) % record.markets.length];
    const long = i % 2 === 0;
    const leverage = MIN_LEVERAGE + ((MAX_LEVERAGE - MIN_LEVERAGE) * BigInt(i)) / BigInt(Math.max(n - 1, 1));
    const [price] = await oracle.getPrice(m.feedId);
    const cap = (await engine.marketConfig(m.id)).maxTradeSize;
    let size = (MARGIN_USDC * WAD * leverage) / price;
    if (size > cap) size = cap;

    const asOwner = engine.connect(owner);
    await (await usdc.connect(owner).approve(vaultAddress, MaxUint256)).wait();
    const receipt = await (await asOwner.createAccount()).wait();
    const created = receipt!.logs.find((l) => (l as EventLog).eventName === "AccountCreated") as EventLog;
    const id = created.args.accountId as bigint;
    await (await asOwner.deposit(id, MARGIN_USDC * USDC)).wait();
    if (twoStep) {
      await (await orders.connect(owner).commitOrder(id, m.id, long ? size : -size, long ? MaxUint256 : 0n)).wait();
      committed.push({ id, market: m, owner });
    } else {
      await (await asOwner.modifyPosition(id, m.id, long ? size : -size, long ? MaxUint256 : 0n)).wait();
    }
    opened.push({ id, m, owner, long, size });
  }

  if (committed.length > 0) {
    const { minDelay } = await orders.orderConfig();
    await ethers.provider.send("evm_increaseTime", [Number(minDelay)]);
    for (const m of record.markets) {
      const mine = committed.filter((c) => c.market.id === m.id);
      if (mine.length === 0) continue;
      if (!(record.mocks?.feeds ?? []).includes(m.symbol)) {
        console.log(`${m.symbol}: ${mine.length} orders committed; the keeper settles them at the feed's next round`);
        continue;
      }
      const feed = await local.feed(m.symbol);
      const [, answer] = await feed.latestRoundData();
      await (await feed.updateAnswer(answer)).wait();
      const [round] = await feed.latestRoundData();
      for (const c of mine) await (await orders.connect(c.owner).settleOrder(c.id, round)).wait();
    }
  }

  const rows = [];
  for (const { id, m, owner, long, size } of opened) {
    const s = await engine.accountSummary(id);
    rows.push({
      account: Number(id),
      owner: owner.address,
      market: m.symbol,
      side: long ? "long" : "short",
      size: fmt(size, 4),
      leverage: `${fmt((s.notional * WAD) / BigInt(s.equity), 1)}x`,
      equity: fmt(s.equity),
      health: fmt(await engine.health(id), 3),
    });
  }
  console.table(rows);
  console.log(
    "equity in USD; health = equity / maintenance margin: below 1.000 the account can be liquidated; " +
      "`npm run keeper -- --worst 10` lists the accounts nearest to it with their liquidation prices",
  );
  console.log(
    `opened ${rows.length} positions on ${local.networkName}; move a price with: MARKET=ETH PRICE=1500 npm run local:price`,
  );
});
