#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/shellcheck.sh [OPTION...]: shellcheck, with OPTIONs, over every shell file of the tree: each
# *.sh, the scripts without the suffix whose first line runs a shell (tools, hooks, packaging, CI),
# and the bash completion. Sourced libraries name their shell in a `# shellcheck shell=bash` line;
# .shellcheckrc lets it follow `source`.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$src"
command -v shellcheck >/dev/null || { echo "shellcheck not found (tools/deps.sh installs it)" >&2; exit 1; }
mapfile -t files < <(
        {
                find . -name '*.sh' -not -path '*/node_modules/*' -not -path './build*' -type f
                find tools hooks packaging .ci -type f -not -name '*.*' -exec sh -c \
                        'head -n 1 "$1" | grep -qE "^#!.*/(env +)?(ba|da)?sh( |$)"' sh {} \; -print
                find shell-completion/bash -type f
        } | sed 's|^\./||' | sort -u
)
[ ${#files[@]} -gt 0 ] || { echo "no shell files found" >&2; exit 1; }
shellcheck -x "$@" "${files[@]}"
