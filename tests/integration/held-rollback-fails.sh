#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# 1.4.0 → 1.5.7: 1.5.7's smoke test fails, and its migration 20260410_server_floor, declared non-breaking,
# is not: it records that the database needs a 1.5.7 server, and 1.4.0 refuses to start on it. The
# rollback table picks a minor rollback (the data stays), so the rollback itself fails: 1.4.0 does not
# come up. The upgrade is held: the server stopped (not restarted by its Restart=), the database and
# the backup untouched and still verified, a critical journal entry, and `codebolt-upgrade status` says
# HELD and what to do by hand. Doing what it says brings 1.4.0 back on the data it had. Outcome: held.
# matrix[old-refuses-start]: rollback | the old version refuses to start after a minor rollback (a mislabelled breaking migration) | held
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.4.0

hmax=$(cbu_history_max)
digests=$(cbu_table_digests "$hmax")
databases() {
        sb runuser -u postgres -- psql -X -tAc "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database"
}

sb_log "systemctl start codebolt-upgrade@1.5.7"
sb systemctl start codebolt-upgrade@1.5.7.service 2>/dev/null && fail "the upgrade to 1.5.7 succeeded"
result=$(cbu_wait_rollback 1.5.7) || fail "the rollback of 1.5.7 did not end: $result"
[ "$result" = held ] || fail "the rollback of 1.5.7 ended '$result', not held"
entries=$(cbu_ledger_for 1.5.7)
[ "$(jq '[.[] | select(.result == "held")] | length' <<<"$entries")" = 1 ] || fail "not one held entry in the ledger: $entries"
[ "$(jq -r 'last | .phase' <<<"$entries")" = smoke ] || fail "the ledger does not say 1.5.7 failed in smoke: $entries"

# what happened: the migration declared non-breaking, a minor rollback, 1.4.0 refusing the database
jq -e 'last | .migrations | any(.id == "20260410_server_floor" and .state == "applied" and .breaking == false)' \
        <<<"$entries" >/dev/null || fail "the ledger does not record 20260410_server_floor as applied, non-breaking: $entries"
sb_journal_has codebolt.service 'failed: agent smoke-test gave up' || fail "1.5.7's smoke run did not fail as injected"
sb_journal_has codebolt-rollback@1.5.7.service 'a minor rollback, the data stays' ||
        fail "the rollback did not choose a minor rollback"
sb_journal_has codebolt.service 'fatal: database codebolt needs codebolt-server 1.5.7 or later' ||
        fail "1.4.0 did not refuse the database 1.5.7 left"

# the server is stopped, and stays stopped: its Restart= does not bring 1.4.0 (or 1.5.7) back in a loop
# (RestartSec=2 in the deployment's unit)
starts=$(cbu_starts_within 6 'codebolt-server .* starting') || fail "cannot count the server's starts"
state=$(sb systemctl show -P ActiveState,SubState codebolt.service | paste -sd/)
case $state in
inactive/* | failed/*) ;;
*) fail "codebolt.service is $state after the hold, not stopped ($starts starts in the 6 s after the hold)" ;;
esac
[ "$starts" = 0 ] || fail "codebolt.service started $starts times in the 6 s after the hold"
[ "$(sb readlink -f /opt/codebolt/current)" = /opt/codebolt/releases/1.4.0 ] ||
        fail "/opt/codebolt/current points at $(sb readlink -f /opt/codebolt/current), not 1.4.0"
sb test -d /opt/codebolt/releases/1.5.7 || fail "the release of 1.5.7 is gone: the post-mortem needs it"

# the database is as 1.5.7 left it (a minor rollback keeps the data), and the restore point is there
backup=$(sb jq -r .backup "$CBU_STATE/current.json")
snapshot=$(sb jq -r .snapshot "$CBU_STATE/current.json")
grep -qw "$snapshot" <<<"$(databases)" || fail "the snapshot $snapshot is gone: $(databases)"
grep -q 'codebolt_failed_' <<<"$(databases)" && fail "a database was renamed to codebolt_failed_*: $(databases)"
[ "$(cbu_psql -c "SELECT value FROM codebolt_meta WHERE key = 'min_server_version'")" = 1.5.7 ] ||
        fail "the database no longer holds 1.5.7's migration"

# the backup is intact: every checksum of its manifest holds, it is still marked verified, the dump reads
# shellcheck disable=SC2016 # the script runs in the sandbox's shell, which expands it
sb sh -c 'cd "$1" && [ "$(sha256sum <files.sha256 | cut -d" " -f1)" = "$(jq -r .files_list.sha256 manifest.json)" ] && sha256sum --check --strict --quiet files.sha256' sh "$backup" ||
        fail "the backup $backup no longer matches its manifest"
sb jq -e '.verified == true' "$backup/manifest.json" >/dev/null || fail "the backup is no longer marked verified"
sb pg_restore --list "$backup/database.dump" >/dev/null || fail "pg_restore --list rejects $backup/database.dump"

# a critical journal entry: the catalog's held event, PRIORITY=2, saying 1.4.0 did not come up
held=$(sb journalctl -b --no-pager -o json MESSAGE_ID=1dc58e336a3e4a299b0135fd234cd073 \
        _SYSTEMD_UNIT=codebolt-rollback@1.5.7.service)
[ "$(jq -s length <<<"$held")" = 1 ] || fail "not one 'held' catalog entry from the rollback: $held"
jq -e '.PRIORITY == "2" and .CODEBOLT_UPGRADE_FROM == "1.4.0" and
        (.CODEBOLT_UPGRADE_REASON | contains("did not come up on 1.4.0"))' <<<"$held" >/dev/null ||
        fail "the 'held' catalog entry is not critical or does not say 1.4.0 did not come up: $held"
explained=$(sb journalctl -b --no-pager -x -u codebolt-rollback@1.5.7.service)
grep -qF 'Subject: Codebolt upgrade to 1.5.7 is held: finish by hand' <<<"$explained" ||
        fail "journalctl -x does not show the 'held' catalog subject"

# codebolt-upgrade status says HELD, why, and what to do by hand
status=$(sb codebolt-upgrade status) || fail "codebolt-upgrade status failed: $status"
for want in 'HELD:' 'did not come up on 1.4.0' 'Nothing more happens on its own' '20260410_server_floor' \
        'To finish by hand:' 'codebolt-upgrade clear 1.5.7'; do
        grep -qF -- "$want" <<<"$status" || fail "codebolt-upgrade status lacks '$want': $status"
done
cbu_observe old-refuses-start 1.4.0 1.5.7

# finish by hand exactly as status says, in its order: stop, the database, the stores, release and pin,
# start, clear
steps=$(sed -n '/^To finish by hand:$/,/^Then: /p' <<<"$status")
sb_log "finishing by hand as codebolt-upgrade status says: $(sed -n 2p <<<"$steps")"
if grep -qF 'systemctl stop codebolt.service' <<<"$steps"; then
        sb systemctl stop codebolt.service
fi
while read -r sql; do
        [ -n "$sql" ] || continue
        sb runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -c "$sql" || fail "by hand, as status says: $sql failed"
done < <(grep -oE 'ALTER DATABASE "[^"]+" (RENAME|OWNER) TO "[^"]+"' <<<"$steps" || true)
if grep -qF 'rsync -a --delete' <<<"$steps"; then
        for store in $(sb jq -r '.stores[]' "$backup/manifest.json"); do
                sb rsync -a --delete "$backup/stores$store/" "$store/" || fail "by hand, as status says: rsync of $store failed"
        done
fi
link=$(grep -oE 'ln -sfn releases/[^ ]+ /opt/codebolt/current' <<<"$steps" || true)
pin=$(grep -oE 'echo [^ ]+ >[^ )]+' <<<"$steps" || true)
[ -z "$link" ] || sb sh -c "cd /opt/codebolt && $link" || fail "by hand, as status says: $link failed"
[ -z "$pin" ] || sb sh -c "$pin" || fail "by hand, as status says: $pin failed"
grep -qF 'systemctl start codebolt.service' <<<"$steps" ||
        fail "codebolt-upgrade status does not say to start codebolt.service: $status"
cursor=$(sb journalctl -n0 --show-cursor -o cat | sed -n 's/^-- cursor: //p')
sb systemctl start codebolt.service
if ! cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60; then
        sb journalctl --sync
        fail "codebolt-upgrade status's instructions did not bring 1.4.0 back; they were:
$steps
codebolt.service says: $(sb journalctl --no-pager -o cat --after-cursor "$cursor" _SYSTEMD_UNIT=codebolt.service | grep -vF starting | head -n 1)"
fi
out=$(sb codebolt-upgrade clear 1.5.7) || fail "codebolt-upgrade clear 1.5.7 failed: $out"
grep -qF 'Closed the held upgrade to 1.5.7' <<<"$out" || fail "codebolt-upgrade clear does not close the held upgrade: $out"

# 1.4.0 runs again on exactly the data it had, the stores as in the backup
cbu_expect_old 1.4.0 1.5.7 held "$digests" "$hmax"
status=$(sb codebolt-upgrade status) || fail "codebolt-upgrade status failed: $status"
grep -qF 'HELD:' <<<"$status" && fail "codebolt-upgrade status still says HELD after the clear: $status"
grep -qF 'Installed: 1.4.0 (pin: 1.4.0)' <<<"$status" || fail "codebolt-upgrade status does not say 1.4.0 runs: $status"
sb_log "PASS"
