#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The watch after an upgrade (Period=3min, Interval=10s) against the baseline of the version before it,
# with steady agent runs going on. The default deployment plays staging; a second deployment, "prod",
# plays production with StagingLedger= pointing at staging's exported ledger.
#   1. 1.5.10 leaks memory; with AutoRollback=yes it is flagged (memory) within three intervals of its
#      start and rolled back (minor) to 1.4.0; the ledger says why.
#   2. 1.5.11's agent runs start failing 25 s after it is up: flagged (runs) within three intervals of
#      that; prod's `plan 1.5.11` refuses at the staging gate, saying the watch there is degraded.
#   3. 1.5.12 logs errors from 25 s after it is up: its upgrade ends 1.5.11's watch, and it is flagged
#      (errors) within three intervals.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

INTERVAL=10

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
cbu_deploy 1.4.0 prod 3457
sb sh -c 'printf "\n[Policy]\nRole=production\nStagingLedger=/var/lib/codebolt-upgrade/public/ledger.json\nBakeTime=1s\n" >>/etc/codebolt-upgrade/deployments/prod.conf'
# the faults begin 25 s after ready: after the upgrade's own smoke test
sb install -d /etc/systemd/system/codebolt.service.d
sb sh -c 'printf "[Service]\nEnvironment=CODEBOLT_FAULT_DELAY=25\n" >/etc/systemd/system/codebolt.service.d/fault-delay.conf'
# a webhook receiver for the watch's events
sb systemd-run --quiet --unit=codebolt-test-webhook --property=Type=exec \
        /usr/bin/node "$CBU_FIXTURES/webhook/receiver.js" --port 8089 --out /var/tmp/webhook.jsonl
cbu_wait_http http://127.0.0.1:8089/ 30 || fail "the webhook receiver did not answer"
sb sh -c 'printf "\n[Notify]\nURL=http://127.0.0.1:8089/hook\n" >>/etc/codebolt-upgrade/upgrade.conf'
# MemoryGrowth= scaled to the 3-minute watch, as in watch-healthy
cbu_watch_conf 3min "${INTERVAL}s" AutoRollback=yes MemoryGrowth=5G
grep -q 'OnUnitActiveUSec.*10s' <<<"$(sb systemctl show -P TimersMonotonic codebolt-upgrade-watch@1.5.10.timer)" ||
        fail "the watch timer does not fire every ${INTERVAL}s: $(sb systemctl show -P TimersMonotonic codebolt-upgrade-watch@1.5.10.timer)"
sb systemctl restart codebolt.service
cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "codebolt.service did not come back"
cbu_traffic "$CBU_PORT"
sleep 12 # agent runs for the baseline

# journal_event ID: the MESSAGE= of the journal's entries with that MESSAGE_ID (this boot)
journal_event() {
        sb journalctl --sync
        sb journalctl -b --no-pager -o cat MESSAGE_ID="$1"
}
DEGRADED_ID=4c31bc9882ad4262b0d42ed74c11ec54

# 1. the leak, rolled back by the watch
sb_log "systemctl start codebolt-upgrade@1.5.10 (leaks memory; AutoRollback=yes)"
sb systemctl start codebolt-upgrade@1.5.10.service || fail "the upgrade to 1.5.10 failed: its leak is for the watch to find"
[ "$(sb systemctl is-enabled codebolt-upgrade-watch@1.5.10.timer || true)" = enabled ] || fail "finish did not enable the watch timer"
out=$(cbu_wait_degraded memory 120) || fail "1.5.10's leak was not flagged: $out"
read -r n t <<<"$out"
sb_log "1.5.10's memory flagged at sample $n, ${t}s into the watch"
[ "$n" -le 4 ] || fail "1.5.10's leak was flagged only at sample $n, not within three intervals"
result=$(cbu_wait_rollback 1.5.10) || fail "no rollback of 1.5.10 after the watch flagged it: $result"
[ "$result" = rolled-back ] || fail "the automatic rollback of 1.5.10 ended '$result', not rolled-back (a minor rollback)"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "/health does not report 1.4.0 after the automatic rollback"
entry=$(cbu_ledger_for 1.5.10 | jq -c 'map(select(.result == "rolled-back")) | last')
jq -e '.message | test("by the watch \\(\\[Watch\\] AutoRollback=yes\\): memory degraded")' <<<"$entry" >/dev/null ||
        fail "the ledger does not say the watch rolled 1.5.10 back for its memory: $entry"
jq -e 'has("failed_database") | not' <<<"$entry" >/dev/null || fail "the automatic rollback restored the database: $entry"
hooks=$(sb cat /var/tmp/webhook.jsonl)
jq -se 'map(select(.body.event == "watch-degraded" and .body.signal == "memory" and .body.version == "1.5.10")) | length == 1' <<<"$hooks" >/dev/null ||
        fail "the webhook did not get one watch-degraded event for 1.5.10's memory: $hooks"
upgrade=$(cbu_ledger_for 1.5.10 | jq -c 'map(select(.result == "succeeded")) | last')
[ "$(jq -r .watch <<<"$upgrade")" = degraded ] || fail "the ledger's watch verdict for 1.5.10 is not degraded: $upgrade"
grep -q 'Codebolt 1.5.10 is degraded after the upgrade from 1.4.0: memory degraded' <<<"$(journal_event "$DEGRADED_ID")" ||
        fail "no catalog event names the memory of 1.5.10: $(journal_event "$DEGRADED_ID")"
for _ in $(seq 40); do
        [ "$(sb jq -r .state "$CBU_STATE/watch.json")" = ended ] && break
        sleep 0.5
done
[ "$(sb jq -r .state "$CBU_STATE/watch.json")" = ended ] || fail "1.5.10's watch did not end after its rollback"
[ "$(sb systemctl is-enabled codebolt-upgrade-watch@1.5.10.timer || true)" = disabled ] ||
        fail "1.5.10's watch timer is still enabled after the rollback"

# 2. failing agent runs
cbu_watch_conf 3min "${INTERVAL}s" MemoryGrowth=5G
sb_log "systemctl start codebolt-upgrade@1.5.11 (agent runs fail from 25 s after ready)"
sb systemctl start codebolt-upgrade@1.5.11.service || fail "the upgrade to 1.5.11 failed"
out=$(cbu_wait_degraded runs 150) || fail "1.5.11's failing runs were not flagged: $out"
read -r n t <<<"$out"
sb_log "1.5.11's runs flagged at sample $n, ${t}s into the watch (the failures begin 25 s after ready)"
[ "$n" -le $((25 / INTERVAL + 4)) ] || fail "1.5.11's failing runs were flagged only at sample $n"
[ "$(cbu_health_version)" = 1.5.11 ] || fail "1.5.11 was rolled back with AutoRollback=no"
status=$(sb codebolt-upgrade status)
grep -q '^Watch: .*1.5.11: degraded' <<<"$status" || fail "codebolt-upgrade status does not show the degraded watch: $status"
grep -qE '^  runs +[▁▂▃▄▅▆▇█ ]+ +runs degraded: .*% of [0-9]+ agent runs succeeded' <<<"$status" ||
        fail "codebolt-upgrade status does not show the runs with a sparkline and the numbers: $status"
grep -qE '^  errors .*degraded at [0-9]+ or more in' <<<"$status" || fail "status does not show the error bound: $status"
# a terminal that does not take UTF-8 gets the last readings as figures instead of the sparkline
plain=$(sb env LANG=C LC_ALL=C codebolt-upgrade status)
grep -qE '^  runs +(… )?([0-9.e+-]+ )*[0-9.e+-]+ +runs degraded: ' <<<"$plain" ||
        fail "codebolt-upgrade status under LANG=C does not show the runs as figures: $plain"
grep -q '[▁▂▃▄▅▆▇█]' <<<"$plain" && fail "codebolt-upgrade status under LANG=C shows block characters: $plain"
[ "$(sb jq -r '[.[] | select(.to == "1.5.11")] | last | .watch' /var/lib/codebolt-upgrade/public/ledger.json)" = degraded ] ||
        fail "staging's exported ledger does not say 1.5.11's watch is degraded"

# production's staging gate reads that export
rc=0
out=$(sb codebolt-upgrade --deployment prod plan 1.5.11 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "prod's plan 1.5.11 would proceed: $out"
grep -q 'staging.*its watch there says degraded' <<<"$out" || fail "prod's plan does not refuse at the staging gate for the degraded watch: $out"

# 3. errors; the newer upgrade ends 1.5.11's watch
sb_log "systemctl start codebolt-upgrade@1.5.12 (logs errors from 25 s after ready)"
sb systemctl start codebolt-upgrade@1.5.12.service || fail "the upgrade to 1.5.12 failed"
old=$(cbu_ledger_for 1.5.11 | jq -c 'map(select(.result == "succeeded")) | last')
[ "$(jq -r .watch <<<"$old")" = degraded ] || fail "1.5.11's ledger entry lost its degraded verdict: $old"
[ "$(sb systemctl is-enabled codebolt-upgrade-watch@1.5.11.timer || true)" = disabled ] || fail "1.5.11's watch timer is still enabled"
sb_journal_has codebolt-upgrade@1.5.12.service 'The watch after the upgrade to 1.5.11 ended (the upgrade to 1.5.12 took its place): degraded' ||
        fail "no journal line says the upgrade to 1.5.12 ended 1.5.11's watch"
out=$(cbu_wait_degraded errors 150) || fail "1.5.12's errors were not flagged: $out"
read -r n t <<<"$out"
sb_log "1.5.12's errors flagged at sample $n, ${t}s into the watch (the errors begin 25 s after ready)"
[ "$n" -le $((25 / INTERVAL + 4)) ] || fail "1.5.12's errors were flagged only at sample $n"
grep -q 'Codebolt 1.5.12 is degraded after the upgrade from 1.5.11: errors degraded' <<<"$(journal_event "$DEGRADED_ID")" ||
        fail "no catalog event names the errors of 1.5.12"
sb_log "PASS"
