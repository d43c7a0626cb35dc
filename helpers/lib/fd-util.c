/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fd-util.c: file descriptors */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include "fd-util.h"

int write_all(int fd, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t)n;
        }
        return 0;
}

ssize_t read_eintr(int fd, void *buf, size_t size) {
        for (;;) {
                ssize_t n = read(fd, buf, size);

                if (n >= 0 || errno != EINTR)
                        return n < 0 ? -errno : n;
        }
}

int readlinkat_malloc(int dfd, const char *name, size_t max, char **ret) {
        for (size_t size = 256;; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                ssize_t n;

                if (!buf)
                        return -ENOMEM;
                n = readlinkat(dfd, name, buf, size);
                if (n < 0)
                        return -errno;
                if ((size_t)n < size) {
                        buf[n] = 0;
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
                if (size > max)
                        return -ENAMETOOLONG;
        }
}

int fd_wait(int fd, short events, usec_t deadline) {
        for (;;) {
                struct pollfd p = { .fd = fd, .events = events };
                usec_t now = now_monotonic();
                int ms = -1, r;

                if (deadline != USEC_INFINITY) {
                        if (now >= deadline)
                                return -ETIMEDOUT;
                        ms = (int)usec_min((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, INT_MAX);
                }
                r = poll(&p, 1, ms);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

int socket_connect(int fd, const struct sockaddr *sa, socklen_t len, usec_t deadline) {
        int error = 0, r;
        socklen_t l = sizeof(error);

        for (;;) {
                if (connect(fd, sa, len) >= 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                /* a unix socket whose backlog is full: try again shortly */
                if (errno == EAGAIN && sa->sa_family == AF_UNIX) {
                        if (now_monotonic() >= deadline)
                                return -ETIMEDOUT;
                        sleep_until(usec_min(now_monotonic() + 10 * USEC_PER_MSEC, deadline));
                        continue;
                }
                if (errno != EINPROGRESS)
                        return -errno;
                break;
        }

        r = fd_wait(fd, POLLOUT, deadline);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &l) < 0)
                return -errno;
        return -error;
}

int socket_send_all(int fd, const void *data, size_t size, usec_t deadline) {
        const char *p = data;

        while (size > 0) {
                ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
                int r;

                if (n >= 0) {
                        p += n;
                        size -= (size_t)n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                r = fd_wait(fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
        }
        return 0;
}
