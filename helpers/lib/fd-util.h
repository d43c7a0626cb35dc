/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fd-util.h: file descriptors and directory streams (closep/_cleanup_close_ and fclosep/_cleanup_fclose_
 * are in macro.h, beside the other cleanup helpers) */
#pragma once

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"

/* closedir() for _cleanup_closedir_: a NULL stream is left alone */
static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Write all size bytes of data to fd, again after EINTR and a short write. 0, or -errno of the write
 * that failed (some bytes may be written by then). */
int write_all(int fd, const void *data, size_t size);

/* read() of up to size bytes into buf, again after EINTR: the bytes read (0 at the end of the file), or
 * -errno */
ssize_t read_eintr(int fd, void *buf, size_t size);

/* The target of the symbolic link name in dfd (name "": dfd itself, opened with O_PATH|O_NOFOLLOW),
 * NUL-terminated, in a buffer that grows as needed: -ENAMETOOLONG when it would pass max bytes,
 * -EINVAL when name is not a link, other -errno of readlinkat(). */
int readlinkat_malloc(int dfd, const char *name, size_t max, char **ret);
