/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg.c: libpq sessions run in a child process dropped to the database OS user */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pq-dl.h"

#include "errmsg.h"
#include "fd-util.h"
#include "decoding.h"
#include "json-util.h"
#include "pg.h"
#include "spawn.h"
#include "state.h"
#include "trust.h"

#define PG_CREDENTIAL_MAX ((size_t)64 * 1024)
#define PG_CONNECT_TIMEOUT "30"
/* what a session child may answer: row counts and properties, never table contents */
#define PG_ANSWER_MAX ((size_t)256 * 1024 * 1024)

/* what a session does once connected, inside the child; *ret may stay NULL */
typedef int (*SessionFn)(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error);

/* libpq messages end in a newline and may span lines; the caller logs one line */
static int set_pq_error(char **ret_error, int r, const char *prefix, const char *msg) {
        _cleanup_free_ char *s = strdup(strempty(msg));
        size_t l = 0;

        if (!s)
                return errmsg_set(ret_error, r, "%s", prefix ? prefix : "out of memory");

        /* every run of blanks and line breaks becomes one space, none at the ends */
        for (const char *p = s; *p; p++) {
                if (!strchr(" \t\r\n", *p))
                        s[l++] = *p;
                else if (l > 0 && s[l - 1] != ' ')
                        s[l++] = ' ';
        }
        if (l > 0 && s[l - 1] == ' ')
                l--;
        s[l] = 0;

        if (prefix)
                return errmsg_set(ret_error, r, "%s: %s", prefix, s);
        return errmsg_set(ret_error, r, "%s", s);
}

static int sqlstate_to_errno(const char *state) {
        static const struct {
                const char *state;
                int error;
        } table[] = {
                { "42501", EACCES },    /* insufficient_privilege */
                { "3D000", ENOENT },    /* invalid_catalog_name */
                { "3F000", ENOENT },    /* invalid_schema_name */
                { "42P01", ENOENT },    /* undefined_table */
                { "42703", ENOENT },    /* undefined_column */
                { "42704", ENOENT },    /* undefined_object */
                { "42883", ENOENT },    /* undefined_function */
                { "42P04", EEXIST },    /* duplicate_database */
                { "42P06", EEXIST },    /* duplicate_schema */
                { "42P07", EEXIST },    /* duplicate_table */
                { "42710", EEXIST },    /* duplicate_object */
                { "55006", EBUSY },     /* object_in_use */
                { "55P03", EBUSY },     /* lock_not_available */
                { "53300", EBUSY },     /* too_many_connections */
                { "53100", ENOSPC },    /* disk_full */
                { "53200", ENOMEM },    /* out_of_memory */
                { "57014", ECANCELED }, /* query_canceled */
                { "42601", EINVAL },    /* syntax_error */
        };

        if (!state || strlen(state) != 5)
                return -EIO;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(state, table[i].state))
                        return -table[i].error;

        if (startswith(state, "28")) /* invalid authorization specification */
                return -EACCES;
        if (startswith(state, "08") || startswith(state, "57P")) /* connection gone, server shutting down */
                return -ECONNRESET;
        if (startswith(state, "22")) /* data exception */
                return -EINVAL;
        return -EIO;
}

static int result_error(PGconn *conn, const PGresult *res, char **ret_error) {
        _cleanup_pqfree_ char *msg = NULL;
        int r;

        if (!res)
                return set_pq_error(ret_error, -ENOMEM, NULL, sym_PQerrorMessage(conn));

        r = sqlstate_to_errno(sym_PQresultErrorField(res, PG_DIAG_SQLSTATE));
        /* terse: severity, message and position on one line, without the echoed query */
        msg = sym_PQresultVerboseErrorMessage(res, PQERRORS_TERSE, PQSHOW_CONTEXT_NEVER);
        return set_pq_error(ret_error, r, NULL, msg ?: sym_PQresultErrorMessage(res));
}

/* PGRES_COMMAND_OK or PGRES_TUPLES_OK, else the error */
static int result_check(PGconn *conn, const PGresult *res, char **ret_error) {
        switch (sym_PQresultStatus(res)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_EMPTY_QUERY:
                return 0;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
                return errmsg_set(ret_error, -EOPNOTSUPP, "COPY is not supported here");
        default:
                return result_error(conn, res, ret_error);
        }
}

static int result_rows(PGconn *conn, const PGresult *res, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL;
        int r, n_rows, n_cols;

        r = result_check(conn, res, ret_error);
        if (r < 0)
                return r;

        rows = cJSON_CreateArray();
        if (!rows)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        n_rows = sym_PQresultStatus(res) == PGRES_TUPLES_OK ? sym_PQntuples(res) : 0;
        n_cols = sym_PQnfields(res);
        for (int i = 0; i < n_rows; i++) {
                cJSON *row = cJSON_CreateObject();

                if (!row || !cJSON_AddItemToArray(rows, row)) {
                        cJSON_Delete(row);
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                }

                for (int j = 0; j < n_cols; j++) {
                        cJSON *v = sym_PQgetisnull(res, i, j)
                                           ? cJSON_CreateNull()
                                           : cJSON_CreateString(sym_PQgetvalue(res, i, j));

                        if (!v || !cJSON_AddItemToObject(row, sym_PQfname(res, j), v)) {
                                cJSON_Delete(v);
                                return errmsg_set(ret_error, -ENOMEM, "out of memory");
                        }
                }
        }

        *ret = TAKE_PTR(rows);
        return 0;
}

static int check_credential_stat(const struct stat *st) {
        return trust_check_stat(st, TRUST_PRIVATE);
}

int pg_check_credential_file(const char *path) {
        struct stat st;

        assert(path);

        if (stat(path, &st) < 0)
                return -errno;
        return check_credential_stat(&st);
}

char *pg_quote_identifier(const char *s) {
        size_t n = 2;
        char *q, *p;

        assert(s);

        for (const char *i = s; *i; i++)
                n += *i == '"' ? 2 : 1;

        q = malloc(n + 1);
        if (!q)
                return NULL;

        p = q;
        *p++ = '"';
        for (const char *i = s; *i; i++) {
                if (*i == '"')
                        *p++ = '"';
                *p++ = *i;
        }
        *p++ = '"';
        *p = 0;
        return q;
}

/* ---- the child ---- */

/* the file is root's, mode 0600 */
static int read_credential(const char *path, char **ret, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(erase_and_freep) char *buf = NULL;
        size_t size = 0, allocated = 0;
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errmsg_set(ret_error, -errno, "credential file %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return errmsg_set(ret_error, -errno, "credential file %s: %s", path, strerror(errno));
        r = check_credential_stat(&st);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r,
                        "credential file %s must be a regular file owned by root with mode 0600",
                        path);

        for (;;) {
                ssize_t n;

                if (allocated - size < 2) {
                        size_t a = allocated ? allocated * 2 : 256;
                        char *p;

                        if (a > PG_CREDENTIAL_MAX + 2)
                                return errmsg_set(
                                        ret_error, -EFBIG, "credential file %s is too large", path);
                        p = malloc(a);
                        if (!p)
                                return errmsg_set(ret_error, -ENOMEM, "out of memory");
                        if (buf) {
                                memcpy(p, buf, size);
                                explicit_bzero(buf, allocated);
                                free(buf);
                        }
                        buf = p;
                        allocated = a;
                }

                n = read_eintr(fd, buf + size, allocated - size - 1);
                if (n < 0)
                        return errmsg_set(
                                ret_error, (int)n, "credential file %s: %s", path, strerror((int)-n));
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        if (!buf)
                return errmsg_set(ret_error, -EINVAL, "credential file %s is empty", path);
        buf[size] = 0;

        /* one trailing line break is the file's, not the password's */
        if (size > 0 && buf[size - 1] == '\n')
                buf[--size] = 0;
        if (size > 0 && buf[size - 1] == '\r')
                buf[--size] = 0;
        if (size == 0)
                return errmsg_set(ret_error, -EINVAL, "credential file %s is empty", path);
        if (strlen(buf) != size)
                return errmsg_set(ret_error, -EINVAL, "credential file %s contains a NUL byte", path);

        *ret = TAKE_PTR(buf);
        return 0;
}

static bool conninfo_has(const PQconninfoOption *opts, const char *keyword) {
        for (const PQconninfoOption *o = opts; o && o->keyword; o++)
                if (o->val && streq(o->keyword, keyword))
                        return true;
        return false;
}

static void notice_ignore(void *arg, const char *message) {
        /* the library never logs; notices are not errors */
}

/* replication: NULL, or "database" for a logical replication connection (pg_slot_export()) */
static int session_connect(
        const PgTarget *t, const char *password, const char *replication, PGconn **ret, char **ret_error) {
        _cleanup_conninfo_ PQconninfoOption *opts = NULL;
        _cleanup_free_ const char **keys = NULL, **vals = NULL;
        _cleanup_pgconn_ PGconn *conn = NULL;
        size_t n = 0, max = 6;
        int r;

        r = pq_dlopen(ret_error);
        if (r < 0)
                return r;
        if (t->conninfo && *t->conninfo) {
                _cleanup_pqfree_ char *err = NULL;

                opts = sym_PQconninfoParse(t->conninfo, &err);
                if (!opts)
                        return set_pq_error(
                                ret_error,
                                err ? -EINVAL : -ENOMEM,
                                "invalid database connection string",
                                err ?: "out of memory");
        }
        for (const PQconninfoOption *o = opts; o && o->keyword; o++)
                max++;

        keys = calloc(max, sizeof(char *));
        vals = calloc(max, sizeof(char *));
        if (!keys || !vals)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        for (const PQconninfoOption *o = opts; o && o->keyword; o++) {
                if (!o->val)
                        continue;
                if (replication && streq(o->keyword, "replication"))
                        continue;
                if (t->dbname && streq(o->keyword, "dbname"))
                        continue;
                if (password && streq(o->keyword, "password"))
                        continue;
                keys[n] = o->keyword;
                vals[n++] = o->val;
        }
        if (t->dbname) {
                keys[n] = "dbname";
                vals[n++] = t->dbname;
        }
        if (password) {
                keys[n] = "password";
                vals[n++] = password;
        }
        if (!conninfo_has(opts, "connect_timeout")) {
                keys[n] = "connect_timeout";
                vals[n++] = PG_CONNECT_TIMEOUT;
        }
        if (!conninfo_has(opts, "client_encoding")) {
                keys[n] = "client_encoding";
                vals[n++] = "UTF8";
        }
        keys[n] = "fallback_application_name";
        vals[n++] = "codebolt-upgrade";
        if (replication) {
                keys[n] = "replication";
                vals[n++] = replication;
        }
        assert(n < max);

        conn = sym_PQconnectdbParams(keys, vals, 0);
        if (!conn)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        if (sym_PQstatus(conn) != CONNECTION_OK)
                return set_pq_error(ret_error, -ECONNREFUSED, NULL, sym_PQerrorMessage(conn));

        (void)sym_PQsetNoticeProcessor(conn, notice_ignore, NULL);

        *ret = TAKE_PTR(conn);
        return 0;
}

/* in a session child: signals as a child should have them, and ended with its parent */
static int session_child_setup(pid_t parent) {
        sigset_t all;

        /* the caller's handlers and mask are not ours: a SIGTERM must end the session */
        (void)signal(SIGTERM, SIG_DFL);
        (void)signal(SIGINT, SIG_DFL);
        (void)signal(SIGPIPE, SIG_DFL);
        (void)signal(SIGCHLD, SIG_DFL);
        (void)sigfillset(&all);
        (void)sigprocmask(SIG_UNBLOCK, &all, NULL);

        /* set after the change of user, which clears it; then make sure we did not miss the parent */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
                return -ECANCELED;
        return 0;
}

static int session_child_run(
        pid_t parent,
        const PgTarget *t,
        const char *password,
        SessionFn fn,
        const void *userdata,
        cJSON **ret,
        char **ret_error) {

        _cleanup_pgconn_ PGconn *conn = NULL;
        int r;

        r = session_child_setup(parent);
        if (r < 0)
                return r;
        r = session_connect(t, password, NULL, &conn, ret_error);
        if (r < 0)
                return r;

        return fn(conn, userdata, ret, ret_error);
}

/* the child's answer on fd: {"ok": true, "result": result (owned)} or {"ok": false, "errno", "error"} */
static int session_child_reply(int fd, int r, cJSON *result, const char *error) {
        _cleanup_json_ cJSON *reply = cJSON_CreateObject(), *owned = result;
        _cleanup_free_ char *s = NULL;

        if (!reply)
                return -ENOMEM;
        if (r >= 0) {
                if (!cJSON_AddBoolToObject(reply, "ok", true) ||
                    !cJSON_AddItemToObject(reply, "result", TAKE_PTR(owned) ?: cJSON_CreateNull()))
                        return -ENOMEM;
        } else if (
                !cJSON_AddBoolToObject(reply, "ok", false) || !cJSON_AddNumberToObject(reply, "errno", -r) ||
                !cJSON_AddStringToObject(reply, "error", error ?: strerror(-r)))
                return -ENOMEM;

        s = cJSON_PrintUnformatted(reply);
        if (!s)
                return -ENOMEM;
        return write_all(fd, s, strlen(s));
}

_noreturn_ static void session_child(
        int fd, pid_t parent, const PgTarget *t, const char *password, SessionFn fn, const void *userdata) {

        char *error = NULL;
        cJSON *result = NULL;
        int r;

        r = session_child_run(parent, t, password, fn, userdata, &result, &error);
        if (session_child_reply(fd, r, result, error) < 0)
                _exit(EXIT_FAILURE);

        /* never atexit handlers or the parent's stdio buffers */
        _exit(EXIT_SUCCESS);
}

/* ---- the parent ---- */

static int session_parse_reply(const char *answer, size_t size, int status, cJSON **ret, char **ret_error);

static int session_pipe(int *ret_r, int *ret_w, char **ret_error) {
        int fds[2];

        if (pipe2(fds, O_CLOEXEC) < 0)
                return errmsg_set(ret_error, -errno, "cannot create a pipe: %s", strerror(errno));
        *ret_r = fds[0];
        *ret_w = fds[1];
        return 0;
}

/* the session's child, with t's password read while still privileged (the file is root's, mode 0600):
 * 0 in the child, 1 in the parent with *ret_pid */
static int session_fork(const PgTarget *t, char **ret_password, pid_t *ret_pid, char **ret_error) {
        int r;

        if (t->password_file) {
                r = read_credential(t->password_file, ret_password, ret_error);
                if (r < 0)
                        return r;
        }
        r = spawn_fork_as(t->os_user, ret_pid);
        if (r == -ESRCH)
                return errmsg_set(ret_error, r, "unknown user %s", t->os_user);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot fork the database session: %s", strerror(-r));
        return r;
}

/* the child's whole answer, once it closed its end of fd */
static int session_read(int fd, char **ret, size_t *ret_size, char **ret_error) {
        int r = state_read_fd(fd, 0, PG_ANSWER_MAX, ret, ret_size);

        if (r < 0)
                return errmsg_set(ret_error, r, "cannot read from the database session: %s", strerror(-r));
        return 0;
}

static int session_run(
        const PgTarget *t, SessionFn fn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_(spawn_kill_and_reapp) pid_t pid = 0;
        _cleanup_(erase_and_freep) char *password = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        _cleanup_free_ char *answer = NULL;
        pid_t parent = getpid();
        size_t size = 0;
        int status, r;

        assert(t);
        assert(fn);

        r = session_pipe(&rfd, &wfd, ret_error);
        if (r < 0)
                return r;
        r = session_fork(t, &password, &pid, ret_error);
        if (r < 0)
                return r;
        if (r == 0)
                session_child(wfd, parent, t, password, fn, userdata);

        /* only the child may hold the write end, or we would never see EOF */
        close(TAKE_FD(wfd));

        r = session_read(rfd, &answer, &size, ret_error);
        if (r < 0)
                return r;

        r = spawn_reap(pid, &status);
        if (r == -ECHILD)
                /* the caller ignores SIGCHLD: the child is reaped already; judge by the answer */
                status = 0;
        else if (r < 0)
                return errmsg_set(ret_error, r, "cannot wait for the database session: %s", strerror(-r));
        pid = 0;

        return session_parse_reply(answer, size, status, ret, ret_error);
}

/* the answer of a session child that ended with status (or 0: not known yet) */
static int session_parse_reply(const char *answer, size_t size, int status, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *reply = NULL;
        const cJSON *ok;
        int r;

        reply = size > 0 ? cJSON_ParseWithLength(answer, size) : NULL;
        ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
        if (!cJSON_IsBool(ok)) {
                if (WIFSIGNALED(status))
                        return errmsg_set(
                                ret_error,
                                -EPROTO,
                                "database session process killed by signal %s",
                                sigabbrev_np(WTERMSIG(status)) ?: "?");
                return errmsg_set(
                        ret_error,
                        -EPROTO,
                        "database session process ended without an answer (exit status %d)",
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }

        if (cJSON_IsFalse(ok)) {
                const char *msg = json_get_string(reply, "error");
                int64_t e;

                /* an errno, or EIO for anything that is not one */
                r = json_get_int64_range(reply, "errno", 1, 4095, &e) >= 0 ? -(int)e : -EIO;
                return errmsg_set(ret_error, r, "%s", msg ?: strerror(-r));
        }

        if (ret)
                *ret = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
        return 0;
}

/* session_run() of a child whose answer must be a JSON array (want_array) or object, what it holds
 * named in the error */
static int session_run_json(
        const PgTarget *t,
        SessionFn fn,
        const void *userdata,
        bool want_array,
        const char *what,
        cJSON **ret,
        char **ret_error) {
        _cleanup_json_ cJSON *answer = NULL;
        int r;

        r = session_run(t, fn, userdata, &answer, ret_error);
        if (r < 0)
                return r;
        if (want_array ? !cJSON_IsArray(answer) : !cJSON_IsObject(answer))
                return errmsg_set(ret_error, -EPROTO, "database session answered without %s", what);
        *ret = TAKE_PTR(answer);
        return 0;
}

/* ---- the sessions ---- */

typedef struct QueryArgs {
        const char *sql;
        const char *const *params;
        size_t n_params;
} QueryArgs;

static int query_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const QueryArgs *a = userdata;
        _cleanup_pgresult_ PGresult *res = NULL;

        res = sym_PQexecParams(conn, a->sql, (int)a->n_params, NULL, a->params, NULL, NULL, 0);
        return result_rows(conn, res, ret, ret_error);
}

int pg_query(
        const PgTarget *t,
        const char *sql,
        const char *const *params,
        size_t n_params,
        cJSON **ret_rows,
        char **ret_error) {

        const QueryArgs a = { .sql = sql, .params = params, .n_params = n_params };
        _cleanup_json_ cJSON *rows = NULL;
        int r;

        assert(sql);
        assert(params || n_params == 0);

        if (n_params > INT_MAX)
                return errmsg_set(ret_error, -EINVAL, "too many parameters");

        r = session_run(t, query_fn, &a, &rows, ret_error);
        if (r < 0)
                return r;
        if (!cJSON_IsArray(rows))
                return errmsg_set(ret_error, -EPROTO, "database session answered without rows");

        if (ret_rows)
                *ret_rows = TAKE_PTR(rows);
        return 0;
}

static int exec_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = NULL;

        res = sym_PQexec(conn, userdata);
        return result_check(conn, res, ret_error);
}

int pg_exec(const PgTarget *t, const char *sql, char **ret_error) {
        assert(sql);

        return session_run(t, exec_fn, sql, NULL, ret_error);
}

static int exec_command(PGconn *conn, const char *sql, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = sym_PQexec(conn, sql);

        return result_check(conn, res, ret_error);
}

/* BEGIN a read-only repeatable-read transaction (one snapshot for all that follows) and list
 * (schema, name) of every relation of relkind outside the system and temporary schemas */
static int begin_and_list(PGconn *conn, const char *relkind, PGresult **ret, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r;

        r = exec_command(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ret_error);
        if (r < 0)
                return r;
        res = sym_PQexecParams(
                conn,
                "SELECT n.nspname, c.relname"
                " FROM pg_catalog.pg_class c"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = $1 AND c.relpersistence <> 't'"
                " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND n.nspname !~ '^pg_(toast_)?temp_'"
                " ORDER BY 1, 2",
                1,
                NULL,
                &relkind,
                NULL,
                NULL,
                0);
        r = result_check(conn, res, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(res);
        return 0;
}

static int row_counts_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_pgresult_ PGresult *tables = NULL;
        _cleanup_json_ cJSON *counts = NULL;
        int r;

        /* one snapshot for every count, as pg_dump takes */
        r = begin_and_list(conn, "r", &tables, ret_error);
        if (r < 0)
                return r;

        counts = cJSON_CreateObject();
        if (!counts)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        for (int i = 0; i < sym_PQntuples(tables); i++) {
                const char *schema = sym_PQgetvalue(tables, i, 0), *table = sym_PQgetvalue(tables, i, 1);
                _cleanup_pqfree_ char *qs = NULL, *qt = NULL;
                _cleanup_free_ char *sql = NULL, *key = NULL;
                _cleanup_pgresult_ PGresult *res = NULL;
                unsigned long long n;
                char *end;

                qs = sym_PQescapeIdentifier(conn, schema, strlen(schema));
                qt = sym_PQescapeIdentifier(conn, table, strlen(table));
                if (!qs || !qt)
                        return set_pq_error(
                                ret_error, -ENOMEM, "cannot quote an identifier", sym_PQerrorMessage(conn));
                if (asprintf(&sql, "SELECT count(*) FROM %s.%s", qs, qt) < 0 ||
                    asprintf(&key, "%s.%s", schema, table) < 0)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");

                res = sym_PQexec(conn, sql);
                r = result_check(conn, res, ret_error);
                if (r < 0)
                        return r;
                if (sym_PQntuples(res) != 1 || sym_PQnfields(res) != 1)
                        return errmsg_set(ret_error, -EBADMSG, "unexpected answer to count(*) on %s", key);

                errno = 0;
                n = strtoull(sym_PQgetvalue(res, 0, 0), &end, 10);
                if (errno != 0 || *end != 0)
                        return errmsg_set(ret_error, -EBADMSG, "unexpected count for %s", key);

                if (!cJSON_AddNumberToObject(counts, key, (double)n))
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }

        r = exec_command(conn, "COMMIT", ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(counts);
        return 0;
}

int pg_table_row_counts(const PgTarget *t, cJSON **ret_object, char **ret_error) {
        assert(ret_object);

        return session_run_json(t, row_counts_fn, NULL, false, "counts", ret_object, ret_error);
}

static const char *locale_provider_name(const char *p) {
        if (streq(p, "c"))
                return "libc";
        if (streq(p, "i"))
                return "icu";
        if (streq(p, "b"))
                return "builtin";
        return p;
}

static cJSON *string_or_null(const PGresult *res, int row, int col) {
        return sym_PQgetisnull(res, row, col) ? cJSON_CreateNull()
                                              : cJSON_CreateString(sym_PQgetvalue(res, row, col));
}

static int properties_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const char *dbname = userdata;
        _cleanup_pgresult_ PGresult *db = NULL, *settings = NULL;
        _cleanup_json_ cJSON *props = NULL;
        _cleanup_free_ char *sql = NULL;
        cJSON *list;
        const char *locale, *oid;
        int r, version = sym_PQserverVersion(conn);

        /* the ICU locale column came in 15 and was renamed in 17 */
        locale = version >= 170000   ? "d.datlocprovider::text, d.datlocale"
                 : version >= 150000 ? "d.datlocprovider::text, d.daticulocale"
                                     : "'c'::text, NULL::text";

        if (asprintf(
                    &sql,
                    "SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba),"
                    " pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, %s,"
                    " t.spcname, d.datconnlimit, d.datistemplate, d.datallowconn, d.datacl::text, d.oid"
                    " FROM pg_catalog.pg_database d"
                    " LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace"
                    " WHERE d.datname = $1",
                    locale) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        db = sym_PQexecParams(conn, sql, 1, NULL, &dbname, NULL, NULL, 0);
        r = result_check(conn, db, ret_error);
        if (r < 0)
                return r;
        if (sym_PQntuples(db) != 1)
                return errmsg_set(ret_error, -ENOENT, "database \"%s\" does not exist", dbname);

        props = cJSON_CreateObject();
        if (!props)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        if (!cJSON_AddItemToObject(props, "name", string_or_null(db, 0, 0)) ||
            !cJSON_AddItemToObject(props, "owner", string_or_null(db, 0, 1)) ||
            !cJSON_AddItemToObject(props, "encoding", string_or_null(db, 0, 2)) ||
            !cJSON_AddItemToObject(props, "lc_collate", string_or_null(db, 0, 3)) ||
            !cJSON_AddItemToObject(props, "lc_ctype", string_or_null(db, 0, 4)) ||
            !cJSON_AddStringToObject(
                    props, "locale_provider", locale_provider_name(sym_PQgetvalue(db, 0, 5))) ||
            !cJSON_AddItemToObject(props, "icu_locale", string_or_null(db, 0, 6)) ||
            !cJSON_AddItemToObject(props, "tablespace", string_or_null(db, 0, 7)) ||
            !cJSON_AddNumberToObject(props, "connection_limit", atoi(sym_PQgetvalue(db, 0, 8))) ||
            !cJSON_AddBoolToObject(props, "is_template", streq(sym_PQgetvalue(db, 0, 9), "t")) ||
            !cJSON_AddBoolToObject(props, "allow_connections", streq(sym_PQgetvalue(db, 0, 10), "t")) ||
            !cJSON_AddItemToObject(props, "datacl", string_or_null(db, 0, 11)))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        oid = sym_PQgetvalue(db, 0, 12);
        settings = sym_PQexecParams(
                conn,
                "SELECT r.rolname, c.setting"
                " FROM pg_catalog.pg_db_role_setting s"
                " LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole,"
                " LATERAL unnest(s.setconfig) WITH ORDINALITY AS c(setting, i)"
                " WHERE s.setdatabase = $1::oid"
                " ORDER BY r.rolname NULLS FIRST, c.i",
                1,
                NULL,
                &oid,
                NULL,
                NULL,
                0);
        r = result_check(conn, settings, ret_error);
        if (r < 0)
                return r;

        list = cJSON_AddArrayToObject(props, "settings");
        if (!list)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        for (int i = 0; i < sym_PQntuples(settings); i++) {
                _cleanup_free_ char *name = strdup(sym_PQgetvalue(settings, i, 1));
                cJSON *s = cJSON_CreateObject();
                char *value;

                if (!s || !cJSON_AddItemToArray(list, s)) {
                        cJSON_Delete(s);
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                }
                if (!name)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");

                value = strchr(name, '=');
                if (value)
                        *value++ = 0;

                if (!cJSON_AddItemToObject(s, "role", string_or_null(settings, i, 0)) ||
                    !cJSON_AddStringToObject(s, "name", name) ||
                    !cJSON_AddStringToObject(s, "value", strempty(value)))
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }

        *ret = TAKE_PTR(props);
        return 0;
}

int pg_database_properties(const PgTarget *t, const char *dbname, cJSON **ret, char **ret_error) {
        assert(dbname);
        assert(ret);

        return session_run_json(t, properties_fn, dbname, false, "properties", ret, ret_error);
}

/* ---- a password file for client programs ---- */

int pg_passfile_memfd(const PgTarget *t, int *ret_fd, char **ret_error) {
        _cleanup_(erase_and_freep) char *password = NULL, *line = NULL;
        _cleanup_close_ int fd = -EBADF;
        uid_t uid = 0;
        gid_t gid = 0;
        size_t n = 0;
        int r;

        assert(t);
        assert(ret_fd);

        if (!t->password_file) {
                *ret_fd = -EBADF;
                return 0;
        }

        if (t->os_user) {
                struct passwd *pw = getpwnam(t->os_user);

                if (!pw)
                        return errmsg_set(ret_error, -ESRCH, "unknown user %s", t->os_user);
                uid = pw->pw_uid;
                gid = pw->pw_gid;
        }

        r = read_credential(t->password_file, &password, ret_error);
        if (r < 0)
                return r;
        /* one line "host:port:database:user:password", in which ':' and '\' are escaped */
        if (strpbrk(password, "\r\n"))
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "credential file %s holds a line break, which a libpq password file cannot carry",
                        t->password_file);
        line = calloc(1, strlen("*:*:*:*:") + 2 * strlen(password) + 2);
        if (!line)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        n = stpcpy(line, "*:*:*:*:") - line;
        for (const char *p = password; *p; p++) {
                if (*p == ':' || *p == '\\')
                        line[n++] = '\\';
                line[n++] = *p;
        }
        line[n++] = '\n';
        line[n] = 0;

        /* in memory only, so that no file on a disk ever holds it; libpq ignores a password file that is
         * not a regular file or that has group or other permission bits, and the client opens it again
         * (/proc/self/fd/N) as os_user */
        fd = memfd_create("codebolt-upgrade-passfile", MFD_CLOEXEC);
        if (fd < 0)
                return errmsg_set(ret_error, -errno, "cannot create a password file: %s", strerror(errno));
        r = write_all(fd, line, n);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot write the password file: %s", strerror(-r));
        if (fchmod(fd, 0600) < 0 || fchown(fd, uid, gid) < 0)
                return errmsg_set(
                        ret_error,
                        -errno,
                        "cannot give the password file to %s: %s",
                        strempty(t->os_user),
                        strerror(errno));

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int pg_server_version(const PgTarget *t, int *ret, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL;
        const char *v;
        int r;

        assert(ret);

        r = pg_query(t, "SELECT current_setting('server_version_num') AS v", NULL, 0, &rows, ret_error);
        if (r < 0)
                return r;
        v = json_get_string(cJSON_GetArrayItem(rows, 0), "v");
        if (!v || atoi(v) <= 0)
                return -EBADMSG;
        *ret = atoi(v);
        return 0;
}

/* ---- copying a database ---- */

typedef struct CopyArgs {
        const char *name;
        const char *template;
} CopyArgs;

static int copy_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const CopyArgs *a = userdata;
        _cleanup_free_ char *qn = pg_quote_identifier(a->name), *qt = pg_quote_identifier(a->template),
                            *sql = NULL;
        _cleanup_pgresult_ PGresult *res = NULL;

        if (!qn || !qt)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        /* FILE_COPY (15+; before 15 the only strategy): copies the files, no WAL for every block */
        if (asprintf(
                    &sql,
                    "CREATE DATABASE %s TEMPLATE %s%s",
                    qn,
                    qt,
                    sym_PQserverVersion(conn) >= 150000 ? " STRATEGY FILE_COPY" : "") < 0) {
                sql = NULL;
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        res = sym_PQexec(conn, sql);
        return result_check(conn, res, ret_error);
}

int pg_create_database_copy(
        const PgTarget *admin, const char *name, const char *template, char **ret_error) {
        const CopyArgs a = { .name = name, .template = template };

        assert(admin);
        assert(name);
        assert(template);

        return session_run(admin, copy_fn, &a, NULL, ret_error);
}

/* ---- dropping a database ---- */

int pg_drop_database(const PgTarget *admin, const char *name, int server_version, char **ret_error) {
        _cleanup_free_ char *q = NULL, *sql = NULL;

        assert(admin);
        assert(name);

        q = pg_quote_identifier(name);
        if (!q || asprintf(
                          &sql,
                          "DROP DATABASE IF EXISTS %s%s",
                          q,
                          server_version >= 130000 ? " WITH (FORCE)" : "") < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        return pg_exec(admin, sql, ret_error);
}

/* ---- logical replication: a slot, its exported snapshot, its changes ---- */

/* a session child's answer {"count": n} */
static int count_answer(uint64_t n, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddNumberToObject(o, "count", (double)n))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(o);
        return 0;
}

/* session_run() of a child that answers with count_answer(); *ret_count (optional) = its n */
static int session_run_count(
        const PgTarget *t, SessionFn fn, const void *userdata, uint64_t *ret_count, char **ret_error) {
        _cleanup_json_ cJSON *result = NULL;
        int64_t n;
        int r;

        r = session_run(t, fn, userdata, &result, ret_error);
        if (r < 0)
                return r;
        if (json_get_int64_range(result, "count", 0, INT64_MAX, &n) < 0)
                return errmsg_set(ret_error, -EPROTO, "database session answered without a count");
        if (ret_count)
                *ret_count = (uint64_t)n;
        return 0;
}

/* a slot name as PostgreSQL takes it: [a-z0-9_], 1 to 63 characters (built into SQL and the
 * replication command, which takes no parameters) */
static bool slot_name_valid(const char *s) {
        size_t l = strlen(s);

        if (l == 0 || l > 63)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

typedef struct SlotExportArgs {
        const char *slot;
        const char *plugin;
} SlotExportArgs;

static int slot_export_fn(PGconn *conn, const SlotExportArgs *a, cJSON **ret, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = NULL;
        _cleanup_json_ cJSON *o = NULL;
        _cleanup_free_ char *cmd = NULL;
        int r;

        /* the syntax every release since 10 takes */
        if (asprintf(&cmd, "CREATE_REPLICATION_SLOT %s LOGICAL %s EXPORT_SNAPSHOT", a->slot, a->plugin) < 0)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        res = sym_PQexec(conn, cmd);
        r = result_check(conn, res, ret_error);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) != 1 || sym_PQnfields(res) < 3 || sym_PQgetisnull(res, 0, 2))
                return errmsg_set(ret_error, -EBADMSG, "CREATE_REPLICATION_SLOT answered no snapshot");
        o = cJSON_CreateObject();
        if (!o || !cJSON_AddStringToObject(o, "lsn", sym_PQgetvalue(res, 0, 1)) ||
            !cJSON_AddStringToObject(o, "snapshot", sym_PQgetvalue(res, 0, 2)))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(o);
        return 0;
}

_noreturn_ static void slot_export_child(
        int answer_fd,
        int hold_fd,
        pid_t parent,
        const PgTarget *t,
        const char *password,
        const SlotExportArgs *a) {
        _cleanup_pgconn_ PGconn *conn = NULL;
        char *error = NULL, c;
        cJSON *result = NULL;
        int r;

        r = session_child_setup(parent);
        if (r >= 0)
                r = session_connect(t, password, "database", &conn, &error);
        if (r >= 0)
                r = slot_export_fn(conn, a, &result, &error);
        if (session_child_reply(answer_fd, r, result, error) < 0 || r < 0)
                _exit(EXIT_FAILURE);
        close(answer_fd);

        /* the snapshot lives while this connection stays open and idle: until the parent closes its
         * end (or dies) */
        while (read(hold_fd, &c, 1) < 0 && errno == EINTR)
                ;
        sym_PQfinish(TAKE_PTR(conn));
        _exit(EXIT_SUCCESS);
}

int pg_slot_export(
        const PgTarget *t, const char *slot, const char *plugin, PgSlotExport *ret, char **ret_error) {
        _cleanup_(spawn_kill_and_reapp) pid_t pid = 0;
        _cleanup_(erase_and_freep) char *password = NULL;
        _cleanup_close_ int answer_r = -EBADF, answer_w = -EBADF, hold_r = -EBADF, hold_w = -EBADF;
        _cleanup_free_ char *answer = NULL, *snapshot = NULL, *lsn = NULL;
        _cleanup_json_ cJSON *result = NULL;
        const SlotExportArgs a = { .slot = slot, .plugin = plugin };
        pid_t parent = getpid();
        size_t size = 0;
        int r;

        assert(t);
        assert(slot);
        assert(plugin);
        assert(ret);

        if (!slot_name_valid(slot) || !slot_name_valid(plugin))
                return errmsg_set(ret_error, -EINVAL, "invalid replication slot or plugin name");
        r = session_pipe(&answer_r, &answer_w, ret_error);
        if (r >= 0)
                r = session_pipe(&hold_r, &hold_w, ret_error);
        if (r >= 0)
                r = session_fork(t, &password, &pid, ret_error);
        if (r < 0)
                return r;
        if (r == 0) {
                close(answer_r);
                close(hold_w);
                slot_export_child(answer_w, hold_r, parent, t, password, &a);
        }
        close(TAKE_FD(answer_w));
        close(TAKE_FD(hold_r));

        r = session_read(answer_r, &answer, &size, ret_error);
        if (r >= 0)
                r = session_parse_reply(answer, size, 0, &result, ret_error);
        if (r < 0)
                return r;
        snapshot = strdup(strempty(json_get_string(result, "snapshot")));
        lsn = strdup(strempty(json_get_string(result, "lsn")));
        if (!snapshot || !lsn)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");

        *ret = (PgSlotExport){
                .pid = pid,
                .hold_fd = TAKE_FD(hold_w),
                .snapshot = TAKE_PTR(snapshot),
                .lsn = TAKE_PTR(lsn),
        };
        pid = 0; /* the session is the caller's now */
        return 0;
}

void pg_slot_export_done(PgSlotExport *e) {
        int status;

        if (!e)
                return;
        if (e->hold_fd >= 0)
                close(e->hold_fd);
        if (e->pid > 0)
                (void)spawn_reap(e->pid, &status);
        free(e->snapshot);
        free(e->lsn);
        *e = (PgSlotExport){ .hold_fd = -EBADF };
}

int pg_slot_drop(const PgTarget *t, const char *slot, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL;
        const char *params[] = { slot };
        int r;

        assert(t);
        assert(slot);

        r = pg_query(
                t,
                "SELECT pg_catalog.pg_drop_replication_slot(slot_name) FROM pg_catalog.pg_replication_slots"
                " WHERE slot_name = $1",
                params,
                1,
                &rows,
                ret_error);
        if (r < 0)
                return r;
        return cJSON_GetArraySize(rows) > 0 ? 1 : 0;
}

typedef struct ChangesArgs {
        const char *slot;
        int fd;
        bool empty_xacts;
} ChangesArgs;

/* where fd goes on: past the transactions read before whose COMMIT the slot's confirmed position has
 * passed (decoding_resume_offset()), else at the start; *ret_kept = the lines kept */
static int changes_resume(
        PGconn *conn, const ChangesArgs *a, uint64_t *ret_kept, char **ret_wal_bytes, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = NULL;
        const char *params[] = { a->slot };
        off_t off = 0;
        int r;

        /* and how much WAL decoding reads from the slot's restart point to now, whatever wrote it */
        res = sym_PQexecParams(
                conn,
                "SELECT confirmed_flush_lsn::text, "
                "pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_insert_lsn(), "
                "restart_lsn)::bigint::text "
                "FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                1,
                NULL,
                params,
                NULL,
                NULL,
                0);
        r = result_check(conn, res, ret_error);
        if (r < 0)
                return r;
        if (sym_PQntuples(res) != 1 || sym_PQgetisnull(res, 0, 0))
                return errmsg_set(ret_error, -ENOENT, "there is no logical replication slot %s", a->slot);
        if (!sym_PQgetisnull(res, 0, 1)) {
                *ret_wal_bytes = strdup(sym_PQgetvalue(res, 0, 1));
                if (!*ret_wal_bytes)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        r = decoding_resume_offset(a->fd, sym_PQgetvalue(res, 0, 0), &off, ret_kept);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot read the changes read before: %s", strerror(-r));
        if (ftruncate(a->fd, off) < 0 || lseek(a->fd, off, SEEK_SET) < 0)
                return errmsg_set(ret_error, -errno, "cannot write the changes: %m");
        return 0;
}

static int changes_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const ChangesArgs *a = userdata;
        const char *params[] = { a->slot, a->empty_xacts ? "0" : "1" };
        _cleanup_free_ char *last_commit = NULL, *wal_bytes = NULL;
        _cleanup_json_ cJSON *o = NULL;
        uint64_t n = 0, kept = 0;
        int r, failed = 0;

        r = exec_command(conn, "BEGIN", ret_error);
        if (r >= 0)
                r = exec_command(conn, PG_STABLE_OUTPUT, ret_error);
        if (r >= 0)
                r = changes_resume(conn, a, &kept, &wal_bytes, ret_error);
        if (r < 0)
                return r;
        /* peek, not get: the slot keeps them until it is advanced past them (pg_slot_advance(), once they
         * are on disk) or dropped, so a second attempt reads them again */
        if (!sym_PQsendQueryParams(
                    conn,
                    "SELECT lsn::text, data FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, NULL,"
                    " 'include-xids', '0', 'skip-empty-xacts', $2)",
                    2,
                    NULL,
                    params,
                    NULL,
                    NULL,
                    0) ||
            !sym_PQsetSingleRowMode(conn))
                return set_pq_error(ret_error, -EIO, NULL, sym_PQerrorMessage(conn));

        for (;;) {
                _cleanup_pgresult_ PGresult *res = sym_PQgetResult(conn);
                _cleanup_json_ cJSON *line = NULL;
                _cleanup_free_ char *text = NULL;

                if (!res)
                        break;
                if (failed)
                        continue; /* drain the rest */
                if (sym_PQresultStatus(res) == PGRES_TUPLES_OK)
                        continue;
                if (sym_PQresultStatus(res) != PGRES_SINGLE_TUPLE) {
                        failed = result_error(conn, res, ret_error);
                        continue;
                }
                line = cJSON_CreateObject();
                if (!line || !cJSON_AddStringToObject(line, "lsn", sym_PQgetvalue(res, 0, 0)) ||
                    !cJSON_AddStringToObject(line, "data", sym_PQgetvalue(res, 0, 1)) ||
                    !(text = cJSON_PrintUnformatted(line))) {
                        failed = errmsg_set(ret_error, -ENOMEM, "out of memory");
                        continue;
                }
                /* one JSON object per line: cJSON escapes the line breaks inside a value */
                r = write_all(a->fd, text, strlen(text));
                if (r >= 0)
                        r = write_all(a->fd, "\n", 1);
                if (r < 0) {
                        failed = errmsg_set(ret_error, r, "cannot write the changes: %s", strerror(-r));
                        continue;
                }
                if (streq(sym_PQgetvalue(res, 0, 1), "COMMIT")) {
                        free(last_commit);
                        last_commit = strdup(sym_PQgetvalue(res, 0, 0));
                        if (!last_commit) {
                                failed = errmsg_set(ret_error, -ENOMEM, "out of memory");
                                continue;
                        }
                }
                n++;
        }
        if (failed)
                return failed;
        r = exec_command(conn, "COMMIT", ret_error);
        if (r < 0)
                return r;

        o = cJSON_CreateObject();
        if (!o || !cJSON_AddNumberToObject(o, "count", (double)(kept + n)) ||
            !cJSON_AddNumberToObject(o, "new", (double)n) ||
            (wal_bytes && !cJSON_AddNumberToObject(o, "wal_bytes", strtod(wal_bytes, NULL))) ||
            (last_commit && !cJSON_AddStringToObject(o, "last_commit", last_commit)))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(o);
        return 0;
}

int pg_slot_changes_to_fd(
        const PgTarget *t,
        const char *slot,
        int fd,
        bool empty_xacts,
        PgSlotChanges *ret,
        char **ret_error) {
        const ChangesArgs a = { .slot = slot, .fd = fd, .empty_xacts = empty_xacts };
        _cleanup_json_ cJSON *result = NULL;
        int64_t count, new;
        const char *last;
        int r;

        assert(t);
        assert(slot);
        assert(fd >= 0);

        r = session_run(t, changes_fn, &a, &result, ret_error);
        if (r < 0)
                return r;
        if (json_get_int64_range(result, "count", 0, INT64_MAX, &count) < 0 ||
            json_get_int64_range(result, "new", 0, INT64_MAX, &new) < 0)
                return errmsg_set(ret_error, -EPROTO, "database session answered without a count");
        if (ret) {
                int64_t wal_bytes = 0;

                /* the session's figure, or 0 when it gave none */
                if (json_get_int64_range(result, "wal_bytes", 0, INT64_MAX, &wal_bytes) < 0)
                        wal_bytes = 0;
                last = json_get_string(result, "last_commit");
                *ret = (PgSlotChanges){ .changes = (uint64_t)count,
                                        .read = (uint64_t) new,
                                        .wal_bytes = (uint64_t)wal_bytes };
                if (last && !(ret->last_commit = strdup(last)))
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        return 0;
}

void pg_slot_changes_done(PgSlotChanges *c) {
        if (!c)
                return;
        free(c->last_commit);
        *c = (PgSlotChanges){};
}

int pg_slot_advance(const PgTarget *t, const char *slot, const char *lsn, char **ret_error) {
        const char *params[] = { slot, lsn };
        int r;

        assert(t);
        assert(slot);
        assert(lsn);

        /* twice: the first pass takes the restart point only to the first place it meets beyond the
         * slot's confirmed position (PostgreSQL keeps one pending candidate until it is confirmed); the
         * second, with all of them behind the new confirmed position, takes it to the last */
        for (int pass = 0; pass < 2; pass++) {
                r = pg_query(
                        t,
                        "SELECT 1 FROM pg_catalog.pg_replication_slot_advance($1, $2::pg_lsn)",
                        params,
                        2,
                        NULL,
                        ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int sequences_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        _cleanup_pgresult_ PGresult *list = NULL;
        _cleanup_json_ cJSON *out = NULL;
        int r;

        r = begin_and_list(conn, "S", &list, ret_error);
        if (r < 0)
                return r;
        out = cJSON_CreateArray();
        if (!out)
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        for (int i = 0; i < sym_PQntuples(list); i++) {
                const char *schema = sym_PQgetvalue(list, i, 0), *name = sym_PQgetvalue(list, i, 1);
                _cleanup_free_ char *qs = pg_quote_identifier(schema), *qn = pg_quote_identifier(name),
                                    *sql = NULL;
                _cleanup_pgresult_ PGresult *res = NULL;
                cJSON *o;

                if (!qs || !qn ||
                    asprintf(&sql, "SELECT last_value::text, is_called::text FROM %s.%s", qs, qn) < 0)
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                res = sym_PQexec(conn, sql);
                r = result_check(conn, res, ret_error);
                if (r < 0)
                        return r;
                if (sym_PQntuples(res) != 1)
                        return errmsg_set(ret_error, -EBADMSG, "sequence %s.%s answered no value", qs, qn);
                o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(out, o)) {
                        cJSON_Delete(o);
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                }
                if (!cJSON_AddStringToObject(o, "schema", schema) ||
                    !cJSON_AddStringToObject(o, "name", name) ||
                    !cJSON_AddStringToObject(o, "last_value", sym_PQgetvalue(res, 0, 0)) ||
                    !cJSON_AddBoolToObject(o, "is_called", streq(sym_PQgetvalue(res, 0, 1), "true")))
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
        }
        r = exec_command(conn, "COMMIT", ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(out);
        return 0;
}

int pg_sequence_values(const PgTarget *t, cJSON **ret, char **ret_error) {
        assert(t);
        assert(ret);

        return session_run_json(t, sequences_fn, NULL, true, "sequences", ret, ret_error);
}

typedef struct StatementsArgs {
        const char *setup;
        PgStatementNext next;
        void *userdata;
} StatementsArgs;

static int statements_fn(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error) {
        const StatementsArgs *a = userdata;
        uint64_t n = 0;
        int r;

        r = exec_command(conn, "BEGIN", ret_error);
        if (r >= 0 && a->setup)
                r = exec_command(conn, a->setup, ret_error);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_pgresult_ PGresult *res = NULL;
                PgStatement st = { .expect_rows = -1 };
                char *end;
                long rows;

                r = a->next(a->userdata, &st, ret_error);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                n++;
                if (st.n_params > INT_MAX)
                        return errmsg_set(ret_error, -EINVAL, "too many parameters");
                res = sym_PQexecParams(conn, st.sql, (int)st.n_params, NULL, st.params, NULL, NULL, 0);
                r = result_check(conn, res, ret_error);
                if (r < 0)
                        return r;
                if (st.expect_rows < 0)
                        continue;
                rows = strtol(sym_PQcmdTuples(res), &end, 10);
                if (*end || rows != st.expect_rows)
                        return errmsg_set(
                                ret_error,
                                -EBADMSG,
                                "statement %" PRIu64 " (%s) touched %s rows, not %ld",
                                n,
                                st.sql,
                                sym_PQcmdTuples(res),
                                st.expect_rows);
        }
        r = exec_command(conn, "COMMIT", ret_error);
        if (r < 0)
                return r;
        return count_answer(n, ret, ret_error);
}

int pg_exec_statements(
        const PgTarget *t,
        const char *setup,
        PgStatementNext next,
        void *userdata,
        uint64_t *ret_count,
        char **ret_error) {
        const StatementsArgs a = { .setup = setup, .next = next, .userdata = userdata };

        assert(t);
        assert(next);

        return session_run_count(t, statements_fn, &a, ret_count, ret_error);
}
