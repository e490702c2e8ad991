/**
 * Structured logs: one JSON line per event (pino), a child logger per module (`module` field).
 * The key can never reach a line: the config is printed through `printableConfig`, and pino's
 * redaction removes any `privateKey` field that slips into a logged object anyway.
 *
 * On a terminal the same events print as one readable line each, with units: amounts named `…Wad`
 * in collateral tokens, fees in gwei, balances in ether, durations in ms or s. JSON stays the
 * format for anything else (a file, a pipe, journald, a log shipper): machines read it.
 */
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

export type LogFormat = "auto" | "json" | "pretty";

export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = "json"): Logger {
  const pretty = format === "pretty" || (format === "auto" && destination === undefined && process.stdout.isTTY);
  const out = pretty ? prettyStream(destination ?? process.stdout) : destination;
  return pino(
    {
      level,
      base: { service: "keeper" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["privateKey", "*.privateKey", "*.*.privateKey"], censor: "[redacted]" },
      // bigint fields (account ids, amounts) print as decimal strings
      formatters: { log: (o) => bigintsToStrings(o) as Record<string, unknown> },
    },
    out,
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

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO ", 40: "WARN ", 50: "ERROR", 60: "FATAL" };
const SKIP = new Set(["level", "time", "service", "msg", "module", "pid", "hostname"]);

/** Turns pino's JSON lines into readable ones on `out`. */
export function prettyStream(out: { write(s: string): unknown }): DestinationStream {
  return {
    write(line: string) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      out.write(prettyLine(o) + "\n");
    },
  };
}

/** One log event as a line: time, level, module, message, then key=value with units. */
export function prettyLine(o: Record<string, unknown>): string {
  const time = typeof o.time === "string" ? o.time.slice(11, 19) : "";
  const level = LEVELS[o.level as number] ?? String(o.level);
  const module = o.module ? `[${o.module}] ` : "";
  const fields = Object.entries(o)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${withUnit(k, v)}`);
  return `${time} ${level} ${module}${o.msg ?? ""}${fields.length ? "  " + fields.join(" ") : ""}`;
}

const DECIMAL = /^-?\d+$/;

/** A value with its unit, by the convention of the field's name. */
export function withUnit(key: string, v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => withUnit(key, x)).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v)
      .map(([k, x]) => `${k}: ${withUnit(k, x)}`)
      .join(", ")}}`;
  }
  const s = String(v);
  if (typeof v === "string" && DECIMAL.test(s)) {
    if (/Wad$/.test(key)) return `${scaled(s, 18, 4)} tokens`;
    if (key === "health") return `${scaled(s, 18, 3)} (equity/maintenance)`;
    if (/FeePerGas$|^baseFee/.test(key)) return `${scaled(s, 9, 3)} gwei`;
  }
  if (/Eth$/.test(key)) return `${s} ETH`;
  if (/Ms$/.test(key) && typeof v === "number") return `${Math.round(v * 10) / 10} ms`;
  if (/Seconds$/.test(key) && typeof v === "number") return `${Math.round(v)} s`;
  if (/^gas(Limit)?$/.test(key)) return `${s} gas`;
  return typeof v === "string" && /\s/.test(s) ? JSON.stringify(s) : s;
}

/** A decimal integer string divided by 10^decimals, rounded down to `dp` places. */
function scaled(s: string, decimals: number, dp: number): string {
  const neg = s.startsWith("-");
  const x = BigInt(neg ? s.slice(1) : s);
  const unit = 10n ** BigInt(decimals);
  const frac = ((x % unit) * 10n ** BigInt(dp)) / unit;
  return `${neg ? "-" : ""}${x / unit}.${frac.toString().padStart(dp, "0")}`;
}
