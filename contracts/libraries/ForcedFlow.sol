// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";

import {IBackstopTypes} from "../interfaces/IBackstop.sol";
import {FixedPoint} from "./FixedPoint.sol";
import {WAD} from "./Constants.sol";

/// @title ForcedFlow
/// @notice The decaying measures of the protocol's own forced flow in a market: the unwind's (IBackstopTypes.Flow,
///         read by the unwind in BackstopModule and the `forcedFlow` view in AutoDeleveraging) and the own-impact
///         mark's signed one (IOwnImpactMark.OwnFlow, OwnImpactModule).
library ForcedFlow {
    using FixedPoint for uint256;

    int256 internal constant LN2_WAD = 693147180559945309;

    /// @dev The measure decayed exponentially to now, rounded up (the unwind's room is what is left of the
    ///      budget: a larger measure sells less).
    function decayed(IBackstopTypes.Flow memory f, uint256 halfLife) internal view returns (uint256) {
        if (f.amount == 0 || halfLife == 0) return f.amount;
        return uint256(f.amount).mulWadUp(factor(block.timestamp - f.at, halfLife));
    }

    /// @dev A signed measure (the own-impact mark's, IOwnImpactMark.OwnFlow) decayed from `at` to now, rounded
    ///      toward zero (the mark's correction is the smaller one).
    function decayedSigned(int256 amount, uint256 at, uint256 halfLife) internal view returns (int256) {
        if (amount == 0 || halfLife == 0) return amount;
        return (amount * int256(factor(block.timestamp - at, halfLife))) / int256(WAD);
    }

    /// @dev 2^(-dt / halfLife), WAD (solady's expWad; 0 once it underflows).
    function factor(uint256 dt, uint256 halfLife) internal pure returns (uint256) {
        return uint256(FixedPointMathLib.expWad(-((int256(dt) * LN2_WAD) / int256(halfLife))));
    }
}
