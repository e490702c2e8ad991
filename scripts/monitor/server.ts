/**
 * The monitor's HTTP face, on 127.0.0.1 only:
 *
 *   GET /                      the dashboard (dashboard/index.html; charts by uPlot from node_modules)
 *   GET /assets/…              the dashboard's script and the chart library, served from disk (no CDN)
 *   GET /api/forecast          the latest forecast (bigints as decimal strings; WAD amounts)
 *   GET /api/history           level, critical shock, distance and probabilities per forecast
 *   GET /api/scenarios         the scenario lab (catalogued crashes, depth, slow keeper, stale oracle, depeg) on the latest book
 *   GET /api/account/:id[?restoreBps=1000]   one account's early warnings
 *   GET /api/events            server-sent events: `level` on every change of the wanted level,
 *                              `forecast` (block, level) on every forecast, `raise` on each raise
 *   GET /metrics               Prometheus text
 *   GET /health                200 while forecasts keep coming, 503 otherwise
 */
import { readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type { Forecast } from "./forecast.js";
import { type MonitorService, toJson } from "./service.js";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function uplotFile(name: string): string {
  return join(dirname(require.resolve("uplot/package.json")), "dist", name);
}

const ASSETS: Record<string, { file: () => string; type: string }> = {
  "/assets/uPlot.iife.min.js": { file: () => uplotFile("uPlot.iife.min.js"), type: "text/javascript" },
  "/assets/uPlot.min.css": { file: () => uplotFile("uPlot.min.css"), type: "text/css" },
  "/assets/dashboard.js": { file: () => join(here, "dashboard", "dashboard.js"), type: "text/javascript" },
  "/assets/dashboard.css": { file: () => join(here, "dashboard", "dashboard.css"), type: "text/css" },
};

export type MonitorServer = { port: number; url: string; close(): Promise<void> };

/** The forecast as the API serves it: without the per-account index (the lookup serves accounts). */
export function forecastView(f: Forecast): unknown {
  const { firstIndex: _ignored, ...ladder } = f.ladder;
  return { ...f, ladder };
}

export async function startMonitorServer(o: {
  port: number;
  service: MonitorService;
  staleAfterMs?: number;
}): Promise<MonitorServer> {
  const s = o.service;
  const clients = new Set<ServerResponse>();
  const broadcast = (event: string, data: unknown) => {
    const line = `event: ${event}\ndata: ${toJson(data)}\n\n`;
    for (const c of clients) c.write(line);
  };
  const onLevel = (e: unknown) => broadcast("level", e);
  const onForecast = (f: Forecast) =>
    broadcast("forecast", { block: f.blockNumber, level: s.decision?.level ?? 0, reference: f.inputsHash });
  const onRaise = (a: unknown) => broadcast("raise", a);
  s.on("level", onLevel);
  s.on("forecast", onForecast);
  s.on("raise", onRaise);

  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(toJson(body));

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    try {
      if (path === "/" || path === "/index.html") {
        res
          .writeHead(200, { "content-type": "text/html; charset=utf-8" })
          .end(readFileSync(join(here, "dashboard", "index.html")));
        return;
      }
      const asset = ASSETS[path];
      if (asset) {
        res.writeHead(200, { "content-type": asset.type }).end(readFileSync(asset.file()));
        return;
      }
      if (path === "/api/forecast") {
        if (!s.latest) return json(res, 503, { error: "no forecast yet" });
        return json(res, 200, { forecast: forecastView(s.latest), decision: s.decision, actions: s.lastActions });
      }
      if (path === "/api/history") return json(res, 200, s.history);
      if (path === "/api/scenarios") {
        const lab = s.lab();
        if (!lab) return json(res, 503, { error: "no forecast yet, or no scenarios loaded" });
        return json(res, 200, lab);
      }
      const account = /^\/api\/account\/(\d{1,78})$/.exec(path);
      if (account) {
        const restore = Number(url.searchParams.get("restoreBps") ?? "1000");
        if (!Number.isInteger(restore) || restore < 0 || restore >= 10_000) {
          return json(res, 400, { error: "restoreBps must be a whole number of basis points in [0, 9999]" });
        }
        const w = s.warning(BigInt(account[1]), restore);
        if (!w) return json(res, 404, { error: `account ${account[1]} holds no position (or no forecast yet)` });
        return json(res, 200, w);
      }
      if (path === "/api/events") {
        res.writeHead(200, {
          "content-type": "text/event-stream",
          "cache-control": "no-store",
          connection: "keep-alive",
        });
        res.write(
          `event: hello\ndata: ${toJson({ level: s.decision?.level ?? 0, block: s.latest?.blockNumber ?? null })}\n\n`,
        );
        clients.add(res);
        req.on("close", () => clients.delete(res));
        return;
      }
      if (path === "/metrics") {
        s.metrics.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": s.metrics.registry.contentType }).end(text),
          (e: Error) => res.writeHead(500).end(e.message),
        );
        return;
      }
      if (path === "/health") {
        const age = Date.now() - s.lastTickAt;
        const ok = s.latest !== undefined && age < (o.staleAfterMs ?? 120_000);
        return json(res, ok ? 200 : 503, { ok, block: s.latest?.blockNumber ?? null, lastTickMsAgo: age });
      }
      res
        .writeHead(404, { "content-type": "text/plain" })
        .end("try /, /api/forecast, /api/history, /api/scenarios, /api/account/:id, /api/events, /metrics, /health\n");
    } catch (e) {
      json(res, 500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        s.off("level", onLevel);
        s.off("forecast", onForecast);
        s.off("raise", onRaise);
        for (const c of clients) c.end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
