/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rollback: decide from current.json alone what undoes a failed upgrade, do the least that is safe */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "backup-manifest.h"
#include "bus.h"
#include "credentials.h"
#include "events.h"
#include "helper.h"
#include "prune.h"
#include "server.h"
#include "starting.h"
#include "current.h"
#include "hash.h"
#include "hooks.h"
#include "http.h"
#include "journal.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "paths.h"
#include "pg.h"
#include "release.h"
#include "spawn.h"
#include "state.h"
#include "unitname.h"

/* a rename of the database waits this often for a session that reconnects between the terminate and
 * the ALTER DATABASE */
#define RENAME_TRIES 10
#define RENAME_RETRY_USEC (USEC_PER_SEC / 2)
/* how long /health may take when deciding whether a drain needs undoing */
#define HEALTH_TIMEOUT (10 * USEC_PER_SEC)

/* what the rollback table says for this upgrade; recorded in current.json "rollback_action", so a
 * resumed rollback goes on with what the first run decided */
typedef enum Action {
        ACTION_REFUSE,  /* refused in preflight: nothing changed */
        ACTION_ABORT,   /* failed before the server stopped */
        ACTION_MINOR,   /* switch and pin back, start, smoke */
        ACTION_RESTORE, /* the database and the stores from the restore point, then as minor */
        ACTION_HOLD,    /* [Policy] Rollback= forbids what would be needed */
        _ACTION_MAX,
} Action;

/* how this run was started: by the rollback unit, or by the boot recovery before the server starts
 * (put everything back, never start the server: its start waits for us) and after it started (smoke
 * test and ledger) */
static enum {
        MODE_ROLLBACK,
        MODE_RECOVER,
        MODE_RECOVER_CHECK,
} arg_mode = MODE_ROLLBACK;

/* recovery attempts at boot before the upgrade is held (docs/architecture.md, "Recovery after a crash") */
#define RECOVER_ATTEMPTS_MAX 3

static const char *const action_names[_ACTION_MAX] = {
        [ACTION_REFUSE] = "refuse",   [ACTION_ABORT] = "abort", [ACTION_MINOR] = "minor",
        [ACTION_RESTORE] = "restore", [ACTION_HOLD] = "hold",
};

/* where the database swap of a full restore stands, as the catalog shows it */
typedef enum DbState {
        DB_UNTOUCHED,    /* <db> is still the failed upgrade's database */
        DB_RENAMED_AWAY, /* <db> is renamed to <db>_failed_<id>, the restore point not yet to <db> */
        DB_SWAPPED,      /* <db> is the restored copy */
} DbState;

typedef struct Rollback {
        Helper *h;
        cJSON *current; /* current.json as last read or written under the lock */
        sd_bus *bus;
        Action action;
        char *why; /* the first failure: the held line and "held_reason" */

        /* copies of what current.json says, which outlive a reload of it */
        char *from;
        char *failed_phase; /* the phase the upgrade failed in */
        char *backup;
        char *snapshot; /* the snapshot database, or NULL */
        char *final_dump;
        char *restore_reason; /* why a full restore is needed, or NULL */

        cJSON *manifest; /* the backup's, once verified */
        DbState db;
        bool db_in_play;     /* a full restore reached the database */
        char *failed_db;     /* <db>_failed_<id> */
        char *source_db;     /* the snapshot, or <db>_restore_<id> */
        bool stores_touched; /* some store was overwritten from the backup … */
        bool stores_done;    /* … and all of them verified */
        bool old_runs;       /* the old release runs (its smoke test failed) */
        bool old_failed;     /* the old release did not come up, or failed its smoke test */
        bool late; /* by hand, after the upgrade succeeded (docs/architecture.md, "Late rollback") */
} Rollback;

static void rollback_done(Rollback *rb) {
        cJSON_Delete(rb->current);
        sd_bus_flush_close_unref(rb->bus);
        free(rb->why);
        free(rb->from);
        free(rb->failed_phase);
        free(rb->backup);
        free(rb->snapshot);
        free(rb->final_dump);
        free(rb->restore_reason);
        cJSON_Delete(rb->manifest);
        free(rb->failed_db);
        free(rb->source_db);
}

/* Log a failure of a step (one line) and keep the first one as the reason the rollback is held.
 * Returns -abs(error). */
_printf_(3, 4) static int rb_fail(Rollback *rb, int error, const char *fmt, ...) {
        char *msg = NULL;
        va_list ap;
        int r;

        error = abs(error) ?: EIO;
        errno = error; /* for %m */
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return log_oom();
        log_full(LOG_ERR, error, "%s", msg);
        if (!rb->why)
                rb->why = msg;
        else
                free(msg);
        return -error;
}

static int rb_oom(Rollback *rb) {
        return rb_fail(rb, ENOMEM, "Out of memory.");
}

static int rb_strdup(char **dst, const char *src) {
        free(*dst);
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

/* ---- current.json and the ledger ---- */

static int rb_save(Rollback *rb) {
        int r;

        r = current_save(rb->h->config.deployment, rb->current);
        if (r < 0)
                return rb_fail(rb, r, "Failed to write current.json: %m");
        return 0;
}

static int rb_set_number(Rollback *rb, const char *key, double value) {
        cJSON *n = isnan(value) ? cJSON_CreateNull() : cJSON_CreateNumber(value);

        if (!n)
                return -ENOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(rb->current, key);
        if (!cJSON_AddItemToObject(rb->current, key, n)) {
                cJSON_Delete(n);
                return -ENOMEM;
        }
        return 0;
}

/* after the lock was let go (migrate-watch and smoke take it for every change they make): take it
 * again and read current.json anew */
static int rb_relock(Rollback *rb) {
        _cleanup_json_ cJSON *c = NULL;
        int r;

        r = helper_lock(rb->h);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to take the state lock of deployment %s: %m",
                        rb->h->config.deployment);
        r = current_load(rb->h->config.deployment, &c);
        if (r < 0)
                return rb_fail(rb, r, "Failed to read current.json again: %m");
        if (!streq_ptr(json_get_string(c, "instance"), rb->h->instance))
                return rb_fail(
                        rb,
                        ESTALE,
                        "current.json now belongs to another upgrade (%s): stopping.",
                        strempty(json_get_string(c, "unit")));
        /* the phase helpers run for the rollback mark their own phase on entry */
        r = current_set_phase(c, "rollback");
        if (r < 0)
                return rb_oom(rb);
        cJSON_Delete(rb->current);
        rb->current = TAKE_PTR(c);
        return 0;
}

/* what the ledger keeps of current.json, besides id, from, to, started */
static const char *const carried[] = {
        "backup",         "snapshot",          "migrations",  "tree", "failed_database",
        "discarded_rows", "rollback_attempts", "held_reason", "late",
};

static int write_ledger(
        Helper *h, const cJSON *current, const char *result, const char *phase, const char *message) {
        _cleanup_json_ cJSON *e = cJSON_CreateObject(), *ledger = NULL;
        _cleanup_free_ char *now = current_timestamp(), *from = NULL;
        const char *f = json_get_string(current, "from");
        int r;

        if (!f && release_current_version(&from) >= 0)
                f = from;
        if (!e || !now || !cJSON_AddStringToObject(e, "id", strempty(json_get_string(current, "id"))) ||
            !cJSON_AddStringToObject(e, "from", strempty(f)) ||
            !cJSON_AddStringToObject(e, "to", h->version) || !cJSON_AddStringToObject(e, "result", result) ||
            !cJSON_AddStringToObject(e, "phase", phase) ||
            !cJSON_AddStringToObject(e, "started", json_get_string(current, "started") ?: now) ||
            !cJSON_AddStringToObject(e, "finished", now) || !cJSON_AddStringToObject(e, "message", message))
                return log_oom();
        for (size_t i = 0; i < ELEMENTSOF(carried); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(current, carried[i]);
                if (v && !cJSON_AddItemToObject(e, carried[i], cJSON_Duplicate(v, true)))
                        return log_oom();
        }

        r = ledger_append(h->config.deployment, TAKE_PTR(e));
        if (r < 0)
                return log_error_errno(
                        r, "Failed to write the ledger of deployment %s: %m", h->config.deployment);
        if (ledger_load(h->config.deployment, &ledger) >= 0)
                helper_export_ledger(&h->config, ledger);
        return 0;
}

/* the ledger already has this upgrade's entry with that result (a re-run after a crash between the
 * ledger and the removal of current.json, or of a held rollback) */
static bool ledger_has_entry(const char *deployment, const cJSON *current, const char *result) {
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *e;

        if (ledger_load(deployment, &ledger) < 0)
                return false;
        cJSON_ArrayForEach (e, ledger)
                if (streq_ptr(json_get_string(e, "to"), json_get_string(current, "to")) &&
                    streq_ptr(json_get_string(e, "id"), strempty(json_get_string(current, "id"))) &&
                    streq_ptr(json_get_string(e, "started"), json_get_string(current, "started")) &&
                    streq_ptr(json_get_string(e, "result"), result))
                        return true;
        return false;
}

/* the webhook: never with the lock held (a slow receiver must not block the state), never failing */
static void rollback_notify(Rollback *rb, const char *event, const char *detail) {
        _cleanup_json_ cJSON *fields = cJSON_CreateObject();
        bool relock = rb->h->lock_fd >= 0;

        if (!fields || !cJSON_AddStringToObject(fields, "from", strempty(rb->from)) ||
            !cJSON_AddStringToObject(fields, "failed_phase", strempty(rb->failed_phase)))
                return;
        if (detail &&
            !cJSON_AddStringToObject(fields, streq(event, "restored") ? "discarded_rows" : "reason", detail))
                return;
        helper_unlock(rb->h);
        helper_notify(rb->h, event, fields);
        if (relock)
                (void)helper_lock(rb->h);
}

/* ---- the shutdown inhibitor ---- */

static bool process_is_inhibitor(pid_t pid) {
        _cleanup_free_ char *path = NULL, *comm = NULL;

        if (asprintf(&path, "/proc/%d/comm", (int)pid) < 0)
                return false;
        return state_read_string(path, &comm) >= 0 && streq(comm, HELPER_INHIBITOR_NAME);
}

/* drain's holder usually died with the upgrade unit's control group; the pid is checked by name,
 * never a reused one */
static void end_inhibitor(const cJSON *current) {
        int64_t pid;

        if (json_get_int64_range(current, "inhibitor_pid", 2, INT_MAX, &pid) >= 0 &&
            process_is_inhibitor((pid_t)pid) && kill((pid_t)pid, SIGTERM) >= 0)
                log_info("Released the shutdown inhibitor (holder pid %" PRId64 ").", pid);
}

/* ---- the end: a result in the ledger, or held ---- */

/* rollback.d, once the result is known (a refusal changed nothing: no rollback, no hooks); a failing
 * hook is a warning only */
static void run_rollback_hooks(Rollback *rb, const char *result) {
        if (!streq(result, "refused"))
                (void)helper_run_hooks(rb->h, HOOKS_ROLLBACK, rb->current, result);
}

/* The ledger first, then current.json goes: a crash in between leaves "rollback_result", and the
 * next run only removes current.json. */
static int conclude(Rollback *rb, const char *result, const char *message) {
        int r;

        if (!streq_ptr(json_get_string(rb->current, "rollback_result"), result)) {
                if (current_set_string(rb->current, "rollback_result", result) < 0)
                        return log_oom();
                r = current_save(rb->h->config.deployment, rb->current);
                if (r < 0)
                        return log_error_errno(r, "Failed to write current.json: %m");
        }
        if (!ledger_has_entry(rb->h->config.deployment, rb->current, result)) {
                r = write_ledger(rb->h, rb->current, result, strempty(rb->failed_phase), message);
                if (r < 0)
                        return r;
        }
        r = current_remove(rb->h->config.deployment);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to remove current.json: %m");
        run_rollback_hooks(rb, result);
        return 0;
}

static bool pin_says(const char *deployment, const char *version) {
        _cleanup_free_ char *pin = paths_state_file(deployment, "pin"), *s = NULL;

        return pin && state_read_string(pin, &s) >= 0 && streq(s, version);
}

/* <db>_failed_<id> and the restore database's name (NULL with a snapshot): the upgrade's invocation
 * id, or, run by hand, the time this rollback first started */
static int compute_db_names(const Rollback *rb, char **ret_failed, char **ret_source) {
        const char *db = rb->h->config.db_name, *id = json_get_string(rb->current, "id");
        _cleanup_free_ char *digits = NULL, *failed = NULL, *source = NULL;
        size_t id_max = 12;
        int r;

        if (!id || !*id) {
                const char *started = strempty(json_get_string(rb->current, "rollback_started"));
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
        if (r >= 0 && !rb->snapshot)
                r = backup_manifest_db_name(db, "restore", id, id_max, &source);
        if (r < 0)
                return r;
        *ret_failed = TAKE_PTR(failed);
        *ret_source = TAKE_PTR(source);
        return 0;
}

/* rb NULL: a failure is not logged (the best-effort look of the held line) */
static int database_exists(Rollback *rb, const PgTarget *admin, const char *name, bool *ret) {
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

/* best effort, for the held line when this run did not get to the database: where an earlier attempt
 * left the swap */
static void probe_database(Rollback *rb) {
        _cleanup_free_ char *failed = NULL, *source = NULL;
        bool has_db, has_failed;
        PgTarget admin;

        if (rb->db_in_play || (!rb->restore_reason && rb->action != ACTION_RESTORE))
                return;
        if (compute_db_names(rb, &failed, &source) < 0 || helper_pg_target(rb->h, "postgres", &admin) < 0)
                return;
        if (database_exists(NULL, &admin, rb->h->config.db_name, &has_db) < 0 ||
            database_exists(NULL, &admin, rb->failed_db ?: failed, &has_failed) < 0 || !has_failed)
                return;
        rb->db_in_play = true;
        rb->db = has_db ? DB_SWAPPED : DB_RENAMED_AWAY;
        if (!rb->failed_db)
                rb->failed_db = TAKE_PTR(failed);
        if (!rb->source_db)
                rb->source_db = rb->snapshot ? strdup(rb->snapshot) : TAKE_PTR(source);
}

/* best effort, for the held line: the server unit is running or starting */
static bool server_is_up(Rollback *rb) {
        _cleanup_free_ char *active = NULL, *sub = NULL;

        if (!rb->bus && bus_open_system(&rb->bus) < 0)
                return false;
        if (bus_unit_get_state(rb->bus, rb->h->config.server_unit, &active, &sub) < 0)
                return false;
        return streq(active, "active") || streq(active, "activating") || streq(active, "reloading");
}

/* exactly what is left to do by hand, from what this run knows and what the disk says */
/* a migration of the upgrade was applied, or may have been (the data is not the old release's any more) */
static bool migrated(const Rollback *rb) {
        const cJSON *m;

        cJSON_ArrayForEach (m, cJSON_GetObjectItemCaseSensitive(rb->current, "migrations"))
                if (!streq_ptr(json_get_string(m, "state"), "pending"))
                        return true;
        return false;
}

/* the database's recorded owner, from the backup's manifest (a copy: the manifest may not be loaded) */
static char *backup_database_owner(const Rollback *rb) {
        _cleanup_free_ char *path = NULL;
        _cleanup_json_ cJSON *manifest = NULL;
        const char *owner;

        if (rb->manifest)
                owner = json_get_string(cJSON_GetObjectItemCaseSensitive(rb->manifest, "database"), "owner");
        else {
                if (!rb->backup || asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, rb->backup) < 0 ||
                    state_read_json(path, &manifest) < 0)
                        return NULL;
                owner = json_get_string(cJSON_GetObjectItemCaseSensitive(manifest, "database"), "owner");
        }
        return owner ? strdup(owner) : NULL;
}

static char *held_instructions(Rollback *rb) {
        _cleanup_free_ char *buf = NULL, *running = NULL, *pin = NULL, *failed = NULL, *source = NULL,
                            *owner = NULL, *owner_step = NULL;
        bool need_restore;
        const char *failed_name = rb->failed_db;
        _cleanup_fclose_ FILE *f = NULL;
        const char *db = rb->h->config.db_name, *unit = rb->h->config.server_unit;
        size_t size = 0;

        f = open_memstream(&buf, &size);
        pin = paths_state_file(rb->h->config.deployment, "pin");
        if (!f || !pin)
                return NULL;

        /* a server left running the failed version (Rollback=none, or held before the stop) */
        if (!rb->old_runs && server_is_up(rb))
                fprintf(f, "stop the server first (systemctl stop %s); ", unit);

        /* the release and the pin */
        (void)release_current_version(&running);
        if (!rb->from)
                fprintf(f, "current.json names no version to go back to; ");
        else if (streq_ptr(running, rb->from) && pin_says(rb->h->config.deployment, rb->from))
                fprintf(f, "%s/current and the pin already name %s; ", paths_install_root(), rb->from);
        else
                fprintf(f,
                        "point %s/current back at %s (ln -sfn releases/%s %s/current) "
                        "and pin it (echo %s >%s); ",
                        paths_install_root(),
                        rb->from,
                        rb->from,
                        paths_install_root(),
                        rb->from,
                        pin);

        /* the database: a full restore is needed when the table said so, and also when the old release
         * could not run on the data the new one's migrations changed (a migration declared
         * non-breaking that was not) */
        need_restore =
                rb->restore_reason || rb->action == ACTION_RESTORE || (rb->old_failed && migrated(rb));
        owner = backup_database_owner(rb);
        if (owner && asprintf(&owner_step, "; ALTER DATABASE \"%s\" OWNER TO \"%s\"", db, owner) < 0)
                owner_step = NULL;
        if (!need_restore)
                fprintf(f, "database %s was not touched (no restore is needed); ", db);
        else if (!rb->db_in_play || rb->db == DB_UNTOUCHED) {
                if (!rb->failed_db && compute_db_names(rb, &failed, &source) >= 0)
                        failed_name = failed;
                fprintf(f, "database %s was not touched", db);
                if (!rb->restore_reason && rb->action != ACTION_RESTORE)
                        fprintf(f,
                                ", but %s may not run on the data %s's migrations changed",
                                strempty(rb->from),
                                rb->h->version);
                if (rb->snapshot)
                        fprintf(f,
                                " (a full restore is needed: as %s, ALTER DATABASE \"%s\" RENAME TO "
                                "\"%s\"; ALTER DATABASE \"%s\" RENAME TO \"%s\"%s); ",
                                rb->h->config.db_os_user,
                                db,
                                failed_name ?: "<db>_failed_<id>",
                                rb->snapshot,
                                db,
                                strempty(owner_step));
                else
                        fprintf(f,
                                " (a full restore is needed from %s/%s); ",
                                strempty(rb->backup),
                                rb->final_dump ? BACKUP_MANIFEST_FINAL_DUMP : BACKUP_MANIFEST_DUMP);
        } else if (rb->db == DB_RENAMED_AWAY)
                fprintf(f,
                        "the database swap is half done: %s is renamed to %s, finish it as %s with ALTER "
                        "DATABASE \"%s\" RENAME TO \"%s\"%s; ",
                        db,
                        strempty(rb->failed_db),
                        rb->h->config.db_os_user,
                        strempty(rb->source_db),
                        db,
                        strempty(owner_step));
        else
                fprintf(f,
                        "the database swap is done: %s is the restored copy, the failed one is kept as "
                        "%s; ",
                        db,
                        strempty(rb->failed_db));

        /* the stores */
        if (rb->stores_touched && !rb->stores_done)
                fprintf(f,
                        "the stores are partly put back: rsync -a --delete %s/stores<store>/ <store>/ for "
                        "each store; ",
                        strempty(rb->backup));
        else if (need_restore && !rb->stores_done)
                fprintf(f,
                        "the stores were not put back: once the backup is sound, rsync -a --delete "
                        "%s/stores<store>/ <store>/ for each store; ",
                        strempty(rb->backup));

        /* the server */
        if (rb->old_runs)
                fprintf(f,
                        "%s runs %s but failed its smoke test: look into it (journalctl -u %s), or stop "
                        "it; ",
                        unit,
                        strempty(rb->from),
                        unit);
        else
                fprintf(f, "then: systemctl start %s; ", unit);
        fprintf(f, "check with: codebolt-upgrade status");

        if (fclose(TAKE_PTR(f)) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

/* "FIELD=value" for log_event(), or NULL (a field left out) */
static char *event_field(const char *field, const char *value) {
        char *s;

        if (!value || asprintf(&s, "%s=%s", field, value) < 0)
                return NULL;
        return s;
}

/* Rollback table, last row: stop trying. current.json stays, saying held and what is left to do by
 * hand; the ledger says held once. */
static int stop_server(Rollback *rb);

static int hold(Rollback *rb) {
        _cleanup_free_ char *steps = NULL, *from = NULL, *reason = NULL;
        int r;

        if (!rb->why && !(rb->why = strdup("an unexpected error (see above)")))
                return log_oom();
        /* held means stopped or on the old release: a server left on the failed one would run its
         * migrations again at every Restart=. At boot the server is left as it is (docs/architecture.md,
         * "Recovery after a crash"). */
        if (!rb->old_runs && arg_mode != MODE_RECOVER && stop_server(rb) < 0)
                log_warning(
                        "Failed to stop %s: stop it by hand before anything else.",
                        rb->h->config.server_unit);
        probe_database(rb);
        steps = held_instructions(rb);
        from = event_field("CODEBOLT_UPGRADE_FROM", rb->from);
        reason = event_field("CODEBOLT_UPGRADE_REASON", rb->why);
        char *fields[] = { reason, from, NULL };
        log_event(
                LOG_CRIT,
                MESSAGE_HELD,
                reason ? fields : NULL,
                "The rollback of the upgrade %s → %s is held: %s. To finish by hand: %s.",
                strempty(rb->from),
                rb->h->version,
                rb->why,
                steps ?: "see codebolt-upgrade status");
        rollback_notify(rb, "held", rb->why);

        r = helper_lock(rb->h);
        if (r < 0)
                return log_error_errno(r, "Failed to take the state lock to record the held state: %m"), 1;
        if (current_set_bool(rb->current, "held", true) < 0 ||
            current_set_string(rb->current, "held_reason", rb->why) < 0 ||
            current_set_string(rb->current, "held_instructions", steps) < 0 ||
            current_set_phase(rb->current, "rollback") < 0)
                return log_oom(), 1;
        r = current_save(rb->h->config.deployment, rb->current);
        if (r < 0)
                log_error_errno(r, "Failed to record the held state in current.json: %m");
        if (!ledger_has_entry(rb->h->config.deployment, rb->current, "held"))
                (void)write_ledger(rb->h, rb->current, "held", strempty(rb->failed_phase), rb->why);
        run_rollback_hooks(rb, "held");
        log_status("rollback: held (%s)", rb->why);
        return 1;
}

/* ---- deciding ---- */

static int load_facts(Rollback *rb) {
        const cJSON *c = rb->current;

        if (rb_strdup(&rb->from, json_get_string(c, "from")) < 0 ||
            rb_strdup(&rb->backup, json_get_string(c, "backup")) < 0 ||
            rb_strdup(&rb->snapshot, json_get_string(c, "snapshot")) < 0 ||
            rb_strdup(&rb->final_dump, json_get_string(c, "final_dump")) < 0 ||
            rb_strdup(&rb->failed_db, json_get_string(c, "failed_database")) < 0 ||
            current_restore_reason(c, &rb->restore_reason) < 0)
                return -ENOMEM;
        rb->late = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "late"));
        return 0;
}

/* The phase the upgrade failed in. current.json's "phase" names the one a helper entered; a helper
 * killed before it could mark its own phase leaves the previous one there, already done: then the
 * failure was in the next phase of the unit. */
static const char *failed_phase_of(const cJSON *current) {
        static const char *const order[] = {
                "preflight", "stage", "backup", "drain", "snapshot", "switch", "migrate", "smoke", "finish",
        };
        const char *phase = json_get_string(current, "phase");

        if (!phase || !current_phase_is_done(current, phase))
                return phase;
        for (size_t i = 0; i + 1 < ELEMENTSOF(order); i++)
                if (streq(order[i], phase))
                        return order[i + 1];
        return phase;
}

static Action decide_action(Rollback *rb) {
        const cJSON *c = rb->current;
        bool new_version_ran;

        if (streq_ptr(rb->failed_phase, "preflight") && !current_phase_is_done(c, "preflight"))
                return ACTION_REFUSE;
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "server_stopped")))
                return ACTION_ABORT;

        /* from the switch on, migrate-watch may have started the new version on the data */
        new_version_ran = current_phase_is_done(c, "switch") || json_get_string(c, "server_invocation");

        switch (rb->h->config.rollback) {
        case ROLLBACK_NONE:
                if (rb->restore_reason)
                        rb_fail(rb,
                                ECANCELED,
                                "[Policy] Rollback=none: nothing is rolled back automatically (a full "
                                "restore would be needed: %s)",
                                rb->restore_reason);
                else
                        rb_fail(rb,
                                ECANCELED,
                                "[Policy] Rollback=none: nothing is rolled back automatically (a minor "
                                "rollback would do)");
                return ACTION_HOLD;
        case ROLLBACK_MINOR_ONLY:
                if (!rb->restore_reason)
                        return ACTION_MINOR;
                rb_fail(rb,
                        ECANCELED,
                        "[Policy] Rollback=minor-only, but a full restore is needed: %s",
                        rb->restore_reason);
                return ACTION_HOLD;
        case ROLLBACK_RESTORE_ALWAYS:
                if (rb->restore_reason || new_version_ran)
                        return ACTION_RESTORE;
                log_notice(
                        "[Policy] Rollback=restore-always, but %s never ran on the data (the upgrade failed "
                        "in %s, before the switch): a minor rollback puts everything back.",
                        rb->h->version,
                        strempty(rb->failed_phase));
                return ACTION_MINOR;
        case ROLLBACK_AUTO:
        default:
                return rb->restore_reason ? ACTION_RESTORE : ACTION_MINOR;
        }
}

static Action action_from_string(const char *s) {
        for (size_t i = 0; i < _ACTION_MAX; i++)
                if (streq_ptr(s, action_names[i]))
                        return (Action)i;
        return _ACTION_MAX;
}

/* the attempts current.json counts: 0 when none; a count that is no whole number in range is taken as
 * exhausted, never as none (and n + 1 stays an int) */
static int attempts_of(const cJSON *current, const char *key) {
        int64_t n;
        int r;

        r = json_get_int64_range(current, key, 0, INT_MAX - 1, &n);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? INT_MAX - 1 : (int)n;
}

/* Decide once, from current.json alone, and record it: a resumed rollback (phase "rollback") goes on
 * with the first run's decision, counting the attempts. */
static int decide(Rollback *rb) {
        const char *recorded = json_get_string(rb->current, "rollback_action");
        _cleanup_free_ char *now = current_timestamp();
        int n = attempts_of(rb->current, "rollback_attempts");

        if (!now || load_facts(rb) < 0)
                return rb_oom(rb);

        if (recorded && action_from_string(recorded) < ACTION_HOLD) {
                rb->action = action_from_string(recorded);
                if (rb_strdup(&rb->failed_phase, json_get_string(rb->current, "rollback_from_phase")) < 0)
                        return rb_oom(rb);
                if (n > 0)
                        log_notice(
                                "Resuming the interrupted rollback of the upgrade to %s (attempt %d): %s.",
                                rb->h->version,
                                n + 1,
                                recorded);
        } else {
                if (rb_strdup(&rb->failed_phase, failed_phase_of(rb->current)) < 0)
                        return rb_oom(rb);
                rb->action = decide_action(rb);
                if (rb->action == ACTION_REFUSE)
                        return 0; /* nothing to record: current.json goes at once */
                if (rb->action == ACTION_HOLD)
                        /* hold() saves it */
                        return current_set_string(rb->current, "rollback_from_phase", rb->failed_phase) < 0
                                       ? rb_oom(rb)
                                       : 0;
                if (current_set_string(rb->current, "rollback_from_phase", rb->failed_phase) < 0 ||
                    current_set_string(rb->current, "rollback_action", action_names[rb->action]) < 0 ||
                    current_set_string(rb->current, "rollback_started", now) < 0)
                        return rb_oom(rb);
        }
        if (rb_set_number(rb, "rollback_attempts", n + 1) < 0 ||
            current_set_phase(rb->current, "rollback") < 0)
                return rb_oom(rb);
        return rb_save(rb);
}

/* ---- the server unit ---- */

static int rb_bus(Rollback *rb, sd_bus **ret) {
        int r;

        if (!rb->bus) {
                r = bus_open_system(&rb->bus);
                if (r < 0)
                        return rb_fail(rb, r, "Failed to connect to the system bus: %m");
        }
        *ret = rb->bus;
        return 0;
}

static usec_t add_timeouts(usec_t a, usec_t b) {
        return a == USEC_INFINITY || b == USEC_INFINITY || a > USEC_INFINITY - 1 - b ? USEC_INFINITY : a + b;
}

/* stop it and wait: the new version may be running, or restarting after a crash (Restart=) */
static int stop_server(Rollback *rb) {
        _cleanup_free_ char *result = NULL, *error = NULL, *active = NULL, *sub = NULL;
        const char *unit = rb->h->config.server_unit;
        sd_bus *bus = NULL;
        int r;

        r = rb_bus(rb, &bus);
        if (r < 0)
                return r;
        log_status("rollback: stopping %s", unit);
        r = bus_stop_unit(bus, unit, helper_deadline(rb->h->config.timeout_drain), &result, &error);
        if (helper_cancelled)
                return rb_fail(
                        rb,
                        ECANCELED,
                        "Stopped by signal %d while stopping %s.",
                        (int)helper_cancelled,
                        unit);
        if (r < 0)
                return rb_fail(rb, r, "Failed to stop %s: %s", unit, error ?: strerror(-r));
        if (!streq(result, "done"))
                return rb_fail(
                        rb,
                        bus_job_result_to_errno(result) ?: EIO,
                        "Stopping %s ended with job result '%s'.",
                        unit,
                        result);
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r < 0)
                return rb_fail(rb, r, "Failed to read the state of %s after stopping it: %m", unit);
        if (!streq(active, "inactive") && !streq(active, "failed"))
                return rb_fail(
                        rb, EBUSY, "%s is %s (%s) after its stop job, not stopped.", unit, active, sub);
        log_info("%s is stopped.", unit);
        return 0;
}

/* the drain told the server to take no new runs, and the upgrade failed before stopping it: a restart
 * brings it back taking runs (the stop waits for the runs in flight, as drain would have) */
static int undo_drain(Rollback *rb) {
        _cleanup_free_ char *active = NULL, *sub = NULL, *url = NULL, *result = NULL, *error = NULL;
        const char *unit = rb->h->config.server_unit;
        long status = 0;
        sd_bus *bus = NULL;
        int r;

        r = rb_bus(rb, &bus);
        if (r < 0)
                return r;
        r = bus_unit_get_state(bus, unit, &active, &sub);
        if (r < 0)
                return rb_fail(rb, r, "Failed to read the state of %s: %m", unit);
        if (!streq(active, "active")) {
                log_notice("%s is %s (%s): there is no drain to undo.", unit, active, sub);
                return 0;
        }
        url = helper_server_url(rb->h, "/health");
        if (!url)
                return rb_oom(rb);
        if (http_get_json(url, NULL, HEALTH_TIMEOUT, &status, NULL, NULL) >= 0 && status == 200) {
                log_info("%s answers /health with 200: it was not draining, nothing to undo.", unit);
                return 0;
        }

        log_status("rollback: restarting %s, which was told to take no new agent runs", unit);
        /* a start of the server is never made under the lock (its start condition may read the state) */
        helper_unlock(rb->h);
        r = helper_starting_begin(rb->h);
        if (r < 0)
                return rb_fail(rb, r, "Failed to let the restart of %s through its start condition.", unit);
        r = bus_restart_unit(
                bus,
                unit,
                helper_deadline(add_timeouts(rb->h->config.timeout_drain, rb->h->config.timeout_ready)),
                &result,
                &error);
        helper_starting_end(rb->h);
        if (r < 0)
                return rb_fail(
                        rb, r, "Failed to restart %s to undo the drain: %s", unit, error ?: strerror(-r));
        if (!streq(result, "done"))
                return rb_fail(
                        rb,
                        bus_job_result_to_errno(result) ?: EIO,
                        "Restarting %s to undo the drain ended with job result '%s' (journalctl -u %s says "
                        "why).",
                        unit,
                        result,
                        unit);
        /* the job is done once the process runs; the drain is undone once the server answers again */
        for (usec_t until = helper_deadline(rb->h->config.timeout_ready);;) {
                if (http_get_json(url, NULL, HEALTH_TIMEOUT, &status, NULL, NULL) >= 0 && status == 200)
                        break;
                if (now_monotonic() >= until || helper_cancelled) {
                        log_warning(
                                "%s was restarted but does not answer /health with 200 within [Timeouts] "
                                "Ready=: see journalctl -u %s.",
                                unit,
                                unit);
                        break;
                }
                (void)usleep(USEC_PER_SEC / 4);
        }
        r = rb_relock(rb);
        if (r < 0)
                return r;
        if (status == 200)
                log_notice("Restarted %s: it answers /health and takes agent runs again.", unit);
        return 0;
}

/* ---- the release and the pin ---- */

static int switch_back(Rollback *rb) {
        _cleanup_free_ char *pin = paths_state_file(rb->h->config.deployment, "pin"), *content = NULL;
        int r;

        if (!rb->from)
                return rb_fail(rb, EINVAL, "current.json records no version to go back to.");
        if (!pin || asprintf(&content, "%s\n", rb->from) < 0)
                return rb_oom(rb);

        log_status(
                "rollback: pinning %s and pointing %s/current back at it", rb->from, paths_install_root());
        r = state_write_string_atomic(pin, content, 0644);
        if (r < 0)
                return rb_fail(rb, r, "Failed to write the pin %s: %m", pin);
        r = release_switch(rb->from);
        if (r == -ENOENT)
                return rb_fail(rb, r, "The release %s to go back to is not installed any more.", rb->from);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to point %s/current at releases/%s: %m",
                        paths_install_root(),
                        rb->from);

        if (current_set_bool(rb->current, "rollback_switched_back", true) < 0)
                return rb_oom(rb);
        r = rb_save(rb);
        if (r < 0)
                return r;
        log_info("Pinned %s and pointed %s/current back at it.", rb->from, paths_install_root());
        return 0;
}

/* ---- migrate-watch --rollback and smoke --rollback ---- */

/* they run in this unit's control group and log into its journal; they find current.json by the
 * instance, so they need no invocation id, and they send no STATUS= (this unit accepts none from them) */
static int child_env(char ***ret) {
        static const char *const passed[] = { "CODEBOLT_DEPLOYMENT",
                                              "CODEBOLT_UPGRADE_ROOT",
                                              "CODEBOLT_UPGRADE_LOG_LEVEL" };
        _cleanup_strv_free_ char **env = NULL;
        size_t n = 0;
        int r;

        r = spawn_env_push(&env, &n, "PATH=%s", getenv("PATH") ?: "/usr/sbin:/usr/bin:/sbin:/bin");
        if (r >= 0)
                r = spawn_env_push(&env, &n, "LANG=%s", getenv("LANG") ?: "C.UTF-8");
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(passed); i++)
                if (getenv(passed[i]))
                        r = spawn_env_push(&env, &n, "%s=%s", passed[i], getenv(passed[i]));
        if (r >= 0 && log_get_target() == LOG_TARGET_JOURNAL)
                r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_LOG=journal");
        else if (r >= 0 && getenv("CODEBOLT_UPGRADE_LOG"))
                r = spawn_env_push(&env, &n, "CODEBOLT_UPGRADE_LOG=%s", getenv("CODEBOLT_UPGRADE_LOG"));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

static int run_phase_helper(Rollback *rb, const char *name, int *ret_status) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, LIBEXECDIR "/%s", name) < 0 || child_env(&env) < 0)
                return rb_oom(rb);
        char *argv[] = { path, (char *)"--rollback", rb->h->instance, NULL };
        SpawnOptions o = { .env = env, .phase = "rollback", .log_identifier = name };
        r = spawn_run(argv, &o, ret_status);
        if (r == -ECANCELED)
                return rb_fail(rb, r, "Stopped by signal %d while %s ran.", (int)helper_cancelled, name);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run %s: %m", path);
        return 0;
}

/* start the old release and watch it come up, then smoke-test it */
static int start_and_smoke(Rollback *rb) {
        const char *unit = rb->h->config.server_unit;
        int status = 0, r;

        /* they take the lock for every change of current.json */
        helper_unlock(rb->h);

        log_status("rollback: starting %s on %s", unit, rb->from);
        r = run_phase_helper(rb, "migrate-watch", &status);
        if (r >= 0 && status != 0) {
                rb->old_failed = true;
                r = rb_fail(
                        rb,
                        EIO,
                        "%s did not come up on %s after the rollback (migrate-watch --rollback exited "
                        "with status %d; journalctl -u %s says why)",
                        unit,
                        rb->from,
                        status,
                        unit);
        }
        if (r < 0) {
                int k = rb_relock(rb);
                /* a server that cannot start stays stopped, rather than restart in a loop */
                if (k >= 0 && !helper_cancelled)
                        (void)stop_server(rb);
                return r;
        }

        log_status("rollback: smoke-testing %s", rb->from);
        r = run_phase_helper(rb, "smoke", &status);
        if (r >= 0 && status != 0) {
                rb->old_runs = true;
                rb->old_failed = true;
                r = rb_fail(
                        rb,
                        EIO,
                        "the smoke test of %s failed after the rollback (smoke --rollback exited with "
                        "status %d; its own messages in the journal say why)",
                        rb->from,
                        status);
        }
        if (r < 0) {
                (void)rb_relock(rb);
                return r;
        }
        return rb_relock(rb);
}

/* ---- the backup ---- */

static cJSON *object_or_empty(const cJSON *o, const char *key, cJSON **owned) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);

        if (cJSON_IsObject(m))
                return m;
        *owned = cJSON_CreateObject();
        return *owned;
}

/* before anything is dropped: the backup is still exactly what its manifest says */
static int verify_backup(Rollback *rb) {
        _cleanup_free_ char *path = NULL, *bad = NULL;
        _cleanup_json_ cJSON *files = NULL, *links = NULL, *no_links = NULL;
        const cJSON *want_files, *want_links;
        BackupTreeStats stats = {};
        int r;

        if (!rb->backup)
                return rb_fail(rb, ENOENT, "current.json names no backup to restore from");
        log_status("rollback: verifying the backup %s", rb->backup);

        if (asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, rb->backup) < 0)
                return rb_oom(rb);
        r = state_read_json(path, &rb->manifest);
        if (r < 0)
                return rb_fail(rb, r, "Failed to read the backup's manifest %s: %m", path);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb->manifest, "verified")))
                return rb_fail(
                        rb,
                        EBADMSG,
                        "the backup %s is not marked verified: refusing to restore from it",
                        rb->backup);
        want_files = cJSON_GetObjectItemCaseSensitive(rb->manifest, "files");
        want_links = object_or_empty(rb->manifest, "symlinks", &no_links);
        if (!cJSON_IsObject(want_files) || !want_links)
                return rb_fail(rb, EBADMSG, "the backup manifest %s lists no files", path);

        r = backup_manifest_hash_tree(rb->backup, NULL, BACKUP_HASH_SKIP_MANIFEST, &files, &links, &stats);
        if (r < 0)
                return rb_fail(rb, r, "Failed to compute the checksums of the backup %s: %m", rb->backup);
        r = backup_manifest_compare(want_files, files, &bad);
        if (r == -EBADMSG)
                return rb_fail(
                        rb,
                        r,
                        "the backup file %s/%s is missing, extra or changed since it was verified: refusing "
                        "to restore from it",
                        rb->backup,
                        strempty(bad));
        if (r >= 0)
                r = backup_manifest_compare(want_links, links, &bad);
        if (r == -EBADMSG)
                return rb_fail(
                        rb,
                        r,
                        "the backup's symlink %s/%s differs from its manifest: refusing to restore from it",
                        rb->backup,
                        strempty(bad));
        if (r < 0)
                return rb_fail(rb, r, "Failed to compare the backup's checksums: %m");
        log_info(
                "Backup %s verified again: %llu files match their checksums.",
                rb->backup,
                (unsigned long long)stats.files);
        return 0;
}

/* the row counts the restore brings back: those at the stop (snapshot, final dump), else the backup's */
static const cJSON *restored_counts(Rollback *rb, bool *ret_at_stop) {
        const cJSON *at_stop = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_at_stop");
        bool use_stop = (rb->snapshot || rb->final_dump) && cJSON_IsObject(at_stop);

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

/* the rows the live database has beyond what the restore brings back; NAN when they cannot be counted */
static double count_discarded(Rollback *rb) {
        _cleanup_json_ cJSON *live = NULL;
        _cleanup_free_ char *error = NULL;
        const cJSON *restored = restored_counts(rb, NULL), *m;
        double discarded = 0;
        PgTarget target;
        int r;

        if (helper_pg_target(rb->h, rb->h->config.db_name, &target) < 0)
                return NAN;
        r = pg_table_row_counts(&target, &live, &error);
        if (r < 0) {
                log_warning_errno(
                        r,
                        "Failed to count the rows of database %s (%s): how many rows a restore discards is "
                        "not known.",
                        rb->h->config.db_name,
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
static int record_discarded(Rollback *rb) {
        double discarded;
        bool at_stop;
        int r;

        if (cJSON_GetObjectItemCaseSensitive(rb->current, "discarded_rows"))
                return 0; /* counted by an earlier attempt, before anything was dropped */

        (void)restored_counts(rb, &at_stop);
        discarded = count_discarded(rb);
        if (rb_set_number(rb, "discarded_rows", discarded) < 0)
                return rb_oom(rb);
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

/* ---- the database ---- */

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

/* the snapshot holds exactly what the database held when the server stopped */
static int check_snapshot(Rollback *rb) {
        _cleanup_json_ cJSON *counts = NULL;
        _cleanup_free_ char *error = NULL, *why = NULL;
        const cJSON *expected = cJSON_GetObjectItemCaseSensitive(rb->manifest, "tables_at_stop");
        PgTarget target;
        int r;

        if (!cJSON_IsObject(expected))
                return rb_fail(
                        rb,
                        EBADMSG,
                        "the backup manifest has no row counts at the stop (tables_at_stop): the "
                        "snapshot %s cannot be checked",
                        rb->snapshot);
        log_status("rollback: checking the snapshot %s", rb->snapshot);
        if (helper_pg_target(rb->h, rb->snapshot, &target) < 0)
                return rb_oom(rb);
        r = pg_table_row_counts(&target, &counts, &error);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to count the rows of the snapshot %s: %s",
                        rb->snapshot,
                        error ?: strerror(-r));
        r = counts_differ(expected, counts, NULL, &why);
        if (r < 0)
                return rb_oom(rb);
        if (r > 0)
                return rb_fail(
                        rb,
                        EBADMSG,
                        "the snapshot %s does not hold what the database held at the stop (%s): "
                        "refusing to restore it",
                        rb->snapshot,
                        why);
        log_info(
                "Snapshot %s holds the %d tables of the stop with their rows.",
                rb->snapshot,
                cJSON_GetArraySize(expected));
        return 0;
}

/* Snapshot=dump or none: the dump restored into a fresh <db>_restore_<id> from template0 with the
 * recorded owner and properties, and checked against the manifest's row counts */
static int restore_dump(Rollback *rb, const PgTarget *admin) {
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
        rb->source_db = rb->snapshot ? strdup(rb->snapshot) : TAKE_PTR(source);
        return rb->source_db ? 0 : rb_oom(rb);
}

static int record_failed_database(Rollback *rb) {
        if (streq_ptr(json_get_string(rb->current, "failed_database"), rb->failed_db))
                return 0;
        if (current_set_string(rb->current, "failed_database", rb->failed_db) < 0)
                return rb_oom(rb);
        return rb_save(rb);
}

/* The restored database takes the place of <db> under its name; the failed one is kept as
 * <db>_failed_<id>. Where a crashed attempt left it is read from the catalog. */
static int restore_database(Rollback *rb) {
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
                if (rb->snapshot) {
                        if (!has_source)
                                return rb_fail(
                                        rb,
                                        ENOENT,
                                        "the snapshot %s named in current.json does not exist: there "
                                        "is no restore point",
                                        rb->snapshot);
                        r = check_snapshot(rb);
                } else
                        r = restore_dump(rb, &admin);
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

/* ---- the stores and the config ---- */

/* the members of o whose key starts with prefix */
static int manifest_subset(const cJSON *o, const char *prefix, cJSON **ret) {
        _cleanup_json_ cJSON *s = cJSON_CreateObject();
        const cJSON *m;

        if (!s)
                return -ENOMEM;
        cJSON_ArrayForEach (m, o)
                if (m->string && startswith(m->string, prefix) &&
                    !cJSON_AddItemToObject(s, m->string, cJSON_Duplicate(m, true)))
                        return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

/* after rsync -a as root: nothing differs from the copy, in content, owner, group, mode or time (a
 * dry run that itemizes what it would change says nothing) */
static int store_matches_copy(Rollback *rb, const char *copy, const char *live) {
        _cleanup_free_ char *s = NULL, *d = NULL, *out = NULL;
        int status = 0, r;

        if (asprintf(&s, "%s/", copy) < 0 || asprintf(&d, "%s/", live) < 0)
                return rb_oom(rb);
        char *argv[] = { (char *)"rsync",
                         (char *)"-a",
                         (char *)"--delete",
                         (char *)"--dry-run",
                         (char *)"--itemize-changes",
                         s,
                         d,
                         NULL };
        SpawnOptions o = { .log_identifier = "rsync", .ret_stdout = &out };
        r = spawn_run(argv, &o, &status);
        if (r == -EFBIG)
                return rb_fail(
                        rb,
                        EBADMSG,
                        "store %s still differs from the backup's copy after the restore (rsync --dry-run "
                        "listed more than %d MiB of changes)",
                        live,
                        SPAWN_CAPTURE_MAX_MIB);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run rsync --dry-run for %s: %m", live);
        if (status != 0)
                return rb_fail(
                        rb,
                        EPROTO,
                        "rsync --dry-run of %s to %s failed with exit status %d",
                        copy,
                        live,
                        status);
        if (out && *out) {
                out[strcspn(out, "\n")] = 0;
                return rb_fail(
                        rb,
                        EBADMSG,
                        "store %s still differs from the backup's copy after the restore (rsync: %s)",
                        live,
                        out);
        }
        return 0;
}

static int restore_store(Rollback *rb, const char *store) {
        _cleanup_free_ char *live = paths_rooted(store), *copy = NULL, *prefix = NULL, *bad = NULL;
        _cleanup_json_ cJSON *want = NULL, *want_links = NULL, *got = NULL, *got_links = NULL;
        const cJSON *links = cJSON_GetObjectItemCaseSensitive(rb->manifest, "symlinks");
        struct stat st;
        int status = 0, r;

        if (!live)
                return rb_oom(rb);
        r = backup_manifest_copy_path(rb->backup, BACKUP_MANIFEST_STORES, store, &copy);
        if (r < 0)
                return rb_fail(rb, r, "The manifest's store %s cannot be put back: %m", store);
        if (stat(copy, &st) < 0 || !S_ISDIR(st.st_mode))
                return rb_fail(rb, ENOENT, "the backup has no copy of the store %s (%s)", store, copy);
        /* relative to the backup, with a trailing slash so /a/b never takes /a/bc's entries */
        if (asprintf(&prefix, "%s/", copy + strlen(rb->backup) + 1) < 0)
                return rb_oom(rb);

        log_status("rollback: putting back %s", store);
        rb->stores_touched = true;
        r = backup_manifest_rsync(copy, live, true, &status);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run rsync to put back %s: %m", live);
        if (status != 0)
                return rb_fail(
                        rb,
                        EPROTO,
                        "rsync of %s to %s failed with exit status %d (its messages are above)",
                        copy,
                        live,
                        status);

        /* the live store against the manifest's checksums: nothing missing, nothing extra, every hash */
        if (manifest_subset(cJSON_GetObjectItemCaseSensitive(rb->manifest, "files"), prefix, &want) < 0 ||
            manifest_subset(links, prefix, &want_links) < 0)
                return rb_oom(rb);
        r = backup_manifest_hash_tree(live, prefix, 0, &got, &got_links, NULL);
        if (r < 0)
                return rb_fail(rb, r, "Failed to compute the checksums of %s: %m", live);
        r = backup_manifest_compare(want, got, &bad);
        if (r >= 0)
                r = backup_manifest_compare(want_links, got_links, &bad);
        if (r == -EBADMSG)
                return rb_fail(
                        rb,
                        r,
                        "store %s differs from the backup's manifest at %s after the restore",
                        live,
                        strempty(bad));
        if (r < 0)
                return rb_fail(rb, r, "Failed to compare the checksums of %s: %m", live);

        r = store_matches_copy(rb, copy, live);
        if (r < 0)
                return r;
        log_info(
                "Put back %s: %d files match the manifest's checksums, owners and modes as in the backup.",
                live,
                cJSON_GetArraySize(want));
        return 0;
}

static int restore_config_file(Rollback *rb, const char *path) {
        _cleanup_free_ char *live = paths_rooted(path), *copy = NULL, *hex = NULL;
        const char *want;
        struct stat a, b;
        int status = 0, r;

        if (!live)
                return rb_oom(rb);
        r = backup_manifest_copy_path(rb->backup, BACKUP_MANIFEST_CONFIG, path, &copy);
        if (r < 0)
                return rb_fail(rb, r, "The manifest's config file %s cannot be put back: %m", path);
        want = json_get_string(
                cJSON_GetObjectItemCaseSensitive(rb->manifest, "files"), copy + strlen(rb->backup) + 1);
        if (!want)
                return rb_fail(rb, ENOENT, "the backup manifest has no checksum of %s", copy);

        r = backup_manifest_rsync(copy, live, false, &status);
        if (r < 0)
                return rb_fail(rb, r, "Failed to run rsync to put back %s: %m", live);
        if (status != 0)
                return rb_fail(
                        rb, EPROTO, "rsync of %s to %s failed with exit status %d", copy, live, status);
        r = hash_sha256_file(live, &hex);
        if (r < 0)
                return rb_fail(rb, r, "Failed to compute the checksum of %s: %m", live);
        if (!streq(hex, want))
                return rb_fail(rb, EBADMSG, "%s differs from the backup's checksum after the restore", live);
        if (stat(copy, &a) < 0 || stat(live, &b) < 0)
                return rb_fail(rb, errno, "Failed to look at %s: %m", live);
        if (a.st_uid != b.st_uid || a.st_gid != b.st_gid || a.st_mode != b.st_mode)
                return rb_fail(
                        rb,
                        EBADMSG,
                        "%s has another owner or mode than the backup's copy after the restore",
                        live);
        return 0;
}

static int restore_stores(Rollback *rb) {
        const cJSON *s;
        int r;

        cJSON_ArrayForEach (s, cJSON_GetObjectItemCaseSensitive(rb->manifest, "stores")) {
                if (!cJSON_IsString(s))
                        continue;
                r = restore_store(rb, s->valuestring);
                if (r < 0)
                        return r;
        }
        log_status("rollback: putting back the server config and the master-key identifier");
        cJSON_ArrayForEach (s, cJSON_GetObjectItemCaseSensitive(rb->manifest, "config")) {
                if (!cJSON_IsString(s))
                        continue;
                rb->stores_touched = true;
                r = restore_config_file(rb, s->valuestring);
                if (r < 0)
                        return r;
        }
        rb->stores_done = true;
        /* a resumed run must not copy them again: the old release may have written to them since
         * (a run killed while it smoke-tested the restored server), and its rows stay */
        if (current_set_bool(rb->current, "stores_restored", true) < 0)
                return rb_oom(rb);
        return rb_save(rb);
}

/* ---- the rollback table ---- */

/* failed before the server stopped: remove the staged release (never the running one), undo the drain */
static int do_abort(Rollback *rb) {
        _cleanup_free_ char *running = NULL;
        const char *staged;
        int r, status = 0;

        if (streq_ptr(rb->failed_phase, "drain") && arg_mode == MODE_ROLLBACK) {
                r = undo_drain(rb);
                if (r < 0)
                        return r;
        }

        /* read after the drain: undoing it reloads current.json */
        staged = json_get_string(rb->current, "staged_release");
        (void)release_current_version(&running);
        /* a release an earlier attempt staged, or the running one, is not this attempt's to remove */
        if (staged && !streq_ptr(running, rb->h->version) &&
            !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb->current, "staged_release_existed"))) {
                char *argv[] = {
                        (char *)"rm", (char *)"-rf", (char *)"--one-file-system", (char *)staged, NULL
                };
                SpawnOptions o = { .phase = "rollback" };
                log_status("rollback: removing the staged release %s", staged);
                r = spawn_run(argv, &o, &status);
                if (r < 0 || status != 0)
                        log_warning("Failed to remove the staged release %s; remove it by hand.", staged);
                else
                        log_info("Removed the staged release %s.", staged);
        }

        r = conclude(
                rb,
                "aborted",
                streq_ptr(rb->failed_phase, "drain")
                        ? "failed before the server stopped; the drain was undone and the staged release "
                          "removed"
                        : "failed before the server stopped; the staged release was removed");
        if (r < 0)
                return r;
        log_notice("Upgrade to %s aborted before the server stopped: nothing else changed.", rb->h->version);
        return 0;
}

/* the old release started and passed its smoke test after a minor rollback: record it */
static int finish_minor(Rollback *rb) {
        _cleanup_free_ char *message = NULL, *from = NULL;
        int r;

        if ((rb->late ? asprintf(
                                &message,
                                "rolled back after it succeeded, %s; switched and pinned back to %s, "
                                "which started and passed its smoke test",
                                json_get_string(rb->current, "late_reason") ?: "by hand",
                                strempty(rb->from))
                      : asprintf(
                                &message,
                                "failed in phase %s; switched and pinned back to %s, which started and "
                                "passed its smoke test",
                                strempty(rb->failed_phase),
                                strempty(rb->from))) < 0)
                return rb_oom(rb);
        r = conclude(rb, "rolled-back", message);
        if (r < 0)
                return r;
        from = event_field("CODEBOLT_UPGRADE_FROM", rb->from);
        char *fields[] = { from, NULL };
        log_event(
                LOG_NOTICE,
                MESSAGE_ROLLED_BACK,
                from ? fields : NULL,
                "Rolled back: deployment %s runs %s again; %s is marked failed.",
                rb->h->config.deployment,
                strempty(rb->from),
                rb->h->version);
        rollback_notify(rb, "rolled-back", NULL);
        log_status("rollback: %s is running (rolled back from %s)", strempty(rb->from), rb->h->version);
        return 0;
}

/* at boot everything is back in place before the server starts: the check after its start concludes */
static int mark_recovered(Rollback *rb, const char *result) {
        if (current_set_string(rb->current, "recovered", result) < 0 ||
            (rb->restore_reason &&
             current_set_string(rb->current, "restore_reason", rb->restore_reason) < 0))
                return rb_oom(rb);
        log_notice(
                "Recovered deployment %s from the interrupted upgrade to %s: %s is back in place; the "
                "server "
                "starts next, then codebolt-upgrade-recover-check.service tests it.",
                rb->h->config.deployment,
                rb->h->version,
                strempty(rb->from));
        return rb_save(rb);
}

static int finish_restore(Rollback *rb);

/* the data is as it must be: pin and link back; at boot leave the rest to the check after the server's
 * start, else start the old release, smoke-test it and record result */
static int back_on_old_release(Rollback *rb, const char *result) {
        int r;

        r = switch_back(rb);
        if (r < 0)
                return r;
        if (arg_mode == MODE_RECOVER)
                return mark_recovered(rb, result);
        r = start_and_smoke(rb);
        if (r < 0)
                return r;
        return streq(result, "restored") ? finish_restore(rb) : finish_minor(rb);
}

/* no migration failed, none breaking, none mid-flight: the old release runs on the data as it is */
static int do_minor(Rollback *rb) {
        int r;

        if (!rb->late)
                log_notice(
                        "Rolling back the upgrade to %s (failed in phase %s) to %s: a minor rollback, the "
                        "data stays.",
                        rb->h->version,
                        strempty(rb->failed_phase),
                        strempty(rb->from));
        /* at boot the server cannot run yet: its start waits for the recovery, and a stop would cancel it */
        r = arg_mode == MODE_ROLLBACK ? stop_server(rb) : 0;
        if (r < 0)
                return r;
        return back_on_old_release(rb, "rolled-back");
}

/* the old release started and passed its smoke test on the restored data: record it */
static int finish_restore(Rollback *rb) {
        _cleanup_free_ char *message = NULL, *rows = NULL, *from = NULL, *rows_field = NULL;
        const cJSON *discarded;
        int r;

        discarded = cJSON_GetObjectItemCaseSensitive(rb->current, "discarded_rows");
        if (!rb->failed_db && rb_strdup(&rb->failed_db, json_get_string(rb->current, "failed_database")) < 0)
                return rb_oom(rb);
        if (asprintf(
                    &message,
                    "%s%s; database and stores restored, %s started and passed its smoke test; the "
                    "replaced database is kept as %s",
                    rb->late ? "rolled back by hand after it succeeded: " : "",
                    rb->restore_reason ?: json_get_string(rb->current, "restore_reason") ?: "[Policy] Rollback=restore-always",
                    rb->from,
                    strempty(rb->failed_db)) < 0)
                return rb_oom(rb);
        r = conclude(rb, "restored", message);
        if (r < 0)
                return r;
        if (cJSON_IsNumber(discarded) && asprintf(&rows, "%.0f", discarded->valuedouble) < 0)
                rows = NULL;
        from = event_field("CODEBOLT_UPGRADE_FROM", rb->from);
        rows_field = event_field("CODEBOLT_UPGRADE_DISCARDED_ROWS", rows ?: "not known");
        char *fields[] = { from, rows_field, NULL };
        log_event(
                LOG_NOTICE,
                MESSAGE_RESTORED,
                from && rows_field ? fields : NULL,
                "Restored: deployment %s runs %s again on the data of the stop (%s rows written since "
                "were discarded; the failed database is kept as %s).",
                rb->h->config.deployment,
                rb->from,
                rows ?: "an unknown number of",
                strempty(rb->failed_db));
        rollback_notify(rb, "restored", rows);
        log_status("rollback: %s is running (restored from before %s)", rb->from, rb->h->version);
        return 0;
}

/* a migration failed, a breaking one applied, or one may have been cut off: everything from the restore
 * point, then as a minor rollback */
static int do_restore(Rollback *rb) {
        int r;

        log_notice(
                "Restoring deployment %s to %s: %s.",
                rb->h->config.deployment,
                strempty(rb->from),
                rb->restore_reason ?: "[Policy] Rollback=restore-always");
        if (!rb->from)
                return rb_fail(rb, EINVAL, "current.json records no version to go back to");

        /* (a) the backup first: a mismatch holds with nothing touched */
        r = verify_backup(rb);
        if (r >= 0 && arg_mode == MODE_ROLLBACK)
                r = stop_server(rb);
        if (r >= 0)
                r = record_discarded(rb);
        if (r >= 0)
                r = restore_database(rb);
        if (r >= 0 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb->current, "stores_restored"))) {
                log_notice("The stores were put back and verified by an earlier attempt: not copying them "
                           "again.");
                rb->stores_done = true;
        } else if (r >= 0)
                r = restore_stores(rb);
        if (r < 0)
                return r;
        return back_on_old_release(rb, "restored");
}

/* What the boot recovery does before the rollback table: count the attempt (held past the cap); leave
 * an upgrade already put back to the check; finish an upgrade that had passed its smoke test; and in
 * the check, start and test what was put back. Returns 1 when the run is complete, 0 to go on with the
 * table, <0 on failure. */
static int recover_preamble(Rollback *rb) {
        int n = attempts_of(rb->current, "recover_attempts"), r;
        _cleanup_free_ char *recovered = NULL;

        if (arg_mode == MODE_ROLLBACK)
                return 0;
        /* a copy: starting the server reloads current.json */
        if (rb_strdup(&recovered, json_get_string(rb->current, "recovered")) < 0)
                return rb_oom(rb);

        if (arg_mode == MODE_RECOVER_CHECK) {
                if (!recovered) {
                        log_error(
                                "The upgrade to %s was not put back at boot (see "
                                "codebolt-upgrade-recover.service): "
                                "nothing to check.",
                                rb->h->version);
                        return -ENOENT;
                }
                if (load_facts(rb) < 0 ||
                    rb_strdup(&rb->failed_phase, json_get_string(rb->current, "rollback_from_phase")) < 0)
                        return rb_oom(rb);
                rb->action = streq(recovered, "restored") ? ACTION_RESTORE : ACTION_MINOR;
                r = start_and_smoke(rb);
                if (r < 0)
                        return hold(rb);
                r = streq(recovered, "restored") ? finish_restore(rb) : finish_minor(rb);
                return r < 0 ? r : 1;
        }

        /* MODE_RECOVER, at boot */
        if (recovered) {
                log_info(
                        "The upgrade to %s was already put back (%s): the check after the server starts "
                        "concludes.",
                        rb->h->version,
                        recovered);
                return 1;
        }
        if (rb_set_number(rb, "recover_attempts", n + 1) < 0)
                return rb_oom(rb);
        r = rb_save(rb);
        if (r < 0)
                return r;
        if (n + 1 > RECOVER_ATTEMPTS_MAX) {
                if (rb_strdup(&rb->failed_phase, failed_phase_of(rb->current)) < 0)
                        return rb_oom(rb);
                rb->action = ACTION_HOLD;
                (void)rb_fail(rb, ELOOP, "recovery gave up after %d attempts at boot", RECOVER_ATTEMPTS_MAX);
                return hold(rb);
        }

        /* it had passed its smoke test: only the bookkeeping of finish was cut off */
        if (current_phase_is_done(rb->current, "smoke") &&
            !json_get_string(rb->current, "rollback_action")) {
                int status = 0;

                log_notice(
                        "The upgrade to %s had passed its smoke test when it was interrupted: finishing it.",
                        rb->h->version);
                helper_unlock(rb->h);
                r = run_phase_helper(rb, "finish", &status);
                if (r < 0 || status != 0)
                        return rb_fail(
                                rb, EIO, "finishing the interrupted upgrade to %s failed", rb->h->version);
                return 1;
        }
        return 0;
}

/* ---- a late rollback: by hand, after the upgrade succeeded (docs/architecture.md, "Late rollback") ---- */

/* "codebolt-<kind>@1.5.0.service", or "codebolt-<kind>-<name>@…" for an extra deployment */
static char *deployment_unit(const Helper *h, const char *kind) {
        char *unit;

        return unitname_deployment_unit(kind, h->config.deployment, h->instance, &unit) < 0 ? NULL : unit;
}

/* This instance's upgrade unit is failed: this start is its OnFailure= (or the one its ExecStopPost=
 * queued), not a start by hand; *ret_id is the failed run's invocation id. */
static bool upgrade_unit_failed(Rollback *rb, char **ret_id) {
        _cleanup_free_ char *unit = deployment_unit(rb->h, "upgrade"), *active = NULL, *sub = NULL;

        if (!unit || (!rb->bus && bus_open_system(&rb->bus) < 0))
                return false;
        if (bus_unit_get_state(rb->bus, unit, &active, &sub) < 0 || !streq(active, "failed"))
                return false;
        return bus_unit_get_invocation_id(rb->bus, unit, ret_id) >= 0;
}

/* `codebolt-upgrade rollback <version> --discard-since` leaves the version in the flag file for the run
 * it starts; the flag is taken (removed) by whichever run comes first, so it never lingers */
static bool take_discard_flag(const Helper *h) {
        _cleanup_free_ char *path = paths_discard_flag(h->config.deployment), *s = NULL;
        bool yes;

        if (!path)
                return false;
        yes = state_read_string(path, &s) >= 0 && streq(s, h->version);
        (void)unlink(path);
        return yes;
}

/* The watch's automatic rollback leaves "<version>\n<why>" in the reason flag file for the run it
 * starts; taken (removed) by the first run, like the discard flag. NULL when there is none for us. */
static char *take_reason_flag(const Helper *h) {
        _cleanup_free_ char *path = paths_rollback_reason_flag(h->config.deployment), *s = NULL;
        char *nl, *why = NULL;

        if (!path)
                return NULL;
        if (state_read_file(path, &s, NULL) >= 0 && (nl = strchr(s, '\n')) &&
            (*nl = 0, streq(s, h->version)))
                why = strdup(nl + 1);
        (void)unlink(path);
        if (why)
                why[strcspn(why, "\n")] = 0;
        return why;
}

/* current.json for the late rollback, made from the upgrade's ledger entry: the same keys an upgrade
 * in flight has, so the rollback table, a resumed run and the boot recovery treat it like any other */
static int late_current(Rollback *rb, const cJSON *entry, bool keep_snapshot, cJSON **ret) {
        static const char *const copied[] = { "id",         "from",       "to",  "backup",
                                              "final_dump", "migrations", "tree" };
        _cleanup_json_ cJSON *c = cJSON_CreateObject();
        _cleanup_free_ char *unit = deployment_unit(rb->h, "rollback"), *now = current_timestamp(),
                            *reason = NULL, *release = paths_release_dir(rb->h->version);

        if (!c || !unit || !now || !release || current_restore_reason(entry, &reason) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(copied); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(entry, copied[i]);
                if (v && !cJSON_AddItemToObject(c, copied[i], cJSON_Duplicate(v, true)))
                        return -ENOMEM;
        }
        if ((keep_snapshot && !cJSON_AddStringToObject(c, "snapshot", json_get_string(entry, "snapshot"))) ||
            !cJSON_AddStringToObject(c, "unit", unit) ||
            !cJSON_AddStringToObject(c, "instance", rb->h->instance) ||
            !cJSON_AddStringToObject(c, "staged_release", release) ||
            !cJSON_AddStringToObject(c, "deployment", rb->h->config.deployment) ||
            !cJSON_AddBoolToObject(c, "late", true) ||
            !cJSON_AddStringToObject(c, "upgrade_finished", strempty(json_get_string(entry, "finished"))) ||
            !cJSON_AddStringToObject(c, "phase", "rollback") || !cJSON_AddArrayToObject(c, "phases") ||
            !cJSON_AddStringToObject(c, "started", now) || !cJSON_AddStringToObject(c, "updated", now) ||
            !cJSON_AddBoolToObject(c, "server_stopped", true) ||
            !cJSON_AddBoolToObject(c, "switched", true) || !cJSON_AddNumberToObject(c, "attempts", 0) ||
            !cJSON_AddStringToObject(c, "rollback_from_phase", "finish") ||
            !cJSON_AddStringToObject(
                    c, "rollback_action", action_names[reason ? ACTION_RESTORE : ACTION_MINOR]) ||
            !cJSON_AddStringToObject(c, "rollback_started", now))
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

/* A restore after a success discards what was written since: refused unless asked for by name, and the
 * refusal says how much. */
static int refuse_late_restore(Rollback *rb, const cJSON *entry, const char *reason) {
        _cleanup_free_ char *path = NULL, *rows = NULL;
        double discarded = NAN;

        if (asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, strempty(rb->backup)) < 0)
                return rb_oom(rb);
        if (state_read_json(path, &rb->manifest) >= 0)
                discarded = count_discarded(rb);
        if (!isnan(discarded) && asprintf(&rows, "%.0f rows", discarded) < 0)
                return rb_oom(rb);
        log_error(
                "Rolling back the upgrade %s → %s is a full restore (%s): it puts back the database and the "
                "stores as they were when that upgrade stopped the server (it began %s) and discards "
                "everything "
                "written since: %s. Nothing was changed. To do it anyway: codebolt-upgrade rollback %s "
                "--discard-since",
                strempty(rb->from),
                rb->h->version,
                reason,
                strempty(json_get_string(entry, "started")),
                rows ?: "how many rows is not known (the database could not be counted)",
                rb->h->version);
        return -EPERM;
}

/* No current.json. Returns 1 with rb->current made when the upgrade to this version succeeded and is
 * what runs (a late rollback begins); 0 when no upgrade to this version is there to roll back; <0,
 * logged, when a late rollback is refused. */
static int begin_late_rollback(Rollback *rb) {
        Helper *h = rb->h;
        _cleanup_json_ cJSON *ledger = NULL, *c = NULL;
        _cleanup_free_ char *running = NULL, *reason = NULL, *failed_id = NULL, *why = NULL;
        const char *snapshot;
        bool keep_snapshot = false;
        const cJSON *entry;
        int r;

        if (ledger_load(h->config.deployment, &ledger) < 0 ||
            !(entry = ledger_last_change_for_version(ledger, h->version)) ||
            !streq_ptr(json_get_string(entry, "result"), "succeeded"))
                return 0;
        /* the upgrade unit of this instance failed in another run than the one that succeeded: an
         * attempt refused in preflight (the same version escaped differently while the first was in
         * flight), whose OnFailure= must never roll the success back */
        if (upgrade_unit_failed(rb, &failed_id) && !streq_ptr(failed_id, json_get_string(entry, "id")))
                return 0;

        (void)release_current_version(&running);
        if (!streq_ptr(running, h->version))
                return log_error_errno(
                        ESTALE,
                        "The upgrade to %s succeeded, but deployment %s runs %s now: only the upgrade to "
                        "the "
                        "version that runs can be rolled back. Nothing was changed.",
                        h->version,
                        h->config.deployment,
                        running ?: "no release (the current link is not a release link)");
        if (rb_strdup(&rb->from, json_get_string(entry, "from")) < 0 ||
            rb_strdup(&rb->backup, json_get_string(entry, "backup")) < 0 ||
            current_restore_reason(entry, &reason) < 0)
                return rb_oom(rb);
        if (!rb->from || !rb->backup)
                return log_error_errno(
                        EBADMSG,
                        "The ledger's entry for the upgrade to %s names no %s: it cannot be rolled back "
                        "automatically. Nothing was changed.",
                        h->version,
                        rb->from ? "backup" : "version to go back to");

        /* the snapshot is the restore point while it is kept (codebolt-upgrade clean drops it); the
         * backup's dump is the same data */
        snapshot = json_get_string(entry, "snapshot");
        if (reason && snapshot) {
                PgTarget admin;
                if (helper_pg_target(h, "postgres", &admin) < 0)
                        return rb_oom(rb);
                r = database_exists(rb, &admin, snapshot, &keep_snapshot);
                if (r < 0)
                        return r;
                if (keep_snapshot && rb_strdup(&rb->snapshot, snapshot) < 0)
                        return rb_oom(rb);
        }

        if (reason && !take_discard_flag(h))
                return refuse_late_restore(rb, entry, reason);

        r = late_current(rb, entry, keep_snapshot, &c);
        if (r < 0)
                return rb_oom(rb);
        why = take_reason_flag(h);
        if (why && current_set_string(c, "late_reason", why) < 0)
                return rb_oom(rb);
        r = current_create(h->config.deployment, c);
        if (r == -EEXIST)
                return log_error_errno(
                        r,
                        "Refusing: an upgrade of deployment %s is in flight (see codebolt-upgrade status). "
                        "Nothing was changed.",
                        h->config.deployment);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to create current.json of deployment %s: %m", h->config.deployment);
        log_notice(
                "Rolling back the upgrade %s → %s %s, after it succeeded (%s): %s.",
                rb->from,
                h->version,
                why ? why : "by hand",
                strempty(json_get_string(entry, "finished")),
                reason ? "a full restore, as asked with --discard-since"
                       : "a minor rollback, the data stays");
        rb->current = TAKE_PTR(c);
        return 1;
}

/* No current.json and no late rollback. After the upgrade unit failed: it was refused in preflight and
 * made nothing, which the ledger records. Started by hand: there is nothing to roll back. */
static int nothing_to_roll_back(Rollback *rb) {
        _cleanup_free_ char *failed_id = NULL, *unit = NULL;
        Helper *h = rb->h;

        if (!upgrade_unit_failed(rb, &failed_id)) {
                log_error(
                        "Nothing to roll back: no upgrade of deployment %s to %s is in flight, and none "
                        "that succeeded is what runs now (see codebolt-upgrade history).",
                        h->config.deployment,
                        h->version);
                return 1;
        }
        unit = deployment_unit(h, "upgrade");
        if (!unit)
                return log_oom(), 1;
        log_notice("%s made no change (refused in preflight): nothing to roll back.", unit);
        return write_ledger(h, NULL, "refused", "preflight", "refused in preflight; nothing changed");
}

static int run(Helper *h) {
        _cleanup_(rollback_done) Rollback rb = { .h = h };
        const char *result;
        int r;

        log_status("rollback: looking at the upgrade to %s", h->version);
        r = helper_lock(h);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", h->config.deployment);

        r = current_load(h->config.deployment, &rb.current);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(
                        r, "Failed to read current.json of deployment %s: %m", h->config.deployment);
        if (r == -ENOENT) {
                r = begin_late_rollback(&rb);
                if (r == 0)
                        return nothing_to_roll_back(&rb);
                if (r < 0)
                        return 1;
        }

        /* the instance string is compared before unescaping: a second upgrade refused because one is in
         * flight never made current.json, so its rollback leaves the first alone */
        if (!streq_ptr(json_get_string(rb.current, "instance"), h->instance)) {
                return nothing_to_roll_back(&rb);
        }

        /* held is final for this upgrade until an operator acts */
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rb.current, "held"))) {
                log_error(
                        "The rollback of the upgrade to %s is held (%s): nothing more is done "
                        "automatically. "
                        "See: codebolt-upgrade status",
                        h->version,
                        strempty(json_get_string(rb.current, "held_reason")));
                if (!ledger_has_entry(h->config.deployment, rb.current, "held"))
                        (void)write_ledger(
                                h,
                                rb.current,
                                "held",
                                strempty(
                                        json_get_string(rb.current, "rollback_from_phase")
                                                ?: json_get_string(rb.current, "phase")),
                                strempty(json_get_string(rb.current, "held_reason")));
                end_inhibitor(rb.current);
                /* at boot and after it, a held upgrade is reported, not failed again at every start */
                return arg_mode == MODE_ROLLBACK ? 1 : 0;
        }

        r = recover_preamble(&rb);
        if (r != 0)
                return r < 0 ? r : 0;

        r = decide(&rb);
        if (r < 0)
                return r;

        /* a crash between the ledger and the removal of current.json: only the removal is left */
        result = json_get_string(rb.current, "rollback_result");
        if (result)
                r = conclude(&rb, result, "rollback finished by a later run");
        else
                switch (rb.action) {
                case ACTION_REFUSE:
                        log_notice(
                                "The upgrade to %s was refused in preflight: nothing changed.", h->version);
                        r = conclude(&rb, "refused", "refused in preflight; nothing changed");
                        break;
                case ACTION_ABORT:
                        r = do_abort(&rb);
                        break;
                case ACTION_MINOR:
                        r = do_minor(&rb);
                        break;
                case ACTION_RESTORE:
                        r = do_restore(&rb);
                        break;
                case ACTION_HOLD:
                default:
                        r = -ECANCELED;
                        break;
                }

        end_inhibitor(rb.current);
        /* a failure to write the ledger or remove current.json after the work is done is no hold: the
         * next run only finishes the bookkeeping */
        if (r >= 0 || rb.action == ACTION_REFUSE || json_get_string(rb.current, "rollback_result"))
                return r;
        /* stopped by a signal (a shutdown): current.json says "rollback", the next run resumes */
        if (helper_cancelled && rb.action != ACTION_HOLD) {
                _cleanup_free_ char *unit = deployment_unit(h, "rollback");
                log_error(
                        "The rollback of the upgrade to %s was stopped by signal %d: run it again to resume "
                        "(systemctl start %s).",
                        h->version,
                        (int)helper_cancelled,
                        unit ?: "codebolt-rollback@…");
                return r;
        }
        return hold(&rb);
}

/* ExecStopPost=: OnFailure= does not fire when an operator stops the unit, so queue the same rollback
 * job (without waiting: the two requests merge into one job) whenever the upgrade did not succeed */
static int queue_if_failed(const char *instance) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *unit = NULL;
        const char *result = getenv("SERVICE_RESULT");
        int r;

        log_setup(NULL, "rollback");
        if (!result || streq(result, "success") || streq(result, "exec-condition"))
                return 0;
        if (unitname_deployment_unit("rollback", getenv("CODEBOLT_DEPLOYMENT"), instance, &unit) < 0)
                return log_oom(), 1;

        r = sd_bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus to queue %s: %m", unit), 1;
        r = sd_bus_call_method(
                bus,
                "org.freedesktop.systemd1",
                "/org/freedesktop/systemd1",
                "org.freedesktop.systemd1.Manager",
                "StartUnit",
                &error,
                NULL,
                "ss",
                unit,
                "replace");
        if (r < 0)
                return log_error_errno(r, "Failed to queue %s: %s", unit, error.message ?: strerror(-r)), 1;
        log_notice("The upgrade ended '%s': queued %s.", result, unit);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc == 3 && streq(argv[1], "--queue-if-failed"))
                return queue_if_failed(argv[2]);
        if (argc == 3 && streq(argv[1], "--recover"))
                arg_mode = MODE_RECOVER;
        else if (argc == 3 && streq(argv[1], "--recover-check"))
                arg_mode = MODE_RECOVER_CHECK;
        /* an option this version does not know must never run the whole rollback, which starts the
         * server */
        else if (argc > 2 && startswith(argv[1], "--")) {
                fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[1]);
                return 2;
        }
        return helper_main(argc, argv, "rollback", HELPER_NO_CURRENT | HELPER_ANY_VERSION, run);
}
