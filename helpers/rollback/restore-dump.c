/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* restore-dump.c: Snapshot=dump or none: the backup's dump restored into a fresh database and checked */
#define _GNU_SOURCE
#include <fcntl.h>

#include "backup-manifest.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "pg.h"
#include "rollback.h"
#include "credentials.h"

/* Snapshot=dump or none: the dump restored into a fresh <db>_restore_<id> from template0 with the
 * recorded owner and properties, and checked against the manifest's row counts */
int restore_dump(Rollback *rb, const PgTarget *admin) {
        _cleanup_free_ char *dump = NULL, *sql = NULL, *q = NULL, *error = NULL, *why = NULL;
        _cleanup_json_ cJSON *counts = NULL;
        _cleanup_close_ int fd = -EBADF;
        const cJSON *expected, *at_least = NULL;
        const char *name = rb->source_db;
        int version = 0, status = 0, r;
        bool at_stop;
        PgTarget target;

        if (rb->final_dump)
                dump = strdup(rb->final_dump);
        else if (asprintf(&dump, "%s/" BACKUP_MANIFEST_DUMP, rb->backup) < 0)
                dump = NULL;
        if (!dump)
                return rb_oom(rb);
        expected = restored_counts(rb, &at_stop);
        if (!cJSON_IsObject(expected))
                return rb_fail(
                        rb, EBADMSG, "the backup manifest has no row counts to check the restore against");
        /* a dump of a serving database without a trial restore records lower bounds for the tables
         * written while it ran */
        if (!at_stop && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb->manifest, "trial_restore")))
                at_least = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_changed_during_dump");

        r = backup_manifest_pg_server_version(admin, &version, &error);
        if (r < 0)
                return rb_fail(rb, r, "Failed to ask PostgreSQL for its version: %s", error ?: strerror(-r));
        q = pg_quote_identifier(name);
        if (!q ||
            asprintf(&sql, "DROP DATABASE IF EXISTS %s%s", q, version >= 130000 ? " WITH (FORCE)" : "") < 0)
                return rb_oom(rb);
        /* the name is this upgrade's own: a leftover is a crashed attempt's half restore */
        free(error);
        error = NULL;
        r = pg_exec(admin, sql, &error);
        if (r < 0)
                return rb_fail(
                        rb, r, "Failed to drop the leftover database %s: %s", name, error ?: strerror(-r));
        free(sql);
        sql = NULL;
        r = backup_manifest_create_database_sql(
                name, cJSON_GetObjectItemCaseSensitive(rb->manifest, "database"), true, &sql);
        if (r < 0)
                return rb_oom(rb);
        log_status("rollback: restoring %s into %s", dump, name);
        r = pg_exec(admin, sql, &error);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to create database %s for the restore: %s",
                        name,
                        error ?: strerror(-r));

        r = helper_pg_target(rb->h, name, &target);
        if (r < 0)
                return rb_oom(rb);
        /* the dump reaches pg_restore through stdin: the OS user cannot open the root-only backup */
        fd = open(dump, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return rb_fail(rb, errno, "Failed to open %s: %m", dump);
        /* ownership as recorded in the dump (not --no-owner): the server's role must own its tables
         * again, as it did, and not the role that restores */
        r = backup_manifest_pg_restore(&target, fd, true, &status);
        if (r < 0)
                return rb_fail(
                        rb, r, "Failed to run pg_restore as %s: %m", strempty(rb->h->config.db_os_user));
        if (status != 0)
                return rb_fail(
                        rb,
                        EBADMSG,
                        "pg_restore of %s into %s failed with exit status %d (its messages are above)",
                        dump,
                        name,
                        status);

        free(error);
        error = NULL;
        r = pg_table_row_counts(&target, &counts, &error);
        if (r < 0)
                return rb_fail(rb, r, "Failed to count the rows of %s: %s", name, error ?: strerror(-r));
        r = counts_differ(expected, counts, at_least, &why);
        if (r < 0)
                return rb_oom(rb);
        if (r > 0)
                return rb_fail(
                        rb,
                        EBADMSG,
                        "the restore of %s into %s does not hold what the manifest records (%s): "
                        "the database was not swapped",
                        dump,
                        name,
                        why);
        log_info(
                "Restored %s into %s: %d tables, row counts as in the manifest.",
                dump,
                name,
                cJSON_GetArraySize(expected));
        return 0;
}
