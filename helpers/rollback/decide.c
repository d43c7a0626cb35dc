/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decide.c: the decision: the facts of current.json through the rollback table, recorded once */
#define _GNU_SOURCE

#include "current.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "rollback.h"

int load_facts(Rollback *rb) {
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

int rollback_facts_from_current(const Rollback *rb, RollbackFacts *ret, char **ret_restore_reason) {
        const cJSON *c = rb->current;
        _cleanup_free_ char *reason = NULL;
        unsigned done = 0;

        if (current_restore_reason(c, &reason) < 0)
                return -ENOMEM;
        for (RollbackPhase p = 0; p < _ROLLBACK_PHASE_MAX; p++)
                if (current_phase_is_done(c, rollback_phase_to_string(p)))
                        done |= 1u << p;
        *ret = (RollbackFacts){
                .run = arg_mode,
                .policy = rb->h->config.rollback,
                .version = rb->h->version,
                .held = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "held")),
                .phase = json_get_string(c, "phase"),
                .phases_done = done,
                .server_stopped = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "server_stopped")),
                .server_started = json_get_string(c, "server_invocation"),
                .restore_reason = reason,
                .recorded_action = json_get_string(c, "rollback_action"),
                .recorded_phase = json_get_string(c, "rollback_from_phase"),
                .recovered = json_get_string(c, "recovered"),
                .recover_attempts = attempts_of(c, "recover_attempts"),
        };
        *ret_restore_reason = TAKE_PTR(reason);
        return 0;
}

/* Decide once, from current.json alone, and record it: a resumed rollback (phase "rollback") goes on
 * with the first run's decision, counting the attempts. */
int decide(Rollback *rb, const RollbackVerdict *v) {
        const char *recorded = json_get_string(rb->current, "rollback_action");
        _cleanup_free_ char *now = current_timestamp();
        int n = attempts_of(rb->current, "rollback_attempts");

        if (!now || load_facts(rb) < 0)
                return rb_oom(rb);

        if (v->row == ROLLBACK_ROW_RESUMED) {
                rb->action = v->action;
                if (rb_strdup(&rb->failed_phase, v->failed_phase) < 0)
                        return rb_oom(rb);
                if (n > 0)
                        log_notice(
                                "Resuming the interrupted rollback of the upgrade to %s (attempt %d): %s.",
                                rb->h->version,
                                n + 1,
                                recorded);
        } else {
                if (rb_strdup(&rb->failed_phase, v->failed_phase) < 0)
                        return rb_oom(rb);
                rb->action = v->action;
                /* [Policy] Rollback= holding is the held reason; restore-always doing less says why */
                if (v->row == ROLLBACK_ROW_POLICY_NONE || v->row == ROLLBACK_ROW_MINOR_ONLY_RESTORE)
                        (void)rb_fail(rb, ECANCELED, "%s", v->reason);
                else if (v->row == ROLLBACK_ROW_RESTORE_ALWAYS_UNRUN)
                        log_notice("%s", v->reason);
                if (rb->action == ROLLBACK_ACTION_REFUSE)
                        return 0; /* nothing to record: current.json goes at once */
                if (rb->action == ROLLBACK_ACTION_HOLD)
                        /* hold() saves it */
                        return current_set_string(rb->current, "rollback_from_phase", rb->failed_phase) < 0
                                       ? rb_oom(rb)
                                       : 0;
                if (current_set_string(rb->current, "rollback_from_phase", rb->failed_phase) < 0 ||
                    current_set_string(
                            rb->current, "rollback_action", rollback_action_to_string(rb->action)) < 0 ||
                    current_set_string(rb->current, "rollback_started", now) < 0)
                        return rb_oom(rb);
        }
        if (rb_set_number(rb, "rollback_attempts", n + 1) < 0 ||
            current_set_phase(rb->current, "rollback") < 0)
                return rb_oom(rb);
        return rb_save(rb);
}
