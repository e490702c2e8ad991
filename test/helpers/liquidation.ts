/**
 * The liquidation tests' shared set-up (test/liquidation and the keeper's liquidation and ADL jobs in
 * test/keeper): the block tag of the next block, the keeper book's scale, an account opened with its
 * legs, a change of the liquidation configuration, a price walk, a long moved to health 1/2, a stale BTC
 * feed, the engine's ADL score, and the keeper's read of the chain.
 */
import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { Time } from "@nomicfoundation/hardhat-network-helpers/types";
import { expect } from "chai";
import type { Result, Typed } from "ethers";

import { WAD } from "../../deploy/params.js";
import { AccountBook } from "../../scripts/keeper/book.js";
import { readChainView } from "../../scripts/keeper/chainView.js";
import { type ProtocolContracts, rereadAccounts } from "../../scripts/keeper/contracts.js";
import { BTC, ETH, MAX_PRICE, USDC, type World, openAccount, setPriceWad, units } from "./fixture.js";

/** An eth_call's block tag for the next block: it sees what a transaction sent now would see. */
export const PENDING = { blockTag: "pending" } as const;

/** The keeper book's scale: USDC's 6 decimals to the protocol's 18. */
export const SCALE = 10n ** 12n;

/** A leg to open: the market and the signed size (WAD, negative for a short). */
export type Leg = [market: number, size: bigint];

/** The stale-leg tests' whale: a tiny BTC long (0.01) beside a large ETH long (2,000). */
export const WHALE_LEGS: Leg[] = [
  [BTC, units(1) / 100n],
  [ETH, units(2_000)],
];

/**
 * Opens an account of `owner` on `marginUsdc` whole USDC and trades each leg in order at any price
 * (a long's limit MAX_PRICE, a short's 0); returns the account's id.
 */
export async function openPosition(
  w: World,
  owner: HardhatEthersSigner,
  marginUsdc: bigint,
  legs: Leg[],
): Promise<bigint> {
  const id = await openAccount(w, owner, marginUsdc * USDC);
  for (const [market, size] of legs) {
    await w.engine.connect(owner).modifyPosition(id, market, size, size > 0n ? MAX_PRICE : 0n);
  }
  return id;
}

export type LiquidationConfig = Exclude<Parameters<World["liquidationEngine"]["setConfig"]>[0], Typed>;

/** Sets the liquidation engine's configuration (as the governor) to what it is now with `changes` made. */
export async function changeLiquidationConfig(w: World, changes: Partial<LiquidationConfig>): Promise<void> {
  const now = (await w.liquidationEngine.config()) as unknown as Result;
  await w.liquidationEngine.connect(w.governor).setConfig({ ...(now.toObject() as LiquidationConfig), ...changes });
}

/**
 * Lowers (or raises) a market's price in steps of `stepBps` (0.25% by default), setting each, until
 * `done` holds after a step; returns the price. Throws after 1,000 steps.
 */
export async function moveUntil(
  w: World,
  marketId: number,
  start: bigint,
  down: boolean,
  done: () => Promise<boolean>,
  stepBps = 25n,
): Promise<bigint> {
  let price = start;
  for (let i = 0; i < 1_000; ++i) {
    price = down ? (price * (10_000n - stepBps)) / 10_000n : (price * (10_000n + stepBps)) / 10_000n;
    await setPriceWad(w, marketId, price);
    if (await done()) return price;
  }
  throw new Error("price walk did not reach the wanted state");
}

/**
 * Sets `marketId`'s price to where the long `accountId` (its one position there) is at health 1/2: past the
 * 2/3 backstop, not bankrupt. The price is rounded down to the feed's 8 decimals.
 */
export async function moveLongToHalfHealth(w: World, accountId: bigint, marketId: number): Promise<void> {
  const v = await w.engine.positionView(accountId, marketId);
  const num = (v.size * v.breakEvenPrice) / WAD - (await w.vault.marginOf(accountId));
  const den = v.size - ((v.size / 2n) * v.maintenanceMarginRatio) / WAD;
  await setPriceWad(w, marketId, ((num * WAD) / den / 10n ** 10n) * 10n ** 10n);
}

/**
 * Lets every feed go past its heartbeat (3,600 s), then refreshes ETH only at `ethPrice`: BTC's feed is
 * stale, which the oracle confirms (StaleAnswer).
 */
export async function staleBtc(w: World, time: Time, ethPrice: bigint): Promise<void> {
  await time.increase(3_601);
  await setPriceWad(w, ETH, ethPrice);
  await expect(w.oracle.getPriceAndVolatility((await w.engine.marketConfig(BTC)).feedId)).to.be.revertedWithCustomError(
    w.oracle,
    "StaleAnswer",
  );
}

/** The engine's liquidation snapshot of an account (at `at`, default the latest block) and its leg in `market`. */
export async function snapshotLeg(w: World, id: bigint, market: number, at: { blockTag?: string | number } = {}) {
  const [summary, positions] = await w.engine.liquidationSnapshot(id, at);
  return { summary, leg: positions.find((p) => p.marketId === BigInt(market))! };
}

/** The engine's ADL score of a leg, as it ranks candidates: value * notional / equity. */
export function adlScore({ summary, leg }: Awaited<ReturnType<typeof snapshotLeg>>): bigint {
  return (leg.value * summary.notional) / summary.equity;
}

/**
 * The handle on `w`'s contracts the keeper's modules take (`overrides` replace or add some, e.g. a
 * connected engine or the backstop); no feed contracts: the tests set prices through `w`.
 */
export function keeperContracts(w: World, overrides: Partial<ProtocolContracts> = {}): ProtocolContracts {
  return {
    engine: w.engine,
    vault: w.vault,
    liquidationEngine: w.liquidationEngine,
    oracle: w.oracle,
    feeds: [],
    ...overrides,
  } as unknown as ProtocolContracts;
}

/** What the keeper reads at the latest block: the block, its chain view, and a book of `ids` read at it. */
export async function readKeeperBook(ethers: HardhatEthers, w: World, contracts: ProtocolContracts, ids: bigint[]) {
  const feedIds = new Map<number, string>();
  for (const m of w.markets) feedIds.set(m.id, (await w.engine.marketConfig(m.id)).feedId);
  const block = (await ethers.provider.getBlock("latest"))!;
  const view = await readChainView(contracts, feedIds, {
    number: block.number,
    timestamp: block.timestamp,
    baseFeePerGas: block.baseFeePerGas,
  });
  const book = new AccountBook(SCALE);
  await rereadAccounts(book, contracts, ids, block.number);
  return { block, view, book };
}
