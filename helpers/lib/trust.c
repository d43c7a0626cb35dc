/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* trust.c: files that root runs or reads (hooks, smoke steps, npm config, credentials) are root's alone */
#define _GNU_SOURCE
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "errmsg.h"
#include "fd-util.h"
#include "macro.h"
#include "paths.h"
#include "state.h"
#include "trust.h"

/* the kernel's own bound on symlinks in one lookup */
#define TRUST_MAX_SYMLINKS 40

int trust_check_stat(const struct stat *st, TrustFlags flags) {
        mode_t forbidden = (flags & TRUST_PRIVATE) ? (S_IRWXG | S_IRWXO) : (S_IWGRP | S_IWOTH);

        assert(st);
        if (!S_ISREG(st->st_mode) || st->st_uid != 0 || (st->st_mode & forbidden))
                return -EPERM;
        return 0;
}

/* $CODEBOLT_UPGRADE_ROOT resolved ("" when unset), so that it compares with the walked names */
static int canonical_root(const char **ret) {
        static char *cached = NULL;

        if (!cached) {
                const char *root = paths_root();

                if (!*root)
                        cached = strdup("");
                else {
                        cached = realpath(root, NULL);
                        if (!cached && errno != ENOMEM)
                                cached = strdup(root);
                }
                if (!cached)
                        return -ENOMEM;
                if (streq(cached, "/"))
                        cached[0] = 0;
        }
        *ret = cached;
        return 0;
}

/* the directories strictly above the root are the harness's, not ours to judge */
static bool above_root(const char *dir, const char *root) {
        size_t l = strlen(dir);

        if (!*root)
                return false;
        if (streq(dir, "/"))
                return true;
        return strncmp(root, dir, l) == 0 && root[l] == '/';
}

static bool under_root(const char *path, const char *root) {
        size_t l = strlen(root);

        return *root && strncmp(path, root, l) == 0 && path[l] == '/';
}

/* one lookup: the directories above the root are judged too, but their verdict only counts when the
 * file turns out to lie outside the root, or a symlink was taken in one of them */
typedef struct Walk {
        const char *root;
        int deferred; /* the first verdict against a directory above the root */
        char *deferred_why;
        bool above_counts;
} Walk;

static void walk_done(Walk *w) {
        free(w->deferred_why);
}

static int judge_dir(const struct stat *st, const char *dir, Walk *w, char **ret_why) {
        bool above = above_root(dir, w->root);
        int r;

        if (!S_ISDIR(st->st_mode))
                return errmsg_set(ret_why, -ENOTDIR, "%s is not a directory", dir);
        if (st->st_uid == 0 && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0)
                return 0;
        if (above && w->deferred < 0)
                return 0;
        r = errmsg_set(
                above ? &w->deferred_why : ret_why,
                -EPERM,
                "directory %s is owned by uid %u with mode %04o: it must be owned by root and not "
                "writable by group or other (chown root:root %s; chmod go-w %s)",
                dir,
                (unsigned)st->st_uid,
                (unsigned)(st->st_mode & 07777),
                dir,
                dir);
        if (!above)
                return r;
        w->deferred = r;
        return w->deferred_why ? 0 : -ENOMEM;
}

static int judge_file(const struct stat *st, const char *file, TrustFlags flags, char **ret_why) {
        bool private = flags & TRUST_PRIVATE;

        if (!S_ISREG(st->st_mode))
                return errmsg_set(ret_why, -EPERM, "%s is not a regular file", file);
        if (trust_check_stat(st, flags) >= 0)
                return 0;
        return errmsg_set(
                ret_why,
                -EPERM,
                "%s is owned by uid %u with mode %04o: it must be owned by root and %s (chown root:root "
                "%s; chmod %s %s)",
                file,
                (unsigned)st->st_uid,
                (unsigned)(st->st_mode & 07777),
                private ? "have mode 0600" : "not writable by group or other",
                file,
                private ? "0600" : "go-w",
                file);
}

/* the next component of *p (skipping slashes) into *ret (malloc'd, NULL at the end) */
static int next_component(const char **p, char **ret) {
        size_t l;

        *p += strspn(*p, "/");
        l = strcspn(*p, "/");
        if (l == 0) {
                *ret = NULL;
                return 0;
        }
        *ret = strndup(*p, l);
        if (!*ret)
                return -ENOMEM;
        *p += l;
        return 0;
}

static bool only_slashes(const char *s) {
        return s[strspn(s, "/")] == 0;
}

/* "/" (the walk restarts there on an absolute path) */
static int walk_from_slash(int *dirfd, char **cur, Walk *w, char **ret_why) {
        struct stat st;
        int fd;

        fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errmsg_set(ret_why, -errno, "/: %s", strerror(errno));
        closep(dirfd);
        *dirfd = fd;
        free(*cur);
        *cur = strdup("");
        if (!*cur)
                return -ENOMEM;
        if (fstat(fd, &st) < 0)
                return errmsg_set(ret_why, -errno, "/: %s", strerror(errno));
        return judge_dir(&st, "/", w, ret_why);
}

/* A lookup of path done by hand, one component at a time with O_NOFOLLOW, judging each directory
 * as it is entered: so every directory passed through, and every one holding a symlink that was
 * followed, has been judged through the very fd the next step is taken from. */
int trust_open_root_file(const char *path, TrustFlags flags, char **ret_why) {
        _cleanup_close_ int dirfd = -EBADF;
        _cleanup_free_ char *rest = NULL, *cur = NULL;
        _cleanup_(walk_done) Walk w = {};
        const char *p;
        unsigned links = 0;
        int r;

        assert(path);
        if (path[0] != '/')
                return errmsg_set(ret_why, -EINVAL, "%s is not an absolute path", path);
        r = canonical_root(&w.root);
        if (r < 0)
                return r;
        rest = strdup(path);
        if (!rest)
                return -ENOMEM;
        p = rest;
        r = walk_from_slash(&dirfd, &cur, &w, ret_why);
        if (r < 0)
                return r;

        for (;;) {
                _cleanup_free_ char *name = NULL, *here = NULL;
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                r = next_component(&p, &name);
                if (r < 0)
                        return r;
                if (!name)
                        return errmsg_set(ret_why, -EISDIR, "%s is a directory", path);
                if (streq(name, "."))
                        continue;
                if (streq(name, "..")) {
                        /* every ancestor was judged on the way down from / */
                        char *slash = strrchr(cur, '/');

                        fd = openat(dirfd, "..", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return errmsg_set(ret_why, -errno, "%s/..: %s", cur, strerror(errno));
                        if (slash)
                                *slash = 0;
                        closep(&dirfd);
                        dirfd = TAKE_FD(fd);
                        continue;
                }
                if (asprintf(&here, "%s/%s", cur, name) < 0)
                        return -ENOMEM;

                fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return errmsg_set(ret_why, -errno, "%s: %s", here, strerror(errno));
                if (fstat(fd, &st) < 0)
                        return errmsg_set(ret_why, -errno, "%s: %s", here, strerror(errno));

                if (S_ISLNK(st.st_mode)) {
                        _cleanup_free_ char *target = NULL, *joined = NULL;

                        /* whoever may write there could point it elsewhere */
                        if (above_root(*cur ? cur : "/", w.root))
                                w.above_counts = true;
                        if (++links > TRUST_MAX_SYMLINKS)
                                return errmsg_set(ret_why, -ELOOP, "%s: too many levels of symlinks", path);
                        r = readlinkat_malloc(fd, "", PATH_MAX, &target);
                        if (r < 0)
                                return errmsg_set(ret_why, r, "%s: %s", here, strerror(-r));
                        if (asprintf(&joined, "%s/%s", target, p) < 0)
                                return -ENOMEM;
                        free(rest);
                        rest = TAKE_PTR(joined);
                        p = rest;
                        /* the kernel's meaning, also under $CODEBOLT_UPGRADE_ROOT: an absolute
                         * target starts at the real / */
                        if (target[0] == '/') {
                                r = walk_from_slash(&dirfd, &cur, &w, ret_why);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }

                if (!only_slashes(p)) {
                        r = judge_dir(&st, here, &w, ret_why);
                        if (r < 0)
                                return r;
                        closep(&dirfd);
                        dirfd = TAKE_FD(fd);
                        free(cur);
                        cur = TAKE_PTR(here);
                        continue;
                }

                if (w.deferred < 0 && (w.above_counts || !under_root(here, w.root))) {
                        if (ret_why) {
                                free(*ret_why);
                                *ret_why = TAKE_PTR(w.deferred_why);
                        }
                        return w.deferred;
                }
                r = judge_file(&st, here, flags, ret_why);
                if (r < 0)
                        return r;
                return TAKE_FD(fd);
        }
}

int trust_check_root_file(const char *path, TrustFlags flags, char **ret_why) {
        _cleanup_close_ int fd = trust_open_root_file(path, flags, ret_why);

        return fd < 0 ? fd : 0;
}

int trust_read_root_file(
        const char *path, TrustFlags flags, size_t max, char **ret, size_t *ret_size, char **ret_why) {
        _cleanup_close_ int fd = -EBADF, rfd = -EBADF;
        _cleanup_free_ char *proc = NULL;
        struct stat st;
        int r;

        fd = trust_open_root_file(path, flags, ret_why);
        if (fd < 0)
                return fd;
        /* an O_PATH fd cannot be read; reopening it through /proc opens that same inode */
        if (asprintf(&proc, "/proc/self/fd/%d", fd) < 0)
                return -ENOMEM;
        rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (rfd < 0)
                return errmsg_set(ret_why, -errno, "%s: %s", path, strerror(errno));
        if (fstat(rfd, &st) < 0)
                return errmsg_set(ret_why, -errno, "%s: %s", path, strerror(errno));
        r = state_read_fd(rfd, (size_t)st.st_size, max, ret, ret_size);
        if (r < 0)
                return errmsg_set(ret_why, r, "%s: %s", path, strerror(-r));
        return 0;
}

int trust_read_credential(const char *name, char **ret, char **ret_why) {
        _cleanup_free_ char *path = paths_credential(name), *why = NULL;
        _cleanup_erase_free_ char *buf = NULL;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        /* the secret's directories too: whoever may write one could swap the file for theirs */
        r = trust_read_root_file(path, TRUST_PRIVATE, TRUST_CREDENTIAL_MAX, &buf, &size, &why);
        if (r < 0) {
                if (ret_why)
                        *ret_why = TAKE_PTR(why);
                return r;
        }
        r = state_string_from_buffer(buf, size, ret);
        if (r == -EBADMSG && ret_why && asprintf(ret_why, "%s contains a NUL byte", path) < 0)
                *ret_why = NULL;
        return r;
}
