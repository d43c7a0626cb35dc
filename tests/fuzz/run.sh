#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# run.sh FUZZER NAME SRC OUT [libFuzzer options]: one fuzz target as a test of the 'fuzz' suite. Runs
# it for $CBU_FUZZ_SECONDS (20) over three corpus directories: what earlier runs on this machine found
# (OUT/corpus/NAME, where new inputs go), the seeds derived from the fixtures now (OUT/seeds/NAME), and
# the regression inputs kept in the tree (SRC/tests/fuzz/corpus/NAME), each of which is replayed first.
# A crash, leak, timeout, memory blow-up or sanitizer report fails the test; the input that caused it
# is kept in OUT/artifacts/NAME/ and its path printed.
set -euo pipefail
fuzzer=$1 name=$2 src=$3 out=$4
shift 4

seeds=$out/seeds/$name
corpus=$out/corpus/$name
artifacts=$out/artifacts/$name
regressions=$src/tests/fuzz/corpus/$name

rm -rf "$seeds"
mkdir -p "$corpus" "$artifacts"
python3 "$src/tests/fuzz/seeds.py" "$name" "$src" "$seeds"
dirs=("$corpus" "$seeds")
[ -d "$regressions" ] && dirs+=("$regressions")

marker=$(mktemp)
trap 'rm -f "$marker"' EXIT
rc=0
"$fuzzer" -max_total_time="${CBU_FUZZ_SECONDS:-20}" -rss_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$@" "${dirs[@]}" || rc=$?
if [ "$rc" -ne 0 ]; then
        found=0
        while IFS= read -r f; do
                echo "fuzz $name: finding kept in $f (replay: $fuzzer $f)"
                found=1
        done < <(find "$artifacts" -type f -newer "$marker")
        [ "$found" = 1 ] || echo "fuzz $name: $fuzzer failed with status $rc and kept no input"
        exit 1
fi
