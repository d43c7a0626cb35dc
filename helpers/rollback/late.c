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

/* current.json for the late rollback, made from the upgrade's ledger entry: the same keys an upgrade
 * in flight has, so the rollback table, a resumed run and the boot recovery treat it like any other */
static int late_current(
        Rollback *rb, const cJSON *entry, bool keep_snapshot, RollbackAction action, cJSON **ret) {
        static const char *const copied[] = { "id",         "from",       "to",  "backup",
                                              "final_dump", "migrations", "tree" };
        _cleanup_json_ cJSON *c = cJSON_CreateObject();
        _cleanup_free_ char *unit = deployment_unit(rb->h, "rollback"), *now = current_timestamp(),
                            *release = paths_release_dir(rb->h->version);

        if (!c || !unit || !now || !release)
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
            !cJSON_AddStringToObject(c, "rollback_action", rollback_action_to_string(action)) ||
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
int begin_late_rollback(Rollback *rb) {
        Helper *h = rb->h;
        _cleanup_json_ cJSON *ledger = NULL, *c = NULL;
        _cleanup_free_ char *running = NULL, *reason = NULL, *failed_id = NULL, *why = NULL;
        const char *snapshot;
        bool keep_snapshot = false;
        RollbackAction action;
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

        /* the discard flag is looked at (and taken) only when a restore is needed */
        action = rollback_table_late(reason, reason && take_discard_flag(h));
        if (action == ROLLBACK_ACTION_REFUSE)
                return refuse_late_restore(rb, entry, reason);

        r = late_current(rb, entry, keep_snapshot, action, &c);
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
