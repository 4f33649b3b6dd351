#!/usr/bin/env bash
# The module arrows are enforced by the build (top-level CMakeLists.txt, AUTOPROV_ARROWS): for every module
# and every other module, a source file in the first that includes a header of the second compiles exactly
# when the arrow allows it. Any disagreement fails.
#   tests/architecture/arrows_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
modules=(common config store transfer signing device engine triggers cli fleet)
# One header of each module to include.
declare -A header=([common]=common/error.hpp [config]=config/configuration.hpp [store]=store/state_store.hpp
                   [transfer]=transfer/transfer.hpp [signing]=signing/signature.hpp [device]=device/identity.hpp [engine]=engine/sequence.hpp
                   [triggers]=triggers/daemon.hpp [cli]=cli/shell.hpp [fleet]=fleet/fleet.hpp)
# The allowed arrows, read from the one statement of them.
declare -A allowed
while IFS= read -r edge; do
  from=${edge%%->*}
  allowed[$from]=" ${edge#*->} "
done < <(sed -n '/set(AUTOPROV_ARROWS/,/)/p' "$src/CMakeLists.txt" | grep -o '"[a-z]*->[a-z,]*"' | tr -d '"' | tr ',' ' ')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 checks=0
for from in "${modules[@]}"; do
  flags=()
  while IFS= read -r dir; do
    case "$dir" in "" | /usr/include) ;; *) flags+=("-I$dir") ;; esac
  done < "$build/arrows/$from.txt"
  for to in "${modules[@]}"; do
    [ "$from" = "$to" ] && continue
    printf '#include "%s"\n' "${header[$to]}" > "$work/probe.cpp"
    if g++ -std=c++23 -fsyntax-only "${flags[@]}" "$work/probe.cpp" 2>/dev/null; then
      compiles=yes
    else
      compiles=no
    fi
    expect=no
    [[ "${allowed[$from]:-}" == *" $to "* ]] && expect=yes
    checks=$((checks + 1))
    if [ "$compiles" != "$expect" ]; then
      echo "arrow $from -> $to: allowed=$expect but the include compiles=$compiles"
      failures=$((failures + 1))
    fi
  done
done
echo "$checks module pairs checked, $failures disagreements"
[ "$failures" -eq 0 ]
