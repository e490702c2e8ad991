/**
 * The outcome targets of the protection, protected against baseline on the same path and the same
 * seeded population, on every historic event, for both data sets:
 *  - the real series (from CRASH_DATA_DIR; `.ci/run` and `scripts/main.sh` set it when
 *    ../shared/data/crashes sits beside the repo), when present;
 *  - the project's stylised scenarios, always (they are what a clone without data replays).
 *
 * Targets:
 *  - protected leaves no bad debt uncovered by the insurance fund (nothing socialised, nothing pending);
 *  - protected causes at most a third of baseline's extra price drop (its own forced flow's impact:
 *    tranches, backstop closes and the backstop vault's unwinds; issue 12);
 *  - protected wipes out fewer accounts than baseline (or none, when baseline wipes out none);
 *  - the backstop vault's loss within its budget: its capital less its lowest equity at the oracle over
 *    the run's steps at most maxDrawdown x capital (scripts/replay/metrics.ts, vaultSummary; issue 12).
 *
 * A target holds or it is listed in PENDING with the reason. A listed target that does not hold is
 * reported pending with its figures (TARGET NOT MET); a listed target that now holds FAILS, so that no
 * event changes status silently (take it off the list); an unlisted target is asserted.
 * REPLAY_ENFORCE_ALL_TARGETS=1 asserts every target, listed or not.
 */
import { existsSync } from "node:fs";

import { expect } from "chai";
import { network } from "hardhat";

import { formatPct, formatUsd } from "../../scripts/replay/decimal.js";
import {
  CRASH_EVENT_IDS,
  type CrashEventId,
  crashEvent,
  loadEvent,
  resolveCrashDataDir,
  stylisedPaths,
} from "../../scripts/replay/data/index.js";
import { runReplay } from "../../scripts/replay/engine.js";
import { type Comparison, compare } from "../../scripts/replay/metrics.js";
import { defaultPopulation, withPopulationOverrides } from "../../scripts/replay/population.js";
import { loadPreset } from "../../scripts/replay/presets.js";
import type { ReplayRun } from "../../scripts/replay/result.js";
import { vaultSummary } from "../../scripts/replay/metrics.js";
import type { PricePath } from "../../scripts/replay/types.js";

/** Small populations keep CI fast; the benchmark and the main job run larger ones. */
const ACCOUNTS = Number(process.env.REPLAY_TEST_ACCOUNTS ?? 60);
const ENFORCE_ALL = process.env.REPLAY_ENFORCE_ALL_TARGETS === "1";

type DataSet = "real" | "stylised";
type Target = "noUncoveredBadDebt" | "extraDropAtMostThird" | "fewerWipeouts" | "vaultLossWithinBudget";

const TARGETS: { key: Target; title: string }[] = [
  { key: "noUncoveredBadDebt", title: "no bad debt left uncovered by the insurance fund" },
  { key: "extraDropAtMostThird", title: "at most a third of baseline's extra price drop" },
  { key: "fewerWipeouts", title: "fewer accounts wiped out than baseline (or none)" },
  { key: "vaultLossWithinBudget", title: "the backstop vault's loss within its budget" },
];

/** Whether a target holds, as `compare()` judged it; the vault's needs the protected run to have had the
 *  vault (it does by preset): with none, `compare()` has nothing to judge and the target does not hold. */
function holds(key: Target, outcome: Comparison): boolean {
  return outcome[key] === true;
}

/**
 * Targets that do not hold today at the test's setting (60 traders, seed 20200312, the keeper
 * service, `protected` with the backstop vault as the first liquidator). The drop, wipe-out and bad-debt
 * targets hold on every event of both data sets (the vault takes over every account below maintenance
 * it can, at the oracle price, with no sale); the vault's loss within its budget holds on every event
 * (issue 12; the figures are in docs/architecture.md, "What the replays show").
 * A target that stops holding fails here; list it with its measured figures and the reason.
 */
const PENDING_REASON = 'listed with its figures in this file; see docs/architecture.md, "Backstop vault"';
const PENDING: Record<DataSet, Partial<Record<CrashEventId, Target[]>>> = {
  // Empty: every target is asserted on all 12 events. Stylised May 2021's vault loss ($302,371 against a
  // $228,776 budget before) holds since the unwind's budget ramps with the vault's loss and sells what is
  // left at maxDrawdown (docs/architecture.md, "Backstop vault", the loss ramp).
  real: {},
  stylised: {},
};

function realDataDir(): string | undefined {
  try {
    const dir = resolveCrashDataDir();
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

const dir = realDataDir();
const dataSets: DataSet[] = dir ? ["real", "stylised"] : ["stylised"];
if (!dir)
  console.warn(
    "      NOTE: CRASH_DATA_DIR is not set (or not a directory): the real-series outcome suite does not run here; " +
      "CI sets CRASH_DATA_DIR and runs it. The stylised suite runs everywhere.",
  );

for (const dataSet of dataSets) {
  const source = dataSet === "real" ? `real series from ${dir}` : "stylised scenarios";
  describe(`Crash replay outcome targets on every event (${source})`, function () {
    this.timeout(600_000);

    for (const event of CRASH_EVENT_IDS) {
      describe(`${crashEvent(event).title} [${event}]`, function () {
        let baseline: ReplayRun;
        let prot: ReplayRun;
        let outcome: Comparison;

        before(async function () {
          const paths: PricePath[] = dataSet === "real" ? loadEvent(event, { dataDir: dir }) : stylisedPaths(event);
          const population = withPopulationOverrides(defaultPopulation(), { accounts: ACCOUNTS });
          const run = async (preset: string) =>
            (await runReplay({ network, event, paths, params: loadPreset(preset), population })).run;
          baseline = await run("baseline");
          prot = await run("protected");
          outcome = compare(baseline, prot);
          const [b, p] = [baseline.metrics, prot.metrics];
          console.log(
            `      ${event}: ${paths.map((x) => `${x.symbol} ${x.stylised ? "stylised" : "real"} (${x.points.length} points)`).join(", ")}; ` +
              `${ACCOUNTS} accounts\n` +
              `        bad debt $${formatUsd(BigInt(b.badDebtIncurred))} / $${formatUsd(BigInt(p.badDebtIncurred))} ` +
              `(uncovered $${formatUsd(BigInt(b.badDebtUncovered))} / $${formatUsd(BigInt(p.badDebtUncovered))}), ` +
              `extra drop ${formatPct(BigInt(b.maxExtraDrop))} / ${formatPct(BigInt(p.maxExtraDrop))}, ` +
              `wiped out ${b.accountsWipedOut} / ${p.accountsWipedOut}, liquidated ${b.accountsLiquidated} / ${p.accountsLiquidated} ` +
              `(baseline / protected)`,
          );
        });

        it("runs both presets on the same path and population", function () {
          expect(prot.paths).to.deep.equal(baseline.paths);
          expect(prot.population).to.deep.equal(baseline.population);
          for (const path of prot.paths) expect(path.stylised, path.symbol).to.equal(dataSet === "stylised");
        });

        it("the comparison agrees with the figures it is made of", function () {
          const [b, p] = [baseline.metrics, prot.metrics];
          expect(outcome.noUncoveredBadDebt).to.equal(
            BigInt(p.badDebtCoveredByInsurance) === BigInt(p.badDebtIncurred),
          );
          expect(outcome.extraDropAtMostHalf).to.equal(2n * BigInt(p.maxExtraDrop) <= BigInt(b.maxExtraDrop));
          expect(outcome.extraDropAtMostThird).to.equal(3n * BigInt(p.maxExtraDrop) <= BigInt(b.maxExtraDrop));
          expect(outcome.fewerWipeouts).to.equal(p.accountsWipedOut === 0 || p.accountsWipedOut < b.accountsWipedOut);
        });

        if (event === "may-2021") {
          // the vault passes its 5% trigger on this path: the keeper's ADL job closes its inventory against
          // the traders' profitable shorts at the oracle (deleverageBackstop), which sells nothing
          it("protected: the keeper deleverages the vault past its trigger (no sale)", function () {
            const stats = prot.stats ?? {};
            expect(Number(stats.backstopDeleveraged ?? 0), JSON.stringify(stats)).to.be.greaterThan(0);
            expect(BigInt(stats.backstopDeleveragedNotional ?? 0)).to.be.greaterThan(0n);
          });
        }

        for (const { key, title } of TARGETS) {
          const pending = (PENDING[dataSet][event] ?? []).includes(key);
          it(`protected: ${title}${pending && !ENFORCE_ALL ? " (listed pending)" : ""}`, function () {
            const figures = describeFigures(key, baseline, prot);
            if (pending && !ENFORCE_ALL) {
              expect(
                holds(key, outcome),
                `${event} (${dataSet}): the target now HOLDS (${figures}); take it off PENDING in this file`,
              ).to.equal(false);
              console.log(`        TARGET NOT MET, reported pending: ${figures}. Why: ${PENDING_REASON}.`);
              this.skip();
            }
            expect(holds(key, outcome), figures).to.equal(true);
          });
        }
      });
    }
  });
}

function describeFigures(key: Target, baseline: ReplayRun, prot: ReplayRun): string {
  const [b, p] = [baseline.metrics, prot.metrics];
  switch (key) {
    case "noUncoveredBadDebt":
      return (
        `protected bad debt $${formatUsd(BigInt(p.badDebtIncurred))}, covered by the fund ` +
        `$${formatUsd(BigInt(p.badDebtCoveredByInsurance))}, socialised $${formatUsd(BigInt(p.badDebtSocialised))}, ` +
        `uncovered $${formatUsd(BigInt(p.badDebtUncovered))}`
      );
    case "extraDropAtMostThird":
      return `extra drop protected ${formatPct(BigInt(p.maxExtraDrop))} vs baseline ${formatPct(BigInt(b.maxExtraDrop))}`;
    case "fewerWipeouts":
      return `accounts wiped out protected ${p.accountsWipedOut} vs baseline ${b.accountsWipedOut}`;
    case "vaultLossWithinBudget": {
      const v = vaultSummary(prot);
      return v
        ? `the vault's worst loss $${formatUsd(BigInt(v.maxLoss))} against its budget $${formatUsd(BigInt(v.budget))}`
        : "the protected run has no backstop vault";
    }
  }
}
