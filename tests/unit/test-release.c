/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-release.c: release module: what /opt/codebolt/current points at, and the switch */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test-root.h"
#include "json-util.h"
#include "paths.h"
#include "release.h"

/* an empty /opt/codebolt/releases (a checked fixture: it runs in each test's process) */
static void fresh_opt(void) {
        _cleanup_free_ char *opt = paths_rooted("/opt"), *releases = paths_rooted("/opt/codebolt/releases");

        ck_assert_ptr_nonnull(opt);
        rm_rf(opt);
        ck_assert_int_eq(paths_mkdir_p(releases, 0755), 0);
}

static void install(const char *version) {
        _cleanup_free_ char *dir = paths_release_dir(version);

        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
}

static void link_current(const char *target) {
        _cleanup_free_ char *link = paths_current_link();

        ck_assert_int_eq(symlink(target, link), 0);
}

/* the link's target, as stored */
static char *current_target(void) {
        _cleanup_free_ char *link = paths_current_link();
        char buf[4096];
        ssize_t n = readlink(link, buf, sizeof(buf) - 1);

        ck_assert_int_gt(n, 0);
        buf[n] = 0;
        return strdup(buf);
}

static char *current_version(void) {
        char *v = NULL;

        ck_assert_int_eq(release_current_version(&v), 0);
        ck_assert_ptr_nonnull(v);
        return v;
}

static bool current_new_exists(void) {
        _cleanup_free_ char *tmp = paths_rooted("/opt/codebolt/current.new");
        struct stat st;

        return lstat(tmp, &st) == 0;
}

START_TEST(test_current_version_targets) {
        _cleanup_free_ char *link = paths_current_link(), *absolute = paths_release_dir("1.4.2"),
                            *last = NULL;
        static const struct {
                const char *target, *version;
        } cases[] = {
                { "releases/1.5.0", "1.5.0" },
                { "releases/1.5.0/", "1.5.0" },
                { "releases/1.5.0-rc.1//", "1.5.0-rc.1" },
                { "./releases/2.0.0", "2.0.0" },
                { "1.6.0", "1.6.0" },
                { "/opt/codebolt/releases/1.7.0", "1.7.0" },
        };

        /* the target need not exist: the link is read, not followed */
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *v = NULL;

                link_current(cases[i].target);
                v = current_version();
                ck_assert_msg(streq(v, cases[i].version), "%s: \"%s\"", cases[i].target, v);
                ck_assert_int_eq(unlink(link), 0);
        }

        /* absolute, under the root, to a release that is there */
        install("1.4.2");
        link_current(absolute);
        last = current_version();
        ck_assert_str_eq(last, "1.4.2");
}
END_TEST

START_TEST(test_current_version_missing) {
        char *v = (char *)0x1;

        ck_assert_int_eq(release_current_version(&v), -ENOENT);
        ck_assert_ptr_eq(v, (char *)0x1); /* untouched on failure */
}
END_TEST

START_TEST(test_current_version_not_a_link) {
        _cleanup_free_ char *link = paths_current_link();
        char *v = (char *)0x1;
        int fd;

        /* a directory: somebody unpacked a release over the link */
        ck_assert_int_eq(mkdir(link, 0755), 0);
        ck_assert_int_eq(release_current_version(&v), -ENOLINK);
        ck_assert_int_eq(rmdir(link), 0);

        fd = open(link, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_eq(release_current_version(&v), -ENOLINK);
        ck_assert_ptr_eq(v, (char *)0x1);
}
END_TEST

START_TEST(test_switch) {
        _cleanup_free_ char *link = paths_current_link(), *dir = paths_release_dir("1.5.0"), *target = NULL,
                            *v = NULL, *real_link = NULL, *real_dir = NULL;

        install("1.4.2");
        install("1.5.0");

        /* the first install: no link yet */
        ck_assert_int_eq(release_switch("1.4.2"), 0);
        free(v);
        v = current_version();
        ck_assert_str_eq(v, "1.4.2");

        ck_assert_int_eq(release_switch("1.5.0"), 0);
        target = current_target();
        ck_assert_str_eq(target, "releases/1.5.0"); /* relative: survives moving the root */
        free(v);
        v = current_version();
        ck_assert_str_eq(v, "1.5.0");

        real_link = realpath(link, NULL);
        real_dir = realpath(dir, NULL);
        ck_assert_ptr_nonnull(real_link);
        ck_assert_ptr_nonnull(real_dir);
        ck_assert_str_eq(real_link, real_dir);
        ck_assert(!current_new_exists());

        /* and back; switching to where it already points is fine */
        ck_assert_int_eq(release_switch("1.4.2"), 0);
        ck_assert_int_eq(release_switch("1.4.2"), 0);
        free(v);
        v = current_version();
        ck_assert_str_eq(v, "1.4.2");
        ck_assert(!current_new_exists());
}
END_TEST

START_TEST(test_switch_not_installed) {
        _cleanup_free_ char *target = NULL, *file = paths_release_dir("1.6.0");
        int fd;

        install("1.4.2");
        ck_assert_int_eq(release_switch("1.4.2"), 0);

        ck_assert_int_eq(release_switch("1.5.0"), -ENOENT);
        target = current_target();
        ck_assert_str_eq(target, "releases/1.4.2"); /* the old link stays */
        ck_assert(!current_new_exists());

        /* a file where a release should be is no release either */
        fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        close(fd);
        ck_assert_int_lt(release_switch("1.6.0"), 0);
        free(target);
        target = current_target();
        ck_assert_str_eq(target, "releases/1.4.2");
        ck_assert(!current_new_exists());
}
END_TEST

START_TEST(test_switch_stale_new) {
        _cleanup_free_ char *tmp = paths_rooted("/opt/codebolt/current.new"), *v = NULL;

        /* left by a switch that crashed between symlink() and rename() */
        install("1.4.2");
        install("1.5.0");
        link_current("releases/1.4.2");
        ck_assert_int_eq(symlink("releases/1.4.2", tmp), 0);

        ck_assert_int_eq(release_switch("1.5.0"), 0);
        v = current_version();
        ck_assert_str_eq(v, "1.5.0");
        ck_assert(!current_new_exists());
}
END_TEST

/* ---- a reader never finds the link missing ---- */

static volatile sig_atomic_t switcher_stop = 0;

static void on_term(int sig) {
        switcher_stop = 1;
}

START_TEST(test_switch_atomic) {
        unsigned seen_a = 0, seen_b = 0;
        int status;
        pid_t pid;

        install("1.4.2");
        install("1.5.0");
        ck_assert_int_eq(release_switch("1.4.2"), 0);

        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                struct sigaction sa = { .sa_handler = on_term };
                sigaction(SIGTERM, &sa, NULL);
                for (unsigned i = 0; !switcher_stop; i++)
                        if (release_switch(i % 2 ? "1.4.2" : "1.5.0") < 0)
                                _exit(1);
                _exit(0);
        }

        for (int i = 0; i < 20000 && (seen_a < 50 || seen_b < 50); i++) {
                _cleanup_free_ char *v = current_version();

                if (streq(v, "1.4.2"))
                        seen_a++;
                else {
                        ck_assert_str_eq(v, "1.5.0");
                        seen_b++;
                }
        }

        kill(pid, SIGTERM);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        /* the switcher really was switching while we read */
        ck_assert_uint_gt(seen_a, 0);
        ck_assert_uint_gt(seen_b, 0);
}
END_TEST

static void write_package_json(const char *release_dir, const char *package, const char *content) {
        _cleanup_free_ char *dir = NULL, *path = NULL;
        int fd;

        ck_assert_int_ge(asprintf(&dir, "%s/lib/node_modules/%s", release_dir, package), 0);
        ck_assert_int_ge(asprintf(&path, "%s/package.json", dir), 0);
        ck_assert_int_eq(paths_mkdir_p(dir, 0755), 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        close(fd);
}

START_TEST(test_package_json) {
        _cleanup_free_ char *dir = paths_release_dir("1.5.0");
        _cleanup_json_ cJSON *j = NULL, *plain = NULL;
        cJSON *untouched = (cJSON *)0x1;

        install("1.5.0");
        write_package_json(
                dir, "@codebolt/server", "{\"name\": \"@codebolt/server\", \"version\": \"1.5.0\"}");
        write_package_json(dir, "pg", "{\"name\": \"pg\", \"version\": \"8.11.3\"}");

        ck_assert_int_eq(release_package_json(dir, "@codebolt/server", &j), 0);
        ck_assert_str_eq(json_get_string(j, "name"), "@codebolt/server");
        ck_assert_str_eq(json_get_string(j, "version"), "1.5.0");
        ck_assert_int_eq(release_package_json(dir, "pg", &plain), 0);
        ck_assert_str_eq(json_get_string(plain, "version"), "8.11.3");

        ck_assert_int_eq(release_package_json(dir, "@codebolt/cli", &untouched), -ENOENT);
        write_package_json(dir, "@codebolt/broken", "{\"name\": ");
        ck_assert_int_eq(release_package_json(dir, "@codebolt/broken", &untouched), -EBADMSG);
        ck_assert_ptr_eq(untouched, (cJSON *)0x1);
}
END_TEST

static Suite *release_suite(void) {
        Suite *s = suite_create("release");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, fresh_opt, NULL);
        tcase_add_test(tc, test_current_version_targets);
        tcase_add_test(tc, test_current_version_missing);
        tcase_add_test(tc, test_current_version_not_a_link);
        tcase_add_test(tc, test_switch);
        tcase_add_test(tc, test_switch_not_installed);
        tcase_add_test(tc, test_switch_stale_new);
        tcase_add_test(tc, test_switch_atomic);
        tcase_add_test(tc, test_package_json);
        tcase_set_timeout(tc, 90);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(release_suite(), "test-release");
}
