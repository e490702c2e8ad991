/**
 * Canonical operations, each measured once from its receipt, in the state a user usually meets
 * (markets already have open interest, accounts already hold margin). `bash scripts/gas-snapshot.sh`
 * runs this file with --gas-stats and writes gas-snapshot.txt. Gas is deterministic for a given
 * compiler and inputs, so the budgets below are asserted, not timed.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import {
  BTC,
  ETH,
  MAX_PRICE,
  USDC,
  deployWorld,
  openAccount,
  setPrice,
  setPriceWad,
  units,
} from "../helpers/fixture.js";
import { BACKSTOP_TEST_CONFIG, attachBackstopVault } from "../helpers/backstop.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { IOwnImpactMark__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IOwnImpactMark__factory.js";
import { moveLongToHalfHealth } from "../helpers/liquidation.js";

const { ethers, networkHelpers } = await network.create();

// Two-step orders (issue 14): a commit writes two fresh slots and quotes the fee (137k measured); a
// settle pays the four module hops, the round proof (two aggregator reads), the reward and the same
// trade as an open (195k alone; 95k per order in a batch of 10, where the hops and cold reads are shared).
const ORDER_BUDGET = { commit: 140_000n, settle: 200_000n, settleInBatch: 100_000n };
// Core budgets (issue 2) are measured without a circuit breaker; the breaker's own budget (issue 4)
// is the extra gas a trade pays to consult it, at level 0 with its five triggers registered.
// open: 147k before the liquidation margin (two cold slots of the reward configuration in every
// margin check) and the minimum position size (one cold slot); 154,719 measured before two-step
// orders, whose switch is one more cold slot on a risk-adding trade: 157,215 with it, so 158k; the reward
// configuration and dustNotional in one word (LiquidationParams) take one cold slot less: 152,718, so 153k;
// with the oracle's read word too, 147,913, so 149k; the market's state and the position written one whole
// slot at a time, the accrual's funding rate computed once and the ramp's parameters read as scalars:
// 145,469, so 146k.

const BUDGET = { open: 146_000n, modify: 150_000n, deposit: 80_000n, breakerConsult: 10_000n, ...ORDER_BUDGET };
// Liquidation targets: a tranche in its own transaction, and per tranche in a batch of 50. A target not
// met yet is printed as pending with its figure (gas-snapshot.txt keeps the measured value).
const LIQUIDATION_TARGET = { tranche: 150_000n, perTrancheInBatch: 70_000n };
// What is reached, asserted so that a regression fails: measured 189,703 (a tranche alone: 187,568 plus
// the backstop hook's cold read of the vault slot, 2.1k), 77,269 (per tranche in a batch of 50), 190,557
// (backstop close), each with a few hundred gas of slack.
// tranche 190,000 -> 190,200 and per tranche in a batch 77,500 -> 77,800: the stale-leg check and the
// escalation's seen time (issue 11) cost about 340 gas a tranche (190,130 and 77,783 measured)
// tranche 190,200 -> 187,000, per tranche in a batch 77,800 -> 76,600, backstop 191,000 -> 178,600: the last
// leg's settlement and the penalty in one vault call (Vault.settleLiquidation, no cold read of the vault's
// liquidationEngine slot), one read of the account's liquidation slot per clock, one write of the position
// (186,868, 76,513 and 178,448 measured)
// tranche 187,000 -> 186,600, per tranche in a batch 76,600 -> 74,500, backstop 178,600 -> 178,200: the price
// cache's slot hashed without allocating, a mask of the markets the cache holds (an account priced already
// skips its per-market feed look-ups), a leg executing at the plan's fill with the volatility read only
// when its market accrues (186,357, 74,313 and 177,937 measured)
// tranche 181,600 -> 176,800, per tranche in a batch 69,500 -> 69,400, backstop 173,200 -> 168,400: the oracle's
// read word (aggregator, heartbeat, decimals, flags and sigma in one slot; the sequencer's slot read only
// while one is set): 176,522, 69,186 and 168,102 measured
// tranche 181,600 -> 173,500, backstop 173,200 -> 165,000: the liquidation and reward configurations in one
// word each (WAD fields in 1e-6 units), a backstop-set flag in the configuration word instead of the backstop
// state's cold slot, MarketConfig's liquidation fields in its first two slots, the liquidation margin read
// straight from the reward word (173,223, 69,347 and 164,757 measured; per tranche in a batch was 69,283)
// both together: tranche 168,700, backstop 160,200 (168,418, 69,251 and 159,952 measured)
// tranche 168,700 -> 165,000, per tranche in a batch 69,500 -> 68,000, backstop 160,200 -> 156,500: the market's
// state, the position and the capacity window written one whole slot at a time, the accrual's slot read once
// and its funding rate computed once, the ramp's parameters read as scalars (164,794, 67,818 and 156,328
// measured)
// tranche 165,000 -> 160,200, per tranche in a batch 68,000 -> 67,800, backstop 156,500 -> 151,800: the capacity
// window in the upper half of the market state's basis-sum slot, which a tranche reads and rewrites anyway (one
// cold slot and one write fewer; 159,855, 67,583 and 151,392 measured)
// tranche 160,200 -> 159,800, per tranche in a batch 67,800 -> 67,400, backstop 151,800 -> 151,400: a leg counts its
// notional in the capacity window in the same read and write of the basis sum's slot as the basis sum (159,459,
// 67,187 and 150,996 measured)
// tranche 159,800 -> 153,800, per tranche in a batch 67,400 -> 67,000, backstop 151,400 -> 145,700: the vault checks
// settleLiquidation's caller against the liquidating engine's address kept beside the insurance ledger (no cold read
// of the engine's slot), a leg writes the accrual its plan computed, and smaller pieces of the plan (153,404, 66,669
// and 145,307 measured)
// tranche 153,800 -> 152,000, backstop 145,700 -> 143,900 (per tranche in a batch stays 67,000): the maintenance
// ramp's fields and the size premium in one risk word after the configuration's six slots, so a tranche reads one
// cold slot fewer (151,554, 66,763 and 143,457 measured)
// tranche 152,000 -> 149,600, per tranche in a batch 67,000 -> 65,500, backstop 143,900 -> 141,900: the plan reads the
// configuration words and the account's two slots once and hands the escalation clock and the configuration word to
// the takeover and the execution; liquidate's fresh price cache is filled without reading it back or recording its
// markets; the maintenance-only summary reads the depth once; a leg that leaves a position does not rewrite the
// account's markets (149,317, 65,174 and 141,625 measured)
const LIQUIDATION_BUDGET = { tranche: 149_600n, perTrancheInBatch: 65_500n, backstop: 141_900n };
// deleverageBackstop (issue 12): the vault's inventory closed against opposite positions at the oracle.
// Measured 218,296 (one candidate) and 487,372 (five, 97,474 a candidate); asserted with about 1% of
// slack so that a regression fails. With the oracle's read word 211,164 and 470,756: 213,000 and 475,000.
// With the configuration words too, 205,915 and 463,555: 208,000 and 468,000 (206,160 and 463,800 with the
// backstop excess rule's reads). With the whole-slot writes and the accrual's rate computed once, 201,904 and
// 453,649: 202,500 and 455,000.
const DELEVERAGE_BUDGET = { one: 202_500n, five: 455_000n };

type World = Awaited<ReturnType<typeof deployWorld>>;

/** ETH's price (whole dollars) when the liquidation book below is opened. */
const LIQUIDATION_BOOK_START = 2_000n;

/**
 * The liquidation scenarios' book: 53 accounts of 1,050 USDC and 15 ETH long at about 2,000 each (owners in turn):
 * one to warm the fresh slots, one for a tranche alone, one for a backstop close, and a batch of 50.
 */
async function openLiquidationBook(w: World) {
  const owners = [w.alice, w.bob, w.carol];
  const ids: bigint[] = [];
  for (let i = 0; i < 53; ++i) {
    const id = await openAccount(w, owners[i % 3], 1_050n * USDC);
    await w.engine.connect(owners[i % 3]).modifyPosition(id, ETH, units(15), MAX_PRICE);
    ids.push(id);
  }
  const [warm, alone, backstop, ...batch] = ids;
  return { warm, alone, backstop, batch };
}

describe("Gas scenarios", function () {
  const pending: string[] = [];
  const figures: Record<string, bigint> = {};
  after(function () {
    console.log("\n    gas used (receipts):");
    for (const [k, v] of Object.entries(figures)) console.log(`      ${k.padEnd(44)} ${v}`);
    for (const p of pending) console.log(`      PENDING ${p}`);
  });

  async function measure(label: string, tx: Promise<{ wait(): Promise<unknown> }>): Promise<bigint> {
    const receipt = (await (await tx).wait()) as { gasUsed: bigint };
    figures[label] = receipt.gasUsed;
    return receipt.gasUsed;
  }

  it("measures deposit, open, modify, close, withdraw and a volatility update", async function () {
    const w = await deployWorld(ethers, { breaker: false });
    const a = await openAccount(w, w.alice, 10_000n * USDC);
    const b = await openAccount(w, w.bob, 10_000n * USDC);
    const c = await openAccount(w, w.carol, 0n);
    await w.engine.connect(w.alice).modifyPosition(a, ETH, units(5), MAX_PRICE); // the market has OI

    const deposit = await measure("deposit (first into an account)", w.engine.connect(w.carol).deposit(c, 500n * USDC));
    await measure("deposit (top-up)", w.engine.connect(w.carol).deposit(c, 500n * USDC));
    const open = await measure(
      "open (no position yet, market has OI)",
      w.engine.connect(w.bob).modifyPosition(b, ETH, units(2), MAX_PRICE),
    );
    const modify = await measure("modify (add)", w.engine.connect(w.bob).modifyPosition(b, ETH, units(1), MAX_PRICE));
    await measure("modify (reduce)", w.engine.connect(w.bob).modifyPosition(b, ETH, -units(1), 0n));
    await measure("open second market", w.engine.connect(w.bob).modifyPosition(b, BTC, units(1) / 10n, MAX_PRICE));
    await measure("modify with 2 markets held", w.engine.connect(w.bob).modifyPosition(b, ETH, units(1), MAX_PRICE));
    await measure("close", w.engine.connect(w.alice).closePosition(a, ETH, 0n));
    await measure("withdraw (with positions)", w.engine.connect(w.bob).withdraw(b, 100n * USDC, w.bob.address));
    await measure("withdraw (no positions)", w.engine.connect(w.alice).withdraw(a, 100n * USDC, w.alice.address));
    await networkHelpers.time.increase(60);
    await setPrice(w, ETH, 2010n);
    const feedId = (await w.engine.marketConfig(ETH)).feedId;
    await measure("volatility update (1 round)", w.oracle.updateVolatility(feedId, 64));
    await measure("accrue (permissionless poke)", w.engine.accrue(ETH));

    expect(deposit, "deposit budget").to.be.lessThanOrEqual(BUDGET.deposit);
    figures["open, no breaker (for the delta)"] = open;
    figures["modify, no breaker (for the delta)"] = modify;
    expect(open, "open budget").to.be.lessThanOrEqual(BUDGET.open);
    expect(modify, "modify budget").to.be.lessThanOrEqual(BUDGET.modify);
  });

  it("measures two-step orders: commit, settle in its own transaction, settle in a batch of 10", async function () {
    const minDelay = 2;
    const w = await deployWorld(ethers, {
      breaker: false,
      orders: { minDelay, maxDelay: 120, settlementReward: units(1) },
    });
    const orders = await ethers.getContractAt("IOrders", await w.engine.getAddress());
    const signers = (await ethers.getSigners()).slice(8, 19);
    const ids: bigint[] = [];
    for (const s of signers) {
      await w.usdc.mint(s.address, 10_000n * USDC);
      await w.usdc.connect(s).approve(await w.vault.getAddress(), 10_000n * USDC);
      ids.push(await openAccount(w, s, 10_000n * USDC));
    }
    const nextRound = async () => {
      await networkHelpers.time.increase(minDelay);
      await setPrice(w, ETH, 2000n);
      return (await w.feeds.get(ETH)!.latestRoundData())[0];
    };
    // The market has open interest, as in the direct-trade figures.
    const a = await openAccount(w, w.alice, 10_000n * USDC);
    await orders.connect(w.alice).commitOrder(a, ETH, units(5), MAX_PRICE);
    await orders.connect(w.stranger).settleOrder(a, await nextRound());
    const commit = await measure(
      "order: commit (open)",
      orders.connect(signers[0]).commitOrder(ids[0], ETH, units(2), MAX_PRICE),
    );
    const round = await nextRound();
    const settle = await measure(
      "order: settle (own transaction)",
      orders.connect(w.stranger).settleOrder(ids[0], round),
    );
    for (let i = 1; i < signers.length; ++i) {
      await orders.connect(signers[i]).commitOrder(ids[i], ETH, units(2), MAX_PRICE);
    }
    const batchRound = await nextRound();
    const batch = await measure(
      "order: settleOrders, batch of 10",
      orders.connect(w.stranger).settleOrders(ids.slice(1), Array(ids.length - 1).fill(batchRound)),
    );
    figures["order: settle, per order in a batch of 10"] = batch / 10n;
    for (const id of ids) expect((await w.engine.position(id, ETH)).size).to.equal(units(2));
    expect(commit, "commit budget").to.be.lessThanOrEqual(BUDGET.commit);
    expect(settle, "settle budget").to.be.lessThanOrEqual(BUDGET.settle);
    expect(batch / 10n, "settle per order in a batch budget").to.be.lessThanOrEqual(BUDGET.settleInBatch);
  });

  it("measures what consulting the circuit breaker adds to a trade, and a poke", async function () {
    const w = await deployWorld(ethers); // breaker with its five triggers
    expect((await w.breaker!.triggers()).length).to.equal(5);
    const a = await openAccount(w, w.alice, 10_000n * USDC);
    const b = await openAccount(w, w.bob, 10_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(a, ETH, units(5), MAX_PRICE);
    await openAccount(w, w.carol, 0n);
    const open = await measure(
      "open with breaker (level 0, 5 triggers)",
      w.engine.connect(w.bob).modifyPosition(b, ETH, units(2), MAX_PRICE),
    );
    const modify = await measure(
      "modify with breaker (level 0, 5 triggers)",
      w.engine.connect(w.bob).modifyPosition(b, ETH, units(1), MAX_PRICE),
    );
    const openDelta = open - figures["open, no breaker (for the delta)"];
    const modifyDelta = modify - figures["modify, no breaker (for the delta)"];
    figures["breaker consult: extra gas on open"] = openDelta;
    figures["breaker consult: extra gas on modify"] = modifyDelta;
    expect(openDelta, "breaker budget (open)").to.be.lessThanOrEqual(BUDGET.breakerConsult);
    expect(modifyDelta, "breaker budget (modify)").to.be.lessThanOrEqual(BUDGET.breakerConsult);
    await measure("breaker poke (5 triggers, no change)", w.breaker!.poke(ETH));
    await networkHelpers.time.increase(60);
    await setPrice(w, ETH, 2160n); // +8% in one round: price move proposes 1, the round-to-round jump 2
    await measure("breaker poke (5 triggers, escalation)", w.breaker!.poke(ETH));
    expect((await w.breaker!.marketLevel(ETH)).level).to.equal(2n);
  });

  it("measures liquidations: a tranche alone, a batch of 50, a backstop close", async function () {
    const w = await deployWorld(ethers, { breaker: false });
    const keeper = (await ethers.getSigners())[8];
    // the price walks down to the first level at which the first account can be liquidated (one tranche), and
    // later to a backstop without bad debt
    const { warm, alone, backstop, batch } = await openLiquidationBook(w);
    let price = LIQUIDATION_BOOK_START;
    while (!(await w.engine.isLiquidatable(warm))) await setPrice(w, ETH, (price -= 2n));
    // The first tranche of all pays for fresh slots (the market's capacity window, the keeper's and the
    // insurance fund's ledgers in the vault); in a cascade every later tranche finds them in use.
    await measure("liquidate: first tranche ever (fresh ledgers)", w.liquidationEngine.connect(keeper).liquidate(warm));
    await networkHelpers.time.increase(1);
    const tranche = await measure(
      "liquidate: a tranche in its own transaction",
      w.liquidationEngine.connect(keeper).liquidate(alone),
    );
    const rc = await (
      await w.liquidationEngine.connect(keeper).liquidateBatch(batch, { gasLimit: 16_000_000n })
    ).wait();
    const settled = rc!.logs.filter(
      (l) => l.topics[0] === w.liquidationEngine.interface.getEvent("LiquidationSettled").topicHash,
    );
    expect(settled.length).to.equal(batch.length); // every account of the batch had a tranche
    const perTranche = rc!.gasUsed / BigInt(batch.length);
    figures["liquidateBatch: 50 tranches (whole transaction)"] = rc!.gasUsed;
    figures["liquidateBatch: per tranche in a batch of 50"] = perTranche;
    while (!(await w.liquidationEngine.previewLiquidation(backstop)).backstop) await setPrice(w, ETH, (price -= 2n));
    const plan = await w.liquidationEngine.previewLiquidation(backstop);
    expect(plan.backstop).to.equal(true);
    expect(plan.badDebt).to.equal(0n);
    const backstopClose = await measure(
      "liquidate: backstop full close",
      w.liquidationEngine.connect(keeper).liquidate(backstop),
    );
    expect(tranche, "tranche budget").to.be.lessThanOrEqual(LIQUIDATION_BUDGET.tranche);
    expect(perTranche, "per-tranche budget").to.be.lessThanOrEqual(LIQUIDATION_BUDGET.perTrancheInBatch);
    expect(backstopClose, "backstop budget").to.be.lessThanOrEqual(LIQUIDATION_BUDGET.backstop);

    const check = (label: string, value: bigint, target: bigint) => {
      if (value <= target) expect(value, label).to.be.lessThanOrEqual(target);
      else pending.push(`${label}: ${value} gas, target ${target}`);
    };
    check("tranche in its own transaction", tranche, LIQUIDATION_TARGET.tranche);
    check("per tranche in a batch of 50", perTranche, LIQUIDATION_TARGET.perTrancheInBatch);
  });

  it("measures liquidations with the own-impact mark on (OwnImpactModule: the check and the measure's write per leg)", async function () {
    const w = await deployWorld(ethers, { breaker: false });
    const keeper = (await ethers.getSigners())[8];
    // the backstop's config (no vault: every takeover declines) gives the measure its half-life; the mark on
    await IBackstopEngine__factory.connect(w.engine.target as string, w.governor).setBackstopConfig(
      BACKSTOP_TEST_CONFIG,
    );
    const mark = IOwnImpactMark__factory.connect(w.engine.target as string, w.governor);
    await mark.setOwnImpactMark(true);
    const { warm, alone, backstop, batch } = await openLiquidationBook(w);
    let price = LIQUIDATION_BOOK_START;
    while (!(await w.engine.isLiquidatable(warm))) await setPrice(w, ETH, (price -= 2n));
    await measure(
      "liquidate: first tranche ever, own-impact mark on",
      w.liquidationEngine.connect(keeper).liquidate(warm),
    );
    expect(await mark.ownFlow(ETH)).to.be.lessThan(0n, "the first tranche's sale in the measure");
    await networkHelpers.time.increase(1);
    await measure("liquidate: a tranche, own-impact mark on", w.liquidationEngine.connect(keeper).liquidate(alone));
    const rc = await (
      await w.liquidationEngine.connect(keeper).liquidateBatch(batch, { gasLimit: 16_000_000n })
    ).wait();
    const settled = rc!.logs.filter(
      (l) => l.topics[0] === w.liquidationEngine.interface.getEvent("LiquidationSettled").topicHash,
    );
    // the measure (at most a few hundred thousand dollars against a $2bn depth) holds none of these accounts
    expect(settled.length).to.equal(batch.length);
    figures["liquidateBatch: per tranche in a batch of 50, own-impact mark on"] = rc!.gasUsed / BigInt(batch.length);
    while (!(await w.liquidationEngine.previewLiquidation(backstop)).backstop) await setPrice(w, ETH, (price -= 2n));
    await measure(
      "liquidate: backstop full close, own-impact mark on",
      w.liquidationEngine.connect(keeper).liquidate(backstop),
    );
  });

  it("measures deleverageBackstop: the vault's inventory closed against one candidate, and against five", async function () {
    const w = await deployWorld(ethers, { breaker: false }); // the admin holds ADL_KEEPER
    const signers = await ethers.getSigners();
    const { vaultAccount } = await attachBackstopVault(
      ethers,
      w,
      { ...BACKSTOP_TEST_CONFIG, adlDrawdown: WAD / 20n, badDebtDrawdown: WAD / 20n },
      1_000_000n,
    );
    // five shorts of 20 ETH with different margins (so different scores), then a 200 ETH long at 10x
    const shorts: bigint[] = [];
    for (let i = 0; i < 5; ++i) {
      const owner = [w.bob, w.carol, w.stranger][i % 3];
      const id = await openAccount(w, owner, BigInt(6_000 + 2_000 * i) * USDC);
      await w.engine.connect(owner).modifyPosition(id, ETH, -units(20), 0n);
      shorts.push(id);
    }
    const long = await openAccount(w, w.alice, 40_000n * USDC);
    await w.engine.connect(w.alice).modifyPosition(long, ETH, units(200), MAX_PRICE);
    // the price at which the long's health is 1/2: past the 2/3 backstop, not bankrupt
    await moveLongToHalfHealth(w, long, ETH);
    await w.liquidationEngine.connect(signers[8]).liquidate(long);
    expect((await w.engine.position(vaultAccount, ETH)).size).to.equal(units(200));
    // $400 lower: the vault's 200 ETH lose about $80k on $1M, past its 5% trigger
    const index = (await w.engine.positionView(vaultAccount, ETH)).indexPrice;
    await setPriceWad(w, ETH, index - 400n * WAD);
    const scored = [];
    for (const id of shorts) {
      const [sum, ps] = await w.engine.liquidationSnapshot(id);
      const p = ps.find((x) => x.marketId === BigInt(ETH))!;
      scored.push({ id, score: (p.value * sum.notional) / sum.equity });
    }
    scored.sort((a, b) => (a.score === b.score ? (a.id < b.id ? -1 : 1) : a.score > b.score ? -1 : 1));
    const ranked = scored.map((s) => s.id);
    const snap = await networkHelpers.takeSnapshot();
    const le = w.liquidationEngine.connect(w.admin);
    const one = await measure("deleverageBackstop: one candidate", le.deleverageBackstop(ETH, [ranked[0]]));
    await snap.restore();
    const five = await measure("deleverageBackstop: five candidates", le.deleverageBackstop(ETH, ranked));
    figures["deleverageBackstop: per candidate of five"] = five / 5n;
    expect((await w.engine.position(vaultAccount, ETH)).size).to.equal(units(100)); // all five closed
    expect(one, "deleverageBackstop, one candidate").to.be.lessThanOrEqual(DELEVERAGE_BUDGET.one);
    expect(five, "deleverageBackstop, five candidates").to.be.lessThanOrEqual(DELEVERAGE_BUDGET.five);
  });
});
