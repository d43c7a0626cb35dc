/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rollback: decide from current.json alone what undoes a failed upgrade, do the least that is safe */
#define _GNU_SOURCE
#include <systemd/sd-bus.h>

#include "bus.h"
#include "current.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "unitname.h"
#include "rollback.h"

RollbackRun arg_mode = ROLLBACK_RUN_UNIT;

static int run(Helper *h) {
        _cleanup_(rollback_done) Rollback rb = { .h = h };
        _cleanup_(rollback_verdict_done) RollbackVerdict verdict = {};
        _cleanup_free_ char *restore_reason = NULL;
        RollbackFacts facts;
        const char *result;
        int r;

        log_status("rollback: looking at the upgrade to %s", h->version);
        r = helper_lock(h);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", h->config.deployment);

        r = rb_load_current(&rb);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(
                        r, "Failed to read current.json of deployment %s: %m", h->config.deployment);
        if (r == -ENOENT) {
                r = begin_late_rollback(&rb);
                if (r == 0)
                        return nothing_to_roll_back(&rb);
                if (r < 0)
                        return 1;
        }

        /* the instance string is compared before unescaping: a second upgrade refused because one is in
         * flight never made current.json, so its rollback leaves the first alone */
        if (!streq_ptr(rb.current.instance, h->instance)) {
                return nothing_to_roll_back(&rb);
        }

        /* the table decides once, from current.json as this run found it */
        if (rollback_facts_from_current(&rb, &facts, &restore_reason) < 0 ||
            rollback_table_decide(&facts, &verdict) < 0)
                return log_oom();

        /* held is final for this upgrade until an operator acts */
        if (verdict.row == ROLLBACK_ROW_HELD) {
                log_error(
                        "The rollback of the upgrade to %s is held (%s): nothing more is done "
                        "automatically. "
                        "See: codebolt-upgrade status",
                        h->version,
                        strempty(rb.current.held_reason));
                if (!ledger_has_entry(h->config.deployment, &rb.current, "held"))
                        (void)write_ledger(
                                h,
                                &rb.current,
                                "held",
                                strempty(rb.current.rollback_from_phase ?: rb.current.phase),
                                strempty(rb.current.held_reason));
                end_inhibitor(&rb.current);
                /* at boot and after it, a held upgrade is reported, not failed again at every start */
                return arg_mode == ROLLBACK_RUN_UNIT ? 1 : 0;
        }

        r = recover_preamble(&rb, &verdict);
        if (r != 0)
                return r < 0 ? r : 0;

        r = decide(&rb, &verdict);
        if (r < 0)
                return r;
        /* Snapshot=delta: no way back needs the slot (the snapshot phase copied what a restore replays) */
        drop_delta_slot(&rb);

        /* a crash between the ledger and the removal of current.json: only the removal is left */
        result = rb.current.rollback_result;
        if (result)
                r = conclude(&rb, result, "rollback finished by a later run");
        else
                switch (rb.action) {
                case ROLLBACK_ACTION_REFUSE:
                        log_notice(
                                "The upgrade to %s was refused in preflight: nothing changed.", h->version);
                        r = conclude(&rb, "refused", "refused in preflight; nothing changed");
                        break;
                case ROLLBACK_ACTION_ABORT:
                        r = do_abort(&rb);
                        break;
                case ROLLBACK_ACTION_MINOR:
                        r = do_minor(&rb);
                        break;
                case ROLLBACK_ACTION_RESTORE:
                        r = do_restore(&rb);
                        break;
                case ROLLBACK_ACTION_HOLD:
                default:
                        r = -ECANCELED;
                        break;
                }

        end_inhibitor(&rb.current);
        /* a failure to write the ledger or remove current.json after the work is done is no hold: the
         * next run only finishes the bookkeeping */
        if (r >= 0 || rb.action == ROLLBACK_ACTION_REFUSE || rb.current.rollback_result)
                return r;
        /* stopped by a signal (a shutdown): current.json says "rollback", the next run resumes */
        if (helper_cancelled && rb.action != ROLLBACK_ACTION_HOLD) {
                _cleanup_free_ char *unit = deployment_unit(h, "rollback");
                log_error(
                        "The rollback of the upgrade to %s was stopped by signal %d: run it again to resume "
                        "(systemctl start %s).",
                        h->version,
                        (int)helper_cancelled,
                        unit ?: "codebolt-rollback@…");
                return r;
        }
        return hold(&rb);
}

/* ExecStopPost=: OnFailure= does not fire when an operator stops the unit, so queue the same rollback
 * job (without waiting: the two requests merge into one job) whenever the upgrade did not succeed */
static int queue_if_failed(const char *instance) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *unit = NULL, *error = NULL;
        const char *result = getenv("SERVICE_RESULT");
        int r;

        log_setup(NULL, "rollback");
        if (!result || streq(result, "success") || streq(result, "exec-condition"))
                return 0;
        if (unitname_deployment_unit("rollback", getenv("CODEBOLT_DEPLOYMENT"), instance, &unit) < 0)
                return log_oom(), 1;

        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus to queue %s: %m", unit), 1;
        r = bus_queue_start_unit(bus, unit, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to queue %s: %s", unit, error ?: strerror(-r)), 1;
        log_notice("The upgrade ended '%s': queued %s.", result, unit);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc == 3 && streq(argv[1], "--queue-if-failed"))
                return queue_if_failed(argv[2]);
        if (argc == 3 && streq(argv[1], "--recover"))
                arg_mode = ROLLBACK_RUN_RECOVER;
        else if (argc == 3 && streq(argv[1], "--recover-check"))
                arg_mode = ROLLBACK_RUN_RECOVER_CHECK;
        /* an option this version does not know must never run the whole rollback, which starts the
         * server */
        else if (argc > 2 && startswith(argv[1], "--")) {
                fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[1]);
                return 2;
        }
        return helper_main(argc, argv, "rollback", HELPER_NO_CURRENT | HELPER_ANY_VERSION, run);
}
