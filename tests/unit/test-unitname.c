/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-unitname.c: instance escaping, checked against the real systemd-escape */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "unitname.h"

extern char **environ;

static const char *const strings[] = {
        "1.5.0",
        "1.5.0-rc.1",
        "1.5.0+build.7",
        "1.5.0-rc.1+build.7",
        "2.3.1-alpha-a.b-c",
        "",
        "-",
        "--",
        ".",
        "..",
        ".hidden",
        "a.b.",
        "with space",
        " leading and trailing ",
        "tab\there",
        "new\nline",
        "colon:under_score",
        "back\\slash",
        "\\x2d",
        "percent%i%I",
        "at@sign",
        "quote'\"`$(reboot);|&<>*?[]{}~!#",
        "ünïcödé",
        "版本",
        "emoji \xf0\x9f\x9a\x80",
        "\x01\x1f\x7f\xff",
        "/",
        "/var/lib/codebolt",
        "relative/path/",
        "a//b",
        "/.dotdir",
};

/* systemd-escape -- s, through posix_spawn with an explicit argv; NULL when it cannot run */
static char *systemd_escape(const char *s) {
        _cleanup_free_ char *out = NULL;
        posix_spawn_file_actions_t fa;
        size_t len = 0, size = 0;
        int fds[2], status;
        pid_t pid;
        char *argv[] = { (char *)"systemd-escape", (char *)"--", (char *)s, NULL };

        ck_assert_int_eq(pipe(fds), 0);
        ck_assert_int_eq(posix_spawn_file_actions_init(&fa), 0);
        posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&fa, fds[0]);
        posix_spawn_file_actions_addclose(&fa, fds[1]);
        if (posix_spawnp(&pid, "systemd-escape", &fa, NULL, argv, environ) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                close(fds[0]);
                close(fds[1]);
                return NULL;
        }
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);

        for (;;) {
                ssize_t n;

                if (len + 256 > size) {
                        size = size * 2 + 256;
                        out = realloc(out, size);
                        ck_assert_ptr_nonnull(out);
                }
                n = read(fds[0], out + len, size - len - 1);
                ck_assert(n >= 0);
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        close(fds[0]);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "systemd-escape failed for '%s'", s);

        out[len] = 0;
        /* it ends its output with one newline */
        if (len > 0 && out[len - 1] == '\n')
                out[len - 1] = 0;
        return TAKE_PTR(out);
}

START_TEST(test_escape_matches_systemd_escape) {
        const char *s = strings[_i];
        _cleanup_free_ char *ours = NULL, *theirs = NULL;

        /* the comparison is the test: without systemd-escape it fails, it does not pass unchecked */
        theirs = systemd_escape(s);
        ck_assert_msg(theirs, "systemd-escape cannot be run (tools/deps.sh installs systemd): %m");
        ck_assert_int_eq(unitname_escape(s, &ours), 0);
        ck_assert_msg(streq(ours, theirs), "escape('%s'): ours '%s', systemd-escape '%s'", s, ours, theirs);
}
END_TEST

START_TEST(test_round_trip) {
        const char *s = strings[_i];
        _cleanup_free_ char *e = NULL, *u = NULL, *expect = strdup(s);

        ck_assert_ptr_nonnull(expect);
        ck_assert_int_eq(unitname_escape(s, &e), 0);
        ck_assert_int_eq(unitname_unescape(e, &u), 0);

        /* '/' escapes to '-', and %i's '-' is a plain '-': only a '/' does not come back */
        for (char *c = expect; *c; c++)
                if (*c == '/')
                        *c = '-';
        ck_assert_msg(streq(u, expect), "unescape(escape('%s')) = '%s'", s, u);
        if (!strchr(s, '/'))
                ck_assert_str_eq(u, s);
}
END_TEST

START_TEST(test_unescape) {
        static const struct {
                const char *in, *out;
        } v[] = {
                { "1.5.0", "1.5.0" },
                { "1.5.0-rc.1", "1.5.0-rc.1" },
                { "1.5.0\\x2drc.1", "1.5.0-rc.1" },
                { "1.5.0\\x2Drc.1", "1.5.0-rc.1" },
                { "1.5.0\\x2brc", "1.5.0+rc" },
                { "\\x2e\\x2e", ".." },
                { "a-b", "a-b" }, /* never '/', unlike %I */
                { "\\xc3\\xbc", "ü" },
                { "", "" },
                { "\\x5c", "\\" },
                { "\\x5cx2d", "\\x2d" }, /* decoded once, not twice */
        };

        for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                _cleanup_free_ char *u = NULL;

                ck_assert_int_eq(unitname_unescape(v[i].in, &u), 0);
                ck_assert_str_eq(u, v[i].out);
        }
}
END_TEST

START_TEST(test_unescape_malformed) {
        static const char *const bad[] = {
                "\\x4",  "1.5.0\\x4", "\\xZZ", "\\x",   "\\",    "1.5.0\\",
                "\\y41", "\\\\",      "\\X41", "\\x00", "\\x4g",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *u = (char *)"untouched";

                ck_assert_msg(unitname_unescape(bad[i], &u) == -EINVAL, "'%s' should be malformed", bad[i]);
                ck_assert_str_eq(u, "untouched");
        }
        ck_assert_int_eq(unitname_unescape(NULL, &(char *){ NULL }), -EINVAL);
        ck_assert_int_eq(unitname_escape(NULL, &(char *){ NULL }), -EINVAL);
}
END_TEST

START_TEST(test_same_version) {
        _cleanup_free_ char *a = NULL, *b = NULL, *e = NULL;

        /* what an operator types and what systemd-escape makes of it are one version */
        ck_assert_int_eq(unitname_unescape("1.5.0-rc.1", &a), 0);
        ck_assert_int_eq(unitname_unescape("1.5.0\\x2drc.1", &b), 0);
        ck_assert_str_eq(a, b);

        ck_assert_int_eq(unitname_escape("1.5.0-rc.1", &e), 0);
        ck_assert_str_eq(e, "1.5.0\\x2drc.1");
}
END_TEST

START_TEST(test_deployment_name) {
        static const struct {
                const char *base, *deployment, *instance, *suffix, *want;
        } cases[] = {
                { "codebolt-upgrade-watch", NULL, "1.5.0", ".timer", "codebolt-upgrade-watch@1.5.0.timer" },
                { "codebolt-upgrade-watch",
                  "eu",
                  "1.5.0",
                  ".service",
                  "codebolt-upgrade-watch-eu@1.5.0.service" },
                { "codebolt-upgrade-auto", "default", NULL, ".timer", "codebolt-upgrade-auto.timer" },
                { "codebolt-upgrade-auto", "eu", NULL, ".service", "codebolt-upgrade-auto-eu.service" },
                { "codebolt-rollback", "eu", NULL, "@.service", "codebolt-rollback-eu@.service" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *unit = NULL;
                ck_assert_int_eq(
                        unitname_deployment_name(
                                cases[i].base,
                                cases[i].deployment,
                                cases[i].instance,
                                cases[i].suffix,
                                &unit),
                        0);
                ck_assert_str_eq(unit, cases[i].want);
        }
}
END_TEST

START_TEST(test_deployment_unit) {
        static const struct {
                const char *kind, *deployment, *instance, *want;
        } cases[] = {
                { "upgrade", NULL, "1.5.0", "codebolt-upgrade@1.5.0.service" },
                { "rollback", "default", "1.5.0", "codebolt-rollback@1.5.0.service" },
                { "upgrade", "staging", "1.5.0-rc.1", "codebolt-upgrade-staging@1.5.0-rc.1.service" },
                { "rollback", "two", "1.5.0\\x2b7", "codebolt-rollback-two@1.5.0\\x2b7.service" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *unit = NULL;
                ck_assert_int_eq(
                        unitname_deployment_unit(
                                cases[i].kind, cases[i].deployment, cases[i].instance, &unit),
                        0);
                ck_assert_str_eq(unit, cases[i].want);
        }
}
END_TEST

START_TEST(test_instance_for_version) {
        _cleanup_free_ char *a = NULL, *b = NULL, *back = NULL;

        ck_assert_int_eq(unitname_instance_for_version("1.5.0-rc.1", &a), 0);
        ck_assert_str_eq(a, "1.5.0-rc.1"); /* as typed: '-' needs no escape in an instance */
        ck_assert_int_eq(unitname_instance_for_version("1.5.0+build.7", &b), 0);
        ck_assert_ptr_null(strchr(b, '+'));
        ck_assert_int_eq(unitname_unescape(b, &back), 0);
        ck_assert_str_eq(back, "1.5.0+build.7");
}
END_TEST

static Suite *unitname_suite(void) {
        Suite *s = suite_create("unitname");
        TCase *tc = tcase_create("core");

        tcase_add_loop_test(tc, test_escape_matches_systemd_escape, 0, ELEMENTSOF(strings));
        tcase_add_loop_test(tc, test_round_trip, 0, ELEMENTSOF(strings));
        tcase_add_test(tc, test_unescape);
        tcase_add_test(tc, test_unescape_malformed);
        tcase_add_test(tc, test_same_version);
        tcase_add_test(tc, test_deployment_name);
        tcase_add_test(tc, test_deployment_unit);
        tcase_add_test(tc, test_instance_for_version);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(unitname_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
