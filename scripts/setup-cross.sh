#!/usr/bin/env bash
# Installs the arm64 cross toolchain and the target's libraries (Debian multiarch) and qemu for running
# the arm64 tests, on top of scripts/setup.sh. Idempotent.
set -euo pipefail
bash "$(dirname "$0")/setup.sh"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
fi
pkgs=(crossbuild-essential-arm64 qemu-user-static
      libcurl4-openssl-dev:arm64 libsqlite3-dev:arm64 libssl-dev:arm64 zlib1g-dev:arm64
      libgtest-dev:arm64 libgmock-dev:arm64 libedit2:arm64 pkg-config:arm64)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
