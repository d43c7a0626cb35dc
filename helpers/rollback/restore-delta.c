/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* restore-delta.c: Snapshot=delta: the slot dropped, and the changes since the dump replayed onto the
 * restored dump (docs/architecture.md, "Snapshot=delta") */
#define _GNU_SOURCE
#include <inttypes.h>

#include "backup-manifest.h"
#include "credentials.h"
#include "delta.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "pg.h"
#include "pg-slot.h"
#include "rollback.h"

void drop_delta_slot(Rollback *rb) {
        _cleanup_free_ char *error = NULL;
        PgTarget target;
        int r;

        if (!rb->current.delta_slot)
                return;
        if (helper_pg_target(rb->h, rb->h->config.db_name, &target) < 0) {
                log_oom();
                return;
        }
        r = pg_slot_drop(&target, rb->current.delta_slot, &error);
        if (r < 0)
                log_warning_errno(
                        r,
                        "Failed to drop the replication slot %s, which holds WAL until it is dropped "
                        "(codebolt-upgrade "
                        "clean drops it): %s",
                        rb->current.delta_slot,
                        error ?: strerror(-r));
        else if (r > 0)
                log_info("Dropped the logical replication slot %s.", rb->current.delta_slot);
}

int replay_delta(Rollback *rb) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_json_ cJSON *counts = NULL;
        _cleanup_free_ char *error = NULL;
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(rb->manifest, "delta");
        const cJSON *expected = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_at_stop");
        const char *path = rb->current.delta_file;
        uint64_t n = 0;
        PgTarget target;
        int r;

        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(delta, "tables")) || !cJSON_IsObject(expected))
                return rb_fail(
                        rb,
                        EBADMSG,
                        "the backup manifest has no tables or row counts for the delta %s",
                        path);
        f = fopen(path, "re");
        if (!f)
                return rb_fail(rb, errno, "Failed to open %s: %m", path);
        if (helper_pg_target(rb->h, rb->source_db, &target) < 0)
                return rb_oom(rb);

        log_status("rollback: replaying %s onto %s", path, rb->source_db);
        r = delta_replay(
                &target,
                f,
                cJSON_GetObjectItemCaseSensitive(delta, "tables"),
                cJSON_GetObjectItemCaseSensitive(delta, "sequences"),
                &n,
                &error);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to replay %s onto %s: %s",
                        path,
                        rb->source_db,
                        error ?: strerror(-r));

        free(error);
        error = NULL;
        r = pg_table_row_counts(&target, &counts, &error);
        if (r < 0)
                return rb_fail(
                        rb, r, "Failed to count the rows of %s: %s", rb->source_db, error ?: strerror(-r));
        r = counts_check(
                rb,
                expected,
                counts,
                NULL,
                "the database was not swapped",
                "the restore of the dump and %s into %s does not hold what the database held at the stop",
                path,
                rb->source_db);
        if (r < 0)
                return r;
        log_info(
                "Replayed %" PRIu64 " statements of %s onto %s (the changes since the backup and every "
                "sequence): %d tables, row counts as at the stop.",
                n,
                path,
                rb->source_db,
                cJSON_GetArraySize(expected));
        return 0;
}
