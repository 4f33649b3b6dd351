#!/usr/bin/env bash
# The daemon at rest: resident memory (private and file-backed) and CPU time over SECONDS of idling, with
# a daily trigger configured (nothing due) and the SIP listener open.
#   bench/daemon_idle.sh [SECONDS=600] [BUILD_DIR=build/release]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-600}
build=${2:-$here/../build/release}
work=$(mktemp -d /tmp/autoprov-idle-XXXXXX)
bin=$build/app/autoprov
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --state-dir "$work/st" config set AutoUpdatePredefinedTime 03:00 >/dev/null
"$bin" --state-dir "$work/st" config set EnableSIPRemoteReset 1 >/dev/null
"$bin" daemon --state-dir "$work/st" --sip-listen "127.0.0.1:$port" --mac 00908F0000CC > "$work/daemon.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
sleep 3
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep "$seconds"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
tck=$(getconf CLK_TCK)
awk -v f="/proc/$pid/status" 'BEGIN {
  while ((getline line < f) > 0) { split(line, a, /[: \t]+/); v[a[1]] = a[2] }
  printf "idle daemon: RSS %.1f MiB (private %.1f MiB, file-backed shared libraries %.1f MiB), peak %.1f MiB\n",
         v["VmRSS"] / 1024, v["RssAnon"] / 1024, v["RssFile"] / 1024, v["VmHWM"] / 1024 }'
awk -v t=$(( u1 + s1 - u0 - s0 )) -v c="$tck" -v s="$seconds" \
  'BEGIN { printf "idle daemon: CPU %.2f s over %d s (%.3f%%)\n", t / c, s, 100 * t / c / s }'
