/**
 * The report page: one self-contained HTML file (inline CSS and SVG; no script, font, stylesheet or
 * image fetched from anywhere). Every piece of text from the report passes through escapeHtml.
 */
import type { ReplayReport } from "../result.js";
import type { FontChoice } from "./fonts.js";
import { dataKind, distinctPaths, SUMMARY_ROWS, summariseEvents, type EventSummary } from "./summary.js";

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** A rendered figure as the page embeds it. */
export type EmbeddedFigure = {
  id: string;
  title: string;
  /** SVG markup ready to inline (see inlineSvg) */
  svg: string;
  /** file names relative to the page */
  svgFile: string;
  pngFile: string;
};

export type PageInput = {
  report: ReplayReport;
  /** per event id: the comparison figure (if the event has several runs) and one figure per run */
  figures: Map<string, { comparison?: EmbeddedFigure; runs: EmbeddedFigure[] }>;
  fonts: FontChoice;
};

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1d1d1d; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; }
th, td { padding: 0.25rem 0.8rem; border-bottom: 1px solid #e4e4e4; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.indent { padding-left: 2rem; }
.pass { color: #17703a; font-weight: bold; } .fail { color: #b3261e; font-weight: bold; }
.stylised { color: #8a5a00; font-weight: bold; } .real { color: #17703a; }
figure { margin: 1.5rem 0; } figure svg { width: 100%; max-width: 1000px; height: auto; }
figcaption { font-size: 0.9rem; color: #555; }
.note { font-size: 0.9rem; color: #555; }
`;

export function renderPage(input: PageInput): string {
  const { report } = input;
  const events = summariseEvents(report);
  const allKinds = dataKind(report.runs);
  const parts: string[] = [];
  parts.push(
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    "<title>Crash replay report</title>",
    `<style>${STYLE}</style></head><body>`,
    "<h1>Crash replay report</h1>",
    `<p>Generated ${escapeHtml(report.generatedAt)}: ${report.runs.length} runs over ${events.length} events. ` +
      `Price data: ${escapeHtml(allKinds)} (per event below).</p>`,
    '<p class="note">Table figures are exact, formatted from the runs\u2019 WAD integers. The charts plot ' +
      "the same values as floating-point numbers; they are the only place floats appear.</p>",
  );
  if (input.fonts.files.length === 0) {
    parts.push(
      '<p class="note">No font was found on the machine that rendered this report, so the PNG files have ' +
        "no text. The charts below are inline SVG and carry their text.</p>",
    );
  }
  parts.push("<ul>");
  for (const ev of events) {
    parts.push(
      `<li><a href="#${anchor(ev.event)}">${escapeHtml(ev.title)}</a> (${escapeHtml(dataKind(ev.runs))})</li>`,
    );
  }
  parts.push("</ul>");
  for (const ev of events) parts.push(renderEvent(ev, input.figures.get(ev.event)));
  parts.push("</body></html>", "");
  return parts.join("\n");
}

function anchor(event: string): string {
  return "event-" + event.replace(/[^A-Za-z0-9_-]/g, "_");
}

function renderEvent(ev: EventSummary, figures: { comparison?: EmbeddedFigure; runs: EmbeddedFigure[] } | undefined) {
  const out: string[] = [];
  out.push(`<section id="${anchor(ev.event)}">`);
  out.push(`<h2>${escapeHtml(ev.title)} <small>(${escapeHtml(ev.event)})</small></h2>`);

  const paths = distinctPaths(ev.runs);
  if (paths.length > 0) {
    out.push("<table><thead><tr><th>path</th><th>data</th><th>source</th><th>points</th></tr></thead><tbody>");
    for (const p of paths) {
      const kind = p.stylised ? '<span class="stylised">stylised</span>' : '<span class="real">real data</span>';
      out.push(
        `<tr><td>${escapeHtml(p.symbol)}</td><td>${kind}</td><td>${escapeHtml(p.source)}</td><td>${p.points}</td></tr>`,
      );
    }
    out.push("</tbody></table>");
  }

  if (ev.runs.length > 0) {
    out.push('<table class="summary"><thead><tr><th></th>');
    for (const r of ev.runs) out.push(`<th>${escapeHtml(r.preset)}</th>`);
    out.push("</tr></thead><tbody>");
    for (const row of SUMMARY_ROWS) {
      out.push(`<tr><td${row.indent ? ' class="indent"' : ""}>${escapeHtml(row.label)}</td>`);
      for (const r of ev.runs) out.push(`<td>${escapeHtml(row.value(r))}</td>`);
      out.push("</tr>");
    }
    out.push("</tbody></table>");
  }

  if (ev.targets) {
    out.push('<table class="targets"><thead><tr><th>outcome target</th><th>result</th></tr></thead><tbody>');
    for (const t of ev.targets) {
      const result = t.met ? '<span class="pass">PASS</span>' : '<span class="fail">FAIL</span>';
      out.push(`<tr><td>${escapeHtml(t.label)}</td><td>${result}</td></tr>`);
    }
    out.push("</tbody></table>");
  } else {
    out.push('<p class="note">No comparison was recorded for this event, so no outcome targets.</p>');
  }

  if (figures?.comparison) out.push(renderFigure(figures.comparison));
  for (const f of figures?.runs ?? []) out.push(renderFigure(f));
  out.push("</section>");
  return out.join("\n");
}

function renderFigure(f: EmbeddedFigure): string {
  return [
    `<figure id="figure-${escapeHtml(f.id)}">`,
    f.svg,
    `<figcaption>${escapeHtml(f.title)}: <a href="${escapeHtml(f.pngFile)}">PNG</a>, ` +
      `<a href="${escapeHtml(f.svgFile)}">SVG</a></figcaption>`,
    "</figure>",
  ].join("\n");
}
