#!/usr/bin/env bash
# The daemon at rest after work: RUNS manual runs through the control socket (each one an agent process
# fetching an ini file from nginx on loopback), then resident memory (private and file-backed), CPU time
# and wake-ups (voluntary context switches of all its threads) over SECONDS of idling, with a daily
# trigger configured (nothing due), the SIP listener open and no watchdog; then how long it takes to
# stop on SIGTERM when idle, and during a download (a server that sends one byte a second).
#   bench/daemon_idle.sh [SECONDS=60] [BUILD_DIR=build/release] [RUNS=100] [MAX_RSS_MIB=] [MAX_WAKEUPS_30S=]
# With MAX_RSS_MIB the script fails when the idle RSS is above it (the target is 6 MiB); with
# MAX_WAKEUPS_30S when the daemon wakes more often than that in 30 s (the target is 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-60}
build=${2:-$here/../build/release}
runs=${3:-100}
max_rss=${4:-}
max_wakeups=${5:-}
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
slow_pid=
cleanup() {
  set +e
  kill "$pid" $slow_pid "$NGINX_PID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
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
# Wake-ups: the voluntary context switches of every thread of the daemon (each sleep that ends).
switches() { cat /proc/"$pid"/task/*/status | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n}'; }
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
w0=$(switches)
sleep "$seconds"
w1=$(switches)
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
tck=$(getconf CLK_TCK)
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
awk -v f="/proc/$pid/status" 'BEGIN {
  while ((getline line < f) > 0) { split(line, a, /[: \t]+/); v[a[1]] = a[2] }
  printf "idle daemon: RSS %.1f MiB (private %.1f MiB, file-backed shared libraries %.1f MiB), peak %.1f MiB\n",
         v["VmRSS"] / 1024, v["RssAnon"] / 1024, v["RssFile"] / 1024, v["VmHWM"] / 1024 }'
awk -v t=$(( u1 + s1 - u0 - s0 )) -v c="$tck" -v s="$seconds" \
  'BEGIN { printf "idle daemon: CPU %.2f s over %d s (%.3f%%)\n", t / c, s, 100 * t / c / s }'
wakeups=$(( w1 - w0 ))
awk -v w="$wakeups" -v s="$seconds" \
  'BEGIN { printf "idle daemon: %d wake-ups over %d s (%.1f per 30 s)\n", w, s, 30 * w / s }'
# Stop when idle: from SIGTERM to the process's end.
t0=$(date +%s%N); kill -TERM "$pid"; wait "$pid" || true; t1=$(date +%s%N)
echo "stop when idle: $(( (t1 - t0) / 1000000 )) ms"
# Stop during a download: a server that sends its headers, then one byte a second.
slow_port=$(free_port)
python3 - "$slow_port" > /dev/null 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4)
while True:
    c, _ = s.accept()
    try:
        if c.recv(4096):  # (the readiness probe sends nothing)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            for _ in range(600): c.sendall(b";"); time.sleep(1)
    except OSError: pass
    c.close()
PY
slow_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$slow_port") 2>/dev/null && break; sleep 0.05; done
"$bin" --state-dir "$st" config set IniFileURL "http://127.0.0.1:$slow_port/slow.ini" >/dev/null
"$bin" daemon --state-dir "$st" --mac 00908F0000CC >> "$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$st/control.sock" ] && grep -q "run started" "$work/daemon.log" && break; sleep 0.05; done
sleep 1.5
t0=$(date +%s%N); kill -TERM "$pid"; wait "$pid" || true; t1=$(date +%s%N)
kill "$slow_pid" 2>/dev/null; wait "$slow_pid" 2>/dev/null || true
echo "stop during a download: $(( (t1 - t0) / 1000000 )) ms"
if [ -n "$max_rss" ] && [ "$rss_kib" -gt $(( max_rss * 1024 )) ]; then
  echo "idle RSS above $max_rss MiB" >&2
  exit 1
fi
if [ -n "$max_wakeups" ] && [ $(( wakeups * 30 )) -gt $(( max_wakeups * seconds )) ]; then
  echo "more than $max_wakeups wake-ups per 30 s" >&2
  exit 1
fi
