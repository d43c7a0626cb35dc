#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 1.4.0 → 1.6.1: the migrations pass, the breaking one (20260501_rewrite_history) among them, then the
# smoke test's agent run fails. A minor rollback would leave 1.4.0 on a history table it cannot read,
# so the rollback restores: the database from the snapshot, every store from the backup (1.6.1 has
# written over them as it started), release and pin back to 1.4.0, which runs again on exactly the data
# it had, the rows an operator wrote before the upgrade included. The ledger and the catalog's
# "restored" entry say how many rows written since the stop were discarded. Outcome: old.
# matrix[breaking-smoke]: smoke | the smoke test fails after a breaking migration was applied | old (restored)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

# an operator's own writes before the upgrade: an agent run, which adds a history row
token=$(cbu_token)
run=$(cbu_api "$token" POST /api/agents/run '{"project":"billing","agent":"release-notes"}' | jq -r .runId)
{ [ -n "$run" ] && [ "$run" != null ]; } || fail "could not start an agent run before the upgrade"
for _ in $(seq 120); do
        st=$(cbu_api "$token" GET "/api/runs/$run" | jq -r .status)
        case $st in succeeded | failed) break ;; esac
        sleep 0.5
done
[ "$st" = succeeded ] || fail "the agent run before the upgrade ended '$st', not succeeded"
[ "$(cbu_psql -c "SELECT count(*) FROM history WHERE entry = 'agent release-notes run $run succeeded'")" = 1 ] ||
        fail "the agent run before the upgrade wrote no history row"

# what 1.6.1 does to the stores before its smoke test fails: add, change and remove files, commit
cbu_scribble_stores 1.6.1

hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")

sb_log "systemctl start codebolt-upgrade@1.6.1"
sb systemctl start codebolt-upgrade@1.6.1.service 2>/dev/null && fail "the upgrade to 1.6.1 succeeded"
result=$(cbu_wait_rollback 1.6.1) || fail "the rollback of 1.6.1 did not end: $result"
[ "$result" = restored ] || fail "the rollback of 1.6.1 ended '$result', not restored"
entry=$(cbu_ledger_for 1.6.1 | jq -c last)
[ "$(jq -r .phase <<<"$entry")" = smoke ] || fail "the ledger does not say 1.6.1 failed in smoke: $entry"
sb_journal_has codebolt.service 'migrations: applying 20260501_rewrite_history' ||
        fail "1.6.1 did not apply its breaking migration"
sb_journal_has codebolt.service 'failed: agent smoke-test gave up' || fail "1.6.1's smoke run did not fail as injected"
jq -e '.migrations | any(.id == "20260501_rewrite_history" and .state == "applied" and .breaking == true)' \
        <<<"$entry" >/dev/null || fail "the ledger does not record the breaking migration as applied: $entry"
sb_journal_has codebolt-rollback@1.6.1.service 'breaking migration 20260501_rewrite_history was applied' ||
        fail "the rollback does not say it restores because of the breaking migration"
sb test -e /var/lib/codebolt/kg/junk.json && fail "the stores were not put back (kg/junk.json remains)"

cbu_expect_old 1.4.0 1.6.1 restored "$digests" "$hmax"
[ "$(cbu_psql -c "SELECT count(*) FROM history WHERE entry = 'agent release-notes run $run succeeded'")" = 1 ] ||
        fail "the history row written before the upgrade is gone"
[ "$(cbu_psql -c "SELECT count(*) FROM information_schema.columns WHERE table_name = 'history' AND column_name = 'kind'")" = 0 ] ||
        fail "the restored history table has 1.6.1's shape"

# the failed database is kept, rewritten by the breaking migration
failed_db=$(jq -r .failed_database <<<"$entry")
[[ "$failed_db" =~ ^codebolt_failed_[0-9a-f]+$ ]] || fail "the ledger names no failed database: $entry"
failed_psql() {
        sb runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$failed_db" "$@"
}
[ "$(failed_psql -c "SELECT count(*) FROM schema_migrations WHERE id = '20260501_rewrite_history'")" = 1 ] ||
        fail "the failed database $failed_db does not hold the breaking migration"

# discarded_rows: every row the failed database has beyond what the database held at the stop (the
# manifest's tables_at_stop), counted here from the kept failed database
backup=$(jq -r .backup <<<"$entry")
at_stop=$(sb jq -c .tables_at_stop "$backup/manifest.json")
jq -e 'type == "object" and length > 0' <<<"$at_stop" >/dev/null || fail "the manifest has no tables_at_stop: $at_stop"
failed_counts=$(failed_psql -c "SELECT json_object_agg(n.nspname || '.' || c.relname,
                (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                                                      false, true, '')))[1]::text::bigint)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname !~ '^pg_(toast_)?temp_'")
written=$(jq -n --argjson live "$failed_counts" --argjson stop "$at_stop" \
        '[$live | to_entries[] | .value - ($stop[.key] // 0) | select(. > 0)] | add // 0')
[ "$written" -ge 3 ] || fail "the failed database holds $written rows beyond the stop, not even 1.6.1's 3 migrations"
jq -e --argjson n "$written" '.discarded_rows == $n' <<<"$entry" >/dev/null ||
        fail "the ledger's discarded_rows is not the $written rows written since the stop: $entry"
sb_log "the restore discarded the $written rows written since the stop"

# the catalog's "restored" event, with the rows discarded; journalctl -x explains it
restored=$(sb journalctl -b --no-pager -o json MESSAGE_ID=f7d38042c8154b6a898469dff17b1c16 \
        _SYSTEMD_UNIT=codebolt-rollback@1.6.1.service)
[ "$(jq -s length <<<"$restored")" = 1 ] || fail "not one 'restored' catalog entry from the rollback: $restored"
jq -e --arg n "$written" '.PRIORITY == "5" and .CODEBOLT_UPGRADE_FROM == "1.4.0" and
        .CODEBOLT_UPGRADE_DISCARDED_ROWS == $n and (.MESSAGE | contains("\($n) rows written since"))' \
        <<<"$restored" >/dev/null || fail "the 'restored' catalog entry does not carry 1.4.0 and the $written rows: $restored"
explained=$(sb journalctl -b --no-pager -x -u codebolt-rollback@1.6.1.service)
grep -qF 'Subject: Codebolt restored to 1.4.0 after the failed upgrade to 1.6.1' <<<"$explained" ||
        fail "journalctl -x does not show the 'restored' catalog subject"
grep -qF "Rows written after the server stopped for the upgrade are discarded:" <<<"$explained" ||
        fail "journalctl -x does not explain the rows discarded"
cbu_observe breaking-smoke 1.4.0 1.6.1
sb_log "PASS"
