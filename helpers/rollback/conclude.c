/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conclude.c: the end of a rollback: the ledger, the webhook and rollback.d, then current.json goes */
#define _GNU_SOURCE

#include "current.h"
#include "hooks.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "release.h"
#include "rollback.h"
#include "events.h"
#include "prune.h"

/* what the ledger keeps of current.json, besides id, from, to, started */
static const char *const carried[] = {
        "backup",         "snapshot",          "migrations",  "tree", "failed_database",
        "discarded_rows", "rollback_attempts", "held_reason", "late",
};

int write_ledger(
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
bool ledger_has_entry(const char *deployment, const cJSON *current, const char *result) {
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
void rollback_notify(Rollback *rb, const char *event, const char *detail) {
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

/* rollback.d, once the result is known (a refusal changed nothing: no rollback, no hooks); a failing
 * hook is a warning only */
void run_rollback_hooks(Rollback *rb, const char *result) {
        if (!streq(result, "refused"))
                (void)helper_run_hooks(rb->h, HOOKS_ROLLBACK, rb->current, result);
}

/* The ledger first, then current.json goes: a crash in between leaves "rollback_result", and the
 * next run only removes current.json. */
int conclude(Rollback *rb, const char *result, const char *message) {
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
