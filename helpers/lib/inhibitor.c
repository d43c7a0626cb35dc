/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* inhibitor.c: the holder of drain's shutdown inhibitor, which finish and the rollback end */
#define _GNU_SOURCE
#include <assert.h>
#include <signal.h>

#include "inhibitor.h"
#include "macro.h"
#include "state.h"

int inhibitor_release(pid_t pid) {
        _cleanup_free_ char *path = NULL, *comm = NULL;

        assert(pid > 0);

        if (asprintf(&path, "/proc/%d/comm", (int)pid) < 0)
                return -ENOMEM;
        /* checked by name, never a reused pid: gone or another process is not ours to end */
        if (state_read_string(path, &comm) < 0 || !streq(comm, INHIBITOR_NAME))
                return 0;
        if (kill(pid, SIGTERM) < 0)
                return errno == ESRCH ? 0 : -errno;
        return 1;
}
