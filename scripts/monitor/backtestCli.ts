/**
 * Backtests the monitor inside crash replays and prints the table (lead times, false alarms, forecast
 * error); writes reports/monitor-backtest.json.
 *
 *   npm run backtest:monitor [-- --event all|<id> --preset protected --stylised --compare]
 *
 * With --calm, no replay: the false alarms on the longer calm history the crash data holds before
 * each event (calmHistory.ts), one table. With --bootstrap, no replay: level-2 raises per 30 calm days
 * on 30-day paths resampled from that history. With --loeo, no replay: escalation calibrated
 * leave-one-event-out (calibration.ts), leads read from earlier reports (`--replays`).
 *
 * With --compare every event is replayed a second time with the monitor acting through the breaker's
 * risk-oracle role (backtest.ts, `raise`), and a second table sets the outcome figures of the two runs
 * side by side: protected-with-monitor against protected-without (`--gate on|off`, `--escalation on|off`:
 * the acting run's change gate and escalation, the defaults otherwise).
 *
 * `--event` takes one id or a comma-separated list; `--out <file>` moves the JSON report.
 * Real series from CRASH_DATA_DIR when it is set (and not --stylised), the stylised scenarios
 * otherwise. A standalone tsx script like the replay's CLI: it loads the Hardhat runtime itself.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serialize } from "node:v8";
import { mulberry32 } from "../lib/random.js";

import { runReplay } from "../replay/engine.js";
import { type ResolvedParams, loadPreset, withOverrides } from "../replay/presets.js";
import { defaultPopulation, withPopulationOverrides } from "../replay/population.js";
import type { PricePath } from "../replay/types.js";
import { type EventPaths, listEvents, pathsFor } from "../replay/sources.js";
import type { ReplayMetrics } from "../replay/result.js";
import { vaultSummary } from "../replay/metrics.js";
import { ReplayBacktest, type BacktestResult, outcomeCell } from "./backtest.js";
import {
  type CalmBook,
  CALM_FILES,
  bootstrapPath,
  bootstrapRaises,
  calmFigures,
  calmInputs,
  calmPath,
} from "./calmHistory.js";
import {
  type EventData,
  FALSE_ALARM_TARGETS,
  calibrateEscalation,
  calibrateFastPath,
  type RuleCandidate,
  candidateLeads,
  leaveOneEventOut,
  parseCandidates,
} from "./calibration.js";
import {
  type ChangeGateSettings,
  type EscalationSettings,
  type RuleInputs,
  type Rules,
  DEFAULT_CHANGE_GATE,
  DEFAULT_ESCALATION,
  DEFAULT_GATE,
  DEFAULT_RULES,
  REACH_RULES,
  RULE_VARIANTS,
} from "./rules.js";
import { type ForecastSettings, DEFAULT_FORECAST_SETTINGS } from "./forecast.js";
import { RUNAWAY_TESTS, type RunawayTest } from "./cascade.js";
import { PROBABILITY_MODELS, type ProbabilityModel } from "./stats.js";
import { toJson } from "./service.js";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** The flags this command reads: those that take a value, and the switches. */
const BACKTEST_VALUE_FLAGS = [
  "accounts",
  "book",
  "candidates",
  "data-dir",
  "days",
  "escalation",
  "event",
  "fast",
  "gate",
  "out",
  "paths",
  "population-seed",
  "preset",
  "probability",
  "replays",
  "rules",
  "runaway",
  "seed",
  "until",
] as const;
const BACKTEST_SWITCHES = [
  "bootstrap",
  "calm",
  "compare",
  "historic-demean",
  "leads",
  "loeo",
  "stylised",
  "help",
] as const;

/**
 * What is wrong with the arguments (undefined when nothing): an unknown flag, a value flag without its
 * value, or a stray word. A typo must not start the long default backtest in its place.
 */
function badBacktestArgs(argv: readonly string[]): string | undefined {
  const values = new Set<string>(BACKTEST_VALUE_FLAGS);
  const switches = new Set<string>(BACKTEST_SWITCHES);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) return `unexpected argument "${a}"`;
    const name = a.slice(2);
    if (switches.has(name)) continue;
    if (!values.has(name)) return `unknown option "${a}" (--help lists them)`;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) return `option "${a}" needs a value`;
    i++;
  }
  return undefined;
}

const USAGE = `Usage: npm run backtest:monitor -- [options]

The risk monitor's rules replayed inside the crash replays: lead times, false alarms, forecast error
(docs/architecture.md, "Risk monitor"). Writes reports/monitor-backtest.json (--out moves it).

  --event all|<id>[,<id>...]   events to replay (default: all)
  --preset <name>              replay preset (default: protected)
  --accounts <n>               traders per run; --population-seed <n> draws another population
  --stylised                   the stylised scenarios (the default without CRASH_DATA_DIR)
  --compare                    replay again with the monitor acting through the risk-oracle role;
                               --gate on|off and --escalation on|off set the acting run's rules
  --until <time>[,<time>...]   stop the real series there (one time, or one per event)
  --calm [--book replay|realistic] [--data-dir <dir>]   false alarms on the calm history, no replay
  --bootstrap [--paths <n>] [--days <n>] [--seed <n>]   level-2 raises per 30 calm days, no replay
  --loeo --replays <files> [--candidates <file>] [--fast off]   leave-one-event-out calibration
  --leads --replays <files>    lead times read from earlier reports
  --probability end|reach      what the forecast's probabilities are of: past the shock at the horizon's
                               end (default) or reaching it within the horizon (replays, --calm, --loeo)
  --rules default|reach        the rules' thresholds (reach: each doubled, rules.ts REACH_RULES)
  --historic-demean            the historic part on the history's shocks less their mean (forecast.ts
                               historicDemean; replays, --calm, --loeo)
  --runaway divergence|amplification   what the cascade calls a runaway (cascade.ts RunawayTest; default
                               divergence; replays, --calm, --loeo)
  --out <file>                 where the JSON report goes
  --help                       this text

Exit codes: 0 done, 1 a run failed, 2 bad arguments.`;

const fmt = (s: number | undefined) => (s === undefined ? "never" : `${(s / 60).toFixed(0)} min`);
const pct = (x: number | undefined) => (x === undefined ? "-" : `${(x * 100).toFixed(1)}%`);

/**
 * --calm: false alarms on the longer calm history before each event (calmHistory.ts); no replay. Each
 * event on both books (the replay's stress population and the realistic mix, survivors only), every
 * variant of the rules (rules.ts RULE_VARIANTS) read off the same forecasts. `--book replay|realistic`
 * keeps one book.
 */
function calmTable(): void {
  const dir = arg("data-dir") ?? process.env.CRASH_DATA_DIR;
  if (!dir) throw new Error("--calm reads the real bars: set CRASH_DATA_DIR or pass --data-dir <dir>");
  const books = (arg("book")?.split(",") ?? ["replay", "realistic"]) as CalmBook[];
  const lines = [
    "| event | book | bars | calm h | rules | calm at L>=1 | L2 raises /30 calm d | bars at level 0/1/2/3 |",
    "|" + " --- |".repeat(8),
  ];
  for (const event of eventsArg(Object.keys(CALM_FILES))) {
    const path = calmPath(dir, event);
    for (const book of books) {
      const inputs = calmInputs(path, book, settingsArg());
      for (const v of RULE_VARIANTS) {
        const r = calmFigures(event, inputs, v.rules, v);
        lines.push(
          `| ${event} | ${book} | ${r.bars} | ${r.calmHours.toFixed(1)} | ${v.name} | ${pct(r.shareAtLevel1)} | ${r.level2RaisesPer30Days.toFixed(0)} | ${r.atLevel.join("/")} |`,
        );
      }
    }
  }
  console.log(lines.join("\n"));
}

/**
 * --probability end|reach: the forecast settings with that probability model (stats.ts ProbabilityModel);
 * --historic-demean: the historic part on demeaned shocks (forecast.ts `historicDemean`).
 */
function settingsArg(): ForecastSettings {
  const m = arg("probability") ?? "end";
  if (!PROBABILITY_MODELS.includes(m as ProbabilityModel)) throw new Error(`--probability ${m}: end or reach`);
  const runaway = arg("runaway");
  if (runaway !== undefined && !RUNAWAY_TESTS.includes(runaway as RunawayTest))
    throw new Error(`--runaway ${runaway}: ${RUNAWAY_TESTS.join(" or ")}`);
  return {
    ...DEFAULT_FORECAST_SETTINGS,
    probabilityModel: m as ProbabilityModel,
    ...(process.argv.includes("--historic-demean") ? { historicDemean: true } : {}),
    ...(runaway !== undefined ? { runaway: runaway as RunawayTest } : {}),
  };
}

/** --rules default|reach: the rules' thresholds (rules.ts DEFAULT_RULES, REACH_RULES). */
function rulesArg(): Rules {
  const r = arg("rules") ?? "default";
  if (r === "default") return DEFAULT_RULES;
  if (r === "reach") return REACH_RULES;
  throw new Error(`--rules ${r}: default or reach`);
}

/** --gate on|off: the change gate of the acting run (rules.ts ChangeGate); the default's otherwise. */
function gateArg(): ChangeGateSettings | null {
  const g = arg("gate");
  if (g === undefined) return DEFAULT_GATE;
  if (g === "on") return DEFAULT_CHANGE_GATE;
  if (g === "off") return null;
  throw new Error(`--gate ${g}: on or off`);
}

/** --escalation on|off: escalation in the acting run (rules.ts Escalation); the default's otherwise. */
function escalationArg(): EscalationSettings | null | undefined {
  const e = arg("escalation");
  if (e === undefined) return undefined;
  if (e === "on") return DEFAULT_ESCALATION;
  if (e === "off") return null;
  throw new Error(`--escalation ${e}: on or off`);
}

/**
 * --accounts <n>: the population's size (the replay's `--accounts`; the population file's otherwise);
 * --population-seed <n>: its PRNG seed (another draw of the same population, to see how much of a with/without
 * difference is one account's path).
 */
function accountsArg(preset: ResolvedParams): ResolvedParams {
  const a = arg("accounts");
  const s = arg("population-seed");
  let out = preset;
  if (a !== undefined) {
    const n = Number(a);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--accounts ${a}: a positive integer`);
    out = withOverrides(out, { population: { accounts: n } });
  }
  if (s !== undefined) {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
      throw new Error(`--population-seed ${s}: an integer in [0, 2^32)`);
    out = withOverrides(out, { population: { seed: n } });
  }
  return out;
}

function eventsArg(all: string[]): string[] {
  const e = arg("event");
  return e === undefined || e === "all" ? all : e.split(",");
}

/**
 * --bootstrap: level-2 raises per 30 calm days (calmHistory.ts `bootstrapRaises`): `--paths` (default
 * 8) 30-day hourly paths resampled from 6-hour blocks of the events' calm bars pooled (`--event` picks
 * them), the stress book over each (`--book realistic`: the realistic mix), every variant of the rules;
 * `--seed` for another draw.
 */
function bootstrapTable(): void {
  const dir = arg("data-dir") ?? process.env.CRASH_DATA_DIR;
  if (!dir) throw new Error("--bootstrap reads the real bars: set CRASH_DATA_DIR or pass --data-dir <dir>");
  const paths = Number(arg("paths") ?? 8);
  const days = Number(arg("days") ?? 30);
  const seed = Number(arg("seed") ?? 20_260_101);
  if (!Number.isInteger(paths) || paths < 2) throw new Error("--paths: an integer of at least 2");
  if (!(days > 0)) throw new Error("--days: a positive number");
  const lines = [
    "| events | paths x days | rules | L2 raises /30 d mean (90% CI of the mean) | one path 5th-95th pct | calm at L>=1 |",
    "|" + " --- |".repeat(6),
  ];
  const events = eventsArg(Object.keys(CALM_FILES));
  const started = Date.now();
  const r = bootstrapRaises(
    events.join("+"),
    events.map((e) => calmPath(dir, e)),
    RULE_VARIANTS,
    { paths, days, seed, book: (arg("book") ?? "replay") as CalmBook },
  );
  const out = [r];
  for (const v of r.variants) {
    lines.push(
      `| ${r.event} | ${paths} x ${days} | ${v.name} | ${v.meanPer30Days.toFixed(2)} (${v.meanInterval[0].toFixed(2)}-${v.meanInterval[1].toFixed(2)}) | ${v.pathInterval[0]}-${v.pathInterval[1]} | ${pct(v.shareAtLevel1)} |`,
    );
  }
  console.log(`${paths} paths in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log("\n" + lines.join("\n"));
  const file = arg("out") ?? join("reports", "monitor-bootstrap.json");
  mkdirSync("reports", { recursive: true });
  writeFileSync(file, toJson({ seed, rows: out }, 1) + "\n");
  console.log(`\nwritten: ${file}`);
}

/**
 * --until <ISO time>: the run stops there (the paths end at it), the same run to the wei up to that
 * time: the traders open over the same span as in the whole window (the population's open window is
 * a share of the paths' duration, so it is scaled back up), and nothing else depends on where the
 * paths end. Never before the traders' open span ends. The lead times and calm figures need nothing
 * after the first wave; the forecast error then covers the shorter run only.
 */
function cut(
  paths: PricePath[],
  preset: ResolvedParams,
  index: number,
): { paths: PricePath[]; params: ResolvedParams } {
  // one time for every event, or a comma-separated list, one per event of --event in its order
  const times = arg("until")?.split(",");
  const until = times === undefined ? undefined : times.length === 1 ? times[0] : times[index];
  if (times !== undefined && until === undefined) throw new Error(`--until: ${times.length} times for more events`);
  if (!until) return { paths, params: preset };
  const at = Date.parse(until) / 1000;
  if (!Number.isFinite(at)) throw new Error(`--until ${until}: not a time`);
  const start = Math.min(...paths.map((p) => p.points[0].t));
  const end = Math.max(...paths.map((p) => p.points[p.points.length - 1].t));
  const population = withPopulationOverrides(defaultPopulation(), preset.population);
  const span = Math.floor(population.openWindow * (end - start));
  const stop = Math.max(at, start + span);
  if (stop >= end) return { paths, params: preset };
  const cutPaths = paths.map((p) => ({ ...p, points: p.points.filter((x) => x.t <= stop) }));
  const cutEnd = Math.max(...cutPaths.map((p) => p.points[p.points.length - 1].t));
  const openWindow = Math.min(1, (span + 0.5) / (cutEnd - start));
  return { paths: cutPaths, params: withOverrides(preset, { population: { openWindow } }) };
}

/** A backtest report's rules inputs and first wave per event (JSON writes Infinity as null). */
function replayInputs(files: string[]): Map<string, { inputs: RuleInputs[]; waveStart: number }> {
  const out = new Map<string, { inputs: RuleInputs[]; waveStart: number }>();
  for (const file of files) {
    const report = JSON.parse(readFileSync(file, "utf8")) as {
      rows: { event: string; result: { inputs?: Record<string, unknown>[]; waveStart?: number } }[];
    };
    for (const row of report.rows) {
      if (!row.result.inputs || row.result.waveStart === undefined) continue;
      const inputs = row.result.inputs.map(
        (x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v === null ? Infinity : v])) as RuleInputs,
      );
      out.set(row.event, { inputs, waveStart: row.result.waveStart });
    }
  }
  return out;
}

/**
 * --loeo: escalation calibrated leave-one-event-out (calibration.ts). Each event's calm history and
 * `--paths` (default 2) 30-day paths bootstrapped from it alone (its own seeded stream, `--seed`); the
 * setting chosen on the other five events' paths is measured on the held-out event's history, its paths
 * and, with `--replays <report.json,...>` (backtest reports of earlier runs, which carry every step's
 * rules inputs), its replay's lead times. Then the same calibrated on all six (in sample).
 */
function loeoTable(): void {
  const dir = arg("data-dir") ?? process.env.CRASH_DATA_DIR;
  if (!dir) throw new Error("--loeo reads the real bars: set CRASH_DATA_DIR or pass --data-dir <dir>");
  const paths = Number(arg("paths") ?? 2);
  const seed = Number(arg("seed") ?? 20_260_101);
  if (!Number.isInteger(paths) || paths < 1) throw new Error("--paths: an integer of at least 1");
  const replays = replayInputs(arg("replays")?.split(",") ?? []);
  const settings = settingsArg();
  const rules = rulesArg();
  const started = process.cpuUsage();
  const events: EventData[] = eventsArg(Object.keys(CALM_FILES)).map((event) => {
    const path = calmPath(dir, event);
    const next = mulberry32(seed);
    const bootstrap: RuleInputs[][] = [];
    for (let k = 0; k < paths; k++) {
      bootstrap.push(calmInputs(bootstrapPath([path], 30, 6, next), "replay", settings));
    }
    return { event, calm: calmInputs(path, "replay", settings), bootstrap, replay: replays.get(event) };
  });
  // --fast off: the count alone (the fourth round's procedure), for the before column
  const fastGrid = arg("fast") === "off" ? [] : undefined;
  const candidates = arg("candidates");
  if (candidates !== undefined) return candidateTable(events, readCandidates(candidates), fastGrid, started);
  const rows = leaveOneEventOut(events, { fastGrid, rules });
  const min = (s: number | undefined) => (s === undefined ? "never" : (s / 60).toFixed(0));
  const lines = [
    "| held out | confirm of window, fast run (training) | training calm at L>=1 / L2 per 30 d | held-out calm history: at L>=1 / L2 per 30 d | held-out bootstrap: at L>=1 / L2 per 30 d | lead L>=1 / L2 (min) |",
    "|" + " --- |".repeat(6),
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.event} | ${r.escalation.confirm} of ${r.escalation.window}, ${r.fastRun || "none"}${r.trainingMet ? "" : " (targets not met)"} | ${pct(r.training.shareAtLevel1)} / ${r.training.level2RaisesPer30Days.toFixed(2)} | ${pct(r.calm.shareAtLevel1)} / ${r.calm.level2RaisesPer30Days.toFixed(1)} (${r.calm.hours.toFixed(0)} h) | ${pct(r.bootstrap.shareAtLevel1)} / ${r.bootstrap.level2RaisesPer30Days.toFixed(2)} (${r.bootstrap.level2Raises} in ${(r.bootstrap.hours / 24).toFixed(0)} d) | ${r.lead ? `${min(r.lead.level1)} / ${min(r.lead.level2)}` : "-"} |`,
    );
  }
  const pooled = events.flatMap((e) => e.bootstrap);
  const all = calibrateEscalation(pooled, { rules });
  const fast = fastGrid === undefined && all.met ? calibrateFastPath(pooled, all.escalation, { rules }) : undefined;
  // pooled over the held-out events: each measured under the setting chosen without it
  const heldOut = rows.reduce(
    (a, r) => ({
      raises: a.raises + r.bootstrap.level2Raises,
      hours: a.hours + r.bootstrap.hours,
      alert: a.alert + r.bootstrap.shareAtLevel1 * r.bootstrap.hours,
    }),
    { raises: 0, hours: 0, alert: 0 },
  );
  const cpu = process.cpuUsage(started);
  console.log(`${events.length} events, ${paths} paths each, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s`);
  console.log("\n" + lines.join("\n"));
  console.log(
    `\nheld-out bootstraps pooled: calm at L>=1 ${pct(heldOut.alert / heldOut.hours)}, ${heldOut.raises} level-2 entries in ${(heldOut.hours / 24).toFixed(0)} d (${((heldOut.raises * 30 * 24) / heldOut.hours).toFixed(2)} per 30 d)`,
  );
  console.log(
    `in sample (all ${events.length} events' paths): ${all.escalation.confirm} of ${all.escalation.window}${all.met ? "" : " (targets not met)"}, calm at L>=1 ${pct(all.calm.shareAtLevel1)}, L2 ${all.calm.level2RaisesPer30Days.toFixed(2)} per 30 d` +
      (fast
        ? `; fast path: ${fast.met ? `run ${fast.fastRun}, calm at L>=1 ${pct(fast.calm.shareAtLevel1)}, L2 ${fast.calm.level2RaisesPer30Days.toFixed(2)} per 30 d` : "none meets the targets"}`
        : ""),
  );
  const file = arg("out") ?? join("reports", "monitor-loeo.json");
  mkdirSync("reports", { recursive: true });
  writeFileSync(file, toJson({ seed, paths, rows, inSample: all, inSampleFast: fast }, 1) + "\n");
  console.log(`\nwritten: ${file}`);
}

/** `--candidates <file.json>`: the candidate rule sets (calibration.ts `parseCandidates`). */
function readCandidates(file: string): RuleCandidate[] {
  return parseCandidates(JSON.parse(readFileSync(file, "utf8")) as unknown, file);
}

/**
 * `--loeo --candidates`: the leave-one-event-out procedure (escalation and its fast path calibrated on the
 * other events' calm bootstrap, never on a lead) repeated for each candidate rule set on the same
 * forecasts' inputs; one row per candidate: pooled held-out calm figures, in-sample choice, and every
 * held-out event's lead of level >= 1 / level 2 (with `--replays`).
 */
function candidateTable(
  events: EventData[],
  candidates: RuleCandidate[],
  fastGrid: number[] | undefined,
  started: NodeJS.CpuUsage,
): void {
  const min = (s: number | undefined) => (s === undefined ? "never" : (s / 60).toFixed(0));
  const lines = [
    `| rules | held-out bootstraps: L>=1 / L2 per 30 d | targets met out of sample | in sample: setting, L>=1 / L2 per 30 d | ${events.map((e) => e.event).join(" | ")} |`,
    "|" + " --- |".repeat(4 + events.length),
  ];
  const out = [];
  for (const c of candidates) {
    const rows = leaveOneEventOut(events, { fastGrid, rules: c.rules });
    const pooled = rows.reduce(
      (a, r) => ({
        raises: a.raises + r.bootstrap.level2Raises,
        hours: a.hours + r.bootstrap.hours,
        alert: a.alert + r.bootstrap.shareAtLevel1 * r.bootstrap.hours,
      }),
      { raises: 0, hours: 0, alert: 0 },
    );
    const share = pooled.hours > 0 ? pooled.alert / pooled.hours : 0;
    const per30 = pooled.hours > 0 ? (pooled.raises * 30 * 24) / pooled.hours : 0;
    const met = share <= FALSE_ALARM_TARGETS.shareAtLevel1 && per30 <= FALSE_ALARM_TARGETS.level2RaisesPer30Days;
    const pooledAll = events.flatMap((e) => e.bootstrap);
    const all = calibrateEscalation(pooledAll, { rules: c.rules });
    const fast =
      fastGrid === undefined && all.met ? calibrateFastPath(pooledAll, all.escalation, { rules: c.rules }) : undefined;
    const inSample = fast?.met ? fast.calm : all.calm;
    lines.push(
      `| ${c.name} | ${pct(share)} / ${per30.toFixed(2)} | ${met ? "yes" : "no"} | ${all.escalation.confirm} of ${all.escalation.window}${fast?.met ? `, run ${fast.fastRun}` : ""}${all.met ? "" : " (not met)"}, ${pct(inSample.shareAtLevel1)} / ${inSample.level2RaisesPer30Days.toFixed(2)} | ${rows.map((r) => (r.lead ? `${min(r.lead.level1)} / ${min(r.lead.level2)}` : "-")).join(" | ")} |`,
    );
    out.push({ name: c.name, rules: c.rules, rows, heldOut: { share, per30, met }, inSample: { all, fast } });
  }
  const cpu = process.cpuUsage(started);
  console.log(
    `${events.length} events, ${candidates.length} candidates, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s`,
  );
  console.log("\n" + lines.join("\n"));
  const file = arg("out") ?? join("reports", "monitor-candidates.json");
  mkdirSync("reports", { recursive: true });
  writeFileSync(file, toJson({ candidates: out }, 1) + "\n");
  console.log(`\nwritten: ${file}`);
}

/**
 * --leads --replays <report.json,...> --candidates <file>: no replay and no calm data; each candidate
 * rule set's leads (level >= 1 / level 2, minutes before the first wave) on the reports' recorded
 * forecasts, under the default gate and escalation (calibration.ts `candidateLeads`).
 */
function leadsTable(): void {
  const replays = replayInputs(arg("replays")?.split(",") ?? []);
  const file = arg("candidates");
  if (!file || replays.size === 0) throw new Error("--leads needs --replays <report.json,...> and --candidates <file>");
  const rows = candidateLeads(replays, readCandidates(file));
  const min = (s: number | undefined) => (s === undefined ? "never" : (s / 60).toFixed(0));
  const events = [...replays.keys()];
  const lines = [`| rules | ${events.join(" | ")} |`, "|" + " --- |".repeat(1 + events.length)];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${r.leads.map((l) => `${min(l.level1)} / ${min(l.level2)}`).join(" | ")} |`);
  }
  console.log("lead of level >= 1 / level 2, minutes before the first wave (negative: after)\n");
  console.log(lines.join("\n"));
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) {
    console.log(USAGE);
    return;
  }
  const bad = badBacktestArgs(process.argv.slice(2));
  if (bad) {
    console.error(`backtest:monitor: ${bad}\n\n${USAGE}`);
    process.exit(2);
  }
  if (process.argv.includes("--calm")) return calmTable();
  if (process.argv.includes("--leads")) return leadsTable();
  if (process.argv.includes("--loeo")) return loeoTable();
  if (process.argv.includes("--bootstrap")) return bootstrapTable();
  const event = arg("event") ?? "all";
  const preset = accountsArg(loadPreset(arg("preset") ?? "protected"));
  const stylised = process.argv.includes("--stylised") || !process.env.CRASH_DATA_DIR;
  const ids = event === "all" ? listEvents() : event.split(",");
  const { default: hre } = await import("hardhat");
  const compare = process.argv.includes("--compare");
  const rows: {
    event: string;
    source: string;
    /** the population the runs drew (its size and seed): one draw of a seed comparison (seedCompare.ts) */
    population: { accounts: number; seed: number };
    result: BacktestResult;
    without: ReplayMetrics;
    with?: ReplayMetrics;
    raises?: ReplayBacktest["raises"];
    /** the backstop vault's worst loss over each run (WAD; absent without the vault) */
    vaultLoss?: { without: string | undefined; with: string | undefined };
  }[] = [];
  for (const [index, id] of ids.entries()) {
    let ev: EventPaths;
    try {
      ev = await pathsFor(id, { stylised });
    } catch (e) {
      console.log(`${id}: skipped (${(e as Error).message})`);
      continue;
    }
    const { paths, params } = cut(ev.paths, preset, index);
    // observes under the defaults; each observation also carries the rules' inputs, so one replay gives
    // every variant's row of the table (backtest.ts RULE_VARIANTS)
    const bt = new ReplayBacktest({ settings: settingsArg(), rules: rulesArg() });
    const started = Date.now();
    const { run } = await runReplay({
      network: hre.network,
      event: id,
      title: ev.title,
      paths,
      params,
      onStep: bt.onStep,
    });
    const result = bt.result();
    const row: (typeof rows)[number] = {
      event: id,
      source: stylised ? "stylised" : "real",
      population: run.population,
      result,
      without: run.metrics,
    };
    if (compare) {
      const acting = new ReplayBacktest({ raise: true, gate: gateArg(), escalation: escalationArg() });
      const withMonitor = await runReplay({
        network: hre.network,
        event: id,
        title: ev.title,
        paths,
        params,
        onStep: acting.onStep,
      });
      row.with = withMonitor.run.metrics;
      row.raises = acting.raises;
      row.vaultLoss = { without: vaultSummary(run)?.maxLoss, with: vaultSummary(withMonitor.run)?.maxLoss };
    }
    rows.push(row);
    if (process.env.BACKTEST_DUMP) {
      // v8's serialisation keeps bigints and maps: the dump reads back as the objects themselves
      writeFileSync(`${process.env.BACKTEST_DUMP}-${id}.v8`, serialize(bt.dump()));
    }
    if (process.env.BACKTEST_TRACE) {
      for (const p of result.series.filter((_, i) => i % 10 === 0)) {
        const c = p.critical === null ? "none" : `${(p.critical * 100).toFixed(2)}%`;
        console.log(
          `  ${new Date(p.t * 1000).toISOString().slice(0, 16)} price ${p.price.toFixed(1)} level ${p.level} critical ${c} P1h ${(p.p1h * 100).toFixed(3)}% (${p.reason})`,
        );
      }
    }
    console.log(
      `${id} (${stylised ? "stylised" : "real"}, ${preset.name}): ${result.steps} forecasts in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  }
  // the defaults' row, then every variant of the rules on the same forecasts (backtest.ts RULE_VARIANTS)
  const header = "| event | wave | lead 3%/15m | lead OI/funding | calm h | forecast ratio (median) | within x1.5 |";
  const lines = [header, "|" + " --- |".repeat(7)];
  const per30 = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1));
  for (const r of rows) {
    const x = r.result;
    lines.push(
      `| ${r.event} | ${x.waveStart === undefined ? "none" : new Date(x.waveStart * 1000).toISOString().slice(0, 16)} | ${fmt(x.lead.drop3pct15m)} | ${fmt(x.lead.oiFunding)} | ${(x.calm.seconds / 3600).toFixed(1)} | ${x.forecastError.medianRatio === undefined ? "-" : x.forecastError.medianRatio.toFixed(2)} (${x.forecastError.samples}) | ${pct(x.forecastError.withinFactor1_5)} |`,
    );
  }
  console.log("\n" + lines.join("\n"));
  const vlines = [
    "| event | rules | lead L>=1 | lead L2 | calm at L>=1 | L2 raises /30 calm d |",
    "|" + " --- |".repeat(6),
  ];
  for (const r of rows) {
    for (const v of r.result.variants) {
      vlines.push(
        `| ${r.event} | ${v.name} | ${fmt(v.lead.level1)} | ${fmt(v.lead.level2)} | ${pct(v.calm.shareAtLevel1)} | ${per30(v.calm.level2RaisesPer30Days)} |`,
      );
    }
  }
  console.log("\nrules variants on the same forecasts (lead: before the first wave; negative: after)\n");
  console.log(vlines.join("\n"));
  if (compare) {
    const cell = outcomeCell;
    const out = [
      "| event | protected without monitor | protected with monitor | raises (renewals, refused) | time at level >= 2 without / with |",
      "|" + " --- |".repeat(5),
    ];
    const atLeast2 = (m: ReplayMetrics) => m.secondsAtLevel.slice(2).reduce((a, b) => a + b, 0);
    for (const r of rows) {
      if (!r.with) continue;
      out.push(
        `| ${r.event} | ${cell(r.without, r.vaultLoss?.without)} | ${cell(r.with, r.vaultLoss?.with)} | ${r.raises!.sent} (${r.raises!.renewals}, ${r.raises!.refused}) | ${(atLeast2(r.without) / 60).toFixed(0)} / ${(atLeast2(r.with) / 60).toFixed(0)} min |`,
      );
    }
    console.log(
      "\ncells: extra drop / wiped out / bad debt incurred / vault's worst loss / liquidated notional / positions opened\n",
    );
    console.log(out.join("\n"));
  }
  mkdirSync("reports", { recursive: true });
  const file = arg("out") ?? join("reports", "monitor-backtest.json");
  writeFileSync(
    file,
    toJson(
      {
        preset: preset.name,
        rows: rows.map((r) => ({
          ...r,
          // the series (each step's level, reason and oracle price) stays: the rules' inputs alone carry no price
          result: r.result,
          without: { ...r.without, liquidatedPerWindow: undefined },
          with: r.with && { ...r.with, liquidatedPerWindow: undefined },
        })),
      },
      1,
    ) + "\n",
  );
  console.log(`\nwritten: ${file}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error((e as Error).stack ?? e);
    process.exit(1);
  },
);
