/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* inhibitor.h: the holder of drain's shutdown inhibitor, which finish and the rollback end */
#pragma once

#include <sys/types.h>

/* the holder's name in ps and /proc/<pid>/comm (prctl(PR_SET_NAME)), so that the one who ends it can
 * tell it from a process that got a recycled pid */
#define INHIBITOR_NAME "cbu-inhibitor"

/* SIGTERM to pid if /proc/<pid>/comm says it is the holder (INHIBITOR_NAME); the lock goes with it.
 * 1 when it was signalled, 0 when pid is gone or is another process (left alone), -errno when the
 * signal could not be sent. */
int inhibitor_release(pid_t pid);
