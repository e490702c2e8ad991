/**
 * Webhook alerts in Alertmanager's API v2 format (a JSON array of alerts with labels, annotations,
 * startsAt and, once resolved, endsAt), which Alertmanager's `POST /api/v2/alerts` and Grafana's
 * Alertmanager-compatible endpoint both take. Delivery is best effort with a timeout: a webhook that
 * is down never stops the monitor (the failure is logged and counted).
 */
import type { Logger } from "../keeper/logger.js";

export type Alert = {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
};

export type AlertSink = { send(alerts: Alert[]): Promise<void>; sent: number; failed: number };

export function webhookSink(urls: readonly string[], logger: Logger, timeoutMs = 5_000): AlertSink {
  const sink: AlertSink = {
    sent: 0,
    failed: 0,
    async send(alerts: Alert[]) {
      if (!alerts.length) return;
      await Promise.all(
        urls.map(async (url) => {
          try {
            const r = await fetch(url, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(alerts),
              signal: AbortSignal.timeout(timeoutMs),
            });
            if (!r.ok) throw new Error(`HTTP ${r.status}`);
            sink.sent += alerts.length;
          } catch (e) {
            sink.failed += alerts.length;
            logger.warn({ url: new URL(url).host, err: (e as Error).message }, "alert webhook failed");
          }
        }),
      );
    },
  };
  return sink;
}

/** The alert of a stress level the monitor wants (firing while above 0, resolved when it falls back). */
export function levelAlert(o: {
  level: number;
  previous: number;
  reason: string;
  block: number;
  reference: string;
  now: Date;
  generatorURL?: string;
}): Alert {
  const firing = o.level > 0;
  return {
    labels: {
      alertname: "CascadeRiskLevel",
      service: "risk-monitor",
      severity: o.level >= 3 ? "critical" : o.level === 2 ? "warning" : "info",
    },
    annotations: {
      summary: firing ? `cascade risk: stress level ${o.level} wanted` : "cascade risk back to level 0",
      description: `${o.reason} (was ${o.previous}); block ${o.block}, forecast ${o.reference}`,
      level: String(o.level),
    },
    startsAt: o.now.toISOString(),
    ...(firing ? {} : { endsAt: o.now.toISOString() }),
    ...(o.generatorURL ? { generatorURL: o.generatorURL } : {}),
  };
}

/** An alert for the guardian: a level the risk-oracle role may not set, or a floor it can no longer renew. */
export function guardianAlert(o: {
  marketId: number;
  symbol: string;
  wanted: number;
  reason: string;
  reference: string;
  now: Date;
  generatorURL?: string;
}): Alert {
  return {
    labels: {
      alertname: "GuardianActionNeeded",
      service: "risk-monitor",
      severity: "critical",
      market: o.symbol,
    },
    annotations: {
      summary: `${o.symbol}: stress level ${o.wanted} wanted; only the guardian can set it`,
      description: `${o.reason}; forecast ${o.reference}`,
      level: String(o.wanted),
      marketId: String(o.marketId),
    },
    startsAt: o.now.toISOString(),
    ...(o.generatorURL ? { generatorURL: o.generatorURL } : {}),
  };
}
