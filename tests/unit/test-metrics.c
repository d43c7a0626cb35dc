/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-metrics.c: metrics module: the text of [Notify] MetricsFile=, read back with the promtext parser */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "metrics.h"
#include "promtext.h"

static double value(const char *text, const char *name, const char *labels) {
        double v = -12345;

        ck_assert_msg(
                promtext_value(text, name, labels, &v) == 0,
                "no %s{%s} in:\n%s",
                name,
                strempty(labels),
                text);
        return v;
}

static bool has(const char *text, const char *name) {
        double v;
        return promtext_value(text, name, NULL, &v) == 0;
}

START_TEST(test_success) {
        _cleanup_json_ cJSON *last =
                cJSON_Parse("{\"from\": \"1.4.0\", \"to\": \"1.5.0\", \"result\": \"succeeded\", "
                            "\"finished\": \"2026-12-07T06:00:00Z\", \"downtime_seconds\": 3, "
                            "\"phase_seconds\": {\"preflight\": 0.25, \"backup\": 4.5, \"finish\": 0.125}}");
        MetricsState s = {
                .deployment = "default",
                .version = "1.5.0",
                .last = last,
                .watch = "running",
        };
        _cleanup_free_ char *text = NULL;

        ck_assert_ptr_nonnull(last);
        ck_assert_int_eq(metrics_render(&s, &text), 0);
        ck_assert_double_eq(
                value(text, "codebolt_upgrade_info", "deployment=\"default\",version=\"1.5.0\""), 1);
        ck_assert_double_eq(
                value(text,
                      "codebolt_upgrade_last_result",
                      "deployment=\"default\",from=\"1.4.0\",to=\"1.5.0\",result=\"succeeded\""),
                1);
        ck_assert_double_eq(value(text, "codebolt_upgrade_last_timestamp_seconds", NULL), 1796623200);
        ck_assert_double_eq(value(text, "codebolt_upgrade_downtime_seconds", NULL), 3);
        ck_assert_double_eq(
                value(text, "codebolt_upgrade_phase_duration_seconds", "phase=\"preflight\""), 0.25);
        ck_assert_double_eq(value(text, "codebolt_upgrade_phase_duration_seconds", "phase=\"backup\""), 4.5);
        ck_assert_double_eq(
                value(text, "codebolt_upgrade_phase_duration_seconds", "phase=\"finish\""), 0.125);
        ck_assert_double_eq(value(text, "codebolt_upgrade_in_progress", NULL), 0);
        ck_assert_double_eq(value(text, "codebolt_upgrade_held", NULL), 0);
        ck_assert_double_eq(value(text, "codebolt_upgrade_auto_on_hold", NULL), 0);
        /* every verdict the watch may reach is listed, 1 on the one it is at */
        ck_assert_double_eq(value(text, "codebolt_upgrade_watch_verdict", "verdict=\"running\""), 1);
        ck_assert_double_eq(value(text, "codebolt_upgrade_watch_verdict", "verdict=\"ok\""), 0);
        ck_assert_double_eq(value(text, "codebolt_upgrade_watch_verdict", "verdict=\"degraded\""), 0);
        ck_assert_double_eq(value(text, "codebolt_upgrade_watch_verdict", "verdict=\"not watched\""), 0);
        /* each metric is typed, once */
        ck_assert_ptr_nonnull(strstr(text, "# TYPE codebolt_upgrade_phase_duration_seconds gauge\n"));
        ck_assert_ptr_null(
                strstr(strstr(text, "# TYPE codebolt_upgrade_phase_duration_seconds") + 1,
                       "# TYPE codebolt_upgrade_phase_duration_seconds"));
        ck_assert(text[strlen(text) - 1] == '\n');
}
END_TEST

START_TEST(test_in_flight_and_held) {
        MetricsState s = { .deployment = "default", .in_progress = true };
        _cleanup_free_ char *text = NULL, *held = NULL;

        /* nothing known yet: no ledger, no release link. What is not known is left out, never 0 */
        ck_assert_int_eq(metrics_render(&s, &text), 0);
        ck_assert_double_eq(value(text, "codebolt_upgrade_in_progress", NULL), 1);
        ck_assert(!has(text, "codebolt_upgrade_info"));
        ck_assert(!has(text, "codebolt_upgrade_last_result"));
        ck_assert(!has(text, "codebolt_upgrade_downtime_seconds"));
        ck_assert(!has(text, "codebolt_upgrade_watch_verdict"));

        s = (MetricsState){ .deployment = "default", .held = true, .auto_on_hold = true };
        ck_assert_int_eq(metrics_render(&s, &held), 0);
        ck_assert_double_eq(value(held, "codebolt_upgrade_in_progress", NULL), 0);
        ck_assert_double_eq(value(held, "codebolt_upgrade_held", NULL), 1);
        ck_assert_double_eq(value(held, "codebolt_upgrade_auto_on_hold", NULL), 1);
}
END_TEST

START_TEST(test_restored) {
        /* a restore's entry: no watch of its own; the last success's verdict is passed apart */
        _cleanup_json_ cJSON *last = cJSON_Parse(
                "{\"from\": \"1.5.0\", \"to\": \"1.5.1\", \"result\": \"restored\", \"finished\": "
                "\"bad\", \"downtime_seconds\": 7, \"phase_seconds\": {\"migrate\": 2, \"rollback\": 4, "
                "\"odd\": \"x\"}}");
        MetricsState s = {
                .deployment = "default", .version = "1.5.0", .last = last, .watch = "auto rolled back"
        };
        _cleanup_free_ char *text = NULL;

        ck_assert_int_eq(metrics_render(&s, &text), 0);
        ck_assert_double_eq(
                value(text, "codebolt_upgrade_last_result", "result=\"restored\",to=\"1.5.1\""), 1);
        /* an unreadable time is left out; a phase whose time is not a number too */
        ck_assert(!has(text, "codebolt_upgrade_last_timestamp_seconds"));
        ck_assert_double_eq(value(text, "codebolt_upgrade_phase_duration_seconds", "phase=\"rollback\""), 4);
        ck_assert_int_eq(
                promtext_value(
                        text, "codebolt_upgrade_phase_duration_seconds", "phase=\"odd\"", &(double){ 0 }),
                -ENOENT);
        ck_assert_double_eq(value(text, "codebolt_upgrade_downtime_seconds", NULL), 7);
        /* a verdict beyond the known ones gets a series of its own */
        ck_assert_double_eq(
                value(text, "codebolt_upgrade_watch_verdict", "verdict=\"auto rolled back\""), 1);
        ck_assert_double_eq(value(text, "codebolt_upgrade_watch_verdict", "verdict=\"running\""), 0);
}
END_TEST

START_TEST(test_escaping) {
        /* label values from the ledger and the deployment name: quotes, backslashes, newlines escaped */
        _cleanup_json_ cJSON *last =
                cJSON_Parse("{\"from\": \"a\\\"b\", \"to\": \"c\\\\d\", \"result\": \"e\\nf\"}");
        MetricsState s = { .deployment = "x\"y", .last = last };
        _cleanup_free_ char *text = NULL;

        ck_assert_int_eq(metrics_render(&s, &text), 0);
        ck_assert_ptr_nonnull(
                strstr(text,
                       "codebolt_upgrade_last_result{deployment=\"x\\\"y\",from=\"a\\\"b\",to=\"c\\\\d\","
                       "result=\"e\\nf\"} 1\n"));
        ck_assert_double_eq(
                value(text,
                      "codebolt_upgrade_last_result",
                      "from=\"a\\\"b\",to=\"c\\\\d\",result=\"e\\nf\""),
                1);
        /* no raw newline inside a sample: every line is a comment or a whole sample */
        for (char *l = text; *l; l = strchr(l, '\n') + 1)
                ck_assert(l[0] == '#' || strncmp(l, "codebolt_upgrade_", 17) == 0);
}
END_TEST

static Suite *metrics_suite(void) {
        Suite *s = suite_create("metrics");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_success);
        tcase_add_test(tc, test_in_flight_and_held);
        tcase_add_test(tc, test_restored);
        tcase_add_test(tc, test_escaping);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(metrics_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
