#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The unattended upgrade (codebolt-upgrade-auto.service, as its timer starts it) with [Auto] Track=minor
# and a registry holding only 1.4.0, 1.5.0, 1.5.4 (its smoke test fails) and 2.0.0, from 1.4.0:
#   1. it picks 1.5.4, the newest minor; 1.5.4 fails its smoke test and is rolled back;
#   2. started again it skips 1.5.4, saying so, and upgrades to 1.5.0, pinned;
#   3. started a third time it does nothing and says so. 2.0.0 (a major) is never touched.
# Before 2, `codebolt-upgrade hold` makes a run do nothing until `unhold`; after 3, with Role=production
# and 1.5.4 cleared, it skips 1.5.4 because 1.5.4 baked only 2 h on staging.
# The generator emits the timer and the service once Schedule= is set, and enables the timer.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install

# a registry serving only some of the stand-in's versions, from a directory inside the sandbox (what
# cbu_registry does for all of them)
subset=/srv/auto-registry
sb install -d -m 0755 "$subset"
for v in 1.4.0 1.5.0 1.5.4 2.0.0; do
        sb cp "$CBU_TARBALLS/codebolt-server-$v.tgz" "$subset/"
done
sb systemd-run --quiet --unit=codebolt-test-registry --property=Type=exec \
        /usr/bin/node "$CBU_FIXTURES/registry/registry.js" --dir "$subset" \
        --host 127.0.0.1 --port "$CBU_REGISTRY_PORT"
cbu_wait_http "http://127.0.0.1:$CBU_REGISTRY_PORT/@codebolt%2fserver" 30 || fail "the local registry did not answer"
versions=$(sb curl -fsS "http://127.0.0.1:$CBU_REGISTRY_PORT/@codebolt%2fserver" | jq -r '.versions | keys | join(" ")')
[ "$versions" = "1.4.0 1.5.0 1.5.4 2.0.0" ] || fail "the registry serves '$versions'"
cbu_deploy 1.4.0

# the timer's schedule is far off: only the starts below run the auto service
sb tee -a /etc/codebolt-upgrade/upgrade.conf >/dev/null <<CONF

[Auto]
Schedule=2099-01-01 03:00:00
RandomizedDelaySec=0
Track=minor
CONF
sb systemctl daemon-reload

# the generator's units, the timer enabled through timers.target.wants
gen=/run/systemd/generator
sb test -f "$gen/codebolt-upgrade-auto.service" || fail "the generator wrote no codebolt-upgrade-auto.service"
sb test -f "$gen/codebolt-upgrade-auto.timer" || fail "the generator wrote no codebolt-upgrade-auto.timer"
[ "$(sb readlink "$gen/timers.target.wants/codebolt-upgrade-auto.timer")" = ../codebolt-upgrade-auto.timer ] ||
        fail "codebolt-upgrade-auto.timer is not in the generator's timers.target.wants"
enabled=$(sb systemctl is-enabled codebolt-upgrade-auto.timer || true)
[ "$enabled" = generated ] || [ "$enabled" = enabled ] ||
        fail "systemctl is-enabled codebolt-upgrade-auto.timer says '$enabled'"
sb systemctl start codebolt-upgrade-auto.timer
timers=$(sb systemctl list-timers --all --no-pager)
grep -qF codebolt-upgrade-auto.timer <<<"$timers" || fail "systemctl list-timers does not show codebolt-upgrade-auto.timer:
$timers"
sb_journal codebolt-upgrade-auto.service | grep -q . && fail "the auto service ran before it was started"

# the journal of the auto service's last run
auto_journal() {
        cbu_invocation_journal codebolt-upgrade-auto.service
}

# 1. the newest minor, 1.5.4: it fails its smoke test and is rolled back; the auto service fails
sb_log "systemctl start codebolt-upgrade-auto.service (1)"
sb systemctl start codebolt-upgrade-auto.service 2>/dev/null && fail "the first auto run succeeded; 1.5.4 should fail"
out=$(auto_journal)
grep -qF '1.5.4 is the newest version above 1.4.0 that Track=minor allows' <<<"$out" ||
        fail "the first auto run did not pick 1.5.4: $out"
grep -qF 'the upgrade to 1.5.4 ended rolled-back' <<<"$out" ||
        fail "the first auto run does not log the rollback of 1.5.4: $out"
[ "$(cbu_ledger_for 1.5.4 | jq -r 'last | .result')" = rolled-back ] || fail "the ledger does not say 1.5.4 rolled-back"
[ "$(sb systemctl show -P ActiveState codebolt-rollback@1.5.4.service)" != activating ] ||
        fail "the auto service ended before the rollback of 1.5.4"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "/health does not report 1.4.0 after the rollback of 1.5.4"

# on hold: the run does nothing and says since when; status shows it; unhold resumes
entries=$(sb cat "$CBU_STATE/ledger.json" | jq length)
sb codebolt-upgrade hold "release freeze" || fail "codebolt-upgrade hold failed"
grep -q '^Auto: *on hold since .* (release freeze)' <<<"$(sb codebolt-upgrade status)" ||
        fail "codebolt-upgrade status does not show the hold: $(sb codebolt-upgrade status)"
sb_log "systemctl start codebolt-upgrade-auto.service (on hold)"
sb systemctl start codebolt-upgrade-auto.service || fail "the auto run on hold failed: $(auto_journal)"
out=$(auto_journal)
grep -q 'Unattended upgrades of deployment default are on hold since .* (release freeze): nothing done' <<<"$out" ||
        fail "the auto run on hold does not say so: $out"
[ "$(sb cat "$CBU_STATE/ledger.json" | jq length)" = "$entries" ] || fail "the auto run on hold changed the ledger"
[ -z "$(sb systemctl show -P InvocationID codebolt-upgrade@1.5.0.service)" ] || fail "the auto run on hold started an upgrade"
grep -qF 'resumed' <<<"$(sb codebolt-upgrade unhold)" || fail "codebolt-upgrade unhold does not say it resumed"
grep -q '^Auto:' <<<"$(sb codebolt-upgrade status)" && fail "codebolt-upgrade status still shows a hold after unhold"

# 2. 1.5.4 skipped, saying why; 1.5.0 upgraded and pinned
sb_log "systemctl start codebolt-upgrade-auto.service (2)"
sb systemctl start codebolt-upgrade-auto.service || fail "the second auto run failed: $(auto_journal)"
out=$(auto_journal)
grep -qF 'skipping 1.5.4: its last upgrade here ended rolled-back; codebolt-upgrade clear 1.5.4 allows it' <<<"$out" ||
        fail "the second auto run does not say it skips 1.5.4: $out"
grep -qF '1.5.0 is the newest version above 1.4.0 that Track=minor allows' <<<"$out" ||
        fail "the second auto run did not pick 1.5.0: $out"
grep -qF 'upgraded from 1.4.0 to 1.5.0: succeeded' <<<"$out" || fail "the second auto run does not log the success: $out"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .result')" = succeeded ] || fail "the ledger does not say 1.5.0 succeeded"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0"
[ "$(sb cat "$CBU_STATE/pin")" = 1.5.0 ] || fail "the pin says $(sb cat "$CBU_STATE/pin"), not 1.5.0"
[ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.5.0 ] || fail "/opt/codebolt/current is not 1.5.0"

# 3. nothing newer allowed: nothing to do, exit 0, the ledger unchanged
entries=$(sb cat "$CBU_STATE/ledger.json" | jq length)
sb_log "systemctl start codebolt-upgrade-auto.service (3)"
sb systemctl start codebolt-upgrade-auto.service || fail "the third auto run failed: $(auto_journal)"
out=$(auto_journal)
grep -qF 'deployment default runs 1.5.0, the newest allowed by Track=minor: nothing to do' <<<"$out" ||
        fail "the third auto run does not say there is nothing to do: $out"
[ "$(sb cat "$CBU_STATE/ledger.json" | jq length)" = "$entries" ] || fail "the third auto run changed the ledger"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the third auto run"

# production follows staging: 1.5.4 allowed again here, but it baked only 2 h of BakeTime=24h on staging
sb codebolt-upgrade clear 1.5.4 >/dev/null || fail "codebolt-upgrade clear 1.5.4 failed"
stamp=$(date -u -d '2 hours ago' +%Y-%m-%dT%H:%M:%SZ)
sb sh -c "cat >/etc/codebolt-upgrade/staging-ledger.json" <<EOF
[{"id": "s1", "from": "1.5.0", "to": "1.5.4", "result": "succeeded", "finished": "$stamp", "watch": "ok"}]
EOF
sb install -d /etc/codebolt-upgrade/upgrade.conf.d
sb sh -c 'printf "[Policy]\nRole=production\nStagingLedger=/etc/codebolt-upgrade/staging-ledger.json\n" >/etc/codebolt-upgrade/upgrade.conf.d/60-production.conf'
sb_log "systemctl start codebolt-upgrade-auto.service (production, 1.5.4 not baked on staging)"
sb systemctl start codebolt-upgrade-auto.service || fail "the production auto run failed: $(auto_journal)"
out=$(auto_journal)
grep -qF 'skipping 1.5.4: the staging gate does not pass: 1.5.4 succeeded on staging 2h ago; BakeTime= is 24h: 22h to go' <<<"$out" ||
        fail "the production auto run does not say it skips 1.5.4 for the staging gate: $out"
grep -qF 'deployment default runs 1.5.0, the newest allowed by Track=minor: nothing to do' <<<"$out" ||
        fail "the production auto run does not say there is nothing to do: $out"
[ "$(sb cat "$CBU_STATE/ledger.json" | jq length)" = "$entries" ] || fail "the production auto run changed the ledger"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the production auto run"

# 2.0.0, a major, was never touched
[ "$(cbu_ledger_for 2.0.0 | jq length)" = 0 ] || fail "the ledger has an entry for 2.0.0"
sb test ! -e /opt/codebolt/releases/2.0.0 || fail "2.0.0 was installed"
[ -z "$(sb systemctl show -P InvocationID codebolt-upgrade@2.0.0.service)" ] || fail "codebolt-upgrade@2.0.0 was started"
sb_log "PASS"
