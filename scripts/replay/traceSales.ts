/**
 * Diagnosis of a sweep cell's extra drop (docs/experiments.md, "The six misses, traced"): the protected run of
 * one cell, every forced sale or purchase per step by kind (tranches and backstop closes of accounts the vault
 * did not take, the vault's unwinds), the takeovers and deleveraging closes (no sale) beside them, and at the
 * step of the largest extra drop each kind's share of the standing impact there: each trade's notional over
 * the impact model's depth, decayed to the peak with the model's half-life (the model is linear, so the shares
 * add up to the displacement, but for its cap). With REPLAY_TRACE_DECLINES=<file> the run also writes which cap
 * declined each account the engine then liquidated. TRACE_PATH=<file.csv> replays that price path (one BTC market,
 * as `cli.ts --path <file> --symbol BTC`) instead of <event>.
 *
 *   CRASH_DATA_DIR=... npx tsx scripts/replay/traceSales.ts <event> <seed> <variant> <out.json> [stylised]
 */
import { writeFileSync } from "node:fs";

import type { Protocol } from "../../deploy/protocol.js";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { runReplay } from "./engine.js";
import { loadPreset, withOverrides } from "./presets.js";
import type { ReplayStep } from "./result.js";
import { pathsFor, userPaths } from "./sources.js";
import { VARIANTS } from "./sweepTable.js";
import { ILiquidator__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidator__factory.js";
import { IAutoDeleveraging__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IAutoDeleveraging__factory.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";

const [event, seed, variant, out, mode] = process.argv.slice(2);
const num = (v: bigint) => Number(v) / 1e18;

type Kind = "tranche" | "backstopClose" | "unwind";
type Trade = { t: number; kind: Kind; market: number; notional: number; account?: string };
type Row = {
  t: number;
  path: number;
  oracle: number;
  extraDrop: number;
  drawdown?: number;
  inventory?: number;
  sold: Record<Kind, number>;
  takenOver: number;
  takenOverParts: number;
  deleveraged: number;
  accounts: string[];
};

async function main() {
  const { default: hre } = await import("hardhat");
  if (!(variant in VARIANTS)) throw new Error(`unknown variant ${variant}`);
  const impact = VARIANTS[variant];
  const params = withOverrides(loadPreset("protected"), {
    population: { accounts: Number(process.env.TRACE_ACCOUNTS ?? 60), seed: Number(seed) },
    ...(Object.keys(impact).length ? { impact } : {}),
  });
  const ev = process.env.TRACE_PATH
    ? userPaths([process.env.TRACE_PATH], ["BTC"])
    : pathsFor(event, { stylised: mode === "stylised" });
  const trades: Trade[] = [];
  const rows: Row[] = [];
  let last: number | undefined;
  const onStep = async (step: ReplayStep, chain: { ethers: HardhatEthers; protocol: Protocol }) => {
    const p = chain.ethers.provider;
    const head = await p.getBlockNumber();
    const path = num(BigInt(step.pathPrice));
    const oracle = num(BigInt(step.oraclePrice));
    const row: Row = {
      t: step.t,
      path,
      oracle,
      extraDrop: (path - oracle) / path,
      drawdown: step.backstop ? num(BigInt(step.backstop.drawdown)) : undefined,
      inventory: step.backstop ? num(BigInt(step.backstop.notional)) : undefined,
      sold: { tranche: 0, backstopClose: 0, unwind: 0 },
      takenOver: 0,
      takenOverParts: 0,
      deleveraged: 0,
      accounts: [],
    };
    if (last !== undefined && head > last) {
      const engine = await chain.protocol.engine.getAddress();
      const b = IBackstopEngine__factory.connect(engine, p);
      const l = ILiquidator__factory.connect(engine, p);
      const adl = IAutoDeleveraging__factory.connect(engine, p);
      const settled = await l.queryFilter(l.filters.LiquidationSettled(), last + 1, head);
      const backstopTx = new Set(settled.filter((e) => e.args.backstop).map((e) => e.transactionHash));
      for (const e of settled) row.accounts.push(`${e.args.backstop ? "B" : "S"}${e.args.accountId}`);
      for (const e of await l.queryFilter(l.filters.TrancheLiquidated(), last + 1, head)) {
        const kind: Kind = backstopTx.has(e.transactionHash) ? "backstopClose" : "tranche";
        const n = num((e.args.sizeDelta * e.args.fillPrice) / 10n ** 18n);
        trades.push({
          t: step.t,
          kind,
          market: Number(e.args.marketId),
          notional: n,
          account: String(e.args.accountId),
        });
        row.sold[kind] += -n;
      }
      for (const e of await b.queryFilter(b.filters.BackstopUnwound(), last + 1, head)) {
        const n = num((e.args.sizeDelta * e.args.price) / 10n ** 18n);
        trades.push({ t: step.t, kind: "unwind", market: Number(e.args.marketId), notional: n });
        row.sold.unwind += -n;
      }
      for (const e of await b.queryFilter(b.filters.AccountTakenOver(), last + 1, head)) {
        row.takenOver += num(e.args.notional);
        row.accounts.push(`T${e.args.accountId}`);
      }
      for (const e of await adl.queryFilter(adl.filters.BackstopDeleveraged(), last + 1, head)) {
        row.deleveraged += Math.abs(num((e.args.sizeDelta * e.args.price) / 10n ** 18n));
      }
    }
    last = head;
    rows.push(row);
  };
  const { run } = await runReplay({ network: hre.network, event, title: ev.title, paths: ev.paths, params, onStep });
  const depth = num(BigInt(run.markets![0].impactDepthUsd));
  const hl = params.impact.halfLifeSeconds;
  const peak = rows.reduce((a, r) => (r.extraDrop > a.extraDrop ? r : a), rows[0]);
  const share: Record<Kind, number> = { tranche: 0, backstopClose: 0, unwind: 0 };
  for (const tr of trades) {
    if (tr.t > peak.t || tr.market !== 0) continue;
    share[tr.kind] += (-tr.notional / depth) * Math.pow(2, -(peak.t - tr.t) / hl);
  }
  const result = {
    cell: { event, seed, variant, mode: mode ?? "real" },
    maxExtraDrop: num(BigInt(run.metrics.maxExtraDrop)),
    wipedOut: run.metrics.accountsWipedOut,
    depth,
    halfLife: hl,
    peak: { t: peak.t, extraDrop: peak.extraDrop, standingByKind: share },
    totals: rows.reduce(
      (a, r) => {
        a.tranche += r.sold.tranche;
        a.backstopClose += r.sold.backstopClose;
        a.unwind += r.sold.unwind;
        a.takenOver += r.takenOver;
        a.deleveraged += r.deleveraged;
        return a;
      },
      { tranche: 0, backstopClose: 0, unwind: 0, takenOver: 0, deleveraged: 0 },
    ),
    rows: rows.filter((r) => r.t <= peak.t && r.t >= peak.t - 3 * hl),
    trades,
  };
  writeFileSync(out, JSON.stringify(result, null, 1));
  console.log(JSON.stringify({ ...result, rows: undefined, trades: undefined }));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error((e as Error).stack ?? e);
    process.exit(1);
  },
);
