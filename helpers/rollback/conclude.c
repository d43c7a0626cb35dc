/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* conclude.c: the end of a rollback: the ledger, the webhook and rollback.d, then current.json goes */
#define _GNU_SOURCE

#include "checks.h"
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
#include "roll.h"

/* what the ledger keeps of current.json, besides id, from, to, started */
#define CARRIED                                                                               \
        (CURRENT_KEY_BIT(CURRENT_BACKUP) | CURRENT_KEY_BIT(CURRENT_SNAPSHOT) |                \
         CURRENT_KEY_BIT(CURRENT_MIGRATIONS) | CURRENT_KEY_BIT(CURRENT_TREE) |                \
         CURRENT_KEY_BIT(CURRENT_FAILED_DATABASE) | CURRENT_KEY_BIT(CURRENT_DISCARDED_ROWS) | \
         CURRENT_KEY_BIT(CURRENT_ROLLBACK_ATTEMPTS) | CURRENT_KEY_BIT(CURRENT_HELD_REASON) |  \
         CURRENT_KEY_BIT(CURRENT_LATE) | CURRENT_KEY_BIT(CURRENT_CLUSTER_ROLL) |              \
         CURRENT_KEY_BIT(CURRENT_PHASE_SECONDS))

/* A rollback that brought the old version back (rolled-back, restored) after the upgrade stopped the
 * server: its downtime, from that stop to now, into e. Not for a late rollback (its stop_at is the
 * upgrade's, long done), nor a held one (the server is not back). */
static int add_downtime(cJSON *e, const Current *current, const char *result, const char *now) {
        usec_t stopped, finished;

        if (!current || current->late || !(streq(result, "rolled-back") || streq(result, "restored")) ||
            checks_parse_timestamp(current->stopped_at, &stopped) < 0 ||
            checks_parse_timestamp(now, &finished) < 0 || finished < stopped)
                return 0;
        return cJSON_AddNumberToObject(e, "downtime_seconds", (double)((finished - stopped) / USEC_PER_SEC))
                       ? 0
                       : -ENOMEM;
}

/* phase_seconds.rollback into e: this run of the rollback, up to its ledger entry */
static int add_rollback_seconds(cJSON *e, double seconds) {
        cJSON *phases = cJSON_GetObjectItemCaseSensitive(e, "phase_seconds");

        if (!cJSON_IsObject(phases)) {
                phases = cJSON_CreateObject();
                if (json_set_item(e, "phase_seconds", phases) < 0)
                        return -ENOMEM;
        }
        return json_set_number(phases, "rollback", seconds);
}

int write_ledger(
        Helper *h, const Current *current, const char *result, const char *phase, const char *message) {
        _cleanup_json_ cJSON *e = cJSON_CreateObject(), *ledger = NULL, *carried = NULL;
        _cleanup_free_ char *now = current_timestamp(), *from = NULL;
        const char *f = current ? current->from : NULL;
        const cJSON *v;
        int r;

        if (!f && release_current_version(&from) >= 0)
                f = from;
        if (!e || !now || !cJSON_AddStringToObject(e, "id", strempty(current ? current->id : NULL)) ||
            !cJSON_AddStringToObject(e, "from", strempty(f)) ||
            !cJSON_AddStringToObject(e, "to", h->version) || !cJSON_AddStringToObject(e, "result", result) ||
            !cJSON_AddStringToObject(e, "phase", phase) ||
            !cJSON_AddStringToObject(e, "started", (current ? current->started : NULL) ?: now) ||
            !cJSON_AddStringToObject(e, "finished", now) || !cJSON_AddStringToObject(e, "message", message))
                return log_oom();
        if (current && current_to_json_keys(current, CARRIED, &carried) < 0)
                return log_oom();
        cJSON_ArrayForEach (v, carried)
                if (!cJSON_AddItemToObject(e, v->string, cJSON_Duplicate(v, true)))
                        return log_oom();
        r = add_downtime(e, current, result, now);
        if (r >= 0 && current)
                r = add_rollback_seconds(e, helper_seconds(h));
        if (r < 0)
                return log_oom();

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
bool ledger_has_entry(const char *deployment, const Current *current, const char *result) {
        _cleanup_json_ cJSON *ledger = NULL;
        const cJSON *e;

        if (ledger_load(deployment, &ledger) < 0)
                return false;
        cJSON_ArrayForEach (e, ledger)
                if (streq_ptr(json_get_string(e, "to"), current->to) &&
                    streq_ptr(json_get_string(e, "id"), strempty(current->id)) &&
                    streq_ptr(json_get_string(e, "started"), current->started) &&
                    streq_ptr(json_get_string(e, "result"), result))
                        return true;
        return false;
}

/* the webhook: never with the lock held (a slow receiver must not block the state), never failing */
void rollback_notify(Rollback *rb, const char *event, const char *detail) {
        _cleanup_json_ cJSON *fields = cJSON_CreateObject();
        bool relock = rb->h->lock_fd >= 0;

        if (!fields || !cJSON_AddStringToObject(fields, "from", strempty(rb->current.from)) ||
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
        if (streq(result, "refused"))
                return;
        (void)helper_run_hooks(rb->h, HOOKS_ROLLBACK, &rb->current, result);
}

/* The ledger first, then current.json goes: a crash in between leaves "rollback_result", and the
 * next run only removes current.json. */
int conclude(Rollback *rb, const char *result, const char *message) {
        int r;

        if (!streq_ptr(rb->current.rollback_result, result)) {
                if (rb_strdup(&rb->current.rollback_result, result) < 0)
                        return log_oom();
                r = current_save(rb->h->config.deployment, &rb->current);
                if (r < 0)
                        return log_error_errno(r, "Failed to write current.json: %m");
        }
        if (!ledger_has_entry(rb->h->config.deployment, &rb->current, result)) {
                r = write_ledger(rb->h, &rb->current, result, strempty(rb->failed_phase), message);
                if (r < 0)
                        return r;
        }
        /* a host of a cluster roll: the roll learns how its part ended, and the slot goes. A refusal
         * changed nothing, a roll that gave up on this host (cluster_refused) is no failure of its own,
         * and a crash is no verdict on the release: the host only lets the slot go, and the roll goes on
         * (this host's upgrade may be started again). A late rollback that held a slot was an aborting
         * roll's revert */
        (void)roll_record(
                &rb->h->config,
                &rb->current,
                rb->current.late ? ROLL_RECORD_REVERTED
                : streq(result, "refused") || rb->current.cluster_refused || arg_mode != ROLLBACK_RUN_UNIT
                        ? ROLL_RECORD_RELEASE
                        : ROLL_RECORD_FAILED);
        r = current_remove(rb->h->config.deployment);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to remove current.json: %m");
        run_rollback_hooks(rb, result);
        return 0;
}
