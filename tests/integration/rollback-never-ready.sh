#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 1.4.0 → 1.5.2: the migrations apply but the server never reports ready. migrate-watch gives up at
# [Timeouts] Ready= (10 s here) and names what it last saw; no migration changed existing data, so the
# rollback is a minor one. Outcome: old.
# matrix[never-ready]: migrations | the server never becomes ready | old (rolled-back)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
sb install -d -m 0755 /etc/codebolt-upgrade/upgrade.conf.d
sb sh -c 'printf "[Timeouts]\nReady=10s\n" >/etc/codebolt-upgrade/upgrade.conf.d/ready.conf'

hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")

sb_log "systemctl start codebolt-upgrade@1.5.2"
start=$(date +%s)
sb systemctl start codebolt-upgrade@1.5.2.service 2>/dev/null && fail "the upgrade to 1.5.2 succeeded"
[ $(($(date +%s) - start)) -lt 120 ] || fail "the Ready= deadline of 10 s took more than 2 min to end the upgrade"
result=$(cbu_wait_rollback 1.5.2) || fail "the rollback of 1.5.2 did not end: $result"
[ "$result" = rolled-back ] || fail "the rollback of 1.5.2 ended '$result', not rolled-back"
sb_journal_has codebolt-upgrade@1.5.2.service 'Ready=' || fail "migrate-watch does not say it gave up at the Ready= deadline"

cbu_expect_old 1.4.0 1.5.2 rolled-back "$digests" "$hmax"
cbu_observe never-ready 1.4.0 1.5.2
sb_log "PASS"
