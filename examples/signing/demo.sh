#!/usr/bin/env bash
# Signed provisioning files (S-12), end to end on loopback: a throwaway CA and a code-signing signer
# made with openssl, an ini file signed twice (`autoprov sign` and `openssl cms -sign`, the same
# kind of file), nginx serving it, a device that requires signatures applying it, then the same
# file altered on the server and refused. Run from the repository after a build:
#   bash examples/signing/demo.sh [path/to/autoprov]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/release/app/autoprov}
work=$(mktemp -d /tmp/autoprov-signing-XXXXXX)
chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/pki" "$work/root" "$work/nginx/tmp" "$work/state"

echo "=== a throwaway CA and a signer (extendedKeyUsage codeSigning)"
(cd "$work/pki" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj '/CN=example signers CA' -days 30 2>/dev/null &&
  openssl req -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr -subj '/CN=example signer' 2>/dev/null &&
  printf 'extendedKeyUsage=codeSigning\nkeyUsage=digitalSignature\n' > ext.cnf &&
  openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out signer.pem -days 30 -extfile ext.cnf 2>/dev/null)

printf 'AutoUpdateFrequency = 60\nINIFileVersion = signed-1\n' > "$work/root/device.ini"
echo "=== signed with autoprov, checked with autoprov and with openssl"
"$bin" sign "$work/root/device.ini" --cert "$work/pki/signer.pem" --key "$work/pki/signer.key"
"$bin" verify "$work/root/device.ini" --signers "$work/pki/ca.pem"
openssl cms -verify -purpose any -binary -inform DER -in "$work/root/device.ini.p7s" \
  -content "$work/root/device.ini" -CAfile "$work/pki/ca.pem" -out /dev/null
echo "(the same signature with openssl: openssl cms -sign -binary -in device.ini -signer signer.pem -inkey signer.key -outform DER -out device.ini.p7s)"

sed -e "s#@PREFIX@#$work/nginx#g" -e "s#@ROOT@#$work/root#g" -e "s#@PORT@#$port#g" examples/nginx.conf.in > "$work/nginx/nginx.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

cp examples/identity.ini "$work/state/identity.ini"
printf 'SignersBundle = %s\nSignaturePolicy = required\n' "$work/pki/ca.pem" > "$work/state/hooks.ini"
"$bin" --state-dir "$work/state" config set IniFileURL "http://127.0.0.1:$port/device.ini"
echo "=== the device requires signatures: the signed file is applied"
"$bin" --state-dir "$work/state" update || true
echo
echo "=== the file altered on the server, its signature left: refused, nothing applied"
printf 'AutoUpdateFrequency = 1\nINIFileVersion = tampered\n' > "$work/root/device.ini"
touch -d '+5 seconds' "$work/root/device.ini"
"$bin" --state-dir "$work/state" update || true
echo
echo "=== INIFileVersion is still: $("$bin" --state-dir "$work/state" config get INIFileVersion)"
