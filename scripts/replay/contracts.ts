/**
 * The protocol's contracts as the replay engine calls them: TypeChain-typed, over the replay's own
 * Chain (chain.ts) instead of an ethers provider. A view (`c.engine.marketState(id)`) is one eth_call
 * with typed arguments and a typed result; a transaction is built typed
 * (`c.feed(m).pushRound.populateTransaction(answer, t)`) and sent by `Chain.exec` from an account of
 * the node at the tick's time; an event of a receipt or a log query is decoded to its typed fields
 * with `eventArgs`.
 */
import type { ContractRunner, Log as EthersLog } from "ethers";

import type { Protocol } from "../../deploy/protocol.js";
import type { TypedContractEvent } from "../../types/ethers-contracts/common.js";
import { IOrders__factory, MockAggregator__factory } from "../../types/ethers-contracts/index.js";
import type {
  CircuitBreaker,
  InsuranceFund,
  ILiquidationEngine,
  MockAggregator,
  MockUSDC,
  OracleAdapter,
  PerpEngine,
  Vault,
  IOrders,
} from "../../types/ethers-contracts/index.js";
import type { Chain, Log } from "./chain.js";

export type ReplayContracts = {
  usdc: MockUSDC;
  oracle: OracleAdapter;
  vault: Vault;
  engine: PerpEngine;
  insuranceFund: InsuranceFund;
  liquidationEngine: ILiquidationEngine;
  /** IOrders at the engine's address (two-step orders) */
  orders: IOrders;
  breaker?: CircuitBreaker;
  /** the replay's feed of a market (a MockAggregator at `address`) */
  feed(address: string): MockAggregator;
};

/** An ethers ContractRunner whose calls are the chain's eth_calls (at latest). */
export function chainRunner(chain: Chain): ContractRunner {
  return { provider: null, call: (tx) => chain.call(String(tx.to), String(tx.data)) };
}

/** The deployed protocol's contracts, rebound to the replay's chain. */
export function bindContracts(p: Protocol, chain: Chain): ReplayContracts {
  const runner = chainRunner(chain);
  const feeds = new Map<string, MockAggregator>();
  return {
    usdc: p.usdc.connect(runner),
    oracle: p.oracle.connect(runner),
    vault: p.vault.connect(runner),
    engine: p.engine.connect(runner),
    insuranceFund: p.insuranceFund.connect(runner),
    liquidationEngine: p.liquidationEngine.connect(runner),
    orders: IOrders__factory.connect(p.engine.target as string, runner),
    breaker: p.breaker?.connect(runner),
    feed(address) {
      let f = feeds.get(address);
      if (!f) feeds.set(address, (f = MockAggregator__factory.connect(address, runner)));
      return f;
    },
  };
}

type EventOutput<E> = E extends TypedContractEvent<infer _I, infer _O, infer Out> ? Out : never;

/** The decoded fields of event `N` of contract type `C` (TypeChain's OutputObject). */
export type EventOf<C extends { filters: object }, N extends keyof C["filters"]> = EventOutput<C["filters"][N]>;

/** The decoded fields of `log`, an event `name` of `contract`, or undefined when it is another event. */
export function eventArgs<
  C extends {
    filters: object;
    interface: { parseLog(log: { topics: string[]; data: string }): { name: string; args: unknown } | null };
  },
  N extends keyof C["filters"] & string,
>(contract: C, name: N, log: Pick<Log, "topics" | "data"> | EthersLog): EventOf<C, N> | undefined {
  const parsed = contract.interface.parseLog({ topics: [...log.topics], data: log.data });
  return parsed?.name === name ? (parsed.args as EventOf<C, N>) : undefined;
}
