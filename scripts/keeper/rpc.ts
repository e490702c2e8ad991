/**
 * The keeper's view of the RPC endpoint: a JsonRpcProvider that counts requests (a JSON-RPC batch
 * counts each call in it) and transport failures, with a bounded request timeout and no network
 * auto-detection (the chain id is checked once at start-up, then fixed). Plus the start-up probe and
 * the test that tells a transport failure (retry later) from a revert (a normal answer).
 */
import { FetchRequest, JsonRpcProvider, Network, type JsonRpcPayload, type JsonRpcResult } from "ethers";

/** Counts of what went over the wire; the keeper reads deltas per tick. */
export type RpcStats = { requests: number; errors: number };

export class CountingJsonRpcProvider extends JsonRpcProvider {
  readonly stats: RpcStats = { requests: 0, errors: 0 };

  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    this.stats.requests += Array.isArray(payload) ? payload.length : 1;
    try {
      return await super._send(payload);
    } catch (e) {
      this.stats.errors += 1;
      throw e;
    }
  }
}

/**
 * A provider for a known chain: requests time out after `timeoutMs`, calls issued together go out
 * as one JSON-RPC batch (up to 100), nothing is cached between ticks.
 */
export function createProvider(url: string, chainId: number, timeoutMs: number): CountingJsonRpcProvider {
  const request = new FetchRequest(url);
  request.timeout = timeoutMs;
  return new CountingJsonRpcProvider(request, Network.from(chainId), {
    staticNetwork: true,
    batchMaxCount: 100,
    batchStallTime: 2,
    cacheTimeout: -1,
  });
}

export class RpcUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`RPC endpoint ${url} did not answer eth_chainId: ${reason}`);
    this.name = "RpcUnreachableError";
  }
}

/** The URL without credentials, path or query (API keys often live there), for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const path = u.pathname.length > 1 ? "/…" : "";
    return `${u.protocol}//${u.host}${path}`;
  } catch {
    return "(unparseable url)";
  }
}

/** eth_chainId over a plain HTTP POST, with a timeout; RpcUnreachableError when it cannot. */
export async function probeChainId(url: string, timeoutMs: number): Promise<number> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    throw new RpcUnreachableError(redactUrl(url), cause ?? (e as Error).message);
  }
  if (!response.ok) throw new RpcUnreachableError(redactUrl(url), `HTTP ${response.status}`);
  const body = (await response.json().catch(() => null)) as { result?: unknown } | null;
  if (typeof body?.result !== "string") throw new RpcUnreachableError(redactUrl(url), "no chain id in the answer");
  return Number(BigInt(body.result));
}

const TRANSPORT_CODES = new Set(["NETWORK_ERROR", "TIMEOUT", "SERVER_ERROR"]);
const TRANSPORT_TEXT = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|socket hang up|fetch failed|connect|timeout/i;

/** True for failures of the connection (retry later), false for answers such as reverts. */
export function isTransportError(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown; shortMessage?: unknown };
  if (err?.code === "CALL_EXCEPTION") return false;
  if (typeof err?.code === "string" && TRANSPORT_CODES.has(err.code)) return true;
  return TRANSPORT_TEXT.test(String(err?.message ?? ""));
}
