/**
 * Prometheus metrics of one keeper, in a registry of its own (two keepers in one process, as in the
 * crash replay, do not collide). Amounts are in collateral tokens as floating point: metrics are for
 * watching, never for computing money.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class KeeperMetrics {
  readonly registry = new Registry();

  readonly accountsTracked = this.gauge("keeper_accounts_tracked", "accounts the keeper follows");
  readonly accountsWithPositions = this.gauge("keeper_accounts_with_positions", "tracked accounts holding a position");
  readonly accountsLiquidatable = this.gauge(
    "keeper_accounts_liquidatable",
    "accounts below maintenance margin at the last scan (off-chain health)",
  );
  readonly accountsUnpriced = this.gauge(
    "keeper_accounts_unpriced",
    "accounts with a position in a market whose oracle could not be read at the last scan",
  );
  readonly tranchesSent = this.counter(
    "keeper_tranches_sent_total",
    "tranches included in sent liquidateBatch transactions",
  );
  readonly tranchesMined = this.counter("keeper_tranches_mined_total", "tranches this keeper liquidated (mined)");
  readonly tranchesSkipped = new Counter({
    name: "keeper_tranches_skipped_total",
    help: "tranches of this keeper's batches the contract skipped (already liquidated by another keeper, healthy, cooling down)",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  readonly tranchesFailed = this.counter(
    "keeper_tranches_failed_total",
    "tranches in reverted transactions or whose simulation failed",
  );
  readonly transactions = new Counter({
    name: "keeper_transactions_total",
    help: "transactions by kind and outcome (sent, mined, reverted, dropped, replaced, refused)",
    labelNames: ["kind", "outcome"] as const,
    registers: [this.registry],
  });
  readonly pendingTransactions = this.gauge("keeper_pending_transactions", "transactions sent and not yet mined");
  readonly rewardEarned = this.counter(
    "keeper_reward_earned_total",
    "keeper rewards earned by mined tranches, collateral tokens (from TrancheLiquidated.keeperReward)",
  );
  readonly rewardsClaimed = this.counter("keeper_rewards_claimed_total", "keeper rewards claimed, collateral tokens");
  readonly rpcRequests = this.counter("keeper_rpc_requests_total", "JSON-RPC calls made (each call of a batch counts)");
  readonly rpcErrors = this.counter("keeper_rpc_errors_total", "RPC transport failures (unreachable, timeout, reset)");
  readonly rpcCallsLastTick = this.gauge("keeper_rpc_calls_last_tick", "JSON-RPC calls made by the last tick");
  readonly scanSeconds = new Histogram({
    name: "keeper_scan_duration_seconds",
    help: "off-chain health evaluation of every tracked account, per scan",
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly tickSeconds = new Histogram({
    name: "keeper_tick_duration_seconds",
    help: "one tick: follow events, read markets, scan, confirm, send, poke",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly tickFailures = this.counter("keeper_tick_failures_total", "ticks that ended in an error");
  readonly lastBlock = this.gauge("keeper_last_block", "last block whose events are in the keeper's book");
  readonly resumedFromBlock = this.gauge(
    "keeper_resumed_from_block",
    "first block the event follower read at start (the checkpoint's next block, or the deployment's startBlock)",
  );
  readonly logBlocksScanned = this.counter("keeper_log_blocks_scanned_total", "blocks whose logs were fetched");
  readonly pokes = new Counter({
    name: "keeper_pokes_total",
    help: "maintenance transactions sent (volatility, breaker, claim, flag, adl)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly adlDeficitPending = this.gauge(
    "keeper_adl_deficit_pending",
    "bad debt waiting for auto-deleveraging (quote units), read at the newest block each pass",
  );
  readonly pendingOrders = this.gauge(
    "keeper_orders_pending",
    "two-step orders committed and not yet settled, refused or cancelled",
  );
  readonly orders = new Counter({
    name: "keeper_orders_total",
    help: "two-step orders that left the pending set, by outcome (settled, refused), by any settler",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly balance = this.gauge("keeper_balance_eth", "ether the keeper's key holds to pay for gas, at the last block");
  readonly balanceLow = this.gauge(
    "keeper_balance_low",
    "1 when the key holds less ether than --min-balance-eth (fund it), else 0",
  );
  private blockAgeSource: (() => number | undefined) | undefined;
  readonly blockAgeSeconds = new Gauge({
    name: "keeper_block_age_seconds",
    help: "seconds between the newest block's timestamp and now, by the keeper's clock, at scrape time",
    registers: [this.registry],
    collect: () => {
      const age = this.blockAgeSource?.();
      if (age !== undefined) this.blockAgeSeconds.set(age);
    },
  });

  /** Where keeper_block_age_seconds is read from at scrape time. */
  blockAge(source: () => number | undefined): void {
    this.blockAgeSource = source;
  }

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: "keeper_process_" });
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }

  private counter(name: string, help: string): Counter {
    return new Counter({ name, help, registers: [this.registry] });
  }
}
