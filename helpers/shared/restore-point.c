/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* restore-point.c: the row counts of a snapshot, counted after the stop (restore-point.h) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

#include "backup-manifest.h"
#include "credentials.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "pg.h"
#include "restore-point.h"
#include "state.h"

int restore_point_count(const Helper *h, const char *name, cJSON **ret) {
        _cleanup_free_ char *error = NULL;
        PgTarget target;
        int r;

        r = helper_pg_target(h, name, &target);
        if (r < 0)
                return log_oom();
        r = pg_table_row_counts(&target, ret, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to count the rows of database %s: %s", name, error ?: "");
        return 0;
}

int restore_point_record_counts(Helper *h) {
        _cleanup_free_ char *path = NULL, *snapshot = NULL;
        _cleanup_json_ cJSON *manifest = NULL, *counts = NULL;
        int r;

        if (!h->current.snapshot || !h->current.backup)
                return 0;
        snapshot = strdup(h->current.snapshot);
        if (!snapshot || asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, h->current.backup) < 0)
                return log_oom();
        r = state_read_json(path, &manifest);
        if (r < 0)
                return log_error_errno(r, "Failed to read the backup's manifest %s: %m", path);
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(manifest, "tables_at_stop")))
                return 0;

        log_status("%s: counting the rows of the snapshot %s (the restore point)", h->phase, snapshot);
        r = restore_point_count(h, snapshot, &counts);
        if (r < 0)
                return r;
        if (!cJSON_AddItemToObject(manifest, "tables_at_stop", counts))
                return log_oom();
        TAKE_PTR(counts);
        r = state_write_json_atomic(path, manifest, 0600);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        log_info(
                "Snapshot %s counted: %d tables, recorded in %s.",
                snapshot,
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(manifest, "tables_at_stop")),
                path);
        return 0;
}
