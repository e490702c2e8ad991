import { createRequire } from "node:module";

import hardhatToolboxMochaEthersPlugin from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { configVariable, defineConfig } from "hardhat/config";
import type { HardhatPlugin } from "hardhat/types/plugins";

// Offline compilation: Hardhat never downloads a compiler whose profile has a
// `path`, so point it at the solcjs (WASM) build of the `solc` npm package.
const require = createRequire(import.meta.url);
const SOLC_VERSION: string = require("solc/package.json").version;
const SOLC_PATH = require.resolve("solc/soljson.js");

const optimized = {
  version: SOLC_VERSION,
  path: SOLC_PATH,
  settings: { optimizer: { enabled: true, runs: 1000 }, evmVersion: "prague" },
};

/** A positive integer from the environment, or the default; anything else is a configuration error. */
function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

// solc warns about every use of transient storage. OpenZeppelin's ReentrancyGuardTransient uses it
// exactly as the warning recommends (cleared at the end of the call), so hide that one warning for
// that one library file and keep every other warning visible.
const quietTransientSlotWarning: HardhatPlugin = {
  id: "local:quiet-transient-slot-warning",
  hookHandlers: {
    solidity: async () => ({
      default: async () => ({
        getCompilationJobErrors: async (context, job, output, next) => {
          const errors = await next(context, job, output);
          return errors.filter(
            (e) =>
              !(
                e.severity === "warning" &&
                e.message.startsWith("Transient storage as defined by EIP-1153") &&
                e.formattedMessage?.includes("@openzeppelin/contracts/utils/TransientSlot.sol") === true
              ),
          );
        },
      }),
    }),
  },
};

export default defineConfig({
  plugins: [hardhatToolboxMochaEthersPlugin, quietTransientSlotWarning],
  test: {
    // CI's campaign; `npm run fuzz:deep` (scripts/fuzz-deep.sh) raises these through the environment.
    solidity: {
      fuzz: { runs: envInt("FUZZ_RUNS", 256) },
      invariant: { runs: envInt("INVARIANT_RUNS", 64), depth: envInt("INVARIANT_DEPTH", 40) },
    },
    mocha: { timeout: 120_000 },
  },
  // Forking a local `hardhat node` (chain 31337) needs its hardfork history.
  chainDescriptors: {
    31337: {
      name: "Local Hardhat node",
      chainType: "l1",
      hardforkHistory: { osaka: { blockNumber: 0 } },
    },
  },
  networks: {
    // LOCAL_PORT: a node on another port of 127.0.0.1 (`npx hardhat node --port <n>`), e.g. beside other nodes
    localhost: { type: "http", url: `http://127.0.0.1:${envInt("LOCAL_PORT", 8545)}` },
    // Test network: keys from the keystore (`npx hardhat keystore set SEPOLIA_PRIVATE_KEY`) or the
    // environment, never from the repo.
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
    // A hardhat node on any port, for tests that start their own (test/deploy/deploy.test.ts).
    localTest: { type: "http", url: configVariable("LOCAL_TEST_URL") },
  },
  solidity: {
    npmFilesToBuild: ["@chainlink/contracts/src/v0.8/shared/mocks/MockV3Aggregator.sol"],
    // Gas figures are only meaningful with the optimizer on, so the default
    // profile is the one that ships (no viaIR: solcjs is single-threaded and
    // viaIR doubles compile time).
    profiles: { default: optimized, production: optimized },
  },
});
