/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* actions.c: the table's actions: abort, minor rollback, full restore, and how each one ends */
#define _GNU_SOURCE
#include <math.h>

#include "balancer.h"
#include "current.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "release.h"
#include "spawn.h"
#include "rollback.h"

/* failed before the server stopped: remove the staged release (never the running one), undo the drain */
int do_abort(Rollback *rb) {
        _cleanup_free_ char *running = NULL;
        const char *staged;
        int r, status = 0;

        if (streq_ptr(rb->failed_phase, "drain") && arg_mode == ROLLBACK_RUN_UNIT) {
                r = undo_drain(rb);
                if (r < 0)
                        return r;
                /* the server still runs the old version: the balancer may send it sessions again */
                if (rb->current.lb_drained) {
                        r = balancer_take_back(&rb->h->config);
                        if (r < 0)
                                return rb_fail(
                                        rb, r, "The server is not back in the load balancer (see above).");
                }
        }

        /* read after the drain: undoing it reloads current.json */
        staged = rb->current.staged_release;
        (void)release_current_version(&running);
        /* a release an earlier attempt staged, or the running one, is not this attempt's to remove */
        if (staged && !streq_ptr(running, rb->h->version) && !rb->current.staged_release_existed) {
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

        /* the cluster refused the host while it waited for its turn: nothing of it ran */
        if (rb->current.cluster_refused)
                return conclude(rb, "refused", rb->current.cluster_refused);
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
int finish_minor(Rollback *rb) {
        _cleanup_free_ char *message = NULL, *from = NULL;
        int r;

        if ((rb->current.late
                     ? asprintf(
                               &message,
                               "rolled back after it succeeded, %s; switched and pinned back to %s, "
                               "which started and passed its smoke test",
                               rb->current.late_reason ?: "by hand",
                               strempty(rb->current.from))
                     : asprintf(
                               &message,
                               "failed in phase %s; switched and pinned back to %s, which started and "
                               "passed its smoke test",
                               strempty(rb->failed_phase),
                               strempty(rb->current.from))) < 0)
                return rb_oom(rb);
        r = conclude(rb, "rolled-back", message);
        if (r < 0)
                return r;
        from = event_field("CODEBOLT_UPGRADE_FROM", rb->current.from);
        char *fields[] = { from, NULL };
        log_event(
                LOG_NOTICE,
                MESSAGE_ROLLED_BACK,
                from ? fields : NULL,
                "Rolled back: deployment %s runs %s again; %s is marked failed.",
                rb->h->config.deployment,
                strempty(rb->current.from),
                rb->h->version);
        rollback_notify(rb, "rolled-back", NULL);
        log_status(
                "rollback: %s is running (rolled back from %s)", strempty(rb->current.from), rb->h->version);
        return 0;
}

/* at boot everything is back in place before the server starts: the check after its start concludes */
static int mark_recovered(Rollback *rb, const char *result) {
        if (rb_strdup(&rb->current.recovered, result) < 0 ||
            (rb->restore_reason && rb_strdup(&rb->current.restore_reason, rb->restore_reason) < 0))
                return rb_oom(rb);
        log_notice(
                "Recovered deployment %s from the interrupted upgrade to %s: %s is back in place; the "
                "server "
                "starts next, then codebolt-upgrade-recover-check.service tests it.",
                rb->h->config.deployment,
                rb->h->version,
                strempty(rb->current.from));
        return rb_save(rb);
}

/* the data is as it must be: pin and link back; at boot leave the rest to the check after the server's
 * start, else start the old release, smoke-test it and record result */
static int back_on_old_release(Rollback *rb, const char *result) {
        int r;

        r = switch_back(rb);
        if (r < 0)
                return r;
        if (arg_mode == ROLLBACK_RUN_RECOVER)
                return mark_recovered(rb, result);
        r = start_and_smoke(rb);
        if (r < 0)
                return r;
        return streq(result, "restored") ? finish_restore(rb) : finish_minor(rb);
}

/* no migration failed, none breaking, none mid-flight: the old release runs on the data as it is */
int do_minor(Rollback *rb) {
        int r;

        if (!rb->current.late)
                log_notice(
                        "Rolling back the upgrade to %s (failed in phase %s) to %s: a minor rollback, the "
                        "data stays.",
                        rb->h->version,
                        strempty(rb->failed_phase),
                        strempty(rb->current.from));
        /* at boot the server cannot run yet: its start waits for the recovery, and a stop would cancel it */
        r = arg_mode == ROLLBACK_RUN_UNIT ? stop_server(rb) : 0;
        if (r < 0)
                return r;
        return back_on_old_release(rb, "rolled-back");
}

/* the old release started and passed its smoke test on the restored data: record it */
int finish_restore(Rollback *rb) {
        _cleanup_free_ char *message = NULL, *rows = NULL, *from = NULL, *rows_field = NULL;
        /* counted (an earlier attempt may have counted it), and known */
        bool counted = (rb->current.present & CURRENT_KEY_BIT(CURRENT_DISCARDED_ROWS)) &&
                       !isnan(rb->current.discarded_rows);
        int r;

        if (!rb->failed_db && rb_strdup(&rb->failed_db, rb->current.failed_database) < 0)
                return rb_oom(rb);
        if (rb->failed_db) {
                r = record_discarded(rb, rb->failed_db);
                if (r < 0)
                        return r;
                counted = !isnan(rb->current.discarded_rows);
        }
        if (asprintf(
                    &message,
                    "%s%s; database and stores restored, %s started and passed its smoke test; the "
                    "replaced database is kept as %s",
                    rb->current.late ? "rolled back by hand after it succeeded: " : "",
                    rb->restore_reason ?: rb->current.restore_reason ?: "[Policy] Rollback=restore-always",
                    rb->current.from,
                    strempty(rb->failed_db)) < 0)
                return rb_oom(rb);
        r = conclude(rb, "restored", message);
        if (r < 0)
                return r;
        if (counted && asprintf(&rows, "%.0f", rb->current.discarded_rows) < 0)
                rows = NULL;
        from = event_field("CODEBOLT_UPGRADE_FROM", rb->current.from);
        rows_field = event_field("CODEBOLT_UPGRADE_DISCARDED_ROWS", rows ?: "not known");
        char *fields[] = { from, rows_field, NULL };
        log_event(
                LOG_NOTICE,
                MESSAGE_RESTORED,
                from && rows_field ? fields : NULL,
                "Restored: deployment %s runs %s again on the data of the stop (%s rows written since "
                "were discarded; the failed database is kept as %s).",
                rb->h->config.deployment,
                rb->current.from,
                rows ?: "an unknown number of",
                strempty(rb->failed_db));
        rollback_notify(rb, "restored", rows);
        log_status("rollback: %s is running (restored from before %s)", rb->current.from, rb->h->version);
        return 0;
}

/* a migration failed, a breaking one applied, or one may have been cut off: everything from the restore
 * point, then as a minor rollback */
int do_restore(Rollback *rb) {
        int r;

        log_notice(
                "Restoring deployment %s to %s: %s.",
                rb->h->config.deployment,
                strempty(rb->current.from),
                rb->restore_reason ?: "[Policy] Rollback=restore-always");
        if (!rb->current.from)
                return rb_fail(rb, EINVAL, "current.json records no version to go back to");

        /* (a) the backup first: a mismatch holds with nothing touched */
        r = verify_backup(rb);
        if (r >= 0 && arg_mode == ROLLBACK_RUN_UNIT)
                r = stop_server(rb);
        /* at boot the server is not up before the check after its start: counted now. Otherwise the
         * failed database, kept as it is, is counted once the old release serves again (finish_restore),
         * outside the downtime. */
        if (r >= 0 && arg_mode == ROLLBACK_RUN_RECOVER)
                r = record_discarded(rb, rb->h->config.db_name);
        if (r >= 0)
                r = restore_database(rb);
        if (r >= 0 && rb->current.stores_restored) {
                log_notice("The stores were put back and verified by an earlier attempt: not copying them "
                           "again.");
                rb->stores_done = true;
        } else if (r >= 0)
                r = restore_stores(rb);
        if (r < 0)
                return r;
        return back_on_old_release(rb, "restored");
}
