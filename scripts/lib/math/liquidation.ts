/**
 * Mirror of contracts/libraries/LiquidationMath.sol: the tranche a liquidation closes, its legs, its
 * money and its health check, in bigint, equal to the wei (reverts included: a checked subtraction
 * that underflows throws ArithmeticOverflowError like Solidity's Panic(0x11), a zero divisor throws
 * FullMulDivFailedError). test/math/differential.test.ts proves it against MathHarness.
 *
 * The liquidation tests and the keeper's planner compute what a tranche will do from this module
 * instead of re-deriving the contract's arithmetic.
 */
import { WAD, abs, clamp, max, min, mulDivDown, mulDivUp, mulWadDown, mulWadUp } from "./fixedPoint.js";
import { notional, positionValue } from "./perpMath.js";
import { addUint, mulUint, negInt, subInt, subUint, uint256ToInt256 } from "./solidityIntegers.js";

/** ILiquidationConfigurator.Config, the fields the planning reads (WAD unless named). */
export type LiquidationConfig = {
  trancheFraction: bigint;
  healthBuffer: bigint;
  backstopRatio: bigint;
  penaltyRate: bigint;
  dustNotional: bigint;
  capBypassRatio: bigint;
};

/** ILiquidationConfigurator.RewardConfig. */
export type RewardConfig = {
  flat: bigint;
  min: bigint;
  shareOfNotional: bigint;
  max: bigint;
  escalationPerSecond: bigint;
  maxMultiplier: bigint;
};

/** IPerpEngine.PositionSnapshot, the fields a leg is planned from. */
export type PlannedPosition = {
  marketId: bigint;
  size: bigint;
  basis: bigint;
  fundingIndex: bigint;
  price: bigint;
  /** the position's notional at `price` (PerpMath.notional) */
  notional: bigint;
  maintenanceMargin: bigint;
};

/** ILiquidator.Leg. */
export type Leg = {
  marketId: bigint;
  sizeDelta: bigint;
  price: bigint;
  notional: bigint;
  realised: bigint;
  shortfall: bigint;
  bankruptLong: boolean;
};

/** int256(x) of a uint256 in Solidity: an explicit conversion, which wraps rather than reverts. */
const asInt = (x: bigint) => uint256ToInt256(x);

/**
 * LiquidationMath.trancheFraction: the share of every position a tranche closes, before capacity;
 * `fixedMargin` is the liquidation margin inside `maintenanceMargin` (it does not shrink with the tranche).
 */
export function trancheFraction(
  c: LiquidationConfig,
  equity: bigint,
  maintenanceMargin: bigint,
  notionalWad: bigint,
  backstop: boolean,
  fixedMargin: bigint,
): bigint {
  if (backstop) return WAD;
  const onePlusBuffer = addUint(WAD, c.healthBuffer, "trancheFraction");
  const target = mulWadUp(maintenanceMargin, onePlusBuffer);
  const shrinking = mulWadUp(maintenanceMargin - min(fixedMargin, maintenanceMargin), onePlusBuffer);
  const penaltyAll = mulWadUp(notionalWad, c.penaltyRate);
  let fraction: bigint;
  if (shrinking <= penaltyAll) {
    fraction = c.trancheFraction;
  } else {
    const gap =
      equity <= 0n
        ? addUint(target, negInt(equity, "trancheFraction"), "trancheFraction")
        : subUint(target, equity, "trancheFraction");
    fraction = max(min(mulDivUp(gap, WAD, shrinking - penaltyAll), c.trancheFraction), 1n);
  }
  if (fraction < WAD && mulWadDown(notionalWad, WAD - fraction) < c.dustNotional) fraction = WAD;
  return fraction;
}

/** LiquidationMath.isBackstop: equity below maintenance * backstopRatio. */
export function isBackstop(c: LiquidationConfig, equity: bigint, maintenanceMargin: bigint): boolean {
  return equity < asInt(mulWadDown(maintenanceMargin, c.backstopRatio));
}

/** LiquidationMath.bypassesCapacity: equity below maintenance * capBypassRatio. */
export function bypassesCapacity(c: LiquidationConfig, equity: bigint, maintenanceMargin: bigint): boolean {
  return equity < asInt(mulWadDown(maintenanceMargin, c.capBypassRatio));
}

/** LiquidationMath.capacity: notional a market may liquidate per window. */
export function capacity(depthFactor: bigint, skewScale: bigint, price: bigint): bigint {
  return mulWadDown(mulWadDown(skewScale, depthFactor), price);
}

/** LiquidationMath.shareThatFits: the share of a position of `notional` that fits in `room`. */
export function shareThatFits(room: bigint, notionalWad: bigint): bigint {
  return mulDivDown(room, WAD, notionalWad);
}

/** What LiquidationMath.planLegs fills in, and the margin left before the penalty. */
export type PlannedLegs = {
  legs: Leg[];
  trancheNotional: bigint;
  remainingMaintenance: bigint;
  badDebt: bigint;
  marginLeft: bigint;
  /** WAD when every position closes in full, else the largest share closed of any position (below WAD) */
  fraction: bigint;
};

/**
 * LiquidationMath.planLegs: the legs closing `fractions[i]` of position i (0 skips it), gains first,
 * with the vault's settlement replayed.
 */
export function planLegs(fractions: bigint[], ps: PlannedPosition[], margin: bigint, pool: bigint): PlannedLegs {
  const MAX = (1n << 256n) - 1n;
  const legs: Leg[] = [];
  let trancheNotional = 0n;
  let remainingMaintenance = 0n;
  let largest = 0n;
  let someLeft = false;
  ps.forEach((p, i) => {
    const absSize = abs(p.size);
    const f = fractions[i];
    const closeAbs = f === WAD ? absSize : min(mulDivUp(absSize, f, WAD), absSize);
    if (closeAbs < absSize) {
      someLeft = true;
      remainingMaintenance = addUint(
        remainingMaintenance,
        mulDivUp(p.maintenanceMargin, absSize - closeAbs, absSize),
        "planLegs",
      );
    }
    if (closeAbs === 0n) return;
    largest = max(largest, f);
    const closed = p.size > 0n ? closeAbs : -closeAbs;
    const leg: Leg = {
      marketId: p.marketId,
      sizeDelta: -closed,
      price: p.price,
      notional: notional(closed, p.price),
      realised: positionValue(closed, p.basis, p.price, p.fundingIndex),
      shortfall: 0n,
      bankruptLong: p.size > 0n,
    };
    // insertion by realised value, descending (stable: an equal value stays after)
    let j = legs.length;
    legs.push(leg);
    while (j > 0 && legs[j - 1].realised < leg.realised) {
      legs[j] = legs[j - 1];
      --j;
    }
    legs[j] = leg;
    trancheNotional = addUint(trancheNotional, leg.notional, "planLegs");
  });
  const fraction = someLeft ? min(largest, WAD - 1n) : WAD;
  let badDebt = 0n;
  for (const leg of legs) {
    const r = leg.realised;
    if (r >= 0n) {
      const paid = min(r, pool);
      pool -= paid;
      margin = addUint(margin, paid, "planLegs");
    } else {
      const loss = -r;
      const taken = min(loss, margin);
      margin -= taken;
      if (pool !== MAX) pool = addUint(pool, taken, "planLegs");
      leg.shortfall = loss - taken;
      badDebt = addUint(badDebt, loss - taken, "planLegs");
    }
  }
  return { legs, trancheNotional, remainingMaintenance, badDebt, marginLeft: margin, fraction };
}

/** The reward configuration's fields the liquidation margin reads. */
export type LiquidationMarginConfig = Pick<RewardConfig, "flat" | "min" | "shareOfNotional" | "max">;

/**
 * LiquidationMath.liquidationMargin: what an account's maintenance (and initial) margin holds for its
 * keeper, clamp(flat + share * notional, min, max) on the whole notional; zero without positions.
 */
export function liquidationMargin(r: LiquidationMarginConfig, notionalWad: bigint): bigint {
  if (notionalWad === 0n) return 0n;
  return clamp(addUint(r.flat, mulWadDown(notionalWad, r.shareOfNotional), "liquidationMargin"), r.min, r.max);
}

/** LiquidationMath.reward: keeper reward before the fund, escalated by the seconds elapsed. */
export function reward(r: RewardConfig, notionalWad: bigint, elapsed: bigint): bigint {
  const base = clamp(addUint(r.flat, mulWadDown(notionalWad, r.shareOfNotional), "reward"), r.min, r.max);
  const multiplier = min(addUint(WAD, elapsed * r.escalationPerSecond, "reward"), r.maxMultiplier);
  return mulWadDown(base, multiplier);
}

/** What LiquidationMath.splitPenalty fills in. */
export type PenaltySplit = { keeperFromPenalty: bigint; insuranceShare: bigint; marginAfter: bigint };

/**
 * LiquidationMath.splitPenalty: the penalty (at least the reward: the account pays its own keeper),
 * capped at half the equity's share of the maintenance the tranche releases (half the equity on a full
 * close), and its split.
 */
export function splitPenalty(
  trancheNotional: bigint,
  equity: bigint,
  fraction: bigint,
  maintenanceMargin: bigint,
  remainingMaintenance: bigint,
  penaltyRate: bigint,
  marginLeft: bigint,
  rewardWad: bigint,
): PenaltySplit {
  let penalty = max(mulWadUp(trancheNotional, penaltyRate), rewardWad);
  let cap = 0n;
  if (equity > 0n) {
    const released =
      fraction === WAD || maintenanceMargin === 0n
        ? maintenanceMargin
        : maintenanceMargin - min(remainingMaintenance, maintenanceMargin);
    cap = fraction === WAD ? equity / 2n : mulDivDown(equity, released, maintenanceMargin) / 2n;
  }
  penalty = min(penalty, cap);
  const fromPenalty = min(rewardWad, penalty);
  const keeperFromPenalty = min(fromPenalty, marginLeft);
  const insuranceShare = min(penalty - fromPenalty, marginLeft - keeperFromPenalty);
  return { keeperFromPenalty, insuranceShare, marginAfter: marginLeft - keeperFromPenalty - insuranceShare };
}

/** What LiquidationMath.fundPayments fills in. */
export type FundPayments = {
  badDebtCovered: bigint;
  badDebtSocialised: bigint;
  keeperFromFund: bigint;
  keeperReward: bigint;
};

/** LiquidationMath.fundPayments: for an account with bad debt, that first, then the reward it could not pay, in tokens. */
export function fundPayments(
  badDebt: bigint,
  keeperFromPenalty: bigint,
  rewardWad: bigint,
  availableTokens: bigint,
  scale: bigint,
): FundPayments {
  let badDebtCovered = 0n;
  let badDebtSocialised = 0n;
  let keeperFromFund = 0n;
  // Only an account with bad debt draws on the fund: a solvent one pays its own keeper.
  if (badDebt !== 0n) {
    const tokens = min(mulDivUp(badDebt, 1n, scale), availableTokens);
    badDebtCovered = min(tokens * scale, badDebt);
    badDebtSocialised = badDebt - badDebtCovered;
    availableTokens -= tokens;
    if (rewardWad > keeperFromPenalty) {
      keeperFromFund = min((rewardWad - keeperFromPenalty) / scale, availableTokens) * scale;
    }
  }
  return {
    badDebtCovered,
    badDebtSocialised,
    keeperFromFund,
    keeperReward: addUint(keeperFromPenalty, keeperFromFund, "fundPayments"),
  };
}

/** LiquidationMath.healthBeforeAfter: health before, and a lower bound of health after (max: closed). */
export function healthBeforeAfter(
  equity: bigint,
  maintenanceMargin: bigint,
  fraction: bigint,
  keeperFromPenalty: bigint,
  insuranceShare: bigint,
  legCount: bigint,
  remainingMaintenance: bigint,
): { before: bigint; after: bigint } {
  const before = equity <= 0n ? 0n : mulDivDown(equity, WAD, maintenanceMargin);
  if (fraction === WAD) return { before, after: (1n << 256n) - 1n };
  const penaltyTaken = asInt(addUint(keeperFromPenalty, insuranceShare, "healthBeforeAfter"));
  const equityAfter = subInt(subInt(equity, penaltyTaken, "healthBeforeAfter"), asInt(legCount), "healthBeforeAfter");
  const mmAfter = addUint(remainingMaintenance, legCount, "healthBeforeAfter");
  return { before, after: equityAfter <= 0n ? 0n : mulDivDown(equityAfter, WAD, mmAfter) };
}

/** LiquidationMath.STALE_BAND_SIGMAS, STALE_BAND_MIN (WAD) and SECONDS_PER_YEAR. */
export const STALE_BAND_SIGMAS = 6n;
export const STALE_BAND_MIN = 5n * 10n ** 16n;
export const SECONDS_PER_YEAR = 365n * 86_400n;

/** floor(sqrt(x)), as solady's FixedPointMathLib.sqrt. */
export function sqrtFloor(x: bigint): bigint {
  if (x < 2n) return x;
  let r = 1n << BigInt((x.toString(2).length + 1) >> 1);
  for (;;) {
    const next = (r + x / r) >> 1n;
    if (next >= r) return r;
    r = next;
  }
}

/**
 * LiquidationMath.staleBound: a stale leg's price most favourable to the account within
 * max(5%, 6 sigma sqrt(staleness / year)) of its feed's last answer, up for a long, down for a short.
 */
export function staleBound(lastPrice: bigint, sigma: bigint, staleness: bigint, long: boolean): bigint {
  const years = mulUint(mulUint(staleness, WAD, "staleBound"), WAD, "staleBound") / SECONDS_PER_YEAR;
  let band = mulWadUp(mulUint(STALE_BAND_SIGMAS, sigma, "staleBound"), sqrtFloor(years) + 1n);
  if (band < STALE_BAND_MIN) band = STALE_BAND_MIN;
  if (long) return mulWadUp(lastPrice, addUint(WAD, band, "staleBound"));
  return band >= WAD ? 0n : mulWadDown(lastPrice, WAD - band);
}
