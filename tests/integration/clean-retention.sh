#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Retention with [Backup] Keep=1 (docs/architecture.md, "Phases": finish, `codebolt-upgrade clean`).
# 1.4.0 → 1.5.0 succeeds; → 1.5.1 fails a migration and is restored (its failed database is kept);
# → 1.5.4 fails its smoke test and is rolled back; → 1.5.6 succeeds. finish prunes on its own the
# snapshots and releases no rollback needs (1.5.0's snapshot, 1.5.4's, releases 1.4.0, 1.5.1, 1.5.4)
# but never a failed database. `codebolt-upgrade clean --dry-run` then lists exactly 1.5.1's failed
# database and a trial restore a crashed backup left, and changes nothing; `clean` drops them (exit 1
# naming the database while a session holds one, exit 0 once it can). What a rollback needs stays
# (1.5.6's snapshot, releases 1.5.0 and 1.5.6), and so does every database that only looks like ours;
# a late rollback of 1.5.6 by hand still works afterwards.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0
sb sh -c 'printf "[Backup]\nKeep=1\n" >>/etc/codebolt-upgrade/upgrade.conf'

databases() {
        sb runuser -u postgres -- psql -X -tAc "SELECT datname FROM pg_database ORDER BY datname"
}
has_db() {
        grep -qxF -- "$1" <<<"$(databases)"
}
releases() {
        sb ls -1 /opt/codebolt/releases
}
# the names `codebolt-upgrade clean` lists as "drop", sorted
drop_lines() {
        awk '$1 == "drop" { print $2 }' <<<"$1" | sort
}

# 1. 1.5.0 succeeds: its snapshot is the restore point of a late rollback, 1.4.0 its way back
sb_log "systemctl start codebolt-upgrade@1.5.0"
sb systemctl start codebolt-upgrade@1.5.0.service || fail "the upgrade to 1.5.0 failed"
snap_a=$(cbu_ledger_for 1.5.0 | jq -r 'last | .snapshot')
has_db "$snap_a" || fail "finish dropped $snap_a, the snapshot of the upgrade that runs"
[ "$(releases | tr '\n' ' ')" = "1.4.0 1.5.0 " ] || fail "finish removed a release a late rollback needs: $(releases)"

# 2. 1.5.1's migration fails: restored from the snapshot, the failed database kept
sb_log "systemctl start codebolt-upgrade@1.5.1 (a failing migration)"
sb systemctl start codebolt-upgrade@1.5.1.service 2>/dev/null && fail "the upgrade to 1.5.1 succeeded"
result=$(cbu_wait_rollback 1.5.1) || fail "the rollback of 1.5.1 did not end: $result"
[ "$result" = restored ] || fail "the rollback of 1.5.1 ended '$result', not restored"
failed_b=$(cbu_ledger_for 1.5.1 | jq -r 'last | .failed_database')
has_db "$failed_b" || fail "the failed database '$failed_b' of 1.5.1 is not kept"

# 3. 1.5.4's smoke test fails: a minor rollback, its snapshot stays behind
sb_log "systemctl start codebolt-upgrade@1.5.4 (a failing smoke test)"
sb systemctl start codebolt-upgrade@1.5.4.service 2>/dev/null && fail "the upgrade to 1.5.4 succeeded"
result=$(cbu_wait_rollback 1.5.4) || fail "the rollback of 1.5.4 did not end: $result"
[ "$result" = rolled-back ] || fail "the rollback of 1.5.4 ended '$result', not rolled-back"
entry_c=$(cbu_ledger_for 1.5.4 | jq -c last)
snap_c=$(jq -r .snapshot <<<"$entry_c")
has_db "$snap_c" || fail "1.5.4's snapshot $snap_c is not there after its minor rollback"

# what a crashed backup of 1.5.4 would have left (its trial restore), and databases that only look like
# retention's: without an id, another deployment's (another prefix), one no upgrade here made
verify_c=codebolt_verify_$(jq -r .id <<<"$entry_c" | tr -cd 'a-z0-9' | cut -c1-8)
decoys="codebolt_pre codebolt_staging_pre_${snap_a#codebolt_pre_} codebolt_pre_0123456789ab"
for db in "$verify_c" $decoys; do
        sb runuser -u postgres -- createdb "$db"
done

# 4. 1.5.6 succeeds: finish prunes snapshots and releases beyond Keep=1 on its own
sb_log "systemctl start codebolt-upgrade@1.5.6"
sb systemctl start codebolt-upgrade@1.5.6.service || fail "the upgrade to 1.5.6 failed"
snap_d=$(cbu_ledger_for 1.5.6 | jq -r 'last | .snapshot')
finish_log=$(sb_journal codebolt-upgrade@1.5.6.service)
for db in "$snap_a" "$snap_c"; do
        has_db "$db" && fail "finish did not drop $db (its backup is pruned, no rollback restores from it)"
        grep -qF "Removing the snapshot $db:" <<<"$finish_log" || fail "finish does not say it removed $db"
done
for db in "$snap_d" "$failed_b" "$verify_c" $decoys codebolt; do
        has_db "$db" || fail "finish dropped $db"
done
[ "$(releases | tr '\n' ' ')" = "1.5.0 1.5.6 " ] ||
        fail "finish left the releases $(releases | tr '\n' ' '), not 1.5.0 (a late rollback's) and 1.5.6"
grep -qF "Removing the release 1.4.0:" <<<"$finish_log" || fail "finish does not say it removed release 1.4.0"
[ "$(sb ls /backups/codebolt | wc -l)" = 1 ] || fail "finish kept more than Keep=1 backups: $(sb ls /backups/codebolt)"

# 5. clean --dry-run lists exactly 1.5.1's failed database and the leftover trial restore
before="$(databases) $(releases)"
out=$(sb codebolt-upgrade clean --dry-run) || fail "codebolt-upgrade clean --dry-run failed: $out"
sb_log "codebolt-upgrade clean --dry-run said:
$out"
[ "$(drop_lines "$out")" = "$(printf '%s\n' "$failed_b" "$verify_c" | sort)" ] ||
        fail "clean --dry-run lists $(drop_lines "$out" | tr '\n' ' '), not $failed_b and $verify_c"
grep -qE "^  drop  $failed_b \(failed database, [0-9.]+ (B|KiB|MiB|GiB)\): .*1\.5\.0 → 1\.5\.1 \(restored" <<<"$out" ||
        fail "clean does not give the failed database's size and reason: $out"
grep -qE "^  keep  $snap_d \(snapshot\): .*codebolt-rollback@1\.5\.6" <<<"$out" ||
        fail "clean does not say why 1.5.6's snapshot stays: $out"
grep -qE "^  keep  1\.5\.0 \(release\): .*late rollback" <<<"$out" || fail "clean does not say why release 1.5.0 stays: $out"
for db in codebolt codebolt_pre "codebolt_staging_pre_${snap_a#codebolt_pre_}"; do
        awk '{ print $2 }' <<<"$out" | grep -qxF -- "$db" && fail "clean lists $db, which is not retention's: $out"
done
grep -qE "^  keep  codebolt_pre_0123456789ab \(snapshot\): no upgrade in the ledger" <<<"$out" ||
        fail "clean does not leave alone a snapshot no upgrade here made: $out"
grep -qF "Dry run: nothing was dropped" <<<"$out" || fail "clean --dry-run does not say it changed nothing: $out"
[ "$(databases) $(releases)" = "$before" ] || fail "clean --dry-run changed something:
$(diff <(echo "$before") <(echo "$(databases) $(releases)"))"

# 6. clean: a database in use is not dropped (exit 1, naming it); once free, it is
sb systemd-run --quiet --unit=cbu-session-holder --uid=postgres \
        psql -X -q -d "$verify_c" -c "SELECT pg_sleep(600)"
for _ in $(seq 100); do
        [ "$(sb runuser -u postgres -- psql -X -tAc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$verify_c'")" -gt 0 ] && break
        sleep 0.2
done
sb_log "codebolt-upgrade clean (a session holds $verify_c)"
out=$(sb codebolt-upgrade clean 2>&1) && fail "codebolt-upgrade clean succeeded while $verify_c was in use: $out"
sb_log "codebolt-upgrade clean said:
$out"
grep -qF "Failed to drop the trial restore $verify_c" <<<"$out" || fail "clean does not name the database it could not drop: $out"
grep -qF "Dropped the failed database $failed_b." <<<"$out" || fail "clean does not say it dropped $failed_b: $out"
has_db "$failed_b" && fail "clean did not drop $failed_b"
has_db "$verify_c" || fail "clean dropped $verify_c while a session was on it"
# the backend sleeps on after its client is gone: end it as an operator would
sb systemctl stop cbu-session-holder.service
sb runuser -u postgres -- psql -X -q -tAc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$verify_c'" >/dev/null
for _ in $(seq 100); do
        [ "$(sb runuser -u postgres -- psql -X -tAc "SELECT count(*) FROM pg_stat_activity WHERE datname = '$verify_c'")" = 0 ] && break
        sleep 0.2
done

out=$(sb codebolt-upgrade clean 2>&1) || fail "codebolt-upgrade clean failed once $verify_c was free: $out"
grep -qF "1 of 1 dropped or removed." <<<"$out" || fail "clean does not say what it did: $out"
has_db "$verify_c" && fail "clean did not drop $verify_c"
out=$(sb codebolt-upgrade clean 2>&1) || fail "codebolt-upgrade clean with nothing to drop failed: $out"
grep -qF "Nothing to drop." <<<"$out" || fail "a second clean does not say there is nothing to drop: $out"

# what a rollback needs, and whatever is not retention's, is all still there
for db in "$snap_d" $decoys codebolt; do
        has_db "$db" || fail "clean dropped $db"
done
[ "$(releases | tr '\n' ' ')" = "1.5.0 1.5.6 " ] || fail "clean removed a release: $(releases | tr '\n' ' ')"

# 7. a late rollback by hand of 1.5.6 still works (minor: 1.5.6 applied no breaking migration)
sb_log "systemctl start codebolt-rollback@1.5.6 (after clean)"
sb systemctl start codebolt-rollback@1.5.6.service || fail "the late rollback of 1.5.6 failed after clean"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "1.5.0 does not run after the late rollback of 1.5.6"
cbu_ledger_for 1.5.6 | jq -e 'last | .result == "rolled-back" and .late == true' >/dev/null ||
        fail "the ledger does not record the late rollback of 1.5.6: $(cbu_ledger_for 1.5.6 | jq -c last)"
sb_log "PASS"
