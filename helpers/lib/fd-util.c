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
