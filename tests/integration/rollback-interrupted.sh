#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The rollback itself interrupted in the middle of a full restore. 1.4.0 → 1.5.1: the third migration
# fails, so the rollback restores (the database from the snapshot, the stores from the backup). The
# restore is held between its two renames of the database (codebolt is renamed to codebolt_failed_<id>,
# the snapshot not yet to codebolt): a test session keeps a lock on the snapshot database, so the second
# rename waits there. At that point the rollback helper dies of kill -9, and `systemctl start
# codebolt-rollback@1.5.1` finishes the swap and the rest; then the machine loses power at the same
# point, and the recovery at the next boot finishes it before the server starts.
SB_DISK=1
# matrix[kill-rollback]: rollback | kill -9 of the rollback helper mid-restore | old (restored when started again)
# matrix[power-cut-rollback]: rollback | a crash of the whole machine mid-restore | old (restored at boot)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"
source "$(dirname "$0")/lib/cells.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
gate_install switch

# what a failed release may do to the stores before it dies, so that the restore has them to put back
sb install -d /etc/systemd/system/codebolt.service.d
sb tee /etc/systemd/system/codebolt.service.d/scribble.conf >/dev/null <<'DROPIN'
[Service]
ExecStartPre=/bin/sh -c 'case "$(readlink /opt/codebolt/current)" in *1.5.1) \
        echo junk >/var/lib/codebolt/kg/junk.json; echo changed >>/var/lib/codebolt/kg/graph.json; \
        rm -f /var/lib/codebolt/capabilities/installed.json;; esac'
DROPIN
sb systemctl daemon-reload

cbu_pg() {
        sb runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d postgres "$@"
}

# start_held_restore: the upgrade to 1.5.1, held at the switch (the snapshot is taken) while a test
# session locks the snapshot database (COMMENT ON DATABASE … IS NULL in an open transaction: a
# ShareUpdateExclusiveLock, which a connection to it does not wait for, its ALTER DATABASE … RENAME
# does); then on until the rollback's restore has renamed codebolt away and waits to rename the snapshot
# to codebolt. Sets snapshot.
start_held_restore() {
        local held
        gate_arm switch
        cell_start 1.5.1
        gate_wait switch >/dev/null || fail "the upgrade to 1.5.1 never reached the switch"
        snapshot=$(sb jq -r '.snapshot // empty' "$CBU_STATE/current.json")
        [ -n "$snapshot" ] || fail "current.json names no snapshot at the switch"
        # shellcheck disable=SC2016 # the script runs in the test session's shell, which expands it
        sb systemd-run --quiet --collect --unit=cbu-test-snapshot-lock --property=Type=exec --uid=postgres /bin/sh -c \
                '{ printf "BEGIN;\nCOMMENT ON DATABASE \"%s\" IS NULL;\n" "$1"; exec sleep infinity; } | psql -X -q -d postgres' \
                sh "$snapshot"
        for _ in $(seq 150); do
                held=$(cbu_pg -c "SELECT count(*) FROM pg_locks WHERE locktype = 'object' AND granted
                        AND classid = 'pg_database'::regclass AND mode = 'ShareUpdateExclusiveLock'
                        AND objid = (SELECT oid FROM pg_database WHERE datname = '$snapshot')")
                [ "$held" = 1 ] && break
                sleep 0.2
        done
        [ "$held" = 1 ] || fail "the test session did not lock the snapshot $snapshot"
        gate_release switch
        sb_log "the upgrade to 1.5.1 goes on; the snapshot $snapshot is locked"
}

# the rollback's rename of the snapshot to codebolt, waiting for the test's lock (shell test for gate_catch)
# shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
RENAME_WAITS='[ "$(runuser -u postgres -- psql -X -A -t -d postgres -c "SELECT count(*) FROM pg_stat_activity
        WHERE wait_event_type = '"'Lock'"' AND query LIKE '"'ALTER DATABASE % RENAME TO %'"'")" = 1 ] &&
        jq -e .failed_database /var/lib/codebolt-upgrade/default/current.json >/dev/null'

# expect_half_swapped WHAT: the restore stopped between its renames: codebolt is gone, renamed to the
# failed database current.json names, and the snapshot is still there
expect_half_swapped() {
        local failed dbs
        failed=$(sb jq -r '.failed_database // empty' "$CBU_STATE/current.json")
        [[ "$failed" =~ ^codebolt_failed_[0-9a-f]+$ ]] || fail "$1: current.json names no failed database"
        dbs=$(cbu_pg -c "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database
                WHERE datname IN ('codebolt', '$failed', '$snapshot')")
        [ "$dbs" = "$failed $snapshot" ] ||
                fail "$1: the databases are '$dbs', not the half-done swap ($failed and $snapshot, no codebolt)"
}

# 1. kill -9 of the rollback helper between the renames; started again, it resumes
start_held_restore
pid=$(gate_catch rollback "$RENAME_WAITS" KILL) || fail "the rollback never reached the rename of the snapshot"
sb_log "kill -9 of the rollback while its restore waits to rename the snapshot to codebolt (pid $pid)"
for _ in $(seq 150); do
        state=$(sb systemctl show -P ActiveState codebolt-rollback@1.5.1.service)
        [ "$state" = failed ] && break
        sleep 0.2
done
[ "$state" = failed ] || fail "kill -9 of the rollback: codebolt-rollback@1.5.1.service is $state, not failed"
# the killed client's rename still waits in PostgreSQL: cancel it, as if the kill had come between the
# renames, then let the lock go
cbu_pg -c "SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
        AND query LIKE 'ALTER DATABASE % RENAME TO %'" >/dev/null
sb systemctl stop cbu-test-snapshot-lock.service
expect_half_swapped "kill -9 of the rollback"
sb jq -e '.phase == "rollback" and .rollback_action == "restore" and (.held | not)' "$CBU_STATE/current.json" >/dev/null ||
        fail "kill -9 of the rollback: current.json does not say an interrupted restore: $(sb jq -c '{phase, rollback_action, held}' "$CBU_STATE/current.json")"
[ "$(sb systemctl is-active codebolt.service)" != active ] || fail "kill -9 of the rollback: the server runs on a half-swapped database"
# nor does a start by hand run it (its start condition: a rollback is in flight)
sb systemctl start codebolt.service || true
state=$(sb systemctl show -P ActiveState codebolt.service)/$(sb systemctl show -P Result codebolt.service)
[ "$state" = inactive/exec-condition ] ||
        fail "kill -9 of the rollback: systemctl start codebolt.service was not refused by its start condition ($state)"
[ "$(cbu_ledger_for 1.5.1 | jq length)" = "$cell_entries" ] || fail "kill -9 of the rollback: the ledger has a result already"
status=$(sb codebolt-upgrade status) || fail "codebolt-upgrade status failed after the kill"
sb_log "codebolt-upgrade status after the kill:"$'\n'"$status"
grep -q 'phase rollback' <<<"$status" || fail "kill -9 of the rollback: codebolt-upgrade status does not say a rollback is in flight"
for want in 'INTERRUPTED: nothing is working on it now (the rollback was killed' 'systemctl start codebolt-rollback@1.5.1.service' \
        'the database swap of its restore may be half done' 'Server:    codebolt.service is inactive'; do
        grep -qF "$want" <<<"$status" || fail "kill -9 of the rollback: codebolt-upgrade status lacks '$want': $status"
done

sb_log "systemctl start codebolt-rollback@1.5.1 (again)"
sb systemctl start codebolt-rollback@1.5.1.service || fail "the resumed rollback of 1.5.1 failed"
result=$(cbu_wait_rollback 1.5.1 "$cell_entries") || fail "kill -9 of the rollback: $result"
[ "$result" = restored ] || fail "kill -9 of the rollback: the resumed rollback ended '$result', not restored"
out=$(cbu_invocation_journal codebolt-rollback@1.5.1.service)
grep -qF 'Resuming the interrupted rollback of the upgrade to 1.5.1 (attempt 2): restore.' <<<"$out" ||
        fail "kill -9 of the rollback: the second run does not say it resumes"
grep -qF 'by an earlier attempt: finishing the swap.' <<<"$out" ||
        fail "kill -9 of the rollback: the second run did not finish the half-done swap"
cell_expect_new_entry "kill -9 of the rollback" restored
cell_expect_old "kill -9 of the rollback" restored
cbu_observe kill-rollback "$CELL_FROM" 1.5.1

# 2. the machine loses power between the renames (the rollback frozen there); the boot recovers
start_held_restore
pid=$(gate_catch rollback "$RENAME_WAITS" STOP) || fail "the rollback never reached the rename of the snapshot"
sb_log "power cut while the rollback's restore waits to rename the snapshot to codebolt (pid $pid frozen)"
sandbox_power_cut
sandbox_boot_again
for _ in $(seq 600); do
        entries=$(cbu_ledger_for 1.5.1)
        state=$(sb systemctl show -P ActiveState codebolt-upgrade-recover-check.service)
        [ "$(jq length <<<"$entries")" -gt "$cell_entries" ] && [ "$state" != activating ] &&
                sb test ! -e "$CBU_STATE/current.json" && break
        sleep 0.5
done
result=$(jq -r 'last | .result' <<<"$entries")
[ "$result" = restored ] || fail "power cut in the rollback: the recovery ended '$result', not restored (in flight: $(sb jq -c '{phase, recovered, held_reason}' "$CBU_STATE/current.json" 2>&1))"
recover_start=$(sb systemctl show -P ExecMainStartTimestampMonotonic codebolt-upgrade-recover.service)
server_start=$(sb systemctl show -P ExecMainStartTimestampMonotonic codebolt.service)
{ [ "$recover_start" -gt 0 ] && [ "$recover_start" -lt "$server_start" ]; } ||
        fail "power cut in the rollback: the recovery did not run before the server started"
sb_journal_has codebolt-upgrade-recover.service 'by an earlier attempt: finishing the swap.' ||
        fail "power cut in the rollback: the recovery did not finish the half-done swap"
cell_expect_new_entry "power cut in the rollback" restored
cell_expect_old "power cut in the rollback" restored
cbu_observe power-cut-rollback "$CELL_FROM" 1.5.1
sb_log "PASS"
