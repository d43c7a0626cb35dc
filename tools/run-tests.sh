#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-tests.sh: the whole test suite on a Debian 12 machine, as root: installs what it needs, builds
# with sanitizers, checks formatting, runs the Check unit tests and every integration scenario (each
# boots systemd in its own sandbox), and ends with one "N passed, N failed" line from meson's results.
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CBU_BUILD:-$src/build}

[ "$(id -u)" = 0 ] || { echo "run-tests.sh: run as root (the scenarios boot systemd in sandboxes)" >&2; exit 2; }
"$src/tools/deps.sh" || exit 2
"$src/tools/build.sh" "$build" || { echo "run-tests.sh: the build failed" >&2; exit 2; }

rc=0
# two at a time: each scenario's sandbox has its own network namespace, so they do not collide
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "${CBU_JOBS:-2}" "$@" || rc=$?

log="$build/meson-logs/testlog.json"
# the fault matrix with what this run showed, when it ran everything
if [ $# -eq 0 ] && [ -s "$log" ]; then
        "$src/tools/reliability.sh" "$build" "$src/docs/reliability.md" ||
                echo "run-tests.sh: could not write docs/reliability.md" >&2
fi
if [ ! -s "$log" ]; then
        echo "run-tests.sh: meson wrote no results" >&2
        echo "0 passed, 1 failed"
        exit 1
fi
jq -rs '
        (map(select(.result == "OK" or .result == "EXPECTEDFAIL")) | length) as $passed |
        (map(select(.result == "SKIP")) | length) as $skipped |
        (length - $passed - $skipped) as $failed |
        (map(select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP") | "  failed: \(.name) (\(.result))") | .[]),
        "\($passed) passed, \($failed) failed" + (if $skipped > 0 then ", \($skipped) skipped" else "" end)
' "$log"
exit "$rc"
