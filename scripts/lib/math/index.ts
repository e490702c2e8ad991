/**
 * Bigint mirror of the protocol's margin math (contracts/libraries/), equal to the wei, reverts
 * included; the composition helpers a keeper needs to compute account health off chain; and
 * PerpEngine's account views computed from a snapshot of the chain (engine.ts).
 */
export * from "./errors.js";
export {
  MAX_INT128,
  MAX_INT256,
  MAX_UINT128,
  MAX_UINT256,
  MAX_UINT64,
  MIN_INT128,
  MIN_INT256,
} from "./solidityIntegers.js";
export * from "./fixedPoint.js";
export * from "./riskModel.js";
export * from "./perpMath.js";
export * from "./account.js";
export * from "./engine.js";
export * from "./liquidation.js";
