#!/usr/bin/env bash
# `autoprov update` against curl, the same work on the same nginx on loopback, in alternating pairs:
#  1. a run that downloads and installs a software image of IMAGE_MIB (fresh state each time, not timed)
#     against `curl -o FILE URL && sync`; the agent's peak RSS;
#  2. a no-change run of 10 periodic files (every answer 304) against one curl process making the same 10
#     conditional requests on one connection.
# Prints each pair's ratio and the medians.
#   bench/run_vs_curl.sh [PAIRS=5] [BUILD_DIR=build/release] [IMAGE_MIB=1024] [NOCHANGE_PAIRS=20]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pairs=${1:-5}
build=${2:-$here/../build/release}
image_mib=${3:-1024}
nc_pairs=${4:-20}
source "$here/lib.sh"
bin=$build/app/autoprov
work=$(mktemp -d /var/tmp/autoprov-vs-curl-XXXXXX)
chmod 755 "$work"
port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$work/root/t" "$work/root/fw"
ids="--product Mediant --mac 00908F000001 --serial 4837234 --sw-version 7.20A.250.001"
head -c $((image_mib << 20)) /dev/urandom > "$work/root/fw/Mediant_7.40A.100.001.cmp"
ten_periodic_files "$work" "$base"
start_nginx "$work" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT

now_ns() { date +%s%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== ${image_mib} MiB image: autoprov update vs curl -o && sync, $pairs pairs"
ratios=(); ours=(); theirs=(); rss=()
for i in $(seq "$pairs"); do
  rm -rf "$work/full" "$work/curl.cmp"
  printf "AutoUpdateCmpFile = 1\nCmpFileURL = '%s/fw/Mediant_7.40A.100.001.cmp'\n" "$base" > "$work/full.ini"
  "$bin" --state-dir "$work/full" $ids config load "$work/full.ini" >/dev/null
  sync
  t0=$(now_ns)
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" --state-dir "$work/full" $ids update --json > "$work/full.json"
  t1=$(now_ns)
  out=$(python3 -c "import json; print(json.load(open('$work/full.json'))['steps'][0]['outcome'])")
  [ "$out" = applied ] || { echo "the image was not applied: $out"; exit 1; }
  rm -rf "$work/full"
  sync
  t2=$(now_ns)
  curl -s -o "$work/curl.cmp" "$base/fw/Mediant_7.40A.100.001.cmp" && sync
  t3=$(now_ns)
  rm -f "$work/curl.cmp"
  a=$(( (t1 - t0) / 1000000 )); b=$(( (t3 - t2) / 1000000 ))
  r=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')
  ours+=("$a"); theirs+=("$b"); ratios+=("$r"); rss+=("$(( $(cat "$work/rss") / 1024 ))")
  echo "pair $i: autoprov $a ms (peak RSS ${rss[-1]} MiB), curl -o && sync $b ms, ratio $r"
done
echo "image: median autoprov $(printf '%s\n' "${ours[@]}" | median) ms, curl $(printf '%s\n' "${theirs[@]}" | median) ms," \
     "median ratio $(printf '%s\n' "${ratios[@]}" | median), peak RSS max $(printf '%s\n' "${rss[@]}" | sort -n | tail -1) MiB"

echo "== no-change run of 10 periodic files vs one curl process with 10 conditional requests, $nc_pairs pairs"
printf "IniFileURL = '%s/dev.ini'\n" "$base" > "$work/boot.ini"
"$bin" --state-dir "$work/nc" $ids config load "$work/boot.ini" >/dev/null
"$bin" --state-dir "$work/nc" $ids update --json > "$work/first.json" || true
"$bin" --state-dir "$work/nc" $ids update --json > "$work/nc.json"
python3 - "$work/nc.json" <<'PY'
import json, sys
steps = json.load(open(sys.argv[1]))['steps']
assert len(steps) == 10 and all(s['outcome'] == 'not-modified' for s in steps), [(s['kind'], s['outcome']) for s in steps]
PY
urls=("$base/dev.ini" "$base/s.cli" "$base/fw/Mediant_7.20A.250.001.cmp")
for f in fk.txt cpt.dat prt.dat vp.dat dialplan.txt usrinf.txt root.pem; do urls+=("$base/t/Mediant_$f"); done
# nginx answers 304 to the exact Last-Modified it sends (if_modified_since exact): each URL gets its own.
yardstick=(curl)
for u in "${urls[@]}"; do
  lm=$(curl -sI "$u" | tr -d '\r' | awk -F': ' 'tolower($1) == "last-modified" {print $2}')
  [ "${#yardstick[@]}" -gt 1 ] && yardstick+=(--next)
  yardstick+=(-s -o /dev/null -w '%{http_code} ' -z "$lm" "$u")
done
codes=$("${yardstick[@]}")
[ "$codes" = "304 304 304 304 304 304 304 304 304 304 " ] || { echo "curl yardstick got: $codes"; exit 1; }
to_json() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@"; }
python3 "$here/pairs.py" "$nc_pairs" "$(to_json "$bin" --state-dir "$work/nc" $ids update --json)" \
  "$(to_json "${yardstick[@]}")" --label "no-change run (autoprov update vs one curl process)"
