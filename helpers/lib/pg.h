/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg.h: libpq sessions run in a child process dropped to the database OS user */
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

/* ---- logical replication (Snapshot=delta, docs/architecture.md) ---- */

/* the same text for every value in the reads of a slot and in the replay (SET LOCAL inside a
 * transaction, SET outside) */
#define PG_STABLE_OUTPUT                                                          \
        "SET LOCAL DateStyle = 'ISO, MDY'; SET LOCAL IntervalStyle = 'postgres';" \
        " SET LOCAL extra_float_digits = 3; SET LOCAL TimeZone = 'UTC'; SET LOCAL bytea_output = 'hex'"

/* A logical replication slot just made, and the replication connection that holds its exported
 * snapshot open (a child process as t->os_user): pg_dump --snapshot=snapshot reads the database as it
 * was at the slot's start while the connection lives. */
typedef struct PgSlotExport {
        pid_t pid;      /* the child holding the connection */
        int hold_fd;    /* closing it ends the connection (and the snapshot); the slot stays */
        char *snapshot; /* the exported snapshot's name */
        char *lsn;      /* the slot's consistent point */
} PgSlotExport;

/* CREATE_REPLICATION_SLOT slot LOGICAL plugin EXPORT_SNAPSHOT on a replication=database connection to
 * t; slot and plugin: [a-z0-9_], at most 63 (-EINVAL). Return values as above; -EEXIST: the slot
 * exists. The child dies with this process. */
int pg_slot_export(
        const PgTarget *t, const char *slot, const char *plugin, PgSlotExport *ret, char **ret_error);

/* end the connection (the snapshot goes, the slot stays) and reap its child; e may be zeroed with
 * hold_fd -EBADF, or already done */
void pg_slot_export_done(PgSlotExport *e);

/* drop the replication slot if it exists: 1 dropped, 0 there was none; -EBUSY (an -EIO from the
 * server, "active") while a connection still uses it */
int pg_slot_drop(const PgTarget *t, const char *slot, char **ret_error);

/* What pg_slot_changes_to_fd() wrote: the changes the file holds (read before and now), those read now,
 * and the LSN of the last COMMIT among them (NULL: none) */
typedef struct PgSlotChanges {
        uint64_t changes;
        uint64_t read;
        char *last_commit;
        /* the WAL decoding read for it, from the slot's restart point to the end of the WAL (written by
         * anything, this database's changes or not): what the read's time follows */
        uint64_t wal_bytes;
} PgSlotChanges;

/* free last_commit and zero c; NULL is a no-op */
void pg_slot_changes_done(PgSlotChanges *c);

/* The changes the slot holds, peeked (the slot keeps them), written to fd one JSON object per line,
 * {"lsn": "0/16B3748", "data": test_decoding's text} (options include-xids 0, and skip-empty-xacts 1
 * unless empty_xacts: then a transaction whose only change is a transactional message has its BEGIN and
 * COMMIT too), with
 * the output of dates, intervals, floats and bytea fixed (the replay sets the same). Read in parts: when
 * fd already holds a part read before and the slot was advanced past it (pg_slot_advance() to its last
 * COMMIT), the new changes follow it; otherwise fd starts over (decoding_resume_offset()). *ret
 * (optional) says what was written; -ENOENT when there is no such slot. */
int pg_slot_changes_to_fd(
        const PgTarget *t, const char *slot, int fd, bool empty_xacts, PgSlotChanges *ret, char **ret_error);

/* Move the slot's confirmed position to lsn (a COMMIT's, from PgSlotChanges.last_commit, once the
 * changes up to it are safely on disk), and its restart point to the last place before lsn where
 * decoding may start again (a running-transactions record: a checkpoint's): a later read decodes only
 * the WAL from there on. PostgreSQL decodes the WAL up to lsn to do it, here twice. */
int pg_slot_advance(const PgTarget *t, const char *slot, const char *lsn, char **ret_error);

/* every sequence outside the system schemas, in one snapshot: [{"schema", "name", "last_value" (text),
 * "is_called" (bool)}] */
int pg_sequence_values(const PgTarget *t, cJSON **ret, char **ret_error);

/* one statement of pg_exec_statements(); valid until the next call of the iterator */
typedef struct PgStatement {
        const char *sql;
        const char *const *params; /* text parameters, an element NULL for SQL NULL */
        size_t n_params;
        long expect_rows; /* the rows it must touch (a SELECT: return), else the whole transaction
                           * fails; -1: any */
} PgStatement;

/* the next statement: 1 and *ret, 0 at the end, <0 (with *ret_error) to fail the transaction */
typedef int (*PgStatementNext)(void *userdata, PgStatement *ret, char **ret_error);

/* Run setup (NULL, or statements separated by ';') and then every statement next gives, all in one
 * transaction, which commits only when each ran and touched the rows it expected. next runs in the
 * session's child process (as t->os_user, with a copy of this process's memory and descriptors).
 * *ret_count (optional) = the statements run. */
int pg_exec_statements(
        const PgTarget *t,
        const char *setup,
        PgStatementNext next,
        void *userdata,
        uint64_t *ret_count,
        char **ret_error);
