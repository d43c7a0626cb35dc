/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* restore-dump.c: Snapshot=dump or none: the backup's dump restored into a fresh database and checked */
#define _GNU_SOURCE

#include "backup-manifest.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "pg-client.h"
#include "rollback.h"

/* Snapshot=dump or none: the dump restored into a fresh <db>_restore_<id> from template0 with the
 * recorded owner and properties, and checked against the manifest's row counts */
int restore_dump(Rollback *rb, const PgTarget *admin) {
        _cleanup_free_ char *dump = NULL, *error = NULL;
        _cleanup_(pg_restore_failure_done) PgRestoreFailure f = {};
        _cleanup_json_ cJSON *counts = NULL;
        const cJSON *expected, *at_least = NULL;
        const char *name = rb->source_db;
        int version = 0, r;
        bool at_stop;

        /* a cluster roll's host other than the migrator backs up no dump of the shared database */
        if (!rb->current.final_dump &&
            cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rb->manifest, "database_dump")))
                return rb_fail(
                        rb,
                        ENOENT,
                        "the backup %s holds no dump of the database: in cluster roll %s the migrator "
                        "backed up the shared database, and restoring it for every member is done by hand",
                        strempty(rb->current.backup),
                        strempty(rb->current.cluster_roll));
        if (rb->current.final_dump)
                dump = strdup(rb->current.final_dump);
        else if (asprintf(&dump, "%s/" BACKUP_MANIFEST_DUMP, rb->current.backup) < 0)
                dump = NULL;
        if (!dump)
                return rb_oom(rb);
        /* with a delta the dump holds the backup's rows; the replay then brings those of the stop */
        if (rb->current.delta_file) {
                expected = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables");
                at_stop = false;
        } else
                expected = restored_counts(rb, &at_stop);
        if (!cJSON_IsObject(expected))
                return rb_fail(
                        rb, EBADMSG, "the backup manifest has no row counts to check the restore against");
        /* a dump of a serving database without a trial restore records lower bounds for the tables
         * written while it ran */
        if (!at_stop && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb->manifest, "trial_restore")))
                at_least = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_changed_during_dump");

        r = pg_server_version(admin, &version, &error);
        if (r < 0)
                return rb_fail(rb, r, "Failed to ask PostgreSQL for its version: %s", error ?: strerror(-r));
        log_status("rollback: restoring %s into %s", dump, name);
        /* ownership as recorded in the dump (not --no-owner): the server's role must own its tables
         * again, as it did, and not the role that restores */
        r = pg_restore_dump(
                admin,
                dump,
                name,
                cJSON_GetObjectItemCaseSensitive(rb->manifest, "database"),
                version,
                PG_RESTORE_OWNER,
                &counts,
                &f);
        if (r < 0)
                switch (f.step) {
                case PG_RESTORE_STEP_DROP:
                        /* the name is this upgrade's own: a leftover is a crashed attempt's half restore */
                        return rb_fail(
                                rb,
                                r,
                                "Failed to drop the leftover database %s: %s",
                                name,
                                f.error ?: strerror(-r));
                case PG_RESTORE_STEP_SQL:
                        return rb_oom(rb);
                case PG_RESTORE_STEP_CREATE:
                        return rb_fail(
                                rb,
                                r,
                                "Failed to create database %s for the restore: %s",
                                name,
                                f.error ?: strerror(-r));
                case PG_RESTORE_STEP_OPEN:
                        return rb_fail(rb, r, "Failed to open %s: %m", dump);
                case PG_RESTORE_STEP_RUN:
                        return rb_fail(
                                rb,
                                r,
                                "Failed to run pg_restore as %s: %m",
                                strempty(rb->h->config.db_os_user));
                case PG_RESTORE_STEP_EXIT:
                        return rb_fail(
                                rb,
                                r,
                                "pg_restore of %s into %s failed with exit status %d (its messages are "
                                "above)",
                                dump,
                                name,
                                f.exit_status);
                case PG_RESTORE_STEP_COUNT:
                default:
                        return rb_fail(
                                rb, r, "Failed to count the rows of %s: %s", name, f.error ?: strerror(-r));
                }

        r = counts_check(
                rb,
                expected,
                counts,
                at_least,
                "the database was not swapped",
                "the restore of %s into %s does not hold what the manifest records",
                dump,
                name);
        if (r < 0)
                return r;
        log_info(
                "Restored %s into %s: %d tables, row counts as in the manifest.",
                dump,
                name,
                cJSON_GetArraySize(expected));
        return 0;
}
