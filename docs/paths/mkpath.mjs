// node mkpath.mjs <seed> <crashStartMin> <crashMinutes> <crashFraction> <recoverMinutes> <recoverShare>
// 6 hours of one-minute BTC points from $60,000; Gaussian noise 0.07% a minute (xorshift32 + Box-Muller);
// the crash: log-linear fall of crashFraction over crashMinutes after crashStartMin, then recoverShare of it
// back (log-linear) over recoverMinutes.
const [seed, start, len, frac, rec, share] = process.argv.slice(2).map(Number);
let x = seed >>> 0 || 1;
const u = () => {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return (x + 0.5) / 4294967296;
};
const g = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
const t0 = 1735689600;
let lp = Math.log(60000);
const low = Math.log(1 - frac),
  back = Math.log(1 - frac * (1 - share));
const rows = ["timestamp,price"];
for (let i = 0; i <= 360; i++) {
  if (i > 0) {
    let d = 0;
    if (i > start && i <= start + len) d = low / len;
    else if (i > start + len && i <= start + len + rec) d = (back - low) / rec;
    lp += d + 0.0007 * g();
  }
  rows.push(`${t0 + 60 * i},${Math.exp(lp).toFixed(2)}`);
}
console.log(rows.join("\n"));
