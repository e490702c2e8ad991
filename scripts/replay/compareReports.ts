/**
 * Compares two replay reports (replay-report.json) run for run: every step, metric, parameter,
 * market and counter must be equal, except what measures the machine rather than the run (wall and
 * CPU times, the milliseconds spent in calls) and, listed separately, the request counters that an
 * optimisation of the replay's own reads may change (`--counters` makes them fail the comparison too).
 *
 *   npx tsx scripts/replay/compareReports.ts before/replay-report.json after/replay-report.json
 *
 * Exit status: 0 equal; 1 a difference in what a run did; 2 bad input.
 */
import { readFileSync } from "node:fs";

/** Fields that measure the machine (wall and CPU time), never the run. */
const TIMING = new Set(["generatedAt", "seconds", "cpuSeconds", "sendMs", "callMs", "keeperMs"]);
/** Fields that count the replay's and the keeper's requests to the node: reported, not failed on. */
const REQUESTS = new Set(["calls", "rpcCalls"]);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The paths at which `a` and `b` differ, skipping the keys `skip`. */
export function differences(a: Json, b: Json, skip: ReadonlySet<string>, path = ""): string[] {
  if (a === b) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: string[] = [];
    if (a.length !== b.length) out.push(`${path}: length ${a.length} != ${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) out.push(...differences(a[i], b[i], skip, `${path}[${i}]`));
    return out;
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const out: string[] = [];
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (skip.has(k)) continue;
      if (!(k in a) || !(k in b)) out.push(`${path}.${k}: only in ${k in a ? "the first" : "the second"}`);
      else out.push(...differences(a[k], b[k], skip, `${path}.${k}`));
    }
    return out;
  }
  return [`${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`];
}

function main(argv: string[]): number {
  const counters = argv.includes("--counters");
  const files = argv.filter((a) => !a.startsWith("--"));
  if (files.length !== 2) {
    console.error("usage: compareReports.ts <before.json> <after.json> [--counters]");
    return 2;
  }
  const [a, b] = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as { runs: Json[] });
  const skip = new Set([...TIMING, ...(counters ? [] : REQUESTS)]);
  const outcome = differences(a as unknown as Json, b as unknown as Json, skip);
  const label = (r: Json) => {
    const o = r as { event: string; preset: string };
    return `${o.event} / ${o.preset}`;
  };
  for (let i = 0; i < Math.min(a.runs.length, b.runs.length); i++) {
    const req = differences(a.runs[i], b.runs[i], TIMING).filter((d) => !outcome.some((o) => d.startsWith(o)));
    const before = (a.runs[i] as { cpuSeconds?: number }).cpuSeconds ?? 0;
    const after = (b.runs[i] as { cpuSeconds?: number }).cpuSeconds ?? 0;
    const counts = req.length ? `; requests: ${req.map((d) => d.replace(/^\.stats\./, "")).join(", ")}` : "";
    console.log(`${label(a.runs[i])}: CPU ${before.toFixed(1)} -> ${after.toFixed(1)} s${counts}`);
  }
  if (outcome.length) {
    console.log(`\n${outcome.length} difference(s):`);
    for (const d of outcome.slice(0, 50)) console.log(`  ${d}`);
    return 1;
  }
  console.log(`\n${a.runs.length} runs equal (times${counters ? "" : " and request counts"} aside)`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
