/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decoding.h: test_decoding's output (a logical replication slot's changes) read, judged and replayed as
 * SQL (docs/architecture.md, "Snapshot=delta") */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

typedef enum DecodingKind {
        DECODING_BEGIN,
        DECODING_COMMIT,
        DECODING_INSERT,
        DECODING_UPDATE,
        DECODING_DELETE,
        DECODING_TRUNCATE,
        DECODING_MESSAGE, /* pg_logical_emit_message(): nothing to replay */
} DecodingKind;

/* one column of a tuple, as "name[type]:value" printed it */
typedef struct DecodingColumn {
        char *name;     /* unquoted */
        char *type;     /* format_type_be()'s text, e.g. "character varying[]" */
        char *value;    /* the type's text form, unescaped; NULL: SQL NULL (or unchanged) */
        bool unchanged; /* "unchanged-toast-datum": an UPDATE left this TOASTed value as it was */
} DecodingColumn;

typedef struct DecodingTuple {
        DecodingColumn *columns;
        size_t n;
} DecodingTuple;

typedef struct DecodingRelation {
        char *schema; /* unquoted */
        char *name;   /* unquoted */
} DecodingRelation;

typedef struct DecodingChange {
        DecodingKind kind;
        DecodingRelation *relations; /* one; a TRUNCATE's several */
        size_t n_relations;
        bool has_old_key;      /* UPDATE "old-key:": the key changed (or REPLICA IDENTITY FULL) */
        DecodingTuple old_key; /* the old row's replica identity columns (NULLs left out) */
        bool has_tuple;        /* false: "(no-tuple-data)" */
        DecodingTuple tuple;   /* INSERT, UPDATE: the new row; DELETE: the old row's identity columns */
} DecodingChange;

/* frees what c owns and zeroes it (for _cleanup_) */
void decoding_change_done(DecodingChange *c);

/* Parse one change as test_decoding prints it (options include-xids 0; any other option's extra text
 * is refused): "BEGIN", "COMMIT", "message: …", "table s.t: INSERT: col[type]:value …", "… UPDATE:
 * [old-key: … new-tuple:] …", "… DELETE: …", "table a, b: TRUNCATE: flags". 0 and *ret; -EBADMSG for
 * anything else (a caller treats the delta as not replayable); -ENOMEM. */
int decoding_parse(const char *text, DecodingChange *ret);

/* One line of a delta file: a JSON object whose "data" is test_decoding's text (pg.h,
 * pg_slot_changes_to_fd()). 1 and *ret for a change, 0 at the end of f, -EBADMSG for a line that is
 * no such object or whose data does not parse, -errno on a read error. */
int decoding_read_change(FILE *f, DecodingChange *ret);

/* A pg_lsn as PostgreSQL prints it ("16/B374D848": two hexadecimal 32-bit halves), as one number; -EINVAL
 * for anything else. */
int decoding_lsn_parse(const char *s, uint64_t *ret);

/* Where a delta file written in parts goes on, given lsn, the slot's confirmed position (which a part
 * read ahead advanced the slot to): the byte offset just past the last transaction whose COMMIT line's
 * lsn (the end of its commit record) is at most lsn, and the number of lines up to it. Those the slot
 * will not give again; every later one it will, so the file is cut there (0 and 0: it starts over). A
 * last line without its newline ends the search. Moves fd's offset (the caller sets it). -EINVAL when
 * lsn is no LSN, -errno on a read error. */
int decoding_resume_offset(int fd, const char *lsn, off_t *ret_offset, uint64_t *ret_lines);

/*
 * The tables as they are at the stop, what the judgement and the SQL below need (a JSON object, built by
 * delta_tables() in delta.h): keyed by decoding_table_key(), each
 *   {"columns": {"name": "type", …}, "key": ["col", …], "generated": ["col", …], "always": ["col", …]}
 * "key": the replica identity index's columns (the primary key, or REPLICA IDENTITY USING INDEX), [] when
 * the table has none or its identity is FULL or NOTHING; "generated": stored generated columns, never
 * written; "always": GENERATED ALWAYS identity columns.
 */

/* "\"schema\".\"table\"", each part quoted as pg_quote_identifier() does; NULL on OOM */
char *decoding_table_key(const char *schema, const char *name);

/* 0 when c can be replayed exactly on tables (see above); 1 and *ret_why (one line) when not: a table
 * or column that is not as at the stop, an UPDATE or DELETE that cannot name its row (no replica
 * identity key, "(no-tuple-data)", REPLICA IDENTITY FULL), an unchanged TOAST value where a value is
 * needed. -ENOMEM. */
int decoding_check(const DecodingChange *c, const cJSON *tables, char **ret_why);

/* one statement of the replay */
typedef struct DecodingStatement {
        char *sql;     /* NULL: nothing to run (BEGIN, COMMIT, a message) */
        char **params; /* n_params text parameters, an element NULL for SQL NULL */
        size_t n_params;
        long expect_rows; /* the rows it must touch: 1 for an UPDATE or DELETE; -1: any */
} DecodingStatement;

/* frees what s owns and zeroes it (for _cleanup_) */
void decoding_statement_done(DecodingStatement *s);

/* The statement that replays c (which decoding_check() accepted) on tables: INSERT … OVERRIDING SYSTEM
 * VALUE VALUES ($1, …), UPDATE … SET … WHERE <key> (expects 1 row; a SELECT of the row when nothing
 * is left to set), DELETE … WHERE <key> (expects 1 row), TRUNCATE ONLY …; identifiers quoted, values
 * as untyped text parameters (the column's type reads them). -EINVAL when c is not replayable on
 * tables, -ENOMEM. */
int decoding_statement(const DecodingChange *c, const cJSON *tables, DecodingStatement *ret);

/* Apply c to counts, {"schema.table": rows} as pg_table_row_counts() keys them: an INSERT adds a row to
 * its table, a DELETE takes one away, a TRUNCATE leaves none; the rest change no count. A table not in
 * counts, or a count that would go below 0, is -ENOENT or -ERANGE (the counts do not belong to the
 * rows the changes follow). -ENOMEM. */
int decoding_count_rows(const DecodingChange *c, cJSON *counts);
