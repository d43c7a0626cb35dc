/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rollback-table.c: the rollback table (docs/architecture.md, "Rollback") as a pure function of facts */
#define _GNU_SOURCE
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>

#include "macro.h"
#include "rollback-table.h"
#include "string-util.h"

static const char *const action_names[_ROLLBACK_ACTION_MAX] = {
        [ROLLBACK_ACTION_REFUSE] = "refuse", [ROLLBACK_ACTION_ABORT] = "abort",
        [ROLLBACK_ACTION_MINOR] = "minor",   [ROLLBACK_ACTION_RESTORE] = "restore",
        [ROLLBACK_ACTION_HOLD] = "hold",     [ROLLBACK_ACTION_FINISH] = "finish",
        [ROLLBACK_ACTION_NONE] = "none",
};

static const char *const phase_names[_ROLLBACK_PHASE_MAX] = {
        [ROLLBACK_PHASE_PREFLIGHT] = "preflight", [ROLLBACK_PHASE_STAGE] = "stage",
        [ROLLBACK_PHASE_BACKUP] = "backup",       [ROLLBACK_PHASE_DRAIN] = "drain",
        [ROLLBACK_PHASE_SNAPSHOT] = "snapshot",   [ROLLBACK_PHASE_SWITCH] = "switch",
        [ROLLBACK_PHASE_MIGRATE] = "migrate",     [ROLLBACK_PHASE_SMOKE] = "smoke",
        [ROLLBACK_PHASE_FINISH] = "finish",
};

/* the index of s in names[n], or -EINVAL */
static int name_index(const char *const *names, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (streq_ptr(s, names[i]))
                        return (int)i;
        return -EINVAL;
}

const char *rollback_action_to_string(RollbackAction a) {
        return a >= 0 && a < _ROLLBACK_ACTION_MAX ? action_names[a] : NULL;
}

RollbackAction rollback_action_from_string(const char *s) {
        return (RollbackAction)name_index(action_names, _ROLLBACK_ACTION_MAX, s);
}

const char *rollback_phase_to_string(RollbackPhase p) {
        return p >= 0 && p < _ROLLBACK_PHASE_MAX ? phase_names[p] : NULL;
}

RollbackPhase rollback_phase_from_string(const char *s) {
        return (RollbackPhase)name_index(phase_names, _ROLLBACK_PHASE_MAX, s);
}

static bool phase_done(unsigned phases_done, RollbackPhase p) {
        return phases_done & (1u << p);
}

const char *rollback_table_failed_phase(const char *phase, unsigned phases_done) {
        RollbackPhase p = rollback_phase_from_string(phase);

        /* a phase the table does not know is taken as named */
        if (p < 0 || !phase_done(phases_done, p) || p + 1 >= _ROLLBACK_PHASE_MAX)
                return phase;
        return phase_names[p + 1];
}

RollbackAction rollback_table_late(bool restore_needed, bool discard_asked) {
        if (!restore_needed)
                return ROLLBACK_ACTION_MINOR;
        return discard_asked ? ROLLBACK_ACTION_RESTORE : ROLLBACK_ACTION_REFUSE;
}

void rollback_verdict_done(RollbackVerdict *v) {
        free(v->failed_phase);
        free(v->reason);
        v->failed_phase = v->reason = NULL;
}

_printf_(4, 5) static int verdict(
        RollbackVerdict *v, RollbackAction action, RollbackRow row, const char *fmt, ...) {

        v->action = action;
        v->row = row;
        v->reason = STRPRINTF_ARGS(fmt);
        return v->reason ? 0 : -ENOMEM;
}

/* a fresh decision: where it failed, what [Policy] Rollback= allows */
static int decide_fresh(const RollbackFacts *f, RollbackVerdict *v) {
        bool new_version_ran;

        if (streq_ptr(v->failed_phase, "preflight") && !phase_done(f->phases_done, ROLLBACK_PHASE_PREFLIGHT))
                return verdict(
                        v,
                        ROLLBACK_ACTION_REFUSE,
                        ROLLBACK_ROW_PREFLIGHT,
                        "refused in preflight; nothing changed");
        if (!f->server_stopped)
                return verdict(
                        v,
                        ROLLBACK_ACTION_ABORT,
                        ROLLBACK_ROW_BEFORE_STOP,
                        "failed before the server stopped");

        /* from the switch on, migrate-watch may have started the new version on the data */
        new_version_ran = phase_done(f->phases_done, ROLLBACK_PHASE_SWITCH) || f->server_started;

        /* the other hosts of a rolling upgrade serve from the same database meanwhile: a restore would
         * throw their writes away, and the roll's rules let only backward-compatible migrations in */
        if (f->rolling && f->policy != ROLLBACK_NONE)
                return verdict(
                        v,
                        ROLLBACK_ACTION_MINOR,
                        ROLLBACK_ROW_ROLLING,
                        "a rolling cluster upgrade: the other hosts share the database, so the rollback is "
                        "minor (the code goes back, the data stays)%s%s",
                        f->restore_reason ? "; even though " : "",
                        strempty(f->restore_reason));

        /* a coordinated roll's migrator rolls back as a single host does (every member is stopped);
         * another member never ran the migrations, and once it ran the new version, the data it shares
         * may be migrated past what the old release can run on */
        if (f->coordinated_member && f->policy != ROLLBACK_NONE) {
                if (new_version_ran)
                        return verdict(
                                v,
                                ROLLBACK_ACTION_HOLD,
                                ROLLBACK_ROW_COORDINATED_MEMBER,
                                "a member of a coordinated cluster upgrade failed after %s ran: the "
                                "migrator "
                                "migrated the shared database, and the old release may not run on it; the "
                                "other members serve",
                                strempty(f->version));
                return verdict(
                        v,
                        ROLLBACK_ACTION_MINOR,
                        ROLLBACK_ROW_COORDINATED_MEMBER,
                        "a member of a coordinated cluster upgrade that never ran %s: the old release "
                        "starts again (the migrator, if it migrated, restores the data)",
                        strempty(f->version));
        }

        switch (f->policy) {
        case ROLLBACK_NONE:
                if (f->restore_reason)
                        return verdict(
                                v,
                                ROLLBACK_ACTION_HOLD,
                                ROLLBACK_ROW_POLICY_NONE,
                                "[Policy] Rollback=none: nothing is rolled back automatically (a "
                                "full restore would be needed: %s)",
                                f->restore_reason);
                return verdict(
                        v,
                        ROLLBACK_ACTION_HOLD,
                        ROLLBACK_ROW_POLICY_NONE,
                        "[Policy] Rollback=none: nothing is rolled back automatically (a minor "
                        "rollback would do)");
        case ROLLBACK_MINOR_ONLY:
                if (f->restore_reason)
                        return verdict(
                                v,
                                ROLLBACK_ACTION_HOLD,
                                ROLLBACK_ROW_MINOR_ONLY_RESTORE,
                                "[Policy] Rollback=minor-only, but a full restore is needed: %s",
                                f->restore_reason);
                break;
        case ROLLBACK_RESTORE_ALWAYS:
                if (f->restore_reason || new_version_ran)
                        return verdict(
                                v,
                                ROLLBACK_ACTION_RESTORE,
                                ROLLBACK_ROW_RESTORE_ALWAYS,
                                "%s",
                                f->restore_reason ?: "[Policy] Rollback=restore-always");
                return verdict(
                        v,
                        ROLLBACK_ACTION_MINOR,
                        ROLLBACK_ROW_RESTORE_ALWAYS_UNRUN,
                        "[Policy] Rollback=restore-always, but %s never ran on the data (the "
                        "upgrade failed in %s, before the switch): a minor rollback puts "
                        "everything back.",
                        strempty(f->version),
                        strempty(v->failed_phase));
        case ROLLBACK_AUTO:
        default:
                if (f->restore_reason)
                        return verdict(
                                v, ROLLBACK_ACTION_RESTORE, ROLLBACK_ROW_RESTORE, "%s", f->restore_reason);
                break;
        }
        return verdict(
                v,
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "%s",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data "
                "stays");
}

static int decide(const RollbackFacts *f, RollbackVerdict *v) {
        RollbackAction recorded = rollback_action_from_string(f->recorded_action);
        const char *phase;

        if (f->held)
                return verdict(
                        v,
                        ROLLBACK_ACTION_HOLD,
                        ROLLBACK_ROW_HELD,
                        "held: nothing more is done automatically until an operator acts");

        if (f->run == ROLLBACK_RUN_RECOVER_CHECK) {
                if (!f->recovered)
                        return verdict(
                                v,
                                ROLLBACK_ACTION_NONE,
                                ROLLBACK_ROW_RECOVER_CHECK_NOTHING,
                                "the upgrade to %s was not put back at boot: nothing to check",
                                strempty(f->version));
                if (f->recorded_phase && !(v->failed_phase = strdup(f->recorded_phase)))
                        return -ENOMEM;
                return verdict(
                        v,
                        streq(f->recovered, "restored") ? ROLLBACK_ACTION_RESTORE : ROLLBACK_ACTION_MINOR,
                        ROLLBACK_ROW_RECOVER_CHECK,
                        "put back at boot (%s): start and smoke-test it",
                        f->recovered);
        }

        if (f->run == ROLLBACK_RUN_RECOVER) {
                if (f->recovered)
                        return verdict(
                                v,
                                ROLLBACK_ACTION_NONE,
                                ROLLBACK_ROW_RECOVER_ALREADY,
                                "already put back (%s): the check after the server starts "
                                "concludes",
                                f->recovered);
                /* this run is attempt recover_attempts + 1 */
                if (f->recover_attempts >= ROLLBACK_RECOVER_ATTEMPTS_MAX) {
                        phase = rollback_table_failed_phase(f->phase, f->phases_done);
                        if (phase && !(v->failed_phase = strdup(phase)))
                                return -ENOMEM;
                        return verdict(
                                v,
                                ROLLBACK_ACTION_HOLD,
                                ROLLBACK_ROW_RECOVER_GAVE_UP,
                                "recovery gave up after %d attempts at boot",
                                ROLLBACK_RECOVER_ATTEMPTS_MAX);
                }
                /* only the bookkeeping of finish was cut off */
                if (phase_done(f->phases_done, ROLLBACK_PHASE_SMOKE) && !f->recorded_action)
                        return verdict(
                                v,
                                ROLLBACK_ACTION_FINISH,
                                ROLLBACK_ROW_RECOVER_FINISH,
                                "the upgrade to %s had passed its smoke test when it was "
                                "interrupted: finishing it",
                                strempty(f->version));
        }

        /* a resumed rollback goes on with the first run's decision (a recorded hold is decided anew) */
        if (recorded >= 0 && recorded < ROLLBACK_ACTION_HOLD) {
                if (f->recorded_phase && !(v->failed_phase = strdup(f->recorded_phase)))
                        return -ENOMEM;
                return verdict(
                        v,
                        recorded,
                        ROLLBACK_ROW_RESUMED,
                        "resuming the interrupted rollback: %s",
                        f->recorded_action);
        }

        phase = rollback_table_failed_phase(f->phase, f->phases_done);
        if (phase && !(v->failed_phase = strdup(phase)))
                return -ENOMEM;
        return decide_fresh(f, v);
}

int rollback_table_decide(const RollbackFacts *facts, RollbackVerdict *ret) {
        RollbackVerdict v = {};
        int r;

        assert(facts);
        assert(ret);

        r = decide(facts, &v);
        if (r < 0) {
                rollback_verdict_done(&v);
                return r;
        }
        *ret = v;
        return 0;
}
