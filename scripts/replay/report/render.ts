/**
 * Chart spec -> SVG -> PNG, headless and offline: vega-lite compiles to a vega spec, a vega View with
 * the "none" renderer (no DOM, no canvas) writes SVG markup, and resvg rasterises it.
 */
import { Resvg } from "@resvg/resvg-js";
import { View, logger, parse, Warn } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

import { findFonts, type FontChoice } from "./fonts.js";

/**
 * vega-lite warns about a "conflicting" time domain whenever a bar has an x2 field and its x scale an
 * explicit domain (it compares the domain as datetime signals with the same numbers as written) and
 * then uses their union, which is that same domain. That one warning is noise; every other passes.
 */
const compileLogger = logger(Warn, undefined, (method, level, args) => {
  const text = args.map(String).join(" ");
  if (text.startsWith('Conflicting scale property "domain"') && text.includes("datetime(")) return;
  console[method](level, ...args);
});

export async function specToSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = compile(spec, { logger: compileLogger }).spec;
  const view = new View(parse(compiled), { renderer: "none", logLevel: Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export type PngOptions = {
  /** fonts to draw text with (default: findFonts()) */
  fonts?: FontChoice;
  /** scale factor over the SVG's own size (default 2, for legible text on high-density screens) */
  zoom?: number;
};

export function svgToPng(svg: string, opts: PngOptions = {}): Buffer {
  const fonts = opts.fonts ?? findFonts();
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: opts.zoom ?? 2 },
    font: {
      // The files found are enough: skipping the system scan keeps a render at a few ms and the
      // output the same on every machine that has the same font.
      loadSystemFonts: false,
      fontFiles: fonts.files,
      defaultFontSize: 11,
    },
    logLevel: "off",
  });
  return resvg.render().asPng();
}

/**
 * Makes the ids of one SVG unique before several are inlined in one HTML page, where ids share one
 * document (vega numbers clip paths and gradients per process, not per chart).
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_m, id: string) => `id="${prefix}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}-${id})`)
    .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}-${id}"`);
}

/**
 * SVG markup to inline in HTML: HTML puts <svg> in the SVG namespace by itself, so the namespace
 * declarations (which are URLs) are dropped and the page stays free of any URL.
 */
export function inlineSvg(svg: string, idPrefix: string): string {
  return scopeSvgIds(svg, idPrefix)
    .replace(/^<\?xml[^>]*>\s*/, "")
    .replace(/\s+xmlns(:\w+)?="[^"]*"/g, "");
}
