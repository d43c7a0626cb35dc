/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* inhibitor.c: the shutdown inhibitor drain took, released once the rollback ends */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <signal.h>

#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "state.h"
#include "rollback.h"

static bool process_is_inhibitor(pid_t pid) {
        _cleanup_free_ char *path = NULL, *comm = NULL;

        if (asprintf(&path, "/proc/%d/comm", (int)pid) < 0)
                return false;
        return state_read_string(path, &comm) >= 0 && streq(comm, HELPER_INHIBITOR_NAME);
}

/* drain's holder usually died with the upgrade unit's control group; the pid is checked by name,
 * never a reused one */
void end_inhibitor(const cJSON *current) {
        int64_t pid;

        if (json_get_int64_range(current, "inhibitor_pid", 2, INT_MAX, &pid) >= 0 &&
            process_is_inhibitor((pid_t)pid) && kill((pid_t)pid, SIGTERM) >= 0)
                log_info("Released the shutdown inhibitor (holder pid %" PRId64 ").", pid);
}
