#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# unit-exposure.sh GENERATOR UNITS_BUILD_DIR UNITDIR LIBEXECDIR GENERATOR_FIXTURE EXPOSURE DOC
#
# Scores every service the project ships (the built units in UNITS_BUILD_DIR, as meson installs them)
# and every one the generator writes for GENERATOR_FIXTURE (a root with an extra deployment and the
# unattended upgrade) with `systemd-analyze security --offline=yes`, and fails when a unit's exposure
# is above the "after" value recorded for it in EXPOSURE, when a unit has no line there or a line
# names no unit, or when DOC's "Unit exposure" table does not quote the same numbers.
set -euo pipefail

generator=$1 units=$2 unitdir=$3 libexecdir=$4 fixture=$5 exposure=$6 doc=$7
tmp=$(mktemp -d /var/tmp/cbu-unit-exposure.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0

fail() {
        echo "FAIL: $*" >&2
        failed=1
}

command -v systemd-analyze >/dev/null || {
        echo "FAIL: systemd-analyze not found" >&2
        exit 1
}

# the shipped units where meson installs them, the generator's output beside them in /etc
root=$tmp/root
mkdir -p "$root$unitdir" "$root/etc/systemd/system" "$root$libexecdir"
cp "$units"/*.service "$units"/*.timer "$root$unitdir/"
cp -a "$fixture/etc" "$root/"
printf '#!/bin/sh\n' >"$root$libexecdir/auto"
chmod +x "$root$libexecdir/auto"
gen=$tmp/gen
mkdir -p "$gen"
CODEBOLT_UPGRADE_ROOT=$root CODEBOLT_UPGRADE_LOG=stderr "$generator" "$gen" "$gen" "$gen" 2>"$tmp/gen.log" ||
        fail "the generator exited $?: $(cat "$tmp/gen.log")"
find "$gen" -maxdepth 1 -name '*.service' -exec cp {} "$root/etc/systemd/system/" \;

# every service unit, shipped or generated: the generator's drop-ins for the server units are not ours
mapfile -t found < <( (cd "$units" && ls -- *.service) ; (cd "$gen" && find . -maxdepth 1 -name '*.service' -printf '%f\n'))
[ "${#found[@]}" -gt 0 ] || fail "no unit found in $units and $gen"

declare -A after before
while read -r unit b a; do
        case "$unit" in '' | '#'*) continue ;; esac
        before[$unit]=$b
        after[$unit]=$a
done <"$exposure"

for unit in "${found[@]}"; do
        [ -n "${after[$unit]:-}" ] || {
                fail "$unit: no line in $exposure (run systemd-analyze security on it and record it)"
                continue
        }
        name=$unit
        case "$unit" in *@.service) name=${unit%@.service}@1.5.0.service ;; esac
        out=$(LC_ALL=C.UTF-8 systemd-analyze security --offline=yes --no-pager --root="$root" "$name" 2>&1) ||
                true
        score=$(printf '%s\n' "$out" | sed -nE 's/.*Overall exposure level for [^:]*: ([0-9]+\.[0-9]+) .*/\1/p')
        if [ -z "$score" ]; then
                fail "$unit: systemd-analyze security gave no score: $out"
                continue
        fi
        if awk -v s="$score" -v a="${after[$unit]}" 'BEGIN { exit !(s > a) }'; then
                fail "$unit: exposure $score is above the recorded ${after[$unit]}; what it leaves open:"$'\n'"$(printf '%s\n' "$out" | grep '^✗' || true)"
        else
                echo "ok $unit $score (recorded ${after[$unit]})"
        fi
done
# no grep -q: it would stop reading at the first match, and pipefail would count printf's SIGPIPE
for unit in "${!after[@]}"; do
        printf '%s\n' "${found[@]}" | grep -xF -- "$unit" >/dev/null || fail "$exposure names $unit, which is neither shipped nor generated"
done

# docs/security.md quotes the same numbers: | `unit` | before | after | why |
for unit in "${!after[@]}"; do
        row=$(grep -F "| \`$unit\` |" "$doc" || true)
        [ -n "$row" ] || {
                fail "$doc: no row for $unit in the Unit exposure table"
                continue
        }
        IFS='|' read -r _ _ b a _ <<<"$row"
        b=${b// /} a=${a// /}
        if [ "$b" != "${before[$unit]}" ] || [ "$a" != "${after[$unit]}" ]; then
                fail "$doc: $unit says $b → $a, $exposure says ${before[$unit]} → ${after[$unit]}"
        fi
done
exit "$failed"
