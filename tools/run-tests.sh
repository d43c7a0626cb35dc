#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-tests.sh: the whole test suite on a Debian 12 machine, as root: installs what it needs, builds
# with sanitizers, checks formatting, runs the Check unit tests and every integration scenario (each
# boots systemd in its own sandbox), then each fuzz target of tests/fuzz for about 20 s (a clang build
# in build-fuzz/), and ends with one "N passed, N failed" line from meson's results of both builds.
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CBU_BUILD:-$src/build}

[ "$(id -u)" = 0 ] || { echo "run-tests.sh: run as root (the scenarios boot systemd in sandboxes)" >&2; exit 2; }
"$src/tools/deps.sh" || exit 2
"$src/tools/build.sh" "$build" || { echo "run-tests.sh: the build failed" >&2; exit 2; }
# the fuzz targets (tests/fuzz) in a clang build of their own, when the whole suite runs; without
# clang that build fails, and so does the run
fuzz_build=${CBU_FUZZ_BUILD:-$src/build-fuzz}
log="$build/meson-logs/testlog.json"
fuzz_log="$fuzz_build/meson-logs/testlog.json"
# no result of an earlier run may stand in for this one's: meson writes no log when nothing ran
rm -f "$log" "$fuzz_log"
# the tree this run tests, for docs/reliability.md: the commit, and whether it had changes on top
run_info="$build/meson-logs/run-info"
mkdir -p "$build/meson-logs"
{
        echo "started=$(date -u +%Y-%m-%dT%H:%MZ)"
        commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null) || commit="no git"
        [ "$commit" = "no git" ] || git -C "$src" diff --quiet HEAD -- 2>/dev/null ||
                commit="$commit with uncommitted changes"
        echo "commit=$commit"
} >"$run_info"
fuzz_build_failed=0
if [ $# -eq 0 ]; then
        "$src/tools/build-fuzz.sh" "$fuzz_build" || {
                echo "run-tests.sh: the fuzz build failed" >&2
                fuzz_build_failed=1
        }
fi

# the tests this selection defines, to compare with the number that ran: one line each ("project:suite
# / name", or the bare name when a --suite is given), after any line of ninja's
count_listed() {
        grep -v -c -e '^ninja: ' -e '^No suitable tests defined' -e '^$'
}
defined=$(meson test -C "$build" --no-rebuild --list "$@" 2>/dev/null | count_listed)
if [ "$defined" = 0 ]; then
        echo "run-tests.sh: no test matches: $*" >&2
        echo "0 passed, 1 failed"
        exit 1
fi
if [ $# -eq 0 ] && [ "$fuzz_build_failed" = 0 ]; then
        fuzz_defined=$(meson test -C "$fuzz_build" --no-rebuild --list --suite fuzz 2>/dev/null | count_listed)
        defined=$((defined + fuzz_defined))
fi

rc=0
# two at a time: each scenario's sandbox has its own network namespace, so they do not collide
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "${CBU_JOBS:-2}" "$@" || rc=$?
# each fuzz target for about 20 s, two at a time
if [ $# -eq 0 ] && [ "$fuzz_build_failed" = 0 ]; then
        meson test -C "$fuzz_build" --no-rebuild --print-errorlogs --num-processes 2 --suite fuzz || rc=$?
fi
[ "$fuzz_build_failed" = 0 ] || rc=1

if [ ! -s "$log" ]; then
        echo "run-tests.sh: meson wrote no results" >&2
        echo "0 passed, 1 failed"
        exit 1
fi
logs=("$log")
[ ! -s "$fuzz_log" ] || logs+=("$fuzz_log")
ran=$(cat "${logs[@]}" | jq -s length)
# a test that did not run (meson interrupted, a fuzz log missing) is a failure, not a smaller total
missing=0
if [ "$ran" != "$defined" ]; then
        echo "run-tests.sh: $defined tests are defined for this selection, $ran ran" >&2
        missing=$((defined > ran ? defined - ran : 1))
        rc=1
fi

# the fault matrix with what this run showed, when it ran everything
if [ $# -eq 0 ] && [ "$missing" = 0 ]; then
        "$src/tools/reliability.sh" "$build" "$src/docs/reliability.md" || {
                echo "run-tests.sh: the fault matrix does not hold: a cell was not observed, or not as asserted (docs/reliability.md)" >&2
                matrix_failed=1
                rc=1
        }
fi
jq -rs --argjson fuzz_build_failed "$fuzz_build_failed" --argjson missing "$missing" --argjson matrix_failed "${matrix_failed:-0}" '
        (map(select(.result == "OK" or .result == "EXPECTEDFAIL")) | length) as $passed |
        (map(select(.result == "SKIP")) | length) as $skipped |
        (length - $passed - $skipped + $fuzz_build_failed + $missing + $matrix_failed) as $failed |
        (map(select(.result != "OK" and .result != "EXPECTEDFAIL" and .result != "SKIP") | "  failed: \(.name) (\(.result))") | .[]),
        (if $fuzz_build_failed > 0 then "  failed: the fuzz build (tools/build-fuzz.sh)" else empty end),
        (if $missing > 0 then "  failed: \($missing) defined tests that did not run" else empty end),
        (if $matrix_failed > 0 then "  failed: the fault matrix (tools/reliability.sh)" else empty end),
        "\($passed) passed, \($failed) failed" + (if $skipped > 0 then ", \($skipped) skipped" else "" end)
' "${logs[@]}"
exit "$rc"
