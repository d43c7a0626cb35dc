/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-errmsg.c: the context string handed back beside an -errno */
#include <check.h>

#include "errmsg.h"

START_TEST(test_sets_and_returns) {
        _cleanup_free_ char *e = NULL;

        ck_assert_int_eq(errmsg_set(&e, -EIO, "step %s failed: %d", "dump", 3), -EIO);
        ck_assert_str_eq(e, "step dump failed: 3");
}
END_TEST

START_TEST(test_replaces_earlier) {
        _cleanup_free_ char *e = strdup("first");

        ck_assert_int_eq(errmsg_set(&e, -ENOENT, "second"), -ENOENT);
        ck_assert_str_eq(e, "second");
}
END_TEST

START_TEST(test_null_target) {
        ck_assert_int_eq(errmsg_set(NULL, -EPERM, "nobody reads this %s", "text"), -EPERM);
}
END_TEST

int main(void) {
        Suite *s = suite_create("errmsg");
        TCase *tc = tcase_create("errmsg");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_sets_and_returns);
        tcase_add_test(tc, test_replaces_earlier);
        tcase_add_test(tc, test_null_target);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
