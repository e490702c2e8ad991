import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { deployProtocol, type OrderParams, type Protocol } from "../../deploy/protocol.js";
import { WAD } from "../../deploy/params.js";

export const USDC = 10n ** 6n;
export const ETH = 0;
export const BTC = 1;

export type World = Protocol & {
  admin: HardhatEthersSigner;
  governor: HardhatEthersSigner;
  guardian: HardhatEthersSigner;
  lp: HardhatEthersSigner;
  alice: HardhatEthersSigner;
  bob: HardhatEthersSigner;
  carol: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
};

/** Protocol with the default ETH and BTC markets, 1M USDC of LP liquidity and funded traders. */
/**
 * `insurance`: the stake seeded into the insurance fund (token units, default 100k USDC, as a
 * deployment would); 0 for tests about an empty or thin fund.
 */
export async function deployWorld(
  ethers: HardhatEthers,
  opts: { breaker?: boolean; insurance?: bigint; orders?: OrderParams } = {},
): Promise<World> {
  const [admin, governor, guardian, lp, alice, bob, carol, stranger] = await ethers.getSigners();
  const p = await deployProtocol(ethers, {
    admin: admin.address,
    governor: governor.address,
    guardian: guardian.address,
    // the default signer runs auto-deleveraging, as the keeper does with its key
    adlKeeper: admin.address,
    breaker: opts.breaker,
    orders: opts.orders,
  });
  const vaultAddress = await p.vault.getAddress();
  for (const s of [lp, alice, bob, carol, stranger]) {
    await p.usdc.mint(s.address, 10_000_000n * USDC);
    await p.usdc.connect(s).approve(vaultAddress, 2n ** 256n - 1n);
  }
  await p.vault.connect(lp).deposit(1_000_000n * USDC, lp.address);
  // A deployment seeds its insurance fund; an empty one reads as no coverage at all.
  const insurance = opts.insurance ?? 100_000n * USDC;
  await p.usdc.connect(lp).approve(await p.insuranceFund.getAddress(), 2n ** 256n - 1n);
  if (insurance > 0n) await p.insuranceFund.connect(lp).deposit(insurance, lp.address);
  return { ...p, admin, governor, guardian, lp, alice, bob, carol, stranger };
}

/** Creates an account for `owner` and deposits `amount` (token units) into it. */
export async function openAccount(w: World, owner: HardhatEthersSigner, amount: bigint): Promise<bigint> {
  const id = await w.engine.nextAccountId();
  await w.engine.connect(owner).createAccount();
  if (amount > 0n) await w.engine.connect(owner).deposit(id, amount);
  return id;
}

/** Pushes a new round to a market's mock feed at the current block time (8-decimal feeds). */
export async function setPrice(w: World, marketId: number, priceUsd: bigint, decimals = 8): Promise<void> {
  const feed = w.feeds.get(marketId);
  if (!feed) throw new Error(`no feed for market ${marketId}`);
  await feed.updateAnswer(priceUsd * 10n ** BigInt(decimals));
}

export const MAX_PRICE = 2n ** 256n - 1n;
export const units = (n: bigint | number) => BigInt(n) * WAD;

/** Pushes a round with a WAD price to an 8-decimal mock feed. */
export async function setPriceWad(w: World, marketId: number, priceWad: bigint): Promise<void> {
  const feed = w.feeds.get(marketId);
  if (!feed) throw new Error(`no feed for market ${marketId}`);
  await feed.updateAnswer(priceWad / 10n ** 10n);
}

/** Everything a bad call could change: balances, margins, positions and market state. */
/** ethers Results are arrays at runtime; the generated struct types do not say so. */
const plain = (r: unknown): unknown[] => Array.from(r as ArrayLike<unknown>);

/** What snapshotState reads: a protocol built by hand (e.g. with another collateral) can pass this. */
export type Books = Pick<World, "usdc" | "vault" | "engine" | "markets">;

export async function snapshotState(w: Books, accountIds: bigint[]): Promise<string> {
  const parts: unknown[] = [
    await w.usdc.balanceOf(await w.vault.getAddress()),
    await w.vault.lpPoolWad(),
    await w.vault.protocolFeesWad(),
    await w.vault.totalSupply(),
    await w.engine.nextAccountId(),
  ];
  for (const m of w.markets) {
    parts.push(plain(await w.engine.marketState(m.id)));
    parts.push(plain(await w.engine.marketConfig(m.id)));
  }
  for (const id of accountIds) {
    parts.push(await w.vault.marginOf(id));
    for (const m of w.markets) parts.push(plain(await w.engine.position(id, m.id)));
  }
  return JSON.stringify(parts, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

/**
 * Lets the vault's LP lockup pass (LP shares minted by a deposit stay locked `lpLockup` seconds) and
 * refreshes every feed at its current answer, so prices stay within their heartbeat.
 */
export async function passLpLockup(
  w: Pick<World, "vault" | "feeds">,
  time: { increase: (seconds: number | bigint) => Promise<unknown> },
): Promise<void> {
  await time.increase(await w.vault.lpLockup());
  for (const feed of w.feeds.values()) await feed.updateAnswer((await feed.latestRoundData())[1]);
}
