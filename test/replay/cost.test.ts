/**
 * What makes a replay cheaper must not change what it computes: the memoized decoding hands out the
 * Result a fresh decoder would build (the very same frozen object for the same bytes), and the
 * replay keeper's provider sends a read as the same eth_call ethers would, with the same errors,
 * without its per-request address resolution. No node: fake EIP-1193 providers record what is sent.
 */
import { expect } from "chai";
import {
  AbiCoder,
  BrowserProvider,
  type Eip1193Provider,
  Interface,
  Network,
  Transaction,
  Typed,
  Wallet,
  ZeroAddress,
  getAddress,
  hexlify,
  id,
  keccak256,
} from "ethers";

import { Chain } from "../../scripts/replay/chain.js";
import { withoutContractDecoder } from "../../scripts/replay/decoder.js";
import { TIMING, differences } from "../../scripts/replay/compareReports.js";
import { abiMemoStats as stats, lookupKey, memoizeAbiCoding, plainKey } from "../../scripts/replay/abiMemo.js";
import { lowerHex, replayProvider } from "../../scripts/replay/serviceKeeper.js";

const iface = new Interface([
  "function cfg(uint256 id) view returns (tuple(uint256 a, int256 b, bool c, address d) c, uint256[] xs)",
  "error Nope(uint256 code)",
]);
const fn = iface.getFunction("cfg")!;
const answer = (a: bigint) =>
  iface.encodeFunctionResult(fn, [{ a, b: -7n, c: true, d: "0x00000000000000000000000000000000000000aa" }, [1n, 2n]]);

describe("Replay cost: what is saved computes the same", function () {
  it("memoized decoding: the same frozen Result for the same bytes, equal to a fresh decoder's; other bytes decode anew", function () {
    memoizeAbiCoding();
    const data = answer(5n);
    const before = { ...stats };
    const first = iface.decodeFunctionResult(fn, data);
    const second = iface.decodeFunctionResult(fn, data);
    expect(second, "the remembered Result").to.equal(first);
    expect(stats.hits - before.hits).to.equal(1);
    expect(Object.isFrozen(first) && Object.isFrozen(first[0])).to.equal(true);
    // a decoder of its own (not the process's default one): the same values, field by field
    const fresh = new AbiCoder().decode(fn.outputs, data);
    expect(first.toObject(true)).to.deep.equal(fresh.toObject(true));
    const other = iface.decodeFunctionResult(fn, answer(6n));
    expect(other[0].a).to.equal(6n);
    expect(first[0].a).to.equal(5n);
    // junk is not remembered: it throws every time
    for (let i = 0; i < 2; i++) expect(() => iface.decodeFunctionResult(fn, data.slice(0, -64))).to.throw();
    // a list of types built for one call (not a fragment's frozen list) is decoded without memo
    const misses = stats.misses;
    const hits = stats.hits;
    const types = ["uint256"];
    AbiCoder.defaultAbiCoder().decode(types, answer(1n).slice(0, 66));
    AbiCoder.defaultAbiCoder().decode(types, answer(1n).slice(0, 66));
    expect([stats.hits, stats.misses]).to.deep.equal([hits, misses]);
  });

  it("memoized encoding: plain arguments only, keyed without ambiguity, equal to a fresh encoder's", function () {
    memoizeAbiCoding();
    const hits = stats.hits;
    const a = iface.encodeFunctionData(fn, [42n]);
    const b = iface.encodeFunctionData(fn, [42n]);
    expect(b).to.equal(a);
    expect(stats.hits - hits).to.equal(1);
    expect(a.slice(10)).to.equal(new AbiCoder().encode(fn.inputs, [42n]).slice(2));
    expect(iface.encodeFunctionData(fn, [43n])).to.not.equal(a);
    // a value out of range throws every time
    for (let i = 0; i < 2; i++) expect(() => iface.encodeFunctionData(fn, [-1n])).to.throw();
    // one key per list of plain values, never two lists with one key
    const lists: unknown[][] = [["a,b"], ["a", "b"], [1n], [1], ["1"], [true], ['"a"'], ["a"], [1n, 1n], ["n1,n1"]];
    const keys = lists.map(plainKey);
    expect(new Set(keys).size).to.equal(lists.length);
    expect(plainKey([[1n]]), "an array is not plain").to.equal(undefined);
    expect(plainKey([{ a: 1n }]), "an object is not plain").to.equal(undefined);
    // the selector and the topic, remembered per fragment, are ethers' own
    expect(fn.selector).to.equal(id("cfg(uint256)").slice(0, 10));
    expect(fn.selector).to.equal(fn.selector);
    const ev = new Interface(["event Done(uint256 indexed a, address b)"]).getEvent("Done")!;
    expect(ev.topicHash).to.equal(id("Done(uint256,address)"));
  });

  it("remembered function lookups pick what ethers picks, overloads included", function () {
    memoizeAbiCoding();
    const o = new Interface([
      "function f(uint256 a) view returns (uint256)",
      "function f(uint256 a, uint256 b) view returns (uint256)",
      "function g(address a) view returns (uint256)",
    ]);
    const sig = (f: { format(): string } | null) => f?.format();
    for (let i = 0; i < 2; i++) {
      expect(sig(o.getFunction("f", [1n]))).to.equal("f(uint256)");
      expect(() => o.getFunction("f", [1n, 2n]), "ethers' own ambiguity").to.throw(/ambiguous/);
      expect(() => o.getFunction("f", [1n, { blockTag: 3 }]), "ethers' own ambiguity").to.throw(/ambiguous/);
      expect(sig(o.getFunction("g", [ZeroAddress, { blockTag: 3 }]))).to.equal("g(address)");
      expect(sig(o.getFunction("f", [Typed.uint256(1n), Typed.uint256(2n)]))).to.equal("f(uint256,uint256)");
      expect(sig(o.getFunction("g", [ZeroAddress]))).to.equal("g(address)");
      expect(sig(o.getFunction("g(address)"))).to.equal("g(address)");
      expect(sig(o.getFunction(o.getFunction("g")!.selector))).to.equal("g(address)");
      expect(() => o.getFunction("f"), "ambiguous").to.throw(/ambiguous/);
      expect(o.getFunction("h", [1n])).to.equal(null);
    }
    expect(lookupKey("f", [Typed.uint256(1n)])).to.equal(undefined);
    expect(lookupKey("f", [1n, {}])).to.not.equal(lookupKey("f", [1n, 2n]));
  });

  it("compareReports: a wei of difference in a step is found; wall and CPU times are not differences", function () {
    const run = {
      seconds: 1.5,
      cpuSeconds: 1,
      steps: [{ t: 1, liquidatedNotional: "100" }],
      stats: { sendMs: 3, txs: 9 },
    };
    const same = { ...run, seconds: 9, cpuSeconds: 7, stats: { sendMs: 8, txs: 9 } };
    expect(differences({ runs: [run] }, { runs: [same] }, TIMING)).to.deep.equal([]);
    const off = { ...run, steps: [{ t: 1, liquidatedNotional: "101" }] };
    expect(differences({ runs: [run] }, { runs: [off] }, TIMING)).to.deep.equal([
      '.runs[0].steps[0].liquidatedNotional: "100" != "101"',
    ]);
    expect(differences({ runs: [run] }, { runs: [{ ...run, stats: { sendMs: 3, txs: 10 } }] }, TIMING)).to.have.length(
      1,
    );
  });

  it("the replay keeper's provider sends a read as ethers' own provider would, errors included, without resolving addresses per request", async function () {
    const to = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
    const from = getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
    const reads = [
      { to, data: iface.encodeFunctionData(fn, [1n]) },
      { to, from, data: iface.encodeFunctionData(fn, [2n]), gasLimit: 300_000n, blockTag: 7 },
      { to, data: iface.encodeFunctionData(fn, [3n]), blockTag: "latest" },
      { to, data: iface.encodeFunctionData(fn, [4n]), blockTag: 0 },
    ];
    const revert = iface.encodeErrorResult("Nope", [9n]);
    /** a node that answers every eth_call, and reverts the one for id 3 */
    const node = (sent: unknown[][]) => async (method: string, params: unknown[]) => {
      if (method !== "eth_call") throw new Error(`unexpected ${method}`);
      sent.push(params);
      const data = (params[0] as { data: string }).data;
      if (data === reads[2].data) {
        throw Object.assign(new Error("execution reverted"), { code: 3, data: revert });
      }
      return answer(BigInt("0x" + data.slice(-64)));
    };
    const viaEthers: unknown[][] = [];
    const reference = new BrowserProvider(
      { request: ({ method, params }) => node(viaEthers)(method, params as unknown[]) } as Eip1193Provider,
      Network.from(31337),
      { staticNetwork: Network.from(31337), cacheTimeout: -1 },
    );
    const viaReplay: unknown[][] = [];
    const chain = { time: 0, rpc: node(viaReplay) } as unknown as Chain;
    const provider = replayProvider(chain, 31337, { requests: 0, errors: 0 }, from);
    // the fast path never takes the provider's request copy and address resolution
    (provider as unknown as { _getTransactionRequest: () => never })._getTransactionRequest = () => {
      throw new Error("took the provider's path");
    };
    for (const r of reads) {
      const [a, b] = await Promise.allSettled([reference.call(r), provider.call(r)]);
      expect(b.status).to.equal(a.status);
      if (a.status === "fulfilled" && b.status === "fulfilled") expect(b.value).to.equal(a.value);
      else {
        const [ea, eb] = [(a as PromiseRejectedResult).reason, (b as PromiseRejectedResult).reason];
        expect(eb.code).to.equal("CALL_EXCEPTION");
        expect([eb.code, eb.data, eb.transaction]).to.deep.equal([ea.code, ea.data, ea.transaction]);
        expect(iface.parseError(eb.data)?.args[0]).to.equal(9n);
      }
    }
    expect(viaReplay).to.deep.equal(viaEthers);
    // a bad checksum is refused as the provider refuses it
    const k = to.search(/[a-fA-F]/);
    const bad =
      to.slice(0, k) + (to[k] === to[k].toLowerCase() ? to[k].toUpperCase() : to[k].toLowerCase()) + to.slice(k + 1);
    let refused: unknown;
    await provider.call({ to: bad, data: "0x" }).catch((e: unknown) => (refused = e));
    expect(String(refused)).to.match(/bad address checksum/);
  });

  it("the replay keeper's provider answers a broadcast with the transaction ethers would recover, asking the node nothing more", async function () {
    const wallet = Wallet.createRandom();
    const asked: string[] = [];
    const chain = {
      time: 0,
      rpc: async (method: string, params: unknown[]) => {
        asked.push(method);
        if (method === "eth_sendRawTransaction") return keccak256(params[0] as string);
        return null;
      },
    } as unknown as Chain;
    const provider = replayProvider(chain, 31337, { requests: 0, errors: 0 }, wallet.address.toLowerCase());
    const raw = await wallet.signTransaction({
      type: 2,
      chainId: 31337n,
      nonce: 7,
      to: getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3"),
      data: "0x12345678",
      value: 0n,
      gasLimit: 345_678n,
      maxFeePerGas: 10n ** 9n,
      maxPriorityFeePerGas: 10n ** 9n,
    });
    const r = await provider.broadcastTransaction(raw);
    const t = Transaction.from(raw);
    expect(asked).to.deep.equal(["evm_setNextBlockTimestamp", "eth_sendRawTransaction"]);
    expect([r.hash, r.from, r.to, r.nonce, r.data, r.gasLimit, r.maxFeePerGas, r.chainId, r.type]).to.deep.equal([
      t.hash,
      t.from,
      t.to,
      t.nonce,
      t.data,
      t.gasLimit,
      t.maxFeePerGas,
      t.chainId,
      t.type,
    ]);
    expect(r.signature.serialized).to.equal(t.signature!.serialized);
  });

  it("the replay keeper's provider prices fees as ethers' getFeeData, without eth_gasPrice, and asks the tip only of a block with a base fee", async function () {
    const block = (baseFee: string | undefined) => ({
      hash: keccak256("0x01"),
      parentHash: keccak256("0x02"),
      number: "0x5",
      timestamp: "0x64",
      nonce: "0x0000000000000000",
      difficulty: "0x0",
      gasLimit: "0x1c9c380",
      gasUsed: "0x0",
      miner: ZeroAddress,
      extraData: "0x",
      transactions: [],
      ...(baseFee === undefined ? {} : { baseFeePerGas: baseFee }),
    });
    // base fee 0 (the replay's), a base fee with a node tip, a base fee on a node without the method, no base fee
    const cases: { baseFee: string | undefined; tip: string | null }[] = [
      { baseFee: "0x0", tip: "0x5" },
      { baseFee: "0x7", tip: "0x3b9aca01" },
      { baseFee: "0x2540be400", tip: null },
      { baseFee: undefined, tip: "0x5" },
    ];
    for (const c of cases) {
      const node = (asked: string[]) => async (method: string) => {
        asked.push(method);
        if (method === "eth_getBlockByNumber") return block(c.baseFee);
        if (method === "eth_gasPrice") return "0x9";
        if (method === "eth_maxPriorityFeePerGas") {
          if (c.tip === null) throw Object.assign(new Error("method not found"), { code: -32601 });
          return c.tip;
        }
        throw new Error(`unexpected ${method}`);
      };
      const viaEthers: string[] = [];
      const reference = new BrowserProvider(
        { request: ({ method }) => node(viaEthers)(method) } as Eip1193Provider,
        Network.from(31337),
        { staticNetwork: Network.from(31337), cacheTimeout: -1 },
      );
      const viaReplay: string[] = [];
      const chain = { time: 0, rpc: node(viaReplay) } as unknown as Chain;
      const provider = replayProvider(chain, 31337, { requests: 0, errors: 0 }, ZeroAddress);
      const [a, b] = [await reference.getFeeData(), await provider.getFeeData()];
      expect([b.maxFeePerGas, b.maxPriorityFeePerGas]).to.deep.equal([a.maxFeePerGas, a.maxPriorityFeePerGas]);
      expect(b.gasPrice).to.equal(null);
      expect(viaEthers).to.include("eth_gasPrice");
      expect(viaReplay).to.not.include("eth_gasPrice");
      // the tip is asked exactly when the block has a base fee: there it is what ethers answers
      const hasBaseFee = c.baseFee !== undefined && BigInt(c.baseFee) > 0n;
      expect(viaReplay.includes("eth_maxPriorityFeePerGas")).to.equal(hasBaseFee);
      expect(a.maxPriorityFeePerGas !== null).to.equal(hasBaseFee);
    }
  });

  it("lowerHex answers what hexlify answers, the same string when it already is, and refuses what hexlify refuses", function () {
    const long = "0x" + "ab01".repeat(600);
    for (const v of [
      "0x",
      "0x00",
      long,
      "0xABcd",
      getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3"),
      new Uint8Array([1, 255]),
    ]) {
      expect(lowerHex(v)).to.equal(hexlify(v));
    }
    expect(lowerHex(long)).to.equal(long);
    for (const bad of ["0xabc", "abcd", "0xzz", 7]) {
      let a: unknown, b: unknown;
      try {
        hexlify(bad as string);
      } catch (e) {
        a = (e as Error).message;
      }
      try {
        lowerHex(bad);
      } catch (e) {
        b = (e as Error).message;
      }
      expect(a, String(bad)).to.be.a("string");
      expect(b).to.equal(a);
    }
  });

  it("a receipt is asked of the node once, handed out again frozen, never while unmined, and forgotten at evm_revert", async function () {
    const asked: string[] = [];
    let mined = false;
    const receipt = { status: "0x1", gasUsed: "0x5208", logs: [{ topics: ["0x01"] }], blockNumber: "0x2" };
    const chain = new Chain({
      request: async ({ method }: { method: string }) => {
        asked.push(method);
        if (method === "eth_getTransactionReceipt") return mined ? structuredClone(receipt) : null;
        return null;
      },
    } as never);
    const get = () => chain.rpc<typeof receipt | null>("eth_getTransactionReceipt", ["0xaa"]);
    expect(await get()).to.equal(null);
    mined = true;
    const first = await get();
    const second = await get();
    expect(second).to.equal(first);
    expect(first).to.deep.equal(receipt);
    expect(Object.isFrozen(first!.logs[0].topics)).to.equal(true);
    expect(asked.filter((m) => m === "eth_getTransactionReceipt")).to.have.length(2);
    await chain.rpc("evm_revert", ["0x1"]);
    const third = await get();
    expect(third).to.not.equal(first);
    expect(third).to.deep.equal(receipt);
    expect(asked.filter((m) => m === "eth_getTransactionReceipt")).to.have.length(3);
  });
  it("a read is asked of the node once while nothing changes, again after any request that may change state, never kept when it overlapped one, never when it failed", async function () {
    const asked: string[] = [];
    let value = 1;
    let release: (() => void) | undefined;
    const chain = new Chain({
      request: async ({ method, params }: { method: string; params: unknown[] }) => {
        asked.push(method);
        if (method === "eth_call") {
          const data = (params[0] as { data: string }).data;
          if (data === "0xbad0") throw new Error("execution reverted");
          if (data === "0x5100" && release === undefined) await new Promise<void>((r) => (release = r));
          return "0x" + value.toString(16).padStart(64, "0");
        }
        if (method === "eth_sendRawTransaction") value++;
        if (method === "eth_blockNumber") return "0x7";
        return null;
      },
    } as never);
    const calls = () => asked.filter((m) => m === "eth_call").length;
    const read = (data = "0x1234", to = "0x" + "11".repeat(20)) =>
      chain.rpc<string>("eth_call", [{ to, data }, "latest"]);
    const first = await read();
    expect(await read()).to.equal(first);
    expect(calls()).to.equal(1);
    expect(chain.readHits).to.equal(1);
    // other arguments or another contract: another read
    await read("0x1235");
    await read("0x1234", "0x" + "22".repeat(20));
    expect(calls()).to.equal(3);
    // a read of the head's number changes nothing; a transaction does
    await chain.rpc("eth_blockNumber");
    expect(await read()).to.equal(first);
    expect(calls()).to.equal(3);
    await chain.rpc("eth_sendRawTransaction", ["0x00"]);
    const after = await read();
    expect(after).to.not.equal(first);
    expect(calls()).to.equal(4);
    // any request that is not a read counts as a change (an evm_ method, an unknown one)
    await chain.rpc("evm_setNextBlockTimestamp", [5]);
    await read();
    expect(calls()).to.equal(5);
    // a failed read is asked again
    for (let k = 0; k < 2; k++) await read("0xbad0").catch(() => undefined);
    expect(calls()).to.equal(7);
    // a read that a change overlapped is not kept
    const slow = read("0x5100");
    await new Promise((r) => setImmediate(r));
    await chain.rpc("eth_sendRawTransaction", ["0x00"]);
    release!();
    await slow;
    await read("0x5100").then(
      () => undefined,
      () => undefined,
    );
    expect(calls()).to.equal(9);
  });
  it("a mined block is asked of the node once by its number, never by a tag, never while unmined, and forgotten at evm_revert and hardhat_reset", async function () {
    const asked: string[] = [];
    let head = 2;
    let salt = 0;
    const block = (n: number) => ({
      number: "0x" + n.toString(16),
      hash: "0x" + (n + salt).toString(16).padStart(64, "0"),
    });
    const chain = new Chain({
      request: async ({ method, params }: { method: string; params: unknown[] }) => {
        asked.push(`${method} ${JSON.stringify(params)}`);
        if (method === "eth_getBlockByNumber") {
          const tag = params[0] as string;
          const n = tag === "latest" ? head : Number(tag);
          return n > head ? null : block(n);
        }
        if (method === "eth_sendRawTransaction") head++;
        return null;
      },
    } as never);
    const get = (tag: string, full = false) => chain.rpc<{ hash: string } | null>("eth_getBlockByNumber", [tag, full]);
    const byNumber = () => asked.filter((a) => a.startsWith("eth_getBlockByNumber")).length;
    const genesis = await get("0x0");
    // a transaction mines a block; the genesis block stays what it was: not asked again
    await chain.rpc("eth_sendRawTransaction", ["0x00"]);
    expect(await get("0x0")).to.equal(genesis);
    expect(await get("0x00")).to.equal(genesis);
    expect(byNumber()).to.equal(1);
    expect(chain.blockHits).to.equal(2);
    expect(Object.isFrozen(genesis)).to.equal(true);
    // the other flag is another answer; a tag is asked every time it is not in the read cache
    await get("0x0", true);
    expect(byNumber()).to.equal(2);
    await get("latest");
    await chain.rpc("eth_sendRawTransaction", ["0x00"]);
    await get("latest");
    expect(byNumber()).to.equal(4);
    // a block not mined yet answers null, is not kept, and is asked again once mined
    expect(await get("0x5")).to.equal(null);
    head = 5;
    expect(await get("0x5")).to.deep.equal(block(5));
    expect(byNumber()).to.equal(6);
    // a revert or a reset forgets them: the node may mine other blocks at those numbers
    salt = 1;
    await chain.rpc("evm_revert", ["0x1"]);
    expect(await get("0x0")).to.deep.equal(block(0));
    expect((await get("0x0"))!.hash).to.not.equal(genesis!.hash);
    salt = 2;
    await chain.rpc("hardhat_reset", []);
    expect((await get("0x0"))!.hash).to.equal(block(0).hash);
    expect(byNumber()).to.equal(8);
  });
  it("eth_blockNumber is answered with the known head until anything may mine, and asked again after", async function () {
    const asked: string[] = [];
    let head = 7;
    const chain = new Chain({
      request: async ({ method }: { method: string }) => {
        asked.push(method);
        if (method === "eth_blockNumber") return "0x" + head.toString(16);
        if (method === "eth_getBlockByNumber") return { number: "0x" + head.toString(16) };
        if (method === "eth_sendRawTransaction" || method === "evm_mine") head++;
        return null;
      },
    } as never);
    const number = () => chain.rpc<string>("eth_blockNumber");
    const asks = () => asked.filter((m) => m === "eth_blockNumber").length;
    expect(await number()).to.equal("0x7");
    // a change that mines nothing (a timestamp for the next block, a read) keeps the head
    await chain.rpc("evm_setNextBlockTimestamp", [5]);
    expect(await number()).to.equal("0x7");
    expect(asks()).to.equal(1);
    expect(chain.headHits).to.equal(1);
    for (const mine of [
      "eth_sendRawTransaction",
      "eth_sendTransaction",
      "evm_mine",
      "hardhat_mine",
      "evm_setAutomine",
      "evm_revert",
    ]) {
      if (mine !== "eth_sendRawTransaction" && mine !== "evm_mine") head++;
      await chain.rpc(mine, []);
      expect(await number(), mine).to.equal("0x" + head.toString(16));
    }
    expect(asks()).to.equal(7);
    // the latest block's number is the head too
    await chain.rpc("evm_mine", []);
    await chain.rpc("eth_getBlockByNumber", ["latest", false]);
    expect(await number()).to.equal("0x" + head.toString(16));
    expect(asks()).to.equal(7);
  });
});

describe("Replay cost: the first connection without the contract decoder", function () {
  /** Hardhat's artifacts as far as the decoder goes: the listing on the prototype, as the real manager has it. */
  class Artifacts {
    async getAllBuildInfoIds(): Promise<string[]> {
      return ["build-1", "build-2"];
    }
  }
  type Listing = { getAllBuildInfoIds(): Promise<string[]> };

  it("the connection it makes sees no build info; the listing is the runtime's own again after", async function () {
    const artifacts = new Artifacts();
    const seen: string[][] = [];
    let closed = 0;
    const network = {
      async create() {
        seen.push(await (artifacts as Listing).getAllBuildInfoIds());
        return { close: async () => void closed++ };
      },
    };
    expect(await withoutContractDecoder({ artifacts, network })).to.equal(true);
    expect(seen).to.deep.equal([[]]);
    expect(closed).to.equal(1);
    expect(Object.getOwnPropertyNames(artifacts)).to.deep.equal([]);
    expect(await artifacts.getAllBuildInfoIds()).to.deep.equal(["build-1", "build-2"]);
  });

  it("a connection that fails leaves the listing restored and fails the same", async function () {
    const artifacts = new Artifacts();
    const own = async () => ["own"];
    Object.defineProperty(artifacts, "getAllBuildInfoIds", { value: own, configurable: true, writable: true });
    const network = {
      async create(): Promise<{ close(): Promise<void> }> {
        expect(await (artifacts as Listing).getAllBuildInfoIds()).to.deep.equal([]);
        throw new Error("no node");
      },
    };
    let failure: unknown;
    try {
      await withoutContractDecoder({ artifacts, network });
    } catch (e) {
      failure = e;
    }
    expect((failure as Error).message).to.equal("no node");
    expect((artifacts as Listing).getAllBuildInfoIds).to.equal(own);
  });

  it("a runtime without the listing: no connection, Hardhat's full decoder as before", async function () {
    let created = 0;
    const network = {
      async create() {
        created++;
        return { close: async () => undefined };
      },
    };
    expect(await withoutContractDecoder({ artifacts: {}, network })).to.equal(false);
    expect(created).to.equal(0);
  });

  it("this project's Hardhat lists build infos where the helper stands in (else it would do nothing)", async function () {
    const { default: hre } = await import("hardhat");
    expect(typeof (hre.artifacts as unknown as Partial<Listing>).getAllBuildInfoIds).to.equal("function");
    // a set of ids (the network manager only iterates it, as it does the helper's empty array)
    const ids = [...((await hre.artifacts.getAllBuildInfoIds()) as Iterable<string>)];
    expect(ids.length).to.be.greaterThan(0);
  });
});
