/**
 * Pushes a new round to a market's mock Chainlink feed of a local deployment, updates the oracle's
 * volatility estimate from it, and counts the accounts that became liquidatable.
 *
 *   MARKET=ETH PRICE=1500 npx hardhat run scripts/local/move-price.ts --network localhost   (npm run local:price)
 *
 * PRICE is in dollars (decimals allowed, up to the feed's); MARKET defaults to ETH. Reads the
 * deployment record of the network (DEPLOYMENTS_DIR overrides its folder).
 */
import { parseUnits } from "ethers";

import { UsageError, connectLocal, fmt, market, run } from "./common.js";

await run(async () => {
  const symbol = (process.env.MARKET ?? "ETH").toUpperCase();
  const priceText = process.env.PRICE;
  if (priceText === undefined || !/^\d+(\.\d+)?$/.test(priceText) || Number(priceText) <= 0) {
    throw new UsageError(`PRICE must be a positive number of dollars, e.g. PRICE=1500 (got ${priceText ?? "nothing"})`);
  }
  const local = await connectLocal();
  const { engine, oracle, record } = local;
  const m = market(record, symbol);
  const feed = await local.feed(m.symbol);
  const decimals = Number(await feed.decimals());
  let answer: bigint;
  try {
    answer = parseUnits(priceText, decimals);
  } catch {
    throw new UsageError(`PRICE ${priceText} has more decimals than the ${m.symbol} feed's ${decimals}`);
  }

  const [before] = await oracle.latestPrice(m.feedId);
  await (await feed.updateAnswer(answer)).wait();
  await (await oracle.updateVolatility(m.feedId, 64)).wait();
  const [after] = await oracle.latestPrice(m.feedId);
  const sigma = await oracle.volatility(m.feedId);

  let liquidatable = 0;
  let unknown = 0;
  const accounts = Number(await engine.nextAccountId()) - 1;
  for (let id = 1; id <= accounts; id++) {
    try {
      if (await engine.isLiquidatable(id)) liquidatable++;
    } catch {
      unknown++; // another market's feed is stale: the engine refuses to judge
    }
  }
  console.log(
    `${m.symbol}: ${fmt(before)} -> ${fmt(after)} USD (round ${(await feed.latestRound()) & 0xffffffffffffffffn}), ` +
      `volatility ${fmt(sigma * 100n, 1)}% a year (the oracle's EWMA estimate); ` +
      `${liquidatable} of ${accounts} accounts liquidatable` +
      (unknown > 0 ? ` (${unknown} not judged: a stale feed)` : ""),
  );
});
