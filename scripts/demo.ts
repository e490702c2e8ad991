/**
 * A small end-to-end demo on the in-process network: deploys the protocol with the same code as
 * deploy/, opens leveraged positions for a few traders, walks the ETH oracle down a crash path and,
 * at each step, pokes the circuit breaker, liquidates what the liquidation engine will take, and
 * prints every account's state. The crash replays (bash scripts/main.sh) are the full version.
 *
 *   npm run demo            (npx hardhat run scripts/demo.ts)
 */
import { network } from "hardhat";

import { deployProtocol } from "../deploy/protocol.js";
import { WAD } from "../deploy/params.js";

const { ethers, networkHelpers } = await network.create();
const USDC = 10n ** 6n;
const ETH_MARKET = 0;
const MAX_PRICE = 2n ** 256n - 1n;

const signers = await ethers.getSigners();
const [admin, governor, guardian, lp] = signers;
const p = await deployProtocol(ethers, {
  admin: admin.address,
  governor: governor.address,
  guardian: guardian.address,
});
const vaultAddress = await p.vault.getAddress();
await p.usdc.mint(lp.address, 2_000_000n * USDC);
await p.usdc.connect(lp).approve(vaultAddress, MAX_PRICE);
await p.vault.connect(lp).deposit(2_000_000n * USDC, lp.address);
await p.usdc.mint(lp.address, 100_000n * USDC);
await p.usdc.connect(lp).approve(await p.insuranceFund.getAddress(), MAX_PRICE);
await p.insuranceFund.connect(lp).deposit(100_000n * USDC, lp.address); // the insurance fund's stake

// Traders: margin and ETH size (positive long). Leverage at $2000 is size * 2000 / margin.
const book = [
  { name: "long 2x", margin: 10_000n, size: 10n },
  { name: "long 5x", margin: 10_000n, size: 25n },
  { name: "long 10x", margin: 10_000n, size: 50n },
  { name: "long 20x", margin: 5_000n, size: 50n },
  { name: "short 5x", margin: 10_000n, size: -25n },
];
const accounts: { name: string; id: bigint }[] = [];
for (const [i, t] of book.entries()) {
  const s = signers[4 + i];
  await p.usdc.mint(s.address, t.margin * USDC);
  await p.usdc.connect(s).approve(vaultAddress, MAX_PRICE);
  const id = await p.engine.nextAccountId();
  await p.engine.connect(s).createAccount();
  await p.engine.connect(s).deposit(id, t.margin * USDC);
  await p.engine.connect(s).modifyPosition(id, ETH_MARKET, t.size * WAD, t.size > 0n ? MAX_PRICE : 0n);
  accounts.push({ name: t.name, id });
}

const fmt = (x: bigint, dp = 2) => {
  const neg = x < 0n;
  const a = neg ? -x : x;
  const whole = a / WAD;
  const frac = ((a % WAD) * 10n ** BigInt(dp)) / WAD;
  return `${neg ? "-" : ""}${whole}.${frac.toString().padStart(dp, "0")}`;
};

async function report(label: string) {
  const feedId = (await p.engine.marketConfig(ETH_MARKET)).feedId;
  const [price] = await p.oracle.getPrice(feedId);
  const sigma = await p.oracle.volatility(feedId);
  console.log(
    `\n${label}: ETH ${fmt(price)}  sigma ${fmt(sigma, 3)}  LP book value ${(await p.vault.totalAssets()) / USDC} USDC`,
  );
  const rows = [];
  for (const a of accounts) {
    const s = await p.engine.accountSummary(a.id);
    const h = await p.engine.health(a.id);
    rows.push({
      account: a.name,
      equity: fmt(s.equity),
      maintenance: fmt(s.maintenanceMargin),
      initial: fmt(s.initialMargin),
      health: s.maintenanceMargin === 0n ? "-" : fmt(h, 3),
      liquidatable: await p.engine.isLiquidatable(a.id),
    });
  }
  console.table(rows);
}

await report("after opening");
const feed = p.feeds.get(ETH_MARKET)!;
const feedId = (await p.engine.marketConfig(ETH_MARKET)).feedId;
// A stylised crash path: -30% over six hours, in hourly rounds, then a partial recovery.
for (const usd of [1900n, 1760n, 1620n, 1500n, 1400n, 1450n]) {
  await networkHelpers.time.increase(3600);
  await feed.updateAnswer(usd * 10n ** 8n);
  await p.oracle.updateVolatility(feedId, 64);
  await p.engine.accrue(ETH_MARKET);
  if (p.breaker) await p.breaker.poke(ETH_MARKET);
  const ids = await p.liquidationEngine.liquidatableAccounts(1n, 50n);
  let tranches = 0;
  if (ids.length > 0) {
    const receipt = await (await p.liquidationEngine.liquidateBatch([...ids])).wait();
    tranches = receipt!.logs.filter(
      (l) => p.liquidationEngine.interface.parseLog(l)?.name === "TrancheLiquidated",
    ).length;
  }
  const level = p.breaker ? (await p.breaker.marketLevel(ETH_MARKET)).level : 0n;
  await report(`oracle at $${usd}: stress level ${level}, ${tranches} tranche(s) liquidated this step`);
}
console.log(
  `\nbad debt incurred $${fmt(await p.liquidationEngine.badDebtIncurred())}, covered by the insurance fund ` +
    `$${fmt(await p.liquidationEngine.badDebtCovered())}. The crash replays (bash scripts/main.sh) are the full version.`,
);
