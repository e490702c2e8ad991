/**
 * The font resvg draws chart text with. resvg has no built-in font: with none loaded it renders every
 * shape and silently drops every label. Letting it scan the whole system (loadSystemFonts) works but
 * costs a scan per render and depends on what happens to be installed, so the report looks for one
 * sans-serif family at known paths first, then in the usual font folders, and loads just those files.
 *
 * On this project's machines (Debian, the `node` kind) DejaVu Sans is part of the base image
 * (fonts-dejavu-core, a dependency of fontconfig), so CI finds it without any install step. Set
 * REPORT_FONT_FILES (paths separated by the platform's path delimiter) to use another font. Without
 * any font the PNGs are still written, without text, and the report says so; the inline SVGs in the
 * HTML page carry their text either way, since a browser draws it with its own fonts.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, extname, join } from "node:path";

export type FontChoice = {
  /** font files handed to resvg (regular first, then bold where found) */
  files: string[];
  /** where they came from */
  source: "env" | "known-path" | "scan" | "none";
};

/** Regular and bold of a few common sans-serif families, in order of preference. */
const KNOWN_FAMILIES: string[][] = [
  ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
  [
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
  ],
  ["/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"],
  ["/usr/share/fonts/truetype/freefont/FreeSans.ttf", "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf"],
  ["/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"],
  ["/System/Library/Fonts/Supplemental/Arial.ttf", "/System/Library/Fonts/Supplemental/Arial Bold.ttf"],
  ["C:\\Windows\\Fonts\\arial.ttf", "C:\\Windows\\Fonts\\arialbd.ttf"],
];

const SCAN_DIRS = [
  "/usr/share/fonts",
  "/usr/local/share/fonts",
  join(homedir(), ".fonts"),
  join(homedir(), ".local", "share", "fonts"),
];
const SCAN_MAX_DEPTH = 4;
const SCAN_MAX_ENTRIES = 5000;

let cached: FontChoice | undefined;

/** Finds the font files once per process (see the module comment for the order). */
export function findFonts(env: NodeJS.ProcessEnv = process.env): FontChoice {
  if (env === process.env && cached) return cached;
  const choice = lookUp(env);
  if (env === process.env) cached = choice;
  return choice;
}

function lookUp(env: NodeJS.ProcessEnv): FontChoice {
  const fromEnv = (env.REPORT_FONT_FILES ?? "")
    .split(delimiter)
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (fromEnv.length > 0) {
    const missing = fromEnv.filter((p) => !isFile(p));
    if (missing.length > 0) throw new Error(`REPORT_FONT_FILES names files that do not exist: ${missing.join(", ")}`);
    return { files: fromEnv, source: "env" };
  }
  for (const family of KNOWN_FAMILIES) {
    if (isFile(family[0])) return { files: family.filter(isFile), source: "known-path" };
  }
  const scanned = scanFontDirs();
  if (scanned.length > 0) return { files: scanned, source: "scan" };
  return { files: [], source: "none" };
}

/** Up to two TrueType/OpenType files from the font folders, sans-serif regular and bold preferred. */
function scanFontDirs(): string[] {
  const found: string[] = [];
  let budget = SCAN_MAX_ENTRIES;
  const walk = (dir: string, depth: number) => {
    if (depth > SCAN_MAX_DEPTH || budget <= 0) return;
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of entries) {
      if (--budget <= 0) return;
      const path = join(dir, name);
      const ext = extname(name).toLowerCase();
      if (ext === ".ttf" || ext === ".otf") found.push(path);
      else if (!ext) walk(path, depth + 1);
    }
  };
  for (const dir of SCAN_DIRS) walk(dir, 0);
  const rank = (path: string) => {
    const name = path.toLowerCase();
    let score = 0;
    if (name.includes("sans")) score -= 4;
    if (name.includes("mono")) score += 2;
    if (name.includes("serif") && !name.includes("sans")) score += 2;
    if (/(italic|oblique|light|thin|condensed|narrow)/.test(name)) score += 3;
    if (name.includes("bold")) score += 1;
    return score;
  };
  const ordered = found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const regular = ordered.find((p) => !p.toLowerCase().includes("bold"));
  const bold = ordered.find((p) => p.toLowerCase().includes("bold") && !/(italic|oblique)/i.test(p));
  return [regular ?? ordered[0], bold].filter((p): p is string => p !== undefined);
}

function isFile(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}
