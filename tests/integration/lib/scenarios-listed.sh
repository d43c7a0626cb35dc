#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# scenarios-listed.sh DIR NAME...: every DIR/*.sh is one of the NAMEs (the `scenarios` list of
# tests/integration/meson.build), and every NAME has its DIR/NAME.sh: a scenario left off the list
# would never run, and a name without its script would fail only when the integration suite runs.
set -euo pipefail
dir=$1
shift
rc=0
declare -A listed=()
for name in "$@"; do
        [ -z "${listed[$name]:-}" ] || { echo "'$name' is in the scenarios list of $dir/meson.build twice" >&2; rc=1; }
        listed[$name]=1
        [ -f "$dir/$name.sh" ] || { echo "'$name' is in the scenarios list of $dir/meson.build, but $dir/$name.sh does not exist" >&2; rc=1; }
done
found=0
for f in "$dir"/*.sh; do
        [ -e "$f" ] || continue
        found=$((found + 1))
        name=$(basename "$f" .sh)
        [ -n "${listed[$name]:-}" ] || { echo "$f is not in the scenarios list of $dir/meson.build: it would never run" >&2; rc=1; }
done
[ "$found" -gt 0 ] || { echo "no scenario found in $dir" >&2; rc=1; }
[ "$rc" != 0 ] || echo "$found scenarios, each in the scenarios list of $dir/meson.build"
exit "$rc"
