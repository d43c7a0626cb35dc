/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-checks.c: checks module: the rules of the gates before an upgrade */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>

#include "checks.h"
#include "json-util.h"
#include "macro.h"

#define HOUR (3600 * USEC_PER_SEC)
#define MIB ((uint64_t)1024 * 1024)

START_TEST(test_node_version) {
        static const struct {
                const char *output, *want;
        } cases[] = {
                { "v18.19.0\n", "18.19.0" },
                { "v20.11.1", "20.11.1" },
                { "  v22.0.0-nightly20240101\n", "22.0.0-nightly20240101" },
                { "18.19.0", "18.19.0" },
        };
        static const char *const bad[] = { "", "v18", "node: command not found", "v18.19", NULL };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *v = NULL;
                ck_assert_int_eq(checks_node_version(cases[i].output, &v), 0);
                ck_assert_str_eq(v, cases[i].want);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *v = NULL;
                ck_assert_int_eq(checks_node_version(bad[i], &v), -EBADMSG);
                ck_assert_ptr_null(v);
        }
}
END_TEST

START_TEST(test_pg_version) {
        static const struct {
                long num;
                const char *want;
        } cases[] = {
                { 150008, "15.8.0" }, { 130000, "13.0.0" },  { 170002, "17.2.0" },
                { 90624, "9.6.24" },  { 100023, "10.23.0" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *v = NULL;
                ck_assert_int_eq(checks_pg_version(cases[i].num, &v), 0);
                ck_assert_str_eq(v, cases[i].want);
        }
        char *v = NULL;
        ck_assert_int_eq(checks_pg_version(0, &v), -EINVAL);
}
END_TEST

START_TEST(test_clients_below) {
        _cleanup_json_ cJSON *clients = cJSON_Parse(
                "[{\"id\": \"desk-ana\", \"kind\": \"desktop\", \"version\": \"1.3.2\", \"protocol\": 5},"
                " {\"id\": \"cli-ci\", \"kind\": \"cli\", \"version\": \"1.5.0\", \"protocol\": 7},"
                " {\"id\": \"desk-bo\", \"kind\": \"desktop\", \"version\": \"1.4.0\", \"protocol\": 6},"
                " {\"id\": \"odd\"}]");
        _cleanup_json_ cJSON *none = cJSON_CreateArray();
        _cleanup_free_ char *list = NULL, *empty = NULL;
        size_t n;

        ck_assert_int_eq(checks_clients_below(clients, 6, &list, &n), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(list, "desk-ana (desktop 1.3.2, protocol 5), odd (client ?, no protocol given)");
        ck_assert_int_eq(checks_clients_below(none, 6, &empty, &n), 0);
        ck_assert_uint_eq(n, 0);
        ck_assert_ptr_null(empty);
}
END_TEST

START_TEST(test_clients_malformed_protocol) {
        /* a protocol no client speaks is malformed, never above the minimum */
        _cleanup_json_ cJSON *clients = cJSON_Parse(
                "[{\"id\": \"huge\", \"kind\": \"cli\", \"version\": \"9\", \"protocol\": 1e300},"
                " {\"id\": \"half\", \"kind\": \"cli\", \"version\": \"9\", \"protocol\": 7.5},"
                " {\"id\": \"text\", \"kind\": \"cli\", \"version\": \"9\", \"protocol\": \"7\"},"
                " {\"id\": \"ok\", \"kind\": \"cli\", \"version\": \"9\", \"protocol\": 7}]");
        _cleanup_free_ char *list = NULL;
        size_t n;

        ck_assert_int_eq(checks_clients_below(clients, 6, &list, &n), 0);
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(
                list,
                "huge (cli 9, a malformed protocol), half (cli 9, a malformed protocol), text (cli 9, a "
                "malformed protocol)");
}
END_TEST

START_TEST(test_runs_in_flight) {
        static const struct {
                const char *json;
                int r;
                uint32_t n;
        } cases[] = {
                { "{\"count\": 0}", 0, 0 },
                { "{\"count\": 2}", 0, 2 },
                { "{\"count\": 4294967295}", 0, UINT32_MAX },
                /* what a cast to unsigned read as 0 runs, or as some other count */
                { "{\"count\": 4294967296}", -ERANGE, 0 },
                { "{\"count\": 1e300}", -ERANGE, 0 },
                { "{\"count\": -1}", -ERANGE, 0 },
                { "{\"count\": -0.5}", -EBADMSG, 0 },
                { "{\"count\": 0.5}", -EBADMSG, 0 },
                { "{\"count\": \"2\"}", -EBADMSG, 0 },
                { "{\"count\": null}", -EBADMSG, 0 },
                { "{}", -EBADMSG, 0 },
                { "[]", -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_json_ cJSON *answer = cJSON_Parse(cases[i].json);
                uint32_t n = 12345;
                int r;

                ck_assert_ptr_nonnull(answer);
                r = checks_runs_in_flight(answer, &n);
                ck_assert_msg(r == cases[i].r, "%s: %d", cases[i].json, r);
                ck_assert_uint_eq(n, r == 0 ? cases[i].n : 12345);
        }
        /* 1e400 parses as infinity */
        _cleanup_json_ cJSON *inf = cJSON_Parse("{\"count\": 1e400}");
        uint32_t n;
        ck_assert_int_eq(checks_runs_in_flight(inf, &n), -EBADMSG);
}
END_TEST

START_TEST(test_incompatible) {
        static const char output[] = "shell 1.0.0 ok\n"
                                     "git 2.1.0 incompatible\n"
                                     "\n"
                                     "browser 0.9.3 incompatible\n"
                                     "legacy 0.1.0 disabled\n";
        char *allow[] = { (char *)"browser", NULL };
        _cleanup_free_ char *blocking = NULL, *allowed = NULL, *b2 = NULL, *a2 = NULL;
        char *b3 = NULL, *a3 = NULL;

        ck_assert_int_eq(checks_incompatible(output, allow, &blocking, &allowed), 0);
        ck_assert_str_eq(blocking, "git 2.1.0");
        ck_assert_str_eq(allowed, "browser 0.9.3");

        ck_assert_int_eq(checks_incompatible("shell 1.0.0 ok\n", NULL, &b2, &a2), 0);
        ck_assert_ptr_null(b2);
        ck_assert_ptr_null(a2);

        ck_assert_int_eq(checks_incompatible("shell 1.0.0 broken\n", NULL, &b3, &a3), -EBADMSG);
        ck_assert_int_eq(checks_incompatible("shell 1.0.0\n", NULL, &b3, &a3), -EBADMSG);
        ck_assert_int_eq(checks_incompatible("shell 1.0.0 ok extra\n", NULL, &b3, &a3), -EBADMSG);
}
END_TEST

START_TEST(test_bytes) {
        ck_assert_uint_eq(checks_backup_bytes(0, 0), 64 * MIB);
        ck_assert_uint_eq(checks_backup_bytes(100 * MIB, 100 * MIB), 200 * MIB + 64 * MIB);
        ck_assert_uint_eq(checks_backup_bytes(1000 * MIB, 0), 1200 * MIB);
        ck_assert_uint_eq(checks_backup_bytes(UINT64_MAX, 1), UINT64_MAX);
}
END_TEST

START_TEST(test_duration_and_time) {
        static const struct {
                usec_t d;
                const char *want;
        } cases[] = {
                { 40 * USEC_PER_SEC, "40s" },
                { 3 * 60 * USEC_PER_SEC, "3min" },
                { 25 * HOUR, "25h" },
                { 2 * HOUR + 5 * 60 * USEC_PER_SEC, "2h 5min" },
        };
        usec_t t;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = checks_format_duration(cases[i].d);
                ck_assert_str_eq(s, cases[i].want);
        }
        ck_assert_int_eq(checks_parse_timestamp("1970-01-02T00:00:01Z", &t), 0);
        ck_assert_uint_eq(t, (86400 + 1) * USEC_PER_SEC);
        ck_assert_int_eq(checks_parse_timestamp("2026-11-26T10:57:13", &t), -EINVAL);
        ck_assert_int_eq(checks_parse_timestamp("yesterday", &t), -EINVAL);
        ck_assert_int_eq(checks_parse_timestamp(NULL, &t), -EINVAL);
}
END_TEST

/* a staging ledger: 1.5.0 succeeded at 2026-11-26T00:00:00Z (watch as given), 1.5.1 restored, 1.5.2
 * refused after succeeding */
static cJSON *staging_ledger(const char *watch) {
        _cleanup_free_ char *text = NULL;

        ck_assert_int_ge(
                asprintf(
                        &text,
                        "[{\"to\": \"1.5.0\", \"result\": \"succeeded\", \"finished\": "
                        "\"2026-11-26T00:00:00Z\", \"watch\": \"%s\"},"
                        " {\"to\": \"1.5.1\", \"result\": \"restored\", \"finished\": "
                        "\"2026-11-26T00:00:00Z\"},"
                        " {\"to\": \"1.5.2\", \"result\": \"succeeded\", \"finished\": "
                        "\"2026-11-20T00:00:00Z\", \"watch\": \"ok\"},"
                        " {\"to\": \"1.5.2\", \"result\": \"refused\", \"finished\": "
                        "\"2026-11-25T00:00:00Z\"}]",
                        watch),
                0);
        return cJSON_Parse(text);
}

START_TEST(test_staging) {
        _cleanup_json_ cJSON *ledger = staging_ledger("pending"), *degraded = staging_ledger("degraded");
        usec_t finished, bake = 24 * HOUR;
        char *reason = NULL;

        ck_assert_int_eq(checks_parse_timestamp("2026-11-26T00:00:00Z", &finished), 0);

        /* baked 2 h of 24 h: refused, saying how long is left */
        ck_assert_int_eq(checks_staging(ledger, "1.5.0", bake, finished + 2 * HOUR, &reason), CHECK_FAIL);
        ck_assert_str_eq(reason, "1.5.0 succeeded on staging 2h ago; BakeTime= is 24h: 22h to go");
        free(reason);

        /* the time left is rounded up to the minute */
        ck_assert_int_eq(
                checks_staging(ledger, "1.5.0", bake, finished + 2 * HOUR + 3 * USEC_PER_SEC, &reason),
                CHECK_FAIL);
        ck_assert_str_eq(reason, "1.5.0 succeeded on staging 2h ago; BakeTime= is 24h: 22h to go");
        free(reason);

        /* baked 25 h: passes */
        ck_assert_int_eq(checks_staging(ledger, "1.5.0", bake, finished + 25 * HOUR, &reason), CHECK_PASS);
        ck_assert_str_eq(reason, "1.5.0 succeeded on staging 25h ago (BakeTime= 24h), watch pending");
        free(reason);

        /* a degraded watch refuses however long it baked */
        ck_assert_int_eq(checks_staging(degraded, "1.5.0", bake, finished + 72 * HOUR, &reason), CHECK_FAIL);
        ck_assert_ptr_nonnull(strstr(reason, "degraded"));
        free(reason);

        /* failed on staging, never staged */
        ck_assert_int_eq(checks_staging(ledger, "1.5.1", bake, finished + 72 * HOUR, &reason), CHECK_FAIL);
        ck_assert_str_eq(reason, "the upgrade to 1.5.1 ended restored on staging");
        free(reason);
        ck_assert_int_eq(checks_staging(ledger, "1.6.0", bake, finished, &reason), CHECK_FAIL);
        ck_assert_ptr_nonnull(strstr(reason, "has no upgrade to 1.6.0"));
        free(reason);

        /* a refusal after the success changes nothing */
        ck_assert_int_eq(checks_staging(ledger, "1.5.2", bake, finished, &reason), CHECK_PASS);
        free(reason);

        /* a clock behind the staging host's: not baked */
        ck_assert_int_eq(checks_staging(ledger, "1.5.0", bake, finished - HOUR, &reason), CHECK_FAIL);
        free(reason);
}
END_TEST

START_TEST(test_expected_downtime) {
        _cleanup_json_ cJSON *ledger =
                cJSON_Parse("[{\"result\": \"succeeded\", \"from\": \"1.3.0\", \"to\": \"1.4.0\", "
                            "\"downtime_seconds\": 9},"
                            " {\"result\": \"succeeded\", \"from\": \"1.4.0\", \"to\": \"1.5.0\", "
                            "\"downtime_seconds\": 3},"
                            " {\"result\": \"restored\", \"from\": \"1.5.0\", \"to\": \"1.5.1\", "
                            "\"downtime_seconds\": 40},"
                            " {\"result\": \"succeeded\", \"from\": \"1.5.0\", \"to\": \"1.5.2\"}]");
        _cleanup_free_ char *basis = NULL, *none = NULL;
        double seconds = -1;

        /* the last success that recorded one: a restore's downtime is no estimate of an upgrade's */
        ck_assert_int_eq(checks_expected_downtime(ledger, &seconds, &basis), 0);
        ck_assert_double_eq(seconds, 3);
        ck_assert_str_eq(basis, "the last upgrade here (1.4.0 → 1.5.0) had the server down 3 s");
        ck_assert_int_eq(checks_expected_downtime(NULL, &seconds, &none), 0);
        ck_assert(isnan(seconds));
        ck_assert_str_eq(none, "no earlier upgrade on this host to go by");
}
END_TEST

static Suite *checks_suite(void) {
        Suite *s = suite_create("checks");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_node_version);
        tcase_add_test(tc, test_pg_version);
        tcase_add_test(tc, test_clients_below);
        tcase_add_test(tc, test_clients_malformed_protocol);
        tcase_add_test(tc, test_runs_in_flight);
        tcase_add_test(tc, test_incompatible);
        tcase_add_test(tc, test_bytes);
        tcase_add_test(tc, test_duration_and_time);
        tcase_add_test(tc, test_staging);
        tcase_add_test(tc, test_expected_downtime);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(checks_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
