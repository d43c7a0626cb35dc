/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-string-util.c: a formatted string in one call, of arguments or of a function's own */
#include <check.h>
#include <string.h>

#include "string-util.h"
#include "test-run.h"

static char *through_va_list(const char *fmt, ...) _printf_(1, 2);
static char *through_va_list(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = strvprintf(fmt, ap);
        va_end(ap);
        return s;
}

static char *through_macro(int unused, const char *fmt, ...) _printf_(2, 3);
static char *through_macro(int unused, const char *fmt, ...) {
        return STRPRINTF_ARGS(fmt);
}

START_TEST(test_strprintf) {
        _cleanup_free_ char *a = strprintf("%s %u of %d", "phase", 3u, 9), *b = strprintf("%s", ""),
                            *c = through_va_list("%s=%s", "PATH", "/usr/bin");

        ck_assert_str_eq(a, "phase 3 of 9");
        ck_assert_str_eq(b, "");
        ck_assert_str_eq(c, "PATH=/usr/bin");
}
END_TEST

START_TEST(test_strprintf_args) {
        _cleanup_free_ char *a = through_macro(0, "%s %d", "step", 2), *b = through_macro(1, "plain");

        ck_assert_str_eq(a, "step 2");
        ck_assert_str_eq(b, "plain");
}
END_TEST

int main(void) {
        Suite *s = suite_create("string-util");
        TCase *tc = tcase_create("string-util");

        tcase_add_test(tc, test_strprintf);
        tcase_add_test(tc, test_strprintf_args);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
