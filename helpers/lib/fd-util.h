/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fd-util.h: file descriptors and directory streams (closep/_cleanup_close_ and fclosep/_cleanup_fclose_
 * are in macro.h, beside the other cleanup helpers) */
#pragma once

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

#include <sys/socket.h>

#include "macro.h"
#include "time-util.h"

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

/* Wait until fd is ready for events (poll(2)'s POLLIN, POLLOUT) or the CLOCK_MONOTONIC deadline passes
 * (USEC_INFINITY: none): 0, -ETIMEDOUT, or -errno of poll(). */
int fd_wait(int fd, short events, usec_t deadline);

/* connect() of the non-blocking socket fd to sa, bounded by deadline: 0, -ETIMEDOUT, or -errno of the
 * connection (-ECONNREFUSED …). A unix socket whose backlog is full is tried again until the deadline. */
int socket_connect(int fd, const struct sockaddr *sa, socklen_t len, usec_t deadline);

/* send() of all size bytes of data on the non-blocking socket fd (MSG_NOSIGNAL: a closed peer is
 * -EPIPE, not a signal), waiting while it is full until deadline: 0, -ETIMEDOUT or -errno of send() */
int socket_send_all(int fd, const void *data, size_t size, usec_t deadline);
