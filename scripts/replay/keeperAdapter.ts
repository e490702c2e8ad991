/**
 * The keeper, as the replay sees it: one call per tick, `tick(): Promise<{ tranches }>`, plus the
 * counters and findings it reports into the run (`stats()`, `notes()`). Nothing else in the replay
 * depends on what the keeper is: the engine reads what happened from the chain's logs.
 *
 * Two keepers implement it:
 *  - the default, `serviceKeeper` (serviceKeeper.ts): the project's keeper service, the `Keeper` class
 *    of scripts/keeper/, over an ethers provider that mines its transactions at the tick's time;
 *  - `scanKeeper` (below, `--keeper scan`): a loop built only from the liquidation engine's own
 *    keeper-facing calls, kept as an independent reference to compare the service against (and, in
 *    the tests, to check the engine's mirror against the contract's own scan every tick).
 *
 * What ScanKeeper does each tick, in order:
 *  1. pokers: `oracle.updateVolatility(feed, 64)` for every market, then `breaker.poke(market)` when
 *     the protocol has a breaker;
 *  2. finds liquidatable accounts with `liquidatableAccounts(first, count)` page scans (at most
 *     `pageSize` ids a call), over every account id, or, when the engine supplies a `hint` (the ids
 *     its bigint mirror of the engine's views finds below maintenance margin), over the id ranges
 *     holding those ids only; the scan still decides, the hint only narrows where it looks. Every
 *     `fullScanEvery` ticks it scans everything and counts hint misses (tests run it every tick);
 *  3. liquidates them worst first (the hint's order: health ascending) with `liquidateBatch` in chunks
 *     of at most `batchSize` (<= 100, the contract's cap; ~104k gas a tranche, under the 16.7M
 *     transaction cap). A chunk that reverts is split in two and retried; one account whose own
 *     liquidation reverts is skipped and its revert reason recorded (`failures`);
 *  4. flags (`flag`) accounts below maintenance that the scan did not return (cooldown or capacity
 *     held them back), once per episode, so their keeper reward escalation starts.
 * The preset's `keeper` section configures it (`batchSize` also sets the service's batch size).
 */
import type { Interface } from "ethers";

import type { Deployment } from "../../deploy/deployment.js";
import { type Chain, TX_GAS_CAP, type TxResult } from "./chain.js";

export interface KeeperAdapter {
  /** what the run's stats call this keeper */
  readonly name: string;
  /** one replay tick, at the chain's current time; the tranches its liquidations executed */
  tick(): Promise<{ tranches: number }>;
  /** counters for the run's stats */
  stats(): Promise<Record<string, number>>;
  /** findings for the run's notes (liquidations that reverted, and why) */
  notes(): string[];
}

export type KeeperContext = {
  chain: Chain;
  /** the keeper's address (it receives the rewards); nothing else in the replay sends from it */
  keeper: string;
  /** its private key: the network's development key of that address */
  keeperKey: string;
  /** the in-process deployment, as a deployment record (deploy/deployment.ts) */
  deployment: Deployment;
  markets: { id: number; feedId: string }[];
  addresses: { oracle: string; liquidationEngine: string; engine: string; breaker?: string };
  interfaces: { oracle: Interface; liquidationEngine: Interface; engine: Interface; breaker?: Interface };
  /** ids below maintenance margin now, from the engine's mirror (absent: scan everything) */
  hint?: () => Promise<bigint[]>;
  /** the preset's `keeper` section */
  options: { batchSize: number; pageSize: number; fullScanEvery: number; flag: boolean };
};

export type KeeperFactory = (ctx: KeeperContext) => KeeperAdapter;

type ScanStats = {
  scans: number;
  batches: number;
  flags: number;
  /** ids the full scan found liquidatable that the hint did not name */
  hintMisses: number;
  pokes: number;
  /** single-account liquidateBatch calls that reverted (see ScanKeeper.failures for why) */
  failedLiquidations: number;
};

export class ScanKeeper implements KeeperAdapter {
  readonly name = "ScanKeeper (scripts/replay/keeperAdapter.ts)";
  private readonly counts: ScanStats = {
    scans: 0,
    batches: 0,
    flags: 0,
    hintMisses: 0,
    pokes: 0,
    failedLiquidations: 0,
  };
  /** liquidations that reverted on their own: reason -> "account@time" */
  readonly failures = new Map<string, string[]>();
  private ticks = 0;
  /** ids flagged and not liquidated since */
  private readonly flagged = new Set<bigint>();

  constructor(private readonly ctx: KeeperContext) {}

  stats(): Promise<Record<string, number>> {
    return Promise.resolve({ ...this.counts });
  }

  notes(): string[] {
    return [...this.failures].map(([reason, at]) => revertNote(reason, at));
  }

  async tick(): Promise<{ tranches: number }> {
    const { chain, keeper, addresses: a, interfaces: i } = this.ctx;
    this.ticks++;
    for (const m of this.ctx.markets) {
      await chain.send(keeper, a.oracle, i.oracle.encodeFunctionData("updateVolatility", [m.feedId, 64]), 3_000_000);
      this.counts.pokes++;
    }
    if (a.breaker && i.breaker) {
      for (const m of this.ctx.markets) {
        await chain.send(keeper, a.breaker, i.breaker.encodeFunctionData("poke", [m.id]), 3_000_000);
        this.counts.pokes++;
      }
    }

    const every = this.ctx.options.fullScanEvery;
    const full = this.ctx.hint === undefined || (every > 0 && this.ticks % every === 0);
    const hinted = this.ctx.hint ? await this.ctx.hint() : undefined;
    let ids: bigint[];
    if (full) {
      ids = await this.scanAll();
      if (hinted) {
        const named = new Set(hinted);
        this.counts.hintMisses += ids.filter((id) => !named.has(id)).length;
      }
    } else {
      ids = await this.scanRanges(hinted!);
    }

    // Worst first: in the hint's order (health ascending), so that when capacity runs short it goes
    // to the accounts nearest bankruptcy; ids the hint did not name go last.
    if (hinted) {
      const rank = new Map(hinted.map((id, k) => [id, k]));
      const at = (id: bigint) => rank.get(id) ?? hinted.length;
      ids.sort((x, y) => at(x) - at(y) || (x < y ? -1 : 1));
    }
    let tranches = 0;
    const size = this.ctx.options.batchSize;
    for (let k = 0; k < ids.length; k += size) tranches += await this.liquidate(ids.slice(k, k + size));
    for (const id of ids) this.flagged.delete(id);

    if (this.ctx.options.flag && hinted) {
      const returned = new Set(ids);
      for (const id of hinted) {
        if (returned.has(id) || this.flagged.has(id)) continue;
        await chain.send(keeper, a.liquidationEngine, i.liquidationEngine.encodeFunctionData("flag", [id]), 500_000);
        this.flagged.add(id);
        this.counts.flags++;
      }
    }
    return { tranches };
  }

  private async scanAll(): Promise<bigint[]> {
    const next = await this.nextAccountId();
    const out: bigint[] = [];
    for (let first = 1n; first < next; first += BigInt(this.ctx.options.pageSize)) {
      out.push(...(await this.scan(first, this.ctx.options.pageSize)));
    }
    return out;
  }

  /** Scans the id ranges that hold the hinted ids: ids at most 4 apart share one call (each id scanned costs ~30k gas, a call ~0.3 ms). */
  private async scanRanges(hinted: bigint[]): Promise<bigint[]> {
    if (hinted.length === 0) return [];
    const sorted = [...hinted].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const page = BigInt(this.ctx.options.pageSize);
    const out: bigint[] = [];
    let first = sorted[0];
    let last = sorted[0];
    for (const id of sorted.slice(1).concat([-1n])) {
      if (id !== -1n && id - last <= 4n && id - first < page) {
        last = id;
        continue;
      }
      out.push(...(await this.scan(first, Number(last - first + 1n))));
      first = id;
      last = id;
    }
    return out;
  }

  private async scan(first: bigint, count: number): Promise<bigint[]> {
    const { chain, addresses: a, interfaces: i } = this.ctx;
    this.counts.scans++;
    const data = i.liquidationEngine.encodeFunctionData("liquidatableAccounts", [first, count]);
    const ret = await chain.call(a.liquidationEngine, data);
    return [...(i.liquidationEngine.decodeFunctionResult("liquidatableAccounts", ret)[0] as bigint[])];
  }

  private async nextAccountId(): Promise<bigint> {
    const { chain, addresses: a, interfaces: i } = this.ctx;
    const ret = await chain.call(a.engine, i.engine.encodeFunctionData("nextAccountId"));
    return i.engine.decodeFunctionResult("nextAccountId", ret)[0] as bigint;
  }

  /** One liquidateBatch; on running out of gas, the two halves separately. Returns tranches executed. */
  private async liquidate(ids: bigint[]): Promise<number> {
    const { chain, keeper, addresses: a, interfaces: i } = this.ctx;
    this.counts.batches++;
    const data = i.liquidationEngine.encodeFunctionData("liquidateBatch", [ids]);
    const r: TxResult = await chain.send(keeper, a.liquidationEngine, data, TX_GAS_CAP);
    if (r.ok) return this.countSettled(r);
    if (ids.length === 1) {
      // A liquidation that reverts on its own: a protocol finding. Record why and go on (a keeper would).
      this.counts.failedLiquidations++;
      const reason = await this.revertReason(data);
      const key = `${reason}`;
      this.failures.set(key, [...(this.failures.get(key) ?? []), `${ids[0]}@${chain.time}`]);
      return 0;
    }
    const half = Math.ceil(ids.length / 2);
    return (await this.liquidate(ids.slice(0, half))) + (await this.liquidate(ids.slice(half)));
  }

  /** The decoded revert of a liquidateBatch call, replayed as an eth_call. */
  private async revertReason(data: string): Promise<string> {
    const { chain, keeper, addresses: a, interfaces: i } = this.ctx;
    try {
      await chain.rpc("eth_call", [
        { from: keeper, to: a.liquidationEngine, data, gas: "0x" + TX_GAS_CAP.toString(16) },
        "latest",
      ]);
      return "reverted as a transaction only (out of gas?)";
    } catch (e) {
      const raw = (e as { data?: unknown }).data;
      if (typeof raw !== "string") return (e as Error).message.split("\n")[0];
      const parsed = i.liquidationEngine.parseError(raw) ?? i.engine.parseError(raw);
      return parsed ? `${parsed.name}(${parsed.args.map(String).join(", ")})` : raw.slice(0, 10);
    }
  }

  private countSettled(r: TxResult): number {
    const topic = this.ctx.interfaces.liquidationEngine.getEvent("LiquidationSettled")!.topicHash;
    return r.logs.filter((l) => l.topics[0] === topic).length;
  }
}

export const scanKeeper: KeeperFactory = (ctx) => new ScanKeeper(ctx);

/** A run note for liquidations that reverted with `reason` at `at` ("account@time" each). */
export function revertNote(reason: string, at: string[]): string {
  const shown = at.slice(0, 5).join(", ") + (at.length > 5 ? ", ..." : "");
  return `liquidation reverted ${at.length}x with ${reason} (account@time: ${shown})`;
}
