#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# demo.sh: the main job, shown end to end in a throwaway sandbox (a real systemd as PID 1 on an overlay
# of this machine's root; nothing on the host changes): Codebolt 1.4.0 with seeded data, then
#   systemctl start codebolt-upgrade@1.5.0
# then `codebolt-upgrade status`, `codebolt-upgrade history` and the upgrade's journal.
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
sb_log "starting the upgrade; its journal follows"
sb journalctl -f -n 0 -o short -u codebolt-upgrade@1.5.0.service -u codebolt.service &
follower=$!
rc=0
sb systemctl start codebolt-upgrade@1.5.0.service || rc=$?
sleep 1
kill "$follower" 2>/dev/null || true
wait "$follower" 2>/dev/null || true

printf '\n\033[1m# systemctl start codebolt-upgrade@1.5.0 exited %s\033[0m\n' "$rc"
show systemctl status --no-pager --lines=0 codebolt.service || true
show codebolt-upgrade status
show codebolt-upgrade history
printf '\n\033[1m# curl http://127.0.0.1:3456/health\033[0m\n'
sb curl -sS http://127.0.0.1:3456/health
echo
exit "$rc"
