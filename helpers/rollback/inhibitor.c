/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* inhibitor.c: the shutdown inhibitor drain took, released once the rollback ends */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>

#include "inhibitor.h"
#include "log.h"
#include "rollback.h"

/* drain's holder usually died with the upgrade unit's control group; inhibitor_release() checks the
 * pid by name, never signalling a reused one */
void end_inhibitor(const Current *current) {
        pid_t pid = current->inhibitor_pid;

        if (pid >= 2 && inhibitor_release(pid) > 0)
                log_info("Released the shutdown inhibitor (holder pid %" PRId64 ").", (int64_t)pid);
}
