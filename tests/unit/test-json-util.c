/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-json-util.c: json-util module: numbers out of JSON as range-checked integers */
#define _GNU_SOURCE
#include <check.h>
#include <float.h>
#include <math.h>

#include "json-util.h"
#include "macro.h"

START_TEST(test_number_to_int64) {
        static const struct {
                double d;
                int64_t min, max;
                int r;
                int64_t want;
        } cases[] = {
                { 0, 0, 10, 0, 0 },
                { 10, 0, 10, 0, 10 },
                { -0.0, 0, 10, 0, 0 },
                { -5, INT64_MIN, INT64_MAX, 0, -5 },
                { 9007199254740992.0, 0, INT64_MAX, 0, INT64_C(9007199254740992) },
                /* the extremes a double holds: -2^63 fits, 2^63 does not */
                { -9223372036854775808.0, INT64_MIN, INT64_MAX, 0, INT64_MIN },
                { 9223372036854775808.0, INT64_MIN, INT64_MAX, -ERANGE, 0 },
                { 11, 0, 10, -ERANGE, 0 },
                { -1, 0, 10, -ERANGE, 0 },
                { 4294967296.0, 0, UINT32_MAX, -ERANGE, 0 },
                { 1e300, INT64_MIN, INT64_MAX, -ERANGE, 0 },
                { -1e300, INT64_MIN, INT64_MAX, -ERANGE, 0 },
                { DBL_MAX, 0, INT64_MAX, -ERANGE, 0 },
                { 0.5, 0, 10, -EBADMSG, 0 },
                { 1e-300, 0, 10, -EBADMSG, 0 },
                { INFINITY, 0, INT64_MAX, -EBADMSG, 0 },
                { -INFINITY, INT64_MIN, 0, -EBADMSG, 0 },
                { NAN, 0, INT64_MAX, -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v = 42;
                int r = json_number_to_int64(cases[i].d, cases[i].min, cases[i].max, &v);

                ck_assert_msg(r == cases[i].r, "%g: %d, not %d", cases[i].d, r, cases[i].r);
                /* written only on success */
                ck_assert_msg(v == (r == 0 ? cases[i].want : 42), "%g: %lld", cases[i].d, (long long)v);
        }
}
END_TEST

START_TEST(test_get_int64_range) {
        _cleanup_json_ cJSON *o = cJSON_Parse(
                "{\"n\": 7, \"big\": 1e300, \"half\": 2.5, \"text\": \"7\", \"no\": null, \"t\": true, "
                "\"inf\": 1e400}");
        int64_t v = 0;

        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(json_get_int64_range(o, "n", 0, 10, &v), 0);
        ck_assert_int_eq(v, 7);
        ck_assert_int_eq(json_get_int64_range(o, "n", 0, 6, &v), -ERANGE);
        ck_assert_int_eq(json_get_int64_range(o, "big", 0, INT64_MAX, &v), -ERANGE);
        ck_assert_int_eq(json_get_int64_range(o, "half", 0, 10, &v), -EBADMSG);
        ck_assert_int_eq(json_get_int64_range(o, "text", 0, 10, &v), -EBADMSG);
        ck_assert_int_eq(json_get_int64_range(o, "t", 0, 10, &v), -EBADMSG);
        ck_assert_int_eq(json_get_int64_range(o, "inf", 0, INT64_MAX, &v), -EBADMSG);
        ck_assert_int_eq(json_get_int64_range(o, "no", 0, 10, &v), -ENOENT);
        ck_assert_int_eq(json_get_int64_range(o, "absent", 0, 10, &v), -ENOENT);
        ck_assert_int_eq(json_get_int64_range(NULL, "n", 0, 10, &v), -ENOENT);
        ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(test_set) {
        _cleanup_json_ cJSON *o = cJSON_Parse("{\"a\": 1, \"Phase\": \"x\", \"b\": true}");
        _cleanup_free_ char *text = NULL;

        ck_assert_ptr_nonnull(o);
        /* replaced in place, added at the end, case-sensitive */
        ck_assert_int_eq(json_set_string(o, "a", "one"), 0);
        ck_assert_int_eq(json_set_string(o, "phase", "y"), 0);
        ck_assert_int_eq(json_set_bool(o, "b", false), 0);
        ck_assert_int_eq(json_set_string(o, "none", NULL), 0);
        ck_assert_int_eq(json_set_bool(o, "c", true), 0);
        text = cJSON_PrintUnformatted(o);
        ck_assert_str_eq(
                text,
                "{\"a\":\"one\",\"Phase\":\"x\",\"b\":false,\"phase\":\"y\",\"none\":null,\"c\":true}");
        ck_assert_str_eq(json_get_string(o, "phase"), "y");
        /* a number, replaced in place like the rest */
        ck_assert_int_eq(json_set_number(o, "b", 2.5), 0);
        ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(o, "b")->valuedouble, 2.5);
        ck_assert_ptr_eq(cJSON_GetArrayItem(o, 2), cJSON_GetObjectItemCaseSensitive(o, "b"));
}
END_TEST

static Suite *json_util_suite(void) {
        Suite *s = suite_create("json-util");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_number_to_int64);
        tcase_add_test(tc, test_get_int64_range);
        tcase_add_test(tc, test_set);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(json_util_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
