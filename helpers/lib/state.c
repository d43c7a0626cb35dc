/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* state.c: state files written atomically (temp file, fsync, rename, fsync of the directory) */
#define _GNU_SOURCE
#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "fd-util.h"
#include "json-util.h"
#include "macro.h"
#include "state.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* state files are small; a bigger one is not ours */
#define STATE_FILE_MAX ((size_t)64 * 1024 * 1024)

/* a temp file that is removed unless it was renamed into place */
static void unlink_and_freep(char **p) {
        if (*p) {
                int saved = errno;
                (void)unlink(*p);
                errno = saved;
                free(*p);
        }
}
#define _cleanup_unlink_free_ _cleanup_(unlink_and_freep)

/* the directory part of path ("." when there is none) */
static char *dir_of(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t)(slash - path));
}

static const char *base_of(const char *path) {
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

static int fsync_directory_of(const char *path) {
        _cleanup_free_ char *dir = dir_of(path);
        _cleanup_close_ int fd = -EBADF;

        if (!dir)
                return -ENOMEM;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                return -errno;
        return 0;
}

static int rename_noreplace(const char *from, const char *to) {
        /* the syscall directly: older glibc has no wrapper */
        if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) >= 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
                return -errno;

        /* a file system without RENAME_NOREPLACE: link(2) fails with EEXIST just the same */
        if (link(from, to) < 0)
                return -errno;
        (void)unlink(from);
        return 0;
}

static int write_atomic(const char *path, const void *data, size_t size, mode_t mode, bool noreplace) {
        _cleanup_unlink_free_ char *tmp = NULL;
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(path);
        assert(data || size == 0);

        dir = dir_of(path);
        if (!dir)
                return -ENOMEM;
        if (!*base_of(path))
                return -EISDIR;
        /* hidden, in the same directory (so rename(2) is atomic), never matching *.json globs */
        if (asprintf(&tmp, "%s/.#%s.XXXXXX", dir, base_of(path)) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                free(TAKE_PTR(tmp)); /* nothing was created */
                return r;
        }

        if (fchmod(fd, mode) < 0)
                return -errno;
        r = write_all(fd, data, size);
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return -errno;
        if (close(TAKE_FD(fd)) < 0)
                return -errno;

        if (noreplace)
                r = rename_noreplace(tmp, path);
        else
                r = rename(tmp, path) < 0 ? -errno : 0;
        if (r < 0)
                return r;
        free(TAKE_PTR(tmp)); /* renamed: nothing left to remove */

        return fsync_directory_of(path);
}

int state_write_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        return write_atomic(path, data, size, mode, false);
}

int state_write_string_atomic(const char *path, const char *s, mode_t mode) {
        assert(s);
        return write_atomic(path, s, strlen(s), mode, false);
}

static int json_format(const cJSON *j, char **ret, size_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        size_t l;
        char *nl;

        assert(j);

        text = cJSON_Print(j);
        if (!text)
                return -ENOMEM;

        l = strlen(text);
        nl = realloc(text, l + 2);
        if (!nl)
                return -ENOMEM;
        text = nl;
        text[l] = '\n';
        text[l + 1] = 0;

        *ret_size = l + 1;
        *ret = TAKE_PTR(text);
        return 0;
}

static int write_json(const char *path, const cJSON *j, mode_t mode, bool exclusive) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = json_format(j, &text, &size);
        if (r < 0)
                return r;
        return write_atomic(path, text, size, mode, exclusive);
}

int state_write_json_atomic(const char *path, const cJSON *j, mode_t mode) {
        return write_json(path, j, mode, false);
}

int state_create_json_exclusive(const char *path, const cJSON *j, mode_t mode) {
        return write_json(path, j, mode, true);
}

int state_read_fd(int fd, size_t size_hint, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        assert(fd >= 0);
        assert(ret);

        /* the hint (a file's st_size) may be stale: read to EOF */
        for (;;) {
                ssize_t n;

                if (size + 1 >= allocated) {
                        size_t want = allocated == 0 ? size_hint + 2 : allocated * 2;
                        char *nb;

                        if (want < 4096)
                                want = 4096;
                        /* room for one byte past max: that is how a file of exactly max bytes
                         * tells itself apart from a longer one */
                        if (want > max + 2)
                                want = max + 2;
                        if (want <= size + 1)
                                return -EFBIG;
                        nb = realloc(buf, want);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        allocated = want;
                }

                n = read_eintr(fd, buf + size, allocated - size - 1);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        break;
                size += (size_t)n;
                if (size > max)
                        return -EFBIG;
        }
        buf[size] = 0;

        if (ret_size)
                *ret_size = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

int state_read_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        assert(path);
        assert(ret);

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;

        return state_read_fd(fd, (size_t)st.st_size, STATE_FILE_MAX, ret, ret_size);
}

/* name(path, ret): state_read_file() of path, then parse(buf, size, ret) of what it read */
#define DEFINE_STATE_READ(name, type, parse)            \
        int name(const char *path, type *ret) {         \
                _cleanup_free_ char *buf = NULL;        \
                size_t size;                            \
                int r;                                  \
                                                        \
                assert(ret);                            \
                                                        \
                r = state_read_file(path, &buf, &size); \
                if (r < 0)                              \
                        return r;                       \
                return parse(buf, size, ret);           \
        }

DEFINE_STATE_READ(state_read_json, cJSON *, state_parse_json);
DEFINE_STATE_READ(state_read_string, char *, state_string_from_buffer);

int state_parse_json(const char *buf, size_t size, cJSON **ret) {
        cJSON *j = cJSON_ParseWithLength(buf, size);

        if (!j)
                return -EBADMSG;
        *ret = j;
        return 0;
}

int state_string_from_buffer(const char *buf, size_t size, char **ret) {
        size_t start = 0;
        char *s;

        if (strlen(buf) != size)
                return -EBADMSG;
        while (size > 0 && isspace((unsigned char)buf[size - 1]))
                size--;
        while (start < size && isspace((unsigned char)buf[start]))
                start++;
        s = strndup(buf + start, size - start);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int state_unlink(const char *path) {
        assert(path);

        if (unlink(path) < 0)
                return -errno;
        return fsync_directory_of(path);
}
