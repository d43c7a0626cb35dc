/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-paths.c: paths module: the root, every path under it, mkdir -p */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test-root.h"
#include "macro.h"
#include "paths.h"

static char *path_in(const char *dir, const char *name) {
        char *p;

        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

static unsigned mode_of(const char *path) {
        struct stat st;

        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        return st.st_mode & 07777;
}

/* fn's string in a child whose environment has $CODEBOLT_UPGRADE_ROOT = value (unset for NULL):
 * paths_root() caches the root of the process that first asks */
static char *in_child(const char *value, char *(*fn)(void)) {
        char buf[4096];
        ssize_t n, total = 0;
        int p[2], status;
        pid_t pid;

        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char *s;

                close(p[0]);
                if (value)
                        setenv("CODEBOLT_UPGRADE_ROOT", value, 1);
                else
                        unsetenv("CODEBOLT_UPGRADE_ROOT");
                s = fn();
                if (!s || write(p[1], s, strlen(s)) != (ssize_t)strlen(s))
                        _exit(1);
                _exit(0);
        }
        close(p[1]);
        while ((n = read(p[0], buf + total, sizeof(buf) - 1 - total)) > 0)
                total += n;
        close(p[0]);
        buf[total] = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return strdup(buf);
}

static char *root_copy(void) {
        return strdup(paths_root());
}

static char *state_dir_copy(void) {
        return paths_state_dir("staging");
}

/* asks, changes the environment, asks again */
static char *root_twice(void) {
        _cleanup_free_ char *first = strdup(paths_root());
        char *s;

        if (!first)
                return NULL;
        setenv("CODEBOLT_UPGRADE_ROOT", "/elsewhere", 1);
        return asprintf(&s, "%s|%s", first, paths_root()) < 0 ? NULL : s;
}

START_TEST(test_root) {
        static const struct {
                const char *value, *root;
        } cases[] = {
                { NULL, "" },
                { "", "" },
                { "/", "" },
                { "/srv/sandbox", "/srv/sandbox" },
                { "/srv/sandbox/", "/srv/sandbox" },
                { "/srv/sandbox///", "/srv/sandbox" },
                { "relative/dir/", "relative/dir" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *r = in_child(cases[i].value, root_copy);
                ck_assert_msg(
                        streq(r, cases[i].root),
                        "root for \"%s\": \"%s\", expected \"%s\"",
                        strempty(cases[i].value),
                        r,
                        cases[i].root);
        }
}
END_TEST

START_TEST(test_root_cached) {
        _cleanup_free_ char *r = in_child("/first/", root_twice);

        /* the second answer is still the first root */
        ck_assert_str_eq(r, "/first|/first");
}
END_TEST

START_TEST(test_unrooted) {
        _cleanup_free_ char *unset = in_child(NULL, state_dir_copy), *slash = in_child("/", state_dir_copy),
                            *trailing = in_child("/srv/sandbox/", state_dir_copy);

        ck_assert_str_eq(unset, "/var/lib/codebolt-upgrade/staging");
        ck_assert_str_eq(slash, "/var/lib/codebolt-upgrade/staging");
        ck_assert_str_eq(trailing, "/srv/sandbox/var/lib/codebolt-upgrade/staging");
}
END_TEST

static void assert_rooted(char *got, const char *path) {
        _cleanup_free_ char *expected = NULL, *owned = got;

        ck_assert_ptr_nonnull(got);
        ck_assert_int_ge(asprintf(&expected, "%s%s", root, path), 0);
        ck_assert_str_eq(got, expected);
}

START_TEST(test_each_path) {
        ck_assert_str_eq(paths_root(), root);

        assert_rooted(
                paths_rooted("/etc/codebolt-upgrade/upgrade.conf"), "/etc/codebolt-upgrade/upgrade.conf");
        assert_rooted(paths_state_dir("staging"), "/var/lib/codebolt-upgrade/staging");
        assert_rooted(
                paths_state_file("staging", "ledger.json"), "/var/lib/codebolt-upgrade/staging/ledger.json");
        assert_rooted(paths_lock_file("staging"), "/run/codebolt-upgrade/staging.lock");
        assert_rooted(paths_discard_flag("staging"), "/run/codebolt-upgrade/staging.discard-since");
        assert_rooted(paths_starting_file("staging"), "/run/codebolt-upgrade/staging.starting");
        assert_rooted(paths_release_dir("1.5.0-rc.1"), "/opt/codebolt/releases/1.5.0-rc.1");
        assert_rooted(paths_current_link(), "/opt/codebolt/current");

        /* a second deployment on the host has its own install root; NULL restores the default */
        ck_assert_int_eq(paths_set_install_root("/opt/codebolt-beta"), 0);
        ck_assert_str_eq(paths_install_root(), "/opt/codebolt-beta");
        assert_rooted(paths_releases_dir(), "/opt/codebolt-beta/releases");
        assert_rooted(paths_release_dir("1.5.0"), "/opt/codebolt-beta/releases/1.5.0");
        assert_rooted(paths_current_link(), "/opt/codebolt-beta/current");
        assert_rooted(
                paths_install_file("/current/bin/codebolt"), "/opt/codebolt-beta/current/bin/codebolt");
        ck_assert_int_eq(paths_set_install_root(NULL), 0);
        ck_assert_str_eq(paths_install_root(), "/opt/codebolt");
        assert_rooted(paths_current_link(), "/opt/codebolt/current");
        assert_rooted(paths_credential("db-password"), "/etc/codebolt-upgrade/credentials/db-password");
        assert_rooted(paths_hook_dir("pre-upgrade"), "/etc/codebolt-upgrade/hooks/pre-upgrade.d");
        assert_rooted(paths_vendor_hook_dir("smoke"), "/usr/lib/codebolt-upgrade/hooks/smoke.d");
}
END_TEST

START_TEST(test_mkdir_p_nested) {
        _cleanup_free_ char *base = path_in(root, "nested"), *a = path_in(base, "a"), *b = path_in(a, "b"),
                            *c = path_in(b, "c");

        umask(022);
        ck_assert_int_eq(mkdir(base, 0755), 0);

        ck_assert_int_eq(paths_mkdir_p(c, 0700), 0);
        ck_assert_uint_eq(mode_of(base), 0755); /* an existing component keeps its mode */
        ck_assert_uint_eq(mode_of(a), 0700);    /* every new one has the mode asked for */
        ck_assert_uint_eq(mode_of(b), 0700);
        ck_assert_uint_eq(mode_of(c), 0700);

        /* again: nothing to do, nothing changed */
        ck_assert_int_eq(paths_mkdir_p(c, 0755), 0);
        ck_assert_uint_eq(mode_of(c), 0700);
        ck_assert_int_eq(paths_mkdir_p(base, 0700), 0);
        ck_assert_uint_eq(mode_of(base), 0755);

        rm_rf(base);
}
END_TEST

/* the state directory is made (0700) for a file about to be written there */
START_TEST(test_state_file_mkdir) {
        _cleanup_free_ char *dir = path_in(root, "var/lib/codebolt-upgrade/mkdir-test"),
                            *want = path_in(dir, "ledger.json"), *got = NULL, *again = NULL;

        umask(022);
        ck_assert_int_eq(paths_state_file_mkdir("mkdir-test", "ledger.json", &got), 0);
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(mode_of(dir), 0700);
        /* again: it exists */
        ck_assert_int_eq(paths_state_file_mkdir("mkdir-test", "ledger.json", &again), 0);
        ck_assert_str_eq(again, want);

        rm_rf(dir);
}
END_TEST

START_TEST(test_mkdir_p_shapes) {
        _cleanup_free_ char *base = path_in(root, "shapes"), *trailing = path_in(base, "x/y/"),
                            *doubled = path_in(base, "p//q"), *y = path_in(base, "x/y"),
                            *q = path_in(base, "p/q");

        umask(022);
        ck_assert_int_eq(paths_mkdir_p(trailing, 0755), 0);
        ck_assert_uint_eq(mode_of(y), 0755);
        ck_assert_int_eq(paths_mkdir_p(doubled, 0750), 0);
        ck_assert_uint_eq(mode_of(q), 0750);

        rm_rf(base);
}
END_TEST

/* the units run with UMask=0077: a directory others must enter (the releases the server's user runs,
 * the ledger's public export) still gets the mode asked for */
START_TEST(test_mkdir_p_umask) {
        _cleanup_free_ char *base = path_in(root, "umask"), *pub = path_in(base, "a/public");
        mode_t old = umask(077);

        ck_assert_int_eq(paths_mkdir_p(pub, 0755), 0);
        umask(old);
        ck_assert_uint_eq(mode_of(base), 0755);
        ck_assert_uint_eq(mode_of(pub), 0755);

        rm_rf(base);
}
END_TEST

START_TEST(test_mkdir_p_errors) {
        _cleanup_free_ char *base = path_in(root, "errors"), *file = path_in(base, "file"),
                            *below = path_in(file, "sub/dir");
        int fd;

        ck_assert_int_eq(paths_mkdir_p(base, 0700), 0);
        fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        close(fd);

        /* a file in the way is not a directory, wherever it is */
        ck_assert_int_eq(paths_mkdir_p(below, 0700), -ENOTDIR);
        ck_assert_int_eq(paths_mkdir_p(file, 0700), -ENOTDIR);

        rm_rf(base);
}
END_TEST

static Suite *paths_suite(void) {
        Suite *s = suite_create("paths");
        TCase *tc = tcase_create("core");

        /* first: they must not find the root cached by an earlier test (with CK_FORK=no) */
        tcase_add_test(tc, test_root);
        tcase_add_test(tc, test_root_cached);
        tcase_add_test(tc, test_unrooted);
        tcase_add_test(tc, test_each_path);
        tcase_add_test(tc, test_mkdir_p_nested);
        tcase_add_test(tc, test_mkdir_p_shapes);
        tcase_add_test(tc, test_state_file_mkdir);
        tcase_add_test(tc, test_mkdir_p_umask);
        tcase_add_test(tc, test_mkdir_p_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return run_suite_in_root(paths_suite(), "test-paths");
}
