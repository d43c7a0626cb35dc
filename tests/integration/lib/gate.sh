# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# gate.sh: hold a phase helper as its phase starts, once, so that a fault (kill -9, a power cut) lands
# in a phase too short to catch by polling. Sourced after sandbox.sh, once codebolt-upgrade is installed.
#
#   gate_install NAME...   move /usr/libexec/codebolt-upgrade/NAME to /usr/local/lib/cbu-real/NAME and
#                          put the gate in its place; it runs the real helper unless armed
#   gate_arm NAME          the next `NAME <instance>` the upgrade unit runs is held before it starts
#   gate_wait NAME         wait until the gate holds a process; print its pid
#   gate_kill NAME         kill -9 the held process (the upgrade unit's process that would have become NAME)
#   gate_release NAME      let the held process go on: it becomes the real helper
#   gate_catch NAME TEST [SIGNAL]
#                          for a long phase: wait until NAME runs and TEST holds, signal it there and then
#
# The held process is the unit's own Exec process: the gate writes its pid and waits in place until it
# is killed or released. Only the unit's `NAME <instance>` is held: the rollback's `NAME --rollback <instance>` and
# `preflight --skip-if-current <instance>` pass through to the real helper.

CBU_GATE_DIR=/run/cbu-gate
CBU_GATE_REAL=/usr/local/lib/cbu-real
CBU_LIBEXEC=/usr/libexec/codebolt-upgrade

gate_install() {
        local name
        sb install -d -m 0755 "$CBU_GATE_REAL"
        for name in "$@"; do
                sb test -x "$CBU_LIBEXEC/$name" || fail "no helper $CBU_LIBEXEC/$name to put a gate on"
                sb test -e "$CBU_GATE_REAL/$name" || sb mv "$CBU_LIBEXEC/$name" "$CBU_GATE_REAL/$name"
                sb tee "$CBU_LIBEXEC/$name" >/dev/null <<GATE
#!/bin/sh
# a test gate (tests/integration/lib/gate.sh): armed, it holds the first "$name <instance>" until killed
# or released
if [ "\$#" = 1 ] && mv "$CBU_GATE_DIR/$name.armed" "$CBU_GATE_DIR/$name.fired" 2>/dev/null; then
        echo "\$\$" >"$CBU_GATE_DIR/$name.pid.new" && mv "$CBU_GATE_DIR/$name.pid.new" "$CBU_GATE_DIR/$name.pid"
        while ! rm "$CBU_GATE_DIR/$name.go" 2>/dev/null; do sleep 0.1; done
fi
exec "$CBU_GATE_REAL/$name" "\$@"
GATE
                sb chmod 0755 "$CBU_LIBEXEC/$name"
        done
}

gate_arm() {
        sb install -d -m 0755 "$CBU_GATE_DIR"
        sb rm -f "$CBU_GATE_DIR/$1.pid" "$CBU_GATE_DIR/$1.fired" "$CBU_GATE_DIR/$1.go"
        sb touch "$CBU_GATE_DIR/$1.armed"
}

# gate_wait NAME [SECONDS]: the pid the gate holds (default: wait up to 120 s)
gate_wait() {
        local name=$1 pid
        for _ in $(seq $((${2:-120} * 5))); do
                pid=$(sb cat "$CBU_GATE_DIR/$name.pid" 2>/dev/null || true)
                if [ -n "$pid" ] && sb kill -0 "$pid" 2>/dev/null; then
                        echo "$pid"
                        return 0
                fi
                sleep 0.2
        done
        return 1
}

gate_kill() {
        local pid
        pid=$(gate_wait "$1") || fail "the upgrade never reached $1: its gate held nothing"
        sb_log "kill -9 of $1 as its phase starts (pid $pid)"
        sb kill -KILL "$pid"
}

gate_release() {
        gate_wait "$1" >/dev/null || fail "the upgrade never reached $1: its gate held nothing"
        sb touch "$CBU_GATE_DIR/$1.go"
}

# gate_catch NAME TEST [SIGNAL]: for a phase long enough to catch mid-work: wait (up to 120 s) until a
# process named NAME runs and the shell test TEST holds inside the sandbox (TEST sees that process as
# $pid); with SIGNAL, send it at once from inside the sandbox, so that the fault lands while TEST still
# holds. Prints the pid. A helper's own children that work beside it (helpers/shared/background.c) bear
# its name: only a NAME whose parent is not a NAME too is taken, the helper itself.
gate_catch() {
        # shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
        sb sh -c '
                end=$(($(date +%s) + 120))
                while [ "$(date +%s)" -lt "$end" ]; do
                        for pid in $(pgrep -x "$1"); do
                                parent=$(ps -o ppid= -p "$pid" | tr -d " ")
                                [ -n "$parent" ] && [ "$(ps -o comm= -p "$parent")" != "$1" ] || continue
                                eval "$2" || continue
                                [ -z "$3" ] || kill "-$3" "$pid" 2>/dev/null || continue
                                echo "$pid"
                                exit 0
                        done
                        sleep 0.05
                done
                exit 1' sh "$1" "$2" "${3:-}"
}
