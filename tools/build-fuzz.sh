#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# build-fuzz.sh [DIR]: the clang build of the libFuzzer targets in tests/fuzz (default build-fuzz/):
# the library with -fsanitize=fuzzer-no-link,address,undefined, the targets with -fsanitize=fuzzer,
# nothing else of the tree. Fails when clang is missing (tools/deps.sh installs it).
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$src/build-fuzz}
command -v clang >/dev/null || { echo "build-fuzz.sh: clang not found (tools/deps.sh installs it)" >&2; exit 1; }
if [ ! -f "$dir/build.ninja" ]; then
        CC=clang meson setup "$dir" "$src" -Dfuzz=true -Dtests=false -Dman=disabled \
                -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
out=$(ninja -C "$dir" 2>&1) || { printf '%s\n' "$out" >&2; exit 1; }
