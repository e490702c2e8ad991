/**
 * Auto-deleveraging, one of the keeper's jobs. Bad debt the insurance fund could not cover waits per
 * market and side (`pendingDeficit`) until `autoDeleverage` recovers it from the other side's positions
 * in profit. Only the ADL_KEEPER role may call it, with a list the engine checks: strictly ranked by its
 * own score, pnl * leverage = position value * account notional / account equity (descending, equal
 * scores by ascending id). The keeper ranks every account of its book with the bigint mirror, exactly as
 * the engine scores them, and sends the top MAX_CANDIDATES. Accounts at or below maintenance are left
 * out: the engine would skip them (it never takes an account below its maintenance margin).
 *
 * The same job closes the backstop vault's inventory (`deleverageBackstop`) where the engine's
 * `backstopExcess` says part of it may go: all of it once the vault's share price is `adlDrawdown` or more
 * below its drawdown breaker's peak, and before that the part its loss budget left cannot carry through a
 * stress move; against the same ranked candidates (the side opposite the vault's inventory), at the oracle
 * price, with no sale into the market (issue 12).
 *
 * Each call is simulated first (an estimate at "latest"); one that would revert is not sent and is
 * logged with the engine's reason. A market whose ADL window is full waits for the next window. A key
 * without the role runs nothing and says so once.
 */
import { id as keccakId, ZeroAddress } from "ethers";

import { accountSummary, mulDivDown, unrealisedPnl, type EngineSnapshot } from "../lib/math/index.js";
import type { IProtocolLens } from "../../types/ethers-contracts/contracts/lens/ProtocolLens.js";
import type { AccountBook } from "./book.js";
import type { ChainView } from "./chainView.js";
import { decodeRevert } from "./contracts.js";
import type { Fees } from "./fees.js";
import type { AddressedJobContext } from "./job.js";
import type { PokeReport } from "./pokers.js";
import { isTransportError } from "./rpc.js";

/** AutoDeleveraging.MAX_CANDIDATES */
export const MAX_ADL_CANDIDATES = 100;
export const ADL_KEEPER_ROLE = keccakId("cascade.role.adl-keeper");

export type AdlCandidate = { accountId: bigint; score: bigint };

/**
 * The accounts `autoDeleverage(marketId, bankruptLong, ...)` may take from, in the order the engine
 * requires: the other side of the bankrupt positions, in profit, with equity above maintenance; score
 * (mulDivDown(value, notional, equity), the engine's) descending, equal scores by ascending id.
 */
export function rankAdlCandidates(
  book: AccountBook,
  engine: EngineSnapshot,
  marketId: number,
  bankruptLong: boolean,
): AdlCandidate[] {
  const market = engine.markets.get(marketId);
  if (!market) return [];
  const ranked: AdlCandidate[] = [];
  for (const account of book.withPositions()) {
    const pos = account.positions.get(marketId);
    if (account.stale || pos === undefined || pos.size === 0n || pos.size > 0n === bankruptLong) continue;
    if ([...account.positions.keys()].some((m) => !engine.markets.has(m))) continue;
    const value = unrealisedPnl(market, pos, engine.timestamp);
    if (value <= 0n) continue;
    const s = accountSummary(engine, book.snapshotOf(account));
    if (s.equity <= 0n || s.equity <= s.maintenanceMargin) continue;
    ranked.push({ accountId: account.id, score: mulDivDown(value, s.notional, s.equity) });
  }
  return ranked.sort((x, y) =>
    x.score !== y.score ? (x.score > y.score ? -1 : 1) : x.accountId < y.accountId ? -1 : 1,
  );
}

export class Deleverager {
  private role: boolean | undefined;
  private readonly gasLimits = new Map<string, bigint>();

  constructor(
    private readonly o: AddressedJobContext & {
      /** collateral token units to WAD */
      scale: bigint;
    },
  ) {}

  /**
   * Sends one `autoDeleverage` per market and side with a deficit pending at the newest block, then
   * `deleverageBackstop` where the backstop vault's inventory may go (`runBackstop`).
   * `refresh` brings the book and the chain view to that block (the keeper's own liquidations of this
   * pass may have just booked the deficit); it is only asked when something is pending.
   */
  async run(
    refresh: () => Promise<{ book: AccountBook; view: ChainView }>,
    fees: () => Promise<Fees | undefined>,
  ): Promise<PokeReport[]> {
    const lensed = await this.readThroughLens();
    // bad debt first: the backstop vault's inventory above its trigger yields to a pending deficit (the
    // opposite side's profits recover that), so the vault's job runs after the deficits' calls
    const reports = await this.runDeficits(refresh, fees, lensed?.badDebtPending);
    if (this.o.tx.count() >= this.o.settings.maxPendingTxs) return reports;
    // the lens's answer for the vault's job is the state it would read only when the deficits' part sent
    // and refreshed nothing (nothing pending): else it reads again
    reports.push(...(await this.runBackstop(refresh, fees, lensed?.badDebtPending === 0n ? lensed : undefined)));
    return reports;
  }

  /** Whether the lens answers `deleverageView` for this deployment (undefined: not asked yet). */
  private lensWorks: boolean | undefined;

  /**
   * The job's first reads in one call (`ProtocolLens.deleverageView`, at the newest block): what
   * `badDebtPending`, `backstopState`, `backstopConfig`, `accountMarkets` and `backstopExcess` answer
   * read one by one. Only where the liquidation engine answers at the engine's address (the lens reads
   * there); a lens that fails (one deployed before the view, a read that reverts) is not asked again,
   * and the reads go one by one as before, their errors included.
   */
  private async readThroughLens(): Promise<IProtocolLens.DeleverageViewStructOutput | undefined> {
    const { lens, engine, liquidationEngine } = this.o.contracts;
    if (!lens || this.lensWorks === false) return undefined;
    if (this.lensWorks === undefined) {
      this.lensWorks = (liquidationEngine.target as string).toLowerCase() === (engine.target as string).toLowerCase();
      if (!this.lensWorks) return undefined;
    }
    try {
      return await lens.deleverageView({ blockTag: "latest" });
    } catch (e) {
      if (isTransportError(e)) throw e;
      this.lensWorks = false;
      this.o.logger.warn({ err: (e as Error).message }, "the lens's deleverageView failed; reading one by one");
      return undefined;
    }
  }

  /** The deficits' part of `run` (`pending`: the bad debt pending, already read at the newest block). */
  private async runDeficits(
    refresh: () => Promise<{ book: AccountBook; view: ChainView }>,
    fees: () => Promise<Fees | undefined>,
    pending?: bigint,
  ): Promise<PokeReport[]> {
    const le = this.o.contracts.liquidationEngine;
    const pendingWad = pending ?? (await le.badDebtPending({ blockTag: "latest" }));
    this.o.metrics.adlDeficitPending.set(Number(pendingWad / 10n ** 12n) / 1e6);
    if (pendingWad === 0n) return [];
    if (!(await this.hasRole())) return [];
    const { book, view } = await refresh();
    const at = { blockTag: view.blockNumber };
    const reports: PokeReport[] = [];
    const [window, maxNotional] = await le.adlConfig(at);
    for (const marketId of view.engine.markets.keys()) {
      for (const bankruptLong of [true, false]) {
        const deficit = await le.pendingDeficit(marketId, bankruptLong, at);
        if (deficit === 0n) continue;
        const w = await le.adlWindow(marketId, at);
        const windowEnds = w.start + window;
        if (view.timestamp < windowEnds && w.used >= maxNotional) {
          this.o.logger.info(
            { marketId, bankruptLong, deficit, windowEndsAt: windowEnds },
            "ADL window full; the deficit waits for the next window",
          );
          continue;
        }
        const ranked = rankAdlCandidates(book, view.engine, marketId, bankruptLong).slice(0, MAX_ADL_CANDIDATES);
        if (ranked.length === 0) {
          this.o.logger.warn({ marketId, bankruptLong, deficit }, "deficit pending but no account to take it from");
          continue;
        }
        const ids = ranked.map((r) => r.accountId);
        const report = await this.send(
          `adl:${marketId}:${bankruptLong ? "long" : "short"}`,
          le.interface.encodeFunctionData("autoDeleverage", [marketId, bankruptLong, ids]),
          `deficit ${deficit} of the ${bankruptLong ? "long" : "short"} side, ${ids.length} candidates`,
          { marketId, bankruptLong, deficit, candidates: ids.length },
          ranked,
          view,
          fees,
        );
        if (report) reports.push(report);
        if (this.o.tx.count() >= this.o.settings.maxPendingTxs) return reports;
      }
    }
    return reports;
  }

  /**
   * `deleverageBackstop` per market where the engine says part of the vault's inventory may be closed
   * (`backstopExcess`): all of it once its share price is at or below its trigger (the breaker's peak less
   * `adlDrawdown`), and above it the part its loss budget left cannot carry through a stress move. Nothing
   * on a deployment without the backstop or with the trigger off.
   */
  private async runBackstop(
    refresh: () => Promise<{ book: AccountBook; view: ChainView }>,
    fees: () => Promise<Fees | undefined>,
    lensed?: IProtocolLens.DeleverageViewStructOutput,
  ): Promise<PokeReport[]> {
    const bs = this.o.contracts.backstop;
    if (!bs) return [];
    const le = this.o.contracts.liquidationEngine;
    let state: { vault: string; accountId: bigint };
    const due: number[] = [];
    if (lensed) {
      if (!lensed.backstop || lensed.vault === ZeroAddress || lensed.adlDrawdown === 0n) return [];
      state = { vault: lensed.vault, accountId: lensed.accountId };
      for (const id of lensed.excessMarkets) due.push(Number(id));
    } else {
      const latest = { blockTag: "latest" };
      let config;
      try {
        [state, config] = await Promise.all([bs.backstopState(latest), bs.backstopConfig(latest)]);
      } catch {
        return []; // a deployment without the backstop's configurator
      }
      if (state.vault === ZeroAddress || config.adlDrawdown === 0n) return [];
      for (const id of await this.o.contracts.engine.accountMarkets(state.accountId, latest)) {
        if ((await le.backstopExcess(id, latest)) > 0n) due.push(Number(id));
      }
    }
    if (due.length === 0) return [];
    if (!(await this.hasRole())) return [];
    const { book, view } = await refresh();
    const at = { blockTag: view.blockNumber };
    const reports: PokeReport[] = [];
    for (const marketId of due) {
      const size = (await this.o.contracts.engine.position(state.accountId, marketId, at)).size;
      const excess = size === 0n ? 0n : await le.backstopExcess(marketId, at);
      if (excess === 0n) continue;
      const ranked = rankAdlCandidates(book, view.engine, marketId, size > 0n).slice(0, MAX_ADL_CANDIDATES);
      if (ranked.length === 0) {
        this.o.logger.warn(
          { marketId, size, excess },
          "the backstop vault has inventory to pass on but no account to close against",
        );
        continue;
      }
      const ids = ranked.map((r) => r.accountId);
      const report = await this.send(
        `adl-vault:${marketId}`,
        le.interface.encodeFunctionData("deleverageBackstop", [marketId, ids]),
        `backstop vault: ${excess} of its inventory ${size} to pass on, ${ids.length} candidates`,
        { marketId, vaultSize: size, excess, candidates: ids.length },
        ranked,
        view,
        fees,
      );
      if (report) reports.push(report);
      if (this.o.tx.count() >= this.o.settings.maxPendingTxs) break;
    }
    return reports;
  }

  private async hasRole(): Promise<boolean> {
    if (this.role === undefined) {
      this.role = await this.o.contracts.liquidationEngine.hasRole(ADL_KEEPER_ROLE, this.o.address);
      if (!this.role) {
        this.o.logger.warn(
          { address: this.o.address },
          "bad debt is pending but this key lacks ADL_KEEPER: auto-deleveraging is left to the role's holder",
        );
      }
    }
    return this.role;
  }

  private async send(
    key: string,
    data: string,
    reason: string,
    fields: Record<string, unknown>,
    ranked: AdlCandidate[],
    view: ChainView,
    fees: () => Promise<Fees | undefined>,
  ): Promise<PokeReport | undefined> {
    const to = this.o.contracts.liquidationEngine.target as string;
    if (this.o.tx.hasKey(key)) return undefined;
    const report: PokeReport = { kind: "adl", key, reason, sent: false };
    let gasLimit = this.gasLimits.get(key);
    if (gasLimit === undefined || !(await this.o.tx.fits(to, data, gasLimit))) {
      try {
        const gas = await this.o.tx.estimate(to, data);
        gasLimit = (gas * BigInt(100 + this.o.settings.gasLimitMarginPercent)) / 100n;
      } catch (e) {
        if (isTransportError(e)) throw e;
        const reason = decodeRevert(e)?.name ?? (e as { shortMessage?: string }).shortMessage ?? String(e);
        this.o.metrics.transactions.inc({ kind: "adl", outcome: "would-revert" });
        this.o.logger.warn({ ...fields, reason }, "ADL would revert; not sent");
        report.reason = `would revert: ${reason}`;
        return report;
      }
    }
    if (this.o.settings.dryRun) return report;
    const f = await fees();
    if (!f) return report;
    const tx = await this.o.tx.submit({ kind: "adl", key, to, data, gasLimit }, f, view.blockNumber);
    if (!tx) return report;
    this.gasLimits.set(key, gasLimit);
    report.sent = true;
    report.hash = tx.hashes[0];
    this.o.metrics.pokes.inc({ kind: "adl" });
    this.o.metrics.transactions.inc({ kind: "adl", outcome: "sent" });
    this.o.logger.info(
      {
        ...fields,
        top: ranked.slice(0, 3).map((r) => ({ accountId: r.accountId, score: r.score })),
        hash: report.hash,
        nonce: tx.nonce,
      },
      "auto-deleveraging sent",
    );
    return report;
  }
}
