#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# An agent run is still in flight when the Drain= deadline passes: the upgrade fails before the server
# stopped. The rollback aborts it: the run finishes, the server keeps serving 1.4.0 and takes runs
# again, the staged release is removed. Outcome: aborted (nothing changed).
# matrix[drain-timeout]: drain | the drain deadline passes with a run in flight | old (aborted)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"

# an agent run that outlasts the drain deadline: it starts while the drain is held as it starts
# (lib/gate.sh), however long the phases before it take on a loaded machine
CBU_RUN_SECONDS=20

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
sb install -d -m 0755 /etc/codebolt-upgrade/upgrade.conf.d
sb sh -c 'printf "[Timeouts]\nDrain=3s\n" >/etc/codebolt-upgrade/upgrade.conf.d/drain.conf'
gate_install drain

token=$(cbu_token)
gate_arm drain
sb_log "systemctl start codebolt-upgrade@1.5.0 (Drain=3s, a run in flight)"
sb systemctl start codebolt-upgrade@1.5.0.service 2>/dev/null &
upgrade=$!
gate_wait drain >/dev/null || fail "the upgrade never reached drain"
run=$(cbu_api "$token" POST /api/agents/run '{"project":1,"agent":"long-task"}' | jq -r .runId)
{ [ -n "$run" ] && [ "$run" != null ]; } || fail "could not start an agent run before the drain"
gate_release drain
wait "$upgrade" && fail "the upgrade succeeded past Drain=3s"
result=$(cbu_wait_rollback 1.5.0) || fail "the rollback of 1.5.0 did not end: $result"
[ "$result" = aborted ] || fail "the drain timeout ended '$result', not aborted"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .phase')" = drain ] || fail "the ledger does not say the drain failed"

# the run in flight finished, and the server, on 1.4.0, takes runs again
[ "$(sb systemctl is-active codebolt.service)" = active ] || fail "codebolt.service is not active after the abort"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "/health does not report 1.4.0 after the abort"
token=$(cbu_token)
st=$(cbu_api "$token" GET "/api/runs/$run" | jq -r .status)
[ "$st" = succeeded ] || fail "the agent run in flight during the drain ended '$st', not succeeded"
out=$(cbu_api "$token" POST /api/agents/run '{"project":2,"agent":"after-abort"}') ||
        fail "the server takes no new agent runs after the abort"
[ "$(jq -r .runId <<<"$out")" != null ] || fail "the server takes no new agent runs after the abort: $out"

# nothing of 1.5.0 is left: no staged release, no snapshot, 1.4.0 current, no upgrade in flight
sb test ! -e /opt/codebolt/releases/1.5.0 || fail "the staged release /opt/codebolt/releases/1.5.0 remains"
[ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.4.0 ] || fail "/opt/codebolt/current moved"
dbs=$(sb runuser -u postgres -- psql -X -tAc "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE 'codebolt\_%'")
[ -z "$dbs" ] || fail "the aborted upgrade left databases: $dbs"
sb test ! -e "$CBU_STATE/current.json" || fail "current.json remains after the abort"
cbu_observe drain-timeout 1.4.0 1.5.0
sb_log "PASS"
