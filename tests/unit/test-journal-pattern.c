/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-journal-pattern.c: [Watch] ErrorPattern='s bounds and the portable rewrite of \b (what the
 * patterns match is tested with the journal's entries in test-journal.c) */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "journal-pattern.h"
#include "macro.h"

/* the default [Watch] ErrorPattern= (data/upgrade.conf.in) */
#define DEFAULT_PATTERN "^(error|fatal|panic)\\b"

static double elapsed_ms(const struct timespec *a) {
        struct timespec b;

        clock_gettime(CLOCK_MONOTONIC, &b);
        return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static char *repeat_str(const char *prefix, const char *unit, size_t n, const char *suffix) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ck_assert_ptr_nonnull(f);
        fputs(prefix, f);
        for (size_t i = 0; i < n; i++)
                fputs(unit, f);
        fputs(suffix, f);
        ck_assert_int_eq(fclose(f), 0);
        return buf;
}

/* the patterns people write pass, and so do the largest within the bounds, each compiled in well
 * under the time a boot may spend (a sanitizer build is slower than the real one) */
START_TEST(test_error_pattern_bounds_accept) {
        _cleanup_free_ char *nested = repeat_str("", "(", 8, "x+"), *long_plain = NULL;
        _cleanup_free_ char *nested_closed = NULL;
        const char *ok[] = {
                DEFAULT_PATTERN,
                "unhandled (rejection|exception)",
                "^\\[(error|fatal)\\] ",
                "[0-9]{1,3}(\\.[0-9]{1,3}){3}",
                "(ERROR|FATAL)[: ]+.*(timeout|refused)",
                "a{255}",
                "[]+*{(]+x",
                "[[:alpha:]]+: [^]]*",
                "x{2,}",
                "x\\{2\\}",
                "a|b+",
                "(x+)+",
                "a{0}",
                "x{1,255}",    /* 1 + 2 * 254 = 509 positions */
                "(x{22}){22}", /* 484 */
                NULL,
                NULL,
        };
        struct timespec t;

        nested_closed = repeat_str(nested, ")+", 8, "");
        long_plain = repeat_str("", "e", JOURNAL_ERROR_PATTERN_MAX, "");
        ok[ELEMENTSOF(ok) - 2] = nested_closed; /* 2^9 = 512 positions */
        ok[ELEMENTSOF(ok) - 1] = long_plain;

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                _cleanup_free_ char *why = NULL;
                regex_t re;
                double ms;

                ck_assert_msg(journal_error_pattern_check(ok[i], &why) == 0, "%s: %s", ok[i], strempty(why));
                clock_gettime(CLOCK_MONOTONIC, &t);
                ck_assert_msg(journal_compile_error_pattern(ok[i], &re) == 0, "%s does not compile", ok[i]);
                ms = elapsed_ms(&t);
                regfree(&re);
                ck_assert_msg(ms < 500, "%s took %.0f ms to compile", ok[i], ms);
        }
}
END_TEST

/* x+++… costs glibc's regcomp() 2^n: it is refused before regcomp() sees it, at once */
START_TEST(test_error_pattern_bounds_refuse) {
        _cleanup_free_ char *pluses = repeat_str("x", "+", 5000, ""),
                            *short_pluses = repeat_str("x", "+", 60, ""),
                            *deep = repeat_str("", "(", 17, "x"), *nested = repeat_str("", "(", 9, "x+"),
                            *too_long = repeat_str("", "e", JOURNAL_ERROR_PATTERN_MAX + 1, ""),
                            *nested_closed = NULL, *deep_closed = NULL;
        struct {
                const char *pattern, *why;
        } bad[] = {
                { pluses, "longer than 512 bytes" },
                { short_pluses, "a repetition operator right after another at character 3" },
                { "x**", "right after another at character 3" },
                { "error.*?", "right after another at character 8" },
                { "(a|b)+{2}", "right after another at character 7" },
                { "a{2}{3}", "right after another at character 5" },
                { "x{1000}", "a repetition count above 255 at character 2" },
                { "x{1,99999999999999999999}", "a repetition count above 255" },
                { "(x{255}){255}", "unroll to more than 512 positions" },
                { "((a{1,16}){1,16}){1,16}", "unroll to more than 512 positions" },
                { "x{1,255}x{1,255}", "unroll to more than 512 positions (at character 10)" },
                { NULL, "unroll to more than 512 positions" },
                { NULL, "parentheses nested deeper than 16 (at character 17)" },
                { "(a)\\1", "a back-reference (\\1) at character 4" },
                { too_long, "longer than 512 bytes" },
        };
        struct timespec t;

        nested_closed = repeat_str(nested, ")+", 9, ""); /* 2^10 */
        deep_closed = repeat_str(deep, ")", 17, "");
        bad[11].pattern = nested_closed;
        bad[12].pattern = deep_closed;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *why = NULL;
                regex_t re;

                clock_gettime(CLOCK_MONOTONIC, &t);
                ck_assert_int_eq(journal_error_pattern_check(bad[i].pattern, &why), -EINVAL);
                ck_assert_msg(why && strstr(why, bad[i].why), "%s: '%s'", bad[i].pattern, strempty(why));
                ck_assert_int_eq(journal_compile_error_pattern(bad[i].pattern, &re), -EINVAL);
                ck_assert_msg(elapsed_ms(&t) < 50, "%s took %.0f ms", bad[i].pattern, elapsed_ms(&t));
        }
}
END_TEST

START_TEST(test_error_pattern_translate) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { DEFAULT_PATTERN, "^(error|fatal|panic)($|[^[:alnum:]_])" },
                { "\\bpanic\\b", "(^|[^[:alnum:]_])panic($|[^[:alnum:]_])" },
                { "(\\bfoo|\\bbar)", "((^|[^[:alnum:]_])foo|(^|[^[:alnum:]_])bar)" },
                { "^\\bx", "^(^|[^[:alnum:]_])x" },
                { "[\\b]x", "[\\b]x" },                 /* a backslash in a bracket is a literal */
                { "[]b]\\b", "[]b]($|[^[:alnum:]_])" }, /* so is a leading ']' */
                { "[^]a]\\b", "[^]a]($|[^[:alnum:]_])" },
                { "[[:alpha:]]\\b", "[[:alpha:]]($|[^[:alnum:]_])" },
                { "a\\\\b", "a\\\\b" }, /* an escaped backslash, then a plain 'b' */
                { "a\\.b", "a\\.b" },
                { "no boundary", "no boundary" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = NULL;

                ck_assert_int_eq(journal_error_pattern_translate(cases[i].in, &out), 0);
                ck_assert_str_eq(out, cases[i].out);
        }
}
END_TEST

static Suite *journal_pattern_suite(void) {
        Suite *s = suite_create("journal-pattern");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_error_pattern_translate);
        tcase_add_test(tc, test_error_pattern_bounds_accept);
        tcase_add_test(tc, test_error_pattern_bounds_refuse);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(journal_pattern_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
