#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Snapshot=delta: the restore point is the backup's dump plus the rows written since, read from a
# logical replication slot at the stop (docs/architecture.md, "Snapshot=delta").
#  1. wal_level=logical, Snapshot=delta, 1.5.0 → 1.5.1 (a failing migration: a full restore). Rows are
#     written while the database is dumped (after the slot began), between the backup and the stop
#     (inserts, updates and deletes of seeded rows, hostile values, sequences moved), which the drain
#     reads ahead of the stop. The restored database equals the database at the stop: every table's
#     ordered checksum, every sequence.
#  2. Snapshot=delta, 1.5.0 → 1.5.13 succeeds: no snapshot database, no slot left.
#     A change the delta cannot replay exactly (an UPDATE of the partitioned event_log, which has no
#     key), 1.5.13 → 1.5.15: the stop takes template instead and says why; no slot left.
#  3. A slot left behind (made by hand, named as the upgrade names them): status shows it, clean
#     drops it.
#  4. wal_level=replica, Snapshot=auto, 1.5.15 → 1.9.3: auto says once why it takes template, and does.
# And first, 0. Snapshot=none (with Rollback=restore-always), 1.5.0 → 1.5.4 (its smoke test fails): no
#     restore point at the stop, so the full restore brings the database and the stores back to the
#     backup together; a row and a store file written between the backup and the stop are gone, and the
#     journal said beforehand that they would be.
source "$(dirname "$0")/lib/sandbox.sh"
source "$(dirname "$0")/lib/codebolt.sh"
source "$(dirname "$0")/lib/gate.sh"

sandbox_boot
cbu_install
cbu_registry
cbu_deploy 1.5.0
gate_install drain switch

pg_admin() {
        sb runuser -u postgres -- psql -X -q -A -t -v ON_ERROR_STOP=1 -d codebolt "$@"
}

# journal_matches UNIT REGEX: a line of the unit's journal matches the extended regular expression
journal_matches() {
        local out
        out=$(sb_journal "$1")
        grep -qE -- "$2" <<<"$out"
}

slots() {
        pg_admin -c "SELECT count(*) FROM pg_replication_slots"
}

# wal_level as an operator sets it (this product never does): ALTER SYSTEM, then a restart
set_wal_level() {
        pg_admin -c "ALTER SYSTEM SET wal_level = $1"
        sb systemctl restart postgresql@15-main.service
        [ "$(pg_admin -c 'SHOW wal_level')" = "$1" ] || fail "PostgreSQL's wal_level is not $1 after the restart"
        cbu_wait_http "http://127.0.0.1:$CBU_PORT/health" 60 || fail "the server does not answer after PostgreSQL's restart"
}

snapshot_mode() {
        sb install -d /etc/codebolt-upgrade/upgrade.conf.d
        printf '[Backup]\nSnapshot=%s\n' "$1" | sb tee /etc/codebolt-upgrade/upgrade.conf.d/60-snapshot.conf >/dev/null
}

# The database as a restore must bring it back: "table rows:md5" of every table, its rows in order,
# and "sequence last_value is_called" of every sequence. What the old release writes once it runs
# again after a restore is left out on both sides: the smoke tests' history rows and runs (rows after
# $1, the highest history id, and $2, the stop's time), and the sequences they move (compared apart).
db_state() {
        local hmax=$1 stop=$2
        pg_admin -v hmax="$hmax" -v stop="$stop" <<'SQL'
SELECT format('SELECT %L || '' '' || count(*) || '':'' || coalesce(md5(string_agg(t::text, E''\n'' ORDER BY t::text)), '''') FROM %s t%s',
              c.oid::regclass, c.oid::regclass,
              CASE c.relname WHEN 'history' THEN format(' WHERE id <= %s', :'hmax')
                             WHEN 'runs' THEN format(' WHERE created_at <= %L', :'stop') ELSE '' END)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY c.relname
\gexec
SELECT format('SELECT %L || '' '' || last_value || '' '' || is_called FROM %s', c.oid::regclass, c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname = 'public' AND c.relname NOT IN ('history_id_seq', 'standin_hosts_n_seq')
ORDER BY c.relname
\gexec
SQL
}

# --- 0. none: the backup is the restore point, for the database and the stores alike ---
snapshot_mode none
printf '[Policy]\nRollback=restore-always\n' | sb tee /etc/codebolt-upgrade/upgrade.conf.d/60-rollback.conf >/dev/null
gate_arm drain
sb_log "systemctl start codebolt-upgrade@1.5.4 (Snapshot=none)"
sb systemctl start --no-block codebolt-upgrade@1.5.4.service
gate_wait drain >/dev/null || fail "the upgrade to 1.5.4 never reached drain"
backup=$(sb jq -r .backup "$CBU_STATE/current.json")
cbu_psql -c "INSERT INTO projects (name) VALUES ('after-the-backup')" >/dev/null
sb runuser -u codebolt -- sh -c 'echo "after the backup" >/var/lib/codebolt/kg/after-backup.json'
gate_release drain
result=$(cbu_wait_rollback 1.5.4) || fail "the rollback of 1.5.4 did not end: $result"
[ "$result" = restored ] || fail "the rollback of 1.5.4 ended '$result', not restored"
sb_journal_has codebolt-upgrade@1.5.4.service \
        'Snapshot=none: whatever was written to database codebolt and the stores between the backup and the stop is not protected; a full restore would bring both back to the backup.' ||
        fail "the snapshot phase did not warn that Snapshot=none protects nothing after the backup"
journal_matches codebolt-upgrade@1.5.4.service "snapshot: copying the stores' changes" &&
        fail "Snapshot=none copied the stores at the stop"
[ "$(cbu_psql -c "SELECT count(*) FROM projects WHERE name = 'after-the-backup'")" = 0 ] ||
        fail "the row written after the backup survived the full restore under Snapshot=none"
sb test -e /var/lib/codebolt/kg/after-backup.json &&
        fail "the store file written after the backup survived the full restore under Snapshot=none"
sb jq -e 'has("refreshed") | not' "$backup/manifest.json" >/dev/null ||
        fail "the manifest says the snapshot refreshed the backup under Snapshot=none"
[ "$(cbu_health_version)" = 1.5.0 ] || fail "/health does not report 1.5.0 after the restore of 1.5.4"
sb rm /etc/codebolt-upgrade/upgrade.conf.d/60-rollback.conf
sb_log "1.5.4: Snapshot=none restored the database and the stores as the backup had them"

# --- 1. delta, and a full restore from it ---
set_wal_level logical
snapshot_mode delta

# a table of the site's own with values a replay must carry exactly
CBU_DB=codebolt cbu_psql -c "CREATE TABLE delta_check (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        txt text, raw bytea, n numeric, at timestamptz, tags text[], doc jsonb, flag boolean)"
cbu_psql -c "INSERT INTO delta_check (txt, n) SELECT 'seed ' || i, i / 7.0 FROM generate_series(1, 5) i"

# rows written while the database is dumped, after the slot began: pg_dump runs them first
sb tee /run/cbu-dump-writes.sql >/dev/null <<'SQL'
INSERT INTO history (project_id, entry) SELECT id, 'written during the dump' FROM projects;
INSERT INTO delta_check (txt, raw, n, at, tags, doc, flag) VALUES
  (E'during the dump: O''Brien "q" \\ back\nline two\ttab', '\x00ff10'::bytea,
   12345678901234567890.0000000001, '2026-12-06 19:00:00.123456+02', ARRAY['a', 'b c', NULL], '{"k": [1, "two"]}', true);
INSERT INTO event_log (project_id, kind, payload) VALUES (1, 'dump', 'during the dump');
SQL
sb chmod 0644 /run/cbu-dump-writes.sql
sb mv /usr/bin/pg_dump /usr/bin/pg_dump.cbu-real
sb tee /usr/bin/pg_dump >/dev/null <<'WRAPPER'
#!/bin/sh
# a test wrapper (tests/integration/snapshot-delta.sh): writes rows as the dump begins
if [ -e /run/cbu-dump-writes.sql ]; then
        psql -X -q -v ON_ERROR_STOP=1 -d codebolt -f /run/cbu-dump-writes.sql >/dev/null || exit 99
fi
exec /usr/lib/postgresql/15/bin/pg_dump "$@"
WRAPPER
sb chmod 0755 /usr/bin/pg_dump

gate_arm drain
gate_arm switch
sb_log "systemctl start codebolt-upgrade@1.5.1 (Snapshot=delta)"
sb systemctl start --no-block codebolt-upgrade@1.5.1.service
gate_wait drain >/dev/null || fail "the upgrade to 1.5.1 never reached drain"
[ "$(slots)" = 1 ] || fail "the backup made no replication slot"
sb rm -f /run/cbu-dump-writes.sql

# between the backup and the stop: every kind of change, hostile values, sequences moved
cbu_psql <<'SQL' >/dev/null
UPDATE users SET password_hash = 'changed after the backup' WHERE username = 'alice';
UPDATE memory SET value = E'multi\nline ''quoted'' ü 😀', kind = NULL WHERE id <= 5;
DELETE FROM memory WHERE id IN (10, 11);
DELETE FROM history WHERE id IN (1, 2, 3);
INSERT INTO history (project_id, entry) VALUES (2, 'after the backup');
UPDATE history SET entry = 'edited after the backup' WHERE id = 50;
INSERT INTO event_log (project_id, kind, payload) VALUES (2, 'stop', repeat('big ', 100000));
INSERT INTO delta_check (txt, raw, n, at, flag) VALUES (repeat('x', 300000), decode(repeat('00ff', 5000), 'hex'), 'NaN', 'infinity', NULL);
UPDATE delta_check SET n = -0.5, tags = '{}' WHERE id = 1;
DELETE FROM delta_check WHERE id = 2;
SELECT setval('projects_id_seq', 500);
SELECT nextval('users_id_seq') FROM generate_series(1, 3);
SQL
gate_release drain

gate_wait switch >/dev/null || fail "the upgrade to 1.5.1 never reached switch"
# the server is stopped and the snapshot taken: this is the database at the stop
hmax=$(cbu_history_max)
stop=$(pg_admin -c "SELECT now()")
at_stop=$(db_state "$hmax" "$stop")
current=$(sb cat "$CBU_STATE/current.json")
jq -e '.snapshot == null and (.delta_file | endswith("/database.delta")) and (.delta_slot | test("^cbu_codebolt_[0-9a-f]{12}$"))' \
        <<<"$current" >/dev/null || fail "current.json does not name the delta: $current"
backup=$(jq -r .backup <<<"$current")
manifest=$(sb cat "$backup/manifest.json")
sb grep -q '^[0-9a-f]\{64\}  database\.delta$' "$backup/files.sha256" || fail "files.sha256 has no checksum of database.delta"
jq -e '(.delta.changes > 0) and (.delta.sequences | length > 0) and
        (.delta.lsn | test("^[0-9A-F]+/[0-9A-F]+$")) and (.delta.slot | startswith("cbu_codebolt_"))' <<<"$manifest" >/dev/null ||
        fail "the manifest does not record the delta: $(jq -c .delta <<<"$manifest")"
[ "$(slots)" = 0 ] || fail "the snapshot phase left the replication slot"
[ -z "$(pg_admin -c "SELECT datname FROM pg_database WHERE datname LIKE 'codebolt_pre_%'")" ] ||
        fail "Snapshot=delta made a template copy"
journal_matches codebolt-upgrade@1.5.1.service 'Delta of database codebolt: [0-9]+ changes since the backup' ||
        fail "the snapshot phase did not say it took the delta"
# the drain read the changes written so far ahead of the stop (the restore below proves the two parts
# make the whole)
journal_matches codebolt-upgrade@1.5.1.service 'Read [0-9]+ changes since the backup ahead of the stop into .*/database.delta' ||
        fail "the drain did not read the changes ahead of the stop"
gate_release switch

result=$(cbu_wait_rollback 1.5.1) || fail "the rollback of 1.5.1 did not end: $result"
[ "$result" = restored ] || fail "the rollback of 1.5.1 ended '$result', not restored"
journal_matches codebolt-rollback@1.5.1.service 'Replayed [0-9]+ statements of .*database.delta onto codebolt_restore_' ||
        fail "the rollback did not replay the delta"
after=$(db_state "$hmax" "$stop")
[ "$after" = "$at_stop" ] || fail "the restored database differs from the database at the stop:
$(diff <(echo "$at_stop") <(echo "$after"))"
# history's sequence moved on with the old release's smoke tests: from the stop's value, never behind
[ "$(cbu_psql -c "SELECT last_value >= $hmax FROM history_id_seq")" = t ] ||
        fail "history_id_seq is behind the rows of the stop after the restore"
[ "$(cbu_psql -c "SELECT count(*) FROM history WHERE id <= $hmax AND entry = 'written during the dump'")" = 3 ] ||
        fail "the rows written during the dump are not in the restored database"
[ "$(slots)" = 0 ] || fail "a replication slot is left after the restore"
sb_log "1.5.1: the restore from the dump and the delta equals the database at the stop"

# --- 2. a success leaves no slot ---
sb_log "systemctl start codebolt-upgrade@1.5.13 (Snapshot=delta)"
sb systemctl start codebolt-upgrade@1.5.13.service || fail "the upgrade to 1.5.13 failed"
entry=$(cbu_ledger_for 1.5.13 | jq -c last)
jq -e '.result == "succeeded" and .snapshot == null' <<<"$entry" >/dev/null || fail "the ledger's 1.5.13 entry: $entry"
[ "$(slots)" = 0 ] || fail "a replication slot is left after the upgrade to 1.5.13 succeeded"

# --- 2b. a change the delta cannot replay exactly: the stop takes template instead, and says why ---
gate_arm drain
sb_log "systemctl start codebolt-upgrade@1.5.15 (Snapshot=delta, an UPDATE of a table without a key)"
sb systemctl start --no-block codebolt-upgrade@1.5.15.service
gate_wait drain >/dev/null || fail "the upgrade to 1.5.15 never reached drain"
cbu_psql -c "UPDATE event_log SET payload = 'changed after the backup' WHERE kind = 'dump'" >/dev/null
gate_release drain
# joins the start job under way and waits for its end
sb systemctl start codebolt-upgrade@1.5.15.service || fail "the upgrade to 1.5.15 failed"
entry=$(cbu_ledger_for 1.5.15 | jq -c last)
jq -e '.result == "succeeded" and (.snapshot | test("^codebolt_pre_"))' <<<"$entry" >/dev/null ||
        fail "the stop did not take template for a delta it cannot replay: $entry"
journal_matches codebolt-upgrade@1.5.15.service \
        'Snapshot=delta: the changes since the backup cannot be replayed exactly \(an UPDATE of "public"."event_log_default" cannot name its row: the table has no primary key or replica identity index\): taking a template copy instead' ||
        fail "the snapshot phase did not say why it took template"
[ "$(slots)" = 0 ] || fail "a replication slot is left after the upgrade to 1.5.15 took template"

# --- 3. a slot left behind: status shows it, clean drops it ---
pg_admin -c "SELECT pg_create_logical_replication_slot('cbu_codebolt_0123456789ab', 'test_decoding')" >/dev/null
out=$(sb codebolt-upgrade status)
grep -q 'LEFTOVER replication slot cbu_codebolt_0123456789ab' <<<"$out" || fail "status does not show the leftover slot: $out"
out=$(sb codebolt-upgrade clean)
grep -q 'Dropped the replication slot cbu_codebolt_0123456789ab' <<<"$out" || fail "clean did not drop the leftover slot: $out"
[ "$(slots)" = 0 ] || fail "clean left the replication slot"

# --- 4. auto on wal_level=replica: template, said once ---
set_wal_level replica
snapshot_mode auto
cursor=$(sb_cursor)
sb_log "systemctl start codebolt-upgrade@1.9.3 (Snapshot=auto, wal_level=replica)"
sb systemctl start codebolt-upgrade@1.9.3.service || fail "the upgrade to 1.9.3 failed"
out=$(sb_journal_since "$cursor" -u codebolt-upgrade@1.9.3.service)
said=$(grep -cF "Snapshot=auto: the snapshot phase takes a template copy: PostgreSQL's wal_level is replica, not logical" <<<"$out" || true)
[ "$said" = 1 ] || fail "auto said $said times why it takes template, not once"
entry=$(cbu_ledger_for 1.9.3 | jq -c last)
jq -e '.result == "succeeded" and (.snapshot | test("^codebolt_pre_"))' <<<"$entry" >/dev/null ||
        fail "auto did not take template on wal_level=replica: $entry"
sb_log "PASS"
