#!/usr/bin/env bash
# Formats every C++ file of the project with .clang-format (Google style, 100 columns), or with --check
# reports the files that are not formatted and fails (CI runs the check).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc')
if [ "${1:-}" = "--check" ]; then
  if ! clang-format --dry-run --Werror "${files[@]}" 2> /tmp/autoprov-format.log; then
    grep -o '^[^:]*:[0-9]*:[0-9]*' /tmp/autoprov-format.log | cut -d: -f1 | sort -u | sed 's/^/not formatted: /'
    echo "run: bash scripts/format.sh" >&2
    exit 1
  fi
  echo "format check: ${#files[@]} files formatted"
else
  clang-format -i "${files[@]}"
fi
