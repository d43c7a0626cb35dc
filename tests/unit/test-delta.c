/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-delta.c: Snapshot=delta's decisions, and the whole way on a private server: a slot and its
 * exported snapshot, the dump, writes after each, the changes read, the dump restored and the changes
 * replayed, and the copy equal to the source table by table and sequence by sequence */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "decoding.h"
#include "delta.h"
#include "json-util.h"
#include "macro.h"
#include "pg-client.h"
#include "pg-slot.h"
#include "test-pg-server.h"

START_TEST(test_slot_name) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *p = NULL, *long_db = NULL;

        ck_assert_int_eq(delta_slot_name("codebolt", "0123456789abcdef0123", &a), 0);
        ck_assert_str_eq(a, "cbu_codebolt_0123456789ab");
        ck_assert_int_eq(delta_slot_name("Code-Bolt \"prod\"", "20261206195400", &b), 0);
        ck_assert_str_eq(b, "cbu_code_bolt__prod__202612061954");
        ck_assert_int_eq(delta_slot_prefix("Code-Bolt \"prod\"", &p), 0);
        ck_assert_ptr_nonnull(startswith(b, p));

        long_db = malloc(100);
        ck_assert_ptr_nonnull(long_db);
        memset(long_db, 'x', 99);
        long_db[99] = 0;
        ck_assert_int_eq(delta_slot_name(long_db, "abcdef012345", &c), 0);
        ck_assert_uint_eq(strlen(c), 63);
        ck_assert_str_eq(c + strlen(c) - 13, "_abcdef012345");

        ck_assert_int_eq(delta_slot_name("codebolt", "", &c), -EINVAL);
        ck_assert_int_eq(delta_slot_name("codebolt", "ABC", &c), -EINVAL);
        ck_assert_int_eq(delta_slot_name("codebolt", "a-b", &c), -EINVAL);
}
END_TEST

START_TEST(test_decide) {
        DeltaFacts ok = { .wal_level = (char *)"logical",
                          .role = (char *)"codebolt",
                          .may_replicate = true,
                          .may_set_replica = true,
                          .free_slots = 3 };
        DeltaFacts replica = ok, no_role = ok, no_set = ok, full = ok;
        char *why = NULL;

        replica.wal_level = (char *)"replica";
        no_role.may_replicate = false;
        no_set.may_set_replica = false;
        full.free_slots = 0;

        ck_assert_int_eq(delta_decide(SNAPSHOT_TEMPLATE, &ok, NULL, &why), 0);
        ck_assert_ptr_null(why);
        ck_assert_int_eq(delta_decide(SNAPSHOT_DUMP, &replica, NULL, &why), 0);
        ck_assert_ptr_null(why);
        ck_assert_int_eq(delta_decide(SNAPSHOT_AUTO, &ok, NULL, &why), 1);
        ck_assert_int_eq(delta_decide(SNAPSHOT_DELTA, &ok, NULL, &why), 1);
        ck_assert_ptr_null(why);

        ck_assert_int_eq(delta_decide(SNAPSHOT_AUTO, &replica, NULL, &why), 0);
        ck_assert_ptr_nonnull(strstr(why, "wal_level is replica, not logical"));
        ck_assert_ptr_nonnull(strstr(why, "ALTER SYSTEM SET wal_level = logical"));
        free(TAKE_PTR(why));
        ck_assert_int_eq(delta_decide(SNAPSHOT_DELTA, &replica, NULL, &why), -EOPNOTSUPP);
        free(TAKE_PTR(why));
        ck_assert_int_eq(delta_decide(SNAPSHOT_DELTA, &no_role, NULL, &why), -EOPNOTSUPP);
        ck_assert_ptr_nonnull(strstr(why, "ALTER ROLE codebolt REPLICATION"));
        free(TAKE_PTR(why));
        ck_assert_int_eq(delta_decide(SNAPSHOT_AUTO, &no_set, NULL, &why), 0);
        ck_assert_ptr_nonnull(strstr(why, "GRANT SET ON PARAMETER session_replication_role TO codebolt"));
        free(TAKE_PTR(why));
        ck_assert_int_eq(delta_decide(SNAPSHOT_AUTO, &full, NULL, &why), 0);
        ck_assert_ptr_nonnull(strstr(why, "max_replication_slots"));
        free(TAKE_PTR(why));
        ck_assert_int_eq(delta_decide(SNAPSHOT_AUTO, NULL, "connection refused", &why), 0);
        ck_assert_ptr_nonnull(strstr(why, "connection refused"));
        free(TAKE_PTR(why));
}
END_TEST

START_TEST(test_large_objects) {
        static const struct {
                const char *before;
                int64_t count, changes;
                int expect;
        } cases[] = {
                { "{\"lo_count\": 0, \"lo_changes\": 0}", 0, 12, 0 },  /* none then, none now */
                { "{\"lo_count\": 0, \"lo_changes\": -1}", 0, -1, 0 }, /* even without statistics */
                { "{\"lo_count\": 2, \"lo_changes\": 7}", 2, 7, 0 },
                { "{\"lo_count\": 2, \"lo_changes\": 7}", 2, 8, 1 },
                { "{\"lo_count\": 2, \"lo_changes\": 7}", 1, 7, 1 },
                { "{\"lo_count\": 0, \"lo_changes\": 7}", 1, 8, 1 },
                { "{\"lo_count\": 2, \"lo_changes\": -1}", 2, -1, 1 },
                { "{}", 2, 7, 1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *before = cJSON_Parse(cases[i].before);
                DeltaFacts after = { .lo_count = cases[i].count, .lo_changes = cases[i].changes };
                _cleanup_free_ char *why = NULL;

                ck_assert_msg(
                        delta_large_objects_unchanged(before, &after, &why) == cases[i].expect,
                        "case %zu",
                        i);
                ck_assert(cases[i].expect == 0 ? !why : why != NULL);
        }
}
END_TEST

/* ---- the whole way, on the private server ---- */

static PgTarget db_target(const char *db) {
        return (PgTarget){ .os_user = "postgres", .dbname = db };
}

static void exec_in(const char *db, const char *sql) {
        PgTarget t = db_target(db);

        test_pg_exec_or_die(&t, sql);
}

static char *one_value(const char *db, const char *sql) {
        PgTarget t = db_target(db);
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *error = NULL;
        char *v;

        ck_assert_msg(pg_query(&t, sql, NULL, 0, &rows, &error) == 0, "%s: %s", sql, strempty(error));
        v = strdup(strempty(test_pg_row_string(rows, 0, "v")));
        ck_assert_ptr_nonnull(v);
        return v;
}

/* an ordered checksum of a table's rows */
static char *table_sum(const char *db, const char *table) {
        _cleanup_free_ char *sql = NULL;

        ck_assert_int_ge(
                asprintf(
                        &sql,
                        "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY "
                        "t::text)), '')"
                        " AS v FROM %s t",
                        table),
                0);
        return one_value(db, sql);
}

static char *sequences_text(const char *db) {
        PgTarget t = db_target(db);
        _cleanup_json_ cJSON *list = NULL;
        char *s;

        ck_assert_int_eq(pg_sequence_values(&t, &list, NULL), 0);
        s = cJSON_PrintUnformatted(list);
        ck_assert_ptr_nonnull(s);
        return s;
}

#define SRC "cbu_delta_src"
#define DST "cbu_delta_dst"
#define SLOT "cbu_cbu_delta_src_0123456789ab"

START_TEST(test_slot_dump_replay) {
        _cleanup_free_ char *conninfo = NULL, *error = NULL, *dump = strdup("/tmp/test-delta-dump.XXXXXX"),
                            *changes = strdup("/tmp/test-delta-changes.XXXXXX");
        _cleanup_(delta_facts_done) DeltaFacts before = {}, after = {}, restored = {};
        _cleanup_(pg_slot_export_done) PgSlotExport e = { .hold_fd = -EBADF };
        _cleanup_json_ cJSON *tables = NULL, *sequences = NULL, *props = NULL, *counts = NULL,
                             *at_stop = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        PgTarget src = db_target(SRC), dst = db_target(DST),
                 admin = test_pg_client_target(&conninfo, "postgres"),
                 dumper = test_pg_client_target(&conninfo, SRC);
        _cleanup_(pg_slot_changes_done) PgSlotChanges ahead = {}, stop = {}, again = {};
        _cleanup_free_ char *checkpoint = NULL;
        uint64_t statements = 0;
        int fd, status = -1, r, not_replayable = 0;
        static const char *const table_names[] = { "items", "audit", "plain_log", "\"Odd\"\"Name\"" };

        ck_assert_ptr_nonnull(dump);
        ck_assert_ptr_nonnull(changes);
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE IF EXISTS " SRC);
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE IF EXISTS " DST);
        test_pg_exec_or_die(&test_pg_admin, "CREATE DATABASE " SRC);
        exec_in(SRC,
                "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text, note "
                "text,"
                " data bytea, f float8, at timestamptz, tags text[], price numeric, flag boolean, bits "
                "varbit,"
                " span interval, doc jsonb, doubled bigint GENERATED ALWAYS AS (id * 2) STORED);"
                "CREATE TABLE audit (id serial PRIMARY KEY, item bigint, what text);"
                "CREATE TABLE plain_log (at timestamptz, what text);"
                "CREATE TABLE \"Odd\"\"Name\" (\"K ey\" text PRIMARY KEY, v int);"
                "CREATE SEQUENCE counter;"
                "CREATE FUNCTION audit_item() RETURNS trigger LANGUAGE plpgsql AS"
                " $$BEGIN INSERT INTO audit (item, what) VALUES (NEW.id, TG_OP); RETURN NEW; END$$;"
                "CREATE TRIGGER items_audit AFTER INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION "
                "audit_item();"
                "INSERT INTO items (name, note, f, at) SELECT 'seed ' || i, 'n', i / 3.0, now() FROM "
                "generate_series(1, 20) i;"
                "INSERT INTO \"Odd\"\"Name\" VALUES ('a b', 1), ('c''d', 2);"
                "INSERT INTO plain_log VALUES (now(), 'seeded')");

        ck_assert_int_eq(delta_probe(&src, &before, &error), 0);
        ck_assert_str_eq(before.wal_level, "logical");
        ck_assert(before.may_replicate && before.may_set_replica);
        ck_assert_int_gt(before.free_slots, 0);
        ck_assert_int_eq(before.lo_count, 0);
        {
                _cleanup_json_ cJSON *j = delta_facts_to_json(&before);
                ck_assert_ptr_nonnull(j);
                ck_assert_str_eq(json_get_string(j, "fingerprint"), before.fingerprint);
        }

        r = pg_slot_export(&src, SLOT, DELTA_PLUGIN, &e, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        ck_assert_ptr_nonnull(e.snapshot);
        ck_assert_int_eq(pg_slot_export(&src, SLOT, DELTA_PLUGIN, &(PgSlotExport){}, NULL), -EEXIST);

        /* written after the slot, before the dump: the dump must not see it, the slot must */
        exec_in(SRC,
                "INSERT INTO items (name, note, data, f, at, tags, price, flag, bits, span, doc) VALUES"
                " ('O''Brien \"q\" \\ back', E'line\\nbreak\\r\\n\\ttab', '\\x00ff10'::bytea, 0.1, "
                "'2026-12-06 19:00:00.123456+02',"
                "  ARRAY['a', 'b c', NULL, '\"x\"'], 12345678901234567890.0000000001, true, B'10101', '1 "
                "day 02:03:04.5',"
                "  '{\"k\": [1, \"two\", null]}'),"
                " ('café 😀', NULL, NULL, 'NaN', 'infinity', '{}', 'NaN', false, B'', '-3 mons', 'null');"
                "INSERT INTO plain_log VALUES (now(), 'during the dump')");

        fd = mkstemp(dump);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pg_dump_run(&dumper, fd, e.snapshot, &status), 0);
        ck_assert_int_eq(status, 0);
        close(fd);
        pg_slot_export_done(&e);

        /* a checkpoint in between, as the backup's trial restore leaves several: its running-transactions
         * record is the first place decoding may restart from, and PostgreSQL keeps a slot's first
         * candidate until it is confirmed, whatever later ones it meets */
        exec_in(SRC, "CHECKPOINT");

        /* written after the dump */
        exec_in(SRC,
                "UPDATE items SET name = 'renamed' WHERE id = 3;"
                "UPDATE items SET note = repeat('big ', 50000) WHERE id = 4;"
                "UPDATE items SET price = 7 WHERE id = 4;" /* note stays, TOASTed: unchanged-toast-datum */
                "DELETE FROM items WHERE id IN (5, 6);");

        /* read ahead of the stop, as the drain does: a checkpoint, a transactional message after it, the
         * changes on disk, then the slot advanced past them, so that the stop decodes only what follows
         * the checkpoint */
        checkpoint = one_value(SRC, "SELECT pg_current_wal_lsn()::text AS v");
        exec_in(SRC, "CHECKPOINT");
        exec_in(SRC, "SELECT pg_logical_emit_message(true, 'codebolt-upgrade', 'read ahead of the stop')");
        fd = mkstemp(changes);
        ck_assert_int_ge(fd, 0);
        r = pg_slot_changes_to_fd(&src, SLOT, fd, true, &ahead, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        ck_assert_uint_gt(ahead.read, 4);
        ck_assert_uint_eq(ahead.changes, ahead.read);
        ck_assert_ptr_nonnull(ahead.last_commit);
        ck_assert_int_eq(fsync(fd), 0);
        r = pg_slot_advance(&src, SLOT, ahead.last_commit, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        {
                _cleanup_free_ char *q = NULL, *moved = NULL;

                ck_assert_int_ge(
                        asprintf(
                                &q,
                                "SELECT (restart_lsn >= '%s'::pg_lsn)::text AS v FROM pg_replication_slots "
                                "WHERE slot_name = '" SLOT "'",
                                checkpoint),
                        0);
                moved = one_value(SRC, q);
                ck_assert_msg(
                        streq(moved, "true"),
                        "the slot still decodes from before the checkpoint (%s): %s",
                        checkpoint,
                        one_value(
                                SRC,
                                "SELECT restart_lsn::text || ' ' || confirmed_flush_lsn::text AS v "
                                "FROM pg_replication_slots"));
        }

        /* written after that, before the stop */
        exec_in(SRC,
                "UPDATE \"Odd\"\"Name\" SET \"K ey\" = 'e f' WHERE v = 1;" /* the key itself changes */
                "DELETE FROM \"Odd\"\"Name\" WHERE v = 2;"
                "UPDATE items SET name = 'renamed again' WHERE id = 3;"
                "INSERT INTO plain_log VALUES (now(), 'after the dump');"
                "SELECT nextval('counter') FROM generate_series(1, 5);"
                "SELECT setval('audit_id_seq', 1000)");
        ck_assert_int_eq(delta_probe(&src, &after, &error), 0);
        ck_assert_str_eq(after.fingerprint, before.fingerprint);

        /* the stop: the rest of the changes after the part read ahead, the tables, the sequences */
        r = pg_slot_changes_to_fd(&src, SLOT, fd, false, &stop, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        ck_assert_uint_gt(stop.read, 4);
        ck_assert_uint_eq(stop.changes, ahead.read + stop.read);
        /* each read says how much WAL it decoded (the stop's from the checkpoint on, checked above) */
        ck_assert_uint_gt(ahead.wal_bytes, 0);
        ck_assert_uint_gt(stop.wal_bytes, 0);
        /* a second attempt at the stop writes the same file: the part ahead kept, the rest again */
        r = pg_slot_changes_to_fd(&src, SLOT, fd, false, &again, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        ck_assert_uint_eq(again.changes, stop.changes);
        ck_assert_uint_eq(again.read, stop.read);
        ck_assert_int_eq(lseek(fd, 0, SEEK_END), lseek(fd, 0, SEEK_CUR));
        close(fd);
        ck_assert_int_eq(delta_tables(&src, &tables, &error), 0);
        ck_assert_int_eq(pg_sequence_values(&src, &sequences, &error), 0);

        /* the restore: the dump, then the changes and the sequences */
        ck_assert_int_eq(pg_database_properties(&src, SRC, &props, NULL), 0);
        ck_assert_int_eq(
                pg_restore_dump(&admin, dump, DST, props, test_pg_server_version(), 0, &counts, NULL), 0);

        /* every change judged replayable; the dump's row counts brought to the stop's by them */
        f = fopen(changes, "re");
        ck_assert_ptr_nonnull(f);
        for (;;) {
                _cleanup_(decoding_change_done) DecodingChange c = {};
                _cleanup_free_ char *why = NULL;

                r = decoding_read_change(f, &c);
                ck_assert_int_ge(r, 0);
                if (r == 0)
                        break;
                ck_assert_int_ge(decoding_check(&c, tables, &why), 0);
                if (why)
                        not_replayable++;
                ck_assert_int_eq(decoding_count_rows(&c, counts), 0);
        }
        ck_assert_int_eq(not_replayable, 0);
        rewind(f);
        ck_assert_int_eq(pg_table_row_counts(&src, &at_stop, NULL), 0);
        {
                _cleanup_free_ char *a = cJSON_PrintUnformatted(counts),
                                    *b = cJSON_PrintUnformatted(at_stop);
                ck_assert_str_eq(a, b);
        }
        r = delta_replay(&dst, f, tables, sequences, &statements, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        ck_assert_uint_gt(statements, 5);

        for (size_t i = 0; i < ELEMENTSOF(table_names); i++) {
                _cleanup_free_ char *a = table_sum(SRC, table_names[i]), *b = table_sum(DST, table_names[i]);

                ck_assert_msg(streq(a, b), "%s: %s != %s", table_names[i], a, b);
        }
        {
                _cleanup_free_ char *a = sequences_text(SRC), *b = sequences_text(DST);
                ck_assert_str_eq(a, b);
        }
        ck_assert_int_eq(delta_probe(&dst, &restored, &error), 0);
        ck_assert_str_eq(restored.fingerprint, before.fingerprint);

        /* an UPDATE of a table without a key is refused at the stop */
        exec_in(SRC, "UPDATE plain_log SET what = 'changed'");
        {
                _cleanup_close_ int fd2 = open(changes, O_RDWR | O_TRUNC | O_CLOEXEC);
                _cleanup_fclose_ FILE *g = NULL;
                int refused = 0;

                ck_assert_int_ge(fd2, 0);
                ck_assert_int_eq(pg_slot_changes_to_fd(&src, SLOT, fd2, false, NULL, NULL), 0);
                g = fopen(changes, "re");
                ck_assert_ptr_nonnull(g);
                for (;;) {
                        _cleanup_(decoding_change_done) DecodingChange c = {};
                        _cleanup_free_ char *why = NULL;

                        if (decoding_read_change(g, &c) <= 0)
                                break;
                        if (decoding_check(&c, tables, &why) > 0) {
                                ck_assert_ptr_nonnull(strstr(why, "no primary key"));
                                refused++;
                        }
                }
                ck_assert_int_eq(refused, 3);
        }

        ck_assert_int_eq(pg_slot_drop(&src, SLOT, NULL), 1);
        ck_assert_int_eq(pg_slot_drop(&src, SLOT, NULL), 0);
        (void)unlink(dump);
        (void)unlink(changes);
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE " DST);
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE " SRC);
}
END_TEST

/* a replay that does not meet its row is undone whole */
START_TEST(test_replay_all_or_nothing) {
        _cleanup_fclose_ FILE *f = tmpfile();
        _cleanup_json_ cJSON *tables = NULL;
        _cleanup_free_ char *error = NULL, *count = NULL;
        PgTarget t = db_target("cbu_delta_aon");

        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE IF EXISTS cbu_delta_aon");
        test_pg_exec_or_die(&test_pg_admin, "CREATE DATABASE cbu_delta_aon");
        exec_in("cbu_delta_aon", "CREATE TABLE t (id int PRIMARY KEY, v text)");
        ck_assert_int_eq(delta_tables(&t, &tables, NULL), 0);
        fputs("{\"data\":\"table public.t: INSERT: id[integer]:1 v[text]:'a'\"}\n"
              "{\"data\":\"table public.t: UPDATE: id[integer]:2 v[text]:'b'\"}\n",
              f);
        rewind(f);
        ck_assert_int_eq(delta_replay(&t, f, tables, NULL, NULL, &error), -EBADMSG);
        ck_assert_ptr_nonnull(strstr(error, "touched 0 rows, not 1"));
        count = one_value("cbu_delta_aon", "SELECT count(*)::text AS v FROM t");
        ck_assert_str_eq(count, "0");
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE cbu_delta_aon");
}
END_TEST

static Suite *delta_suite(void) {
        Suite *s = suite_create("delta");
        TCase *plain = tcase_create("plain"), *db = tcase_create("database");

        tcase_add_test(plain, test_slot_name);
        tcase_add_test(plain, test_decide);
        tcase_add_test(plain, test_large_objects);
        suite_add_tcase(s, plain);

        tcase_add_unchecked_fixture(db, test_pg_server_start, test_pg_server_stop);
        tcase_set_timeout(db, 120);
        tcase_add_test(db, test_slot_dump_replay);
        tcase_add_test(db, test_replay_all_or_nothing);
        suite_add_tcase(s, db);
        return s;
}

int main(void) {
        return test_pg_run_suite(delta_suite());
}
