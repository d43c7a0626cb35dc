#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The machine loses power in each phase in turn, on the same deployment (mid-migration: see
# recover-power-cut.sh). Phases too short to catch mid-work are held by a gate as they start
# (lib/gate.sh); the others are frozen mid-work the moment they are caught. At the next boot the recovery
# resolves the interrupted upgrade before the server starts, and the check after it concludes: nothing
# to do before the upgrade opened, aborted before the server stopped, the old version rolled back after
# it, and an upgrade that had passed its smoke test is finished.
SB_DISK=1
# matrix[power-cut-preflight]: preflight | a crash of the whole machine as the phase starts | old (nothing to recover: the upgrade never opened)
# matrix[power-cut-stage]: stage | a crash of the whole machine while npm installs | old (aborted at boot)
# matrix[power-cut-backup]: backup | a crash of the whole machine while it copies the stores | old (aborted at boot)
# matrix[power-cut-drain]: drain | a crash of the whole machine while it waits for a run in flight | old (aborted at boot)
# matrix[power-cut-snapshot]: snapshot | a crash of the whole machine as the phase starts | old (rolled-back at boot)
# matrix[power-cut-switch]: switch | a crash of the whole machine as the phase starts | old (rolled-back at boot)
# matrix[power-cut-smoke]: smoke | a crash of the whole machine while the test agent runs | old (rolled-back at boot)
# matrix[power-cut-finish]: finish | a crash of the whole machine as the phase starts (smoke passed) | new (finished at boot)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"
source "$(dirname "$0")/lib/cells.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
gate_install preflight snapshot switch finish

# power_cut_and_boot WHAT: the power goes, the machine boots again; the test registry is a transient
# unit, gone with the boot: serve it again for the next cells
power_cut_and_boot() {
        sb_log "$1"
        sandbox_power_cut
        sandbox_boot_again
        cbu_registry
}

# cell_result WHAT: the result the recovery wrote for the cell's upgrade, once it is resolved: the ledger
# has a new entry, no upgrade is in flight and the check after the server's start has run
cell_result() {
        local entries state
        for _ in $(seq 600); do
                entries=$(cbu_ledger_for "$cell_version")
                state=$(sb systemctl show -P ActiveState codebolt-upgrade-recover-check.service)
                if [ "$(jq length <<<"$entries")" -gt "$cell_entries" ] && [ "$state" != activating ] &&
                        sb test ! -e "$CBU_STATE/current.json"; then
                        jq -r 'last | .result' <<<"$entries"
                        return 0
                fi
                sleep 0.5
        done
        fail "$1: the interrupted upgrade to $cell_version was not resolved after the boot (ledger: $(jq -c 'map(.result)' <<<"$entries"), in flight: $(sb jq -c '{phase, recovered}' "$CBU_STATE/current.json" 2>&1))"
}

# recovered_before_server WHAT: codebolt-upgrade-recover.service ran at this boot, before the server
recovered_before_server() {
        local recover_start server_start
        recover_start=$(sb systemctl show -P ExecMainStartTimestampMonotonic codebolt-upgrade-recover.service)
        server_start=$(sb systemctl show -P ExecMainStartTimestampMonotonic codebolt.service)
        { [ "$recover_start" -gt 0 ] && [ "$recover_start" -lt "$server_start" ]; } ||
                fail "$1: the recovery did not run before the server started"
}

# expect_aborted WHAT: a crash before the server stopped: the recovery aborted the upgrade before the
# server started, and it serves 1.4.0 on the same data, with nothing of the version staged
expect_aborted() {
        local result
        result=$(cell_result "$1")
        [ "$result" = aborted ] || fail "$1: the ledger says '$result' for $cell_version, not aborted"
        recovered_before_server "$1"
        cell_expect_unchanged "$1"
}

# expect_rolled_back WHAT: a crash after the server stopped: 1.4.0 and its data back, rolled back at boot
expect_rolled_back() {
        local result
        result=$(cell_result "$1")
        [ "$result" = rolled-back ] || fail "$1: the recovery of $cell_version ended '$result', not rolled-back"
        recovered_before_server "$1"
        cell_expect_old "$1" rolled-back
}

# preflight, as it starts: the upgrade never opened, so there is nothing to resolve or record at boot
gate_arm preflight
cell_start 1.5.0
pid=$(gate_wait preflight) || fail "the upgrade never reached preflight"
power_cut_and_boot "power cut as preflight starts (pid $pid held)"
cell_expect_unchanged "power cut in preflight"
[ "$(cbu_ledger_for 1.5.0 | jq length)" = "$cell_entries" ] ||
        fail "power cut in preflight: the ledger records an upgrade that never opened: $(cbu_ledger_for 1.5.0)"
cell_observe power-cut-preflight

# stage, while npm installs the version into the staging directory
cell_start 1.5.0
# shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
pid=$(gate_catch stage 'pgrep -P "$pid" >/dev/null && [ -d /opt/codebolt/releases/.1.5.0.staging ]' STOP) ||
        fail "stage never ran npm"
power_cut_and_boot "power cut while stage runs npm (pid $pid)"
expect_aborted "power cut in stage"
cell_observe power-cut-stage

# backup, once it copies the stores (after the database dump, before the trial restore)
cell_start 1.5.0
pid=$(gate_catch backup 'ls -d /backups/codebolt/*.partial/stores >/dev/null 2>&1' STOP) ||
        fail "backup never copied a store"
power_cut_and_boot "power cut while backup copies the stores (pid $pid)"
expect_aborted "power cut in backup"
cell_observe power-cut-backup

# drain, while it waits for an agent run in flight: runs last 120 s on this boot only (a runtime drop-in,
# gone with the power), so the run is still going when the drain asks the server to take no new ones
sb install -d /run/systemd/system/codebolt.service.d
sb tee /run/systemd/system/codebolt.service.d/long-runs.conf >/dev/null <<'DROPIN'
[Service]
Environment=CODEBOLT_RUN_SECONDS=120
DROPIN
sb systemctl daemon-reload
sb systemctl restart codebolt.service
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "the server did not come back with 120 s runs"
run=$(cbu_api "$(cbu_token)" POST /api/agents/run '{"project":1,"agent":"long-task"}' | jq -r .runId)
cell_start 1.5.0
pid=$(gate_catch drain \
        'systemctl show -P StatusText codebolt-upgrade@1.5.0.service | grep -q "drain: waiting for 1 agent run in flight"' STOP) ||
        fail "the drain never waited for the run in flight"
power_cut_and_boot "power cut while drain waits for the agent run $run (pid $pid)"
expect_aborted "power cut in drain"
# the server takes runs again, and they finish
run=$(cbu_api "$(cbu_token)" POST /api/agents/run '{"project":1,"agent":"after"}' | jq -r .runId) ||
        fail "power cut in drain: the server takes no new runs after the boot"
for _ in $(seq 150); do
        status=$(cbu_api "$(cbu_token)" GET "/api/runs/$run" | jq -r .status)
        [ "$status" = succeeded ] && break
        sleep 0.4
done
[ "$status" = succeeded ] || fail "power cut in drain: a new run after the boot ended '$status', not succeeded"
cell_observe power-cut-drain

# snapshot, as it starts: the server is stopped, nothing of 1.5.0 ran yet
gate_arm snapshot
cell_start 1.5.0
pid=$(gate_wait snapshot) || fail "the upgrade never reached snapshot"
power_cut_and_boot "power cut as snapshot starts (pid $pid held)"
expect_rolled_back "power cut in snapshot"
cell_observe power-cut-snapshot

# switch, as it starts
gate_arm switch
cell_start 1.5.0
pid=$(gate_wait switch) || fail "the upgrade never reached switch"
power_cut_and_boot "power cut as switch starts (pid $pid held)"
expect_rolled_back "power cut in switch"
cell_observe power-cut-switch

# smoke, while it waits for the smoke-test agent: 1.5.0's migrations are applied, none breaking
cell_start 1.5.0
pid=$(gate_catch smoke \
        'systemctl show -P StatusText codebolt-upgrade@1.5.0.service | grep -q "wait for the smoke-test agent"' STOP) ||
        fail "the smoke test never waited for its agent"
power_cut_and_boot "power cut while smoke waits for the test agent (pid $pid)"
expect_rolled_back "power cut in smoke"
cell_observe power-cut-smoke

# finish, as it starts: the smoke test passed, only the bookkeeping is left, and the recovery does it
gate_arm finish
cell_start 1.5.0
pid=$(gate_wait finish) || fail "the upgrade never reached finish"
power_cut_and_boot "power cut as finish starts (pid $pid held)"
result=$(cell_result "power cut in finish")
[ "$result" = succeeded ] || fail "power cut in finish: the ledger says '$result' for 1.5.0, not succeeded"
recovered_before_server "power cut in finish"
entry=$(cbu_ledger_for 1.5.0 | jq -c last)
jq -e '.from == "1.4.0" and .smoke == "passed"' <<<"$entry" >/dev/null ||
        fail "power cut in finish: the ledger entry does not say 1.4.0 → 1.5.0 with its smoke test passed: $entry"
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "power cut in finish: the server does not answer after the boot"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "power cut in finish: the server does not answer as 1.5.0"
[ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.5.0 ] ||
        fail "power cut in finish: /opt/codebolt/current points at $(sb readlink -f /opt/codebolt/current)"
[ "$(sb cat "$CBU_STATE/pin")" = 1.5.0 ] || fail "power cut in finish: the pin says $(sb cat "$CBU_STATE/pin")"
[ "$(cbu_table_digests "$cell_hmax")" = "$cell_digests" ] || fail "power cut in finish: the seeded tables' rows changed"
[ "$(cbu_api "$(cbu_token)" GET /api/projects | jq length)" -gt 0 ] || fail "power cut in finish: 1.5.0 lists no project"
status=$(sb codebolt-upgrade status --json)
jq -e '.in_flight == null and .last.to == "1.5.0" and .last.result == "succeeded"' <<<"$status" >/dev/null ||
        fail "power cut in finish: codebolt-upgrade status does not say 1.5.0 succeeded: $(sb codebolt-upgrade status)"
cell_observe power-cut-finish

# what the interrupted phases left behind (a staging directory, a .partial backup, a scratch database) is gone
leftovers=$(sb sh -c 'ls -d /backups/codebolt/*.partial /opt/codebolt/releases/.*.staging 2>/dev/null' || true)
[ -z "$leftovers" ] || fail "left behind by the interrupted phases: $leftovers"
scratch=$(sb runuser -u postgres -- psql -X -tA -c "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE 'codebolt\_verify\_%'")
[ -z "$scratch" ] || fail "scratch databases of a trial restore are left: $scratch"
sb_log "PASS"
