#!/usr/bin/env bash
# The arm64 cross build and its tests under emulation (not part of scripts/test.sh: it takes longer
# than the CI budget allows). Builds with the cross-arm64 preset, checks the binaries are aarch64, runs
# the tests labelled "emulated" (the library in-process against loopback servers; nginx, vsftpd and
# tftpd-hpa run natively) under qemu-aarch64-static, then the same selection natively, and compares
# the counts. With --deb, also builds the arm64 Debian package.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-cross.sh
jobs=$(nproc)
cmake --preset cross-arm64 >/dev/null
start=$SECONDS
cmake --build --preset cross-arm64 -j "$jobs"
echo "== cross build: $((SECONDS - start)) s"
file build/cross-arm64/app/autoprov | tee /dev/stderr | grep -q 'ARM aarch64' || { echo "not an aarch64 binary"; exit 1; }
file build/cross-arm64/app/autoprov-daemon | grep -q 'ARM aarch64'
start=$SECONDS
ctest --preset cross-arm64 -j "$jobs" | tee build/cross-arm64/emulated.log | tail -n 4
emulated=$(grep -oE 'tests passed, 0 tests failed out of [0-9]+' build/cross-arm64/emulated.log | grep -oE '[0-9]+$' || echo 0)
echo "== arm64 tests under qemu: $emulated in $((SECONDS - start)) s"
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs" >/dev/null
start=$SECONDS
native=$(ctest --preset dev -L emulated -j "$jobs" | grep -oE 'tests passed, 0 tests failed out of [0-9]+' | grep -oE '[0-9]+$' || echo 0)
echo "== the same selection natively: $native in $((SECONDS - start)) s"
[ "$emulated" -gt 0 ] && [ "$emulated" -eq "$native" ] || { echo "counts differ: $emulated vs $native"; exit 1; }
if [ "${1:-}" = "--deb" ]; then
  bash scripts/build-deb.sh build/deb-arm64 --arch arm64
fi
echo "arm64: $emulated tests pass under emulation, as natively"
