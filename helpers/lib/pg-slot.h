/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pg-slot.h: logical replication for Snapshot=delta (docs/architecture.md): a slot with its exported
 * snapshot, its changes read and advanced past, the sequences' values, and the replay's one transaction
 * (pg.h's conventions hold for every function here) */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "pg.h"

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
