/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lock.c: the per-deployment flock held around every read-modify-write of the state */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>

#include "lock.h"
#include "macro.h"
#include "paths.h"

int lock_acquire(const char *path, bool wait, int *ret_fd) {
        _cleanup_free_ char *copy = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(path);
        assert(ret_fd);

        copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        r = paths_mkdir_p(dirname(copy), 0755);
        if (r < 0)
                return r;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;

        if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;

        *ret_fd = TAKE_FD(fd);
        return 0;
}

int lock_acquire_deployment(const char *deployment, bool wait, int *ret_fd) {
        _cleanup_free_ char *path = NULL;

        assert(deployment);

        path = paths_lock_file(deployment);
        if (!path)
                return -ENOMEM;
        return lock_acquire(path, wait, ret_fd);
}
