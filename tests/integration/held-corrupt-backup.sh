#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 1.4.0 → 1.5.1 fails in its migrations, so the rollback must restore; but a byte of the backup has
# flipped since it was verified. The rollback checks the backup before it drops anything, finds the
# flipped byte and holds: nothing dropped or renamed, the server not on 1.5.1, a critical journal
# entry, and `codebolt-upgrade status` says HELD and what to do by hand. Outcome: held.
# matrix[corrupt-backup-rollback]: rollback | a corrupt backup (a flipped byte) | held
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

# the upgrade fails while its rollback cannot start yet, so the byte can flip in between
sb systemctl mask --quiet codebolt-rollback@1.5.1.service
sb_log "systemctl start codebolt-upgrade@1.5.1 (its rollback masked)"
sb systemctl start codebolt-upgrade@1.5.1.service 2>/dev/null && fail "the upgrade to 1.5.1 succeeded"
sb test -e "$CBU_STATE/current.json" || fail "no current.json after the failed upgrade to 1.5.1"
sb systemctl unmask --quiet codebolt-rollback@1.5.1.service
[ "$(cbu_ledger_for 1.5.1 | jq length)" = 0 ] || fail "the masked rollback wrote the ledger"

backup=$(sb jq -r .backup "$CBU_STATE/current.json")
snapshot=$(sb jq -r .snapshot "$CBU_STATE/current.json")
flipped=$backup/stores/var/lib/codebolt/vectordb/index.bin
flip() {
        # shellcheck disable=SC2016 # perl's variables, for perl
        sb perl -e 'open(my $f, "+<", $ARGV[0]) or die "$ARGV[0]: $!"; seek($f, 4096, 0); read($f, my $c, 1);
                seek($f, 4096, 0); print $f chr(ord($c) ^ 0x20); close($f) or die' "$flipped"
}
flip
databases() {
        sb runuser -u postgres -- psql -X -tAc "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database"
}
dbs_before=$(databases)

sb_log "systemctl start codebolt-rollback@1.5.1 (a byte of the backup flipped)"
sb systemctl start codebolt-rollback@1.5.1.service 2>/dev/null && fail "the rollback succeeded from a corrupt backup"
result=$(cbu_wait_rollback 1.5.1) || fail "the rollback of 1.5.1 did not end: $result"
[ "$result" = held ] || fail "the rollback from a corrupt backup ended '$result', not held"
[ "$(cbu_ledger_for 1.5.1 | jq '[.[] | select(.result == "held")] | length')" = 1 ] || fail "not one held entry in the ledger"

# nothing dropped: no database renamed or dropped, the snapshot still there, the failed one not swapped out
[ "$(databases)" = "$dbs_before" ] || fail "the held rollback changed the databases: $dbs_before → $(databases)"
grep -qw "$snapshot" <<<"$dbs_before" || fail "the snapshot $snapshot is gone"
grep -q 'codebolt_failed_' <<<"$(databases)" && fail "a database was renamed to codebolt_failed_*"
[ "$(cbu_psql -c "SELECT count(*) FROM schema_migrations WHERE id LIKE '202603%'")" = 2 ] ||
        fail "the held rollback changed the database"

# the server is stopped or runs 1.4.0, never 1.5.1: also not a moment later, through its own Restart=
# (RestartSec=2 in the deployment's unit)
starts=$(cbu_starts_within 6 'codebolt-server 1.5.1 starting') || fail "cannot count the server's starts"
state=$(sb systemctl show -P ActiveState,SubState codebolt.service | paste -sd/)
case $state in
inactive/* | failed/*) ;;
active/*) [ "$(cbu_health_version 2>/dev/null)" = 1.4.0 ] ||
        fail "codebolt.service is $state after the hold but does not answer as 1.4.0 ($starts starts of 1.5.1 in the 6 s after the hold)" ;;
*) fail "codebolt.service is $state after the hold, neither stopped nor running 1.4.0 ($starts starts of 1.5.1 in the 6 s after the hold)" ;;
esac
[ "$starts" = 0 ] || fail "codebolt.service started 1.5.1 $starts times in the 6 s after the hold"

# the backup is intact: with the byte flipped back, every checksum holds and the dump restores
flip
# shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
sb sh -c 'cd "$1" && [ "$(sha256sum <files.sha256 | cut -d" " -f1)" = "$(jq -r .files_list.sha256 manifest.json)" ] && sha256sum --check --strict --quiet files.sha256' sh "$backup" ||
        fail "the backup $backup no longer matches its manifest"
sb jq -e '.verified == true' "$backup/manifest.json" >/dev/null || fail "the backup is no longer marked verified"
sb pg_restore --list "$backup/database.dump" >/dev/null || fail "pg_restore --list rejects $backup/database.dump"

# a critical journal entry (PRIORITY=2) naming the flipped file; the catalog's held event
crit=$(sb journalctl -b --no-pager -o cat PRIORITY=2 -u codebolt-rollback@1.5.1.service)
{ grep -qF 'is held' <<<"$crit" && grep -qF "$flipped" <<<"$crit"; } ||
        fail "no critical journal entry saying the rollback is held because of $flipped: $crit"
explained=$(sb journalctl -b --no-pager -x -u codebolt-rollback@1.5.1.service)
grep -qF 'Subject: Codebolt upgrade to 1.5.1 is held: finish by hand' <<<"$explained" ||
        fail "journalctl -x does not show the 'held' catalog subject"

# codebolt-upgrade status says HELD and gives the commands
status=$(sb codebolt-upgrade status) || fail "codebolt-upgrade status failed: $status"
for want in 'HELD:' "$flipped" 'To finish by hand:' \
        'ALTER DATABASE "codebolt_pre_' 'rsync -a --delete' 'ln -sfn releases/1.4.0 /opt/codebolt/current' \
        'systemctl start codebolt.service' 'codebolt-upgrade clear 1.5.1'; do
        grep -qF -- "$want" <<<"$status" || fail "codebolt-upgrade status lacks '$want': $status"
done
cbu_observe corrupt-backup-rollback 1.4.0 1.5.1
sb_log "PASS"
