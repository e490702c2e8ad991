/**
 * A small end-to-end demo on the in-process network: deploys the protocol with the same code as
 * deploy/, opens leveraged positions for a few traders, walks the ETH oracle down a crash path a
 * round a minute and, at each round, pokes the circuit breaker and liquidates what the liquidation
 * engine will take, printing each liquidation: a partial tranche or a full close, and why. The
 * crash replays (bash scripts/main.sh) are the full version.
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
  { name: "long 15x", margin: 10_000n, size: 75n },
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
  return `${neg ? "-" : ""}${whole}${dp > 0 ? "." + frac.toString().padStart(dp, "0") : ""}`;
};

async function report(label: string) {
  const feedId = (await p.engine.marketConfig(ETH_MARKET)).feedId;
  const [price] = await p.oracle.getPrice(feedId);
  const sigma = await p.oracle.volatility(feedId);
  console.log(
    `\n${label}: ETH $${fmt(price)}, volatility ${fmt(sigma * 100n, 0)}% a year, LP book value ${(await p.vault.totalAssets()) / USDC} USDC`,
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
const names = new Map(accounts.map((a) => [a.id, a.name]));
// A stylised crash: ETH loses 0.75% a minute for 40 minutes (a cooldown of 30 s passes between
// rounds), then steadies. An account that slips just below its maintenance margin loses a tranche
// (a quarter of its position, or less when that is enough to restore the margin plus a buffer);
// one that falls below two thirds of it (the backstop) is closed in full.
let usd = 2000;
let partial = 0;
let full = 0;
console.log(
  "\nThe crash, a round a minute (health = equity / maintenance margin; below 1 the account is liquidatable):",
);
for (let minute = 1; minute <= 44; minute++) {
  if (minute <= 40) usd = Math.round(usd * 0.9925 * 100) / 100;
  await networkHelpers.time.increase(60);
  await feed.updateAnswer(BigInt(Math.round(usd * 100)) * 10n ** 6n);
  await p.oracle.updateVolatility(feedId, 64);
  await p.engine.accrue(ETH_MARKET);
  if (p.breaker) await p.breaker.poke(ETH_MARKET);
  const ids = await p.liquidationEngine.liquidatableAccounts(1n, 50n);
  const lines: string[] = [];
  if (ids.length > 0) {
    const receipt = await (await p.liquidationEngine.liquidateBatch([...ids])).wait();
    for (const log of receipt!.logs) {
      const ev = p.liquidationEngine.interface.parseLog(log);
      if (ev?.name !== "LiquidationSettled") continue;
      const closedAll = ev.args.fraction === WAD;
      if (closedAll) full++;
      else partial++;
      lines.push(
        `    ${names.get(ev.args.accountId)}: ${closedAll ? "closed in full" : "partial tranche"}, ` +
          `${fmt(ev.args.fraction * 100n, 1)}% of the position ($${fmt(ev.args.trancheNotional, 0)})` +
          (ev.args.backstop ? ", backstop (below 2/3 of maintenance)" : "") +
          (closedAll ? "" : `, health after ${fmt(ev.args.healthAfter, 3)}`),
      );
    }
  }
  const level = p.breaker ? (await p.breaker.marketLevel(ETH_MARKET)).level : 0n;
  const [sigma] = [await p.oracle.volatility(feedId)];
  if (lines.length === 0 && minute % 5 !== 0) continue; // quiet minutes: one line in five
  console.log(
    `  minute ${String(minute).padStart(2)}: ETH $${usd.toFixed(2)}, volatility ${fmt(sigma * 100n, 0)}% a year, ` +
      `stress level ${level}: ${lines.length ? `${lines.length} liquidation(s)` : "no liquidation"}`,
  );
  for (const l of lines) console.log(l);
}
await report("after the crash");
console.log(
  `\n${partial} partial tranche(s) and ${full} full close(s). Bad debt incurred $${fmt(await p.liquidationEngine.badDebtIncurred())}, ` +
    `covered by the insurance fund $${fmt(await p.liquidationEngine.badDebtCovered())}. ` +
    `The crash replays (bash scripts/main.sh) are the full version.`,
);
