#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# man.sh UNITS_SOURCE_DIR CONFIG_C PAGE...
#
# Every built man page renders with `man -l` without a single warning (man's, groff's, tbl's), in UTF-8
# at 80 columns, and its title is the page's own name; every man: page that a unit template in
# UNITS_SOURCE_DIR names in Documentation= is one of the built pages; and codebolt-upgrade.conf(5)
# documents exactly the keys the parser (CONFIG_C, helpers/lib/config.c) accepts, each in its section.
set -u
units=$1 config_c=$2
shift 2
failed=0

fail() {
        echo "FAIL: $*"
        failed=1
}

command -v man >/dev/null || {
        echo "man not found (tools/deps.sh installs man-db and groff-base)"
        exit 1
}

declare -A built=()
for page in "$@"; do
        name=$(basename "$page")
        built[$name]=1
        if [ ! -s "$page" ]; then
                fail "$name is empty or missing"
                continue
        fi
        # the title man shows: the file name without the section, "@" included (scdoc cannot write it)
        title=$(sed -n 's/^\.TH "\([^"]*\)" "\([^"]*\)".*/\1.\2/p' "$page")
        [ "$title" = "$name" ] || fail "$name: its .TH says '$title'"
        out=$(MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
        code=$?
        [ "$code" = 0 ] || fail "$name: man exited $code"
        [ -z "$out" ] || fail "$name: $out"
done

for unit in "$units"/*.in; do
        docs=$(sed -n 's/^Documentation=//p' "$unit")
        [ -n "$docs" ] || fail "$(basename "$unit"): no Documentation="
        for doc in $docs; do
                case $doc in
                man:*\(*\))
                        # man:codebolt-upgrade@.service(8) is the page codebolt-upgrade@.service.8
                        ref=${doc#man:}
                        section=${ref##*\(}
                        file=${ref%\(*}.${section%\)}
                        [ -n "${built[$file]:-}" ] || fail "$(basename "$unit"): $doc is not a page of this build"
                        ;;
                man:*)
                        fail "$(basename "$unit"): $doc names no section"
                        ;;
                esac
        done
        grep -q '^Documentation=man:' "$unit" || fail "$(basename "$unit"): no Documentation=man: page"
done

# the keys of config.c's table, KEY("Section", "Name", …) or KEY_WHY(…), against the page's
# "[Section] SECTION" headers and the "*Name=*" terms under them (a term is the line before an
# indented block: .RS)
conf5=
for page in "$@"; do
        [ "$(basename "$page")" = codebolt-upgrade.conf.5 ] && conf5=$page
done
if [ -z "$conf5" ]; then
        fail "codebolt-upgrade.conf.5 is not among the pages"
else
        parsed=$(tr -d '\n\t ' <"$config_c" | grep -oE 'KEY(_WHY)?\("[A-Za-z]+","[A-Za-z]+"' |
                sed -E 's/KEY(_WHY)?\("([A-Za-z]+)","([A-Za-z]+)"/\2.\3/' | LC_ALL=C sort)
        documented=$(awk '/^\.SH \[[A-Za-z]+\] SECTION/ { s = $2; gsub(/[][]/, "", s); next }
                /^\.SH/ { s = "" }
                /^\.RS/ && term != "" { print term }
                { term = "" }
                s != "" && match($0, /^\\fB[A-Za-z]+=\\fR/) { term = s "." substr($0, 4, RLENGTH - 7) }' "$conf5" |
                LC_ALL=C sort)
        [ -n "$parsed" ] || fail "no KEY(...) found in $config_c"
        missing=$(LC_ALL=C comm -23 <(echo "$parsed") <(echo "$documented"))
        extra=$(LC_ALL=C comm -13 <(echo "$parsed") <(echo "$documented"))
        # shellcheck disable=SC2086 # one key a word
        [ -z "$missing" ] || fail "codebolt-upgrade.conf(5) does not document:" $missing "(man/codebolt-upgrade.conf.5.scd)"
        # shellcheck disable=SC2086
        [ -z "$extra" ] || fail "codebolt-upgrade.conf(5) documents keys the parser does not know:" $extra
fi

# the shipped upgrade.conf (data/upgrade.conf.in) shows every key, commented out, in its section
shipped=$(dirname "$config_c")/../../data/upgrade.conf.in
listed=$(awk '/^\[[A-Za-z]+\]/ { s = substr($0, 2, length($0) - 2); next }
        s != "" && match($0, /^#[A-Za-z]+=/) { print s "." substr($0, 2, RLENGTH - 2) }' "$shipped" | LC_ALL=C sort -u)
missing=$(LC_ALL=C comm -23 <(echo "$parsed") <(echo "$listed"))
extra=$(LC_ALL=C comm -13 <(echo "$parsed") <(echo "$listed"))
# shellcheck disable=SC2086
[ -z "$missing" ] || fail "data/upgrade.conf.in does not show:" $missing
# shellcheck disable=SC2086
[ -z "$extra" ] || fail "data/upgrade.conf.in shows keys the parser does not know:" $extra

[ "$failed" = 0 ] && echo "man: $# pages render without a warning; every unit's pages exist"
exit "$failed"
