#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds and runs the whole test suite: the dev build, the same tests under
# AddressSanitizer + UBSan, the benchmarks briefly, and the fuzzers over their smoke corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
jobs=$(nproc)

# Each stage says how long it took.
stage_start=$SECONDS
stage() {
  [ -z "${stage_name:-}" ] || echo "== $stage_name: $((SECONDS - stage_start)) s"
  stage_name=$1
  stage_start=$SECONDS
  echo "== $1"
}

stage "format check (.clang-format, 100 columns)"
bash scripts/format.sh --check

stage "dev build and tests"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs"
ctest --preset dev -j "$jobs" -LE package

stage "Debian package and systemd unit (nspawn)"
ctest --preset dev -L package --output-on-failure

stage "asan build and tests"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset asan -j "$jobs" -LE "bench|package|static"

stage "fuzz smoke"
cmake --preset fuzz >/dev/null
fuzzers=(ini cli sip dhcp cms)
cmake --build --preset fuzz -j "$jobs" --target "${fuzzers[@]/%/_fuzz}"
for target in "${fuzzers[@]}"; do
  work=$(mktemp -d)
  build/fuzz/fuzz/${target}_fuzz -max_total_time=10 -print_final_stats=0 "$work" "fuzz/corpus/$target" 2>&1 | tail -n 1
  rm -rf "$work"
done
stage "done"
echo "all test stages passed in $SECONDS s"
