#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# cli-version.sh CLI VERSION
#
# `codebolt-upgrade --version` prints "codebolt-upgrade VERSION", VERSION being meson's project(version:),
# the one place the version is set; it needs no configuration (a broken one must not matter) and exits 0.
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
[ "$failed" = 0 ] && echo "--version: codebolt-upgrade $version"
exit "$failed"
