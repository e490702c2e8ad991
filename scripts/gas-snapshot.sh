#!/usr/bin/env bash
# Regenerates gas-snapshot.txt: the gas scenarios (test/gas/scenarios.test.ts) with --gas-stats: deposit,
# trades, orders, the breaker, liquidations and deleverageBackstop (one candidate and five), from receipts.
# Commit the result; a diff in review shows what a change costs.
set -euo pipefail
cd "$(dirname "$0")/.."
export HARDHAT_DISABLE_TELEMETRY=true
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/setup.sh
{
  echo "# gas snapshot: hardhat test mocha test/gas/scenarios.test.ts --gas-stats"
  echo "# solc $(node -p 'require("solc/package.json").version'), optimizer runs 1000"
  hardhat test mocha test/gas/scenarios.test.ts --gas-stats 2>&1 | grep -v "nodedir" | sed -n '/gas used/,$p'
} > gas-snapshot.txt
cat gas-snapshot.txt
