/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-cescape.c: names from the file system escaped for a log line */
#include <check.h>

#include "cescape.h"
#include "macro.h"

START_TEST(test_plain_names_unchanged) {
        static const char *const same[] = {
                "", "staging", "eu-west_2", "not valid", "it's \"quoted\"", "/etc/codebolt-upgrade/x.conf",
        };

        for (size_t i = 0; i < ELEMENTSOF(same); i++) {
                _cleanup_free_ char *e = cescape(same[i]);

                ck_assert_ptr_nonnull(e);
                ck_assert_str_eq(e, same[i]);
        }
}
END_TEST

START_TEST(test_escapes) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                /* a newline would start a forged log line of its own */
                { "evil\n<2>codebolt-upgrade-generator: all good",
                  "evil\\n<2>codebolt-upgrade-generator: all good" },
                { "a\tb\rc", "a\\tb\\rc" },
                { "\a\b\v\f", "\\a\\b\\v\\f" },
                { "back\\slash", "back\\\\slash" },
                /* a terminal's escape sequence, DEL, and bytes above ASCII */
                { "\x1b[31mred", "\\x1b[31mred" },
                { "\x01\x7f", "\\x01\\x7f" },
                { "caf\xc3\xa9", "caf\\xc3\\xa9" },
                { "\xff", "\\xff" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *e = cescape(cases[i].in);

                ck_assert_ptr_nonnull(e);
                ck_assert_str_eq(e, cases[i].out);
                ck_assert_ptr_null(strpbrk(e, "\n\r\x1b"));
        }
}
END_TEST

START_TEST(test_null) {
        ck_assert_ptr_null(cescape(NULL));
}
END_TEST

int main(void) {
        Suite *s = suite_create("cescape");
        TCase *tc = tcase_create("cescape");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_plain_names_unchanged);
        tcase_add_test(tc, test_escapes);
        tcase_add_test(tc, test_null);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
