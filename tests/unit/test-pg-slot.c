/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pg-slot.c: a logical replication slot with its exported snapshot, its changes read, advanced
 * past and dropped, the sequences' values and the replay's transaction, against a private, throwaway
 * PostgreSQL server (test-delta runs them all the way through a delta) */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "json-util.h"
#include "pg-slot.h"
#include "test-pg-server.h"

#define DB "cbu_pg_slot"
#define SLOT "cbu_pg_slot_test"

static PgTarget db_target(void) {
        return (PgTarget){ .os_user = "postgres", .dbname = DB };
}

static void fresh_database(const char *sql) {
        PgTarget t = db_target();

        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE IF EXISTS " DB);
        test_pg_exec_or_die(&test_pg_admin, "CREATE DATABASE " DB);
        test_pg_exec_or_die(&t, sql);
}

START_TEST(test_slot_names) {
        PgTarget t = db_target();
        PgSlotExport e = { .hold_fd = -EBADF };

        /* built into a replication command, which takes no parameters */
        ck_assert_int_eq(pg_slot_export(&t, "Bad-Name", "test_decoding", &e, NULL), -EINVAL);
        ck_assert_int_eq(pg_slot_export(&t, "ok", "test decoding", &e, NULL), -EINVAL);
        ck_assert_int_eq(pg_slot_export(&t, "", "test_decoding", &e, NULL), -EINVAL);
        pg_slot_export_done(NULL);
        pg_slot_changes_done(NULL);
}
END_TEST

START_TEST(test_slot_export_changes_advance_drop) {
        _cleanup_(pg_slot_export_done) PgSlotExport e = { .hold_fd = -EBADF };
        _cleanup_(pg_slot_changes_done) PgSlotChanges first = {}, again = {};
        _cleanup_fclose_ FILE *f = tmpfile();
        _cleanup_free_ char *error = NULL;
        PgTarget t = db_target();
        int r;

        ck_assert_ptr_nonnull(f);
        fresh_database("CREATE TABLE t (id int PRIMARY KEY, v text)");
        r = pg_slot_export(&t, SLOT, "test_decoding", &e, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        ck_assert_ptr_nonnull(e.snapshot);
        ck_assert_ptr_nonnull(e.lsn);
        ck_assert_int_gt(e.pid, 0);
        ck_assert_int_eq(pg_slot_export(&t, SLOT, "test_decoding", &(PgSlotExport){}, NULL), -EEXIST);
        pg_slot_export_done(&e);
        ck_assert_int_eq(e.hold_fd, -EBADF);

        test_pg_exec_or_die(&t, "INSERT INTO t VALUES (1, 'a'), (2, 'b')");
        r = pg_slot_changes_to_fd(&t, SLOT, fileno(f), false, &first, &error);
        ck_assert_msg(r == 0, "%s", strempty(error));
        /* BEGIN, two INSERTs, COMMIT */
        ck_assert_uint_eq(first.changes, 4);
        ck_assert_uint_eq(first.read, 4);
        ck_assert_ptr_nonnull(first.last_commit);

        /* advanced past them, the next read keeps what the file holds and adds only what is new */
        ck_assert_int_eq(pg_slot_advance(&t, SLOT, first.last_commit, NULL), 0);
        test_pg_exec_or_die(&t, "UPDATE t SET v = 'c' WHERE id = 1");
        ck_assert_int_eq(pg_slot_changes_to_fd(&t, SLOT, fileno(f), false, &again, NULL), 0);
        ck_assert_uint_eq(again.changes, 7);
        ck_assert_uint_eq(again.read, 3);

        ck_assert_int_eq(pg_slot_drop(&t, SLOT, NULL), 1);
        ck_assert_int_eq(pg_slot_drop(&t, SLOT, NULL), 0);
        ck_assert_int_eq(pg_slot_changes_to_fd(&t, SLOT, fileno(f), false, NULL, NULL), -ENOENT);
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE " DB);
}
END_TEST

START_TEST(test_sequence_values) {
        _cleanup_json_ cJSON *list = NULL;
        _cleanup_free_ char *text = NULL;
        PgTarget t = db_target();

        fresh_database("CREATE SEQUENCE a; CREATE SCHEMA \"odd s\"; CREATE SEQUENCE \"odd s\".\"b\"\"q\";"
                       "SELECT nextval('a'), nextval('a')");
        ck_assert_int_eq(pg_sequence_values(&t, &list, NULL), 0);
        text = cJSON_PrintUnformatted(list);
        ck_assert_str_eq(
                text,
                "[{\"schema\":\"odd s\",\"name\":\"b\\\"q\",\"last_value\":\"1\",\"is_called\":false},"
                "{\"schema\":\"public\",\"name\":\"a\",\"last_value\":\"2\",\"is_called\":true}]");
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE " DB);
}
END_TEST

typedef struct Statements {
        const PgStatement *list;
        size_t n, next;
} Statements;

static int next_statement(void *userdata, PgStatement *ret, char **ret_error) {
        Statements *s = userdata;

        if (s->next >= s->n)
                return 0;
        *ret = s->list[s->next++];
        return 1;
}

START_TEST(test_exec_statements) {
        static const char *const one[] = { "1" };
        const PgStatement good[] = {
                { .sql = "INSERT INTO t VALUES ($1)", .params = one, .n_params = 1, .expect_rows = 1 },
                { .sql = "UPDATE t SET id = id + 1", .expect_rows = -1 },
        };
        const PgStatement bad[] = {
                { .sql = "INSERT INTO t VALUES (10)", .expect_rows = 1 },
                { .sql = "DELETE FROM t WHERE id = 99", .expect_rows = 1 },
        };
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *error = NULL;
        uint64_t n = 0;
        PgTarget t = db_target();

        fresh_database("CREATE TABLE t (id int)");
        ck_assert_int_eq(
                pg_exec_statements(
                        &t, PG_STABLE_OUTPUT, next_statement, &(Statements){ good, 2, 0 }, &n, NULL),
                0);
        ck_assert_uint_eq(n, 2);
        /* a statement that does not touch the rows it must undoes the whole transaction */
        ck_assert_int_eq(
                pg_exec_statements(&t, NULL, next_statement, &(Statements){ bad, 2, 0 }, NULL, &error),
                -EBADMSG);
        ck_assert_ptr_nonnull(strstr(error, "touched 0 rows, not 1"));
        ck_assert_int_eq(pg_query(&t, "SELECT id::text AS id FROM t", NULL, 0, &rows, NULL), 0);
        ck_assert_int_eq(cJSON_GetArraySize(rows), 1);
        ck_assert_str_eq(test_pg_row_string(rows, 0, "id"), "2");
        test_pg_exec_or_die(&test_pg_admin, "DROP DATABASE " DB);
}
END_TEST

static Suite *pg_slot_suite(void) {
        Suite *s = suite_create("pg-slot");
        TCase *db = tcase_create("database");

        tcase_add_unchecked_fixture(db, test_pg_server_start, test_pg_server_stop);
        tcase_set_timeout(db, 120);
        tcase_add_test(db, test_slot_names);
        tcase_add_test(db, test_slot_export_changes_advance_drop);
        tcase_add_test(db, test_sequence_values);
        tcase_add_test(db, test_exec_statements);
        suite_add_tcase(s, db);
        return s;
}

int main(void) {
        return test_pg_run_suite(pg_slot_suite());
}
