/**
 * The dashboard end to end in a real browser: Debian's chromium (CHROMIUM_PATH, default
 * /usr/bin/chromium) driven by playwright-core, which never downloads a browser. The monitor serves a
 * synthetic book (scripts/monitor/syntheticBook.ts) over ten forecasts; the page must show the API's
 * numbers, draw non-blank charts, look an account up, follow the event stream, and a screenshot is
 * written to reports/monitor-dashboard.png. Outside CI a missing chromium skips with the reason
 * printed; in CI (CI=true) it fails, since .ci/run installs chromium first.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";
import type { BrowserContext, Page } from "playwright-core";

import { silentLogger } from "../../scripts/keeper/logger.js";
import { type MonitorServer, startMonitorServer } from "../../scripts/monitor/server.js";
import { MonitorService } from "../../scripts/monitor/service.js";
import { SyntheticSource } from "../../scripts/monitor/syntheticBook.js";
import { loadCatalogue } from "../../scripts/monitor/scenarioData.js";
import { catalogueScenarios } from "../../scripts/monitor/scenarios.js";

// page.evaluate callbacks run in the browser; the project's tsconfig has no DOM library
type Canvas = {
  id: string;
  width: number;
  height: number;
  parentElement: { closest(s: string): { id: string } | null } | null;
  getContext(
    kind: "2d",
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
};
declare const document: {
  querySelectorAll(selector: "canvas"): Iterable<Canvas>;
  getElementById(id: string): { textContent: string | null } | null;
};

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// the page's formatting (scripts/monitor/dashboard/dashboard.js), applied to the API's values
const fmtUsd = (wad: string) => (Number(BigInt(wad) / 10n ** 14n) / 1e4).toFixed(2);
const fmtPct = (wad: string | null | undefined) =>
  wad === undefined || wad === null ? "none" : (Number(BigInt(wad)) / 1e16).toFixed(2) + "%";
const fmtP = (p: number) => (p * 100).toFixed(3) + "%";

type Side = {
  criticalShock?: string;
  waveShock?: string;
  horizons: { horizonSeconds: number; probability: number; model: string }[];
  reachHorizons: { horizonSeconds: number; probability: number; model: string }[];
};

type Api = {
  forecast: {
    blockNumber: number;
    down: Side;
    up: Side;
    worst: { distance1h: number; direction: string };
    insurance: { coverableWad: string; badDebtAt10pct: string };
    indicators: Record<string, string>;
    accountsWithPositions: number;
  };
  decision: { level: number; p15m: number; p1h: number; p24h: number };
};

describe("Risk monitor dashboard in chromium", function () {
  this.timeout(120_000);
  let service: MonitorService;
  let server: MonitorServer;
  let context: BrowserContext | undefined;
  let page: Page;
  let profile: string;
  /** every console error and every response of 400 or more while the page loads and runs */
  const problems: string[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI === "true")
        throw new Error(`chromium not found at ${CHROMIUM}: .ci/run installs it with apt-get`);
      console.log(
        `    (skipped: chromium not found at ${CHROMIUM}; apt-get install -y chromium, or set CHROMIUM_PATH)`,
      );
      this.skip();
    }
    const catalogue = loadCatalogue({ stylised: true });
    service = new MonitorService({
      source: new SyntheticSource(2_000, 3),
      logger: silentLogger(),
      scenarios: catalogueScenarios(catalogue.events, { source: catalogue.source }),
      scenarioSource: catalogue.source,
    });
    for (let i = 0; i < 10; i++) await service.tick();
    server = await startMonitorServer({ port: 0, service });
    const { chromium } = await import("playwright-core");
    profile = mkdtempSync(join(tmpdir(), "monitor-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 1400 },
    });
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page: ${e.message}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
  });

  after(async function () {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const text = (id: string) => page.locator(`#${id}`).innerText();
  const api = async <T>(path: string): Promise<T> => (await fetch(server.url + path)).json() as Promise<T>;

  it("loads with no console error and no request the monitor answers with an error (a favicon included)", async function () {
    await page.waitForLoadState("networkidle");
    expect(problems).to.deep.equal([]);
  });

  it("shows the API's numbers: level, critical shocks, distance, probabilities, insurance, indicators", async function () {
    const { forecast: f, decision: d } = await api<Api>("/api/forecast");
    expect(await text("block")).to.equal(String(f.blockNumber));
    expect(await text("level")).to.equal(String(d.level));
    expect(await text("critical-down")).to.equal(fmtPct(f.down.criticalShock));
    expect(await text("critical-up")).to.equal(fmtPct(f.up.criticalShock));
    expect(await text("wave-down")).to.equal(fmtPct(f.down.waveShock));
    expect(await text("wave-up")).to.equal(fmtPct(f.up.waveShock));
    expect(await text("distance-1h")).to.equal(f.worst.distance1h === null ? "∞" : f.worst.distance1h.toFixed(2));
    expect(await text("p-15m")).to.equal(fmtP(d.p15m));
    expect(await text("p-1h")).to.equal(fmtP(d.p1h));
    expect(await text("p-24h")).to.equal(fmtP(d.p24h));
    // the rules read the end-of-horizon probability by default; the probability of reaching is shown beside it
    const w = f.worst.direction === "up" ? f.up : f.down;
    expect(w.horizons[0].model).to.equal("end");
    expect(await text("p-model")).to.contain("past the critical shock at the horizon's end");
    for (const [id, s] of [
      ["reach-15m", 900],
      ["reach-1h", 3600],
      ["reach-24h", 86400],
    ] as const) {
      const h = w.reachHorizons.find((x) => x.horizonSeconds === s)!;
      expect(h.model).to.equal("reach");
      const end = w.horizons.find((x) => x.horizonSeconds === s)!;
      // reaching a level within the horizon is at least as likely as being past it at the end
      expect(h.probability).to.be.at.least(end.probability);
      expect(await text(id)).to.equal(fmtP(w.criticalShock === undefined ? 0 : h.probability));
    }
    expect(await text("insurance")).to.equal(fmtUsd(f.insurance.coverableWad));
    expect(await text("baddebt10")).to.equal(fmtUsd(f.insurance.badDebtAt10pct));
    for (const k of ["liquidatableNow", "down5", "down10", "up5", "up10"]) {
      const id = k === "liquidatableNow" ? "ind-now" : `ind-${k}`;
      expect(await text(id), k).to.equal(fmtUsd(f.indicators[k]));
    }
    expect(await text("accounts")).to.equal(String(f.accountsWithPositions));
    // the synthetic book is leveraged enough that something is liquidatable 10% down
    expect(BigInt(f.indicators.down10) > 0n).to.equal(true);
  });

  it("shows the scenario lab and the collateral depeg rows as the API serves them; no unpriced market, no panel", async function () {
    type Lab = { results: { scenario: { id: string }; badDebt: string }[] };
    const lab = await api<Lab>("/api/scenarios");
    expect(lab.results.length).to.be.greaterThan(10);
    const cells = await page.locator(".lab-bad-debt").allInnerTexts();
    expect(cells).to.deep.equal(lab.results.map((r) => fmtUsd(r.badDebt)));
    const { forecast: f } = await api<{ forecast: { collateral: unknown[]; unpriced: unknown[] } }>("/api/forecast");
    expect(f.collateral.length).to.equal(2);
    expect(await page.locator("#depeg tr").count()).to.equal(f.collateral.length + 1);
    expect(f.unpriced).to.deep.equal([]);
    expect(await page.locator("#unpriced-card").isHidden()).to.equal(true);
  });

  it("draws the ladder heatmap, the cascade curve and the history: no chart is blank", async function () {
    const inked = await page.evaluate(() =>
      [...document.querySelectorAll("canvas")].map((c) => {
        const ctx = c.getContext("2d")!;
        const { data } = ctx.getImageData(0, 0, c.width, c.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
          const white = data[i] > 235 && data[i + 1] > 235 && data[i + 2] > 235;
          if (data[i + 3] > 0 && !white) n++;
        }
        return { id: c.id || c.parentElement?.closest("[id]")?.id || "?", n };
      }),
    );
    const byId = new Map(inked.map((x) => [x.id, x.n]));
    expect(inked.length, JSON.stringify(inked)).to.be.at.least(3);
    for (const id of ["ladder", "cascade", "history"])
      expect(byId.get(id) ?? 0, `${id}: ${JSON.stringify(inked)}`).to.be.greaterThan(500);
  });

  it("looks an account up: liquidation prices, joint move and restoring margin equal the API's", async function () {
    const id = "7";
    await page.fill("#account-id", id);
    await page.fill("#restore-bps", "1500");
    await page.click("#account-go");
    await page.waitForSelector(`#account-out[data-account="${id}"]`);
    const w = await api<{
      prices: { liquidationPrice?: string }[];
      joint?: { move: string; cascadeShock: string };
      restore: { marginWad: string };
    }>(`/api/account/${id}?restoreBps=1500`);
    const shown = await page.locator("#account-out .liq-price").allInnerTexts();
    expect(shown).to.deep.equal(
      w.prices.map((p) => (p.liquidationPrice === undefined ? "never" : fmtUsd(p.liquidationPrice))),
    );
    if (w.joint) {
      expect(await text("joint-move")).to.equal(fmtPct(w.joint.move));
      expect(await text("joint-shock")).to.equal(fmtPct(w.joint.cascadeShock));
    }
    expect(await text("restore")).to.equal(fmtUsd(w.restore.marginWad));
  });

  it("follows the event stream: a new forecast updates the page; a screenshot is written", async function () {
    const before = await text("block");
    await service.tick();
    const { forecast: f } = await api<Api>("/api/forecast");
    expect(String(f.blockNumber)).to.not.equal(before);
    await page.waitForFunction((b) => document.getElementById("block")!.textContent === b, String(f.blockNumber), {
      timeout: 15_000,
    });
    mkdirSync("reports", { recursive: true });
    const file = join("reports", "monitor-dashboard.png");
    await page.screenshot({ path: file, fullPage: true });
    expect(existsSync(file)).to.equal(true);
  });
});
