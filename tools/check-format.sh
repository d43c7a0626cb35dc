#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# check-format.sh: every C file of the tree is formatted as .clang-format says
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"
mapfile -t files < <(find helpers generators tests -name '*.[ch]' -not -path '*/node_modules/*' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no C files found" >&2; exit 1; }
clang-format --dry-run --Werror "${files[@]}"
