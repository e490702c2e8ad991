/**
 * REPLAY_TRACE_DECLINES=<file>: why the backstop vault declined each account the liquidation engine then
 * tranched or closed (issue 12's diagnosis). For every `LiquidationSettled` of a run with a vault, the
 * vault's takeover is called again (`eth_call` from the engine, the module's only caller) on the state
 * just before the liquidation's block, and its answer is appended to the file as one JSON line: the cap
 * that reverted (`TakeoverCapExceeded(cap, value, limit)`; for `unwind`, the share of the account that fits
 * the unwind cap and the least share the vault takes, the tranche's, both fractions), the breaker (0 taken,
 * no revert), or a
 * takeover that would have gone through there (that state does not hold the same block's earlier
 * liquidations). Reads only; the run's result does not change.
 */
import { appendFileSync } from "node:fs";

import { Interface } from "ethers";

import type { Log } from "./chain.js";
import type { RunState } from "./state.js";

const FILE = process.env.REPLAY_TRACE_DECLINES;

const iface = new Interface([
  "function backstopTakeover(uint256 accountId, address keeper) returns (uint256)",
  "error TakeoverCapExceeded(bytes32 cap, uint256 value, uint256 limit)",
  "error TakeoverUncovered(uint256 shortfall, uint256 covered)",
  "event LiquidationSettled(uint256 indexed accountId, address indexed keeper, bool backstop, uint256 fraction, uint256 trancheNotional, uint256 healthAfter, uint256 liquidatableSince)",
]);

function revertData(e: unknown): string | undefined {
  let x = e as { data?: unknown; error?: unknown; cause?: unknown } | undefined;
  for (let i = 0; i < 4 && x; i++) {
    if (typeof x.data === "string") return x.data;
    if (x.data && typeof (x.data as { data?: unknown }).data === "string") return (x.data as { data: string }).data;
    x = (x.error ?? x.cause) as typeof x;
  }
  return undefined;
}

/** Appends one line per liquidation settled in `logs` (no-op without the variable or a vault). */
export async function traceDeclines(run: RunState, logs: Log[]): Promise<void> {
  if (!FILE || !run.backstop) return;
  const engine = await run.c.engine.getAddress();
  const topic = iface.getEvent("LiquidationSettled")!.topicHash;
  for (const log of logs) {
    if (log.topics[0] !== topic) continue;
    const e = iface.parseLog(log)!.args;
    const block = Number(log.blockNumber) - 1;
    const line: Record<string, unknown> = {
      t: run.chain.time,
      account: e.accountId.toString(),
      backstop: e.backstop,
      fraction: Number(e.fraction) / 1e18,
      tranche: Number(e.trancheNotional) / 1e18,
    };
    const data = iface.encodeFunctionData("backstopTakeover", [e.accountId, run.roles.keeper]);
    try {
      const out = await run.chain.rpc<string>("eth_call", [
        { from: engine, to: engine, data },
        "0x" + block.toString(16),
      ]);
      const taken = iface.decodeFunctionResult("backstopTakeover", out)[0] as bigint;
      line.cap = taken === 0n ? "none (breaker or not liquidatable)" : "would take";
      line.value = Number(taken) / 1e18;
    } catch (err) {
      const d = revertData(err);
      const parsed = d ? iface.parseError(d) : null;
      if (parsed?.name === "TakeoverCapExceeded") {
        line.cap = Buffer.from(parsed.args.cap.slice(2), "hex").toString().replace(/\0+$/, "");
        line.value = Number(parsed.args.value) / 1e18;
        line.limit = Number(parsed.args.limit) / 1e18;
      } else line.cap = parsed?.name ?? `revert ${d?.slice(0, 10) ?? String(err).slice(0, 80)}`;
    }
    appendFileSync(FILE, JSON.stringify(line) + "\n");
  }
}
