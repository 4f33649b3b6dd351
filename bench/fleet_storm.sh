#!/usr/bin/env bash
# A time-of-day storm seen over time: DEVICES simulated devices share one ini that sets a daily update
# time (the next whole minute) with AutoUpdatePredefinedRandomTime = SPREAD seconds. The fleet starts
# (a start-up run each, spread over 10 s), waits for the daily time, and every device polls within the
# spread: the timeline shows the wave, and how the spread flattens it. Writes OUT.csv and OUT.svg.
#   bench/fleet_storm.sh [DEVICES=10000] [SPREAD=60] [BUILD_DIR=build/release] [OUT=build/storm]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
devices=${1:-10000}
spread=${2:-60}
build=${3:-$here/../build/release}
out=${4:-$here/../build/storm}
source "$here/lib.sh"
work=$(mktemp -d /tmp/autoprov-storm-XXXXXX)
chmod 755 "$work"
port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$work/root" "$work/prefix" "$(dirname "$out")"
# The daily time: the minute after the start-up runs have settled (at least 20 s from now).
at=$(date -d "@$(( ($(date +%s) + 20 + 59) / 60 * 60 ))" +%H:%M)
wait_s=$(( $(date -d "$at" +%s) - $(date +%s) ))
[ "$wait_s" -gt 0 ] || wait_s=$((wait_s + 86400))
cat > "$work/root/storm.ini" <<INI
IniFileURL = '$base/storm.ini'
AutoUpdatePredefinedTime = '$at'
AutoUpdatePredefinedRandomTime = $spread
INIFileVersion = 'storm'
INI
printf "IniFileURL = '%s/storm.ini'\nAutoUpdatePredefinedTime = '%s'\nAutoUpdatePredefinedRandomTime = %s\n" \
  "$base" "$at" "$spread" > "$work/boot.ini"
start_nginx "$work/prefix" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT
duration=$((wait_s + spread + 10))
echo "storm: $devices devices, daily time $at (in $wait_s s), spread $spread s, run of $duration s"
"$build/app/autoprov" fleet --devices "$devices" --bootstrap "$work/boot.ini" --state-dir "$work/state" \
  --duration "$duration" --spread 10 --max-connections 256 --timeline "$out.csv" --json > "$out.json" || true
python3 - "$out.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
c = j["counters"]
print("requests %d (status_200: %d, status_304: %d), devices failed %d, %.0f s" % (
    c["requests"], c["status_200"], c["status_304"], j["devices_failed"], j["wall_s"]))
PY
"$build/app/autoprov" fleet plot "$out.csv" -o "$out.svg" \
  --title "$devices devices, daily update at $at with a $spread s random spread (after their start-up runs)"
echo "wrote $out.csv and $out.svg"
