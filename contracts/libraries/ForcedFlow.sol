// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {FixedPointMathLib} from "solady/utils/FixedPointMathLib.sol";

import {IBackstopTypes} from "../interfaces/IBackstop.sol";
import {FixedPoint} from "./FixedPoint.sol";

/// @title ForcedFlow
/// @notice The decaying measure of the protocol's own forced flow in a market (IBackstopTypes.Flow), read by
///         the unwind (BackstopModule) and the `forcedFlow` view (AutoDeleveraging).
library ForcedFlow {
    using FixedPoint for uint256;

    int256 internal constant LN2_WAD = 693147180559945309;

    /// @dev The measure decayed exponentially to now, rounded up (the unwind's room is what is left of the
    ///      budget: a larger measure sells less).
    function decayed(IBackstopTypes.Flow memory f, uint256 halfLife) internal view returns (uint256) {
        if (f.amount == 0 || halfLife == 0) return f.amount;
        uint256 dt = block.timestamp - f.at;
        int256 factor = FixedPointMathLib.expWad(-((int256(dt) * LN2_WAD) / int256(halfLife)));
        return uint256(f.amount).mulWadUp(uint256(factor));
    }
}
