/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-log.c: log module: %m, return values, stderr output, target choice, STATUS= */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "log.h"
#include "test-util.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static int write_one(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -EIO;
}

static void setup_stderr(void) {
        setenv("CODEBOLT_UPGRADE_LOG", "stderr", 1);
        unsetenv("CODEBOLT_UPGRADE_LOG_LEVEL");
        unsetenv("NOTIFY_SOCKET");
        log_setup("tid", "preflight");
}

START_TEST(test_errno_format_and_return) {
        _cleanup_free_ char *out = NULL;
        int r;

        setup_stderr();
        test_capture_begin();
        errno = EAGAIN;
        r = log_error_errno(-ENOENT, "Failed to open %s: %m", "current.json");
        ck_assert_int_eq(errno, EAGAIN); /* left alone */
        ck_assert_int_eq(r, -ENOENT);
        /* a positive error is the same error */
        ck_assert_int_eq(log_warning_errno(EACCES, "Cannot read: %m"), -EACCES);
        ck_assert_int_eq(log_info("plain %d", 42), 0);
        ck_assert_int_eq(log_error("refusing %s", "latest"), 0);
        out = test_capture_end();

        ck_assert_str_eq(
                out,
                "tid: Failed to open current.json: No such file or directory\n"
                "tid: Cannot read: Permission denied\n"
                "tid: plain 42\n"
                "tid: refusing latest\n");
}
END_TEST

START_TEST(test_return_pattern) {
        /* the idiom the helpers use */
        int r = -EBUSY;

        setup_stderr();
        test_capture_begin();
        r = log_error_errno(r, "Failed to take the lock: %m");
        free(test_capture_end());
        ck_assert_int_eq(r, -EBUSY);
}
END_TEST

START_TEST(test_max_level) {
        _cleanup_free_ char *out = NULL, *out2 = NULL;

        setup_stderr();
        ck_assert_int_eq(log_get_max_level(), LOG_INFO);
        test_capture_begin();
        ck_assert_int_eq(log_debug("hidden"), 0);
        ck_assert_int_eq(log_debug_errno(-EIO, "hidden too: %m"), -EIO); /* dropped, still returns */
        log_set_max_level(LOG_DEBUG);
        log_debug("shown");
        out = test_capture_end();
        ck_assert_str_eq(out, "tid: shown\n");

        setenv("CODEBOLT_UPGRADE_LOG_LEVEL", "warning", 1);
        log_setup("tid", NULL);
        ck_assert_int_eq(log_get_max_level(), LOG_WARNING);
        test_capture_begin();
        log_notice("hidden");
        log_warning("shown");
        out2 = test_capture_end();
        ck_assert_str_eq(out2, "tid: shown\n");
}
END_TEST

START_TEST(test_long_message) {
        _cleanup_free_ char *big = NULL, *out = NULL, *expected = NULL;

        /* no fixed-size buffer anywhere */
        big = malloc(20001);
        ck_assert_ptr_nonnull(big);
        memset(big, 'x', 20000);
        big[20000] = 0;

        setup_stderr();
        test_capture_begin();
        log_info("%s", big);
        out = test_capture_end();
        ck_assert_int_ge(asprintf(&expected, "tid: %s\n", big), 0);
        ck_assert_str_eq(out, expected);
}
END_TEST

START_TEST(test_default_identifier) {
        _cleanup_free_ char *out = NULL, *expected = NULL;

        setenv("CODEBOLT_UPGRADE_LOG", "stderr", 1);
        log_setup(NULL, NULL);
        test_capture_begin();
        log_info("hello");
        out = test_capture_end();
        ck_assert_int_ge(asprintf(&expected, "%s: hello\n", program_invocation_short_name), 0);
        ck_assert_str_eq(out, expected);
}
END_TEST

START_TEST(test_forward) {
        _cleanup_free_ char *out = NULL;

        setup_stderr();
        test_capture_begin();
        ck_assert_int_eq(log_forward(LOG_WARNING, "npm", NULL, "npm warn deprecated"), 0);
        out = test_capture_end();
        ck_assert_str_eq(out, "npm: npm warn deprecated\n");
}
END_TEST

START_TEST(test_target_choice) {
        struct stat st;
        char *js = NULL;
        int p[2], saved;

        setenv("CODEBOLT_UPGRADE_LOG", "journal", 1);
        log_setup("tid", NULL);
        ck_assert_int_eq(log_get_target(), LOG_TARGET_JOURNAL);

        setenv("CODEBOLT_UPGRADE_LOG", "stderr", 1);
        log_setup("tid", NULL);
        ck_assert_int_eq(log_get_target(), LOG_TARGET_STDERR);

        log_set_target(LOG_TARGET_JOURNAL);
        ck_assert_int_eq(log_get_target(), LOG_TARGET_JOURNAL);

        /* stderr is the stream $JOURNAL_STREAM names: the journal */
        unsetenv("CODEBOLT_UPGRADE_LOG");
        ck_assert_int_eq(pipe(p), 0);
        saved = dup(STDERR_FILENO);
        ck_assert_int_ge(saved, 0);
        ck_assert_int_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
        ck_assert_int_eq(fstat(STDERR_FILENO, &st), 0);
        ck_assert_int_ge(
                asprintf(&js, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino), 0);
        setenv("JOURNAL_STREAM", js, 1);
        free(js);
        log_setup("tid", NULL);
        ck_assert_int_eq(log_get_target(), LOG_TARGET_JOURNAL);

        /* a $JOURNAL_STREAM inherited by a process whose stderr went elsewhere does not count */
        setenv("JOURNAL_STREAM", "1:1", 1);
        log_setup("tid", NULL);
        if (access(JOURNAL_SOCKET, F_OK) < 0)
                ck_assert_int_eq(log_get_target(), LOG_TARGET_STDERR);
        unsetenv("JOURNAL_STREAM");

        ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        close(p[0]);
        close(p[1]);
}
END_TEST

/* in a mount namespace of its own, /run/systemd/journal under an empty tmpfs: the journal's socket is
 * gone for this process only (a user namespace too when not root) */
static int hide_journal_socket(void) {
        uid_t uid = getuid();
        gid_t gid = getgid();

        if (unshare(CLONE_NEWNS) < 0) {
                _cleanup_free_ char *map = NULL;

                if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
                        return -errno;
                if (write_one("/proc/self/setgroups", "deny") < 0 ||
                    asprintf(&map, "0 %u 1", (unsigned)uid) < 0 || write_one("/proc/self/uid_map", map) < 0)
                        return -EPERM;
                free(map);
                map = NULL;
                if (asprintf(&map, "0 %u 1", (unsigned)gid) < 0 || write_one("/proc/self/gid_map", map) < 0)
                        return -EPERM;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -errno;
        if (access("/run/systemd/journal", F_OK) >= 0 &&
            mount("tmpfs", "/run/systemd/journal", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
                return -errno;
        return 0;
}

START_TEST(test_journal_missing_falls_back) {
        int status, r;
        pid_t pid;

        /* forced to the journal where there is none: the message still goes somewhere. In a child, whose
         * exit code says which step failed */
        fflush(NULL);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                _cleanup_free_ char *out = NULL;

                r = hide_journal_socket();
                if (r < 0) {
                        fprintf(stderr, "cannot hide the journal socket: %s\n", strerror(-r));
                        _exit(2);
                }
                if (access(JOURNAL_SOCKET, F_OK) >= 0)
                        _exit(3);
                setenv("CODEBOLT_UPGRADE_LOG", "journal", 1);
                log_setup("tid", "backup");
                test_capture_begin();
                r = log_error_errno(-EIO, "disk: %m");
                out = test_capture_end();
                if (r != -EIO)
                        _exit(4);
                if (!streq(out, "tid: disk: Input/output error\n")) {
                        fprintf(stderr, "stderr had: '%s'\n", out);
                        _exit(5);
                }
                _exit(EXIT_SUCCESS);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(
                WIFEXITED(status) && WEXITSTATUS(status) == 0,
                "the fallback child failed (exit %d; 2: the socket could not be hidden, 3: it is still "
                "there, 4: a wrong return value, 5: not the message on stderr)",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
END_TEST

START_TEST(test_status) {
        _cleanup_free_ char *out = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/test-log.XXXXXX";
        char msg[256];
        ssize_t n;
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

        setup_stderr();
        setenv("NOTIFY_SOCKET", sa.sun_path, 1);
        test_capture_begin();
        ck_assert_int_eq(log_status("Applying migration %d of %d\nnext", 3, 7), 0);
        out = test_capture_end();
        ck_assert_str_eq(out, "tid: Applying migration 3 of 7\nnext\n");

        n = recv(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);
        ck_assert_int_gt(n, 0);
        msg[n] = 0;
        ck_assert_str_eq(msg, "STATUS=Applying migration 3 of 7 next");

        /* without a service manager: still logged, no error */
        unsetenv("NOTIFY_SOCKET");
        test_capture_begin();
        ck_assert_int_eq(log_status("done"), 0);
        free(test_capture_end());

        close(fd);
        unlink(sa.sun_path);
        rmdir(dir);
}
END_TEST

static Suite *log_suite(void) {
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_errno_format_and_return);
        tcase_add_test(tc, test_return_pattern);
        tcase_add_test(tc, test_max_level);
        tcase_add_test(tc, test_long_message);
        tcase_add_test(tc, test_default_identifier);
        tcase_add_test(tc, test_forward);
        tcase_add_test(tc, test_target_choice);
        tcase_add_test(tc, test_journal_missing_falls_back);
        tcase_add_test(tc, test_status);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(log_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
