/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hold-file.c: hold.json, the pause of the unattended upgrades (`codebolt-upgrade hold`) */
#include "hold-file.h"
#include "json-util.h"
#include "macro.h"
#include "paths.h"
#include "state.h"

int helper_hold_read(const char *deployment, char **ret_since, char **ret_reason) {
        _cleanup_free_ char *path = paths_state_file(deployment, "hold.json");
        _cleanup_json_ cJSON *hold = NULL;
        const char *since, *reason;
        int r;

        if (!path)
                return -ENOMEM;
        r = state_read_json(path, &hold);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        since = json_get_string(hold, "since");
        reason = json_get_string(hold, "reason");
        if (ret_since && since && !(*ret_since = strdup(since)))
                return -ENOMEM;
        if (ret_reason && reason && !(*ret_reason = strdup(reason)))
                return -ENOMEM;
        return 1;
}
