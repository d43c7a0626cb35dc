/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-promtext.c: promtext module: samples out of the Prometheus text exposition format */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>

#include "macro.h"
#include "promtext.h"

/* what the stand-in's GET /metrics returns (tests/fixtures/standin/server.js) */
static const char standin[] =
        "# HELP codebolt_errors_total Errors logged since the server started.\n"
        "# TYPE codebolt_errors_total counter\n"
        "codebolt_errors_total 3\n"
        "# HELP codebolt_agent_runs_total Agent runs finished since the server started.\n"
        "# TYPE codebolt_agent_runs_total counter\n"
        "codebolt_agent_runs_total{result=\"succeeded\"} 41\n"
        "codebolt_agent_runs_total{result=\"failed\"} 2\n"
        "# HELP codebolt_event_ingest_lag_seconds Age of the oldest event not yet "
        "ingested.\n"
        "# TYPE codebolt_event_ingest_lag_seconds gauge\n"
        "codebolt_event_ingest_lag_seconds 0.25\n"
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes 58916864\n";

static double value(const char *text, const char *name, const char *labels) {
        double v = -12345;

        ck_assert_int_eq(promtext_value(text, name, labels, &v), 0);
        return v;
}

START_TEST(test_standin) {
        ck_assert_double_eq(value(standin, "codebolt_errors_total", NULL), 3);
        ck_assert_double_eq(value(standin, "codebolt_agent_runs_total", "result=\"succeeded\""), 41);
        ck_assert_double_eq(value(standin, "codebolt_agent_runs_total", "{result=\"failed\"}"), 2);
        ck_assert_double_eq(value(standin, "codebolt_event_ingest_lag_seconds", ""), 0.25);
        ck_assert_double_eq(value(standin, "process_resident_memory_bytes", NULL), 58916864);
        /* no selector: the first sample of the name */
        ck_assert_double_eq(value(standin, "codebolt_agent_runs_total", NULL), 41);
}
END_TEST

START_TEST(test_lines) {
        static const char crlf[] = "# HELP up Whether it is up.\r\n"
                                   "# TYPE up gauge\r\n"
                                   "\r\n"
                                   "up 1\r\n"
                                   "   \t\r\n"
                                   "  # an indented comment: foo 9\r\n"
                                   "\tfoo{a=\"x\"}   7\t\r\n"
                                   "# EOF\r\n";

        ck_assert_double_eq(value(crlf, "up", NULL), 1);
        ck_assert_double_eq(value(crlf, "foo", "a=\"x\""), 7);
        /* no newline at the end; an empty text */
        ck_assert_double_eq(value("a 1\nb 2", "b", NULL), 2);
        ck_assert_double_eq(value("a 1\r\nb 2\r", "b", NULL), 2);
        double v = -1;
        ck_assert_int_eq(promtext_value("", "a", NULL, &v), -ENOENT);
        ck_assert_int_eq(promtext_value("\n\n# HELP a x\n", "a", NULL, &v), -ENOENT);
        ck_assert_double_eq(v, -1);
}
END_TEST

START_TEST(test_prefix) {
        static const char text[] = "foo_total 5\n"
                                   "foo_total_x 6\n"
                                   "foo 4\n"
                                   "foo:bar 3\n"
                                   "foo_bucket{le=\"1\"} 2\n";
        double v;

        ck_assert_double_eq(value(text, "foo", NULL), 4);
        ck_assert_double_eq(value(text, "foo_total", NULL), 5);
        ck_assert_double_eq(value(text, "foo:bar", NULL), 3);
        ck_assert_double_eq(value(text, "foo_bucket", NULL), 2);
        ck_assert_int_eq(promtext_value(text, "fo", NULL, &v), -ENOENT);
        ck_assert_int_eq(promtext_value(text, "foo_tota", NULL, &v), -ENOENT);
        ck_assert_int_eq(promtext_value("foo_total 5\n", "foo", NULL, &v), -ENOENT);
}
END_TEST

START_TEST(test_labels) {
        static const char text[] = "runs{result=\"failed\",agent=\"a\"} 1\n"
                                   "runs{ agent = \"b\" , result = \"failed\" , } 2\n"
                                   "runs{result=\"succeeded\",agent=\"b\"} 3\n"
                                   "runs 4\n"
                                   "msg{text=\"say \\\"hi\\\"\",path=\"C:\\\\tmp\"} 5\n"
                                   "msg{text=\"two\\nlines\",path=\"}, =\"} 6\n"
                                   "msg{} 7\n";
        double v;

        /* order, blanks and a trailing comma do not matter */
        ck_assert_double_eq(value(text, "runs", "agent=\"b\",result=\"failed\""), 2);
        ck_assert_double_eq(value(text, "runs", "{ result=\"failed\" , agent=\"b\" }"), 2);
        ck_assert_double_eq(value(text, "runs", "result=\"failed\""), 1);
        ck_assert_double_eq(value(text, "runs", "result=\"succeeded\""), 3);
        ck_assert_double_eq(value(text, "runs", "{}"), 1);
        /* key="" is also a sample without the label */
        ck_assert_double_eq(value(text, "runs", "result=\"\""), 4);
        ck_assert_int_eq(promtext_value(text, "runs", "result=\"running\"", &v), -ENOENT);
        ck_assert_int_eq(promtext_value(text, "runs", "result=\"failed\",agent=\"c\"", &v), -ENOENT);
        ck_assert_int_eq(promtext_value(text, "runs", "Result=\"failed\",agent=\"a\"", &v), -ENOENT);

        /* escapes compared undone: \" \\ \n */
        ck_assert_double_eq(value(text, "msg", "text=\"say \\\"hi\\\"\""), 5);
        ck_assert_double_eq(value(text, "msg", "path=\"C:\\\\tmp\""), 5);
        ck_assert_double_eq(value(text, "msg", "text=\"two\\nlines\""), 6);
        ck_assert_double_eq(value(text, "msg", "path=\"}, =\""), 6);
        ck_assert_double_eq(value(text, "msg", "text=\"\""), 7);
        ck_assert_int_eq(promtext_value(text, "msg", "text=\"say \\\"hi\"", &v), -ENOENT);
        ck_assert_int_eq(promtext_value(text, "msg", "path=\"C:\\tmp\"", &v), -EINVAL);
}
END_TEST

START_TEST(test_values) {
        static const struct {
                const char *line;
                double want;
        } cases[] = {
                { "x 42", 42 },
                { "x -0.5", -0.5 },
                { "x 1.5e3", 1500 },
                { "x 2E-3", 0.002 },
                { "x +7", 7 },
                { "x 1.5e3 1700000000000", 1500 },
                { "x{a=\"b\"} 9 -1700000000000", 9 },
                { "x 3  1700000000000  ", 3 },
                { "x 8 # {trace_id=\"abc\"} 1.0", 8 },
                { "x 8 1700000000000 # {trace_id=\"abc\"} 1.0 1700000000", 8 },
                { "x +Inf", INFINITY },
                { "x -Inf", -INFINITY },
                { "x 1e999", INFINITY },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ck_assert_double_eq(value(cases[i].line, "x", NULL), cases[i].want);
        ck_assert(isnan(value("x NaN\n", "x", NULL)));
        ck_assert(isnan(value("x{a=\"b\"} NaN 17\n", "x", "a=\"b\"")));
}
END_TEST

START_TEST(test_malformed) {
        static const char *const bad[] = {
                "x",
                "x ",
                "x{a=\"b\"}",
                "x{a=\"b\"} ",
                "x 1 2 3",
                "x one",
                "x 1.5.3",
                "x 1,5",
                "x 12abc",
                "x 1 17e3",
                "x 1 -",
                "x 1 2#",
                "x{a=\"b\" 1",
                "x{a=\"b} 1",
                "x{a=b} 1",
                "x{a} 1",
                "x{=\"b\"} 1",
                "x{1a=\"b\"} 1",
                "x{a=\"b\",,} 1",
                "x{,} 1",
                "x{a=\"b\"c=\"d\"} 1",
                "x{a=\"\\t\"} 1",
                "x{a=\"b\\\"} 1",
                "x{a=\"two\nlines\"} 1",
        };
        double v = -1;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(promtext_value(bad[i], "x", NULL, &v) == -EBADMSG, "accepted: %s", bad[i]);
                ck_assert_msg(promtext_sum(bad[i], "x", NULL, &v) == -EBADMSG, "summed: %s", bad[i]);
        }
        ck_assert_double_eq(v, -1);

        /* a bad line for another name is not looked at, nor one after the sample found */
        ck_assert_double_eq(value("y{a= 1\nxx\nx 2\n", "x", NULL), 2);
        ck_assert_double_eq(value("x 2\nx{ 3\n", "x", NULL), 2);
        /* but one before it is, whatever its labels */
        ck_assert_int_eq(promtext_value("x{a=\"c\"} bad\nx{a=\"b\"} 2\n", "x", "a=\"b\"", &v), -EBADMSG);
        ck_assert_int_eq(promtext_sum("x 2\nx{ 3\n", "x", NULL, &v), -EBADMSG);
}
END_TEST

START_TEST(test_bad_arguments) {
        static const char *const selectors[] = {
                "a", "a=", "a=b", "{a=\"b\"", "a=\"b\"}", "{a=\"}\"", "a=\"b\" c=\"d\"", "a=\"\\x\"", ",",
        };
        static const char *const names[] = { "", "1x", "x y", "x{a=\"b\"}", "x-y" };
        double v;

        for (size_t i = 0; i < ELEMENTSOF(selectors); i++)
                ck_assert_msg(
                        promtext_value("x{a=\"b\"} 1\n", "x", selectors[i], &v) == -EINVAL,
                        "selector accepted: %s",
                        selectors[i]);
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                ck_assert_msg(
                        promtext_value("x 1\n", names[i], NULL, &v) == -EINVAL,
                        "name accepted: %s",
                        names[i]);
        ck_assert_int_eq(promtext_value("x 1\n", NULL, NULL, &v), -EINVAL);
        /* blanks around the selector are fine */
        ck_assert_double_eq(value("x{a=\"b\"} 1\n", "x", "  {a=\"b\"}  "), 1);
        ck_assert_double_eq(value("x{a=\"b\"} 1\n", "x", " a=\"b\", "), 1);
}
END_TEST

START_TEST(test_sum) {
        static const char text[] = "codebolt_errors_total{component=\"db\"} 3\n"
                                   "codebolt_errors_total{component=\"http\"} 4.5\n"
                                   "codebolt_errors_total_created 1700000000\n"
                                   "codebolt_agent_runs_total{result=\"failed\",agent=\"a\"} 1\n"
                                   "codebolt_agent_runs_total{result=\"failed\",agent=\"b\"} 2\n"
                                   "codebolt_agent_runs_total{result=\"succeeded\",agent=\"a\"} 10\n";
        double v = -1;

        ck_assert_int_eq(promtext_sum(text, "codebolt_errors_total", NULL, &v), 2);
        ck_assert_double_eq(v, 7.5);
        ck_assert_int_eq(promtext_sum(text, "codebolt_agent_runs_total", "result=\"failed\"", &v), 2);
        ck_assert_double_eq(v, 3);
        ck_assert_int_eq(promtext_sum(text, "codebolt_agent_runs_total", NULL, &v), 3);
        ck_assert_double_eq(v, 13);
        ck_assert_int_eq(promtext_sum(standin, "process_resident_memory_bytes", NULL, &v), 1);
        ck_assert_double_eq(v, 58916864);
        v = -1;
        ck_assert_int_eq(promtext_sum(text, "codebolt_agent_runs_total", "result=\"running\"", &v), -ENOENT);
        ck_assert_int_eq(promtext_sum(text, "codebolt_event_ingest_lag_seconds", NULL, &v), -ENOENT);
        ck_assert_double_eq(v, -1);
}
END_TEST

static Suite *promtext_suite(void) {
        Suite *s = suite_create("promtext");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_standin);
        tcase_add_test(tc, test_lines);
        tcase_add_test(tc, test_prefix);
        tcase_add_test(tc, test_labels);
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_bad_arguments);
        tcase_add_test(tc, test_sum);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(promtext_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
