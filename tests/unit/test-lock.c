/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-lock.c: lock module: exclusive between processes, released by close */
#define _GNU_SOURCE
#include <check.h>
#include <ftw.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test-util.h"
#include "lock.h"
#include "macro.h"

static char *make_tmpdir(void) {
        char *d = strdup("/tmp/test-lock.XXXXXX");

        ck_assert_ptr_nonnull(d);
        ck_assert_ptr_nonnull(mkdtemp(d));
        return d;
}

/* in a child process: lock_acquire()'s result as the exit code (0, or -r) */
static int try_in_child(const char *path, bool wait) {
        int status, fd = -1;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int r = lock_acquire(path, wait, &fd);
                _exit(r < 0 ? -r : 0);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        return -WEXITSTATUS(status);
}

START_TEST(test_exclusive) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        ck_assert_int_ge(asprintf(&path, "%s/run/codebolt-upgrade/default.lock", dir), 0);
        umask(022);

        /* parent directories and the file are created */
        ck_assert_int_eq(lock_acquire(path, false, &fd), 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);

        ck_assert_int_eq(try_in_child(path, false), -EBUSY);

        closep(&fd);
        fd = -EBADF;
        ck_assert_int_eq(try_in_child(path, false), 0);

        /* and again: the child's lock ended with the child */
        ck_assert_int_eq(lock_acquire(path, false, &fd), 0);
}
END_TEST

/* the process PID waits in flock() (a "->" line of /proc/locks names the blocked waiter) */
static bool blocked_in_flock(pid_t pid) {
        _cleanup_fclose_ FILE *f = fopen("/proc/locks", "re");
        _cleanup_free_ char *line = NULL;
        size_t n = 0;

        ck_assert_ptr_nonnull(f);
        while (getline(&line, &n, f) > 0) {
                int id, p;
                char type[16];

                if (sscanf(line, "%d: -> %15s ADVISORY WRITE %d", &id, type, &p) == 3 &&
                    streq(type, "FLOCK") && p == pid)
                        return true;
        }
        return false;
}

START_TEST(test_wait) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = NULL;
        int fd = -1, status, events[2];
        char order[3] = {};
        pid_t pid;

        ck_assert_int_ge(asprintf(&path, "%s/x.lock", dir), 0);
        ck_assert_int_eq(lock_acquire(path, false, &fd), 0);

        /* what happens, in order: 'R' when we release, 'A' when the waiter has the lock */
        ck_assert_int_eq(pipe2(events, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int cfd = -1;

                close(fd); /* the inherited descriptor would keep our lock alive */
                if (lock_acquire(path, true, &cfd) < 0)
                        _exit(EXIT_FAILURE);
                _exit(write(events[1], "A", 1) == 1 ? EXIT_SUCCESS : EXIT_FAILURE);
        }

        /* the waiter is blocked on our lock before we let go (a bounded wait for it to get there) */
        for (int i = 0; i < 10000 && !blocked_in_flock(pid); i++) {
                ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
                usleep(1000);
        }
        ck_assert_msg(blocked_in_flock(pid), "the waiter never blocked on the lock");
        ck_assert_int_eq(write(events[1], "R", 1), 1);
        close(fd);

        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(events[1]);
        ck_assert_int_eq(read(events[0], order, 2), 2);
        close(events[0]);
        ck_assert_str_eq(order, "RA");
}
END_TEST

START_TEST(test_deployment_rooted) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;

        setenv("CODEBOLT_UPGRADE_ROOT", dir, 1);
        ck_assert_int_eq(lock_acquire_deployment("staging", false, &fd), 0);
        ck_assert_int_ge(asprintf(&path, "%s/run/codebolt-upgrade/staging.lock", dir), 0);
        ck_assert_int_eq(access(path, F_OK), 0);
        ck_assert_int_eq(try_in_child(path, false), -EBUSY);
}
END_TEST

START_TEST(test_errors) {
        _cleanup_rm_rf_ char *dir = make_tmpdir();
        _cleanup_free_ char *file = NULL, *path = NULL;
        int fd = 4242;

        /* a parent that is a file */
        ck_assert_int_ge(asprintf(&file, "%s/file", dir), 0);
        ck_assert_int_ge(asprintf(&path, "%s/file/x.lock", dir), 0);
        close(open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        ck_assert_int_lt(lock_acquire(path, false, &fd), 0);
        ck_assert_int_eq(fd, 4242); /* untouched on failure */
}
END_TEST

static Suite *lock_suite(void) {
        Suite *s = suite_create("lock");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_exclusive);
        tcase_add_test(tc, test_wait);
        tcase_add_test(tc, test_deployment_rooted);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(lock_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
