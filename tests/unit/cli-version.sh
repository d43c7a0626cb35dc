#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cli-version.sh CLI VERSION
#
# `codebolt-upgrade --version` prints "codebolt-upgrade VERSION", VERSION being meson's project(version:),
# the one place the version is set; it needs no configuration (a broken one must not matter) and exits 0.
# `--help` too exits 0 on a broken configuration, and shows the common flows as examples (upgrade, see
# what happened, roll back after a success, clear a failed version), each naming a command it lists.
set -u
cli=$1 version=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/codebolt-upgrade"
printf '[Nonsense]\nKey=1\n' >"$root/etc/codebolt-upgrade/upgrade.conf"
export CODEBOLT_UPGRADE_ROOT=$root

failed=0
out=$("$cli" --version 2>&1)
code=$?
if [ "$code" != 0 ]; then
        echo "FAIL: --version exited $code ($out)"
        failed=1
fi
if [ "$out" != "codebolt-upgrade $version" ]; then
        echo "FAIL: --version printed '$out', not 'codebolt-upgrade $version'"
        failed=1
fi
help=$("$cli" --help 2>&1)
code=$?
if [ "$code" != 0 ]; then
        echo "FAIL: --help exited $code ($help)"
        failed=1
fi
examples=$(sed -n '/^Examples:$/,/^$/p' <<<"$help")
for want in 'codebolt-upgrade upgrade ' 'systemctl start codebolt-upgrade@' 'codebolt-upgrade status' 'codebolt-upgrade rollback ' \
        'codebolt-upgrade clear ' 'codebolt-upgrade plan '; do
        grep -qF -- "$want" <<<"$examples" || {
                echo "FAIL: --help shows no example of '$want'"
                failed=1
        }
done
while read -r verb; do
        grep -qE "^  $verb( |\$)" <<<"$help" || {
                echo "FAIL: --help's example uses '$verb', which its Commands do not list"
                failed=1
        }
done < <(grep -oE '^  codebolt-upgrade [a-z-]+' <<<"$examples" | awk '{print $2}')
[ "$failed" = 0 ] && echo "--version: codebolt-upgrade $version; --help shows the common flows"
exit "$failed"
