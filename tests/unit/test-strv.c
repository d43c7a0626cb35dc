/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-strv.c: NULL-terminated string vectors */
#include <check.h>

#include "strv.h"
#include "test-run.h"

START_TEST(test_push_and_length) {
        _cleanup_strv_free_ char **l = NULL;
        const char *s = "two";

        ck_assert_uint_eq(strv_length(NULL), 0);
        ck_assert_int_eq(strv_push(&l, "one"), 0);
        ck_assert_int_eq(strv_push(&l, s), 0);
        ck_assert_int_eq(strv_push(&l, ""), 0);
        ck_assert_uint_eq(strv_length(l), 3);
        ck_assert_str_eq(l[0], "one");
        /* a copy, not the caller's string */
        ck_assert_str_eq(l[1], "two");
        ck_assert_ptr_ne(l[1], s);
        ck_assert_str_eq(l[2], "");
        ck_assert_ptr_null(l[3]);
}
END_TEST

START_TEST(test_contains) {
        _cleanup_strv_free_ char **l = NULL;

        ck_assert(!strv_contains(NULL, "a"));
        ck_assert_int_eq(strv_push(&l, "a"), 0);
        ck_assert_int_eq(strv_push(&l, "bc"), 0);
        ck_assert(strv_contains(l, "a"));
        ck_assert(strv_contains(l, "bc"));
        ck_assert(!strv_contains(l, "b"));
        ck_assert(!strv_contains(l, ""));
        ck_assert(!strv_contains(l, NULL));
}
END_TEST

START_TEST(test_foreach) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        STRV_FOREACH (s, l)
                n++;
        ck_assert_uint_eq(n, 0);
        ck_assert_int_eq(strv_push(&l, "x"), 0);
        ck_assert_int_eq(strv_push(&l, "y"), 0);
        STRV_FOREACH (s, l)
                n++;
        ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(test_join) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *none = strv_join(NULL, ", "), *one = NULL, *three = NULL;

        ck_assert_str_eq(none, "");
        ck_assert_int_eq(strv_push(&l, "/var/lib/a"), 0);
        one = strv_join(l, ", ");
        ck_assert_str_eq(one, "/var/lib/a");
        ck_assert_int_eq(strv_push(&l, ""), 0);
        ck_assert_int_eq(strv_push(&l, "c"), 0);
        three = strv_join(l, ", ");
        ck_assert_str_eq(three, "/var/lib/a, , c");
}
END_TEST

START_TEST(test_sort) {
        char *l[] = { (char *)"b", (char *)"a", (char *)"c", (char *)"a", NULL };

        strv_sort(l, 4);
        ck_assert_str_eq(l[0], "a");
        ck_assert_str_eq(l[1], "a");
        ck_assert_str_eq(l[2], "b");
        ck_assert_str_eq(l[3], "c");
        ck_assert_ptr_null(l[4]);
        strv_sort(NULL, 0);
}
END_TEST

int main(void) {
        Suite *s = suite_create("strv");
        TCase *tc = tcase_create("strv");

        tcase_add_test(tc, test_push_and_length);
        tcase_add_test(tc, test_contains);
        tcase_add_test(tc, test_foreach);
        tcase_add_test(tc, test_join);
        tcase_add_test(tc, test_sort);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
