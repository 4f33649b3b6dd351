#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds autoprov, starts nginx on loopback with the example provisioning
# tree, loads the bootstrap configuration, runs `autoprov update` twice (the second run finds every
# periodic file not modified), shows the reports and what nginx saw, and stops nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target autoprov
bin=$repo/build/release/app/autoprov

work=$(mktemp -d /tmp/autoprov-demo-XXXXXX)
chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
cp -r examples/provisioning "$work/root"
find "$work/root" -type f -exec sed -i "s#@BASE@#$base#g" {} +
mkdir -p "$work/nginx/tmp" "$work/state"
sed -e "s#@PREFIX@#$work/nginx#g" -e "s#@ROOT@#$work/root#g" -e "s#@PORT@#$port#g" examples/nginx.conf.in > "$work/nginx/nginx.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

cp examples/identity.ini "$work/state/identity.ini"
sed "s#@BASE@#$base#g" examples/bootstrap.ini > "$work/bootstrap.ini"
"$bin" --state-dir "$work/state" config load "$work/bootstrap.ini"
echo "=== first run: everything is downloaded and applied"
"$bin" --state-dir "$work/state" update || true
echo
echo "=== second run: nothing changed on the server"
"$bin" --state-dir "$work/state" update || true
echo
echo "=== restart (simulated: no reset command configured): the pending image becomes the running one"
"$bin" --state-dir "$work/state" restart || true
echo
echo "=== running configuration after the runs"
"$bin" --state-dir "$work/state" config show --format cli
echo "=== what nginx saw"
cat "$work/nginx/access.log"
