/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-rollback-table.c: every row of the rollback table, the late rule, and the edges */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "rollback-table.h"

#define P(x) (1u << ROLLBACK_PHASE_##x)
/* the phases done when the given one completed */
#define UPTO_PREFLIGHT P(PREFLIGHT)
#define UPTO_STAGE (UPTO_PREFLIGHT | P(STAGE))
#define UPTO_BACKUP (UPTO_STAGE | P(BACKUP))
#define UPTO_DRAIN (UPTO_BACKUP | P(DRAIN))
#define UPTO_SNAPSHOT (UPTO_DRAIN | P(SNAPSHOT))
#define UPTO_SWITCH (UPTO_SNAPSHOT | P(SWITCH))
#define UPTO_MIGRATE (UPTO_SWITCH | P(MIGRATE))
#define UPTO_SMOKE (UPTO_MIGRATE | P(SMOKE))
#define UPTO_FINISH (UPTO_SMOKE | P(FINISH))

#define FAILED_MIGRATION "migration 0042-add-runs failed"
#define BREAKING_MIGRATION "breaking migration 0042-add-runs was applied"
#define CUT_MIGRATION "migration 0042-add-runs may have been cut off mid-flight"

typedef struct Case {
        const char *name;
        RollbackFacts facts;
        RollbackAction action;
        RollbackRow row;
        const char *failed_phase;
        const char *reason;
} Case;

/* facts.version is "1.5.0" unless a case says otherwise (set in run_case) */
static const Case cases[] = {
        /* ---- docs/architecture.md, "Rollback": the table, row by row ---- */
        {
                "refused in preflight: nothing",
                { .phase = "preflight" },
                ROLLBACK_ACTION_REFUSE,
                ROLLBACK_ROW_PREFLIGHT,
                "preflight",
                "refused in preflight; nothing changed",
        },
        {
                "failed before the server stopped (in stage): abort",
                { .phase = "stage", .phases_done = UPTO_PREFLIGHT },
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_BEFORE_STOP,
                "stage",
                "failed before the server stopped",
        },
        {
                "failed in drain, before the stop: abort",
                { .phase = "drain", .phases_done = UPTO_BACKUP },
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_BEFORE_STOP,
                "drain",
                "failed before the server stopped",
        },
        {
                "after the server stopped, no migration applied: minor",
                { .phase = "snapshot", .phases_done = UPTO_DRAIN, .server_stopped = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "snapshot",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "migrations applied, none breaking, none failed, none mid-flight: minor",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .server_started = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "smoke",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "rolling cluster upgrade, smoke failed: minor",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .server_started = true,
                  .rolling = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_ROLLING,
                "smoke",
                "a rolling cluster upgrade: the other hosts share the database, so the rollback is minor "
                "(the "
                "code goes back, the data stays)",
        },
        {
                "rolling cluster upgrade, a migration failed: still minor, saying why a restore is not done",
                { .phase = "migrate",
                  .phases_done = UPTO_SWITCH,
                  .server_stopped = true,
                  .server_started = true,
                  .restore_reason = FAILED_MIGRATION,
                  .rolling = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_ROLLING,
                "migrate",
                "a rolling cluster upgrade: the other hosts share the database, so the rollback is minor "
                "(the "
                "code goes back, the data stays); even though " FAILED_MIGRATION,
        },
        {
                "rolling cluster upgrade with Rollback=none: hold, as on one host",
                { .policy = ROLLBACK_NONE,
                  .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .rolling = true },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_POLICY_NONE,
                "smoke",
                "[Policy] Rollback=none: nothing is rolled back automatically (a minor rollback would do)",
        },
        {
                "coordinated cluster upgrade, a member stopped by the migrator's failure: minor",
                { .phase = "snapshot",
                  .phases_done = UPTO_DRAIN,
                  .server_stopped = true,
                  .version = "1.6.0",
                  .coordinated_member = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_COORDINATED_MEMBER,
                "snapshot",
                "a member of a coordinated cluster upgrade that never ran 1.6.0: the old release starts "
                "again (the migrator, if it migrated, restores the data)",
        },
        {
                "coordinated cluster upgrade, a member's smoke failed after the migrator migrated: hold",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .server_started = true,
                  .version = "1.6.0",
                  .coordinated_member = true },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_COORDINATED_MEMBER,
                "smoke",
                "a member of a coordinated cluster upgrade failed after 1.6.0 ran: the migrator migrated "
                "the shared database, and the old release may not run on it; the other members serve",
        },
        {
                "coordinated cluster upgrade, its migrator's breaking migration applied: restore, as on "
                "one host",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .server_started = true,
                  .restore_reason = FAILED_MIGRATION },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE,
                "smoke",
                FAILED_MIGRATION,
        },
        {
                "rolling cluster upgrade, failed before the stop: abort",
                { .phase = "backup", .phases_done = UPTO_STAGE, .rolling = true },
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_BEFORE_STOP,
                "backup",
                "failed before the server stopped",
        },
        {
                "a migration failed: restore",
                { .phase = "migrate",
                  .phases_done = UPTO_SWITCH,
                  .server_stopped = true,
                  .server_started = true,
                  .restore_reason = FAILED_MIGRATION },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE,
                "migrate",
                FAILED_MIGRATION,
        },
        {
                "a breaking migration applied: restore",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .restore_reason = BREAKING_MIGRATION },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE,
                "smoke",
                BREAKING_MIGRATION,
        },
        {
                "a migration may have been mid-flight: restore",
                { .phase = "migrate",
                  .phases_done = UPTO_SWITCH,
                  .server_stopped = true,
                  .restore_reason = CUT_MIGRATION },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE,
                "migrate",
                CUT_MIGRATION,
        },
        {
                "held already: hold, nothing more",
                { .held = true, .phase = "rollback", .recorded_action = "restore" },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_HELD,
                NULL,
                "held: nothing more is done automatically until an operator acts",
        },
        {
                "recovery gave up after 3 attempts: hold",
                { .run = ROLLBACK_RUN_RECOVER,
                  .phase = "migrate",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .recover_attempts = 3 },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_RECOVER_GAVE_UP,
                "smoke",
                "recovery gave up after 3 attempts at boot",
        },

        /* ---- [Policy] Rollback= ---- */
        {
                "Rollback=none, a minor rollback would do: hold",
                { .policy = ROLLBACK_NONE,
                  .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_POLICY_NONE,
                "smoke",
                "[Policy] Rollback=none: nothing is rolled back automatically (a minor rollback would do)",
        },
        {
                "Rollback=none, a restore would be needed: hold",
                { .policy = ROLLBACK_NONE,
                  .phase = "migrate",
                  .phases_done = UPTO_SWITCH,
                  .server_stopped = true,
                  .restore_reason = FAILED_MIGRATION },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_POLICY_NONE,
                "migrate",
                "[Policy] Rollback=none: nothing is rolled back automatically (a full restore would be "
                "needed: " FAILED_MIGRATION ")",
        },
        {
                "Rollback=none before the stop: abort all the same",
                { .policy = ROLLBACK_NONE, .phase = "drain", .phases_done = UPTO_BACKUP },
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_BEFORE_STOP,
                "drain",
                "failed before the server stopped",
        },
        {
                "Rollback=minor-only, minor will do: minor",
                { .policy = ROLLBACK_MINOR_ONLY,
                  .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "smoke",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "Rollback=minor-only, a restore is needed: hold",
                { .policy = ROLLBACK_MINOR_ONLY,
                  .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .restore_reason = BREAKING_MIGRATION },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_MINOR_ONLY_RESTORE,
                "smoke",
                "[Policy] Rollback=minor-only, but a full restore is needed: " BREAKING_MIGRATION,
        },
        {
                "Rollback=restore-always, a restore is needed anyway: restore",
                { .policy = ROLLBACK_RESTORE_ALWAYS,
                  .phase = "migrate",
                  .phases_done = UPTO_SWITCH,
                  .server_stopped = true,
                  .restore_reason = FAILED_MIGRATION },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE_ALWAYS,
                "migrate",
                FAILED_MIGRATION,
        },
        {
                "Rollback=restore-always, switched: restore",
                { .policy = ROLLBACK_RESTORE_ALWAYS,
                  .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE_ALWAYS,
                "smoke",
                "[Policy] Rollback=restore-always",
        },
        {
                "Rollback=restore-always, the server was started though switch is not done: restore",
                { .policy = ROLLBACK_RESTORE_ALWAYS,
                  .phase = "switch",
                  .phases_done = UPTO_SNAPSHOT,
                  .server_stopped = true,
                  .server_started = true },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE_ALWAYS,
                "switch",
                "[Policy] Rollback=restore-always",
        },
        {
                "Rollback=restore-always, the new version never ran: minor",
                { .policy = ROLLBACK_RESTORE_ALWAYS,
                  .phase = "snapshot",
                  .phases_done = UPTO_DRAIN,
                  .server_stopped = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_RESTORE_ALWAYS_UNRUN,
                "snapshot",
                "[Policy] Rollback=restore-always, but 1.5.0 never ran on the data (the upgrade failed in "
                "snapshot, before the switch): a minor rollback puts everything back.",
        },

        /* ---- the phase it failed in ---- */
        {
                "a helper killed before marking its phase: the next phase failed",
                { .phase = "snapshot", .phases_done = UPTO_SNAPSHOT, .server_stopped = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "switch",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "preflight done: the failure was in stage, not a refusal",
                { .phase = "preflight", .phases_done = UPTO_PREFLIGHT },
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_BEFORE_STOP,
                "stage",
                "failed before the server stopped",
        },
        {
                "finish done stays finish",
                { .phase = "finish", .phases_done = UPTO_FINISH, .server_stopped = true },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "finish",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "an unknown phase is taken as named",
                { .phase = "defragment", .phases_done = UPTO_STAGE },
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_BEFORE_STOP,
                "defragment",
                "failed before the server stopped",
        },
        {
                "no phase at all: abort, no phase named",
                {},
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_BEFORE_STOP,
                NULL,
                "failed before the server stopped",
        },

        /* ---- a resumed rollback goes on as recorded ---- */
        {
                "resumed restore goes on, whatever the policy says now",
                { .policy = ROLLBACK_NONE,
                  .phase = "rollback",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .recorded_action = "restore",
                  .recorded_phase = "smoke" },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESUMED,
                "smoke",
                "resuming the interrupted rollback: restore",
        },
        {
                "resumed minor",
                { .phase = "rollback",
                  .server_stopped = true,
                  .restore_reason = FAILED_MIGRATION,
                  .recorded_action = "minor",
                  .recorded_phase = "snapshot" },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_RESUMED,
                "snapshot",
                "resuming the interrupted rollback: minor",
        },
        {
                "resumed abort",
                { .phase = "rollback", .recorded_action = "abort", .recorded_phase = "drain" },
                ROLLBACK_ACTION_ABORT,
                ROLLBACK_ROW_RESUMED,
                "drain",
                "resuming the interrupted rollback: abort",
        },
        {
                "a recorded hold is decided anew",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .recorded_action = "hold",
                  .recorded_phase = "smoke" },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "smoke",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "a recorded action this version does not know is decided anew",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .recorded_action = "teleport" },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "smoke",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "a late rollback's current.json: resumed as recorded from finish",
                { .phase = "rollback",
                  .server_stopped = true,
                  .restore_reason = BREAKING_MIGRATION,
                  .recorded_action = "restore",
                  .recorded_phase = "finish" },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESUMED,
                "finish",
                "resuming the interrupted rollback: restore",
        },

        /* ---- the boot recovery ---- */
        {
                "at boot, attempt 3 of 3 goes on with the table",
                { .run = ROLLBACK_RUN_RECOVER,
                  .phase = "migrate",
                  .phases_done = UPTO_SWITCH,
                  .server_stopped = true,
                  .restore_reason = CUT_MIGRATION,
                  .recover_attempts = 2 },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RESTORE,
                "migrate",
                CUT_MIGRATION,
        },
        {
                "at boot, an attempt count that is no number is exhausted",
                { .run = ROLLBACK_RUN_RECOVER, .phase = "drain", .recover_attempts = INT_MAX - 1 },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_RECOVER_GAVE_UP,
                "drain",
                "recovery gave up after 3 attempts at boot",
        },
        {
                "at boot, the attempt limit wins over a recorded action",
                { .run = ROLLBACK_RUN_RECOVER,
                  .phase = "rollback",
                  .recorded_action = "minor",
                  .recorded_phase = "smoke",
                  .recover_attempts = 4 },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_RECOVER_GAVE_UP,
                "rollback",
                "recovery gave up after 3 attempts at boot",
        },
        {
                "the attempt limit is the boot's only: the rollback unit goes on",
                { .phase = "smoke",
                  .phases_done = UPTO_MIGRATE,
                  .server_stopped = true,
                  .recover_attempts = 9 },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_MINOR,
                "smoke",
                "no migration failed, none breaking, none mid-flight: a minor rollback, the data stays",
        },
        {
                "at boot, passed its smoke test: finish it",
                { .run = ROLLBACK_RUN_RECOVER,
                  .phase = "finish",
                  .phases_done = UPTO_SMOKE,
                  .server_stopped = true },
                ROLLBACK_ACTION_FINISH,
                ROLLBACK_ROW_RECOVER_FINISH,
                NULL,
                "the upgrade to 1.5.0 had passed its smoke test when it was interrupted: finishing it",
        },
        {
                "at boot, passed its smoke test but a rollback was decided: resumed",
                { .run = ROLLBACK_RUN_RECOVER,
                  .phase = "rollback",
                  .phases_done = UPTO_SMOKE,
                  .server_stopped = true,
                  .recorded_action = "minor",
                  .recorded_phase = "finish" },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_RESUMED,
                "finish",
                "resuming the interrupted rollback: minor",
        },
        {
                "at boot, already put back: the check concludes",
                { .run = ROLLBACK_RUN_RECOVER,
                  .phase = "rollback",
                  .recovered = "restored",
                  .recover_attempts = 7 },
                ROLLBACK_ACTION_NONE,
                ROLLBACK_ROW_RECOVER_ALREADY,
                NULL,
                "already put back (restored): the check after the server starts concludes",
        },
        {
                "held beats the boot",
                { .run = ROLLBACK_RUN_RECOVER, .held = true, .recover_attempts = 7 },
                ROLLBACK_ACTION_HOLD,
                ROLLBACK_ROW_HELD,
                NULL,
                "held: nothing more is done automatically until an operator acts",
        },
        {
                "the check after the boot, restored",
                { .run = ROLLBACK_RUN_RECOVER_CHECK,
                  .phase = "rollback",
                  .recovered = "restored",
                  .recorded_phase = "migrate" },
                ROLLBACK_ACTION_RESTORE,
                ROLLBACK_ROW_RECOVER_CHECK,
                "migrate",
                "put back at boot (restored): start and smoke-test it",
        },
        {
                "the check after the boot, rolled back",
                { .run = ROLLBACK_RUN_RECOVER_CHECK,
                  .phase = "rollback",
                  .recovered = "rolled-back",
                  .recorded_phase = "smoke" },
                ROLLBACK_ACTION_MINOR,
                ROLLBACK_ROW_RECOVER_CHECK,
                "smoke",
                "put back at boot (rolled-back): start and smoke-test it",
        },
        {
                "the check after the boot with nothing put back",
                { .run = ROLLBACK_RUN_RECOVER_CHECK, .phase = "migrate", .server_stopped = true },
                ROLLBACK_ACTION_NONE,
                ROLLBACK_ROW_RECOVER_CHECK_NOTHING,
                NULL,
                "the upgrade to 1.5.0 was not put back at boot: nothing to check",
        },
};

START_TEST(test_row) {
        const Case *c = &cases[_i];
        RollbackFacts f = c->facts;
        RollbackVerdict v = {};

        if (!f.version)
                f.version = "1.5.0";
        ck_assert_int_eq(rollback_table_decide(&f, &v), 0);
        ck_assert_msg(
                v.action == c->action,
                "%s: action %s, expected %s",
                c->name,
                rollback_action_to_string(v.action),
                rollback_action_to_string(c->action));
        ck_assert_msg(v.row == c->row, "%s: row %d, expected %d", c->name, (int)v.row, (int)c->row);
        ck_assert_msg(
                streq_ptr(v.failed_phase, c->failed_phase),
                "%s: failed phase %s, expected %s",
                c->name,
                v.failed_phase ?: "(null)",
                c->failed_phase ?: "(null)");
        ck_assert_msg(
                v.reason && streq(v.reason, c->reason),
                "%s: reason \"%s\", expected \"%s\"",
                c->name,
                v.reason ?: "(null)",
                c->reason);
        rollback_verdict_done(&v);
        ck_assert_ptr_null(v.reason);
        ck_assert_ptr_null(v.failed_phase);
}
END_TEST

/* every row is reached by some case */
START_TEST(test_every_row_covered) {
        for (int row = 0; row < _ROLLBACK_ROW_MAX; row++) {
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                        if ((int)cases[i].row == row)
                                found = true;
                ck_assert_msg(found, "no case for row %d", row);
        }
}
END_TEST

/* the verdict does not borrow from the facts: it outlives them */
START_TEST(test_verdict_owns_its_strings) {
        char phase[] = "migrate", reason[] = FAILED_MIGRATION;
        RollbackFacts f = {
                .version = "1.5.0",
                .phase = phase,
                .phases_done = UPTO_SWITCH,
                .server_stopped = true,
                .restore_reason = reason,
        };
        RollbackVerdict v = {};

        ck_assert_int_eq(rollback_table_decide(&f, &v), 0);
        memset(phase, 'x', sizeof(phase) - 1);
        memset(reason, 'x', sizeof(reason) - 1);
        ck_assert_str_eq(v.failed_phase, "migrate");
        ck_assert_str_eq(v.reason, FAILED_MIGRATION);
        rollback_verdict_done(&v);
        rollback_verdict_done(&v); /* twice is harmless */
}
END_TEST

/* docs/architecture.md, "Late rollback": minor when no breaking migration; a restore only by name */
START_TEST(test_late) {
        ck_assert_int_eq(rollback_table_late(false, false), ROLLBACK_ACTION_MINOR);
        ck_assert_int_eq(rollback_table_late(false, true), ROLLBACK_ACTION_MINOR);
        ck_assert_int_eq(rollback_table_late(true, false), ROLLBACK_ACTION_REFUSE);
        ck_assert_int_eq(rollback_table_late(true, true), ROLLBACK_ACTION_RESTORE);
}
END_TEST

START_TEST(test_names) {
        static const char *const recorded[] = { "refuse", "abort", "minor", "restore", "hold" };

        /* the names current.json records: a resumed run of an older version reads them */
        for (size_t i = 0; i < ELEMENTSOF(recorded); i++) {
                ck_assert_int_eq(rollback_action_from_string(recorded[i]), (int)i);
                ck_assert_str_eq(rollback_action_to_string((RollbackAction)i), recorded[i]);
        }
        for (int a = 0; a < _ROLLBACK_ACTION_MAX; a++)
                ck_assert_int_eq(rollback_action_from_string(rollback_action_to_string(a)), a);
        ck_assert_int_eq(rollback_action_from_string(NULL), _ROLLBACK_ACTION_INVALID);
        ck_assert_int_eq(rollback_action_from_string("Minor"), _ROLLBACK_ACTION_INVALID);
        ck_assert_ptr_null(rollback_action_to_string(_ROLLBACK_ACTION_MAX));
        ck_assert_ptr_null(rollback_action_to_string(_ROLLBACK_ACTION_INVALID));

        for (int p = 0; p < _ROLLBACK_PHASE_MAX; p++)
                ck_assert_int_eq(rollback_phase_from_string(rollback_phase_to_string(p)), p);
        ck_assert_str_eq(rollback_phase_to_string(ROLLBACK_PHASE_MIGRATE), "migrate");
        ck_assert_int_eq(rollback_phase_from_string("rollback"), _ROLLBACK_PHASE_INVALID);
        ck_assert_int_eq(rollback_phase_from_string(NULL), _ROLLBACK_PHASE_INVALID);
        ck_assert_ptr_null(rollback_phase_to_string(_ROLLBACK_PHASE_MAX));
}
END_TEST

START_TEST(test_failed_phase) {
        ck_assert_ptr_null(rollback_table_failed_phase(NULL, UPTO_FINISH));
        ck_assert_str_eq(rollback_table_failed_phase("backup", UPTO_STAGE), "backup");
        ck_assert_str_eq(rollback_table_failed_phase("backup", UPTO_BACKUP), "drain");
        ck_assert_str_eq(rollback_table_failed_phase("migrate", UPTO_MIGRATE), "smoke");
        ck_assert_str_eq(rollback_table_failed_phase("finish", UPTO_FINISH), "finish");
        /* only the named phase's own bit counts */
        ck_assert_str_eq(rollback_table_failed_phase("switch", P(SWITCH)), "migrate");
        ck_assert_str_eq(rollback_table_failed_phase("switch", UPTO_SNAPSHOT), "switch");
        ck_assert_str_eq(rollback_table_failed_phase("rollback", UPTO_FINISH), "rollback");
}
END_TEST

static Suite *rollback_table_suite(void) {
        Suite *s = suite_create("rollback-table");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_row, 0, ELEMENTSOF(cases));
        tcase_add_test(tc, test_every_row_covered);
        tcase_add_test(tc, test_verdict_owns_its_strings);
        tcase_add_test(tc, test_late);
        tcase_add_test(tc, test_names);
        tcase_add_test(tc, test_failed_phase);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(rollback_table_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
