/**
 * The own-impact mark's scope `sales` (bs14, scripts/keeper/ownImpactMark.ts, off by default) asks the engine
 * whether the backstop vault would take an account over before it leaves it: `vaultWouldTake`, an eth_call of
 * the engine's own `backstopTakeover` from the engine's address. Against the deployed protocol its answer is
 * what `liquidate` then does: a takeover where it says yes, a close into the market where it says no.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { vaultWouldTake } from "../../scripts/keeper/ownImpactMark.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { BACKSTOP_TEST_CONFIG, type BackstopConfig, attachBackstopVault } from "../helpers/backstop.js";
import { ETH, deployWorld } from "../helpers/fixture.js";
import { moveLongToHalfHealth, openPosition } from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

/** Alice's 200 ETH long at health 1/2 (past the backstop, not bankrupt) beside a vault with `config`; Bob healthy. */
async function worldWith(config: BackstopConfig) {
  const w = await deployWorld(ethers);
  for (const s of [w.alice, w.bob]) await w.usdc.mint(s.address, 100_000_000n * 10n ** 6n);
  const { vaultAccount } = await attachBackstopVault(ethers, w, config, 1_000_000n);
  const bob = await openPosition(w, w.bob, 60_000n, [[ETH, -100n * WAD]]);
  const alice = await openPosition(w, w.alice, 40_000n, [[ETH, 200n * WAD]]);
  await moveLongToHalfHealth(w, alice, ETH);
  const backstop = IBackstopEngine__factory.connect(w.engine.target as string, ethers.provider);
  return { w, vaultAccount, alice, bob, backstop };
}

const taking = () => worldWith(BACKSTOP_TEST_CONFIG);
/** the same vault, its per-account cap at 0.1% of its equity ($1,000 against Alice's ~$300k): it declines */
const declining = () => worldWith({ ...BACKSTOP_TEST_CONFIG, accountShare: WAD / 1_000n });

describe("keeper own-impact mark, scope sales: the vault's decision (experimental)", () => {
  it("says 'takes over' for an account the vault takes, and liquidate then takes it", async () => {
    const { w, vaultAccount, alice, bob, backstop } = await loadFixture(taking);
    const block = await ethers.provider.getBlockNumber();
    expect(await vaultWouldTake(backstop, alice, w.stranger.address, block)).to.equal(true);
    // a healthy account: no takeover (and no liquidation)
    expect(await vaultWouldTake(backstop, bob, w.stranger.address, block)).to.equal(false);
    // the probe changed nothing
    expect((await w.engine.position(vaultAccount, ETH)).size).to.equal(0n);
    await w.liquidationEngine.connect(w.stranger).liquidate(alice);
    expect((await w.engine.position(vaultAccount, ETH)).size).to.equal(200n * WAD);
    expect((await w.engine.position(alice, ETH)).size).to.equal(0n);
  });

  it("says 'declines' for an account over the vault's cap, and liquidate then closes it into the market", async () => {
    const { w, vaultAccount, alice, backstop } = await loadFixture(declining);
    const block = await ethers.provider.getBlockNumber();
    expect(await vaultWouldTake(backstop, alice, w.stranger.address, block)).to.equal(false);
    // without the backstop module: a decline
    expect(await vaultWouldTake(undefined, alice, w.stranger.address, block)).to.equal(false);
    await w.liquidationEngine.connect(w.stranger).liquidate(alice);
    expect((await w.engine.position(vaultAccount, ETH)).size).to.equal(0n);
    expect((await w.engine.position(alice, ETH)).size).to.be.lessThan(200n * WAD);
  });
});
