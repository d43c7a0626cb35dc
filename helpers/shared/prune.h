/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* prune.h: what retention_plan() decides on, gathered from the cluster and the disk; sizing and removing
 * what it gives up; the ledger's export */
#pragma once

#include <cjson/cJSON.h>

#include "config.h"
#include "retention.h"

/* What retention_plan() decides on, gathered from the cluster (every database, as OSUser=) and the
 * disk (releases, backups, the current link, the pin, ledger.json, current.json); the caller holds the
 * state lock (finish's pruning, `codebolt-upgrade clean`). */
typedef struct HelperRetention {
        RetentionInput input; /* points into the fields below */
        cJSON *ledger;
        Current *current; /* NULL when nothing is in flight */
        char **databases, **releases, **backups;
        char *running, *pinned;
} HelperRetention;

/* Gather a HelperRetention for c's deployment. Does not log: on failure *ret_error (optional) says
 * what failed, naming the database or the file. */
int helper_retention_gather(const Config *c, HelperRetention *ret, char **ret_error);
/* free what helper_retention_gather() gathered; r is empty after */
void helper_retention_done(HelperRetention *r);
/* the size in bytes of what item names: pg_database_size(), or du -sb of the release. Does not log. */
int helper_retention_size(const Config *c, const RetentionItem *item, uint64_t *ret);
/* DROP DATABASE (as OSUser=), or rm -rf --one-file-system of the release; phase for the journal. Does
 * not log: on failure *ret_error (optional) says what failed. */
int helper_retention_remove(const Config *c, const RetentionItem *item, const char *phase, char **ret_error);

/* Write ledger to [Policy] ExportLedger= (the copy another host's staging gate reads). A failure is one
 * warning: the export serves another host, the ledger itself is written. */
void helper_export_ledger(const Config *c, const cJSON *ledger);
