/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* server.c: the server as a phase helper reaches it: its unit's user and its local URL */
#define _GNU_SOURCE
#include <stdio.h>

#include <string.h>

#include "bus.h"
#include "errmsg.h"
#include "log.h"
#include "macro.h"
#include "server.h"

int helper_server_user(const Config *c, char **ret, char **ret_error) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *user = NULL;
        int r;

        if (c->server_user) {
                user = strdup(c->server_user);
                if (!user)
                        return -ENOMEM;
                *ret = TAKE_PTR(user);
                return 0;
        }

        r = bus_open_system(&bus);
        if (r < 0)
                return errmsg_set(ret_error, r, "Failed to connect to the system bus: %s", strerror(-r));
        r = bus_unit_get_string(bus, c->server_unit, "org.freedesktop.systemd1.Service", "User", &user);
        if (r < 0)
                return errmsg_set(
                        ret_error, r, "Failed to read User= of %s: %s", c->server_unit, strerror(-r));
        if (!user || !*user)
                return errmsg_set(
                        ret_error,
                        -EINVAL,
                        "%s has no User=, and [Server] User= is not set: refusing to install or run "
                        "Codebolt as root.",
                        c->server_unit);
        *ret = TAKE_PTR(user);
        return 0;
}

char *helper_server_url_config(const Config *c, const char *path) {
        char *url;

        if (asprintf(&url, "http://%s:%u%s", config_server_address(c), c->port, path) < 0)
                return NULL;
        return url;
}

char *helper_server_url(const Helper *h, const char *path) {
        return helper_server_url_config(&h->config, path);
}
