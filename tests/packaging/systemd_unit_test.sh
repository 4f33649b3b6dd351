#!/usr/bin/env bash
# The Debian package and its systemd unit under a real systemd (issue: first contact). Builds the .deb
# (scripts/build-deb.sh), checks it with lintian (no errors), installs it into a throwaway Debian root
# made by mmdebstrap, runs `autoprov --version`, `man -w autoprov` and the bash completion there,
# verifies the unit, boots the root with systemd-nspawn and checks, with the package's own unit:
# READY (active), STATUS, journal entries once each with their fields, the SIP port bound, the
# ResetCommand run once under the sandbox, `systemctl stop` within 2 s, and the exposure score of
# `systemd-analyze security` (below 3.0; printed with an installer drop-in too). Then purges the
# package and removes the root. Loopback only: the provisioning server is file: inside the root.
#   systemd_unit_test.sh SOURCE_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
for tool in dpkg-buildpackage lintian mmdebstrap systemd-nspawn nsenter; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (scripts/setup.sh)"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, nspawn)"; exit 77; }
work=$(mktemp -d /var/tmp/autoprov-package.XXXXXX)
root=$work/root
nspawn_pid=""
cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "-- $* ($SECONDS s)"; }

step "build the package"
if [ -n "${AUTOPROV_DEB_DIR:-}" ]; then  # a package built already (scripts/build-deb.sh)
  mkdir -p "$work/deb" && cp "$AUTOPROV_DEB_DIR"/*.deb "$work/deb/"
else
  bash "$src/scripts/build-deb.sh" "$work/deb" >/dev/null
fi
deb=$(ls "$work"/deb/autoprov_*_*.deb)
ls "$work"/deb/autoprov-dbgsym_*.deb >/dev/null || fail "no -dbgsym package"
step "contents (what cmake --install installs, debian/rules installs with it)"
contents=$(dpkg -c "$deb" | awk '{print $6}')
for f in ./usr/bin/autoprov ./usr/bin/autoprov-daemon ./lib/systemd/system/autoprov.service \
  ./etc/dhcp/dhclient-exit-hooks.d/autoprov ./etc/udhcpc.d/60autoprov \
  ./etc/autoprov/identity.ini ./etc/autoprov/hooks.ini \
  ./usr/share/bash-completion/completions/autoprov ./usr/share/man/man8/autoprov.8.gz \
  ./usr/share/man/man8/autoprov-daemon.8.gz ./usr/share/man/man5/autoprov.ini.5.gz \
  ./usr/share/man/man7/autoprov-parameters.7.gz ./usr/share/doc/autoprov/spec.md.gz ./var/lib/autoprov/; do
  grep -qx -- "$f" <<<"$contents" || fail "the package lacks $f"
done
dpkg -c "$deb" | grep -q '^drwx------ .* ./var/lib/autoprov/$' || fail "/var/lib/autoprov is not 0700 in the package"
size=$(dpkg -c "$deb" | awk '$6 == "./usr/bin/autoprov" {print $3}')
[ "$size" -lt 20000000 ] || fail "the binary is $size bytes: not stripped?"
step "lintian"
lintian --fail-on error "$deb" || fail "lintian reports errors"

step "a throwaway Debian root (mmdebstrap)"
mmdebstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libcurl4,man-db,bash-completion \
  bookworm "$root" >"$work/mmdebstrap.log" 2>&1 || { tail -20 "$work/mmdebstrap.log"; fail "mmdebstrap"; }
cp "$deb" "$root/tmp/"
chroot "$root" dpkg -i "/tmp/$(basename "$deb")" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }
chroot "$root" autoprov --version | grep -q '^autoprov ' || fail "autoprov --version"
chroot "$root" man -w autoprov | grep -q 'man8/autoprov.8' || fail "man -w autoprov"
chroot "$root" man -w autoprov-parameters | grep -q 'man7' || fail "man -w autoprov-parameters"
[ "$(stat -c %a "$root/var/lib/autoprov")" = 700 ] || fail "/var/lib/autoprov is not 0700"
completion=$(chroot "$root" bash -c 'source /usr/share/bash-completion/completions/autoprov
  COMP_WORDS=(autoprov config set Ini); COMP_CWORD=3; _autoprov; printf "%s\n" "${COMPREPLY[@]}"')
grep -qx IniFileURL <<<"$completion" || fail "autoprov config set Ini<Tab> gives: $completion"
systemd-analyze verify --man=no --root="$root" autoprov.service || fail "systemd-analyze verify"

step "provisioning inside the root: a file: server, a reset hook, the SIP port"
mkdir -p "$root/srv/prov"
# The CPT file's server refuses connections (loopback port 9): a failed step for the journal. A new
# image (no installer: kept for the restart) makes the run end in a restart: the ResetCommand.
printf "INIFileVersion = 'nspawn'\nSetDefaultOnINIFileProcess = 0\nCptFileURL = 'http://127.0.0.1:9/missing.dat'\n" \
  >"$root/srv/prov/dev.ini"
head -c 65536 /dev/urandom >"$root/srv/prov/Mediant_7.40A.100.001.cmp"
cat >"$root/usr/local/bin/reset-hook" <<'HOOK'
#!/bin/sh
# Stands in for the appliance's reboot: records that it ran (the state directory is writable).
date +%s >>/var/lib/autoprov/reset.log
HOOK
chmod +x "$root/usr/local/bin/reset-hook"
printf "ResetCommand = /usr/local/bin/reset-hook\n" >"$root/var/lib/autoprov/hooks.ini"
chroot "$root" autoprov config set IniFileURL file:///srv/prov/dev.ini >/dev/null
chroot "$root" autoprov config set AutoCmpFileUrl file:///srv/prov/Mediant_7.40A.100.001.cmp >/dev/null
chroot "$root" autoprov config set EnableSIPRemoteReset 1 >/dev/null
mkdir -p "$root/etc/systemd/system/autoprov.service.d"
printf "[Service]\nExecStart=\nExecStart=/usr/bin/autoprov daemon --state-dir /var/lib/autoprov --sip-listen 0.0.0.0:5060\n" \
  >"$root/etc/systemd/system/autoprov.service.d/sip.conf"

step "boot it (systemd-nspawn)"
systemd-nspawn -q --register=no --keep-unit -D "$root" -b --console=pipe >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!
init=""
for _ in $(seq 300); do
  init=$(pgrep -P "$nspawn_pid" | head -1 || true)
  if [ -n "$init" ]; then
    state=$(nsenter -t "$init" -a systemctl is-system-running 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
  fi
  sleep 0.2
done
[ -n "$init" ] || { tail -20 "$work/nspawn.log"; fail "the container did not boot"; }
inside() { nsenter -t "$init" -a "$@"; }
for _ in $(seq 100); do
  [ -s "$root/var/lib/autoprov/reset.log" ] && break
  sleep 0.1
done

step "the unit"
[ "$(inside systemctl is-active autoprov)" = active ] || { inside systemctl status autoprov --no-pager; fail "not active"; }
status=$(inside systemctl show -p StatusText --value autoprov)
echo "STATUS: $status"
case $status in idle* | running*) ;; *) fail "STATUS is '$status'" ;; esac
resets=$(cat "$root/var/lib/autoprov/reset.log" 2>/dev/null | wc -l)
[ "$resets" -eq 1 ] || { inside journalctl -u autoprov --no-pager | tail -20; fail "the ResetCommand ran $resets times"; }
inside grep -q ':13C4 ' /proc/net/udp || fail "the SIP port 5060 is not bound"

step "the journal"
journal() { inside journalctl -u autoprov --no-pager -o json "$@"; }
failed=$(journal AUTOPROV_OUTCOME=failed)
grep -q '"AUTOPROV_KIND":"cpt"' <<<"$failed" || { inside journalctl -u autoprov --no-pager -o verbose | grep -E "MESSAGE=|AUTOPROV_|_COMM" | tail -30; fail "no failed cpt step in the journal"; }
grep -q '"PRIORITY":"4"' <<<"$failed" || fail "a failed step is not a warning: $failed"
grep -q '"AUTOPROV_STEP":"' <<<"$failed" || fail "no AUTOPROV_STEP: $failed"
grep -q '"MESSAGE_ID":"' <<<"$failed" || fail "no MESSAGE_ID: $failed"
journal AUTOPROV_OUTCOME=applied | grep -q '"AUTOPROV_KIND":"ini"' || fail "no applied ini step"
started=$(inside journalctl -u autoprov --no-pager -o cat | grep -c 'daemon started on' || true)
[ "$started" -eq 1 ] || fail "'daemon started' logged $started times (once expected)"

step "security exposure"
score=$(inside systemd-analyze security autoprov.service --no-pager | sed -n 's/.*Overall exposure level for autoprov.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security autoprov.service: $score"
awk -v s="$score" 'BEGIN { exit !(s < 3.0) }' || fail "exposure $score is not below 3.0"
mkdir -p "$root/etc/systemd/system/autoprov.service.d"
printf "[Service]\nPrivateDevices=no\nDeviceAllow=/dev/loop0 rw\nReadWritePaths=/boot\n" \
  >"$root/etc/systemd/system/autoprov.service.d/installer.conf"
inside systemctl daemon-reload
score2=$(inside systemd-analyze security autoprov.service --no-pager | sed -n 's/.*Overall exposure level for autoprov.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security autoprov.service with the installer drop-in: $score2"
rm "$root/etc/systemd/system/autoprov.service.d/installer.conf"
inside systemctl daemon-reload

step "stop"
t0=$(date +%s%N)
inside systemctl stop autoprov
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "systemctl stop: $ms ms"
[ "$ms" -lt 2000 ] || fail "stopping took $ms ms"

step "power off, purge"
inside systemctl poweroff >/dev/null 2>&1 || true
for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
chroot "$root" dpkg --purge autoprov >/dev/null 2>&1 || fail "dpkg --purge"
[ ! -e "$root/usr/bin/autoprov" ] || fail "/usr/bin/autoprov left behind"
[ ! -e "$root/lib/systemd/system/autoprov.service" ] || fail "the unit left behind"
echo "package and unit: all checks pass ($SECONDS s)"
