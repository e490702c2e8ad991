/**
 * What every keeper job is built with. The service (`keeper.ts`) builds one context and hands each
 * job (liquidator, pokers, flagger, deleverager) the same one, plus what that job alone needs.
 */
import type { KeeperSettings } from "./config.js";
import type { ProtocolContracts } from "./contracts.js";
import type { Logger } from "./logger.js";
import type { KeeperMetrics } from "./metrics.js";
import type { TxManager } from "./txManager.js";

/** The contracts, the transaction sender, the validated settings, the log and the metrics. */
export type JobContext = {
  contracts: ProtocolContracts;
  tx: TxManager;
  settings: KeeperSettings;
  logger: Logger;
  metrics: KeeperMetrics;
};

/** A job that reads the chain as the keeper's own address (simulations, rewards paid to it). */
export type AddressedJobContext = JobContext & {
  address: string;
};
