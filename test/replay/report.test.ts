import { WAD } from "../../scripts/lib/math/fixedPoint.js";
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { summaryTable } from "../../scripts/replay/metrics.js";
import type { ReplayReport, ReplayRun, ReplayStep } from "../../scripts/replay/result.js";
import { renderReport, formatSummaryTable } from "../../scripts/replay/report/index.js";
import { chartNumber, formatPercent, formatPrice, formatUsd } from "../../scripts/replay/report/format.js";
import { findFonts } from "../../scripts/replay/report/fonts.js";
import { specToSvg, svgToPng } from "../../scripts/replay/report/render.js";
import { runFigure } from "../../scripts/replay/report/charts.js";
import { escapeHtml, renderPage } from "../../scripts/replay/report/html.js";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

type Shape = { start: bigint; trough: bigint; steps: number; stepSeconds: number; t0: number };

/**
 * A run whose path falls from `start` to `trough` over the first half and recovers a little; the
 * protected preset's own impact and liquidations are smaller. All amounts are bigint WAD.
 */
function fixtureRun(event: string, title: string, preset: "baseline" | "protected", shape: Shape, stylised: boolean) {
  const protectedRun = preset === "protected";
  const steps: ReplayStep[] = [];
  const windows: { t: number; notional: string }[] = [];
  let insurance = 100_000n * WAD;
  let liquidatedInWindow = 0n;
  const windowSeconds = shape.stepSeconds * 4;
  for (let i = 0; i < shape.steps; i++) {
    const t = shape.t0 + i * shape.stepSeconds;
    const half = shape.steps / 2;
    const progress = (BigInt(Math.min(i, half)) * WAD) / BigInt(half);
    const recovery = i > half ? (BigInt(i - half) * (shape.start - shape.trough)) / BigInt(shape.steps * 3) : 0n;
    const pathPrice = shape.start - ((shape.start - shape.trough) * progress) / WAD + recovery;
    // impact: up to 3% (baseline) or 1% (protected) below the path while liquidations run
    const impactBps = i > 4 && i < half + 6 ? ((protectedRun ? 100n : 300n) * BigInt(Math.min(i - 4, 6))) / 6n : 0n;
    const oraclePrice = pathPrice - (pathPrice * impactBps) / 10_000n;
    const liquidated = impactBps > 0n ? (protectedRun ? 25_000n : 90_000n) * WAD + BigInt(i) * WAD : 0n;
    liquidatedInWindow += liquidated;
    insurance -= liquidated / (protectedRun ? 200n : 40n);
    const level = protectedRun ? Math.min(4, Math.floor(Number(impactBps) / 20)) : 0;
    steps.push({
      t,
      pathPrice: pathPrice.toString(),
      oraclePrice: oraclePrice.toString(),
      liquidatedNotional: liquidated.toString(),
      level,
      insuranceAssets: insurance.toString(),
      liquidatable: liquidated > 0n ? 3 : 0,
    });
    if ((i + 1) % 4 === 0) {
      windows.push({ t: t - 3 * shape.stepSeconds, notional: liquidatedInWindow.toString() });
      liquidatedInWindow = 0n;
    }
  }
  const run: ReplayRun = {
    event,
    title,
    preset,
    paths: [
      {
        symbol: event.startsWith("usdc") ? "USDC" : "BTC",
        source: stylised ? "stylised" : `${event}.csv`,
        stylised,
        points: shape.steps,
      },
    ],
    population: { accounts: 40, seed: 7 },
    seconds: protectedRun ? 12.5 : 9.25,
    steps,
    metrics: {
      badDebtIncurred: protectedRun ? "0" : ((1_234_567_891n * WAD) / 100n).toString(), // $12,345,678.91
      badDebtCoveredByInsurance: protectedRun ? "0" : (98_765n * WAD + WAD / 2n).toString(), // $98,765.50
      badDebtPaidByBackstopVault: "0",
      badDebtSocialised: "0",
      badDebtUncovered: protectedRun ? "0" : (12_246_913n * WAD + (41n * WAD) / 100n).toString(), // $12,246,913.41
      insuranceDrawdown: (100_000n * WAD - insurance).toString(),
      accountsLiquidated: protectedRun ? 11 : 23,
      accountsWipedOut: protectedRun ? 2 : 9,
      tranches: protectedRun ? 57 : 23,
      keeperRewardsPaid: protectedRun ? (4_321n * WAD).toString() : (1_000n * WAD).toString(),
      maxExtraDrop: protectedRun ? (WAD / 100n).toString() : ((3n * WAD) / 100n).toString(),
      liquidatedPerWindow: windows,
      windowSeconds,
      maxLevel: protectedRun ? 4 : 0,
      secondsAtLevel: [0, 0, 0, 0, 0],
    },
  };
  return run;
}

function fixtureReport(): ReplayReport {
  const usdc: Shape = { start: WAD, trough: (88n * WAD) / 100n, steps: 48, stepSeconds: 900, t0: 1678492800 };
  const btc: Shape = { start: 7_900n * WAD, trough: 3_800n * WAD, steps: 36, stepSeconds: 3600, t0: 1583971200 };
  return {
    generatedAt: "2024-01-02T03:04:05.000Z",
    runs: [
      fixtureRun("usdc-2023", "USDC depeg <March 2023> & SVB", "baseline", usdc, false),
      fixtureRun("usdc-2023", "USDC depeg <March 2023> & SVB", "protected", usdc, false),
      fixtureRun("black-thursday-2020", "Black Thursday 2020", "protected", btc, true),
      fixtureRun("black-thursday-2020", "Black Thursday 2020", "baseline", btc, true),
    ],
    comparisons: [
      {
        event: "usdc-2023",
        noUncoveredBadDebt: true,
        extraDropAtMostHalf: true,
        extraDropAtMostThird: true,
        fewerWipeouts: true,
      },
      {
        event: "black-thursday-2020",
        noUncoveredBadDebt: true,
        extraDropAtMostHalf: false,
        extraDropAtMostThird: false,
        fewerWipeouts: true,
      },
    ],
  };
}

describe("replay report", function () {
  let outDir: string;

  before(function () {
    outDir = mkdtempSync(join(tmpdir(), "replay-report-"));
  });

  after(function () {
    if (process.env.KEEP_REPORT) console.log(`      report kept in ${outDir}`);
    else rmSync(outDir, { recursive: true, force: true });
  });

  describe("formatting (bigint, from WAD strings)", function () {
    it("formats dollars with thousands separators, rounded to the cent", function () {
      expect(formatUsd((1_234_567_891n * WAD) / 100n)).to.equal("$12,345,678.91");
      expect(formatUsd("0")).to.equal("$0.00");
      expect(formatUsd(WAD / 200n)).to.equal("$0.01"); // half a cent rounds away from zero
      expect(formatUsd(WAD / 200n - 1n)).to.equal("$0.00");
      expect(formatUsd((-1_000_000n * WAD) / 1n)).to.equal("-$1,000,000.00");
      // far beyond 2^53 wei: exact
      expect(formatUsd(123_456_789_012_345_678_901n * WAD + 99n * (WAD / 100n))).to.equal(
        "$123,456,789,012,345,678,901.99",
      );
    });

    it("formats ratios as percentages and prices with fixed decimals", function () {
      expect(formatPercent(WAD / 100n)).to.equal("1.00%");
      expect(formatPercent((12_345n * WAD) / 1_000_000n)).to.equal("1.23%");
      expect(formatPercent(WAD * 15n)).to.equal("1,500.00%");
      expect(formatPrice((88n * WAD) / 100n)).to.equal("0.8800");
      expect(formatPrice(3_621_810n * (WAD / 1000n), 2)).to.equal("3,621.81");
    });

    it("rejects anything but a WAD integer string", function () {
      expect(() => formatUsd("1.5")).to.throw(/not a WAD decimal string/);
      expect(() => formatUsd("1e18")).to.throw(/not a WAD decimal string/);
    });

    it("converts to floats only for charts, keeping precision for large amounts", function () {
      expect(chartNumber("880000000000000000")).to.equal(0.88);
      expect(chartNumber((123_456_789n * WAD + WAD / 4n).toString())).to.equal(123_456_789.25);
      expect(chartNumber("-1500000000000000000")).to.equal(-1.5);
    });

    it("escapes HTML", function () {
      expect(escapeHtml(`<a href="x">'&'</a>`)).to.equal("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    });
  });

  describe("renderReport", function () {
    let html: string;
    let files: string[];
    const report = fixtureReport();

    before(async function () {
      this.timeout(60_000);
      const started = Date.now();
      const rendered = await renderReport(report, outDir);
      files = rendered.files;
      html = readFileSync(rendered.html, "utf8");
      console.log(`      rendered ${files.length} files in ${Date.now() - started} ms (fonts: ${findFonts().source})`);
    });

    it("writes index.html with one inline SVG per figure, and an SVG and a PNG file per figure", function () {
      expect(existsSync(join(outDir, "index.html"))).to.equal(true);
      const svgs = files.filter((f) => f.endsWith(".svg"));
      const pngs = files.filter((f) => f.endsWith(".png"));
      // 2 events x (2 runs + 1 comparison)
      expect(svgs).to.have.length(6);
      expect(pngs).to.have.length(6);
      expect(readdirSync(outDir).sort()).to.deep.equal([...files.map((f) => f.slice(outDir.length + 1))].sort());
      expect(html.match(/<svg\b/g) ?? []).to.have.length(6);
      for (const name of [
        "usdc-2023-comparison",
        "usdc-2023-baseline",
        "usdc-2023-protected",
        "black-thursday-2020-comparison",
        "black-thursday-2020-baseline",
        "black-thursday-2020-protected",
      ]) {
        expect(html).to.include(`<figure id="figure-${name}">`);
        expect(html).to.include(`href="${name}.png"`);
      }
    });

    it("is offline: no http(s) URL, no external script, stylesheet or font", function () {
      expect(html).not.to.match(/https?:\/\//i);
      expect(html).not.to.match(/<script\b/i);
      expect(html).not.to.match(/<link\b/i);
      expect(html).not.to.match(/@import|@font-face|url\(\s*["']?(?!#)/i);
    });

    it("escapes report text, in the tables and in the charts", function () {
      expect(html).not.to.include("<March 2023>");
      expect(html).to.include("USDC depeg &lt;March 2023&gt; &amp; SVB");
    });

    it("shows the summary numbers formatted from the WAD strings, baseline before protected", function () {
      expect(html).to.include("$12,345,678.91");
      expect(html).to.include("$98,765.50");
      expect(html).to.include("$12,246,913.41");
      expect(html).to.include("$4,321.00");
      expect(html).to.include("3.00%");
      expect(html).to.include("23 of 40");
      expect(html).to.include("12.5 s");
      const section = html.slice(html.indexOf('id="event-black-thursday-2020"'));
      expect(section.indexOf("<th>baseline</th>")).to.be.lessThan(section.indexOf("<th>protected</th>"));
    });

    it("shows each outcome target with pass or fail, and which paths were stylised", function () {
      const usdc = html.slice(html.indexOf('id="event-usdc-2023"'), html.indexOf('id="event-black-thursday-2020"'));
      expect(usdc.match(/class="pass">PASS/g) ?? []).to.have.length(3);
      expect(usdc).to.include('<span class="real">real data</span>');
      expect(usdc).not.to.include('class="stylised"');
      const btc = html.slice(html.indexOf('id="event-black-thursday-2020"'));
      expect(btc.match(/class="pass">PASS/g) ?? []).to.have.length(2);
      expect(btc).to.include('at most a third of baseline&#39;s</td><td><span class="fail">FAIL');
      expect(btc).to.include('<span class="stylised">stylised</span>');
    });

    it("writes PNGs that start with the PNG signature and are not blank", function () {
      for (const f of files.filter((x) => x.endsWith(".png"))) {
        const png = readFileSync(f);
        expect(png.subarray(0, 8).equals(PNG_SIGNATURE), f).to.equal(true);
        expect(png.length, f).to.be.greaterThan(20_000);
      }
    });
  });

  describe("backstop vault panels", function () {
    it("adds the vault's inventory, PnL and drawdown panels to a run whose steps carry its book, and none otherwise", async function () {
      const run = structuredClone(fixtureReport().runs[1]);
      const panels = (r: typeof run) => (runFigure(r).spec as unknown as { vconcat: unknown[] }).vconcat.length;
      const without = panels(run);
      run.steps = run.steps.map((s, k) => ({
        ...s,
        backstop: {
          inventory: [(BigInt(k) * 10n ** 18n).toString()],
          notional: (BigInt(k) * 1000n * 10n ** 18n).toString(),
          equity: (10n ** 24n).toString(),
          pnl: (-BigInt(k) * 10n ** 18n).toString(),
          drawdown: (BigInt(k) * 10n ** 15n).toString(),
        },
      }));
      expect(panels(run)).to.equal(without + 2);
      const svg = await specToSvg(runFigure(run).spec);
      expect(svg).to.include("vault drawdown");
      expect(svg).to.include("backstop vault");
    });
  });

  describe("text in PNGs", function () {
    it("finds a font on this machine, and draws text with it", async function () {
      const fonts = findFonts();
      console.log(`      font: ${fonts.source} ${fonts.files.join(", ")}`);
      expect(
        fonts.files.length,
        "no font found, so the PNGs would have no text: install fonts-dejavu-core or set REPORT_FONT_FILES",
      ).to.be.greaterThan(0);
      const svg = await specToSvg(runFigure(fixtureReport().runs[0]).spec);
      const withText = svgToPng(svg, { fonts, zoom: 1 });
      const withoutText = svgToPng(svg, { fonts: { files: [], source: "none" }, zoom: 1 });
      // Same shapes; the labels add ink (a PNG of the same size with more detail compresses worse).
      expect(withText.length).to.be.greaterThan(withoutText.length * 1.2);
    });

    it("still writes a valid PNG, without throwing, when no font can be found", async function () {
      const svg = await specToSvg(runFigure(fixtureReport().runs[1]).spec);
      const png = svgToPng(svg, { fonts: { files: [], source: "none" } });
      expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).to.equal(true);
    });
  });

  describe("two-step order rows", function () {
    /** The fixture with the protected USDC run's orders as a run records them (record.ts). */
    function withOrders(): ReplayReport {
      const report = fixtureReport();
      report.runs[1].stats = {
        ordersCommitted: 44,
        ordersSettled: 40,
        ordersRefused: 3,
        ordersExpired: 1,
        ordersPending: 0,
        orderDelayMedianSeconds: 60,
        orderDelayMeanSeconds: 75.5,
        orderDelayMaxSeconds: 900,
      };
      return report;
    }

    it("shows settled / refused / expired and the delay's median / max for a run with orders, '-' for one without", function () {
      const report = withOrders();
      for (const text of [formatSummaryTable(report), summaryTable(report)]) {
        const counts = text.split("\n").find((l) => l.includes("orders settled / refused / expired"));
        const delay = text.split("\n").find((l) => l.includes("order delay"));
        expect(counts, text).to.match(/-\s+40 \/ 3 \/ 1/);
        expect(delay, text).to.match(/-\s+(1 min 00 s \/ 15 min 00 s|60 \/ 900)/);
      }
      const html = renderPage({ report, figures: new Map(), fonts: { files: [], source: "none" } });
      expect(html).to.include("40 / 3 / 1");
      expect(html).to.include("1 min 00 s / 15 min 00 s");
    });
  });

  describe("formatSummaryTable", function () {
    it("prints one fixed-width block per event with every row and target", function () {
      const table = formatSummaryTable(fixtureReport());
      console.log(
        table
          .split("\n")
          .map((l) => "      " + l)
          .join("\n"),
      );
      for (const row of [
        "bad debt incurred",
        "covered by insurance",
        "socialised (ADL)",
        "uncovered (LP pool)",
        "insurance drawdown",
        "accounts liquidated",
        "accounts wiped out",
        "max extra drop (own impact)",
        "max stress level",
        "keeper rewards paid",
        "wall time",
      ]) {
        expect(table.match(new RegExp(row.replace(/[()]/g, "\\$&"), "g")) ?? [], row).to.have.length(2);
      }
      expect(table).to.include("$12,345,678.91");
      expect(table).to.include("PASS  protected leaves no uncovered bad debt");
      expect(table).to.include("FAIL  protected's extra price drop is at most a third of baseline's");
      expect(table).to.include("path BTC: STYLISED");
      expect(table).to.include("path USDC: real data");
      // fixed width: within a block, every table line has the same length
      const block = table.split("\n\n")[0].split("\n");
      const rows = block.filter((l) => /^\s{2}(\S| {2}\S).*\s{3}\S/.test(l) && !l.includes("PASS"));
      const widths = new Set(rows.map((l) => l.length));
      expect(widths.size, rows.join("\n")).to.equal(1);
    });
  });
});
