#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults before the server stops never stop it. The registry unreachable: refused in preflight with no
# release metadata cached, aborted in stage with it cached. Too little room for the backup: refused by
# the space gate; the backup directory filling up while the backup is written: aborted. PostgreSQL
# unreachable: refused in preflight; stopped while the backup is written: aborted. A kill -9 of the
# drain helper while it waits for a run in flight: aborted, the drain undone. Each leaves the server
# serving the old version, nothing staged, no half-written backup and no upgrade in flight.
# matrix[registry-preflight]: preflight | the registry unreachable, no release metadata cached | old (refused)
# matrix[registry-stage]: stage | the registry unreachable (preflight used the cached metadata) | old (aborted)
# matrix[space-preflight]: preflight | too little room for the backup | old (refused)
# matrix[disk-full-backup]: backup | disk full in the backup directory (filled while the backup is written) | old (aborted)
# matrix[postgres-preflight]: preflight | PostgreSQL unreachable | old (refused)
# matrix[postgres-backup]: backup | PostgreSQL unreachable (stopped while the backup is written) | old (aborted)
# matrix[kill-drain]: drain | kill -9 of the helper | old (aborted)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"

# the agent run of 5., long enough to be in flight when the drain waits: it starts while the drain is
# held as it starts (lib/gate.sh), however long the phases before it take on a loaded machine
CBU_RUN_SECONDS=20

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
gate_install drain

# cbu_expect_aborted VERSION ATTEMPT PHASE WHAT: the ATTEMPT-th upgrade to VERSION ended aborted in
# PHASE, and the server kept serving 1.4.0 in the same run (drain aside, which restarts it to take runs
# again)
cbu_expect_aborted() {
        local v=$1 n=$2 phase=$3 what=$4 result
        result=$(cbu_wait_rollback "$v" "$((n - 1))") || fail "$what: $result"
        [ "$result" = aborted ] || fail "$what: the ledger says '$result' for $v, not aborted"
        [ "$(cbu_ledger_for "$v" | jq -r 'last | .phase')" = "$phase" ] ||
                fail "$what: the ledger does not say it ended in $phase: $(cbu_ledger_for "$v" | jq -c last)"
        # undoing a drain restarts the server: its job ends when it runs, not when it is ready
        cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "$what: the server does not answer /health"
        [ "$(cbu_health_version)" = 1.4.0 ] || fail "$what: the server does not answer as 1.4.0"
        [ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.4.0 ] || fail "$what: /opt/codebolt/current moved"
        [ "$(sb ls -A /opt/codebolt/releases)" = 1.4.0 ] || fail "$what: a release was left staged: $(sb ls -A /opt/codebolt/releases | tr '\n' ' ')"
        ! sb sh -c 'ls -d /backups/codebolt/*.partial' >/dev/null 2>&1 || fail "$what: a half-written backup was left"
        sb test ! -e "$CBU_STATE/current.json" || fail "$what: current.json remains"
}

server_id=$(sb systemctl show -P InvocationID codebolt.service)
untouched() {
        [ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "$1: the server was stopped or restarted"
}

# 1. the registry unreachable and no release metadata cached: refused in preflight, naming the registry
sb systemctl stop codebolt-test-registry.service
cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without a registry"
result=$(cbu_wait_rollback 1.5.0 0) || fail "registry unreachable, nothing cached: $result"
[ "$result" = refused ] || fail "registry unreachable, nothing cached: the ledger says '$result', not refused"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .phase')" = preflight ] || fail "registry unreachable, nothing cached: not refused in preflight"
sb_phase_logged "$cursor" preflight "gate published: fail: cannot read the release metadata: http://127.0.0.1:$CBU_REGISTRY_PORT/" ||
        fail "the refusal does not name the registry it could not read"
untouched "registry unreachable, nothing cached"
cbu_observe registry-preflight 1.4.0 1.5.0

# 2. the registry unreachable after a plan cached the metadata: preflight reads the cached copy, and
# stage cannot install
cbu_registry
sb codebolt-upgrade plan 1.5.0 >/dev/null || fail "codebolt-upgrade plan 1.5.0 refuses with the registry up"
sb systemctl stop codebolt-test-registry.service
cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without a registry"
cbu_expect_aborted 1.5.0 2 stage "registry unreachable"
untouched "registry unreachable"
sb_phase_logged "$cursor" preflight "(the cached copy: http://127.0.0.1:$CBU_REGISTRY_PORT/@codebolt%2fserver is unreachable" ||
        fail "preflight does not say it used the cached release metadata"
sb_phase_logged "$cursor" stage "127.0.0.1:$CBU_REGISTRY_PORT" ||
        fail "the stage failure does not name the registry: $(sb_journal_since "$cursor" CODEBOLT_UPGRADE_PHASE=stage | tail -n 5)"
cbu_observe registry-stage 1.4.0 1.5.0
cbu_registry

# 3. the backup directory too small for the backup: the space gate refuses in preflight
sb install -d -m 0700 /backups/codebolt
sb mount -t tmpfs -o size=512k,mode=0700 cbu-small /backups/codebolt
cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded with 512 KiB for its backup"
result=$(cbu_wait_rollback 1.5.0 2) || fail "backup directory too small: $result"
[ "$result" = refused ] || fail "backup directory too small: the ledger says '$result', not refused"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .phase')" = preflight ] || fail "backup directory too small: not refused in preflight"
sb_phase_logged "$cursor" preflight "gate space: fail: the backup needs about" ||
        fail "the refusal does not say how much room the backup needs"
untouched "backup directory too small"
cbu_observe space-preflight 1.4.0 1.5.0
sb umount /backups/codebolt

# ... and the backup directory filling up while the backup is written (another writer took the room
# the space gate saw): the backup helper is held as soon as its .partial directory exists, the file
# system is filled, and it goes on into a full disk
sb mount -t tmpfs -o size=128m,mode=0700 cbu-full /backups/codebolt
cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
sb systemctl start --no-block codebolt-upgrade@1.5.0.service
gate_catch backup 'ls -d /backups/codebolt/*.partial >/dev/null 2>&1' STOP >/dev/null ||
        fail "the backup never started writing"
sb sh -c 'head -c 200m /dev/zero >/backups/codebolt/filler' 2>/dev/null || true
sb pkill -CONT -x backup
cbu_expect_aborted 1.5.0 4 backup "backup directory full"
untouched "backup directory full"
sb_phase_logged "$cursor" backup "No space left on device" ||
        fail "the backup's failure does not say the disk is full"
cbu_observe disk-full-backup 1.4.0 1.5.0
sb umount /backups/codebolt

# 4. PostgreSQL unreachable: before the upgrade, the gates cannot ask it and refuse; gone while the
# backup is written (held as soon as its .partial directory exists), the backup fails
sb systemctl stop postgresql@15-main.service
cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without PostgreSQL"
result=$(cbu_wait_rollback 1.5.0 4) || fail "PostgreSQL unreachable in preflight: $result"
[ "$result" = refused ] || fail "PostgreSQL unreachable in preflight: the ledger says '$result', not refused"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .phase')" = preflight ] || fail "PostgreSQL unreachable: not refused in preflight"
sb_phase_logged "$cursor" preflight "gate postgres: fail: cannot ask PostgreSQL for its version" ||
        fail "the refusal does not say PostgreSQL could not be asked"
sb systemctl start postgresql@15-main.service
untouched "PostgreSQL unreachable in preflight"
cbu_observe postgres-preflight 1.4.0 1.5.0

cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
sb systemctl start --no-block codebolt-upgrade@1.5.0.service
gate_catch backup 'ls -d /backups/codebolt/*.partial >/dev/null 2>&1' STOP >/dev/null ||
        fail "the backup never started writing"
sb systemctl stop postgresql@15-main.service
sb pkill -CONT -x backup
cbu_expect_aborted 1.5.0 6 backup "PostgreSQL unreachable"
# the stop lands either before the backup counts the rows (libpq says so) or after (pg_dump does):
# both name the lost connection and the phase
{ sb_phase_logged "$cursor" backup "failed in phase backup:" &&
        sb_phase_logged "$cursor" backup "connection to server"; } ||
        fail "the backup's failure does not say PostgreSQL went away: $(sb_journal_since "$cursor" CODEBOLT_UPGRADE_PHASE=backup | tail -n 5)"
sb systemctl start postgresql@15-main.service
untouched "PostgreSQL unreachable"
cbu_observe postgres-backup 1.4.0 1.5.0

# 5. kill -9 of the drain helper while it waits for a run in flight: the drain is undone
token=$(cbu_token)
gate_arm drain
cursor=$(sb_cursor) || fail "cannot read the journal's cursor"
sb systemctl start --no-block codebolt-upgrade@1.5.0.service
gate_wait drain >/dev/null || fail "the upgrade never reached drain"
run=$(cbu_api "$token" POST /api/agents/run '{"project":1,"agent":"long-task"}' | jq -r .runId)
{ [ -n "$run" ] && [ "$run" != null ]; } || fail "could not start an agent run before the drain"
gate_release drain
for _ in $(seq 300); do
        pid=$(sb pgrep -x drain || true)
        [ -n "$pid" ] && sb_phase_logged "$cursor" drain 'drain: waiting for 1 agent run in flight' && break
        pid=
        sleep 0.2
done
[ -n "$pid" ] || fail "the drain never started waiting for the run in flight"
sb kill -KILL "$pid"
cbu_expect_aborted 1.5.0 7 drain "kill -9 in drain"
sb_phase_logged "$cursor" rollback "rollback: restarting codebolt.service, which was told to take no new agent runs" ||
        fail "the abort does not say it undid the drain: $(sb_journal_since "$cursor" CODEBOLT_UPGRADE_PHASE=rollback | tail -n 5)"
[ "$(cbu_api "$(cbu_token)" GET "/api/runs/$run" | jq -r .status)" = succeeded ] ||
        fail "the run in flight during the killed drain did not succeed"
cbu_api "$(cbu_token)" POST /api/agents/run '{"project":1,"agent":"after"}' >/dev/null ||
        fail "the server takes no new runs after the aborted drain"
cbu_observe kill-drain 1.4.0 1.5.0

# none of these marks 1.5.0 failed: it is tried again and succeeds
sb systemctl start codebolt-upgrade@1.5.0.service || fail "1.5.0 did not upgrade after the aborted attempts"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "the server does not run 1.5.0 in the end"
sb_log "PASS"
