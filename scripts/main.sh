#!/usr/bin/env bash
# The main job, from a fresh clone: installs if needed, then replays every historic crash through the
# protocol on the in-process network, baseline against protected, and writes the report
# (reports/replay/index.html with charts, replay-report.json) and a summary table.
#
# Real price series are read from CRASH_DATA_DIR, or ../shared/data/crashes when it sits beside the
# repo; without either, the project's stylised scenarios run (and the report says so).
# Usage: bash scripts/main.sh [extra replay options, e.g. --event black-thursday-2020 --accounts 500]
set -euo pipefail
cd "$(dirname "$0")/.."
export HARDHAT_DISABLE_TELEMETRY=true
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/setup.sh

args=(--event all --preset both --accounts 150 --out reports/replay)
if [[ -z "${CRASH_DATA_DIR:-}" ]]; then
  if [[ -d ../shared/data/crashes ]]; then
    export CRASH_DATA_DIR="$(cd ../shared/data/crashes && pwd)"
  else
    echo "[main] no CRASH_DATA_DIR and no ../shared/data/crashes: replaying the stylised scenarios"
    args+=(--stylised)
  fi
fi
[[ -n "${CRASH_DATA_DIR:-}" ]] && echo "[main] real price series from $CRASH_DATA_DIR"
tsx scripts/replay/cli.ts "${args[@]}" "$@"
echo "[main] open reports/replay/index.html"
