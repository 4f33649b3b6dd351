#!/usr/bin/env bash
# Encrypted provisioning files (S-12.3), end to end on loopback: a device's own key pair made with
# openssl, an ini file carrying credentials signed and then encrypted to the device's certificate,
# a CLI script encrypted with a shared password as `openssl enc` does, nginx serving them, the device
# decrypting and applying both; then a file encrypted for another device, refused. Run from the
# repository after a build:
#   bash examples/encryption/demo.sh [path/to/autoprov]
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/release/app/autoprov}
work=$(mktemp -d /tmp/autoprov-encryption-XXXXXX)
chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/pki" "$work/root" "$work/nginx/tmp" "$work/state" "$work/plain"

echo "=== the device's key pair (as its mutual-TLS pair would be), another device's, a signer"
(cd "$work/pki" &&
  for d in device other; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $d.key \
      -out $d.pem -subj "/CN=$d" -days 30 2>/dev/null
  done &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -subj '/CN=example CA' -days 30 2>/dev/null &&
  openssl req -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr -subj '/CN=example signer' 2>/dev/null &&
  printf 'extendedKeyUsage=codeSigning\nkeyUsage=digitalSignature\n' > ext.cnf &&
  openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out signer.pem -days 30 -extfile ext.cnf 2>/dev/null)

base="http://127.0.0.1:$port"
cat > "$work/plain/device.ini" <<INI
AUPDUserPassword = 'provisioning:s3cret-for-this-device'
CliScriptURL = '$base/device.cli'
INIFileVersion = encrypted-1
INI
printf 'configure system\n automatic-update\n  update-frequency 45\n' > "$work/plain/device.cli"
echo "=== sign, then encrypt: the ini to the device's certificate, the signature beside it"
openssl cms -sign -binary -in "$work/plain/device.ini" -signer "$work/pki/signer.pem" \
  -inkey "$work/pki/signer.key" -outform DER -out "$work/root/device.ini.p7s"
"$bin" encrypt "$work/plain/device.ini" --to "$work/pki/device.pem" -o "$work/root/device.ini"
echo "(the same with openssl: openssl cms -encrypt -binary -aes256 -outform DER -recip device.pem -in device.ini -out device.ini)"
echo "=== the CLI script with a shared password, as openssl enc writes it (PBKDF2, 10000 iterations)"
printf 'shared-password\n' > "$work/pw"
openssl enc -aes-256-cbc -salt -pbkdf2 -iter 10000 -pass "file:$work/pw" \
  -in "$work/plain/device.cli" -out "$work/root/device.cli"
openssl cms -sign -binary -in "$work/plain/device.cli" -signer "$work/pki/signer.pem" \
  -inkey "$work/pki/signer.key" -outform DER -out "$work/root/device.cli.p7s"
echo "=== what is on the server is not readable:"
head -c 64 "$work/root/device.ini" | od -c | head -2

sed -e "s#@PREFIX@#$work/nginx#g" -e "s#@ROOT@#$work/root#g" -e "s#@PORT@#$port#g" examples/nginx.conf.in > "$work/nginx/nginx.conf"
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

cp examples/identity.ini "$work/state/identity.ini"
printf 'DecryptionCert = %s\nDecryptionKey = %s\nSignersBundle = %s\nSignaturePolicy = required\nEncryptionPolicy.ini = required\n' \
  "$work/pki/device.pem" "$work/pki/device.key" "$work/pki/ca.pem" > "$work/state/hooks.ini"
"$bin" --state-dir "$work/state" config set IniFileURL "$base/device.ini"
"$bin" --state-dir "$work/state" config set AupdDecryptionPassword shared-password
echo "=== the device decrypts, verifies the plaintext's signature, applies"
"$bin" --state-dir "$work/state" update || true
echo "=== AutoUpdateFrequency is now: $("$bin" --state-dir "$work/state" config get AutoUpdateFrequency)"
echo
echo "=== the ini replaced by one encrypted for another device: refused, nothing applied"
"$bin" encrypt "$work/plain/device.ini" --to "$work/pki/other.pem" -o "$work/root/device.ini" >/dev/null
touch -d '+5 seconds' "$work/root/device.ini"
"$bin" --state-dir "$work/state" update || true
