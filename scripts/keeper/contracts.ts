/**
 * The protocol's contracts as the keeper uses them, bound from a deployment record, and the
 * decoding of their revert data (a revert is often a normal answer here: "already healthy",
 * "cooling down").
 */
import { Contract, Interface, type ContractRunner, type ErrorDescription } from "ethers";

import type { Deployment } from "../../deploy/deployment.js";
import type { AccountBook } from "./book.js";
import type { CircuitBreaker } from "../../types/ethers-contracts/contracts/breaker/CircuitBreaker.js";
import type { IBackstopEngine } from "../../types/ethers-contracts/contracts/interfaces/IBackstop.sol/IBackstopEngine.js";
import type { IOwnImpactMark } from "../../types/ethers-contracts/contracts/interfaces/IOwnImpactMark.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { IOwnImpactMark__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IOwnImpactMark__factory.js";
import type { ILiquidationEngine } from "../../types/ethers-contracts/contracts/interfaces/ILiquidationEngine.js";
import type { OracleAdapter } from "../../types/ethers-contracts/contracts/oracle/OracleAdapter.js";
import type { PerpEngine } from "../../types/ethers-contracts/contracts/market/PerpEngine.js";
import type { ProtocolLens } from "../../types/ethers-contracts/contracts/lens/ProtocolLens.js";
import { ProtocolLens__factory } from "../../types/ethers-contracts/factories/contracts/lens/ProtocolLens__factory.js";
import type { Vault } from "../../types/ethers-contracts/contracts/vault/Vault.js";
import { CircuitBreaker__factory } from "../../types/ethers-contracts/factories/contracts/breaker/CircuitBreaker__factory.js";
import { ILiquidationEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidationEngine__factory.js";
import { OracleAdapter__factory } from "../../types/ethers-contracts/factories/contracts/oracle/OracleAdapter__factory.js";
import { PerpEngine__factory } from "../../types/ethers-contracts/factories/contracts/market/PerpEngine__factory.js";
import { Vault__factory } from "../../types/ethers-contracts/factories/contracts/vault/Vault__factory.js";

/** Chainlink's AggregatorV3Interface, the reads the keeper makes of a feed (a round by id: the settle job). */
export const AGGREGATOR_ABI = [
  "function latestRoundData() view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)",
  "function getRoundData(uint80 roundId) view returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)",
];

export type Feed = { marketId: number; symbol: string; feedId: string; aggregator: Contract };

export type ProtocolContracts = {
  engine: PerpEngine;
  vault: Vault;
  liquidationEngine: ILiquidationEngine;
  /** the backstop's takeover, unwind and state, served at the engine's address (BackstopModule) */
  backstop?: IBackstopEngine;
  /** the own-impact mark's switch, measure and mark, served at the engine's address (OwnImpactModule) */
  ownImpact?: IOwnImpactMark;
  oracle: OracleAdapter;
  breaker?: CircuitBreaker;
  /** the read-only lens a scan is read through in one call (chainView.ts); absent: one call per view */
  lens?: ProtocolLens;
  /** one per market of the deployment record that has a feed address */
  feeds: Feed[];
};

export function bindContracts(d: Deployment, runner: ContractRunner): ProtocolContracts {
  const c = d.contracts;
  const feeds: Feed[] = [];
  for (const m of d.markets) {
    const address = c.feeds[m.symbol];
    if (address) feeds.push({ ...m, marketId: m.id, aggregator: new Contract(address, AGGREGATOR_ABI, runner) });
  }
  return {
    engine: PerpEngine__factory.connect(c.engine, runner),
    vault: Vault__factory.connect(c.vault, runner),
    liquidationEngine: ILiquidationEngine__factory.connect(c.liquidationEngine, runner),
    backstop: IBackstopEngine__factory.connect(c.engine, runner),
    ownImpact: IOwnImpactMark__factory.connect(c.engine, runner),
    oracle: OracleAdapter__factory.connect(c.oracle, runner),
    breaker: c.breaker ? CircuitBreaker__factory.connect(c.breaker, runner) : undefined,
    lens: c.lens ? ProtocolLens__factory.connect(c.lens, runner) : undefined,
    feeds,
  };
}

let errorInterface: Interface | undefined;

/** Every custom error a keeper call can surface: the liquidation engine's, the engine's, the oracle's. */
function errors(): Interface {
  if (!errorInterface) {
    const seen = new Set<string>();
    const fragments = [
      ...ILiquidationEngine__factory.createInterface().fragments,
      ...PerpEngine__factory.createInterface().fragments,
      ...OracleAdapter__factory.createInterface().fragments,
      ...Vault__factory.createInterface().fragments,
    ].filter((f) => {
      if (f.type !== "error") return false;
      const key = f.format("sighash");
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    errorInterface = new Interface(fragments);
  }
  return errorInterface;
}

/** Revert data of a failed call, where ethers put it (CallExceptionError.data, or nested). */
/**
 * Re-reads the accounts a book cannot vouch for (owner, margin, positions) at `blockTag` and puts
 * them back into it: the keeper's and the risk monitor's resync.
 */
export async function rereadAccounts(
  book: Pick<AccountBook, "replace">,
  { engine, vault }: Pick<ProtocolContracts, "engine" | "vault">,
  ids: readonly bigint[],
  blockTag: number,
): Promise<void> {
  const at = { blockTag };
  await Promise.all(
    ids.map(async (id) => {
      const [owner, margin, markets] = await Promise.all([
        engine.accountOwner(id, at),
        vault.marginOf(id, at),
        engine.accountMarkets(id, at),
      ]);
      const sizes = await Promise.all(markets.map((m) => engine.position(id, m, at)));
      const positions = new Map(markets.map((m, i) => [Number(m), { size: sizes[i].size, basis: sizes[i].basis }]));
      book.replace(id, owner, margin, positions);
    }),
  );
}

export function revertData(e: unknown): string | undefined {
  const err = e as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } };
  for (const d of [err?.data, err?.info?.error?.data, err?.error?.data]) {
    if (typeof d === "string" && d.startsWith("0x") && d.length >= 10) return d;
    if (typeof d === "object" && d !== null && typeof (d as { data?: unknown }).data === "string") {
      return (d as { data: string }).data;
    }
  }
  return undefined;
}

/** The protocol error behind a failed call, or undefined when it is not one of ours (or no revert). */
export function decodeRevert(e: unknown): ErrorDescription | undefined {
  const data = revertData(e);
  if (!data) return undefined;
  try {
    return errors().parseError(data) ?? undefined;
  } catch {
    return undefined;
  }
}
