/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lock.h: the per-deployment flock held around every read-modify-write of the state */
#pragma once

#include <stdbool.h>

/* Create path's parent (0755) and path (0600) when missing and take an exclusive flock on it.
 * wait=false: -EBUSY when another process holds it; wait=true: block (-EINTR when a signal
 * interrupts the wait). The lock is released by closing *ret_fd (_cleanup_close_) or by exiting. */
int lock_acquire(const char *path, bool wait, int *ret_fd);

/* the same for /run/codebolt-upgrade/<deployment>.lock (rooted) */
int lock_acquire_deployment(const char *deployment, bool wait, int *ret_fd);
