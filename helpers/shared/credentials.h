/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* credentials.h: the secrets under the credential directory, and what they open: the smoke-test login,
 * the database */
#pragma once

#include "config.h"
#include "helper.h"
#include "pg.h"

/* Log in to the server as the smoke-test user ([Smoke] User=, PasswordCredential=); the token is
 * malloc'd. Does not log: on failure other than -ENOMEM, *ret_error (may be NULL) is the whole message
 * for the caller's log line, naming the password file or the URL (never the password). */
int helper_login(const Config *c, char **ret_token, char **ret_error);

/* where database work runs: as [Database] OSUser=, on Connection=, with PasswordCredential= if present
 * (*ret points into c); -ENOMEM only */
int helper_pg_target_config(const Config *c, const char *dbname, PgTarget *ret);
/* helper_pg_target_config() of h's config */
int helper_pg_target(const Helper *h, const char *dbname, PgTarget *ret);
