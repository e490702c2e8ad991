/**
 * The sweep's pure part (scripts/replay/sweep.ts runs it): what it keeps of a run, how a cell (one
 * seed, impact variant, data set and event: a baseline run and a protected run on the same path and
 * population) is graded against issue 12's outcome targets, and the markdown table. Bigint throughout.
 *
 * Targets of a cell, protected against baseline:
 *  - bad debt: every unit protected incurred was covered by the insurance fund (nothing socialised,
 *    nothing pending), as `compare` in metrics.ts reads it;
 *  - vault: the backstop vault's worst loss (its capital less its lowest equity at the oracle over the
 *    run's steps) within its budget, `maxDrawdown` (its drawdown breaker's bound) times its capital;
 *  - drop: protected's extra price drop at most a third of baseline's;
 *  - wipe-outs: fewer accounts wiped out than baseline, or none.
 */
import { formatPct, formatUsd } from "./decimal.js";
import { type VaultSummary, compare, vaultSummary } from "./metrics.js";
import type { ReplayRun } from "./result.js";

export { type VaultSummary, vaultSummary };

/** The impact model's variants the sweep runs (`impact` overrides of the presets). */
export const VARIANTS: Record<string, { depthToMarket?: number; halfLifeSeconds?: number }> = {
  default: {},
  "depth0.5": { depthToMarket: 0.5 },
  depth2: { depthToMarket: 2 },
  hl300: { halfLifeSeconds: 300 },
  hl1200: { halfLifeSeconds: 1200 },
};

/** The real series, the stylised scenarios, or the user's own price paths (`npm run sweep -- --paths`). */
export type DataSet = "real" | "stylised" | "path";

/** Which run of the grid. */
export type RunKey = { seed: number; variant: string; data: DataSet; event: string; preset: string };

export const keyOf = (k: RunKey) => `${k.seed}|${k.variant}|${k.data}|${k.event}|${k.preset}`;

/** What the sweep keeps of a run: one line of its results file. */
export type RunSummary = RunKey & {
  accounts: number;
  metrics: {
    maxExtraDrop: string;
    accountsWipedOut: number;
    badDebtIncurred: string;
    badDebtCoveredByInsurance: string;
    badDebtSocialised: string;
    badDebtUncovered: string;
    accountsLiquidated: number;
  };
  vault?: VaultSummary;
  ticks: number;
  seconds: number;
  cpuSeconds?: number;
  /** the code it ran (sweep.ts's fingerprint of the mechanism's files): a resumed sweep reuses only its own */
  code?: string;
  /** what went wrong on the chain during the run (the run's notes), to read a surprising cell by */
  notes?: string[];
};

/** The summary of a finished run. */
export function summarise(key: RunKey, run: ReplayRun): RunSummary {
  const m = run.metrics;
  return {
    ...key,
    accounts: run.population.accounts,
    metrics: {
      maxExtraDrop: m.maxExtraDrop,
      accountsWipedOut: m.accountsWipedOut,
      badDebtIncurred: m.badDebtIncurred,
      badDebtCoveredByInsurance: m.badDebtCoveredByInsurance,
      badDebtSocialised: m.badDebtSocialised,
      badDebtUncovered: m.badDebtUncovered,
      accountsLiquidated: m.accountsLiquidated,
    },
    vault: vaultSummary(run),
    ticks: run.steps.length,
    seconds: run.seconds,
    cpuSeconds: run.cpuSeconds,
    ...(run.notes?.length ? { notes: run.notes } : {}),
  };
}

/** A cell graded: each target held or missed. */
export type Grade = {
  noUncoveredBadDebt: boolean;
  vaultWithinBudget: boolean;
  extraDropAtMostThird: boolean;
  fewerWipeouts: boolean;
  ok: boolean;
};

/** A summary as much of a ReplayRun as `compare` reads. */
const asRun = (s: RunSummary) => ({ event: s.event, preset: s.preset, metrics: s.metrics }) as unknown as ReplayRun;

/** Grades a cell: protected (`p`) against baseline (`b`) on the same path and population. */
export function grade(b: RunSummary, p: RunSummary): Grade {
  const c = compare(asRun(b), asRun(p));
  const vaultWithinBudget = p.vault === undefined || BigInt(p.vault.maxLoss) <= BigInt(p.vault.budget);
  const g = {
    noUncoveredBadDebt: c.noUncoveredBadDebt,
    vaultWithinBudget,
    extraDropAtMostThird: c.extraDropAtMostThird,
    fewerWipeouts: c.fewerWipeouts,
  };
  return { ...g, ok: Object.values(g).every(Boolean) };
}

export type Cell = { b: RunSummary; p: RunSummary; grade: Grade };

/** The cells of a set of summaries: every (seed, variant, data, event) with both presets run. */
export function cellsOf(runs: readonly RunSummary[], baseline = "baseline", protectedName = "protected"): Cell[] {
  const byKey = new Map(runs.map((r) => [keyOf(r), r]));
  const cells: Cell[] = [];
  for (const p of runs) {
    if (p.preset !== protectedName) continue;
    const b = byKey.get(keyOf({ ...p, preset: baseline }));
    if (b) cells.push({ b, p, grade: grade(b, p) });
  }
  return cells;
}

const mark = (ok: boolean) => (ok ? "hold" : "**miss**");

/** Ratio of two WAD fractions to two decimals (display only). */
function ratio(p: bigint, b: bigint): string {
  if (b === 0n) return p === 0n ? "-" : "inf";
  const hundredths = (p * 100n + b / 2n) / b;
  return `${hundredths / 100n}.${(hundredths % 100n).toString().padStart(2, "0")}`;
}

/** The markdown table of the cells, one row per cell, each target marked hold or miss. */
export function markdownTable(cells: readonly Cell[]): string {
  const header = [
    "seed",
    "impact",
    "data",
    "event",
    "extra drop b / p",
    "ratio",
    "drop <= 1/3",
    "wiped out b / p",
    "fewer wiped",
    "uncovered bad debt ($)",
    "bad debt",
    "vault loss / budget ($)",
    "vault",
  ];
  const rows = cells.map(({ b, p, grade: g }) => {
    const [bd, pd] = [BigInt(b.metrics.maxExtraDrop), BigInt(p.metrics.maxExtraDrop)];
    const uncovered = BigInt(p.metrics.badDebtIncurred) - BigInt(p.metrics.badDebtCoveredByInsurance);
    return [
      String(p.seed),
      p.variant,
      p.data,
      p.event,
      `${formatPct(bd)} / ${formatPct(pd)}`,
      ratio(pd, bd),
      mark(g.extraDropAtMostThird),
      `${b.metrics.accountsWipedOut} / ${p.metrics.accountsWipedOut}`,
      mark(g.fewerWipeouts),
      formatUsd(uncovered),
      mark(g.noUncoveredBadDebt),
      p.vault ? `${formatUsd(BigInt(p.vault.maxLoss))} / ${formatUsd(BigInt(p.vault.budget))}` : "no vault",
      mark(g.vaultWithinBudget),
    ];
  });
  const line = (cols: string[]) => `| ${cols.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Per target, how many cells hold it; and how many hold every target. */
export function tally(cells: readonly Cell[]): Record<keyof Grade, number> & { cells: number } {
  const count = (f: (g: Grade) => boolean) => cells.filter((c) => f(c.grade)).length;
  return {
    cells: cells.length,
    noUncoveredBadDebt: count((g) => g.noUncoveredBadDebt),
    vaultWithinBudget: count((g) => g.vaultWithinBudget),
    extraDropAtMostThird: count((g) => g.extraDropAtMostThird),
    fewerWipeouts: count((g) => g.fewerWipeouts),
    ok: count((g) => g.ok),
  };
}
