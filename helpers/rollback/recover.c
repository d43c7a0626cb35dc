/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* recover.c: the boot recovery's part before the rollback table, and the check after the start */
#define _GNU_SOURCE
#include <assert.h>

#include "current.h"
#include "log.h"
#include "macro.h"
#include "rollback.h"

/* What the boot recovery does before the rollback table: count the attempt (held past the cap); leave
 * an upgrade already put back to the check; finish an upgrade that had passed its smoke test; and in
 * the check, start and test what was put back. Returns 1 when the run is complete, 0 to go on with the
 * table, <0 on failure. */
int recover_preamble(Rollback *rb, const RollbackVerdict *v) {
        int n = rb->current.recover_attempts, r;

        if (arg_mode == ROLLBACK_RUN_UNIT)
                return 0;

        if (arg_mode == ROLLBACK_RUN_RECOVER_CHECK) {
                if (v->row == ROLLBACK_ROW_RECOVER_CHECK_NOTHING) {
                        log_error(
                                "The upgrade to %s was not put back at boot (see "
                                "codebolt-upgrade-recover.service): "
                                "nothing to check.",
                                rb->h->version);
                        return -ENOENT;
                }
                assert(v->row == ROLLBACK_ROW_RECOVER_CHECK);
                if (load_facts(rb) < 0 || rb_strdup(&rb->failed_phase, v->failed_phase) < 0)
                        return rb_oom(rb);
                rb->action = v->action;
                r = start_and_smoke(rb);
                if (r < 0)
                        return hold(rb);
                r = rb->action == ROLLBACK_ACTION_RESTORE ? finish_restore(rb) : finish_minor(rb);
                return r < 0 ? r : 1;
        }

        /* ROLLBACK_RUN_RECOVER, at boot */
        if (v->row == ROLLBACK_ROW_RECOVER_ALREADY) {
                log_info(
                        "The upgrade to %s was already put back (%s): the check after the server starts "
                        "concludes.",
                        rb->h->version,
                        rb->current.recovered);
                return 1;
        }
        rb->current.recover_attempts = n + 1;
        r = rb_save(rb);
        if (r < 0)
                return r;
        if (v->row == ROLLBACK_ROW_RECOVER_GAVE_UP) {
                if (rb_strdup(&rb->failed_phase, v->failed_phase) < 0)
                        return rb_oom(rb);
                rb->action = ROLLBACK_ACTION_HOLD;
                (void)rb_fail(rb, ELOOP, "%s", v->reason);
                return hold(rb);
        }

        /* it had passed its smoke test: only the bookkeeping of finish was cut off */
        if (v->row == ROLLBACK_ROW_RECOVER_FINISH) {
                int status = 0;

                log_notice(
                        "The upgrade to %s had passed its smoke test when it was interrupted: finishing it.",
                        rb->h->version);
                helper_unlock(rb->h);
                r = run_phase_helper(rb, "finish", &status);
                if (r < 0 || status != 0)
                        return rb_fail(
                                rb, EIO, "finishing the interrupted upgrade to %s failed", rb->h->version);
                return 1;
        }
        return 0;
}
