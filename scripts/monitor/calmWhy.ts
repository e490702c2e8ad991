/**
 * Why a replay's calm stretch alarms, from a backtest dump (`BACKTEST_DUMP=<prefix> backtestCli.ts ...`)
 * and its report: at each calm step the forecast is computed again on the step's book and the history seen
 * so far, and the rules' inputs are taken apart (docs/experiments.md, "Risk monitor", "Why the USDC depeg's
 * calm alarms"):
 *
 * - every market's oracle price and sigma (the forecast's volatility is the largest market sigma);
 * - the critical and wave shocks of the worst direction, and which market's accounts the cascade at the
 *   wave shock liquidates (notional and accounts per market, at the fixed point);
 * - the historic sample (shocks, median step) and its largest standardised shocks with their times;
 * - per calm hour (from the first step of each clock hour): the predicted P(critical within 1 h) and
 *   P(wave within 1 h) of the worst direction, and whether the reference path (the first market's oracle,
 *   what the calibration reads) and each market's own path reached the shock within the hour.
 *
 *   npx tsx scripts/monitor/calmWhy.ts <dump.v8> <report.json> [event] [--every <n>]
 *
 * `--every n` prints every n-th calm step besides the steps whose recorded level is >= 1 (default 15).
 */
import { readFileSync } from "node:fs";
import { deserialize } from "node:v8";

import { WAD } from "../lib/math/fixedPoint.js";
import { cascade } from "./cascade.js";
import type { MonitorState } from "./exposure.js";
import { DEFAULT_FORECAST_SETTINGS, cascadeMarkets, forecast } from "./forecast.js";
import { countAtMost } from "./ladder.js";
import { type PricePoint, standardisedShocks } from "./stats.js";

type Dump = {
  observations: { t: number; oraclePrice: number; state: MonitorState; reference?: number }[];
  /** every feed's rounds by market id (each observation's `reference` is the one its forecast read) */
  histories?: Map<number, PricePoint[]>;
  /** an older dump's one history (the first market's rounds) */
  history?: PricePoint[];
};
type Report = {
  rows: { event: string; result: { waveStart?: number; series: { t: number; level: number }[] } }[];
};

const pct = (x: number, d = 2) => `${(x * 100).toFixed(d)}%`;
const hhmm = (t: number) => new Date(t * 1000).toISOString().slice(5, 16);
const usd = (x: bigint) => `$${(Number(x / 10n ** 14n) / 1e4 / 1e3).toFixed(0)}k`;

function main(): void {
  const args = process.argv.slice(2);
  const [dumpFile, reportFile, only] = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--every");
  if (!dumpFile || !reportFile) throw new Error("usage: calmWhy.ts <dump.v8> <report.json> [event] [--every n]");
  const every = Number(args[args.indexOf("--every") + 1] ?? 15) || 15;
  const dump = deserialize(readFileSync(dumpFile)) as Dump;
  const report = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
  const row = report.rows.find((r) => only === undefined || r.event === only)!;
  const waveStart = row.result.waveStart!;
  const calmEnd = waveStart - 3_600;
  const level = new Map(row.result.series.map((s) => [s.t, s.level]));
  const obs = dump.observations;
  // each market's own oracle price per step, for the paths' outcomes
  const marketPrice = (o: (typeof obs)[number], id: number) =>
    Number(o.state.markets.find((m) => m.id === id)!.snapshot.price) / 1e18;
  const ids = obs[0].state.markets.map((m) => m.id);
  const symbols = new Map(obs[0].state.markets.map((m) => [m.id, m.symbol]));
  console.log(`${row.event}: wave ${hhmm(waveStart)}, calm until ${hhmm(calmEnd)}, ${obs.length} steps`);

  type Hour = { t: number; p1h: number; w1h: number; crit?: number; wave?: number; dir: string; i: number };
  const hours: Hour[] = [];
  let lastHour = -1;
  let n = 0;
  for (let i = 0; i < obs.length; i++) {
    const o = obs[i];
    if (o.t >= calmEnd) break;
    const lv = level.get(o.t) ?? 0;
    const hourKey = Math.floor(o.t / 3_600);
    const newHour = hourKey !== lastHour;
    const show = lv >= 1 || n++ % every === 0 || newHour;
    if (!show) continue;
    const all =
      o.reference !== undefined && dump.histories ? (dump.histories.get(o.reference) ?? []) : (dump.history ?? []);
    const history = all.filter((h) => h.t <= o.t);
    const { forecast: f, tables } = forecast(o.state, history, DEFAULT_FORECAST_SETTINGS);
    const d = f.worst.direction;
    const x = f[d];
    const h1 = x.horizons.find((h) => h.horizonSeconds === 3_600)!;
    const w1 = x.waveHorizons.find((h) => h.horizonSeconds === 3_600)!;
    if (newHour) {
      lastHour = hourKey;
      hours.push({
        t: o.t,
        i,
        dir: d,
        p1h: x.criticalShock === undefined ? 0 : h1.probability,
        w1h: x.waveShock === undefined ? 0 : w1.probability,
        crit: x.criticalShock === undefined ? undefined : Number(x.criticalShock) / 1e18,
        wave: x.waveShock === undefined ? undefined : Number(x.waveShock) / 1e18,
      });
    }
    const sig = f.markets
      .map((m) => `${m.symbol} ${m.sigma.toFixed(3)}@${(Number(m.price) / 1e18).toFixed(4)}`)
      .join(" ");
    let split = "";
    if (x.waveShock !== undefined) {
      const markets = cascadeMarkets(o.state, DEFAULT_FORECAST_SETTINGS.depthBps);
      const r = cascade(tables[d], markets, x.waveShock, {
        maxImpactWad: DEFAULT_FORECAST_SETTINGS.maxImpactWad,
        insuranceWad: o.state.insuranceWad,
      });
      const k = countAtMost(tables[d].moves, r.total);
      split = ids
        .map((id) => {
          const notional = tables[d].notionalPrefix.get(id)?.[k] ?? 0n;
          return `${symbols.get(id)} ${usd(notional)}`;
        })
        .join(" ");
      split += ` (${k} accts, total ${pct(Number(r.total) / 1e18)})`;
    }
    const s = standardisedShocks(history);
    const big = s.z
      .map((z, j) => ({ z, j }))
      .sort((a, b) => Math.abs(b.z) - Math.abs(a.z))
      .slice(0, 3)
      .map(({ z, j }) => `${z.toFixed(1)}@${hhmm(history[j + 1].t).slice(6)}`)
      .join(" ");
    console.log(
      `${hhmm(o.t)} L${lv} ref ${o.reference === undefined ? "first" : symbols.get(o.reference)} ${d} crit ${x.criticalShock === undefined ? "none" : pct(Number(x.criticalShock) / 1e18)} (${h1.distance.toFixed(2)} sh, P1h ${pct(h1.probability)} hist ${h1.historic === undefined ? "-" : pct(h1.historic)} t ${pct(h1.studentT)} nu ${h1.nu.toFixed(1)})` +
        ` wave ${x.waveShock === undefined ? "none" : pct(Number(x.waveShock) / 1e18)} (${w1.distance.toFixed(2)} sh, W1h ${pct(w1.probability)}) | ${sig} | wave liquidates ${split} | z ${s.z.length}/${s.stepSeconds}s top ${big}`,
    );
  }
  // per calm hour: predicted vs what the paths did within the hour
  console.log(
    "\nper calm hour (worst direction): P(critical 1 h), P(wave 1 h), reached by the reference path / each market's path",
  );
  let expectCrit = 0;
  let expectWave = 0;
  let noneCrit = 1;
  let noneWave = 1;
  for (const h of hours) {
    const reach = (shock: number | undefined, price: (j: number) => number) => {
      if (shock === undefined) return "-";
      const p0 = price(h.i);
      let extreme = 0;
      for (let j = h.i + 1; j < obs.length && obs[j].t <= h.t + 3_600; j++) {
        const m = h.dir === "down" ? 1 - price(j) / p0 : price(j) / p0 - 1;
        if (m > extreme) extreme = m;
      }
      return `${extreme >= shock ? "YES" : "no"} (max ${pct(extreme)})`;
    };
    const ref = (j: number) => obs[j].oraclePrice;
    const per = ids.map((id) => `${symbols.get(id)} ${reach(h.wave, (j) => marketPrice(obs[j], id))}`).join(", ");
    console.log(
      `${hhmm(h.t)} ${h.dir} P1h ${pct(h.p1h)} W1h ${pct(h.w1h)} crit ${h.crit === undefined ? "none" : pct(h.crit)} wave ${h.wave === undefined ? "none" : pct(h.wave)} | crit by ref ${reach(h.crit, ref)} | wave by ref ${reach(h.wave, ref)}; by market ${per}`,
    );
    expectCrit += h.p1h;
    expectWave += h.w1h;
    noneCrit *= 1 - h.p1h;
    noneWave *= 1 - h.w1h;
  }
  console.log(
    `${hours.length} calm hours: expected hits critical ${expectCrit.toFixed(2)} (P(none) ${pct(noneCrit)}), wave ${expectWave.toFixed(2)} (P(none) ${pct(noneWave)})`,
  );
  void WAD;
}

main();
