/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bookkeeping.c: the Rollback of this run, its first failure, current.json under the lock */
#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <systemd/sd-bus.h>

#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "rollback.h"
#include "string-util.h"

void rollback_done(Rollback *rb) {
        current_done(&rb->current);
        sd_bus_flush_close_unref(rb->bus);
        free(rb->why);
        free(rb->failed_phase);
        free(rb->restore_reason);
        cJSON_Delete(rb->manifest);
        backup_list_free(rb->files);
        free(rb->failed_db);
        free(rb->source_db);
}

/* Log a failure of a step (one line) and keep the first one as the reason the rollback is held.
 * Returns -abs(error). */
_printf_(3, 4) int rb_fail(Rollback *rb, int error, const char *fmt, ...) {
        char *msg;

        error = abs(error) ?: EIO;
        errno = error; /* for %m */
        msg = STRPRINTF_ARGS(fmt);
        if (!msg)
                return log_oom();
        log_full(LOG_ERR, error, "%s", msg);
        if (!rb->why)
                rb->why = msg;
        else
                free(msg);
        return -error;
}

int rb_oom(Rollback *rb) {
        return rb_fail(rb, ENOMEM, "Out of memory.");
}

int rb_strdup(char **dst, const char *src) {
        free(*dst);
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

int rb_load_current(Rollback *rb) {
        const char *deployment = rb->h->config.deployment;
        _cleanup_(current_done) Current c = {};
        _cleanup_strv_free_ char **problems = NULL;
        uint64_t unreadable = 0;
        int r;

        r = current_load_lenient(deployment, &c, &unreadable, &problems);
        if (r < 0)
                return r;
        STRV_FOREACH (p, problems)
                log_warning("Failed to read current.json of deployment %s: %s.", deployment, *p);
        current_done(&rb->current);
        rb->current = c;
        c = (Current){};
        rb->migrations_unreadable = unreadable & CURRENT_KEY_BIT(CURRENT_MIGRATIONS);
        return 0;
}

int rb_save(Rollback *rb) {
        int r;

        r = current_save(rb->h->config.deployment, &rb->current);
        if (r < 0)
                return rb_fail(rb, r, "Failed to write current.json: %m");
        return 0;
}

/* after the lock was let go (migrate-watch and smoke take it for every change they make): take it
 * again and read current.json anew */
int rb_relock(Rollback *rb) {
        _cleanup_(current_done) Current old = {};
        bool migrations = rb->migrations_unreadable;
        int r;

        r = helper_lock(rb->h);
        if (r < 0)
                return rb_fail(
                        rb,
                        r,
                        "Failed to take the state lock of deployment %s: %m",
                        rb->h->config.deployment);
        /* the one read before stays rb->current until the new one is known to be this upgrade's */
        old = rb->current;
        rb->current = (Current){};
        r = rb_load_current(rb);
        if (r >= 0 && !streq_ptr(rb->current.instance, rb->h->instance)) {
                _cleanup_free_ char *unit = TAKE_PTR(rb->current.unit);

                current_done(&rb->current);
                rb->current = old;
                old = (Current){};
                return rb_fail(
                        rb,
                        ESTALE,
                        "current.json now belongs to another upgrade (%s): stopping.",
                        strempty(unit));
        }
        if (r < 0) {
                rb->current = old;
                old = (Current){};
                return rb_fail(rb, r, "Failed to read current.json again: %m");
        }
        rb->migrations_unreadable = rb->migrations_unreadable || migrations;
        /* the phase helpers run for the rollback mark their own phase on entry */
        r = current_set_phase(&rb->current, "rollback");
        if (r < 0)
                return rb_oom(rb);
        return 0;
}

/* "FIELD=value" for log_event(), or NULL (a field left out) */
char *event_field(const char *field, const char *value) {
        char *s;

        if (!value || asprintf(&s, "%s=%s", field, value) < 0)
                return NULL;
        return s;
}
