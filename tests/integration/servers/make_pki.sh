#!/usr/bin/env bash
# Makes the test PKI in DIR: a CA, a server certificate for 127.0.0.1/localhost, one for a wrong host
# name, and a client certificate for mutual TLS.
set -euo pipefail
cd "$1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=autoprov test CA' \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
sign() {
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%b' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out "$1.pem" \
    -extfile "$1.ext" 2>/dev/null
}
sign server 127.0.0.1 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
sign wrong wrong.example 'subjectAltName=DNS:wrong.example\nextendedKeyUsage=serverAuth\n'
sign client device-0001 'extendedKeyUsage=clientAuth\n'
# A second, unrelated CA: its certificates must not be trusted.
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 \
  -subj '/CN=unrelated CA' 2>/dev/null
chmod 644 ./*.pem ./*.key
