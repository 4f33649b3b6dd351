#!/usr/bin/env bash
# The daemon at rest after work: RUNS manual runs through the control socket (each one an agent process
# fetching an ini file from nginx on loopback), then resident memory (private and file-backed) and CPU time
# over SECONDS of idling, with a daily trigger configured (nothing due) and the SIP listener open.
#   bench/daemon_idle.sh [SECONDS=60] [BUILD_DIR=build/release] [RUNS=100] [MAX_RSS_MIB=]
# With MAX_RSS_MIB the script fails when the idle RSS is above it (the target is 6 MiB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-60}
build=${2:-$here/../build/release}
runs=${3:-100}
max_rss=${4:-}
source "$here/lib.sh"
work=$(mktemp -d /tmp/autoprov-idle-XXXXXX)
chmod 755 "$work"
bin=$build/app/autoprov
port=$(free_port)
sip_port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/root"
printf "INIFileVersion = 'idle'\nSetDefaultOnINIFileProcess = 0\n" > "$work/root/dev.ini"
start_nginx "$work" "$work/root" "$port"
st="$work/st"
"$bin" --state-dir "$st" config set AutoUpdatePredefinedTime 03:00 >/dev/null
"$bin" --state-dir "$st" config set EnableSIPRemoteReset 1 >/dev/null
"$bin" --state-dir "$st" config set IniFileURL "http://127.0.0.1:$port/dev.ini" >/dev/null
"$bin" daemon --state-dir "$st" --sip-listen "127.0.0.1:$sip_port" --mac 00908F0000CC > "$work/daemon.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -S "$st/control.sock" ] && break; sleep 0.05; done
t0=$(date +%s.%N)
for i in $(seq "$runs"); do
  "$bin" --state-dir "$st" trigger --json > "$work/run.json" || { echo "run $i failed"; cat "$work/run.json"; exit 1; }
done
t1=$(date +%s.%N)
outcome=$(python3 -c "import json; print(json.load(open('$work/run.json'))['steps'][0]['outcome'])")
awk -v n="$runs" -v a="$t0" -v b="$t1" -v o="$outcome" \
  'BEGIN { printf "%d runs through the daemon in %.1f s (%.0f ms each; last step: %s)\n", n, b - a, 1000 * (b - a) / n, o }'
sleep 1
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
sleep "$seconds"
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
tck=$(getconf CLK_TCK)
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
awk -v f="/proc/$pid/status" 'BEGIN {
  while ((getline line < f) > 0) { split(line, a, /[: \t]+/); v[a[1]] = a[2] }
  printf "idle daemon: RSS %.1f MiB (private %.1f MiB, file-backed shared libraries %.1f MiB), peak %.1f MiB\n",
         v["VmRSS"] / 1024, v["RssAnon"] / 1024, v["RssFile"] / 1024, v["VmHWM"] / 1024 }'
awk -v t=$(( u1 + s1 - u0 - s0 )) -v c="$tck" -v s="$seconds" \
  'BEGIN { printf "idle daemon: CPU %.2f s over %d s (%.3f%%)\n", t / c, s, 100 * t / c / s }'
if [ -n "$max_rss" ] && [ "$rss_kib" -gt $(( max_rss * 1024 )) ]; then
  echo "idle RSS above $max_rss MiB" >&2
  exit 1
fi
