#!/usr/bin/env bash
# `autoprov update` against nginx on loopback:
#  1. a no-change run with 10 configured periodic files (all answered 304), median of RUNS runs;
#  2. a full run that downloads and installs a 256 MiB image (fresh state each time), median of 3 runs.
#   bench/run_bench.sh [RUNS=20] [BUILD_DIR=build/release] [IMAGE_MIB=256]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runs=${1:-20}
build=${2:-$here/../build/release}
image_mib=${3:-256}
source "$here/lib.sh"
bin=$build/app/autoprov
work=$(mktemp -d /tmp/autoprov-run-bench-XXXXXX)
chmod 755 "$work"
port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$work/root/t" "$work/root/fw"
ids="--product Mediant --mac 00908F000001 --serial 4837234 --sw-version 7.20A.250.001"
ten_periodic_files "$work" "$base"
head -c $((image_mib << 20)) /dev/urandom > "$work/root/fw/Mediant_7.40A.100.001.cmp"
start_nginx "$work" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now_ms() { date +%s%N | awk '{printf "%.1f", $1 / 1e6}'; }

printf "IniFileURL = '%s/dev.ini'\n" "$base" > "$work/boot.ini"
"$bin" --state-dir "$work/nc" $ids config load "$work/boot.ini" >/dev/null
"$bin" --state-dir "$work/nc" $ids update --json > "$work/first.json" || true
times=()
for i in $(seq "$runs"); do
  t0=$(now_ms)
  "$bin" --state-dir "$work/nc" $ids update --json > "$work/nc.json"
  t1=$(now_ms)
  times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
done
steps=$(python3 -c "import json,sys; j=json.load(open('$work/nc.json')); print(len(j['steps']), sum(s['outcome']=='not-modified' for s in j['steps']))")
echo "no-change run: $steps (steps, not-modified); median $(printf '%s\n' "${times[@]}" | median) ms over $runs runs"

full=()
for i in 1 2 3; do
  rm -rf "$work/full"
  printf "AutoUpdateCmpFile = 1\nCmpFileURL = '%s/fw/Mediant_7.40A.100.001.cmp'\n" "$base" > "$work/full.ini"
  "$bin" --state-dir "$work/full" $ids config load "$work/full.ini" >/dev/null
  t0=$(now_ms)
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" --state-dir "$work/full" $ids update --json > "$work/full.json"
  t1=$(now_ms)
  full+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  echo "full run $i: $(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') ms, peak RSS $(( $(cat "$work/rss") / 1024 )) MiB, outcome $(python3 -c "import json; print(json.load(open('$work/full.json'))['steps'][0]['outcome'])")"
done
echo "full run with a ${image_mib} MiB image: median $(printf '%s\n' "${full[@]}" | median) ms"
