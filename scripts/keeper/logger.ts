/**
 * Structured logs: one JSON line per event (pino), a child logger per module (`module` field).
 * The key can never reach a line: the config is printed through `printableConfig`, and pino's
 * redaction removes any `privateKey` field that slips into a logged object anyway.
 */
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "keeper" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["privateKey", "*.privateKey", "*.*.privateKey"], censor: "[redacted]" },
      // bigint fields (account ids, amounts) print as decimal strings
      formatters: { log: (o) => bigintsToStrings(o) as Record<string, unknown> },
    },
    destination,
  );
}

/** A logger that drops everything (in-process callers that do not want keeper logs). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

function bigintsToStrings(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(bigintsToStrings);
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = bigintsToStrings(x);
    return out;
  }
  return v;
}
