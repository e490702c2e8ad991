#!/usr/bin/env bash
# The main job, from a fresh clone: installs if needed, then replays every historic crash through the
# protocol on the in-process network, baseline against protected, and writes the report
# (reports/replay/index.html with charts, replay-report.json) and a summary table.
#
# Real price series are read from CRASH_DATA_DIR, or ../shared/data/crashes when it sits beside the
# repo; without either, the project's stylised scenarios run (and the report says so). With
# --path <file.csv...>, your own price paths run instead (timestamp,price CSV files).
# Usage: bash scripts/main.sh [extra replay options, e.g. --event black-thursday-2020 --accounts 500,
#        or --path btc-my-crash.csv]
set -euo pipefail
# --path files are named relative to where the script was called from: make them absolute first
caller="$PWD"
extra=()
own_path=false
in_path=false
for a in "$@"; do
  if [[ "$a" == --* ]]; then in_path=false; fi
  if $in_path && [[ "$a" != /* ]]; then a="$caller/$a"; fi
  if [[ "$a" == "--path" ]]; then in_path=true; own_path=true; fi
  extra+=("$a")
done
cd "$(dirname "$0")/.."
export HARDHAT_DISABLE_TELEMETRY=true
export PATH="$PWD/node_modules/.bin:$PATH"
bash scripts/setup.sh

args=(--preset both --accounts 150 --out reports/replay)
if $own_path; then
  echo "[main] replaying your price path(s)"
elif [[ -z "${CRASH_DATA_DIR:-}" ]]; then
  if [[ -d ../shared/data/crashes ]]; then
    export CRASH_DATA_DIR="$(cd ../shared/data/crashes && pwd)"
  else
    echo "[main] no CRASH_DATA_DIR and no ../shared/data/crashes: replaying the stylised scenarios"
    args+=(--stylised)
  fi
fi
if ! $own_path && [[ -n "${CRASH_DATA_DIR:-}" ]]; then echo "[main] real price series from $CRASH_DATA_DIR"; fi
tsx scripts/replay/cli.ts "${args[@]}" ${extra[@]+"${extra[@]}"}
echo "[main] open reports/replay/index.html"
