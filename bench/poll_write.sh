#!/usr/bin/env bash
# What a poll that changes nothing costs the disk: a device with an ini file and a CLI script, both
# unchanged on the server (two 304s), polls under strace; the bytes written to the state database's
# write-ahead log (a frame is a 24-byte header and a 4,096-byte page) and the fsyncs are counted.
#   bench/poll_write.sh [BUILD_DIR=build/release] [POLLS=3] [MAX_FRAMES=]
# With MAX_FRAMES the script fails when a poll writes more frames than that, or any fsync (the
# target is one frame and none).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/release}
polls=${2:-3}
max_frames=${3:-}
source "$here/lib.sh"
command -v strace >/dev/null || { echo "strace is needed" >&2; exit 1; }
work=$(mktemp -d /tmp/autoprov-poll-XXXXXX)
chmod 755 "$work"
port=$(free_port)
base="http://127.0.0.1:$port"
mkdir -p "$work/root"
printf "IniFileURL = '%s/dev.ini'\nCliScriptURL = '%s/dev.cli'\nSyslogServerIP = '10.0.0.1'\n" "$base" "$base" > "$work/root/dev.ini"
printf "configure system\n automatic-update\n  tftp-block-size 1428\n exit\nexit\n" > "$work/root/dev.cli"
start_nginx "$work" "$work/root" "$port"
trap 'kill $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; rm -rf "$work"' EXIT
bin=$build/app/autoprov
st="$work/st"
"$bin" --state-dir "$st" config set IniFileURL "$base/dev.ini" >/dev/null
"$bin" --state-dir "$st" --mac 00908F0000AA update >/dev/null  # downloads both
worst=0
for i in $(seq "$polls"); do
  strace -f -qq -e trace=write,pwrite64,fsync,fdatasync -y -o "$work/trace" \
    "$bin" --state-dir "$st" --mac 00908F0000AA update --json > "$work/run.json"
  read -r bytes syncs < <(awk '
    /state\.db-wal>/ && /write/ { n = $NF; if (n ~ /^[0-9]+$/) b += n }
    /fsync|fdatasync/ && /state\.db/ { s++ }
    END { print b + 0, s + 0 }' "$work/trace")
  outcomes=$(python3 -c "import json; print(' '.join(s['outcome'] for s in json.load(open('$work/run.json'))['steps']))")
  frames=$(( bytes / 4120 ))
  echo "poll $i ($outcomes): $bytes bytes to the WAL ($frames frame(s) of 4120 bytes), $syncs fsync(s)"
  [ "$frames" -gt "$worst" ] && worst=$frames
  if [ -n "$max_frames" ] && { [ "$frames" -gt "$max_frames" ] || [ "$syncs" -gt 0 ]; }; then
    echo "a poll that changes nothing wrote more than $max_frames frame(s) or waited for the disk" >&2
    exit 1
  fi
done
"$bin" --state-dir "$st" status | grep -E "^(last run|since then)" || true
