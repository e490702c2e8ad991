/**
 * Reentrancy through the collateral token on the liquidation layer's token paths: a keeper's claim
 * (vault -> keeper), the fund's keeper top-up (fund -> keeper) and its bad-debt cover (fund -> vault).
 * The protocol runs on ReentrantToken, armed to call back into the vault or the liquidation engine during
 * the transfer; every re-entry is refused with ReentrancyGuardReentrantCall and the outer call reverts
 * as a whole.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { DEFAULT_MARKETS, feedId, marketConfig } from "../../deploy/params.js";
import { LIQUIDATOR_ROLE } from "../../deploy/protocol.js";
import type {
  InsuranceFund,
  ILiquidationEngine,
  MockAggregator,
  PerpEngine,
  ReentrantToken,
  Vault,
} from "../../types/ethers-contracts/index.js";
import { ETH, MAX_PRICE, USDC, units } from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const SCALE = 10n ** 12n;

async function reentrantWorld() {
  const [admin, governor, guardian, lp, alice, bob, keeper, staker] = await ethers.getSigners();
  const token = (await ethers.deployContract("ReentrantToken")) as unknown as ReentrantToken;
  const oracle = await ethers.deployContract("OracleAdapter", [admin.address, governor.address]);
  const vault = (await ethers.deployContract("Vault", [token, admin.address, governor.address])) as unknown as Vault;
  // the engine's modules, each built with the next one it passes unknown calls to
  const ownImpact = await ethers.deployContract("OwnImpactModule", [vault, oracle]);
  const adl = await ethers.deployContract("AutoDeleveraging", [vault, oracle, ownImpact]);
  const backstop = await ethers.deployContract("BackstopModule", [vault, oracle, adl]);
  const configurator = await ethers.deployContract("LiquidationConfigurator", [vault, oracle, backstop]);
  const liquidationModule = await ethers.deployContract("LiquidationEngine", [vault, oracle, configurator]);
  const marketAdmin = await ethers.deployContract("MarketAdmin", [vault, oracle]);
  const engine = (await ethers.deployContract("PerpEngine", [
    vault,
    oracle,
    admin.address,
    governor.address,
    guardian.address,
    marketAdmin,
    liquidationModule,
  ])) as unknown as PerpEngine;
  await vault.connect(admin).setEngine(engine);
  const fund = (await ethers.deployContract("InsuranceFund", [
    token,
    vault,
    engine,
    admin.address,
    governor.address,
  ])) as unknown as InsuranceFund;
  // the liquidation engine is served at the engine's address
  const le = (await ethers.getContractAt(
    "ILiquidationEngine",
    await engine.getAddress(),
  )) as unknown as ILiquidationEngine;
  await vault.connect(admin).wireLiquidation(le, fund);
  await fund.connect(admin).setLiquidationEngine(le);
  await engine.connect(admin).grantRole(LIQUIDATOR_ROLE, le);
  const feeds = new Map<number, MockAggregator>();
  for (const m of DEFAULT_MARKETS) {
    const answer = m.initialPriceUsd * 10n ** BigInt(m.feedDecimals);
    const feed = (await ethers.deployContract("MockAggregator", [
      m.feedDecimals,
      answer,
      `${m.symbol} / USD`,
    ])) as unknown as MockAggregator;
    feeds.set(m.id, feed);
    await oracle.connect(governor).setFeed(feedId(m.symbol), feed, m.heartbeat, m.volWindow, m.initialSigma);
    await engine.connect(governor).listMarket(m.id, marketConfig(m));
  }
  for (const s of [lp, alice, bob, staker]) {
    await token.mint(s.address, 10_000_000n * USDC);
    await token.connect(s).approve(vault, 2n ** 256n - 1n);
  }
  await vault.connect(lp).deposit(1_000_000n * USDC, lp.address);

  // two accounts liquidatable at 1962 (one tranche each), one bankrupt at 1900
  const open = async (owner: typeof alice, margin: bigint, size: bigint) => {
    const id = await engine.nextAccountId();
    await engine.connect(owner).createAccount();
    await engine.connect(owner).deposit(id, margin);
    await engine.connect(owner).modifyPosition(id, ETH, size, MAX_PRICE);
    return id;
  };
  const first = await open(alice, 1_000n * USDC, units(15));
  const second = await open(bob, 1_000n * USDC, units(15));
  await feeds.get(ETH)!.updateAnswer(1_962n * 10n ** 8n);
  await le.connect(keeper).liquidate(first);
  expect(await vault.keeperRewardsOf(keeper.address)).to.be.greaterThan(SCALE);
  return { token, vault, engine, fund, le, feeds, keeper, staker, alice, bob, first, second };
}

type Fixture = Awaited<ReturnType<typeof reentrantWorld>>;

/** What a refused call must leave untouched. */
async function state(f: Fixture, accounts: bigint[]) {
  const parts: unknown[] = [
    await f.token.balanceOf(f.vault),
    await f.token.balanceOf(f.fund),
    await f.token.balanceOf(f.keeper.address),
    await f.vault.keeperRewardsOf(f.keeper.address),
    await f.vault.insurancePendingWad(),
    await f.vault.lpPoolWad(),
    await f.le.badDebtIncurred(),
  ];
  for (const id of accounts) parts.push(await f.vault.marginOf(id), (await f.engine.position(id, ETH)).size);
  return JSON.stringify(parts, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

describe("Liquidation layer: reentrancy through the collateral token", function () {
  it("claimKeeperRewards re-entered into claimKeeperRewards, flushInsurance or liquidate: refused, nothing moves", async function () {
    const f = await loadFixture(reentrantWorld);
    const calls: [string, string][] = [
      [await f.vault.getAddress(), f.vault.interface.encodeFunctionData("claimKeeperRewards", [f.keeper.address])],
      [await f.vault.getAddress(), f.vault.interface.encodeFunctionData("flushInsurance")],
      [await f.le.getAddress(), f.le.interface.encodeFunctionData("liquidate", [f.second])],
    ];
    for (const [target, data] of calls) {
      await f.token.arm(target, data);
      const before = await state(f, [f.first, f.second]);
      await expect(f.vault.connect(f.keeper).claimKeeperRewards(f.keeper.address)).to.be.revertedWithCustomError(
        f.vault,
        "ReentrancyGuardReentrantCall",
      );
      expect(await state(f, [f.first, f.second])).to.equal(before);
      await f.token.arm(ethers.ZeroAddress, "0x");
    }
    // unarmed, the claim goes through
    const rewards = await f.vault.keeperRewardsOf(f.keeper.address);
    await expect(f.vault.connect(f.keeper).claimKeeperRewards(f.keeper.address)).to.changeTokenBalance(
      ethers,
      f.token,
      f.keeper,
      rewards / SCALE,
    );
  });

  it("a liquidation whose fund cover and keeper top-up re-enter the liquidation engine is refused as a whole", async function () {
    const f = await loadFixture(reentrantWorld);
    await f.token.connect(f.staker).approve(f.fund, 2n ** 256n - 1n);
    await f.fund.connect(f.staker).deposit(10_000n * USDC, f.staker.address);
    await f.feeds.get(ETH)!.updateAnswer(1_900n * 10n ** 8n); // second is bankrupt: cover and top-up
    const plan = await f.le.previewLiquidation(f.second);
    expect(plan.badDebtCovered).to.be.greaterThan(0n);
    expect(plan.keeperFromFund).to.be.greaterThan(0n);
    const reenter = f.le.interface.encodeFunctionData("liquidate", [f.first]);
    await f.token.arm(await f.le.getAddress(), reenter);
    const before = await state(f, [f.first, f.second]);
    await expect(f.le.connect(f.keeper).liquidate(f.second)).to.be.revertedWithCustomError(
      f.le,
      "ReentrancyGuardReentrantCall",
    );
    expect(await state(f, [f.first, f.second])).to.equal(before);
    await f.token.arm(ethers.ZeroAddress, "0x");
    await expect(f.le.connect(f.keeper).liquidate(f.second)).to.emit(f.le, "LiquidationSettled");
    expect((await f.engine.position(f.second, ETH)).size).to.equal(0n);
  });
});
