#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults before the server stops never stop it: the registry unreachable (stage), the backup
# directory full (backup), PostgreSQL unreachable (backup), and a kill -9 of the drain helper while it
# waits for a run in flight. Each ends `aborted` in the ledger, with the server serving the old
# version, nothing staged, no half-written backup and no upgrade left in flight.
# matrix: stage | the registry unreachable | old (aborted)
# matrix: backup | disk full in the backup directory | old (aborted)
# matrix: backup | PostgreSQL unreachable | old (aborted)
# matrix: drain | kill -9 of the helper | old (aborted)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

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

# 1. the registry unreachable: stage cannot install
sb systemctl stop codebolt-test-registry.service
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without a registry"
cbu_expect_aborted 1.5.0 1 "registry unreachable"
untouched "registry unreachable"
sb_journal_has codebolt-upgrade@1.5.0.service "127.0.0.1:$CBU_REGISTRY_PORT" ||
        fail "the stage failure does not name the registry"
cbu_registry

# 2. the backup directory full: a 512 KiB file system where the backups go
sb install -d -m 0700 /backups/codebolt
sb mount -t tmpfs -o size=512k,mode=0700 cbu-full /backups/codebolt
sb sh -c 'head -c 500k /dev/zero >/backups/codebolt/filler'
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded with the backup directory full"
cbu_expect_aborted 1.5.0 2 "backup directory full"
untouched "backup directory full"
sb umount /backups/codebolt

# 3. PostgreSQL unreachable while the backup dumps: stopped for the attempt, started again after
sb systemctl stop postgresql@15-main.service
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null && fail "the upgrade succeeded without PostgreSQL"
sb systemctl start postgresql@15-main.service
cbu_expect_aborted 1.5.0 3 "PostgreSQL unreachable"
untouched "PostgreSQL unreachable"

# 4. kill -9 of the drain helper while it waits for a run in flight: the drain is undone
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
cbu_expect_aborted 1.5.0 4 "kill -9 in drain"
[ "$(cbu_api "$(cbu_token)" GET "/api/runs/$run" | jq -r .status)" = succeeded ] ||
        fail "the run in flight during the killed drain did not succeed"
cbu_api "$(cbu_token)" POST /api/agents/run '{"project":1,"agent":"after"}' >/dev/null ||
        fail "the server takes no new runs after the aborted drain"

# none of these marks 1.5.0 failed: it is tried again and succeeds
sb systemctl start codebolt-upgrade@1.5.0.service || fail "1.5.0 did not upgrade after the aborted attempts"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "the server does not run 1.5.0 in the end"
sb_log "PASS"
