// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// @title IOwnImpactMark
/// @notice The own-impact liquidation mark (OwnImpactModule, served at the engine's address): a signed,
///         decaying measure per market of the protocol's own forced trades (every liquidation leg and every
///         sale of the backstop vault's unwind), and the mark it gives, `oracle / (1 + estimate)` with
///         `estimate = measure / (skewScale x oracle)`, its magnitude capped at `impactBudget x
///         lateMultiplier` (the backstop's config). With the switch on, an account the backstop vault
///         declined is refused a tranche or backstop close while it is below maintenance at the oracle but not
///         at the marks (ILiquidator.LiquidationHeldAtMark; a batch skips it with Status.HeldAtMark). A
///         takeover is never held, and an account at or below zero equity at the oracle never.
interface IOwnImpactMark {
    /// @notice One market's signed forced flow (WAD quote notional, a sell negative) as of `at`.
    struct OwnFlow {
        int128 amount;
        uint40 at;
    }

    event OwnImpactMarkSet(bool on);

    /// @notice The liquidation engine's check of a declined account and the record of its legs (self-call
    ///         only; the engine calls it only with the switch on): with `equity` (at the oracle) above zero,
    ///         reverts with LiquidationHeldAtMark when the account is not below maintenance at the marks; else
    ///         adds each leg's signed notional (`legs`: market id and signed notional, two words a leg) to the
    ///         measure.
    function ownImpactCheck(uint256 accountId, int256 equity, uint256[] calldata legs) external;

    /// @notice Turns the mark on or off: the hold and the measure (kept only while on: with it off a liquidation
    ///         and an unwind pay nothing for it; switched on, the measure starts from what it held). A flag of the
    ///         liquidation configuration word (LiquidationParams.OWN_IMPACT_MARK). Governor.
    function setOwnImpactMark(bool on) external;

    function ownImpactMarkOn() external view returns (bool);

    /// @notice The measure of `marketId` decayed to now, rounded toward zero (WAD quote notional).
    function ownFlow(uint256 marketId) external view returns (int256);

    /// @notice The market's mark and oracle price now (the mark equals the price with no measure or no cap).
    function ownImpactMark(uint256 marketId) external view returns (uint256 mark, uint256 price);
}
