#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 1.4.0 → 1.5.3: the server reports ready, then crashes. No migration of 1.5.3 changes existing data, so
# the rollback is a minor one: release and pin back to 1.4.0, started, smoke-tested, the data left as
# it is. Outcome: old.
# matrix[crash-after-ready]: smoke | the server crashes after ready | old (rolled-back)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")

sb_log "systemctl start codebolt-upgrade@1.5.3"
sb systemctl start codebolt-upgrade@1.5.3.service 2>/dev/null && fail "the upgrade to 1.5.3 succeeded"
result=$(cbu_wait_rollback 1.5.3) || fail "the rollback of 1.5.3 did not end: $result"
[ "$result" = rolled-back ] || fail "the rollback of 1.5.3 ended '$result', not rolled-back"
sb_journal_has codebolt.service 'fatal: event ingester crashed' || fail "1.5.3 did not crash after ready as injected"

cbu_expect_old 1.4.0 1.5.3 rolled-back "$digests" "$hmax"
dbs=$(sb runuser -u postgres -- psql -X -tAc "SELECT string_agg(datname, ' ') FROM pg_database WHERE datname LIKE 'codebolt\_failed\_%'")
[ -z "$dbs" ] || fail "a minor rollback replaced the database (kept: $dbs)"
cbu_observe crash-after-ready 1.4.0 1.5.3
sb_log "PASS"
