/**
 * A local `hardhat node` on 127.0.0.1 for the keeper's tests and benchmark: started as a child
 * process on a free port, stopped by its pid. Not used by the keeper service itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export type LocalNode = { url: string; port: number; pid: number; process: ChildProcess; stop(): Promise<void> };

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A raw JSON-RPC call (no ethers), for readiness checks and node controls. */
export async function rpcCall(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 5_000,
): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

export async function startHardhatNode(opts: { port?: number; timeoutMs?: number } = {}): Promise<LocalNode> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [`${REPO_ROOT}node_modules/hardhat/dist/src/cli.js`, "node", "--hostname", "127.0.0.1", "--port", String(port)],
    { cwd: REPO_ROOT, env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" }, stdio: "ignore" },
  );
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`hardhat node exited with code ${exited} before answering`);
    try {
      await rpcCall(url, "eth_chainId", [], 1_000);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`hardhat node on port ${port} did not answer in time`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    port,
    pid: child.pid!,
    process: child,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
