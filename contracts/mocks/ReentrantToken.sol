// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice A 6-decimal token that, when armed, calls a target during every transfer, as a malicious
///         token (or an ERC-777 hook) would. Tests arm it with a call into the protocol and expect the
///         reentrancy guard to refuse it; the revert data of the inner call is bubbled up.
contract ReentrantToken is ERC20 {
    address public hookTarget;
    bytes public callData;

    constructor() ERC20("Reentrant Token", "REENT") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata callData_) external {
        hookTarget = target_;
        callData = callData_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address t = hookTarget;
        if (t == address(0) || from == address(0)) return;
        hookTarget = address(0); // one shot
        // Calling arbitrary code is this mock's purpose.
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory ret) = t.call(callData);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}
