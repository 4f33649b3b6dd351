#!/usr/bin/env bash
# Builds the Debian package (debian/, debhelper compat 13) from a clean copy of the source tree:
#   scripts/build-deb.sh [OUTDIR] [--arch ARCH]    -> OUTDIR/autoprov_<version>_<arch>.deb (+ -dbgsym)
# --arch arm64 cross-builds (scripts/setup-cross.sh installs what it needs).
# A native build runs dpkg-buildpackage as every Debian builder does (dh_auto_test included: it
# checks the built agent, debian/rules says how; DEB_BUILD_OPTIONS=nocheck skips it). Needs the
# packages scripts/setup.sh installs (debhelper, scdoc, the build dependencies in debian/control).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$src/build/deb}" && cd "${1:-$src/build/deb}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/autoprov"
# The files git knows (or every file but build/ outside a checkout), and the commit for --version.
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work/autoprov")
  commit=$(git -C "$src" rev-parse --short=12 HEAD)
else
  (cd "$src" && tar --exclude=./build -cf - .) | (cd "$work/autoprov" && tar -xf -)
  commit=""
fi
cd "$work/autoprov"
export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-}"
export AUTOPROV_GIT_COMMIT="$commit"
arch_args=()
if [ "${2:-}" = "--arch" ]; then
  arch_args=(-a "$3" -d)  # the :ARCH build dependencies are checked by scripts/setup-cross.sh
  export DEB_BUILD_PROFILES="cross nocheck"
fi
dpkg-buildpackage -us -uc -b "${arch_args[@]}" >"$work/build.log" 2>&1 || { tail -50 "$work/build.log"; exit 1; }
cp "$work"/*.deb "$out"/
ls "$out"/*.deb
