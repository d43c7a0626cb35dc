/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-session.c: a libpq session in a child process dropped to the database OS user, and what the
 * sessions of pg.c and pg-slot.c share inside it */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "pq-dl.h"

#include "errmsg.h"
#include "fd-util.h"
#include "json-util.h"
#include "pg-session.h"
#include "spawn.h"
#include "state.h"
#include "trust.h"

#define PG_CREDENTIAL_MAX ((size_t)64 * 1024)
#define PG_CONNECT_TIMEOUT "30"
/* what a session child may answer: row counts and properties, never table contents */
#define PG_ANSWER_MAX ((size_t)256 * 1024 * 1024)

int pg_session_set_error(char **ret_error, int r, const char *prefix, const char *msg) {
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

int pg_session_error(PGconn *conn, const PGresult *res, char **ret_error) {
        _cleanup_pqfree_ char *msg = NULL;
        int r;

        if (!res)
                return pg_session_set_error(ret_error, -ENOMEM, NULL, sym_PQerrorMessage(conn));

        r = sqlstate_to_errno(sym_PQresultErrorField(res, PG_DIAG_SQLSTATE));
        /* terse: severity, message and position on one line, without the echoed query */
        msg = sym_PQresultVerboseErrorMessage(res, PQERRORS_TERSE, PQSHOW_CONTEXT_NEVER);
        return pg_session_set_error(ret_error, r, NULL, msg ?: sym_PQresultErrorMessage(res));
}

int pg_session_check(PGconn *conn, const PGresult *res, char **ret_error) {
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
                return pg_session_error(conn, res, ret_error);
        }
}

int pg_session_rows(PGconn *conn, const PGresult *res, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL;
        int r, n_rows, n_cols;

        r = pg_session_check(conn, res, ret_error);
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

/* ---- the child ---- */

int pg_session_read_credential(const char *path, char **ret, char **ret_error) {
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
        r = trust_check_stat(&st, TRUST_PRIVATE);
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

/* replication: NULL, or "database" for a logical replication connection (pg_session_hold()) */
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
                        return pg_session_set_error(
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
                return pg_session_set_error(ret_error, -ECONNREFUSED, NULL, sym_PQerrorMessage(conn));

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
        const char *replication,
        PgSessionFn fn,
        const void *userdata,
        PGconn **ret_conn,
        cJSON **ret,
        char **ret_error) {

        _cleanup_pgconn_ PGconn *conn = NULL;
        int r;

        r = session_child_setup(parent);
        if (r < 0)
                return r;
        r = session_connect(t, password, replication, &conn, ret_error);
        if (r < 0)
                return r;

        r = fn(conn, userdata, ret, ret_error);
        if (r >= 0 && ret_conn)
                *ret_conn = TAKE_PTR(conn);
        return r;
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
        int fd,
        pid_t parent,
        const PgTarget *t,
        const char *password,
        PgSessionFn fn,
        const void *userdata) {

        char *error = NULL;
        cJSON *result = NULL;
        int r;

        r = session_child_run(parent, t, password, NULL, fn, userdata, NULL, &result, &error);
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
                r = pg_session_read_credential(t->password_file, ret_password, ret_error);
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

int pg_session_run(const PgTarget *t, PgSessionFn fn, const void *userdata, cJSON **ret, char **ret_error) {
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

int pg_session_run_json(
        const PgTarget *t,
        PgSessionFn fn,
        const void *userdata,
        bool want_array,
        const char *what,
        cJSON **ret,
        char **ret_error) {
        _cleanup_json_ cJSON *answer = NULL;
        int r;

        r = pg_session_run(t, fn, userdata, &answer, ret_error);
        if (r < 0)
                return r;
        if (want_array ? !cJSON_IsArray(answer) : !cJSON_IsObject(answer))
                return errmsg_set(ret_error, -EPROTO, "database session answered without %s", what);
        *ret = TAKE_PTR(answer);
        return 0;
}

int pg_session_exec(PGconn *conn, const char *sql, char **ret_error) {
        _cleanup_pgresult_ PGresult *res = sym_PQexec(conn, sql);

        return pg_session_check(conn, res, ret_error);
}

int pg_session_exec_params(
        PGconn *conn,
        const char *sql,
        int n_params,
        const char *const *params,
        PGresult **ret,
        char **ret_error) {
        _cleanup_pgresult_ PGresult *res = NULL;
        int r;

        res = sym_PQexecParams(conn, sql, n_params, NULL, params, NULL, NULL, 0);
        r = pg_session_check(conn, res, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(res);
        return 0;
}

/* BEGIN a read-only repeatable-read transaction (one snapshot for all that follows) and list
 * (schema, name) of every relation of relkind outside the system and temporary schemas */
static int begin_and_list(PGconn *conn, const char *relkind, PGresult **ret, char **ret_error) {
        int r;

        r = pg_session_exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", ret_error);
        if (r < 0)
                return r;
        return pg_session_exec_params(
                conn,
                "SELECT n.nspname, c.relname"
                " FROM pg_catalog.pg_class c"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = $1 AND c.relpersistence <> 't'"
                " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND n.nspname !~ '^pg_(toast_)?temp_'"
                " ORDER BY 1, 2",
                1,
                &relkind,
                ret,
                ret_error);
}

int pg_session_each_relation(
        PGconn *conn,
        const char *relkind,
        const char *columns,
        PgRelationFn fn,
        void *userdata,
        char **ret_error) {
        _cleanup_pgresult_ PGresult *list = NULL;
        int r;

        assert(conn);
        assert(relkind);
        assert(columns);
        assert(fn);

        r = begin_and_list(conn, relkind, &list, ret_error);
        if (r < 0)
                return r;
        for (int i = 0; i < sym_PQntuples(list); i++) {
                const char *schema = sym_PQgetvalue(list, i, 0), *name = sym_PQgetvalue(list, i, 1);
                _cleanup_pqfree_ char *qs = NULL, *qn = NULL;
                _cleanup_free_ char *sql = NULL;
                _cleanup_pgresult_ PGresult *res = NULL;

                qs = sym_PQescapeIdentifier(conn, schema, strlen(schema));
                qn = sym_PQescapeIdentifier(conn, name, strlen(name));
                if (!qs || !qn)
                        return pg_session_set_error(
                                ret_error, -ENOMEM, "cannot quote an identifier", sym_PQerrorMessage(conn));
                if (asprintf(&sql, "SELECT %s FROM %s.%s", columns, qs, qn) < 0) {
                        sql = NULL;
                        return errmsg_set(ret_error, -ENOMEM, "out of memory");
                }
                res = sym_PQexec(conn, sql);
                r = pg_session_check(conn, res, ret_error);
                if (r < 0)
                        return r;
                r = fn(schema, name, res, userdata, ret_error);
                if (r < 0)
                        return r;
        }
        return pg_session_exec(conn, "COMMIT", ret_error);
}

int pg_session_count_answer(uint64_t n, cJSON **ret, char **ret_error) {
        _cleanup_json_ cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddNumberToObject(o, "count", (double)n))
                return errmsg_set(ret_error, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(o);
        return 0;
}

int pg_session_run_count(
        const PgTarget *t, PgSessionFn fn, const void *userdata, uint64_t *ret_count, char **ret_error) {
        _cleanup_json_ cJSON *result = NULL;
        int64_t n;
        int r;

        r = pg_session_run(t, fn, userdata, &result, ret_error);
        if (r < 0)
                return r;
        if (json_get_int64_range(result, "count", 0, INT64_MAX, &n) < 0)
                return errmsg_set(ret_error, -EPROTO, "database session answered without a count");
        if (ret_count)
                *ret_count = (uint64_t)n;
        return 0;
}

/* ---- a session held open ---- */

/* the child of pg_session_hold(): answers on answer_fd, then keeps its connection open and idle until
 * the parent closes its end of hold_fd (or dies) */
_noreturn_ static void session_child_held(
        int answer_fd,
        int hold_fd,
        pid_t parent,
        const PgTarget *t,
        const char *password,
        const char *replication,
        PgSessionFn fn,
        const void *userdata) {
        _cleanup_pgconn_ PGconn *conn = NULL;
        char *error = NULL, c;
        cJSON *result = NULL;
        int r;

        r = session_child_run(parent, t, password, replication, fn, userdata, &conn, &result, &error);
        if (session_child_reply(answer_fd, r, result, error) < 0 || r < 0)
                _exit(EXIT_FAILURE);
        close(answer_fd);

        while (read(hold_fd, &c, 1) < 0 && errno == EINTR)
                ;
        sym_PQfinish(TAKE_PTR(conn));
        _exit(EXIT_SUCCESS);
}

int pg_session_hold(
        const PgTarget *t,
        const char *replication,
        PgSessionFn fn,
        const void *userdata,
        cJSON **ret,
        pid_t *ret_pid,
        int *ret_hold_fd,
        char **ret_error) {
        _cleanup_(spawn_kill_and_reapp) pid_t pid = 0;
        _cleanup_(erase_and_freep) char *password = NULL;
        _cleanup_close_ int answer_r = -EBADF, answer_w = -EBADF, hold_r = -EBADF, hold_w = -EBADF;
        _cleanup_free_ char *answer = NULL;
        _cleanup_json_ cJSON *result = NULL;
        pid_t parent = getpid();
        size_t size = 0;
        int r;

        assert(t);
        assert(fn);
        assert(ret_pid);
        assert(ret_hold_fd);

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
                session_child_held(answer_w, hold_r, parent, t, password, replication, fn, userdata);
        }
        close(TAKE_FD(answer_w));
        close(TAKE_FD(hold_r));

        r = session_read(answer_r, &answer, &size, ret_error);
        if (r >= 0)
                r = session_parse_reply(answer, size, 0, &result, ret_error);
        if (r < 0)
                return r;

        if (ret)
                *ret = TAKE_PTR(result);
        *ret_hold_fd = TAKE_FD(hold_w);
        *ret_pid = pid;
        pid = 0; /* the session is the caller's now */
        return 0;
}
