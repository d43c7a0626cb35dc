/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* database.c: the full restore's swap of <db> for the restore point, resumed from the catalog */
#define _GNU_SOURCE
#include <time.h>

#include "backup-manifest.h"
#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "pg.h"
#include "rollback.h"
#include "credentials.h"

/* a rename of the database waits this often for a session that reconnects between the terminate and
 * the ALTER DATABASE */
#define RENAME_TRIES 10
#define RENAME_RETRY_USEC (USEC_PER_SEC / 2)

/* <db>_failed_<id> and the restore database's name (NULL with a snapshot): the upgrade's invocation
 * id, or, run by hand, the time this rollback first started */
int compute_db_names(const Rollback *rb, char **ret_failed, char **ret_source) {
        const char *db = rb->h->config.db_name, *id = rb->current.id;
        _cleanup_free_ char *digits = NULL, *failed = NULL, *source = NULL;
        size_t id_max = 12;
        int r;

        if (!id || !*id) {
                const char *started = strempty(rb->current.rollback_started);
                size_t n = 0;

                digits = calloc(strlen(started) + 1, 1);
                if (!digits)
                        return -ENOMEM;
                for (const char *p = started; *p; p++)
                        if (*p >= '0' && *p <= '9')
                                digits[n++] = *p;
                id = digits;
                id_max = 14;
        }
        r = backup_manifest_db_name(db, "failed", id, id_max, &failed);
        if (r >= 0 && !rb->current.snapshot)
                r = backup_manifest_db_name(db, "restore", id, id_max, &source);
        if (r < 0)
                return r;
        *ret_failed = TAKE_PTR(failed);
        *ret_source = TAKE_PTR(source);
        return 0;
}

/* rb NULL: a failure is not logged (the best-effort look of the held line) */
int database_exists(Rollback *rb, const PgTarget *admin, const char *name, bool *ret) {
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_free_ char *error = NULL;
        const char *params[] = { name };
        int r;

        r = pg_query(
                admin,
                "SELECT 1 AS x FROM pg_catalog.pg_database WHERE datname = $1",
                params,
                1,
                &rows,
                &error);
        if (r < 0)
                return rb ? rb_fail(rb, r, "Failed to look for database %s: %s", name, error ?: strerror(-r))
                          : r;
        *ret = cJSON_GetArraySize(rows) > 0;
        return 0;
}

static int terminate_sessions(const PgTarget *admin, const char *name, char **ret_error) {
        const char *params[] = { name };

        return pg_query(
                admin,
                "SELECT count(pg_catalog.pg_terminate_backend(pid)) AS n FROM pg_catalog.pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
                params,
                1,
                NULL,
                ret_error);
}

static int rename_database(Rollback *rb, const PgTarget *admin, const char *from, const char *to) {
        _cleanup_free_ char *qf = pg_quote_identifier(from), *qt = pg_quote_identifier(to), *sql = NULL;
        int r = 0;

        if (!qf || !qt || asprintf(&sql, "ALTER DATABASE %s RENAME TO %s", qf, qt) < 0)
                return rb_oom(rb);

        for (int i = 1;; i++) {
                _cleanup_free_ char *error = NULL;
                struct timespec ts = { .tv_nsec = (long)RENAME_RETRY_USEC * 1000 };

                /* nothing may stay connected to a database that is renamed (the server is stopped) */
                r = terminate_sessions(admin, from, &error);
                if (r < 0)
                        return rb_fail(
                                rb,
                                r,
                                "Failed to end the other sessions on database %s: %s",
                                from,
                                error ?: strerror(-r));
                free(error);
                error = NULL;
                r = pg_exec(admin, sql, &error);
                if (r >= 0)
                        break;
                if (r != -EBUSY || i >= RENAME_TRIES || helper_cancelled)
                        return rb_fail(
                                rb,
                                r,
                                "Failed to rename database %s to %s: %s",
                                from,
                                to,
                                error ?: strerror(-r));
                (void)nanosleep(&ts, NULL);
        }
        log_info("Renamed database %s to %s.", from, to);
        return 0;
}

/* the rows of the snapshot; through rb_fail() */
static int count_snapshot(Rollback *rb, cJSON **ret) {
        _cleanup_free_ char *error = NULL;
        PgTarget target;
        int r;

        if (helper_pg_target(rb->h, rb->current.snapshot, &target) < 0)
                return rb_oom(rb);
        r = pg_table_row_counts(&target, ret, &error);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to count the rows of the snapshot %s: %s",
                        rb->current.snapshot,
                        error ?: strerror(-r));
        return 0;
}

int adopt_snapshot_counts(Rollback *rb) {
        _cleanup_json_ cJSON *counts = NULL;
        int n, r;

        if (!rb->current.snapshot || !rb->manifest ||
            cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_at_stop")))
                return 0;
        log_status("rollback: counting the rows of the snapshot %s", rb->current.snapshot);
        r = count_snapshot(rb, &counts);
        if (r < 0)
                return r;
        n = cJSON_GetArraySize(counts);
        if (!cJSON_AddItemToObject(rb->manifest, "tables_at_stop", counts))
                return rb_oom(rb);
        TAKE_PTR(counts);
        rb->snapshot_counted = true;
        log_info(
                "Snapshot %s counted now (the upgrade failed before it was): %d tables, restored as they "
                "are.",
                rb->current.snapshot,
                n);
        return 0;
}

/* the snapshot holds exactly what the database held when the server stopped */
static int check_snapshot(Rollback *rb) {
        _cleanup_json_ cJSON *counts = NULL;
        const cJSON *expected;
        int r;

        r = adopt_snapshot_counts(rb);
        if (r < 0 || rb->snapshot_counted)
                return r;
        expected = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_at_stop");
        log_status("rollback: checking the snapshot %s", rb->current.snapshot);
        r = count_snapshot(rb, &counts);
        if (r < 0)
                return r;
        r = counts_check(
                rb,
                expected,
                counts,
                NULL,
                "refusing to restore it",
                "the snapshot %s does not hold what the database held at the stop",
                rb->current.snapshot);
        if (r < 0)
                return r;
        log_info(
                "Snapshot %s holds the %d tables of the stop with their rows.",
                rb->current.snapshot,
                cJSON_GetArraySize(expected));
        return 0;
}

static int database_names(Rollback *rb) {
        _cleanup_free_ char *failed = NULL, *source = NULL;
        int r;

        r = compute_db_names(rb, &failed, &source);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Cannot name the databases of the restore after %s: %m",
                        rb->h->config.db_name);
        if (!rb->failed_db)
                rb->failed_db = TAKE_PTR(failed);
        free(rb->source_db);
        rb->source_db = rb->current.snapshot ? strdup(rb->current.snapshot) : TAKE_PTR(source);
        return rb->source_db ? 0 : rb_oom(rb);
}

static int record_failed_database(Rollback *rb) {
        if (streq_ptr(rb->current.failed_database, rb->failed_db))
                return 0;
        if (rb_strdup(&rb->current.failed_database, rb->failed_db) < 0)
                return rb_oom(rb);
        return rb_save(rb);
}

/* The restored database takes the place of <db> under its name; the failed one is kept as
 * <db>_failed_<id>. Where a crashed attempt left it is read from the catalog. */
int restore_database(Rollback *rb) {
        _cleanup_free_ char *q = NULL, *qo = NULL, *sql = NULL, *error = NULL;
        const char *db = rb->h->config.db_name;
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(rb->manifest, "database");
        const char *owner = json_get_string(props, "owner");
        bool has_db, has_source, has_failed;
        PgTarget admin;
        int r;

        r = database_names(rb);
        if (r < 0)
                return r;
        if (helper_pg_target(rb->h, "postgres", &admin) < 0)
                return rb_oom(rb);
        if ((r = database_exists(rb, &admin, db, &has_db)) < 0 ||
            (r = database_exists(rb, &admin, rb->source_db, &has_source)) < 0 ||
            (r = database_exists(rb, &admin, rb->failed_db, &has_failed)) < 0)
                return r;
        rb->db_in_play = true;

        if (has_db && !has_failed) {
                rb->db = DB_UNTOUCHED;
                if (rb->current.snapshot) {
                        if (!has_source)
                                return rb_fail(
                                        rb,
                                        ENOENT,
                                        "the snapshot %s named in current.json does not exist: there "
                                        "is no restore point",
                                        rb->current.snapshot);
                        r = check_snapshot(rb);
                } else
                        r = restore_dump(rb, &admin);
                /* Snapshot=delta: then the changes between the dump and the stop */
                if (r >= 0 && rb->current.delta_file)
                        r = replay_delta(rb);
                if (r < 0)
                        return r;

                log_status("rollback: swapping database %s for %s", db, rb->source_db);
                r = rename_database(rb, &admin, db, rb->failed_db);
                if (r < 0)
                        return r;
                rb->db = DB_RENAMED_AWAY;
                r = record_failed_database(rb);
                if (r < 0)
                        return r;
        } else if (!has_db && has_source && has_failed) {
                log_notice(
                        "Database %s was renamed to %s by an earlier attempt: finishing the swap.",
                        db,
                        rb->failed_db);
                rb->db = DB_RENAMED_AWAY;
                r = record_failed_database(rb);
                if (r < 0)
                        return r;
        } else if (has_db && !has_source && has_failed) {
                log_notice("Database %s is already the restored copy (an earlier attempt swapped it).", db);
                rb->db = DB_SWAPPED;
        } else
                return rb_fail(
                        rb,
                        EBADMSG,
                        "the databases are in no state this rollback makes (%s %s, %s %s, %s %s): "
                        "nothing was renamed",
                        db,
                        has_db ? "exists" : "is missing",
                        rb->source_db,
                        has_source ? "exists" : "is missing",
                        rb->failed_db,
                        has_failed ? "exists" : "is missing");

        if (rb->db == DB_RENAMED_AWAY) {
                r = rename_database(rb, &admin, rb->source_db, db);
                if (r < 0)
                        return r;
                rb->db = DB_SWAPPED;
        }
        r = record_failed_database(rb);
        if (r < 0)
                return r;

        /* a snapshot belongs to the role that copied it: the database's owner is the recorded one again
         * (it owns the public schema, where the next migrations create tables) */
        if (owner) {
                q = pg_quote_identifier(db);
                qo = pg_quote_identifier(owner);
                if (!q || !qo || asprintf(&sql, "ALTER DATABASE %s OWNER TO %s", q, qo) < 0)
                        return rb_oom(rb);
                r = pg_exec(&admin, sql, &error);
                if (r < 0)
                        return rb_fail(
                                rb,
                                r,
                                "Failed to give database %s back to its owner %s: %s",
                                db,
                                owner,
                                error ?: strerror(-r));
        }
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(props, "settings")) > 0 ||
            json_get_string(props, "datacl"))
                log_warning(
                        "Database %s is a copy: the per-database settings and privileges recorded in the "
                        "manifest are not carried over (the failed database %s keeps them); apply them by "
                        "hand if they matter.",
                        db,
                        rb->failed_db);
        log_info("Database %s is restored; the failed one is kept as %s.", db, rb->failed_db);
        return 0;
}
