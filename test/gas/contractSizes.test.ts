/**
 * Every deployed contract keeps headroom below EIP-170's 24,576 bytes: at most 21,000 bytes of
 * deployed bytecode each. Prints every contract's size (scripts/contract-sizes.ts prints the same
 * table on its own: `npx tsx scripts/contract-sizes.ts`). Test doubles and the math harness are listed
 * but not bound: they are never deployed by deploy/protocol.ts.
 */
import { expect } from "chai";
import { network } from "hardhat";

import { SIZE_BUDGET, contractSizes, formatSizes } from "../../scripts/contract-sizes.js";

// the artifacts are current: `hardhat test` compiled before running this file
await network.create();

describe("Contract sizes", function () {
  it(`keeps every deployed contract at most ${SIZE_BUDGET} bytes, and prints them all`, function () {
    const sizes = contractSizes();
    console.log("\n" + formatSizes(sizes).replace(/^/gm, "    "));
    const deployed = sizes.filter((s) => s.deployed).map((s) => s.name);
    // the contracts deploy/protocol.ts deploys are all measured
    for (const name of [
      "PerpEngine",
      "MarketAdmin",
      "LiquidationEngine",
      "LiquidationConfigurator",
      "BackstopModule",
      "OrderModule",
      "OwnImpactModule",
      "BackstopVault",
      "AutoDeleveraging",
      "LiquidationAutomation",
      "Vault",
      "InsuranceFund",
      "OracleAdapter",
      "CircuitBreaker",
      "ProtocolLens",
    ]) {
      expect(deployed, name).to.include(name);
    }
    for (const s of sizes.filter((x) => x.deployed)) {
      expect(s.bytes, `${s.name} (${s.source})`).to.be.lessThanOrEqual(SIZE_BUDGET);
    }
  });
});
