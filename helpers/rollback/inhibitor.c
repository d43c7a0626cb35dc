/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* inhibitor.c: the shutdown inhibitor drain took, released once the rollback ends */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>

#include "inhibitor.h"
#include "json-util.h"
#include "log.h"
#include "rollback.h"

/* drain's holder usually died with the upgrade unit's control group; inhibitor_release() checks the
 * pid by name, never signalling a reused one */
void end_inhibitor(const cJSON *current) {
        int64_t pid;

        if (json_get_int64_range(current, "inhibitor_pid", 2, INT_MAX, &pid) >= 0 &&
            inhibitor_release((pid_t)pid) > 0)
                log_info("Released the shutdown inhibitor (holder pid %" PRId64 ").", pid);
}
