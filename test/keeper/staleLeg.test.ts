/**
 * The keeper and an account with a leg in a market whose feed is stale (issue 11, Medium 6). The
 * contract liquidates such an account's fresh legs when it is below maintenance even with the stale
 * leg at the edge of its band most favourable to it (LiquidationConfigurator.staleValuation); the
 * keeper's scan values the account the same way (scanner.ts `staleValuation`, chainView.ts
 * `StaleMarket`) instead of leaving it out as unpriced. Here a keeper runs in process over the test
 * network, as the replay runs it, and:
 * - liquidates the fresh ETH leg of an account liquidatable with its stale BTC leg at the edge;
 * - leaves alone an account below maintenance at BTC's last answer but healthy at the edge;
 * - values both to the wei as the contract does (previewLiquidation's plan, AccountHealthy's numbers),
 *   and a third that waits for the feed (StaleLegMayCoverLoss) is not a candidate.
 * Before the scanner valued stale legs, the keeper skipped all three and liquidated nothing.
 */
import { expect } from "chai";
import { BrowserProvider, type Eip1193Provider, Network } from "ethers";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { keeperSettings } from "../../scripts/keeper/config.js";
import { deploymentRecord } from "../../scripts/keeper/devnet/world.js";
import { Keeper } from "../../scripts/keeper/keeper.js";
import { silentLogger } from "../../scripts/keeper/logger.js";
import { scanAccounts, staleValuation } from "../../scripts/keeper/scanner.js";
import { BTC, ETH, type World, deployWorld, setPriceWad, units } from "../helpers/fixture.js";
import {
  WHALE_LEGS,
  keeperContracts,
  openPosition,
  readKeeperBook,
  snapshotLeg,
  staleBtc,
} from "../helpers/liquidation.js";

const connection = await network.create();
const { ethers, networkHelpers } = connection;
const { time } = networkHelpers;

type Scene = {
  w: World;
  /** 0.01 BTC and 2,000 ETH long: liquidatable on its ETH leg wherever BTC is in the band */
  whale: bigint;
  /** 10 BTC short and 100 ETH long, 1% of its BTC notional below maintenance at BTC's last answer:
   * healthy with BTC 5% lower, the band's edge in its favour */
  nearly: bigint;
  /** 20 BTC long with a 20% gain, bankrupt on its ETH leg: waits for the feed */
  waits: bigint;
};

/**
 * Three accounts with a BTC leg. BTC rises 20%; ETH falls until `waits` is bankrupt on its ETH leg,
 * then on until the whale's health is below 0.9; `nearly` is topped up to just below maintenance;
 * then BTC's feed goes stale (every feed past its 3,600 s heartbeat, ETH refreshed).
 */
async function scene(): Promise<Scene> {
  const w = await deployWorld(ethers);
  const whale = await openPosition(w, w.alice, 1_000_000n, WHALE_LEGS);
  const nearly = await openPosition(w, w.bob, 60_000n, [
    [BTC, -units(10)],
    [ETH, units(100)],
  ]);
  const waits = await openPosition(w, w.carol, 40_000n, [
    [BTC, units(20)],
    [ETH, units(100)],
  ]);

  await setPriceWad(w, BTC, 36_000n * WAD);
  const margin = BigInt((await w.engine.accountSummary(waits)).margin);
  const ethLegOf = async (id: bigint) => (await snapshotLeg(w, id, ETH)).leg;
  let eth = 2_000n * WAD;
  while (margin + (await ethLegOf(waits)).value >= 0n) {
    eth = (eth * 98n) / 100n;
    await setPriceWad(w, ETH, eth);
  }
  while ((await w.engine.health(whale)) >= (9n * WAD) / 10n) {
    eth = (eth * 9_975n) / 10_000n;
    await setPriceWad(w, ETH, eth);
  }
  expect((await w.engine.accountSummary(whale)).equity > 0n, "the whale is not bankrupt").to.equal(true);

  // `nearly` 1% of its BTC leg below maintenance, well inside the band's 5%
  const btcNotional = (await snapshotLeg(w, nearly, BTC)).leg.notional;
  const s = await w.engine.accountSummary(nearly);
  const need = BigInt(s.maintenanceMargin) - s.equity - btcNotional / 100n;
  expect(need > 0n, "nearly starts further below maintenance").to.equal(true);
  await w.engine.connect(w.bob).deposit(nearly, need / 10n ** 12n);
  expect(await w.engine.isLiquidatable(nearly)).to.equal(true);

  await staleBtc(w, time, eth);
  return { w, whale, nearly, waits };
}

/** A keeper in process over the test network, liquidations only, from its own funded address. */
async function keeperFor(w: World): Promise<{ keeper: Keeper; provider: BrowserProvider }> {
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const net = Network.from(chainId);
  const provider = new BrowserProvider(connection.provider as unknown as Eip1193Provider, net, {
    staticNetwork: net,
    cacheTimeout: -1,
    polling: false,
  });
  const signers = await ethers.getSigners();
  const signer = await provider.getSigner(signers[9].address);
  const deployment = await deploymentRecord(w, "hardhat", chainId, 0);
  const config = keeperSettings({ pokeVolatility: false, pokeBreaker: false, claimRewards: false });
  return { keeper: new Keeper({ provider, signer, deployment, config, logger: silentLogger() }), provider };
}

describe("keeper: accounts with a leg in a market whose feed is stale (issue 11, Medium 6)", function () {
  it("liquidates the fresh ETH leg of an account liquidatable with its stale BTC leg at the band's edge; leaves a healthy one and one that waits for the feed", async function () {
    const { w, whale, nearly, waits } = await scene();
    const before = await Promise.all(
      [whale, nearly, waits].flatMap((id) => [w.engine.position(id, ETH), w.engine.position(id, BTC)]),
    );
    const { keeper, provider } = await keeperFor(w);
    try {
      const first = await keeper.tick();
      expect(first.accountsWithPositions).to.equal(3);
      expect(first.liquidatable, "the whale only").to.equal(1);
      expect(first.worst.map((a) => a.accountId)).to.deep.equal([whale]);
      expect(first.liquidation!.batches.some((b) => b.sent && b.accounts.includes(whale))).to.equal(true);
      const second = await keeper.tick(); // automine: the batch is in the next block already
      expect(second.mined.flatMap((m) => m.liquidated)).to.include(whale);
    } finally {
      provider.destroy();
    }
    // the whale's ETH leg was cut, its stale BTC leg not traded; the other two untouched
    const after = await Promise.all(
      [whale, nearly, waits].flatMap((id) => [w.engine.position(id, ETH), w.engine.position(id, BTC)]),
    );
    expect(after[0].size < before[0].size, "the whale's ETH leg").to.equal(true);
    expect(after[1].size).to.equal(before[1].size);
    expect(after.slice(2).map((p) => p.size)).to.deep.equal(before.slice(2).map((p) => p.size));
  });

  it("values each account as the contract does, to the wei: the plan's or AccountHealthy's equity and maintenance, and StaleLegMayCoverLoss as waiting", async function () {
    const { w, whale, nearly, waits } = await scene();
    // the view of the next block (an eth_call on "pending" runs at its time): mine it now, read it
    await networkHelpers.mine();
    const { block, view, book } = await readKeeperBook(ethers, w, keeperContracts(w), [whale, nearly, waits]);
    const at = { blockTag: block.number };
    expect([...view.unpriced.keys()]).to.deep.equal([BTC]);
    expect([...view.stale.keys()]).to.deep.equal([BTC]);
    const snapshot = (id: bigint) => book.snapshotOf(book.get(id)!);

    const whaleValue = staleValuation(view, snapshot(whale));
    const plan = await w.liquidationEngine.previewLiquidation(whale, at);
    expect(whaleValue).to.not.be.a("string");
    expect([
      (whaleValue as { equity: bigint }).equity,
      (whaleValue as { maintenanceMargin: bigint }).maintenanceMargin,
    ]).to.deep.equal([plan.equity, plan.maintenanceMargin]);

    const nearlyValue = staleValuation(view, snapshot(nearly)) as { equity: bigint; maintenanceMargin: bigint };
    const healthy = await w.liquidationEngine.previewLiquidation(nearly, at).then(
      () => undefined,
      (e: { data?: string }) => w.liquidationEngine.interface.parseError(e.data!),
    );
    expect(healthy?.name).to.equal("AccountHealthy");
    expect([nearlyValue.equity, nearlyValue.maintenanceMargin]).to.deep.equal([healthy!.args[1], healthy!.args[2]]);
    expect(nearlyValue.equity >= BigInt(nearlyValue.maintenanceMargin)).to.equal(true);

    expect(staleValuation(view, snapshot(waits))).to.equal("waits");
    await expect(w.liquidationEngine.previewLiquidation(waits, at))
      .to.be.revertedWithCustomError(w.liquidationEngine, "StaleLegMayCoverLoss")
      .withArgs(waits, BTC);

    const scan = scanAccounts(book, view);
    expect(scan.liquidatable.map((a) => a.accountId)).to.deep.equal([whale]);
    expect(scan).to.deep.include({ withPositions: 3, staleValued: 3, unpriced: 0, unevaluated: 0 });
  });
});
