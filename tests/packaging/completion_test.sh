#!/usr/bin/env bash
# bash completion (packaging/completion/autoprov): subcommands, options, and parameter names from the
# schema the agent reads, an appliance's own (schema.d/) included.
#   completion_test.sh AUTOPROV_BINARY SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/st/schema.d"
ln -s "$bin" "$work/bin/autoprov"
export PATH="$work/bin:$PATH"
cp "$src/examples/schema/appliance.json" "$work/st/schema.d/"
# shellcheck disable=SC1091
source "$src/packaging/completion/autoprov"
failures=0
complete_line() {  # the words typed, the last one being completed
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMP_LINE="$*"
  COMPREPLY=()
  _autoprov
  printf '%s\n' "${COMPREPLY[@]}"
}
expect() {  # expect WANTED -- WORDS...
  local want=$1
  shift 2
  local got
  got=$(complete_line "$@")
  if ! grep -qx -- "$want" <<<"$got"; then
    echo "FAIL: '$*' does not complete to '$want'; got: $(tr '\n' ' ' <<<"$got")"
    failures=$((failures + 1))
  fi
}
expect_not() {
  local unwanted=$1
  shift 2
  if grep -qx -- "$unwanted" <<<"$(complete_line "$@")"; then
    echo "FAIL: '$*' completes to '$unwanted'"
    failures=$((failures + 1))
  fi
}
expect update -- autoprov upd
expect config -- autoprov con
expect set -- autoprov config s
expect validate -- autoprov config va
expect IniFileURL -- autoprov config set Ini
expect IniFileURL -- autoprov --state-dir "$work/st" config set Ini
expect AutoUpdateFrequency -- autoprov config get AutoUpdateFr
expect --json -- autoprov status --js
expect --dry-run -- autoprov update --dr
expect --state-dir -- autoprov update --sta
expect --devices -- autoprov fleet --dev
expect merge -- autoprov fleet me
expect encrypt -- autoprov encr
expect --key-derivation -- autoprov encrypt dev.ini --key-d
expect md5 -- autoprov decrypt dev.ini.enc --key-derivation m
expect --to -- autoprov encrypt dev.ini --t
# Every option `autoprov fleet --help` lists is completed (the list stays in step with the program).
for opt in $("$bin" fleet --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
  [ "$opt" = --help ] || expect "$opt" -- autoprov fleet "$opt"
done
# The appliance's own parameter (examples/schema/appliance.json) completes with its state directory.
own=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["parameters"][0]["name"])' \
  "$src/examples/schema/appliance.json")
expect "$own" -- autoprov --state-dir "$work/st" config set "${own:0:4}"
expect_not "$own" -- autoprov config set "${own:0:4}"
# A value is not completed as a parameter name.
expect_not IniFileURL -- autoprov config set IniFileURL Ini
[ ! -e "$work/st/state.db" ] || { echo "FAIL: completion created state"; failures=$((failures + 1)); }
if [ "$failures" -gt 0 ]; then exit 1; fi
echo "completion: all cases pass"
