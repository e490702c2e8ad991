/**
 * Where a liquidation's gas goes: replays the gas scenario of test/gas/scenarios.test.ts (53 accounts
 * long 15 ETH, the price walked down to the first liquidation), liquidates one account in its own
 * transaction, and breaks its trace (debug_traceTransaction) down per call frame and per opcode class:
 * cold/warm SLOADs (with the slots), SSTOREs, logs, calls, the rest. `npx hardhat run scripts/gas/profile-liquidation.ts`
 * (PROFILE_BATCH=1: a batch of three; PROFILE_TRADE=1: an open by a fresh account instead, for comparison)
 */
import { network } from "hardhat";

import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPrice, units } from "../../test/helpers/fixture.js";

interface StructLog {
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  stack?: string[];
}

const { ethers, networkHelpers } = await network.create();
const w = await deployWorld(ethers, { breaker: false });
const keeper = (await ethers.getSigners())[8];
const owners = [w.alice, w.bob, w.carol];
const ids: bigint[] = [];
for (let i = 0; i < 4; ++i) {
  const id = await openAccount(w, owners[i % 3], 1_050n * USDC);
  await w.engine.connect(owners[i % 3]).modifyPosition(id, ETH, units(15), MAX_PRICE);
  ids.push(id);
}
let price = 2_000n;
while (!(await w.engine.isLiquidatable(ids[0]))) await setPrice(w, ETH, (price -= 2n));
await (await w.liquidationEngine.connect(keeper).liquidate(ids[0])).wait();
await networkHelpers.time.increase(1);

const names = new Map<string, string>();
for (const [name, c] of Object.entries(w)) {
  const target = (c as { getAddress?: () => Promise<string> })?.getAddress;
  if (typeof target === "function") names.set((await target.call(c)).toLowerCase(), name);
}
for (const [m, feed] of w.feeds) names.set((await feed.getAddress()).toLowerCase(), `feed${m}`);

async function profile(label: string, hash: string): Promise<void> {
  const rc = await ethers.provider.getTransactionReceipt(hash);
  const trace = (await ethers.provider.send("debug_traceTransaction", [hash, { disableMemory: true }])) as {
    structLogs: StructLog[];
  };
  const logs = trace.structLogs;
  type Row = {
    frame: string;
    inclusive: number;
    cold: number;
    warm: number;
    sstore: number;
    log: number;
    calls: number;
    other: number;
  };
  const row = (frame: string): Row => ({
    frame,
    inclusive: 0,
    cold: 0,
    warm: 0,
    sstore: 0,
    log: 0,
    calls: 0,
    other: 0,
  });
  const root = row("liquidationEngine (via engine)");
  const rows: Row[] = [root];
  const frames: { row: Row; callGas: number; forwarded: number }[] = [];
  let cur = root;
  const coldSlots = new Map<string, string[]>();
  const opsByFrame = new Map<string, Map<string, number>>();
  const dump: [number, string, number, string, number][] = [];
  const code: string[] = [(rc!.to ?? "").toLowerCase()];
  for (let i = 0; i < logs.length; ++i) {
    const s = logs[i] as StructLog & { pc: number };
    const next = logs[i + 1];
    dump.push([
      s.pc,
      s.op,
      next && next.depth > s.depth ? 0 : s.gasCost,
      names.get(code[code.length - 1]) ?? code[code.length - 1],
      s.depth,
    ]);
    if (next && next.depth > s.depth) {
      const to = "0x" + (s.stack![s.stack!.length - 2] ?? "").replace(/^0x/, "").slice(-40).padStart(40, "0");
      const r = row(`${"  ".repeat(s.depth)}${s.op.toLowerCase()} ${names.get(to.toLowerCase()) ?? to}`);
      rows.push(r);
      code.push(to.toLowerCase());
      frames.push({ row: cur, callGas: s.gas, forwarded: next.gas });
      cur = r;
      continue;
    }
    if (s.op === "SLOAD") {
      if (s.gasCost >= 2100) {
        cur.cold += s.gasCost;
        const list = coldSlots.get(cur.frame.trim()) ?? [];
        list.push((s.stack?.[s.stack.length - 1] ?? "").replace(/^0x0*/, "0x"));
        coldSlots.set(cur.frame.trim(), list);
      } else cur.warm += s.gasCost;
    } else if (s.op === "SSTORE") cur.sstore += s.gasCost;
    else if (s.op.startsWith("LOG")) cur.log += s.gasCost;
    else {
      cur.other += s.gasCost;
      const h = opsByFrame.get(cur.frame.trim()) ?? new Map<string, number>();
      h.set(s.op, (h.get(s.op) ?? 0) + s.gasCost);
      opsByFrame.set(cur.frame.trim(), h);
    }
    if (next && next.depth < s.depth) {
      const f = frames.pop()!;
      cur.inclusive = f.forwarded - (s.gas - s.gasCost);
      f.row.calls += f.callGas - next.gas - cur.inclusive; // the call's own cost (cold account, value, ...)
      code.pop();
      cur = f.row;
    }
  }
  if (process.env.PROFILE_DUMP) (await import("node:fs")).writeFileSync(process.env.PROFILE_DUMP, JSON.stringify(dump));
  root.inclusive = Number(rc!.gasUsed);
  console.log(`\n${label}: ${rc!.gasUsed} gas (receipt)`);
  const cols = ["inclusive", "cold", "warm", "sstore", "log", "calls", "other"] as const;
  console.log("frame".padEnd(44), ...cols.map((c) => c.padStart(9)));
  for (const r of rows) console.log(r.frame.padEnd(44), ...cols.map((c) => String(r[c]).padStart(9)));
  const sum = (k: (typeof cols)[number]) => rows.reduce((a, r) => a + r[k], 0);
  console.log("all frames".padEnd(44), "".padStart(9), ...cols.slice(1).map((c) => String(sum(c)).padStart(9)));
  for (const [k, h] of opsByFrame) {
    const top = [...h].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log(`"other" in ${k}: ${top.map(([op, g]) => `${op} ${g}`).join(", ")}`);
  }
  for (const [k, v] of coldSlots) console.log(`cold SLOADs in ${k}: ${v.length} ${v.join(" ")}`);
}

if (process.env.PROFILE_TRADE) {
  // A trade for comparison: a fresh account opens 1 ETH long.
  const id = await openAccount(w, w.alice, 1_000n * USDC);
  const tx = await w.engine.connect(w.alice).modifyPosition(id, ETH, units(1), MAX_PRICE);
  await profile("modifyPosition: an open in its own transaction", tx.hash);
} else if (process.env.PROFILE_BATCH) {
  const tx = await w.liquidationEngine.connect(keeper).liquidateBatch(ids.slice(1), { gasLimit: 16_000_000n });
  await profile("liquidateBatch: 3 tranches", tx.hash);
} else {
  const tx = await w.liquidationEngine.connect(keeper).liquidate(ids[1]);
  await profile("liquidate: a tranche in its own transaction", tx.hash);
}
