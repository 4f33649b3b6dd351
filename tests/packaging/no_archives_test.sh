#!/usr/bin/env bash
# No package or archive is tracked outside the test fixtures (issue: truthful reports): a binary
# package in the tree is what a build would install unseen, and it bloats every clone. Checks each
# tracked file's name and its first bytes (ar/.deb, zip, gzip, xz, bzip2, zstd, tar, rpm, 7z).
# Usage: no_archives_test.sh SOURCE_DIR. Exit 77 (skipped) outside a git checkout.
set -euo pipefail
cd "$1"
git rev-parse --git-dir >/dev/null 2>&1 || { echo "not a git checkout: nothing to check"; exit 77; }
git ls-files -z | python3 -c '
import sys
# Test fixtures may hold archives on purpose (a hostile server serving one, a fuzzer corpus).
allowed = ("tests/data/", "tests/integration/servers/data/", "fuzz/corpus/")
names = (".deb", ".udeb", ".rpm", ".apk", ".ipk", ".tar", ".tgz", ".tar.gz", ".tar.xz", ".tar.bz2",
         ".tar.zst", ".zip", ".7z", ".gz", ".xz", ".bz2", ".zst", ".jar", ".whl", ".a", ".so")
magic = {b"!<arch>\n": "ar archive (.deb)", b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip",
         b"\xfd7zXZ\x00": "xz", b"BZh": "bzip2", b"\x28\xb5\x2f\xfd": "zstd",
         b"\xed\xab\xee\xdb": "rpm", b"7z\xbc\xaf\x27\x1c": "7z"}
bad = []
for path in sys.stdin.buffer.read().split(b"\0"):
    if not path:
        continue
    name = path.decode()
    if name.startswith(allowed):
        continue
    why = next((n for n in names if name.endswith(n)), None)
    try:
        with open(name, "rb") as f:
            head = f.read(512)
    except OSError:
        continue
    why = why or next((v for k, v in magic.items() if head.startswith(k)), None)
    if len(head) > 262 and head[257:262] == b"ustar":
        why = why or "tar"
    if why:
        bad.append(f"{name}: {why}")
for b in bad:
    print(f"tracked package or archive outside the test fixtures: {b}")
sys.exit(1 if bad else 0)
'
echo "no package or archive tracked outside the test fixtures"
