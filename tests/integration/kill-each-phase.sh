#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# kill -9 of each phase's helper, one phase after the other on the same deployment (drain: see
# faults-before-stop.sh). Phases too short to catch mid-work are held by a gate as they start
# (lib/gate.sh) and the held process, the upgrade unit's own, is killed there. Before the server stopped
# nothing is touched and the server is never stopped; after it the rollback puts the old version back,
# with the data restored when a migration may have been cut off.
# matrix[kill-preflight]: preflight | kill -9 of the helper as the phase starts | old (refused)
# matrix[kill-stage]: stage | kill -9 of the helper while npm installs | old (aborted)
# matrix[kill-backup]: backup | kill -9 of the helper while it copies the stores | old (aborted)
# matrix[kill-snapshot]: snapshot | kill -9 of the helper as the phase starts | old (rolled-back)
# matrix[kill-switch]: switch | kill -9 of the helper as the phase starts | old (rolled-back)
# matrix[kill-migrations]: migrations | kill -9 of the helper mid-migration | old (restored)
# matrix[kill-smoke]: smoke | kill -9 of the helper while the test agent runs | old (rolled-back)
# matrix[kill-finish]: finish | kill -9 of the helper as the phase starts (smoke passed) | old (rolled-back)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"
source "$(dirname "$0")/lib/cells.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
gate_install preflight snapshot switch finish

# cell_result WHAT: the result the rollback of the cell's upgrade wrote, once the kill failed the unit
cell_result() {
        local result id out
        result=$(cbu_wait_rollback "$cell_version" "$cell_entries") || fail "$1: $result"
        # systemd's own line about this run of the unit
        id=$(sb systemctl show -P InvocationID "codebolt-upgrade@$cell_version.service")
        out=$(sb journalctl --no-pager -o cat INVOCATION_ID="$id")
        grep -qF 'status=9/KILL' <<<"$out" ||
                fail "$1: no process of codebolt-upgrade@$cell_version.service died of SIGKILL in its last run"
        echo "$result"
}

# expect_untouched WHAT RESULT: a kill before the server stopped: the ledger says RESULT, and the server
# was never stopped and serves 1.4.0 on the same data, with nothing of the version staged
expect_untouched() {
        local result
        result=$(cell_result "$1")
        [ "$result" = "$2" ] || fail "$1: the ledger says '$result' for $cell_version, not $2"
        [ "$(sb systemctl show -P InvocationID codebolt.service)" = "$cell_server" ] ||
                fail "$1: the server was stopped or restarted"
        cell_expect_unchanged "$1"
}

# expect_rolled_back WHAT RESULT: a kill after the server stopped: the old version and its data back
expect_rolled_back() {
        local result
        result=$(cell_result "$1")
        [ "$result" = "$2" ] || fail "$1: the rollback of $cell_version ended '$result', not $2"
        cell_expect_old "$1" "$2"
}

# preflight, as it starts: it never opened the upgrade, so its rollback finds nothing to undo
gate_arm preflight
cell_start 1.5.0
gate_kill preflight
expect_untouched "kill -9 in preflight" refused
cell_observe kill-preflight

# stage, while npm installs the version into the staging directory
cell_start 1.5.0
# shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
pid=$(gate_catch stage 'pgrep -P "$pid" >/dev/null && [ -d /opt/codebolt/releases/.1.5.0.staging ]' KILL) ||
        fail "stage never ran npm"
sb_log "kill -9 of stage while npm installs (pid $pid)"
expect_untouched "kill -9 in stage" aborted
cell_observe kill-stage

# backup, once it copies the stores (after the database dump, before the trial restore)
cell_start 1.5.0
pid=$(gate_catch backup 'ls -d /backups/codebolt/*.partial/stores >/dev/null 2>&1' KILL) ||
        fail "backup never copied a store"
sb_log "kill -9 of backup while it copies the stores (pid $pid)"
expect_untouched "kill -9 in backup" aborted
cell_observe kill-backup

# snapshot, as it starts: the server is stopped, nothing of 1.5.0 ran yet
gate_arm snapshot
cell_start 1.5.0
gate_kill snapshot
expect_rolled_back "kill -9 in snapshot" rolled-back
cell_observe kill-snapshot

# switch, as it starts
gate_arm switch
cell_start 1.5.0
gate_kill switch
expect_rolled_back "kill -9 in switch" rolled-back
cell_observe kill-switch

# migrations: 1.5.6 takes 8 s over each one; migrate-watch dies while the first is applying, so it may
# have been cut off and the data comes back from the snapshot
cell_start 1.5.6
pid=$(gate_catch migrate-watch \
        'jq -e "any(.migrations[]?; .state == \"applying\")" /var/lib/codebolt-upgrade/default/current.json >/dev/null 2>&1' KILL) ||
        fail "the upgrade to 1.5.6 never reached a migration in flight"
sb_log "kill -9 of migrate-watch mid-migration (pid $pid)"
expect_rolled_back "kill -9 in migrations" restored
[ "$(cbu_psql -c "SELECT count(*) FROM schema_migrations WHERE id LIKE '202603%'")" = 0 ] ||
        fail "kill -9 in migrations: 1.5.6's migrations are still in the database after the restore"
cell_observe kill-migrations

# smoke, while it waits for the smoke-test agent
cell_start 1.5.0
pid=$(gate_catch smoke \
        'systemctl show -P StatusText codebolt-upgrade@1.5.0.service | grep -q "wait for the smoke-test agent"' KILL) ||
        fail "the smoke test never waited for its agent"
sb_log "kill -9 of smoke while the test agent runs (pid $pid)"
expect_rolled_back "kill -9 in smoke" rolled-back
cell_observe kill-smoke

# finish, as it starts: the smoke test passed, nothing is recorded yet. The unit failed, so its rollback
# applies the table: the server was stopped and no migration is breaking, a minor rollback. (A power cut
# at the same point is finished at boot instead: power-cut-each-phase.sh.)
gate_arm finish
cell_start 1.5.0
gate_kill finish
expect_rolled_back "kill -9 in finish" rolled-back
cell_observe kill-finish

# nothing a killed phase left behind stops the next attempt, which cleans it up
sb_log "systemctl start codebolt-upgrade@1.5.0"
sb systemctl start codebolt-upgrade@1.5.0.service || fail "1.5.0 did not upgrade after the killed attempts"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "the server does not run 1.5.0 in the end"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .result')" = succeeded ] || fail "the ledger does not say 1.5.0 succeeded"
leftovers=$(sb sh -c 'ls -d /backups/codebolt/*.partial /opt/codebolt/releases/.*.staging 2>/dev/null' || true)
[ -z "$leftovers" ] || fail "left behind by the killed phases: $leftovers"
scratch=$(sb runuser -u postgres -- psql -X -tA -c "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE 'codebolt\_verify\_%'")
[ -z "$scratch" ] || fail "scratch databases of a trial restore are left: $scratch"
sb_log "PASS"
