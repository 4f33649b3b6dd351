#!/usr/bin/env bash
# A signed software image against the same image unsigned (S-12.1): `autoprov update` downloading and
# installing an image of IMAGE_MIB from nginx on loopback, in alternating pairs (signed, unsigned), each
# from a fresh state directory (its set-up not timed). The signature is judged by the SHA-256 computed
# while the image streamed to disk, so the signed run should cost one small request more, not a second
# pass over the image. Prints each pair's times, peak RSS and ratio, then the medians.
# STATE_ROOT (default /var/tmp) is where the devices' state directories go: /dev/shm takes the disk's
# writeback, the noisiest part on a shared machine, out of both sides of the ratio.
#   [STATE_ROOT=DIR] bench/signed_image_bench.sh [PAIRS=5] [BUILD_DIR=build/release] [IMAGE_MIB=1024]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pairs=${1:-5}
build=${2:-$here/../build/release}
image_mib=${3:-1024}
source "$here/lib.sh"
bin=$build/app/autoprov
work=$(mktemp -d /var/tmp/autoprov-signed-image-XXXXXX)
chmod 755 "$work"
port=$(free_port)
base="http://127.0.0.1:$port"
ids="--product Mediant --mac 00908F000001 --serial 4837234 --sw-version 7.20A.250.001"
mkdir -p "$work/root/fw" "$work/pki"
image=fw/Mediant_7.40A.100.001.cmp
head -c $((image_mib << 20)) /dev/urandom > "$work/root/$image"
# A throwaway CA and code-signing signer, as an operator makes them; the image signed with the
# openssl command line.
(
  cd "$work/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
    -out ca.pem -subj /CN=bench-ca -days 2 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout signer.key \
    -out signer.csr -subj /CN=bench-signer 2>/dev/null
  printf 'extendedKeyUsage=codeSigning\nkeyUsage=digitalSignature\n' > code.ext
  openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile code.ext -out signer.pem 2>/dev/null
)
"$bin" sign "$work/root/$image" --cert "$work/pki/signer.pem" --key "$work/pki/signer.key" >/dev/null
start_nginx "$work" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; rm -rf "$work" "${state_root:-}"' EXIT

now_ns() { date +%s%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "AutoUpdateCmpFile = 1\nCmpFileURL = '%s/%s'\n" "$base" "$image" > "$work/boot.ini"

# run NAME HOOKS: one timed update from a fresh state directory; prints "wall_ms rss_mib cpu_ms".
state_root=$(mktemp -d "${STATE_ROOT:-/var/tmp}/autoprov-signed-state-XXXXXX")
run() {
  local state=$state_root/$1
  rm -rf "$state"
  mkdir -p "$state"
  printf '%b' "$2" > "$state/hooks.ini"
  "$bin" --state-dir "$state" $ids config load "$work/boot.ini" >/dev/null
  sync
  local t0 t1
  t0=$(now_ns)
  /usr/bin/time -f '%M %U %S' -o "$work/rss" "$bin" --state-dir "$state" $ids update --json > "$work/$1.json"
  t1=$(now_ns)
  python3 - "$work/$1.json" "$1" <<'PY'
import json, sys
step = json.load(open(sys.argv[1]))['steps'][0]
assert step['outcome'] == 'applied', step
if sys.argv[2] == 'signed':
    assert any('signature verified' in d for d in step['details']), step['details']
PY
  rm -rf "$state"
  local rss user sys
  read -r rss user sys < "$work/rss"
  echo "$(( (t1 - t0) / 1000000 )) $(( rss / 1024 )) $(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.0f", (u + s) * 1000}')"
}

echo "== ${image_mib} MiB image: signed vs unsigned, $pairs pairs"
signed_hooks="SignersBundle = $work/pki/ca.pem\nSignaturePolicy = required\n"
ratios=(); cpu_ratios=(); s_ms=(); u_ms=(); s_rss=(); u_rss=()
for i in $(seq "$pairs"); do
  # The order alternates, so that neither variant always follows the other's writeback.
  if ((i % 2)); then
    read -r a ar ac < <(run signed "$signed_hooks")
    read -r b br bc < <(run unsigned "")
  else
    read -r b br bc < <(run unsigned "")
    read -r a ar ac < <(run signed "$signed_hooks")
  fi
  r=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')
  rc=$(awk -v a="$ac" -v b="$bc" 'BEGIN {printf "%.3f", a / b}')
  s_ms+=("$a"); u_ms+=("$b"); s_rss+=("$ar"); u_rss+=("$br"); ratios+=("$r"); cpu_ratios+=("$rc")
  echo "pair $i: signed $a ms (CPU $ac ms, peak RSS $ar MiB), unsigned $b ms (CPU $bc ms, peak RSS $br MiB), ratio $r (CPU $rc)"
done
echo "image: median signed $(printf '%s\n' "${s_ms[@]}" | median) ms, unsigned $(printf '%s\n' "${u_ms[@]}" | median) ms," \
     "median ratio $(printf '%s\n' "${ratios[@]}" | median), median CPU ratio $(printf '%s\n' "${cpu_ratios[@]}" | median);" \
     "peak RSS max signed $(printf '%s\n' "${s_rss[@]}" | sort -n | tail -1) MiB, unsigned $(printf '%s\n' "${u_rss[@]}" | sort -n | tail -1) MiB"
