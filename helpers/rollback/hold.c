/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hold.c: a held rollback: what is left to do by hand, the critical journal entry, the held state */
#define _GNU_SOURCE

#include "backup-manifest.h"
#include "bus.h"
#include "current.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "paths.h"
#include "pg.h"
#include "release.h"
#include "state.h"
#include "roll.h"
#include "rollback.h"
#include "credentials.h"

static bool pin_says(const char *deployment, const char *version) {
        _cleanup_free_ char *pin = paths_state_file(deployment, "pin"), *s = NULL;

        return pin && state_read_string(pin, &s) >= 0 && streq(s, version);
}

/* best effort, for the held line when this run did not get to the database: where an earlier attempt
 * left the swap */
static void probe_database(Rollback *rb) {
        _cleanup_free_ char *failed = NULL, *source = NULL;
        bool has_db, has_failed;
        PgTarget admin;

        if (rb->db_in_play || (!rb->restore_reason && rb->action != ROLLBACK_ACTION_RESTORE))
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
                rb->source_db = rb->current.snapshot ? strdup(rb->current.snapshot) : TAKE_PTR(source);
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

/* a migration of the upgrade was applied, or may have been (the data is not the old release's any more) */
static bool migrated(const Rollback *rb) {
        for (size_t i = 0; i < rb->current.n_migrations; i++)
                if (!streq_ptr(rb->current.migrations[i].state, "pending"))
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
                if (!rb->current.backup ||
                    asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, rb->current.backup) < 0 ||
                    state_read_json(path, &manifest) < 0)
                        return NULL;
                owner = json_get_string(cJSON_GetObjectItemCaseSensitive(manifest, "database"), "owner");
        }
        return owner ? strdup(owner) : NULL;
}

/* exactly what is left to do by hand, from what this run knows and what the disk says */
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
        if (!rb->current.from)
                fprintf(f, "current.json names no version to go back to; ");
        else if (
                streq_ptr(running, rb->current.from) && pin_says(rb->h->config.deployment, rb->current.from))
                fprintf(f,
                        "%s/current and the pin already name %s; ",
                        paths_install_root(),
                        rb->current.from);
        else
                fprintf(f,
                        "point %s/current back at %s (ln -sfn releases/%s %s/current) "
                        "and pin it (echo %s >%s); ",
                        paths_install_root(),
                        rb->current.from,
                        rb->current.from,
                        paths_install_root(),
                        rb->current.from,
                        pin);

        /* the database: a full restore is needed when the table said so, and also when the old release
         * could not run on the data the new one's migrations changed (a migration declared
         * non-breaking that was not) */
        need_restore = rb->restore_reason || rb->action == ROLLBACK_ACTION_RESTORE ||
                       (rb->old_failed && migrated(rb));
        owner = backup_database_owner(rb);
        if (owner && asprintf(&owner_step, "; ALTER DATABASE \"%s\" OWNER TO \"%s\"", db, owner) < 0)
                owner_step = NULL;
        if (!need_restore)
                fprintf(f, "database %s was not touched (no restore is needed); ", db);
        else if (!rb->db_in_play || rb->db == DB_UNTOUCHED) {
                if (!rb->failed_db && compute_db_names(rb, &failed, &source) >= 0)
                        failed_name = failed;
                fprintf(f, "database %s was not touched", db);
                if (!rb->restore_reason && rb->action != ROLLBACK_ACTION_RESTORE)
                        fprintf(f,
                                ", but %s may not run on the data %s's migrations changed",
                                strempty(rb->current.from),
                                rb->h->version);
                if (rb->current.snapshot)
                        fprintf(f,
                                " (a full restore is needed: as %s, ALTER DATABASE \"%s\" RENAME TO "
                                "\"%s\"; ALTER DATABASE \"%s\" RENAME TO \"%s\"%s); ",
                                rb->h->config.db_os_user,
                                db,
                                failed_name ?: "<db>_failed_<id>",
                                rb->current.snapshot,
                                db,
                                strempty(owner_step));
                else
                        fprintf(f,
                                " (a full restore is needed from %s/%s); ",
                                strempty(rb->current.backup),
                                rb->current.final_dump ? BACKUP_MANIFEST_FINAL_DUMP : BACKUP_MANIFEST_DUMP);
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
                        strempty(rb->current.backup));
        else if (need_restore && !rb->stores_done)
                fprintf(f,
                        "the stores were not put back: once the backup is sound, rsync -a --delete "
                        "%s/stores<store>/ <store>/ for each store; ",
                        strempty(rb->current.backup));

        /* the server */
        if (rb->old_runs)
                fprintf(f,
                        "%s runs %s but failed its smoke test: look into it (journalctl -u %s), or stop "
                        "it; ",
                        unit,
                        strempty(rb->current.from),
                        unit);
        else
                fprintf(f, "then: systemctl start %s; ", unit);
        fprintf(f, "check with: codebolt-upgrade status");

        if (fclose(TAKE_PTR(f)) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

/* Rollback table, last row: stop trying. current.json stays, saying held and what is left to do by
 * hand; the ledger says held once. */
int hold(Rollback *rb) {
        _cleanup_free_ char *steps = NULL, *from = NULL, *reason = NULL;
        int r;

        if (!rb->why && !(rb->why = strdup("an unexpected error (see above)")))
                return log_oom();
        /* held means stopped or on the old release: a server left on the failed one would run its
         * migrations again at every Restart=. At boot the server is left as it is (docs/architecture.md,
         * "Recovery after a crash"). */
        if (!rb->old_runs && arg_mode != ROLLBACK_RUN_RECOVER && stop_server(rb) < 0)
                log_warning(
                        "Failed to stop %s: stop it by hand before anything else.",
                        rb->h->config.server_unit);
        probe_database(rb);
        steps = held_instructions(rb);
        from = event_field("CODEBOLT_UPGRADE_FROM", rb->current.from);
        reason = event_field("CODEBOLT_UPGRADE_REASON", rb->why);
        char *fields[] = { reason, from, NULL };
        log_event(
                LOG_CRIT,
                MESSAGE_HELD,
                reason ? fields : NULL,
                "The rollback of the upgrade %s → %s is held: %s. To finish by hand: %s.",
                strempty(rb->current.from),
                rb->h->version,
                rb->why,
                steps ?: "see codebolt-upgrade status");
        rollback_notify(rb, "held", rb->why);

        r = helper_lock(rb->h);
        if (r < 0)
                return log_error_errno(r, "Failed to take the state lock to record the held state: %m"), 1;
        rb->current.held = true;
        /* null when there are no steps to give */
        rb->current.present |= CURRENT_KEY_BIT(CURRENT_HELD_INSTRUCTIONS);
        if (rb_strdup(&rb->current.held_reason, rb->why) < 0 ||
            rb_strdup(&rb->current.held_instructions, steps) < 0 ||
            current_set_phase(&rb->current, "rollback") < 0)
                return log_oom(), 1;
        r = current_save(rb->h->config.deployment, &rb->current);
        if (r < 0)
                log_error_errno(r, "Failed to record the held state in current.json: %m");
        if (!ledger_has_entry(rb->h->config.deployment, &rb->current, "held"))
                (void)write_ledger(rb->h, &rb->current, "held", strempty(rb->failed_phase), rb->why);
        run_rollback_hooks(rb, "held");
        /* the roll pauses; the slot stays this host's until an operator puts it right and unlocks it */
        if (rb->current.cluster_roll) {
                Current kept = rb->current;

                kept.cluster_slot = false;
                (void)roll_record(&rb->h->config, &kept, ROLL_RECORD_FAILED);
        }
        log_status("rollback: held (%s)", rb->why);
        return 1;
}
