/**
 * Compares two replay reports (replay-report.json) run for run (paired by event and preset, so a
 * report of a few runs compares with one of all): every step, metric, parameter,
 * market and counter must be equal, except what measures the machine rather than the run (wall and
 * CPU times, the milliseconds spent in calls) and, listed separately, the request counters that an
 * optimisation of the replay's own reads may change (`--counters` makes them fail the comparison too).
 *
 *   npx tsx scripts/replay/compareReports.ts before/replay-report.json after/replay-report.json
 *
 * Exit status: 0 equal; 1 a difference in what a run did; 2 bad input.
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/** Fields that measure the machine (wall and CPU time), never the run. */
export const TIMING = new Set(["generatedAt", "seconds", "cpuSeconds", "sendMs", "callMs", "keeperMs"]);
/** Fields that count the replay's and the keeper's requests to the node: reported, not failed on. */
const REQUESTS = new Set(["calls", "rpcCalls", "cachedReads"]);

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
  const label = (r: Json) => {
    const o = r as { event: string; preset: string };
    return `${o.event} / ${o.preset}`;
  };
  // runs are paired by event and preset: a report of some runs compares with a report of all
  const after = new Map(b.runs.map((r) => [label(r), r]));
  let failed = 0;
  let compared = 0;
  for (const run of a.runs) {
    const other = after.get(label(run));
    if (!other) continue;
    compared++;
    const outcome = differences(run, other, skip);
    const requests = counters ? [] : differences(run, other, TIMING).filter((d) => !outcome.includes(d));
    const cpu = (r: Json) => ((r as { cpuSeconds?: number }).cpuSeconds ?? 0).toFixed(1);
    const counts = requests.length ? `; requests: ${requests.map((d) => d.replace(/^\.stats\./, "")).join(", ")}` : "";
    console.log(`${label(run)}: CPU ${cpu(run)} -> ${cpu(other)} s${counts}`);
    if (outcome.length) {
      failed++;
      for (const d of outcome.slice(0, 20)) console.log(`  ${d}`);
    }
  }
  if (compared === 0) {
    console.error("no run of the first report is in the second");
    return 2;
  }
  if (failed) {
    console.log(`\n${failed} of ${compared} runs differ`);
    return 1;
  }
  console.log(`\n${compared} runs equal (times${counters ? "" : " and request counts"} aside)`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  process.exitCode = main(process.argv.slice(2));
