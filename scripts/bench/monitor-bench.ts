/**
 * The monitor's speed: a full forecast (ladder both ways, cascade curves, critical shocks, depth
 * sensitivity, probabilities, inputs hash) for 10,000 accounts over every default market, on a
 * seeded synthetic book. Prints figures; the target (under 1 s) is read from them, not asserted.
 *
 *   npm run bench:monitor [-- --accounts 10000 --runs 5]
 */
import { availableParallelism, loadavg } from "node:os";

import { forecast } from "../monitor/forecast.js";
import { syntheticState } from "../monitor/syntheticBook.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const accounts = arg("accounts", 10_000);
const runs = arg("runs", 5);
const state = syntheticState(accounts, 7);
const history = Array.from({ length: 2_000 }, (_, i) => ({
  t: i * 60,
  price: 2_000 * Math.exp(0.002 * Math.sin(i) + (i % 89 === 0 ? -0.02 : 0)),
}));
const times: number[] = [];
const cpu: number[] = [];
let last;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  last = forecast(state, history).forecast;
  const c = process.cpuUsage(c0);
  times.push(performance.now() - t0);
  cpu.push((c.user + c.system) / 1_000);
}
times.sort((a, b) => a - b);
cpu.sort((a, b) => a - b);
const f = last!;
const positions = state.accounts.reduce((s, a) => s + a.positions.size, 0);
console.log(
  `monitor forecast: ${accounts} accounts, ${positions} positions, ${state.markets.length} markets (${state.markets.map((m) => m.symbol).join(", ")})`,
);
console.log(
  `  runs ${runs}: min ${times[0].toFixed(0)} ms, median ${times[times.length >> 1].toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms (first run includes JIT warm-up)`,
);
console.log(
  `  CPU time (user + system, this process): min ${cpu[0].toFixed(0)} ms, median ${cpu[cpu.length >> 1].toFixed(0)} ms, max ${cpu[cpu.length - 1].toFixed(0)} ms; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`,
);
console.log(
  `  ladder grid ${f.ladder.movesBps.length} points x 2 directions; mirror checks near the boundary: ${f.ladder.mirrorChecks}`,
);
console.log(
  `  cascade curve ${f.down.curve.length} shocks x 2 directions; depth sensitivity ${f.depthSensitivity.length} depths`,
);
const pct = (x: bigint | undefined) => (x === undefined ? "none <= 50%" : `${(Number(x) / 1e16).toFixed(2)}%`);
console.log(
  `  critical shock: down ${pct(f.down.criticalShock)}, up ${pct(f.up.criticalShock)}; P(1 h) worst ${f.worst.probability1h.toExponential(2)}`,
);
console.log(
  `  target: under 1000 ms -> wall ${times[times.length >> 1] < 1000 ? "met" : "NOT met"}, CPU ${cpu[cpu.length >> 1] < 1000 ? "met" : "NOT met"} (medians)`,
);
