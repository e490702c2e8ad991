/**
 * Crash replay on a fork. With FORK_URL: mainnet forked at each target's pinned block, the real
 * Chainlink feed read over the event window and replayed. Without it (CI): a local `hardhat node`
 * holds a feed at the real feed's address with the recorded rounds of the USDC depeg under the real
 * round ids, and the test forks that node, so the same fork code path runs end to end.
 */
import { expect } from "chai";
import { network } from "hardhat";
import { fileURLToPath } from "node:url";

import type { MockAggregator } from "../../types/ethers-contracts/index.js";
import {
  FORK_TARGETS,
  forkTarget,
  loadRecordedRounds,
  parseRecordedRounds,
  plantRecordedFeed,
  proxyRoundId,
  readRounds,
  recordedRoundsFile,
  replayOnFork,
  startLocalNode,
  walkRounds,
  type ForkReplayResult,
  type ForkTarget,
  type LocalNode,
  type RecordedRound,
} from "../../scripts/replay/fork/index.js";
import { WAD } from "../../scripts/lib/math/fixedPoint.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FORK_URL = process.env.FORK_URL?.trim() || undefined;
const say = (line: string) => console.log(`      ${line}`);

/**
 * Eight real rounds of the USDC/USD feed (rows of usdc-usd-2023-03-11-chainlink.csv, down to the 0.88
 * low), for a machine without the crash data. They take consecutive round ids from 855 on, which
 * the real feed gave to other rounds: the ids only match the real ones with the full file.
 */
const USDC_FALLBACK_CSV = `timestamp,price
1678341635,1
1678428059,1.00019
1678487255,0.99755917
1678501187,0.99007
1678507127,0.94594839
1678517399,0.89409863
1678521083,0.88
1678524959,0.9236
`;

function summarise(r: ForkReplayResult): string {
  const accounts = r.accounts.map((a) => `${a.leverage}x: ${a.tranches} tranche(s)`).join(", ");
  return (
    `replayed ${r.steps.length} rounds on the fork (block ${r.forkBlock}, times shifted +${r.timeShift} s): ` +
    `${r.tranches} tranches, ${(r.liquidatedNotionalWad / WAD).toString()} USDC notional; ${accounts}`
  );
}

describe("crash replay on a fork", function () {
  describe("readRounds (in-process chain)", function () {
    it("walks back across phases, an empty phase included, and keeps the window only", async function () {
      const { ethers, networkHelpers } = await network.create();
      const feed: MockAggregator = await ethers.deployContract("MockAggregator", [8, 100_000_000n, "X / USD"]);
      const t0 = (await networkHelpers.time.latest()) + 100;
      // phase 1: rounds 2..5 (round 1 is the constructor's), then phase 3: rounds 1..4; phase 2 stays empty
      for (let i = 0; i < 4; i++) await feed.pushRound(100_000_000n - BigInt(i) * 1_000_000n, t0 + i * 60);
      await feed.startPhase(3);
      for (let i = 0; i < 4; i++) await feed.pushRound(95_000_000n - BigInt(i) * 1_000_000n, t0 + 1000 + i * 60);
      const address = await feed.getAddress();

      const walk = await walkRounds(ethers.provider, address, t0 + 60, t0 + 1060);
      expect(walk.rounds.map((r) => r.roundId)).to.deep.equal([
        proxyRoundId(1, 3),
        proxyRoundId(1, 4),
        proxyRoundId(1, 5),
        proxyRoundId(3, 1),
        proxyRoundId(3, 2),
      ]);
      expect(walk.rounds.map((r) => r.priceWad)).to.deep.equal([99n, 98n, 97n, 95n, 94n].map((x) => (x * WAD) / 100n));
      expect(walk.phasesCrossed).to.equal(2);
      expect(walk.reachedWindowStart).to.equal(true);
      expect(walk.latestRoundId).to.equal(proxyRoundId(3, 4));

      const points = await readRounds(ethers.provider, address, t0 + 60, t0 + 1060);
      expect(points).to.deep.equal(walk.rounds.map((r) => ({ t: r.updatedAt, priceWad: r.priceWad })));

      // Aggregators that answer zeros for missing rounds instead of reverting read the same.
      await feed.setRevertOnMissingRound(false);
      expect(await readRounds(ethers.provider, address, t0 + 60, t0 + 1060)).to.deep.equal(points);

      // A window before the whole history ends the walk at phase 1, round 1.
      const early = await walkRounds(ethers.provider, address, 0, t0 - 50);
      expect(early.rounds).to.have.length(1); // the constructor's round, at deployment time
      expect(early.reachedWindowStart).to.equal(false);

      const bounded = await walkRounds(ethers.provider, address, 0, t0 + 5000, { maxRounds: 3 }).then(
        () => "no error",
        (e: Error) => e.message,
      );
      expect(bounded).to.match(/walked 3 rounds/);
    });

    it("parses recorded answers exactly and refuses text the feed could not have published", function () {
      const rounds = parseRecordedRounds("timestamp,price\n1,0.99755917\n2,1\n", 8);
      expect(rounds).to.deep.equal([
        { t: 1, answer: 99_755_917n, priceWad: 997_559_170_000_000_000n },
        { t: 2, answer: 100_000_000n, priceWad: WAD },
      ]);
      expect(() => parseRecordedRounds("timestamp,price\n1,0.123456789\n", 8)).to.throw(/more than 8 decimals/);
      expect(() => parseRecordedRounds("timestamp,price\n2,1\n1,1\n", 8)).to.throw(/out of time order/);
    });
  });

  if (FORK_URL) {
    describe("fork mode: FORK_URL (remote)", function () {
      this.timeout(600_000);
      before(function () {
        say(`fork mode: FORK_URL (remote): mainnet at each target's pinned block`);
      });

      for (const target of FORK_TARGETS) {
        it(`${target.event}: reads the real feed at block ${target.pinnedBlock} and replays it`, async function () {
          const fork = await network.create({
            override: { forking: { url: FORK_URL, blockNumber: target.pinnedBlock } },
          });
          try {
            const walk = await walkRounds(fork.ethers.provider, target.feed, target.window.from, target.window.to);
            say(`${target.event}: ${walk.rounds.length} rounds read in ${walk.calls} calls (${walk.description})`);
            expect(walk.rounds.length).to.be.greaterThan(0);
            expect(walk.reachedWindowStart).to.equal(true);
            compareWithRecorded(target, walk.rounds);
            const result = await replayOnFork({ ethers: fork.ethers, target, log: say });
            say(summarise(result));
            expect(result.steps).to.have.length(walk.rounds.length);
          } finally {
            await fork.close();
          }
        });
      }
    });
  } else {
    describe("fork mode: local node (no FORK_URL)", function () {
      this.timeout(120_000);
      const target = forkTarget("usdc-depeg-2023-03");
      let node: LocalNode | undefined;
      let pushed: RecordedRound[];
      let roundIds: bigint[];
      let fork: Awaited<ReturnType<typeof network.create>>;

      before(async function () {
        // FORK_TEST_WITHOUT_DATA=1 takes the path of a machine without the crash data.
        const file = process.env.FORK_TEST_WITHOUT_DATA ? undefined : recordedRoundsFile(target);
        pushed = file
          ? loadRecordedRounds(target, file)
          : parseRecordedRounds(USDC_FALLBACK_CSV, target.decimals, "fallback rounds in test/replay/fork.test.ts");
        const started = Date.now();
        node = await startLocalNode({ root: ROOT });
        say(
          `fork mode: local node (no FORK_URL): hardhat node at ${node.url} (pid ${node.pid}) holds a feed at ` +
            `${target.feed} (Chainlink USDC/USD's mainnet address) with ` +
            (file
              ? `the ${pushed.length} recorded rounds of ${target.recorded.file}`
              : `${pushed.length} rounds written in the test (${
                  process.env.FORK_TEST_WITHOUT_DATA
                    ? "FORK_TEST_WITHOUT_DATA is set"
                    : `no ${target.recorded.file} under CRASH_DATA_DIR or ../shared/data/crashes`
                })`) +
            `; the test forks that node`,
        );

        const nodeConnection = await network.create({ network: "localhost", override: { url: node.url } });
        const planted = await plantRecordedFeed(nodeConnection.ethers, {
          address: target.feed,
          decimals: target.decimals,
          description: "USDC / USD",
          phaseId: target.recorded.phaseId,
          firstAggregatorRound: target.recorded.firstAggregatorRound,
          rounds: pushed,
        });
        roundIds = planted.roundIds;
        // A round after the fork block, inside the window: a fork pinned at planted.block must not see it.
        const feed = (await nodeConnection.ethers.getContractAt(
          "MockAggregator",
          target.feed,
        )) as unknown as MockAggregator;
        await (await feed.pushRound(1n, target.window.to)).wait();
        await nodeConnection.close();

        fork = await network.create({ override: { forking: { url: node.url, blockNumber: planted.block } } });
        say(`planted ${pushed.length} rounds and forked at block ${planted.block} in ${Date.now() - started} ms`);
      });

      after(async function () {
        await fork?.close();
        await node?.stop();
      });

      it("reads back the rounds pushed, to the wei and the second, under the real round ids", async function () {
        const walk = await walkRounds(fork.ethers.provider, target.feed, target.window.from, target.window.to);
        expect(walk.rounds.map((r) => [r.updatedAt, r.priceWad])).to.deep.equal(pushed.map((r) => [r.t, r.priceWad]));
        expect(walk.rounds.map((r) => r.answer)).to.deep.equal(pushed.map((r) => r.answer));
        expect(walk.rounds.map((r) => r.roundId)).to.deep.equal(roundIds);
        expect(walk.decimals).to.equal(8);
        expect(walk.description).to.equal("USDC / USD");
        if (pushed.length === target.recorded.rounds) {
          // the real feed's ids: 36893488147419104087 .. 36893488147419104377
          expect(roundIds[0]).to.equal(36893488147419104087n);
          expect(roundIds[roundIds.length - 1]).to.equal(36893488147419104377n);
        }
        const points = await readRounds(fork.ethers.provider, target.feed, target.window.from, target.window.to);
        expect(points).to.deep.equal(pushed.map((r) => ({ t: r.t, priceWad: r.priceWad })));
        say(`read ${points.length} rounds back through the fork in ${walk.calls} calls`);
      });

      it("deploys the protocol on the fork and replays the rounds through it", async function () {
        const started = Date.now();
        const result = await replayOnFork({ ethers: fork.ethers, target });
        say(`${summarise(result)} (${Date.now() - started} ms)`);
        expect(result.rounds).to.deep.equal(pushed.map((r) => ({ t: r.t, priceWad: r.priceWad })));
        expect(result.steps).to.have.length(pushed.length);
        expect(result.minPriceWad).to.equal((88n * WAD) / 100n);
        // The adapter reads the real feed's address on the fork: its latest round is the last one read.
        expect(result.sourceFeed.matchesLastRoundRead).to.equal(true);
        expect(result.sourceFeed.latestPriceWad).to.equal(pushed[pushed.length - 1].priceWad);
        // A 12% depeg liquidates the high-leverage longs and spares the 3x one.
        expect(result.tranches).to.be.greaterThan(0);
        expect(result.accountsLiquidated).to.be.greaterThan(0);
        const byLeverage = new Map(result.accounts.map((a) => [a.leverage, a]));
        expect(byLeverage.get(30)?.tranches).to.be.greaterThan(0);
        expect(byLeverage.get(3)?.tranches).to.equal(0);
        expect(result.steps.reduce((n, s) => n + s.tranches, 0)).to.equal(result.tranches);
      });
    });
  }
});

/**
 * The rounds a real fork read against the recorded file of the same feed. The stETH file's answers went
 * through float64 in its source (about 16 significant digits), so they are compared to 1e-15.
 */
function compareWithRecorded(target: ForkTarget, read: { updatedAt: number; priceWad: bigint }[]) {
  const file = recordedRoundsFile(target);
  if (!file) {
    say(`${target.event}: no recorded file to compare with`);
    return;
  }
  const recorded = loadRecordedRounds(target, file);
  expect(read.map((r) => r.updatedAt)).to.deep.equal(recorded.map((r) => r.t));
  const exact = target.decimals <= 8;
  for (const [i, r] of recorded.entries()) {
    const diff = read[i].priceWad > r.priceWad ? read[i].priceWad - r.priceWad : r.priceWad - read[i].priceWad;
    if (exact) expect(diff, `round ${i}`).to.equal(0n);
    else expect(diff, `round ${i}`).to.be.lessThanOrEqual(r.priceWad / 10n ** 15n);
  }
  say(`${target.event}: the ${recorded.length} rounds read match ${target.recorded.file}`);
}
