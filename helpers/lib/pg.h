/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg.h: the database work of the helpers, each a libpq session in a child process dropped to the
 * database OS user (pg-session.h) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "pg-conninfo.h"

/* Where and as whom to connect. Every session forks a child that (when os_user is set) drops to that
 * user — as `sudo -u postgres` would, so local peer authentication works — connects, does its work and
 * hands the result back over a pipe as JSON; the caller never holds a connection. */
typedef struct PgTarget {
        const char *os_user;       /* "postgres", or NULL: stay as we are */
        const char *conninfo;      /* libpq conninfo without secrets, or NULL: the local socket */
        const char *dbname;        /* NULL: libpq's default (the role's name) */
        const char *password_file; /* NULL, or a root-owned 0600 credential file read in the child
                                    * before dropping privileges and passed as the password parameter,
                                    * never through argv or the environment */
} PgTarget;

/*
 * Conventions for every function here:
 * - returns >= 0 on success, -errno on failure: -ECONNREFUSED (no session could be opened: server
 *   down, authentication refused), -ENOENT (database, table or object missing), -EEXIST (already
 *   exists), -EACCES (insufficient privilege), -EBUSY (object in use), -ENOSPC, -EINVAL (SQL syntax or
 *   bad input), -ESRCH (os_user unknown), -EPERM (cannot drop to os_user, bad credential file), -EIO
 *   (any other database error), -EPROTO (the session process died without an answer).
 * - ret_error (optional): on failure, a malloc'd one-line message (libpq's, without the trailing
 *   newline); untouched on success. It never carries the password.
 */

/* Run one statement with $1… text parameters (NULL elements are SQL NULL). *ret_rows: a JSON array of
 * objects {column: text or null}, [] for a command. ret_rows may be NULL. */
int pg_query(
        const PgTarget *t,
        const char *sql,
        const char *const *params,
        size_t n_params,
        cJSON **ret_rows,
        char **ret_error);

/* Run a command, or several statements separated by ';' (one implicit transaction, so not for
 * CREATE/DROP DATABASE together with anything else). */
int pg_exec(const PgTarget *t, const char *sql, char **ret_error);

/* CREATE DATABASE name TEMPLATE template, with STRATEGY FILE_COPY where the server has it (15 and later:
 * a copy of the files, not WAL for every block), in one session on admin (a target on another database):
 * the server's version comes with the connection. -EBUSY while another session is on template, -EEXIST
 * when name exists. */
int pg_create_database_copy(const PgTarget *admin, const char *name, const char *template, char **ret_error);

/* {"schema.table": count} for every ordinary table outside pg_catalog, information_schema and the
 * temporary schemas: an exact count(*) each, all inside one read-only repeatable-read transaction so
 * the counts belong to one snapshot. */
int pg_table_row_counts(const PgTarget *t, cJSON **ret_object, char **ret_error);

/* What a restore into a fresh database needs to recreate dbname (connecting to t->dbname): {"name",
 * "owner", "encoding", "lc_collate", "lc_ctype", "locale_provider" ("libc"/"icu"), "icu_locale" (or
 * null), "tablespace", "connection_limit", "is_template", "allow_connections", "datacl" (text or null),
 * "settings": [{"role": name or null, "name", "value"}] from pg_db_role_setting}. -ENOENT when dbname
 * does not exist. */
int pg_database_properties(const PgTarget *t, const char *dbname, cJSON **ret, char **ret_error);

/* DROP DATABASE IF EXISTS name, WITH (FORCE) when server_version (server_version_num) is 13 or later:
 * a session of a restore may still be on its way out. Run on admin (a target on another database). */
int pg_drop_database(const PgTarget *admin, const char *name, int server_version, char **ret_error);

/* "a""b" style quoting for an identifier built into SQL without a connection (CREATE DATABASE …
 * TEMPLATE …); NULL on OOM */
char *pg_quote_identifier(const char *s);

/* 0 when path is a regular file owned by root with no group or other permission bits (libpq's rule for
 * passfiles), -EPERM when it is not, -errno when it cannot be examined (-ENOENT: missing) */
int pg_check_credential_file(const char *path);

/* t->password_file's password as a libpq password file ("*:*:*:*:password") for a client program
 * (pg_dump, pg_restore) run as t->os_user, which reads it through the descriptor (spawn's fd3 and
 * passfile=/proc/self/fd/3): the password never goes in its argv or environment, nor in a file on a
 * disk. The file lives in memory, owned by t->os_user with mode 0600 as libpq requires.
 * *ret_fd = the descriptor (close-on-exec), or -EBADF when t has no password file. */
int pg_passfile_memfd(const PgTarget *t, int *ret_fd, char **ret_error);

/* server_version_num, e.g. 150004 */
int pg_server_version(const PgTarget *t, int *ret, char **ret_error);
