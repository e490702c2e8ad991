/**
 * What the report says about each event, shared by the HTML page and the terminal table: the runs
 * grouped by event (baseline first), the summary rows in human units, the outcome targets.
 */
import type { ReplayReport, ReplayRun } from "../result.js";
import { formatPercent, formatSeconds, formatUsd } from "./format.js";

export type EventSummary = {
  event: string;
  title: string;
  /** baseline first, then the other presets in the order they ran */
  runs: ReplayRun[];
  targets: { label: string; met: boolean }[] | undefined;
};

export type SummaryRow = { label: string; indent?: boolean; value: (run: ReplayRun) => string };

export const SUMMARY_ROWS: SummaryRow[] = [
  { label: "bad debt incurred", value: (r) => formatUsd(r.metrics.badDebtIncurred) },
  { label: "covered by insurance", indent: true, value: (r) => formatUsd(r.metrics.badDebtCoveredByInsurance) },
  {
    label: "paid by the backstop vault",
    indent: true,
    value: (r) => formatUsd(r.metrics.badDebtPaidByBackstopVault ?? "0"),
  },
  { label: "socialised (ADL)", indent: true, value: (r) => formatUsd(r.metrics.badDebtSocialised) },
  { label: "uncovered (LP pool)", indent: true, value: (r) => formatUsd(r.metrics.badDebtUncovered) },
  { label: "insurance drawdown", value: (r) => formatUsd(r.metrics.insuranceDrawdown) },
  {
    label: "backing the vault past its budget",
    indent: true,
    value: (r) => formatUsd(r.metrics.vaultBackedByInsurance ?? "0"),
  },
  {
    label: "accounts liquidated",
    value: (r) => `${r.metrics.accountsLiquidated} of ${r.population.accounts}`,
  },
  { label: "accounts wiped out", value: (r) => String(r.metrics.accountsWipedOut) },
  { label: "liquidation tranches", value: (r) => String(r.metrics.tranches) },
  { label: "max extra drop (own impact)", value: (r) => formatPercent(r.metrics.maxExtraDrop) },
  { label: "max stress level", value: (r) => String(r.metrics.maxLevel) },
  { label: "keeper rewards paid", value: (r) => formatUsd(r.metrics.keeperRewardsPaid) },
  {
    label: "orders settled / refused / expired",
    value: (r) =>
      !r.stats?.ordersCommitted
        ? "-"
        : `${r.stats.ordersSettled} / ${r.stats.ordersRefused} / ${r.stats.ordersExpired ?? "-"}`,
  },
  {
    label: "order delay, commit to settle (median / max)",
    value: (r) =>
      !r.stats?.ordersSettled
        ? "-"
        : `${formatSeconds(Number(r.stats.orderDelayMedianSeconds ?? r.stats.orderDelayMeanSeconds))} / ${formatSeconds(Number(r.stats.orderDelayMaxSeconds))}`,
  },
  { label: "wall time", value: (r) => formatSeconds(r.seconds) },
];

/** The outcome targets of a comparison, in the words the report prints. */
export const TARGET_LABELS = {
  noUncoveredBadDebt: "protected leaves no uncovered bad debt",
  extraDropAtMostThird: "protected's extra price drop is at most a third of baseline's",
  fewerWipeouts: "protected wipes out fewer accounts than baseline",
} as const;

export function summariseEvents(report: ReplayReport): EventSummary[] {
  const byEvent = new Map<string, ReplayRun[]>();
  for (const run of report.runs) {
    const list = byEvent.get(run.event) ?? [];
    list.push(run);
    byEvent.set(run.event, list);
  }
  for (const c of report.comparisons) if (!byEvent.has(c.event)) byEvent.set(c.event, []);
  return [...byEvent.entries()].map(([event, runs]) => {
    const ordered = [...runs].sort((a, b) => presetRank(a.preset) - presetRank(b.preset));
    const comparison = report.comparisons.find((c) => c.event === event);
    return {
      event,
      title: ordered[0]?.title ?? event,
      runs: ordered,
      targets: comparison
        ? (Object.keys(TARGET_LABELS) as (keyof typeof TARGET_LABELS)[]).map((key) => ({
            label: TARGET_LABELS[key],
            met: comparison[key],
          }))
        : undefined,
    };
  });
}

function presetRank(preset: string): number {
  if (preset === "baseline") return 0;
  if (preset === "protected") return 1;
  return 2;
}

/** "real data", "stylised" or "real data and stylised", from the runs' paths. */
export function dataKind(runs: ReplayRun[]): string {
  const paths = runs.flatMap((r) => r.paths);
  const stylised = paths.some((p) => p.stylised);
  const real = paths.some((p) => !p.stylised);
  if (stylised && real) return "real data and stylised";
  if (stylised) return "stylised";
  if (real) return "real data";
  return "no path recorded";
}

/** Each distinct path of an event once (the presets of one event drive the same paths). */
export function distinctPaths(runs: ReplayRun[]): ReplayRun["paths"] {
  const seen = new Map<string, ReplayRun["paths"][number]>();
  for (const p of runs.flatMap((r) => r.paths)) seen.set(`${p.symbol}\u0000${p.source}`, p);
  return [...seen.values()];
}

/** Fixed-width summary for a terminal: one block per event, rows as in the HTML page. */
export function formatSummaryTable(report: ReplayReport): string {
  const lines: string[] = [];
  for (const ev of summariseEvents(report)) {
    lines.push(`${ev.title} [${ev.event}]`);
    for (const p of distinctPaths(ev.runs)) {
      lines.push(`  path ${p.symbol}: ${p.stylised ? "STYLISED" : "real data"}, ${p.source}, ${p.points} points`);
    }
    if (ev.runs.length > 0) {
      const header = ["", ...ev.runs.map((r) => r.preset)];
      const rows = SUMMARY_ROWS.map((row) => [
        (row.indent ? "  " : "") + row.label,
        ...ev.runs.map((r) => row.value(r)),
      ]);
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const render = (cells: string[]) =>
        "  " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("   ");
      lines.push(render(header).trimEnd());
      lines.push("  " + widths.map((w) => "-".repeat(w)).join("   "));
      for (const r of rows) lines.push(render(r));
    } else {
      lines.push("  (no runs)");
    }
    if (ev.targets) {
      for (const t of ev.targets) lines.push(`  ${t.met ? "PASS" : "FAIL"}  ${t.label}`);
    } else {
      lines.push("  targets: no comparison recorded for this event");
    }
    lines.push("");
  }
  return lines.join("\n");
}
