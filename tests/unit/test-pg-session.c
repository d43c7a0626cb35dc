/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pg-session.c: the session child, its answer and its errors, a held session, the credential file
 * and the walk over relations, against a private, throwaway PostgreSQL server */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json-util.h"
#include "pg-session.h"
#include "spawn.h"
#include "strv.h"
#include "test-pg-server.h"

/* answers {"pid": its own pid, "user": current_user} */
static int whoami_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = sym_PQexec(conn, "SELECT current_user");
        _cleanup_json_ cJSON *o = NULL;
        int r;

        r = pg_session_check(conn, res, ret_error);
        if (r < 0)
                return r;
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddNumberToObject(o, "pid", getpid()) ||
            !cJSON_AddStringToObject(o, "user", sym_PQgetvalue(res, 0, 0)))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

START_TEST(test_run_answers) {
        _cleanup_json_ cJSON *answer = NULL;
        PgTarget t = test_pg_scratch();
        int64_t pid;

        ck_assert_int_eq(pg_session_run(&t, whoami_fn, NULL, &answer, NULL), 0);
        ck_assert_str_eq(json_get_string(answer, "user"), "postgres");
        /* the work ran in a child, not here */
        ck_assert_int_eq(json_get_int64_range(answer, "pid", 1, INT32_MAX, &pid), 0);
        ck_assert_int_ne(pid, getpid());
}
END_TEST

static int bad_sql_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        return pg_session_exec(conn, "SELEC 1", ret_error);
}

START_TEST(test_run_error) {
        _cleanup_free_ char *error = NULL;
        cJSON *answer = (cJSON *)0x1;
        PgTarget t = test_pg_scratch();

        /* the server's error class as an errno, its message on one line */
        ck_assert_int_eq(pg_session_run(&t, bad_sql_fn, NULL, &answer, &error), -EINVAL);
        ck_assert_ptr_eq(answer, (cJSON *)0x1);
        ck_assert_ptr_nonnull(strstr(error, "syntax error"));
        ck_assert_ptr_null(strchr(error, '\n'));
}
END_TEST

static int count_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        return pg_session_count_answer(*(const uint64_t *)userdata, ret, ret_error);
}

START_TEST(test_run_count_and_json) {
        const uint64_t n = 42;
        _cleanup_free_ char *error = NULL;
        cJSON *answer = NULL;
        uint64_t count = 0;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(pg_session_run_count(&t, count_fn, &n, &count, NULL), 0);
        ck_assert_uint_eq(count, 42);
        /* an object where an array was wanted names what was missing */
        ck_assert_int_eq(pg_session_run_json(&t, count_fn, &n, true, "rows", &answer, &error), -EPROTO);
        ck_assert_ptr_null(answer);
        ck_assert_str_eq(error, "database session answered without rows");
}
END_TEST

static int relation_fn(
        const char *schema, const char *name, PGresult *res, void *userdata, char **ret_error) {
        _cleanup_free_ char *s = NULL;

        ck_assert_int_ge(asprintf(&s, "%s.%s=%s", schema, name, sym_PQgetvalue(res, 0, 0)), 0);
        return strv_push(userdata, s);
}

static int relations_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_strv_free_ char **seen = NULL;
        _cleanup_free_ char *joined = NULL;
        int r;

        r = pg_session_each_relation(conn, userdata, "count(*)", relation_fn, &seen, ret_error);
        if (r < 0)
                return r;
        joined = strv_join(seen, " ");
        *ret = joined ? cJSON_CreateString(joined) : NULL;
        return *ret ? 0 : -ENOMEM;
}

START_TEST(test_each_relation) {
        _cleanup_json_ cJSON *answer = NULL;
        PgTarget t = test_pg_scratch();

        /* the scratch database's tables, in order, quoted as they must be; its view is no table */
        ck_assert_int_eq(pg_session_run(&t, relations_fn, "r", &answer, NULL), 0);
        ck_assert_str_eq(cJSON_GetStringValue(answer), "odd schema.b\"q=2 public.alpha=3 public.beta=0");
}
END_TEST

START_TEST(test_hold) {
        _cleanup_json_ cJSON *answer = NULL;
        pid_t pid = 0;
        int hold_fd = -EBADF, status = -1;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(pg_session_hold(&t, NULL, whoami_fn, NULL, &answer, &pid, &hold_fd, NULL), 0);
        ck_assert_str_eq(json_get_string(answer, "user"), "postgres");
        ck_assert_int_gt(pid, 0);
        ck_assert_int_ge(hold_fd, 0);
        /* the child holds its connection until the descriptor is closed */
        ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
        close(hold_fd);
        ck_assert_int_eq(spawn_reap(pid, &status), 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_read_credential) {
        _cleanup_(test_unlink_freep) char *good = test_pg_credential_file("secret\r\n"),
                                          *empty = test_pg_credential_file("\n");
        _cleanup_free_ char *s = NULL, *error = NULL;

        ck_assert_int_eq(pg_session_read_credential(good, &s, NULL), 0);
        ck_assert_str_eq(s, "secret");
        ck_assert_int_eq(pg_session_read_credential(empty, &s, &error), -EINVAL);
        ck_assert_ptr_nonnull(strstr(error, "is empty"));
        free(TAKE_PTR(error));
        ck_assert_int_eq(chmod(good, 0640), 0);
        ck_assert_int_eq(pg_session_read_credential(good, &s, &error), -EPERM);
        ck_assert_ptr_nonnull(strstr(error, "mode 0600"));
        free(TAKE_PTR(error));
        ck_assert_int_eq(pg_session_read_credential("/nonexistent/credential", &s, &error), -ENOENT);
}
END_TEST

START_TEST(test_set_error) {
        _cleanup_free_ char *error = NULL;

        ck_assert_int_eq(pg_session_set_error(&error, -EIO, "prefix", "  two\n\tlines \n"), -EIO);
        ck_assert_str_eq(error, "prefix: two lines");
        ck_assert_int_eq(pg_session_set_error(&error, -EIO, NULL, "one"), -EIO);
        ck_assert_str_eq(error, "one");
        ck_assert_int_eq(pg_session_set_error(NULL, -EPERM, NULL, "x"), -EPERM);
}
END_TEST

static Suite *pg_session_suite(void) {
        Suite *s = suite_create("pg-session");
        TCase *db = tcase_create("database"), *plain = tcase_create("plain");

        tcase_add_unchecked_fixture(db, test_pg_server_start, test_pg_server_stop);
        tcase_set_timeout(db, 60);
        tcase_add_test(db, test_run_answers);
        tcase_add_test(db, test_run_error);
        tcase_add_test(db, test_run_count_and_json);
        tcase_add_test(db, test_each_relation);
        tcase_add_test(db, test_hold);
        suite_add_tcase(s, db);

        tcase_add_test(plain, test_read_credential);
        tcase_add_test(plain, test_set_error);
        suite_add_tcase(s, plain);
        return s;
}

int main(void) {
        return test_pg_run_suite(pg_session_suite());
}
