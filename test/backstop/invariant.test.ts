/**
 * Backstop invariants under random sequences of a handler's actions (fast-check over the deployed
 * protocol): traders open, the price moves, the keeper liquidates (backstops go to the vault), anyone
 * unwinds, time passes. After every action:
 *  - open interest per side equals the sum of every account's positions on that side (the vault's
 *    account included): a takeover moves interest, it never creates or loses any;
 *  - a liquidation that took an account over left the market's skew exactly where it was (no sale);
 *  - the vault's account is never left below maintenance by a takeover;
 *  - bad debt incurred equals covered + socialised + pending.
 */
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";

import { WAD } from "../../deploy/params.js";
import { ETH, MAX_PRICE, USDC, deployWorld, openAccount, setPriceWad } from "../helpers/fixture.js";
import { BACKSTOP_TEST_CONFIG, attachBackstopVault } from "../helpers/backstop.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;
const MAX_UINT = 2n ** 256n - 1n;

async function world() {
  const w = await deployWorld(ethers);
  for (const s of [w.alice, w.bob, w.carol]) {
    await w.usdc.mint(s.address, 100_000_000n * USDC);
    await w.usdc.connect(s).approve(await w.vault.getAddress(), MAX_UINT);
  }
  const backstop = await attachBackstopVault(
    ethers,
    w,
    { ...BACKSTOP_TEST_CONFIG, feeRate: WAD / 200n, totalShare: 5n * WAD, maxDrawdown: (15n * WAD) / 100n },
    500_000n,
  );
  return { ...w, ...backstop };
}

type Action =
  | { kind: "open"; who: number; marginUsdc: number; size: number }
  | { kind: "move"; bps: number }
  | { kind: "liquidate" }
  | { kind: "unwind" }
  | { kind: "wait"; seconds: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { depthSize: "small" },
  fc.record({
    kind: fc.constant("open" as const),
    who: fc.integer({ min: 0, max: 2 }),
    marginUsdc: fc.integer({ min: 10_000, max: 25_000 }),
    size: fc.integer({ min: -100, max: 100 }).filter((x) => x !== 0),
  }),
  fc.record({ kind: fc.constant("move" as const), bps: fc.integer({ min: -2000, max: 2000 }) }),
  fc.constant({ kind: "liquidate" as const }),
  fc.constant({ kind: "unwind" as const }),
  fc.record({ kind: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 1800 }) }),
);

describe("Backstop invariants (random handler sequences)", function () {
  this.timeout(600_000);

  it("keeps open interest conserved, skew unchanged by takeovers, the vault above maintenance, the bad-debt ledger balanced", async function () {
    const seen = { takeovers: 0, unwinds: 0, liquidations: 0, opened: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 6, maxLength: 16 }), async (actions) => {
        const w = await loadFixture(world);
        if (process.env.BK_DEBUG) console.log(actions.map((a) => a.kind).join(","));
        const traders = [w.alice, w.bob, w.carol];
        const accounts: bigint[] = [];
        let price = (await w.engine.positionView(w.vaultAccount, ETH)).indexPrice;
        for (const a of actions) {
          if (a.kind === "open") {
            const id = await openAccount(w, traders[a.who], BigInt(a.marginUsdc) * USDC);
            const size = BigInt(a.size) * WAD;
            // the engine may refuse (initial margin, caps): a refused open changes nothing
            if (
              await w.engine
                .connect(traders[a.who])
                .modifyPosition(id, ETH, size, size > 0n ? MAX_PRICE : 0n)
                .then(
                  () => true,
                  () => false,
                )
            )
              seen.opened++;
            accounts.push(id);
          } else if (a.kind === "move") {
            price = (price * BigInt(10_000 + a.bps)) / 10_000n;
            await setPriceWad(w, ETH, (price / 10n ** 10n) * 10n ** 10n);
          } else if (a.kind === "wait") {
            await time.increase(a.seconds);
            await setPriceWad(w, ETH, (price / 10n ** 10n) * 10n ** 10n);
          }
          // the keeper acts after every action: liquidations first, then the vault's unwind
          if (a.kind !== "unwind") {
            for (const id of accounts) {
              const before = await w.engine.marketState(ETH);
              const rc = await (
                await w.liquidationEngine.liquidate(id).catch((e: Error) => {
                  if (process.env.BK_DEBUG) console.log(String(e.message).slice(0, 200));
                  return undefined;
                })
              )?.wait();
              if (!rc) continue;
              seen.liquidations++;
              const taken = rc.logs.some((l) => {
                try {
                  return w.bs.interface.parseLog(l)?.name === "AccountTakenOver";
                } catch {
                  return false;
                }
              });
              if (taken) {
                seen.takeovers++;
                const after = await w.engine.marketState(ETH);
                expect(after.longOpenInterest - after.shortOpenInterest, "skew after a takeover").to.equal(
                  before.longOpenInterest - before.shortOpenInterest,
                );
                const vs = await w.engine.liquidationSnapshot(w.vaultAccount);
                expect(vs.summary.equity >= BigInt(vs.summary.maintenanceMargin), "vault above maintenance").to.equal(
                  true,
                );
              }
            }
          }
          if (
            await w.bs.unwind(ETH).then(
              () => true,
              () => false,
            )
          )
            seen.unwinds++;
          // open interest per side is the sum of every position on that side, the vault's included
          let long = 0n;
          let short = 0n;
          for (const id of [...accounts, w.vaultAccount]) {
            const size = (await w.engine.position(id, ETH)).size;
            if (size > 0n) long += size;
            else short -= size;
          }
          const st = await w.engine.marketState(ETH);
          expect(st.longOpenInterest, "long open interest").to.equal(long);
          expect(st.shortOpenInterest, "short open interest").to.equal(short);
          const le = w.liquidationEngine;
          expect(await le.badDebtIncurred()).to.equal(
            (await le.badDebtCovered()) + (await le.badDebtSocialised()) + (await le.badDebtPending()),
          );
        }
      }),
      { numRuns: Number(process.env.BACKSTOP_FC_RUNS ?? 25), seed: Number(process.env.FC_SEED ?? 20261204) },
    );
    console.log(
      `      opened ${seen.opened}, liquidations ${seen.liquidations}, takeovers ${seen.takeovers}, unwinds ${seen.unwinds} across the runs`,
    );
    // the properties were exercised, not vacuous
    expect(seen.takeovers).to.be.greaterThan(0);
    expect(seen.unwinds).to.be.greaterThan(0);
  });
});
