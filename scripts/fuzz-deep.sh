#!/usr/bin/env bash
# The deep fuzzing campaign, outside CI: every Solidity fuzz test and invariant with FUZZ_RUNS /
# INVARIANT_RUNS runs (default 10,000 each, invariant depth 40), then the TypeScript properties with
# their run counts raised. Prints the time of each part; the per-test figures are Hardhat's own output.
# Usage: bash scripts/fuzz-deep.sh [extra `hardhat test solidity` arguments, e.g. a test file]
set -euo pipefail
cd "$(dirname "$0")/.."
export HARDHAT_DISABLE_TELEMETRY=true
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/setup.sh

export FUZZ_RUNS="${FUZZ_RUNS:-10000}"
export INVARIANT_RUNS="${INVARIANT_RUNS:-10000}"
export INVARIANT_DEPTH="${INVARIANT_DEPTH:-40}"
export LP_PROPERTY_RUNS="${LP_PROPERTY_RUNS:-2000}"
echo "[fuzz:deep] fuzz runs $FUZZ_RUNS, invariant runs $INVARIANT_RUNS x depth $INVARIANT_DEPTH, LP property runs $LP_PROPERTY_RUNS"

# A fresh compile first: `hardhat test solidity` alone can run against a handler's stale artifact
# (a new or renamed action then fails with "does not have the selector").
hardhat compile
echo "[fuzz:deep] suites: $(cd test/solidity && ls -- *.t.sol | tr '\n' ' ')"

start=$SECONDS
hardhat test solidity "$@"
echo "[fuzz:deep] Solidity fuzz and invariants took $((SECONDS - start)) s"

start=$SECONDS
hardhat test mocha test/vault/lpBookValue.test.ts
echo "[fuzz:deep] TypeScript properties took $((SECONDS - start)) s"
