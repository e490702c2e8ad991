// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IInsuranceFund} from "../../interfaces/IInsuranceFund.sol";
import {ITrigger} from "../../interfaces/ITrigger.sol";
import {ThresholdTrigger} from "./ThresholdTrigger.sol";

/// @title InsuranceCoverageTrigger
/// @notice The insurance fund's coverage ratio (fund assets / worst-case loss, WAD); lower is worse, so
///         its thresholds descend. The same for every market: a thin fund is a protocol-wide risk.
contract InsuranceCoverageTrigger is ThresholdTrigger {
    IInsuranceFund public immutable fund;

    constructor(
        IInsuranceFund fund_,
        address admin,
        address governor
    ) ThresholdTrigger(admin, governor, false, 0.01e18, 100e18, [uint256(2e18), 1e18, 0.5e18, 0.25e18], 2) {
        fund = fund_;
    }

    /// @inheritdoc ITrigger
    function name() external pure returns (string memory) {
        return "insurance-coverage";
    }

    /// @inheritdoc ThresholdTrigger
    function measure(uint256) public view override returns (uint256) {
        return fund.coverageRatio();
    }
}
