/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-inhibitor.c: inhibitor module: the holder is ended by its name, another process is left alone */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "inhibitor.h"
#include "macro.h"

/* a child named name that waits for a signal; returns once the name is set */
static pid_t fork_named(const char *name) {
        int p[2];
        char c;
        pid_t pid;

        ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* as the holder: Check's SIGTERM handler would pass the signal on to the whole group */
                (void)signal(SIGTERM, SIG_DFL);
                (void)prctl(PR_SET_NAME, name);
                if (write(p[1], "x", 1) != 1)
                        _exit(EXIT_FAILURE);
                for (;;)
                        pause();
        }
        close(p[1]);
        ck_assert_int_eq(read(p[0], &c, 1), 1);
        close(p[0]);
        return pid;
}

START_TEST(test_release_holder) {
        pid_t pid = fork_named(INHIBITOR_NAME);
        int status;

        ck_assert_int_eq(inhibitor_release(pid), 1);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status));
        ck_assert_int_eq(WTERMSIG(status), SIGTERM);

        /* gone: nothing to end */
        ck_assert_int_eq(inhibitor_release(pid), 0);
}
END_TEST

START_TEST(test_other_process_left_alone) {
        pid_t pid = fork_named("cbu-other");
        int status;

        ck_assert_int_eq(inhibitor_release(pid), 0);
        /* still alive a while later */
        usleep(100 * 1000);
        ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status));
        ck_assert_int_eq(WTERMSIG(status), SIGKILL);

        /* ourselves neither */
        ck_assert_int_eq(inhibitor_release(getpid()), 0);
}
END_TEST

static Suite *inhibitor_suite(void) {
        Suite *s = suite_create("inhibitor");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_release_holder);
        tcase_add_test(tc, test_other_process_left_alone);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(inhibitor_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
