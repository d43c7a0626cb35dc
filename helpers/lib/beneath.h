/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* beneath.h: root's file operations inside a tree another user can write, by directory fd, never
 * leaving the tree and never through a link that user placed */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef enum BeneathFlags {
        /* follow symbolic links, as long as each resolves inside the tree (npm's bin/ links) */
        BENEATH_FOLLOW = 1 << 0,
} BeneathFlags;

/* Open path (relative) below dir_fd with open(2) flags, one component at a time with O_NOFOLLOW.
 * Returns the fd, or -errno: -ELOOP for a symbolic link (any component) without BENEATH_FOLLOW or
 * after 40 links, -EXDEV for an absolute path or link target, or a ".." that would leave dir_fd. A
 * ".." goes back to the directory this walk came from, never to what ".." names now, so a directory
 * moved away during the walk cannot lead out of the tree. O_CREAT always acts as O_CREAT|O_EXCL. */
int beneath_open(int dir_fd, const char *path, int flags, mode_t mode, BeneathFlags bf);

/* A regular file below dir_fd, NUL-terminated: -EBADFD when it is anything else (a FIFO, a device,
 * a directory), -EFBIG past max bytes. Never blocks on a FIFO. */
int beneath_read_file(
        int dir_fd, const char *path, size_t max, BeneathFlags bf, char **ret, size_t *ret_size);

/* beneath_read_file() parsed as JSON; -EBADMSG when it is not JSON */
int beneath_read_json(int dir_fd, const char *path, size_t max, cJSON **ret);

/* Make the directory name in dir_fd with mode, owned by uid:gid, and return an fd of it: the very
 * directory made (-EEXIST when name exists, -ELOOP/-ENOTDIR when it was swapped for a link or a file
 * before it was opened, -EPERM when what was opened is not the directory this process made). */
int beneath_mkdir_owned(int dir_fd, const char *name, mode_t mode, uid_t uid, gid_t gid);

/* Create the file name in dir_fd (never an existing one, never through a link) holding size bytes of
 * data, with mode, owned by uid:gid. */
int beneath_write_owned(
        int dir_fd, const char *name, const void *data, size_t size, mode_t mode, uid_t uid, gid_t gid);

/* A directory root relies on (the install root, releases/): owned by root and writable by no one
 * else. */
bool beneath_dir_is_roots(const struct stat *st);
