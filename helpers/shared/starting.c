/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* starting.c: the start marker that lets the upgrade's own start of the server through */
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "paths.h"
#include "starting.h"
#include "state.h"

int helper_starting_begin(const Helper *h) {
        _cleanup_free_ char *path = paths_starting_file(h->config.deployment), *dir = NULL, *content = NULL;
        int r;

        dir = paths_rooted("/run/codebolt-upgrade");
        if (!path || !dir || asprintf(&content, "%d\n", (int)getpid()) < 0)
                return log_oom();
        r = paths_mkdir_p(dir, 0755);
        if (r >= 0)
                r = state_write_string_atomic(path, content, 0644);
        if (r < 0)
                return log_error_errno(
                        r,
                        "Failed to write %s (the server's start condition lets only that start in): %m",
                        path);
        return 0;
}

void helper_starting_end(const Helper *h) {
        _cleanup_free_ char *path = paths_starting_file(h->config.deployment);
        int r;

        if (!path) {
                log_oom();
                return;
        }
        r = unlink(path) < 0 ? -errno : 0;
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Failed to remove %s: %m", path);
}
