#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs, lints, type-checks, compiles and runs every
# Solidity (unit, fuzz, invariant) and mocha test. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export HARDHAT_DISABLE_TELEMETRY=true
export PATH="$PWD/node_modules/.bin:$PATH"

bash scripts/setup.sh

t() { local s=$SECONDS; echo "::: $*"; "$@"; echo "::: $* took $((SECONDS - s)) s"; }

t solhint --max-warnings 0 'contracts/**/*.sol'
t prettier --check 'contracts/**/*.sol' '**/*.ts' '*.md' 'docs/**/*.md'
t hardhat compile
t tsc --noEmit -p .
t hardhat test
