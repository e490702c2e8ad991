/**
 * The with/without differences over population draws (scripts/monitor/seedCompare.ts): the figures read
 * from `--compare` reports, their signs counted per draw and the mean and range per event.
 */
import { expect } from "chai";

import type { ReplayMetrics } from "../../scripts/replay/result.js";
import {
  type CompareRow,
  drawTable,
  outcomes,
  seedDifferences,
  summaryTable,
} from "../../scripts/monitor/seedCompare.js";

const WAD = 10n ** 18n;

function metrics(dropBps: number, wiped: number, badDebtUsd: number, trancheUsd: number): ReplayMetrics {
  return {
    badDebtIncurred: (BigInt(badDebtUsd) * WAD).toString(),
    badDebtCoveredByInsurance: "0",
    badDebtPaidByBackstopVault: "0",
    badDebtSocialised: "0",
    badDebtUncovered: "0",
    insuranceDrawdown: "0",
    accountsLiquidated: wiped,
    accountsWipedOut: wiped,
    tranches: 0,
    keeperRewardsPaid: "0",
    maxExtraDrop: ((BigInt(dropBps) * WAD) / 10_000n).toString(),
    liquidatedPerWindow: [],
    windowSeconds: 60,
    maxLevel: 0,
    secondsAtLevel: [0, 0, 0, 0, 0],
    liquidatedNotional: (BigInt(trancheUsd) * WAD).toString(),
  };
}

function row(
  event: string,
  without: ReplayMetrics,
  withMonitor: ReplayMetrics | undefined,
  vault: [number, number],
): CompareRow {
  return {
    event,
    without,
    with: withMonitor,
    vaultLoss: { without: (BigInt(vault[0]) * WAD).toString(), with: (BigInt(vault[1]) * WAD).toString() },
    raises: { sent: 2, renewals: 1, refused: 0 },
    result: {
      variants: [
        { name: "plain", lead: { level1: 600, level2: 60 }, calm: { shareAtLevel1: 0.5 } },
        { name: "gate+escalation", lead: { level1: 300, level2: undefined }, calm: { shareAtLevel1: 0.081 } },
      ],
    },
  };
}

describe("Risk monitor: with/without over population draws (seedCompare)", function () {
  it("reads each figure in display units: extra drop in percent, dollars whole, the vault's loss apart", function () {
    const o = outcomes(metrics(78, 6, 3_114, 512_540), (164_018n * WAD + 999n).toString());
    expect(o).to.deep.equal({
      extraDropPct: 0.78,
      wipedOut: 6,
      badDebtUsd: 3_114,
      vaultLossUsd: 164_018,
      trancheNotionalUsd: 512_540,
    });
    // no vault in the run: no loss
    expect(outcomes(metrics(0, 0, 0, 0), undefined).vaultLossUsd).to.equal(0);
  });

  it("per event: the difference with minus without per draw, its mean, range and worse/equal/better counts", function () {
    const reports = [
      {
        draw: "a",
        rows: [
          row("usdc", metrics(78, 0, 0, 1_000), metrics(89, 0, 0, 1_500), [100, 120]),
          row("may", metrics(71, 6, 3_000, 500), metrics(66, 7, 3_200, 300), [200, 300]),
        ],
      },
      {
        draw: "b",
        rows: [
          row("may", metrics(50, 4, 1_000, 400), metrics(50, 3, 900, 400), [250, 240]),
          row("usdc", metrics(80, 1, 10, 2_000), metrics(59, 1, 10, 1_000), [100, 100]),
        ],
      },
      // a report without the acting run adds no draw
      { draw: "c", rows: [row("may", metrics(50, 4, 1_000, 400), undefined, [0, 0])] },
    ];
    const d = seedDifferences(reports);
    expect(d.map((e) => e.event)).to.deep.equal(["usdc", "may"]);
    const [usdc, may] = d;
    expect(usdc.draws.map((x) => x.draw)).to.deep.equal(["a", "b"]);
    const drop = usdc.figures.extraDropPct;
    expect(drop.differences.map((x) => Math.round(x * 100) / 100)).to.deep.equal([0.11, -0.21]);
    expect(drop.worse).to.equal(1);
    expect(drop.better).to.equal(1);
    expect(drop.equal).to.equal(0);
    expect(usdc.figures.trancheNotionalUsd).to.include({ mean: -250, min: -1_000, max: 500 });
    expect(usdc.figures.wipedOut).to.include({ worse: 0, equal: 2, better: 0 });
    expect(may.figures.wipedOut.differences).to.deep.equal([1, -1]);
    expect(may.figures.badDebtUsd).to.include({ mean: 50, min: -100, max: 200, worse: 1, better: 1 });
    expect(may.figures.vaultLossUsd.differences).to.deep.equal([100, -10]);
    // the chosen variant's leads and calm share per draw (undefined lead: never)
    expect(usdc.draws[0]).to.include({ lead1: 300, lead2: null, calmShare: 0.081 });
    expect(seedDifferences(reports, "plain")[0].draws[0]).to.include({ lead1: 600, lead2: 60, calmShare: 0.5 });

    const summary = summaryTable(d);
    expect(summary).to.contain("| usdc | 2 | -0.05 [-0.21, +0.11] 1/0/1 |");
    expect(summary).to.contain("| may | 2 |");
    expect(drawTable(d)).to.contain(
      "| usdc | a | 0.78 / 0 / 0 / 100 / 1,000 | 0.89 / 0 / 0 / 120 / 1,500 | 2 (1, 0) | 5 / never, 8.1% |",
    );
  });

  it("refuses an event twice in one report (a draw would count twice)", function () {
    const r = row("may", metrics(1, 0, 0, 0), metrics(1, 0, 0, 0), [0, 0]);
    expect(() => seedDifferences([{ draw: "a", rows: [r, r] }])).to.throw(/may twice/);
  });
});
