// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ILiquidator} from "../interfaces/ILiquidator.sol";
import {ILiquidationConfigurator} from "../interfaces/ILiquidationConfigurator.sol";
import {IPerpEngine} from "../interfaces/IPerpEngine.sol";
import {FixedPoint} from "./FixedPoint.sol";
import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";
import {PerpMath} from "./PerpMath.sol";
import {WAD} from "./Constants.sol";

/// @title LiquidationMath
/// @notice Pure tranche planning: the share of every position a tranche closes, how far the markets'
///         capacity lets it go, the legs and what each realises, the money (penalty, keeper reward,
///         insurance share, bad debt) and the health check. The LiquidationEngine plans and executes
///         with exactly this code, and scripts/lib/math/liquidation.ts mirrors it in bigint to the wei
///         (test/math/differential.test.ts against contracts/harness/MathHarness.sol).
/// @dev Rounding favours the protocol: the share closed rounds up (it errs toward a healthier account),
///      room in a window rounds down, the penalty rounds up before its cap, rewards round down.
library LiquidationMath {
    using FixedPoint for uint256;

    /// @notice How many sigmas of the move a stale feed may have missed its bound allows for.
    uint256 internal constant STALE_BAND_SIGMAS = 6;
    /// @notice The least band around a stale feed's last answer (WAD): 5%, whatever sigma says.
    uint256 internal constant STALE_BAND_MIN = 0.05e18;
    uint256 internal constant SECONDS_PER_YEAR = 365 days;

    /// @notice Share of every position a tranche closes (WAD), before capacity. A backstop closes all.
    ///         Otherwise the smallest share whose close brings equity to maintenance * (1 + buffer),
    ///         assuming the full penalty is charged (so it errs toward closing more), capped at the
    ///         tranche fraction, at least 1 wei; a remainder below dustNotional closes too.
    /// @dev Closing a share x at the index price realises value without changing equity; it lowers the
    ///      positions' maintenance margin by at least x of it (the size premium only falls with size),
    ///      while the liquidation margin `fixedMargin` (part of `maintenanceMargin`) is taken as staying.
    ///      Solving E - x*N*penaltyRate >= (1+b)(MM - x(MM - L)) gives x. Requires equity < maintenance.
    function trancheFraction(
        ILiquidationConfigurator.Config memory c,
        int256 equity,
        uint256 maintenanceMargin,
        uint256 notional,
        bool backstop,
        uint256 fixedMargin
    ) internal pure returns (uint256 fraction) {
        if (backstop) return WAD;
        uint256 target = maintenanceMargin.mulWadUp(WAD + c.healthBuffer);
        uint256 shrinking = (maintenanceMargin - fixedMargin.min(maintenanceMargin)).mulWadUp(WAD + c.healthBuffer);
        uint256 penaltyAll = notional.mulWadUp(c.penaltyRate);
        if (shrinking <= penaltyAll) {
            fraction = c.trancheFraction;
        } else {
            uint256 gap = equity <= 0 ? target + uint256(-equity) : target - uint256(equity);
            fraction = gap.mulDivUp(WAD, shrinking - penaltyAll).min(c.trancheFraction).max(1);
        }
        if (fraction < WAD && notional.mulWadDown(WAD - fraction) < c.dustNotional) fraction = WAD;
    }

    /// @notice Whether the account is below the backstop threshold (close everything, no cooldown).
    function isBackstop(
        ILiquidationConfigurator.Config memory c,
        int256 equity,
        uint256 maintenanceMargin
    ) internal pure returns (bool) {
        return equity < int256(maintenanceMargin.mulWadDown(c.backstopRatio));
    }

    /// @notice Whether the account is near bankruptcy (below capBypassRatio): its tranche ignores capacity.
    function bypassesCapacity(
        ILiquidationConfigurator.Config memory c,
        int256 equity,
        uint256 maintenanceMargin
    ) internal pure returns (bool) {
        return equity < int256(maintenanceMargin.mulWadDown(c.capBypassRatio));
    }

    /// @notice Notional a market may liquidate per window: capacityDepthFactor * skewScale * price.
    function capacity(uint256 depthFactor, uint256 skewScale, uint256 price) internal pure returns (uint256) {
        return skewScale.mulWadDown(depthFactor).mulWadDown(price);
    }

    /// @notice The share of a position of `notional` that fits in `room` (WAD, rounded down).
    function shareThatFits(uint256 room, uint256 notional) internal pure returns (uint256) {
        return room.mulDivDown(WAD, notional);
    }

    /// @notice The legs of a tranche closing `fractions[i]` of position i (a share its own market's
    ///         capacity allows; 0 skips the position), ordered gains first (so a cross-margined account
    ///         never shows a spurious shortfall on one leg while another leg's gain is still unrealised),
    ///         with the vault's settlement replayed to find each leg's shortfall. Fills plan.legs (the
    ///         positions it closes), trancheNotional, remainingMaintenance (positions only) and badDebt,
    ///         and sets plan.fraction: WAD when every position closes in full, else the largest share
    ///         closed of any position (below WAD).
    /// @return marginLeft the margin after every leg settled, before the penalty
    function planLegs(
        ILiquidator.Plan memory plan,
        IPerpEngine.PositionSnapshot[] memory ps,
        uint256[] memory fractions,
        uint256 margin,
        uint256 pool
    ) internal pure returns (uint256 marginLeft) {
        (uint256 count, bool someLeft, uint256 largest) = _buildLegs(plan, ps, fractions);
        ILiquidator.Leg[] memory legs = plan.legs;
        assembly ("memory-safe") {
            mstore(legs, count)
        }
        plan.fraction = someLeft ? largest.min(WAD - 1) : WAD;
        // Replays Vault.settle: a gain is paid up to the pool, a loss is taken from margin into the pool.
        for (uint256 i; i < count; ++i) {
            int256 r = legs[i].realised;
            if (r >= 0) {
                uint256 paid = uint256(r).min(pool);
                pool -= paid;
                margin += paid;
            } else {
                uint256 loss = uint256(-r);
                uint256 taken = loss.min(margin);
                margin -= taken;
                if (pool != type(uint256).max) pool += taken;
                legs[i].shortfall = loss - taken;
                plan.badDebt += loss - taken;
            }
        }
        return margin;
    }

    /// @dev planLegs' first pass: the legs that close something, inserted by realised value, descending.
    function _buildLegs(
        ILiquidator.Plan memory plan,
        IPerpEngine.PositionSnapshot[] memory ps,
        uint256[] memory fractions
    ) private pure returns (uint256 count, bool someLeft, uint256 largest) {
        plan.legs = new ILiquidator.Leg[](ps.length);
        for (uint256 i; i < ps.length; ++i) {
            IPerpEngine.PositionSnapshot memory p = ps[i];
            uint256 absSize = FixedPoint.abs(p.size);
            uint256 closeAbs = fractions[i] == WAD ? absSize : absSize.mulDivUp(fractions[i], WAD).min(absSize);
            if (closeAbs < absSize) {
                someLeft = true;
                plan.remainingMaintenance += p.maintenanceMargin.mulDivUp(absSize - closeAbs, absSize);
            }
            if (closeAbs == 0) continue;
            largest = largest.max(fractions[i]);
            ILiquidator.Leg memory leg = _leg(p, closeAbs);
            uint256 j = count++;
            while (j > 0 && plan.legs[j - 1].realised < leg.realised) {
                plan.legs[j] = plan.legs[j - 1];
                --j;
            }
            plan.legs[j] = leg;
            plan.trancheNotional += leg.notional;
        }
    }

    function _leg(
        IPerpEngine.PositionSnapshot memory p,
        uint256 closeAbs
    ) private pure returns (ILiquidator.Leg memory) {
        int256 closed = p.size > 0 ? int256(closeAbs) : -int256(closeAbs);
        return
            ILiquidator.Leg({
                marketId: p.marketId,
                sizeDelta: -closed,
                price: p.price,
                notional: PerpMath.notional(closed, p.price),
                realised: PerpMath.positionValue(closed, p.basis, p.price, p.fundingIndex),
                shortfall: 0,
                bankruptLong: p.size > 0
            });
    }

    /// @notice The price of a stale leg most favourable to the account within the band its feed may have
    ///         moved since its last answer: that answer moved by max(STALE_BAND_MIN, STALE_BAND_SIGMAS *
    ///         sigma * sqrt(staleness / year)), up for a long, down for a short (at least 0). An account
    ///         liquidatable with its stale legs at this price is liquidatable at any price in the band:
    ///         equity less maintenance rises with the price for a long and falls for a short (the
    ///         maintenance and liquidation-margin rates are below 1, and the funding accrued since is
    ///         linear in the price read).
    /// @dev The band rounds up and the price rounds in the account's favour: the bound errs toward not
    ///      liquidating.
    function staleBound(
        uint256 lastPrice,
        uint256 sigma,
        uint256 staleness,
        bool long
    ) internal pure returns (uint256) {
        uint256 band = (STALE_BAND_SIGMAS * sigma).mulWadUp(
            FixedPointMathLib.sqrt((staleness * WAD * WAD) / SECONDS_PER_YEAR) + 1
        );
        if (band < STALE_BAND_MIN) band = STALE_BAND_MIN;
        if (long) return lastPrice.mulWadUp(WAD + band);
        return band >= WAD ? 0 : lastPrice.mulWadDown(WAD - band);
    }

    /// @notice The liquidation margin: what the account's maintenance (and initial) margin holds for the
    ///         keeper who will liquidate it, clamp(flat + share * notional, min, max) on the account's
    ///         whole notional (Synthetix's liquidation margin). It is the keeper reward's base, so an
    ///         account pays its own keeper from its own margin and a solvent account's liquidation never
    ///         draws on the insurance fund. Zero without positions.
    function liquidationMargin(
        ILiquidationConfigurator.RewardConfig memory r,
        uint256 notional
    ) internal pure returns (uint256) {
        return liquidationMargin(r.flat, r.shareOfNotional, r.min, r.max, notional);
    }

    /// @notice The same liquidation margin from the four fields it reads (the engine's margin checks pass
    ///         them straight from the stored reward word, without building the struct).
    function liquidationMargin(
        uint256 flat,
        uint256 shareOfNotional,
        uint256 min,
        uint256 max,
        uint256 notional
    ) internal pure returns (uint256) {
        if (notional == 0) return 0;
        return (flat + notional.mulWadDown(shareOfNotional)).clamp(min, max);
    }

    /// @notice Keeper reward before the fund: clamp(flat + share * notional, min, max), times an
    ///         escalation multiplier that rises from 1 by escalationPerSecond per second since the clock
    ///         started, up to maxMultiplier. Rounds down.
    function reward(
        ILiquidationConfigurator.RewardConfig memory r,
        uint256 notional,
        uint256 elapsed
    ) internal pure returns (uint256) {
        uint256 base = (uint256(r.flat) + notional.mulWadDown(r.shareOfNotional)).clamp(r.min, r.max);
        uint256 multiplier = (WAD + elapsed * r.escalationPerSecond).min(r.maxMultiplier);
        return base.mulWadDown(multiplier);
    }

    /// @notice The penalty and its split, from the margin left after the legs: keeper first (up to the
    ///         reward), then the insurance fund. The account pays its keeper itself: the penalty is at
    ///         least the reward. It never exceeds half the equity's share of the maintenance margin the
    ///         tranche releases (all of it on a full close), so a tranche cannot make the account less
    ///         healthy; an account with no equity pays none. Fills keeperFromPenalty, insuranceShare and
    ///         marginAfter. Needs plan.maintenanceMargin and remainingMaintenance (liquidation margin
    ///         included) when the tranche is partial.
    function splitPenalty(
        ILiquidator.Plan memory plan,
        uint256 penaltyRate,
        uint256 marginLeft,
        uint256 rewardWad
    ) internal pure {
        uint256 penalty = plan.trancheNotional.mulWadUp(penaltyRate).max(rewardWad);
        uint256 cap;
        if (plan.equity > 0) {
            uint256 mm = plan.maintenanceMargin;
            uint256 released = plan.fraction == WAD || mm == 0 ? mm : mm - plan.remainingMaintenance.min(mm);
            cap = plan.fraction == WAD ? uint256(plan.equity) / 2 : uint256(plan.equity).mulDivDown(released, mm) / 2;
        }
        penalty = penalty.min(cap);
        uint256 fromPenalty = rewardWad.min(penalty);
        plan.keeperFromPenalty = fromPenalty.min(marginLeft);
        plan.insuranceShare = (penalty - fromPenalty).min(marginLeft - plan.keeperFromPenalty);
        plan.marginAfter = marginLeft - plan.keeperFromPenalty - plan.insuranceShare;
    }

    /// @notice What the insurance fund pays, in its own rounding (whole token units), only for an
    ///         account with bad debt: the bad debt first, then the part of the reward the account could
    ///         not pay. A solvent account's liquidation never draws on the fund: its keeper is paid from
    ///         its own margin (the liquidation margin), or not in full. `availableTokens` is what the fund
    ///         holds plus what the vault holds for it. Fills badDebtCovered, badDebtSocialised,
    ///         keeperFromFund and keeperReward.
    function fundPayments(
        ILiquidator.Plan memory plan,
        uint256 rewardWad,
        uint256 availableTokens,
        uint256 scale
    ) internal pure {
        if (plan.badDebt != 0) {
            uint256 tokens = plan.badDebt.mulDivUp(1, scale).min(availableTokens);
            plan.badDebtCovered = (tokens * scale).min(plan.badDebt);
            plan.badDebtSocialised = plan.badDebt - plan.badDebtCovered;
            availableTokens -= tokens;
            if (rewardWad > plan.keeperFromPenalty) {
                plan.keeperFromFund = ((rewardWad - plan.keeperFromPenalty) / scale).min(availableTokens) * scale;
            }
        }
        plan.keeperReward = plan.keeperFromPenalty + plan.keeperFromFund;
    }

    /// @notice Health before and a lower bound of health after a partial tranche (type(uint256).max for a
    ///         full close). Execution has matched the plan to the wei, so equity after is exact: equity
    ///         before, less the penalty, less the rounding of splitting each position (a wei per leg).
    ///         Maintenance after is bounded above by each position's maintenance scaled to what remains
    ///         (the size premium only falls with size), plus a wei per leg. A lower bound of health that
    ///         improved means the true health improved.
    function healthBeforeAfter(
        ILiquidator.Plan memory plan
    ) internal pure returns (uint256 before, uint256 healthAfter) {
        before = plan.equity <= 0 ? 0 : uint256(plan.equity).mulDivDown(WAD, plan.maintenanceMargin);
        if (plan.fraction == WAD) return (before, type(uint256).max); // closed
        int256 equityAfter =
            plan.equity - int256(plan.keeperFromPenalty + plan.insuranceShare) - int256(plan.legs.length);
        uint256 mmAfter = plan.remainingMaintenance + plan.legs.length;
        healthAfter = equityAfter <= 0 ? 0 : uint256(equityAfter).mulDivDown(WAD, mmAfter);
    }
}
