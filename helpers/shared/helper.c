/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common.c: what every phase helper does the same way: arguments, config, the lock, current.json */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

#include "backup-manifest.h"
#include "bus.h"
#include "cescape.h"
#include "common.h"
#include "current.h"
#include "hooks.h"
#include "http.h"
#include "json-util.h"
#include "ledger.h"
#include "lock.h"
#include "log.h"
#include "macro.h"
#include "message-ids.h"
#include "notify.h"
#include "paths.h"
#include "release.h"
#include "semver.h"
#include "spawn.h"
#include "state.h"
#include "trust.h"
#include "unitname.h"

/* a webhook that does not answer in this time is given up: the upgrade does not wait for it */
#define HELPER_NOTIFY_TIMEOUT (10 * USEC_PER_SEC)

volatile sig_atomic_t helper_cancelled = 0;

static void on_term(int sig) {
        helper_cancelled = sig;
}

static void helper_done(Helper *h) {
        helper_unlock(h);
        cJSON_Delete(h->current);
        config_done(&h->config);
        free(h->instance);
        free(h->version);
        free(h->upgrade_id);
}

usec_t helper_deadline(usec_t timeout) {
        struct timespec ts;

        if (timeout == USEC_INFINITY)
                return USEC_INFINITY;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000 + timeout;
}

int helper_lock(Helper *h) {
        if (h->lock_fd >= 0)
                return 0;
        return lock_acquire_deployment(h->config.deployment, true, &h->lock_fd);
}

void helper_unlock(Helper *h) {
        if (h->lock_fd >= 0)
                close(h->lock_fd);
        h->lock_fd = -EBADF;
}

/* current.json must be the one this upgrade unit made: its id is our $INVOCATION_ID, or, run by hand,
 * its instance is ours */
static int helper_check_current(Helper *h, const cJSON *current) {
        const char *id = json_get_string(current, "id"), *instance = json_get_string(current, "instance");

        if (h->upgrade_id && !h->for_rollback ? streq_ptr(id, h->upgrade_id)
                                              : streq_ptr(instance, h->instance))
                return 0;
        return log_error_errno(
                ESTALE,
                "current.json belongs to another upgrade (to %s, %s, id %s), not to this "
                "one: refusing to act.",
                strempty(json_get_string(current, "to")),
                strempty(json_get_string(current, "unit")),
                strempty(id));
}

static int helper_reload_current(Helper *h) {
        _cleanup_json_ cJSON *c = NULL;
        int r;

        r = current_load(h->config.deployment, &c);
        if (r == -ENOENT)
                return log_error_errno(
                        r,
                        "No upgrade is in flight for deployment %s (no current.json): preflight did not "
                        "run.",
                        h->config.deployment);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to read current.json of deployment %s: %m", h->config.deployment);
        r = helper_check_current(h, c);
        if (r < 0)
                return r;
        cJSON_Delete(h->current);
        h->current = TAKE_PTR(c);
        return 0;
}

int helper_update_current(Helper *h, int (*update)(cJSON *current, void *userdata), void *userdata) {
        bool locked_here = h->lock_fd < 0;
        int r;

        r = helper_lock(h);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to take the state lock of deployment %s: %m", h->config.deployment);
        r = helper_reload_current(h);
        if (r >= 0) {
                r = update(h->current, userdata);
                if (r < 0)
                        log_error_errno(r, "Failed to update current.json: %m");
        }
        if (r >= 0) {
                r = current_save(h->config.deployment, h->current);
                if (r < 0)
                        log_error_errno(r, "Failed to write current.json: %m");
        }
        if (locked_here)
                helper_unlock(h);
        return r;
}

typedef struct KeyValue {
        const char *key;
        const char *string;
        int boolean; /* -1: a string */
} KeyValue;

static int update_key(cJSON *current, void *userdata) {
        const KeyValue *kv = userdata;

        if (kv->boolean >= 0)
                return current_set_bool(current, kv->key, kv->boolean);
        return current_set_string(current, kv->key, kv->string);
}

int helper_set_current_string(Helper *h, const char *key, const char *value) {
        KeyValue kv = { key, value, -1 };
        return helper_update_current(h, update_key, &kv);
}

int helper_set_current_bool(Helper *h, const char *key, bool value) {
        KeyValue kv = { key, NULL, value };
        return helper_update_current(h, update_key, &kv);
}

static int update_enter(cJSON *current, void *userdata) {
        return current_set_phase(current, userdata);
}

static int update_leave(cJSON *current, void *userdata) {
        return current_phase_done(current, userdata);
}

int helper_server_user(Helper *h, char **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *user = NULL;
        int r;

        if (h->config.server_user) {
                user = strdup(h->config.server_user);
                if (!user)
                        return log_oom();
                *ret = TAKE_PTR(user);
                return 0;
        }

        r = bus_open_system(&bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = bus_unit_get_string(
                bus, h->config.server_unit, "org.freedesktop.systemd1.Service", "User", &user);
        if (r < 0)
                return log_error_errno(r, "Failed to read User= of %s: %m", h->config.server_unit);
        if (!user || !*user)
                return log_error_errno(
                        EINVAL,
                        "%s has no User=, and [Server] User= is not set: refusing to install or run "
                        "Codebolt as root.",
                        h->config.server_unit);
        *ret = TAKE_PTR(user);
        return 0;
}

char *helper_server_url(const Helper *h, const char *path) {
        char *url;

        if (asprintf(&url, "http://127.0.0.1:%u%s", h->config.port, path) < 0)
                return NULL;
        return url;
}

/* a password or a token: far less than this */
#define HELPER_CREDENTIAL_MAX ((size_t)64 * 1024)

static void erase_freep(char **p) {
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

int helper_read_credential(const char *name, char **ret, char **ret_why) {
        _cleanup_free_ char *path = paths_credential(name), *why = NULL;
        _cleanup_(erase_freep) char *buf = NULL;
        size_t size;
        int r;

        if (!path)
                return -ENOMEM;
        /* the secret's directories too: whoever may write one could swap the file for theirs */
        r = trust_read_root_file(path, TRUST_PRIVATE, HELPER_CREDENTIAL_MAX, &buf, &size, &why);
        if (r < 0) {
                if (ret_why)
                        *ret_why = TAKE_PTR(why);
                return r;
        }
        r = state_string_from_buffer(buf, size, ret);
        if (r == -EBADMSG && ret_why && asprintf(ret_why, "%s contains a NUL byte", path) < 0)
                *ret_why = NULL;
        return r;
}

int helper_login(Helper *h, char **ret_token) {
        _cleanup_free_ char *password = NULL, *url = NULL, *error = NULL, *path = NULL, *why = NULL;
        _cleanup_json_ cJSON *body = NULL, *answer = NULL;
        long status = 0;
        const char *token;
        int r;

        r = helper_read_credential(h->config.smoke_password_credential, &password, &why);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                path = paths_credential(h->config.smoke_password_credential);
                return log_error_errno(
                        r,
                        "Failed to read the smoke-test password %s (it must exist, be owned by root and "
                        "have mode 0600): %s",
                        strempty(path),
                        why ?: strerror(-r));
        }

        body = cJSON_CreateObject();
        url = helper_server_url(h, "/api/auth/login");
        if (!body || !url || !cJSON_AddStringToObject(body, "username", h->config.smoke_user) ||
            !cJSON_AddStringToObject(body, "password", password))
                return log_oom();

        r = http_post_json(url, NULL, body, h->config.timeout_smoke, &status, &answer, &error);
        if (r < 0)
                return log_error_errno(
                        r, "Failed to log in to %s as %s: %s", url, h->config.smoke_user, strempty(error));
        if (status != 200)
                return log_error_errno(
                        EACCES,
                        "Logging in to %s as %s answered HTTP %ld.",
                        url,
                        h->config.smoke_user,
                        status);
        token = json_get_string(answer, "token");
        if (!token)
                return log_error_errno(EBADMSG, "Logging in to %s answered no token.", url);
        *ret_token = strdup(token);
        return *ret_token ? 0 : log_oom();
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

static int strv_push(char ***l, size_t *n, const char *s) {
        char **grown = realloc(*l, (*n + 2) * sizeof(char *));

        if (!grown)
                return -ENOMEM;
        *l = grown;
        grown[*n] = strdup(s);
        if (!grown[*n])
                return -ENOMEM;
        grown[++*n] = NULL;
        return 0;
}

/* the directories in dir (none when it is missing), as dir/name when with_path; names holding skip
 * (NULL: none) are left out */
static int list_directories(const char *dir, bool with_path, const char *skip, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        DIR *d = opendir(dir);
        size_t n = 0;
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
                r = strv_push(&l, &n, path ?: de->d_name);
        }
        closedir(d);
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
        size_t n = 0;
        int r;

        r = helper_pg_target_config(c, "postgres", &admin);
        if (r < 0)
                return r;
        r = pg_query(&admin, "SELECT datname FROM pg_database ORDER BY datname", NULL, 0, &rows, ret_error);
        if (r < 0)
                return r;
        cJSON_ArrayForEach (row, rows) {
                const char *name = json_get_string(row, "datname");
                if (name && (r = strv_push(&l, &n, name)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        char *s;

        if (!ret_error)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) >= 0) {
                free(*ret_error);
                *ret_error = s;
        }
        va_end(ap);
        return 0;
}

void helper_retention_done(HelperRetention *r) {
        cJSON_Delete(r->ledger);
        cJSON_Delete(r->current);
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
                return set_error(ret_error, "cannot read the ledger of deployment %s", c->deployment), r;
        r = current_load(c->deployment, &g.current);
        if (r < 0 && r != -ENOENT)
                return set_error(ret_error, "cannot read current.json of deployment %s", c->deployment), r;
        r = list_databases(c, &g.databases, &error);
        if (r < 0)
                return set_error(
                               ret_error,
                               "cannot list the databases as %s: %s",
                               strempty(c->db_os_user),
                               error ?: strerror(-r)),
                       r;
        r = list_directories(releases, false, NULL, &g.releases);
        if (r < 0)
                return set_error(ret_error, "cannot read %s: %s", releases, strerror(-r)), r;
        r = list_directories(backups, true, BACKUP_MANIFEST_PARTIAL_SUFFIX, &g.backups);
        if (r < 0)
                return set_error(ret_error, "cannot read %s: %s", backups, strerror(-r)), r;
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
                        return set_error(ret_error, "cannot run rm: %s", strerror(-r)), r;
                if (status != 0)
                        return set_error(ret_error, "rm -rf %s exited with status %d", path, status), -EIO;
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

/* key = value (NULL: leave the key out), replacing what the caller's fields said */
static int notify_field(cJSON *o, const char *key, const char *value) {
        cJSON *v;

        /* what the helper knows wins; what it does not know, the caller may say */
        if (!value)
                return 0;
        cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        v = cJSON_CreateString(value);
        if (!v)
                return -ENOMEM;
        if (!cJSON_AddItemToObject(o, key, v)) {
                cJSON_Delete(v);
                return -ENOMEM;
        }
        return 0;
}

void helper_notify(Helper *h, const char *event, const cJSON *fields) {
        _cleanup_free_ char *where = NULL, *token = NULL, *error = NULL;
        _cleanup_json_ cJSON *all = NULL;
        int r;

        if (!h->config.notify_url)
                return;
        /* the log names the URL without its user:password@ or query, where secrets may travel */
        if (notify_url_for_log(h->config.notify_url, &where) < 0) {
                log_warning("Out of memory: not sending the %s notification.", event);
                return;
        }

        /* a missing token file means no Authorization header; one with the wrong owner or mode is
         * refused as every credential is */
        if (h->config.notify_token_credential) {
                _cleanup_free_ char *why = NULL;

                r = helper_read_credential(h->config.notify_token_credential, &token, &why);
                if (r < 0 && r != -ENOENT) {
                        _cleanup_free_ char *path = paths_credential(h->config.notify_token_credential);
                        log_warning_errno(
                                r,
                                "Not sending the %s notification to %s: cannot use the token file %s (it "
                                "must be owned by root and have mode 0600): %s",
                                event,
                                where,
                                strempty(path),
                                why ?: strerror(-r));
                        return;
                }
        }

        all = fields ? cJSON_Duplicate(fields, true) : cJSON_CreateObject();
        if (!all || notify_field(all, "deployment", h->config.deployment) < 0 ||
            notify_field(all, "version", h->version) < 0 ||
            notify_field(all, "from", json_get_string(h->current, "from")) < 0 ||
            notify_field(all, "phase", h->phase) < 0) {
                log_warning("Out of memory: not sending the %s notification to %s.", event, where);
                return;
        }

        r = notify_send(h->config.notify_url, token, event, all, HELPER_NOTIFY_TIMEOUT, &error);
        if (r < 0) {
                log_warning_errno(
                        r, "Failed to send the %s notification to %s: %s", event, where, strempty(error));
                return;
        }
        log_debug("Sent the %s notification to %s.", event, where);
}

typedef struct HookRun {
        Helper *h;
        const HookContext *ctx;
        bool fatal;
} HookRun;

static void hook_report(const Hook *hook, const HookResult *result, void *userdata) {
        const HookRun *run = userdata;
        _cleanup_free_ char *how = NULL, *output = NULL;

        switch (hook->kind) {
        case HOOK_MASKED:
                log_debug("Hook %s is masked (a symlink to /dev/null).", hook->path);
                return;
        case HOOK_NOT_EXECUTABLE:
                log_warning(
                        "Skipping hook %s: it is not executable (chmod +x it, or mask it with a symlink "
                        "to /dev/null).",
                        hook->path);
                return;
        case HOOK_NOT_REGULAR:
                log_warning("Skipping hook %s: it is not a regular file.", hook->path);
                return;
        case HOOK_EXECUTABLE:
                break;
        }
        if (!result) {
                log_status("%s: running hook %s.d/%s", run->h->phase, run->ctx->stage, hook->name);
                return;
        }
        if (result->status == HOOK_PASSED) {
                log_info("Hook %s passed.", hook->path);
                return;
        }

        how = hook_result_to_string(result, run->ctx->timeout);
        /* a refused hook never ran, so it said nothing */
        if (result->status != HOOK_REFUSED &&
            asprintf(&output, " Its output: journalctl -t %s.d/%s", run->ctx->stage, hook->name) < 0)
                output = NULL;
        log_full(
                run->fatal ? LOG_ERR : LOG_WARNING,
                0,
                "Hook %s %s%s.%s",
                hook->path,
                how ?: "failed",
                streq(run->ctx->stage, HOOKS_PRE_UPGRADE) ? ": refusing the upgrade"
                : run->fatal                              ? ": the smoke test fails"
                                                          : "",
                strempty(output));
}

int helper_run_hooks(Helper *h, const char *stage, const cJSON *current, const char *result) {
        bool fatal = streq(stage, HOOKS_PRE_UPGRADE) || streq(stage, HOOKS_SMOKE), relock = h->lock_fd >= 0;
        HookContext ctx = {
                .stage = stage,
                .phase = h->phase,
                .deployment = h->config.deployment,
                .from = json_get_string(current ?: h->current, "from"),
                .to = h->version,
                .backup = json_get_string(current ?: h->current, "backup"),
                .result = result,
                .timeout = h->config.timeout_hook,
                .keep_going = !fatal,
        };
        HookRun run = { .h = h, .ctx = &ctx, .fatal = fatal };
        int r, k;

        helper_unlock(h);
        r = hooks_run(&ctx, hook_report, &run, NULL);
        if (relock && (k = helper_lock(h)) < 0)
                log_warning_errno(
                        k, "Failed to take the state lock of deployment %s again: %m", h->config.deployment);

        if (r < 0)
                log_full(fatal ? LOG_ERR : LOG_WARNING, r, "Failed to run the %s.d hooks: %m", stage);
        if (!fatal)
                return 0;
        if (r < 0)
                return r;
        return r > 0 ? -EPROTO : 0;
}

/* a phase of the upgrade unit itself, not the rollback or one of its --rollback helpers */
static bool helper_is_upgrade_phase(const Helper *h) {
        /* the rollback and the watch after a success run for an upgrade, not as one of its phases */
        return !h->for_rollback && !streq(h->phase, "rollback") && !streq(h->phase, "watch");
}

/* "CODEBOLT_UPGRADE_FROM=<from>" when current.json says, else NULL */
static char *from_field(const Helper *h) {
        const char *from = json_get_string(h->current, "from");
        char *f;

        if (!from || asprintf(&f, "CODEBOLT_UPGRADE_FROM=%s", from) < 0)
                return NULL;
        return f;
}

/* the catalog's "failed" event, with the reason the phase logged last; returns the exit code 1 */
static int helper_failed(Helper *h) {
        _cleanup_free_ char *why = NULL, *reason = NULL, *from = from_field(h);
        _cleanup_json_ cJSON *notify = NULL;

        if (!helper_is_upgrade_phase(h))
                return 1;
        /* copied: the event below becomes the last error itself */
        why = strdup(log_last_error() ?: "see the journal");
        if (!why || asprintf(&reason, "CODEBOLT_UPGRADE_REASON=%s", why) < 0)
                return log_oom(), 1;
        char *fields[] = { reason, from, NULL };
        log_event(
                LOG_ERR,
                MESSAGE_UPGRADE_FAILED,
                fields,
                "Upgrade to %s failed in phase %s: %s",
                strempty(h->version),
                h->phase,
                why);

        /* the phase is over: the webhook may take its whole timeout, but not under the state lock */
        helper_unlock(h);
        notify = cJSON_CreateObject();
        if (notify && cJSON_AddStringToObject(notify, "reason", why))
                helper_notify(h, "failed", notify);
        else
                log_warning("Out of memory: not sending the failed notification.");
        return 1;
}

static void usage(const char *name, const char *phase) {
        fprintf(stderr,
                "Usage: %s [--skip-if-current] [--queue-if-failed] INSTANCE\n"
                "The %s phase of codebolt-upgrade@INSTANCE.service; INSTANCE is the unit's %%i (an exact "
                "version).\n",
                name,
                phase);
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

int helper_config_load(const char *deployment, Config *ret, const char *consequence) {
        ConfigError cerr = {};
        int r;

        r = config_load(NULL, deployment, ret, &cerr);
        if (r < 0) {
                /* a drop-in's name comes from a directory listing and may hold a newline: escaped, it
                 * cannot forge a line of the log */
                _cleanup_free_ char *file = cescape(strempty(cerr.file)), *key = cescape(strempty(cerr.key));

                log_error_errno(
                        r,
                        "%s:%u: %s%s%s%s%s",
                        strempty(file),
                        cerr.line,
                        strempty(key),
                        cerr.key ? ": " : "",
                        strempty(cerr.message),
                        consequence ? ": " : "",
                        strempty(consequence));
                config_error_done(&cerr);
                return r;
        }
        /* every path under the deployment's install root follows its InstallRoot= from here on */
        if (paths_set_install_root(ret->install_root) < 0)
                return log_oom();
        return 0;
}

int helper_main(int argc, char *argv[], const char *phase, HelperFlags flags, int (*run)(Helper *h)) {
        _cleanup_(helper_done) Helper h = { .phase = phase, .lock_fd = -EBADF };
        struct sigaction sa = { .sa_handler = on_term };
        SemVer v = {};
        const char *deployment, *id;
        int r;

        log_setup(NULL, phase);
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        spawn_set_cancel_flag(&helper_cancelled);

        if (argc < 2 || streq(argv[argc - 1], "--help")) {
                usage(argv[0], phase);
                return 2;
        }
        h.argc = argc - 1;
        h.argv = argv;
        h.for_rollback = argc > 2 && streq(argv[1], "--rollback");
        if (h.for_rollback)
                flags |= HELPER_KEEPS_PHASE;

        h.instance = strdup(argv[argc - 1]);
        if (!h.instance)
                return log_oom(), 1;
        r = unitname_unescape(h.instance, &h.version);
        if (r < 0) {
                log_error_errno(
                        r, "The unit instance '%s' is not a valid escaped unit name part: %m", h.instance);
                return 1;
        }
        log_set_version(h.version);

        r = semver_parse(h.version, &v);
        semver_done(&v);
        if (r < 0 && !(flags & HELPER_ANY_VERSION)) {
                log_error("Refusing '%s': %s.", h.version, semver_why_invalid(h.version));
                return helper_failed(&h);
        }

        deployment = getenv("CODEBOLT_DEPLOYMENT");
        r = helper_config_load(deployment, &h.config, NULL);
        if (r < 0)
                return 2;
        log_set_deployment(h.config.deployment);

        id = getenv("INVOCATION_ID");
        if (id && *id) {
                h.upgrade_id = strdup(id);
                if (!h.upgrade_id)
                        return log_oom(), 1;
        }

        if (flags & HELPER_KEEPS_PHASE) {
                /* only that current.json belongs to this upgrade */
                r = helper_lock(&h);
                if (r >= 0)
                        r = helper_reload_current(&h);
                helper_unlock(&h);
                if (r < 0)
                        return 1;
        } else if (!(flags & HELPER_NO_CURRENT)) {
                r = helper_update_current(&h, update_enter, (void *)phase);
                if (r < 0)
                        return helper_failed(&h);
        }

        r = run(&h);
        if (r < 0)
                return helper_failed(&h);
        if (helper_cancelled) {
                log_error("Stopped by signal %d during %s.", (int)helper_cancelled, phase);
                return helper_failed(&h);
        }
        if (r > 0)
                return r;

        if (!(flags & (HELPER_NO_CURRENT | HELPER_ENDS_UPGRADE | HELPER_KEEPS_PHASE))) {
                r = helper_update_current(&h, update_leave, (void *)phase);
                if (r < 0)
                        return helper_failed(&h);
        }
        if (helper_is_upgrade_phase(&h)) {
                char *fields[] = { from_field(&h), NULL };
                log_event(
                        LOG_INFO,
                        MESSAGE_PHASE_COMPLETED,
                        fields[0] ? fields : NULL,
                        "Upgrade to %s: phase %s completed.",
                        h.version,
                        phase);
                free(fields[0]);
        }
        return 0;
}

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
