/**
 * The sweep's grading (scripts/replay/sweepTable.ts): how a cell (baseline and protected on the same path
 * and population) is held against issue 12's four targets, the vault's worst loss against its budget, and
 * the table's marks. Pure: no chain.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "chai";

import { compare, targetsMet } from "../../scripts/replay/metrics.js";
import type { ReplayRun } from "../../scripts/replay/result.js";
import {
  type RunSummary,
  cellsOf,
  grade,
  keyOf,
  markdownTable,
  tally,
  vaultSummary,
} from "../../scripts/replay/sweepTable.js";
import { gridFingerprint, gridJobs, pathEventId } from "../../scripts/replay/sweepGrid.js";

const WAD = 10n ** 18n;
const pct = (x: number) => ((BigInt(Math.round(x * 100)) * WAD) / 10_000n).toString();

function summary(preset: string, o: Partial<RunSummary["metrics"]> = {}, vault?: RunSummary["vault"]): RunSummary {
  return {
    seed: 1,
    variant: "default",
    data: "stylised",
    event: "ftx-2022",
    preset,
    accounts: 60,
    metrics: {
      maxExtraDrop: pct(3),
      accountsWipedOut: 6,
      badDebtIncurred: "0",
      badDebtCoveredByInsurance: "0",
      badDebtSocialised: "0",
      badDebtUncovered: "0",
      accountsLiquidated: 10,
      ...o,
    },
    vault,
    ticks: 100,
    seconds: 1,
    cpuSeconds: 1,
  };
}

const vault = (maxLoss: bigint, budget: bigint): RunSummary["vault"] => ({
  capital: (1000n * WAD).toString(),
  maxLoss: maxLoss.toString(),
  budget: budget.toString(),
  maxDrawdown: "0",
  drawdownBound: ((15n * WAD) / 100n).toString(),
  takeovers: 1,
  takenOverNotional: "0",
});

describe("Replay sweep: grading a cell", function () {
  const b = summary("baseline");

  it("holds every target when protected has a third of the drop, fewer wipe-outs, all bad debt covered and the vault within budget", function () {
    const p = summary(
      "protected",
      { maxExtraDrop: pct(1), accountsWipedOut: 5, badDebtIncurred: "7", badDebtCoveredByInsurance: "7" },
      vault(150n * WAD, 150n * WAD),
    );
    expect(grade(b, p)).to.deep.equal({
      noUncoveredBadDebt: true,
      vaultWithinBudget: true,
      extraDropAtMostThird: true,
      fewerWipeouts: true,
      ok: true,
    });
  });

  it("misses each target on its own: a wei of drop past a third, as many wipe-outs, a wei uncovered, a wei of vault loss past the budget", function () {
    const good = { maxExtraDrop: pct(1), accountsWipedOut: 5 };
    const g1 = grade(b, summary("protected", { ...good, maxExtraDrop: (BigInt(pct(1)) + 1n).toString() }));
    expect([g1.extraDropAtMostThird, g1.ok]).to.deep.equal([false, false]);
    const g2 = grade(b, summary("protected", { ...good, accountsWipedOut: 6 }));
    expect([g2.fewerWipeouts, g2.extraDropAtMostThird, g2.ok]).to.deep.equal([false, true, false]);
    const g3 = grade(b, summary("protected", { ...good, badDebtIncurred: "5", badDebtCoveredByInsurance: "4" }));
    expect([g3.noUncoveredBadDebt, g3.ok]).to.deep.equal([false, false]);
    const g4 = grade(b, summary("protected", good, vault(150n * WAD + 1n, 150n * WAD)));
    expect([g4.vaultWithinBudget, g4.ok]).to.deep.equal([false, false]);
  });

  it("counts none wiped out as holding when baseline has none either", function () {
    const none = summary("baseline", { accountsWipedOut: 0 });
    expect(grade(none, summary("protected", { maxExtraDrop: "0", accountsWipedOut: 0 })).fewerWipeouts).to.equal(true);
    expect(grade(none, summary("protected", { maxExtraDrop: "0", accountsWipedOut: 1 })).fewerWipeouts).to.equal(false);
  });

  it("reads the vault's worst loss from the steps and its budget from maxDrawdown x capital", function () {
    const capital = 1000n * WAD;
    const step = (equity: bigint, drawdown: bigint) => ({
      backstop: { inventory: [], notional: "0", equity: equity.toString(), pnl: "0", drawdown: drawdown.toString() },
    });
    const run = {
      stats: {
        backstopCapital: capital.toString(),
        backstopConfig: JSON.stringify({ maxDrawdown: ((15n * WAD) / 100n).toString() }),
        backstopTakeovers: 3,
        backstopTakenOverNotional: "5",
      },
      steps: [step(capital, 0n), step(capital - 120n * WAD, WAD / 10n), step(capital + 5n * WAD, 0n)],
    } as unknown as ReplayRun;
    const v = vaultSummary(run)!;
    expect(v.maxLoss).to.equal((120n * WAD).toString());
    expect(v.budget).to.equal((150n * WAD).toString());
    expect(v.maxDrawdown).to.equal((WAD / 10n).toString());
    expect(v.takeovers).to.equal(3);
    expect(vaultSummary({ stats: {}, steps: [] } as unknown as ReplayRun)).to.equal(undefined);
  });

  it("compare and --check judge the vault's loss against its budget; a run without the vault has nothing to judge", function () {
    const capital = 1000n * WAD;
    const metrics = {
      badDebtIncurred: "0",
      badDebtCoveredByInsurance: "0",
      badDebtSocialised: "0",
      badDebtUncovered: "0",
      maxExtraDrop: pct(0.5),
      accountsWipedOut: 0,
    };
    const withVault = (lowestEquity: bigint) =>
      ({
        event: "ftx-2022",
        preset: "protected",
        metrics,
        stats: {
          backstopCapital: capital.toString(),
          backstopConfig: JSON.stringify({ maxDrawdown: ((15n * WAD) / 100n).toString() }),
        },
        steps: [{ backstop: { equity: lowestEquity.toString(), drawdown: "0" } }],
      }) as unknown as ReplayRun;
    const baseline = {
      event: "ftx-2022",
      preset: "baseline",
      metrics: { ...metrics, maxExtraDrop: pct(3) },
      stats: {},
      steps: [],
    } as unknown as ReplayRun;
    const within = compare(baseline, withVault(capital - 150n * WAD));
    const beyond = compare(baseline, withVault(capital - 150n * WAD - 1n));
    expect([within.vaultLossWithinBudget, targetsMet(within)]).to.deep.equal([true, true]);
    expect([beyond.vaultLossWithinBudget, targetsMet(beyond)]).to.deep.equal([false, false]);
    expect(beyond.figures?.vaultLoss?.candidate).to.equal((150n * WAD + 1n).toString());
    const noVault = compare(baseline, { ...baseline, preset: "protected-no-vault", metrics } as unknown as ReplayRun);
    expect([noVault.vaultLossWithinBudget, targetsMet(noVault)]).to.deep.equal([undefined, true]);
  });

  it("pairs runs into cells by seed, variant, data set and event, and marks each target in the table", function () {
    const p = summary("protected", { maxExtraDrop: pct(1.5), accountsWipedOut: 5 }, vault(0n, 150n * WAD));
    const other = { ...summary("protected"), seed: 2 }; // no baseline of its own: not a cell
    const cells = cellsOf([b, p, other]);
    expect(cells).to.have.length(1);
    expect(keyOf(cells[0].b)).to.equal("1|default|stylised|ftx-2022|baseline");
    const table = markdownTable(cells);
    const row = table.split("\n")[2];
    expect(row).to.contain("3.00% / 1.50%");
    expect(row).to.contain("| 0.50 |");
    expect(row).to.contain("**miss**"); // the drop
    expect(row.match(/\| hold \|/g)).to.have.length(3);
    expect(tally(cells)).to.deep.equal({
      cells: 1,
      noUncoveredBadDebt: 1,
      vaultWithinBudget: 1,
      extraDropAtMostThird: 0,
      fewerWipeouts: 1,
      ok: 0,
    });
  });

  describe("the grid over your own price paths (--paths)", function () {
    let dir: string;
    before(function () {
      dir = mkdtempSync(join(tmpdir(), "sweep-paths-"));
      const csv = (prices: number[]) =>
        ["timestamp,price", ...prices.map((p, k) => `${1735689600 + 60 * k},${p.toFixed(2)}`)].join("\n") + "\n";
      writeFileSync(join(dir, "gap-a.csv"), csv([60000, 60000, 54000, 55000]));
      writeFileSync(join(dir, "slide-b.csv"), csv([60000, 59000, 58000, 57000, 56000]));
    });
    after(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it("makes each file an event of the data set path, over seeds and variants, baseline before protected", function () {
      const files = [join(dir, "gap-a.csv"), join(dir, "slide-b.csv")];
      const jobs = gridJobs({
        seeds: "7,8",
        variants: "default,depth2",
        data: "real", // unused with paths
        events: "all",
        accounts: 12,
        paths: files,
        symbol: "ETH",
      });
      expect(jobs).to.have.length(2 * 2 * 2 * 2);
      expect(jobs.slice(0, 4).map((j) => keyOf(j.key))).to.deep.equal([
        "7|default|path|gap-a|baseline",
        "7|default|path|gap-a|protected",
        "7|default|path|slide-b|baseline",
        "7|default|path|slide-b|protected",
      ]);
      const gap = jobs[1].job;
      expect(gap.paths).to.have.length(1);
      expect(gap.paths[0].symbol).to.equal("ETH");
      expect(gap.paths[0].points.map((p) => p.priceWad)).to.deep.equal(
        [60000n, 60000n, 54000n, 55000n].map((p) => p * WAD),
      );
      expect(gap.params.population.accounts).to.equal(12);
      expect(gap.params.population.seed).to.equal(7);
      const depth2 = jobs.find((j) => j.key.variant === "depth2" && j.key.preset === "protected")!;
      expect(depth2.job.params.impact.depthToMarket).to.equal(2);
      expect(jobs[0].job.params.backstop.enabled).to.equal(false);
      expect(gap.params.backstop.enabled).to.equal(true);
    });

    it("records runs of your own paths under a fingerprint that changes when a file's contents change", function () {
      const file = join(dir, "edited.csv");
      writeFileSync(file, "timestamp,price\n1735689600,60000.00\n1735689660,59000.00\n");
      const before = gridFingerprint("abc", [file]);
      expect(before).to.match(/^[0-9a-f]{16}$/);
      expect(gridFingerprint("abc", [file])).to.equal(before);
      expect(gridFingerprint("abd", [file])).to.not.equal(before); // the code's part
      writeFileSync(file, "timestamp,price\n1735689600,60000.00\n1735689660,58000.00\n");
      expect(gridFingerprint("abc", [file])).to.not.equal(before);
      expect(gridFingerprint("abc")).to.equal("abc"); // the catalogue's grid: the code's own
      expect(gridFingerprint("abc", [])).to.equal("abc");
    });

    it("refuses two files of the same name, a missing file and an unknown variant", function () {
      const a = join(dir, "gap-a.csv");
      expect(pathEventId(join("elsewhere", "gap-a.CSV"))).to.equal("gap-a");
      const opts = { seeds: "1", variants: "default", data: "real", events: "all", accounts: 12 };
      expect(() => gridJobs({ ...opts, paths: [a, a] })).to.throw(/two path files are named gap-a/);
      expect(() => gridJobs({ ...opts, paths: [join(dir, "missing.csv")] })).to.throw();
      expect(() => gridJobs({ ...opts, variants: "depth3", paths: [a] })).to.throw(/unknown variant depth3/);
    });
  });
});
