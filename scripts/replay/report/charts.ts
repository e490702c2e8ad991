/**
 * Vega-lite specs of the report's figures. One figure per run (four panels on one time axis: price
 * path with and without the impact of the protocol's own liquidations, liquidated notional per
 * window, insurance fund assets, stress level) and one per event that overlays its presets on the
 * same axes. Values become floats here (chartNumber) and nowhere else.
 */
import type { TopLevelSpec } from "vega-lite";

import type { ReplayRun } from "../result.js";
import { chartNumber } from "./format.js";

export type Figure = {
  /** file-name-safe id, unique in a report */
  id: string;
  title: string;
  spec: TopLevelSpec;
};

const WIDTH = 640;
const PATH_COLOR = "#7a7a7a";
const PRESET_COLORS: Record<string, string> = { baseline: "#c0392b", protected: "#1f6fb4" };
const OTHER_COLORS = ["#2a9d8f", "#e09f3e", "#8e44ad", "#5b8c2a"];
const MAX_LEVEL = 4;

/** Spec fragments are plain JSON; the finished figure is checked by vega-lite's compiler. */
type Json = Record<string, unknown>;

const CONFIG: Json = {
  font: "sans-serif",
  background: "white",
  title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: "#444", anchor: "start", offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: "normal", gridColor: "#e6e6e6" },
  legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 400, orient: "top", direction: "horizontal" },
  view: { stroke: "#cccccc" },
  concat: { spacing: 12 },
};

export function fileSafe(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "") || "chart"
  );
}

export function presetColor(preset: string, index: number): string {
  return PRESET_COLORS[preset] ?? OTHER_COLORS[index % OTHER_COLORS.length];
}

/** First and last step time over the runs, in ms (vega's time unit). */
export function timeDomain(runs: ReplayRun[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const run of runs) {
    for (const s of run.steps) {
      lo = Math.min(lo, s.t);
      hi = Math.max(hi, s.t);
    }
    for (const w of run.metrics.liquidatedPerWindow) hi = Math.max(hi, w.t + run.metrics.windowSeconds);
  }
  if (!Number.isFinite(lo)) return [0, 1000];
  if (hi <= lo) hi = lo + 60;
  return [lo * 1000, hi * 1000];
}

export function windowLabel(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** Only the bottom panel labels the time axis; the panels above keep its ticks and grid. */
function timeX(domain: [number, number], bottom: boolean): Json {
  return {
    field: "t",
    type: "temporal",
    title: bottom ? "time (UTC)" : null,
    scale: { type: "utc", domain },
    // A utc scale formats its labels in UTC too.
    axis: bottom
      ? { format: "%b %d %H:%M", labelAngle: 0, tickCount: 6, labelOverlap: true }
      : { labels: false, tickCount: 6 },
  };
}

function colorScale(series: string[], colors: string[], legend: boolean): Json {
  return {
    field: "series",
    type: "nominal",
    title: null,
    scale: { domain: series, range: colors },
    legend: legend ? { labelLimit: 480 } : null,
  };
}

function pathsLine(run: ReplayRun): string {
  if (run.paths.length === 0) return "paths: none recorded";
  return (
    "paths: " +
    run.paths
      .map((p) => `${p.symbol} ${p.stylised ? "STYLISED" : "real data"} (${p.source}, ${p.points} points)`)
      .join("; ")
  );
}

/** The first series (the historic path) is dashed, under the solid oracle lines. */
function pricePanel(rows: Json[], series: string[], colors: string[], domain: [number, number]): Json {
  const encoding = {
    x: timeX(domain, false),
    y: { field: "price", type: "quantitative", title: "price", scale: { zero: false } },
    color: colorScale(series, colors, true),
  };
  return {
    width: WIDTH,
    height: 190,
    layer: [
      {
        data: { values: rows.filter((r) => r.series === series[0]) },
        mark: { type: "line", interpolate: "step-after", strokeWidth: 1.6, strokeDash: [5, 3] },
        encoding,
      },
      {
        data: { values: rows.filter((r) => r.series !== series[0]) },
        mark: { type: "line", interpolate: "step-after", strokeWidth: 1.8 },
        encoding,
      },
    ],
  };
}

function liquidationPanel(rows: Json[], series: string[], colors: string[], domain: [number, number], w: number): Json {
  return {
    width: WIDTH,
    height: 120,
    data: { values: rows },
    mark: { type: "bar", opacity: 0.9, stroke: "white", strokeWidth: 0.5 },
    encoding: {
      x: timeX(domain, false),
      x2: { field: "t2" },
      y: {
        field: "notional",
        type: "quantitative",
        title: `liquidated / ${windowLabel(w)}`,
        axis: { format: "$.3~s" },
      },
      y2: { datum: 0 },
      color: colorScale(series, colors, series.length > 1),
    },
  };
}

function insurancePanel(rows: Json[], series: string[], colors: string[], domain: [number, number]): Json {
  return {
    width: WIDTH,
    height: 120,
    data: { values: rows },
    mark: { type: "line", interpolate: "step-after", strokeWidth: 1.8 },
    encoding: {
      x: timeX(domain, false),
      y: {
        field: "assets",
        type: "quantitative",
        title: "insurance fund",
        axis: { format: "$.3~s" },
        scale: { zero: false },
      },
      color: colorScale(series, colors, false),
    },
  };
}

function levelPanel(rows: Json[], series: string[], colors: string[], domain: [number, number]): Json {
  return {
    width: WIDTH,
    height: 90,
    data: { values: rows },
    mark: { type: "line", interpolate: "step-after", strokeWidth: 2 },
    encoding: {
      x: timeX(domain, true),
      y: {
        field: "level",
        type: "quantitative",
        title: "stress level",
        scale: { domain: [0, MAX_LEVEL], nice: false },
        axis: { values: [0, 1, 2, 3, 4], format: "d" },
      },
      color: colorScale(series, colors, false),
    },
  };
}

/**
 * The backstop vault's book per step (runs with the vault): its open notional and its PnL (equity less
 * the capital deposited) in one panel, its drawdown from the highest share price in another.
 */
function backstopPanels(run: ReplayRun, domain: [number, number]): Json[] {
  const steps = run.steps.filter((s) => s.backstop);
  if (steps.length === 0) return [];
  const series = ["vault inventory (notional)", "vault PnL"];
  const book = steps.flatMap((s) => [
    { t: s.t * 1000, series: series[0], usd: chartNumber(s.backstop!.notional) },
    { t: s.t * 1000, series: series[1], usd: chartNumber(s.backstop!.pnl) },
  ]);
  const drawdown = steps.map((s) => ({
    t: s.t * 1000,
    series: "vault drawdown",
    dd: chartNumber(s.backstop!.drawdown),
  }));
  return [
    {
      width: WIDTH,
      height: 120,
      data: { values: book },
      mark: { type: "line", interpolate: "step-after", strokeWidth: 1.8 },
      encoding: {
        x: timeX(domain, false),
        y: { field: "usd", type: "quantitative", title: "backstop vault", axis: { format: "$.3~s" } },
        color: colorScale(series, ["#7b3294", "#008837"], true),
      },
    },
    {
      width: WIDTH,
      height: 90,
      data: { values: drawdown },
      mark: { type: "line", interpolate: "step-after", strokeWidth: 1.8 },
      encoding: {
        x: timeX(domain, false),
        y: { field: "dd", type: "quantitative", title: "vault drawdown", axis: { format: ".1%" } },
        color: colorScale(["vault drawdown"], ["#c2a5cf"], false),
      },
    },
  ];
}

function figureSpec(title: string, subtitle: string[], panels: Json[]): TopLevelSpec {
  const spec: Json = {
    title: { text: title, subtitle },
    config: CONFIG,
    vconcat: panels,
    // Every panel sets the same explicit time domain, so independent x scales still line up.
    resolve: { scale: { x: "independent", color: "independent" } },
  };
  return spec as unknown as TopLevelSpec;
}

/** The four panels of one run. */
export function runFigure(run: ReplayRun, domain: [number, number] = timeDomain([run])): Figure {
  const color = presetColor(run.preset, 0);
  const pathSeries = "historic path";
  const oracleSeries = "oracle price (path + own liquidation impact)";
  const prices = run.steps.flatMap((s) => [
    { t: s.t * 1000, series: pathSeries, price: chartNumber(s.pathPrice) },
    { t: s.t * 1000, series: oracleSeries, price: chartNumber(s.oraclePrice) },
  ]);
  const w = run.metrics.windowSeconds;
  const liquidations = run.metrics.liquidatedPerWindow.map((x) => ({
    t: x.t * 1000,
    t2: (x.t + w) * 1000,
    series: run.preset,
    notional: chartNumber(x.notional),
  }));
  const insurance = run.steps.map((s) => ({
    t: s.t * 1000,
    series: run.preset,
    assets: chartNumber(s.insuranceAssets),
  }));
  const levels = run.steps.map((s) => ({ t: s.t * 1000, series: run.preset, level: s.level }));
  const title = `${run.title}: ${run.preset}`;
  return {
    id: `${fileSafe(run.event)}-${fileSafe(run.preset)}`,
    title,
    spec: figureSpec(
      title,
      [pathsLine(run)],
      [
        pricePanel(prices, [pathSeries, oracleSeries], [PATH_COLOR, color], domain),
        liquidationPanel(liquidations, [run.preset], [color], domain, w),
        insurancePanel(insurance, [run.preset], [color], domain),
        ...backstopPanels(run, domain),
        levelPanel(levels, [run.preset], [color], domain),
      ],
    ),
  };
}

/**
 * The presets of one event on the same axes. Each liquidation window is split between the presets
 * (side by side, not stacked), so neither hides the other.
 */
export function comparisonFigure(runs: ReplayRun[]): Figure {
  if (runs.length === 0) throw new Error("comparisonFigure needs at least one run");
  const domain = timeDomain(runs);
  const presets = runs.map((r) => r.preset);
  const colors = runs.map((r, i) => presetColor(r.preset, i));
  const pathSeries = "historic path";
  const oracleSeries = presets.map((p) => `oracle: ${p}`);
  const prices = [
    ...runs[0].steps.map((s) => ({ t: s.t * 1000, series: pathSeries, price: chartNumber(s.pathPrice) })),
    ...runs.flatMap((r, i) =>
      r.steps.map((s) => ({ t: s.t * 1000, series: oracleSeries[i], price: chartNumber(s.oraclePrice) })),
    ),
  ];
  const w = runs[0].metrics.windowSeconds;
  const liquidations = runs.flatMap((r, i) => {
    const rw = r.metrics.windowSeconds;
    return r.metrics.liquidatedPerWindow.map((x) => ({
      t: (x.t + (rw * i) / runs.length) * 1000,
      t2: (x.t + (rw * (i + 1)) / runs.length) * 1000,
      series: r.preset,
      notional: chartNumber(x.notional),
    }));
  });
  const insurance = runs.flatMap((r) =>
    r.steps.map((s) => ({ t: s.t * 1000, series: r.preset, assets: chartNumber(s.insuranceAssets) })),
  );
  const levels = runs.flatMap((r) => r.steps.map((s) => ({ t: s.t * 1000, series: r.preset, level: s.level })));
  const title = `${runs[0].title}: ${presets.join(" vs ")}`;
  return {
    id: `${fileSafe(runs[0].event)}-comparison`,
    title,
    spec: figureSpec(
      title,
      [pathsLine(runs[0]), "same axes for every preset"],
      [
        pricePanel(prices, [pathSeries, ...oracleSeries], [PATH_COLOR, ...colors], domain),
        liquidationPanel(liquidations, presets, colors, domain, w),
        insurancePanel(insurance, presets, colors, domain),
        levelPanel(levels, presets, colors, domain),
      ],
    ),
  };
}
