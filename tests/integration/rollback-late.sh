#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A rollback by hand after the upgrade succeeded (docs/architecture.md, "Late rollback").
# 1.4.0 → 1.5.0 succeeds and agent runs write on 1.5.0; `systemctl start codebolt-rollback@1.5.0` is a
# minor rollback (1.5.0 applied no breaking migration): 1.4.0 runs again and everything written since
# is kept. Then 1.4.0 → 1.5.0 → 1.6.0, whose migration is breaking, and more runs write on 1.6.0: the
# rollback unit refuses, saying how many rows a restore would discard, and changes nothing; so does
# `codebolt-upgrade rollback 1.6.0`; with --discard-since it restores 1.5.0's data as at the stop.
# matrix[late-minor]: after success | a rollback by hand, no breaking migration applied | old (rolled-back, the data written since kept)
# matrix[late-breaking]: after success | a rollback by hand after a breaking migration | old (restored with --discard-since; without it refused, nothing changed)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

# write_runs AGENT N: N agent runs through the API (each writes a run and a history row), waited for
write_runs() {
        local token id ids=() status
        token=$(cbu_token)
        for _ in $(seq "$2"); do
                ids+=("$(cbu_api "$token" POST /api/agents/run "{\"project\":1,\"agent\":\"$1\"}" | jq -r .runId)")
        done
        for id in "${ids[@]}"; do
                for _ in $(seq 100); do
                        status=$(cbu_api "$token" GET "/api/runs/$id" | jq -r .status)
                        [ "$status" = succeeded ] && break
                        sleep 0.3
                done
                [ "$status" = succeeded ] || fail "agent run $id of $1 ended '$status', not succeeded"
        done
}

# 1. no breaking migration: a minor rollback, the data written since stays
sb systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade to 1.5.0 failed"
write_runs written-on-1.5.0 2
hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")

sb_log "systemctl start codebolt-rollback@1.5.0 (after the upgrade succeeded)"
sb systemctl start codebolt-rollback@1.5.0.service || fail "the rollback by hand of 1.5.0 failed"
cbu_expect_old 1.4.0 1.5.0 rolled-back "$digests" "$hmax"
[ "$(cbu_psql -c "SELECT count(*) FROM history WHERE entry LIKE 'agent written-on-1.5.0 %'")" = 2 ] ||
        fail "the rows written on 1.5.0 are gone after a minor rollback"
cbu_ledger_for 1.5.0 | jq -e 'last | .late == true and (.message | test("rolled back after it succeeded, by hand"))' >/dev/null ||
        fail "the ledger does not say 1.5.0 was rolled back by hand: $(cbu_ledger_for 1.5.0 | jq -c last)"
sb_journal_has codebolt-rollback@1.5.0.service 'Rolled back: deployment default runs 1.4.0 again' ||
        fail "the rollback by hand logged no 'rolled back' event"
cbu_observe late-minor 1.4.0 1.5.0

# a second start by hand has nothing left to roll back, and says so without writing the ledger
ledger_before=$(sb cat "$CBU_STATE/ledger.json")
sb systemctl start codebolt-rollback@1.5.0.service 2>/dev/null && fail "a second rollback of 1.5.0 succeeded"
sb_journal_has codebolt-rollback@1.5.0.service 'Nothing to roll back: no upgrade of deployment default to 1.5.0 is in flight' ||
        fail "the second rollback by hand does not say there is nothing to roll back"
[ "$(sb cat "$CBU_STATE/ledger.json")" = "$ledger_before" ] || fail "the second rollback by hand wrote the ledger"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "the second rollback by hand changed what runs"

# 2. a breaking migration: the restore discards what was written since, only when asked by name
sb codebolt-upgrade clear 1.5.0 >/dev/null || fail "codebolt-upgrade clear 1.5.0 failed"
sb systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade to 1.5.0 failed the second time"
hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")
sb systemctl start codebolt-upgrade@1.6.0.service || fail "the upgrade to 1.6.0 failed"
[ "$(cbu_health_version)" = 1.6.0 ] || fail "the server does not run 1.6.0"
write_runs written-on-1.6.0 3
server_id=$(sb systemctl show -P InvocationID codebolt.service)
ledger_before=$(sb cat "$CBU_STATE/ledger.json")

sb_log "systemctl start codebolt-rollback@1.6.0 (a breaking migration was applied)"
sb systemctl start codebolt-rollback@1.6.0.service 2>/dev/null && fail "the late restore of 1.6.0 ran without --discard-since"
refusal=$(sb_journal codebolt-rollback@1.6.0.service | grep -F 'is a full restore' | tail -n 1)
[[ "$refusal" =~ "breaking migration 20260501_rewrite_history was applied" ]] ||
        fail "the refusal does not name the breaking migration: $refusal"
[[ "$refusal" =~ discards\ everything\ written\ since:\ ([0-9]+)\ rows ]] || fail "the refusal does not say how many rows would be lost: $refusal"
would_lose=${BASH_REMATCH[1]}
sb_log "refused: $refusal"
[ "$would_lose" -ge 6 ] || fail "the refusal counts $would_lose rows written since the stop; the 3 runs alone wrote 6"
[[ "$refusal" == *"codebolt-upgrade rollback 1.6.0 --discard-since"* ]] || fail "the refusal does not say how to do it anyway: $refusal"
[ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "the refused rollback touched the server"
[ "$(cbu_health_version)" = 1.6.0 ] || fail "the server does not run 1.6.0 after the refused rollback"
[ "$(sb cat "$CBU_STATE/ledger.json")" = "$ledger_before" ] || fail "the refused rollback wrote the ledger"
sb test ! -e "$CBU_STATE/current.json" || fail "the refused rollback left current.json"

out=$(sb codebolt-upgrade rollback 1.6.0 2>&1) && fail "codebolt-upgrade rollback 1.6.0 succeeded without --discard-since: $out"
grep -qF -- "--discard-since" <<<"$out" || fail "codebolt-upgrade rollback does not show the refusal: $out"
[ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "the refused rollback touched the server"

sb_log "codebolt-upgrade rollback 1.6.0 --discard-since"
out=$(sb codebolt-upgrade rollback 1.6.0 --discard-since 2>&1) || fail "codebolt-upgrade rollback 1.6.0 --discard-since failed: $out"
sb_log "codebolt-upgrade rollback 1.6.0 --discard-since said:
$out"
grep -qF "the upgrade to 1.6.0 is restored; 1.5.0 runs" <<<"$out" || fail "the command does not say what it did: $out"
cbu_expect_old 1.5.0 1.6.0 restored "$digests" "$hmax"
[ "$(cbu_psql -c "SELECT count(*) FROM history WHERE entry LIKE 'agent written-on-1.6.0 %'")" = 0 ] ||
        fail "rows written on 1.6.0 survived the restore"
entry=$(cbu_ledger_for 1.6.0 | jq -c last)
jq -e --argjson n "$would_lose" '.late == true and .discarded_rows == $n' <<<"$entry" >/dev/null ||
        fail "the ledger does not record the $would_lose rows the restore discarded: $entry"
sb test ! -e /run/codebolt-upgrade/default.discard-since || fail "the --discard-since flag was left for a later start"
cbu_observe late-breaking 1.5.0 1.6.0
sb_log "PASS"
