import type { HardhatEthers, HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";

import { WAD } from "../../deploy/params.js";
import type { BackstopVault } from "../../types/ethers-contracts/contracts/backstop/BackstopVault.sol/BackstopVault.js";
import type { IBackstopEngine } from "../../types/ethers-contracts/contracts/interfaces/IBackstop.sol/IBackstopEngine.js";
import { IBackstopEngine__factory } from "../../types/ethers-contracts/factories/contracts/interfaces/IBackstop.sol/IBackstopEngine__factory.js";
import { USDC, type World } from "./fixture.js";

export type BackstopConfig = Parameters<IBackstopEngine["setBackstopConfig"]>[0];

/** The backstop tests' configuration: caps, breaker, unwind and ADL trigger as the tests assume them. */
export const BACKSTOP_TEST_CONFIG = {
  feeRate: WAD / 100n, // 1% of the notional taken over
  accountShare: WAD / 2n,
  marketShare: 5n * WAD,
  refSigma: (8n * WAD) / 10n,
  depthShare: WAD / 5n,
  totalShare: 10n * WAD,
  maxDrawdown: (75n * WAD) / 1000n, // Binance's 7.5%
  drawdownWindow: 8 * 3600,
  impactBudget: WAD / 10_000n, // 0.01% of depth: $200k on the default ETH market
  flowHalfLife: 600,
  maxHold: 3600,
  lateMultiplier: 4n * WAD,
  adlDrawdown: 0n, // off but where a test turns it on
  badDebtDrawdown: (75n * WAD) / 1000n, // the vault pays bad debt up to its whole budget but where a test bounds it
} satisfies BackstopConfig;

export type Backstop = { bv: BackstopVault; bs: IBackstopEngine; vaultAccount: bigint };

/**
 * Deploys a backstop vault beside `w`'s protocol, configures the backstop (as the governor) and has
 * `depositor` (default the LP) put `capitalUsdc` (whole USDC) into it.
 */
export async function attachBackstopVault(
  ethers: HardhatEthers,
  w: World,
  config: BackstopConfig,
  capitalUsdc: bigint,
  depositor: HardhatEthersSigner = w.lp,
): Promise<Backstop> {
  const bv = (await ethers.deployContract("BackstopVault", [
    await w.usdc.getAddress(),
    await w.engine.getAddress(),
    w.admin.address,
    w.governor.address,
  ])) as unknown as BackstopVault;
  const bs = IBackstopEngine__factory.connect(await w.engine.getAddress(), w.governor);
  const vaultAccount = await bv.accountId();
  await bs.setBackstopConfig(config);
  await bs.setBackstopVault(await bv.getAddress(), vaultAccount);
  await w.usdc.connect(depositor).approve(await bv.getAddress(), 2n ** 256n - 1n);
  await bv.connect(depositor).deposit(capitalUsdc * USDC, depositor.address);
  return { bv, bs, vaultAccount };
}

/**
 * One more oracle round `seconds` later at the same answer: the last round's move is nil, so the backstop's
 * carry (IAutoDeleveraging.backstopExcess) is set by the oracle's volatility estimate alone, not by the move
 * that brought the takeover.
 */
export async function calmRound(
  w: World,
  marketId: number,
  time: { increase(seconds: number): Promise<unknown> },
  seconds = 60,
): Promise<void> {
  const feed = w.feeds.get(marketId);
  if (!feed) throw new Error(`no feed for market ${marketId}`);
  const [, answer] = await feed.latestRoundData();
  await time.increase(seconds);
  await feed.updateAnswer(answer);
}
