// The monitor's dashboard: reads /api/forecast and /api/history, follows /api/events. Amounts arrive as
// WAD decimal strings and are shown with the same formatting everywhere (fmtUsd, fmtPct).
"use strict";

const WAD = 10n ** 18n;
const $ = (id) => document.getElementById(id);
const fmtUsd = (wad) => (Number(BigInt(wad) / 10n ** 14n) / 1e4).toFixed(2);
const fmtPct = (wad) => (wad === undefined || wad === null ? "none" : (Number(BigInt(wad)) / 1e16).toFixed(2) + "%");
const fmtP = (p) => (p * 100).toFixed(3) + "%";
const fmtNum = (x, dp) => (x === null || x === undefined || !Number.isFinite(x) ? "∞" : x.toFixed(dp));

let cascadeChart;
let historyChart;

async function getJson(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function drawLadder(f) {
  const canvas = $("ladder");
  const ctx = canvas.getContext("2d");
  const rows = [];
  for (const d of ["down", "up"])
    for (const r of f.ladder[d].rows)
      rows.push({ label: (d === "down" ? "↓ " : "↑ ") + r.symbol + " " + r.side, points: r.points });
  const moves = f.ladder.movesBps;
  const left = 110;
  const top = 8;
  const bottom = 22;
  const h = Math.max(14, Math.floor((canvas.height - top - bottom) / Math.max(1, rows.length)));
  canvas.height = top + bottom + h * Math.max(1, rows.length);
  const w = (canvas.width - left - 10) / moves.length;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  // each cell: the notional that becomes liquidatable within that step (the ladder's increment),
  // shaded by its square root against the largest cell, so a cluster of liquidation prices stands out
  const cells = rows.map((r) =>
    r.points.map(
      (p, j) => Number(BigInt(p.notional) / WAD) - (j > 0 ? Number(BigInt(r.points[j - 1].notional) / WAD) : 0),
    ),
  );
  let max = 0;
  for (const row of cells) for (const v of row) max = Math.max(max, v);
  ctx.font = "11px sans-serif";
  rows.forEach((r, i) => {
    ctx.fillStyle = "#1d2330";
    ctx.fillText(r.label, 4, top + i * h + h * 0.7);
    cells[i].forEach((v, j) => {
      const a = max > 0 && v > 0 ? 0.06 + 0.94 * Math.sqrt(v / max) : 0;
      ctx.fillStyle = a > 0 ? `rgba(198, 40, 40, ${a.toFixed(3)})` : "#eef0f4";
      ctx.fillRect(left + j * w, top + i * h, Math.ceil(w), h - 1);
    });
  });
  ctx.fillStyle = "#5a6275";
  for (let j = 0; j < moves.length; j += Math.ceil(moves.length / 10))
    ctx.fillText(moves[j] / 100 + "%", left + j * w, canvas.height - 6);
}

function drawCascade(f) {
  const xs = f.down.curve.map((r) => Number(BigInt(r.shock)) / 1e16);
  const down = f.down.curve.map((r) => Number(BigInt(r.total)) / 1e16);
  const up = f.up.curve.map((r) => Number(BigInt(r.total)) / 1e16);
  const data = [xs, xs.slice(), down, up];
  const el = $("cascade");
  if (cascadeChart) {
    cascadeChart.setData(data);
    return;
  }
  cascadeChart = new uPlot(
    {
      width: el.clientWidth || 520,
      height: 240,
      scales: { x: { time: false } },
      axes: [{ label: "shock %" }, { label: "total move %" }],
      series: [
        {},
        { label: "no cascade", stroke: "#9aa3b5", dash: [4, 4] },
        { label: "down", stroke: "#c62828", width: 2 },
        { label: "up", stroke: "#1565c0", width: 2 },
      ],
    },
    data,
    el,
  );
}

function drawHistory(h) {
  const data = [
    h.map((p) => p.t),
    h.map((p) => (Number.isFinite(p.distance1h) ? p.distance1h : null)),
    h.map((p) => p.p1h * 100),
    h.map((p) => p.level),
  ];
  const el = $("history");
  if (historyChart) {
    historyChart.setData(data);
    return;
  }
  historyChart = new uPlot(
    {
      width: el.clientWidth || 520,
      height: 240,
      scales: { p: { auto: true } },
      axes: [{}, { label: "distance σ (1 h)" }, { scale: "p", side: 1, label: "P(1 h) % · level" }],
      series: [
        {},
        { label: "distance 1 h", stroke: "#1d2330", width: 2 },
        { label: "P(1 h) %", stroke: "#e07b00", scale: "p", width: 2 },
        { label: "level", stroke: "#c62828", scale: "p", paths: uPlot.paths.stepped({ align: 1 }) },
      ],
    },
    data,
    el,
  );
}

function show(body) {
  const f = body.forecast;
  const d = body.decision;
  $("block").textContent = f.blockNumber;
  $("reference").textContent = f.inputsHash.slice(0, 18) + "…";
  $("level").textContent = d.level;
  $("level-card").className = "card level l" + d.level;
  $("level-reason").textContent = d.reason;
  $("actions").textContent = (body.actions || [])
    .map((a) => a.kind + " market " + a.marketId + (a.level !== undefined ? " → " + a.level : ""))
    .join(" · ");
  $("critical-down").textContent = fmtPct(f.down.criticalShock);
  $("critical-up").textContent = fmtPct(f.up.criticalShock);
  $("wave-down").textContent = fmtPct(f.down.waveShock);
  $("wave-up").textContent = fmtPct(f.up.waveShock);
  $("distance-1h").textContent = fmtNum(f.worst.distance1h, 2);
  $("p-15m").textContent = fmtP(d.p15m);
  $("p-1h").textContent = fmtP(d.p1h);
  $("p-24h").textContent = fmtP(d.p24h);
  // the worst direction's probabilities of reaching its critical shock (0 when none up to the grid's end)
  const w = f[f.worst.direction];
  const model = w.horizons.length ? w.horizons[0].model : "end";
  $("p-model").textContent =
    model === "reach"
      ? "the probability of reaching the critical shock within the horizon"
      : "the probability of being past the critical shock at the horizon's end";
  const reach = (s) => {
    const h = w.reachHorizons.find((x) => x.horizonSeconds === s);
    return w.criticalShock === undefined || w.criticalShock === null || !h ? 0 : h.probability;
  };
  $("reach-15m").textContent = fmtP(reach(900));
  $("reach-1h").textContent = fmtP(reach(3600));
  $("reach-24h").textContent = fmtP(reach(86400));
  $("worst").textContent = f.worst.direction;
  $("insurance").textContent = fmtUsd(f.insurance.coverableWad);
  $("coverage").textContent =
    f.insurance.coverageAt10pct === undefined || f.insurance.coverageAt10pct === null
      ? "no bad debt"
      : f.insurance.coverageAt10pct.toFixed(2) + "x";
  $("baddebt10").textContent = fmtUsd(f.insurance.badDebtAt10pct);
  const i = f.indicators;
  $("ind-now").textContent = fmtUsd(i.liquidatableNow);
  $("ind-down5").textContent = fmtUsd(i.down5);
  $("ind-down10").textContent = fmtUsd(i.down10);
  $("ind-up5").textContent = fmtUsd(i.up5);
  $("ind-up10").textContent = fmtUsd(i.up10);
  $("accounts").textContent = f.accountsWithPositions;
  $("sigma").textContent = (i.sigmaMax * 100).toFixed(1) + "%";
  $("depth").innerHTML =
    "<tr><th>depth</th><th>down</th><th>up</th></tr>" +
    f.depthSensitivity
      .map(
        (s) => `<tr><td>${(s.depthBps / 100).toFixed(0)}%</td><td>${fmtPct(s.down)}</td><td>${fmtPct(s.up)}</td></tr>`,
      )
      .join("");
  $("depeg").innerHTML =
    "<tr><th>depeg</th><th>liquidatable</th><th>bad debt</th><th>fund</th><th>critical down</th><th>up</th></tr>" +
    (f.collateral || [])
      .map(
        (c) =>
          `<tr><td>${(c.depegBps / 100).toFixed(0)}%</td><td>${fmtUsd(c.liquidatableNow)}</td><td>${fmtUsd(c.badDebtNow)}</td><td>${fmtUsd(c.coverableWad)}</td><td>${fmtPct(c.criticalDown)}</td><td>${fmtPct(c.criticalUp)}</td></tr>`,
      )
      .join("");
  const unpriced = f.unpriced || [];
  $("unpriced-card").hidden = unpriced.length === 0;
  $("unpriced").innerHTML =
    "<tr><th>market</th><th>why</th><th>accounts left out</th></tr>" +
    unpriced
      .map((u) => `<tr><td>${u.symbol} (${u.id})</td><td>${u.reason}</td><td>${u.accountsLeftOut}</td></tr>`)
      .join("");
  drawLadder(f);
  drawCascade(f);
}

function showLab(lab) {
  if (!lab || !lab.results) {
    $("lab").innerHTML = "<tr><td>no scenarios loaded</td></tr>";
    return;
  }
  $("lab").innerHTML =
    "<tr><th>scenario</th><th>move</th><th>liquidated</th><th>bad debt</th><th>fund</th><th>critical</th></tr>" +
    lab.results
      .map(
        (r) =>
          `<tr><td title="${r.scenario.title}">${r.scenario.id}</td><td>${fmtPct(r.total)}</td><td>${fmtUsd(r.liquidatedNotional)}</td><td class="lab-bad-debt">${fmtUsd(r.badDebt)}</td><td>${fmtUsd(r.insurance)}</td><td>${r.critical ? "yes" : "no"}</td></tr>`,
      )
      .join("");
}

async function refresh() {
  const [body, history, lab] = await Promise.all([
    getJson("/api/forecast"),
    getJson("/api/history"),
    getJson("/api/scenarios").catch(() => undefined),
  ]);
  show(body);
  showLab(lab);
  drawHistory(history);
  document.body.dataset.ready = String(body.forecast.blockNumber);
}

async function lookup(ev) {
  ev.preventDefault();
  const id = $("account-id").value.trim();
  const bps = $("restore-bps").value.trim();
  const out = $("account-out");
  try {
    const w = await getJson("/api/account/" + encodeURIComponent(id) + "?restoreBps=" + encodeURIComponent(bps));
    const rows = w.prices.map(
      (p) =>
        `<tr><td>market ${p.marketId} ${p.side}</td><td>liquidated at <b class="liq-price">${p.liquidationPrice === undefined ? "never" : fmtUsd(p.liquidationPrice)}</b></td><td>${fmtPct(p.moveWad)}</td></tr>`,
    );
    if (w.joint)
      rows.push(
        `<tr><td>joint move ${w.joint.direction}</td><td><b id="joint-move">${fmtPct(w.joint.move)}</b></td><td>with cascade: <b id="joint-shock">${fmtPct(w.joint.cascadeShock)}</b></td></tr>`,
      );
    if (w.restore)
      rows.push(
        `<tr><td>margin to survive ${fmtPct(w.restore.moveWad)}</td><td><b id="restore">${fmtUsd(w.restore.marginWad)}</b></td><td>${w.restore.tokens} token units</td></tr>`,
      );
    out.innerHTML = `<div>account ${w.accountId}${w.liquidatableNow ? " — liquidatable now" : ""}</div><table>${rows.join("")}</table>`;
    out.dataset.account = w.accountId;
  } catch (e) {
    out.textContent = String(e.message || e);
  }
}

$("account-form").addEventListener("submit", lookup);
refresh().catch((e) => ($("live").textContent = "error: " + e.message));
const events = new EventSource("/api/events");
events.addEventListener("hello", () => ($("live").textContent = "live"));
events.addEventListener("forecast", () => refresh().catch(() => {}));
events.addEventListener("level", (e) => ($("live").textContent = "level change: " + JSON.parse(e.data).level));
events.onerror = () => ($("live").textContent = "disconnected");
