/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fd-util.c: file descriptors */
#include <errno.h>
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
