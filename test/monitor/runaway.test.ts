/**
 * What the cascade calls a runaway (cascade.ts `RunawayTest`), on synthetic one-market books: no chain.
 * "amplification" lets a local cluster whose sales add at least the shock count as a runaway, which makes
 * a cascade's criticality depend on the shock in a way that is not monotone, so the critical shock's grid
 * can step over a runaway window; "divergence" counts only the loop reaching the impact cap, and with bad
 * debt beyond the fund the criticality is monotone in the shock, so the grid and bisection find the
 * smallest critical shock to 1 bp. Both are checked against a scan of every basis point.
 */
import { expect } from "chai";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";
import { mulberry32 } from "../../scripts/lib/random.js";
import {
  type CascadeMarket,
  type CascadeOptions,
  cascade,
  cascadeCurve,
  criticalShock,
} from "../../scripts/monitor/cascade.js";
import type { ThresholdTable } from "../../scripts/monitor/ladder.js";
import { resolveMonitorConfig } from "../../scripts/monitor/config.js";
import { DEFAULT_FORECAST_SETTINGS } from "../../scripts/monitor/forecast.js";

const BP = WAD / 10_000n;
const PRICE = 100n * WAD;
const market: CascadeMarket[] = [{ id: 0, price: PRICE, depthWad: 1_000_000n * WAD }];

type Long = { units: bigint; liq: bigint; bankrupt: bigint };

/** A book of longs at $100, each liquidated at the move `liq` and bankrupt at `bankrupt` (both WAD). */
function table(longs: Long[]): ThresholdTable {
  const byLiq = [...longs].sort((a, b) => (a.liq < b.liq ? -1 : a.liq > b.liq ? 1 : 0));
  const byBankrupt = [...longs].sort((a, b) => (a.bankrupt < b.bankrupt ? -1 : a.bankrupt > b.bankrupt ? 1 : 0));
  const prefix = (xs: bigint[]) => xs.reduce<bigint[]>((acc, x) => [...acc, acc[acc.length - 1] + x], [0n]);
  // equity at k: units * price * (k - (1 - bankrupt)), as a + k * b / WAD with a, b in WAD^2
  return {
    direction: "down",
    moves: byLiq.map((l) => l.liq),
    sizePrefix: new Map([[0, prefix(byLiq.map((l) => l.units))]]),
    notionalPrefix: new Map([[0, prefix(byLiq.map((l) => (l.units * PRICE) / WAD))]]),
    bankruptMoves: byBankrupt.map((l) => l.bankrupt),
    aPrefix: prefix(byBankrupt.map((l) => (-l.units * PRICE * (WAD - l.bankrupt)) / WAD)),
    bPrefix: prefix(byBankrupt.map((l) => l.units * PRICE)),
  };
}

const pct = (x: number) => BigInt(Math.round(x * 100)) * BP;
const units = (n: number) => BigInt(n) * WAD;

/** The smallest shock on a 1 bp scan up to `maxBps` whose cascade is critical; undefined when none. */
function scanCritical(t: ThresholdTable, opts: CascadeOptions, maxBps: number): bigint | undefined {
  for (let bps = 0; bps <= maxBps; bps++) {
    const s = BigInt(bps) * BP;
    if (cascade(t, market, s, opts).critical) return s;
  }
  return undefined;
}

describe("Risk monitor: what counts as a runaway (amplification or divergence)", function () {
  const rich = { insuranceWad: 10n ** 12n * WAD };

  it("a cluster whose sales double the shock is a runaway by amplification, a wave by divergence", function () {
    // the shock of 1% liquidates the first account; its sale (10% of the depth) the second, whose sale the third
    const t = table([
      { units: units(1_000), liq: pct(0.5), bankrupt: pct(40) },
      { units: units(1_000), liq: pct(8), bankrupt: pct(40) },
      { units: units(1_000), liq: pct(15), bankrupt: pct(40) },
    ]);
    const amp = cascade(t, market, pct(1), { ...rich, runaway: "amplification" });
    const div = cascade(t, market, pct(1), { ...rich, runaway: "divergence" });
    expect([amp.runaway, amp.critical]).to.deep.equal([true, true]);
    // the same fixed point: only the name of it differs
    expect([div.total, div.accounts, div.liquidatedNotional]).to.deep.equal([
      amp.total,
      amp.accounts,
      amp.liquidatedNotional,
    ]);
    expect([div.runaway, div.critical]).to.deep.equal([false, false]);
    // absent is divergence, the default since the eighteenth round
    expect(cascade(t, market, pct(1), rich).runaway).to.equal(false);
  });

  it("divergence still calls the loop that reaches the impact cap a runaway, and bad debt beyond the fund critical", function () {
    // 10,000 units at $100 is the whole depth: its sale alone reaches the cap (90%)
    const t = table([
      { units: units(10_000), liq: pct(2), bankrupt: pct(10) },
      { units: units(100), liq: pct(50), bankrupt: pct(60) },
    ]);
    const r = cascade(t, market, pct(3), { ...rich, runaway: "divergence" });
    expect(r.runaway).to.equal(true);
    expect(r.critical).to.equal(true);
    // far from the cap, bankrupt accounts beyond a small fund are critical under divergence too
    const small = table([{ units: units(10), liq: pct(5), bankrupt: pct(8) }]);
    const noFund = cascade(small, market, pct(20), { insuranceWad: 0n, runaway: "divergence" });
    expect(noFund.runaway).to.equal(false);
    expect(noFund.badDebt > 0n).to.equal(true);
    expect(noFund.critical).to.equal(true);
    expect(cascade(small, market, pct(20), { insuranceWad: noFund.badDebt, runaway: "divergence" }).critical).to.equal(
      false,
    );
  });

  it("amplification's runaway window can fall between the grid's points; the scan finds it, the grid does not", function () {
    // a cluster reached at 1.2% whose sales add about 1.5%: a runaway for shocks in [1.2%, ~1.5%], not at 1% or 2%
    const t = table([
      { units: units(50), liq: pct(1.2), bankrupt: pct(40) },
      ...Array.from({ length: 10 }, (_, i) => ({ units: units(150), liq: pct(1.5 + i * 0.1), bankrupt: pct(40) })),
    ]);
    const opts: CascadeOptions = { ...rich, runaway: "amplification" };
    const scanned = scanCritical(t, opts, 5_000);
    expect(scanned === undefined, "the scan finds the window").to.equal(false);
    expect(scanned! < pct(2)).to.equal(true);
    const gridded = criticalShock(t, market, cascadeCurve(t, market, opts), opts);
    expect(gridded === undefined || gridded > pct(2), "the 1% grid steps over it").to.equal(true);
  });

  it("under divergence, criticality is monotone in the shock and the grid's critical shock is the 1 bp scan's to within 1 bp", function () {
    this.timeout(60_000);
    const rand = mulberry32(20261207);
    const draw = (lo: number, hi: number) => lo + (hi - lo) * rand();
    let critical = 0;
    for (let trial = 0; trial < 40; trial++) {
      const longs: Long[] = Array.from({ length: 3 + Math.floor(draw(0, 25)) }, () => {
        const liq = draw(0, 30);
        return { units: units(Math.floor(draw(10, 200))), liq: pct(liq), bankrupt: pct(liq + draw(0.5, 10)) };
      });
      const t = table(longs);
      const opts: CascadeOptions = { insuranceWad: BigInt(Math.floor(draw(0, 300_000))) * WAD, runaway: "divergence" };
      const curve = cascadeCurve(t, market, opts);
      const first = curve.findIndex((r) => r.critical);
      if (first >= 0)
        expect(
          curve.slice(first).every((r) => r.critical),
          `trial ${trial}: monotone`,
        ).to.equal(true);
      const scanned = scanCritical(t, opts, 5_000);
      const gridded = criticalShock(t, market, curve, opts);
      expect(gridded === undefined, `trial ${trial}: found by both or by neither`).to.equal(scanned === undefined);
      if (scanned === undefined || gridded === undefined) continue;
      critical++;
      // both lie within 1 bp above the true boundary (the scan on whole bps, the bisection anywhere)
      const gap = gridded > scanned ? gridded - scanned : scanned - gridded;
      expect(gap < BP, `trial ${trial}: ${gridded} against ${scanned}`).to.equal(true);
      expect(cascade(t, market, gridded, opts).critical).to.equal(true);
      expect(gridded === 0n || !cascade(t, market, gridded - BP, opts).critical).to.equal(true);
    }
    // the draw must exercise both outcomes
    expect(critical).to.be.within(5, 35);
  });

  it("is a forecast setting and a service setting, divergence by default; anything else is refused", function () {
    expect(DEFAULT_FORECAST_SETTINGS.runaway).to.equal("divergence");
    const rpcUrl = "http://127.0.0.1:9350";
    expect(resolveMonitorConfig({ flags: { rpcUrl }, env: {} }).runaway).to.equal("divergence");
    expect(resolveMonitorConfig({ flags: { rpcUrl, runaway: "amplification" }, env: {} }).runaway).to.equal(
      "amplification",
    );
    expect(resolveMonitorConfig({ flags: { rpcUrl }, env: { MONITOR_RUNAWAY: "amplification" } }).runaway).to.equal(
      "amplification",
    );
    expect(() => resolveMonitorConfig({ flags: { rpcUrl, runaway: "cap" }, env: {} })).to.throw(/runaway/);
  });
});
