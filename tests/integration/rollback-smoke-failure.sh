#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 1.4.0 → 1.5.4: the smoke test's agent run fails on 1.5.4. A minor rollback puts 1.4.0 back on the same
# data. Outcome: old. Then the no-retry rule: 1.5.4 is refused at once in preflight, touching nothing,
# until `codebolt-upgrade clear 1.5.4`; after that it is tried (and rolled back) again.
# matrix[smoke-fails]: smoke | the smoke test fails | old (rolled-back)
# matrix[failed-again]: preflight | the failed version started again | old (refused until cleared)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")

sb_log "systemctl start codebolt-upgrade@1.5.4"
sb systemctl start codebolt-upgrade@1.5.4.service 2>/dev/null && fail "the upgrade to 1.5.4 succeeded"
result=$(cbu_wait_rollback 1.5.4) || fail "the rollback of 1.5.4 did not end: $result"
[ "$result" = rolled-back ] || fail "the rollback of 1.5.4 ended '$result', not rolled-back"
[ "$(cbu_ledger_for 1.5.4 | jq -r 'last | .phase')" = smoke ] || fail "the ledger does not say 1.5.4 failed in smoke"
sb_journal_has codebolt.service 'failed: agent smoke-test gave up' || fail "1.5.4's smoke run did not fail as injected"

cbu_expect_old 1.4.0 1.5.4 rolled-back "$digests" "$hmax"
cbu_observe smoke-fails 1.4.0 1.5.4

# the same version again: refused at once in preflight, saying how to allow it, touching nothing
untouched() {
        sb systemctl show -P InvocationID codebolt.service
        sb readlink /opt/codebolt/current
        sb cat "$CBU_STATE/pin"
        sb ls /opt/codebolt/releases /backups/codebolt
        sb runuser -u postgres -- psql -X -tAc "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database"
        cbu_table_digests "$hmax"
}
before=$(untouched)
entries=$(cbu_ledger_for 1.5.4 | jq length)
sb_log "systemctl start codebolt-upgrade@1.5.4 again"
start=$(date +%s)
sb systemctl start codebolt-upgrade@1.5.4.service 2>/dev/null && fail "1.5.4 was tried again without codebolt-upgrade clear"
[ $(($(date +%s) - start)) -lt 10 ] || fail "the second start of 1.5.4 took more than 10 s to be refused"
out=$(cbu_invocation_journal codebolt-upgrade@1.5.4.service)
grep -qF 'codebolt-upgrade clear 1.5.4' <<<"$out" || fail "the refusal does not say 'codebolt-upgrade clear 1.5.4': $out"
result=$(cbu_wait_rollback 1.5.4 "$entries") || fail "the rollback of the refused start did not end: $result"
[ "$result" = refused ] || fail "the second start of 1.5.4 ended '$result', not refused"
[ "$(cbu_ledger_for 1.5.4 | jq -r 'last | .phase')" = preflight ] || fail "the refusal was not in preflight"
[ "$(untouched)" = "$before" ] || fail "the refused start changed something:
$(diff <(echo "$before") <(untouched))"
sb test ! -e "$CBU_STATE/current.json" || fail "the refused start left current.json"
cbu_observe failed-again 1.4.0 1.5.4

out=$(sb codebolt-upgrade clear 1.5.4) || fail "codebolt-upgrade clear 1.5.4 failed: $out"
grep -qF '1.5.4 may be tried again' <<<"$out" || fail "codebolt-upgrade clear does not say 1.5.4 may be tried again: $out"

# after the clear a start is accepted past preflight; it fails its smoke test again and is rolled back again
entries=$(cbu_ledger_for 1.5.4 | jq length)
sb_log "systemctl start codebolt-upgrade@1.5.4 after codebolt-upgrade clear"
sb systemctl start codebolt-upgrade@1.5.4.service 2>/dev/null && fail "the upgrade to 1.5.4 succeeded the second time"
result=$(cbu_wait_rollback 1.5.4 "$entries") || fail "the second rollback of 1.5.4 did not end: $result"
[ "$result" = rolled-back ] || fail "the start after the clear ended '$result', not rolled-back"
[ "$(cbu_ledger_for 1.5.4 | jq -r 'last | .phase')" = smoke ] || fail "the start after the clear did not get to smoke"
results=$(cbu_ledger_for 1.5.4 | jq -r 'map(.result) | join(",")')
[ "$results" = rolled-back,refused,rolled-back ] || fail "the ledger for 1.5.4 is '$results', not two rolled-back entries around one refusal"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "/health does not report 1.4.0 after the second rollback"
sb_log "PASS"
