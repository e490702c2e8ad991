/**
 * The backstop vault in a replay: deployed and capitalised at setup when the preset enables it
 * (`backstop.enabled`, the `protected` preset), its events folded into the run (a takeover moves no
 * price; an unwind is a sale and moves the impact model like a liquidated leg), and its inventory,
 * PnL and drawdown recorded per step.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { Interface } from "ethers";

import { WAD } from "../lib/math/index.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { IOwnImpactMark__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IOwnImpactMark__factory.js";
import { BackstopVault__factory } from "../../types/ethers-contracts/factories/contracts/backstop/BackstopVault.sol/BackstopVault__factory.js";
import type { BackstopVault } from "../../types/ethers-contracts/contracts/backstop/BackstopVault.sol/BackstopVault.js";
import type { Chain } from "./chain.js";
import { chainRunner, type ReplayContracts } from "./contracts.js";
import type { RunPlan } from "./plan.js";
import { USDC_UNIT } from "./population.js";
import { type ResolvedParams, structOverrides } from "./presets.js";
import type { RunState } from "./state.js";

const SCALE = 10n ** 12n;
const MAX_UINT = 2n ** 256n - 1n;

/**
 * The backstop's parameters when a preset enables it and says nothing else (decimals as strings). The
 * anchors beside them are in docs/architecture.md ("Backstop vault").
 */
export const BACKSTOP_DEFAULTS = {
  feeRate: "0.005",
  accountShare: "0.5",
  marketShare: "5",
  refSigma: "0.8",
  depthShare: "0.2",
  totalShare: "5",
  maxDrawdown: "0.15",
  drawdownWindow: 8 * 3600,
  impactBudget: "0.003",
  flowHalfLife: 600,
  maxHold: 2 * 3600,
  lateMultiplier: "2",
  // deleveraging from 2% of drawdown, the vault's payment of bad debt bounded apart at 5% (docs/architecture.md,
  // "Deleveraging past a trigger"; the rule before, 5% both: docs/params/adl5.json)
  adlDrawdown: "0.02",
  badDebtDrawdown: "0.05",
} as const;

export const BACKSTOP_INT_FIELDS = ["drawdownWindow", "flowHalfLife", "maxHold"] as const;

/** What a run with the vault keeps about it. */
export type BackstopRun = {
  vault: string;
  accountId: bigint;
  /** assets deposited at setup (WAD) */
  capital: bigint;
  /** highest share price seen (WAD): the drawdown's reference */
  peakSharePrice: bigint;
  takeovers: number;
  takenOverNotional: bigint;
  unwinds: number;
  unwoundNotional: bigint;
  /** closes of the vault's inventory against traders' opposite positions past its trigger (no sale) */
  deleveraged: number;
  deleveragedNotional: bigint;
  /** the config as set on chain (decimal strings) */
  config: Record<string, string>;
};

/** Per step, when the run has the vault. */
export type BackstopStep = {
  /** signed size per market (WAD) */
  inventory: string[];
  /** open notional at the oracle (WAD) */
  notional: string;
  /** equity at the oracle (WAD) */
  equity: string;
  /** equity less the capital deposited (WAD): fees earned plus the inventory's PnL */
  pnl: string;
  /** 1 - share price / highest share price so far (WAD) */
  drawdown: string;
};

/** Deploys, configures and capitalises the vault; undefined when the preset leaves it off. */
export async function setUpBackstop(
  ethers: HardhatEthers,
  chain: Chain,
  c: ReplayContracts,
  roles: { admin: string; governor: string; lp: string },
  params: ResolvedParams,
  plan: RunPlan,
  must: (from: string, tx: Promise<{ to?: string | null; data?: string }>, what: string) => Promise<unknown>,
): Promise<BackstopRun | undefined> {
  if (!params.backstop.enabled) return undefined;
  const engine = await c.engine.getAddress();
  const factory = await ethers.getContractFactory("BackstopVault");
  const tx = await factory.getDeployTransaction(await c.usdc.getAddress(), engine, roles.admin, roles.governor);
  const vault = await chain.deploy(roles.admin, tx.data, 8_000_000);
  const bv = BackstopVault__factory.connect(vault, chainRunner(chain));
  const bs = IBackstopEngine__factory.connect(engine, chainRunner(chain));
  const accountId = await bv.accountId();
  const struct = structOverrides({ ...BACKSTOP_DEFAULTS, ...params.backstop.config }, BACKSTOP_INT_FIELDS);
  type Config = Parameters<typeof bs.setBackstopConfig.populateTransaction>[0];
  await must(
    roles.governor,
    bs.setBackstopConfig.populateTransaction(struct as unknown as Config),
    "setBackstopConfig",
  );
  await must(roles.governor, bs.setBackstopVault.populateTransaction(vault, accountId), "setBackstopVault");
  if (params.backstop.ownImpactMark) {
    const mark = IOwnImpactMark__factory.connect(engine, chainRunner(chain));
    await must(roles.governor, mark.setOwnImpactMark.populateTransaction(true), "setOwnImpactMark");
  }
  const wantedTotal = plan.markets.reduce((a, m) => a + m.wanted, 0n);
  const milli = BigInt(Math.round(params.backstop.capitalToNotional * 1e6));
  const amount = ((wantedTotal * milli) / 1_000_000n / SCALE / USDC_UNIT) * USDC_UNIT;
  if (amount > 0n) {
    await must(roles.admin, c.usdc.mint.populateTransaction(roles.lp, amount), "mint");
    await must(roles.lp, c.usdc.approve.populateTransaction(vault, MAX_UINT), "approve");
    await must(roles.lp, bv.deposit.populateTransaction(amount, roles.lp), "backstop deposit");
  }
  const read = await bs.backstopConfig();
  const config = Object.fromEntries(
    Object.keys(BACKSTOP_DEFAULTS).map((k) => [k, String(read[k as keyof typeof read])]),
  );
  return {
    vault,
    accountId,
    capital: amount * SCALE,
    peakSharePrice: await bv.sharePrice(),
    takeovers: 0,
    takenOverNotional: 0n,
    unwinds: 0,
    unwoundNotional: 0n,
    deleveraged: 0,
    deleveragedNotional: 0n,
    config,
  };
}

let iface: Interface | undefined;

/**
 * One engine log the liquidation engine's interface does not know: a backstop event, folded into the
 * run. Returns the notional the protocol sold (an unwind), 0 for anything else.
 */
export function backstopLog(run: RunState, log: { topics: string[]; data: string }, touched: Set<bigint>): bigint {
  iface ??= IBackstopEngine__factory.createInterface() as unknown as Interface;
  const parsed = iface.parseLog(log);
  const b = run.backstop;
  if (!parsed || !b) return 0n;
  const a = parsed.args;
  if (parsed.name === "PositionTakenOver") {
    // no price moves; the book follows the PositionModified events of both accounts
    touched.add(a.accountId as bigint);
    const size = a.size as bigint;
    b.takenOverNotional += ((size < 0n ? -size : size) * (a.price as bigint)) / WAD;
  } else if (parsed.name === "AccountTakenOver") {
    const id = a.accountId as bigint;
    b.takeovers++;
    run.record.liquidated.add(id);
    run.record.counters.keeperRewards += a.keeperWad as bigint;
    if ((a.marginLeftWad as bigint) === 0n) run.record.wipedOut.add(id);
  } else if (parsed.name === "BackstopBadDebtPaid") {
    // what the insurance fund could not cover of a takeover's bad debt, paid by the vault (kept apart from the fund's)
    run.record.counters.badDebtPaidByVault += a.amountWad as bigint;
  } else if (parsed.name === "BackstopBacked") {
    // the insurance fund's payment to the vault past its loss budget: the fund's loss, kept apart from bad debt
    run.record.counters.vaultBackedByInsurance += a.paidWad as bigint;
  } else if (parsed.name === "BackstopUnwound") {
    // a sale like a liquidated leg: the impact model takes it
    run.impact.addTrade(Number(a.marketId), a.sizeDelta as bigint, a.price as bigint);
    b.unwinds++;
    b.unwoundNotional += a.notional as bigint;
    return a.notional as bigint;
  }
  return 0n;
}

/** Each run's vault contract, built at its first step (building one parses the ABI). */
const vaults = new WeakMap<BackstopRun, BackstopVault>();

/** The vault's book after a step. */
export async function backstopStep(run: RunState): Promise<BackstopStep | undefined> {
  const b = run.backstop;
  if (!b) return undefined;
  const bv = vaults.get(b) ?? vaults.set(b, BackstopVault__factory.connect(b.vault, chainRunner(run.chain))).get(b)!;
  const [s, price] = await Promise.all([run.c.engine.liquidationSnapshot(b.accountId), bv.sharePrice()]);
  if (price > b.peakSharePrice) b.peakSharePrice = price;
  const sizes = run.markets.map((m) => {
    const p = s.positions.find((q: { marketId: bigint }) => Number(q.marketId) === m.id);
    return p ? p.size : 0n;
  });
  const equity = s.summary.equity;
  return {
    inventory: sizes.map(String),
    notional: s.summary.notional.toString(),
    equity: equity.toString(),
    pnl: (equity - b.capital).toString(),
    drawdown: (b.peakSharePrice === 0n ? 0n : WAD - (price * WAD) / b.peakSharePrice).toString(),
  };
}

/** The run's backstop figures for the report's stats. */
export function backstopStats(run: RunState): Record<string, number | string> {
  const b = run.backstop;
  if (!b) return {};
  return {
    backstopCapital: b.capital.toString(),
    backstopTakeovers: b.takeovers,
    backstopTakenOverNotional: b.takenOverNotional.toString(),
    backstopUnwinds: b.unwinds,
    backstopUnwoundNotional: b.unwoundNotional.toString(),
    backstopDeleveraged: b.deleveraged,
    backstopDeleveragedNotional: b.deleveragedNotional.toString(),
    backstopConfig: JSON.stringify(b.config),
  };
}
