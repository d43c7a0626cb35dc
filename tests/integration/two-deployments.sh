#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Two deployments on one host (docs/architecture.md, "Configuration"): the default one (codebolt.service on port 3456, database
# codebolt, releases under /opt/codebolt) and "beta" from deployments/beta.conf (codebolt-beta.service
# on 3457, database codebolt_beta, releases under /opt/codebolt-beta), both at 1.4.0.
#   1. `systemctl start codebolt-upgrade-beta@1.5.0` (a generated unit) upgrades beta only: the default
#      server keeps its process and answers /health all along; pins, ledgers, backups and releases stay
#      apart.
#   2. `systemctl start codebolt-upgrade@1.5.1` (a failing migration) restores the default deployment,
#      while beta keeps serving 1.5.0 on its own data, untouched.
# matrix[second-deployment]: migrations, with a second deployment on the host | a migration fails after two applied | old (restored); the other deployment kept serving
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

BETA_PORT=3457
BETA_STATE=/var/lib/codebolt-upgrade/beta

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
cbu_deploy 1.4.0 beta "$BETA_PORT"

beta_version() {
        CBU_PORT=$BETA_PORT cbu_health_version
}
beta_rows() {
        CBU_DB=codebolt_beta cbu_row_counts
}
beta_databases() {
        sb runuser -u postgres -- psql -X -tA -c "SELECT datname FROM pg_database WHERE datname LIKE 'codebolt\_beta%' ORDER BY 1"
}

# watch_health PORT FILE: one line per second, "ok <version>" or "down", until killed
watch_health() {
        while :; do
                if v=$(sb curl -fsS --max-time 5 "http://127.0.0.1:$1/health" 2>/dev/null | jq -r .version); then
                        echo "ok $v"
                else
                        echo down
                fi
                sleep 1
        done >"$2"
}

# expect_served FILE VERSION WHAT: every line of FILE says VERSION answered, and there are some
expect_served() {
        local lines bad
        lines=$(wc -l <"$1")
        [ "$lines" -ge 5 ] || fail "$3: only $lines /health samples were taken during the upgrade"
        bad=$(grep -vxc "ok $2" "$1" || true)
        [ "$bad" = 0 ] || fail "$3: /health did not answer $2 in $bad of $lines samples: $(sort "$1" | uniq -c)"
}

[ "$(cbu_health_version)" = 1.4.0 ] || fail "the default deployment does not run 1.4.0"
[ "$(beta_version)" = 1.4.0 ] || fail "deployment beta does not run 1.4.0"

# the generator's units for beta: whole upgrade and rollback units, and its server's drop-in
grep -qx 'Environment=CODEBOLT_DEPLOYMENT=beta' <<<"$(sb systemctl cat codebolt-upgrade-beta@.service)" ||
        fail "codebolt-upgrade-beta@.service is not generated for deployment beta"
grep -qF 'server-may-start' <<<"$(sb systemctl cat codebolt-beta.service)" ||
        fail "codebolt-beta.service has no server-may-start condition from the generator"

# 1. beta upgrades; the default deployment is not stopped
default_id=$(sb systemctl show -P InvocationID codebolt.service)
watch_health "$CBU_PORT" "$SB_DIR/default-health" &
watcher=$!
sb_log "systemctl start codebolt-upgrade-beta@1.5.0"
rc=0
sb systemctl start codebolt-upgrade-beta@1.5.0.service || rc=$?
kill "$watcher"
wait "$watcher" 2>/dev/null || true
[ "$rc" = 0 ] || fail "systemctl start codebolt-upgrade-beta@1.5.0 exited $rc"

[ "$(beta_version)" = 1.5.0 ] || fail "deployment beta does not run 1.5.0 after its upgrade"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "the default deployment does not run 1.4.0 after beta's upgrade"
[ "$(sb systemctl show -P InvocationID codebolt.service)" = "$default_id" ] ||
        fail "codebolt.service was restarted by beta's upgrade"
expect_served "$SB_DIR/default-health" 1.4.0 "the default deployment during beta's upgrade"

[ "$(sb readlink /opt/codebolt-beta/current)" = releases/1.5.0 ] ||
        fail "/opt/codebolt-beta/current points at $(sb readlink /opt/codebolt-beta/current), not releases/1.5.0"
[ "$(sb readlink /opt/codebolt/current)" = releases/1.4.0 ] ||
        fail "/opt/codebolt/current points at $(sb readlink /opt/codebolt/current), not releases/1.4.0"
sb test ! -e /opt/codebolt/releases/1.5.0 || fail "beta's upgrade installed 1.5.0 under /opt/codebolt"
[ "$(sb cat "$BETA_STATE/pin")" = 1.5.0 ] || fail "beta's pin says $(sb cat "$BETA_STATE/pin"), not 1.5.0"
sb test ! -e "$CBU_STATE/pin" || [ "$(sb cat "$CBU_STATE/pin")" = 1.4.0 ] ||
        fail "the default deployment's pin says $(sb cat "$CBU_STATE/pin")"

history=$(sb codebolt-upgrade --deployment beta history --json)
jq -e 'length == 1 and .[0].from == "1.4.0" and .[0].to == "1.5.0" and .[0].result == "succeeded"' <<<"$history" >/dev/null ||
        fail "beta's ledger is not one succeeded 1.4.0 → 1.5.0: $history"
[ "$(cbu_ledger_for 1.5.0 | jq length)" = 0 ] || fail "the default deployment's ledger has beta's upgrade"
[ "$(sb jq length /var/lib/codebolt-upgrade/public/beta-ledger.json)" = 1 ] ||
        fail "beta's exported ledger does not hold its upgrade"
sb test ! -e /var/lib/codebolt-upgrade/public/ledger.json || fail "beta's upgrade wrote the default deployment's export"
backup=$(jq -r '.[0].backup' <<<"$history")
[[ "$backup" == /backups/codebolt-beta/* ]] || fail "beta's backup is $backup, not under /backups/codebolt-beta"
sb test -f "$backup/manifest.json" || fail "beta's backup $backup has no manifest"
grep -q . <<<"$(sb sh -c 'ls /backups/codebolt 2>/dev/null')" && fail "beta's upgrade wrote a backup under /backups/codebolt"
# beta's watch runs from its generated timer, enabled for the next boot through its own wants link
[ "$(sb systemctl is-active codebolt-upgrade-watch-beta@1.5.0.timer || true)" = active ] || fail "beta's watch timer is not active"
sb test -L /etc/systemd/system/timers.target.wants/codebolt-upgrade-watch-beta@1.5.0.timer ||
        fail "beta's watch timer is not enabled (no timers.target.wants link)"
[ "$(jq -r ".[0].watch" <<<"$history")" = running ] || fail "beta's ledger says its watch is $(jq -r '.[0].watch' <<<"$history")"
# each deployment's state is root's alone; the public export can be served
[ "$(sb stat -c %a "$BETA_STATE")" = 700 ] || fail "$BETA_STATE is mode $(sb stat -c %a "$BETA_STATE"), not 700"
[ "$(sb stat -c %a /var/lib/codebolt-upgrade)" = 755 ] || fail "/var/lib/codebolt-upgrade is not 755"
[ "$(sb stat -c %a /var/lib/codebolt-upgrade/public/beta-ledger.json)" = 644 ] || fail "beta's export is not 644"
status=$(sb codebolt-upgrade --deployment beta status)
grep -qF 'Last:     1.4.0 → 1.5.0 succeeded' <<<"$status" || fail "codebolt-upgrade --deployment beta status says: $status"
grep -qF 'Installed: 1.5.0' <<<"$status" || fail "codebolt-upgrade --deployment beta status says: $status"
grep -qF 'Installed: 1.4.0' <<<"$(sb codebolt-upgrade status)" ||
        fail "codebolt-upgrade status (default) says: $(sb codebolt-upgrade status)"

# 2. the default deployment's upgrade to 1.5.1 fails and is restored; beta is not stopped
beta_id=$(sb systemctl show -P InvocationID codebolt-beta.service)
rows_before=$(beta_rows)
dbs_before=$(beta_databases) # codebolt_beta, and its snapshot kept for a late rollback
hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")
watch_health "$BETA_PORT" "$SB_DIR/beta-health" &
watcher=$!
sb_log "systemctl start codebolt-upgrade@1.5.1"
rc=0
sb systemctl start codebolt-upgrade@1.5.1.service 2>/dev/null || rc=$?
result=$(cbu_wait_rollback 1.5.1) || fail "the rollback of 1.5.1 did not end: $result"
kill "$watcher"
wait "$watcher" 2>/dev/null || true
[ "$rc" != 0 ] || fail "the upgrade to 1.5.1 succeeded"
[ "$result" = restored ] || fail "the rollback of 1.5.1 ended '$result', not restored"
cbu_expect_old 1.4.0 1.5.1 restored "$digests" "$hmax"

[ "$(sb systemctl show -P InvocationID codebolt-beta.service)" = "$beta_id" ] ||
        fail "codebolt-beta.service was restarted by the default deployment's upgrade and restore"
expect_served "$SB_DIR/beta-health" 1.5.0 "deployment beta during the default deployment's upgrade and restore"
[ "$(beta_rows)" = "$rows_before" ] || fail "beta's rows changed: before $(tr -s "[:space:]" " " <<<"$rows_before"), after $(beta_rows | tr -s "[:space:]" " ")"
[ "$(beta_databases)" = "$dbs_before" ] ||
        fail "the default deployment's restore touched beta's databases: before $(tr -s "[:space:]" " " <<<"$dbs_before"), after $(beta_databases | tr -s "[:space:]" " ")"
[ "$(sb readlink /opt/codebolt-beta/current)" = releases/1.5.0 ] || fail "the restore moved /opt/codebolt-beta/current"
[ "$(sb cat "$BETA_STATE/pin")" = 1.5.0 ] || fail "the restore changed beta's pin"
[ "$(sb codebolt-upgrade --deployment beta history --json | jq length)" = 1 ] || fail "beta's ledger changed"
cbu_observe second-deployment 1.4.0 1.5.1
sb_log "PASS"
