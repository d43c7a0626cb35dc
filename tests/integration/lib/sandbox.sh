# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# sandbox.sh: boot a real systemd as PID 1 on an overlay of the host root, and drive it the way an
# operator would. Sourced by every scenario. HACKING.md, "Tests".
#
#   sandbox_boot             boot; sets SB_PID (PID 1 as the host sees it) and SB_DIR; tears down on exit
#   sb CMD...                run CMD inside the sandbox (all namespaces, its root, its cwd /)
#   sb_root                  the sandbox's root as a host path (/proc/PID/root)
#   fail MSG                 print MSG and the journal, exit 1
#   observed CELL OUTCOME    the outcome this run observed for the matrix cell CELL (tools/reliability.sh)
#
# Opt-in, for several sandboxes side by side (lib/cluster.sh): SB_NETNS=NAME joins the named network
# namespace /run/netns/NAME instead of making one; CBU_SB_HOSTNAME names the sandbox's host; CBU_SB_MASK
# lists more units to mask in it. sb_spawn and sb_wait_running are sb_start's two halves.
#
# Never boot systemd on the bare host root: its tmpfiles setup empties the host's /tmp.

set -euo pipefail

SB_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034 # the source tree, for the libraries sourced after this one (codebolt.sh)
SB_SRC=$(cd "$SB_LIB/../../.." && pwd)
SB_PID=
SB_DIR=
SB_UNSHARE_PID=
SB_NAME=${SB_NAME:-$(basename "$0" .sh)}
SB_FAILED=0

sb_log() {
        printf '[%s %s] %s\n' "$(date +%T)" "$SB_NAME" "$*"
}

sb() {
        nsenter -t "$SB_PID" -m -p -n -u -i -r -w -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

sb_root() {
        echo "/proc/$SB_PID/root"
}

sandbox_teardown() {
        local rc=$?
        trap - EXIT INT TERM
        if [ -n "$SB_PID" ] && kill -0 "$SB_PID" 2>/dev/null; then
                if [ "$rc" != 0 ] || [ "$SB_FAILED" != 0 ]; then
                        sb_dump_journal || true
                fi
                # killing the namespace's PID 1 ends everything inside it, mounts included
                kill -KILL "$SB_PID" 2>/dev/null || true
        fi
        if [ -n "$SB_UNSHARE_PID" ]; then
                wait "$SB_UNSHARE_PID" 2>/dev/null || true
        fi
        sb_remove_cgroups
        if [ -n "$SB_DIR" ] && [ -d "$SB_DIR" ]; then
                rm -rf --one-file-system "$SB_DIR"
        fi
        exit "$rc"
}

# the sandbox's own cgroups on the host, innermost first, once every process in them is gone
sb_remove_cgroups() {
        local dir _
        [ -n "$SB_DIR" ] && [ -f "$SB_DIR/cgroups" ] || return 0
        while read -r dir; do
                case "$dir" in */cbu-sandbox.*) ;; *) continue ;; esac
                for _ in $(seq 50); do
                        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
                        [ -d "$dir" ] || break
                        sleep 0.1
                done
        done <"$SB_DIR/cgroups"
}

sb_dump_journal() {
        echo "----- journal of the sandbox (codebolt units, last 300 lines) -----"
        sb journalctl -b --no-pager -o short-monotonic -u 'codebolt*' | tail -n 300
        echo "----- failed units -----"
        sb systemctl --failed --no-pager || true
        echo "-------------------------------------------------------------------"
}

fail() {
        SB_FAILED=1
        echo "FAIL: $*" >&2
        exit 1
}

sandbox_boot() {
        [ "$(id -u)" = 0 ] || { echo "integration tests need root (unshare, mounts)" >&2; exit 1; }
        SB_DIR=$(mktemp -d /var/tmp/cbu-sandbox.XXXXXX)
        trap sandbox_teardown EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        sb_start
}

# sandbox_power_cut: the machine dies at once: PID 1 and everything in the sandbox are killed, nothing
# is flushed or stopped. With SB_DISK=1 the overlay's upper layer is on disk and survives for
# sandbox_boot_again, as a disk does a power cut.
sandbox_power_cut() {
        [ "${SB_DISK:-0}" = 1 ] || fail "sandbox_power_cut needs SB_DISK=1 (the upper layer on disk)"
        sb_log "power cut"
        kill -KILL "$SB_PID" 2>/dev/null || true
        wait "$SB_UNSHARE_PID" 2>/dev/null || true
        sb_remove_cgroups
        SB_PID=
        SB_UNSHARE_PID=
}

# sandbox_boot_again: boot a new systemd on the same upper layer, after sandbox_power_cut
sandbox_boot_again() {
        { [ -n "$SB_DIR" ] && [ -z "$SB_PID" ]; } || fail "sandbox_boot_again without a power cut first"
        sb_start
}

sb_start() {
        sb_spawn
        sb_wait_running
}

# sb_spawn: start sandbox-init.sh in new namespaces; sets SB_UNSHARE_PID
sb_spawn() {
        local join=() net=--net
        if [ -n "${SB_NETNS:-}" ]; then
                join=(nsenter "--net=/run/netns/$SB_NETNS")
                net=
        fi
        # SB_DISK=1: the layers live in $SB_DIR on disk, not on a tmpfs that dies with the sandbox
        # shellcheck disable=SC2086 # $net: one option or none
        CBU_SB_DISK=${SB_DISK:-0} "${join[@]}" unshare --pid --fork --mount --uts $net --ipc --propagation private \
                "$SB_LIB/sandbox-init.sh" "$SB_DIR/layers" "$SB_DIR/cgroups" >>"$SB_DIR/init.log" 2>&1 &
        SB_UNSHARE_PID=$!
}

# sb_wait_running: until the systemd that sb_spawn started is running; sets SB_PID
sb_wait_running() {
        for _ in $(seq 100); do
                SB_PID=$(pgrep -P "$SB_UNSHARE_PID" || true)
                [ -n "$SB_PID" ] && [ "$(cat "/proc/$SB_PID/comm" 2>/dev/null)" = systemd ] && break
                SB_PID=
                sleep 0.1
        done
        [ -n "$SB_PID" ] || { cat "$SB_DIR/init.log" >&2; fail "systemd did not start in the sandbox"; }

        # the manager's bus socket appears a moment after exec; --wait needs it
        for _ in $(seq 300); do
                [ -S "/proc/$SB_PID/root/run/systemd/private" ] && break
                sleep 0.1
        done
        local state
        state=$(timeout 120 nsenter -t "$SB_PID" -m -p -n -u -i -r -w systemctl is-system-running --wait 2>/dev/null || true)
        case "$state" in
        running | degraded) ;;
        *) fail "the sandboxed systemd did not reach running (state: ${state:-none})" ;;
        esac
        sb_log "systemd is up in the sandbox (host pid $SB_PID, state $state)"
}

# sb_journal UNIT: that unit's messages of this boot, one a line (read whole: a `grep -q` straight on a
# pipe would end journalctl early and, with pipefail, fail the check that matched)
sb_journal() {
        # what was logged a moment ago is in the journal's files before it is read
        sb journalctl --sync
        sb journalctl -b --no-pager -o cat -u "$1"
}

# sb_cursor: the journal's cursor now, so that a check reads only what a step logged after it
sb_cursor() {
        local c
        sb journalctl --sync
        c=$(sb journalctl -n0 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
        [ -n "$c" ] || return 1
        echo "$c"
}

# sb_journal_since CURSOR [MATCH...]: the messages after CURSOR (journalctl matches and options)
sb_journal_since() {
        local c=$1
        shift
        sb journalctl --sync
        sb journalctl --no-pager -o cat --after-cursor "$c" "$@"
}

# sb_phase_logged CURSOR PHASE TEXT: a message of the upgrade's PHASE (its CODEBOLT_UPGRADE_PHASE field)
# logged after CURSOR contains TEXT
sb_phase_logged() {
        local out
        out=$(sb_journal_since "$1" CODEBOLT_UPGRADE_PHASE="$2") || return 1
        grep -qF -- "$3" <<<"$out"
}

# observed CELL OUTCOME: the outcome the scenario's checks just established for its matrix cell CELL
# (a "# matrix[CELL]:" line), on the test's stdout, which meson keeps in testlog.json; reached only when
# those checks passed, since fail exits
observed() {
        printf 'observed: %s %s\n' "$1" "$2"
}

# sb_journal_has UNIT TEXT: the unit's journal has a line containing TEXT
sb_journal_has() {
        local out
        out=$(sb_journal "$1")
        grep -qF -- "$2" <<<"$out"
}
