#!/usr/bin/env bash
# The main job, from a fresh clone: installs if needed, then runs the end-to-end demo on the
# in-process network. Usage: bash scripts/main.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export HARDHAT_DISABLE_TELEMETRY=true
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/setup.sh
hardhat run scripts/demo.ts
