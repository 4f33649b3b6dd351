#!/usr/bin/env bash
# Fetches the same file from nginx on loopback with the transfer layer and with `curl -o`, several runs
# each; prints both medians, their ratio, and the transfer layer's peak RSS.
#   bench/transfer_bench.sh [SIZE_MIB=1024] [RUNS=5] [BUILD_DIR=build/release]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
size=${1:-1024}
runs=${2:-5}
build=${3:-$here/../build/release}
source "$here/lib.sh"
work=$(mktemp -d /tmp/autoprov-transfer-bench-XXXXXX)
chmod 755 "$work"
port=$(free_port)
mkdir -p "$work/root"
truncate -s "${size}M" "$work/root/image.cmp"
start_nginx "$work" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT
url="http://127.0.0.1:$port/image.cmp"

"$build/bench/fetch_bench" "$url" "$work/out.cmp" "$runs" | tee "$work/ours.txt"
ours=$(awk '/^transfer layer:/ {for (i=1;i<=NF;i++) if ($i=="median") print $(i+1)}' "$work/ours.txt")
rm -f "$work/out.cmp"

curl_times=()
for i in $(seq "$runs"); do
  t=$(curl -s -o "$work/curl.cmp" -w '%{time_total}' "$url")
  echo "curl -o run $i: $t s"
  curl_times+=("$t")
  rm -f "$work/curl.cmp"
done
theirs=$(printf '%s\n' "${curl_times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "curl -o: median $theirs s"
awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "ratio transfer layer / curl: %.2f\n", a / b}'

# Like for like: the transfer layer makes the file durable (fsync) before it counts as downloaded.
synced=()
for i in $(seq "$runs"); do
  t0=$(date +%s%N)
  curl -s -o "$work/curl.cmp" "$url"
  sync "$work/curl.cmp"
  t1=$(date +%s%N)
  synced+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')")
  rm -f "$work/curl.cmp"
done
durable=$(printf '%s\n' "${synced[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "curl -o + fsync: median $durable s"
awk -v a="$ours" -v b="$durable" 'BEGIN {printf "ratio transfer layer / (curl -o + fsync): %.2f\n", a / b}'
