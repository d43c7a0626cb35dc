/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* delta.h: Snapshot=delta's decisions and its reads of the database: the slot's name, whether delta can
 * be used, the schema's fingerprint, the large objects, the tables as the replay needs them
 * (docs/architecture.md, "Snapshot=delta") */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "pg.h"

/* the decoding plugin: built into PostgreSQL (contrib), values printed by each type's own output */
#define DELTA_PLUGIN "test_decoding"
/* the prefix of every slot this program makes; the rest names the database and the upgrade */
#define DELTA_SLOT_PREFIX "cbu_"

/* "cbu_<db>_<id>": db lowercased with every character outside [a-z0-9_] as '_', cut so that the
 * whole stays within 63 characters; id: the upgrade's first 12 characters (hex digits, or digits of a
 * time), each outside [a-z0-9] refused (-EINVAL). *ret malloc'd. */
int delta_slot_name(const char *db, const char *id, char **ret);

/* "cbu_<db>_": the beginning of every slot delta_slot_name() gives for db */
int delta_slot_prefix(const char *db, char **ret);

/* what the database says of itself, from delta_probe() */
typedef struct DeltaFacts {
        char *wal_level;       /* "replica", "logical", … */
        char *role;            /* current_user */
        bool may_replicate;    /* superuser or REPLICATION: may make a slot and read it */
        bool may_set_replica;  /* may SET session_replication_role (the replay's triggers stay quiet) */
        int64_t free_slots;    /* max_replication_slots minus the slots there are */
        bool plugin_available; /* test_decoding is installed */
        char *fingerprint;     /* md5 of the schema: tables, columns, constraints, indexes, replica
                                * identities, sequences' definitions, enums, triggers */
        int64_t lo_count;      /* large objects */
        int64_t lo_changes;    /* rows inserted, updated and deleted in pg_largeobject and its
                                * metadata since the statistics began (-1: track_counts is off) */
} DeltaFacts;

/* frees what f owns (for _cleanup_) */
void delta_facts_done(DeltaFacts *f);

/* Read the facts on t (the server's database). Return values as in pg.h. */
int delta_probe(const PgTarget *t, DeltaFacts *ret, char **ret_error);

/* The facts as the manifest records them ({"fingerprint", "lo_count", "lo_changes"}); NULL on OOM */
cJSON *delta_facts_to_json(const DeltaFacts *f);

/* Whether Snapshot= mode takes delta on a database with facts f (f NULL: the database could not be
 * asked, error the reason). 1: delta. 0: template, and for auto *ret_reason the one line that says
 * why (NULL for template itself). -EOPNOTSUPP: explicit delta cannot be used here, *ret_reason says
 * why and what to change. -ENOMEM. Pure. */
int delta_decide(SnapshotMode mode, const DeltaFacts *f, const char *error, char **ret_reason);

/* Whether the large objects are as they were: 0 yes; 1 and *ret_why when they changed or that cannot
 * be told (before and after as delta_facts_to_json() gave, after from the stop). -ENOMEM. Pure. */
int delta_large_objects_unchanged(const cJSON *before, const DeltaFacts *after, char **ret_why);

/* The tables of t's database as decoding.h's judgement and replay need them (decoding.h, "The tables
 * as they are at the stop"). Return values as in pg.h. */
int delta_tables(const PgTarget *t, cJSON **ret, char **ret_error);

/* Replay a delta file f (decoding.h's lines, from pg_slot_changes_to_fd()) onto t's database in one
 * transaction with session_replication_role = replica: every change as decoding_statement() makes it
 * on tables, then each of sequences (what pg_sequence_values() gave) set with setval(). Nothing is
 * committed unless every statement ran and touched the rows it expected. *ret_count (optional) = the
 * statements run. Return values as in pg.h; -EBADMSG with a line of f that does not parse. */
int delta_replay(
        const PgTarget *t,
        FILE *f,
        const cJSON *tables,
        const cJSON *sequences,
        uint64_t *ret_count,
        char **ret_error);

/* The slots this program made on database db (DELTA_SLOT_PREFIX, on that database), asked on t: [{"slot",
 * "active" (bool), "wal": the WAL it holds back, e.g. "48 MB"}], ordered by name. Return values as in
 * pg.h. */
int delta_slots(const PgTarget *t, const char *db, cJSON **ret, char **ret_error);
