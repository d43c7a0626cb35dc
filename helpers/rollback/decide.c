/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* decide.c: the decision: the facts of current.json through the rollback table, recorded once */
#define _GNU_SOURCE

#include "current.h"
#include "log.h"
#include "macro.h"
#include "rollback.h"

/* the restore reason of rb->current; a "migrations" that could not be read may hide a failed or a
 * breaking one: only a full restore is safe then */
static int restore_reason(const Rollback *rb, char **ret) {
        int r;

        r = current_restore_reason(&rb->current, ret);
        if (r < 0)
                return r;
        if (!*ret && rb->migrations_unreadable &&
            !(*ret = strdup("current.json's migrations cannot be read")))
                return -ENOMEM;
        return 0;
}

int load_facts(Rollback *rb) {
        free(rb->restore_reason);
        rb->restore_reason = NULL;
        if (rb_strdup(&rb->failed_db, rb->current.failed_database) < 0 ||
            restore_reason(rb, &rb->restore_reason) < 0)
                return -ENOMEM;
        return 0;
}

int rollback_facts_from_current(const Rollback *rb, RollbackFacts *ret, char **ret_restore_reason) {
        const Current *c = &rb->current;
        _cleanup_free_ char *reason = NULL;
        unsigned done = 0;

        if (restore_reason(rb, &reason) < 0)
                return -ENOMEM;
        for (RollbackPhase p = 0; p < _ROLLBACK_PHASE_MAX; p++)
                if (current_phase_is_done(c, rollback_phase_to_string(p)))
                        done |= 1u << p;
        *ret = (RollbackFacts){
                .run = arg_mode,
                .policy = rb->h->config.rollback,
                .version = rb->h->version,
                .held = c->held,
                .phase = c->phase,
                .phases_done = done,
                .server_stopped = c->server_stopped,
                .server_started = c->server_invocation,
                .restore_reason = reason,
                .recorded_action = c->rollback_action,
                .recorded_phase = c->rollback_from_phase,
                .recovered = c->recovered,
                .recover_attempts = c->recover_attempts,
                .rolling = c->cluster_roll && !c->cluster_coordinated,
                .coordinated_member = c->cluster_roll && c->cluster_coordinated && !c->cluster_migrator,
        };
        *ret_restore_reason = TAKE_PTR(reason);
        return 0;
}

/* Decide once, from current.json alone, and record it: a resumed rollback (phase "rollback") goes on
 * with the first run's decision, counting the attempts. */
int decide(Rollback *rb, const RollbackVerdict *v) {
        Current *c = &rb->current;
        const char *recorded = c->rollback_action;
        _cleanup_free_ char *now = current_timestamp();
        int n = c->rollback_attempts;

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
                /* [Policy] Rollback= or a coordinated roll holding is the held reason; the rows that do
                 * less than the migrations alone would ask say why */
                if (v->row == ROLLBACK_ROW_POLICY_NONE || v->row == ROLLBACK_ROW_MINOR_ONLY_RESTORE ||
                    (v->row == ROLLBACK_ROW_COORDINATED_MEMBER && v->action == ROLLBACK_ACTION_HOLD))
                        (void)rb_fail(rb, ECANCELED, "%s", v->reason);
                else if (
                        v->row == ROLLBACK_ROW_RESTORE_ALWAYS_UNRUN || v->row == ROLLBACK_ROW_ROLLING ||
                        v->row == ROLLBACK_ROW_COORDINATED_MEMBER)
                        log_notice("%s", v->reason);
                if (rb->action == ROLLBACK_ACTION_REFUSE)
                        return 0; /* nothing to record: current.json goes at once */
                /* written as null when the table names no phase */
                c->present |= CURRENT_KEY_BIT(CURRENT_ROLLBACK_FROM_PHASE);
                if (rb_strdup(&c->rollback_from_phase, rb->failed_phase) < 0)
                        return rb_oom(rb);
                if (rb->action == ROLLBACK_ACTION_HOLD)
                        return 0; /* hold() saves it */
                if (rb_strdup(&c->rollback_action, rollback_action_to_string(rb->action)) < 0 ||
                    rb_strdup(&c->rollback_started, now) < 0)
                        return rb_oom(rb);
        }
        c->rollback_attempts = n + 1;
        if (current_set_phase(c, "rollback") < 0)
                return rb_oom(rb);
        return rb_save(rb);
}
