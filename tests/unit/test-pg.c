/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pg.c: pg module against a private, throwaway PostgreSQL server, never the host's cluster */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "backup-manifest.h"
#include "json-util.h"
#include "pg.h"
#include "spawn.h"
#include "test-pg-server.h"

/* ---- queries ---- */

START_TEST(test_query_params) {
        const char *params[] = { "41", "hello" };
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *err = NULL;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(pg_query(&t, "SELECT $1::int + 1 AS n, $2::text AS s", params, 2, &rows, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_int_eq(cJSON_GetArraySize(rows), 1);
        ck_assert_str_eq(test_pg_row_string(rows, 0, "n"), "42");
        ck_assert_str_eq(test_pg_row_string(rows, 0, "s"), "hello");
}
END_TEST

START_TEST(test_query_null) {
        const char *params[] = { NULL };
        _cleanup_json_ cJSON *rows = NULL, *table = NULL;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(
                pg_query(&t, "SELECT NULL::text AS a, $1::text AS b, '' AS c", params, 1, &rows, NULL), 0);
        ck_assert(test_pg_row_null(rows, 0, "a"));
        ck_assert(test_pg_row_null(rows, 0, "b"));
        ck_assert_str_eq(test_pg_row_string(rows, 0, "c"), "");

        ck_assert_int_eq(
                pg_query(&t, "SELECT id, name FROM public.alpha ORDER BY id", NULL, 0, &table, NULL), 0);
        ck_assert_int_eq(cJSON_GetArraySize(table), 3);
        ck_assert_str_eq(test_pg_row_string(table, 0, "name"), "one");
        ck_assert(test_pg_row_null(table, 1, "name"));
        ck_assert_str_eq(test_pg_row_string(table, 2, "id"), "3");
}
END_TEST

START_TEST(test_query_command_has_no_rows) {
        _cleanup_json_ cJSON *rows = NULL;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(
                pg_query(&t, "UPDATE public.alpha SET name = name WHERE false", NULL, 0, &rows, NULL), 0);
        ck_assert(cJSON_IsArray(rows));
        ck_assert_int_eq(cJSON_GetArraySize(rows), 0);

        /* rows are optional */
        ck_assert_int_eq(pg_query(&t, "SELECT 1", NULL, 0, NULL, NULL), 0);
}
END_TEST

START_TEST(test_query_bad_sql) {
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        cJSON *rows = (cJSON *)0x1;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(pg_query(&t, "SELEC 1", NULL, 0, &rows, &err), -EINVAL);
        ck_assert_ptr_eq(rows, (cJSON *)0x1);
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, "syntax error"), "%s", err);
        ck_assert_msg(!strchr(err, '\n'), "not one line: %s", err);

        ck_assert_int_eq(pg_query(&t, "SELECT * FROM no_such_table", NULL, 0, &rows, &err2), -ENOENT);
        ck_assert_msg(strstr(err2, "no_such_table"), "%s", err2);
}
END_TEST

START_TEST(test_exec) {
        _cleanup_free_ char *err = NULL;
        _cleanup_json_ cJSON *rows = NULL;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(
                pg_exec(&t,
                        "CREATE TABLE public.tmp_exec (x int); INSERT INTO public.tmp_exec VALUES (1), (2);"
                        " DROP TABLE public.tmp_exec",
                        &err),
                0);
        ck_assert_ptr_null(err);

        /* one implicit transaction: the failure undoes the create */
        ck_assert_int_eq(pg_exec(&t, "CREATE TABLE public.tmp_exec2 (x int); SELECT 1/0", &err), -EINVAL);
        ck_assert_msg(strstr(err, "division by zero"), "%s", err);
        ck_assert_int_eq(
                pg_query(&t, "SELECT to_regclass('public.tmp_exec2') AS r", NULL, 0, &rows, NULL), 0);
        ck_assert(test_pg_row_null(rows, 0, "r"));
}
END_TEST

START_TEST(test_quote_identifier_roundtrip) {
        _cleanup_free_ char *s = pg_quote_identifier("odd schema"), *q = pg_quote_identifier("b\"q"),
                            *sql = NULL;
        _cleanup_json_ cJSON *rows = NULL;
        PgTarget t = test_pg_scratch();

        ck_assert_int_ge(asprintf(&sql, "SELECT count(*) AS n FROM %s.%s", s, q), 0);
        ck_assert_int_eq(pg_query(&t, sql, NULL, 0, &rows, NULL), 0);
        ck_assert_str_eq(test_pg_row_string(rows, 0, "n"), "2");
}
END_TEST

/* ---- who we are ---- */

START_TEST(test_os_user_peer_auth) {
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *err = NULL;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(
                pg_query(&t, "SELECT current_user AS u, current_database() AS d", NULL, 0, &rows, &err), 0);
        ck_assert_str_eq(test_pg_row_string(rows, 0, "u"), "postgres");
        ck_assert_str_eq(test_pg_row_string(rows, 0, "d"), test_pg_scratch_db);
}
END_TEST

START_TEST(test_no_os_user_stays_root) {
        PgTarget t = { .dbname = "postgres" };
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(geteuid(), 0);
        /* peer auth as root: there is no role "root" */
        ck_assert_int_eq(pg_query(&t, "SELECT 1", NULL, 0, NULL, &err), -ECONNREFUSED);
        ck_assert_msg(strstr(err, "\"root\""), "%s", err);
        /* and we are still root here */
        ck_assert_int_eq(geteuid(), 0);
}
END_TEST

START_TEST(test_unknown_os_user) {
        PgTarget t = { .os_user = "no-such-user-cbu", .dbname = "postgres" };
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(pg_exec(&t, "SELECT 1", &err), -ESRCH);
        ck_assert_msg(strstr(err, "no-such-user-cbu"), "%s", err);
}
END_TEST

START_TEST(test_missing_database) {
        PgTarget t = { .os_user = "postgres", .dbname = "cbu_no_such_database" };
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(pg_exec(&t, "SELECT 1", &err), -ECONNREFUSED);
        ck_assert_msg(strstr(err, "cbu_no_such_database"), "%s", err);
}
END_TEST

START_TEST(test_bad_conninfo) {
        PgTarget t = { .os_user = "postgres", .conninfo = "host=", .dbname = "postgres" };
        PgTarget u = { .os_user = "postgres", .conninfo = "nonsense", .dbname = "postgres" };
        _cleanup_free_ char *err = NULL;

        ck_assert_int_eq(pg_exec(&u, "SELECT 1", &err), -EINVAL);
        ck_assert_ptr_nonnull(err);
        /* an empty value is libpq's default: the local socket */
        ck_assert_int_eq(pg_exec(&t, "SELECT 1", NULL), 0);
}
END_TEST

START_TEST(test_password_file) {
        _cleanup_(test_unlink_freep) char *good = test_pg_credential_file(TEST_PG_ROLE_PASSWORD "\n"),
                                          *bad = test_pg_credential_file("wrong-pw");
        _cleanup_free_ char *conninfo = NULL, *err = NULL, *err2 = NULL;
        _cleanup_json_ cJSON *rows = NULL;

        ck_assert_int_ge(
                asprintf(&conninfo, "host=127.0.0.1 port=%s user=%s", test_pg_port, test_pg_scratch_role),
                0);

        /* TCP with scram: the password comes from the file, read before dropping to postgres */
        PgTarget t = { .os_user = "postgres",
                       .conninfo = conninfo,
                       .dbname = test_pg_scratch_db,
                       .password_file = good };
        ck_assert_int_eq(pg_query(&t, "SELECT current_user AS u", NULL, 0, &rows, &err), 0);
        ck_assert_str_eq(test_pg_row_string(rows, 0, "u"), test_pg_scratch_role);

        t.password_file = bad;
        ck_assert_int_eq(pg_query(&t, "SELECT 1", NULL, 0, NULL, &err2), -ECONNREFUSED);
        ck_assert_msg(strstr(err2, "password authentication failed"), "%s", err2);
        ck_assert_ptr_null(strstr(err2, "wrong-pw"));

        ck_assert_int_eq(chmod(bad, 0644), 0);
        ck_assert_int_eq(pg_query(&t, "SELECT 1", NULL, 0, NULL, NULL), -EPERM);

        t.password_file = "/nonexistent/credential";
        ck_assert_int_eq(pg_query(&t, "SELECT 1", NULL, 0, NULL, NULL), -ENOENT);
}
END_TEST

/* what pg_dump and pg_restore get: libpq's password file format with ':' and '\' escaped, in memory,
 * postgres's with mode 0600; a client run as postgres logs in with it as its fd 3, and not without */
START_TEST(test_passfile_memfd) {
        _cleanup_(test_unlink_freep) char *good = test_pg_credential_file(TEST_PG_ROLE_PASSWORD "\n"),
                                          *odd = test_pg_credential_file("a:b\\c"),
                                          *broken = test_pg_credential_file("a\nb\n");
        _cleanup_free_ char *conninfo = NULL, *psql = NULL, *out = NULL, *out2 = NULL, *err = NULL,
                            *expected = NULL;
        struct passwd *pw = getpwnam("postgres");
        PgTarget t = { .os_user = "postgres" };
        char buf[64] = {};
        int fd = 0, status = -1;
        struct stat st;

        ck_assert_ptr_nonnull(pw);
        ck_assert_int_eq(pg_passfile_memfd(&t, &fd, NULL), 0);
        ck_assert_int_eq(fd, -EBADF);

        t.password_file = odd;
        ck_assert_int_eq(pg_passfile_memfd(&t, &fd, NULL), 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(st.st_uid, pw->pw_uid);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_gt(pread(fd, buf, sizeof(buf) - 1, 0), 0);
        ck_assert_str_eq(buf, "*:*:*:*:a\\:b\\\\c\n");
        close(fd);

        /* a password file has no way to carry a line break */
        t.password_file = broken;
        ck_assert_int_eq(pg_passfile_memfd(&t, &fd, &err), -EINVAL);
        ck_assert_msg(strstr(err, "line break"), "%s", err);

        t.password_file = good;
        ck_assert_int_eq(pg_passfile_memfd(&t, &fd, NULL), 0);
        ck_assert_int_ge(
                asprintf(
                        &conninfo,
                        "host=127.0.0.1 port=%s user=%s dbname=%s passfile=/proc/self/fd/3",
                        test_pg_port,
                        test_pg_scratch_role,
                        test_pg_scratch_db),
                0);
        ck_assert_int_ge(asprintf(&psql, "%s/psql", test_pg_bindir), 0);
        ck_assert_int_ge(asprintf(&expected, "%s\n", test_pg_scratch_role), 0);
        char *argv[] = { psql,         (char *)"-X", (char *)"-w", (char *)"-tA",
                         (char *)"-d", conninfo,     (char *)"-c", (char *)"SELECT current_user",
                         NULL };
        SpawnOptions o = { .run_as = "postgres", .fd3 = fd, .ret_stdout = &out };
        ck_assert_int_eq(spawn_run(argv, &o, &status), 0);
        ck_assert_int_eq(status, 0);
        ck_assert_str_eq(out, expected);

        o = (SpawnOptions){ .run_as = "postgres", .ret_stdout = &out2 };
        ck_assert_int_eq(spawn_run(argv, &o, &status), 0);
        ck_assert_int_ne(status, 0);
        close(fd);
}
END_TEST

static pid_t test_pid = 0;
static char *atexit_marker = NULL;

static void atexit_in_child(void) {
        int fd;

        if (getpid() == test_pid || !atexit_marker)
                return;
        fd = open(atexit_marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
                close(fd);
}

START_TEST(test_child_leaves_parent_alone) {
        _cleanup_(test_unlink_freep) char *pending = test_pg_credential_file("");
        _cleanup_fclose_ FILE *f = NULL;
        struct stat st;
        PgTarget t = test_pg_scratch();

        /* the session child must leave through _exit(): no atexit handlers, no flush of our stdio */
        test_pid = getpid();
        ck_assert_int_ge(asprintf(&atexit_marker, "%s.atexit", pending), 0);
        ck_assert_int_eq(atexit(atexit_in_child), 0);

        f = fopen(pending, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(setvbuf(f, NULL, _IOFBF, 4096), 0);
        ck_assert_int_gt(fputs("buffered in the parent\n", f), 0);

        ck_assert_int_eq(pg_exec(&t, "SELECT 1", NULL), 0);

        ck_assert_int_eq(stat(pending, &st), 0);
        ck_assert_int_eq(st.st_size, 0);
        ck_assert_int_eq(access(atexit_marker, F_OK), -1);

        ck_assert_int_eq(fflush(f), 0);
        ck_assert_int_eq(stat(pending, &st), 0);
        ck_assert_int_eq(st.st_size, (off_t)strlen("buffered in the parent\n"));
        free(TAKE_PTR(atexit_marker));
}
END_TEST

/* ---- the backup manifest ---- */

START_TEST(test_row_counts) {
        _cleanup_json_ cJSON *counts = NULL;
        _cleanup_free_ char *err = NULL;
        const cJSON *i;
        PgTarget t = test_pg_scratch();

        ck_assert_int_eq(pg_table_row_counts(&t, &counts, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(counts, "public.alpha")->valueint, 3);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(counts, "public.beta")->valueint, 0);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(counts, "odd schema.b\"q")->valueint, 2);
        /* views and catalogs are not tables of the application */
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(counts, "public.alpha_view"));
        cJSON_ArrayForEach (i, counts) {
                ck_assert(!startswith(i->string, "pg_catalog."));
                ck_assert(!startswith(i->string, "information_schema."));
        }
        ck_assert_int_eq(cJSON_GetArraySize(counts), 3);
}
END_TEST

START_TEST(test_row_counts_error) {
        PgTarget t = { .os_user = "postgres", .dbname = "cbu_no_such_database" };
        cJSON *counts = (cJSON *)0x1;

        ck_assert_int_eq(pg_table_row_counts(&t, &counts, NULL), -ECONNREFUSED);
        ck_assert_ptr_eq(counts, (cJSON *)0x1);
}
END_TEST

START_TEST(test_database_properties) {
        _cleanup_json_ cJSON *props = NULL;
        _cleanup_free_ char *err = NULL;
        const cJSON *settings, *s;
        bool search_path = false, work_mem = false;

        ck_assert_int_eq(pg_database_properties(&test_pg_admin, test_pg_scratch_db, &props, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(json_get_string(props, "name"), test_pg_scratch_db);
        ck_assert_str_eq(json_get_string(props, "owner"), "postgres");
        ck_assert_str_eq(json_get_string(props, "encoding"), "UTF8");
        ck_assert_ptr_nonnull(json_get_string(props, "lc_collate"));
        ck_assert_ptr_nonnull(json_get_string(props, "lc_ctype"));
        ck_assert_ptr_nonnull(json_get_string(props, "locale_provider"));
        ck_assert_str_eq(json_get_string(props, "tablespace"), "pg_default");
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(props, "is_template")));
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(props, "allow_connections")));
        ck_assert_int_eq(cJSON_GetObjectItem(props, "connection_limit")->valueint, -1);
        ck_assert_msg(
                strstr(json_get_string(props, "datacl"), test_pg_scratch_role),
                "%s",
                json_get_string(props, "datacl"));

        settings = cJSON_GetObjectItem(props, "settings");
        ck_assert(cJSON_IsArray(settings));
        cJSON_ArrayForEach (s, settings) {
                const char *role = json_get_string(s, "role"), *name = json_get_string(s, "name");

                if (!role && streq(name, "search_path")) {
                        ck_assert_str_eq(json_get_string(s, "value"), "app, public");
                        search_path = true;
                }
                if (streq_ptr(role, test_pg_scratch_role) && streq(name, "work_mem")) {
                        ck_assert_str_eq(json_get_string(s, "value"), "8MB");
                        work_mem = true;
                }
        }
        ck_assert(search_path);
        ck_assert(work_mem);
}
END_TEST

START_TEST(test_database_properties_missing) {
        _cleanup_free_ char *err = NULL;
        cJSON *props = (cJSON *)0x1;

        ck_assert_int_eq(
                pg_database_properties(&test_pg_admin, "cbu_no_such_database", &props, &err), -ENOENT);
        ck_assert_ptr_eq(props, (cJSON *)0x1);
        ck_assert_msg(strstr(err, "cbu_no_such_database"), "%s", err);
}
END_TEST

/* ---- restoring a dump ---- */

START_TEST(test_drop_database) {
        int v = test_pg_server_version();
        _cleanup_free_ char *err = NULL;

        test_pg_exec_or_die(&test_pg_admin, "CREATE DATABASE \"cbu drop me\"");
        ck_assert(test_pg_database_exists("cbu drop me"));
        ck_assert_int_eq(pg_drop_database(&test_pg_admin, "cbu drop me", v, &err), 0);
        ck_assert(!test_pg_database_exists("cbu drop me"));
        /* IF EXISTS */
        ck_assert_int_eq(pg_drop_database(&test_pg_admin, "cbu drop me", v, &err), 0);
        /* before 13 without WITH (FORCE), which 12 would not parse */
        ck_assert_int_eq(pg_drop_database(&test_pg_admin, "cbu drop me", 120000, &err), 0);
        ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_create_database_copy) {
        int v = test_pg_server_version();
        _cleanup_free_ char *err = NULL, *err2 = NULL;

        test_pg_exec_or_die(&test_pg_admin, "CREATE DATABASE \"cbu copy \"\"from\"\"\"");
        ck_assert_int_eq(
                pg_create_database_copy(&test_pg_admin, "cbu copy to", "cbu copy \"from\"", &err), 0);
        ck_assert_ptr_null(err);
        ck_assert(test_pg_database_exists("cbu copy to"));
        /* the name taken: refused, as the snapshot refuses to reuse one */
        ck_assert_int_eq(
                pg_create_database_copy(&test_pg_admin, "cbu copy to", "cbu copy \"from\"", &err2), -EEXIST);
        ck_assert_ptr_nonnull(err2);
        ck_assert_int_eq(pg_drop_database(&test_pg_admin, "cbu copy to", v, NULL), 0);
        ck_assert_int_eq(pg_drop_database(&test_pg_admin, "cbu copy \"from\"", v, NULL), 0);
}
END_TEST

/* ---- no database needed ---- */

START_TEST(test_quote_identifier) {
        const struct {
                const char *in, *out;
        } cases[] = {
                { "codebolt", "\"codebolt\"" },
                { "a\"b", "\"a\"\"b\"" },
                { "", "\"\"" },
                { "\"\"", "\"\"\"\"\"\"" },
                { "codebolt_pre_1 x;DROP", "\"codebolt_pre_1 x;DROP\"" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *q = pg_quote_identifier(cases[i].in);

                ck_assert_str_eq(q, cases[i].out);
        }
}
END_TEST

START_TEST(test_credential_file_check) {
        _cleanup_(test_unlink_freep) char *path = test_pg_credential_file("x");
        _cleanup_free_ char *dir = NULL;
        struct passwd *nobody;

        ck_assert_int_eq(geteuid(), 0);
        ck_assert_int_eq(pg_check_credential_file(path), 0);
        ck_assert_int_eq(chmod(path, 0400), 0);
        ck_assert_int_eq(pg_check_credential_file(path), 0);
        ck_assert_int_eq(chmod(path, 0644), 0);
        ck_assert_int_eq(pg_check_credential_file(path), -EPERM);
        ck_assert_int_eq(chmod(path, 0640), 0);
        ck_assert_int_eq(pg_check_credential_file(path), -EPERM);
        ck_assert_int_eq(chmod(path, 0601), 0);
        ck_assert_int_eq(pg_check_credential_file(path), -EPERM);

        ck_assert_int_eq(chmod(path, 0600), 0);
        nobody = getpwnam("nobody");
        if (nobody) {
                ck_assert_int_eq(chown(path, nobody->pw_uid, (gid_t)-1), 0);
                ck_assert_int_eq(pg_check_credential_file(path), -EPERM);
        }

        dir = strdup("/tmp/test-pg-dir.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(chmod(dir, 0700), 0);
        ck_assert_int_eq(pg_check_credential_file(dir), -EPERM);
        ck_assert_int_eq(rmdir(dir), 0);

        ck_assert_int_eq(pg_check_credential_file("/nonexistent/credential"), -ENOENT);
}
END_TEST

static Suite *pg_suite(void) {
        Suite *s = suite_create("pg");
        TCase *db = tcase_create("database"), *plain = tcase_create("plain");

        tcase_add_unchecked_fixture(db, test_pg_server_start, test_pg_server_stop);
        tcase_set_timeout(db, 60);
        tcase_add_test(db, test_query_params);
        tcase_add_test(db, test_query_null);
        tcase_add_test(db, test_query_command_has_no_rows);
        tcase_add_test(db, test_query_bad_sql);
        tcase_add_test(db, test_exec);
        tcase_add_test(db, test_quote_identifier_roundtrip);
        tcase_add_test(db, test_os_user_peer_auth);
        tcase_add_test(db, test_no_os_user_stays_root);
        tcase_add_test(db, test_unknown_os_user);
        tcase_add_test(db, test_missing_database);
        tcase_add_test(db, test_bad_conninfo);
        tcase_add_test(db, test_password_file);
        tcase_add_test(db, test_passfile_memfd);
        tcase_add_test(db, test_child_leaves_parent_alone);
        tcase_add_test(db, test_row_counts);
        tcase_add_test(db, test_row_counts_error);
        tcase_add_test(db, test_database_properties);
        tcase_add_test(db, test_database_properties_missing);
        tcase_add_test(db, test_drop_database);
        tcase_add_test(db, test_create_database_copy);
        suite_add_tcase(s, db);

        tcase_add_test(plain, test_quote_identifier);
        tcase_add_test(plain, test_credential_file_check);
        suite_add_tcase(s, plain);

        return s;
}

int main(void) {
        return test_pg_run_suite(pg_suite());
}
