/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-session.h: a libpq session in a child process dropped to the database OS user, and what the
 * sessions of pg.c and pg-slot.c share inside it (pg.h's conventions hold for every function here) */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "pg.h"
#include "pq-dl.h"

/* what a session does once connected, inside the child; *ret may stay NULL */
typedef int (*PgSessionFn)(PGconn *conn, const void *userdata, cJSON **ret, char **ret_error);

/* Fork a child (dropped to t->os_user, t's password read first while still privileged), connect it to t
 * and run fn there; fn's *ret comes back through a pipe as JSON into *ret (optional; NULL when fn gave
 * none), its error as the return value and *ret_error. */
int pg_session_run(const PgTarget *t, PgSessionFn fn, const void *userdata, cJSON **ret, char **ret_error);

/* pg_session_run() of a child whose answer must be a JSON array (want_array) or object; -EPROTO, naming
 * what it holds, when it is not */
int pg_session_run_json(
        const PgTarget *t,
        PgSessionFn fn,
        const void *userdata,
        bool want_array,
        const char *what,
        cJSON **ret,
        char **ret_error);

/* a session child's answer {"count": n}, for pg_session_run_count() */
int pg_session_count_answer(uint64_t n, cJSON **ret, char **ret_error);

/* pg_session_run() of a child that answers with pg_session_count_answer(); *ret_count (optional) = its n */
int pg_session_run_count(
        const PgTarget *t, PgSessionFn fn, const void *userdata, uint64_t *ret_count, char **ret_error);

/* A session that stays open after its answer: the child connects (replication: NULL, or "database" for
 * a logical replication connection), runs fn, answers into *ret (optional), then holds the connection
 * open and idle until *ret_hold_fd is closed or this process dies. *ret_pid is the child, for the
 * caller to reap. */
int pg_session_hold(
        const PgTarget *t,
        const char *replication,
        PgSessionFn fn,
        const void *userdata,
        cJSON **ret,
        pid_t *ret_pid,
        int *ret_hold_fd,
        char **ret_error);

/* t->password_file's content (a root-owned file, mode 0600, without its one trailing line break),
 * erased before it is freed; -EPERM for a file not so, -EINVAL for an empty one or one with a NUL */
int pg_session_read_credential(const char *path, char **ret, char **ret_error);

/* r with *ret_error (when ret_error is not NULL) set to "prefix: msg" (prefix NULL: msg alone; msg
 * NULL: ""), msg's line breaks and runs of blanks folded into single spaces: libpq's messages end in a
 * newline and may span lines, and the caller logs one line */
int pg_session_set_error(char **ret_error, int r, const char *prefix, const char *msg);

/* the error of a failed res (NULL: conn's, -ENOMEM), as an -errno from its SQLSTATE (pg.h's list) and
 * the server's terse one-line message */
int pg_session_error(PGconn *conn, const PGresult *res, char **ret_error);

/* In a session child: 0 for PGRES_COMMAND_OK, PGRES_TUPLES_OK or an empty query, else the server's
 * error as an -errno (pg.h's list) and a one-line message; COPY is refused (-EOPNOTSUPP). */
int pg_session_check(PGconn *conn, const PGresult *res, char **ret_error);

/* pg_session_check(), and the result as a JSON array of objects {column: text or null} ([] for a
 * command) */
int pg_session_rows(PGconn *conn, const PGresult *res, cJSON **ret, char **ret_error);

/* run sql (without parameters, several statements allowed) and pg_session_check() it */
int pg_session_exec(PGconn *conn, const char *sql, char **ret_error);

/* run sql with n_params text parameters (an element NULL for SQL NULL) and pg_session_check() it;
 * *ret: the result, to PQclear() */
int pg_session_exec_params(
        PGconn *conn,
        const char *sql,
        int n_params,
        const char *const *params,
        PGresult **ret,
        char **ret_error);

/* what pg_session_each_relation() calls for each relation: schema and name as stored, res the answer
 * of its SELECT */
typedef int (*PgRelationFn)(
        const char *schema, const char *name, PGresult *res, void *userdata, char **ret_error);

/* In one read-only repeatable-read transaction (one snapshot, as pg_dump takes): for every relation of
 * relkind ("r" tables, "S" sequences) outside pg_catalog, information_schema and the temporary schemas,
 * in order of schema and name, SELECT columns FROM it and hand the answer to fn; then COMMIT. The first
 * error, fn's included, ends it. */
int pg_session_each_relation(
        PGconn *conn,
        const char *relkind,
        const char *columns,
        PgRelationFn fn,
        void *userdata,
        char **ret_error);
