#!/usr/bin/env bash
# A fleet against a server that fails part of the time (docs/server-faults.md): DEVICES simulated devices
# with AupdRetrySchedule = '20+10' against nginx failing FAIL_PERCENT of the requests (5/8 of them with a
# 503, 3/8 dropped without an answer), for SECONDS of real time. Prints the fleet's counts (failures,
# retries, devices that ended without a good run) and writes OUT.csv / OUT.svg, the load over time.
#   bench/fleet_faults.sh [DEVICES=10000] [FAIL_PERCENT=8] [SECONDS=120] [BUILD_DIR=build/release] [OUT=build/faults]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
devices=${1:-10000}
fail=${2:-8}
seconds=${3:-120}
build=${4:-$here/../build/release}
out=${5:-$here/../build/faults}
source "$here/lib.sh"
work=$(mktemp -d /tmp/autoprov-faults-XXXXXX)
chmod 755 "$work"
port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$work/root/cfg" "$work/prefix" "$(dirname "$out")"
unavailable=$(python3 -c "print(round($fail * 5 / 8, 2))")
dropped=$(python3 -c "print(round($fail * 3 / 8, 2))")
cat > "$work/prefix/http-extra.conf" <<CONF
split_clients "\${remote_port}\${msec}\${request_uri}" \$autoprov_fault {
    $unavailable%  unavailable;
    $dropped%  dropped;
    *   "";
}
CONF
cat > "$work/prefix/location-extra.conf" <<'CONF'
if ($autoprov_fault = unavailable) { return 503; }
if ($autoprov_fault = dropped) { return 444; }
CONF
cat > "$work/root/cfg/device.ini" <<INI
IniFileURL = '$base/cfg/<MAC>.ini'
CptFileURL = '$base/tones.dat'
AupdRetrySchedule = '20+10'
AutoUpdateFrequency = 1440
INIFileVersion = 'faults'
INI
printf 'call progress tones\n%.0s' $(seq 50) > "$work/root/tones.dat"
printf "IniFileURL = '%s/cfg/<MAC>.ini'\nAupdRetrySchedule = '20+10'\n" "$base" > "$work/boot.ini"
start_nginx "$work/prefix" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT
echo "faults: $devices devices, $fail% of the requests failing ($unavailable% 503, $dropped% dropped), $seconds s"
"$build/app/autoprov" fleet --devices "$devices" --bootstrap "$work/boot.ini" --state-dir "$work/state" \
  --duration "$seconds" --spread 10 --max-connections 256 --timeline "$out.csv" --json > "$out.json" || true
python3 - "$out.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
c = j["counters"]
failed = {f["mac"] for f in j["failures"]}
print("requests %d (status_200: %d, status_304: %d, status_5xx: %d, network_errors: %d), retries %d, runs %d, %.0f s" % (
    c["requests"], c["status_200"], c["status_304"], c["status_5xx"], c["network_errors"], c["retries"], c["runs"],
    j["wall_s"]))
print("devices with a failed run: %d, of which still failed at the end: %d" % (
    j["devices_failed"], j["devices_last_run_failed"]))
PY
"$build/app/autoprov" fleet plot "$out.csv" -o "$out.svg" \
  --title "$devices devices, $fail% of the requests failing, retried 20-30 s later"
echo "wrote $out.csv and $out.svg"
