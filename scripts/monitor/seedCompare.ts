/**
 * Protected with and without the monitor over several draws of the population (docs/experiments.md,
 * "Risk monitor", "Protected with and without the monitor over population draws"). No replay: reads the
 * reports of `npm run backtest:monitor -- --compare --population-seed <n>` (one report per draw, any
 * number of events each) and prints, per event, each outcome figure's difference with the monitor minus
 * without it over the draws: the mean, the range and in how many draws the monitor was worse, equal or
 * better (every figure is a loss: more is worse). One draw cannot tell a systematic effect of a raise from
 * the reshuffle a raise causes (smaller openings meet the path's steps and the vault's capacity at other
 * times); the sign over the draws can.
 *
 *   npx tsx scripts/monitor/seedCompare.ts <report.json> [<report.json> ...] [--variant <rules variant>]
 *
 * `--variant` (default "gate+escalation", the service's rules) picks the variant whose leads and calm share
 * are listed per draw beside the outcomes.
 */
import { readFileSync } from "node:fs";

import type { ReplayMetrics } from "../replay/result.js";

const WAD = 10n ** 18n;

/** What a `--compare` report row carries that this reads (the JSON report's rows). */
export type CompareRow = {
  event: string;
  population?: { accounts: number; seed: number };
  without: ReplayMetrics;
  with?: ReplayMetrics;
  vaultLoss?: { without: string | undefined; with: string | undefined };
  raises?: { sent: number; renewals: number; refused: number };
  result?: {
    variants?: {
      name: string;
      lead: { level1: number | null | undefined; level2: number | null | undefined };
      calm: { shareAtLevel1: number | null | undefined };
    }[];
  };
};

export type CompareReport = {
  /** a name for the draw (the report's population, or its file) */
  draw: string;
  rows: CompareRow[];
};

/** The outcome figures compared, each a loss (more is worse), in display units. */
export const FIGURES = ["extraDropPct", "wipedOut", "badDebtUsd", "vaultLossUsd", "trancheNotionalUsd"] as const;
export type Figure = (typeof FIGURES)[number];

export type Outcomes = Record<Figure, number>;

/** The outcome figures of one run: extra drop in percent, the others in whole accounts and dollars. */
export function outcomes(m: ReplayMetrics, vaultLoss: string | undefined): Outcomes {
  const usd = (w: string | undefined) => Number(BigInt(w ?? "0") / WAD);
  return {
    // to 1e-4 percent, as the tables print it to 1e-2
    extraDropPct: Number(BigInt(m.maxExtraDrop) / 10n ** 12n) / 1e4,
    wipedOut: m.accountsWipedOut,
    badDebtUsd: usd(m.badDebtIncurred),
    vaultLossUsd: usd(vaultLoss),
    trancheNotionalUsd: usd(m.liquidatedNotional),
  };
}

export type FigureStats = {
  /** with minus without, one per draw, in the order of the draws */
  differences: number[];
  mean: number;
  min: number;
  max: number;
  /** draws where the monitor's run is worse / the same / better on this figure */
  worse: number;
  equal: number;
  better: number;
};

export type DrawOutcome = {
  draw: string;
  without: Outcomes;
  with: Outcomes;
  raises: { sent: number; renewals: number; refused: number } | undefined;
  /** the chosen variant's leads (seconds before the first wave; null: never) and calm share at level >= 1 */
  lead1: number | null;
  lead2: number | null;
  calmShare: number | null;
};

export type EventDifferences = {
  event: string;
  draws: DrawOutcome[];
  figures: Record<Figure, FigureStats>;
};

function stats(differences: number[]): FigureStats {
  const n = differences.length;
  return {
    differences,
    mean: differences.reduce((a, b) => a + b, 0) / n,
    min: Math.min(...differences),
    max: Math.max(...differences),
    worse: differences.filter((d) => d > 0).length,
    equal: differences.filter((d) => d === 0).length,
    better: differences.filter((d) => d < 0).length,
  };
}

/**
 * Per event (in the order first met), the with/without differences over the draws that ran it with the
 * monitor acting. Rows without a `with` run (no `--compare`) are skipped; an event that appears twice in
 * one report is an error (the draw would count twice).
 */
export function seedDifferences(reports: CompareReport[], variant = "gate+escalation"): EventDifferences[] {
  const byEvent = new Map<string, DrawOutcome[]>();
  for (const r of reports) {
    const seen = new Set<string>();
    for (const row of r.rows) {
      if (!row.with) continue;
      if (seen.has(row.event)) throw new Error(`${r.draw}: ${row.event} twice in one report`);
      seen.add(row.event);
      const v = row.result?.variants?.find((x) => x.name === variant);
      const draws = byEvent.get(row.event) ?? [];
      draws.push({
        draw: r.draw,
        without: outcomes(row.without, row.vaultLoss?.without),
        with: outcomes(row.with, row.vaultLoss?.with),
        raises: row.raises,
        lead1: v?.lead.level1 ?? null,
        lead2: v?.lead.level2 ?? null,
        calmShare: v?.calm.shareAtLevel1 ?? null,
      });
      byEvent.set(row.event, draws);
    }
  }
  return [...byEvent].map(([event, draws]) => {
    const figures = {} as Record<Figure, FigureStats>;
    for (const f of FIGURES) figures[f] = stats(draws.map((d) => d.with[f] - d.without[f]));
    return { event, draws, figures };
  });
}

const LABEL: Record<Figure, string> = {
  extraDropPct: "extra drop (pp)",
  wipedOut: "wiped out",
  badDebtUsd: "bad debt ($)",
  vaultLossUsd: "vault's worst loss ($)",
  trancheNotionalUsd: "tranches sold ($)",
};

function num(f: Figure, x: number): string {
  if (f === "extraDropPct") return x.toFixed(2);
  if (f === "wipedOut") return Number.isInteger(x) ? String(x) : x.toFixed(1);
  return Math.round(x).toLocaleString("en-US");
}

const signed = (f: Figure, x: number) => (x > 0 ? "+" : "") + num(f, x);

/** The summary table: per event and figure, mean difference [min, max] and worse / equal / better. */
export function summaryTable(diffs: EventDifferences[]): string {
  const lines = [
    `| event | draws | ${FIGURES.map((f) => LABEL[f]).join(" | ")} |`,
    "|" + " --- |".repeat(2 + FIGURES.length),
  ];
  for (const d of diffs) {
    const cells = FIGURES.map((f) => {
      const s = d.figures[f];
      return `${signed(f, s.mean)} [${signed(f, s.min)}, ${signed(f, s.max)}] ${s.worse}/${s.equal}/${s.better}`;
    });
    lines.push(`| ${d.event} | ${d.draws.length} | ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

const mins = (s: number | null) => (s === null ? "never" : String(Math.round(s / 60)));

/** Every draw's figures without / with the monitor, its raises and the variant's leads and calm share. */
export function drawTable(diffs: EventDifferences[]): string {
  const cell = (o: Outcomes) => FIGURES.map((f) => num(f, o[f])).join(" / ");
  const lines = [
    "| event | draw | without | with | raises (renewals, refused) | lead L>=1 / L2, calm at L>=1 |",
    "|" + " --- |".repeat(6),
  ];
  for (const d of diffs) {
    for (const x of d.draws) {
      const r = x.raises === undefined ? "-" : `${x.raises.sent} (${x.raises.renewals}, ${x.raises.refused})`;
      const calm = x.calmShare === null ? "-" : `${(x.calmShare * 100).toFixed(1)}%`;
      lines.push(
        `| ${d.event} | ${x.draw} | ${cell(x.without)} | ${cell(x.with)} | ${r} | ${mins(x.lead1)} / ${mins(x.lead2)}, ${calm} |`,
      );
    }
  }
  return lines.join("\n");
}

function main(): void {
  const args = process.argv.slice(2);
  const vi = args.indexOf("--variant");
  const variant = vi >= 0 ? args[vi + 1] : "gate+escalation";
  const files = args.filter((a, i) => !a.startsWith("--") && !(vi >= 0 && i === vi + 1));
  if (files.length === 0) throw new Error("usage: seedCompare.ts <report.json> [...] [--variant <name>]");
  const reports: CompareReport[] = files.map((file) => {
    const json = JSON.parse(readFileSync(file, "utf8")) as { rows: CompareRow[] };
    const p = json.rows.find((r) => r.population !== undefined)?.population;
    const draw = p ? `${p.accounts} / ${p.seed}` : file;
    return { draw, rows: json.rows };
  });
  const diffs = seedDifferences(reports, variant);
  console.log("with minus without: mean [min, max] worse/equal/better over the draws\n");
  console.log(summaryTable(diffs));
  console.log(`\nper draw (extra drop % / wiped out / bad debt $ / vault's worst loss $ / tranches $), ${variant}\n`);
  console.log(drawTable(diffs));
}

if (process.argv[1]?.endsWith("seedCompare.ts")) main();
