/**
 * Access control and parameter bounds: every admin entry point refuses callers without its role
 * (AccessControlUnauthorizedAccount with the role id of deploy/protocol.ts) and changes nothing; the
 * role holder's call succeeds and emits its event. Every bounded setter refuses values outside
 * [min, max] with ParameterOutOfBounds(name, value, min, max) and accepts both bounds.
 */
import { expect } from "chai";
import { type BaseContract, encodeBytes32String } from "ethers";
import { network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { DEFAULT_MARKETS, type RiskParams, WAD, feedId, marketConfig } from "../../deploy/params.js";
import { GOVERNOR_ROLE, GUARDIAN_ROLE } from "../../deploy/protocol.js";
import {
  ETH,
  MAX_PRICE,
  USDC,
  deployWorld,
  openAccount,
  snapshotState,
  units,
  type World,
} from "../helpers/fixture.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const ADMIN_ROLE = ethers.ZeroHash;
const SCALE = 10n ** 12n;
const ETH_SPEC = DEFAULT_MARKETS[0];
const ETH_FEED = feedId("ETH");
const SOL_FEED = feedId("SOL");
const name = encodeBytes32String;

type Config = ReturnType<typeof marketConfig>;

async function world() {
  const w = await deployWorld(ethers);
  const alice = await openAccount(w, w.alice, 10_000n * USDC);
  // One trade, so the protocol has fees to claim.
  await w.engine.connect(w.alice).modifyPosition(alice, ETH, units(10), MAX_PRICE);
  const spareFeed = await ethers.deployContract("MockAggregator", [8, 150n * 10n ** 8n, "SOL / USD"]);
  return { w, alice, spareFeed };
}

/** Everything an admin call could change, on top of balances and positions. */
async function adminState(w: World, accountIds: bigint[]): Promise<string> {
  const roles = [ADMIN_ROLE, GOVERNOR_ROLE, GUARDIAN_ROLE];
  const holders = [w.admin, w.governor, w.guardian, w.stranger].map((s) => s.address);
  const parts: unknown[] = [
    await snapshotState(w, accountIds),
    await w.vault.engine(),
    await w.vault.lpFeeShare(),
    await w.vault.lpLockRatio(),
    await w.engine.circuitBreaker(),
    await w.engine.listedMarkets(),
    (await w.engine.marketConfig(2)).toString(),
    (await w.oracle.feedConfig(ETH_FEED)).toString(),
    (await w.oracle.feedConfig(SOL_FEED)).toString(),
    (await w.oracle.volatilityState(ETH_FEED)).toString(),
    (await w.oracle.sequencerConfig()).toString(),
  ];
  for (const c of [w.engine, w.vault, w.oracle]) {
    for (const r of roles) for (const h of holders) parts.push(await c.hasRole(r, h));
  }
  return JSON.stringify(parts, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

function configTuple(c: Config) {
  const r = c.risk;
  return [
    c.feedId,
    c.skewScale,
    c.maxFundingRatePerSecond,
    true, // listed
    false, // reduceOnly
    c.maxOpenInterest,
    c.maxTradeSize,
    [r.mmrBase, r.mmrMin, r.mmrMax, r.kMm, r.imMultiplier, r.sizePremium, r.mmrRampPerSecond, r.baseFee, r.kFee],
  ];
}

/** An ethers Result (struct output) as plain nested arrays. */
const plain = (v: unknown): unknown => (Array.isArray(v) ? [...v].map(plain) : v);

type Gate = {
  fn: string;
  contract: (w: World) => BaseContract & { hasRole(role: string, account: string): Promise<boolean> };
  /** The role named in the refusal. */
  role: string;
  /** Roles any of which lets a caller through (default: `role`). */
  anyOf?: string[];
  call: (w: World, as: HardhatEthersSigner, spareFeed: string) => Promise<unknown>;
  holder: (w: World) => HardhatEthersSigner;
  /** What the holder's call does: the event it emits, or (setEngine) the next check it meets. */
  allowed: (w: World, spareFeed: string) => [BaseContract, "emit" | "revert", string, unknown[]];
};

const GATES: Gate[] = [
  {
    fn: "PerpEngine.listMarket",
    contract: (w) => w.engine,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.engine.connect(as).listMarket(2, marketConfig(ETH_SPEC)),
    holder: (w) => w.governor,
    allowed: (w) => [w.engine, "emit", "MarketListed", [2n, ETH_FEED]],
  },
  {
    fn: "PerpEngine.setMarketConfig",
    contract: (w) => w.engine,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.engine.connect(as).setMarketConfig(ETH, { ...marketConfig(ETH_SPEC), maxTradeSize: units(5) }),
    holder: (w) => w.governor,
    allowed: (w) => [
      w.engine,
      "emit",
      "MarketConfigSet",
      [ETH, configTuple({ ...marketConfig(ETH_SPEC), maxTradeSize: units(5) })],
    ],
  },
  {
    fn: "PerpEngine.restrictMarket",
    contract: (w) => w.engine,
    role: GUARDIAN_ROLE,
    anyOf: [GUARDIAN_ROLE, GOVERNOR_ROLE],
    call: (w, as) => w.engine.connect(as).restrictMarket(ETH),
    holder: (w) => w.guardian,
    allowed: (w) => [w.engine, "emit", "MarketReduceOnlySet", [ETH, true, w.guardian.address]],
  },
  {
    fn: "PerpEngine.unrestrictMarket",
    contract: (w) => w.engine,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.engine.connect(as).unrestrictMarket(ETH),
    holder: (w) => w.governor,
    allowed: (w) => [w.engine, "emit", "MarketReduceOnlySet", [ETH, false, w.governor.address]],
  },
  {
    fn: "PerpEngine.lowerOpenInterestCap",
    contract: (w) => w.engine,
    role: GUARDIAN_ROLE,
    call: (w, as) => w.engine.connect(as).lowerOpenInterestCap(ETH, units(5_000)),
    holder: (w) => w.guardian,
    allowed: (w) => [
      w.engine,
      "emit",
      "MarketConfigSet",
      [ETH, configTuple({ ...marketConfig(ETH_SPEC), maxOpenInterest: units(5_000), maxTradeSize: units(5_000) })],
    ],
  },
  {
    fn: "PerpEngine.setCircuitBreaker",
    contract: (w) => w.engine,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.engine.connect(as).setCircuitBreaker(ethers.ZeroAddress),
    holder: (w) => w.governor,
    allowed: (w) => [w.engine, "emit", "CircuitBreakerSet", [ethers.ZeroAddress]],
  },
  {
    fn: "PerpEngine.grantRole",
    contract: (w) => w.engine,
    role: ADMIN_ROLE,
    call: (w, as) => w.engine.connect(as).grantRole(GUARDIAN_ROLE, w.stranger.address),
    holder: (w) => w.admin,
    allowed: (w) => [w.engine, "emit", "RoleGranted", [GUARDIAN_ROLE, w.stranger.address, w.admin.address]],
  },
  {
    fn: "Vault.setEngine",
    contract: (w) => w.vault,
    role: ADMIN_ROLE,
    call: (w, as) => w.vault.connect(as).setEngine(w.stranger.address),
    // Already wired at deploy: the admin's call is refused for that reason instead (tested below).
    holder: (w) => w.admin,
    allowed: (w) => [w.vault, "revert", "EngineAlreadySet", [w.engine]],
  },
  {
    fn: "Vault.setLpFeeShare",
    contract: (w) => w.vault,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.vault.connect(as).setLpFeeShare(WAD / 2n),
    holder: (w) => w.governor,
    allowed: (w) => [w.vault, "emit", "LpFeeShareSet", [WAD / 2n]],
  },
  {
    fn: "Vault.setLpLockRatio",
    contract: (w) => w.vault,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.vault.connect(as).setLpLockRatio(WAD / 2n),
    holder: (w) => w.governor,
    allowed: (w) => [w.vault, "emit", "LpLockRatioSet", [WAD / 2n]],
  },
  {
    fn: "Vault.claimProtocolFees",
    contract: (w) => w.vault,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.vault.connect(as).claimProtocolFees(as.address),
    holder: (w) => w.governor,
    allowed: (w) => [w.vault, "emit", "ProtocolFeesClaimed", [w.governor.address, (amount: bigint) => amount > 0n]],
  },
  {
    fn: "Vault.grantRole",
    contract: (w) => w.vault,
    role: ADMIN_ROLE,
    call: (w, as) => w.vault.connect(as).grantRole(GOVERNOR_ROLE, w.stranger.address),
    holder: (w) => w.admin,
    allowed: (w) => [w.vault, "emit", "RoleGranted", [GOVERNOR_ROLE, w.stranger.address, w.admin.address]],
  },
  {
    fn: "OracleAdapter.setFeed",
    contract: (w) => w.oracle,
    role: GOVERNOR_ROLE,
    call: (w, as, spare) => w.oracle.connect(as).setFeed(SOL_FEED, spare, 3600, 6 * 3600, WAD / 2n),
    holder: (w) => w.governor,
    allowed: (w, spare) => [w.oracle, "emit", "FeedSet", [SOL_FEED, spare, 3600n, 8n, 6n * 3600n]],
  },
  {
    fn: "OracleAdapter.setSequencerFeed",
    contract: (w) => w.oracle,
    role: GOVERNOR_ROLE,
    call: (w, as, spare) => w.oracle.connect(as).setSequencerFeed(spare, 600),
    holder: (w) => w.governor,
    allowed: (w, spare) => [w.oracle, "emit", "SequencerFeedSet", [spare, 600n]],
  },
  {
    fn: "OracleAdapter.resetVolatility",
    contract: (w) => w.oracle,
    role: GOVERNOR_ROLE,
    call: (w, as) => w.oracle.connect(as).resetVolatility(ETH_FEED, WAD),
    holder: (w) => w.governor,
    allowed: (w) => [w.oracle, "emit", "VolatilityReset", [ETH_FEED, WAD]],
  },
  {
    fn: "OracleAdapter.grantRole",
    contract: (w) => w.oracle,
    role: ADMIN_ROLE,
    call: (w, as) => w.oracle.connect(as).grantRole(GOVERNOR_ROLE, w.stranger.address),
    holder: (w) => w.admin,
    allowed: (w) => [w.oracle, "emit", "RoleGranted", [GOVERNOR_ROLE, w.stranger.address, w.admin.address]],
  },
];

describe("Access: admin functions refuse callers without the role", function () {
  for (const gate of GATES) {
    it(`${gate.fn} refuses every caller without the role and changes nothing`, async function () {
      const { w, alice, spareFeed } = await loadFixture(world);
      const spare = await spareFeed.getAddress();
      const contract = gate.contract(w);
      const refused: HardhatEthersSigner[] = [];
      for (const s of [w.admin, w.governor, w.guardian, w.lp, w.alice, w.stranger]) {
        let allowed = false;
        for (const r of gate.anyOf ?? [gate.role]) allowed ||= await contract.hasRole(r, s.address);
        if (!allowed) refused.push(s);
      }
      expect(refused).to.include(w.stranger);
      expect(refused).to.not.include(gate.holder(w));
      const before = await adminState(w, [alice]);
      for (const s of refused) {
        await expect(gate.call(w, s, spare))
          .to.be.revertedWithCustomError(contract, "AccessControlUnauthorizedAccount")
          .withArgs(s.address, gate.role);
      }
      expect(await adminState(w, [alice])).to.equal(before);
      const [target, outcome, eventOrError, args] = gate.allowed(w, spare);
      const byHolder = expect(gate.call(w, gate.holder(w), spare));
      if (outcome === "emit") await byHolder.to.emit(target, eventOrError).withArgs(...args);
      else await byHolder.to.be.revertedWithCustomError(target, eventOrError).withArgs(...args);
    });
  }

  it("restrictMarket is also open to the governor (it only makes things safer)", async function () {
    const { w } = await loadFixture(world);
    await expect(w.engine.connect(w.governor).restrictMarket(ETH))
      .to.emit(w.engine, "MarketReduceOnlySet")
      .withArgs(ETH, true, w.governor.address);
    expect((await w.engine.marketConfig(ETH)).reduceOnly).to.equal(true);
  });

  it("Vault.depositMargin, withdrawMargin and settle refuse anyone but the engine with NotEngine", async function () {
    const { w, alice } = await loadFixture(world);
    const before = await adminState(w, [alice]);
    for (const s of [w.admin, w.governor, w.guardian, w.lp, w.alice, w.stranger]) {
      const v = w.vault.connect(s);
      await expect(v.depositMargin(alice, s.address, USDC))
        .to.be.revertedWithCustomError(w.vault, "NotEngine")
        .withArgs(s.address);
      await expect(v.withdrawMargin(alice, s.address, USDC))
        .to.be.revertedWithCustomError(w.vault, "NotEngine")
        .withArgs(s.address);
      await expect(v.settle(alice, units(1_000), 0n))
        .to.be.revertedWithCustomError(w.vault, "NotEngine")
        .withArgs(s.address);
    }
    expect(await adminState(w, [alice])).to.equal(before);
    // Through the engine the same ledger move goes through.
    await expect(w.engine.connect(w.alice).deposit(alice, USDC))
      .to.emit(w.vault, "MarginDeposited")
      .withArgs(alice, w.alice.address, USDC);
  });
});

describe("Access: the guardian only tightens", function () {
  it("lowerOpenInterestCap refuses a cap that is not lower with GuardianCanOnlyTighten", async function () {
    const { w, alice } = await loadFixture(world);
    const g = w.engine.connect(w.guardian);
    const cap = ETH_SPEC.maxOpenInterest;
    const before = await adminState(w, [alice]);
    for (const newCap of [cap, cap + 1n, 2n ** 128n - 1n]) {
      await expect(g.lowerOpenInterestCap(ETH, newCap))
        .to.be.revertedWithCustomError(w.engine, "GuardianCanOnlyTighten")
        .withArgs(ETH);
    }
    await expect(g.lowerOpenInterestCap(7, 1n)).to.be.revertedWithCustomError(w.engine, "MarketNotFound").withArgs(7);
    expect(await adminState(w, [alice])).to.equal(before);

    // One below is a tightening; the trade size is clamped only once it exceeds the cap.
    await expect(g.lowerOpenInterestCap(ETH, cap - 1n))
      .to.emit(w.engine, "MarketConfigSet")
      .withArgs(ETH, configTuple({ ...marketConfig(ETH_SPEC), maxOpenInterest: cap - 1n }));
    await g.lowerOpenInterestCap(ETH, units(20));
    const c = await w.engine.marketConfig(ETH);
    expect([c.maxOpenInterest, c.maxTradeSize]).to.deep.equal([units(20), units(20)]);
  });

  it("the guardian can restrict a market but cannot lift the restriction", async function () {
    const { w, alice } = await loadFixture(world);
    await w.engine.connect(w.guardian).restrictMarket(ETH);
    const before = await adminState(w, [alice]);
    await expect(w.engine.connect(w.guardian).unrestrictMarket(ETH))
      .to.be.revertedWithCustomError(w.engine, "AccessControlUnauthorizedAccount")
      .withArgs(w.guardian.address, GOVERNOR_ROLE);
    expect(await adminState(w, [alice])).to.equal(before);
    expect((await w.engine.marketConfig(ETH)).reduceOnly).to.equal(true);
    await expect(w.engine.connect(w.governor).unrestrictMarket(ETH))
      .to.emit(w.engine, "MarketReduceOnlySet")
      .withArgs(ETH, false, w.governor.address);
    expect((await w.engine.marketConfig(ETH)).reduceOnly).to.equal(false);
  });
});

describe("Access: one-time wiring and fee claims", function () {
  it("Vault.setEngine refuses address(0), then wires once and refuses a second engine", async function () {
    const { w } = await loadFixture(world);
    await expect(w.vault.connect(w.admin).setEngine(w.stranger.address))
      .to.be.revertedWithCustomError(w.vault, "EngineAlreadySet")
      .withArgs(w.engine);

    const fresh = await ethers.deployContract("Vault", [w.usdc, w.admin.address, w.governor.address]);
    await expect(fresh.connect(w.admin).setEngine(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      fresh,
      "ZeroAddress",
    );
    expect(await fresh.engine()).to.equal(ethers.ZeroAddress);
    await expect(fresh.connect(w.admin).setEngine(w.alice.address))
      .to.emit(fresh, "EngineSet")
      .withArgs(w.alice.address);
    await expect(fresh.connect(w.admin).setEngine(w.bob.address))
      .to.be.revertedWithCustomError(fresh, "EngineAlreadySet")
      .withArgs(w.alice.address);
    expect(await fresh.engine()).to.equal(w.alice.address);
  });

  it("Vault.claimProtocolFees refuses address(0), pays whole units, then refuses with nothing left", async function () {
    const { w, alice } = await loadFixture(world);
    const v = w.vault.connect(w.governor);
    await expect(v.claimProtocolFees(ethers.ZeroAddress)).to.be.revertedWithCustomError(w.vault, "ZeroAddress");
    const feesWad = await w.vault.protocolFeesWad();
    // The insurance fund's share is set aside first; the rest is paid in whole token units.
    const insuranceShare = (feesWad * (await w.vault.insuranceFeeShare())) / WAD;
    const pendingBefore = await w.vault.insurancePendingWad();
    const amount = (feesWad - insuranceShare) / SCALE;
    expect(amount).to.be.greaterThan(0n);
    await expect(v.claimProtocolFees(w.stranger.address)).to.changeTokenBalances(
      ethers,
      w.usdc,
      [w.stranger, w.vault],
      [amount, -amount],
    );
    // The sub-unit remainder stays booked; the set-aside share is owed to the insurance fund.
    expect(await w.vault.protocolFeesWad()).to.equal((feesWad - insuranceShare) % SCALE);
    expect(await w.vault.insurancePendingWad()).to.be.greaterThanOrEqual(pendingBefore);
    const before = await adminState(w, [alice]);
    await expect(v.claimProtocolFees(w.stranger.address)).to.be.revertedWithCustomError(w.vault, "ZeroAmount");
    expect(await adminState(w, [alice])).to.equal(before);
  });
});

// ------------------------------------------------------------------ parameter bounds

const MIN_SKEW_SCALE = WAD;
const MAX_SKEW_SCALE = 10n ** 30n;
const MAX_FUNDING = 10n ** 13n;
const MIN_MMR = WAD / 1000n;
const MAX_MMR = WAD / 2n;
const MAX_K_MM = WAD / 5n;
const MAX_IM_MULTIPLIER = 10n * WAD;
const MIN_RAMP = 10n ** 11n;
const MAX_RAMP = 10n ** 15n;
const MAX_BASE_FEE = WAD / 100n;
const MAX_K_FEE = 10n * WAD;

const base = marketConfig(ETH_SPEC);
const MAX_OI = ETH_SPEC.skewScale / 4n; // MAX_OI_TO_SKEW_SCALE = 0.25
const top = (t: Partial<Config>) => ({ ...base, ...t });
const risk = (r: Partial<RiskParams>) => ({ ...base, risk: { ...base.risk, ...r } });
const { mmrMin, mmrMax } = base.risk;

/** [parameter, config, value, min, max]: a config that one bound refuses. */
const OUT_OF_BOUNDS: [string, Config, bigint, bigint, bigint][] = [
  ["skewScale", top({ skewScale: MIN_SKEW_SCALE - 1n }), MIN_SKEW_SCALE - 1n, MIN_SKEW_SCALE, MAX_SKEW_SCALE],
  ["skewScale", top({ skewScale: MAX_SKEW_SCALE + 1n }), MAX_SKEW_SCALE + 1n, MIN_SKEW_SCALE, MAX_SKEW_SCALE],
  ["maxOpenInterest", top({ maxOpenInterest: 0n }), 0n, 1n, MAX_OI],
  ["maxOpenInterest", top({ maxOpenInterest: MAX_OI + 1n }), MAX_OI + 1n, 1n, MAX_OI],
  ["maxTradeSize", top({ maxTradeSize: 0n }), 0n, 1n, base.maxOpenInterest],
  [
    "maxTradeSize",
    top({ maxTradeSize: base.maxOpenInterest + 1n }),
    base.maxOpenInterest + 1n,
    1n,
    base.maxOpenInterest,
  ],
  ["maxFundingRatePerSecond", top({ maxFundingRatePerSecond: MAX_FUNDING + 1n }), MAX_FUNDING + 1n, 0n, MAX_FUNDING],
  ["mmrMin", risk({ mmrMin: MIN_MMR - 1n }), MIN_MMR - 1n, MIN_MMR, MAX_MMR],
  ["mmrMin", risk({ mmrMin: MAX_MMR + 1n }), MAX_MMR + 1n, MIN_MMR, MAX_MMR],
  ["mmrMax", risk({ mmrMax: mmrMin - 1n }), mmrMin - 1n, mmrMin, MAX_MMR],
  ["mmrMax", risk({ mmrMax: MAX_MMR + 1n }), MAX_MMR + 1n, mmrMin, MAX_MMR],
  ["mmrBase", risk({ mmrBase: mmrMin - 1n }), mmrMin - 1n, mmrMin, mmrMax],
  ["mmrBase", risk({ mmrBase: mmrMax + 1n }), mmrMax + 1n, mmrMin, mmrMax],
  ["kMm", risk({ kMm: MAX_K_MM + 1n }), MAX_K_MM + 1n, 0n, MAX_K_MM],
  ["imMultiplier", risk({ imMultiplier: WAD - 1n }), WAD - 1n, WAD, MAX_IM_MULTIPLIER],
  ["imMultiplier", risk({ imMultiplier: MAX_IM_MULTIPLIER + 1n }), MAX_IM_MULTIPLIER + 1n, WAD, MAX_IM_MULTIPLIER],
  ["sizePremium", risk({ sizePremium: WAD + 1n }), WAD + 1n, 0n, WAD],
  ["mmrRampPerSecond", risk({ mmrRampPerSecond: MIN_RAMP - 1n }), MIN_RAMP - 1n, MIN_RAMP, MAX_RAMP],
  ["mmrRampPerSecond", risk({ mmrRampPerSecond: MAX_RAMP + 1n }), MAX_RAMP + 1n, MIN_RAMP, MAX_RAMP],
  ["baseFee", risk({ baseFee: MAX_BASE_FEE + 1n }), MAX_BASE_FEE + 1n, 0n, MAX_BASE_FEE],
  ["kFee", risk({ kFee: MAX_K_FEE + 1n }), MAX_K_FEE + 1n, 0n, MAX_K_FEE],
];

/** [what, config]: each parameter at its bounds (with dependent ones moved so the config is consistent). */
const AT_BOUNDS: [string, Config][] = [
  ["skewScale = MIN", top({ skewScale: MIN_SKEW_SCALE, maxOpenInterest: WAD / 4n, maxTradeSize: WAD / 4n })],
  ["skewScale = MAX", top({ skewScale: MAX_SKEW_SCALE })],
  ["maxOpenInterest = 1", top({ maxOpenInterest: 1n, maxTradeSize: 1n })],
  ["maxOpenInterest = skewScale / 4", top({ maxOpenInterest: MAX_OI })],
  ["maxTradeSize = 1", top({ maxTradeSize: 1n })],
  ["maxTradeSize = maxOpenInterest", top({ maxTradeSize: base.maxOpenInterest })],
  ["maxFundingRatePerSecond = 0", top({ maxFundingRatePerSecond: 0n })],
  ["maxFundingRatePerSecond = MAX", top({ maxFundingRatePerSecond: MAX_FUNDING })],
  ["mmrMin = MIN", risk({ mmrMin: MIN_MMR })],
  ["mmrMin = MAX", risk({ mmrMin: MAX_MMR, mmrMax: MAX_MMR, mmrBase: MAX_MMR })],
  ["mmrMax = mmrMin", risk({ mmrMax: mmrMin, mmrBase: mmrMin })],
  ["mmrMax = MAX", risk({ mmrMax: MAX_MMR })],
  ["mmrBase = mmrMin", risk({ mmrBase: mmrMin })],
  ["mmrBase = mmrMax", risk({ mmrBase: mmrMax })],
  ["kMm = 0", risk({ kMm: 0n })],
  ["kMm = MAX", risk({ kMm: MAX_K_MM })],
  ["imMultiplier = 1", risk({ imMultiplier: WAD })],
  ["imMultiplier = MAX", risk({ imMultiplier: MAX_IM_MULTIPLIER })],
  ["sizePremium = 0", risk({ sizePremium: 0n })],
  ["sizePremium = MAX", risk({ sizePremium: WAD })],
  ["mmrRampPerSecond = MIN", risk({ mmrRampPerSecond: MIN_RAMP })],
  ["mmrRampPerSecond = MAX", risk({ mmrRampPerSecond: MAX_RAMP })],
  ["baseFee = 0", risk({ baseFee: 0n })],
  ["baseFee = MAX", risk({ baseFee: MAX_BASE_FEE })],
  ["kFee = 0", risk({ kFee: 0n })],
  ["kFee = MAX", risk({ kFee: MAX_K_FEE })],
];

describe("Bounds: PerpEngine market config", function () {
  it("setMarketConfig refuses each parameter outside its bounds with ParameterOutOfBounds", async function () {
    const { w, alice } = await loadFixture(world);
    const gov = w.engine.connect(w.governor);
    const before = await adminState(w, [alice]);
    for (const [parameter, config, value, min, max] of OUT_OF_BOUNDS) {
      await expect(gov.setMarketConfig(ETH, config), parameter)
        .to.be.revertedWithCustomError(w.engine, "ParameterOutOfBounds")
        .withArgs(name(parameter), value, min, max);
    }
    expect(await adminState(w, [alice])).to.equal(before);
  });

  it("listMarket applies the same bounds", async function () {
    const { w, alice } = await loadFixture(world);
    const gov = w.engine.connect(w.governor);
    const before = await adminState(w, [alice]);
    for (const [parameter, config, value, min, max] of OUT_OF_BOUNDS) {
      await expect(gov.listMarket(2, config), parameter)
        .to.be.revertedWithCustomError(w.engine, "ParameterOutOfBounds")
        .withArgs(name(parameter), value, min, max);
    }
    expect(await adminState(w, [alice])).to.equal(before);
  });

  for (const [what, config] of AT_BOUNDS) {
    it(`setMarketConfig accepts ${what} and emits MarketConfigSet`, async function () {
      const { w, alice } = await loadFixture(world);
      // The fixture's 10-unit position would exceed a cap of 1 or a skewScale of 1 (open-interest bound).
      await w.engine.connect(w.alice).closePosition(alice, ETH, 0n);
      await expect(w.engine.connect(w.governor).setMarketConfig(ETH, config))
        .to.emit(w.engine, "MarketConfigSet")
        .withArgs(ETH, configTuple(config));
      expect(plain(await w.engine.marketConfig(ETH))).to.deep.equal(configTuple(config));
    });
  }

  it("setMarketConfig refuses a skewScale under which the open interest would break the premium bound", async function () {
    const { w, alice } = await loadFixture(world);
    const oi = (await w.engine.marketState(ETH)).longOpenInterest;
    expect(oi).to.equal(units(10));
    const tooTight = top({ skewScale: 4n * oi - 4n, maxOpenInterest: oi - 1n, maxTradeSize: oi - 1n });
    const before = await adminState(w, [alice]);
    await expect(w.engine.connect(w.governor).setMarketConfig(ETH, tooTight))
      .to.be.revertedWithCustomError(w.engine, "ParameterOutOfBounds")
      .withArgs(name("openInterest"), oi, 0n, oi - 1n);
    expect(await adminState(w, [alice])).to.equal(before);
    const justFits = top({ skewScale: 4n * oi, maxOpenInterest: oi, maxTradeSize: oi });
    await expect(w.engine.connect(w.governor).setMarketConfig(ETH, justFits))
      .to.emit(w.engine, "MarketConfigSet")
      .withArgs(ETH, configTuple(justFits));
  });
});

describe("Bounds: Vault and OracleAdapter setters", function () {
  const vaultSetters: [string, "setLpFeeShare" | "setLpLockRatio", string, bigint, bigint, bigint[]][] = [
    ["lpFeeShare", "setLpFeeShare", "LpFeeShareSet", 0n, WAD, [WAD + 1n, 2n ** 256n - 1n]],
    ["lpLockRatio", "setLpLockRatio", "LpLockRatioSet", WAD / 20n, WAD, [0n, WAD / 20n - 1n, WAD + 1n]],
  ];
  for (const [parameter, setter, event, min, max, bad] of vaultSetters) {
    it(`Vault.${setter} refuses values outside [${min}, ${max}] and accepts both bounds`, async function () {
      const { w, alice } = await loadFixture(world);
      const v = w.vault.connect(w.governor);
      const before = await adminState(w, [alice]);
      for (const value of bad) {
        await expect(v[setter](value))
          .to.be.revertedWithCustomError(w.vault, "ParameterOutOfBounds")
          .withArgs(name(parameter), value, min, max);
      }
      expect(await adminState(w, [alice])).to.equal(before);
      for (const value of [min, max]) {
        await expect(v[setter](value)).to.emit(w.vault, event).withArgs(value);
        expect(await w.vault[parameter as "lpFeeShare" | "lpLockRatio"]()).to.equal(value);
      }
    });
  }

  it("OracleAdapter.setFeed bounds heartbeat, volWindow, sigma and decimals, and accepts the bounds", async function () {
    const { w, alice } = await loadFixture(world);
    const o = w.oracle.connect(w.governor);
    const eth = w.feeds.get(ETH)!;
    const maxSigma = await w.oracle.MAX_SIGMA();
    const day = 24n * 3600n;
    const refused: [string, bigint, bigint, bigint, bigint, bigint, bigint][] = [
      // parameter, heartbeat, volWindow, sigma, value, min, max
      ["heartbeat", 59n, 3600n, 0n, 59n, 60n, 3n * day],
      ["heartbeat", 3n * day + 1n, 3600n, 0n, 3n * day + 1n, 60n, 3n * day],
      ["volWindow", 3600n, 299n, 0n, 299n, 300n, 30n * day],
      ["volWindow", 3600n, 30n * day + 1n, 0n, 30n * day + 1n, 300n, 30n * day],
      ["sigma", 3600n, 3600n, maxSigma + 1n, maxSigma + 1n, 0n, maxSigma],
    ];
    const before = await adminState(w, [alice]);
    for (const [parameter, heartbeat, volWindow, sigma, value, min, max] of refused) {
      await expect(o.setFeed(SOL_FEED, eth, heartbeat, volWindow, sigma), parameter)
        .to.be.revertedWithCustomError(w.oracle, "ParameterOutOfBounds")
        .withArgs(name(parameter), value, min, max);
    }
    const tooPrecise = await ethers.deployContract("MockAggregator", [37, 150n * 10n ** 37n, "SOL / USD"]);
    await expect(o.setFeed(SOL_FEED, tooPrecise, 3600, 3600, 0n))
      .to.be.revertedWithCustomError(w.oracle, "ParameterOutOfBounds")
      .withArgs(name("decimals"), 37n, 0n, 36n);
    expect(await adminState(w, [alice])).to.equal(before);

    const mostPrecise = await ethers.deployContract("MockAggregator", [36, 150n * 10n ** 36n, "SOL / USD"]);
    await expect(o.setFeed(SOL_FEED, mostPrecise, 60, 300, 0n))
      .to.emit(w.oracle, "FeedSet")
      .withArgs(SOL_FEED, mostPrecise, 60n, 36n, 300n);
    await expect(o.setFeed(SOL_FEED, eth, 3n * day, 30n * day, maxSigma))
      .to.emit(w.oracle, "FeedSet")
      .withArgs(SOL_FEED, eth, 3n * day, 8n, 30n * day);
  });

  it("OracleAdapter.setSequencerFeed and resetVolatility refuse values beyond their bounds", async function () {
    const { w, alice, spareFeed } = await loadFixture(world);
    const o = w.oracle.connect(w.governor);
    const maxSigma = await w.oracle.MAX_SIGMA();
    const day = 24n * 3600n;
    const before = await adminState(w, [alice]);
    await expect(o.setSequencerFeed(spareFeed, day + 1n))
      .to.be.revertedWithCustomError(w.oracle, "ParameterOutOfBounds")
      .withArgs(name("sequencerGrace"), day + 1n, 0n, day);
    await expect(o.resetVolatility(ETH_FEED, maxSigma + 1n))
      .to.be.revertedWithCustomError(w.oracle, "ParameterOutOfBounds")
      .withArgs(name("sigma"), maxSigma + 1n, 0n, maxSigma);
    expect(await adminState(w, [alice])).to.equal(before);
    await expect(o.setSequencerFeed(spareFeed, day)).to.emit(w.oracle, "SequencerFeedSet").withArgs(spareFeed, day);
    await expect(o.resetVolatility(ETH_FEED, maxSigma))
      .to.emit(w.oracle, "VolatilityReset")
      .withArgs(ETH_FEED, maxSigma);
    await expect(o.resetVolatility(ETH_FEED, 0n)).to.emit(w.oracle, "VolatilityReset").withArgs(ETH_FEED, 0n);
  });
});
