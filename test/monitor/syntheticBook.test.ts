/**
 * The synthetic book's source (`SyntheticSource`, the dashboard's browser test and the demo without a node)
 * forecasts on the reference market's rounds by the service's own rule (chain.ts `referenceMarket`: the largest
 * sigma, then the most open interest), as `ChainSource` and the backtest do, not on its first market's.
 */
import { expect } from "chai";

import { DEFAULT_MARKETS } from "../../deploy/params.js";
import { referenceMarket } from "../../scripts/monitor/chain.js";
import { forecast } from "../../scripts/monitor/forecast.js";
import { SyntheticSource } from "../../scripts/monitor/syntheticBook.js";

describe("Risk monitor: the synthetic book's reference market", function () {
  it("a two-market book whose first market is not the reference forecasts on the reference's rounds", async function () {
    const eth = DEFAULT_MARKETS.find((m) => m.symbol === "ETH")!;
    const btc = DEFAULT_MARKETS.find((m) => m.symbol === "BTC")!;
    expect(eth.initialSigma > btc.initialSigma, "the test needs ETH's sigma above BTC's").to.equal(true);
    // BTC first: the first market is not the reference (ETH has the larger sigma)
    const src = new SyntheticSource(200, 5, [btc, eth]);
    await src.newRounds();
    const state = await src.read();
    expect(state.markets[0].symbol).to.equal("BTC");
    const ref = referenceMarket(state);
    expect(ref).to.equal(eth.id);
    const refState = state.markets.find((m) => m.id === ref)!;
    const history = src.referenceHistory(state);
    expect(history.length).to.equal(1_441); // a day of minutes before the first read, and one round
    // the last round is the reference's price now (ETH's, about $2,000), not the first market's (BTC's, $30,000)
    const last = history[history.length - 1].price;
    const now = Number(refState.snapshot.price) / 1e18;
    expect(Math.abs(last - now)).to.be.at.most(1e-9 * now);
    for (const p of history) expect(p.price).to.be.below(3_000);

    // the same reference whichever order the markets come in: the default order's source serves the same rounds
    const defaultOrder = new SyntheticSource(200, 5);
    await defaultOrder.newRounds();
    const defaultState = await defaultOrder.read();
    expect(defaultState.markets[0].symbol).to.equal("ETH");
    expect(defaultOrder.referenceHistory(defaultState)).to.deep.equal(history);

    // and the forecast reads it: its historic part has the day's windows (none with no history)
    const withHistory = forecast(state, history).forecast;
    const without = forecast(state, []).forecast;
    expect(withHistory.worst.probability1h >= 0 && withHistory.worst.probability1h <= 1).to.equal(true);
    expect(withHistory.down.horizons.some((h) => h.historic !== undefined)).to.equal(true);
    expect(without.down.horizons.every((h) => h.historic === undefined)).to.equal(true);
  });
});
