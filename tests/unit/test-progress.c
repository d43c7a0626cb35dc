/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-progress.c: progress module: an upgrade's progress out of current.json, its views and its end */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "progress.h"
#include "strv.h"

/* an upgrade in its migrate phase: the server stopped, one migration applied, the next applying */
static const char migrating[] =
        "{\"from\": \"1.4.0\", \"to\": \"1.5.0\", \"phase\": \"migrate\", "
        "\"phases\": [\"preflight\", \"stage\", \"backup\", \"drain\", \"snapshot\", \"switch\"], "
        "\"server_stopped\": true, \"stopped_at\": \"2026-12-07T06:00:00Z\", "
        "\"migrations\": [{\"id\": \"20260301_a\", \"state\": \"applied\"}, "
        "{\"id\": \"20260302_b\", \"state\": \"applying\"}]}";

START_TEST(test_read) {
        _cleanup_json_ cJSON *j = cJSON_Parse(migrating);
        Progress p;

        progress_read(j, &p);
        ck_assert(p.in_flight);
        ck_assert_str_eq(p.from, "1.4.0");
        ck_assert_str_eq(p.phase, "migrate");
        ck_assert_uint_eq(p.phase_index, 7);
        ck_assert_uint_eq(p.migrations_applied, 1);
        ck_assert_uint_eq(p.migrations_seen, 2);
        ck_assert_str_eq(p.applying, "20260302_b");
        ck_assert(p.server_stopped);
        ck_assert(!p.server_back);
        ck_assert_uint_eq(p.stopped_at, 1796623200ULL * USEC_PER_SEC);
        ck_assert(!p.rollback && !p.held);

        /* nothing in flight, or not an object: all zero */
        progress_read(NULL, &p);
        ck_assert(!p.in_flight && p.phase_index == 0 && !p.phase);
}
END_TEST

START_TEST(test_block) {
        _cleanup_json_ cJSON *j = cJSON_Parse(migrating);
        _cleanup_free_ char *block = NULL, *narrow = NULL, *utf8 = NULL;
        ProgressView v = {
                .deployment = "default",
                .status_text = "migrate: applying 20260302_b (2 of 3)",
                .migrations_total = 3,
                .elapsed = 65 * USEC_PER_SEC,
                .downtime = 4 * USEC_PER_SEC,
        };
        Progress p;

        progress_read(j, &p);
        block = progress_block(&p, &v);
        ck_assert_ptr_nonnull(block);
        ck_assert_str_eq(
                block,
                "Upgrading 1.4.0 → 1.5.0 (deployment default)\n"
                "  ###################........  phase 7 of 9: migrate\n"
                "  migrations  1 of 3 applied; applying 20260302_b\n"
                "  elapsed     1:05; the server is down for 0:04\n"
                "  migrate: applying 20260302_b (2 of 3)\n");
        ck_assert_uint_eq(progress_block_lines(block), 5);

        /* cut to the terminal's width, counting characters: the arrow is one */
        v.width = 20;
        narrow = progress_block(&p, &v);
        ck_assert_str_eq(
                narrow,
                "Upgrading 1.4.0 → 1.\n"
                "  ##################\n"
                "  migrations  1 of 3\n"
                "  elapsed     1:05; \n"
                "  migrate: applying \n");
        v.width = 0;
        /* the rollback: the bar up to the phase that failed */
        {
                _cleanup_json_ cJSON *rb =
                        cJSON_Parse("{\"from\": \"1.4.0\", \"to\": \"1.5.0\", \"phase\": \"rollback\", "
                                    "\"rollback_from_phase\": \"migrate\", \"server_stopped\": true}");
                _cleanup_free_ char *b = NULL;
                Progress r;
                progress_read(rb, &r);
                v.status_text = NULL;
                b = progress_block(&r, &v);
                ck_assert_ptr_nonnull(
                        strstr(b,
                               "Rolling back the upgrade 1.4.0 → 1.5.0\n"
                               "  ##################.........  rolling back: the upgrade failed in phase 7 "
                               "of 9, migrate\n"));
        }
        v.utf8 = true;
        utf8 = progress_block(&p, &v);
        ck_assert_ptr_nonnull(strstr(utf8, "███████████████████░░░░░░░░  phase 7 of 9"));
}
END_TEST

START_TEST(test_changes) {
        _cleanup_json_ cJSON *before = cJSON_Parse("{\"from\": \"1.4.0\", \"to\": \"1.5.0\", \"phase\": "
                                                   "\"snapshot\", \"server_stopped\": false}");
        _cleanup_json_ cJSON *after = cJSON_Parse(migrating), *rb = NULL;
        _cleanup_strv_free_ char **lines = NULL, **first = NULL, **failed = NULL;
        ProgressView v = { .deployment = "default", .migrations_total = 3, .downtime = USEC_INFINITY };
        Progress none = {}, a, b, c;

        progress_read(before, &a);
        progress_read(after, &b);
        ck_assert_int_eq(progress_changes(&none, &a, &v, &first), 0);
        ck_assert_str_eq(first[0], "upgrade 1.4.0 → 1.5.0 of deployment default");
        /* first seen in its fifth phase: the four before it are listed too, in order */
        ck_assert_str_eq(first[1], "phase 1 of 9: preflight");
        ck_assert_str_eq(first[4], "phase 4 of 9: drain");
        ck_assert_str_eq(first[5], "phase 5 of 9: snapshot");
        ck_assert_ptr_null(first[6]);

        /* switch passed between two readings: it is listed all the same */
        ck_assert_int_eq(progress_changes(&a, &b, &v, &lines), 0);
        ck_assert_str_eq(lines[0], "phase 6 of 9: switch");
        ck_assert_str_eq(lines[1], "phase 7 of 9: migrate");
        ck_assert_str_eq(lines[2], "the server is stopped: the downtime begins");
        ck_assert_str_eq(lines[3], "migration 2 of 3: applying 20260302_b");
        ck_assert_str_eq(lines[4], "migrations: 1 of 3 applied");
        ck_assert_ptr_null(lines[5]);

        /* the migration fails, the rollback takes over */
        rb = cJSON_Parse(
                "{\"from\": \"1.4.0\", \"to\": \"1.5.0\", \"phase\": \"rollback\", \"server_stopped\": "
                "true, \"migrations\": [{\"id\": \"20260301_a\", \"state\": \"applied\"}, {\"id\": "
                "\"20260302_b\", \"state\": \"failed\"}]}");
        progress_read(rb, &c);
        ck_assert(c.rollback);
        ck_assert_int_eq(progress_changes(&b, &c, &v, &failed), 0);
        ck_assert_str_eq(failed[0], "the upgrade failed in phase migrate: the rollback runs");
        ck_assert_str_eq(failed[1], "migration 20260302_b failed");
        ck_assert_ptr_null(failed[2]);
}
END_TEST

START_TEST(test_json) {
        _cleanup_json_ cJSON *j = cJSON_Parse(migrating), *o = NULL;
        ProgressView v = { .deployment = "default", .migrations_total = 3, .downtime = 4 * USEC_PER_SEC };
        Progress p;

        progress_read(j, &p);
        o = progress_to_json(&p, &v, 1796623204ULL * USEC_PER_SEC);
        ck_assert_ptr_nonnull(o);
        ck_assert_str_eq(json_get_string(o, "time"), "2026-12-07T06:00:04Z");
        ck_assert_str_eq(json_get_string(o, "phase"), "migrate");
        ck_assert_int_eq(cJSON_GetObjectItem(o, "phase_index")->valueint, 7);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "migrations_total")->valueint, 3);
        ck_assert_str_eq(json_get_string(o, "applying"), "20260302_b");
        ck_assert_int_eq(cJSON_GetObjectItem(o, "downtime_seconds")->valueint, 4);
        ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "status_text")));
}
END_TEST

START_TEST(test_end) {
        static const struct {
                const char *entry, *sentence;
                int code;
        } cases[] = {
                { "{\"result\": \"succeeded\", \"from\": \"1.4.0\", \"to\": \"1.5.0\", "
                  "\"downtime_seconds\": 3}",
                  "Upgraded deployment default from 1.4.0 to 1.5.0 (3 s from the stop until 1.5.0 passed "
                  "its smoke "
                  "test).",
                  0 },
                { "{\"result\": \"restored\", \"from\": \"1.5.0\", \"to\": \"1.5.1\", \"phase\": "
                  "\"migrate\"}",
                  "Restored: the upgrade to 1.5.1 failed in phase migrate; 1.5.0 runs again, its database "
                  "and "
                  "stores put back as they were at the stop.",
                  1 },
                { "{\"result\": \"rolled-back\", \"from\": \"1.5.0\", \"to\": \"1.5.2\", \"phase\": "
                  "\"smoke\"}",
                  "Rolled back: the upgrade to 1.5.2 failed in phase smoke; 1.5.0 runs again on its data.",
                  1 },
                { "{\"result\": \"aborted\", \"from\": \"1.5.0\", \"to\": \"1.5.2\", \"phase\": \"backup\"}",
                  "Aborted: the upgrade to 1.5.2 failed in phase backup, before the server stopped; 1.5.0 "
                  "kept "
                  "serving.",
                  1 },
                { "{\"result\": \"refused\", \"to\": \"1.5.2\", \"message\": \"refused in preflight\"}",
                  "Refused: the upgrade to 1.5.2 was not started (refused in preflight); nothing was "
                  "changed.",
                  2 },
                { "{\"result\": \"held\", \"to\": \"1.5.7\", \"phase\": \"smoke\", \"message\": \"1.5.0 did "
                  "not "
                  "come up\"}",
                  "HELD: the upgrade to 1.5.7 failed in phase smoke and its rollback stopped short (1.5.0 "
                  "did "
                  "not come up); nothing more happens on its own.",
                  3 },
                { "{\"result\": \"restored\", \"late\": true, \"from\": \"1.5.0\", \"to\": \"1.6.0\"}",
                  "Rolled back by hand: the upgrade to 1.6.0 is restored; 1.5.0 runs again.",
                  1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *e = cJSON_Parse(cases[i].entry);
                _cleanup_free_ char *s = progress_sentence(e, "default");
                ck_assert_ptr_nonnull(e);
                ck_assert_str_eq(s, cases[i].sentence);
                ck_assert_int_eq(progress_exit_code(json_get_string(e, "result")), cases[i].code);
        }
        ck_assert_int_eq(progress_exit_code("cleared"), -EINVAL);
        ck_assert_int_eq(progress_exit_code(NULL), -EINVAL);
}
END_TEST

static Suite *progress_suite(void) {
        Suite *s = suite_create("progress");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_read);
        tcase_add_test(tc, test_block);
        tcase_add_test(tc, test_changes);
        tcase_add_test(tc, test_json);
        tcase_add_test(tc, test_end);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(progress_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
