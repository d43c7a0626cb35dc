#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A byte of the backup's dump flips after the backup verified it (a disk fault). drain verifies the dump
# and the config files once more before it asks the server for anything, finds the flipped byte, and
# the upgrade ends aborted: the server was never drained or stopped, nothing was switched. Outcome: old.
# matrix[corrupt-backup-drain]: drain | a corrupt backup (a byte of the dump flipped after it was verified) | old (aborted, caught before the server stops)
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
gate_install drain

server_id=$(sb systemctl show -P InvocationID codebolt.service)

# drain is held as it starts: the backup is written and verified by then
gate_arm drain
sb systemctl start --no-block codebolt-upgrade@1.5.0.service
gate_wait drain >/dev/null || fail "the upgrade never reached drain"
backup=$(sb jq -r .backup "$CBU_STATE/current.json")
sb jq -e '.verified == true' "$backup/manifest.json" >/dev/null || fail "the backup was not verified before drain"
# shellcheck disable=SC2016 # perl's variables, for perl
sb perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!"; seek($f, 100, 0); read($f, my $c, 1);
        seek($f, 100, 0); print $f chr(ord($c) ^ 0x20); close($f) or die' "$backup/database.dump"
sb_log "flipped a byte of $backup/database.dump; letting drain go on"
gate_release drain

result=$(cbu_wait_rollback 1.5.0) || fail "the upgrade with a corrupt backup did not end: $result"
[ "$result" = aborted ] || fail "the upgrade with a corrupt backup ended '$result', not aborted"
[ "$(cbu_ledger_for 1.5.0 | jq -r 'last | .phase')" = drain ] || fail "the ledger does not say it ended in drain: $(cbu_ledger_for 1.5.0 | jq -c last)"
sb_journal_has codebolt-upgrade@1.5.0.service "The backup file $backup/database.dump changed since it was verified" ||
        fail "drain does not name the changed backup file"

# the server was never stopped; nothing was switched or staged
[ "$(sb systemctl show -P InvocationID codebolt.service)" = "$server_id" ] || fail "the server was stopped or restarted"
[ "$(cbu_health_version)" = 1.4.0 ] || fail "the server does not answer as 1.4.0"
[ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.4.0 ] || fail "/opt/codebolt/current moved"
[ "$(sb cat "$CBU_STATE/pin" 2>/dev/null || echo 1.4.0)" = 1.4.0 ] || fail "the pin moved"
sb test ! -e "$CBU_STATE/current.json" || fail "current.json remains"
# it still takes runs
cbu_api "$(cbu_token)" POST /api/agents/run '{"project":1,"agent":"after"}' >/dev/null ||
        fail "the server takes no new runs after the aborted upgrade"
cbu_observe corrupt-backup-drain 1.4.0 1.5.0
sb_log "PASS"
