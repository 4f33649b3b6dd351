#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds autoprov and runs it on the shipped example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target autoprov
bin=build/release/app/autoprov
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
"$bin" --state-dir "$state" config load examples/bootstrap.ini
echo "--- running configuration (ini) ---"
"$bin" --state-dir "$state" config show
echo "--- running configuration (CLI) ---"
"$bin" --state-dir "$state" config show --format cli
