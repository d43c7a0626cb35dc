/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-fd-util.c: write_all() through a pipe, read_eintr(), the closedir cleanup, readlinkat_malloc(),
 * and the sockets' bounded waits: fd_wait(), socket_connect(), socket_send_all() */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "test-run.h"

START_TEST(test_write_all_large) {
        /* more than a pipe holds, so the writes are short and the reader drains in between */
        size_t size = 1024 * 1024, got = 0;
        _cleanup_free_ char *data = malloc(size), *back = malloc(size);
        int p[2], status;
        pid_t pid;

        ck_assert_ptr_nonnull(data);
        ck_assert_ptr_nonnull(back);
        for (size_t i = 0; i < size; i++)
                data[i] = (char)(i * 7);
        ck_assert_int_eq(pipe(p), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(p[0]);
                _exit(write_all(p[1], data, size) == 0 ? 0 : 1);
        }
        close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], back + got, size - got);

                ck_assert_int_ge(n, 0);
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        close(p[0]);
        ck_assert_uint_eq(got, size);
        ck_assert_int_eq(memcmp(data, back, size), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_write_all_error) {
        int p[2];

        ck_assert_int_eq(write_all(-1, "x", 1), -EBADF);
        /* nothing to write is no write at all, even on a bad fd */
        ck_assert_int_eq(write_all(-1, "", 0), 0);
        /* a pipe nobody reads: EPIPE, not a signal */
        signal(SIGPIPE, SIG_IGN);
        ck_assert_int_eq(pipe(p), 0);
        close(p[0]);
        ck_assert_int_eq(write_all(p[1], "abc", 3), -EPIPE);
        close(p[1]);
}
END_TEST

/* what read() gives, 0 at the end, -errno instead of -1 */
START_TEST(test_read_eintr) {
        char buf[8];
        int p[2];

        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_eq(write(p[1], "abc", 3), 3);
        ck_assert_int_eq(read_eintr(p[0], buf, sizeof(buf)), 3);
        ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
        close(p[1]);
        ck_assert_int_eq(read_eintr(p[0], buf, sizeof(buf)), 0);
        close(p[0]);
        ck_assert_int_eq(read_eintr(p[0], buf, sizeof(buf)), -EBADF);
}
END_TEST

START_TEST(test_closedir_cleanup) {
        int before, after;

        before = fcntl(0, F_DUPFD, 0);
        ck_assert_int_ge(before, 0);
        close(before);
        {
                _cleanup_closedir_ DIR *d = opendir("/");
                _cleanup_closedir_ DIR *none = NULL;

                ck_assert_ptr_nonnull(d);
                ck_assert_ptr_null(none);
        }
        /* the stream's fd is free again: the lowest free fd is the same */
        after = fcntl(0, F_DUPFD, 0);
        ck_assert_int_eq(after, before);
        close(after);
}
END_TEST

START_TEST(test_readlinkat_malloc) {
        char dir[] = "/tmp/test-fd-util.XXXXXX";
        _cleanup_free_ char *target = NULL, *long_target = NULL, *self = NULL;
        _cleanup_close_ int dfd = -EBADF, lfd = -EBADF;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);

        ck_assert_int_eq(symlinkat("some/where", dfd, "short"), 0);
        ck_assert_int_eq(readlinkat_malloc(dfd, "short", PATH_MAX, &target), 0);
        ck_assert_str_eq(target, "some/where");

        /* a target longer than the first buffer: the buffer grows */
        long_target = malloc(1001);
        ck_assert_ptr_nonnull(long_target);
        memset(long_target, 'x', 1000);
        long_target[1000] = 0;
        ck_assert_int_eq(symlinkat(long_target, dfd, "long"), 0);
        free(target);
        target = NULL;
        ck_assert_int_eq(readlinkat_malloc(dfd, "long", PATH_MAX, &target), 0);
        ck_assert_str_eq(target, long_target);
        ck_assert_int_eq(readlinkat_malloc(dfd, "long", 300, &self), -ENAMETOOLONG);
        ck_assert_ptr_null(self);

        /* the link itself through an O_PATH descriptor */
        lfd = openat(dfd, "short", O_PATH | O_NOFOLLOW | O_CLOEXEC);
        ck_assert_int_ge(lfd, 0);
        ck_assert_int_eq(readlinkat_malloc(lfd, "", PATH_MAX, &self), 0);
        ck_assert_str_eq(self, "some/where");

        ck_assert_int_eq(mkdirat(dfd, "plain", 0700), 0);
        ck_assert_int_eq(readlinkat_malloc(dfd, "plain", PATH_MAX, &target), -EINVAL);
        ck_assert_int_eq(readlinkat_malloc(dfd, "absent", PATH_MAX, &target), -ENOENT);

        ck_assert_int_eq(unlinkat(dfd, "short", 0), 0);
        ck_assert_int_eq(unlinkat(dfd, "long", 0), 0);
        ck_assert_int_eq(unlinkat(dfd, "plain", AT_REMOVEDIR), 0);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_fd_wait) {
        int sv[2];
        usec_t start = now_monotonic();

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        /* nothing to read: the deadline, and not much later */
        ck_assert_int_eq(fd_wait(sv[0], POLLIN, now_monotonic() + 100 * USEC_PER_MSEC), -ETIMEDOUT);
        ck_assert_uint_ge(now_monotonic() - start, 100 * USEC_PER_MSEC);
        ck_assert_uint_lt(now_monotonic() - start, 5 * USEC_PER_SEC);
        /* a deadline already past is not waited for; a byte to read is ready at once, with no deadline */
        ck_assert_int_eq(fd_wait(sv[0], POLLIN, now_monotonic() - 1), -ETIMEDOUT);
        ck_assert_int_eq(write(sv[1], "x", 1), 1);
        ck_assert_int_eq(fd_wait(sv[0], POLLIN, USEC_INFINITY), 0);
        close(sv[0]);
        close(sv[1]);
}
END_TEST

START_TEST(test_socket_connect_refused) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int bound, fd;

        /* bound but never listening: refused, and no one can take the port meanwhile */
        bound = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(bound, 0);
        ck_assert_int_eq(bind(bound, (struct sockaddr *)&sa, sizeof(sa)), 0);
        ck_assert_int_eq(getsockname(bound, (struct sockaddr *)&sa, &l), 0);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(
                socket_connect(fd, (struct sockaddr *)&sa, sizeof(sa), now_monotonic() + 5 * USEC_PER_SEC),
                -ECONNREFUSED);
        close(fd);

        /* listening: connected */
        ck_assert_int_eq(listen(bound, 1), 0);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(socket_connect(fd, (struct sockaddr *)&sa, sizeof(sa), USEC_INFINITY), 0);
        close(fd);
        close(bound);
}
END_TEST

START_TEST(test_socket_send_all) {
        static char big[4 * 1024 * 1024];
        int sv[2];

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        /* what fits is sent whole */
        ck_assert_int_eq(socket_send_all(sv[0], "hello", 5, USEC_INFINITY), 0);
        ck_assert_int_eq(read(sv[1], big, sizeof(big)), 5);
        /* a peer that never reads: the deadline */
        ck_assert_int_eq(
                socket_send_all(sv[0], big, sizeof(big), now_monotonic() + 100 * USEC_PER_MSEC), -ETIMEDOUT);
        /* a peer that is gone: an error, not SIGPIPE */
        close(sv[1]);
        ck_assert_int_eq(socket_send_all(sv[0], "x", 1, USEC_INFINITY), -EPIPE);
        close(sv[0]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("fd-util");
        TCase *tc = tcase_create("fd-util");

        tcase_add_test(tc, test_write_all_large);
        tcase_add_test(tc, test_write_all_error);
        tcase_add_test(tc, test_read_eintr);
        tcase_add_test(tc, test_closedir_cleanup);
        tcase_add_test(tc, test_readlinkat_malloc);
        tcase_add_test(tc, test_fd_wait);
        tcase_add_test(tc, test_socket_connect_refused);
        tcase_add_test(tc, test_socket_send_all);
        suite_add_tcase(s, tc);
        return run_suite(s);
}
