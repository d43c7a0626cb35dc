/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pg-client.c: pg-client module (pg_dump, pg_restore, a restore into a fresh database) against the
 * private PostgreSQL server of test-pg-server.c, never the host's cluster */
#define _GNU_SOURCE
#include <check.h>
#include <stdbool.h>

#include "json-util.h"
#include "pg-client.h"
#include "test-pg-server.h"

/* ---- building arguments and SQL ---- */

START_TEST(test_conninfo) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        char *e = NULL;

        ck_assert_int_eq(pg_client_conninfo(NULL, "codebolt", &a), 0);
        ck_assert_str_eq(a, "dbname='codebolt'");
        /* the configured dbname is replaced, everything else kept and quoted */
        ck_assert_int_eq(
                pg_client_conninfo(
                        "host=db.example port=5433 dbname=other sslmode=require", "codebolt_verify_1", &b),
                0);
        ck_assert_ptr_nonnull(strstr(b, "host='db.example' "));
        ck_assert_ptr_nonnull(strstr(b, "port='5433' "));
        ck_assert_ptr_nonnull(strstr(b, "sslmode='require' "));
        ck_assert_ptr_null(strstr(b, "other"));
        ck_assert_ptr_nonnull(strstr(b, "dbname='codebolt_verify_1'"));
        ck_assert_int_eq(pg_client_conninfo("postgresql://cb@db.example:5433/other", "codebolt", &c), 0);
        ck_assert_ptr_nonnull(strstr(c, "user='cb'"));
        ck_assert_ptr_nonnull(strstr(c, "host='db.example'"));
        ck_assert_ptr_null(strstr(c, "other"));
        /* quotes and backslashes survive */
        ck_assert_int_eq(pg_client_conninfo("application_name='it\\'s'", "we'ird\\db", &d), 0);
        ck_assert_ptr_nonnull(strstr(d, "application_name='it\\'s'"));
        ck_assert_ptr_nonnull(strstr(d, "dbname='we\\'ird\\\\db'"));

        /* secrets never go to argv */
        ck_assert_int_eq(pg_client_conninfo("host=h password=secret", "codebolt", &e), -EPERM);
        ck_assert_int_eq(pg_client_conninfo("host='unterminated", "codebolt", &e), -EINVAL);
        ck_assert_ptr_null(e);
}
END_TEST

START_TEST(test_create_database_sql) {
        _cleanup_json_ cJSON *props = cJSON_Parse("{\"owner\": \"code\\\"bolt\", \"encoding\": \"UTF8\", "
                                                  "\"lc_collate\": \"C.UTF-8\", \"lc_ctype\": \"it's\","
                                                  " \"locale_provider\": \"libc\", \"icu_locale\": null}");
        _cleanup_json_ cJSON *icu = cJSON_Parse(
                "{\"encoding\": \"UTF8\", \"lc_collate\": \"en_US.UTF-8\", \"lc_ctype\": \"en_US.UTF-8\","
                " \"locale_provider\": \"icu\", \"icu_locale\": \"und\\\\x\"}");
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        ck_assert_ptr_nonnull(props);
        ck_assert_ptr_nonnull(icu);

        ck_assert_int_eq(pg_create_database_sql("codebolt_verify_1", props, false, &a), 0);
        ck_assert_str_eq(
                a,
                "CREATE DATABASE \"codebolt_verify_1\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE "
                "'C.UTF-8' LC_CTYPE 'it''s'");
        ck_assert_int_eq(pg_create_database_sql("x", props, true, &b), 0);
        ck_assert_str_eq(
                b,
                "CREATE DATABASE \"x\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE "
                "'it''s' OWNER \"code\"\"bolt\"");
        ck_assert_int_eq(pg_create_database_sql("x", icu, false, &c), 0);
        ck_assert_str_eq(
                c,
                "CREATE DATABASE \"x\" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'en_US.UTF-8' LC_CTYPE "
                "'en_US.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE E'und\\\\x'");
        /* no properties: the server's defaults */
        ck_assert_int_eq(pg_create_database_sql("y", NULL, true, &d), 0);
        ck_assert_str_eq(d, "CREATE DATABASE \"y\" TEMPLATE template0");
}
END_TEST

/* ---- restoring a dump ---- */

/* the trial restore: a leftover of the same name goes, the rows are those of the source, all owned by
 * the role that restores */
START_TEST(test_restore_dump_trial) {
        _cleanup_(test_unlink_freep) char *dump = test_pg_dump_database(test_pg_scratch_db);
        _cleanup_json_ cJSON *props = NULL, *expected = NULL, *counts = NULL;
        _cleanup_free_ char *err = NULL, *conninfo = NULL, *owner = NULL;
        PgRestoreFailure f = { .step = PG_RESTORE_STEP_COUNT };
        PgTarget a = test_pg_client_target(&conninfo, "postgres"),
                 left = { .os_user = "postgres", .dbname = "cbu_trial" }, source = test_pg_scratch();

        ck_assert_int_eq(pg_database_properties(&test_pg_admin, test_pg_scratch_db, &props, &err), 0);
        ck_assert_int_eq(pg_table_row_counts(&source, &expected, &err), 0);

        test_pg_exec_or_die(&test_pg_admin, "CREATE DATABASE cbu_trial");
        test_pg_exec_or_die(&left, "CREATE TABLE public.leftover (x int)");

        ck_assert_int_eq(
                pg_restore_dump(&a, dump, "cbu_trial", props, test_pg_server_version(), 0, &counts, &f), 0);
        ck_assert_msg(cJSON_Compare(counts, expected, true), "%s", cJSON_PrintUnformatted(counts));
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(counts, "public.leftover"));
        /* untouched on success */
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_COUNT);
        ck_assert_ptr_null(f.error);

        owner = test_pg_table_owner("cbu_trial", "alpha");
        ck_assert_str_eq(owner, "postgres");

        /* again over itself, without ret_counts */
        ck_assert_int_eq(
                pg_restore_dump(&a, dump, "cbu_trial", props, test_pg_server_version(), 0, NULL, NULL), 0);
        ck_assert_int_eq(pg_drop_database(&test_pg_admin, "cbu_trial", test_pg_server_version(), NULL), 0);
}
END_TEST

/* the real restore: the database and its tables belong to the recorded owner again */
START_TEST(test_restore_dump_owner) {
        _cleanup_(test_unlink_freep) char *dump = NULL;
        _cleanup_json_ cJSON *props = NULL, *restored = NULL, *counts = NULL;
        _cleanup_free_ char *err = NULL, *sql = NULL, *conninfo = NULL, *owned = NULL, *unowned = NULL;
        PgTarget a = test_pg_client_target(&conninfo, "postgres"),
                 src = { .os_user = "postgres", .dbname = "cbu_owned_src" };
        int v = test_pg_server_version();

        ck_assert_int_ge(asprintf(&sql, "CREATE DATABASE cbu_owned_src OWNER %s", test_pg_scratch_role), 0);
        test_pg_exec_or_die(&test_pg_admin, sql);
        free(sql);
        ck_assert_int_ge(
                asprintf(
                        &sql,
                        "CREATE TABLE public.owned (id int); INSERT INTO public.owned VALUES (1), (2);"
                        " ALTER TABLE public.owned OWNER TO %s",
                        test_pg_scratch_role),
                0);
        test_pg_exec_or_die(&src, sql);
        dump = test_pg_dump_database("cbu_owned_src");
        ck_assert_int_eq(pg_database_properties(&test_pg_admin, "cbu_owned_src", &props, &err), 0);

        ck_assert_int_eq(
                pg_restore_dump(&a, dump, "cbu_owned", props, v, PG_RESTORE_OWNER, &counts, NULL), 0);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(counts, "public.owned")->valueint, 2);
        ck_assert_int_eq(pg_database_properties(&test_pg_admin, "cbu_owned", &restored, &err), 0);
        ck_assert_str_eq(json_get_string(restored, "owner"), test_pg_scratch_role);
        owned = test_pg_table_owner("cbu_owned", "owned");
        ck_assert_str_eq(owned, test_pg_scratch_role);

        cJSON_Delete(restored);
        restored = NULL;
        ck_assert_int_eq(pg_restore_dump(&a, dump, "cbu_unowned", props, v, 0, NULL, NULL), 0);
        ck_assert_int_eq(pg_database_properties(&test_pg_admin, "cbu_unowned", &restored, &err), 0);
        ck_assert_str_eq(json_get_string(restored, "owner"), "postgres");
        unowned = test_pg_table_owner("cbu_unowned", "owned");
        ck_assert_str_eq(unowned, "postgres");
}
END_TEST

/* each step's failure, and whether the database exists after it */
START_TEST(test_restore_dump_failures) {
        _cleanup_(test_unlink_freep) char *dump = test_pg_dump_database(test_pg_scratch_db),
                                          *junk = test_pg_credential_file("not a dump");
        _cleanup_(pg_restore_failure_done) PgRestoreFailure f = {};
        _cleanup_json_ cJSON *props = NULL, *bad_owner = NULL;
        _cleanup_free_ char *err = NULL, *conninfo = NULL;
        PgTarget a = test_pg_client_target(&conninfo, "postgres"), gone = a;
        cJSON *counts = (cJSON *)0x1;
        int v = test_pg_server_version();

        ck_assert_int_eq(pg_database_properties(&test_pg_admin, test_pg_scratch_db, &props, &err), 0);

        /* the leftover cannot be dropped: no session on test_pg_admin */
        gone.dbname = "cbu_no_such_database";
        ck_assert_int_eq(pg_restore_dump(&gone, dump, "cbu_fail", props, v, 0, &counts, &f), -ECONNREFUSED);
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_DROP);
        ck_assert_ptr_nonnull(f.error);
        ck_assert_ptr_eq(counts, (cJSON *)0x1);
        pg_restore_failure_done(&f);

        /* CREATE DATABASE refused: the recorded owner does not exist here */
        bad_owner = cJSON_Duplicate(props, true);
        ck_assert_ptr_nonnull(bad_owner);
        ck_assert(cJSON_ReplaceItemInObjectCaseSensitive(
                bad_owner, "owner", cJSON_CreateString("cbu_no_such_role")));
        ck_assert_int_lt(
                pg_restore_dump(&a, dump, "cbu_fail", bad_owner, v, PG_RESTORE_OWNER, &counts, &f), 0);
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_CREATE);
        ck_assert_msg(strstr(strempty(f.error), "cbu_no_such_role"), "%s", strempty(f.error));
        ck_assert(!test_pg_database_exists("cbu_fail"));
        pg_restore_failure_done(&f);

        /* no dump: the database exists, empty, for the caller to drop */
        ck_assert_int_eq(
                pg_restore_dump(&a, "/nonexistent/database.dump", "cbu_fail", props, v, 0, &counts, &f),
                -ENOENT);
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_OPEN);
        ck_assert(test_pg_database_exists("cbu_fail"));
        pg_restore_failure_done(&f);

        /* pg_restore cannot read it */
        ck_assert_int_eq(pg_restore_dump(&a, junk, "cbu_fail", props, v, 0, &counts, &f), -EBADMSG);
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_EXIT);
        ck_assert_int_ne(f.exit_status, 0);
        ck_assert_ptr_null(f.error);
        ck_assert(test_pg_database_exists("cbu_fail"));
        ck_assert_ptr_eq(counts, (cJSON *)0x1);

        ck_assert_int_eq(pg_drop_database(&test_pg_admin, "cbu_fail", v, NULL), 0);
}
END_TEST

static Suite *pg_client_suite(void) {
        Suite *s = suite_create("pg-client");
        TCase *db = tcase_create("database"), *plain = tcase_create("plain");

        tcase_add_test(plain, test_conninfo);
        tcase_add_test(plain, test_create_database_sql);
        suite_add_tcase(s, plain);

        tcase_add_unchecked_fixture(db, test_pg_server_start, test_pg_server_stop);
        tcase_set_timeout(db, 60);
        tcase_add_test(db, test_restore_dump_trial);
        tcase_add_test(db, test_restore_dump_owner);
        tcase_add_test(db, test_restore_dump_failures);
        suite_add_tcase(s, db);

        return s;
}

int main(void) {
        return test_pg_run_suite(pg_client_suite());
}
