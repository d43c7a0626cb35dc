/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* late.c: a late rollback: by hand, after the upgrade succeeded (docs/architecture.md, "Late rollback") */
#define _GNU_SOURCE
#include <math.h>
#include <unistd.h>

#include "backup-manifest.h"
#include "bus.h"
#include "current.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "pg.h"
#include "release.h"
#include "roll.h"
#include "state.h"
#include "unitname.h"
#include "rollback.h"
#include "credentials.h"

/* "codebolt-<kind>@1.5.0.service", or "codebolt-<kind>-<name>@…" for an extra deployment */
char *deployment_unit(const Helper *h, const char *kind) {
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

/* what current.json takes of the upgrade's ledger entry, as it was there */
#define LATE_COPIED                                                                                  \
        (CURRENT_KEY_BIT(CURRENT_ID) | CURRENT_KEY_BIT(CURRENT_FROM) | CURRENT_KEY_BIT(CURRENT_TO) | \
         CURRENT_KEY_BIT(CURRENT_BACKUP) | CURRENT_KEY_BIT(CURRENT_FINAL_DUMP) |                     \
         CURRENT_KEY_BIT(CURRENT_MIGRATIONS) | CURRENT_KEY_BIT(CURRENT_TREE) |                       \
         CURRENT_KEY_BIT(CURRENT_DELTA_FILE))

/* current.json for the late rollback begins with the keys of the upgrade's ledger entry it carries
 * over (an entry has current.json's shape for them); the rest are the entry's own or stay behind */
static void late_current_from_entry(Rollback *rb, Current *e) {
        Current *c = &rb->current;

        current_done(c);
        c->id = TAKE_PTR(e->id);
        c->from = TAKE_PTR(e->from);
        c->to = TAKE_PTR(e->to);
        c->backup = TAKE_PTR(e->backup);
        c->final_dump = TAKE_PTR(e->final_dump);
        /* Snapshot=delta: the restore replays it onto the dump, as far as that upgrade's stop */
        c->delta_file = TAKE_PTR(e->delta_file);
        c->migrations = TAKE_PTR(e->migrations);
        c->n_migrations = e->n_migrations;
        e->n_migrations = 0;
        c->tree = TAKE_PTR(e->tree);
        c->present = e->present & LATE_COPIED;
}

/* the rest of current.json for the late rollback: the same keys an upgrade in flight has, so the
 * rollback table, a resumed run and the boot recovery treat it like any other */
static int late_current(Rollback *rb, const cJSON *entry, RollbackAction action) {
        Current *c = &rb->current;
        _cleanup_free_ char *now = current_timestamp();

        if (!now || !(c->unit = deployment_unit(rb->h, "rollback")) ||
            !(c->instance = strdup(rb->h->instance)) ||
            !(c->staged_release = paths_release_dir(rb->h->version)) ||
            !(c->deployment = strdup(rb->h->config.deployment)) ||
            !(c->upgrade_finished = strdup(strempty(json_get_string(entry, "finished")))) ||
            current_set_phase(c, "rollback") < 0 || !(c->started = strdup(now)) ||
            !(c->updated = strdup(now)) || !(c->rollback_from_phase = strdup("finish")) ||
            !(c->rollback_action = strdup(rollback_action_to_string(action))) ||
            !(c->rollback_started = strdup(now)))
                return -ENOMEM;
        c->late = true;
        c->server_stopped = true;
        c->switched = true;
        c->attempts = 0;
        /* "phases": [] and "attempts": 0 are written, as preflight writes them */
        c->present |= CURRENT_KEY_BIT(CURRENT_PHASES) | CURRENT_KEY_BIT(CURRENT_ATTEMPTS);
        return 0;
}

/* A restore after a success discards what was written since: refused unless asked for by name, and the
 * refusal says how much. */
static int refuse_late_restore(Rollback *rb, const cJSON *entry, const char *reason) {
        _cleanup_free_ char *path = NULL, *rows = NULL;
        double discarded = NAN;

        if (asprintf(&path, "%s/" BACKUP_MANIFEST_FILE, strempty(rb->current.backup)) < 0)
                return rb_oom(rb);
        if (state_read_json(path, &rb->manifest) >= 0)
                discarded = count_discarded(rb, rb->h->config.db_name);
        if (!isnan(discarded) && asprintf(&rows, "%.0f rows", discarded) < 0)
                return rb_oom(rb);
        log_error(
                "Rolling back the upgrade %s → %s is a full restore (%s): it puts back the database and the "
                "stores as they were when that upgrade stopped the server (it began %s) and discards "
                "everything "
                "written since: %s. Nothing was changed. To do it anyway: codebolt-upgrade rollback %s "
                "--discard-since",
                strempty(rb->current.from),
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
int begin_late_rollback(Rollback *rb) {
        Helper *h = rb->h;
        _cleanup_json_ cJSON *ledger = NULL;
        _cleanup_free_ char *running = NULL, *reason = NULL, *failed_id = NULL, *why = NULL, *error = NULL;
        _cleanup_(current_done) Current e = {};
        const char *snapshot;
        bool keep_snapshot = false;
        RollbackAction action;
        const cJSON *entry;
        int r, k;

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
        r = current_from_json(entry, &e, &error);
        if (r == -ENOMEM)
                return rb_oom(rb);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to read the ledger's entry for the upgrade to %s: %s. Nothing was changed.",
                        h->version,
                        error ?: strerror(-r));
        if (current_restore_reason(&e, &reason) < 0)
                return rb_oom(rb);
        snapshot = e.snapshot;
        late_current_from_entry(rb, &e);
        if (!rb->current.from || !rb->current.backup)
                return log_error_errno(
                        EBADMSG,
                        "The ledger's entry for the upgrade to %s names no %s: it cannot be rolled back "
                        "automatically. Nothing was changed.",
                        h->version,
                        rb->current.from ? "backup" : "version to go back to");

        /* the snapshot is the restore point while it is kept (codebolt-upgrade clean drops it); the
         * backup's dump is the same data */
        if (reason && snapshot) {
                PgTarget admin;
                if (helper_pg_target(h, "postgres", &admin) < 0)
                        return rb_oom(rb);
                r = database_exists(rb, &admin, snapshot, &keep_snapshot);
                if (r < 0)
                        return r;
                if (keep_snapshot)
                        rb->current.snapshot = TAKE_PTR(e.snapshot);
        }

        /* the discard flag is looked at (and taken) only when a restore is needed */
        action = rollback_table_late(reason, reason && take_discard_flag(h));
        if (action == ROLLBACK_ACTION_REFUSE)
                return refuse_late_restore(rb, entry, reason);

        r = late_current(rb, entry, action);
        if (r < 0)
                return rb_oom(rb);

        why = take_reason_flag(h);
        if (why && rb_strdup(&rb->current.late_reason, why) < 0)
                return rb_oom(rb);
        r = current_create(h->config.deployment, &rb->current);
        if (r == -EEXIST)
                return log_error_errno(
                        r,
                        "Refusing: an upgrade of deployment %s is in flight (see codebolt-upgrade status). "
                        "Nothing was changed.",
                        h->config.deployment);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to create current.json of deployment %s: %m", h->config.deployment);

        /* on a member of an aborting roll this is the host's revert: its turn through the slot, and out
         * of the load balancer before the stop (the rollback gives it back) */
        helper_unlock(h); /* the wait may be long; current.json keeps any other upgrade out */
        r = roll_revert_begin(&h->config, e.cluster_roll);
        k = helper_lock(h);
        if (r > 0) {
                /* recorded even when the lock fails: the slot and the balancer must be given back by
                 * whatever rollback runs next */
                if (rb_strdup(&rb->current.cluster_roll, e.cluster_roll) < 0)
                        return rb_oom(rb);
                rb->current.cluster_slot = true;
                rb->current.lb_drained = h->config.lb_driver == LB_DRIVER_HAPROXY;
                r = rb_save(rb);
                if (r < 0)
                        return r;
        }
        if (k < 0)
                return log_error_errno(
                        k, "Failed to take the state lock of deployment %s: %m", h->config.deployment);
        if (r < 0) {
                (void)current_remove(h->config.deployment);
                return r;
        }
        log_notice(
                "Rolling back the upgrade %s → %s %s, after it succeeded (%s): %s.",
                rb->current.from,
                h->version,
                why ? why : "by hand",
                strempty(json_get_string(entry, "finished")),
                reason ? "a full restore, as asked with --discard-since"
                       : "a minor rollback, the data stays");
        return 1;
}

/* No current.json and no late rollback. After the upgrade unit failed: it was refused in preflight and
 * made nothing, which the ledger records. Started by hand: there is nothing to roll back. */
int nothing_to_roll_back(Rollback *rb) {
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
