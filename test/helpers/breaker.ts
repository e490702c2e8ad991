/**
 * Shared pieces of the circuit-breaker tests: level and source numbers, the constructor's default
 * policies, a world with a risk oracle, stand-alone breakers with chosen triggers, mocks from
 * test/solidity/helpers/BreakerMocks.sol, and a bigint mirror of the fee and margin formulas the
 * engine applies a level's multipliers in.
 */
import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { BaseContract, ContractTransactionReceipt, ContractTransactionResponse } from "ethers";

import type { CircuitBreaker } from "../../types/ethers-contracts/index.js";
import { RISK_ORACLE_ROLE } from "../../deploy/protocol.js";
import { type RiskParams, WAD } from "../../deploy/params.js";
import { deployWorld, type World } from "./fixture.js";

export const LEVEL = { normal: 0, caution: 1, restricted: 2, reduceOnly: 3, halted: 4 } as const;
export const LEVELS = [0, 1, 2, 3, 4] as const;

/** ICircuitBreaker.Source, in declaration order. */
export const SOURCE = { Trigger: 0, Cooldown: 1, Guardian: 2, RiskOracle: 3, Governance: 4 } as const;

export const COOLDOWN = 30n * 60n;
export const RISK_ORACLE_MAX_DURATION = 6n * 3600n;

export const TRIGGER_NAMES = [
  "price-move",
  "volatility",
  "oracle-health",
  "liquidation-pressure",
  "insurance-coverage",
] as const;
export type TriggerName = (typeof TRIGGER_NAMES)[number];

export type Policy = {
  feeMultiplier: bigint;
  imMultiplier: bigint;
  maxLeverage: bigint;
  newRiskAllowed: boolean;
  tradingOpen: boolean;
};

export const policy = (fee: bigint, im: bigint, lev: bigint, newRisk: boolean, open: boolean): Policy => ({
  feeMultiplier: fee,
  imMultiplier: im,
  maxLeverage: lev,
  newRiskAllowed: newRisk,
  tradingOpen: open,
});

/** One policy per level 0..4, the shape setPolicies takes. */
export type Policies = [Policy, Policy, Policy, Policy, Policy];

/** What the CircuitBreaker constructor sets, level 0..4. */
export const DEFAULT_POLICIES: Policies = [
  policy(WAD, WAD, 0n, true, true),
  policy((15n * WAD) / 10n, (125n * WAD) / 100n, 50n * WAD, true, true),
  policy((25n * WAD) / 10n, 2n * WAD, 20n * WAD, true, true),
  policy(4n * WAD, 3n * WAD, 10n * WAD, false, true),
  policy(5n * WAD, 4n * WAD, 5n * WAD, false, false),
];

/** A fresh copy of the default policies, to edit one field in a test. */
export const defaultPolicies = (): Policies => DEFAULT_POLICIES.map((p) => ({ ...p })) as Policies;

/** An ethers struct Result as a plain Policy. */
export const asPolicy = (r: {
  feeMultiplier: bigint;
  imMultiplier: bigint;
  maxLeverage: bigint;
  newRiskAllowed: boolean;
  tradingOpen: boolean;
}): Policy => policy(r.feeMultiplier, r.imMultiplier, r.maxLeverage, r.newRiskAllowed, r.tradingOpen);

export type BreakerWorld = World & { breaker: CircuitBreaker; riskOracle: HardhatEthersSigner };

/** The default world (breaker and five triggers wired into the engine), plus a risk-oracle signer. */
export async function deployBreakerWorld(ethers: HardhatEthers): Promise<BreakerWorld> {
  const w = await deployWorld(ethers);
  if (!w.breaker) throw new Error("deployWorld did not deploy a breaker");
  const riskOracle = (await ethers.getSigners())[8];
  await w.breaker.connect(w.admin).grantRole(RISK_ORACLE_ROLE, riskOracle.address);
  return { ...w, breaker: w.breaker, riskOracle };
}

/** A breaker of its own (not wired into the engine) holding exactly `triggers`, added by the governor. */
export async function deploySoloBreaker(
  ethers: HardhatEthers,
  w: World,
  triggers: (string | BaseContract)[],
): Promise<CircuitBreaker> {
  const breaker = (await ethers.deployContract("CircuitBreaker", [
    w.admin.address,
    w.governor.address,
    w.guardian.address,
  ])) as unknown as CircuitBreaker;
  for (const t of triggers) await breaker.connect(w.governor).addTrigger(t);
  return breaker;
}

export type SettableTrigger = BaseContract & {
  set(marketId: bigint | number, level: number): Promise<ContractTransactionResponse>;
};
export type TriggerProbe = BaseContract & {
  probe(trigger: string | BaseContract, marketId: bigint | number): Promise<ContractTransactionResponse>;
  level(): Promise<bigint>;
  measured(): Promise<bigint>;
};

export async function deploySettableTrigger(ethers: HardhatEthers): Promise<SettableTrigger> {
  return (await ethers.deployContract("SettableTrigger")) as unknown as SettableTrigger;
}

export async function deployProbe(ethers: HardhatEthers): Promise<TriggerProbe> {
  return (await ethers.deployContract("TriggerProbe")) as unknown as TriggerProbe;
}

export async function levelOf(breaker: CircuitBreaker, marketId: number): Promise<number> {
  return Number((await breaker.marketLevel(marketId)).level);
}

/** LevelChanged events of a receipt, as [from, to, source, by]. */
export function levelChanges(breaker: CircuitBreaker, receipt: ContractTransactionReceipt | null) {
  const out: { from: number; to: number; source: number; by: string }[] = [];
  for (const log of receipt?.logs ?? []) {
    const parsed = breaker.interface.parseLog(log);
    if (parsed?.name !== "LevelChanged") continue;
    out.push({
      from: Number(parsed.args.from),
      to: Number(parsed.args.to),
      source: Number(parsed.args.source),
      by: parsed.args.by as string,
    });
  }
  return out;
}

// ---------------------------------------------------------------- mirror of the level multipliers

const mulWadUp = (a: bigint, b: bigint) => (a * b + WAD - 1n) / WAD;
const mulDivUp = (a: bigint, b: bigint, c: bigint) => (a * b + c - 1n) / c;
const clamp = (x: bigint, lo: bigint, hi: bigint) => (x < lo ? lo : x > hi ? hi : x);
const abs = (x: bigint) => (x < 0n ? -x : x);

/** baseFee * (1 + kFee * sigma) * levelFeeMultiplier, each product rounded up (RiskModel.riskFeeRate). */
export function riskFeeRate(r: RiskParams, sigma: bigint, levelFeeMultiplier: bigint): bigint {
  return mulWadUp(mulWadUp(r.baseFee, WAD + mulWadUp(r.kFee, sigma)), levelFeeMultiplier);
}

/** Fee of a trade: the reducing part at baseFee, the adding part at the level's risk rate. */
export function tradeFee(
  r: RiskParams,
  oldSize: bigint,
  sizeDelta: bigint,
  fill: bigint,
  sigma: bigint,
  levelFeeMultiplier: bigint,
): bigint {
  const absDelta = abs(sizeDelta);
  const opposite = oldSize > 0n !== sizeDelta > 0n;
  const reducing = opposite ? (absDelta < abs(oldSize) ? absDelta : abs(oldSize)) : 0n;
  const adding = absDelta - reducing;
  let fee = 0n;
  if (reducing !== 0n) fee += mulWadUp(mulWadUp(reducing, fill), r.baseFee);
  if (adding !== 0n) fee += mulWadUp(mulWadUp(adding, fill), riskFeeRate(r, sigma, levelFeeMultiplier));
  return fee;
}

/** Initial margin ratio of one position at a level (RiskModel.initialMarginRatio). */
export function initialMarginRatio(
  r: RiskParams,
  sigma: bigint,
  rampedTerm: bigint,
  absSize: bigint,
  skewScale: bigint,
  levelImMultiplier: bigint,
): bigint {
  const target = clamp(r.mmrBase + mulWadUp(r.kMm, sigma), r.mmrMin, r.mmrMax);
  const term = target > rampedTerm ? target : rampedTerm;
  const ratio =
    mulWadUp(mulWadUp(term, r.imMultiplier), levelImMultiplier) + mulDivUp(r.sizePremium, absSize, skewScale);
  return ratio < WAD ? ratio : WAD;
}

/** |size| * price, rounded up (what the engine's notional and margin requirements use). */
export const notionalUp = (size: bigint, price: bigint) => mulWadUp(abs(size), price);
export { mulWadUp };

/** What a poke-per-round run recorded: the level after each round and how many times it moved. */
export type LevelPath = { levels: number[]; changes: number };

/**
 * Pushes `rounds` rounds to ETH's feed, cycling through `pathUsd` (whole dollars), one every
 * `spacing` seconds at exact block times, and pokes `breaker` one second after each.
 */
export async function runOscillation(
  w: World,
  breaker: CircuitBreaker,
  time: { latest(): Promise<number>; setNextBlockTimestamp(t: bigint): Promise<void> },
  pathUsd: bigint[],
  rounds: number,
  spacing: bigint,
): Promise<LevelPath> {
  const feed = w.feeds.get(0);
  if (!feed) throw new Error("no ETH feed");
  const levels: number[] = [];
  let changes = 0;
  let t = BigInt(await time.latest()) + 10n;
  for (let i = 0; i < rounds; i++) {
    await time.setNextBlockTimestamp(t);
    await feed.updateAnswer(pathUsd[i % pathUsd.length] * 10n ** 8n);
    await time.setNextBlockTimestamp(t + 1n);
    changes += levelChanges(breaker, await (await breaker.poke(0)).wait()).length;
    levels.push(await levelOf(breaker, 0));
    t += spacing;
  }
  return { levels, changes };
}
