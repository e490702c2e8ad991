/**
 * /metrics (Prometheus text) and /health (JSON; 200 while the keeper keeps up, 503 otherwise), on
 * 127.0.0.1 only. Port 0 picks a free port; the one bound is returned (and logged by the CLI).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import type { KeeperMetrics } from "./metrics.js";

export type HealthReport = { ok: boolean } & Record<string, unknown>;

export type StatusServer = { port: number; close(): Promise<void> };

export async function startStatusServer(o: {
  port: number;
  metrics: KeeperMetrics;
  health: () => HealthReport;
}): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    if (path === "/metrics") {
      o.metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": o.metrics.registry.contentType }).end(text),
        (e: Error) => res.writeHead(500).end(e.message),
      );
      return;
    }
    if (path === "/health") {
      const h = o.health();
      const body = JSON.stringify(h, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      res.writeHead(h.ok ? 200 : 503, { "content-type": "application/json" }).end(body);
      return;
    }
    res.writeHead(404).end("try /metrics or /health\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
