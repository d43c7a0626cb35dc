#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `codebolt-upgrade satisfies VERSION RANGE`, as a hook script calls it: exit 0 yes, 1 no, 2 malformed
# (with the reason on stderr), and no configuration needed (a broken one must not matter).
set -u
cli=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# a configuration that does not load: satisfies must not read it
mkdir -p "$root/etc/codebolt-upgrade"
printf '[Nonsense]\nKey=1\n' >"$root/etc/codebolt-upgrade/upgrade.conf"
export CODEBOLT_UPGRADE_ROOT=$root

failed=0
check() {
        local want=$1 version=$2 range=$3 err code
        err=$("$cli" satisfies "$version" "$range" 2>&1 >/dev/null)
        code=$?
        if [ "$code" != "$want" ]; then
                echo "FAIL: satisfies '$version' '$range' exited $code, not $want ($err)"
                failed=1
        elif [ "$want" = 2 ] && [ -z "$err" ]; then
                echo "FAIL: satisfies '$version' '$range' exited 2 without saying why"
                failed=1
        fi
}
check 0 1.5.0 '>=1.4.0 <2.0.0'
check 0 1.9.3 '^1.5.0 || ^2'
check 0 2.0.0 '1.x || >=2.0.0'
check 1 1.3.9 '>=1.4.0'
check 1 1.5.0-rc.1 '>=1.4.0'
check 0 1.5.0-rc.1 '>=1.5.0-rc.0 <1.5.0'
check 2 1.5 '>=1'
check 2 v1.5.0 '>=1'
check 2 1.5.0 '>=>1'
check 2 1.5.0 '1.x.3'
"$cli" satisfies 1.5.0 >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: satisfies with one argument does not exit 2"; failed=1; }
[ "$failed" = 0 ] && echo "satisfies: every case as expected"
exit "$failed"
