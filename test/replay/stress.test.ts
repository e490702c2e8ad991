/**
 * A stress case beyond the historic events: a SYNTHETIC crash written in this file (not historic
 * data), harsher than any replayed event (-40% over 100 minutes, then half back), protected against
 * baseline on the same path and population.
 *
 * The outcome targets themselves are asserted on every event's real-data replay
 * (test/replay/outcomes.test.ts). On this synthetic path two of them are NOT met today (protected
 * cuts the extra price drop by about a tenth, not a half, and may wipe out more accounts: backstop
 * closes bypass the capacity cap and 30 s cooldowns lag a fast-falling oracle; see the note and
 * docs/experiments.md, "Crash replays before the backstop vault"). This file prints the comparison and asserts what does hold here; it does not
 * assert the unmet targets, and it does not hide them either: they are printed below the table.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { formatPct, formatUsd } from "../../scripts/replay/decimal.js";
import { runReplay } from "../../scripts/replay/engine.js";
import { compare } from "../../scripts/replay/metrics.js";
import { loadPreset } from "../../scripts/replay/presets.js";
import type { ReplayRun } from "../../scripts/replay/result.js";
import { syntheticCrashFixture } from "../helpers/syntheticCrash.js";

describe("Crash replay stress case (synthetic path, not historic data)", function () {
  this.timeout(300_000);
  const path = syntheticCrashFixture();
  let baseline: ReplayRun;
  let prot: ReplayRun;

  before(async function () {
    const run = async (name: string) =>
      (await runReplay({ network, event: "synthetic", paths: [path], params: loadPreset(name) })).run;
    baseline = await run("baseline");
    prot = await run("protected");
    const b = baseline.metrics;
    const p = prot.metrics;
    const row = (label: string, f: (m: typeof b) => string) =>
      `      ${label.padEnd(30)} ${f(b).padStart(14)} ${f(p).padStart(14)}`;
    console.log(
      [
        `\n      synthetic crash, ${prot.population.accounts} accounts, seed ${prot.population.seed}     baseline      protected`,
        row("bad debt incurred ($)", (m) => formatUsd(BigInt(m.badDebtIncurred))),
        row("  covered by insurance ($)", (m) => formatUsd(BigInt(m.badDebtCoveredByInsurance))),
        row("  socialised by ADL ($)", (m) => formatUsd(BigInt(m.badDebtSocialised))),
        row("  uncovered ($)", (m) => formatUsd(BigInt(m.badDebtUncovered))),
        row("extra price drop (max)", (m) => formatPct(BigInt(m.maxExtraDrop))),
        row("accounts liquidated", (m) => String(m.accountsLiquidated)),
        row("accounts wiped out", (m) => String(m.accountsWipedOut)),
        row("liquidated notional ($)", (m) => formatUsd(BigInt(m.liquidatedNotional!))),
        row("insurance drawdown ($)", (m) => formatUsd(BigInt(m.insuranceDrawdown))),
      ].join("\n"),
    );
  });

  it("runs both presets on the same path and population", function () {
    expect(prot.paths).to.deep.equal(baseline.paths);
    expect(prot.population).to.deep.equal(baseline.population);
    expect(baseline.metrics.accountsLiquidated, "the crash must bite in the baseline").to.be.greaterThan(0);
  });

  it("protected: no bad debt left uncovered by the insurance fund", function () {
    const m = prot.metrics;
    expect(BigInt(m.badDebtSocialised), "socialised through ADL").to.equal(0n);
    expect(BigInt(m.badDebtUncovered), "pending, covered by no one").to.equal(0n);
    expect(BigInt(m.badDebtCoveredByInsurance)).to.equal(BigInt(m.badDebtIncurred));
    expect(compare(baseline, prot).noUncoveredBadDebt).to.equal(true);
  });

  it("reports where the targets stand on this path (printed, not asserted: see the header)", function () {
    const c = compare(baseline, prot);
    console.log(
      `      targets on the synthetic stress path: no uncovered bad debt ${c.noUncoveredBadDebt ? "met" : "NOT MET"}; ` +
        `extra drop <= half ${c.extraDropAtMostHalf ? "met" : "NOT MET"}; fewer wipe-outs ${c.fewerWipeouts ? "met" : "NOT MET"}`,
    );
    // what is asserted: the run bit in both presets and the protection did not make the drop worse
    expect(BigInt(prot.metrics.maxExtraDrop)).to.be.lessThanOrEqual(BigInt(baseline.metrics.maxExtraDrop));
  });
});
