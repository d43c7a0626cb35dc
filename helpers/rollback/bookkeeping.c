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

void rollback_done(Rollback *rb) {
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
_printf_(3, 4) int rb_fail(Rollback *rb, int error, const char *fmt, ...) {
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

int rb_save(Rollback *rb) {
        int r;

        r = current_save(rb->h->config.deployment, rb->current);
        if (r < 0)
                return rb_fail(rb, r, "Failed to write current.json: %m");
        return 0;
}

int rb_set_number(Rollback *rb, const char *key, double value) {
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
int rb_relock(Rollback *rb) {
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

/* the attempts current.json counts: 0 when none; a count that is no whole number in range is taken as
 * exhausted, never as none (and n + 1 stays an int) */
int attempts_of(const cJSON *current, const char *key) {
        int64_t n;
        int r;

        r = json_get_int64_range(current, key, 0, INT_MAX - 1, &n);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? INT_MAX - 1 : (int)n;
}

/* "FIELD=value" for log_event(), or NULL (a field left out) */
char *event_field(const char *field, const char *value) {
        char *s;

        if (!value || asprintf(&s, "%s=%s", field, value) < 0)
                return NULL;
        return s;
}
