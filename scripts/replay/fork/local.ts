/**
 * The fork's stand-in for mainnet when there is no FORK_URL: a `hardhat node` on 127.0.0.1 whose
 * state has a Chainlink-compatible feed at the real feed's address, holding the recorded rounds of an
 * event under the real round ids. Forking that node then exercises the same code as forking mainnet.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";

import type { MockAggregator } from "../../../types/ethers-contracts/index.js";
import type { RecordedRound } from "./recorded.js";
import { proxyRoundId } from "./targets.js";

export type LocalNode = {
  url: string;
  port: number;
  pid: number;
  /** stops this node (its own pid only) and waits for it to exit */
  stop(): Promise<void>;
  /** what the node printed, for error messages */
  output(): string;
};

/** A free TCP port on 127.0.0.1, from the OS. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error("no port from the OS"))));
    });
  });
}

/**
 * Starts `hardhat node --hostname 127.0.0.1 --port <free port>` from the project root and waits until
 * it answers eth_chainId. The process started is the node itself (the hardhat binary, run with the
 * project's Node from node_modules/.bin), so stop() ends exactly that pid.
 */
export async function startLocalNode(opts: { root: string; timeoutMs?: number }): Promise<LocalNode> {
  const port = await freePort();
  const bin = join(opts.root, "node_modules", ".bin");
  const child = spawn(join(bin, "hardhat"), ["node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: opts.root,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, HARDHAT_DISABLE_TELEMETRY: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let printed = "";
  const keep = (chunk: Buffer) => {
    printed = (printed + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://127.0.0.1:${port}`;
  const node: LocalNode = {
    url,
    port,
    pid: child.pid ?? -1,
    stop: () => stopChild(child, exited),
    output: () => printed,
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`hardhat node exited with code ${child.exitCode} before answering:\n${printed}`);
    }
    if (await answers(url)) return node;
    if (Date.now() > deadline) {
      await node.stop();
      throw new Error(`hardhat node on ${url} did not answer within ${opts.timeoutMs ?? 60_000} ms:\n${printed}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    return res.ok;
  } catch {
    return false;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5_000).unref());
  if ((await Promise.race([exited, timer])) === "timeout") {
    child.kill("SIGKILL");
    await exited;
  }
}

export type PlantedFeed = {
  address: string;
  roundIds: bigint[];
  /** block mined after the last round: the block to fork at */
  block: number;
};

/**
 * Puts a MockAggregator at `address` (the real feed's address) on the node behind `ethers` and
 * writes `rounds` into it under the real proxy round ids: (phaseId << 64) | firstAggregatorRound, +1,
 * +2, ... The contract is deployed normally, then its runtime code and its plain state variables
 * (description, flags: the low slots) are copied to `address`. Storage belongs to an address, so the
 * rounds are written after the code is in place, by calling the contract at `address`.
 */
export async function plantRecordedFeed(
  ethers: HardhatEthers,
  opts: {
    address: string;
    decimals: number;
    description: string;
    phaseId: number;
    firstAggregatorRound: number;
    rounds: Pick<RecordedRound, "t" | "answer">[];
    /** rounds per pushRounds transaction (default 100) */
    batch?: number;
  },
): Promise<PlantedFeed> {
  if (opts.rounds.length === 0) throw new Error("no rounds to plant");
  const template = (await ethers.deployContract("MockAggregator", [
    opts.decimals,
    10n ** BigInt(opts.decimals),
    opts.description,
  ])) as unknown as MockAggregator;
  await template.waitForDeployment();
  const templateAddress = await template.getAddress();
  const provider = ethers.provider;
  await provider.send("hardhat_setCode", [opts.address, await provider.getCode(templateAddress)]);
  // MockAggregator's plain variables sit in its first slots; its mappings hash elsewhere and start empty.
  for (let slot = 0; slot < 4; slot++) {
    const value = await provider.getStorage(templateAddress, slot);
    if (BigInt(value) !== 0n) {
      await provider.send("hardhat_setStorageAt", [opts.address, "0x" + slot.toString(16), value]);
    }
  }

  const feed = template.attach(opts.address) as MockAggregator;
  const firstId = proxyRoundId(opts.phaseId, opts.firstAggregatorRound);
  const [first, ...rest] = opts.rounds;
  // The first round fixes the id (and so the phase); pushRound continues from the next id.
  await (await feed.setRoundData(firstId, first.answer, first.t, first.t, firstId)).wait();
  const batch = opts.batch ?? 100;
  for (let i = 0; i < rest.length; i += batch) {
    const chunk = rest.slice(i, i + batch);
    await (
      await feed.pushRounds(
        chunk.map((r) => r.answer),
        chunk.map((r) => r.t),
      )
    ).wait();
  }
  await provider.send("evm_mine", []);
  const block = await provider.getBlockNumber();
  return {
    address: opts.address,
    roundIds: opts.rounds.map((_, i) => firstId + BigInt(i)),
    block,
  };
}
