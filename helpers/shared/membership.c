/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* membership.c: this host as a member of its cluster */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "balancer.h"
#include "log.h"
#include "macro.h"
#include "membership.h"
#include "paths.h"
#include "release.h"

int membership_running_version(char **ret) {
        int r = release_current_version(ret);

        if (r < 0)
                return log_error_errno(
                        r,
                        "Cannot tell the running version: %s/current is not a symlink to releases/<version> "
                        "(%m).",
                        paths_install_root());
        return 0;
}

int membership_self(const Config *c, ClusterMember *ret) {
        _cleanup_(cluster_member_done) ClusterMember m = {};
        char hostname[HOST_NAME_MAX + 1] = {};
        int r;

        r = membership_running_version(&m.version);
        if (r < 0)
                return r;
        if (gethostname(hostname, sizeof(hostname) - 1) < 0)
                return log_error_errno(errno, "Failed to read the hostname: %m");
        m.hostname = strdup(hostname);
        if (!m.hostname)
                return log_oom();
        /* members/<id>'s "server": the name the load balancer knows this host's server by */
        r = balancer_server_name(c, &m.server);
        if (r < 0)
                return log_error_errno(r, "Failed to tell this host's name in the load balancer: %m");
        *ret = m;
        m = (ClusterMember){};
        return 0;
}
