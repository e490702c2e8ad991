/**
 * Renders a replay report: one SVG and one PNG per figure (a figure per run, a comparison per event
 * with several runs) and an offline HTML page, outDir/index.html, with the summary tables and the
 * outcome targets. formatSummaryTable prints the same summary for a terminal.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { ReplayReport } from "../result.js";
import { comparisonFigure, runFigure, timeDomain, type Figure } from "./charts.js";
import { findFonts, type FontChoice } from "./fonts.js";
import { renderPage, type EmbeddedFigure } from "./html.js";
import { inlineSvg, specToSvg, svgToPng } from "./render.js";
import { summariseEvents } from "./summary.js";

export { formatSummaryTable } from "./summary.js";
export { formatPercent, formatUsd } from "./format.js";
export { findFonts, type FontChoice } from "./fonts.js";

export type RenderOptions = {
  /** fonts for the PNGs (default: findFonts()) */
  fonts?: FontChoice;
  /** PNG scale over the SVG size (default 2) */
  zoom?: number;
};

export type RenderedReport = {
  /** path of the HTML page (outDir/index.html) */
  html: string;
  /** every file written, the page included */
  files: string[];
};

export async function renderReport(
  report: ReplayReport,
  outDir: string,
  opts: RenderOptions = {},
): Promise<RenderedReport> {
  const fonts = opts.fonts ?? findFonts();
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  const usedIds = new Set<string>();

  const write = async (figure: Figure): Promise<EmbeddedFigure> => {
    let id = figure.id;
    for (let n = 2; usedIds.has(id); n++) id = `${figure.id}-${n}`;
    usedIds.add(id);
    const svg = await specToSvg(figure.spec);
    const svgFile = `${id}.svg`;
    const pngFile = `${id}.png`;
    writeFileSync(join(outDir, svgFile), svg);
    writeFileSync(join(outDir, pngFile), svgToPng(svg, { fonts, zoom: opts.zoom }));
    files.push(join(outDir, svgFile), join(outDir, pngFile));
    return { id, title: figure.title, svg: inlineSvg(svg, id), svgFile, pngFile };
  };

  const figures = new Map<string, { comparison?: EmbeddedFigure; runs: EmbeddedFigure[] }>();
  for (const ev of summariseEvents(report)) {
    const entry: { comparison?: EmbeddedFigure; runs: EmbeddedFigure[] } = { runs: [] };
    if (ev.runs.length > 1) entry.comparison = await write(comparisonFigure(ev.runs));
    // Runs of one event share the time axis so that their figures line up with the comparison.
    const domain = timeDomain(ev.runs);
    for (const run of ev.runs) entry.runs.push(await write(runFigure(run, domain)));
    figures.set(ev.event, entry);
  }

  const html = join(outDir, "index.html");
  writeFileSync(html, renderPage({ report, figures, fonts }));
  files.push(html);
  return { html, files };
}
