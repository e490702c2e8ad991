/**
 * Diagnosis of wiped-out accounts (docs/experiments.md, "A part taken where the whole does not fit the unwind
 * cap", "The extra wipe-outs, traced"): one protected run of a sweep cell, and for every account the engine or
 * the vault touched, its forced closes in order (T: taken over, whole or in part, with the notional and the
 * margin left; S: a tranche settled, its fraction, notional and health after; B: a leg closed with bad debt;
 * D: deleveraged against the vault) with the account's equity and maintenance read after each step it was
 * touched in, and from the first partial takeover on, at every step until it is closed.
 *
 *   CRASH_DATA_DIR=... npx tsx scripts/replay/traceWipeouts.ts <event> <seed> <variant> <out.json> [stylised]
 *
 * TRACE_PATH=<file.csv> replays that price path (one BTC market, as `cli.ts --path <file> --symbol BTC`) instead
 * of <event>; TRACE_PRESET=<preset> traces that preset (default protected; baseline has no vault, so its wipe-outs
 * are the full closes that leave the account no margin or bad debt, as the replay's digest counts them);
 * TRACE_WATCH=<id,id,...> also prints those accounts' state at every step, touched or not. Account ids are
 * given in the order the traders' deposits land, which differs between presets: `deposits` (each account's margin
 * at the first step, before any position) is what matches a trader across two runs.
 */
import { writeFileSync } from "node:fs";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import type { Protocol } from "../../deploy/protocol.js";
import { runReplay } from "./engine.js";
import { loadPreset, withOverrides } from "./presets.js";
import type { ReplayStep } from "./result.js";
import { pathsFor, userPaths } from "./sources.js";
import { VARIANTS } from "./sweepTable.js";
import { ILiquidator__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidator__factory.js";
import { IPerpEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IPerpEngine__factory.js";
import { IAutoDeleveraging__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IAutoDeleveraging__factory.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";

const [event, seed, variant, out, mode] = process.argv.slice(2);
const usd = (v: bigint) => (Number(v) / 1e18).toFixed(0);

type Line = { t: number; block: number; oracle: string; what: string };

async function main() {
  const { default: hre } = await import("hardhat");
  if (!(variant in VARIANTS)) throw new Error(`unknown variant ${variant}`);
  const impact = VARIANTS[variant];
  const params = withOverrides(loadPreset(process.env.TRACE_PRESET ?? "protected"), {
    population: { accounts: Number(process.env.TRACE_ACCOUNTS ?? 60), seed: Number(seed) },
    ...(Object.keys(impact).length ? { impact } : {}),
  });
  const ev = process.env.TRACE_PATH
    ? userPaths([process.env.TRACE_PATH], ["BTC"])
    : pathsFor(event, { stylised: mode === "stylised" });
  const lines = new Map<string, Line[]>();
  const watch = new Set<bigint>(); // partly taken over, not yet closed
  const always = (process.env.TRACE_WATCH ?? "")
    .split(",")
    .filter((x) => x.trim() !== "")
    .map((x) => BigInt(x.trim()));
  const wiped = new Set<string>();
  const partial = new Set<string>();
  let last: number | undefined;
  const deposits: Record<string, string> = {};
  let early = 0;
  const push = (id: bigint, l: Line) => {
    const k = String(id);
    if (!lines.has(k)) lines.set(k, []);
    lines.get(k)!.push(l);
  };
  const onStep = async (step: ReplayStep, chain: { ethers: HardhatEthers; protocol: Protocol }) => {
    const p = chain.ethers.provider;
    const head = await p.getBlockNumber();
    const engine = await chain.protocol.engine.getAddress();
    const oracle = (Number(BigInt(step.oraclePrice)) / 1e18).toFixed(2);
    const touched = new Set<bigint>();
    if (early++ < 3) {
      const pe = IPerpEngine__factory.connect(engine, p);
      for (let id = 1n; id <= BigInt(params.population?.accounts ?? 60) + 5n; id++) {
        const s = await pe.accountSummary(id).catch(() => undefined); // ids past the last account revert
        if (s && s.margin > 0n && s.notional === 0n && !(String(id) in deposits)) deposits[String(id)] = usd(s.margin);
      }
    }
    if (last !== undefined && head > last) {
      const b = IBackstopEngine__factory.connect(engine, p);
      const l = ILiquidator__factory.connect(engine, p);
      const adl = IAutoDeleveraging__factory.connect(engine, p);
      const pe = IPerpEngine__factory.connect(engine, p);
      const evs = [
        ...(await b.queryFilter(b.filters.AccountTakenOver(), last + 1, head)),
        ...(await l.queryFilter(l.filters.TrancheLiquidated(), last + 1, head)),
        ...(await l.queryFilter(l.filters.LiquidationSettled(), last + 1, head)),
        ...(await adl.queryFilter(adl.filters.BackstopDeleveraged(), last + 1, head)),
      ].sort((x, y) => x.blockNumber - y.blockNumber || x.index - y.index);
      for (const e of evs) {
        const a = e.args as unknown as Record<string, bigint | boolean>;
        const id = a.accountId as bigint;
        const base = { t: step.t, block: e.blockNumber, oracle };
        let what: string;
        if (e.eventName === "AccountTakenOver") {
          const s = await pe.accountSummary(id, { blockTag: e.blockNumber });
          const whole = s.notional === 0n;
          if (!whole) {
            partial.add(String(id));
            watch.add(id);
          }
          if (a.marginLeftWad === 0n) wiped.add(String(id));
          what = `T ${whole ? "whole" : "part"} ${usd(a.notional as bigint)} fee ${usd(a.feeWad as bigint)} left ${usd(a.marginLeftWad as bigint)}${a.marginLeftWad === 0n ? " WIPED" : ""}`;
        } else if (e.eventName === "TrancheLiquidated") {
          const bad = (a.badDebtCovered as bigint) + (a.badDebtSocialised as bigint);
          if (bad === 0n) continue;
          wiped.add(String(id));
          what = `B leg ${a.marketId} bad debt ${usd(bad)} fill ${(Number(a.fillPrice) / 1e18).toFixed(2)} WIPED`;
        } else if (e.eventName === "LiquidationSettled") {
          what = `S ${a.backstop ? "backstop" : "tranche"} fraction ${(Number(a.fraction) / 1e18).toFixed(3)} notional ${usd(a.trancheNotional as bigint)} health ${(Number(a.healthAfter) / 1e18).toFixed(3)}`;
          if (a.fraction === 10n ** 18n) {
            watch.delete(id);
            const s = await pe.accountSummary(id, { blockTag: e.blockNumber });
            if (s.margin === 0n && s.notional === 0n) {
              wiped.add(String(id));
              what += " WIPED";
            }
          }
        } else {
          what = `D ${(Number(a.sizeDelta) / 1e18).toFixed(3)}`;
        }
        touched.add(id);
        push(id, { ...base, what });
      }
      for (const id of new Set([...touched, ...watch, ...always])) {
        const s = await pe.accountSummary(id);
        push(id, {
          t: step.t,
          block: head,
          oracle,
          what: `= equity ${usd(s.equity)} maint ${usd(s.maintenanceMargin)} notional ${usd(s.notional)} margin ${usd(s.margin)}`,
        });
        if (s.notional === 0n) watch.delete(id);
      }
    }
    last = head;
  };
  const { run } = await runReplay({
    network: hre.network,
    event: ev.event,
    title: ev.title,
    paths: ev.paths,
    params,
    onStep,
  });
  const m = run.metrics as unknown as Record<string, unknown>;
  const result = {
    cell: { event, seed, variant, mode: mode ?? "real" },
    wipedOut: m.accountsWipedOut,
    maxExtraDrop: m.maxExtraDrop,
    wiped: [...wiped],
    partlyTaken: [...partial],
    wipedAfterPart: [...wiped].filter((k) => partial.has(k)),
    deposits,
    accounts: Object.fromEntries(lines),
  };
  writeFileSync(
    out,
    JSON.stringify(result, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 1),
  );
  console.log(JSON.stringify({ ...result, accounts: undefined }));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error((e as Error).stack ?? e);
    process.exit(1);
  },
);
