/**
 * Diagnosis of a with/without difference (docs/experiments.md, "Risk monitor", "The stylised FTX with
 * the monitor: the cause"): one event replayed without and with the monitor acting through the
 * risk-oracle role, and per step of each run the breaker's level, the oracle and path prices, the forced
 * closes by account (T: taken over by the backstop vault, W: wiped out; S: a tranche sold; D: the vault's
 * inventory deleveraged against a trader; U: the vault's unwind, size), the vault's book, and each
 * trader's opening (time, size, level in force), written as JSON for a per-step and per-account diff.
 *
 *   [POP_SEED=<n>] CRASH_DATA_DIR=... npx tsx scripts/monitor/traceCompare.ts <event> <traders> <out.json> [stylised]
 */
import { writeFileSync } from "node:fs";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import type { Protocol } from "../../deploy/protocol.js";
import { runReplay } from "../replay/engine.js";
import { loadPreset, withOverrides } from "../replay/presets.js";
import type { ReplayStep } from "../replay/result.js";
import { pathsFor } from "../replay/sources.js";
import { ReplayBacktest } from "./backtest.js";
import { ILiquidator__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidator__factory.js";
import { IPerpEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IPerpEngine__factory.js";
import { IAutoDeleveraging__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IAutoDeleveraging__factory.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";

const [event, accounts, out, mode] = process.argv.slice(2);

type Row = {
  t: number;
  level: number;
  feedback: boolean;
  oracle: string;
  path: string;
  closes: string[];
  vault?: unknown;
};

function recorder(bt: ReplayBacktest, rows: Row[], opens: Record<string, { t: number; size: string; level: number }>) {
  let last: number | undefined;
  return async (step: ReplayStep, chain: { ethers: HardhatEthers; protocol: Protocol }) => {
    const head = await chain.ethers.provider.getBlockNumber();
    const closes: string[] = [];
    if (last !== undefined && head > last) {
      const engine = await chain.protocol.engine.getAddress();
      const b = IBackstopEngine__factory.connect(engine, chain.ethers.provider);
      for (const e of await b.queryFilter(b.filters.AccountTakenOver(), last + 1, head)) {
        const wiped = e.args.marginLeftWad === 0n ? "W" : "";
        closes.push(`T${e.args.accountId}:${(Number(e.args.notional) / 1e18).toFixed(0)}${wiped}`);
      }
      const l = ILiquidator__factory.connect(engine, chain.ethers.provider);
      for (const e of await l.queryFilter(l.filters.TrancheLiquidated(), last + 1, head)) {
        const s = e.args.sizeDelta < 0n ? -e.args.sizeDelta : e.args.sizeDelta;
        closes.push(`S${e.args.accountId}:${(Number((s * e.args.fillPrice) / 10n ** 18n) / 1e18).toFixed(0)}`);
      }
      const adl = IAutoDeleveraging__factory.connect(engine, chain.ethers.provider);
      for (const e of await adl.queryFilter(adl.filters.BackstopDeleveraged(), last + 1, head)) {
        closes.push(`D${e.args.accountId}:${(Number(e.args.sizeDelta) / 1e18).toFixed(2)}`);
      }
      const pe = IPerpEngine__factory.connect(engine, chain.ethers.provider);
      for (const e of await pe.queryFilter(pe.filters.PositionModified(), last + 1, head)) {
        const id = e.args.accountId;
        if (e.args.sizeDelta === e.args.newSize && e.args.newSize !== 0n && !opens[String(id)]) {
          opens[String(id)] = { t: step.t, size: (Number(e.args.newSize) / 1e18).toFixed(4), level: step.level };
        }
      }
      for (const e of await b.queryFilter(b.filters.BackstopUnwound(), last + 1, head)) {
        closes.push(`U:${(Number(e.args.sizeDelta) / 1e18).toFixed(2)}${e.args.late ? "late" : ""}`);
      }
    }
    last = head;
    rows.push({
      t: step.t,
      level: step.level,
      feedback: !!step.feedback,
      oracle: (Number(BigInt(step.oraclePrice)) / 1e18).toFixed(2),
      path: (Number(BigInt(step.pathPrice)) / 1e18).toFixed(2),
      closes,
      vault: step.backstop,
    });
    await bt.onStep(step, chain);
  };
}

async function main() {
  const { default: hre } = await import("hardhat");
  const preset = withOverrides(loadPreset("protected"), {
    population: { accounts: Number(accounts), ...(process.env.POP_SEED ? { seed: Number(process.env.POP_SEED) } : {}) },
  });
  const ev = await pathsFor(event, { stylised: mode === "stylised" });
  const result: Record<string, unknown> = {};
  for (const acting of [false, true]) {
    const rows: Row[] = [];
    const opens: Record<string, { t: number; size: string; level: number }> = {};
    const bt = new ReplayBacktest(acting ? { raise: true } : {});
    const { run } = await runReplay({
      network: hre.network,
      event,
      title: ev.title,
      paths: ev.paths,
      params: preset,
      onStep: recorder(bt, rows, opens),
    });
    result[acting ? "with" : "without"] = {
      rows,
      opens,
      metrics: { ...run.metrics, liquidatedPerWindow: undefined },
      raises: bt.raises,
    };
  }
  writeFileSync(
    out,
    JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 1),
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error((e as Error).stack ?? e);
    process.exit(1);
  },
);
