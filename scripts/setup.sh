#!/usr/bin/env bash
# Installs everything autoprov needs to build and test on Debian 12 (idempotent).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config git
      libcurl4-openssl-dev libsqlite3-dev libssl-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
      libgtest-dev libgmock-dev libedit2 clang clang-format libclang-rt-14-dev
      nginx-light tftpd-hpa vsftpd sip-tester openssl curl python3 python3-yaml procps wrk tmux strace fiu-utils
      faketime scdoc debhelper lintian fakeroot dpkg-dev mmdebstrap systemd-container man-db
      swupdate cpio rauc squashfs-tools dbus)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packages' own daemons from starting system-wide: tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
