/**
 * Bigint mirror of the protocol's margin math (contracts/libraries/), equal to the wei, reverts
 * included, and the composition helpers a keeper needs to compute account health off chain.
 */
export * from "./errors.js";
export { MAX_INT256, MAX_UINT256, MAX_UINT64, MIN_INT256 } from "./solidityIntegers.js";
export * from "./fixedPoint.js";
export * from "./riskModel.js";
export * from "./perpMath.js";
export * from "./account.js";
