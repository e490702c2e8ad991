/**
 * The keeper's experimental own-impact liquidation mark (scripts/keeper/ownImpactMark.ts; off by default):
 * its arithmetic to the wei against references worked out by hand, the accounts it leaves and sends, the
 * follower's forced trades it reads, and that nothing turns it on unless asked.
 */
import { expect } from "chai";
import type { Interface } from "ethers";

import { DEFAULT_RISK } from "../../deploy/params.js";
import { accrued } from "../../scripts/keeper/chainView.js";
import { keeperSettings } from "../../scripts/keeper/config.js";
import { FOLLOWER_ADDR, FOLLOWER_OWNER, encodeLog, followerOver } from "../helpers/followerLogs.js";
import {
  OwnImpactMark,
  addFlow,
  decayFactorWad,
  decayedFlow,
  keptAtMark,
  keptAtMarkForSales,
  liquidatableAtMark,
  markPrice,
  ownImpact,
} from "../../scripts/keeper/ownImpactMark.js";
import { maintenanceSummary } from "../../scripts/keeper/scanner.js";
import { type EngineSnapshot, type MarketSnapshot, isLiquidatable } from "../../scripts/lib/math/engine.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";
import { loadPreset, withFlowHalfLifeFromEnv, withOwnImpactMarkFromEnv } from "../../scripts/replay/presets.js";
import { replayKeeperSettings } from "../../scripts/replay/serviceKeeper.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { ILiquidationEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/ILiquidationEngine__factory.js";
import { PerpEngine__factory } from "../../types/ethers-contracts/factories/contracts/market/PerpEngine__factory.js";

const NOW = 2_000_000n;
const HALF_LIFE = 600n;
/** the replay's defaults: impactBudget 0.3% x lateMultiplier 2 */
const CAP = 6n * 10n ** 15n;

/** ETH at 1,800 with a depth (skewScale x price) of 1,000 ETH = $1.8M, accrued to NOW (no funding pending). */
const ETH: MarketSnapshot = accrued(
  {
    config: { skewScale: 1_000n * WAD, maxFundingRatePerSecond: WAD / 1000n / 3600n, risk: DEFAULT_RISK },
    state: {
      longOpenInterest: 100n * WAD,
      shortOpenInterest: 100n * WAD,
      fundingIndex: 0n,
      lastAccrualTime: NOW,
      maintenanceTerm: (16n * WAD) / 1000n,
    },
    price: 1_800n * WAD,
    sigma: (6n * WAD) / 10n,
    levelImMultiplier: WAD,
  },
  NOW,
);
const ENGINE: EngineSnapshot = {
  timestamp: NOW,
  markets: new Map([[0, ETH]]),
  liquidationMargin: { flat: 2n * WAD, min: 2n * WAD, shareOfNotional: 5n * 10n ** 14n, max: 500n * WAD },
};

/** An account holding `size` ETH bought at 1,800 whose equity at the oracle is its maintenance margin plus `over`. */
function accountAt(size: bigint, over: bigint) {
  const probe = { margin: 0n, positions: new Map([[0, { size, basis: 1_800n * WAD }]]) };
  const mm = maintenanceSummary(ENGINE, { ...probe, margin: 1_000_000n * WAD }).maintenanceMargin;
  return { ...probe, margin: mm + over };
}

describe("keeper own-impact mark (experimental)", () => {
  it("decays by exact halvings, and by a fraction rounded down to the wei", () => {
    expect(decayFactorWad(0n, HALF_LIFE)).to.equal(WAD);
    expect(decayFactorWad(600n, HALF_LIFE)).to.equal(WAD / 2n);
    expect(decayFactorWad(1_800n, HALF_LIFE)).to.equal(WAD / 8n);
    // half a half-life: 1e18 / sqrt(2) = 707106781186547524.40..., rounded down; the square brackets 1e36 / 2
    const f = decayFactorWad(300n, HALF_LIFE);
    expect(f).to.equal(707_106_781_186_547_524n);
    expect(f * f <= (WAD * WAD) / 2n && (WAD * WAD) / 2n < (f + 1n) * (f + 1n)).to.equal(true);
    // a half-life and a half: that, halved, rounded down
    expect(decayFactorWad(900n, HALF_LIFE)).to.equal(707_106_781_186_547_524n / 2n);
    expect(decayFactorWad(64n * 600n, HALF_LIFE)).to.equal(0n);
    expect(() => decayFactorWad(1n, 0n)).to.throw(RangeError);
  });

  it("keeps a signed flow, decayed toward zero and added at the trade's time", () => {
    const sold = addFlow(undefined, -1_000_000n * WAD, 100n, HALF_LIFE);
    expect(sold).to.deep.equal({ amount: -1_000_000n * WAD, at: 100n });
    // one half-life later: -500,000 left, plus a sale of 500,000
    expect(addFlow(sold, -500_000n * WAD, 700n, HALF_LIFE)).to.deep.equal({ amount: -1_000_000n * WAD, at: 700n });
    // a buy nets against the sales
    expect(addFlow(sold, 200_000n * WAD, 700n, HALF_LIFE)).to.deep.equal({ amount: -300_000n * WAD, at: 700n });
    expect(decayedFlow(sold, 1_300n, HALF_LIFE)).to.equal(-250_000n * WAD);
    // -1.5 wei rounds to -1 (toward zero: the smaller correction), +1.5 to +1
    expect(decayedFlow({ amount: -3n, at: 0n }, 600n, HALF_LIFE)).to.equal(-1n);
    expect(decayedFlow({ amount: 3n, at: 0n }, 600n, HALF_LIFE)).to.equal(1n);
  });

  it("takes the estimate out of the oracle price to the wei, capped, rounded toward the oracle", () => {
    // BTC at 100,000 with skewScale 1,000 BTC: a depth of $100M
    const scale = 1_000n * WAD;
    const price = 100_000n * WAD;
    expect(ownImpact(-300_000n * WAD, scale, price, CAP)).to.equal(-3n * 10n ** 15n); // -0.3%
    expect(ownImpact(300_000n * WAD, scale, price, CAP)).to.equal(3n * 10n ** 15n);
    expect(ownImpact(-3_000_000n * WAD, scale, price, CAP)).to.equal(-CAP); // -3%, capped at 0.6%
    expect(ownImpact(-1n, scale, price, CAP)).to.equal(0n); // below a wei of the fraction: toward zero
    expect(ownImpact(0n, scale, price, CAP)).to.equal(0n);
    // 100,000 / 0.997 = 100,300.902708124373119358...; / 0.994 = 100,603.621730382293762575...;
    // 100,000 / 1.003 = 99,700.897308075772681954..., rounded up (toward the oracle)
    expect(markPrice(price, -3n * 10n ** 15n)).to.equal(100_300_902_708_124_373_119_358n);
    expect(markPrice(price, -CAP)).to.equal(100_603_621_730_382_293_762_575n);
    expect(markPrice(price, 3n * 10n ** 15n)).to.equal(99_700_897_308_075_772_681_955n);
    expect(markPrice(price, 0n)).to.equal(price);
  });

  it("leaves an account below maintenance at the oracle but not at the mark, and sends one below at both", async () => {
    // $9,000 sold in the last minute (the protocol's own flow): -0.5% of the $1.8M depth, within the cap
    const mark = new OwnImpactMark();
    mark.trade(0, -5n * WAD, 1_800n * WAD, 41);
    await mark.settle(HALF_LIFE, async (n) => {
      expect(n).to.equal(41);
      return NOW - 60n;
    });
    const flow = mark.flowAt(0, NOW, HALF_LIFE);
    expect(flow).to.equal((-9_000n * WAD * decayFactorWad(60n, HALF_LIFE)) / WAD);
    const marked = mark.markedSnapshot(ENGINE, { halfLife: HALF_LIFE, cap: CAP });
    const impact = -((-flow * WAD) / (1_000n * 1_800n * WAD));
    expect(marked.markets.get(0)!.price).to.equal((1_800n * WAD * WAD) / (WAD + impact));

    // 10 ETH long: $5 below maintenance at the oracle; at the mark (+0.49%, about $88 on $18,000) above it
    const shallow = accountAt(10n * WAD, -5n * WAD);
    // $200 below: below at the mark too
    const deep = accountAt(10n * WAD, -200n * WAD);
    // a short $5 below: the sales' mark is above the oracle, so it is further below there
    const short = accountAt(-10n * WAD, -5n * WAD);
    for (const a of [shallow, deep, short]) expect(isLiquidatable(maintenanceSummary(ENGINE, a))).to.equal(true);
    expect(liquidatableAtMark(marked, shallow)).to.equal(false);
    expect(liquidatableAtMark(marked, deep)).to.equal(true);
    expect(liquidatableAtMark(marked, short)).to.equal(true);

    const accounts = new Map([
      [1n, shallow],
      [2n, deep],
      [3n, short],
    ]);
    const list = [{ accountId: 2n }, { accountId: 1n }, { accountId: 3n }, { accountId: 9n }];
    // 9 is not in the book: kept (the mark holds back only what it can value)
    expect(keptAtMark(list, marked, (id) => accounts.get(id)).map((a) => a.accountId)).to.deep.equal([2n, 3n, 9n]);
    // with no own flow the mark is the oracle: every account is sent
    const none = new OwnImpactMark().markedSnapshot(ENGINE, { halfLife: HALF_LIFE, cap: CAP });
    expect(none.markets.get(0)).to.equal(ETH);
    expect(keptAtMark(list, none, (id) => accounts.get(id)).map((a) => a.accountId)).to.deep.equal([2n, 1n, 3n, 9n]);
    // a position in a market the snapshot has no price for: sent
    const unpriced = { margin: 0n, positions: new Map([[7, { size: WAD, basis: WAD }]]) };
    expect(liquidatableAtMark(marked, unpriced)).to.equal(true);
  });

  it("scope sales: sends an account the vault would take though healthy at the mark, leaves a declined one, sends one below at both", async () => {
    const mark = new OwnImpactMark();
    mark.trade(0, -5n * WAD, 1_800n * WAD, 41);
    await mark.settle(HALF_LIFE, async () => NOW - 60n);
    const marked = mark.markedSnapshot(ENGINE, { halfLife: HALF_LIFE, cap: CAP });
    // 1 and 4: $5 below maintenance at the oracle, above it at the mark; 2: $200 below, below at both
    const accounts = new Map([
      [1n, accountAt(10n * WAD, -5n * WAD)],
      [2n, accountAt(10n * WAD, -200n * WAD)],
      [4n, accountAt(10n * WAD, -5n * WAD)],
    ]);
    for (const id of [1n, 4n]) expect(liquidatableAtMark(marked, accounts.get(id)!)).to.equal(false);
    expect(liquidatableAtMark(marked, accounts.get(2n)!)).to.equal(true);
    // the vault takes 4 over and declines 1 (and would decline 2 and 9: never asked, both are sent anyway)
    const asked: bigint[] = [];
    const takes = async (id: bigint) => {
      asked.push(id);
      return id === 4n;
    };
    const list = [{ accountId: 2n }, { accountId: 1n }, { accountId: 4n }, { accountId: 9n }];
    const r = await keptAtMarkForSales(list, marked, (id) => accounts.get(id), takes);
    expect(r.kept.map((a) => a.accountId)).to.deep.equal([2n, 4n, 9n]);
    expect(r.taken).to.deep.equal([4n]);
    // only the accounts the mark would leave are asked
    expect([...asked].sort()).to.deep.equal([1n, 4n]);
    // a vault that takes everything: the mark leaves nothing (main's list); one that takes nothing: bs13's scope
    const all = await keptAtMarkForSales(
      list,
      marked,
      (id) => accounts.get(id),
      async () => true,
    );
    expect(all.kept.map((a) => a.accountId)).to.deep.equal([2n, 1n, 4n, 9n]);
    expect(all.taken).to.deep.equal([1n, 4n]);
    const none = await keptAtMarkForSales(
      list,
      marked,
      (id) => accounts.get(id),
      async () => false,
    );
    expect(none.kept).to.deep.equal(keptAtMark(list, marked, (id) => accounts.get(id)));
    expect(none.taken).to.deep.equal([]);
  });

  it("a healthy account at the oracle is never brought forward: the mark only filters the oracle's list", async () => {
    // a buy: the mark is below the oracle, where a long $5 above maintenance at the oracle is below it
    const mark = new OwnImpactMark();
    mark.trade(0, 5n * WAD, 1_800n * WAD, 1);
    await mark.settle(HALF_LIFE, async () => NOW);
    const marked = mark.markedSnapshot(ENGINE, { halfLife: HALF_LIFE, cap: CAP });
    const above = accountAt(10n * WAD, 5n * WAD);
    expect(isLiquidatable(maintenanceSummary(ENGINE, above))).to.equal(false);
    expect(liquidatableAtMark(marked, above)).to.equal(true);
    // not in the oracle's list, so not sent: the list it is given is only ever shortened
    expect(keptAtMark([], marked, () => above)).to.deep.equal([]);
  });

  it("reads the forced trades the replay's impact model counts from the follower: liquidation legs and unwinds", async () => {
    const engineIface = PerpEngine__factory.createInterface();
    const liquidationIface = ILiquidationEngine__factory.createInterface();
    const backstopIface = IBackstopEngine__factory.createInterface();
    const addr = FOLLOWER_ADDR;
    const owner = FOLLOWER_OWNER;
    // a transaction hash per block: the follower reads each log's
    const enc = (address: string, iface: Interface, name: string, args: unknown[], blockNumber: number) =>
      encodeLog(address, iface, name, args, blockNumber, `0x${blockNumber.toString(16).padStart(64, "0")}`);
    const logs = [
      enc(addr.engine, engineIface, "AccountCreated", [2n, owner], 10),
      enc(addr.engine, engineIface, "PositionModified", [2n, 1n, 2n * WAD, 2n * WAD, 30_000n * WAD, 0n, 0n, 0n], 11),
      // a tranche of account 2's long: half of it sold at 29,000
      enc(
        addr.liquidationEngine,
        liquidationIface,
        "TrancheLiquidated",
        [2n, 1n, owner, -WAD, WAD, 29_000n * WAD, -1_000n * WAD, 6n * WAD, 4n * WAD, 0n, 0n],
        12,
      ),
      // the vault's unwind: 3 BTC sold at 28,500
      enc(
        addr.liquidationEngine,
        backstopIface,
        "BackstopUnwound",
        [1n, owner, -3n * WAD, 28_500n * WAD, 85_500n * WAD, -4_500n * WAD, false],
        13,
      ),
    ];
    const seen: [number, bigint, bigint, number][] = [];
    const follower = followerOver(logs, {
      onForcedTrade: (m, size, price, block) => seen.push([m, size, price, block]),
    });
    await follower.advance(20);
    expect(seen).to.deep.equal([
      [1, -WAD, 29_000n * WAD, 12],
      [1, -3n * WAD, 28_500n * WAD, 13],
    ]);
    const mark = new OwnImpactMark();
    for (const [m, size, price, block] of seen) mark.trade(m, size, price, block);
    await mark.settle(HALF_LIFE, async (n) => NOW - 600n + BigInt(n - 12) * 600n);
    // 29,000 sold a half-life before 85,500: -14,500 - 85,500 at NOW
    expect(mark.flowAt(1, NOW, HALF_LIFE)).to.equal(-100_000n * WAD);
  });

  it("is off unless asked: the keeper's defaults, the replay's settings and its protected preset", () => {
    const defaults = keeperSettings({});
    expect(defaults.ownImpactMark).to.equal(false);
    expect(defaults.ownImpactMarkCap).to.equal(undefined);
    expect(replayKeeperSettings(100).ownImpactMark).to.equal(false);
    const on = replayKeeperSettings(100, { cap: "0.003" });
    expect(on.ownImpactMark).to.equal(true);
    expect(on.ownImpactMarkCap).to.equal(3n * 10n ** 15n);
    const base = loadPreset("protected");
    expect(withOwnImpactMarkFromEnv(base, {}).keeper.ownImpactMark).to.equal(base.keeper.ownImpactMark);
    expect(withOwnImpactMarkFromEnv(base, { REPLAY_OWN_IMPACT_MARK: "0" }).keeper.ownImpactMark).to.equal(
      base.keeper.ownImpactMark,
    );
    const asked = withOwnImpactMarkFromEnv(base, { REPLAY_OWN_IMPACT_MARK: "1" });
    expect(asked.keeper.ownImpactMark).to.equal(true);
    expect(asked.keeper.ownImpactMarkCap).to.equal(undefined);
    expect(
      withOwnImpactMarkFromEnv(base, { REPLAY_OWN_IMPACT_MARK: "1", REPLAY_OWN_IMPACT_MARK_CAP: "0.003" }).keeper
        .ownImpactMarkCap,
    ).to.equal("0.003");
    expect(() => withOwnImpactMarkFromEnv(base, { REPLAY_OWN_IMPACT_MARK: "yes" })).to.throw(/must be 1 or 0/);
    // the scope (bs14): all unless asked; sales from the replay's environment or settings
    expect(defaults.ownImpactMarkScope).to.equal("all");
    expect(replayKeeperSettings(100, {}).ownImpactMarkScope).to.equal("all");
    expect(replayKeeperSettings(100, { scope: "sales" }).ownImpactMarkScope).to.equal("sales");
    expect(keeperSettings({ ownImpactMarkScope: "sales" }).ownImpactMarkScope).to.equal("sales");
    expect(() => keeperSettings({ ownImpactMarkScope: "some" as never })).to.throw();
    expect(asked.keeper.ownImpactMarkScope).to.equal(undefined);
    expect(
      withOwnImpactMarkFromEnv(base, { REPLAY_OWN_IMPACT_MARK: "1", REPLAY_OWN_IMPACT_MARK_SCOPE: "sales" }).keeper
        .ownImpactMarkScope,
    ).to.equal("sales");
    expect(() =>
      withOwnImpactMarkFromEnv(base, { REPLAY_OWN_IMPACT_MARK: "1", REPLAY_OWN_IMPACT_MARK_SCOPE: "takeovers" }),
    ).to.throw(/must be all or sales/);
  });

  it("the replay's REPLAY_FLOW_HALF_LIFE (bs15's measurement switch) sets protected's flowHalfLife only when asked", () => {
    const base = loadPreset("protected");
    expect(withFlowHalfLifeFromEnv(base, {})).to.deep.equal(base);
    expect(withFlowHalfLifeFromEnv(base, { REPLAY_FLOW_HALF_LIFE: "" })).to.deep.equal(base);
    const slow = withFlowHalfLifeFromEnv(base, { REPLAY_FLOW_HALF_LIFE: "1200" });
    expect(slow.backstop.config.flowHalfLife).to.equal(1200);
    expect(base.backstop.config.flowHalfLife, "protected leaves the 600 s default unset").to.equal(undefined);
    for (const bad of ["0", "12.5", "-600", "1e3", "soon"])
      expect(() => withFlowHalfLifeFromEnv(base, { REPLAY_FLOW_HALF_LIFE: bad }), bad).to.throw(/whole number/);
  });
});
