/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-retention.c: retention module: which snapshots, failed databases and releases may go */
#define _GNU_SOURCE
#include <check.h>

#include "json-util.h"
#include "macro.h"
#include "retention.h"

/* the scenario of tests/integration/clean-retention.sh: 1.4.0 → 1.5.0 succeeded, → 1.5.1 restored (its
 * snapshot became codebolt again, the failed database kept), → 1.5.4 rolled back, → 1.5.6 succeeded */
#define ENTRY_A                                                                             \
        "{\"id\":\"aaaa1111aaaa1111aaaa1111aaaa1111\",\"from\":\"1.4.0\",\"to\":\"1.5.0\"," \
        "\"result\":\"succeeded\",\"finished\":\"2026-11-20T10:00:00Z\","                   \
        "\"snapshot\":\"codebolt_pre_aaaa1111aaaa\",\"backup\":\"/backups/codebolt/A\"}"
#define ENTRY_B                                                                             \
        "{\"id\":\"bbbb2222bbbb2222bbbb2222bbbb2222\",\"from\":\"1.5.0\",\"to\":\"1.5.1\"," \
        "\"result\":\"restored\",\"snapshot\":\"codebolt_pre_bbbb2222bbbb\","               \
        "\"failed_database\":\"codebolt_failed_bbbb2222bbbb\",\"backup\":\"/backups/codebolt/B\"}"
#define ENTRY_C                                                                             \
        "{\"id\":\"cccc3333cccc3333cccc3333cccc3333\",\"from\":\"1.5.0\",\"to\":\"1.5.4\"," \
        "\"result\":\"rolled-back\",\"snapshot\":\"codebolt_pre_cccc3333cccc\","            \
        "\"backup\":\"/backups/codebolt/C\"}"
#define ENTRY_D                                                                             \
        "{\"id\":\"dddd4444dddd4444dddd4444dddd4444\",\"from\":\"1.5.0\",\"to\":\"1.5.6\"," \
        "\"result\":\"succeeded\",\"snapshot\":\"codebolt_pre_dddd4444dddd\","              \
        "\"backup\":\"/backups/codebolt/D\"}"
#define LEDGER "[" ENTRY_A "," ENTRY_B "," ENTRY_C "," ENTRY_D "]"

typedef struct Case {
        const char *name;
        const char *ledger;  /* JSON */
        const char *current; /* JSON, or NULL */
        const char *db;      /* NULL: codebolt */
        const char *databases[14];
        const char *releases[10];
        const char *backups[5];
        const char *running;
        const char *pinned;
        unsigned keep;
        const char *drop;       /* what may go, in the plan's order, comma-separated */
        const char *kept;       /* what must be in the plan as staying */
        const char *absent;     /* what must not be in the plan at all */
        const char *reason_of;  /* this item's reason … */
        const char *reason_has; /* … contains this */
} Case;

static const Case cases[] = {
        {
                .name = "the snapshot a late rollback restores from stays, older ones go",
                .ledger = LEDGER,
                .databases = { "codebolt",
                               "codebolt_pre_aaaa1111aaaa",
                               "codebolt_pre_cccc3333cccc",
                               "codebolt_pre_dddd4444dddd",
                               "postgres",
                               "template1" },
                .running = "1.5.6",
                .pinned = "1.5.6",
                .keep = 1,
                .drop = "codebolt_pre_aaaa1111aaaa,codebolt_pre_cccc3333cccc",
                .kept = "codebolt_pre_dddd4444dddd",
                .absent = "codebolt,postgres,template1",
                .reason_of = "codebolt_pre_dddd4444dddd",
                .reason_has = "codebolt-rollback@1.5.6",
        },
        {
                .name = "a snapshot whose upgrade's backup is still kept stays",
                .ledger = LEDGER,
                .databases = { "codebolt_pre_aaaa1111aaaa", "codebolt_pre_cccc3333cccc" },
                .backups = { "/backups/codebolt/C", "/backups/codebolt/D" },
                .running = "1.5.6",
                .keep = 2,
                .drop = "codebolt_pre_aaaa1111aaaa",
                .kept = "codebolt_pre_cccc3333cccc",
                .reason_of = "codebolt_pre_cccc3333cccc",
                .reason_has = "/backups/codebolt/C",
        },
        {
                .name = "once the success was rolled back by hand, its snapshot may go",
                .ledger =
                        "[" ENTRY_A
                        ",{\"id\":\"aaaa1111aaaa1111aaaa1111aaaa1111\",\"from\":\"1.4.0\",\"to\":\"1.5.0\","
                        "\"result\":\"rolled-back\",\"late\":true,\"backup\":\"/backups/codebolt/A\"}]",
                .databases = { "codebolt_pre_aaaa1111aaaa" },
                .running = "1.4.0",
                .keep = 5,
                .drop = "codebolt_pre_aaaa1111aaaa",
        },
        {
                .name = "a held upgrade's databases are never listed",
                .ledger = LEDGER,
                .current =
                        "{\"id\":\"eeee5555eeee5555eeee5555eeee5555\",\"from\":\"1.5.6\",\"to\":\"1.6.0\","
                        "\"held\":true,\"snapshot\":\"codebolt_pre_eeee5555eeee\","
                        "\"failed_database\":\"codebolt_failed_eeee5555eeee\"}",
                .databases = { "codebolt_pre_eeee5555eeee",
                               "codebolt_failed_eeee5555eeee",
                               "codebolt_restore_eeee5555eeee",
                               "codebolt_verify_eeee5555",
                               "codebolt_verify_cccc3333",
                               "codebolt_restore_bbbb2222bbbb",
                               "codebolt_pre_aaaa1111aaaa" },
                .releases = { "1.5.0", "1.5.6", "1.6.0" },
                .running = "1.6.0",
                .pinned = "1.6.0",
                .keep = 1,
                .drop = "codebolt_pre_aaaa1111aaaa",
                .kept = "codebolt_pre_eeee5555eeee,codebolt_failed_eeee5555eeee,codebolt_restore_"
                        "eeee5555eeee,"
                        "codebolt_verify_eeee5555,codebolt_verify_cccc3333,codebolt_restore_bbbb2222bbbb,"
                        "1.6.0,1.5.6,1.5.0",
                .reason_of = "codebolt_failed_eeee5555eeee",
                .reason_has = "held upgrade 1.5.6 → 1.6.0",
        },
        {
                .name = "an upgrade in flight keeps what carries its id and its releases",
                .ledger = LEDGER,
                .current =
                        "{\"id\":\"ffff6666ffff6666ffff6666ffff6666\",\"from\":\"1.5.6\",\"to\":\"1.6.0\","
                        "\"phase\":\"backup\"}",
                .databases = { "codebolt_verify_ffff6666",
                               "codebolt_pre_ffff6666ffff",
                               "codebolt_failed_ffff6666ffff" },
                .releases = { "1.4.0", "1.5.6", "1.6.0", "1.7.0" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "1.4.0",
                .kept = "codebolt_verify_ffff6666,codebolt_pre_ffff6666ffff,codebolt_failed_ffff6666ffff,1."
                        "6.0,"
                        "1.7.0,1.5.6",
        },
        {
                .name = "names that only start like ours are never listed",
                .ledger = LEDGER,
                .databases = { "codebolt_pre",
                               "codebolt_pre_",
                               "codebolt_pre_AAAA1111AAAA",
                               "codebolt_pre_aaaa_1111",
                               "codebolt_prefix_aaaa1111aaaa",
                               "codebolt_preaaaa1111aaaa",
                               "codebolt_snapshot_aaaa1111aaaa",
                               "codebolt__pre_aaaa1111aaaa",
                               "Codebolt_pre_aaaa1111aaaa",
                               "codebolt_pre_aaaa1111-aaaa",
                               "codebolt_failed",
                               "codebolt_verify_",
                               "codebolt" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "",
                .absent = "codebolt_pre,codebolt_pre_,codebolt_pre_AAAA1111AAAA,codebolt_pre_aaaa_1111,"
                          "codebolt_prefix_aaaa1111aaaa,codebolt_preaaaa1111aaaa,codebolt_snapshot_"
                          "aaaa1111aaaa,"
                          "codebolt__pre_aaaa1111aaaa,Codebolt_pre_aaaa1111aaaa,codebolt_pre_aaaa1111-aaaa,"
                          "codebolt_failed,codebolt_verify_,codebolt",
        },
        {
                .name = "another deployment's databases are never listed",
                .ledger = LEDGER,
                .databases = { "codebolt_staging",
                               "codebolt_staging_pre_aaaa1111aaaa",
                               "codebolt_staging_failed_bbbb2222bbbb",
                               "codebolt2_pre_aaaa1111aaaa",
                               "cb_pre_aaaa1111aaaa",
                               "codebolt_staging_verify_cccc3333" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "",
                .absent = "codebolt_staging,codebolt_staging_pre_aaaa1111aaaa,"
                          "codebolt_staging_failed_bbbb2222bbbb,codebolt2_pre_aaaa1111aaaa,cb_pre_"
                          "aaaa1111aaaa,"
                          "codebolt_staging_verify_cccc3333",
        },
        {
                .name = "this deployment's names are not another deployment's to list",
                .ledger = LEDGER,
                .db = "codebolt_staging",
                .databases = { "codebolt", "codebolt_pre_aaaa1111aaaa", "codebolt_failed_bbbb2222bbbb" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "",
                .absent = "codebolt,codebolt_pre_aaaa1111aaaa,codebolt_failed_bbbb2222bbbb",
        },
        {
                .name = "a database no upgrade of the ledger made is left alone",
                .ledger = LEDGER,
                .databases = { "codebolt_pre_0123456789ab",
                               "codebolt_failed_0123456789ab",
                               "codebolt_verify_01234567" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "",
                .kept = "codebolt_pre_0123456789ab,codebolt_failed_0123456789ab,codebolt_verify_01234567",
                .reason_of = "codebolt_pre_0123456789ab",
                .reason_has = "no upgrade in the ledger",
        },
        {
                .name = "an id shorter than any upgrade makes ties a database to no upgrade",
                .ledger = LEDGER,
                .current =
                        "{\"id\":\"eeee5555eeee5555eeee5555eeee5555\",\"from\":\"1.5.6\",\"to\":\"1.6.0\"}",
                .databases = { "codebolt_pre_aaaa", "codebolt_failed_bbbb2222", "codebolt_failed_eeee" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "codebolt_failed_bbbb2222",
                .kept = "codebolt_pre_aaaa,codebolt_failed_eeee",
                .reason_of = "codebolt_pre_aaaa",
                .reason_has = "no upgrade in the ledger",
        },
        {
                .name = "the failed database of an upgrade beyond the newest Keep= failed ones may go",
                .ledger = LEDGER,
                .databases = { "codebolt_failed_bbbb2222bbbb" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "codebolt_failed_bbbb2222bbbb",
                .reason_of = "codebolt_failed_bbbb2222bbbb",
                .reason_has = "1.5.0 → 1.5.1 (restored)",
        },
        {
                .name = "the failed databases of the newest Keep= failed upgrades stay",
                .ledger = LEDGER,
                .databases = { "codebolt_failed_bbbb2222bbbb" },
                .running = "1.5.6",
                .keep = 2,
                .drop = "",
                .kept = "codebolt_failed_bbbb2222bbbb",
                .reason_of = "codebolt_failed_bbbb2222bbbb",
                .reason_has = "post-mortem",
        },
        {
                .name = "a late restore's failed database belongs to the late rollback, a failure",
                .ledger =
                        "[" ENTRY_A "," ENTRY_B
                        ",{\"id\":\"aaaa1111aaaa1111aaaa1111aaaa1111\",\"from\":\"1.4.0\",\"to\":\"1.5.0\","
                        "\"result\":\"restored\",\"late\":true,"
                        "\"failed_database\":\"codebolt_failed_aaaa1111aaaa\"}]",
                .databases = { "codebolt_failed_aaaa1111aaaa", "codebolt_failed_bbbb2222bbbb" },
                .running = "1.4.0",
                .keep = 1,
                .drop = "codebolt_failed_bbbb2222bbbb",
                .kept = "codebolt_failed_aaaa1111aaaa",
        },
        {
                .name = "a half restore and a trial restore left behind may go",
                .ledger = LEDGER,
                .databases = { "codebolt_restore_bbbb2222bbbb", "codebolt_verify_cccc3333" },
                .running = "1.5.6",
                .keep = 1,
                .drop = "codebolt_restore_bbbb2222bbbb,codebolt_verify_cccc3333",
                .reason_of = "codebolt_verify_cccc3333",
                .reason_has = "trial restore",
        },
        {
                .name = "releases beyond Keep=1: the running one and the one a late rollback needs stay",
                .ledger = LEDGER,
                .releases = { "1.4.0",
                              "1.5.0",
                              "1.5.1",
                              "1.5.4",
                              "1.5.6",
                              ".1.6.0.staging",
                              "current",
                              "1.5",
                              "v1.4.0" },
                .running = "1.5.6",
                .pinned = "1.5.6",
                .keep = 1,
                .drop = "1.5.4,1.5.1,1.4.0",
                .kept = "1.5.6,1.5.0",
                .absent = ".1.6.0.staging,current,1.5,v1.4.0",
                .reason_of = "1.5.0",
                .reason_has = "late rollback of the upgrade 1.5.0 → 1.5.6",
        },
        {
                .name = "releases beyond Keep=3, by SemVer precedence",
                .ledger = LEDGER,
                .releases = { "1.4.0", "1.5.0", "1.5.1", "1.5.10", "1.5.4", "1.5.6", "1.5.10-rc.1" },
                .running = "1.5.6",
                .pinned = "1.5.6",
                .keep = 3,
                .drop = "1.5.4,1.5.1,1.4.0",
                .kept = "1.5.10,1.5.10-rc.1,1.5.6,1.5.0",
        },
        {
                .name = "the pinned release and the one a late rollback switches back to stay",
                .ledger = "[" ENTRY_A "," ENTRY_C "]",
                .releases = { "1.3.0", "1.4.0", "1.4.2", "1.5.0", "1.5.4" },
                .running = "1.5.0",
                .pinned = "1.4.2",
                .keep = 1,
                .drop = "1.3.0",
                .kept = "1.5.4,1.5.0,1.4.2,1.4.0",
                .reason_of = "1.4.2",
                .reason_has = "pinned",
        },
        {
                .name = "with what runs unknown no release goes, the newest success keeps its snapshot",
                .ledger = LEDGER,
                .databases = { "codebolt_pre_aaaa1111aaaa", "codebolt_pre_dddd4444dddd" },
                .releases = { "1.4.0", "1.5.0", "1.5.6" },
                .keep = 1,
                .drop = "codebolt_pre_aaaa1111aaaa",
                .kept = "codebolt_pre_dddd4444dddd,1.5.6,1.5.0,1.4.0",
        },
        {
                .name = "an empty ledger lists no database",
                .ledger = "[]",
                .databases = { "codebolt_pre_aaaa1111aaaa", "codebolt_failed_bbbb2222bbbb" },
                .releases = { "1.4.0", "1.5.0" },
                .running = "1.5.0",
                .keep = 1,
                .drop = "1.4.0",
                .kept = "codebolt_pre_aaaa1111aaaa,codebolt_failed_bbbb2222bbbb,1.5.0",
        },
};

static const RetentionItem *find(const RetentionPlan *p, const char *name) {
        for (size_t i = 0; i < p->n; i++)
                if (streq(p->items[i].name, name))
                        return &p->items[i];
        return NULL;
}

/* each comma-separated name of list passes check */
static void each_name(const char *list, const Case *c, const RetentionPlan *p, int want) {
        _cleanup_free_ char *copy = strdup(strempty(list));
        char *save = NULL;

        ck_assert_ptr_nonnull(copy);
        for (char *n = strtok_r(copy, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
                const RetentionItem *item = find(p, n);
                if (want < 0)
                        ck_assert_msg(
                                !item, "%s: %s is in the plan (%s)", c->name, n, item ? item->reason : "");
                else
                        ck_assert_msg(
                                item && !item->drop,
                                "%s: %s does not stay (%s)",
                                c->name,
                                n,
                                item ? item->reason : "not in the plan");
        }
}

START_TEST(test_plan) {
        const Case *c = &cases[_i];
        _cleanup_json_ cJSON *ledger = cJSON_Parse(c->ledger);
        _cleanup_json_ cJSON *current_json = c->current ? cJSON_Parse(c->current) : NULL;
        _cleanup_(current_done) Current current = {};
        _cleanup_(retention_plan_done) RetentionPlan p = {};
        _cleanup_free_ char *dropped = NULL;
        size_t size = 0;
        FILE *f;
        RetentionInput in = {
                .ledger = ledger,
                .current = c->current ? &current : NULL,
                .db_name = c->db ?: "codebolt",
                .databases = (char *const *)c->databases,
                .releases = (char *const *)c->releases,
                .backups = (char *const *)c->backups,
                .running = c->running,
                .pinned = c->pinned,
                .keep = c->keep,
        };

        ck_assert_ptr_nonnull(ledger);
        ck_assert(!c->current || current_json);
        ck_assert(!c->current || current_from_json(current_json, &current, NULL) == 0);
        ck_assert_int_eq(retention_plan(&in, &p), 0);

        f = open_memstream(&dropped, &size);
        ck_assert_ptr_nonnull(f);
        for (size_t i = 0; i < p.n; i++) {
                ck_assert_msg(
                        p.items[i].reason && *p.items[i].reason && !strchr(p.items[i].reason, '\n'),
                        "%s: %s has no one-line reason",
                        c->name,
                        p.items[i].name);
                ck_assert_ptr_nonnull(retention_kind_to_string(p.items[i].kind));
                if (p.items[i].drop)
                        fprintf(f, "%s%s", ftell(f) > 0 ? "," : "", p.items[i].name);
        }
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_msg(streq(dropped, c->drop), "%s: drops '%s', expected '%s'", c->name, dropped, c->drop);

        each_name(c->kept, c, &p, 1);
        each_name(c->absent, c, &p, -1);
        if (c->reason_of) {
                const RetentionItem *item = find(&p, c->reason_of);
                ck_assert_msg(item, "%s: %s is not in the plan", c->name, c->reason_of);
                ck_assert_msg(
                        strstr(item->reason, c->reason_has),
                        "%s: the reason for %s, '%s', does not say '%s'",
                        c->name,
                        c->reason_of,
                        item->reason,
                        c->reason_has);
        }
}
END_TEST

static const struct {
        const char *db, *name;
        int r;
        RetentionKind kind;
        const char *id;
} names[] = {
        { "codebolt", "codebolt_pre_0a1b2c3d4e5f", 0, RETENTION_SNAPSHOT, "0a1b2c3d4e5f" },
        { "codebolt", "codebolt_failed_20261126105713", 0, RETENTION_FAILED, "20261126105713" },
        { "codebolt", "codebolt_restore_abc", 0, RETENTION_FAILED, "abc" },
        { "codebolt", "codebolt_verify_0a1b2c3d", 0, RETENTION_TRIAL, "0a1b2c3d" },
        { "my_db", "my_db_pre_1", 0, RETENTION_SNAPSHOT, "1" },
        { "codebolt", "codebolt", -EINVAL },
        { "codebolt", "codebolt_pre", -EINVAL },
        { "codebolt", "codebolt_pre_", -EINVAL },
        { "codebolt", "codebolt_pre_ABC", -EINVAL },
        { "codebolt", "codebolt_pre_a_b", -EINVAL },
        { "codebolt", "codebolt_pre_a-b", -EINVAL },
        { "codebolt", "codebolt_pred_abc", -EINVAL },
        { "codebolt", "codebolt_dump_abc", -EINVAL },
        { "codebolt", "codebolt_staging_pre_abc", -EINVAL },
        { "codebolt", "xcodebolt_pre_abc", -EINVAL },
        { "codebolt", "codeboltpre_abc", -EINVAL },
        { "", "_pre_abc", -EINVAL },
        /* 64 characters: PostgreSQL would have truncated it, so no upgrade made it */
        { "codebolt", "codebolt_pre_0123456789012345678901234567890123456789012345678901", -EINVAL },
};

START_TEST(test_parse) {
        _cleanup_free_ char *id = NULL;
        RetentionKind kind = _RETENTION_KIND_MAX;

        ck_assert_int_eq(retention_parse_database(names[_i].db, names[_i].name, &kind, &id), names[_i].r);
        if (names[_i].r < 0) {
                ck_assert_ptr_null(id);
                return;
        }
        ck_assert_int_eq(kind, names[_i].kind);
        ck_assert_str_eq(id, names[_i].id);
}
END_TEST

START_TEST(test_bad_input) {
        _cleanup_json_ cJSON *object = cJSON_CreateObject(), *array = cJSON_CreateArray();
        RetentionPlan p = {};
        RetentionInput in = { .ledger = object, .db_name = "codebolt", .keep = 1 };

        ck_assert_int_eq(retention_plan(&in, &p), -EINVAL);
        in.ledger = array;
        in.db_name = "";
        ck_assert_int_eq(retention_plan(&in, &p), -EINVAL);
        in.db_name = "codebolt";
        ck_assert_int_eq(retention_plan(&in, &p), 0);
        ck_assert_int_eq(p.n, 0);
        retention_plan_done(&p);
        retention_plan_done(NULL);
        ck_assert_str_eq(retention_kind_to_string(RETENTION_RELEASE), "release");
        ck_assert_ptr_null(retention_kind_to_string(_RETENTION_KIND_MAX));
}
END_TEST

static Suite *retention_suite(void) {
        Suite *s = suite_create("retention");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_plan, 0, ELEMENTSOF(cases));
        tcase_add_loop_test(tc, test_parse, 0, ELEMENTSOF(names));
        tcase_add_test(tc, test_bad_input);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(retention_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
