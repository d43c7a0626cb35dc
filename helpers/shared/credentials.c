/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* credentials.c: the credential files, and what they open: the smoke-test login, the database */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "credentials.h"
#include "errmsg.h"
#include "http.h"
#include "json-util.h"
#include "macro.h"
#include "paths.h"
#include "server.h"
#include "trust.h"

int helper_login(const Config *c, char **ret_token, char **ret_error) {
        _cleanup_erase_free_ char *password = NULL;
        _cleanup_free_ char *url = NULL, *error = NULL, *path = NULL, *why = NULL;
        _cleanup_json_ cJSON *body = NULL, *answer = NULL;
        long status = 0;
        const char *token;
        int r;

        r = trust_read_credential(c->smoke_password_credential, &password, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                path = paths_credential(c->smoke_password_credential);
                return errmsg_set(
                        ret_error,
                        r,
                        "Failed to read the smoke-test password %s (it must exist, be owned by root and "
                        "have mode 0600): %s",
                        strempty(path),
                        why ?: strerror(-r));
        }

        body = cJSON_CreateObject();
        url = helper_server_url_config(c, "/api/auth/login");
        if (!body || !url || !cJSON_AddStringToObject(body, "username", c->smoke_user) ||
            !cJSON_AddStringToObject(body, "password", password))
                return -ENOMEM;

        r = http_json("POST", url, NULL, body, c->timeout_smoke, &status, &answer, &error);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r,
                        "Failed to log in to %s as %s: %s",
                        url,
                        c->smoke_user,
                        strempty(error));
        if (status != 200)
                return errmsg_set(
                        ret_error,
                        -EACCES,
                        "Logging in to %s as %s answered HTTP %ld.",
                        url,
                        c->smoke_user,
                        status);
        token = json_get_string(answer, "token");
        if (!token)
                return errmsg_set(ret_error, -EBADMSG, "Logging in to %s answered no token.", url);
        *ret_token = strdup(token);
        return *ret_token ? 0 : -ENOMEM;
}

int helper_pg_target(const Helper *h, const char *dbname, PgTarget *ret) {
        return helper_pg_target_config(&h->config, dbname, ret);
}

int helper_pg_target_config(const Config *c, const char *dbname, PgTarget *ret) {
        static char *password_file = NULL;

        if (!password_file) {
                password_file = paths_credential(c->db_password_credential);
                if (!password_file)
                        return -ENOMEM;
        }

        *ret = (PgTarget){
                .os_user = c->db_os_user,
                .conninfo = c->db_connection,
                .dbname = dbname,
                /* a password is optional: local peer authentication needs none */
                .password_file = access(password_file, F_OK) >= 0 ? password_file : NULL,
        };
        return 0;
}
