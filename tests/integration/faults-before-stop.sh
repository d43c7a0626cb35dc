#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults before the server stops never stop it. The registry unreachable: refused in preflight with no
# release metadata cached, aborted in stage with it cached. Too little room for the backup: refused by
# the space gate; the backup directory filling up while the backup is written: aborted. PostgreSQL
# unreachable: refused in preflight; stopped while the backup is written: aborted. A kill -9 of the
# drain helper while it waits for a run in flight: aborted, the drain undone. Each leaves the server
# serving the old version, nothing staged, no half-written backup and no upgrade in flight.
# matrix: preflight | the registry unreachable, no release metadata cached | old (refused)
# matrix: stage | the registry unreachable (preflight used the cached metadata) | old (aborted)
# matrix: preflight | too little room for the backup | old (refused)
# matrix: backup | disk full in the backup directory (filled while the backup is written) | old (aborted)
# matrix: preflight | PostgreSQL unreachable | old (refused)
# matrix: backup | PostgreSQL unreachable (stopped while the backup is written) | old (aborted)
# matrix: drain | kill -9 of the helper | old (aborted)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"

CBU_RUN_SECONDS=20

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

# cbu_expect_aborted VERSION ATTEMPT WHAT: the ATTEMPT-th upgrade to VERSION ended aborted, and the
# server kept serving 1.4.0 in the same run (drain aside, which restarts it to take runs again)
cbu_expect_aborted() {
        local v=$1 n=$2 what=$3 result
        result=$(cbu_wait_rollback "$v" "$((n - 1))") || fail "$what: $result"
        [ "$result" = aborted ] || fail "$what: the ledger says '$result' for $v, not aborted"
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
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without a registry"
result=$(cbu_wait_rollback 1.5.0 0) || fail "registry unreachable, nothing cached: $result"
[ "$result" = refused ] || fail "registry unreachable, nothing cached: the ledger says '$result', not refused"
sb_journal_has codebolt-upgrade@1.5.0.service "gate published: fail: cannot read the release metadata: http://127.0.0.1:$CBU_REGISTRY_PORT/" ||
        fail "the refusal does not name the registry it could not read"
untouched "registry unreachable, nothing cached"

# 2. the registry unreachable after a plan cached the metadata: preflight reads the cached copy, and
# stage cannot install
cbu_registry
sb codebolt-upgrade plan 1.5.0 >/dev/null || fail "codebolt-upgrade plan 1.5.0 refuses with the registry up"
sb systemctl stop codebolt-test-registry.service
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without a registry"
cbu_expect_aborted 1.5.0 2 "registry unreachable"
untouched "registry unreachable"
sb_journal_has codebolt-upgrade@1.5.0.service "(the cached copy: http://127.0.0.1:$CBU_REGISTRY_PORT/@codebolt%2fserver is unreachable" ||
        fail "preflight does not say it used the cached release metadata"
sb_journal_has codebolt-upgrade@1.5.0.service "127.0.0.1:$CBU_REGISTRY_PORT" ||
        fail "the stage failure does not name the registry"
cbu_registry

# 3. the backup directory too small for the backup: the space gate refuses in preflight
sb install -d -m 0700 /backups/codebolt
sb mount -t tmpfs -o size=512k,mode=0700 cbu-small /backups/codebolt
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded with 512 KiB for its backup"
result=$(cbu_wait_rollback 1.5.0 2) || fail "backup directory too small: $result"
[ "$result" = refused ] || fail "backup directory too small: the ledger says '$result', not refused"
sb_journal_has codebolt-upgrade@1.5.0.service "gate space: fail: the backup needs about" ||
        fail "the refusal does not say how much room the backup needs"
untouched "backup directory too small"
sb umount /backups/codebolt

# ... and the backup directory filling up while the backup is written (another writer took the room
# the space gate saw): the backup helper is held as soon as its .partial directory exists, the file
# system is filled, and it goes on into a full disk
sb mount -t tmpfs -o size=128m,mode=0700 cbu-full /backups/codebolt
sb systemctl start --no-block codebolt-upgrade@1.5.0.service
gate_catch backup 'ls -d /backups/codebolt/*.partial >/dev/null 2>&1' STOP >/dev/null ||
        fail "the backup never started writing"
sb sh -c 'head -c 200m /dev/zero >/backups/codebolt/filler' 2>/dev/null || true
sb pkill -CONT -x backup
cbu_expect_aborted 1.5.0 4 "backup directory full"
untouched "backup directory full"
sb journalctl --sync
sb_journal_has codebolt-upgrade@1.5.0.service "No space left on device" ||
        fail "the backup's failure does not say the disk is full"
sb umount /backups/codebolt

# 4. PostgreSQL unreachable: before the upgrade, the gates cannot ask it and refuse; gone while the
# backup is written (held as soon as its .partial directory exists), the backup fails
sb systemctl stop postgresql@15-main.service
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without PostgreSQL"
result=$(cbu_wait_rollback 1.5.0 4) || fail "PostgreSQL unreachable in preflight: $result"
[ "$result" = refused ] || fail "PostgreSQL unreachable in preflight: the ledger says '$result', not refused"
sb_journal_has codebolt-upgrade@1.5.0.service "gate postgres: fail: cannot ask PostgreSQL for its version" ||
        fail "the refusal does not say PostgreSQL could not be asked"
sb systemctl start postgresql@15-main.service
untouched "PostgreSQL unreachable in preflight"

sb systemctl start --no-block codebolt-upgrade@1.5.0.service
gate_catch backup 'ls -d /backups/codebolt/*.partial >/dev/null 2>&1' STOP >/dev/null ||
        fail "the backup never started writing"
sb systemctl stop postgresql@15-main.service
sb pkill -CONT -x backup
cbu_expect_aborted 1.5.0 6 "PostgreSQL unreachable"
sb systemctl start postgresql@15-main.service
untouched "PostgreSQL unreachable"

# 5. kill -9 of the drain helper while it waits for a run in flight: the drain is undone
token=$(cbu_token)
run=$(cbu_api "$token" POST /api/agents/run '{"project":1,"agent":"long-task"}' | jq -r .runId)
sb systemctl start --no-block codebolt-upgrade@1.5.0.service
for i in $(seq 300); do
        pid=$(sb pgrep -x drain || true)
        [ -n "$pid" ] && sb_journal_has codebolt-upgrade@1.5.0.service 'drain: waiting for 1 agent run in flight' && break
        sleep 0.2
done
[ -n "$pid" ] || fail "the drain never started"
sb kill -KILL "$pid"
cbu_expect_aborted 1.5.0 7 "kill -9 in drain"
[ "$(cbu_api "$(cbu_token)" GET "/api/runs/$run" | jq -r .status)" = succeeded ] ||
        fail "the run in flight during the killed drain did not succeed"
cbu_api "$(cbu_token)" POST /api/agents/run '{"project":1,"agent":"after"}' >/dev/null ||
        fail "the server takes no new runs after the aborted drain"

# none of these marks 1.5.0 failed: it is tried again and succeeds
sb systemctl start codebolt-upgrade@1.5.0.service || fail "1.5.0 did not upgrade after the aborted attempts"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "the server does not run 1.5.0 in the end"
sb_log "PASS"
