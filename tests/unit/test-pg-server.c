/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-pg-server.c: a private, throwaway PostgreSQL server for the pg suites, never the host's cluster */
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

#include "pg-client.h"
#include "json-util.h"
#include "pg-client.h"
#include "test-pg-server.h"

#define SERVER_START_TRIES 5
#define SERVER_START_TIMEOUT_MS (30 * 1000)

/* set by the suite fixture in the runner, inherited by every forked test */
static pid_t runner_pid = 0;
char *test_pg_bindir = NULL;
char *test_pg_server_dir = NULL;
static pid_t postmaster_pid = 0;
char *test_pg_scratch_db = NULL;
char *test_pg_scratch_role = NULL;
char *test_pg_port = NULL;

const PgTarget test_pg_admin = { .os_user = "postgres", .dbname = "postgres" };

PgTarget test_pg_scratch(void) {
        return (PgTarget){ .os_user = "postgres", .dbname = test_pg_scratch_db };
}

void test_pg_exec_or_die(const PgTarget *t, const char *sql) {
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

        ck_assert_int_ge(asprintf(ret_path, "%s/%s", test_pg_server_dir, name), 0);
        fd = open(*ret_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
        ck_assert_msg(fd >= 0, "%s: %s", *ret_path, strerror(errno));
        return fd;
}

static void initdb(const struct passwd *pw) {
        _cleanup_free_ char *exe = NULL, *data = NULL, *log = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        ck_assert_int_ge(asprintf(&exe, "%s/initdb", test_pg_bindir), 0);
        ck_assert_int_ge(asprintf(&data, "%s/data", test_pg_server_dir), 0);
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
        pid_t pid = start_process(argv, fd, pw, test_pg_server_dir, true);

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

        ck_assert_int_ge(asprintf(&exe, "%s/postgres", test_pg_bindir), 0);
        ck_assert_int_ge(asprintf(&data, "%s/data", test_pg_server_dir), 0);
        ck_assert_int_ge(asprintf(&port, "%d", free_port()), 0);
        fd = open_log("postgres.log", &log);

        const char *argv[] = {
                exe,  "-D", data,        "-k", test_pg_server_dir,  "-c", "listen_addresses=127.0.0.1", "-p",
                port, "-c", "fsync=off", "-c", "wal_level=logical", NULL
        };
        postmaster_pid = start_process(argv, fd, pw, test_pg_server_dir, true);
        ck_assert_int_gt(postmaster_pid, 0);

        /* libpq's defaults for this process and every session child it forks: our socket, our port */
        ck_assert_int_eq(setenv("PGHOST", test_pg_server_dir, 1), 0);
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
                if (pg_query(&test_pg_admin, "SHOW port", NULL, 0, &rows, &err) >= 0)
                        break;
                usleep(100 * 1000);
        }
        if (!rows) {
                _cleanup_free_ char *text = read_log(log);

                ck_abort_msg("PostgreSQL does not answer: %s\n%s", strempty(err), text);
        }
        test_pg_port = strdup(json_get_string(cJSON_GetArrayItem(rows, 0), "port"));
        ck_assert_ptr_nonnull(test_pg_port);
        ck_assert_str_eq(test_pg_port, port);
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
        if (test_pg_server_dir && startswith(test_pg_server_dir, "/var/tmp/test-pg.")) {
                (void)nftw(test_pg_server_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
                free(test_pg_server_dir);
                test_pg_server_dir = NULL;
        }
        (void)unsetenv("PGHOST");
        (void)unsetenv("PGPORT");
}

void test_pg_server_start(void) {
        _cleanup_free_ char *sql = NULL;
        struct passwd *pw;
        bool started = false;

        runner_pid = getpid();

        /* nothing from the caller's environment may steer libpq elsewhere */
        const char *const unset[] = { "PGHOSTADDR", "PGUSER",     "PGDATABASE", "PGSERVICE", "PGSERVICEFILE",
                                      "PGPASSWORD", "PGPASSFILE", "PGOPTIONS",  "PGDATA",    NULL };
        for (size_t i = 0; unset[i]; i++)
                ck_assert_int_eq(unsetenv(unset[i]), 0);

        test_pg_bindir = find_server_bindir();
        ck_assert_msg(test_pg_bindir, "no PostgreSQL server (initdb, postgres) under /usr/lib/postgresql");
        pw = getpwnam("postgres");
        ck_assert_msg(pw, "no postgres user");

        test_pg_server_dir = strdup("/var/tmp/test-pg.XXXXXX");
        ck_assert_ptr_nonnull(test_pg_server_dir);
        ck_assert_ptr_nonnull(mkdtemp(test_pg_server_dir));
        ck_assert_int_eq(chown(test_pg_server_dir, pw->pw_uid, pw->pw_gid), 0);

        initdb(pw);
        for (int i = 0; i < SERVER_START_TRIES && !started; i++)
                started = start_server(pw);
        ck_assert_msg(started, "postgres could not bind a free port in %d tries", SERVER_START_TRIES);

        ck_assert_int_ge(
                asprintf(&test_pg_scratch_db, "cbu_test_%d_%ld", (int)getpid(), (long)time(NULL)), 0);
        ck_assert_int_ge(
                asprintf(&test_pg_scratch_role, "cbu_role_%d_%ld", (int)getpid(), (long)time(NULL)), 0);

        ck_assert_int_ge(asprintf(&sql, "CREATE DATABASE %s", test_pg_scratch_db), 0);
        test_pg_exec_or_die(&test_pg_admin, sql);
        free(sql);
        ck_assert_int_ge(
                asprintf(
                        &sql,
                        "CREATE ROLE %s LOGIN PASSWORD '" TEST_PG_ROLE_PASSWORD "'",
                        test_pg_scratch_role),
                0);
        test_pg_exec_or_die(&test_pg_admin, sql);
        free(sql);
        ck_assert_int_ge(
                asprintf(
                        &sql,
                        "ALTER DATABASE %1$s SET search_path = app, public;"
                        " ALTER ROLE %2$s IN DATABASE %1$s SET work_mem = '8MB';"
                        " GRANT CREATE ON DATABASE %1$s TO %2$s",
                        test_pg_scratch_db,
                        test_pg_scratch_role),
                0);
        test_pg_exec_or_die(&test_pg_admin, sql);

        PgTarget t = test_pg_scratch();
        test_pg_exec_or_die(
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
int test_pg_run_suite(Suite *s) {
        SRunner *sr;
        int failed;

        /* dropping to postgres, peer authentication and the private server need root */
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root\n");
                return 77;
        }

        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        /* Check skips the unchecked teardown when the setup failed half-way: never leave a server */
        test_pg_server_stop();
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void test_pg_server_stop(void) {
        stop_server();
        free(test_pg_bindir);
        free(test_pg_scratch_db);
        free(test_pg_scratch_role);
        free(test_pg_port);
        test_pg_bindir = test_pg_scratch_db = test_pg_scratch_role = test_pg_port = NULL;
}

const char *test_pg_row_string(const cJSON *rows, int i, const char *column) {
        return json_get_string(cJSON_GetArrayItem(rows, i), column);
}

bool test_pg_row_null(const cJSON *rows, int i, const char *column) {
        return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, i), column));
}

/* a root-owned credential file with mode 0600 holding content */
char *test_pg_credential_file(const char *content) {
        char *path = strdup("/tmp/test-pg-credential.XXXXXX");
        int fd;

        ck_assert_ptr_nonnull(path);
        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
        return path;
}

void test_unlink_freep(char **p) {
        if (*p) {
                (void)unlink(*p);
                free(*p);
        }
}

/* the private server for client programs (pg_dump, pg_restore), which spawn starts without PGHOST */
PgTarget test_pg_client_target(char **conninfo, const char *dbname) {
        if (!*conninfo)
                ck_assert_int_ge(asprintf(conninfo, "host=%s port=%s", test_pg_server_dir, test_pg_port), 0);
        return (PgTarget){ .os_user = "postgres", .conninfo = *conninfo, .dbname = dbname };
}

/* pg_dump -Fc of dbname into a root-only file */
char *test_pg_dump_database(const char *dbname) {
        _cleanup_free_ char *conninfo = NULL;
        PgTarget t = test_pg_client_target(&conninfo, dbname);
        char *path = strdup("/tmp/test-pg-dump.XXXXXX");
        int fd, status = -1;

        ck_assert_ptr_nonnull(path);
        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pg_dump_run(&t, fd, NULL, &status), 0);
        ck_assert_int_eq(status, 0);
        close(fd);
        return path;
}

int test_pg_server_version(void) {
        int v = 0;

        ck_assert_int_eq(pg_server_version(&test_pg_admin, &v, NULL), 0);
        return v;
}

bool test_pg_database_exists(const char *name) {
        const char *params[] = { name };
        _cleanup_json_ cJSON *rows = NULL;

        ck_assert_int_eq(
                pg_query(
                        &test_pg_admin,
                        "SELECT 1 AS x FROM pg_catalog.pg_database WHERE datname = $1",
                        params,
                        1,
                        &rows,
                        NULL),
                0);
        return cJSON_GetArraySize(rows) == 1;
}

char *test_pg_table_owner(const char *dbname, const char *table) {
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
        owner = strdup(strempty(test_pg_row_string(rows, 0, "o")));
        ck_assert_ptr_nonnull(owner);
        return owner;
}
