#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cli-config-error.sh CLI
#
# A configuration error names file:line: key, and the file name of a drop-in, which comes from a
# directory listing, is escaped: a newline in it cannot forge a second line of the log.
set -u
cli=$1
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dropin=$root/etc/codebolt-upgrade/upgrade.conf.d
mkdir -p "$dropin"
printf '[Server]\nNope=1\n' >"$dropin/evil"$'\n'"<2>codebolt-upgrade: forged.conf"
export CODEBOLT_UPGRADE_ROOT=$root CODEBOLT_UPGRADE_LOG=stderr

failed=0
out=$("$cli" status 2>&1)
code=$?
want="$dropin/evil\\n<2>codebolt-upgrade: forged.conf:2: Server.Nope: unknown key"
if [ "$code" != 2 ]; then
        echo "FAIL: status exited $code with a broken drop-in ($out)"
        failed=1
fi
if [ "$(printf '%s\n' "$out" | wc -l)" != 1 ]; then
        echo "FAIL: one error became several lines:"
        printf '%s\n' "$out"
        failed=1
fi
case "$out" in
*"$want"*) ;;
*)
        echo "FAIL: the message does not name the escaped file, line and key: $out"
        failed=1
        ;;
esac
[ "$failed" = 0 ] && echo "ok: $out"
exit "$failed"
