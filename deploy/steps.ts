/**
 * A journal of deployment steps, so that a deployment can be interrupted anywhere and resumed.
 *
 * Every step is one transaction from the deployer, named by a stable key. A step done is recorded
 * as the contract address it created or the hash of its transaction, and is never sent again. A
 * transaction is recorded as in flight the moment it is broadcast, before waiting for it: a
 * deployment killed while waiting adopts that transaction when resumed (or re-sends it if the
 * chain dropped it), so a crash can never create a contract twice.
 *
 * With no `persist` the journal lives in memory only: that is how deployProtocol() runs the same
 * steps in tests and replays, with no bookkeeping cost.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { type BaseContract, type TransactionReceipt, type TransactionResponse, decodeBytes32String } from "ethers";

export type Journal = {
  steps: Record<string, string>;
  inFlight?: { step: string; hash: string };
  /** block of the first transaction mined */
  startBlock?: number;
};

export type StepOptions = {
  /** called after every change of the journal; without it nothing is tracked in flight */
  persist?: (journal: Journal) => void;
  /** blocks to wait for each transaction (default 1) */
  confirmations?: number;
  /** test hook: stop with DeployInterrupted once this many steps were executed in this run */
  stopAfter?: number;
  /** test hook, with stopAfter: broadcast the next step's transaction before stopping */
  stopInFlight?: boolean;
  log?: (line: string) => void;
};

/** Thrown by the stopAfter test hook: the journal is saved and the deployment can be resumed. */
export class DeployInterrupted extends Error {
  constructor(
    readonly executed: number,
    readonly nextStep: string,
    readonly inFlight: boolean,
  ) {
    super(
      `stopped after ${executed} steps as asked` +
        (inFlight ? `, with step ${nextStep} broadcast but not recorded` : ` (next: ${nextStep})`),
    );
  }
}

export class StepFailed extends Error {}

export class Steps {
  /** steps executed (transactions mined) in this run */
  executed = 0;
  /** steps found done in the journal in this run */
  skipped = 0;
  /** contracts deployed in this run, by address (getContractAt reads the artifact every time: ~4 ms) */
  private readonly deployed = new Map<string, BaseContract>();

  constructor(
    private readonly ethers: HardhatEthers,
    readonly journal: Journal,
    private readonly opts: StepOptions = {},
  ) {}

  /** Deploys `contract` once; returns its address (recorded, or new). */
  async deploy(key: string, contract: string, args: unknown[]): Promise<string> {
    const recorded = this.journal.steps[key];
    if (recorded !== undefined) {
      await this.requireCode(key, recorded);
      this.skipped++;
      return recorded;
    }
    const receipt = await this.execute(key, async () => {
      const c = await this.ethers.deployContract(contract, args);
      const tx = c.deploymentTransaction();
      if (tx === null) throw new StepFailed(`${key}: ${contract} was deployed without a transaction`);
      this.deployed.set((await c.getAddress()).toLowerCase(), c);
      return tx;
    });
    if (!receipt.contractAddress) throw new StepFailed(`${key}: the receipt of ${receipt.hash} names no contract`);
    this.record(key, receipt.contractAddress);
    return receipt.contractAddress;
  }

  /** A contract object for `address`, connected to the deployer. */
  async contract(name: string, address: string): Promise<BaseContract> {
    return this.deployed.get(address.toLowerCase()) ?? (await this.ethers.getContractAt(name, address));
  }

  /** Sends one transaction once. */
  async send(key: string, send: () => Promise<TransactionResponse>): Promise<void> {
    if (this.journal.steps[key] !== undefined) {
      this.skipped++;
      return;
    }
    const receipt = await this.execute(key, send);
    this.record(key, receipt.hash);
  }

  /**
   * Settles a transaction left in flight by an interrupted run: records it when mined, waits for
   * it when pending, forgets it when the chain dropped it or it reverted (its step then runs again).
   */
  async settleInFlight(): Promise<void> {
    const pending = this.journal.inFlight;
    if (!pending) return;
    const provider = this.ethers.provider;
    let receipt = await provider.getTransactionReceipt(pending.hash);
    if (receipt === null) {
      const tx = await provider.getTransaction(pending.hash);
      if (tx === null) {
        this.opts.log?.(`step ${pending.step}: transaction ${pending.hash} was dropped, sending it again`);
        delete this.journal.inFlight;
        this.save();
        return;
      }
      this.opts.log?.(`step ${pending.step}: waiting for transaction ${pending.hash} sent by the interrupted run`);
      receipt = await waitMined(tx, this.opts.confirmations ?? 1);
    }
    if (receipt === null || receipt.status !== 1) {
      // A reverted transaction changed nothing: forget it and let its step run (and explain) again.
      this.opts.log?.(`step ${pending.step}: transaction ${pending.hash} sent by the interrupted run reverted`);
      delete this.journal.inFlight;
      this.save();
      return;
    }
    this.opts.log?.(`step ${pending.step}: adopted transaction ${pending.hash} sent by the interrupted run`);
    this.noteBlock(receipt);
    this.record(pending.step, receipt.contractAddress ?? receipt.hash);
  }

  private async execute(key: string, send: () => Promise<TransactionResponse>): Promise<TransactionReceipt> {
    const { stopAfter, stopInFlight, persist } = this.opts;
    const stopping = stopAfter !== undefined && this.executed >= stopAfter;
    if (stopping && !stopInFlight) throw new DeployInterrupted(this.executed, key, false);
    if (this.journal.inFlight) {
      throw new StepFailed(`step ${key}: step ${this.journal.inFlight.step} is still in flight`);
    }
    let tx: TransactionResponse;
    try {
      tx = await send();
    } catch (e) {
      throw new StepFailed(`step ${key} failed: ${describeError(e)}`, { cause: e });
    }
    if (persist) {
      this.journal.inFlight = { step: key, hash: tx.hash };
      this.save();
    }
    if (stopping) throw new DeployInterrupted(this.executed, key, true);
    // Any error but a revert (the RPC went away...) leaves the step in flight for the next run.
    const receipt = await waitMined(tx, this.opts.confirmations ?? 1);
    if (receipt === null || receipt.status !== 1) {
      delete this.journal.inFlight;
      this.save();
      throw new StepFailed(`step ${key}: transaction ${tx.hash} reverted`);
    }
    this.noteBlock(receipt);
    this.executed++;
    this.opts.log?.(`  ${key}  (block ${receipt.blockNumber})`);
    return receipt;
  }

  private record(key: string, value: string): void {
    this.journal.steps[key] = value;
    if (this.journal.inFlight?.step === key) delete this.journal.inFlight;
    this.save();
  }

  private noteBlock(receipt: TransactionReceipt): void {
    if (this.journal.startBlock === undefined || receipt.blockNumber < this.journal.startBlock) {
      this.journal.startBlock = receipt.blockNumber;
    }
  }

  private save(): void {
    this.opts.persist?.(this.journal);
  }

  private async requireCode(key: string, address: string): Promise<void> {
    if (!this.opts.persist) return;
    const code = await this.ethers.provider.getCode(address);
    if (code === "0x") {
      throw new StepFailed(
        `step ${key} recorded a contract at ${address}, but there is no code there: the chain was reset ` +
          `or the record belongs to another chain. Start over with DEPLOY_FRESH=1 (the old record is kept as a .bak)`,
      );
    }
  }
}

/** The receipt of a mined transaction, reverted or not (ethers' wait() throws on a revert). */
async function waitMined(tx: TransactionResponse, confirmations: number): Promise<TransactionReceipt | null> {
  try {
    return await tx.wait(confirmations);
  } catch (e) {
    const receipt = (e as { receipt?: TransactionReceipt | null }).receipt;
    if (receipt === undefined) throw e;
    return receipt;
  }
}

/** One line for an ethers or provider error: the custom error with its arguments when decoded. */
export function describeError(e: unknown): string {
  const err = e as { revert?: { name: string; args: unknown[] }; shortMessage?: string; message?: string };
  if (err.revert) {
    const args = err.revert.args.map((a) => {
      // ParameterOutOfBounds and friends name the parameter in a bytes32.
      if (typeof a === "string" && /^0x[0-9a-f]{64}$/i.test(a)) {
        try {
          const text = decodeBytes32String(a);
          if (/^[\x20-\x7e]+$/.test(text)) return JSON.stringify(text);
        } catch {
          // not a string
        }
      }
      return String(a);
    });
    return `${err.revert.name}(${args.join(", ")})`;
  }
  return err.shortMessage ?? err.message ?? String(e);
}
