#!/usr/bin/env bash
# 10,000 simulated devices against nginx on loopback: each asks for its per-MAC ini (~2 KB, one file served for
# every MAC), a CLI script, a
# periodic image (~64 KB) and two one-time auxiliary files. Run 1 downloads everything, run 2 is all 304.
# Prints the fleet's figures (wall time, requests/s, peak RSS, CPU) and, against the same nginx, wrk's
# rate of 304 answers and curl's (libcurl's own client, --parallel) for comparison.
#   bench/fleet_bench.sh [DEVICES=10000] [BUILD_DIR=build/release] [CONNECTIONS=256] [SW_VERSION=7.20A.250.001] [SIGNED=0]
# SW_VERSION older than the image (e.g. 7.20A.250.000): every device installs it in run 1, restarts
# (counted against its per-hour limit, S-9.8) and runs its start-up run.
# SIGNED=1: every file has a detached CMS signature (openssl cms -sign) and the devices require it
# (fleet --signers, S-12): each file costs a signature request first (counted as signature_requests).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
devices=${1:-10000}
build=${2:-$here/../build/release}
conns=${3:-256}
sw_version=${4:-7.20A.250.001}
signed=${5:-0}
source "$here/lib.sh"
work=$(mktemp -d /tmp/autoprov-fleet-bench-XXXXXX)
chmod 755 "$work"
port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$work/root/cfg" "$work/root/fw" "$work/root/aux"
pad=$(printf ';%.0s' $(seq 1 60))
python3 - "$work/root" "$base" "$devices" <<'PY'
import os, sys
root, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
pad = "".join("; padding line %02d of the per-device configuration file, as exports carry comments\n" % i for i in range(22))
# One file for every MAC (nginx maps /cfg/<MAC>.ini to it: bench/nginx-bench.conf.in).
with open(os.path.join(root, "cfg", "device.ini"), "w") as f:
    f.write("[SYSTEM Params]\n" + pad +
            "IniFileURL = '%s/cfg/<MAC>.ini'\nCliScriptURL = '%s/cfg/common.cli'\n"
            "AutoCmpFileUrl = '%s/fw/Mediant_7.20A.250.001.cmp'\nCptFileURL = '%s/aux/tones.dat'\n"
            "DialPlanFileURL = '%s/aux/dialplan.txt'\nAUPDCheckIfIniChanged = 1\nINIFileVersion = 'v-1'\n"
            % (base, base, base, base, base))
with open(os.path.join(root, "cfg", "common.cli"), "w") as f:
    f.write("configure system\n automatic-update\n  tftp-block-size 1428\n exit\nexit\n")
with open(os.path.join(root, "fw", "Mediant_7.20A.250.001.cmp"), "wb") as f:
    f.write(os.urandom(65536))
with open(os.path.join(root, "aux", "tones.dat"), "w") as f:
    f.write("call progress tones\n" * 50)
with open(os.path.join(root, "aux", "dialplan.txt"), "w") as f:
    f.write("dial plan\n" * 50)
PY
printf "IniFileURL = '%s/cfg/<MAC>.ini'\n" "$base" > "$work/boot.ini"
signers=()
if [ "$signed" = 1 ]; then
  mkdir -p "$work/pki"
  (cd "$work/pki" &&
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj '/CN=bench CA' -days 30 2>/dev/null &&
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout s.key -out s.csr -subj '/CN=bench signer' 2>/dev/null &&
    printf 'extendedKeyUsage=codeSigning\n' > ext.cnf &&
    openssl x509 -req -in s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out s.pem -days 30 -extfile ext.cnf 2>/dev/null)
  for f in cfg/device.ini cfg/common.cli fw/Mediant_7.20A.250.001.cmp aux/tones.dat aux/dialplan.txt; do
    openssl cms -sign -binary -in "$work/root/$f" -signer "$work/pki/s.pem" -inkey "$work/pki/s.key" -outform DER -out "$work/root/$f.p7s"
  done
  signers=(--signers "$work/pki/ca.pem")
fi
start_nginx "$work" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT

run_fleet() {
  # FLEET_WRAP_1 / FLEET_WRAP_2, e.g. "perf record -g -o /tmp/fleet.perf": that run under a profiler.
  local wrap=""
  [ "$1" = 1 ] && wrap=${FLEET_WRAP_1:-}
  [ "$1" = 2 ] && wrap=${FLEET_WRAP_2:-}
  /usr/bin/time -f '%e %M %U %S' -o "$work/time.$1" $wrap "$build/app/autoprov" fleet --json --devices "$devices" \
    --runs 1 --max-connections "$conns" --sw-version "$sw_version" --product Mediant --state-dir "$work/state" \
    --bootstrap "$work/boot.ini" "${signers[@]}" > "$work/run.$1.json"
  python3 - "$work/run.$1.json" "$work/time.$1" "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
wall, rss_kb, user, sys_ = open(sys.argv[2]).read().split()
c = j["counters"]
print("run %s: %d devices, start-up %.1f s, %d requests in %.2f s = %.0f req/s, %.0f runs/s (status_200: %d, "
      "status_304: %d, status_4xx: %d, status_5xx: %d, network_errors: %d, signature_requests: %d), %.1f MiB, "
      "peak RSS %.1f MiB, CPU user %.2f s + sys %.2f s, failed devices %d" %
      (sys.argv[3], j["devices"], j["startup_s"], c["requests"], j["wall_s"], j["requests_per_s"],
       c["runs"] / j["wall_s"] if j["wall_s"] > 0 else 0, c["status_200"], c["status_304"], c["status_4xx"],
       c["status_5xx"], c["network_errors"], c.get("signature_requests", 0), c["bytes"] / 1048576,
       int(rss_kb) / 1024, float(user), float(sys_), j["devices_failed"]))
m = j["memory_bytes"]
n = max(1, j["devices"])
print("   memory: devices %.1f MiB (%d B each), state cache entries %.1f MiB + words %.1f MiB (%.0f B a device), "
      "string pool %.1f MiB (%d strings)" % (m["devices"] / 1048576, m["devices"] // n, m["cache_entries"] / 1048576,
      m["cache_words"] / 1048576, (m["cache_entries"] + m["cache_words"]) / n, m["string_pool"] / 1048576,
      m["pool_strings"]))
for kind, l in sorted(j["latency_ms"].items()):
    print("   %-14s n=%-6d p50 %.2f ms  p95 %.2f ms  p99 %.2f ms" % (kind, l["count"], l["p50_ms"], l["p95_ms"], l["p99_ms"]))
PY
}
run_fleet 1
run_fleet 2

lm=$(curl -sI "$base/cfg/00908F000000.ini" | awk -F': ' 'tolower($1)=="last-modified" {sub("\r",""); print $2}')
echo "wrk: If-Modified-Since: $lm, 2 threads, $conns connections, ${WRK_SECONDS:-10} s"
wrk -t2 -c"$conns" -d"${WRK_SECONDS:-10}s" -H "If-Modified-Since: $lm" "$base/cfg/00908F000000.ini" | tee "$work/wrk.txt" | grep -E 'Requests/sec|Non-2xx|requests in'
# libcurl's own client as a second yardstick: two curl processes (one per core, as the fleet's two
# workers), each with half the connections, making run 2's conditional requests to the per-MAC inis.
n=$((devices * 3 < 300000 ? devices * 3 : 300000))
python3 - "$work" "$base" "$n" <<'PY'
import sys
work, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for part in range(2):
    with open("%s/urls.%d.cfg" % (work, part), "w") as f:
        for i in range(part, n, 2):
            f.write('url = "%s/cfg/00908F%06X.ini"\noutput = "/dev/null"\n' % (base, i % 0x1000000))
PY
start=$(date +%s.%N)
pids=()
for part in 0 1; do
  curl -s -Z --parallel-max $((conns / 2)) -z "$lm" -K "$work/urls.$part.cfg" &
  pids+=($!)
done
wait "${pids[@]}"  # not nginx
end=$(date +%s.%N)
echo "curl: $n conditional requests, 2 processes x $((conns / 2)) parallel, in $(python3 -c "print('%.2f' % ($end - $start))") s"
python3 - "$work/run.2.json" "$work/wrk.txt" "$n" "$start" "$end" <<'PY'
import json, re, sys
fleet = json.load(open(sys.argv[1]))["requests_per_s"]
m = re.search(r"Requests/sec:\s*([0-9.]+)", open(sys.argv[2]).read())
curl = int(sys.argv[3]) / (float(sys.argv[5]) - float(sys.argv[4]))
if m:
    print("run 2 / wrk: %.0f / %.0f req/s = %.2f" % (fleet, float(m.group(1)), fleet / float(m.group(1))))
print("run 2 / curl: %.0f / %.0f req/s = %.2f (curl / wrk = %.2f)" % (
    fleet, curl, fleet / curl, curl / float(m.group(1)) if m else 0))
PY
