/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* prune.c: what retention decides on, gathered; sizing and removing what it gives up; the ledger export */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "backup-manifest.h"
#include "credentials.h"
#include "current.h"
#include "errmsg.h"
#include "fd-util.h"
#include "json-util.h"
#include "ledger.h"
#include "log.h"
#include "macro.h"
#include "paths.h"
#include "prune.h"
#include "release.h"
#include "spawn.h"
#include "state.h"
#include "strv.h"

/* the directories in dir (none when it is missing), as dir/name when with_path; names holding skip
 * (NULL: none) are left out */
static int list_directories(const char *dir, bool with_path, const char *skip, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_closedir_ DIR *d = opendir(dir);
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (streq(de->d_name, ".") || streq(de->d_name, "..") || (skip && strstr(de->d_name, skip)))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                if (with_path && asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                        break;
                }
                r = strv_push(&l, path ?: de->d_name);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int list_databases(const Config *c, char ***ret, char **ret_error) {
        _cleanup_json_ cJSON *rows = NULL;
        _cleanup_strv_free_ char **l = NULL;
        const cJSON *row;
        PgTarget admin;
        int r;

        r = helper_pg_target_config(c, "postgres", &admin);
        if (r < 0)
                return r;
        r = pg_query(&admin, "SELECT datname FROM pg_database ORDER BY datname", NULL, 0, &rows, ret_error);
        if (r < 0)
                return r;
        cJSON_ArrayForEach (row, rows) {
                const char *name = json_get_string(row, "datname");
                if (name && (r = strv_push(&l, name)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

void helper_retention_done(HelperRetention *r) {
        cJSON_Delete(r->ledger);
        if (r->current)
                current_done(r->current);
        free(r->current);
        strv_free(r->databases);
        strv_free(r->releases);
        strv_free(r->backups);
        free(r->running);
        free(r->pinned);
        *r = (HelperRetention){};
}

int helper_retention_gather(const Config *c, HelperRetention *ret, char **ret_error) {
        _cleanup_(helper_retention_done) HelperRetention g = {};
        _cleanup_free_ char *releases = paths_releases_dir(), *backups = paths_rooted(c->backup_directory),
                            *pin = paths_state_file(c->deployment, "pin"), *error = NULL;
        int r;

        if (!releases || !backups || !pin)
                return -ENOMEM;
        r = ledger_load(c->deployment, &g.ledger);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot read the ledger of deployment %s", c->deployment);
        g.current = calloc(1, sizeof(Current));
        if (!g.current)
                return -ENOMEM;
        r = current_load(c->deployment, g.current, &error);
        if (r == -ENOENT) {
                free(g.current);
                g.current = NULL;
        } else if (r < 0 && error)
                return errmsg_set(
                        ret_error, r, "cannot read current.json of deployment %s: %s", c->deployment, error);
        else if (r < 0)
                return errmsg_set(ret_error, r, "cannot read current.json of deployment %s", c->deployment);
        r = list_databases(c, &g.databases, &error);
        if (r < 0)
                return errmsg_set(
                        ret_error,
                        r,
                        "cannot list the databases as %s: %s",
                        strempty(c->db_os_user),
                        error ?: strerror(-r));
        r = list_directories(releases, false, NULL, &g.releases);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot read %s: %s", releases, strerror(-r));
        r = list_directories(backups, true, BACKUP_MANIFEST_PARTIAL_SUFFIX, &g.backups);
        if (r < 0)
                return errmsg_set(ret_error, r, "cannot read %s: %s", backups, strerror(-r));
        /* unknown (no release link, no pin) is an answer retention knows what to do with */
        (void)release_current_version(&g.running);
        (void)state_read_string(pin, &g.pinned);

        g.input = (RetentionInput){
                .ledger = g.ledger,
                .current = g.current,
                .db_name = c->db_name,
                .databases = g.databases,
                .releases = g.releases,
                .backups = g.backups,
                .running = g.running,
                .pinned = g.pinned,
                .keep = c->backup_keep,
        };
        *ret = g;
        g = (HelperRetention){};
        return 0;
}

int helper_retention_size(const Config *c, const RetentionItem *item, uint64_t *ret) {
        _cleanup_free_ char *out = NULL, *path = NULL;
        unsigned long long size;
        char *end;

        if (item->kind == RETENTION_RELEASE) {
                path = paths_release_dir(item->name);
                if (!path)
                        return -ENOMEM;
                char *argv[] = { (char *)"du", (char *)"-sb", (char *)"--one-file-system", path, NULL };
                SpawnOptions o = { .ret_stdout = &out };
                int r = spawn_run(argv, &o, NULL);
                if (r < 0)
                        return r;
        } else {
                _cleanup_json_ cJSON *rows = NULL;
                const char *params[] = { item->name };
                PgTarget admin;
                int r;

                r = helper_pg_target_config(c, "postgres", &admin);
                if (r < 0)
                        return r;
                r = pg_query(
                        &admin, "SELECT pg_database_size($1::name)::text AS size", params, 1, &rows, NULL);
                if (r < 0)
                        return r;
                out = strdup(strempty(json_get_string(cJSON_GetArrayItem(rows, 0), "size")));
                if (!out)
                        return -ENOMEM;
        }
        errno = 0;
        size = strtoull(out, &end, 10);
        if (errno != 0 || end == out)
                return -EBADMSG;
        *ret = size;
        return 0;
}

int helper_retention_remove(
        const Config *c, const RetentionItem *item, const char *phase, char **ret_error) {
        _cleanup_free_ char *path = NULL, *q = NULL, *sql = NULL;
        PgTarget admin;
        int status = 0, r;

        if (item->kind == RETENTION_RELEASE) {
                path = paths_release_dir(item->name);
                if (!path)
                        return -ENOMEM;
                char *argv[] = { (char *)"rm", (char *)"-rf", (char *)"--one-file-system", path, NULL };
                SpawnOptions o = { .phase = phase };
                r = spawn_run(argv, &o, &status);
                if (r < 0)
                        return errmsg_set(ret_error, r, "cannot run rm: %s", strerror(-r));
                if (status != 0)
                        return errmsg_set(ret_error, -EIO, "rm -rf %s exited with status %d", path, status);
                return 0;
        }

        r = helper_pg_target_config(c, "postgres", &admin);
        if (r < 0)
                return r;
        q = pg_quote_identifier(item->name);
        if (!q || asprintf(&sql, "DROP DATABASE %s", q) < 0)
                return -ENOMEM;
        /* no WITH (FORCE): a session on it (a post-mortem in progress) makes this fail, not end */
        return pg_exec(&admin, sql, ret_error);
}

void helper_export_ledger(const Config *c, const cJSON *ledger) {
        _cleanup_free_ char *path = paths_rooted(c->export_ledger);
        int r;

        if (!path) {
                log_warning("Out of memory: the ledger is not exported.");
                return;
        }
        r = ledger_export(ledger, path);
        if (r < 0)
                log_warning_errno(r, "Failed to export the ledger to %s: %m", path);
}
