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

#define ROLE_PASSWORD "correct horse battery staple"
#define SERVER_START_TRIES 5
#define SERVER_START_TIMEOUT_MS (30 * 1000)

/* set by the suite fixture in the runner, inherited by every forked test */
static pid_t runner_pid = 0;
static char *server_bindir = NULL; /* /usr/lib/postgresql/<highest>/bin */
static char *server_dir = NULL;    /* /var/tmp/test-pg.XXXXXX: data/, the socket, the logs */
static pid_t postmaster_pid = 0;
static char *scratch_db = NULL;
static char *scratch_role = NULL;
static char *cluster_port = NULL;

static const PgTarget admin = { .os_user = "postgres", .dbname = "postgres" };

static PgTarget scratch(void) {
        return (PgTarget){ .os_user = "postgres", .dbname = scratch_db };
}

static void exec_or_die(const PgTarget *t, const char *sql) {
        _cleanup_free_ char *err = NULL;
        int r = pg_exec(t, sql, &err);

        ck_assert_msg(r >= 0, "%s: %s", sql, strempty(err));
}

static bool is_executable_in(const char *dir, const char *name) {
        _cleanup_free_ char *p = NULL;

        return asprintf(&p, "%s/%s", dir, name) >= 0 && access(p, X_OK) == 0;
}

static bool is_server_bindir(const char *dir) {
        return is_executable_in(dir, "initdb") && is_executable_in(dir, "postgres");
}

/* Fork and exec argv (argv[0] a path) with stdin from /dev/null and stdout+stderr into out_fd. With pw,
 * the child drops to that user first (groups, gid, uid, as `sudo -u` would) and, when die_with_parent,
 * gets SIGQUIT (PostgreSQL's immediate shutdown) should this process die before stopping it. */
static pid_t start_process(
        const char *const *argv,
        int out_fd,
        const struct passwd *pw,
        const char *cwd,
        bool die_with_parent) {
        pid_t parent = getpid(), pid;

        fflush(NULL);
        pid = fork();
        if (pid != 0)
                return pid;

        /* the child: only async-signal-safe-ish calls, then exec or _exit */
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0)
                _exit(126);
        /* Check's and meson's descriptors stay with us: a server holding them would stall the run */
        (void)close_range(3, ~0U, 0);
        (void)signal(SIGPIPE, SIG_DFL);
        if (pw) {
                if (initgroups(pw->pw_name, pw->pw_gid) < 0 ||
                    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
                    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
                        _exit(126);
                if (setenv("HOME", cwd ?: "/", 1) < 0 || setenv("USER", pw->pw_name, 1) < 0 ||
                    setenv("LOGNAME", pw->pw_name, 1) < 0)
                        _exit(126);
        }
        /* after the change of user, which clears it */
        if (die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGQUIT) < 0 || getppid() != parent))
                _exit(126);
        if (chdir(cwd ?: "/") < 0)
                _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
}

static int wait_process(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* the highest /usr/lib/postgresql/<version>/bin with a server in it, else pg_config's */
static char *find_server_bindir(void) {
        const char *best = NULL;
        char *ret = NULL;
        glob_t g = {};

        if (glob("/usr/lib/postgresql/*/bin", GLOB_ONLYDIR | GLOB_NOSORT, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                        if (is_server_bindir(g.gl_pathv[i]) &&
                            (!best || strverscmp(g.gl_pathv[i], best) > 0))
                                best = g.gl_pathv[i];
        if (best)
                ret = strdup(best);
        globfree(&g);
        if (ret)
                return ret;

        /* elsewhere pg_config may know: read its --bindir */
        const char *argv[] = { "/usr/bin/pg_config", "--bindir", NULL };
        char buf[PATH_MAX] = {};
        size_t size = 0;
        int fds[2];
        pid_t pid;

        if (access(argv[0], X_OK) < 0 || pipe2(fds, O_CLOEXEC) < 0)
                return NULL;
        pid = start_process(argv, fds[1], NULL, NULL, false);
        close(fds[1]);
        if (pid < 0) {
                close(fds[0]);
                return NULL;
        }
        for (;;) {
                ssize_t n = read(fds[0], buf + size, sizeof(buf) - 1 - size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                size += (size_t)n;
        }
        close(fds[0]);
        if (wait_process(pid) != 0)
                return NULL;
        buf[strcspn(buf, "\r\n")] = 0;
        return buf[0] == '/' && is_server_bindir(buf) ? strdup(buf) : NULL;
}

/* a TCP port on 127.0.0.1 that was free a moment ago (the server may still lose it in a race: retried) */
static int free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(a);
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
        return ntohs(a.sin_port);
}

/* the log, for a failure message; never NULL */
static char *read_log(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char *s = NULL;
        size_t n = 0;

        if (!f || getdelim(&s, &n, 0, f) < 0) {
                free(s);
                return strdup("(no log)");
        }
        return s;
}

static int open_log(const char *name, char **ret_path) {
        int fd;

        ck_assert_int_ge(asprintf(ret_path, "%s/%s", server_dir, name), 0);
        fd = open(*ret_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
        ck_assert_msg(fd >= 0, "%s: %s", *ret_path, strerror(errno));
        return fd;
}

static void initdb(const struct passwd *pw) {
        _cleanup_free_ char *exe = NULL, *data = NULL, *log = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        ck_assert_int_ge(asprintf(&exe, "%s/initdb", server_bindir), 0);
        ck_assert_int_ge(asprintf(&data, "%s/data", server_dir), 0);
        fd = open_log("initdb.log", &log);

        /* UTF8 and no locale: the same catalog whatever this machine's locale, messages in English */
        const char *argv[] = { exe,
                               "-D",
                               data,
                               "--auth=peer",
                               "--auth-host=scram-sha-256",
                               "-U",
                               "postgres",
                               "--encoding=UTF8",
                               "--no-locale",
                               "--no-sync",
                               NULL };
        pid_t pid = start_process(argv, fd, pw, server_dir, true);

        ck_assert_int_gt(pid, 0);
        r = wait_process(pid);
        text = r != 0 ? read_log(log) : NULL;
        ck_assert_msg(r == 0, "initdb failed (%d):\n%s", r, strempty(text));
}

/* start the postmaster on a free port and wait until it answers; false when it lost the port */
static bool start_server(const struct passwd *pw) {
        _cleanup_free_ char *exe = NULL, *data = NULL, *log = NULL, *port = NULL, *err = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_json_ cJSON *rows = NULL;
        int status;

        ck_assert_int_ge(asprintf(&exe, "%s/postgres", server_bindir), 0);
        ck_assert_int_ge(asprintf(&data, "%s/data", server_dir), 0);
        ck_assert_int_ge(asprintf(&port, "%d", free_port()), 0);
        fd = open_log("postgres.log", &log);

        const char *argv[] = { exe,  "-D", data, "-k",        server_dir, "-c", "listen_addresses=127.0.0.1",
                               "-p", port, "-c", "fsync=off", NULL };
        postmaster_pid = start_process(argv, fd, pw, server_dir, true);
        ck_assert_int_gt(postmaster_pid, 0);

        /* libpq's defaults for this process and every session child it forks: our socket, our port */
        ck_assert_int_eq(setenv("PGHOST", server_dir, 1), 0);
        ck_assert_int_eq(setenv("PGPORT", port, 1), 0);

        for (int waited = 0; waited < SERVER_START_TIMEOUT_MS; waited += 100) {
                pid_t p = waitpid(postmaster_pid, &status, WNOHANG);

                if (p == postmaster_pid) {
                        _cleanup_free_ char *text = read_log(log);

                        postmaster_pid = 0;
                        /* someone took the port between free_port() and the bind: another one */
                        if (strstr(text, "could not bind") || strstr(text, "could not create any TCP/IP"))
                                return false;
                        ck_abort_msg("postgres exited (status 0x%x):\n%s", (unsigned)status, text);
                }
                free(err);
                err = NULL;
                if (pg_query(&admin, "SHOW port", NULL, 0, &rows, &err) >= 0)
                        break;
                usleep(100 * 1000);
        }
        if (!rows) {
                _cleanup_free_ char *text = read_log(log);

                ck_abort_msg("PostgreSQL does not answer: %s\n%s", strempty(err), text);
        }
        cluster_port = strdup(json_get_string(cJSON_GetArrayItem(rows, 0), "port"));
        ck_assert_ptr_nonnull(cluster_port);
        ck_assert_str_eq(cluster_port, port);
        return true;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void)(flag == FTW_DP ? rmdir(path) : unlink(path));
        return 0;
}

static void stop_server(void) {
        /* only the process that started it, never a forked test */
        if (getpid() != runner_pid)
                return;

        if (postmaster_pid > 0) {
                /* immediate shutdown: the data are thrown away anyway */
                (void)kill(postmaster_pid, SIGQUIT);
                for (int i = 0; i < 100; i++) {
                        if (waitpid(postmaster_pid, NULL, WNOHANG) != 0)
                                break;
                        if (i == 99) {
                                (void)kill(postmaster_pid, SIGKILL);
                                (void)wait_process(postmaster_pid);
                        }
                        usleep(100 * 1000);
                }
                postmaster_pid = 0;
        }
        if (server_dir && startswith(server_dir, "/var/tmp/test-pg.")) {
                (void)nftw(server_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
                free(server_dir);
                server_dir = NULL;
        }
        (void)unsetenv("PGHOST");
        (void)unsetenv("PGPORT");
}

static void suite_setup(void) {
        _cleanup_free_ char *sql = NULL;
        struct passwd *pw;
        bool started = false;

        runner_pid = getpid();

        /* nothing from the caller's environment may steer libpq elsewhere */
        const char *const unset[] = { "PGHOSTADDR", "PGUSER",     "PGDATABASE", "PGSERVICE", "PGSERVICEFILE",
                                      "PGPASSWORD", "PGPASSFILE", "PGOPTIONS",  "PGDATA",    NULL };
        for (size_t i = 0; unset[i]; i++)
                ck_assert_int_eq(unsetenv(unset[i]), 0);

        server_bindir = find_server_bindir();
        ck_assert_msg(server_bindir, "no PostgreSQL server (initdb, postgres) under /usr/lib/postgresql");
        pw = getpwnam("postgres");
        ck_assert_msg(pw, "no postgres user");

        server_dir = strdup("/var/tmp/test-pg.XXXXXX");
        ck_assert_ptr_nonnull(server_dir);
        ck_assert_ptr_nonnull(mkdtemp(server_dir));
        ck_assert_int_eq(chown(server_dir, pw->pw_uid, pw->pw_gid), 0);

        initdb(pw);
        for (int i = 0; i < SERVER_START_TRIES && !started; i++)
                started = start_server(pw);
        ck_assert_msg(started, "postgres could not bind a free port in %d tries", SERVER_START_TRIES);

        ck_assert_int_ge(asprintf(&scratch_db, "cbu_test_%d_%ld", (int)getpid(), (long)time(NULL)), 0);
        ck_assert_int_ge(asprintf(&scratch_role, "cbu_role_%d_%ld", (int)getpid(), (long)time(NULL)), 0);

        ck_assert_int_ge(asprintf(&sql, "CREATE DATABASE %s", scratch_db), 0);
        exec_or_die(&admin, sql);
        free(sql);
        ck_assert_int_ge(
                asprintf(&sql, "CREATE ROLE %s LOGIN PASSWORD '" ROLE_PASSWORD "'", scratch_role), 0);
        exec_or_die(&admin, sql);
        free(sql);
        ck_assert_int_ge(
                asprintf(
                        &sql,
                        "ALTER DATABASE %1$s SET search_path = app, public;"
                        " ALTER ROLE %2$s IN DATABASE %1$s SET work_mem = '8MB';"
                        " GRANT CREATE ON DATABASE %1$s TO %2$s",
                        scratch_db,
                        scratch_role),
                0);
        exec_or_die(&admin, sql);

        PgTarget t = scratch();
        exec_or_die(
                &t,
                "CREATE TABLE public.alpha (id int PRIMARY KEY, name text);"
                " INSERT INTO public.alpha VALUES (1, 'one'), (2, NULL), (3, 'three');"
                " CREATE TABLE public.beta (x int);"
                " CREATE SCHEMA \"odd schema\";"
                " CREATE TABLE \"odd schema\".\"b\"\"q\" (y text);"
                " INSERT INTO \"odd schema\".\"b\"\"q\" VALUES ('a'), ('b');"
                " CREATE VIEW public.alpha_view AS SELECT * FROM public.alpha;");
}

/* the whole server goes, so the scratch database and role need no dropping */
static void suite_teardown(void) {
        stop_server();
        free(server_bindir);
        free(scratch_db);
        free(scratch_role);
        free(cluster_port);
        server_bindir = scratch_db = scratch_role = cluster_port = NULL;
}

static const char *row_string(const cJSON *rows, int i, const char *column) {
        return json_get_string(cJSON_GetArrayItem(rows, i), column);
}

static bool row_null(const cJSON *rows, int i, const char *column) {
        return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, i), column));
}

/* a root-owned credential file with mode 0600 holding content */
static char *credential_file(const char *content) {
        char *path = strdup("/tmp/test-pg-credential.XXXXXX");
        int fd;

        ck_assert_ptr_nonnull(path);
        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
        return path;
}

static void unlink_freep(char **p) {
        if (*p) {
                (void)unlink(*p);
                free(*p);
        }
}

/* ---- queries ---- */

START_TEST(test_query_params) {
        const char *params[] = { "41", "hello" };
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *err = NULL;
        PgTarget t = scratch();

        ck_assert_int_eq(pg_query(&t, "SELECT $1::int + 1 AS n, $2::text AS s", params, 2, &rows, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_int_eq(cJSON_GetArraySize(rows), 1);
        ck_assert_str_eq(row_string(rows, 0, "n"), "42");
        ck_assert_str_eq(row_string(rows, 0, "s"), "hello");
}
END_TEST

START_TEST(test_query_null) {
        const char *params[] = { NULL };
        _cleanup_json_ cJSON *rows = NULL, *table = NULL;
        PgTarget t = scratch();

        ck_assert_int_eq(
                pg_query(&t, "SELECT NULL::text AS a, $1::text AS b, '' AS c", params, 1, &rows, NULL), 0);
        ck_assert(row_null(rows, 0, "a"));
        ck_assert(row_null(rows, 0, "b"));
        ck_assert_str_eq(row_string(rows, 0, "c"), "");

        ck_assert_int_eq(
                pg_query(&t, "SELECT id, name FROM public.alpha ORDER BY id", NULL, 0, &table, NULL), 0);
        ck_assert_int_eq(cJSON_GetArraySize(table), 3);
        ck_assert_str_eq(row_string(table, 0, "name"), "one");
        ck_assert(row_null(table, 1, "name"));
        ck_assert_str_eq(row_string(table, 2, "id"), "3");
}
END_TEST

START_TEST(test_query_command_has_no_rows) {
        _cleanup_json_ cJSON *rows = NULL;
        PgTarget t = scratch();

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
        PgTarget t = scratch();

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
        PgTarget t = scratch();

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
        ck_assert(row_null(rows, 0, "r"));
}
END_TEST

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

START_TEST(test_quote_identifier_roundtrip) {
        _cleanup_free_ char *s = pg_quote_identifier("odd schema"), *q = pg_quote_identifier("b\"q"),
                            *sql = NULL;
        _cleanup_json_ cJSON *rows = NULL;
        PgTarget t = scratch();

        ck_assert_int_ge(asprintf(&sql, "SELECT count(*) AS n FROM %s.%s", s, q), 0);
        ck_assert_int_eq(pg_query(&t, sql, NULL, 0, &rows, NULL), 0);
        ck_assert_str_eq(row_string(rows, 0, "n"), "2");
}
END_TEST

/* ---- who we are ---- */

START_TEST(test_os_user_peer_auth) {
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *err = NULL;
        PgTarget t = scratch();

        ck_assert_int_eq(
                pg_query(&t, "SELECT current_user AS u, current_database() AS d", NULL, 0, &rows, &err), 0);
        ck_assert_str_eq(row_string(rows, 0, "u"), "postgres");
        ck_assert_str_eq(row_string(rows, 0, "d"), scratch_db);
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
        _cleanup_(unlink_freep) char *good = credential_file(ROLE_PASSWORD "\n"),
                                     *bad = credential_file("wrong-pw");
        _cleanup_free_ char *conninfo = NULL, *err = NULL, *err2 = NULL;
        _cleanup_json_ cJSON *rows = NULL;

        ck_assert_int_ge(
                asprintf(&conninfo, "host=127.0.0.1 port=%s user=%s", cluster_port, scratch_role), 0);

        /* TCP with scram: the password comes from the file, read before dropping to postgres */
        PgTarget t = {
                .os_user = "postgres", .conninfo = conninfo, .dbname = scratch_db, .password_file = good
        };
        ck_assert_int_eq(pg_query(&t, "SELECT current_user AS u", NULL, 0, &rows, &err), 0);
        ck_assert_str_eq(row_string(rows, 0, "u"), scratch_role);

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
        _cleanup_(unlink_freep) char *good = credential_file(ROLE_PASSWORD "\n"),
                                     *odd = credential_file("a:b\\c"), *broken = credential_file("a\nb\n");
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
                        cluster_port,
                        scratch_role,
                        scratch_db),
                0);
        ck_assert_int_ge(asprintf(&psql, "%s/psql", server_bindir), 0);
        ck_assert_int_ge(asprintf(&expected, "%s\n", scratch_role), 0);
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
        _cleanup_(unlink_freep) char *pending = credential_file("");
        _cleanup_fclose_ FILE *f = NULL;
        struct stat st;
        PgTarget t = scratch();

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
        PgTarget t = scratch();

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

        ck_assert_int_eq(pg_database_properties(&admin, scratch_db, &props, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_str_eq(json_get_string(props, "name"), scratch_db);
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
                strstr(json_get_string(props, "datacl"), scratch_role),
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
                if (streq_ptr(role, scratch_role) && streq(name, "work_mem")) {
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

        ck_assert_int_eq(pg_database_properties(&admin, "cbu_no_such_database", &props, &err), -ENOENT);
        ck_assert_ptr_eq(props, (cJSON *)0x1);
        ck_assert_msg(strstr(err, "cbu_no_such_database"), "%s", err);
}
END_TEST

/* ---- restoring a dump ---- */

/* the private server for client programs (pg_dump, pg_restore), which spawn starts without PGHOST */
static PgTarget client_target(char **conninfo, const char *dbname) {
        if (!*conninfo)
                ck_assert_int_ge(asprintf(conninfo, "host=%s port=%s", server_dir, cluster_port), 0);
        return (PgTarget){ .os_user = "postgres", .conninfo = *conninfo, .dbname = dbname };
}

/* pg_dump -Fc of dbname into a root-only file */
static char *dump_database(const char *dbname) {
        _cleanup_free_ char *conninfo = NULL;
        PgTarget t = client_target(&conninfo, dbname);
        char *path = strdup("/tmp/test-pg-dump.XXXXXX");
        int fd, status = -1;

        ck_assert_ptr_nonnull(path);
        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pg_dump_run(&t, fd, &status), 0);
        ck_assert_int_eq(status, 0);
        close(fd);
        return path;
}

static int server_version_num(void) {
        int v = 0;

        ck_assert_int_eq(pg_server_version(&admin, &v, NULL), 0);
        return v;
}

static bool database_exists(const char *name) {
        const char *params[] = { name };
        _cleanup_json_ cJSON *rows = NULL;

        ck_assert_int_eq(
                pg_query(
                        &admin,
                        "SELECT 1 AS x FROM pg_catalog.pg_database WHERE datname = $1",
                        params,
                        1,
                        &rows,
                        NULL),
                0);
        return cJSON_GetArraySize(rows) == 1;
}

static char *table_owner(const char *dbname, const char *table) {
        const char *params[] = { table };
        PgTarget t = { .os_user = "postgres", .dbname = dbname };
        _cleanup_json_ cJSON *rows = NULL;
        char *owner;

        ck_assert_int_eq(
                pg_query(
                        &t,
                        "SELECT tableowner AS o FROM pg_catalog.pg_tables WHERE schemaname = 'public' AND "
                        "tablename = $1",
                        params,
                        1,
                        &rows,
                        NULL),
                0);
        owner = strdup(strempty(row_string(rows, 0, "o")));
        ck_assert_ptr_nonnull(owner);
        return owner;
}

START_TEST(test_drop_database) {
        int v = server_version_num();
        _cleanup_free_ char *err = NULL;

        exec_or_die(&admin, "CREATE DATABASE \"cbu drop me\"");
        ck_assert(database_exists("cbu drop me"));
        ck_assert_int_eq(pg_drop_database(&admin, "cbu drop me", v, &err), 0);
        ck_assert(!database_exists("cbu drop me"));
        /* IF EXISTS */
        ck_assert_int_eq(pg_drop_database(&admin, "cbu drop me", v, &err), 0);
        /* before 13 without WITH (FORCE), which 12 would not parse */
        ck_assert_int_eq(pg_drop_database(&admin, "cbu drop me", 120000, &err), 0);
        ck_assert_ptr_null(err);
}
END_TEST

/* the trial restore: a leftover of the same name goes, the rows are those of the source, all owned by
 * the role that restores */
START_TEST(test_restore_dump_trial) {
        _cleanup_(unlink_freep) char *dump = dump_database(scratch_db);
        _cleanup_json_ cJSON *props = NULL, *expected = NULL, *counts = NULL;
        _cleanup_free_ char *err = NULL, *conninfo = NULL, *owner = NULL;
        PgRestoreFailure f = { .step = PG_RESTORE_STEP_COUNT };
        PgTarget a = client_target(&conninfo, "postgres"),
                 left = { .os_user = "postgres", .dbname = "cbu_trial" }, source = scratch();

        ck_assert_int_eq(pg_database_properties(&admin, scratch_db, &props, &err), 0);
        ck_assert_int_eq(pg_table_row_counts(&source, &expected, &err), 0);

        exec_or_die(&admin, "CREATE DATABASE cbu_trial");
        exec_or_die(&left, "CREATE TABLE public.leftover (x int)");

        ck_assert_int_eq(
                pg_restore_dump(&a, dump, "cbu_trial", props, server_version_num(), 0, &counts, &f), 0);
        ck_assert_msg(cJSON_Compare(counts, expected, true), "%s", cJSON_PrintUnformatted(counts));
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(counts, "public.leftover"));
        /* untouched on success */
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_COUNT);
        ck_assert_ptr_null(f.error);

        owner = table_owner("cbu_trial", "alpha");
        ck_assert_str_eq(owner, "postgres");

        /* again over itself, without ret_counts */
        ck_assert_int_eq(
                pg_restore_dump(&a, dump, "cbu_trial", props, server_version_num(), 0, NULL, NULL), 0);
        ck_assert_int_eq(pg_drop_database(&admin, "cbu_trial", server_version_num(), NULL), 0);
}
END_TEST

/* the real restore: the database and its tables belong to the recorded owner again */
START_TEST(test_restore_dump_owner) {
        _cleanup_(unlink_freep) char *dump = NULL;
        _cleanup_json_ cJSON *props = NULL, *restored = NULL, *counts = NULL;
        _cleanup_free_ char *err = NULL, *sql = NULL, *conninfo = NULL, *owned = NULL, *unowned = NULL;
        PgTarget a = client_target(&conninfo, "postgres"),
                 src = { .os_user = "postgres", .dbname = "cbu_owned_src" };
        int v = server_version_num();

        ck_assert_int_ge(asprintf(&sql, "CREATE DATABASE cbu_owned_src OWNER %s", scratch_role), 0);
        exec_or_die(&admin, sql);
        free(sql);
        ck_assert_int_ge(
                asprintf(
                        &sql,
                        "CREATE TABLE public.owned (id int); INSERT INTO public.owned VALUES (1), (2);"
                        " ALTER TABLE public.owned OWNER TO %s",
                        scratch_role),
                0);
        exec_or_die(&src, sql);
        dump = dump_database("cbu_owned_src");
        ck_assert_int_eq(pg_database_properties(&admin, "cbu_owned_src", &props, &err), 0);

        ck_assert_int_eq(
                pg_restore_dump(&a, dump, "cbu_owned", props, v, PG_RESTORE_OWNER, &counts, NULL), 0);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(counts, "public.owned")->valueint, 2);
        ck_assert_int_eq(pg_database_properties(&admin, "cbu_owned", &restored, &err), 0);
        ck_assert_str_eq(json_get_string(restored, "owner"), scratch_role);
        owned = table_owner("cbu_owned", "owned");
        ck_assert_str_eq(owned, scratch_role);

        cJSON_Delete(restored);
        restored = NULL;
        ck_assert_int_eq(pg_restore_dump(&a, dump, "cbu_unowned", props, v, 0, NULL, NULL), 0);
        ck_assert_int_eq(pg_database_properties(&admin, "cbu_unowned", &restored, &err), 0);
        ck_assert_str_eq(json_get_string(restored, "owner"), "postgres");
        unowned = table_owner("cbu_unowned", "owned");
        ck_assert_str_eq(unowned, "postgres");
}
END_TEST

/* each step's failure, and whether the database exists after it */
START_TEST(test_restore_dump_failures) {
        _cleanup_(unlink_freep) char *dump = dump_database(scratch_db),
                                     *junk = credential_file("not a dump");
        _cleanup_(pg_restore_failure_done) PgRestoreFailure f = {};
        _cleanup_json_ cJSON *props = NULL, *bad_owner = NULL;
        _cleanup_free_ char *err = NULL, *conninfo = NULL;
        PgTarget a = client_target(&conninfo, "postgres"), gone = a;
        cJSON *counts = (cJSON *)0x1;
        int v = server_version_num();

        ck_assert_int_eq(pg_database_properties(&admin, scratch_db, &props, &err), 0);

        /* the leftover cannot be dropped: no session on admin */
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
        ck_assert(!database_exists("cbu_fail"));
        pg_restore_failure_done(&f);

        /* no dump: the database exists, empty, for the caller to drop */
        ck_assert_int_eq(
                pg_restore_dump(&a, "/nonexistent/database.dump", "cbu_fail", props, v, 0, &counts, &f),
                -ENOENT);
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_OPEN);
        ck_assert(database_exists("cbu_fail"));
        pg_restore_failure_done(&f);

        /* pg_restore cannot read it */
        ck_assert_int_eq(pg_restore_dump(&a, junk, "cbu_fail", props, v, 0, &counts, &f), -EBADMSG);
        ck_assert_int_eq(f.step, PG_RESTORE_STEP_EXIT);
        ck_assert_int_ne(f.exit_status, 0);
        ck_assert_ptr_null(f.error);
        ck_assert(database_exists("cbu_fail"));
        ck_assert_ptr_eq(counts, (cJSON *)0x1);

        ck_assert_int_eq(pg_drop_database(&admin, "cbu_fail", v, NULL), 0);
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
        _cleanup_(unlink_freep) char *path = credential_file("x");
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

        tcase_add_unchecked_fixture(db, suite_setup, suite_teardown);
        tcase_set_timeout(db, 60);
        tcase_add_test(db, test_query_params);
        tcase_add_test(db, test_query_null);
        tcase_add_test(db, test_query_command_has_no_rows);
        tcase_add_test(db, test_query_bad_sql);
        tcase_add_test(db, test_exec);
        tcase_add_test(db, test_conninfo);
        tcase_add_test(db, test_create_database_sql);
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
        tcase_add_test(db, test_restore_dump_trial);
        tcase_add_test(db, test_restore_dump_owner);
        tcase_add_test(db, test_restore_dump_failures);
        suite_add_tcase(s, db);

        tcase_add_test(plain, test_quote_identifier);
        tcase_add_test(plain, test_credential_file_check);
        suite_add_tcase(s, plain);

        return s;
}

int main(void) {
        SRunner *sr;
        int failed;

        /* dropping to postgres, peer authentication and the private server need root */
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root\n");
                return 77;
        }

        sr = srunner_create(pg_suite());
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        /* Check skips the unchecked teardown when the setup failed half-way: never leave a server */
        suite_teardown();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
