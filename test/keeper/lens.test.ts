/**
 * The keeper's scan read through ProtocolLens.keeperView: one eth_call for what it read as one call
 * per value (the liquidation engine's two configs and, per market, its config, state, price and
 * capacity window), with the same view to the wei at the same block, a stale feed's revert included.
 */
import { expect } from "chai";
import { BrowserProvider, type Eip1193Provider, Network, type Result } from "ethers";
import { network } from "hardhat";

import { type ChainView, readChainView } from "../../scripts/keeper/chainView.js";
import { bindContracts } from "../../scripts/keeper/contracts.js";
import { deploymentRecord } from "../../scripts/keeper/devnet/world.js";
import type { ProtocolLens } from "../../types/ethers-contracts/index.js";
import {
  BTC,
  ETH,
  MAX_PRICE,
  USDC,
  type World,
  deployWorld,
  openAccount,
  setPriceWad,
  units,
} from "../helpers/fixture.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;

/** A struct answer's values, nested structs included, by position. */
const plain = (r: unknown) => (r as Result).toArray(true);

/** An ethers provider over the test network that counts the eth_calls it sends. */
function countingProvider(chainId: number): { provider: BrowserProvider; calls: () => number } {
  let calls = 0;
  const inner = connection.provider as unknown as Eip1193Provider;
  const counted: Eip1193Provider = {
    request: (r) => {
      if (r.method === "eth_call") calls++;
      return inner.request(r);
    },
  };
  const net = Network.from(chainId);
  const provider = new BrowserProvider(counted, net, { staticNetwork: net, cacheTimeout: -1, polling: false });
  return { provider, calls: () => calls };
}

/** Both markets traded, some capacity used (a liquidation), then BTC's feed left past its heartbeat. */
async function scene(): Promise<{ w: World; lens: ProtocolLens; eth: bigint }> {
  const w = await deployWorld(ethers);
  const lens = (await ethers.deployContract("ProtocolLens", [
    await w.engine.getAddress(),
    await w.oracle.getAddress(),
  ])) as unknown as ProtocolLens;
  const id = await openAccount(w, w.alice, 20_000n * USDC);
  await w.engine.connect(w.alice).modifyPosition(id, ETH, units(40), MAX_PRICE);
  await w.engine.connect(w.alice).modifyPosition(id, BTC, -units(1), 0n);
  let eth = (await w.oracle.getPriceAndVolatility((await w.engine.marketConfig(ETH)).feedId))[0];
  while (!(await w.engine.isLiquidatable(id))) {
    eth = (eth * 98n) / 100n;
    await setPriceWad(w, ETH, eth);
  }
  await w.liquidationEngine.connect(w.bob).liquidate(id);
  return { w, lens, eth };
}

async function views(w: World, lens: ProtocolLens): Promise<{ plain: ChainView; viaLens: ChainView; calls: number[] }> {
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const record = await deploymentRecord(w, "hardhat", chainId, 0);
  const block = (await ethers.provider.getBlock("latest"))!;
  const ref = { number: block.number, timestamp: block.timestamp, baseFeePerGas: block.baseFeePerGas };
  const feedIds = new Map(record.markets.map((m) => [m.id, m.feedId]));
  const without = countingProvider(chainId);
  const plain = await readChainView(bindContracts(record, without.provider), feedIds, ref);
  const withLens = countingProvider(chainId);
  const lensRecord = { ...record, contracts: { ...record.contracts, lens: await lens.getAddress() } };
  const viaLens = await readChainView(bindContracts(lensRecord, withLens.provider), feedIds, ref);
  without.provider.destroy();
  withLens.provider.destroy();
  return { plain, viaLens, calls: [without.calls(), withLens.calls()] };
}

describe("keeper: the scan read through ProtocolLens", function () {
  it("reads the same view to the wei in one eth_call instead of two plus four per market", async function () {
    const { w, lens } = await scene();
    const { plain, viaLens, calls } = await views(w, lens);
    expect(plain.capacity.get(ETH)!.used > 0n, "the liquidation used some of ETH's capacity").to.equal(true);
    expect(plain.engine.markets.size).to.equal(2);
    expect(viaLens).to.deep.equal(plain);
    expect(calls).to.deep.equal([2 + 4 * 2, 1]);
  });

  it("names a stale feed's revert as the one-by-one read does, and reads the stale market's edges alike", async function () {
    const { w, lens, eth } = await scene();
    await networkHelpers.time.increase(3_601);
    await setPriceWad(w, ETH, eth);
    await networkHelpers.mine();
    const { plain, viaLens, calls } = await views(w, lens);
    expect([...plain.unpriced]).to.deep.equal([[BTC, "StaleAnswer"]]);
    expect([...plain.stale.keys()]).to.deep.equal([BTC]);
    expect(viaLens).to.deep.equal(plain);
    // the stale market's last answer and sigma: two more calls either way
    expect(calls).to.deep.equal([2 + 4 * 2 + 2, 1 + 2]);
  });

  it("answers each field as the protocol's own views do", async function () {
    const { w, lens } = await scene();
    const v = await lens.keeperView([ETH, BTC]);
    expect(await lens.engine()).to.equal(await w.engine.getAddress());
    expect(await lens.oracle()).to.equal(await w.oracle.getAddress());
    expect(plain(v.liquidation)).to.deep.equal(plain(await w.liquidationEngine.config()));
    expect(plain(v.reward)).to.deep.equal(plain(await w.liquidationEngine.rewardConfig()));
    for (const [i, id] of [ETH, BTC].entries()) {
      const m = v.markets[i];
      const config = await w.engine.marketConfig(id);
      expect(m.marketId).to.equal(BigInt(id));
      expect(plain(m.config)).to.deep.equal(plain(config));
      expect(plain(m.state)).to.deep.equal(plain(await w.engine.marketState(id)));
      const [price, sigma] = await w.oracle.getPriceAndVolatility(config.feedId);
      expect([m.priced, m.priceWad, m.sigmaWad, m.priceError]).to.deep.equal([true, price, sigma, "0x"]);
      const [start, used] = await w.liquidationEngine.capacityWindow(id);
      expect([m.windowStart, m.windowUsed]).to.deep.equal([start, used]);
    }
  });
});
