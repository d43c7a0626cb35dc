/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* backup-check.c: the backup verified again before anything is dropped; the rows a restore brings back */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>

#include "backup-manifest.h"
#include "checks.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "pg.h"
#include "state.h"
#include "rollback.h"
#include "credentials.h"
#include "string-util.h"

static cJSON *object_or_empty(const cJSON *o, const char *key, cJSON **owned) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);

        if (cJSON_IsObject(m))
                return m;
        *owned = cJSON_CreateObject();
        return *owned;
}

bool backup_refreshed_recently(const Rollback *rb, struct timespec *ret) {
        usec_t t;

        if (checks_parse_timestamp(json_get_string(rb->manifest, "refreshed"), &t) < 0 ||
            now_realtime() > t + BACKUP_TRUST_CTIME_USEC)
                return false;
        *ret = (struct timespec){ .tv_sec = (time_t)(t / USEC_PER_SEC) };
        return true;
}

/* before anything is dropped: the backup is still exactly what its manifest says */
int verify_backup(Rollback *rb) {
        _cleanup_free_ char *path = NULL, *bad = NULL, *error = NULL;
        _cleanup_json_ cJSON *links = NULL, *no_links = NULL;
        const cJSON *want_links;
        BackupHashReuse reuse = {};
        BackupTreeStats stats = {};
        int r;

        if (!rb->current.backup)
                return rb_fail(rb, ENOENT, "current.json names no backup to restore from");
        log_status("rollback: verifying the backup %s", rb->current.backup);

        if (asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, rb->current.backup) < 0)
                return rb_oom(rb);
        r = state_read_json(path, &rb->manifest);
        if (r < 0)
                return rb_fail(rb, r, "Failed to read the backup's manifest %s: %m", path);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb->manifest, "verified")))
                return rb_fail(
                        rb,
                        EBADMSG,
                        "the backup %s is not marked verified: refusing to restore from it",
                        rb->current.backup);
        want_links = object_or_empty(rb->manifest, "symlinks", &no_links);
        if (!want_links)
                return rb_oom(rb);
        backup_list_free(rb->files);
        rb->files = NULL;
        r = backup_manifest_load_list(rb->current.backup, rb->manifest, NULL, false, &rb->files, &error);
        if (r == -ENOMEM)
                return rb_oom(rb);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "the backup's checksums cannot be read (%s): refusing to restore from it",
                        error ?: strerror(-r));
        /* a manifest of an earlier release held them too: they are in rb->files now */
        cJSON_DeleteItemFromObjectCaseSensitive(rb->manifest, "files");

        /* right after the upgrade, only the files changed since the snapshot verified them are read;
         * each is compared as it is read (no second list) */
        if (backup_refreshed_recently(rb, &reuse.since))
                reuse.known = rb->files;
        r = backup_manifest_check_tree(
                rb->current.backup,
                NULL,
                BACKUP_HASH_SKIP_MANIFEST,
                &reuse,
                rb->files,
                &links,
                &stats,
                &bad);
        if (r == -EBADMSG)
                return rb_fail(
                        rb,
                        r,
                        "the backup file %s/%s is missing, extra or changed since it was verified: refusing "
                        "to restore from it",
                        rb->current.backup,
                        strempty(bad));
        if (r < 0)
                return rb_fail(
                        rb, r, "Failed to compute the checksums of the backup %s: %m", rb->current.backup);
        r = backup_manifest_compare(want_links, links, &bad);
        if (r == -EBADMSG)
                return rb_fail(
                        rb,
                        r,
                        "the backup's symlink %s/%s differs from its manifest: refusing to restore from it",
                        rb->current.backup,
                        strempty(bad));
        if (r < 0)
                return rb_fail(rb, r, "Failed to compare the backup's checksums: %m");
        log_info(
                "Backup %s verified again: %llu files match their checksums.",
                rb->current.backup,
                (unsigned long long)stats.files);
        return 0;
}

/* the row counts the restore brings back: those at the stop (snapshot, final dump, delta), else the
 * backup's */
const cJSON *restored_counts(Rollback *rb, bool *ret_at_stop) {
        const cJSON *at_stop = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_at_stop");
        bool use_stop = (rb->current.snapshot || rb->current.final_dump || rb->current.delta_file) &&
                        cJSON_IsObject(at_stop);

        if (ret_at_stop)
                *ret_at_stop = use_stop;
        return use_stop ? at_stop : cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables");
}

/* 0 when actual holds exactly expected's tables and counts (at_least: tables whose expected count is
 * only a lower bound); 1 and *ret_why when not */
static int counts_differ(const cJSON *expected, const cJSON *actual, const cJSON *at_least, char **ret_why) {
        const cJSON *m;

        cJSON_ArrayForEach (m, expected) {
                const cJSON *a = cJSON_GetObjectItemCaseSensitive(actual, m->string);
                bool lower = false;
                const cJSON *l;

                cJSON_ArrayForEach (l, at_least)
                        if (cJSON_IsString(l) && streq(l->valuestring, m->string))
                                lower = true;
                if (!cJSON_IsNumber(a))
                        return asprintf(ret_why, "table %s is missing", m->string) < 0 ? -ENOMEM : 1;
                if (!cJSON_IsNumber(m) ||
                    (lower ? a->valuedouble < m->valuedouble : a->valuedouble != m->valuedouble))
                        return asprintf(
                                       ret_why,
                                       "table %s holds %.0f rows, expected %s%.0f",
                                       m->string,
                                       a->valuedouble,
                                       lower ? "at least " : "",
                                       cJSON_IsNumber(m) ? m->valuedouble : -1) < 0
                                       ? -ENOMEM
                                       : 1;
        }
        cJSON_ArrayForEach (m, actual)
                if (!cJSON_GetObjectItemCaseSensitive(expected, m->string))
                        return asprintf(ret_why, "table %s is extra", m->string) < 0 ? -ENOMEM : 1;
        return 0;
}

int counts_check(
        Rollback *rb,
        const cJSON *expected,
        const cJSON *actual,
        const cJSON *at_least,
        const char *consequence,
        const char *format,
        ...) {
        _cleanup_free_ char *why = NULL, *what = NULL;
        int r;

        r = counts_differ(expected, actual, at_least, &why);
        if (r <= 0)
                return r < 0 ? rb_oom(rb) : 0;
        what = STRPRINTF_ARGS(format);
        if (!what)
                return rb_oom(rb);
        return rb_fail(rb, EBADMSG, "%s (%s): %s", what, why, consequence);
}

/* the rows the live database has beyond what the restore brings back; NAN when they cannot be counted */
double count_discarded(Rollback *rb, const char *db) {
        _cleanup_json_ cJSON *live = NULL;
        _cleanup_free_ char *error = NULL;
        const cJSON *restored = restored_counts(rb, NULL), *m;
        double discarded = 0;
        PgTarget target;
        int r;

        if (helper_pg_target(rb->h, db, &target) < 0)
                return NAN;
        r = pg_table_row_counts(&target, &live, &error);
        if (r < 0) {
                log_warning_errno(
                        r,
                        "Failed to count the rows of database %s (%s): how many rows a restore discards is "
                        "not known.",
                        db,
                        error ?: strerror(-r));
                return NAN;
        }
        cJSON_ArrayForEach (m, live) {
                const cJSON *was = cJSON_GetObjectItemCaseSensitive(restored, m->string);
                double d = m->valuedouble - (cJSON_IsNumber(was) ? was->valuedouble : 0);
                if (d > 0)
                        discarded += d;
        }
        return discarded;
}

/* what the restore throws away, recorded before anything is dropped */
int record_discarded(Rollback *rb, const char *db) {
        double discarded;
        bool at_stop;
        int r;

        if (rb->current.present & CURRENT_KEY_BIT(CURRENT_DISCARDED_ROWS))
                return 0; /* counted by an earlier attempt, before anything was dropped */

        /* what the restore brings back must be known first; a snapshot that cannot be counted fails the
         * restore later, with its own message */
        if (adopt_snapshot_counts(rb) < 0)
                log_warning("How many rows the restore discards is counted against the backup's tables.");
        (void)restored_counts(rb, &at_stop);
        discarded = count_discarded(rb, db);
        /* NAN (not counted) is written as null: counted once, whatever it gave */
        rb->current.discarded_rows = discarded;
        rb->current.present |= CURRENT_KEY_BIT(CURRENT_DISCARDED_ROWS);
        r = rb_save(rb);
        if (r < 0)
                return r;
        if (!isnan(discarded))
                log_notice(
                        "%.0f rows written since the upgrade %s are discarded by the restore (the failed "
                        "database is kept for the post-mortem).",
                        discarded,
                        at_stop ? "stopped the server" : "took its backup (Snapshot=none)");
        return 0;
}
