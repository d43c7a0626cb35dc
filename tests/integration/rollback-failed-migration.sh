#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 1.4.0 → 1.5.1: the third migration fails after two were applied, and 1.5.1 has written over the stores
# as it started. The rollback restores: the database from the snapshot, every store from the backup,
# release and pin back to 1.4.0, which runs again on exactly the data it had. The failed database is
# kept for the post-mortem. Outcome: old.
# matrix[failed-migration]: migrations | a migration fails after two applied | old (restored)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

# what a failed release may do to the stores before it dies: add, change and remove files, commit
cbu_scribble_stores 1.5.1

hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")

sb_log "systemctl start codebolt-upgrade@1.5.1"
sb systemctl start codebolt-upgrade@1.5.1.service 2>/dev/null && fail "the upgrade to 1.5.1 succeeded"
result=$(cbu_wait_rollback 1.5.1) || fail "the rollback of 1.5.1 did not end: $result"
[ "$result" = restored ] || fail "the rollback of 1.5.1 ended '$result', not restored"
sb_journal_has codebolt.service 'migrations: failed: 20260401_bad' || fail "1.5.1's migration did not fail as injected"
sb test -e /var/lib/codebolt/kg/junk.json && fail "the stores were not put back (kg/junk.json remains)"

cbu_expect_old 1.4.0 1.5.1 restored "$digests" "$hmax"

# the failed database is kept, holding the two migrations applied before the third failed
entry=$(cbu_ledger_for 1.5.1 | jq -c last)
jq -e '.phase == "migrate" and (.discarded_rows | type == "number" and . > 0)' <<<"$entry" >/dev/null ||
        fail "the ledger entry does not say the migration failed and how many rows were discarded: $entry"
failed_db=$(jq -r .failed_database <<<"$entry")
[[ "$failed_db" =~ ^codebolt_failed_[0-9a-f]+$ ]] || fail "the ledger names no failed database: $entry"
applied=$(sb runuser -u postgres -- psql -X -tA -d "$failed_db" -c "SELECT count(*) FROM schema_migrations WHERE id LIKE '202603%'") ||
        fail "the failed database $failed_db is not kept"
[ "$applied" = 2 ] || fail "the failed database $failed_db holds $applied of 1.5.1's applied migrations, not 2"
[ "$(cbu_psql -c "SELECT count(*) FROM schema_migrations WHERE id LIKE '202603%'")" = 0 ] ||
        fail "the restored database holds 1.5.x migrations"

# journalctl -x explains the restore from the catalog
explained=$(sb journalctl -b --no-pager -x -u codebolt-rollback@1.5.1.service)
grep -qF 'Subject: Codebolt restored to 1.4.0 after the failed upgrade to 1.5.1' <<<"$explained" ||
        fail "journalctl -x does not show the 'restored' catalog subject"
cbu_observe failed-migration 1.4.0 1.5.1
sb_log "PASS"
