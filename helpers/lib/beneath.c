/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* beneath.c: root's file operations inside a tree another user can write (see beneath.h) */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>

#include "beneath.h"
#include "fd-util.h"
#include "macro.h"
#include "state.h"

/* as the kernel's own limit on links in one lookup */
#define BENEATH_MAX_LINKS 40
#define BENEATH_MAX_LINK_TARGET ((size_t)64 * 1024)

/* The directories walked so far, innermost last: ".." pops one. The kernel's openat2(RESOLVE_BENEATH)
 * would do the same in one call; the walk works on every kernel and is the one path the tests cover. */
typedef struct Walk {
        int *fds;
        size_t n, allocated;
} Walk;

static void walk_done(Walk *w) {
        for (size_t i = 0; i < w->n; i++)
                close(w->fds[i]);
        free(w->fds);
}

static int walk_push(Walk *w, int fd) {
        if (w->n == w->allocated) {
                size_t a = w->allocated ? w->allocated * 2 : 8;
                int *n = reallocarray(w->fds, a, sizeof(int));
                if (!n) {
                        close(fd);
                        return -ENOMEM;
                }
                w->fds = n;
                w->allocated = a;
        }
        w->fds[w->n++] = fd;
        return 0;
}

/* name in dir_fd turned out not to be what was asked for: is it a link to follow? Then *todo becomes
 * its target followed by rest. */
static int follow(
        int dir_fd, const char *name, const char *rest, BeneathFlags bf, unsigned *links, char **todo) {
        _cleanup_free_ char *target = NULL;
        char *n;
        int r;

        r = readlinkat_malloc(dir_fd, name, BENEATH_MAX_LINK_TARGET, &target);
        if (r < 0)
                return r;
        if (!(bf & BENEATH_FOLLOW) || ++*links > BENEATH_MAX_LINKS)
                return -ELOOP;
        if (target[0] == '/')
                return -EXDEV;
        if (asprintf(&n, "%s/%s", target, rest) < 0)
                return -ENOMEM;
        free(*todo);
        *todo = n;
        return 0;
}

int beneath_open(int dir_fd, const char *path, int flags, mode_t mode, BeneathFlags bf) {
        _cleanup_(walk_done) Walk w = {};
        _cleanup_free_ char *todo = NULL;
        unsigned links = 0;
        char *p;
        int r;

        assert(dir_fd >= 0);
        if (!path || path[0] == '/')
                return -EXDEV;
        if (flags & O_CREAT)
                flags |= O_EXCL;
        todo = strdup(path);
        if (!todo)
                return -ENOMEM;

        for (p = todo;;) {
                int top = w.n ? w.fds[w.n - 1] : dir_fd, fd;
                char *name, *rest;
                bool last;

                while (*p == '/')
                        p++;
                name = p;
                p += strcspn(p, "/");
                rest = p;
                while (*rest == '/')
                        rest++;
                if (*p)
                        *p = 0;
                p = rest;
                last = !*rest;

                if (!*name || streq(name, "."))
                        name = (char *)".";
                else if (streq(name, "..")) {
                        if (w.n == 0)
                                return -EXDEV;
                        close(w.fds[--w.n]);
                        top = w.n ? w.fds[w.n - 1] : dir_fd;
                        name = (char *)".";
                }

                if (!last) {
                        if (streq(name, "."))
                                continue;
                        fd = openat(top, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd >= 0) {
                                r = walk_push(&w, fd);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        if (errno != ENOTDIR && errno != ELOOP)
                                return -errno;
                        r = follow(top, name, rest, bf, &links, &todo);
                        if (r == -EINVAL)
                                return -ENOTDIR;
                        if (r < 0)
                                return r;
                        p = todo;
                        continue;
                }

                fd = openat(top, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
                if (fd >= 0 && (flags & O_PATH)) {
                        /* O_PATH|O_NOFOLLOW opens a link itself */
                        struct stat st;

                        if (fstat(fd, &st) < 0) {
                                r = -errno;
                                close(fd);
                                return r;
                        }
                        if (!S_ISLNK(st.st_mode))
                                return fd;
                        close(fd);
                } else if (fd >= 0)
                        return fd;
                else if (errno != ELOOP && errno != ENOTDIR)
                        return -errno;
                r = follow(top, name, "", bf, &links, &todo);
                if (r == -EINVAL)
                        return -ENOTDIR;
                if (r < 0)
                        return r;
                p = todo;
        }
}

int beneath_read_file(
        int dir_fd, const char *path, size_t max, BeneathFlags bf, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        /* O_NONBLOCK: a FIFO put in the file's place must not hold root up */
        fd = beneath_open(dir_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, bf);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        return state_read_fd(fd, (size_t)st.st_size, max, ret, ret_size);
}

int beneath_read_json(int dir_fd, const char *path, size_t max, cJSON **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = beneath_read_file(dir_fd, path, max, 0, &buf, &size);
        if (r < 0)
                return r;
        return state_parse_json(buf, size, ret);
}

int beneath_mkdir_owned(int dir_fd, const char *name, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (mkdirat(dir_fd, name, mode) < 0)
                return -errno;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        /* between the mkdir and the open, another directory may have been moved into its place */
        if (st.st_uid != geteuid())
                return -EPERM;
        if (fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0)
                return -errno;
        return TAKE_FD(fd);
}

int beneath_write_owned(
        int dir_fd, const char *name, const void *data, size_t size, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, mode) < 0 || fchown(fd, uid, gid) < 0)
                return -errno;
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, (const char *)data + done, size - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t)n;
        }
        return 0;
}

bool beneath_dir_is_roots(const struct stat *st) {
        return S_ISDIR(st->st_mode) && st->st_uid == 0 && !(st->st_mode & (S_IWGRP | S_IWOTH));
}
