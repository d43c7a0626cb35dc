/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* server.h: the server as a phase helper reaches it: its unit's user and its local URL */
#pragma once

#include "config.h"
#include "helper.h"

/* The server unit's user: [Server] User=, else the unit's User= over D-Bus. Does not log: on failure
 * other than -ENOMEM, *ret_error (may be NULL) is the whole message for the caller's log line. */
int helper_server_user(const Config *c, char **ret, char **ret_error);

/* http://127.0.0.1:<Port><path>, or NULL when out of memory */
char *helper_server_url_config(const Config *c, const char *path);
/* helper_server_url_config() of h's config */
char *helper_server_url(const Helper *h, const char *path);
