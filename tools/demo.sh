#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# demo.sh: the main job, shown end to end in a throwaway sandbox (a real systemd as PID 1 on an overlay
# of this machine's root; nothing on the host changes): Codebolt 1.4.0 with seeded data, then
#   codebolt-upgrade upgrade 1.5.0 --yes
# (the plan, then codebolt-upgrade@1.5.0.service started and followed live to its result), then
# `codebolt-upgrade status` and `codebolt-upgrade history`.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CBU_BUILD_DIR=${CBU_BUILD:-$src/build}
SB_NAME=demo

[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it boots systemd in a sandbox)" >&2; exit 2; }
"$src/tools/deps.sh"
"$src/tools/build.sh" "$CBU_BUILD_DIR"

source "$src/tests/integration/lib/sandbox.sh"
source "$src/tests/integration/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

show() {
        printf '\n\033[1m# %s\033[0m\n' "$*"
        sb "$@"
}

show codebolt-upgrade status
rc=0
# on this terminal when there is one: the live block; else the time-stamped lines
show codebolt-upgrade upgrade 1.5.0 --yes || rc=$?

printf '\n\033[1m# codebolt-upgrade upgrade 1.5.0 exited %s\033[0m\n' "$rc"
show systemctl status --no-pager --lines=0 codebolt.service || true
show codebolt-upgrade status
show codebolt-upgrade history
printf '\n\033[1m# curl http://127.0.0.1:3456/health\033[0m\n'
sb curl -sS http://127.0.0.1:3456/health
echo
exit "$rc"
