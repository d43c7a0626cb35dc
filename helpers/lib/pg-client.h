/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-client.h: the PostgreSQL client programs (pg_dump, pg_restore) and a restore into a fresh database */
#pragma once

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "pg.h"

/* Return values as in pg.h. */

/* The conninfo for a command-line tool (pg_dump -d, pg_restore -d): conninfo (NULL: the local socket)
 * with dbname set to dbname; keyword='value' form, quoted. A secret in conninfo (a password, an
 * sslpassword: pg_conninfo_find_secret()) is refused (-EPERM): argv is readable by every local user.
 * -EINVAL when conninfo does not parse. */
int pg_client_conninfo(const char *conninfo, const char *dbname, char **ret);

/* CREATE DATABASE name TEMPLATE template0 with the encoding, collation, ctype and locale provider of
 * properties (what pg_database_properties() returns), and OWNER when with_owner; quoted. */
int pg_create_database_sql(const char *name, const cJSON *properties, bool with_owner, char **ret);

/* pg_dump -Fc --no-password of t->dbname (on t->conninfo) as t->os_user, its stdout into fd (opened by
 * the caller, so the child needs no access to the backup directory); snapshot (or NULL): --snapshot=,
 * an exported snapshot the dump reads (pg_slot_export()). Both this and pg_restore get
 * t->password_file's password as a password file on a descriptor (pg_passfile_memfd()). Returns
 * spawn_run()'s result; *ret_status = pg_dump's exit status. */
int pg_dump_run(const PgTarget *t, int fd, const char *snapshot, int *ret_status);

/* pg_restore --exit-on-error --no-password into t->dbname (on t->conninfo) as t->os_user, the dump read
 * from dump_fd (opened by the caller: the OS user cannot open the root-only backup); with_owner false:
 * --no-owner. Returns spawn_run()'s result; *ret_status = pg_restore's exit status. */
int pg_restore_run(const PgTarget *t, int dump_fd, bool with_owner, int *ret_status);

/* pg_restore --list path, run as we are (it only reads the file): *ret_entries = the entries listed
 * (lines not starting with ';'), *ret_status = pg_restore's exit status */
int pg_restore_list(const char *path, unsigned *ret_entries, int *ret_status);

typedef enum PgRestoreFlags {
        /* the real restore: CREATE DATABASE with the recorded owner and pg_restore with the ownership
         * the dump records, so the server's role owns its tables again; without it (a trial restore into
         * a scratch database) all is owned by the role that restores (--no-owner) */
        PG_RESTORE_OWNER = 1 << 0,
} PgRestoreFlags;

/* the step of pg_restore_dump() that failed; from PG_RESTORE_STEP_OPEN on, the database exists */
typedef enum PgRestoreStep {
        PG_RESTORE_STEP_DROP,   /* dropping a leftover database of that name: error */
        PG_RESTORE_STEP_SQL,    /* building CREATE DATABASE from properties (out of memory) */
        PG_RESTORE_STEP_CREATE, /* CREATE DATABASE: error */
        PG_RESTORE_STEP_OPEN,   /* opening the dump */
        PG_RESTORE_STEP_RUN,    /* running pg_restore (spawn_run()'s error) */
        PG_RESTORE_STEP_EXIT,   /* pg_restore failed: exit_status, -EBADMSG */
        PG_RESTORE_STEP_COUNT,  /* counting the restored rows: error */
} PgRestoreStep;

/* what pg_restore_dump() tells of a failure, for the caller's one log line */
typedef struct PgRestoreFailure {
        PgRestoreStep step;
        int exit_status; /* PG_RESTORE_STEP_EXIT: pg_restore's */
        char *error;     /* a one-line message as ret_error elsewhere here, or NULL */
} PgRestoreFailure;

/* frees the message of a PgRestoreFailure (for _cleanup_) */
void pg_restore_failure_done(PgRestoreFailure *f);

/* Restore the dump (pg_dump -Fc) at path dump into a fresh database dbname: a leftover of that name is
 * dropped (pg_drop_database()), dbname is created from template0 with the encoding, collation and
 * locale of properties (what pg_database_properties() returned for the dumped database), pg_restore
 * --exit-on-error runs as admin->os_user on admin's connection with the dump on its stdin (opened here:
 * the OS user cannot open a root-only backup), and the restored rows are counted. admin is a target on
 * another database (postgres); server_version as pg_server_version() tells. The
 * database is left in place, also on failure from PG_RESTORE_STEP_OPEN on: dropping it is the caller's.
 * *ret_counts (optional) = pg_table_row_counts() of the restored database. On failure, returns the
 * step's -errno and fills *ret_failure (optional; untouched on success). */
int pg_restore_dump(
        const PgTarget *admin,
        const char *dump,
        const char *dbname,
        const cJSON *properties,
        int server_version,
        PgRestoreFlags flags,
        cJSON **ret_counts,
        PgRestoreFailure *ret_failure);
