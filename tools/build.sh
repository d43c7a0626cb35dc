#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# build.sh [DIR]: the dev build the tests and the demo use (sanitizers, warnings as errors), in DIR
# (default build/), configured for the usual FHS paths so that `meson install` inside a sandbox puts
# every file where the units expect it.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-$src/build}
# --reconfigure on an existing build: the tools the tests need (npm, scdoc, clang-format, shellcheck …)
# are looked for at configure time, and one installed since must be seen, not stand in as missing
reconfigure=()
[ ! -f "$dir/build.ninja" ] || reconfigure=(--reconfigure)
meson setup "${reconfigure[@]}" "$dir" "$src" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
        -Dwerror=true -Db_sanitize=address,undefined >/dev/null
ninja -C "$dir" >/dev/null
