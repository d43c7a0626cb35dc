/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* rollback-table.h: the rollback table (docs/architecture.md, "Rollback") as a pure function of facts */
#pragma once

#include <errno.h>
#include <stdbool.h>

#include "config.h"

/* what undoes the upgrade; the first five are recorded in current.json "rollback_action" by name, so a
 * resumed rollback goes on with what the first run decided */
typedef enum RollbackAction {
        ROLLBACK_ACTION_REFUSE,  /* refused in preflight: nothing changed */
        ROLLBACK_ACTION_ABORT,   /* failed before the server stopped */
        ROLLBACK_ACTION_MINOR,   /* switch and pin back, start, smoke */
        ROLLBACK_ACTION_RESTORE, /* the database and the stores from the restore point, then as minor */
        ROLLBACK_ACTION_HOLD,    /* stop trying: [Policy] Rollback= forbids what is needed, or held */
        ROLLBACK_ACTION_FINISH,  /* at boot: the upgrade had passed its smoke test, finish it */
        ROLLBACK_ACTION_NONE,    /* at boot: nothing for this run to do */
        _ROLLBACK_ACTION_MAX,
        _ROLLBACK_ACTION_INVALID = -EINVAL,
} RollbackAction;

/* which row of the table matched; each row gives one action */
typedef enum RollbackRow {
        ROLLBACK_ROW_HELD,                  /* held already: final until an operator acts (hold) */
        ROLLBACK_ROW_RECOVER_CHECK_NOTHING, /* recover-check, but nothing was put back at boot (none) */
        ROLLBACK_ROW_RECOVER_CHECK,         /* recover-check of what boot put back (minor or restore) */
        ROLLBACK_ROW_RECOVER_ALREADY,       /* at boot, already put back: the check concludes (none) */
        ROLLBACK_ROW_RECOVER_GAVE_UP,       /* at boot, past ROLLBACK_RECOVER_ATTEMPTS_MAX (hold) */
        ROLLBACK_ROW_RECOVER_FINISH,        /* at boot, it had passed its smoke test (finish) */
        ROLLBACK_ROW_RESUMED,               /* an interrupted rollback goes on as recorded */
        ROLLBACK_ROW_PREFLIGHT,             /* refused in preflight (refuse) */
        ROLLBACK_ROW_BEFORE_STOP,           /* failed before the server stopped (abort) */
        ROLLBACK_ROW_POLICY_NONE,           /* [Policy] Rollback=none (hold) */
        ROLLBACK_ROW_MINOR_ONLY_RESTORE,    /* Rollback=minor-only, but a full restore is needed (hold) */
        ROLLBACK_ROW_RESTORE_ALWAYS, /* Rollback=restore-always, the new version ran or must (restore) */
        ROLLBACK_ROW_RESTORE_ALWAYS_UNRUN, /* Rollback=restore-always, the new version never ran (minor) */
        ROLLBACK_ROW_RESTORE,              /* a migration failed, a breaking one applied, or cut off */
        ROLLBACK_ROW_MINOR,                /* no migration changed the data in a way the old cannot run */
        ROLLBACK_ROW_ROLLING,              /* a rolling cluster upgrade: always minor (the data is shared) */
        ROLLBACK_ROW_COORDINATED_MEMBER,   /* a coordinated roll's member, not its migrator: minor before
                                            * it ran the new version, hold after (the data is migrated) */
        _ROLLBACK_ROW_MAX,
} RollbackRow;

/* how this run was started: by the rollback unit, by the boot recovery before the server starts, or by
 * the check after it started */
typedef enum RollbackRun {
        ROLLBACK_RUN_UNIT,
        ROLLBACK_RUN_RECOVER,
        ROLLBACK_RUN_RECOVER_CHECK,
} RollbackRun;

/* the phases of the upgrade unit, in order: bits of RollbackFacts.phases_done */
typedef enum RollbackPhase {
        ROLLBACK_PHASE_PREFLIGHT,
        ROLLBACK_PHASE_STAGE,
        ROLLBACK_PHASE_BACKUP,
        ROLLBACK_PHASE_DRAIN,
        ROLLBACK_PHASE_SNAPSHOT,
        ROLLBACK_PHASE_SWITCH,
        ROLLBACK_PHASE_MIGRATE,
        ROLLBACK_PHASE_SMOKE,
        ROLLBACK_PHASE_FINISH,
        _ROLLBACK_PHASE_MAX,
        _ROLLBACK_PHASE_INVALID = -EINVAL,
} RollbackPhase;

/* recovery attempts at boot before the upgrade is held (docs/architecture.md, "Recovery after a crash") */
#define ROLLBACK_RECOVER_ATTEMPTS_MAX 3

/* What the table looks at, all of it from current.json (and the configuration); strings are borrowed
 * and may be NULL. */
typedef struct RollbackFacts {
        RollbackRun run;
        RollbackPolicy policy;       /* [Policy] Rollback= */
        const char *version;         /* the version upgraded to (for the reason text) */
        bool held;                   /* "held" */
        const char *phase;           /* "phase": the phase running or last reached */
        unsigned phases_done;        /* 1u << RollbackPhase for each phase "phases" lists */
        bool server_stopped;         /* "server_stopped" */
        bool server_started;         /* "server_invocation": migrate-watch started the new version */
        const char *restore_reason;  /* why going back is a full restore (current_restore_reason()) */
        const char *recorded_action; /* "rollback_action": what an interrupted rollback decided */
        const char *recorded_phase;  /* "rollback_from_phase" */
        const char *recovered;       /* "recovered": what the boot recovery put back */
        int recover_attempts;        /* "recover_attempts" before this run (exhausted: INT_MAX - 1) */
        bool rolling;                /* "cluster_roll": a host's part in a rolling cluster upgrade */
        bool coordinated_member;     /* "cluster_roll" with "cluster_coordinated" but not "cluster_migrator":
                                      * a member of a coordinated roll that does not run the migrations */
} RollbackFacts;

/* the table's answer; owns its strings (rollback_verdict_done() frees them) */
typedef struct RollbackVerdict {
        RollbackAction action;
        RollbackRow row;
        char *failed_phase; /* the phase the upgrade failed in, or NULL when current.json names none */
        char *reason;       /* one sentence, never NULL: for a hold, the held reason as logged */
} RollbackVerdict;

/* Apply the rollback table to facts: no I/O, no logging. Returns 0 with *ret filled (malloc'd strings),
 * or -ENOMEM. */
int rollback_table_decide(const RollbackFacts *facts, RollbackVerdict *ret);

/* A late rollback, by hand after the upgrade succeeded: ROLLBACK_ACTION_MINOR when no full restore is
 * needed (restore_needed false), ROLLBACK_ACTION_RESTORE when one is and it was asked for by name
 * (--discard-since), else ROLLBACK_ACTION_REFUSE. */
RollbackAction rollback_table_late(bool restore_needed, bool discard_asked);

/* The phase the upgrade failed in, from current.json's "phase" and the phases done: a helper killed
 * before it marked its own phase leaves the previous one, done, and then the failure was in the next
 * one. Returns phase itself or a static string; NULL when phase is NULL. */
const char *rollback_table_failed_phase(const char *phase, unsigned phases_done);

/* free the verdict's strings; it may be zeroed or filled */
void rollback_verdict_done(RollbackVerdict *v);

/* "refuse", "abort", "minor", "restore", "hold", "finish", "none", or NULL when out of range */
const char *rollback_action_to_string(RollbackAction a);
/* the action so named, or _ROLLBACK_ACTION_INVALID (s may be NULL) */
RollbackAction rollback_action_from_string(const char *s);
/* "preflight" … "finish", or NULL */
const char *rollback_phase_to_string(RollbackPhase p);
/* the phase so named, or _ROLLBACK_PHASE_INVALID (s may be NULL) */
RollbackPhase rollback_phase_from_string(const char *s);
