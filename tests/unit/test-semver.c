/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-semver.c: exact versions, precedence, why-invalid and npm ranges */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "semver.h"

static void semver_donep(SemVer *v) {
        semver_done(v);
}
#define _cleanup_semver_ _cleanup_(semver_donep)

/* the precedence chain of SemVer 2.0.0 §11, plus a few more */
static const char *const chain[] = {
        "0.0.0-0",
        "0.0.0",
        "0.9.9",
        "1.0.0-0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "1.10.0",
        "2.0.0",
        "10.0.0",
        "18446744073709551615.0.0",
};

START_TEST(test_precedence_chain) {
        for (size_t i = 0; i < ELEMENTSOF(chain); i++)
                for (size_t j = 0; j < ELEMENTSOF(chain); j++) {
                        _cleanup_semver_ SemVer a = {}, b = {};
                        int c;

                        ck_assert_int_eq(semver_parse(chain[i], &a), 0);
                        ck_assert_int_eq(semver_parse(chain[j], &b), 0);
                        c = semver_compare(&a, &b);
                        if (i < j)
                                ck_assert_msg(c < 0, "%s < %s, got %d", chain[i], chain[j], c);
                        else if (i > j)
                                ck_assert_msg(c > 0, "%s > %s, got %d", chain[i], chain[j], c);
                        else
                                ck_assert_int_eq(c, 0);
                }
}
END_TEST

START_TEST(test_compare_details) {
        static const struct {
                const char *a, *b;
                int expect;
        } v[] = {
                { "1.0.0+build.1", "1.0.0+build.2", 0 }, /* build metadata has no precedence */
                { "1.0.0-rc.1+a", "1.0.0-rc.1", 0 },
                { "1.0.0-2", "1.0.0-10", -1 },         /* numeric identifiers compare as numbers */
                { "1.0.0-99", "1.0.0-a", -1 },         /* numeric below alphanumeric */
                { "1.0.0-A", "1.0.0-a", -1 },          /* ASCII order */
                { "1.0.0-alpha-1", "1.0.0-alpha", 1 }, /* longer identifier with the same prefix */
                { "1.0.0-a.b.c", "1.0.0-a.b", 1 },     /* more identifiers */
                { "1.0.0-1a", "1.0.0-1", 1 },          /* 1a is alphanumeric */
                { "1.0.0-01a", "1.0.0-1a", -1 },       /* leading zero allowed in alphanumerics */
                { "1.2.3-12345678901234567890123", "1.2.3-9", 1 }, /* beyond uint64, still numeric */
                { "2.0.0", "10.0.0", -1 },
        };

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                _cleanup_semver_ SemVer a = {}, b = {};
                int c;

                ck_assert_int_eq(semver_parse(v[i].a, &a), 0);
                ck_assert_int_eq(semver_parse(v[i].b, &b), 0);
                c = semver_compare(&a, &b);
                ck_assert_msg((c > 0) - (c < 0) == v[i].expect, "%s vs %s: %d", v[i].a, v[i].b, c);
                c = semver_compare(&b, &a);
                ck_assert_msg((c > 0) - (c < 0) == -v[i].expect, "%s vs %s: %d", v[i].b, v[i].a, c);
        }
}
END_TEST

/* the valid list of semver.org's regular expression tests (minus the one beyond uint64) */
static const char *const valid[] = {
        "0.0.4",
        "1.2.3",
        "10.20.30",
        "1.1.2-prerelease+meta",
        "1.1.2+meta",
        "1.1.2+meta-valid",
        "1.0.0-alpha",
        "1.0.0-beta",
        "1.0.0-alpha.beta",
        "1.0.0-alpha.beta.1",
        "1.0.0-alpha.1",
        "1.0.0-alpha0.valid",
        "1.0.0-alpha.0valid",
        "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
        "1.0.0-rc.1+build.1",
        "2.0.0-rc.1+build.123",
        "1.2.3-beta",
        "10.2.3-DEV-SNAPSHOT",
        "1.2.3-SNAPSHOT-123",
        "1.0.0",
        "2.0.0",
        "1.1.7",
        "2.0.0+build.1848",
        "2.0.1-alpha.1227",
        "1.0.0-alpha+beta",
        "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
        "1.2.3----R-S.12.9.1--.12+meta",
        "1.2.3----RC-SNAPSHOT.12.9.1--.12",
        "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
        "1.0.0-0A.is.legal",
        "1.0.0+001",
        "18446744073709551615.18446744073709551615.18446744073709551615",
};

START_TEST(test_valid) {
        const char *s = valid[_i];
        _cleanup_semver_ SemVer v = {};
        _cleanup_free_ char *back = NULL;

        ck_assert_msg(semver_parse(s, &v) == 0, "%s should parse", s);
        ck_assert_ptr_null(semver_why_invalid(s));
        ck_assert_int_eq(semver_to_string(&v, &back), 0);
        ck_assert_str_eq(back, s);
}
END_TEST

START_TEST(test_parse_fields) {
        _cleanup_semver_ SemVer v = {}, w = {};

        ck_assert_int_eq(semver_parse("1.5.0-rc.1+build.7", &v), 0);
        ck_assert(v.major == 1 && v.minor == 5 && v.patch == 0);
        ck_assert_str_eq(v.prerelease, "rc.1");
        ck_assert_str_eq(v.build, "build.7");

        ck_assert_int_eq(semver_parse("1.5.0", &w), 0);
        ck_assert_ptr_null(w.prerelease);
        ck_assert_ptr_null(w.build);
}
END_TEST

/* the invalid list of semver.org's regular expression tests, and ours */
static const char *const invalid[] = {
        "1",
        "1.2",
        "1.2.3-0123",
        "1.2.3-0123.0123",
        "1.1.2+.123",
        "+invalid",
        "-invalid",
        "-invalid+invalid",
        "-invalid.01",
        "alpha",
        "alpha.beta",
        "alpha.beta.1",
        "alpha.1",
        "alpha+beta",
        "alpha_beta",
        "alpha.",
        "alpha..",
        "beta",
        "1.0.0-alpha_beta",
        "-alpha.",
        "1.0.0-alpha..",
        "1.0.0-alpha..1",
        "1.0.0-alpha...1",
        "1.0.0-alpha....1",
        "1.0.0-alpha.....1",
        "1.0.0-alpha......1",
        "1.0.0-alpha.......1",
        "01.1.1",
        "1.01.1",
        "1.1.01",
        "1.2.3.DEV",
        "1.2-SNAPSHOT",
        "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
        "1.2-RC-SNAPSHOT",
        "-1.0.3-gamma+b7718",
        "+justmeta",
        "9.8.7+meta+meta",
        "9.8.7-whatever+meta+meta",
        "99999999999999999999999.999999999.99999999",
        "18446744073709551616.0.0",
        "",
        "latest",
        "^1.5.0",
        "~1.5",
        ">=1.5.0",
        "1.5.x",
        "1.5",
        "v1.5.0",
        "=1.5.0",
        " 1.5.0",
        "1.5.0 ",
        "1.5.0\n",
        "1.5.0;rm -rf /",
        "1.5.0/evil",
        "1.5.0-",
        "1.5.0+",
        "1.5.0-rc.1\\x2d",
        "1.5.0-ü",
        "1..0",
        "1.5.0.0",
        "1.5.0-rc.01",
};

START_TEST(test_invalid) {
        const char *s = invalid[_i];
        SemVer v = { .major = 42 };

        ck_assert_msg(semver_parse(s, &v) == -EINVAL, "%s should be refused", s);
        ck_assert_msg(v.major == 42 && !v.prerelease, "%s: output written on failure", s);
        ck_assert_msg(semver_why_invalid(s) != NULL, "%s: no reason given", s);
}
END_TEST

START_TEST(test_length_cap) {
        _cleanup_free_ char *s = malloc(SEMVER_MAX_LEN + 2);
        _cleanup_semver_ SemVer v = {};

        ck_assert_ptr_nonnull(s);
        /* 1.0.0- and then identifiers up to exactly SEMVER_MAX_LEN */
        memcpy(s, "1.0.0-", 6);
        memset(s + 6, 'a', SEMVER_MAX_LEN - 6);
        s[SEMVER_MAX_LEN] = 0;
        ck_assert_int_eq(semver_parse(s, &v), 0);
        ck_assert_ptr_null(semver_why_invalid(s));

        s[SEMVER_MAX_LEN] = 'a';
        s[SEMVER_MAX_LEN + 1] = 0;
        ck_assert_int_eq(semver_parse(s, &v), -E2BIG);
        ck_assert_str_eq(semver_why_invalid(s), "longer than 128 characters");
}
END_TEST

START_TEST(test_why_invalid) {
        static const struct {
                const char *s, *why;
        } v[] = {
                { "latest", "'latest' is a tag, not a version: name an exact version such as 1.5.0" },
                { "next", "'next' is a tag, not a version: name an exact version such as 1.5.0" },
                { "beta", "a tag is not a version: name an exact version such as 1.5.0" },
                { "^1.5.0", "a range is not an exact version" },
                { "~1.5", "a range is not an exact version" },
                { ">=1.5.0", "a range is not an exact version" },
                { "<2", "a range is not an exact version" },
                { "=1.5.0", "a range is not an exact version" },
                { "1.5.x", "a range is not an exact version" },
                { "1.x", "a range is not an exact version" },
                { "*", "a range is not an exact version" },
                { "1.2.3 - 2.3.4", "a range is not an exact version" },
                { "1.x || 2.x", "a range is not an exact version" },
                { "1.5", "a version has three numbers: major.minor.patch" },
                { "1", "a version has three numbers: major.minor.patch" },
                { "1.5.0.1", "a version has three numbers: major.minor.patch" },
                { "v1.5.0", "a leading 'v' is not part of the version" },
                { "1.5.0;rm -rf /", "only [0-9A-Za-z.+-] may appear in a version" },
                { "1.5.0/evil", "only [0-9A-Za-z.+-] may appear in a version" },
                { "1.5.0 ", "only [0-9A-Za-z.+-] may appear in a version" },
                { "latest;reboot", "only [0-9A-Za-z.+-] may appear in a version" },
                { "", "empty: name an exact version such as 1.5.0" },
        };

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                const char *why = semver_why_invalid(v[i].s);
                ck_assert_msg(why && streq(why, v[i].why), "'%s': got '%s'", v[i].s, strempty(why));
        }

        ck_assert_str_eq(semver_why_invalid(NULL), "empty: name an exact version such as 1.5.0");
        ck_assert_ptr_nonnull(strstr(semver_why_invalid("01.5.0"), "leading zeros"));
        ck_assert_ptr_nonnull(strstr(semver_why_invalid("1.5.0-rc.01"), "leading zeros"));
        ck_assert_ptr_nonnull(strstr(semver_why_invalid("1.5.0-"), "empty parts"));
        ck_assert_ptr_nonnull(strstr(semver_why_invalid("1.5.0-rc..1"), "empty parts"));
        ck_assert_ptr_nonnull(strstr(semver_why_invalid("99999999999999999999.0.0"), "too large"));
        ck_assert_ptr_nonnull(strstr(semver_why_invalid("1.5.0+a+b"), "'+'"));
}
END_TEST

START_TEST(test_why_invalid_long) {
        char s[301];

        memset(s, '1', sizeof(s) - 1);
        s[sizeof(s) - 1] = 0;
        ck_assert_str_eq(semver_why_invalid(s), "longer than 128 characters");
        /* a long junk string is too long before it is anything else */
        memset(s, ';', sizeof(s) - 1);
        ck_assert_str_eq(semver_why_invalid(s), "longer than 128 characters");
        ck_assert_int_eq(semver_parse(s, &(SemVer){}), -E2BIG);
}
END_TEST

/* node-semver's documentation and its range-include / range-exclude fixtures (the strict, non-loose,
 * includePrerelease=false ones), checked against node-semver 7.x */
static const struct {
        const char *range, *version;
        int expect;
} ranges[] = {
        /* comparators */
        { ">=1.2.7", "1.2.7", 1 },
        { ">=1.2.7", "1.2.8", 1 },
        { ">=1.2.7", "2.5.3", 1 },
        { ">=1.2.7", "1.3.9", 1 },
        { ">=1.2.7", "1.2.6", 0 },
        { ">=1.2.7", "1.1.0", 0 },
        { ">=1.2.7 <1.3.0", "1.2.7", 1 },
        { ">=1.2.7 <1.3.0", "1.2.8", 1 },
        { ">=1.2.7 <1.3.0", "1.2.99", 1 },
        { ">=1.2.7 <1.3.0", "1.2.6", 0 },
        { ">=1.2.7 <1.3.0", "1.3.0", 0 },
        { ">=1.2.7 <1.3.0", "1.1.0", 0 },
        { "1.2.7 || >=1.2.9 <2.0.0", "1.2.7", 1 },
        { "1.2.7 || >=1.2.9 <2.0.0", "1.2.9", 1 },
        { "1.2.7 || >=1.2.9 <2.0.0", "1.4.6", 1 },
        { "1.2.7 || >=1.2.9 <2.0.0", "1.2.8", 0 },
        { "1.2.7 || >=1.2.9 <2.0.0", "2.0.0", 0 },
        { "1.0.0", "1.0.0", 1 },
        { "1.0.0", "1.0.1", 0 },
        { "=1.0.0", "1.0.0", 1 },
        { "v1.2.3", "1.2.3", 1 },
        { "=v1.2.3", "1.2.3", 1 },
        { ">=1.0.0", "1.0.0", 1 },
        { ">=1.0.0", "1.0.1", 1 },
        { ">=1.0.0", "1.1.0", 1 },
        { ">=1.0.0", "0.0.0", 0 },
        { ">=1.0.0", "0.1.0", 0 },
        { ">1.0.0", "1.0.1", 1 },
        { ">1.0.0", "1.0.0", 0 },
        { "<=2.0.0", "2.0.0", 1 },
        { "<=2.0.0", "1.9999.9999", 1 },
        { "<=2.0.0", "0.2.9", 1 },
        { "<=2.0.0", "2.2.9", 0 },
        { "<2.0.0", "1.9999.9999", 1 },
        { "<2.0.0", "2.0.0", 0 },
        { ">= 1.0.0", "1.0.0", 1 },
        { ">=  1.0.0", "1.0.1", 1 },
        { "> 1.0.0", "1.0.1", 1 },
        { "<=   2.0.0", "2.0.0", 1 },
        { "<    2.0.0", "1.9999.9999", 1 },
        { "<\t2.0.0", "0.2.9", 1 },
        { ">=0.1.97", "0.1.97", 1 },
        { ">=0.1.97", "0.1.93", 0 },
        { "0.1.20 || 1.2.4", "1.2.4", 1 },
        { "0.1.20 || 1.2.4", "1.2.3", 0 },
        { ">=0.2.3 || <0.0.1", "0.0.0", 1 },
        { ">=0.2.3 || <0.0.1", "0.2.3", 1 },
        { ">=0.2.3 || <0.0.1", "0.2.4", 1 },
        { ">=0.2.3 || <0.0.1", "0.0.3", 0 },
        { ">=0.2.3 || <0.0.1", "0.2.2", 0 },
        { "~1.2.1 >=1.2.3", "1.2.3", 1 },
        { "~1.2.1 =1.2.3", "1.2.3", 1 },
        { "~1.2.1 1.2.3", "1.2.3", 1 },
        { "~1.2.1 >=1.2.3 1.2.3", "1.2.3", 1 },
        { ">=1.2.1 1.2.3", "1.2.3", 1 },
        { ">=1.2.3 >=1.2.1", "1.2.3", 1 },
        /* hyphen ranges */
        { "1.2.3 - 2.3.4", "1.2.3", 1 },
        { "1.2.3 - 2.3.4", "2.3.4", 1 },
        { "1.2.3 - 2.3.4", "2.3.5", 0 },
        { "1.2.3 - 2.3.4", "1.2.2", 0 },
        { "1.2 - 2.3.4", "1.2.0", 1 },
        { "1.2 - 2.3.4", "1.1.9", 0 },
        { "1.2.3 - 2.3", "2.3.9", 1 },
        { "1.2.3 - 2.3", "2.4.0", 0 },
        { "1.2.3 - 2", "2.9.9", 1 },
        { "1.2.3 - 2", "3.0.0", 0 },
        { "1.0.0 - 2.0.0", "1.2.3", 1 },
        { "1.0.0 - 2.0.0", "2.2.3", 0 },
        { "1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3", 1 },
        { "1.2.3-pre+asdf - 2.4.3-pre+asdf", "1.2.3-pre.2", 1 },
        { "1.2.3-pre+asdf - 2.4.3-pre+asdf", "2.4.3-alpha", 1 },
        { "1.2.3+asdf - 2.4.3+asdf", "1.2.3", 1 },
        { "1.2.3+asdf - 2.4.3+asdf", "1.2.3-pre.2", 0 },
        { "1.2.3+asdf - 2.4.3+asdf", "2.4.3-alpha", 0 },
        { "x - 1.0.0", "0.9.7", 1 },
        { "x - 1.x", "0.9.7", 1 },
        { "1.0.0 - x", "1.9.7", 1 },
        { "1.x - x", "1.9.7", 1 },
        /* x-ranges */
        { "*", "1.2.3", 1 },
        { "", "1.0.0", 1 },
        { "x", "1.2.3", 1 },
        { ">=*", "0.2.4", 1 },
        { "<*", "1.0.0", 0 },
        { ">*", "1.0.0", 0 },
        { "1.x", "1.0.0", 1 },
        { "1.x", "1.99.3", 1 },
        { "1.x", "2.0.0", 0 },
        { "1.x", "0.9.0", 0 },
        { "1.2.x", "1.2.3", 1 },
        { "1.2.x", "1.3.3", 0 },
        { "2.x.x", "2.1.3", 1 },
        { "2.x.x", "1.1.3", 0 },
        { "2.x.x", "3.1.3", 0 },
        { "1.2.x || 2.x", "2.1.3", 1 },
        { "1.2.x || 2.x", "1.2.3", 1 },
        { "1.2.x || 2.x", "3.1.3", 0 },
        { "1.2.x || 2.x", "1.1.3", 0 },
        { "2.*.*", "2.1.3", 1 },
        { "1.2.*", "1.2.3", 1 },
        { "1.2.* || 2.*", "1.2.3", 1 },
        { "2", "2.1.2", 1 },
        { "2", "1.1.2", 0 },
        { "2.3", "2.3.1", 1 },
        { "2.3", "2.4.1", 0 },
        { "1", "1.0.0", 1 },
        { "1", "2.0.0", 0 },
        { ">=1", "1.0.0", 1 },
        { ">= 1", "1.0.0", 1 },
        { "<1.2", "1.1.1", 1 },
        { "< 1.2", "1.1.1", 1 },
        { "<1", "1.0.0", 0 },
        { ">=1.2", "1.2.8", 1 },
        { ">=1.2", "1.1.1", 0 },
        { ">1.2", "1.2.8", 0 },
        { ">1.2", "1.3.0", 1 },
        { "=0.7.x", "0.7.2", 1 },
        { "<=0.7.x", "0.7.2", 1 },
        { ">=0.7.x", "0.7.2", 1 },
        { "<=0.7.x", "0.6.2", 1 },
        { "=0.7.x", "0.8.2", 0 },
        { ">=0.7.x", "0.6.2", 0 },
        { "<0.7.x", "0.7.2", 0 },
        { "<=7.x", "7.9.9", 1 },
        { "||", "1.3.4", 1 },
        /* tilde */
        { "~1.2.3", "1.2.3", 1 },
        { "~1.2.3", "1.2.9", 1 },
        { "~1.2.3", "1.3.0", 0 },
        { "~1.2.3", "1.2.2", 0 },
        { "~1.2", "1.2.0", 1 },
        { "~1.2", "1.2.99", 1 },
        { "~1.2", "1.3.0", 0 },
        { "~1", "1.9.9", 1 },
        { "~1", "2.0.0", 0 },
        { "~0.2.3", "0.2.5", 1 },
        { "~0.2.3", "0.3.0", 0 },
        { "~0.2", "0.2.0", 1 },
        { "~0", "0.9.9", 1 },
        { "~0", "1.0.0", 0 },
        { "~0.0.1", "0.0.1", 1 },
        { "~0.0.1", "0.0.2", 1 },
        { "~0.0.1", "0.1.0", 0 },
        { "~0.0.1", "0.1.0-alpha", 0 },
        { "~x", "0.0.9", 1 },
        { "~2", "2.0.9", 1 },
        { "~2.4", "2.4.5", 1 },
        { "~2.4", "2.5.0", 0 },
        { "~2.4", "2.3.9", 0 },
        { "~>3.2.1", "3.2.2", 1 },
        { "~>3.2.1", "3.3.2", 0 },
        { "~>3.2.1", "3.2.0", 0 },
        { "~>1", "1.2.3", 1 },
        { "~> 1", "1.2.3", 1 },
        { "~>1", "2.2.3", 0 },
        { "~1.0", "1.0.2", 1 },
        { "~ 1.0", "1.0.2", 1 },
        { "~ 1.0.3", "1.0.12", 1 },
        { "~1.0", "1.1.0", 0 },
        { "~1.2.3-beta.2", "1.2.3-beta.4", 1 },
        { "~1.2.3-beta.2", "1.2.4-beta.2", 0 },
        { "~1.2.3-beta.2", "1.2.9", 1 },
        { "~v0.5.4-pre", "0.5.5", 1 },
        { "~v0.5.4-pre", "0.5.4", 1 },
        { "~v0.5.4-beta", "0.5.4-alpha", 0 },
        /* caret */
        { "^1.2.3", "1.2.3", 1 },
        { "^1.2.3", "1.8.1", 1 },
        { "^1.2.3", "2.0.0", 0 },
        { "^1.2.3", "1.2.2", 0 },
        { "^1.2.3", "2.0.0-alpha", 0 },
        { "^0.2.3", "0.2.9", 1 },
        { "^0.2.3", "0.3.0", 0 },
        { "^0.0.3", "0.0.3", 1 },
        { "^0.0.3", "0.0.4", 0 },
        { "^0.1.2", "0.1.2", 1 },
        { "^0.1", "0.1.2", 1 },
        { "^0.0.1", "0.0.1", 1 },
        { "^0.0.1", "0.0.2", 0 },
        { "^1.2", "1.4.2", 1 },
        { "^1.2", "1.1.9", 0 },
        { "^1.2 ^1", "1.4.2", 1 },
        { "^1.2.3-beta.2", "1.2.3-beta.4", 1 },
        { "^1.2.3-beta.2", "1.2.4-beta.2", 0 },
        { "^1.2.3-beta.2", "1.9.0", 1 },
        { "^0.0.3-beta", "0.0.3-pr.2", 1 },
        { "^0.0.3-beta", "0.0.4", 0 },
        { "^1.2.3-alpha", "1.2.3-pre", 1 },
        { "^1.2.0-alpha", "1.2.0-pre", 1 },
        { "^0.0.1-alpha", "0.0.1-beta", 1 },
        { "^0.0.1-alpha", "0.0.1", 1 },
        { "^0.1.1-alpha", "0.1.1-beta", 1 },
        { "^1.2.x", "1.9.9", 1 },
        { "^1.2.x", "1.1.0", 0 },
        { "^0.0.x", "0.0.9", 1 },
        { "^0.0.x", "0.1.0", 0 },
        { "^0.0", "0.0.9", 1 },
        { "^0.0", "0.1.0", 0 },
        { "^1.x", "1.9.9", 1 },
        { "^0.x", "0.9.9", 1 },
        { "^0.x", "1.0.0", 0 },
        { "^x", "1.2.3", 1 },
        { "^1.2.3+build", "1.2.3", 1 },
        { "^1.2.3+build", "1.3.0", 1 },
        { "^1.2.3+build", "2.0.0", 0 },
        { "^1.2.3+build", "1.2.0", 0 },
        { "^1.2.x-beta", "1.2.5", 1 },
        /* the prerelease rule */
        { ">1.2.3-alpha.3", "1.2.3-alpha.7", 1 },
        { ">1.2.3-alpha.3", "3.4.5", 1 },
        { ">1.2.3-alpha.3", "3.4.5-alpha.9", 0 },
        { ">=1.2.3 <2", "1.9.0-rc.1", 0 },
        { "^1.2.3", "1.2.3-pre", 0 },
        { "^1.2", "1.2.0-pre", 0 },
        { ">1.2", "1.3.0-beta", 0 },
        { "<=1.2.3", "1.2.3-beta", 0 },
        { "<1.2.3", "1.2.3-beta", 0 },
        { "=1.2.3", "1.2.3-beta", 0 },
        { "=0.7.x", "0.7.0-asdf", 0 },
        { ">=0.7.x", "0.7.0-asdf", 0 },
        { "<=0.7.x", "0.7.0-asdf", 0 },
        { "*", "1.0.0-rc.1", 0 },
        { "", "1.0.0-rc.1", 0 },
        { "1.x", "1.5.0-rc.1", 0 },
        { "1.x ||", "1.0.0-rc.1", 0 },
        { "1.5.0-rc.1", "1.5.0-rc.1", 1 },
        { ">=1.5.0-rc.1", "1.5.0-rc.2", 1 },
        { ">=1.5.0-rc.1", "1.5.0", 1 },
        { ">=1.5.0-rc.1", "1.6.0-rc.1", 0 },
        { "1.0.0-beta || 2.x", "1.0.0-beta", 1 },
        /* npm reduces a range with a * alternative to *, which no prerelease satisfies */
        { "* || 1.0.0-beta", "1.0.0-beta", 0 },
        { "1.0.0-beta || *", "1.0.0-beta", 0 },
        { ">=0.0.0 || 1.0.0-beta", "1.0.0-beta", 0 },
        { "* || 1.0.0-beta", "1.0.0", 1 },
        /* only a >=0.0.0 spelt so (or built from a partial) is *; with a 'v' or build metadata it is a
         * comparator, found by the differential test */
        { ">=v0.0.0 || 1.0.0-beta", "1.0.0-beta", 1 },
        { ">=0.0.0+b || 1.0.0-beta", "1.0.0-beta", 1 },
        { "v0.0.0 - * || 1.0.0-beta", "1.0.0-beta", 1 },
        { "0.0.0 - * || 1.0.0-beta", "1.0.0-beta", 0 },
        { ">=0.0 || 1.0.0-beta", "1.0.0-beta", 0 },
        { ">= v0.0.0 <=0.0.0-rc", "0.0.0-a", 0 },
        { ">=0.0.0+b <=0.0.0-rc", "0.0.0-a", 0 },
        { "v0.0.0 - 0.0.0-rc", "0.0.0-a", 0 },
        { ">=0.0.0 <=0.0.0-rc", "0.0.0-a", 1 },
        { "0.0.0 - 0.0.0-rc", "0.0.0-a", 1 },
        { "^v0.0.0 <=0.0.0-rc", "0.0.0-a", 1 },
        /* build metadata of the version is ignored */
        { "1.2.3", "1.2.3+build.5", 1 },
        { "<1.2.3", "1.2.3+build.5", 0 },
        /* typical engines and upgradeFrom */
        { ">=18", "18.19.0", 1 },
        { ">=18", "16.20.2", 0 },
        { "^18.19.0 || >=20.6.0", "20.11.1", 1 },
        { "^18.19.0 || >=20.6.0", "20.5.0", 0 },
        { "^18.19.0 || >=20.6.0", "18.20.1", 1 },
        { ">=14 <17", "16.2.0", 1 },
        { ">=14 <17", "17.0.0", 0 },
        { ">=1.4.0 <1.5.0", "1.4.9", 1 },
        { ">=1.4.0 <1.5.0", "1.3.9", 0 },
};

START_TEST(test_range) {
        _cleanup_semver_ SemVer v = {};
        int r;

        ck_assert_int_eq(semver_parse(ranges[_i].version, &v), 0);
        r = semver_range_satisfies(ranges[_i].range, &v);
        ck_assert_msg(
                r == ranges[_i].expect,
                "'%s' satisfies '%s': got %d, expected %d",
                ranges[_i].version,
                ranges[_i].range,
                r,
                ranges[_i].expect);
}
END_TEST

static const char *const bad_ranges[] = {
        "latest",
        "1.2.3.4",
        ">=1.2.3 <2 foo",
        "1.2.3 - ",
        "- 1.2.3",
        "1.2.3 - 2.3.4 - 3",
        "1.2.3 - 2.3.4 <3",
        ">= ",
        ">",
        "^",
        "~",
        ">=1.2.3<2",
        "01.2.3",
        "1.02",
        "1.2-beta",
        "1.2.3-",
        "1.2.3-01",
        "1.2.3+",
        "1.2.3 | 2.0.0",
        "|||",
        "1.x || foo",
        "foo || *",
        "1.2.3;rm",
        "=>1.2.3",
        "<<1",
        "1.2.3 -2.0.0",
        "^18446744073709551615.0.0",
        "18446744073709551615.x",
        "~18446744073709551615.18446744073709551615.0",
        "99999999999999999999",
        "1.x.3",
        ">=x.1",
        /* npm takes these (and ignores the 3); a number after a wildcard is refused here everywhere */
        "^1.x.3",
        "1.x.3 - 2",
};

START_TEST(test_range_malformed) {
        _cleanup_semver_ SemVer v = {};

        ck_assert_int_eq(semver_parse("1.2.3", &v), 0);
        ck_assert_msg(
                semver_range_satisfies(bad_ranges[_i], &v) == -EINVAL,
                "'%s' should be malformed",
                bad_ranges[_i]);
}
END_TEST

static Suite *semver_suite(void) {
        Suite *s = suite_create("semver");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_precedence_chain);
        tcase_add_test(tc, test_compare_details);
        tcase_add_loop_test(tc, test_valid, 0, ELEMENTSOF(valid));
        tcase_add_test(tc, test_parse_fields);
        tcase_add_loop_test(tc, test_invalid, 0, ELEMENTSOF(invalid));
        tcase_add_test(tc, test_length_cap);
        tcase_add_test(tc, test_why_invalid);
        tcase_add_test(tc, test_why_invalid_long);
        tcase_add_loop_test(tc, test_range, 0, ELEMENTSOF(ranges));
        tcase_add_loop_test(tc, test_range_malformed, 0, ELEMENTSOF(bad_ranges));
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(semver_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
